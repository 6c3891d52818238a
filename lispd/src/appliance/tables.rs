//! What the data path needs, derived from the configuration: static map-cache entries, the local
//! database, our RLOCs, and each port's neighbours.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use ipnet::IpNet;

use config::{Config, MapAction, Port, PortRole};

use controlplane::registration::MapServerPeer;
use controlplane::wire::address::Address;
use controlplane::wire::record::{self, EidRecord, LocatorRecord};
use controlplane::xtr::{LocalMapping, Xtr};
use dataplane::mapcache::{
    Action, DatabaseWriter, Locator, MapCacheError, MapCacheWriter, Mapping,
};
use dataplane::pipeline::{AllowedSources, LocalRlocs, Neighbours, PathConfig, Uplink};

use super::names::control_address;

/// Installs every `[[map_cache]]` entry.
pub fn static_map_cache(config: &Config, cache: &mut MapCacheWriter) -> Result<(), MapCacheError> {
    for entry in &config.map_cache {
        cache.insert(entry.prefix, static_mapping(entry))?;
    }
    cache.publish();
    Ok(())
}

/// A reload's static mappings: those `new` lost are removed, those it added or changed installed.
pub fn reload_static_map_cache(
    old: &Config,
    new: &Config,
    xtr: &mut Xtr,
    now: Instant,
) -> Result<(), String> {
    let instance = |id: u32| (id != 0).then_some(id);
    let (before, after) = (static_by_prefix(old), static_by_prefix(new));
    for (instance_id, prefix) in before.keys().filter(|key| !after.contains_key(key)) {
        xtr.remove_mapping(instance(*instance_id), prefix)?;
    }
    for (key, entry) in &after {
        if before.get(key) != Some(entry) {
            xtr.add_static(entry.prefix, static_mapping(entry), now)?;
        }
    }
    Ok(())
}

/// Static mappings by (instance-id, prefix).
fn static_by_prefix(config: &Config) -> HashMap<(u32, IpNet), &config::StaticMapping> {
    config
        .map_cache
        .iter()
        .map(|m| ((m.instance_id, m.prefix), m))
        .collect()
}

/// A reload's database: prefixes `new` lost are removed, those it added inserted, at once.
pub fn reload_database(
    old: &Config,
    new: &Config,
    database: &mut DatabaseWriter,
) -> Result<(), String> {
    let prefixes = |c: &Config| -> HashSet<_> {
        c.database
            .iter()
            .map(|d| (d.instance_id, d.prefix))
            .collect()
    };
    let (before, after) = (prefixes(old), prefixes(new));
    for (instance_id, prefix) in before.difference(&after) {
        database
            .remove(*prefix, *instance_id)
            .map_err(|e| e.to_string())?;
    }
    for (instance_id, prefix) in after.difference(&before) {
        database
            .insert(*prefix, *instance_id)
            .map_err(|e| e.to_string())?;
    }
    database.publish();
    Ok(())
}

/// A `[[map_cache]]` entry as the map-cache holds it.
fn static_mapping(entry: &config::StaticMapping) -> Mapping {
    Mapping {
        action: match entry.action {
            MapAction::Encapsulate => Action::Encapsulate,
            MapAction::Drop => Action::Drop,
            MapAction::NativeForward => Action::NativeForward,
            MapAction::SendMapRequest => Action::SendMapRequest,
        },
        instance_id: (entry.instance_id != 0).then_some(entry.instance_id),
        map_version: 0,
        locators: entry
            .locator
            .iter()
            .map(|l| Locator::new(l.address, l.priority, l.weight, true))
            .collect(),
    }
}

/// Installs every `[[database]]` prefix.
pub fn database(config: &Config, database: &mut DatabaseWriter) -> Result<(), MapCacheError> {
    for entry in &config.database {
        database.insert(entry.prefix, entry.instance_id)?;
    }
    database.publish();
    Ok(())
}

/// Our locators and where they leave, with `unusable` ones (their port or gateway is down) left
/// out: per family, the source is our usable local locator the database prefers (lowest
/// priority below 255, first on a tie), else the first usable address of an RLOC-side port; it
/// leaves by the port that owns it, at that port's MTU. The locator-status bits set bit i when
/// the i-th locator of some database record is usable (records may list our locators in
/// different orders; one word per packet cannot tell them apart, so a bit is cleared only when
/// no record has a usable locator there, and SMRs and the 255 priorities carry the rest).
pub fn local_rlocs(config: &Config, unusable: &[IpAddr]) -> LocalRlocs {
    let uplinks: Vec<&Port> = ports_of(config, PortRole::Rloc).collect();
    let usable = |a: &IpAddr| !unusable.contains(a);
    let preferred = |v6: bool| -> Option<IpAddr> {
        let by_priority = config
            .database
            .iter()
            .flat_map(|d| &d.locator)
            .filter(|l| l.local && l.priority < 255 && l.address.is_ipv6() == v6)
            .filter(|l| usable(&l.address))
            .min_by_key(|l| l.priority)
            .map(|l| l.address);
        by_priority.or_else(|| {
            uplinks
                .iter()
                .flat_map(|p| &p.addresses)
                .map(|a| a.addr())
                .find(|a| a.is_ipv6() == v6 && usable(a))
        })
    };
    let uplink = |source: Option<IpAddr>| -> Uplink {
        source
            .and_then(|s| {
                uplinks
                    .iter()
                    .position(|p| p.addresses.iter().any(|a| a.addr() == s))
            })
            .map_or_else(Uplink::default, |port| Uplink {
                port,
                mtu: uplinks[port].mtu,
            })
    };
    let (v4, v6) = (preferred(false), preferred(true));
    let mut status_bits = 0u32;
    for entry in &config.database {
        for (i, locator) in entry.locator.iter().enumerate().take(32) {
            if !locator.local || usable(&locator.address) {
                status_bits |= 1 << i;
            }
        }
    }
    let eid_address = |v6: bool| {
        ports_of(config, PortRole::Eid)
            .flat_map(|p| &p.addresses)
            .map(|a| a.addr())
            .find(|a| a.is_ipv6() == v6)
    };
    LocalRlocs {
        v4: v4.and_then(ipv4),
        v6: v6.and_then(ipv6),
        uplink_v4: uplink(v4),
        uplink_v6: uplink(v6),
        all: uplinks
            .iter()
            .flat_map(|p| &p.addresses)
            .map(|a| a.addr())
            .collect(),
        status_bits,
        icmp_v4: eid_address(false).and_then(ipv4),
        icmp_v6: eid_address(true).and_then(ipv6),
    }
}

fn ports_of(config: &Config, role: PortRole) -> impl Iterator<Item = &Port> {
    config.port.iter().filter(move |p| p.role == role)
}

fn ipv4(address: IpAddr) -> Option<Ipv4Addr> {
    match address {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

fn ipv6(address: IpAddr) -> Option<Ipv6Addr> {
    match address {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(_) => None,
    }
}

/// A port's on-link prefixes, gateways and static neighbours.
pub fn neighbours(interface: &config::Interface<'_>) -> Neighbours {
    Neighbours {
        on_link: interface.addresses.iter().map(|a| a.trunc()).collect(),
        gateways: interface.gateways.to_vec(),
        macs: interface
            .neighbour
            .iter()
            .map(|n| (n.address, n.mac.0))
            .collect(),
    }
}

/// Every locator of the static map-cache: the RLOC side must keep their next hops resolved.
pub fn map_cache_locators(config: &Config) -> impl Iterator<Item = IpAddr> + '_ {
    config
        .map_cache
        .iter()
        .flat_map(|m| &m.locator)
        .map(|l| l.address)
}

/// The data path's settings: the first PETR at its resolved address (`petrs`, configuration
/// order), the proxy roles and the RTR role (the RTR an xTR behind a NAT sends to is set as
/// NAT discovery finds it).
pub fn path_config(config: &Config, petrs: &[IpAddr]) -> PathConfig {
    PathConfig {
        petr: petrs.first().copied(),
        petr_for_misses: config.petr.first().is_some_and(|p| p.send_misses),
        require_local_source: !config.roles.proxy_itr,
        proxy_etr: config.roles.proxy_etr,
        // Validation caps the list at what the data path holds.
        proxy_etr_allowed: AllowedSources::new(&config.roles.proxy_etr_allowed).unwrap_or_default(),
        reencapsulate: config.roles.rtr,
        ..PathConfig::default()
    }
}

/// The map-servers to register with, at their resolved `addresses` (configuration order).
pub fn map_servers(config: &Config, addresses: &[IpAddr]) -> Vec<MapServerPeer> {
    config
        .map_server
        .iter()
        .zip(addresses)
        .map(|(m, &address)| MapServerPeer {
            address: control_address(address),
            name: m
                .address
                .parse::<IpAddr>()
                .is_err()
                .then(|| m.address.clone()),
            key: m.key.as_bytes().to_vec(),
            key_id: 0,
            algorithm: m.algorithm.into(),
            want_map_notify: m.want_map_notify,
            proxy_reply: m.proxy_reply,
            instance_id: m.instance_id,
        })
        .collect()
}

/// Every `[[database]]` entry as the control plane holds it.
pub fn local_mappings(config: &Config) -> Vec<LocalMapping> {
    config
        .database
        .iter()
        .map(|d| LocalMapping {
            record: eid_record(d),
            register: d.register,
        })
        .collect()
}

fn eid_record(d: &config::DatabaseEntry) -> EidRecord {
    let eid = Address::in_instance(Address::from(d.prefix.network()), Some(d.instance_id));
    EidRecord {
        ttl: d.ttl_minutes,
        mask_len: d.prefix.prefix_len(),
        action: record::Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid,
        locators: d
            .locator
            .iter()
            .map(|l| LocatorRecord {
                priority: l.priority,
                weight: l.weight,
                multicast_priority: l.multicast_priority,
                multicast_weight: l.multicast_weight,
                local: l.local,
                probed: false,
                reachable: true,
                address: Address::from(l.address),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    /// The configuration check and the data plane agree on how many instances fit, how wide an
    /// instance-id is, and how many ITR prefixes a proxy-ETR's list holds.
    #[test]
    fn limits_agree() {
        assert_eq!(config::MAX_INSTANCES, dataplane::mapcache::MAX_INSTANCES);
        assert_eq!(
            config::MAX_PROXY_ETR_ALLOWED,
            dataplane::pipeline::MAX_ALLOWED_SOURCES
        );
        assert_eq!(
            config::MAX_INSTANCE_ID,
            dataplane::mapcache::MAX_INSTANCE_ID
        );
    }
}
