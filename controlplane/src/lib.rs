//! The LISP control plane: message views and representations, HMAC authentication, and I/O-free
//! state machines (registration, resolution, responder, SMR, probing, mobility) with explicit time.

pub mod clock;
pub mod decode;
pub mod docs;
pub mod echo_nonce;
pub mod gateway_watch;
pub mod learned;
pub mod listeners;
pub mod logging;
pub mod loop_timer;
pub mod management;
pub mod management_api;
pub mod map_server;
pub mod map_server_endpoints;
pub mod map_server_runner;
pub mod metrics;
pub mod mobility;
pub mod nat_discovery;
pub mod neighbour_resolution;
pub mod nonce;
pub mod prefix_map;
pub mod probing;
pub mod rate_limit;
pub mod reassembly;
pub mod registration;
pub mod report;
pub mod resolution;
pub mod responder;
pub mod rtr;
pub mod state_file;
pub mod wire;
pub mod xtr;

use std::net::SocketAddr;

/// A datagram a machine wants sent: the runner takes it from `poll_transmit` and sends it from
/// our address of the destination's family, from `source_port`. Dropping one silently loses a
/// message.
#[must_use = "a datagram to send; dropping it loses the message"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: SocketAddr,
    pub payload: Vec<u8>,
    /// 4342 for control messages; 4341 for what an xTR behind a NAT sends its RTR, so the NAT's
    /// binding for that port is the one the RTR answers through.
    pub source_port: u16,
}

impl Transmit {
    /// A control message from our control port.
    pub fn control(destination: SocketAddr, payload: Vec<u8>) -> Self {
        Self {
            destination,
            payload,
            source_port: dataplane::wire::lisp::CONTROL_PORT,
        }
    }
}
