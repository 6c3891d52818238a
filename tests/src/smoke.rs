//! The port smoke exchange: a DPDK `net_af_packet` port on a veth whose peer is in a fresh network
//! namespace talks to that namespace's kernel: ARP resolves the kernel's MAC, then a UDP datagram
//! sent by DPDK is read by a socket inside the namespace.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dpdk_bindings::{
    attach_vdev, Eal, MbufBurst, Mempool, MempoolConfig, Port, PortConfig, PortStats,
};

use crate::frames::{arp_reply_sender, arp_request, udp_frame};
use crate::netns::{enter_namespace, unique_name, Namespace, NetnsError, Veth};

/// Address of the kernel side (TEST-NET-1, only inside the test namespace).
pub const KERNEL_IP: [u8; 4] = [192, 0, 2, 1];
/// Address the DPDK port speaks as.
pub const DPDK_IP: [u8; 4] = [192, 0, 2, 2];
const UDP_PORT: u16 = 7777;

/// What the exchange saw.
#[derive(Debug)]
pub struct SmokeReport {
    pub namespace: String,
    pub dpdk_interface: String,
    pub port_mac: [u8; 6],
    pub kernel_mac: [u8; 6],
    pub arp_round_trip: Duration,
    pub udp_payload: Vec<u8>,
    pub udp_source: SocketAddrV4,
    pub stats: PortStats,
    pub pool_in_use_after: u32,
}

/// Why the exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum SmokeError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error("DPDK: {0}")]
    Dpdk(#[from] dpdk_bindings::Error),
    #[error("{0}")]
    Exchange(String),
}

/// Runs the exchange with a fresh namespace, veth, pool and port; everything is removed afterwards.
pub fn run_exchange(eal: &Eal, payload: &[u8]) -> Result<SmokeReport, SmokeError> {
    let namespace = Namespace::create("lsm")?;
    let veth = Veth::create(&namespace, Some("192.0.2.1/24"))?;
    let pool = Mempool::new(
        eal,
        &unique_name("smoke_pool"),
        MempoolConfig {
            size: 1023,
            cache_size: 0,
            ..MempoolConfig::default()
        },
    )?;
    let devargs = format!("net_af_packet_{},iface={}", unique_name("s"), veth.outer);
    let id = attach_vdev(eal, &devargs)?;
    let config = PortConfig {
        promiscuous: true,
        ..PortConfig::default()
    };
    let mut port = Port::configure(eal, id, &pool, config)?;
    port.start()?;
    let port_mac = port.mac_address()?;
    let mut rx = port.rx_queue(0)?;
    let mut tx = port.tx_queue(0)?;

    let (bound_tx, bound_rx) = mpsc::channel();
    let receiver = {
        let namespace_name = namespace.name().to_owned();
        std::thread::spawn(move || -> Result<(Vec<u8>, SocketAddrV4), String> {
            enter_namespace(&namespace_name).map_err(|e| e.to_string())?;
            let socket = UdpSocket::bind(SocketAddrV4::new(KERNEL_IP.into(), UDP_PORT))
                .map_err(|e| format!("bind in namespace: {e}"))?;
            socket
                .set_read_timeout(Some(Duration::from_secs(3)))
                .map_err(|e| e.to_string())?;
            bound_tx.send(()).map_err(|e| e.to_string())?;
            let mut buf = [0u8; 2048];
            let (len, from) = socket
                .recv_from(&mut buf)
                .map_err(|e| format!("no UDP datagram arrived in the namespace: {e}"))?;
            match from {
                std::net::SocketAddr::V4(from) => Ok((buf[..len].to_vec(), from)),
                other => Err(format!("unexpected source {other}")),
            }
        })
    };
    bound_rx
        .recv_timeout(Duration::from_secs(3))
        .map_err(|_| SmokeError::Exchange("receiver socket did not come up".into()))?;

    let started = Instant::now();
    let kernel_mac = resolve(&pool, &mut rx, &mut tx, port_mac)?;
    let arp_round_trip = started.elapsed();

    let frame = udp_frame(
        (port_mac, kernel_mac),
        (DPDK_IP, 5555),
        (KERNEL_IP, UDP_PORT),
        payload,
    );
    send(&pool, &mut tx, &frame)?;
    let (udp_payload, udp_source) = receiver
        .join()
        .map_err(|_| SmokeError::Exchange("receiver thread panicked".into()))?
        .map_err(SmokeError::Exchange)?;

    let stats = port.stats()?;
    drop((rx, tx));
    port.stop()?;
    drop(port);
    let pool_in_use_after = pool.in_use();
    Ok(SmokeReport {
        namespace: namespace.name().to_owned(),
        dpdk_interface: veth.outer.clone(),
        port_mac,
        kernel_mac,
        arp_round_trip,
        udp_payload,
        udp_source,
        stats,
        pool_in_use_after,
    })
}

fn send(pool: &Mempool, tx: &mut dpdk_bindings::TxQueue, frame: &[u8]) -> Result<(), SmokeError> {
    let mut mbuf = pool
        .alloc()
        .ok_or_else(|| SmokeError::Exchange("pool empty".into()))?;
    mbuf.write_packet(frame)
        .ok_or_else(|| SmokeError::Exchange("frame does not fit an mbuf".into()))?;
    let mut burst = MbufBurst::new();
    burst
        .push(mbuf)
        .map_err(|_| SmokeError::Exchange("burst full".into()))?;
    if tx.tx_burst(&mut burst) != 1 {
        return Err(SmokeError::Exchange("port did not take the frame".into()));
    }
    Ok(())
}

/// Sends ARP requests every 200 ms until the kernel answers (3 s at most).
fn resolve(
    pool: &Mempool,
    rx: &mut dpdk_bindings::RxQueue,
    tx: &mut dpdk_bindings::TxQueue,
    port_mac: [u8; 6],
) -> Result<[u8; 6], SmokeError> {
    let request = arp_request(port_mac, DPDK_IP, KERNEL_IP);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut burst = MbufBurst::new();
    while Instant::now() < deadline {
        send(pool, tx, &request)?;
        let retry = Instant::now() + Duration::from_millis(200);
        while Instant::now() < retry {
            if rx.rx_burst(&mut burst) == 0 {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let found = burst
                .as_slice()
                .iter()
                .find_map(|m| arp_reply_sender(m.data(), KERNEL_IP, port_mac));
            burst.free_all();
            if let Some(mac) = found {
                return Ok(mac);
            }
        }
    }
    Err(SmokeError::Exchange(format!(
        "no ARP reply from {} within 3 s",
        Ipv4Addr::from(KERNEL_IP)
    )))
}
