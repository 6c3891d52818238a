//! ARP for IPv4 over Ethernet (RFC 826): just what answering for our addresses needs.

use std::net::Ipv4Addr;

use super::{be16, need, WireError, WireResult};

pub const LEN: usize = 28;
pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;

/// A checked view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        need(b, LEN, "ARP packet")?;
        if be16(b, 0) != 1 || be16(b, 2) != 0x0800 || b[4] != 6 || b[5] != 4 {
            return Err(WireError::Malformed {
                field: "ARP hardware/protocol",
                reason: "not Ethernet/IPv4",
            });
        }
        Ok(Self { buffer })
    }

    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), 6)
    }

    pub fn sender_mac(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[8], b[9], b[10], b[11], b[12], b[13]]
    }

    pub fn sender_ip(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[14], b[15], b[16], b[17])
    }

    pub fn target_ip(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[24], b[25], b[26], b[27])
    }
}

/// Writes an ARP packet into `out` (at least [`LEN`] bytes).
pub fn emit(
    out: &mut [u8],
    operation: u16,
    sender: ([u8; 6], Ipv4Addr),
    target: ([u8; 6], Ipv4Addr),
) {
    out[..8].copy_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 0]);
    out[6..8].copy_from_slice(&operation.to_be_bytes());
    out[8..14].copy_from_slice(&sender.0);
    out[14..18].copy_from_slice(&sender.1.octets());
    out[18..24].copy_from_slice(&target.0);
    out[24..28].copy_from_slice(&target.1.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emitted_reply_reads_back() {
        let mut b = [0u8; LEN];
        emit(
            &mut b,
            OP_REPLY,
            ([2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 0, 0, 1)),
            ([2, 0, 0, 0, 0, 2], Ipv4Addr::new(10, 0, 0, 2)),
        );
        let arp = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            (arp.operation(), arp.sender_ip(), arp.target_ip()),
            (
                OP_REPLY,
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 2)
            )
        );
        assert_eq!(arp.sender_mac(), [2, 0, 0, 0, 0, 1]);
        assert!(ArpPacket::new_checked(&b[..27]).is_err());
        b[2] = 0x86;
        assert!(ArpPacket::new_checked(&b[..]).is_err());
    }
}
