//! ETR: a LISP data packet for one of our RLOCs is validated, stripped in place, and delivered if
//! its inner destination is one of our EIDs in the instance the header names (an instance we do
//! not serve is dropped and counted); an RTR
//! encapsulates the others again, a proxy-ETR forwards them natively. One addressed to our RLOC
//! itself carries a control message (a Data-Map-Notify through an RTR) and goes to the control
//! core.

use std::net::IpAddr;

use crate::mapcache::{DatabaseView, Instances};
use crate::wire::ipv4::{Ipv4Packet, PROTOCOL_UDP};
use crate::wire::ipv6::Ipv6Packet;
use crate::wire::lisp::{LispHeader, DATA_PORT, HEADER_LEN as LISP_HEADER_LEN};
use crate::wire::udp::{UdpPacket, HEADER_LEN as UDP_HEADER_LEN};

use super::{
    inspect_unhashed, AddressWords, AllowedSources, CoreCounters, Counter, EchoNonces, EtrVerdict,
    FeedbackSender, LocalRlocs, PacketBuffer,
};

/// What the ETR reads during one burst.
#[derive(Debug)]
pub struct EtrContext<'a> {
    pub database: DatabaseView<'a>,
    /// The instance-ids we serve and their tables.
    pub instances: &'a Instances,
    pub local: &'a LocalRlocs,
    pub counters: &'a CoreCounters,
    /// Where locator-status bits, echo-nonce requests and echoes go (the control core).
    pub feedback: &'a mut FeedbackSender,
    /// The nonces we asked remote ETRs to echo.
    pub echo: &'a EchoNonces,
    /// Proxy-ETR: destinations outside our EIDs are forwarded natively, for the ITRs
    /// `proxy_etr_allowed` admits.
    pub proxy_etr: bool,
    pub proxy_etr_allowed: &'a AllowedSources,
    /// RTR: destinations outside our EIDs are encapsulated again.
    pub reencapsulate: bool,
}

fn drop(ctx: &EtrContext<'_>, counter: Counter) -> EtrVerdict {
    ctx.counters.bump(counter);
    EtrVerdict::Drop(counter)
}

/// The outer source and where the UDP datagram starts and ends, after checking the outer header.
/// Inlined: its result, returned through memory, would be read back at once (a store-forwarding
/// stall per packet). The source is held as whole words for the same reason: it lives across
/// the rest of the packet's handling, and a spilled `IpAddr` is stored byte-wise and read back
/// word-wise.
#[inline(always)]
fn outer_udp(ctx: &EtrContext<'_>, data: &[u8]) -> Result<(AddressWords, usize, usize), Counter> {
    let (source, destination, start, end) = match data.first().map(|b| b >> 4) {
        Some(4) => {
            let ip = Ipv4Packet::new_checked(data).map_err(|_| Counter::DropMalformed)?;
            if !ip.verify_checksum() {
                return Err(Counter::DropBadOuterChecksum);
            }
            if ip.protocol() != PROTOCOL_UDP || ip.more_fragments() || ip.fragment_offset() != 0 {
                return Err(Counter::DropNotLispData);
            }
            (
                IpAddr::V4(ip.src_addr()),
                IpAddr::V4(ip.dst_addr()),
                ip.header_len(),
                usize::from(ip.total_len()),
            )
        }
        Some(6) => {
            let ip = Ipv6Packet::new_checked(data).map_err(|_| Counter::DropMalformed)?;
            let upper = ip.upper_layer().map_err(|_| Counter::DropMalformed)?;
            if upper.protocol != PROTOCOL_UDP || upper.later_fragment() {
                return Err(Counter::DropNotLispData);
            }
            (
                IpAddr::V6(ip.src_addr()),
                IpAddr::V6(ip.dst_addr()),
                upper.offset,
                40 + usize::from(ip.payload_len()),
            )
        }
        _ => return Err(Counter::DropMalformed),
    };
    if !ctx.local.is_ours(destination) {
        return Err(Counter::DropNotOurRloc);
    }
    Ok((AddressWords::from(source), start, end))
}

/// Decapsulates `packet` (starting at its outer IP header) in place. Inlined into the data core's
/// loop, which reads the verdict at once (through memory, a store-forwarding stall).
#[inline(always)]
pub fn decapsulate<P: PacketBuffer>(ctx: &mut EtrContext<'_>, packet: &mut P) -> EtrVerdict {
    let data = packet.data();
    let (source, udp_start, end) = match outer_udp(ctx, data) {
        Ok(range) => range,
        Err(counter) => return drop(ctx, counter),
    };
    let Ok(udp) = UdpPacket::new_checked(&data[udp_start..end]) else {
        return drop(ctx, Counter::DropMalformed);
    };
    if udp.dst_port() != DATA_PORT {
        return drop(ctx, Counter::DropNotLispData);
    }
    // The outer UDP checksum is not verified: RFC 9300 lets ETRs ignore it (IPv4 sends 0; an
    // IPv6 tunnel may too, RFC 6935/6936) and the inner packet carries its own.
    let udp_end = udp_start + usize::from(udp.len());
    let Ok(lisp) = LispHeader::new_checked(udp.payload()) else {
        return drop(ctx, Counter::DropBadLispHeader);
    };
    let header_instance = lisp.instance_id();
    let inner_start = udp_start + UDP_HEADER_LEN + LISP_HEADER_LEN;
    let Ok(inner) = inspect_unhashed(&data[inner_start..udp_end]) else {
        return drop(ctx, Counter::DropMalformed);
    };
    // Reported once the inner packet checked out: a malformed one changes no locator state.
    let nonce = lisp.nonce();
    let echo_request = lisp.echo_nonce_request();
    // A request we already echo is not reported again: a peer sets E on every packet of its
    // window, and the control core renews the echo when a report comes after it lapsed.
    let already_echoed = |n| ctx.echo.outgoing(source.get()) == Some((n, false));
    ctx.feedback.report(
        source,
        lisp.locator_status_bits(),
        nonce.filter(|&n| echo_request && !already_echoed(n)),
        !echo_request && nonce.is_some_and(|n| ctx.echo.echoes(source.get(), n)),
    );
    // No I bit means the default instance, as does instance-id 0.
    let destination = inner.destination();
    let Some(table) = ctx.instances.table(header_instance) else {
        return drop(ctx, Counter::DropUnknownInstance);
    };
    let (verdict, counter) = match ctx.database.lookup(table, destination) {
        Some(_) => (
            EtrVerdict::Decapsulated { destination, table },
            Counter::Decapsulated,
        ),
        None if ctx.local.is_ours(destination) => {
            (EtrVerdict::ToControl, Counter::DecapsulatedControl)
        }
        // An RTR and a proxy-ETR serve the default instance only: one map-cache table, one
        // underlay to forward natively into.
        None if table != 0 && (ctx.reencapsulate || ctx.proxy_etr) => {
            return drop(ctx, Counter::DropInstanceMismatch)
        }
        None if ctx.reencapsulate => (
            EtrVerdict::Reencapsulate { destination },
            Counter::RtrDecapsulated,
        ),
        None if ctx.proxy_etr && !ctx.proxy_etr_allowed.admits(source.get()) => {
            return drop(ctx, Counter::DropProxyEtrNotAllowed)
        }
        None if ctx.proxy_etr => (
            EtrVerdict::NativeForward { destination },
            Counter::ProxyEtrForwarded,
        ),
        None => return drop(ctx, Counter::DropNotOurEid),
    };
    let total = data.len();
    packet.trim_back(total - (inner_start + inner.len));
    packet.trim_front(inner_start);
    ctx.counters.bump(counter);
    verdict
}
