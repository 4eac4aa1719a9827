/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 *
 * LD_PRELOAD shim for the xen suite: dom0 drives an interactive dpdk-testpmd
 * through a FIFO and reads its answers from a log file, where stdio would
 * hold them in a 4 KB buffer until exit. Line-buffer stdout before main().
 */
#include <stdio.h>

static void __attribute__((constructor))
xnb_linebuf(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}
