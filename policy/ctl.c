// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Client side of the control socket: one request line, one JSON reply. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "daemon.h"

bool ctl_peer_is_root(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) &&
	       len == sizeof(cr) && cr.uid == 0;
}

int ctl_request(const char *path, const char *req, json_t **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	char buf[65536], line[256];
	size_t len = 0;
	ssize_t r;
	int fd, n, err = 0;

	*reply = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = snprintf(line, sizeof(line), "%s\n", req);
	if (n < 0 || n >= (int)sizeof(line)) {
		err = -EINVAL;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto out;
	}
	/* Only a daemon running as root is believed: anyone could have
	 * left a socket of their own at this path. */
	if (!ctl_peer_is_root(fd)) {
		err = -EPERM;
		goto out;
	}
	/* A daemon that goes away mid-request must not kill the caller. */
	if (send(fd, line, n, MSG_NOSIGNAL) != n) {
		err = errno ? -errno : -EIO;
		goto out;
	}
	shutdown(fd, SHUT_WR);
	while (len < sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	buf[len] = '\0';
	*reply = json_loads(buf, 0, NULL);
	if (!*reply)
		err = -EPROTO;
out:
	close(fd);
	return err;
}
