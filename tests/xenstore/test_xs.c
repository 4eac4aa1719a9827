/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The simulator's xenstored through the real libxenstore: transactions that
 * commit, abort and fail with EAGAIN on a conflicting write, watches with
 * their initial fire, @releaseDomain, the toolstack race a test can arm
 * (xnb-rm-after-read), the watch count per connection (xnb-watches), and a
 * client that sends garbage without taking the server down.
 *
 * usage: test_xs PATH-TO-xnb-simd PATH-TO-xnb-simctl
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xenstore.h>

#include "xnb_check.h"
#include "xnb_test_sim.h"

static struct xnb_test_sim sim;
static const char *dir = sim.dir;

static struct xs_handle *
xs_as(const char *sock)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, sock);
	setenv("XENSTORED_PATH", path, 1);
	return xs_open(0);
}

/* The next watch event for token, within ms. */
static char *
next_event(struct xs_handle *h, const char *token, int ms)
{
	struct pollfd p = { .fd = xs_fileno(h), .events = POLLIN };

	while (poll(&p, 1, ms) > 0) {
		unsigned int n;
		char **v = xs_read_watch(h, &n);
		char *path;

		if (v == NULL)
			return NULL;
		if (strcmp(v[XS_WATCH_TOKEN], token) != 0) {
			free(v);
			continue;
		}
		path = strdup(v[XS_WATCH_PATH]);
		free(v);
		return path;
	}
	return NULL;
}

/* The watches of a domain, from xnb-watches' per-connection counts. */
static unsigned long
watches(struct xs_handle *h, const char *domid)
{
	char *v = xs_control_command(h, "xnb-watches", (void *)domid, strlen(domid) + 1);
	unsigned long n = 0;
	char *p, *end;

	if (v == NULL)
		return (unsigned long)-1;
	for (p = v; *p != '\0'; p = end)
		n += strtoul(p, &end, 10);
	free(v);
	return n;
}

static int
run(const char *a, const char *b, const char *c, const char *d, const char *e)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execl(a, a, b, c, d, e, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
main(int argc, char **argv)
{
	struct xs_handle *a, *b, *w;
	xs_transaction_t t;
	char *v;
	unsigned int len;

	if (argc < 3)
		return 2;
	if (xnb_test_sim_start(&sim, argv[1], "test-xs") < 0)
		return 1;

	a = xs_as("xenstored.sock");
	b = xs_as("xenstored.sock");
	w = xs_as("xenstored.sock");
	CHECK(a != NULL && b != NULL && w != NULL, "xs_open: %s", strerror(errno));
	if (a == NULL || b == NULL || w == NULL)
		goto out;

	/* Watch: the initial fire, then a change below it. */
	CHECK(xs_watch(w, "/tool/t", "tok"), "watch");
	v = next_event(w, "tok", 2000);
	CHECK(v != NULL && strcmp(v, "/tool/t") == 0, "initial fire: %s", v ? v : "none");
	free(v);

	/* Commit. */
	t = xs_transaction_start(a);
	CHECK(xs_write(a, t, "/tool/t/k", "1", 1), "write in tx");
	v = xs_read(b, XBT_NULL, "/tool/t/k", &len);
	CHECK(v == NULL, "uncommitted write invisible to others");
	free(v);
	CHECK(xs_transaction_end(a, t, false), "commit");
	v = xs_read(b, XBT_NULL, "/tool/t/k", &len);
	CHECK(v != NULL && strcmp(v, "1") == 0, "committed write visible");
	free(v);
	v = next_event(w, "tok", 2000);
	CHECK(v != NULL && strcmp(v, "/tool/t/k") == 0, "watch fired at commit: %s",
	      v ? v : "none");
	free(v);

	/* Abort. */
	t = xs_transaction_start(a);
	xs_write(a, t, "/tool/t/k", "2", 1);
	CHECK(xs_transaction_end(a, t, true), "abort");
	v = xs_read(b, XBT_NULL, "/tool/t/k", &len);
	CHECK(v != NULL && strcmp(v, "1") == 0, "aborted write gone");
	free(v);

	/* Conflict: someone else writes meanwhile. */
	t = xs_transaction_start(a);
	v = xs_read(a, t, "/tool/t/k", &len);
	free(v);
	xs_write(a, t, "/tool/t/k", "3", 1);
	CHECK(xs_write(b, XBT_NULL, "/tool/t/k", "4", 1), "concurrent write");
	CHECK(!xs_transaction_end(a, t, false) && errno == EAGAIN,
	      "conflict gives EAGAIN (errno %d)", errno);
	v = xs_read(b, XBT_NULL, "/tool/t/k", &len);
	CHECK(v != NULL && strcmp(v, "4") == 0, "the other write stands");
	free(v);

	/* @releaseDomain when a domain is destroyed. */
	CHECK(xs_watch(w, "@releaseDomain", "rel"), "watch @releaseDomain");
	free(next_event(w, "rel", 2000));
	CHECK(run(argv[2], "--dir", dir, "create", "3") == 0, "create dom3");
	CHECK(run(argv[2], "--dir", dir, "destroy", "3") == 0, "destroy dom3");
	v = next_event(w, "rel", 2000);
	CHECK(v != NULL && strcmp(v, "@releaseDomain") == 0, "@releaseDomain fired");
	free(v);

	/*
	 * xnb-rm-after-read: the removal lands after the reply to the armed
	 * read and before the reader's next request, fires the watches, and
	 * happens once. Reads in a transaction and of other paths do not
	 * trigger it; a guest may not arm it.
	 */
	{
		static const char arm[] = "/tool/r/k\0/tool/r";
		struct xs_handle *g;

		CHECK(xs_write(a, XBT_NULL, "/tool/r/k", "1", 1), "write /tool/r/k");
		CHECK(xs_write(a, XBT_NULL, "/tool/r/m", "2", 1), "write /tool/r/m");
		CHECK(xs_watch(w, "/tool/r", "race"), "watch /tool/r");
		free(next_event(w, "race", 2000));
		v = xs_control_command(a, "xnb-rm-after-read", (void *)arm, sizeof(arm));
		CHECK(v != NULL, "arm: %s", strerror(errno));
		free(v);
		v = xs_read(b, XBT_NULL, "/tool/r/m", &len);
		CHECK(v != NULL, "another path's read does not trigger");
		free(v);
		t = xs_transaction_start(b);
		v = xs_read(b, t, "/tool/r/k", &len);
		CHECK(v != NULL, "read in a transaction");
		free(v);
		CHECK(xs_transaction_end(b, t, true), "abort the reading transaction");
		v = xs_read(b, XBT_NULL, "/tool/r/m", &len);
		CHECK(v != NULL, "a read in a transaction does not trigger");
		free(v);
		v = xs_read(b, XBT_NULL, "/tool/r/k", &len);
		CHECK(v != NULL && strcmp(v, "1") == 0, "the armed read is answered: %s",
		      v ? v : strerror(errno));
		free(v);
		v = xs_read(b, XBT_NULL, "/tool/r/m", &len);
		CHECK(v == NULL && errno == ENOENT, "removed before the next request");
		free(v);
		v = next_event(w, "race", 2000);
		CHECK(v != NULL && strcmp(v, "/tool/r") == 0, "the removal fired: %s",
		      v ? v : "none");
		free(v);
		CHECK(xs_write(a, XBT_NULL, "/tool/r/k", "3", 1), "write /tool/r/k again");
		v = xs_read(b, XBT_NULL, "/tool/r/k", &len);
		free(v);
		v = xs_read(b, XBT_NULL, "/tool/r/k", &len);
		CHECK(v != NULL && strcmp(v, "3") == 0, "armed once only");
		free(v);

		CHECK(run(argv[2], "--dir", dir, "create", "4") == 0, "create dom4");
		g = xs_as("xs-dom4.sock");
		CHECK(g != NULL, "open as dom4: %s", strerror(errno));
		if (g != NULL) {
			v = xs_control_command(g, "xnb-rm-after-read", (void *)arm,
					       sizeof(arm));
			CHECK(v == NULL && errno == EACCES, "a guest may not arm it");
			free(v);
			xs_close(g);
		}
		v = xs_read(b, XBT_NULL, "/tool/r/k", &len);
		free(v);
		v = xs_read(b, XBT_NULL, "/tool/r/k", &len);
		CHECK(v != NULL, "still there after the guest's try");
		free(v);
	}

	/*
	 * xnb-watches: what each connection of a domain holds (here w's three
	 * on dom0, a guest's own), dom0 may ask, a guest may not.
	 */
	{
		struct xs_handle *g = xs_as("xs-dom4.sock");

		CHECK(watches(a, "0") == 3, "dom0's watches: %lu", watches(a, "0"));
		CHECK(g != NULL && xs_watch(g, "/local/domain/4", "d4"), "dom4 watches");
		CHECK(watches(a, "4") == 1, "dom4's watches: %lu", watches(a, "4"));
		CHECK(xs_unwatch(w, "/tool/r", "race"), "unwatch /tool/r");
		CHECK(watches(a, "0") == 2, "dom0's after an unwatch: %lu", watches(a, "0"));
		if (g != NULL) {
			v = xs_control_command(g, "xnb-watches", "0", 2);
			CHECK(v == NULL && errno == EACCES, "a guest may not ask");
			free(v);
			xs_close(g);
		}
	}

	/* Garbage: an absurd length must cost the sender its connection only. */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		uint32_t junk[4] = { 2, 0, 0, 0x7fffffff };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/xenstored.sock", dir);
		CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect");
		CHECK(write(fd, junk, sizeof(junk)) == sizeof(junk), "send garbage");
		close(fd);
		usleep(100000);
		CHECK(xs_write(b, XBT_NULL, "/tool/alive", "y", 1), "server still serves");
	}
out:
	if (a)
		xs_close(a);
	if (b)
		xs_close(b);
	if (w)
		xs_close(w);
	if (xnb_test_sim_stop(&sim) < 0)
		xnb_failures++;
	if (xnb_failures) {
		printf("test_xs: %d failure(s)\n", xnb_failures);
		return 1;
	}
	printf("test_xs: all checks passed\n");
	return 0;
}
