/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_ethdev.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <bus_vdev_driver.h>
#include <rte_log.h>
RTE_LOG_REGISTER(xnb_logtype, pmd.net.xennetback, NOTICE);
static int xnb_probe(struct rte_vdev_device *dev) { rte_log(RTE_LOG_ERR, xnb_logtype, "probe %s\n", rte_vdev_device_name(dev)); return -1; }
static int xnb_remove(struct rte_vdev_device *dev) { (void)dev; return 0; }
static struct rte_vdev_driver xnb_drv = { .probe = xnb_probe, .remove = xnb_remove };
RTE_PMD_REGISTER_VDEV(net_xennetback, xnb_drv);
