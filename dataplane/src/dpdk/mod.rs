//! The thin DPDK glue (feature `dpdk`): mbufs as [`PacketBuffer`]s and the data-core poll loop.

mod core;
mod interfaces;
mod mac_cache;

pub use self::core::DataCore;
pub use self::interfaces::{Interface, InterfaceSet, PortIo, Side, SideError};

use dpdk_bindings::Mbuf;

use crate::pipeline::PacketBuffer;

impl PacketBuffer for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        Mbuf::data_mut(self)
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        Mbuf::prepend(self, n)
    }

    #[inline]
    fn trim_front(&mut self, n: usize) -> bool {
        Mbuf::trim_front(self, n).is_some()
    }

    #[inline]
    fn trim_back(&mut self, n: usize) -> bool {
        Mbuf::trim_back(self, n).is_some()
    }
}
