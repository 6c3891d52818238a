//! Reloading the configuration file (SIGHUP, `lispctl reload`) without restarting the data
//! cores. A reload is checked in full first: the file validates, changes nothing that needs a
//! restart (EAL, cores, ports other than their VLANs, management endpoints, identity, CPM mode,
//! the map-cache size) and its names resolve. Only then is it applied, in the same
//! control-loop turn; a refused reload changes nothing and says why. Tenants (VLANs and
//! instances) come and go by reload.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::PathBuf;

use config::Config;

use super::names::{self, Resolved};

/// The file, the configuration running, and a checked one waiting to be applied.
#[derive(Debug)]
pub struct Reloader {
    file: Option<PathBuf>,
    running: Config,
    pending: RefCell<Option<(Config, Resolved)>>,
    refused: Cell<u64>,
}

impl Reloader {
    pub fn new(running: Config) -> Self {
        Self {
            file: None,
            running,
            pending: RefCell::new(None),
            refused: Cell::new(0),
        }
    }

    /// Reloads read `file`.
    pub fn set_file(&mut self, file: PathBuf) {
        self.file = Some(file);
    }

    /// The configuration running.
    pub fn running(&self) -> &Config {
        &self.running
    }

    /// Reloads refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.get()
    }

    /// Reads and checks the file; when it can be applied, it waits for [`Self::take`] and the
    /// answer names the sections that change. A refusal is logged and counted.
    pub fn check(&self) -> Result<Vec<&'static str>, String> {
        let checked = self.check_file();
        match &checked {
            Ok(changed) => tracing::info!("reload checked; changes: {changed:?}"),
            Err(e) => {
                self.refused.set(self.refused.get() + 1);
                tracing::error!("reload refused: {e}");
            }
        }
        checked
    }

    fn check_file(&self) -> Result<Vec<&'static str>, String> {
        let file = self
            .file
            .as_ref()
            .ok_or("lispd was not started from a configuration file")?;
        // File rules only: the machine step checks CPUs, and `[cores]` cannot change anyway
        // (on the control core, which EAL pinned, this thread's affinity is one CPU).
        let new = config::load(file).map_err(|e| e.to_string())?;
        let restart = needs_restart(&self.running, &new);
        if !restart.is_empty() {
            return Err(format!(
                "{} changed, which needs a restart; nothing was applied",
                restart.join(", ")
            ));
        }
        let resolved = names::resolve_all(&new)?;
        let changed = changed(&self.running, &new);
        *self.pending.borrow_mut() = Some((new, resolved));
        Ok(changed)
    }

    /// The checked configuration waiting to be applied, if any.
    pub fn take(&self) -> Option<(Config, Resolved)> {
        self.pending.borrow_mut().take()
    }

    /// `config` is running now.
    pub fn applied(&mut self, config: Config) {
        self.running = config;
    }
}

/// Instance-ids with tables.
pub fn instances(config: &Config) -> BTreeSet<u32> {
    let mut ids = config.instance_ids();
    ids.extend(config.map_cache.iter().map(|m| m.instance_id));
    ids
}

/// The sections whose change needs a restart.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&old.management, &new.management);
    [
        ("[dpdk]", old.dpdk != new.dpdk),
        ("[cores]", old.cores != new.cores),
        (
            "[[port]] (other than its VLANs)",
            without_vlans(old) != without_vlans(new),
        ),
        (
            "[management] socket, metrics_listen, state_directory or log_format",
            (
                &a.socket,
                a.metrics_listen,
                &a.state_directory,
                a.log_format,
            ) != (
                &b.socket,
                b.metrics_listen,
                &b.state_directory,
                b.log_format,
            ),
        ),
        ("[identity]", old.identity != new.identity),
        ("[nat_traversal]", old.nat_traversal != new.nat_traversal),
        (
            "roles.rtr or [rtr]",
            (old.roles.rtr, &old.rtr) != (new.roles.rtr, &new.rtr),
        ),
        (
            "[cpm] enabled or legacy_lip6_type5",
            (old.cpm.enabled, old.cpm.legacy_lip6_type5)
                != (new.cpm.enabled, new.cpm.legacy_lip6_type5),
        ),
        (
            "timers.map_cache_limit",
            old.timers.map_cache_limit != new.timers.map_cache_limit,
        ),
    ]
    .into_iter()
    .filter_map(|(what, differs)| differs.then_some(what))
    .collect()
}

/// The ports with their VLANs left out (those a reload may change).
fn without_vlans(config: &Config) -> Vec<config::Port> {
    config
        .port
        .iter()
        .map(|p| config::Port {
            vlan: Vec::new(),
            ..p.clone()
        })
        .collect()
}

/// The sections a reload changes.
fn changed(old: &Config, new: &Config) -> Vec<&'static str> {
    [
        (
            "port.vlan",
            old.port
                .iter()
                .map(|p| &p.vlan)
                .ne(new.port.iter().map(|p| &p.vlan)),
        ),
        ("database", old.database != new.database),
        ("map_server", old.map_server != new.map_server),
        ("map_resolver", old.map_resolver != new.map_resolver),
        ("petr", old.petr != new.petr),
        ("pitr", old.pitr != new.pitr),
        ("map_cache", old.map_cache != new.map_cache),
        ("cpm.sender", old.cpm.sender != new.cpm.sender),
        ("timers", old.timers != new.timers),
        ("roles", old.roles != new.roles),
        (
            "log_level",
            old.management.log_level != new.management.log_level,
        ),
    ]
    .into_iter()
    .filter_map(|(what, differs)| differs.then_some(what))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        config::parse(text, "t.toml").unwrap()
    }

    const BASE: &str = r#"
[[port]]
name = "inside"
device = "net_null0"
role = "eid"
addresses = ["10.1.0.1/24"]

[[port]]
name = "uplink"
device = "net_null1"
role = "rloc"
addresses = ["192.0.2.1/24"]

[[database]]
prefix = "10.1.0.0/24"
[[database.locator]]
address = "192.0.2.1"
local = true

[[map_server]]
address = "192.0.2.100"
key = "old"
"#;

    #[test]
    fn what_changes_and_what_needs_a_restart() {
        let old = config(BASE);
        let keyed = config(&BASE.replace("key = \"old\"", "key = \"new\""));
        assert_eq!(changed(&old, &keyed), ["map_server"]);
        assert!(needs_restart(&old, &keyed).is_empty());
        let added = config(&format!(
            "{BASE}\n[[database]]\nprefix = \"10.1.1.0/24\"\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n"
        ));
        assert_eq!(changed(&old, &added), ["database"]);
        let moved = config(
            &BASE
                .replace("192.0.2.1/24", "192.0.2.7/24")
                .replace("address = \"192.0.2.1\"", "address = \"192.0.2.7\""),
        );
        assert_eq!(
            needs_restart(&old, &moved),
            ["[[port]] (other than its VLANs)"]
        );
        let tenant = config(&format!(
            "{}\n[[database]]\nprefix = \"10.1.0.0/24\"\ninstance_id = 7\n[[database.locator]]\naddress = \"192.0.2.1\"\nlocal = true\n",
            BASE.replace(
                "role = \"eid\"\naddresses = [\"10.1.0.1/24\"]\n",
                "role = \"eid\"\naddresses = [\"10.1.0.1/24\"]\n[[port.vlan]]\nid = 7\ninstance_id = 7\naddresses = [\"10.1.0.1/24\"]\n",
            )
        ));
        assert!(needs_restart(&old, &tenant).is_empty());
        assert_eq!(changed(&old, &tenant), ["port.vlan", "database"]);
        assert_eq!(instances(&tenant), BTreeSet::from([0, 7]));
    }
}
