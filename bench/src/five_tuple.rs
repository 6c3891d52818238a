//! testpmd's `5tswap` forwarding work, the baseline the data-path suites compare against: swap
//! the IPv4 addresses and the UDP/TCP ports (and the MACs, on a frame).

/// Swaps addresses and ports of an option-less IPv4/UDP packet at offset 0 (short packets are
/// left alone).
#[inline]
pub fn swap_packet(packet: &mut [u8]) {
    if packet.len() < 24 {
        return;
    }
    for i in 0..4 {
        packet.swap(12 + i, 16 + i);
    }
    for i in 0..2 {
        packet.swap(20 + i, 22 + i);
    }
}

/// Swaps MACs, then addresses and ports, of an Ethernet/IPv4/UDP frame.
#[inline]
pub fn swap_frame(frame: &mut [u8]) {
    if frame.len() < 14 {
        return;
    }
    for i in 0..6 {
        frame.swap(i, 6 + i);
    }
    swap_packet(&mut frame[14..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapping_twice_restores_the_frame_and_once_swaps_each_pair() {
        let original: Vec<u8> = (0..64).collect();
        let mut frame = original.clone();
        swap_frame(&mut frame);
        assert_eq!(frame[0..6], original[6..12]);
        assert_eq!(frame[14 + 12..14 + 16], original[14 + 16..14 + 20]);
        assert_eq!(frame[14 + 20..14 + 22], original[14 + 22..14 + 24]);
        assert_eq!(frame[14 + 24..], original[14 + 24..]);
        swap_frame(&mut frame);
        assert_eq!(frame, original);
    }
}
