//! `lispctl cpm`: one signed Change Priority Message to an xTR, for hypervisor scripts.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::cpm::CpmRepr;

/// A nonce no earlier CPM from this host used: the clock in nanoseconds mixed with the PID.
pub fn fresh_nonce() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(48)
}

pub fn send_cpm(
    to: &str,
    from: Option<IpAddr>,
    cpm: &CpmRepr,
    algorithm: AuthAlgorithm,
    key: &[u8],
) -> Result<SocketAddr, String> {
    let destination: SocketAddr = to
        .parse()
        .or_else(|_| to.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 4342)))
        .map_err(|_| format!("--to {to:?}: expected an address or address:port"))?;
    let bind = match (from, destination) {
        (Some(ip), _) => SocketAddr::new(ip, 0),
        (None, SocketAddr::V4(_)) => SocketAddr::from(([0u8; 4], 0)),
        (None, SocketAddr::V6(_)) => SocketAddr::from(([0u16; 8], 0)),
    };
    let socket = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
    let mut bytes = Vec::new();
    cpm.emit_signed(algorithm, key, &mut bytes)
        .map_err(|e| format!("encoding: {e}"))?;
    socket
        .send_to(&bytes, destination)
        .map_err(|e| format!("send to {destination}: {e}"))?;
    Ok(destination)
}
