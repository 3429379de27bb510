/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef FLOWBPF_CLI_H
#define FLOWBPF_CLI_H

#include <stdbool.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/types.h>
#include "flowbpf.h"

/* Exit codes scripts can rely on. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1, /* the command ran and failed */
	EXIT_USAGE = 2, /* bad command line */
};

struct cli_env {
	bool json;
	bool pretty;
	int verbose;
	const char *socket; /* the daemon's control socket */
};
extern struct cli_env env;

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args; /* one-line argument synopsis */
	const char *summary; /* one line for the command list */
	const char *help; /* full --help text (options) */
};

/*
 * Parses a command's options.  Common options (-j, -p, -v, -h) are added
 * to longopts' handling here; returns the option char, -1 at the end, or
 * '?' after printing a usage error.
 */
int cli_getopt(int argc, char **argv, const struct option *longopts,
	       const char *shortopts);

/* Prints an error (text to stderr, or {"error": ...} to stdout) and
 * returns the exit code given. */
int cli_error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Usage error for the running command: message + hint to --help. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints --help for the running command; returns EXIT_OK. */
int cli_help(void);
struct param;
/* The same with the options of a table (params.h), and their defaults
 * as args holds them. */
int cli_help_params(const struct param *params, const void *args);
/* A command's sub-verb, as in bpftool's nested command tables:
 * "verdict set", "policy check". */
struct subcmd {
	const char *name;
	int (*fn)(int argc, char **argv, void *ctx);
};
/* Runs the sub-verb of tbl (ending with { NULL }) that argv[0] names,
 * with the rest of argv; a usage error if argv names none. */
int cli_subcmd(const struct subcmd *tbl, int argc, char **argv, void *ctx);

/* Dumps a JSON value (steals the reference) to stdout. */
void json_out(json_t *v);

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_verdict(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_report(int argc, char **argv); /* cmd_report.c */
int cmd_quota(int argc, char **argv); /* cmd_quota.c */
/* The collector's accounting of an interface for "stats" (cmd_collect.c). */
json_t *accounting_json(const char *ifname, int flows_fd, int stats_fd);
void accounting_print(const json_t *acct);
int cmd_daemon(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_top(int argc, char **argv);

/* What "flows" and "top" show of a flow (cmd_show.c). */
struct flow_row {
	struct flowbpf_key key;
	struct flowbpf_flow flow;
	__u64 first_ns, last_ns; /* the flow's ticks, CLOCK_MONOTONIC */
};
struct flow_cells {
	char proto[16], vlan[16], src[64], dst[64], pk[16], by[16], fl[8];
	char age[16], idle[16], tun[32];
};
/* The table cells of a flow, times relative to now (CLOCK_MONOTONIC). */
void flow_cells(const struct flow_row *r, __u64 now, struct flow_cells *c);
/* A flow as "flows -j" prints it. */
json_t *row_json(const struct flow_row *r);
/* The daemon's "stats" reply, or JSON null when none answers. */
json_t *daemon_json(void);

#endif
