//! The appliance's DPDK ports, any number per role, opened from the configuration with their
//! MTU: queue layout (one RX and one TX queue per data core, one more TX queue for the control
//! core), the af_packet fallback, the mbuf size the MTUs need, and each port's device counters
//! for management.

use config::Config;
use dpdk_bindings::{attach_vdev, Eal, Mempool, Port, PortConfig, PortId, RxQueue};

use super::{dpdk, RunError};

/// One opened port with its configuration and MAC.
#[derive(Debug)]
pub struct OpenPort {
    pub config: config::Port,
    pub port: Port,
    pub mac: [u8; 6],
}

/// Opens and starts every configured port, in configuration order, for `cores` data cores.
pub fn open(
    eal: &Eal,
    pool: &Mempool,
    config: &Config,
    cores: u16,
) -> Result<Vec<OpenPort>, RunError> {
    config
        .port
        .iter()
        .map(|cfg| open_one(eal, pool, cfg.clone(), cores))
        .collect()
}

/// Bytes of packet data an mbuf holds: the largest configured MTU's frame (with a VLAN tag)
/// after DPDK's headroom, and never less than DPDK's default. Frames are single-segment, so a
/// port's MTU must fit one mbuf.
pub fn mbuf_data_room(config: &Config) -> u16 {
    const ETHERNET_AND_VLAN: u16 = 18;
    let largest = config.port.iter().map(|p| p.mtu).max().unwrap_or(1500);
    DEFAULT_DATA_ROOM.max(HEADROOM + largest + ETHERNET_AND_VLAN)
}

/// DPDK's default mbuf data room and headroom (`RTE_MBUF_DEFAULT_BUF_SIZE`,
/// `RTE_PKTMBUF_HEADROOM`).
const DEFAULT_DATA_ROOM: u16 = 2048 + 128;
const HEADROOM: u16 = 128;

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
        mtu: Some(cfg.mtu),
        ..PortConfig::default()
    };
    let unpaired = PortConfig {
        rx_queues: cores,
        ..paired.clone()
    };
    // Both failures are reported: which one names the cause depends on the device.
    let mut port = match Port::configure(eal, id, pool, paired) {
        Ok(port) => port,
        Err(with_pairs) => {
            Port::configure(eal, id, pool, unpaired).map_err(|source| RunError::Dpdk {
                what: what(&format!(
                    " with MTU {} and {} queue pairs: {with_pairs}; with {cores} RX queues \
                     (af_packet needs qpairs = data cores + 1 = {})",
                    cfg.mtu,
                    cores + 1,
                    cores + 1
                )),
                source,
            })?
        }
    };
    port.start().map_err(dpdk(what("")))?;
    let mac = port.mac_address().map_err(dpdk(what(" MAC address")))?;
    Ok(OpenPort {
        config: cfg,
        port,
        mac,
    })
}

/// Logs each port as it came up (with how many VLANs it carries), and each VLAN at debug level
/// (a trunk may carry thousands).
pub fn log_up(ports: &[OpenPort], interfaces: &[config::Interface<'_>]) {
    let addresses = |interface: &config::Interface<'_>| {
        let all: Vec<String> = interface.addresses.iter().map(|a| a.to_string()).collect();
        all.join(" ")
    };
    for (index, open) in ports.iter().enumerate() {
        let mac = open.mac.map(|b| format!("{b:02x}")).join(":");
        let on_port = interfaces.iter().filter(|i| i.port == index);
        for interface in on_port.clone() {
            match interface.vlan {
                None => tracing::info!(
                    "port {} ({}) up: {:?} side, MTU {}, MAC {mac}, instance {}, {} VLAN(s), {}",
                    open.config.name,
                    open.config.device,
                    open.config.role,
                    open.config.mtu,
                    interface.instance_id,
                    on_port.clone().count() - 1,
                    addresses(interface)
                ),
                Some(vlan) => tracing::debug!(
                    "VLAN {vlan} of port {} ({}): instance {}, {}",
                    open.config.name,
                    interface.name,
                    interface.instance_id,
                    addresses(interface)
                ),
            }
        }
    }
}

/// The RX queues of a port that data core `core` of `cores` polls: every `cores`-th one.
pub fn rx_queues(port: &Port, core: u16, cores: u16) -> Result<Vec<RxQueue>, RunError> {
    (core..port.config().rx_queues)
        .step_by(usize::from(cores))
        .map(|q| port.rx_queue(q).map_err(dpdk(format!("RX queue {q}"))))
        .collect()
}

/// Each port's link and device counters by name, for management.
pub fn device_stats(ports: &[OpenPort]) -> serde_json::Value {
    let stats = ports.iter().map(|open| {
        let value = match open.port.stats() {
            Ok(s) => serde_json::json!({
                "role": open.config.role,
                "mtu": open.config.mtu,
                "link_up": open.port.link_status().is_ok_and(|l| l.up),
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
