//! Telling a site's Map-Registers from replays of captured ones.
//!
//! The HMAC covers the nonce (and the xTR-ID), not the source address, so memory is kept per
//! (site, xTR-ID) — per site for xTRs that send no xTR-ID — and a replay from another address
//! is still a replay. What an attacker who captured one Map-Register can do afterwards:
//! - `nonce-memory` (random nonces): nothing while the message is among the last
//!   [`REMEMBERED_NONCES`] accepted for its (site, xTR-ID); a message older than that (17 hours
//!   of one registration a minute), or of an xTR-ID whose memory was evicted for a newer xTR of
//!   the site, is accepted again and re-asserts its content until the registration TTL. A nonce
//!   of 0 cannot be told from its own replay and is refused.
//! - `timestamp` (lispd's nonces carry Unix seconds): nothing once the message is older than the
//!   allowed clock skew, whatever happened in between (restarts of lisp-ms included, as the
//!   check needs no memory then); within the skew, nothing if the xTR has sent a newer one (with
//!   an xTR-ID) or the same message was seen.

use std::collections::VecDeque;

use config::ReplayProtection;
use hashbrown::HashSet;

use crate::nonce::timestamp_of;

/// Nonces remembered per (site, xTR-ID).
pub const REMEMBERED_NONCES: usize = 1024;

/// Why a Map-Register was taken for a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    #[error("replay: nonce already accepted")]
    Seen,
    /// Indistinguishable from a replay (`nonce-memory`).
    #[error("replay protection: nonce 0")]
    ZeroNonce,
    /// The carried time is outside the allowed skew (`timestamp`).
    #[error("replay protection: timestamp outside the skew")]
    OutsideSkew,
    /// Older than the xTR's last accepted Map-Register (`timestamp`, with xTR-ID).
    #[error("replay: older than the xTR's last Map-Register")]
    Older,
}

/// The replay memory of one (site, xTR-ID).
#[derive(Debug, Default)]
pub struct ReplayMemory {
    order: VecDeque<u64>,
    seen: HashSet<u64>,
    newest_timestamp: u64,
}

/// How a site's nonces are checked, and the time to check them against.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub protection: ReplayProtection,
    pub max_skew_secs: u64,
    pub unix_now: u64,
    /// The message carries an xTR-ID (its messages can be ordered).
    pub ordered: bool,
}

impl ReplayMemory {
    /// Whether `nonce` passes; when it does, it is remembered.
    pub fn admit(&mut self, nonce: u64, check: Check) -> Result<(), Stale> {
        match check.protection {
            ReplayProtection::NonceMemory if nonce == 0 => return Err(Stale::ZeroNonce),
            ReplayProtection::NonceMemory => {}
            ReplayProtection::Timestamp => {
                let sent = timestamp_of(nonce);
                if sent.abs_diff(check.unix_now) > check.max_skew_secs {
                    return Err(Stale::OutsideSkew);
                }
                if check.ordered && sent < self.newest_timestamp {
                    return Err(Stale::Older);
                }
            }
        }
        if !self.seen.insert(nonce) {
            return Err(Stale::Seen);
        }
        self.order.push_back(nonce);
        if self.order.len() > REMEMBERED_NONCES {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        if check.protection == ReplayProtection::Timestamp {
            self.newest_timestamp = self.newest_timestamp.max(timestamp_of(nonce));
        }
        Ok(())
    }
}
