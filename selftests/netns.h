/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test hosts: a network namespace per test, joined to the root namespace
 * by a veth pair.  flowbpf attaches to the root side ("host"), so its pins
 * live in the root namespace's bpffs; the peer side sits in the test's
 * namespace.  Addresses come from 198.18.0.0/15 (RFC 2544).
 */
#ifndef FLOWBPF_NETNS_H
#define FLOWBPF_NETNS_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>
#include <jansson.h>
#include "flowbpf.h"

/* The flags a whole TCP connection shows: SYN, ACK and FIN. */
#define TCP_SAF (FLOWBPF_TCP_SYN | FLOWBPF_TCP_ACK | FLOWBPF_TCP_FIN)

struct test_net {
	char ns[48];
	char host_if[IF_NAMESIZE];
	char peer_if[IF_NAMESIZE];
	char host_ip[20];
	char peer_ip[20];
	unsigned int host_ifindex;
};

/* Creates namespace, veth pair and addresses; 0 or -errno. */
int net_setup(struct test_net *n);
/* Detaches flowbpf if attached, deletes the veth and the namespace. */
void net_cleanup(struct test_net *n);
/* net_setup(), then "flowbpf attach" of its host side with opts (NULL:
 * none), asserted as "net_setup" and "attach": true when both worked.
 * net_cleanup() it either way. */
bool net_attach(struct test_net *n, const char *opts);

/* Runs a shell command; returns its exit status (or -1).  If out is not
 * NULL, stdout is captured into a malloc'ed string.  stderr is captured
 * too when errout is not NULL. */
int run(char **out, char **errout, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* run() of a command that prints JSON (flowbpf -j): its exit status, and
 * in *j its stdout parsed, or NULL when that is no JSON (an error exit
 * may still print {"error": ...}).  json_decref(*j). */
int run_json(json_t **j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The flowbpf binary next to the runner (.output/flowbpf). */
const char *flowbpf_bin(void);
/* Repository root (two levels above the runner). */
const char *repo_root(void);

/*
 * Runs fn(arg) in a child process that has joined namespace ns.  With
 * wait false it returns the child's pid at once (reap with ns_wait).
 * With wait true it returns fn's exit status.
 */
int ns_fork(const char *ns, int (*fn)(void *), void *arg, bool wait);
int ns_wait(int pid, int timeout_ms);

/* Looks up one flow (counters and verdict) in the pinned map of ifname;
 * 0 or -errno. */
int pinned_flow(const char *ifname, const struct flowbpf_key *k,
		struct flowbpf_flow *f);
/* Sums the pinned stats of ifname. */
int pinned_stats(const char *ifname, struct flowbpf_stats *s);
/* A key for IPv4 addresses given as text; ports in host order. */
void key4(struct flowbpf_key *k, __u8 dir, __u8 proto, const char *src,
	  __u16 sport, const char *dst, __u16 dport);
/* An ICMP(v4) key with type/code. */
void key_icmp4(struct flowbpf_key *k, __u8 dir, const char *src,
	       const char *dst, __u8 type, __u8 code);

/* A BPF program with this id is loaded. */
bool prog_exists(__u32 id);
/* Every key of a flow map, malloc'ed into *keys (free it), counted in *n;
 * all are read before the caller deletes any.  0 or -errno. */
int map_keys(int fd, struct flowbpf_key **keys, __u32 *n);
/* Deletes every entry of a flow map; 0 or -errno. */
int map_clear(int fd);

/* A port of 127.0.0.1 that nothing has bound for type (SOCK_DGRAM,
 * SOCK_STREAM) when asked, or -1. */
int free_port(int type);

/* A TCP socket of ip (IPv4) listening on port, SO_REUSEADDR; fd or -1. */
int tcp_listen(const char *ip, int port, int backlog);

/* A TCP connection to ip:port (IPv4) that completes within timeout_ms:
 * its (non-blocking) fd, or -errno (-ETIMEDOUT if it did not). */
int tcp_connect_wait(const char *ip, int port, int timeout_ms);

/* A server that server_start() runs in a test's namespace. */
struct test_srv {
	const char *ip; /* set by server_start(): the peer's address */
	int port;
	long want; /* tcp_sink(): the bytes it expects */
	int ready[2]; /* the server writes one byte here once it listens */
};
/* Forks fn(s) in n's namespace and returns its pid once it listens, or
 * -1.  Reap it with ns_wait(). */
int server_start(struct test_net *n, int (*fn)(void *), struct test_srv *s);
/* A server body: accepts one TCP connection on s->port, reads it to EOF;
 * exits 0 if s->want bytes came, 2 without a socket, 3 without a
 * connection, 4 if the count differs. */
int tcp_sink(void *arg);

/* A "flowbpf daemon" for one interface, on a socket of its own. */
struct test_daemon {
	char policy[64], sock[64], log[64];
	int pid;
};

/* Writes policy to a file of its own and starts the daemon on ifname;
 * returns once it answers on its control socket.  0 or -1. */
int test_daemon_start(struct test_daemon *d, const char *tag,
		      const char *ifname, const char *policy);
/* "flowbpf attach" of n's host side with attach_opts, then a daemon on
 * it with policy: the setup most enforce tests start from.  0, or -1 with
 * the step that failed logged. */
int test_attach_daemon(struct test_net *n, struct test_daemon *d,
		       const char *tag, const char *attach_opts,
		       const char *policy);
/* Rewrites the policy file (for reload tests). */
void test_daemon_policy(struct test_daemon *d, const char *policy);
/* Sends sig (SIGTERM, SIGKILL) and reaps it. */
void test_daemon_kill(struct test_daemon *d, int sig);
/* Stops it and removes its files; with -v, prints its log. */
void test_daemon_cleanup(struct test_daemon *d);

/* The row of "flowbpf -j quota" for quota name (test_quota.h's
 * quota_of()), asserted listed, blocked and used up to at least 1 MiB:
 * the row (json_decref() it) or NULL. */
json_t *test_quota_blocked(const char *dsn, const char *name);

#endif
