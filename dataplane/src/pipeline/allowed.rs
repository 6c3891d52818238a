//! The ITRs a proxy-ETR forwards for: a short fixed list of outer-source prefixes, checked per
//! packet only on the proxy-ETR path, and copied with the data-path settings (no allocation).

use std::net::IpAddr;

use ipnet::IpNet;

/// Most prefixes the list holds.
pub const MAX_ALLOWED_SOURCES: usize = 16;

/// Up to [`MAX_ALLOWED_SOURCES`] prefixes; an empty list admits every source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllowedSources {
    nets: [Option<IpNet>; MAX_ALLOWED_SOURCES],
}

impl AllowedSources {
    /// The list of `nets`, or `None` when there are more than it holds.
    pub fn new(nets: &[IpNet]) -> Option<Self> {
        if nets.len() > MAX_ALLOWED_SOURCES {
            return None;
        }
        let mut list = Self::default();
        for (slot, net) in list.nets.iter_mut().zip(nets) {
            *slot = Some(net.trunc());
        }
        Some(list)
    }

    /// Whether `source` may use us: the list is empty, or a prefix in it holds `source`.
    #[inline]
    pub fn admits(&self, source: IpAddr) -> bool {
        self.nets[0].is_none()
            || self
                .nets
                .iter()
                .map_while(|net| *net)
                .any(|net| net.contains(&source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_admits_all_and_a_list_only_its_prefixes() {
        let any = AllowedSources::default();
        assert!(any.admits("198.51.100.1".parse().unwrap()));
        let list = AllowedSources::new(&[
            "192.0.2.0/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ])
        .unwrap();
        assert!(list.admits("192.0.2.9".parse().unwrap()));
        assert!(list.admits("2001:db8::1".parse().unwrap()));
        assert!(!list.admits("198.51.100.1".parse().unwrap()));
        let too_many: Vec<IpNet> = (0..=MAX_ALLOWED_SOURCES as u8)
            .map(|i| IpNet::new(IpAddr::from([10, i, 0, 0]), 16).unwrap())
            .collect();
        assert!(AllowedSources::new(&too_many).is_none());
    }
}
