#include <rte_config.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include "helpers.h"

int lisp_rte_errno(void) { return rte_errno; }

const uint64_t LISP_RSS_IP = RTE_ETH_RSS_IP;
const uint64_t LISP_RSS_UDP = RTE_ETH_RSS_UDP;
const uint64_t LISP_RSS_TCP = RTE_ETH_RSS_TCP;
const uint64_t LISP_TX_OFFLOAD_MBUF_FAST_FREE = RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
const uint64_t LISP_TX_OFFLOAD_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
const uint64_t LISP_TX_OFFLOAD_UDP_CKSUM = RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
const uint64_t LISP_RX_OFFLOAD_CHECKSUM = RTE_ETH_RX_OFFLOAD_CHECKSUM;
