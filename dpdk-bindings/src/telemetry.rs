//! Counters exposed as DPDK telemetry commands, so `dpdk-telemetry.py` (or anything speaking
//! the telemetry socket) reads them: each command is backed by a Rust closure returning
//! name/value pairs, called on DPDK's telemetry thread.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::{Mutex, PoisonError};

use crate::error::{Error, Result};
use crate::{sys, Eal};

/// What a command returns: counter names and values.
type Source = Box<dyn Fn() -> Vec<(String, u64)> + Send + Sync>;

/// Registered commands. DPDK keeps the command and help pointers, so the strings live here for
/// the rest of the process (a `CString`'s bytes do not move when the vector grows).
static COMMANDS: Mutex<Vec<(CString, CString, Source)>> = Mutex::new(Vec::new());

/// Registers `command` (e.g. `/lispd/stats`): telemetry clients get `source()` as a dictionary.
pub fn register_counters(
    _eal: &Eal,
    command: &str,
    help: &str,
    source: impl Fn() -> Vec<(String, u64)> + Send + Sync + 'static,
) -> Result<()> {
    let valid = command.starts_with('/')
        && command.len() < 64
        && command
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/');
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "telemetry command {command:?}: expected /name, letters, digits, _ and /"
        )));
    }
    let invalid = |what: &str| Error::InvalidArgument(format!("telemetry {what} contains NUL"));
    let command = CString::new(command).map_err(|_| invalid("command"))?;
    let help = CString::new(help).map_err(|_| invalid("help"))?;
    let (command_ptr, help_ptr) = (command.as_ptr(), help.as_ptr());
    let mut commands = COMMANDS.lock().unwrap_or_else(PoisonError::into_inner);
    if commands.iter().any(|(c, _, _)| *c == command) {
        return Err(Error::InvalidArgument(format!(
            "telemetry command {command:?} is already registered"
        )));
    }
    commands.push((command, help, Box::new(source)));
    drop(commands);
    // SAFETY: both strings are NUL-terminated and stay alive in COMMANDS for the process; the
    // callback is a plain extern "C" function.
    let rc = unsafe { sys::rte_telemetry_register_cmd(command_ptr, Some(answer), help_ptr) };
    if rc < 0 {
        return Err(Error::Dpdk {
            operation: "rte_telemetry_register_cmd".into(),
            errno: -rc,
            reason: "command refused (duplicate, too many, or invalid)".into(),
        });
    }
    Ok(())
}

/// The telemetry thread's entry: fills `data` with the command's counters as a dictionary.
extern "C" fn answer(
    command: *const c_char,
    _params: *const c_char,
    data: *mut sys::rte_tel_data,
) -> c_int {
    // SAFETY: DPDK passes the NUL-terminated command string it matched.
    let command = unsafe { CStr::from_ptr(command) };
    let values = {
        let commands = COMMANDS.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, _, source)) = commands.iter().find(|(c, _, _)| c.as_c_str() == command) else {
            return -1;
        };
        // A panic must not unwind into C.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(source)) {
            Ok(values) => values,
            Err(_) => return -1,
        }
    };
    // SAFETY: `data` is the container DPDK handed to this callback.
    unsafe { sys::rte_tel_data_start_dict(data) };
    for (name, value) in values {
        let Ok(name) = CString::new(name) else {
            continue;
        };
        // SAFETY: `data` is a started dict and `name` is NUL-terminated; DPDK copies the name.
        unsafe { sys::rte_tel_data_add_dict_u64(data, name.as_ptr(), value) };
    }
    0
}
