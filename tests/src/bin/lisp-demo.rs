//! The two-site LISP demo: builds the topology of [`tests::topology`], starts two map-servers and
//! two xTRs, lets host A reach host B over IPv4 and IPv6 through LISP (the first packets trigger
//! Map-Requests), and tells what happened with the evidence. Exit status 0 only when every step
//! worked; everything is removed at the end, also on Ctrl-C. `--keep` keeps the topology running
//! until Ctrl-C for exploration.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tests::topology::{Topology, HYPERVISOR, MAP_SERVER, SECOND_MAP_SERVER, SITE_A, SITE_B, VM};

/// A step that did not work, with what was seen.
struct Failed(String);

type Step<T> = Result<T, Failed>;

fn check(ok: bool, what: impl Into<String>) -> Step<()> {
    if ok {
        Ok(())
    } else {
        Err(Failed(what.into()))
    }
}

fn io<T>(result: Result<T, impl std::fmt::Display>) -> Step<T> {
    result.map_err(|e| Failed(e.to_string()))
}

struct Demo {
    topology: Topology,
    interrupted: Arc<AtomicBool>,
    started: Instant,
}

impl Demo {
    fn say(&self, text: &str) {
        println!("[{:6.2}s] {text}", self.started.elapsed().as_secs_f64());
    }

    fn interrupted(&self) -> Step<()> {
        check(!self.interrupted.load(Ordering::Relaxed), "interrupted")
    }

    fn wait_for(&mut self, process: &str, text: &str, timeout: Duration) -> Step<()> {
        let found = self
            .topology
            .process(process)
            .is_some_and(|p| p.wait_for(text, timeout));
        self.interrupted()?;
        check(
            found,
            format!("{process} did not report {text:?} within {timeout:?}"),
        )
    }

    /// Pings until the first reply, then a burst of five that must all come back.
    fn reach(&self, from: usize, to: &str) -> Step<Duration> {
        let destination: IpAddr = io(to.parse())?;
        let first = io(self.topology.ping_until_reply(
            from,
            destination,
            Duration::from_millis(100),
            Duration::from_secs(20),
        ))?;
        self.interrupted()?;
        let first = first.ok_or_else(|| Failed(format!("no reply from {to} within 20 s")))?;
        let burst = io(self.topology.on_host(
            from,
            "ping",
            &["-c", "5", "-i", "0.2", "-W", "1", "-n", "-q", to],
        ))?;
        let summary = String::from_utf8_lossy(&burst.stdout);
        let line = summary
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .unwrap_or("no summary")
            .to_owned();
        check(
            burst.status.success() && line.contains(" 0% packet loss"),
            format!("ping {to}: {line}"),
        )?;
        self.say(&format!("      {line}"));
        Ok(first)
    }

    fn run(&mut self) -> Step<()> {
        let names: Vec<&str> = self
            .topology
            .hosts
            .iter()
            .chain(&self.topology.xtrs)
            .chain([&self.topology.underlay, &self.topology.vm])
            .map(|n| n.name())
            .collect();
        self.say(&format!(
            "1. Topology: namespaces {} (host A, host B, xTR A, xTR B, underlay, VM)",
            names.join(", ")
        ));
        io(self.topology.start_map_servers())?;
        self.wait_for("lisp-ms", "lisp-ms: serving", Duration::from_secs(5))?;
        self.wait_for("lisp-ms-2", "lisp-ms: serving", Duration::from_secs(5))?;
        self.say(&format!(
            "2. Map-servers up in the underlay: {MAP_SERVER} (sites A and B, map-resolver too) and {SECOND_MAP_SERVER} (site A only, another key)"
        ));
        for i in 0..2 {
            io(self.topology.start_xtr(i))?;
        }
        for name in ["lispd-a", "lispd-b"] {
            self.wait_for(name, "lispd: running", Duration::from_secs(20))?;
        }
        self.say(
            "3. lispd A and lispd B running, each in its namespace on two DPDK af_packet ports",
        );
        let registered = Instant::now();
        for (ms, line) in [
            ("lisp-ms", "registered site-a 10.1.0.0/24"),
            ("lisp-ms", "registered site-a 2001:db8:a::/64"),
            ("lisp-ms", "registered site-b 10.2.0.0/24"),
            ("lisp-ms", "registered site-b 2001:db8:b::/64"),
            ("lisp-ms-2", "registered site-a 10.1.0.0/24"),
        ] {
            self.wait_for(ms, line, Duration::from_secs(20))?;
            self.say(&format!("      {ms}: {line}"));
        }
        self.say(&format!(
            "4. Both sites registered (site A with both map-servers, each with its own key) in {:.0} ms",
            registered.elapsed().as_secs_f64() * 1e3
        ));
        let servers = self.show(0, &["show", "servers"])?;
        check(
            servers.matches(" registered ").count() == 2,
            format!("xTR A is not registered with both map-servers:\n{servers}"),
        )?;
        for (step, from, to) in [
            ("5. Host A pings host B over IPv4", 0, SITE_B.host4),
            ("6. Host A pings host B over IPv6", 0, SITE_B.host6),
            ("7. Host B pings host A over IPv4", 1, SITE_A.host4),
        ] {
            self.say(&format!(
                "{step} ({to}): the first packets miss the map-cache and trigger a Map-Request"
            ));
            let first = self.reach(from, to)?;
            self.say(&format!(
                "      first reply after {:.0} ms (resolution through the map-resolver included)",
                first.as_secs_f64() * 1e3
            ));
        }
        self.mobility()?;
        self.report()
    }

    /// The VM moves from site A to site B; the hypervisor's CPM makes traffic follow.
    fn mobility(&mut self) -> Step<()> {
        self.say(&format!(
            "8. The VM {VM} runs at site A: host A reaches it locally through xTR A, host B through LISP"
        ));
        for (from, name) in [(0, "host A"), (1, "host B")] {
            self.reach(from, VM)?;
            self.say(&format!("      {name} -> VM ok"));
        }
        self.say(
            "9. The VM migrates to site B: its link moves to site B's segment, then the hypervisor",
        );
        self.say(&format!(
            "   manager ({HYPERVISOR}) sends a CPM to xTR B: `lispctl cpm --role arrived --eid {VM}/32`"
        ));
        self.show(0, &["map", "get", VM])?;
        io(self.topology.move_vm(1))?;
        io(self.topology.send_cpm(1, SITE_A.host4))?;
        let vm: IpAddr = io(VM.parse())?;
        let converged = io(self.topology.ping_until_reply(
            0,
            vm,
            Duration::from_millis(10),
            Duration::from_secs(10),
        ))?;
        self.interrupted()?;
        let converged =
            converged.ok_or_else(|| Failed("host A lost the VM after the move".into()))?;
        self.say(&format!(
            "      host A reached the VM at site B {:.0} ms after the CPM (pinging every 10 ms)",
            converged.as_secs_f64() * 1e3
        ));
        for (from, name) in [(0, "host A"), (1, "host B")] {
            self.reach(from, VM)?;
            self.say(&format!("      {name} -> VM ok at its new site"));
        }
        let after = self.show(0, &["map", "get", VM])?;
        check(
            after.contains(&format!("{} p1", SITE_B.rloc4)),
            format!("xTR A does not prefer site B for the VM:\n{after}"),
        )?;
        for name in ["lispd-b", "lispd-a"] {
            let log = self
                .topology
                .process(name)
                .map(|p| p.output())
                .unwrap_or_default();
            let applied = log
                .lines()
                .find(|l| l.contains("CPM applied"))
                .ok_or_else(|| Failed(format!("{name} did not apply the CPM:\n{log}")))?
                .to_owned();
            let applied = applied
                .find("CPM applied")
                .map_or(applied.as_str(), |at| &applied[at..]);
            self.say(&format!("      {name}: {applied}"));
        }
        Ok(())
    }

    /// `lispctl ARGS` against xTR `i`, each line of its table told.
    fn show(&self, i: usize, args: &[&str]) -> Step<String> {
        let out = io(self.topology.lispctl(i, args))?;
        let name = ["A", "B"][i];
        self.say(&format!("      $ lispctl {} (xTR {name})", args.join(" ")));
        for line in out.lines() {
            self.say(&format!("        {line}"));
        }
        Ok(out)
    }

    /// What the xTRs' data cores and control planes counted, read through the management API.
    fn report(&mut self) -> Step<()> {
        self.say("10. Evidence: the xTRs' counters through their management sockets");
        for i in 0..2 {
            let stats = self.show(i, &["show", "stats"])?;
            for needed in [
                "map_replies_accepted",
                "map_requests_answered",
                "encapsulated",
                "decapsulated",
                "cpms_applied",
            ] {
                check(
                    stats.contains(needed),
                    format!("xTR {i} counted no {needed}:\n{stats}"),
                )?;
            }
        }
        Ok(())
    }
}

/// Runs the two-site LISP demo in network namespaces on this machine (needs root), tells the
/// story with its evidence, and removes everything it created.
#[derive(Debug, Parser)]
#[command(name = "lisp-demo", version)]
struct Args {
    /// Keep the topology running after the story, until Ctrl-C.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let keep = Args::parse().keep;
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, interrupted.clone()) {
            eprintln!("lisp-demo: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let dir = PathBuf::from(format!("/tmp/lisp-demo-{}", std::process::id()));
    let topology = match Topology::build(&dir) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lisp-demo: setting up the topology: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut demo = Demo {
        topology,
        interrupted: interrupted.clone(),
        started: Instant::now(),
    };
    let outcome = demo.run();
    if let Err(Failed(why)) = &outcome {
        eprintln!("lisp-demo: FAILED: {why}");
        eprintln!("lisp-demo: logs of every process are in {}", dir.display());
    }
    if keep {
        demo.say("--keep: the topology stays up; press Ctrl-C to remove it. Logs and configs:");
        demo.say(&format!("      {}", dir.display()));
        while !interrupted.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    drop(demo);
    match outcome {
        Ok(()) => {
            println!("lisp-demo: every step worked; topology removed");
            let _ = std::fs::remove_dir_all(&dir);
            ExitCode::SUCCESS
        }
        Err(_) => ExitCode::FAILURE,
    }
}
