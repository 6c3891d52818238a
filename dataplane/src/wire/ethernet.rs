//! Ethernet II frames with at most one 802.1Q VLAN tag.

use super::{be16, need, put16, WireResult};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Untagged header length.
pub const HEADER_LEN: usize = 14;
/// Tagged header length (one 802.1Q tag).
pub const TAGGED_LEN: usize = 18;

/// A view of an Ethernet frame.
#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Checks that the header (and the VLAN tag, when present) fits.
    #[inline]
    pub fn new_checked(buffer: T) -> WireResult<Self> {
        let b = buffer.as_ref();
        need(b, HEADER_LEN, "Ethernet header")?;
        if be16(b, 12) == ETHERTYPE_VLAN {
            need(b, TAGGED_LEN, "802.1Q tag")?;
        }
        Ok(Self { buffer })
    }

    #[inline]
    pub fn destination(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    #[inline]
    pub fn source(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[6], b[7], b[8], b[9], b[10], b[11]]
    }

    #[inline]
    fn tagged(&self) -> bool {
        be16(self.buffer.as_ref(), 12) == ETHERTYPE_VLAN
    }

    /// The 12-bit VLAN id when the frame carries a tag.
    #[inline]
    pub fn vlan_id(&self) -> Option<u16> {
        self.tagged()
            .then(|| be16(self.buffer.as_ref(), 14) & 0x0fff)
    }

    /// EtherType of the payload (after the tag, if any).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), self.header_len() - 2)
    }

    /// 14, or 18 with a VLAN tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        if self.tagged() {
            TAGGED_LEN
        } else {
            HEADER_LEN
        }
    }

    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    #[inline]
    pub fn set_destination(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[0..6].copy_from_slice(&mac);
    }

    #[inline]
    pub fn set_source(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[6..12].copy_from_slice(&mac);
    }

    /// Sets the payload EtherType (after the tag, if any).
    #[inline]
    pub fn set_ethertype(&mut self, ethertype: u16) {
        let at = self.header_len() - 2;
        put16(self.buffer.as_mut(), at, ethertype);
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

/// An Ethernet header to write, tagged when `vlan` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub destination: [u8; 6],
    pub source: [u8; 6],
    /// The 802.1Q VLAN id (priority 0).
    pub vlan: Option<u16>,
    pub ethertype: u16,
}

impl EthernetRepr {
    /// [`HEADER_LEN`], or 18 with a VLAN tag.
    #[inline]
    pub fn header_len(&self) -> usize {
        match self.vlan {
            Some(_) => TAGGED_LEN,
            None => HEADER_LEN,
        }
    }

    /// Writes the header into the first [`Self::header_len`] bytes of `out`.
    #[inline]
    pub fn emit(&self, out: &mut [u8]) {
        out[0..6].copy_from_slice(&self.destination);
        out[6..12].copy_from_slice(&self.source);
        let at = match self.vlan {
            Some(id) => {
                put16(out, 12, ETHERTYPE_VLAN);
                put16(out, 14, id & 0x0fff);
                16
            }
            None => 12,
        };
        put16(out, at, self.ethertype);
    }
}

/// Tags an untagged frame in place: `frame` is the frame with 4 free bytes before it (what
/// prepending them gave); the addresses move forward over them and the tag goes between them
/// and the EtherType. False when `frame` is too short to hold an Ethernet header after them.
pub fn insert_tag(frame: &mut [u8], vlan: u16) -> bool {
    if frame.len() < TAGGED_LEN {
        return false;
    }
    frame.copy_within(4..16, 0);
    put16(frame, 12, ETHERTYPE_VLAN);
    put16(frame, 14, vlan & 0x0fff);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_and_tagged() {
        let mut frame = [0u8; 20];
        frame[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let view = EthernetFrame::new_checked(&frame[..]).expect("fits");
        assert_eq!(
            (view.vlan_id(), view.ethertype(), view.header_len()),
            (None, ETHERTYPE_IPV4, 14)
        );

        frame[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        frame[14..16].copy_from_slice(&0x2064u16.to_be_bytes());
        frame[16..18].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        let view = EthernetFrame::new_checked(&frame[..]).expect("fits");
        assert_eq!(
            (view.vlan_id(), view.ethertype(), view.payload().len()),
            (Some(0x064), ETHERTYPE_IPV6, 2)
        );
        assert!(
            EthernetFrame::new_checked(&frame[..17]).is_err(),
            "tag cut short"
        );
        assert!(EthernetFrame::new_checked(&frame[..13]).is_err());
    }

    #[test]
    fn an_emitted_header_reads_back() {
        let mut frame = [0u8; HEADER_LEN];
        EthernetRepr {
            destination: [2, 0, 0, 0, 0, 1],
            source: [2, 0, 0, 0, 0, 2],
            vlan: None,
            ethertype: ETHERTYPE_ARP,
        }
        .emit(&mut frame);
        let view = EthernetFrame::new_checked(&frame[..]).expect("fits");
        assert_eq!(
            (view.destination(), view.source(), view.ethertype()),
            ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], ETHERTYPE_ARP)
        );
    }

    #[test]
    fn an_emitted_tag_reads_back() {
        let repr = EthernetRepr {
            destination: [2, 0, 0, 0, 0, 1],
            source: [2, 0, 0, 0, 0, 2],
            vlan: Some(200),
            ethertype: ETHERTYPE_IPV6,
        };
        let mut frame = [0u8; TAGGED_LEN];
        repr.emit(&mut frame);
        let view = EthernetFrame::new_checked(&frame[..]).expect("fits");
        assert_eq!(
            (view.vlan_id(), view.ethertype(), view.header_len()),
            (Some(200), ETHERTYPE_IPV6, repr.header_len())
        );
    }

    #[test]
    fn an_inserted_tag_keeps_addresses_and_ethertype() {
        let untagged = EthernetRepr {
            destination: [2, 0, 0, 0, 0, 1],
            source: [2, 0, 0, 0, 0, 2],
            vlan: None,
            ethertype: ETHERTYPE_ARP,
        };
        let mut frame = [0u8; TAGGED_LEN + 2];
        untagged.emit(&mut frame[4..]);
        frame[TAGGED_LEN..].copy_from_slice(&[0xab, 0xcd]);
        assert!(insert_tag(&mut frame, 100));
        let mut expected = [0u8; TAGGED_LEN + 2];
        EthernetRepr {
            vlan: Some(100),
            ..untagged
        }
        .emit(&mut expected);
        expected[TAGGED_LEN..].copy_from_slice(&[0xab, 0xcd]);
        assert_eq!(frame, expected);
        assert!(!insert_tag(&mut [0u8; TAGGED_LEN - 1], 100));
    }

    #[test]
    fn setters_write_in_place() {
        let mut frame = [0u8; 14];
        let mut view = EthernetFrame::new_checked(&mut frame[..]).expect("fits");
        view.set_destination([1, 2, 3, 4, 5, 6]);
        view.set_source([7, 8, 9, 10, 11, 12]);
        view.set_ethertype(ETHERTYPE_ARP);
        assert_eq!(view.destination(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(view.source(), [7, 8, 9, 10, 11, 12]);
        assert_eq!(view.ethertype(), ETHERTYPE_ARP);
    }
}
