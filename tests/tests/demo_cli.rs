//! `lisp-demo --help` answers and changes nothing on the machine: no namespace, no process.

use std::process::Command;

fn namespaces() -> String {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn help_exits_zero_and_creates_nothing() {
    let before = namespaces();
    let out = Command::new(env!("CARGO_BIN_EXE_lisp-demo"))
        .arg("--help")
        .output()
        .expect("run lisp-demo");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Usage: lisp-demo"), "{help}");
    // Test binaries run one at a time: nothing else creates namespaces meanwhile.
    assert_eq!(namespaces(), before, "lisp-demo --help created a namespace");
}
