//! Reloading a running lispd (the two-site demo, site A): SIGHUP with a file that adds a
//! database prefix and rotates the second map-server's key is applied while a ping runs (no
//! loss; the new prefix is registered; the second map-server, which still has the old key,
//! now refuses site A: the new key is in use); a file that does not validate changes nothing,
//! by SIGHUP or `lispctl reload`, which says why; `lispctl reload` of a good file is answered
//! with what changed.

use std::time::Duration;

use nix::sys::signal::Signal;
use tests::netns::require_root;
use tests::topology::{Topology, SECOND_MS_KEY_A, SITE_A, SITE_B};

/// Sends SIGHUP to `process` and waits until it logs `text`.
fn sighup_until(topology: &mut Topology, process: &str, text: &str) {
    let process = topology.process(process).unwrap();
    process.signal(Signal::SIGHUP).unwrap();
    assert!(
        process.wait_for(text, Duration::from_secs(5)),
        "{}",
        process.output()
    );
}

#[test]
fn sighup_and_lispctl_reload_apply_a_good_file_and_refuse_a_bad_one() {
    if let Err(e) = require_root() {
        panic!("this test needs root and iproute2: {e}");
    }
    let dir = std::env::temp_dir().join(format!("lisp-reload-{}", std::process::id()));
    let mut topology = Topology::build(&dir).unwrap();
    topology.start_map_servers().unwrap();
    for i in 0..2 {
        topology.start_xtr(i).unwrap();
    }
    let registered = |topology: &mut Topology, text: &str| {
        let ms = topology.process("lisp-ms").unwrap();
        assert!(
            ms.wait_for(text, Duration::from_secs(20)),
            "lisp-ms never logged {text:?}:\n{}",
            ms.output()
        );
    };
    registered(&mut topology, "registered site-a 10.1.0.0/24");
    registered(&mut topology, "registered site-b 10.2.0.0/24");
    let reached = topology
        .ping_until_reply(
            0,
            SITE_B.host4.parse().unwrap(),
            Duration::from_millis(200),
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(reached.is_some(), "host A never reached host B");

    // A ping runs through every reload below.
    let host_a = topology.hosts[0].name().to_owned();
    let ping = std::thread::spawn(move || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &host_a, "ping", "-c", "60", "-i", "0.2"])
            .arg(SITE_B.host4)
            .output()
            .unwrap()
    });

    let file = dir.join(format!("lispd-{}.toml", SITE_A.name));
    let original = std::fs::read_to_string(&file).unwrap();
    let reloaded = original.replace(SECOND_MS_KEY_A, "rotated-key")
        + &format!(
            "\n[[database]]\nprefix = \"10.1.7.0/24\"\n[[database.locator]]\naddress = \"{}\"\nlocal = true\n",
            SITE_A.rloc4
        );
    std::fs::write(&file, &reloaded).unwrap();
    let lispd_a = format!("lispd-{}", SITE_A.name);
    sighup_until(&mut topology, &lispd_a, "configuration reloaded");
    registered(&mut topology, "registered site-a 10.1.7.0/24");
    let second = topology.process("lisp-ms-2").unwrap();
    assert!(
        second.wait_for(
            &format!(
                "refused a message from {}:4342: HMAC does not verify",
                SITE_A.rloc4
            ),
            Duration::from_secs(10)
        ),
        "the second map-server sees the rotated key:\n{}",
        second.output()
    );

    // A file that does not validate: refused, by signal and by lispctl, and nothing changes.
    std::fs::write(
        &file,
        reloaded.replace("prefix = \"10.1.7.0/24\"", "prefix = \"10.1.7.9/24\""),
    )
    .unwrap();
    sighup_until(&mut topology, &lispd_a, "reload refused");
    let refused = topology.lispctl(0, &["reload"]).unwrap_err().to_string();
    assert!(refused.contains("host bits set"), "{refused}");
    let db = topology.lispctl(0, &["show", "db"]).unwrap();
    assert!(
        db.contains("10.1.7.0/24"),
        "the last good database stays:\n{db}"
    );

    // A good file through lispctl: answered with what changed.
    std::fs::write(&file, &original).unwrap();
    let answer = topology.lispctl(0, &["reload"]).unwrap();
    assert!(
        answer.contains("database") && answer.contains("map_server"),
        "{answer}"
    );

    let ping = ping.join().unwrap();
    let out = String::from_utf8_lossy(&ping.stdout);
    assert!(
        out.contains("60 packets transmitted, 60 received"),
        "no loss across the reloads:\n{out}"
    );
    let a = topology.process(&lispd_a).unwrap();
    assert!(a.running());
    topology.stop_all();
    let _ = std::fs::remove_dir_all(&dir);
}
