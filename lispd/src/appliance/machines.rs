//! The control-plane machines of `controlplane`, built from the configuration: registration,
//! resolution, the responder, mobility (with what a previous run saved), probing and echo-nonce,
//! combined in one [`Xtr`].

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use config::Config;
use dataplane::mapcache::MapCacheWriter;

use controlplane::clock::WallClock;
use controlplane::echo_nonce::{EchoConfig, EchoNonce};
use controlplane::learned::LearnedMappings;
use controlplane::mobility::{CpmPeer, Mobility, MobilityState};
use controlplane::nonce::NonceSource;
use controlplane::probing::{ProbeConfig, Prober};
use controlplane::registration::{MapServerPeer, Registration, Timers};
use controlplane::resolution::{Resolver, ResolverConfig};
use controlplane::responder::{Responder, ResponderLimits};
use controlplane::state_file;
use controlplane::wire::registration::XtrIdentity;
use controlplane::xtr::{Xtr, XtrParts};

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

/// How long an ITR that asked us for a mapping counts as a correspondent to signal with SMRs.
const CORRESPONDENT_MEMORY: Duration = Duration::from_secs(600);

/// The control-plane machines for `config`, starting at `start`.
pub fn control_plane(
    config: &Config,
    servers: Vec<MapServerPeer>,
    resolvers: Vec<SocketAddr>,
    map_cache: MapCacheWriter,
    start: Instant,
) -> Xtr {
    let timers = &config.timers;
    let local = tables::local_rlocs(config);
    let rlocs: Vec<IpAddr> = local
        .v4
        .map(IpAddr::V4)
        .into_iter()
        .chain(local.v6.map(IpAddr::V6))
        .collect();
    let mut nonces = NonceSource::from_entropy();
    let registration = Registration::new(
        servers,
        tables::registered_records(config),
        config.identity.xtr_id_bytes().map(|xtr_id| XtrIdentity {
            xtr_id,
            site_id: config.identity.site_id,
        }),
        Timers {
            interval: Duration::from_secs(u64::from(timers.map_register_interval_secs)),
            ..Timers::default()
        },
        nonces.fork(),
        WallClock::system(),
        start,
    );
    let resolver = Resolver::new(
        ResolverConfig {
            resolvers,
            itr_rlocs: rlocs.clone(),
            retries: u32::from(timers.map_request_retries),
            timeout: Duration::from_millis(u64::from(timers.map_request_timeout_ms)),
            rate_per_sec: timers.map_request_rate_per_sec.max(1),
        },
        nonces.fork(),
    );
    let database = tables::local_mappings(config);
    let responder = Responder::new(
        database.iter().map(|m| m.record.clone()).collect(),
        rlocs.clone(),
        CORRESPONDENT_MEMORY,
        ResponderLimits {
            per_itr_rloc_per_sec: timers.map_reply_rate_per_itr_per_sec,
            overall_per_sec: timers.map_reply_rate_per_sec,
            ..ResponderLimits::default()
        },
    );
    let mut mobility = Mobility::new(
        config.cpm.enabled,
        config.cpm.legacy_lip6_type5,
        config
            .cpm
            .sender
            .iter()
            .map(|s| CpmPeer {
                address: s.address,
                key: s.key.as_bytes().to_vec(),
                algorithm: s.algorithm.into(),
            })
            .collect(),
    );
    mobility.restore(saved_state(&config.state_file()));
    let prober = Prober::new(
        ProbeConfig {
            interval: Duration::from_secs(u64::from(timers.rloc_probe_interval_secs)),
            count: u32::from(timers.rloc_probe_count),
            retry: Duration::from_millis(u64::from(timers.rloc_probe_retry_ms)),
            rate_per_sec: timers.rloc_probe_rate_per_sec,
            rlocs: rlocs.clone(),
        },
        nonces.fork(),
    );
    Xtr::new(XtrParts {
        prober,
        echo: EchoNonce::new(EchoConfig::default(), nonces.fork()),
        registration,
        resolver,
        responder,
        map_cache,
        learned: LearnedMappings::new(timers.map_cache_limit as usize),
        mobility,
        database,
        rlocs,
        pitrs: config.pitr.iter().map(|p| p.address).collect(),
        smr_interval: Duration::from_millis(u64::from(timers.smr_min_interval_ms)),
        nonces,
        now: start,
    })
}
