//! The DPDK appliance: EAL, ports and data cores assembled from a configuration, and the control
//! loop that runs `controlplane`'s I/O-free machines on the main lcore (punted frames, neighbour
//! resolution, control datagrams, the management and metrics servers). The only crate that
//! brings DPDK into the control plane: `controlplane`, `lisp-ms` and `lispctl` build without it.

pub mod appliance;
