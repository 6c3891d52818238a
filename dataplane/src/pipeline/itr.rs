//! ITR: a packet from the EID side is looked up in the map-cache and, for a positive entry,
//! encapsulated in place into its headroom toward the RLOC its flow hash selects.

use std::net::IpAddr;

use crate::mapcache::{Action, DatabaseView, Destination, LocalEid, MapCacheView};
use crate::wire::checksum::{finish, pseudo_header_v6, sum};
use crate::wire::icmp;
use crate::wire::ipv4::{Ipv4Repr, PROTOCOL_ICMP, PROTOCOL_UDP};
use crate::wire::ipv6::{Ipv6Repr, NEXT_ICMPV6};
use crate::wire::lisp::{LispRepr, CONTROL_PORT, DATA_PORT};
use crate::wire::udp;

use super::{
    inspect, overhead, AddressWords, CoreCounters, Counter, EchoNonces, InnerPacket, ItrVerdict,
    LocalRlocs, Nonces, PacketBuffer, PathConfig,
};

/// What the ITR reads during one burst.
#[derive(Debug)]
pub struct ItrContext<'a> {
    /// The instance of the EID-side port the burst came from: its packets' sources are looked
    /// up in its database table, their destinations in its map-cache table.
    pub ingress: LocalEid,
    pub map_cache: MapCacheView<'a>,
    pub database: DatabaseView<'a>,
    pub local: &'a LocalRlocs,
    pub config: &'a PathConfig,
    pub counters: &'a CoreCounters,
    pub nonces: &'a mut Nonces,
    /// Nonces to echo to, or ask to be echoed by, particular RLOCs.
    pub echo: &'a EchoNonces,
    /// Misses sent on to the PETR, for the caller to report to the control core.
    pub misses: &'a mut MissLog,
}

/// Misses one burst can record (a data core's burst).
const MISS_LOG_CAPACITY: usize = 32;

/// The (source, destination) of each map-cache miss a burst sent to the PETR: the control core
/// needs only these to resolve it, so the packet itself goes on unchanged and uncopied.
#[derive(Debug)]
pub struct MissLog(Vec<(IpAddr, IpAddr)>);

impl Default for MissLog {
    /// Room for one burst, allocated once.
    fn default() -> Self {
        Self(Vec::with_capacity(MISS_LOG_CAPACITY))
    }
}

impl MissLog {
    /// Records a miss; beyond one burst's worth it is not recorded (never a reallocation on the
    /// data path).
    #[inline]
    fn record(&mut self, source: IpAddr, destination: IpAddr) {
        if self.0.len() < self.0.capacity() {
            self.0.push((source, destination));
        }
    }

    /// Whether a miss was recorded since the last drain.
    #[inline]
    pub fn has_any(&self) -> bool {
        !self.0.is_empty()
    }

    /// The misses recorded since the last call.
    pub fn drain(&mut self) -> impl Iterator<Item = (IpAddr, IpAddr)> + '_ {
        self.0.drain(..)
    }
}

/// Outer UDP source ports are spread over 0xC000–0xFFFF by the flow hash.
#[inline]
fn source_port(hash: u32) -> u16 {
    0xc000 | (hash as u16 & 0x3fff)
}

fn drop(ctx: &ItrContext<'_>, counter: Counter) -> ItrVerdict {
    ctx.counters.bump(counter);
    ItrVerdict::Drop(counter)
}

/// Encapsulates `packet` (starting at its inner IP header) or decides what else to do with it.
pub fn encapsulate<P: PacketBuffer>(ctx: &mut ItrContext<'_>, packet: &mut P) -> ItrVerdict {
    let Ok(inner) = inspect(packet.data()) else {
        return drop(ctx, Counter::DropMalformed);
    };
    if let Err(verdict) = admit(ctx, packet, &inner) {
        return verdict;
    }
    let table = ctx.ingress.table;
    let entry = if inner.v6 {
        ctx.map_cache.v6.lookup(table, inner.destination_key())
    } else {
        ctx.map_cache.v4.lookup(table, inner.destination_key())
    };
    let mut verdict = ItrVerdict::Drop(Counter::DropMalformed);
    complete(ctx, packet, &inner, entry, &mut verdict);
    verdict
}

/// Encapsulates a burst: inner headers first, then one batched map-cache lookup per address
/// family (so the lookups' cache misses overlap), then each packet. `verdicts` gets one verdict
/// per packet.
pub fn encapsulate_burst<P: PacketBuffer>(
    ctx: &mut ItrContext<'_>,
    packets: &mut [P],
    verdicts: &mut [ItrVerdict],
) {
    /// A data core's burst: the per-chunk scratch arrays live on the stack and are initialised
    /// per chunk, so they are no larger than needed.
    const MAX: usize = 32;
    for (packets, verdicts) in packets.chunks_mut(MAX).zip(verdicts.chunks_mut(MAX)) {
        let mut inners: [Option<InnerPacket>; MAX] = [None; MAX];
        let (mut keys4, mut keys6) = ([(0, 0u128); MAX], [(0, 0u128); MAX]);
        let (mut at4, mut at6) = ([0usize; MAX], [0usize; MAX]);
        let (mut n4, mut n6) = (0, 0);
        // Every packet of a burst came in on one port: one instance, one table.
        let table = ctx.ingress.table;
        for (i, (packet, verdict)) in packets.iter_mut().zip(verdicts.iter_mut()).enumerate() {
            let parsed = inspect(packet.data()).ok();
            let admitted = match &parsed {
                None => Err(drop(ctx, Counter::DropMalformed)),
                Some(inner) => admit(ctx, packet, inner).map(|()| inner),
            };
            match admitted {
                Ok(inner) => {
                    if inner.v6 {
                        keys6[n6] = (table, inner.destination_key());
                        at6[n6] = i;
                        n6 += 1;
                    } else {
                        keys4[n4] = (table, inner.destination_key());
                        at4[n4] = i;
                        n4 += 1;
                    }
                    inners[i] = Some(*inner);
                }
                Err(v) => *verdict = v,
            }
        }
        let mut entries: [Option<u32>; MAX] = [None; MAX];
        let mut found = [None; MAX];
        ctx.map_cache.v4.lookup_burst(&keys4[..n4], &mut found);
        for (&i, &f) in at4[..n4].iter().zip(&found) {
            entries[i] = f;
        }
        ctx.map_cache.v6.lookup_burst(&keys6[..n6], &mut found);
        for (&i, &f) in at6[..n6].iter().zip(&found) {
            entries[i] = f;
        }
        for &index in entries.iter().flatten() {
            ctx.map_cache.entries.prefetch(index);
        }
        for (((packet, verdict), inner), entry) in packets
            .iter_mut()
            .zip(verdicts.iter_mut())
            .zip(&inners)
            .zip(entries)
        {
            if let Some(inner) = inner {
                complete(ctx, packet, inner, entry, verdict);
            }
        }
    }
}

/// Trims link-layer padding after the parsed `inner` packet and applies the local-source rule
/// (the source must be one of the ingress instance's EIDs, unless we are a proxy-ITR).
#[inline(always)]
fn admit<P: PacketBuffer>(
    ctx: &ItrContext<'_>,
    packet: &mut P,
    inner: &InnerPacket,
) -> Result<(), ItrVerdict> {
    if packet.data().len() > inner.len {
        packet.trim_back(packet.data().len() - inner.len);
    }
    if ctx.config.require_local_source
        && ctx
            .database
            .lookup(ctx.ingress.table, inner.source())
            .is_none()
    {
        return Err(drop(ctx, Counter::DropNotLocalSource));
    }
    Ok(())
}

/// Everything after the map-cache lookup: the entry's action, RLOC choice, MTU, headers. Writes
/// the verdict in place: built in a temporary and copied, a verdict (an `IpAddr` written byte-wise,
/// read back word-wise) costs a store-forwarding stall per packet.
#[inline(always)]
fn complete<P: PacketBuffer>(
    ctx: &mut ItrContext<'_>,
    packet: &mut P,
    inner: &InnerPacket,
    entry: Option<u32>,
    verdict: &mut ItrVerdict,
) {
    let Some(entry) = entry.map(|index| ctx.map_cache.entries.get(index)) else {
        *verdict = miss(ctx, packet, inner);
        return;
    };
    let target = match entry.action() {
        Action::Encapsulate => {
            let Some(target) = entry.select(inner.hash) else {
                *verdict = drop(ctx, Counter::DropNoReachableLocator);
                return;
            };
            if ctx.local.all.contains(&target.address) {
                *verdict = deliver_locally(ctx, packet, inner);
                return;
            }
            match ctx.config.rtr {
                Some(rtr) => Destination::at_data_port(rtr),
                None => target,
            }
        }
        Action::Drop => {
            *verdict = drop(ctx, Counter::DropNegativeEntry);
            return;
        }
        Action::NativeForward => {
            ctx.counters.bump(Counter::NativeForward);
            match ctx.config.petr {
                Some(petr) => Destination::at_data_port(petr),
                None => {
                    *verdict = ItrVerdict::NativeForward {
                        destination: inner.destination(),
                    };
                    return;
                }
            }
        }
        Action::SendMapRequest => {
            ctx.counters.bump(Counter::PuntSendMapRequest);
            *verdict = ItrVerdict::Punt {
                destination: inner.destination(),
            };
            return;
        }
    };
    // The locator is kept as whole words across the encapsulation: an `IpAddr` spilled there is
    // stored byte-wise and read back word-wise for the verdict (a store-forwarding stall per
    // packet).
    let rloc = AddressWords::from(target.address);
    *verdict = match encapsulate_toward(ctx, packet, inner, target, entry.instance_id()) {
        Ok(()) => ItrVerdict::Encapsulated { rloc: rloc.get() },
        Err(other) => other,
    };
}

/// A packet whose destination has no mapping yet: punted for resolution, or, with a PETR for
/// misses, sent there meanwhile.
#[cold]
fn miss<P: PacketBuffer>(
    ctx: &mut ItrContext<'_>,
    packet: &mut P,
    inner: &InnerPacket,
) -> ItrVerdict {
    ctx.counters.bump(Counter::PuntMapCacheMiss);
    match ctx.config.miss_target() {
        Some(target) => miss_to_petr(ctx, packet, inner, target),
        None => ItrVerdict::Punt {
            destination: inner.destination(),
        },
    }
}

/// A packet whose destination has no mapping yet goes on to the PETR (RFC 6832), or the RTR of
/// an xTR behind a NAT, so the first packets of a flow are not lost while the control core
/// resolves it: encapsulated with the
/// source's instance-id, and the miss recorded for the caller to report. A packet that cannot be
/// sent that way is dropped and counted. The instance is the ingress port's.
fn miss_to_petr<P: PacketBuffer>(
    ctx: &mut ItrContext<'_>,
    packet: &mut P,
    inner: &InnerPacket,
    petr: IpAddr,
) -> ItrVerdict {
    ctx.counters.bump(Counter::MissToPetr);
    let instance_id = ctx.ingress.instance_id;
    ctx.misses.record(inner.source(), inner.destination());
    match encapsulate_toward(
        ctx,
        packet,
        inner,
        Destination::at_data_port(petr),
        instance_id,
    ) {
        Ok(()) => ItrVerdict::Encapsulated { rloc: petr },
        Err(verdict) => verdict,
    }
}

/// Prepends outer IP, UDP and LISP headers toward `target` (`Ok`: the packet is encapsulated
/// toward it), or answers "too big" when the result would exceed the MTU of the uplink it
/// leaves by. A target behind a NAT is sent to its translated port from port 4342, the port its
/// xTR's registration came to us on, so the NAT lets it through.
#[inline(always)]
fn encapsulate_toward<P: PacketBuffer>(
    ctx: &mut ItrContext<'_>,
    packet: &mut P,
    inner: &InnerPacket,
    target: Destination,
    instance_id: Option<u32>,
) -> Result<(), ItrVerdict> {
    let rloc = target.address;
    let (source_port, destination_port) = match target.nat_port {
        Some(port) => (CONTROL_PORT, port),
        None => (source_port(inner.hash), DATA_PORT),
    };
    let outer_v6 = rloc.is_ipv6();
    let added = overhead(outer_v6);
    let mtu = usize::from(ctx.local.uplink(outer_v6).mtu);
    if inner.len + added > mtu {
        return Err(too_big(ctx, packet, inner, mtu.saturating_sub(added)));
    }
    let (nonce, echo_nonce_request) = ctx
        .echo
        .outgoing(rloc)
        .unwrap_or_else(|| (ctx.nonces.next_nonce(), false));
    let lisp = LispRepr {
        nonce: Some(nonce),
        echo_nonce_request,
        instance_id,
        locator_status_bits: Some(ctx.local.status_bits),
        ..LispRepr::default()
    };
    let udp_len = (8 + 8 + inner.len) as u16;
    let zero_checksum = ctx.config.ipv6_zero_checksum;
    let (source_v4, source_v6) = (ctx.local.v4, ctx.local.v6);
    let Some(data) = packet.prepend(added) else {
        return Err(drop(ctx, Counter::DropNoHeadroom));
    };
    match (rloc, source_v4, source_v6) {
        (IpAddr::V4(dst), Some(src), _) => {
            Ipv4Repr {
                src,
                dst,
                protocol: PROTOCOL_UDP,
                payload_len: udp_len,
                ttl: inner.ttl,
                tos: inner.tos,
            }
            .emit(data);
            udp::write_header(&mut data[20..], source_port, destination_port, udp_len - 8);
            lisp.emit(&mut data[28..]);
        }
        (IpAddr::V6(dst), _, Some(src)) => {
            Ipv6Repr {
                src,
                dst,
                next_header: PROTOCOL_UDP,
                payload_len: udp_len,
                hop_limit: inner.ttl,
                traffic_class: inner.tos,
                flow_label: inner.hash & 0x000f_ffff,
            }
            .emit(data);
            udp::write_header(&mut data[40..], source_port, destination_port, udp_len - 8);
            lisp.emit(&mut data[48..]);
            if !zero_checksum {
                let value = finish(
                    pseudo_header_v6(src, dst, PROTOCOL_UDP, u32::from(udp_len)) + sum(&data[40..]),
                );
                data[46..48]
                    .copy_from_slice(&(if value == 0 { 0xffff } else { value }).to_be_bytes());
            }
        }
        _ => {
            packet.trim_front(added);
            return Err(drop(ctx, Counter::DropNoLocalRloc));
        }
    }
    ctx.counters.bump(Counter::Encapsulated);
    Ok(())
}

/// Rewrites the packet into an ICMP "fragmentation needed" / ICMPv6 "packet too big" toward its
/// source, quoting as much of it as the minimum MTU allows (RFC 1812 / RFC 4443).
fn too_big<P: PacketBuffer>(
    ctx: &mut ItrContext<'_>,
    packet: &mut P,
    inner: &InnerPacket,
    mtu: usize,
) -> ItrVerdict {
    let (header, quote_max, source) = match inner.source() {
        IpAddr::V4(_) if !inner.dont_fragment => return drop(ctx, Counter::DropTooBigNoDf),
        IpAddr::V4(_) => (28, 576 - 28, ctx.local.icmp_v4.map(IpAddr::V4)),
        IpAddr::V6(_) => (48, 1280 - 48, ctx.local.icmp_v6.map(IpAddr::V6)),
    };
    let Some(source) = source else {
        return drop(ctx, Counter::DropNoLocalRloc);
    };
    let quote = inner.len.min(quote_max);
    packet.trim_back(packet.data().len() - quote);
    let Some(data) = packet.prepend(header) else {
        return drop(ctx, Counter::DropNoHeadroom);
    };
    match (source, inner.source()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            Ipv4Repr {
                src,
                dst,
                protocol: PROTOCOL_ICMP,
                payload_len: (8 + quote) as u16,
                ttl: 64,
                tos: 0,
            }
            .emit(data);
            icmp::fill_frag_needed_v4(&mut data[20..], mtu as u16);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let len = (8 + quote) as u16;
            Ipv6Repr {
                src,
                dst,
                next_header: NEXT_ICMPV6,
                payload_len: len,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            }
            .emit(data);
            icmp::fill_packet_too_big_v6(&mut data[40..], src, dst, mtu as u32);
        }
        _ => return drop(ctx, Counter::DropMalformed),
    }
    ctx.counters.bump(Counter::TooBigSent);
    ItrVerdict::TooBig {
        destination: inner.source(),
    }
}

/// Routes a packet whose locator is ours back out of the EID side: decrements the TTL (IPv4 with
/// an incremental checksum update, RFC 1624) or the hop limit; drops it when that reaches zero.
fn deliver_locally<P: PacketBuffer>(
    ctx: &ItrContext<'_>,
    packet: &mut P,
    inner: &InnerPacket,
) -> ItrVerdict {
    let data = packet.data_mut();
    let alive = match data.first().map(|b| b >> 4) {
        Some(4) if data.len() >= 20 && data[8] > 1 => {
            data[8] -= 1;
            let checksum = u16::from_be_bytes([data[10], data[11]]);
            // TTL is the high byte of its 16-bit word: HC' = HC + 0x0100 in ones' complement.
            let sum = u32::from(checksum) + 0x0100;
            let folded = ((sum & 0xffff) + (sum >> 16)) as u16;
            data[10..12].copy_from_slice(&folded.to_be_bytes());
            true
        }
        Some(6) if data.len() >= 40 && data[7] > 1 => {
            data[7] -= 1;
            true
        }
        _ => false,
    };
    if !alive {
        return drop(ctx, Counter::DropTtlExpired);
    }
    ctx.counters.bump(Counter::DeliveredLocally);
    ItrVerdict::Local {
        destination: inner.destination(),
    }
}
