// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Client side of the control socket: one request line, one JSON reply;
 * and what both sides need to speak it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * The length of the well-formed UTF-8 sequence at s, 0 if there is none
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 * A NUL ends any sequence, so s is never read past its end.
 */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned int cp, i, n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

json_t *ctl_json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, len = 0;
	json_t *j;
	char *t;

	if (!s)
		return json_null();
	/* Each byte that is not UTF-8 becomes three. */
	t = malloc(strlen(s) * 3 + 1);
	if (!t)
		return NULL;
	while (*p) {
		n = utf8_seq(p);
		if (n) {
			memcpy(t + len, p, n);
			p += n;
		} else {
			n = 3;
			memcpy(t + len, "\xef\xbf\xbd", n);
			p++;
		}
		len += n;
	}
	j = json_stringn(t, len);
	free(t);
	return j;
}

/* Replies grow with the policy ("stats" has an entry for every rule). */
#define CTL_REPLY_MAX (64U << 20)

/* Everything the other end sends until it closes; 0 or -errno. */
static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL, *nb;
	ssize_t r;
	int err = 0;

	for (;;) {
		if (cap - n < 4096) {
			if (cap >= CTL_REPLY_MAX) {
				err = -EMSGSIZE;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			err = -errno;
		if (r <= 0)
			break;
		n += r;
	}
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int ctl_request(const char *path, const char *req, json_t **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	char line[256], *buf = NULL;
	size_t len = 0;
	ssize_t sent;
	int fd, n, err;

	*reply = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	n = snprintf(line, sizeof(line), "%s\n", req);
	if (n < 0 || n >= (int)sizeof(line))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
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
	sent = send(fd, line, n, MSG_NOSIGNAL);
	if (sent != n) {
		err = sent < 0 ? -errno : -EIO;
		goto out;
	}
	shutdown(fd, SHUT_WR);
	err = read_all(fd, &buf, &len);
	if (err)
		goto out;
	*reply = json_loadb(buf, len, 0, NULL);
	if (!*reply)
		err = -EPROTO;
out:
	free(buf);
	close(fd);
	return err;
}
