//! A pair of ethdev ports wired back to back over two rings (`rte_eth_from_rings`): what one
//! transmits the other receives. For tests and in-process benchmarks; no device, no copy.

use std::ffi::CString;

use crate::eal::Eal;
use crate::error::{check, Error, Result};
use crate::port::PortId;
use crate::ring::create_raw;
use crate::sys;

/// Creates ports `{name}_a` and `{name}_b`, crossed: A's TX ring is B's RX ring and vice versa.
/// Like a `--vdev` device, the pair lives as long as the process.
pub fn ring_port_pair(eal: &Eal, name: &str, depth: u32) -> Result<(PortId, PortId)> {
    let a_to_b = create_raw(&format!("{name}_ab"), depth, 0)?;
    let b_to_a = create_raw(&format!("{name}_ba"), depth, 0)?;
    let make = |suffix: &str, rx: *mut sys::rte_ring, tx: *mut sys::rte_ring| -> Result<PortId> {
        let port_name = format!("{name}_{suffix}");
        let c_name = CString::new(port_name.as_str()).map_err(|_| {
            Error::InvalidArgument(format!("port name {port_name:?} has a NUL byte"))
        })?;
        let mut rx = [rx];
        let mut tx = [tx];
        // SAFETY: the rings are never freed (process lifetime), the arrays hold one ring each.
        let id = check(&format!("rte_eth_from_rings({port_name})"), unsafe {
            sys::rte_eth_from_rings(
                c_name.as_ptr(),
                rx.as_mut_ptr(),
                1,
                tx.as_mut_ptr(),
                1,
                sys::SOCKET_ID_ANY as u32,
            )
        })?;
        PortId::new(eal, id as u16)
    };
    let a = make("a", b_to_a.as_ptr(), a_to_b.as_ptr())?;
    let b = make("b", a_to_b.as_ptr(), b_to_a.as_ptr())?;
    Ok((a, b))
}
