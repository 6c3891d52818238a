//! The one source of nonces for every control-plane machine: a cryptographic RNG (ChaCha12,
//! seeded from the operating system in production), so that seeing any number of our nonces
//! tells nothing about the next one. Nonces are what a Map-Reply, Map-Notify or probe reply is
//! matched by; predictable ones let an off-path attacker install mappings.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A stream of unpredictable nonces; each machine owns its own, [`fork`](Self::fork)ed from one.
#[derive(Debug)]
pub struct NonceSource(StdRng);

impl NonceSource {
    /// Seeded from the operating system's entropy: what the appliance and lisp-ms use.
    pub fn from_entropy() -> Self {
        Self(rand::make_rng())
    }

    /// A reproducible stream, for deterministic tests.
    pub fn seeded(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }

    /// An independent stream for another machine.
    pub fn fork(&mut self) -> Self {
        Self(StdRng::from_rng(&mut self.0))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// A Map-Register nonce carrying the sender's time: Unix seconds in the upper 32 bits, random
    /// lower bits. A map-server that knows this can refuse replays for good (see
    /// [`timestamp_of`]); to any other it is just a nonce.
    pub fn timestamped(&mut self, unix_secs: u64) -> u64 {
        (unix_secs << 32) | u64::from(self.next_u32())
    }
}

/// The Unix time in seconds carried by a [`NonceSource::timestamped`] nonce.
pub fn timestamp_of(nonce: u64) -> u64 {
    nonce >> 32
}
