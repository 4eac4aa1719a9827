/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The assertion of the C test programs: a failed check is reported with its
 * place and why, counted, and the test goes on so one run shows every
 * failure. Each program returns non-zero when xnb_failures is not zero.
 */

#ifndef XNB_CHECK_H
#define XNB_CHECK_H

#include <stdio.h>

static int xnb_failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		xnb_failures++; \
	} \
} while (0)

#endif /* XNB_CHECK_H */
