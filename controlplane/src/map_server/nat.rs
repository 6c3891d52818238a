//! Info-Requests (NAT traversal, draft-ietf-lisp-nat-traversal): an xTR asks, signed with its
//! site's key, and is told the address and port its request arrived from (what its NAT
//! translated it to), our address, and the RTRs it may register and send through. The reply is
//! signed with the same key.

use std::net::SocketAddr;

use crate::wire::address::Address;
use crate::wire::auth::AuthAlgorithm;
use crate::wire::info::{InfoPacket, InfoRepr, NatTraversal};
use crate::Transmit;

use super::{MapServer, MapServerRefused};

impl MapServer {
    /// Answers an authenticated Info-Request from `from`.
    pub(super) fn answer_info(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), (MapServerRefused, Option<usize>)> {
        let malformed = (MapServerRefused::Malformed, None);
        let packet = InfoPacket::new_checked(bytes).map_err(|_| malformed)?;
        let request = InfoRepr::parse(bytes).map_err(|_| malformed)?;
        if request.reply {
            return Err((MapServerRefused::Other, None));
        }
        let eid = request.eid.ip().ok_or(malformed)?;
        let site = self
            .site_verifying(
                (request.eid.instance_id(), eid),
                packet.algorithm_id(),
                |key| packet.verify(key),
            )
            .map_err(|r| (r, None))?;
        let ms_rloc = self
            .own_address(from.is_ipv4())
            .map_or(Address::None, Address::from);
        let reply = InfoRepr {
            reply: true,
            ttl: self.config.info_reply_ttl_minutes,
            nat: Some(NatTraversal {
                ms_port: dataplane::wire::lisp::CONTROL_PORT,
                etr_port: from.port(),
                global_etr_rloc: Address::from(from.ip()),
                ms_rloc,
                private_etr_rloc: Address::None,
                rtr_rlocs: self.config.rtrs.iter().map(|&r| Address::from(r)).collect(),
            }),
            ..request
        };
        let site_config = &self.config.site[site];
        let payload = reply
            .emit_signed(
                AuthAlgorithm::from(site_config.algorithm),
                site_config.key.as_bytes(),
            )
            .map_err(|_| (MapServerRefused::Other, Some(site)))?;
        self.outbox.push_back(Transmit::control(from, payload));
        self.stats.info_requests_answered += 1;
        Ok(())
    }

    /// An address we serve on of the family, for Info-Replies: a listen address, else one of
    /// the host's.
    fn own_address(&self, v4: bool) -> Option<std::net::IpAddr> {
        self.config
            .listen
            .iter()
            .map(SocketAddr::ip)
            .filter(|ip| !ip.is_unspecified())
            .chain(self.host_addresses.iter().copied())
            .find(|ip| ip.is_ipv4() == v4)
    }
}
