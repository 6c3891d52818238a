//! The two-site LISP topology on one machine, shared by the demo and the end-to-end tests:
//!
//! ```text
//!  VM 10.9.0.50 ─┐                                                     ┌ (VM after the move)
//!  host A ─ br0 ─ eth0 ─ eid0 [lispd A] rloc0 ─┐        ┌─ rloc0 [lispd B] eid0 ─ eth0 ─ br0 ─ host B
//!  10.1.0.10                   192.0.2.1       └─ br0 ──┘      192.0.2.2                    10.2.0.20
//!  2001:db8:a::10         2001:db8:ff::1      (underlay)  2001:db8:ff::2               2001:db8:b::20
//!       lisp-ms .100/::100 (sites A and B, map-resolver), lisp-ms .101 (site A, another key),
//!       hypervisor manager .200 (sends CPMs)
//! ```
//!
//! Every box is a network namespace with a unique name; each lispd runs inside its own namespace
//! on `net_af_packet` ports over veths that live there (docs/architecture.md, "Wiring DPDK ports to namespaces"). Each host
//! namespace bridges its site's EID segment, so the VM (a namespace of its own, gateway
//! 10.9.0.1 on both xTRs) can be moved from one site's bridge to the other's. Dropping the
//! topology stops every process (by PID) and deletes the namespaces, which removes the veths.

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::netns::{run, unique_name, Namespace, NetnsError};

/// The key site A shares with the second map-server (the first uses the demo key).
pub const SECOND_MS_KEY_A: &str = "second-ms-key-for-site-a";

/// One LISP site's addresses.
#[derive(Debug, Clone, Copy)]
pub struct SitePlan {
    pub name: &'static str,
    pub host4: &'static str,
    pub host6: &'static str,
    pub gateway4: &'static str,
    pub gateway6: &'static str,
    pub eid4: &'static str,
    pub eid6: &'static str,
    pub rloc4: &'static str,
    pub rloc6: &'static str,
    pub key: &'static str,
    /// A second subnet of each family whose database locator is of the other family: its
    /// traffic is carried IPv4-in-IPv6 and IPv6-in-IPv4.
    pub host4_over6: &'static str,
    pub gateway4_over6: &'static str,
    pub eid4_over6: &'static str,
    pub host6_over4: &'static str,
    pub gateway6_over4: &'static str,
    pub eid6_over4: &'static str,
}

pub const SITE_A: SitePlan = SitePlan {
    name: "a",
    host4: "10.1.0.10",
    host6: "2001:db8:a::10",
    gateway4: "10.1.0.1",
    gateway6: "2001:db8:a::1",
    eid4: "10.1.0.0/24",
    eid6: "2001:db8:a::/64",
    rloc4: "192.0.2.1",
    rloc6: "2001:db8:ff::1",
    key: "demo-site-a",
    host4_over6: "10.1.1.10",
    gateway4_over6: "10.1.1.1",
    eid4_over6: "10.1.1.0/24",
    host6_over4: "2001:db8:a:1::10",
    gateway6_over4: "2001:db8:a:1::1",
    eid6_over4: "2001:db8:a:1::/64",
};

pub const SITE_B: SitePlan = SitePlan {
    name: "b",
    host4: "10.2.0.20",
    host6: "2001:db8:b::20",
    gateway4: "10.2.0.1",
    gateway6: "2001:db8:b::1",
    eid4: "10.2.0.0/24",
    eid6: "2001:db8:b::/64",
    rloc4: "192.0.2.2",
    rloc6: "2001:db8:ff::2",
    key: "demo-site-b",
    host4_over6: "10.2.1.20",
    gateway4_over6: "10.2.1.1",
    eid4_over6: "10.2.1.0/24",
    host6_over4: "2001:db8:b:1::20",
    gateway6_over4: "2001:db8:b:1::1",
    eid6_over4: "2001:db8:b:1::/64",
};

/// The VM that moves between the sites: its EID and its gateway (on both xTRs).
pub const VM: &str = "10.9.0.50";
pub const VM_GATEWAY: &str = "10.9.0.1";

/// The address CPMs come from, and the keys: hypervisor to xTR, and between the two xTRs.
pub const HYPERVISOR: &str = "192.0.2.200";
pub const HYPERVISOR_KEY: &str = "demo-hypervisor";
pub const XTR_PEER_KEY: &str = "demo-xtr-a-b";

/// Site B's optional second xTR (multihoming): its RLOC (IPv4 only) and its EID-side addresses.
pub const SECOND_XTR_B_RLOC: &str = "192.0.2.3";
pub const SECOND_XTR_B_EID_ADDRESS: &str = "10.2.0.2";
pub const SECOND_XTR_B_EID_ADDRESS6: &str = "2001:db8:b:1::2";

pub const MAP_SERVER: &str = "192.0.2.100";
pub const MAP_SERVER6: &str = "2001:db8:ff::100";
pub const SECOND_MAP_SERVER: &str = "192.0.2.101";

/// A set-up step that failed.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("{0}")]
    Io(String),
    #[error("{binary} not found next to {here} (build it: cargo build -p controlplane)")]
    MissingBinary { binary: String, here: String },
}

/// A process started in a namespace; stopped with SIGTERM, then killed, by PID.
#[derive(Debug)]
pub struct Process {
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// Starts `program args` inside `namespace`, output to `{dir}/{name}.log`.
    pub fn spawn(
        dir: &Path,
        name: &str,
        namespace: &str,
        program: &Path,
        args: &[&str],
    ) -> Result<Self, TopologyError> {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log).map_err(|e| TopologyError::Io(e.to_string()))?;
        let err = file
            .try_clone()
            .map_err(|e| TopologyError::Io(e.to_string()))?;
        let child = Command::new("ip")
            .args(["netns", "exec", namespace])
            .arg(program)
            .args(args)
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| TopologyError::Io(format!("starting {name}: {e}")))?;
        Ok(Self {
            name: name.to_owned(),
            log,
            child: Some(child),
        })
    }

    /// Stops it with SIGTERM (SIGKILL after 10 s) and returns how it exited.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = Pid::from_raw(i32::try_from(child.id()).ok()?);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// Sends `signal` to it (by PID), if it runs.
    pub fn signal(&self, signal: Signal) -> Result<(), TopologyError> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| TopologyError::Io(format!("{} is not running", self.name)))?;
        let pid = i32::try_from(child.id()).map_err(|e| TopologyError::Io(e.to_string()))?;
        kill(Pid::from_raw(pid), signal).map_err(|e| TopologyError::Io(e.to_string()))
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// What it wrote so far (stdout and stderr).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its output contains `text`.
    pub fn wait_for(&mut self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.output().contains(text) {
                return true;
            }
            if !self.running() {
                return self.output().contains(text);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where `binary` was built: next to the running executable or one directory up (test
/// executables live in `target/*/deps`), unless `LISP_BIN_DIR` says otherwise.
pub fn binary(name: &str) -> Result<PathBuf, TopologyError> {
    let here = std::env::current_exe().map_err(|e| TopologyError::Io(e.to_string()))?;
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("LISP_BIN_DIR") {
        candidates.push(PathBuf::from(dir).join(name));
    }
    if let Some(dir) = here.parent() {
        candidates.push(dir.join(name));
        if let Some(up) = dir.parent() {
            candidates.push(up.join(name));
        }
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| TopologyError::MissingBinary {
            binary: name.to_owned(),
            here: here.display().to_string(),
        })
}

/// The namespaces and links of the two sites and the underlay.
#[derive(Debug)]
pub struct Topology {
    pub dir: PathBuf,
    pub hosts: [Namespace; 2],
    pub xtrs: [Namespace; 2],
    pub underlay: Namespace,
    pub vm: Namespace,
    /// The site whose bridge the VM is on.
    pub vm_site: usize,
    /// Site B's second xTR, when [`Topology::add_second_xtr_b`] made one.
    pub second_xtr_b: Option<Namespace>,
    pub processes: Vec<Process>,
}

/// A veth with one end in each namespace, named there `a_name` and `b_name`.
pub fn link(a: &Namespace, a_name: &str, b: &Namespace, b_name: &str) -> Result<(), NetnsError> {
    let (tmp_a, tmp_b) = (unique_name("t"), unique_name("t"));
    run(
        "ip",
        &[
            "link", "add", &tmp_a, "type", "veth", "peer", "name", &tmp_b,
        ],
    )?;
    run("ip", &["link", "set", &tmp_a, "netns", a.name()])?;
    run("ip", &["link", "set", &tmp_b, "netns", b.name()])?;
    a.ip(&["link", "set", &tmp_a, "name", a_name])?;
    b.ip(&["link", "set", &tmp_b, "name", b_name])?;
    Ok(())
}

/// A kernel interface that talks to a DPDK port: up, addresses kept when the link flaps, no DAD,
/// no TX checksum offload (frames reach DPDK with complete checksums).
pub fn kernel_side(ns: &Namespace, ifname: &str) -> Result<(), NetnsError> {
    ns.exec(
        "sysctl",
        &[
            "-qw",
            &format!("net.ipv6.conf.{ifname}.keep_addr_on_down=1"),
        ],
    )?;
    ns.exec(
        "sysctl",
        &["-qw", &format!("net.ipv6.conf.{ifname}.accept_dad=0")],
    )?;
    ns.ip(&["link", "set", ifname, "up"])?;
    ns.exec("ethtool", &["-K", ifname, "tx", "off"])?;
    Ok(())
}

impl Topology {
    /// Creates every namespace, link and kernel address; starts nothing.
    pub fn build(dir: &Path) -> Result<Self, TopologyError> {
        std::fs::create_dir_all(dir).map_err(|e| TopologyError::Io(e.to_string()))?;
        let topology = Self {
            dir: dir.to_owned(),
            hosts: [Namespace::create("lha")?, Namespace::create("lhb")?],
            xtrs: [Namespace::create("lxa")?, Namespace::create("lxb")?],
            underlay: Namespace::create("lul")?,
            vm: Namespace::create("lvm")?,
            vm_site: 0,
            second_xtr_b: None,
            processes: Vec::new(),
        };
        let ul = &topology.underlay;
        ul.ip(&["link", "add", "br0", "type", "bridge"])?;
        ul.exec("sysctl", &["-qw", "net.ipv6.conf.br0.accept_dad=0"])?;
        ul.ip(&["link", "set", "br0", "up"])?;
        for address in [
            format!("{MAP_SERVER}/24"),
            format!("{SECOND_MAP_SERVER}/24"),
            format!("{HYPERVISOR}/24"),
            format!("{MAP_SERVER6}/64"),
        ] {
            ul.ip(&["addr", "add", &address, "dev", "br0"])?;
        }
        for (i, site) in [SITE_A, SITE_B].iter().enumerate() {
            let (host, xtr) = (&topology.hosts[i], &topology.xtrs[i]);
            link(host, "eth0", xtr, "eid0")?;
            let port = format!("to{}", site.name);
            link(ul, &port, xtr, "rloc0")?;
            // The DPDK side: no kernel addresses, IPv6 off.
            for ifname in ["eid0", "rloc0"] {
                xtr.exec(
                    "sysctl",
                    &["-qw", &format!("net.ipv6.conf.{ifname}.disable_ipv6=1")],
                )?;
                xtr.ip(&["link", "set", ifname, "up"])?;
            }
            kernel_side(host, "eth0")?;
            host.ip(&["link", "add", "br0", "type", "bridge"])?;
            kernel_side(host, "br0")?;
            host.ip(&["link", "set", "eth0", "master", "br0"])?;
            host.ip(&["addr", "add", &format!("{}/24", site.host4), "dev", "br0"])?;
            host.ip(&[
                "addr",
                "add",
                &format!("{}/24", site.host4_over6),
                "dev",
                "br0",
            ])?;
            for address in [site.host6, site.host6_over4] {
                let address = format!("{address}/64");
                host.ip(&["-6", "addr", "add", &address, "dev", "br0", "nodad"])?;
            }
            host.ip(&["route", "add", "default", "via", site.gateway4])?;
            host.ip(&["-6", "route", "add", "default", "via", site.gateway6])?;
            kernel_side(ul, &port)?;
            ul.ip(&["link", "set", &port, "master", "br0"])?;
        }
        let (vm, host_a) = (&topology.vm, &topology.hosts[0]);
        link(vm, "eth0", host_a, "vm0")?;
        kernel_side(vm, "eth0")?;
        vm.ip(&["addr", "add", &format!("{VM}/24"), "dev", "eth0"])?;
        vm.ip(&["route", "add", "default", "via", VM_GATEWAY])?;
        kernel_side(host_a, "vm0")?;
        host_a.ip(&["link", "set", "vm0", "master", "br0"])?;
        Ok(topology)
    }

    /// Makes site B multihomed: a second xTR namespace wired to host B's segment and to the
    /// underlay, whose RLOC site B's IPv4 EIDs prefer. Call before starting the xTRs.
    pub fn add_second_xtr_b(&mut self) -> Result<(), TopologyError> {
        let xtr = Namespace::create("lxc")?;
        link(&self.hosts[1], "eth1", &xtr, "eid0")?;
        link(&self.underlay, "tob2", &xtr, "rloc0")?;
        for ifname in ["eid0", "rloc0"] {
            xtr.exec(
                "sysctl",
                &["-qw", &format!("net.ipv6.conf.{ifname}.disable_ipv6=1")],
            )?;
            xtr.ip(&["link", "set", ifname, "up"])?;
        }
        kernel_side(&self.hosts[1], "eth1")?;
        self.hosts[1].ip(&["link", "set", "eth1", "master", "br0"])?;
        kernel_side(&self.underlay, "tob2")?;
        self.underlay
            .ip(&["link", "set", "tob2", "master", "br0"])?;
        self.second_xtr_b = Some(xtr);
        Ok(())
    }

    /// Starts site B's second xTR (after [`Topology::add_second_xtr_b`]).
    pub fn start_second_xtr_b(&mut self) -> Result<(), TopologyError> {
        let namespace = self
            .second_xtr_b
            .as_ref()
            .map(|n| n.name().to_owned())
            .ok_or_else(|| TopologyError::Io("no second xTR for site B".into()))?;
        let file = self.dir.join("lispd-b2.toml");
        let socket = self.management_socket(2);
        std::fs::write(&file, second_xtr_b_config(&unique_name("lispd"), &socket))
            .map_err(|e| TopologyError::Io(e.to_string()))?;
        let lispd = binary("lispd")?;
        self.spawn(
            "lispd-b2",
            &namespace,
            &lispd,
            &["run", "-c", file.to_str().unwrap_or_default()],
        )?;
        Ok(())
    }

    /// Moves the VM's link to site `to`'s bridge (what a live migration does to its network);
    /// the CPM is the hypervisor's next step, [`Topology::send_cpm`].
    pub fn move_vm(&mut self, to: usize) -> Result<(), TopologyError> {
        let (from, into) = (&self.hosts[self.vm_site], &self.hosts[to]);
        from.ip(&["link", "set", "vm0", "netns", into.name()])?;
        kernel_side(into, "vm0")?;
        into.ip(&["link", "set", "vm0", "master", "br0"])?;
        self.vm_site = to;
        Ok(())
    }

    /// The hypervisor manager tells site `to`'s xTR that the VM arrived, naming a correspondent.
    pub fn send_cpm(&self, to: usize, correspondent: &str) -> Result<(), TopologyError> {
        let lispctl = binary("lispctl")?;
        let site = [SITE_A, SITE_B][to];
        let eid = format!("{VM}/32");
        let out = Command::new("ip")
            .args(["netns", "exec", self.underlay.name()])
            .arg(lispctl)
            .args([
                "cpm",
                "--to",
                site.rloc4,
                "--from",
                HYPERVISOR,
                "--key",
                HYPERVISOR_KEY,
                "--eid",
                &eid,
                "--role",
                "arrived",
                "--correspondent",
                correspondent,
            ])
            .output()
            .map_err(|e| TopologyError::Io(format!("lispctl cpm: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(TopologyError::Io(format!(
                "lispctl cpm: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Starts `program args` inside `namespace`, output to `{dir}/{name}.log`.
    pub fn spawn(
        &mut self,
        name: &str,
        namespace: &str,
        program: &Path,
        args: &[&str],
    ) -> Result<&mut Process, TopologyError> {
        let process = Process::spawn(&self.dir, name, namespace, program, args)?;
        self.processes.push(process);
        Ok(self.processes.last_mut().expect("just pushed"))
    }

    /// The process called `name`.
    pub fn process(&mut self, name: &str) -> Option<&mut Process> {
        self.processes.iter_mut().find(|p| p.name == name)
    }

    /// Starts both map-servers: the built-in demo one, and a second one that knows only site A,
    /// with a different key.
    pub fn start_map_servers(&mut self) -> Result<(), TopologyError> {
        let lisp_ms = binary("lisp-ms")?;
        let second = self.dir.join("second-ms.toml");
        std::fs::write(
            &second,
            format!(
                "listen = [\"{SECOND_MAP_SERVER}:4342\"]\n\n[[site]]\nname = \"site-a\"\nkey = \"{SECOND_MS_KEY_A}\"\nprefixes = [\"10.1.0.0/16\", \"2001:db8:a::/48\"]\nmobile_prefixes = [\"10.9.0.0/24\"]\n"
            ),
        )
        .map_err(|e| TopologyError::Io(e.to_string()))?;
        let ul = self.underlay.name().to_owned();
        let listen4 = format!("{MAP_SERVER}:4342");
        let listen6 = format!("[{MAP_SERVER6}]:4342");
        let management = self.map_server_socket();
        self.spawn(
            "lisp-ms",
            &ul,
            &lisp_ms,
            &[
                "--listen",
                &listen4,
                "--listen",
                &listen6,
                "--management",
                management.to_str().unwrap_or_default(),
                "--metrics",
                &format!("{MAP_SERVER}:9142"),
            ],
        )?;
        self.spawn(
            "lisp-ms-2",
            &ul,
            &lisp_ms,
            &["--config", second.to_str().unwrap_or_default()],
        )?;
        Ok(())
    }

    /// Writes the lispd configuration of site `i` and starts it.
    pub fn start_xtr(&mut self, i: usize) -> Result<(), TopologyError> {
        let site = [SITE_A, SITE_B][i];
        let file = self.dir.join(format!("lispd-{}.toml", site.name));
        let socket = self.management_socket(i);
        let multihomed = self.second_xtr_b.is_some();
        std::fs::write(
            &file,
            lispd_config(&site, &unique_name("lispd"), &socket, multihomed),
        )
        .map_err(|e| TopologyError::Io(e.to_string()))?;
        let lispd = binary("lispd")?;
        let namespace = self.xtrs[i].name().to_owned();
        self.spawn(
            &format!("lispd-{}", site.name),
            &namespace,
            &lispd,
            &["run", "-c", file.to_str().unwrap_or_default()],
        )?;
        Ok(())
    }

    /// Where the first lisp-ms serves its management API.
    pub fn map_server_socket(&self) -> PathBuf {
        self.dir.join("lisp-ms.sock")
    }

    /// Where lispd of site `i` serves its management API.
    /// `i` is 0 for site A, 1 for site B, 2 for site B's second xTR.
    pub fn management_socket(&self, i: usize) -> PathBuf {
        self.dir
            .join(format!("lispd-{}.sock", ["a", "b", "b2"][i.min(2)]))
    }

    /// `lispctl ARGS` against lispd of site `i`; its standard output, or why it failed.
    pub fn lispctl(&self, i: usize, args: &[&str]) -> Result<String, TopologyError> {
        let out = Command::new(binary("lispctl")?)
            .arg("--socket")
            .arg(self.management_socket(i))
            .args(args)
            .output()
            .map_err(|e| TopologyError::Io(format!("lispctl: {e}")))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(TopologyError::Io(format!(
                "lispctl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Runs a command in host `i`'s namespace and returns its output, whatever its status.
    pub fn on_host(&self, i: usize, program: &str, args: &[&str]) -> Result<Output, TopologyError> {
        Command::new("ip")
            .args(["netns", "exec", self.hosts[i].name(), program])
            .args(args)
            .output()
            .map_err(|e| TopologyError::Io(format!("{program}: {e}")))
    }

    /// Pings `destination` from host `i` every `interval` until one reply arrives or `timeout`
    /// passes; returns the time to the first reply.
    pub fn ping_until_reply(
        &self,
        i: usize,
        destination: IpAddr,
        interval: Duration,
        timeout: Duration,
    ) -> Result<Option<Duration>, TopologyError> {
        let start = Instant::now();
        // -c 1 with a deadline keeps sending until one reply arrives.
        let deadline = timeout.as_secs().max(1).to_string();
        let interval = format!("{:.3}", interval.as_secs_f64());
        let out = self.on_host(
            i,
            "ping",
            &[
                "-n",
                "-q",
                "-i",
                &interval,
                "-c",
                "1",
                "-w",
                &deadline,
                &destination.to_string(),
            ],
        )?;
        if !out.status.success() && !out.stderr.is_empty() {
            return Err(TopologyError::Io(format!(
                "ping: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out.status.success().then(|| start.elapsed()))
    }

    /// Stops every process (lispd prints its report on the way out).
    pub fn stop_all(&mut self) {
        for process in self.processes.iter_mut().rev() {
            process.stop();
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// What every lispd of the topology shares: af_packet ports on `eid0`/`rloc0`, no hugepages,
/// one data core that sleeps when idle (three lispd share two CPUs here), fast timers, its own
/// management socket and identity.
fn lispd_header(file_prefix: &str, socket: &Path, xtr_id: &str, site_id: u64) -> String {
    format!(
        r#"[dpdk]
eal_args = ["--no-huge", "-m", "512", "--no-shconf", "--no-pci", "--no-telemetry",
            "--vdev=net_af_packet0,iface=eid0,qpairs=2", "--vdev=net_af_packet1,iface=rloc0,qpairs=2"]
file_prefix = "{file_prefix}"
mbuf_pool_size = 8191

[cores]
control = 0
data = [1]
idle_sleep_us = 100

[timers]
map_register_interval_secs = 10
rloc_probe_interval_secs = 5

[management]
socket = "{socket}"
state_directory = "{state}"

[identity]
xtr_id = "{xtr_id}"
site_id = {site_id}
"#,
        socket = socket.display(),
        state = socket.parent().unwrap_or(Path::new(".")).display(),
    )
}

/// lispd's configuration for `site` in this topology.
pub fn lispd_config(site: &SitePlan, file_prefix: &str, socket: &Path, multihomed: bool) -> String {
    // With a second xTR, site B's IPv4 EIDs prefer its RLOC; this xTR's is the backup.
    let eid4_second_xtr = if multihomed && site.name == "b" {
        format!(
            "priority = 2\n[[database.locator]]\naddress = \"{SECOND_XTR_B_RLOC}\"\npriority = 1\n"
        )
    } else {
        String::new()
    };
    let second_ms = if site.name == "a" {
        format!(
            "\n[[map_server]]\naddress = \"{SECOND_MAP_SERVER}\"\nkey = \"{SECOND_MS_KEY_A}\"\nalgorithm = \"hmac-sha256\"\n"
        )
    } else {
        String::new()
    };
    let (own_vm_priority, other_vm_priority) = if site.name == "a" { (1, 255) } else { (255, 1) };
    let other = if site.name == "a" { SITE_B } else { SITE_A };
    format!(
        r#"# lispd for demo site {name}: generated by the two-site topology.
{header}
[[port]]
name = "eid"
device = "net_af_packet0"
role = "eid"
addresses = ["{gateway4}/24", "{gateway6}/64", "{VM_GATEWAY}/24", "{gateway4_over6}/24", "{gateway6_over4}/64"]

[[port]]
name = "rloc"
device = "net_af_packet1"
role = "rloc"
addresses = ["{rloc4}/24", "{rloc6}/64"]

[[map_server]]
address = "{MAP_SERVER}"
key = "{key}"
algorithm = "hmac-sha256"
{second_ms}
[[map_resolver]]
address = "{MAP_SERVER}"

# One-minute TTLs: correspondents' map-caches expire and refresh within a demo or test run.
[[database]]
prefix = "{eid4}"
ttl_minutes = 1
[[database.locator]]
address = "{rloc4}"
local = true
{eid4_second_xtr}
[[database]]
prefix = "{eid6}"
ttl_minutes = 1
[[database.locator]]
address = "{rloc6}"
local = true

[[database]]
prefix = "{eid4_over6}"
[[database.locator]]
address = "{rloc6}"
local = true

[[database]]
prefix = "{eid6_over4}"
[[database.locator]]
address = "{rloc4}"
local = true

# The VM: reachable through site A until a CPM says otherwise; both sites hold the record.
[[database]]
prefix = "{VM}/32"
ttl_minutes = 1
[[database.locator]]
address = "{rloc4}"
priority = {own_vm_priority}
local = true
[[database.locator]]
address = "{other_rloc4}"
priority = {other_vm_priority}

[cpm]
enabled = true
[[cpm.sender]]
address = "{HYPERVISOR}"
key = "{HYPERVISOR_KEY}"
[[cpm.sender]]
address = "{other_rloc4}"
key = "{XTR_PEER_KEY}"
"#,
        other_rloc4 = other.rloc4,
        eid4_second_xtr = eid4_second_xtr,
        header = lispd_header(
            file_prefix,
            socket,
            if site.name == "a" {
                "a0000000000000000000000000000001"
            } else {
                "b0000000000000000000000000000002"
            },
            if site.name == "a" { 1 } else { 2 },
        ),
        gateway4_over6 = site.gateway4_over6,
        gateway6_over4 = site.gateway6_over4,
        eid4_over6 = site.eid4_over6,
        eid6_over4 = site.eid6_over4,
        name = site.name,
        gateway4 = site.gateway4,
        gateway6 = site.gateway6,
        rloc4 = site.rloc4,
        rloc6 = site.rloc6,
        key = site.key,
        eid4 = site.eid4,
        eid6 = site.eid6,
    )
}

/// lispd's configuration for site B's second xTR: site B's IPv4 EIDs through RLOC
/// 192.0.2.3 (preferred) and 192.0.2.2, registered with the first map-server. It also routes
/// site B's IPv6-over-IPv4 EIDs out (not registered: their traffic comes in through xTR B), with
/// no IPv6 RLOC: the case of an xTR resolving IPv6 EIDs over an IPv4-only underlay.
pub fn second_xtr_b_config(file_prefix: &str, socket: &Path) -> String {
    format!(
        r#"# lispd for site B's second xTR: generated by the two-site topology.
{header}
[[port]]
name = "eid"
device = "net_af_packet0"
role = "eid"
addresses = ["{SECOND_XTR_B_EID_ADDRESS}/24", "{SECOND_XTR_B_EID_ADDRESS6}/64"]

[[port]]
name = "rloc"
device = "net_af_packet1"
role = "rloc"
addresses = ["{SECOND_XTR_B_RLOC}/24"]

[[map_server]]
address = "{MAP_SERVER}"
key = "{key}"
algorithm = "hmac-sha256"

[[map_resolver]]
address = "{MAP_SERVER}"

[[database]]
prefix = "{eid4}"
ttl_minutes = 1
[[database.locator]]
address = "{SECOND_XTR_B_RLOC}"
priority = 1
local = true
[[database.locator]]
address = "{rloc4}"
priority = 2

[[database]]
prefix = "{eid6}"
register = false
[[database.locator]]
address = "{SECOND_XTR_B_RLOC}"
local = true
"#,
        header = lispd_header(file_prefix, socket, "b2000000000000000000000000000003", 2),
        key = SITE_B.key,
        eid4 = SITE_B.eid4,
        eid6 = SITE_B.eid6_over4,
        rloc4 = SITE_B.rloc4,
    )
}
