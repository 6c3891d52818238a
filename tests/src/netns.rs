//! Network namespaces and veth pairs that remove themselves when dropped (also on panic).

use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{setns, CloneFlags};

/// A failed set-up command, with what it printed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("this needs root (network namespaces, veths); run it as root")]
    NotRoot,
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("`{command}` could not start: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("entering namespace {name}: {reason}")]
    Enter { name: String, reason: String },
}

/// Runs a command and fails with its stderr when it does not exit 0.
pub fn run(program: &str, args: &[&str]) -> Result<String, NetnsError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| NetnsError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(NetnsError::Command {
            command,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Fails clearly unless the process runs as root.
pub fn require_root() -> Result<(), NetnsError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(NetnsError::NotRoot)
    }
}

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this process and call (interface names are limited to 15 bytes).
pub fn unique_name(prefix: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct Namespace {
    name: String,
}

impl Namespace {
    /// Creates a namespace named `{prefix}{pid}x{n}` with its loopback up.
    pub fn create(prefix: &str) -> Result<Self, NetnsError> {
        require_root()?;
        let name = unique_name(prefix);
        run("ip", &["netns", "add", &name])?;
        let namespace = Self { name };
        namespace.ip(&["link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip ARGS` inside the namespace.
    pub fn ip(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut full = vec!["netns", "exec", &self.name, "ip"];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs any command inside the namespace.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String, NetnsError> {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run("ip", &full)
    }
}

/// Moves the calling thread into the named namespace (for sockets a test opens itself there).
/// Use it on a thread of its own: the thread stays there.
pub fn enter_namespace(name: &str) -> Result<(), NetnsError> {
    let enter_error = |reason: String| NetnsError::Enter {
        name: name.to_owned(),
        reason,
    };
    let file =
        File::open(format!("/var/run/netns/{name}")).map_err(|e| enter_error(e.to_string()))?;
    setns(file, CloneFlags::CLONE_NEWNET).map_err(|e| enter_error(e.to_string()))
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["netns", "del", &self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// A veth pair: `outer` stays in the current namespace (for a DPDK `net_af_packet` port, with IPv6
/// off and no address so the kernel stays out of the way), `inner` lives in `namespace`.
/// Deleting `outer` on drop removes both ends.
#[derive(Debug)]
pub struct Veth {
    pub outer: String,
    pub inner: String,
}

impl Veth {
    /// Creates the pair and brings both ends up; `inner` gets `address` (CIDR) if given.
    pub fn create(namespace: &Namespace, address: Option<&str>) -> Result<Self, NetnsError> {
        let base = unique_name("v");
        let veth = Self {
            outer: format!("{base}o"),
            inner: format!("{base}i"),
        };
        run(
            "ip",
            &[
                "link",
                "add",
                &veth.outer,
                "type",
                "veth",
                "peer",
                "name",
                &veth.inner,
                "netns",
                namespace.name(),
            ],
        )?;
        run(
            "sysctl",
            &[
                "-qw",
                &format!("net.ipv6.conf.{}.disable_ipv6=1", veth.outer),
            ],
        )?;
        run("ip", &["link", "set", &veth.outer, "up"])?;
        if let Some(address) = address {
            namespace.ip(&["addr", "add", address, "dev", &veth.inner])?;
        }
        namespace.ip(&["link", "set", &veth.inner, "up"])?;
        // Kernel-sent UDP/TCP toward a DPDK port would otherwise carry partial checksums.
        namespace.exec("ethtool", &["-K", &veth.inner, "tx", "off"])?;
        Ok(veth)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        if let Err(e) = run("ip", &["link", "del", &self.outer]) {
            eprintln!("cleanup: {e}");
        }
    }
}
