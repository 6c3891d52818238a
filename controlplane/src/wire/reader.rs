//! A checked cursor over untrusted bytes: every read names the field it was reading, so a short
//! packet is rejected with the field it stopped at.

use std::net::{Ipv4Addr, Ipv6Addr};

use dataplane::wire::{WireError, WireResult};

#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub fn take(&mut self, len: usize, field: &'static str) -> WireResult<&'a [u8]> {
        if self.remaining() < len {
            return Err(WireError::Truncated { field });
        }
        let bytes = &self.bytes[self.position..self.position + len];
        self.position += len;
        Ok(bytes)
    }

    pub fn array<const N: usize>(&mut self, field: &'static str) -> WireResult<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> WireResult<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> WireResult<u16> {
        self.array(field).map(u16::from_be_bytes)
    }

    pub fn u32(&mut self, field: &'static str) -> WireResult<u32> {
        self.array(field).map(u32::from_be_bytes)
    }

    pub fn u64(&mut self, field: &'static str) -> WireResult<u64> {
        self.array(field).map(u64::from_be_bytes)
    }

    pub fn ipv4(&mut self, field: &'static str) -> WireResult<Ipv4Addr> {
        self.array::<4>(field).map(Ipv4Addr::from)
    }

    pub fn ipv6(&mut self, field: &'static str) -> WireResult<Ipv6Addr> {
        self.array::<16>(field).map(Ipv6Addr::from)
    }

    /// The unread rest.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.position..];
        self.position = self.bytes.len();
        rest
    }
}
