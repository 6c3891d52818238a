//! The devices under test, each a child process connecting as memif client to the generator's
//! ports, its forwarding lcore on CPU 1: `dpdk-testpmd` in `5tswap` mode (the baseline) and
//! `lispd` with a large static map-cache. Both are stopped by PID and report the busy cycles their
//! forwarding core spent per packet. Each opens as many queues per port as the generator (a memif
//! server reads every client ring once per queue, so fewer client rings would be read twice).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::frames::Link;
use super::generator::QUEUES;
use super::{memif_devargs, World};
use crate::eal;

/// EAL memory per DUT process.
pub const DUT_MEMORY_MIB: u64 = 512;

/// The client end of memif link `id`.
pub(super) fn client_vdev(socket: &Path, id: u8, link: Link) -> String {
    format!("--vdev={}", memif_devargs(socket, id, "client", link.dut))
}

/// A child process whose output is collected as it runs (so a full pipe never stalls it) and
/// which is killed by PID if dropped while running.
pub(super) struct Process {
    name: &'static str,
    child: Child,
    output: Option<JoinHandle<String>>,
    errors: Option<JoinHandle<String>>,
}

fn collect(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

impl Process {
    /// Starts `command` from a helper thread allowed on every CPU: the generator's thread is pinned
    /// to CPU 0 and a child inherits its parent thread's affinity.
    pub(super) fn spawn(
        name: &'static str,
        command: &mut Command,
    ) -> Result<(Self, Option<ChildStdin>), String> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut every_cpu = CpuSet::new();
                    for cpu in 0..CpuSet::count() {
                        let _ = every_cpu.set(cpu);
                    }
                    sched_setaffinity(Pid::from_raw(0), &every_cpu)
                        .map_err(|e| format!("cannot widen CPU affinity for {name}: {e}"))?;
                    command
                        .spawn()
                        .map_err(|e| format!("cannot start {name}: {e}"))
                })
                .join()
                .map_err(|_| format!("starting {name} panicked"))?
        })?;
        let stdin = child.stdin.take();
        let output = child.stdout.take().map(collect);
        let errors = child.stderr.take().map(collect);
        Ok((
            Self {
                name,
                child,
                output,
                errors,
            },
            stdin,
        ))
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the process to end, then returns its stdout; stderr goes into
    /// the error if it failed.
    pub(super) fn finish(mut self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        while !self.exited() {
            if Instant::now() > deadline {
                return Err(format!("{} did not stop within {timeout:?}", self.name));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        let output = self.output.take().map(|h| h.join().unwrap_or_default());
        let errors = self.errors.take().map(|h| h.join().unwrap_or_default());
        if status.success() {
            Ok(output.unwrap_or_default())
        } else {
            Err(format!(
                "{} exited with {status}:\n{}\n{}",
                self.name,
                output.unwrap_or_default(),
                errors.unwrap_or_default()
            ))
        }
    }

    fn signal(&self, signal: Signal) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.exited() {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// `dpdk-testpmd` forwarding memif 0 <-> memif 1 in `5tswap` mode on lcore 1 (CPU 1).
pub struct Testpmd {
    process: Process,
    stdin: Option<ChildStdin>,
}

impl Testpmd {
    pub fn start(dir: &Path, socket: &Path, eid: Link, rloc: Link) -> Result<Self, String> {
        let (memory, _) = eal::memory_args(DUT_MEMORY_MIB);
        let prefix = format!("line-testpmd-{}", std::process::id());
        let (rx_queues, tx_queues) = (format!("--rxq={QUEUES}"), format!("--txq={QUEUES}"));
        let mut command = Command::new("dpdk-testpmd");
        command
            .current_dir(dir)
            .args([
                "-l",
                "0,1",
                "--file-prefix",
                &prefix,
                "--no-pci",
                "--no-telemetry",
            ])
            .args(&memory)
            .arg(client_vdev(socket, 0, eid))
            .arg(client_vdev(socket, 1, rloc))
            .args([
                "--",
                "--forward-mode=5tswap",
                "--nb-cores=1",
                &rx_queues,
                &tx_queues,
                "--auto-start",
                "--record-core-cycles",
                "--total-num-mbufs=16384",
            ]);
        let (process, stdin) = Process::spawn("dpdk-testpmd", &mut command)?;
        Ok(Self { process, stdin })
    }

    /// Ends forwarding (testpmd exits when its stdin closes) and returns its busy cycles per
    /// packet.
    pub fn stop(mut self) -> Result<f64, String> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let output = self.process.finish(Duration::from_secs(20))?;
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix("CPU cycles/packet="))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("testpmd reported no cycles per packet:\n{output}"))
    }
}

/// lispd's data-plane counters at one moment (from `show-stats`), the non-zero ones.
#[derive(Debug, Clone, Default)]
pub struct CoreSnapshot(Vec<(String, u64)>);

impl CoreSnapshot {
    fn get(&self, name: &str) -> u64 {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Busy cycles per packet between `earlier` and `self`.
    pub fn cycles_per_packet_since(&self, earlier: &Self) -> Option<f64> {
        let packets = self.get("received").checked_sub(earlier.get("received"))?;
        let cycles = self.get("busy_cycles") - earlier.get("busy_cycles");
        (packets > 0).then(|| cycles as f64 / packets as f64)
    }

    /// Drop counters that grew since `earlier`.
    pub fn drops_since(&self, earlier: &Self) -> Vec<(String, u64)> {
        self.0
            .iter()
            .filter(|(name, _)| name.starts_with("drop_"))
            .filter_map(|(name, value)| {
                let before = earlier.get(name);
                (*value > before).then(|| (name.clone(), value - before))
            })
            .collect()
    }
}

/// `lispd run` with one control core (CPU 0) and one data core (CPU 1).
pub struct Lispd {
    process: Process,
    management: PathBuf,
}

impl Lispd {
    /// Starts lispd and waits until its management socket answers (configuration loaded, ports
    /// started), at most `timeout`.
    pub fn start(
        binary: &Path,
        dir: &Path,
        socket: &Path,
        (eid, rloc): (Link, Link),
        world: &World<'_>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let management = dir.join("lispd.sock");
        let path = dir.join("lispd.toml");
        std::fs::write(&path, config_text(socket, (eid, rloc), world, &management))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let bulk = dir.join(MAP_CACHE_FILE);
        std::fs::write(&bulk, map_cache_lines(world))
            .map_err(|e| format!("{}: {e}", bulk.display()))?;
        let mut command = Command::new(binary);
        command.args(["run", "-c"]).arg(&path);
        let (process, _) = Process::spawn("lispd", &mut command)?;
        let mut lispd = Self {
            process,
            management,
        };
        let deadline = Instant::now() + timeout;
        while lispd.snapshot().is_err() {
            if lispd.process.exited() {
                return Err(lispd
                    .process
                    .finish(Duration::from_secs(1))
                    .err()
                    .unwrap_or_else(|| "lispd exited at start".into()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "lispd did not answer on its management socket within {timeout:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(lispd)
    }

    /// The data core's counters now.
    pub fn snapshot(&self) -> Result<CoreSnapshot, String> {
        let mut stream = UnixStream::connect(&self.management).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"{\"version\": 1, \"command\": \"show-stats\"}\n")
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let response: Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let data = response
            .pointer("/result/data")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("unexpected show-stats answer: {line}"))?;
        Ok(CoreSnapshot(
            data.iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_u64()?)))
                .filter(|(_, value)| *value > 0)
                .collect(),
        ))
    }

    /// SIGTERM by PID; returns lispd's stop report.
    pub fn stop(self) -> Result<String, String> {
        self.process.signal(Signal::SIGTERM);
        self.process.finish(Duration::from_secs(30))
    }
}

/// The `map_cache_file` next to lispd's configuration.
const MAP_CACHE_FILE: &str = "map-cache.txt";

/// One static mapping per prefix toward the remote RLOC, in `map_cache_file` lines.
fn map_cache_lines(world: &World<'_>) -> String {
    let mut text = String::with_capacity(32 * world.map_cache.len());
    for prefix in world.map_cache {
        let _ = writeln!(text, "{prefix} {}", world.remote_rloc);
    }
    text
}

/// lispd's configuration: the two memif ports with static neighbours (no ARP in the measured
/// path), our EID prefix, and the map-cache in [`MAP_CACHE_FILE`].
fn config_text(
    socket: &Path,
    (eid, rloc): (Link, Link),
    world: &World<'_>,
    management: &Path,
) -> String {
    let (memory, _) = eal::memory_args(DUT_MEMORY_MIB);
    let mut eal_args: Vec<String> = memory;
    eal_args.extend(["--no-pci".into(), "--no-telemetry".into()]);
    eal_args.push(client_vdev(socket, 0, eid));
    eal_args.push(client_vdev(socket, 1, rloc));
    let mut text = String::with_capacity(4096);
    let _ = write!(
        text,
        r#"map_cache_file = "{MAP_CACHE_FILE}"

[dpdk]
eal_args = {eal_args:?}
file_prefix = "line-lispd-{pid}"
mbuf_pool_size = 16383

[cores]
control = 0
data = [1]
cpus = [0, 1]

[[port]]
name = "eid"
device = "net_memif0"
role = "eid"
addresses = ["{gateway}/{len}"]
"#,
        pid = std::process::id(),
        gateway = world.eid_gateway,
        len = world.eid_prefix.prefix_len(),
    );
    for host in world.hosts {
        let _ = write!(
            text,
            "[[port.neighbour]]\naddress = \"{host}\"\nmac = \"{}\"\n",
            config::MacAddr(eid.generator)
        );
    }
    let _ = write!(
        text,
        r#"
[[port]]
name = "rloc"
device = "net_memif1"
role = "rloc"
addresses = ["{rloc_address}/24"]
[[port.neighbour]]
address = "{remote}"
mac = "{remote_mac}"

[management]
socket = "{management}"
metrics_listen = "127.0.0.1:0"

[timers]
map_cache_limit = {limit}

[[database]]
prefix = "{eid_prefix}"
register = false
[[database.locator]]
address = "{rloc_address}"
local = true
"#,
        rloc_address = world.rloc,
        remote = world.remote_rloc,
        remote_mac = config::MacAddr(rloc.generator),
        management = management.display(),
        limit = world.map_cache.len() + 1024,
        eid_prefix = world.eid_prefix,
    );
    text
}
