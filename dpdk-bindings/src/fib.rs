//! DPDK's FIB libraries (`rte_fib` DIR-24-8 for IPv4, `rte_fib6` trie for IPv6), wrapped so the
//! benchmarks can put our LPM side by side with them on the same prefixes and keys.

use std::ffi::CString;
use std::ptr::NonNull;

use crate::eal::Eal;
use crate::error::{check, dpdk_error, last_errno, Error, Result};
use crate::sys;

fn c_name(name: &str) -> Result<CString> {
    CString::new(name)
        .map_err(|_| Error::InvalidArgument(format!("FIB name {name:?} has a NUL byte")))
}

/// An IPv4 FIB (DIR-24-8, 4-byte next hops).
#[derive(Debug)]
pub struct Fib4 {
    raw: NonNull<sys::rte_fib>,
    _eal: Eal,
}

// SAFETY: used from one thread at a time (all mutation takes &mut self; lookups only read).
unsafe impl Send for Fib4 {}

impl Fib4 {
    /// A FIB for up to `max_routes` prefixes with `tbl8_groups` groups for prefixes longer than /24.
    pub fn new(eal: &Eal, name: &str, max_routes: i32, tbl8_groups: u32) -> Result<Self> {
        let name_c = c_name(name)?;
        let mut conf = sys::rte_fib_conf {
            type_: sys::RTE_FIB_DIR24_8,
            default_nh: 0,
            max_routes,
            ..Default::default()
        };
        conf.__bindgen_anon_1.dir24_8 = sys::rte_fib_conf__bindgen_ty_1__bindgen_ty_1 {
            nh_sz: sys::RTE_FIB_DIR24_8_4B,
            num_tbl8: tbl8_groups,
        };
        // SAFETY: name and conf are valid for the call; EAL is initialised.
        let raw = unsafe { sys::rte_fib_create(name_c.as_ptr(), sys::SOCKET_ID_ANY, &mut conf) };
        let raw = NonNull::new(raw)
            .ok_or_else(|| dpdk_error(format!("rte_fib_create({name})"), last_errno()))?;
        Ok(Self {
            raw,
            _eal: eal.clone(),
        })
    }

    pub fn add(&mut self, ip: u32, depth: u8, next_hop: u64) -> Result<()> {
        // SAFETY: raw is a live FIB owned exclusively through &mut self.
        check("rte_fib_add", unsafe {
            sys::rte_fib_add(self.raw.as_ptr(), ip, depth, next_hop)
        })
        .map(drop)
    }

    pub fn delete(&mut self, ip: u32, depth: u8) -> Result<()> {
        // SAFETY: as in add().
        check("rte_fib_delete", unsafe {
            sys::rte_fib_delete(self.raw.as_ptr(), ip, depth)
        })
        .map(drop)
    }

    /// Looks up `ips` (host byte order) into `next_hops` (same length; 0 = no route).
    pub fn lookup_bulk(&self, ips: &[u32], next_hops: &mut [u64]) -> Result<()> {
        let n = ips.len().min(next_hops.len());
        // SAFETY: both arrays hold n elements; DPDK only reads `ips` despite the non-const pointer.
        let ret = unsafe {
            sys::rte_fib_lookup_bulk(
                self.raw.as_ptr(),
                ips.as_ptr().cast_mut(),
                next_hops.as_mut_ptr(),
                n as i32,
            )
        };
        check("rte_fib_lookup_bulk", ret).map(drop)
    }
}

impl Drop for Fib4 {
    fn drop(&mut self) {
        // SAFETY: raw is live and not used after this.
        unsafe { sys::rte_fib_free(self.raw.as_ptr()) };
    }
}

/// An IPv6 FIB (trie, 4-byte next hops).
#[derive(Debug)]
pub struct Fib6 {
    raw: NonNull<sys::rte_fib6>,
    _eal: Eal,
}

// SAFETY: as for Fib4.
unsafe impl Send for Fib6 {}

impl Fib6 {
    pub fn new(eal: &Eal, name: &str, max_routes: i32, tbl8_groups: u32) -> Result<Self> {
        let name_c = c_name(name)?;
        let mut conf = sys::rte_fib6_conf {
            type_: sys::RTE_FIB6_TRIE,
            default_nh: 0,
            max_routes,
            ..Default::default()
        };
        conf.__bindgen_anon_1.trie = sys::rte_fib6_conf__bindgen_ty_1__bindgen_ty_1 {
            nh_sz: sys::RTE_FIB6_TRIE_4B,
            num_tbl8: tbl8_groups,
        };
        // SAFETY: name and conf are valid for the call; EAL is initialised.
        let raw = unsafe { sys::rte_fib6_create(name_c.as_ptr(), sys::SOCKET_ID_ANY, &mut conf) };
        let raw = NonNull::new(raw)
            .ok_or_else(|| dpdk_error(format!("rte_fib6_create({name})"), last_errno()))?;
        Ok(Self {
            raw,
            _eal: eal.clone(),
        })
    }

    pub fn add(&mut self, ip: &[u8; 16], depth: u8, next_hop: u64) -> Result<()> {
        // SAFETY: raw is live and exclusively ours; ip points at 16 bytes.
        check("rte_fib6_add", unsafe {
            sys::rte_fib6_add(self.raw.as_ptr(), ip.as_ptr(), depth, next_hop)
        })
        .map(drop)
    }

    pub fn delete(&mut self, ip: &[u8; 16], depth: u8) -> Result<()> {
        // SAFETY: as in add().
        check("rte_fib6_delete", unsafe {
            sys::rte_fib6_delete(self.raw.as_ptr(), ip.as_ptr(), depth)
        })
        .map(drop)
    }

    pub fn lookup_bulk(&self, ips: &[[u8; 16]], next_hops: &mut [u64]) -> Result<()> {
        let n = ips.len().min(next_hops.len());
        // SAFETY: both arrays hold n elements; DPDK only reads `ips` despite the non-const pointer.
        let ret = unsafe {
            sys::rte_fib6_lookup_bulk(
                self.raw.as_ptr(),
                ips.as_ptr().cast_mut(),
                next_hops.as_mut_ptr(),
                n as i32,
            )
        };
        check("rte_fib6_lookup_bulk", ret).map(drop)
    }
}

impl Drop for Fib6 {
    fn drop(&mut self) {
        // SAFETY: raw is live and not used after this.
        unsafe { sys::rte_fib6_free(self.raw.as_ptr()) };
    }
}
