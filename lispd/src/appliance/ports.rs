//! The appliance's DPDK ports, opened from the configuration and addressed by role: queue
//! layout (one RX and one TX queue per data core, one more TX queue for the control core), the
//! af_packet fallback, and each port's device counters for management.

use config::{Config, PortRole};
use dpdk_bindings::{attach_vdev, Eal, Mempool, Port, PortConfig, PortId, RxQueue};

use super::{dpdk, RunError};

/// One opened port with its configuration and MAC.
#[derive(Debug)]
pub struct OpenPort {
    pub config: config::Port,
    pub port: Port,
    pub mac: [u8; 6],
}

/// A value per port role.
#[derive(Debug)]
pub struct ByRole<T> {
    pub eid: T,
    pub rloc: T,
}

impl<T> ByRole<T> {
    /// Builds the RLOC side from the EID side's result and vice versa, in that order.
    pub fn try_map<U, E>(self, mut f: impl FnMut(T) -> Result<U, E>) -> Result<ByRole<U>, E> {
        Ok(ByRole {
            eid: f(self.eid)?,
            rloc: f(self.rloc)?,
        })
    }

    pub fn as_ref(&self) -> ByRole<&T> {
        ByRole {
            eid: &self.eid,
            rloc: &self.rloc,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        [&self.eid, &self.rloc].into_iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        [&mut self.eid, &mut self.rloc].into_iter()
    }
}

/// The configured port of `role` (this version drives exactly one of each).
fn configured(config: &Config, role: PortRole) -> Result<config::Port, RunError> {
    let mut ports = config.port.iter().filter(|p| p.role == role);
    match (ports.next(), ports.next()) {
        (Some(port), None) => Ok(port.clone()),
        _ => Err(RunError::Unsupported(format!(
            "this version drives exactly one {role:?} port"
        ))),
    }
}

/// Opens and starts both ports for `cores` data cores.
pub fn open(
    eal: &Eal,
    pool: &Mempool,
    config: &Config,
    cores: u16,
) -> Result<ByRole<OpenPort>, RunError> {
    ByRole {
        eid: configured(config, PortRole::Eid)?,
        rloc: configured(config, PortRole::Rloc)?,
    }
    .try_map(|cfg| open_one(eal, pool, cfg, cores))
}

fn open_one(
    eal: &Eal,
    pool: &Mempool,
    cfg: config::Port,
    cores: u16,
) -> Result<OpenPort, RunError> {
    let what = |detail: &str| format!("port {} ({}){detail}", cfg.name, cfg.device);
    let id = PortId::by_name(eal, &cfg.device)
        .or_else(|_| attach_vdev(eal, &cfg.device))
        .map_err(dpdk(what("")))?;
    // One TX queue per data core plus the control core's; one RX queue per data core, or as
    // many as TX where the device pairs them (af_packet), spread over the data cores.
    let paired = PortConfig {
        rx_queues: cores + 1,
        tx_queues: cores + 1,
        promiscuous: true,
        ..PortConfig::default()
    };
    let unpaired = PortConfig {
        rx_queues: cores,
        ..paired.clone()
    };
    let mut port = Port::configure(eal, id, pool, paired)
        .or_else(|_| Port::configure(eal, id, pool, unpaired))
        .map_err(dpdk(what(&format!(
            ", af_packet needs qpairs = data cores + 1 = {}",
            cores + 1
        ))))?;
    port.start().map_err(dpdk(what("")))?;
    let mac = port.mac_address().map_err(dpdk(what(" MAC address")))?;
    Ok(OpenPort {
        config: cfg,
        port,
        mac,
    })
}

/// The RX queues of a port that data core `core` of `cores` polls: every `cores`-th one.
pub fn rx_queues(port: &Port, core: u16, cores: u16) -> Result<Vec<RxQueue>, RunError> {
    (core..port.config().rx_queues)
        .step_by(usize::from(cores))
        .map(|q| port.rx_queue(q).map_err(dpdk(format!("RX queue {q}"))))
        .collect()
}

/// Each port's device counters by name, for management.
pub fn device_stats(ports: &ByRole<OpenPort>) -> serde_json::Value {
    let stats = ports.iter().map(|open| {
        let value = match open.port.stats() {
            Ok(s) => serde_json::json!({
                "rx_packets": s.rx_packets,
                "tx_packets": s.tx_packets,
                "rx_bytes": s.rx_bytes,
                "tx_bytes": s.tx_bytes,
                "rx_missed": s.rx_missed,
                "rx_errors": s.rx_errors,
                "tx_errors": s.tx_errors,
                "rx_no_mbuf": s.rx_no_mbuf,
            }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        (open.config.name.clone(), value)
    });
    serde_json::Value::Object(stats.collect())
}
