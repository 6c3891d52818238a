//! The control plane built from the configuration: registration, resolution, the responder,
//! mobility (with what a previous run saved), probing and echo-nonce, combined in one [`Xtr`]
//! through `controlplane`'s one builder, [`XtrSetup`].

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use config::Config;
use dataplane::mapcache::MapCacheWriter;

use controlplane::clock::WallClock;
use controlplane::mobility::{CpmPeer, Mobility, MobilityState};
use controlplane::nat_discovery::NatTimers;
use controlplane::nonce::NonceSource;
use controlplane::registration::{MapServerPeer, Timers};
use controlplane::responder::ResponderLimits;
use controlplane::rtr::RelayConfig;
use controlplane::state_file;
use controlplane::wire::registration::XtrIdentity;
use controlplane::xtr::{Reconfiguration, Xtr, XtrSetup, XtrTimers};

use super::names::{control_address, Peer, Resolved};
use super::tables;

/// The state a previous run saved at `path`; an unreadable file is moved aside (and said so),
/// and the run starts from the configuration.
fn saved_state(path: &std::path::Path) -> MobilityState {
    match state_file::load(path) {
        Ok(state) => state.unwrap_or_default(),
        Err(e) => {
            let aside = path.with_extension("json.unreadable");
            tracing::warn!(
                "state file not used ({e}); moved to {}, starting from the configuration",
                aside.display()
            );
            let _ = std::fs::rename(path, aside);
            MobilityState::default()
        }
    }
}

/// The map-servers, map-resolvers and PITRs of a configuration at their resolved addresses.
pub type Peers = (Vec<MapServerPeer>, Vec<SocketAddr>, Vec<IpAddr>);

/// The peers of `config` at the addresses `resolved` gives their names.
pub fn peers(config: &Config, resolved: &Resolved) -> Peers {
    (
        tables::map_servers(config, &resolved.section(Peer::MapServer)),
        resolved
            .section(Peer::MapResolver)
            .into_iter()
            .map(control_address)
            .collect(),
        resolved.section(Peer::Pitr),
    )
}

/// The control plane for `config`, starting at `start`: an [`XtrSetup`] filled from the
/// configuration, with the data cores' map-cache, nonces from OS entropy, the system clock and
/// what a previous run saved.
pub fn control_plane(
    config: &Config,
    (servers, resolvers, pitrs): Peers,
    map_cache: MapCacheWriter,
    start: Instant,
) -> Xtr {
    let local = tables::local_rlocs(config, &[]);
    // Every address of every uplink, the preferred of each family first: messages leave from
    // the first usable one of their family.
    let mut rlocs: Vec<IpAddr> = local
        .v4
        .map(IpAddr::V4)
        .into_iter()
        .chain(local.v6.map(IpAddr::V6))
        .collect();
    for address in local.all.iter().copied() {
        if !rlocs.contains(&address) {
            rlocs.push(address);
        }
    }
    let mut mobility = Mobility::new(
        config.cpm.enabled,
        config.cpm.legacy_lip6_type5,
        cpm_peers(config),
    );
    mobility.restore(saved_state(&config.state_file()));
    let (registered, unregistered): (Vec<_>, Vec<_>) = tables::local_mappings(config)
        .into_iter()
        .partition(|m| m.register);
    XtrSetup {
        database: registered.into_iter().map(|m| m.record).collect(),
        unregistered: unregistered.into_iter().map(|m| m.record).collect(),
        rlocs,
        map_servers: servers,
        map_resolvers: resolvers,
        mobility,
        map_cache_limit: config.timers.map_cache_limit,
        map_cache: Some(map_cache),
        identity: config.identity.xtr_id_bytes().map(|xtr_id| XtrIdentity {
            xtr_id,
            site_id: config.identity.site_id,
        }),
        pitrs,
        timers: xtr_timers(config),
        nonces: Some(NonceSource::from_entropy()),
        clock: Some(WallClock::system()),
        nat_discovery: config.nat_traversal.enabled,
        nat_timers: NatTimers {
            keepalive: Duration::from_secs(config.nat_traversal.keepalive_secs.into()),
            ..NatTimers::default()
        },
        relay: config.roles.rtr.then(|| RelayConfig {
            map_servers: config.rtr.map_servers.clone(),
            ttl: Duration::from_secs(config.rtr.registration_ttl_secs.into()),
            ..RelayConfig::default()
        }),
    }
    .build(start)
}

/// What a reload of `config` changes in the running control plane.
pub fn reconfiguration(config: &Config, (servers, resolvers, pitrs): Peers) -> Reconfiguration {
    Reconfiguration {
        database: tables::local_mappings(config),
        map_servers: servers,
        map_resolvers: resolvers,
        pitrs,
        cpm_peers: cpm_peers(config),
        timers: xtr_timers(config),
    }
}

fn cpm_peers(config: &Config) -> Vec<CpmPeer> {
    config
        .cpm
        .sender
        .iter()
        .map(|s| CpmPeer {
            address: s.address,
            key: s.key.as_bytes().to_vec(),
            algorithm: s.algorithm.into(),
        })
        .collect()
}

/// The machines' timers and limits from `[timers]`.
fn xtr_timers(config: &Config) -> XtrTimers {
    let timers = &config.timers;
    XtrTimers {
        registration: Timers {
            interval: Duration::from_secs(u64::from(timers.map_register_interval_secs)),
            ..Timers::default()
        },
        request_retries: u32::from(timers.map_request_retries),
        request_timeout: Duration::from_millis(u64::from(timers.map_request_timeout_ms)),
        request_rate_per_sec: timers.map_request_rate_per_sec,
        responder: ResponderLimits {
            per_itr_rloc_per_sec: timers.map_reply_rate_per_itr_per_sec,
            overall_per_sec: timers.map_reply_rate_per_sec,
            ..ResponderLimits::default()
        },
        probe_interval: Duration::from_secs(u64::from(timers.rloc_probe_interval_secs)),
        probe_count: u32::from(timers.rloc_probe_count),
        probe_retry: Duration::from_millis(u64::from(timers.rloc_probe_retry_ms)),
        probe_rate_per_sec: timers.rloc_probe_rate_per_sec,
        smr_interval: Duration::from_millis(u64::from(timers.smr_min_interval_ms)),
        ..XtrTimers::default()
    }
}
