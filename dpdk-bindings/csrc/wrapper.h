/* The DPDK API surface the project uses. bindgen reads this file; the generated
 * wrappers for static inline functions and helpers.c are compiled against it. */
#include <rte_config.h>
#include <rte_common.h>
#include <rte_errno.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_prefetch.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ring.h>
#include <rte_dev.h>
#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_telemetry.h>
#include <rte_pdump.h>

#include "helpers.h"
