/* Things bindgen cannot see because DPDK defines them as macros or thread-locals. */
#ifndef LISP_DPDK_HELPERS_H
#define LISP_DPDK_HELPERS_H
#include <stdint.h>

/* The calling thread's rte_errno (a per-lcore thread-local in DPDK). */
int lisp_rte_errno(void);

/* RTE_ETH_RSS_* and RTE_ETH_*_OFFLOAD_* are RTE_BIT64() macros. */
extern const uint64_t LISP_RSS_IP;
extern const uint64_t LISP_RSS_UDP;
extern const uint64_t LISP_RSS_TCP;
extern const uint64_t LISP_TX_OFFLOAD_MBUF_FAST_FREE;
extern const uint64_t LISP_TX_OFFLOAD_IPV4_CKSUM;
extern const uint64_t LISP_TX_OFFLOAD_UDP_CKSUM;
extern const uint64_t LISP_RX_OFFLOAD_CHECKSUM;

#endif
