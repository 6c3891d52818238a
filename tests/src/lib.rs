//! Test beds for DPDK processes wired to kernel network namespaces, and the port smoke exchange the
//! README's first command runs until the two-site demo replaces it.

pub mod frames;
pub mod netns;
pub mod smoke;
pub mod topology;
pub mod underlay;
