/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy daemon: consumes first-packet events, evaluates the policy,
 * writes verdicts; answers on a control socket.
 */
#ifndef FLOWBPF_DAEMON_H
#define FLOWBPF_DAEMON_H

#include <stdbool.h>
#include <jansson.h>

struct metrics_addr;

#define FLOWBPF_DEFAULT_SOCKET "/run/flowbpf/flowbpf.sock"

struct daemon_opts {
	const char *policy; /* policy file */
	char **ifaces; /* interfaces to serve; NULL/0: every attached */
	int nifaces;
	const char *socket; /* control socket path */
	const char *pidfile; /* NULL: none */
	const struct metrics_addr *metrics; /* NULL: no --metrics */
	const char *db; /* accounting store for quotas (docs/units.md) */
};

/*
 * Runs until SIGTERM/SIGINT.  0 on a clean exit, -errno otherwise.  For
 * the rest of the process SIGHUP, SIGINT and SIGTERM stay blocked (the
 * daemon reads them from a signalfd) and SIGPIPE ignored.
 */
int daemon_run(const struct daemon_opts *o);

/*
 * Sends one request ("stats", "reload") to a running daemon and returns
 * its JSON reply, of any size up to 64 MiB.  -ENOENT/-ECONNREFUSED when
 * none is running, -EPERM when what listens there does not run as root,
 * -EPROTO when the reply is not JSON.
 */
int ctl_request(const char *socket, const char *req, json_t **reply);

/*
 * A JSON string of s, which need not be UTF-8: interface names, rule names
 * and messages quoting a file are bytes.  Each byte that is not part of a
 * well-formed UTF-8 sequence becomes U+FFFD.  NULL only when out of memory.
 */
json_t *ctl_json_str(const char *s);

/* Whether the process at the other end of a connected unix socket runs
 * as root: each end of the control socket asks this of the other. */
bool ctl_peer_is_root(int fd);

#endif
