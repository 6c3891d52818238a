//! Ethernet ports: configuration, start/stop, link, statistics, and per-queue RX/TX handles.

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::eal::Eal;
use crate::error::{check, dpdk_error, Error, Result};
use crate::mbuf::MbufBurst;
use crate::mempool::Mempool;
use crate::sys;

/// Most queues per direction a port handle tracks (one bit each).
pub const MAX_QUEUES: u16 = 64;

/// An ethdev port id that exists in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(u16);

impl PortId {
    /// Checks that `id` names a port.
    pub fn new(_eal: &Eal, id: u16) -> Result<Self> {
        // SAFETY: EAL is initialised; the call only reads the port table.
        if unsafe { sys::rte_eth_dev_is_valid_port(id) } == 1 {
            Ok(Self(id))
        } else {
            Err(Error::NoSuchPort(id.to_string()))
        }
    }

    /// The port created for a device name (`net_tap0`, `0000:01:00.0`, ...).
    pub fn by_name(_eal: &Eal, name: &str) -> Result<Self> {
        let c_name = CString::new(name)
            .map_err(|_| Error::InvalidArgument(format!("port name {name:?} has a NUL byte")))?;
        let mut id = 0u16;
        // SAFETY: c_name is a valid C string and id a valid out-pointer.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut id) };
        if ret == 0 {
            Ok(Self(id))
        } else {
            Err(Error::NoSuchPort(name.to_owned()))
        }
    }

    /// Every port currently available, in id order.
    pub fn all(eal: &Eal) -> Vec<Self> {
        (0..sys::RTE_MAX_ETHPORTS as u16)
            .filter_map(|id| Self::new(eal, id).ok())
            .collect()
    }

    /// The raw port number.
    pub fn raw(self) -> u16 {
        self.0
    }

    /// The device name DPDK knows the port by.
    pub fn name(self) -> Result<String> {
        let mut buf = [0 as std::ffi::c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
        // SAFETY: buf is RTE_ETH_NAME_MAX_LEN bytes, the size the API requires.
        check("rte_eth_dev_get_name_by_port", unsafe {
            sys::rte_eth_dev_get_name_by_port(self.0, buf.as_mut_ptr())
        })?;
        // SAFETY: on success DPDK wrote a NUL-terminated name into buf.
        Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned())
    }
}

impl std::fmt::Display for PortId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Probes a virtual device at run time (same syntax as `--vdev`) and returns its port.
pub fn attach_vdev(eal: &Eal, devargs: &str) -> Result<PortId> {
    let c_args = CString::new(devargs)
        .map_err(|_| Error::InvalidArgument(format!("devargs {devargs:?} has a NUL byte")))?;
    // SAFETY: c_args is a valid C string; EAL is initialised.
    check(&format!("rte_dev_probe({devargs})"), unsafe {
        sys::rte_dev_probe(c_args.as_ptr())
    })?;
    let name = devargs.split(',').next().unwrap_or(devargs);
    PortId::by_name(eal, name)
}

/// How to set a port up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// RX queues (one per data core); RSS on IP/UDP/TCP spreads flows when more than one.
    pub rx_queues: u16,
    /// TX queues (one per data core, plus one for the control core).
    pub tx_queues: u16,
    /// Descriptors per RX queue.
    pub rx_descriptors: u16,
    /// Descriptors per TX queue.
    pub tx_descriptors: u16,
    /// MTU to set, if any (not every virtual device supports it).
    pub mtu: Option<u16>,
    /// Accept frames for any MAC (needed on veth/af_packet and for L2 gateways).
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        Self {
            rx_queues: 1,
            tx_queues: 1,
            rx_descriptors: 1024,
            tx_descriptors: 1024,
            mtu: None,
            promiscuous: false,
        }
    }
}

/// Link state as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// Basic port counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_no_mbuf: u64,
}

/// A configured port. Queue handles are given out once each and keep the port alive.
#[derive(Debug)]
pub struct Port {
    inner: Arc<PortInner>,
}

#[derive(Debug)]
struct PortInner {
    id: PortId,
    config: PortConfig,
    rx_taken: AtomicU64,
    tx_taken: AtomicU64,
    started: AtomicBool,
    _pool: Mempool,
    _eal: Eal,
}

impl Drop for PortInner {
    fn drop(&mut self) {
        // SAFETY: no queue handle is left (they hold this Arc), so no core is in a burst call.
        unsafe {
            if self.started.load(Ordering::Acquire) {
                sys::rte_eth_dev_stop(self.id.0);
            }
            sys::rte_eth_dev_close(self.id.0);
        }
    }
}

impl Port {
    /// Configures `id` with `config`, receiving into `pool`. The port is left stopped.
    pub fn configure(eal: &Eal, id: PortId, pool: &Mempool, config: PortConfig) -> Result<Self> {
        let port = id.0;
        if config.rx_queues == 0 || config.tx_queues == 0 {
            return Err(Error::InvalidArgument(format!(
                "port {port}: needs at least one RX and one TX queue"
            )));
        }
        if config.rx_queues > MAX_QUEUES || config.tx_queues > MAX_QUEUES {
            return Err(Error::InvalidArgument(format!(
                "port {port}: at most {MAX_QUEUES} queues per direction"
            )));
        }
        let info = device_info(id)?;
        if config.rx_queues > info.max_rx_queues || config.tx_queues > info.max_tx_queues {
            return Err(Error::InvalidArgument(format!(
                "port {port}: {} RX / {} TX queues requested, device supports {} / {}",
                config.rx_queues, config.tx_queues, info.max_rx_queues, info.max_tx_queues
            )));
        }
        let mut conf = sys::rte_eth_conf::default();
        if config.rx_queues > 1 {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            // SAFETY: plain constants defined in helpers.c.
            let wanted = unsafe { sys::LISP_RSS_IP | sys::LISP_RSS_UDP | sys::LISP_RSS_TCP };
            conf.rx_adv_conf.rss_conf.rss_hf = wanted & info.flow_type_rss_offloads;
        }
        // SAFETY: conf is a fully initialised configuration; the port exists.
        check(&format!("rte_eth_dev_configure(port {port})"), unsafe {
            sys::rte_eth_dev_configure(port, config.rx_queues, config.tx_queues, &conf)
        })?;
        if let Some(mtu) = config.mtu {
            // SAFETY: the port exists and is configured.
            let ret = unsafe { sys::rte_eth_dev_set_mtu(port, mtu) };
            // A device without an MTU operation (net_null, net_ring) is fine at the MTU it has.
            let mut current = 0u16;
            // SAFETY: current is a valid out-pointer; the port exists.
            let unchangeable_but_right = ret == -ENOTSUP
                && unsafe { sys::rte_eth_dev_get_mtu(port, &mut current) } == 0
                && current == mtu;
            if !unchangeable_but_right {
                check(&format!("rte_eth_dev_set_mtu(port {port}, {mtu})"), ret)?;
            }
        }
        let mut rx_descriptors = config.rx_descriptors;
        let mut tx_descriptors = config.tx_descriptors;
        // SAFETY: both counters are valid out-pointers; the port is configured.
        let ret = unsafe {
            sys::rte_eth_dev_adjust_nb_rx_tx_desc(port, &mut rx_descriptors, &mut tx_descriptors)
        };
        check(
            &format!("rte_eth_dev_adjust_nb_rx_tx_desc(port {port})"),
            ret,
        )?;
        // SAFETY: rte_eth_dev_socket_id only reads the port table.
        let socket = unsafe { sys::rte_eth_dev_socket_id(port) } as u32;
        for queue in 0..config.rx_queues {
            // SAFETY: the pool outlives the port (PortInner keeps a clone); null conf = driver default.
            let ret = unsafe {
                sys::rte_eth_rx_queue_setup(
                    port,
                    queue,
                    rx_descriptors,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            check(
                &format!("rte_eth_rx_queue_setup(port {port}, queue {queue})"),
                ret,
            )?;
        }
        for queue in 0..config.tx_queues {
            // SAFETY: the port is configured with this many TX queues; null conf = driver default.
            let ret = unsafe {
                sys::rte_eth_tx_queue_setup(port, queue, tx_descriptors, socket, std::ptr::null())
            };
            check(
                &format!("rte_eth_tx_queue_setup(port {port}, queue {queue})"),
                ret,
            )?;
        }
        if config.promiscuous {
            // SAFETY: the port is configured.
            let ret = unsafe { sys::rte_eth_promiscuous_enable(port) };
            check(&format!("rte_eth_promiscuous_enable(port {port})"), ret)?;
        }
        Ok(Self {
            inner: Arc::new(PortInner {
                id,
                config,
                rx_taken: AtomicU64::new(0),
                tx_taken: AtomicU64::new(0),
                started: AtomicBool::new(false),
                _pool: pool.clone(),
                _eal: eal.clone(),
            }),
        })
    }

    /// The port id.
    pub fn id(&self) -> PortId {
        self.inner.id
    }

    /// The configuration the port was set up with.
    pub fn config(&self) -> &PortConfig {
        &self.inner.config
    }

    /// Starts receiving and transmitting.
    pub fn start(&mut self) -> Result<()> {
        let port = self.inner.id.0;
        // SAFETY: the port is configured with all its queues set up.
        check(&format!("rte_eth_dev_start(port {port})"), unsafe {
            sys::rte_eth_dev_start(port)
        })?;
        self.inner.started.store(true, Ordering::Release);
        Ok(())
    }

    /// Stops the port. Refused while queue handles are still held by some core.
    pub fn stop(&mut self) -> Result<()> {
        let port = self.inner.id.0;
        if Arc::strong_count(&self.inner) > 1 {
            return Err(Error::PortBusy(port));
        }
        // SAFETY: no queue handle exists, so no burst call can run concurrently.
        check(&format!("rte_eth_dev_stop(port {port})"), unsafe {
            sys::rte_eth_dev_stop(port)
        })?;
        self.inner.started.store(false, Ordering::Release);
        Ok(())
    }

    /// The port's MAC address.
    pub fn mac_address(&self) -> Result<[u8; 6]> {
        let mut mac = sys::rte_ether_addr::default();
        let port = self.inner.id.0;
        // SAFETY: mac is a valid out-pointer.
        check(&format!("rte_eth_macaddr_get(port {port})"), unsafe {
            sys::rte_eth_macaddr_get(port, &mut mac)
        })?;
        Ok(mac.addr_bytes)
    }

    /// Link state without waiting for negotiation.
    pub fn link_status(&self) -> Result<LinkStatus> {
        let mut link = sys::rte_eth_link::default();
        let port = self.inner.id.0;
        // SAFETY: link is a valid out-pointer.
        check(&format!("rte_eth_link_get_nowait(port {port})"), unsafe {
            sys::rte_eth_link_get_nowait(port, &mut link)
        })?;
        Ok(LinkStatus {
            up: link.link_status() == 1,
            speed_mbps: link.link_speed,
            full_duplex: link.link_duplex() == 1,
        })
    }

    /// Basic counters.
    pub fn stats(&self) -> Result<PortStats> {
        let mut raw = sys::rte_eth_stats::default();
        let port = self.inner.id.0;
        // SAFETY: raw is a valid out-pointer.
        check(&format!("rte_eth_stats_get(port {port})"), unsafe {
            sys::rte_eth_stats_get(port, &mut raw)
        })?;
        Ok(PortStats {
            rx_packets: raw.ipackets,
            tx_packets: raw.opackets,
            rx_bytes: raw.ibytes,
            tx_bytes: raw.obytes,
            rx_missed: raw.imissed,
            rx_errors: raw.ierrors,
            tx_errors: raw.oerrors,
            rx_no_mbuf: raw.rx_nombuf,
        })
    }

    /// Extended (driver-specific) counters as name/value pairs.
    pub fn xstats(&self) -> Result<Vec<(String, u64)>> {
        let port = self.inner.id.0;
        // SAFETY: a null array with size 0 asks for the number of counters.
        let count = check(&format!("rte_eth_xstats_get(port {port})"), unsafe {
            sys::rte_eth_xstats_get_names(port, std::ptr::null_mut(), 0)
        })? as usize;
        let mut names = vec![sys::rte_eth_xstat_name::default(); count];
        let mut values = vec![sys::rte_eth_xstat::default(); count];
        // SAFETY: both arrays hold `count` entries.
        let named = check(&format!("rte_eth_xstats_get_names(port {port})"), unsafe {
            sys::rte_eth_xstats_get_names(port, names.as_mut_ptr(), count as u32)
        })? as usize;
        // SAFETY: as above.
        let valued = check(&format!("rte_eth_xstats_get(port {port})"), unsafe {
            sys::rte_eth_xstats_get(port, values.as_mut_ptr(), count as u32)
        })? as usize;
        Ok(values[..valued.min(count)]
            .iter()
            .filter(|v| (v.id as usize) < named.min(count))
            .map(|v| {
                // SAFETY: DPDK NUL-terminates every xstat name within its fixed-size array.
                let name = unsafe { CStr::from_ptr(names[v.id as usize].name.as_ptr()) };
                (name.to_string_lossy().into_owned(), v.value)
            })
            .collect())
    }

    /// The receive handle of `queue`, given out once (each queue is polled by exactly one core).
    pub fn rx_queue(&self, queue: u16) -> Result<RxQueue> {
        take_queue(
            &self.inner,
            &self.inner.rx_taken,
            queue,
            self.inner.config.rx_queues,
            "RX",
        )?;
        Ok(RxQueue {
            port: self.inner.clone(),
            queue,
        })
    }

    /// The transmit handle of `queue`, given out once (each queue is fed by exactly one core).
    pub fn tx_queue(&self, queue: u16) -> Result<TxQueue> {
        take_queue(
            &self.inner,
            &self.inner.tx_taken,
            queue,
            self.inner.config.tx_queues,
            "TX",
        )?;
        Ok(TxQueue {
            port: self.inner.clone(),
            queue,
        })
    }
}

fn device_info(id: PortId) -> Result<sys::rte_eth_dev_info> {
    let mut info = sys::rte_eth_dev_info::default();
    // SAFETY: info is a valid out-pointer.
    let ret = unsafe { sys::rte_eth_dev_info_get(id.0, &mut info) };
    if ret < 0 {
        return Err(dpdk_error(
            format!("rte_eth_dev_info_get(port {})", id.0),
            ret,
        ));
    }
    Ok(info)
}

fn take_queue(
    port: &PortInner,
    taken: &AtomicU64,
    queue: u16,
    configured: u16,
    direction: &'static str,
) -> Result<()> {
    let error = |reason| Error::Queue {
        port: port.id.0,
        direction,
        queue,
        reason,
    };
    if queue >= configured {
        return Err(error("not configured on this port"));
    }
    let bit = 1u64 << queue;
    if taken.fetch_or(bit, Ordering::AcqRel) & bit != 0 {
        return Err(error("already handed out"));
    }
    Ok(())
}

/// Exclusive right to poll one RX queue.
#[derive(Debug)]
pub struct RxQueue {
    port: Arc<PortInner>,
    queue: u16,
}

impl RxQueue {
    /// Receives into the free slots of `burst`; returns how many arrived.
    #[inline]
    pub fn rx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        let spare = burst.spare() as u16;
        if spare == 0 {
            return 0;
        }
        // SAFETY: this handle is the queue's only user; the spare slots have room for `spare` pointers.
        let n = unsafe {
            sys::rte_eth_rx_burst(self.port.id.0, self.queue, burst.spare_slots(), spare)
        } as usize;
        // SAFETY: the driver filled n slots with mbufs it hands to us.
        unsafe { burst.commit_spare(n) };
        n
    }

    /// The port this queue belongs to.
    pub fn port(&self) -> PortId {
        self.port.id
    }
}

/// Exclusive right to feed one TX queue.
#[derive(Debug)]
pub struct TxQueue {
    port: Arc<PortInner>,
    queue: u16,
}

impl TxQueue {
    /// Transmits from the front of `burst`; what the device did not take stays in `burst`.
    #[inline]
    pub fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        if burst.is_empty() {
            return 0;
        }
        let len = burst.len() as u16;
        // SAFETY: this handle is the queue's only user; the first `len` slots are owned mbufs.
        let sent =
            unsafe { sys::rte_eth_tx_burst(self.port.id.0, self.queue, burst.held_slots(), len) }
                as usize;
        burst.consume_front(sent);
        sent
    }

    /// The port this queue belongs to.
    pub fn port(&self) -> PortId {
        self.port.id
    }
}

/// Linux's `ENOTSUP`, which DPDK returns negated for an operation a driver lacks.
const ENOTSUP: i32 = 95;
