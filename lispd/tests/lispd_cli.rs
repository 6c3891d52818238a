//! `lispd check-config` and `lispd import-legacy` as an operator runs them.

use std::path::Path;
use std::process::Command;

fn lispd(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lispd"))
        .args(args)
        .output()
        .expect("run lispd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

/// Plain `check-config` validates a file for any machine: every example passes here, including
/// the one whose data cores 2 and 3 this machine may not have; `--here` checks those.
#[test]
fn examples_check_out_with_a_summary() {
    for example in [
        "single-site-xtr",
        "demo-site-a",
        "demo-site-b",
        "two-map-servers",
        "multihomed-v4-v6",
    ] {
        let (code, stdout, stderr) = lispd(&[
            "check-config",
            &repo(&format!("config/examples/{example}.toml")),
        ]);
        assert_eq!(code, 0, "{example}: {stderr}");
        assert!(
            stdout.contains(": OK") && stdout.contains("database "),
            "{stdout}"
        );
        assert!(!stdout.contains("key-"), "keys are never printed: {stdout}");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 4 {
        let (code, _, stderr) = lispd(&[
            "check-config",
            "--here",
            &repo("config/examples/multihomed-v4-v6.toml"),
        ]);
        assert_eq!(code, 1);
        assert!(stderr.contains("does not exist here"), "{stderr}");
    }
}

#[test]
fn bad_config_lists_errors_with_positions() {
    let dir = std::env::temp_dir().join(format!("lispd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[[port]]\nname = \"x\"\ndevice = \"d\"\nrole = \"rloc\"\naddresses = [\"192.0.2.1/24\"]\n\
         [[database]]\nprefix = \"10.0.0.1/8\"\n",
    )
    .expect("write");
    let (code, _, stderr) = lispd(&["check-config", &file.display().to_string()]);
    assert_eq!(code, 1);
    let expected = format!(
        "{}:7:10: database[0].prefix: 10.0.0.1/8 has host bits set",
        file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains("has no locator"),
        "all errors at once: {stderr}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn import_legacy_prints_toml() {
    let (code, stdout, stderr) =
        lispd(&["import-legacy", &repo("config/tests/data/seed-legacy.conf")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("address = \"l3-london-mr-ms.rloc.lisp4.net\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("prefix = \"2610:d0:2121::/48\""),
        "{stdout}"
    );
    assert_eq!(stdout.matches("[[database.locator]]").count(), 8);
}

#[test]
fn missing_files_are_clear_errors() {
    let (code, _, stderr) = lispd(&["check-config", "/nonexistent.toml"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let (code, _, stderr) = lispd(&["import-legacy", "/nonexistent.conf"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot read"), "{stderr}");
}
