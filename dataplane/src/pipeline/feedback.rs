//! What the ETR learns about remote locators (their locator-status bits, echo-nonce requests and
//! echoes of ours),
//! sent to the control core through a per-core bounded lock-free queue. Repeats are filtered by a
//! small per-core cache so a steady stream of packets does not flood the queue.

use std::net::IpAddr;
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use super::AddressWords;

/// One observation about a remote locator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocatorFeedback {
    /// The outer source address of the packet (the remote ITR's RLOC).
    pub rloc: IpAddr,
    /// Its locator-status bits, when the L bit was set.
    pub status_bits: Option<u32>,
    /// A nonce to echo back, when the E bit was set.
    pub echo_nonce: Option<u32>,
    /// The packet carried back the nonce we asked this RLOC to echo.
    pub echoed: bool,
}

const RECENT: usize = 64;

/// The data core's end.
#[derive(Debug)]
pub struct FeedbackSender {
    queue: Arc<ArrayQueue<LocatorFeedback>>,
    recent: [Option<(AddressWords, u32)>; RECENT],
    dropped: u64,
}

/// The control core's end.
#[derive(Debug, Clone)]
pub struct FeedbackReceiver {
    queue: Arc<ArrayQueue<LocatorFeedback>>,
}

/// A queue of `capacity` observations.
pub fn feedback_channel(capacity: usize) -> (FeedbackSender, FeedbackReceiver) {
    let queue = Arc::new(ArrayQueue::new(capacity.max(1)));
    (
        FeedbackSender {
            queue: queue.clone(),
            recent: [None; RECENT],
            dropped: 0,
        },
        FeedbackReceiver { queue },
    )
}

fn slot(rloc: AddressWords) -> usize {
    (rloc.folded().wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
}

impl FeedbackSender {
    /// Reports what a packet from `rloc` carried; status bits already reported are skipped. Takes
    /// the parts, the address as whole words, rather than a [`LocatorFeedback`]: its `IpAddr`,
    /// written byte-wise and read back word-wise at once, would stall on store forwarding on
    /// every packet.
    #[inline]
    pub fn report(
        &mut self,
        rloc: AddressWords,
        status_bits: Option<u32>,
        echo_nonce: Option<u32>,
        echoed: bool,
    ) {
        let echo_news = echo_nonce.is_some() || echoed;
        if let (Some(bits), false) = (status_bits, echo_news) {
            let cached = &mut self.recent[slot(rloc)];
            if *cached == Some((rloc, bits)) {
                return;
            }
            *cached = Some((rloc, bits));
        }
        if status_bits.is_none() && !echo_news {
            return;
        }
        let feedback = LocatorFeedback {
            rloc: rloc.get(),
            status_bits,
            echo_nonce,
            echoed,
        };
        if self.queue.push(feedback).is_err() {
            self.dropped += 1;
        }
    }

    /// Observations lost because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl FeedbackReceiver {
    /// The next observation, if any.
    pub fn pop(&self) -> Option<LocatorFeedback> {
        self.queue.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(rloc: IpAddr, status_bits: Option<u32>, echo_nonce: Option<u32>) -> LocatorFeedback {
        LocatorFeedback {
            rloc,
            status_bits,
            echo_nonce,
            echoed: false,
        }
    }

    #[test]
    fn repeats_are_filtered_and_changes_pass() {
        let (mut tx, rx) = feedback_channel(3);
        let rloc: IpAddr = "192.0.2.1".parse().unwrap();
        let words = AddressWords::from(rloc);
        tx.report(words, Some(3), None, false);
        tx.report(words, Some(3), None, false);
        tx.report(words, None, None, false);
        assert_eq!(rx.pop(), Some(seen(rloc, Some(3), None)));
        assert_eq!(rx.pop(), None, "the repeat was filtered");
        tx.report(words, Some(1), None, false);
        tx.report(words, Some(1), Some(77), false);
        tx.report(words, Some(1), None, true);
        tx.report(words, Some(2), None, false);
        assert_eq!(tx.dropped(), 1, "bounded: the fourth did not fit");
        assert_eq!(rx.pop().map(|f| f.status_bits), Some(Some(1)));
        assert_eq!(rx.pop().map(|f| f.echo_nonce), Some(Some(77)));
        assert_eq!(
            rx.pop().map(|f| f.echoed),
            Some(true),
            "an echo passes the repeat filter"
        );
    }
}
