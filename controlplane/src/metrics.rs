//! The Prometheus expositions of lispd and lisp-ms: one family per meaning, units in the names (packets, bytes,
//! cycles, seconds), labels for core, port, reason, locator and server; counters end in
//! `_total`, gauges do not (what `promtool check metrics` asks for).

use std::fmt::Write;

use serde_json::Value;

use crate::management::ApplianceView;
use crate::map_server::MapServer;
use crate::map_server_runner::RunnerStats;
use crate::registration::State;
use crate::report::counters;
use crate::xtr::Xtr;

/// A family's samples: label set (`{...}` or empty) and value.
type Samples = Vec<(String, f64)>;

/// The text of every family.
pub fn exposition(xtr: &Xtr, view: &ApplianceView) -> String {
    let mut out = Exposition::default();
    out.family(
        "lispd_build_info",
        "gauge",
        "Always 1; the version is a label.",
        vec![(
            format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
            1.0,
        )],
    );
    data_cores(&mut out, view);
    ports(&mut out, &view.ports);
    out.family(
        "lispd_locator_usable",
        "gauge",
        "1 while our locator's port link is up and its gateway answers.",
        view.locators
            .iter()
            .map(|(locator, usable)| {
                (
                    format!("{{locator=\"{locator}\"}}"),
                    f64::from(u8::from(*usable)),
                )
            })
            .collect(),
    );
    out.family(
        "lispd_control_core_events_total",
        "counter",
        "What the control core did with punted frames and its own traffic, by event.",
        events(counters("", &view.control)),
    );
    out.family(
        "lispd_control_plane_events_total",
        "counter",
        "Control-plane messages and decisions (Map-Register/Notify/Request/Reply, SMR, CPM, \
         probes), by event.",
        events(counters("", &xtr.stats())),
    );
    out.family(
        "lispd_control_loop_longest_turn_seconds",
        "gauge",
        "The control loop's longest turn since start, and in the last 10-20 s.",
        vec![
            (
                "{window=\"start\"}".into(),
                view.control_loop.longest_turn_us as f64 / 1e6,
            ),
            (
                "{window=\"recent\"}".into(),
                view.control_loop.longest_recent_turn_us as f64 / 1e6,
            ),
        ],
    );
    out.family(
        "lispd_map_cache_entries",
        "gauge",
        "Prefixes in the map-cache (static, database and learned), by instance.",
        xtr.map_cache
            .len_per_instance()
            .map(|(instance, n)| (format!("{{instance=\"{instance}\"}}"), n as f64))
            .collect(),
    );
    let per_instance = |pick: fn(&(u32, u64, u64)) -> u64| {
        view.instance_packets
            .iter()
            .map(|entry| (format!("{{instance=\"{}\"}}", entry.0), pick(entry) as f64))
            .collect()
    };
    out.family(
        "lispd_instance_encapsulated_packets_total",
        "counter",
        "Packets from an instance's hosts encapsulated (ITR), by instance.",
        per_instance(|&(_, encapsulated, _)| encapsulated),
    );
    out.family(
        "lispd_instance_decapsulated_packets_total",
        "counter",
        "Packets decapsulated toward an instance's hosts (ETR), by instance.",
        per_instance(|&(_, _, decapsulated)| decapsulated),
    );
    out.family(
        "lispd_database_prefixes",
        "gauge",
        "Our EID prefixes, by instance.",
        xtr.database_per_instance()
            .into_iter()
            .map(|(instance, n)| (format!("{{instance=\"{instance}\"}}"), n as f64))
            .collect(),
    );
    out.family(
        "lispd_map_cache_learned_entries",
        "gauge",
        "Prefixes learned from Map-Replies.",
        vec![(String::new(), xtr.learned.len() as f64)],
    );
    out.family(
        "lispd_map_server_registered",
        "gauge",
        "1 when the last Map-Register to the map-server was acknowledged.",
        xtr.registration
            .status()
            .iter()
            .map(|s| {
                (
                    format!("{{server=\"{}\"}}", s.address),
                    f64::from(u8::from(s.state == State::Registered)),
                )
            })
            .collect(),
    );
    out.text
}

/// lisp-ms's families: sites, registered prefixes per site, refusals by reason, everything else
/// the map-server counts by event.
pub fn map_server_exposition(server: &MapServer, runner: &RunnerStats) -> String {
    use std::sync::atomic::Ordering;
    let mut out = Exposition::default();
    out.family(
        "lisp_map_server_build_info",
        "gauge",
        "Always 1; the version is a label.",
        vec![(
            format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
            1.0,
        )],
    );
    let sites = server.sites();
    out.family(
        "lisp_map_server_sites",
        "gauge",
        "Sites configured.",
        vec![(String::new(), sites.len() as f64)],
    );
    out.family(
        "lisp_map_server_registered_prefixes",
        "gauge",
        "Prefixes registered now, per site.",
        sites
            .iter()
            .map(|s| {
                (
                    format!("{{site=\"{}\"}}", s.name),
                    s.registered_prefixes as f64,
                )
            })
            .collect(),
    );
    let (refused, others): (Vec<_>, Vec<_>) = counters("", &server.stats())
        .into_iter()
        .partition(|(name, _)| name.starts_with("refused_"));
    out.family(
        "lisp_map_server_refused_messages_total",
        "counter",
        "Messages refused, by reason (bad authentication, unknown site, prefix outside the site, \
         replay, ...).",
        refused
            .into_iter()
            .map(|(name, value)| {
                let reason = name.trim_start_matches("refused_");
                (format!("{{reason=\"{reason}\"}}"), value as f64)
            })
            .collect(),
    );
    out.family(
        "lisp_map_server_events_total",
        "counter",
        "What the map-server did (registrations accepted, Map-Notifies, requests forwarded, \
         negative replies, ...), by event.",
        events(others),
    );
    out.family(
        "lisp_map_server_received_datagrams_total",
        "counter",
        "Datagrams received on the listening sockets.",
        vec![(
            String::new(),
            runner.datagrams.load(Ordering::Relaxed) as f64,
        )],
    );
    out.text
}

#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str, samples: Samples) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.text, "{name}{labels} {value}");
        }
    }
}

fn events(pairs: Vec<(String, u64)>) -> Samples {
    pairs
        .into_iter()
        .map(|(event, value)| (format!("{{event=\"{event}\"}}"), value as f64))
        .collect()
}

/// Per data core: packets received, busy cycles, drops by reason, every other outcome.
fn data_cores(out: &mut Exposition, view: &ApplianceView) {
    let mut received = Samples::new();
    let mut cycles = Samples::new();
    let mut dropped = Samples::new();
    let mut outcomes = Samples::new();
    for (core, counters) in &view.per_core {
        for &(name, value) in counters {
            let value = value as f64;
            match (name, name.strip_prefix("drop_")) {
                ("received", _) => received.push((format!("{{core=\"{core}\"}}"), value)),
                ("busy_cycles", _) => cycles.push((format!("{{core=\"{core}\"}}"), value)),
                (_, Some(reason)) => {
                    dropped.push((format!("{{core=\"{core}\",reason=\"{reason}\"}}"), value))
                }
                (outcome, None) => {
                    outcomes.push((format!("{{core=\"{core}\",outcome=\"{outcome}\"}}"), value))
                }
            }
        }
    }
    out.family(
        "lispd_data_received_packets_total",
        "counter",
        "Packets a data core received on all its queues.",
        received,
    );
    out.family(
        "lispd_data_busy_cycles_total",
        "counter",
        "TSC cycles a data core spent on polls that received packets.",
        cycles,
    );
    out.family(
        "lispd_data_dropped_packets_total",
        "counter",
        "Packets a data core dropped, by reason.",
        dropped,
    );
    out.family(
        "lispd_data_packets_total",
        "counter",
        "Packets by what a data core did with them (encapsulated, decapsulated, punted, ...).",
        outcomes,
    );
}

/// Per port, from the devices' counters: link, packets, bytes, misses, mbuf shortages, errors.
fn ports(out: &mut Exposition, ports: &Value) {
    let Some(ports) = ports.as_object() else {
        return;
    };
    let field = |stats: &Value, key: &str| stats.get(key).and_then(Value::as_u64);
    let per_port = |key: &str| -> Samples {
        ports
            .iter()
            .filter_map(|(port, stats)| {
                Some((format!("{{port=\"{port}\"}}"), field(stats, key)? as f64))
            })
            .collect()
    };
    out.family(
        "lispd_port_link_up",
        "gauge",
        "1 while the port's link is up.",
        ports
            .iter()
            .filter_map(|(port, stats)| {
                let role = stats.get("role")?.as_str()?;
                let up = stats.get("link_up")?.as_bool()?;
                Some((
                    format!("{{port=\"{port}\",role=\"{role}\"}}"),
                    f64::from(u8::from(up)),
                ))
            })
            .collect(),
    );
    for (name, key, help) in [
        (
            "lispd_port_received_packets_total",
            "rx_packets",
            "Packets the port's device received.",
        ),
        (
            "lispd_port_transmitted_packets_total",
            "tx_packets",
            "Packets the port's device transmitted.",
        ),
        (
            "lispd_port_received_bytes_total",
            "rx_bytes",
            "Bytes the port's device received.",
        ),
        (
            "lispd_port_transmitted_bytes_total",
            "tx_bytes",
            "Bytes the port's device transmitted.",
        ),
        (
            "lispd_port_missed_packets_total",
            "rx_missed",
            "Packets the device dropped because the RX queues were full (the data cores fell behind).",
        ),
        (
            "lispd_port_no_mbuf_packets_total",
            "rx_no_mbuf",
            "Packets the device dropped for want of an mbuf.",
        ),
    ] {
        out.family(name, "counter", help, per_port(key));
    }
    out.family(
        "lispd_port_errors_total",
        "counter",
        "Receive and transmit errors the device counted.",
        ports
            .iter()
            .flat_map(|(port, stats)| {
                [("receive", "rx_errors"), ("transmit", "tx_errors")]
                    .into_iter()
                    .filter_map(move |(direction, key)| {
                        Some((
                            format!("{{port=\"{port}\",direction=\"{direction}\"}}"),
                            field(stats, key)? as f64,
                        ))
                    })
            })
            .collect(),
    );
}
