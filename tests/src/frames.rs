//! The two frames the port smoke exchange needs (an ARP request, an IPv4/UDP datagram), built by
//! hand so the foundation can be tested before the project's own header views exist.

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;

/// An ARP request from `sender` (MAC, IPv4) asking who has `target`.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]); // Ethernet, IPv4, sizes, opcode request
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&sender_ip);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target_ip);
    f.resize(60, 0);
    f
}

/// The sender MAC of an ARP reply from `from_ip` to `to_mac`, if `frame` is one.
pub fn arp_reply_sender(frame: &[u8], from_ip: [u8; 4], to_mac: [u8; 6]) -> Option<[u8; 6]> {
    let arp = frame.get(14..42)?;
    let is_reply = frame[12..14] == ETHERTYPE_ARP.to_be_bytes() && arp[6..8] == [0, 2];
    (is_reply && arp[14..18] == from_ip && arp[18..24] == to_mac)
        .then(|| arp[8..14].try_into().expect("6-byte slice"))
}

/// An Ethernet + IPv4 + UDP frame (UDP checksum 0, as IPv4 allows).
pub fn udp_frame(
    macs: ([u8; 6], [u8; 6]),
    source: ([u8; 4], u16),
    destination: ([u8; 4], u16),
    payload: &[u8],
) -> Vec<u8> {
    let (src_mac, dst_mac) = macs;
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]); // id, DF, TTL 64, UDP, checksum later
    f.extend_from_slice(&source.0);
    f.extend_from_slice(&destination.0);
    let checksum = ipv4_header_checksum(&f[ip_start..ip_start + 20]);
    f[ip_start + 10..ip_start + 12].copy_from_slice(&checksum.to_be_bytes());
    f.extend_from_slice(&source.1.to_be_bytes());
    f.extend_from_slice(&destination.1.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// RFC 1071 checksum of an IPv4 header whose checksum field is zero.
fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let sum: u32 = header
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    !((folded & 0xffff) + (folded >> 16)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_checksum_matches_a_known_header() {
        // Example header from RFC 1071 discussions: checksum b861.
        let mut header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_header_checksum(&header), 0xb861);
        header[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(
            ipv4_header_checksum(&header),
            0,
            "a valid header sums to zero"
        );
    }

    #[test]
    fn arp_reply_is_recognised_only_from_the_right_peer() {
        let ours = [2, 0, 0, 0, 0, 1];
        let theirs = [2, 0, 0, 0, 0, 2];
        let mut reply = arp_request(theirs, [192, 0, 2, 1], [192, 0, 2, 2]);
        reply[20..22].copy_from_slice(&[0, 2]);
        reply[32..38].copy_from_slice(&ours);
        assert_eq!(arp_reply_sender(&reply, [192, 0, 2, 1], ours), Some(theirs));
        assert_eq!(arp_reply_sender(&reply, [192, 0, 2, 9], ours), None);
        assert_eq!(arp_reply_sender(&reply[..30], [192, 0, 2, 1], ours), None);
    }
}
