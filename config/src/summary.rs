//! The human summary `lispd check-config` prints for a valid file (keys never shown).

use std::fmt::Write;

use crate::model::{Config, PortRole};

/// What would run, in a few lines.
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    let c = &config.cores;
    let _ = writeln!(out, "cores: control {}, data {:?}", c.control, c.data);
    let roles = &config.roles;
    let extra: Vec<&str> = [
        (roles.proxy_itr, "proxy-ITR"),
        (roles.proxy_etr, "proxy-ETR"),
        (roles.rtr, "RTR"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if !extra.is_empty() {
        let _ = writeln!(out, "roles: xTR, {}", extra.join(", "));
    }
    if roles.rtr {
        let _ = writeln!(
            out,
            "rtr: relays registrations to {:?}, reachable {} s after the last",
            config.rtr.map_servers, config.rtr.registration_ttl_secs
        );
    }
    if config.nat_traversal.enabled {
        let _ = writeln!(
            out,
            "NAT traversal: Info-Request every {} s; through the RTR named when behind a NAT",
            config.nat_traversal.keepalive_secs
        );
    }
    for (index, port) in config.port.iter().enumerate() {
        let role = match port.role {
            PortRole::Eid if port.instance_id != 0 => format!("eid, instance {}", port.instance_id),
            PortRole::Eid => "eid".to_owned(),
            PortRole::Rloc => "rloc".to_owned(),
        };
        let addresses: Vec<String> = port.addresses.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "port {} ({role}): {} addresses [{}] mtu {} queues {} rx / {} tx",
            port.name,
            port.device,
            addresses.join(", "),
            port.mtu,
            c.data.len(),
            c.data.len() + 1
        );
        for vlan in port.interfaces(index).skip(1) {
            let addresses: Vec<String> = vlan.addresses.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "  vlan {} {} (instance {}): addresses [{}]",
                vlan.vlan.unwrap_or_default(),
                vlan.name,
                vlan.instance_id,
                addresses.join(", ")
            );
        }
    }
    for entry in &config.database {
        let locators: Vec<String> = entry
            .locator
            .iter()
            .map(|l| {
                format!(
                    "{} p{} w{}{}",
                    l.address,
                    l.priority,
                    l.weight,
                    if l.local { " local" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "database {} iid {} ttl {} min{}: {}",
            entry.prefix,
            entry.instance_id,
            entry.ttl_minutes,
            if entry.register { " registered" } else { "" },
            locators.join(", ")
        );
    }
    for server in &config.map_server {
        let _ = writeln!(
            out,
            "map-server {} ({:?}, key set)",
            server.address, server.algorithm
        );
    }
    for resolver in &config.map_resolver {
        let _ = writeln!(out, "map-resolver {}", resolver.address);
    }
    let _ = writeln!(
        out,
        "map-cache: {} static entries, limit {}; CPM {}",
        config.map_cache.len(),
        config.timers.map_cache_limit,
        if config.cpm.enabled {
            "accepted"
        } else {
            "off"
        }
    );
    out
}
