//! Man pages and shell completions of the command-line tools, written by each tool itself (a
//! hidden `generate-docs DIR`), so the package's pages always match the binaries.

use std::path::Path;

use clap_complete::Shell;

/// Writes `DIR/man/NAME.1` and the bash and zsh completions of `command` under `DIR`.
pub fn write(command: clap::Command, dir: &Path) -> std::io::Result<()> {
    let name = command.get_name().to_owned();
    let man = dir.join("man");
    std::fs::create_dir_all(&man)?;
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(man.join(format!("{name}.1")), page)?;
    for shell in [Shell::Bash, Shell::Zsh] {
        let out = dir.join("completions").join(shell.to_string());
        std::fs::create_dir_all(&out)?;
        clap_complete::generate_to(shell, &mut command.clone(), &name, &out)?;
    }
    Ok(())
}
