/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The C tests' private simulator: xnb-simd in a fresh directory, waited for
 * until it is up, stopped and its directory removed at the end, written
 * once for every program that needs one (the shell tests have
 * tests/common/xnb_lib.sh, the Python ones tests/common/xnb_testpmd.py).
 */

#ifndef XNB_TEST_SIM_H
#define XNB_TEST_SIM_H

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct xnb_test_sim {
	char dir[64];		/* the simulator's directory */
	pid_t pid;
};

/* Starts xnb-simd (path simd) in a new directory /tmp/xnb-NAME-*; 0 once it
 * is up, -1 (said on stderr) if it is not within 10 s. */
static inline int
xnb_test_sim_start(struct xnb_test_sim *s, const char *simd, const char *name)
{
	char pidfile[300];

	snprintf(s->dir, sizeof(s->dir), "/tmp/xnb-%s-XXXXXX", name);
	s->pid = -1;
	if (mkdtemp(s->dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	s->pid = fork();
	if (s->pid == 0) {
		execl(simd, simd, "--dir", s->dir, (char *)NULL);
		perror("exec xnb-simd");
		_exit(127);
	}
	snprintf(pidfile, sizeof(pidfile), "%s/simd.pid", s->dir);
	for (int i = 0; i < 200; i++) {
		if (access(pidfile, F_OK) == 0)
			return 0;
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = -1;
			break;
		}
		usleep(50000);
	}
	fprintf(stderr, "FAIL: xnb-simd did not start in %s\n", s->dir);
	return -1;
}

static inline int
xnb_test_sim_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Stops it (SIGTERM, SIGKILL after 5 s) and removes its directory; -1 if
 * the directory could not be removed. */
static inline int
xnb_test_sim_stop(struct xnb_test_sim *s)
{
	if (s->pid > 0) {
		int i;

		kill(s->pid, SIGTERM);
		for (i = 0; i < 100 && waitpid(s->pid, NULL, WNOHANG) != s->pid; i++)
			usleep(50000);
		if (i == 100) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = -1;
	}
	if (nftw(s->dir, xnb_test_sim_rm, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		fprintf(stderr, "could not remove %s\n", s->dir);
		return -1;
	}
	return 0;
}

#endif /* XNB_TEST_SIM_H */
