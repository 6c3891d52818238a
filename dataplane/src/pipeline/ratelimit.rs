//! Per-destination-prefix limit on map-cache-miss punts, so a miss flood (many packets to one
//! unknown EID) cannot starve the control core: at most one punt per /24 (IPv4) or /64 (IPv6)
//! of an instance per interval (tenants with one address plan do not hold back each other's
//! misses). A fixed direct-mapped table, no allocation; time is explicit (TSC ticks).

use std::net::IpAddr;

/// One data core's limiter.
#[derive(Debug, Clone)]
pub struct PuntLimiter {
    slots: Box<[(u128, u64)]>,
    interval: u64,
}

impl PuntLimiter {
    /// `slots` buckets (rounded up to a power of two); `interval` in the caller's time unit.
    pub fn new(slots: usize, interval: u64) -> Self {
        Self {
            slots: vec![(u128::MAX, 0); slots.next_power_of_two()].into_boxed_slice(),
            interval,
        }
    }

    /// True when a miss for `destination` in instance table `table` may be punted at `now`.
    #[inline]
    pub fn allow(&mut self, table: usize, destination: IpAddr, now: u64) -> bool {
        let prefix = match destination {
            IpAddr::V4(a) => u128::from(u32::from(a) >> 8),
            IpAddr::V6(a) => (u128::from(a) >> 64) | 1 << 100,
        };
        let key = prefix | (table as u128) << 104;
        let hash = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.slots[(hash >> 40) as usize & (self.slots.len() - 1)];
        if slot.0 == key && now.wrapping_sub(slot.1) < self.interval {
            return false;
        }
        *slot = (key, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_punt_per_prefix_per_interval() {
        let mut limiter = PuntLimiter::new(64, 1000);
        let a: IpAddr = "10.9.0.1".parse().unwrap();
        let same_prefix: IpAddr = "10.9.0.200".parse().unwrap();
        let other: IpAddr = "10.9.1.1".parse().unwrap();
        assert!(limiter.allow(0, a, 0));
        assert!(
            !limiter.allow(0, same_prefix, 10),
            "same /24 within the interval"
        );
        assert!(limiter.allow(0, other, 10), "another /24");
        assert!(
            limiter.allow(3, same_prefix, 10),
            "the same /24 of another instance"
        );
        assert!(!limiter.allow(3, a, 20));
        assert!(limiter.allow(0, a, 1000), "after the interval");
        let v6: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        assert!(limiter.allow(0, v6, 0));
        assert!(!limiter.allow(0, "2001:db8:1:2::99".parse().unwrap(), 1));
    }
}
