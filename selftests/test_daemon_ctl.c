// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon's control socket and its start-up against clients and
 * callers that misbehave: clients that leave early, say nothing or speak
 * slowly.  Most subtests share one attached interface and one daemon,
 * started on first use and again when a subtest left it dead.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <jansson.h>
#include "daemon.h"
#include "netns.h"
#include "test.h"

static struct {
	struct test_net n;
	struct test_daemon d;
	bool net_up, attached;
} fx = { .d = { .pid = -1 } };

/* The shared interface, attached, with a daemon answering on it. */
static bool fx_daemon(void)
{
	if (!fx.net_up) {
		if (!ASSERT_OK(net_setup(&fx.n), "net_setup"))
			return false;
		fx.net_up = true;
	}
	if (!fx.attached) {
		if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
				   fx.n.host_if),
			       "attach"))
			return false;
		fx.attached = true;
	}
	if (fx.d.pid > 0 && !waitpid(fx.d.pid, NULL, WNOHANG))
		return true;
	fx.d.pid = -1;
	return ASSERT_OK(test_daemon_start(&fx.d, "ctl", fx.n.host_if,
					   "default allow;\n"),
			 "daemon");
}

static void fx_end(void)
{
	test_daemon_cleanup(&fx.d);
	if (fx.net_up)
		net_cleanup(&fx.n);
	fx.net_up = fx.attached = false;
}

/* A connection to the control socket; fd or -errno. */
static int ctl_connect(const char *path, bool nonblock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* True if the shared daemon has not ended; reaps it if it has. */
static bool fx_alive(const char *what)
{
	int status = 0;
	pid_t r = fx.d.pid > 0 ? waitpid(fx.d.pid, &status, WNOHANG) : -1;

	if (r > 0) {
		fx.d.pid = -1;
		test__log("daemon ended: %s %d\n",
			  WIFSIGNALED(status) ? "signal" : "exit status",
			  WIFSIGNALED(status) ? WTERMSIG(status)
					      : WEXITSTATUS(status));
	}
	return ASSERT_EQ(r, 0, what);
}

/* Clients that connect and leave, or ask and leave before the answer. */
static void subtest_client_leaves(void)
{
	json_t *reply = NULL;
	int i, fd;

	if (!fx_daemon())
		return;
	for (i = 0; i < 20; i++) {
		fd = ctl_connect(fx.d.sock, false);
		if (fd >= 0)
			close(fd);
		fd = ctl_connect(fx.d.sock, false);
		if (fd >= 0) {
			send(fd, "stats\n", 6, MSG_NOSIGNAL);
			close(fd);
		}
	}
	usleep(300000);
	if (!fx_alive("daemon still runs"))
		return;
	ASSERT_OK(ctl_request(fx.d.sock, "stats", &reply), "and answers");
	json_decref(reply);
}

void test_daemon_ctl(void)
{
	if (test__start_subtest("client_leaves"))
		subtest_client_leaves();
	fx_end();
}
