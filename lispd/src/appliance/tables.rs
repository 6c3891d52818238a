//! What the data path needs, derived from the configuration: static map-cache entries, the local
//! database, our RLOCs, and each port's neighbours.

use std::net::IpAddr;

use std::net::SocketAddr;

use config::{Config, MapAction, Port, PortRole};

use controlplane::registration::MapServerPeer;
use controlplane::wire::address::Address;
use controlplane::wire::record::{self, EidRecord, LocatorRecord};
use controlplane::xtr::LocalMapping;
use dataplane::mapcache::{
    Action, DatabaseWriter, Locator, MapCacheError, MapCacheWriter, Mapping,
};
use dataplane::pipeline::{LocalRlocs, Neighbours};

/// Installs every `[[map_cache]]` entry.
pub fn static_map_cache(config: &Config, cache: &mut MapCacheWriter) -> Result<(), MapCacheError> {
    for entry in &config.map_cache {
        let mapping = Mapping {
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
                .map(|l| Locator {
                    address: l.address,
                    priority: l.priority,
                    weight: l.weight,
                    up: true,
                })
                .collect(),
        };
        cache.insert(entry.prefix, mapping)?;
    }
    cache.publish();
    Ok(())
}

/// Installs every `[[database]]` prefix.
pub fn database(config: &Config, database: &mut DatabaseWriter) -> Result<(), MapCacheError> {
    for entry in &config.database {
        database.insert(entry.prefix, entry.instance_id)?;
    }
    database.publish();
    Ok(())
}

fn first_address(ports: &[&Port], v6: bool) -> Option<IpAddr> {
    ports
        .iter()
        .flat_map(|p| &p.addresses)
        .map(|a| a.addr())
        .find(|a| a.is_ipv6() == v6)
}

/// Our RLOCs (the RLOC-side port addresses) and where ICMP errors come from (EID-side addresses).
pub fn local_rlocs(config: &Config) -> LocalRlocs {
    let rloc: Vec<&Port> = config
        .port
        .iter()
        .filter(|p| p.role == PortRole::Rloc)
        .collect();
    let eid: Vec<&Port> = config
        .port
        .iter()
        .filter(|p| p.role == PortRole::Eid)
        .collect();
    let all: Vec<IpAddr> = rloc
        .iter()
        .flat_map(|p| &p.addresses)
        .map(|a| a.addr())
        .collect();
    let local_locators = config
        .database
        .iter()
        .flat_map(|d| &d.locator)
        .filter(|l| l.local)
        .count()
        .max(1);
    LocalRlocs {
        v4: first_address(&rloc, false).and_then(|a| match a {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }),
        v6: first_address(&rloc, true).and_then(|a| match a {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        }),
        all,
        status_bits: if local_locators >= 32 {
            u32::MAX
        } else {
            (1u32 << local_locators) - 1
        },
        icmp_v4: first_address(&eid, false).and_then(|a| match a {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }),
        icmp_v6: first_address(&eid, true).and_then(|a| match a {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        }),
    }
}

/// A port's on-link prefixes, gateways and static neighbours.
pub fn neighbours(port: &Port) -> Neighbours {
    Neighbours {
        on_link: port.addresses.iter().map(|a| a.trunc()).collect(),
        gateways: port.gateways.clone(),
        macs: port
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

/// The map-servers to register with. Host names are not resolved by this version.
pub fn map_servers(config: &Config) -> Result<Vec<MapServerPeer>, String> {
    config
        .map_server
        .iter()
        .map(|m| {
            let ip: IpAddr = m.address.parse().map_err(|_| {
                format!(
                    "map-server {:?}: host names are not resolved yet; give an IP address",
                    m.address
                )
            })?;
            Ok(MapServerPeer {
                address: SocketAddr::new(ip, dataplane::wire::lisp::CONTROL_PORT),
                key: m.key.as_bytes().to_vec(),
                key_id: 0,
                algorithm: m.algorithm.into(),
                want_map_notify: m.want_map_notify,
                proxy_reply: m.proxy_reply,
            })
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

/// The map-resolvers, tried in order. Host names are not resolved by this version.
pub fn map_resolvers(config: &Config) -> Result<Vec<SocketAddr>, String> {
    config
        .map_resolver
        .iter()
        .map(|m| {
            let ip: IpAddr = m.address.parse().map_err(|_| {
                format!(
                    "map-resolver {:?}: host names are not resolved yet; give an IP address",
                    m.address
                )
            })?;
            Ok(SocketAddr::new(ip, dataplane::wire::lisp::CONTROL_PORT))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// The configuration check and the data plane agree on how many instances fit, and how wide.
    #[test]
    fn instance_limits_agree() {
        assert_eq!(config::MAX_INSTANCES, dataplane::mapcache::MAX_INSTANCES);
        assert_eq!(
            config::MAX_INSTANCE_ID,
            dataplane::mapcache::MAX_INSTANCE_ID
        );
    }
}
