//! lispd's state file: what must survive a restart (today the moves CPMs made and their replay
//! protection), as JSON, replaced atomically (written beside, synced, renamed over, directory
//! synced) so a crash leaves either the old file or the new one, never half of one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::mobility::MobilityState;

/// Bumped when the layout changes incompatibly; a file of another format is refused.
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StateFile {
    format: u32,
    mobility: MobilityState,
}

/// The saved state; `Ok(None)` when there is no file yet.
pub fn load(path: &Path) -> Result<Option<MobilityState>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let file: StateFile =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.format != FORMAT {
        return Err(format!(
            "{}: format {} (this lispd reads {FORMAT})",
            path.display(),
            file.format
        ));
    }
    Ok(Some(file.mobility))
}

/// Replaces the file at `path` with `mobility`, creating its directory if needed.
pub fn save(path: &Path, mobility: &MobilityState) -> io::Result<()> {
    let directory = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(directory)?;
    let file = StateFile {
        format: FORMAT,
        mobility: mobility.clone(),
    };
    let text = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let mut out = File::create(&temporary)?;
    out.write_all(&text)?;
    out.sync_all()?;
    fs::rename(&temporary, path)?;
    File::open(directory)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_loads_back_and_a_bad_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("lispd-state-{}", std::process::id()));
        let path = dir.join("x.state.json");
        assert_eq!(load(&path), Ok(None));
        let state = MobilityState {
            records: vec![],
            nonces: vec![("192.0.2.1".parse().unwrap(), 7)],
        };
        save(&path, &state).unwrap();
        assert_eq!(load(&path), Ok(Some(state)));
        fs::write(&path, "{\"format\": 1, \"mobility\": ").unwrap();
        assert!(load(&path).is_err());
        fs::write(
            &path,
            "{\"format\": 9, \"mobility\": {\"records\": [], \"nonces\": []}}",
        )
        .unwrap();
        assert!(load(&path).unwrap_err().contains("format 9"));
        fs::remove_dir_all(dir).unwrap();
    }
}
