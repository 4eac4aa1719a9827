/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-hold's modes in their own files: the hold checks (xnb_hold.c, which
 * owns main) and the forwarding application (xnb_hold_fwd.c).
 */

#ifndef XNB_HOLD_H
#define XNB_HOLD_H

/* --fwd: forward on every port until SIGINT/SIGTERM (or --duration); argv
 * holds the application's arguments (after EAL's). Returns the exit status. */
int xnb_hold_fwd(int argc, char **argv);

#endif /* XNB_HOLD_H */
