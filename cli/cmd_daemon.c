// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* daemon, reload and policy commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "acct.h"
#include "cli.h"
#include "daemon.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "params.h"
#include "policy.h"

struct daemon_args {
	struct daemon_opts o;
	const char *metrics; /* ADDR:PORT */
};

static const struct param daemon_params[] = {
	{ "config", 'c', P_STR, PARAM_FIELD(struct daemon_args, o.policy),
	  .arg = "FILE", .help = "the policy (see docs/policy.md)" },
	{ "pidfile", 0, P_STR, PARAM_FIELD(struct daemon_args, o.pidfile),
	  .arg = "FILE", .help = "write the daemon's pid there" },
	{ "metrics", 0, P_STR, PARAM_FIELD(struct daemon_args, metrics),
	  .arg = "ADDR:PORT",
	  .help = "serve Prometheus metrics on http://ADDR:PORT/metrics (datapath counters, decisions, rule hits; docs/metrics.md)" },
	{ "db", 0, P_STR, PARAM_FIELD(struct daemon_args, o.db), .arg = "DSN",
	  .help = "enforce the policy's quotas from this accounting store",
	  .dflt = "no quotas" },
	{},
};

int cmd_daemon(int argc, char **argv)
{
	struct daemon_args a = {};
	struct daemon_opts *o = &a.o;
	struct metrics_addr ma;
	int err, ret;

	if (!PARAMS_PARSE(daemon_params, &a, argc, argv, NULL, &ret))
		return ret;
	if (a.metrics) {
		if (metrics_addr_parse(a.metrics, &ma))
			return cli_usage_error("%s", err_get());
		o->metrics = &ma;
	}
	if (!o->policy)
		return cli_usage_error("daemon needs a policy file (-c FILE)");
	o->socket = env.socket;
	o->ifaces = argv + optind;
	o->nifaces = argc - optind;
	/* A daemon tells what it does; -v adds every decision. */
	if (log_level() < LOG_INFO)
		log_setup(LOG_INFO);
	err = daemon_run(o);
	if (err)
		return cli_error(EXIT_FAIL, "%s", err_get());
	return EXIT_OK;
}

int cmd_reload(int argc, char **argv)
{
	json_t *reply = NULL;
	const char *msg;
	int err, ret;

	if (!PARAMS_NONE(argc, argv, &ret))
		return ret;
	if (optind != argc)
		return cli_usage_error("reload takes no arguments");
	err = ctl_request(env.socket, "reload", &reply);
	if (err)
		return cli_error(EXIT_FAIL, "no daemon answers on %s: %s",
				 env.socket, strerror(-err));
	msg = json_string_value(json_object_get(reply, "error"));
	if (msg) {
		ret = cli_error(EXIT_FAIL,
				"reload failed, the old policy stays: %s", msg);
		json_decref(reply);
		return ret;
	}
	if (env.json)
		json_out(reply);
	else {
		printf("%s\n",
		       json_string_value(json_object_get(reply, "message")));
		json_decref(reply);
	}
	return EXIT_OK;
}

static int policy_check(const char *file)
{
	struct policy *p;
	size_t i, prefixes = 0;

	p = policy_load(file);
	if (!p)
		return cli_error(EXIT_FAIL, "%s", err_get());
	for (i = 0; i < p->nunits; i++)
		prefixes += p->units[i].prefixes;
	if (env.json) {
		json_t *o = json_pack("{s:o, s:b, s:I, s:I, s:I, s:s}", "file",
				      ctl_json_str(file), "valid", 1, "units",
				      (json_int_t)p->nunits, "prefixes",
				      (json_int_t)prefixes, "rules",
				      (json_int_t)p->nrules, "default",
				      verdict_name(p->dflt));

		if (p->nacct)
			json_object_update_missing_new(
				o, json_pack("{s:I, s:I, s:I}", "accounted",
					     (json_int_t)p->nacct, "classes",
					     (json_int_t)p->nclasses, "quotas",
					     (json_int_t)p->nquotas));
		json_out(o);
	} else {
		printf("%s: ok: %zu units (%zu prefixes), %zu rules, default %s",
		       file, p->nunits, prefixes, p->nrules,
		       verdict_name(p->dflt));
		if (p->nacct)
			printf("; %zu units accounted, %zu classes, %zu quotas",
			       p->nacct, p->nclasses, p->nquotas);
		printf("\n");
	}
	policy_free(p);
	return EXIT_OK;
}

/* "HH:MM" or "DAY HH:MM" (e.g. "sat 10:00") for policy test --time. */
static int parse_when(const char *s, struct tm *tm)
{
	static const char *const days[] = { "sun", "mon", "tue", "wed",
					    "thu", "fri", "sat" };
	int h, m, i, n = 0;

	for (i = 0; i < 7; i++) {
		if (!strncmp(s, days[i], 3) && s[3] == ' ') {
			tm->tm_wday = i;
			s += 4;
			break;
		}
	}
	if (sscanf(s, "%d:%d%n", &h, &m, &n) != 2 || s[n] || h < 0 || h > 23 ||
	    m < 0 || m > 59)
		return -EINVAL;
	tm->tm_hour = h;
	tm->tm_min = m;
	return 0;
}

/* Calls fn for every accounted unit, direction and class k counts for. */
static void accounted_each(const struct policy *p, const struct flowbpf_key *k,
			   void (*fn)(void *, const char *, const char *,
				      const char *),
			   void *ctx)
{
	size_t i;
	int side;

	for (i = 0; i < p->nacct; i++) {
		const struct unit *u = &p->units[p->acct_units[i]];

		for (side = 1; side >= 0; side--)
			if (addrset_contains(&u->set, k->family,
					     key_addr128(k, side)))
				fn(ctx, u->name, side ? "out" : "in",
				   acct_class_name(p,
						   acct_class_of(p, k, side)));
	}
}

static void acct_json_one(void *ctx, const char *unit, const char *dir,
			  const char *cls)
{
	json_array_append_new(ctx, json_pack("{s:s, s:s, s:s}", "unit", unit,
					     "dir", dir, "class", cls));
}

static json_t *accounted_json(const struct policy *p,
			      const struct flowbpf_key *k)
{
	json_t *a = json_array();

	accounted_each(p, k, acct_json_one, a);
	return a;
}

static void acct_print_one(void *ctx, const char *unit, const char *dir,
			   const char *cls)
{
	printf("  accounted: unit %s %s class %s\n", unit, dir, cls);
	(*(int *)ctx)++;
}

static void accounted_print(const struct policy *p, const struct flowbpf_key *k)
{
	int n = 0;

	accounted_each(p, k, acct_print_one, &n);
	if (!n)
		printf("  accounted: no accounted unit\n");
}

struct policy_args {
	const char *iface; /* policy test --iface */
	const char *when; /* policy test --time */
};

static int policy_test(const char *file, int argc, char **argv,
		       const struct policy_args *a)
{
	const char *when = a->when;
	struct flow_ctx c = { .ifname = a->iface };
	struct flowbpf_key k;
	struct policy *p;
	char spec[160];
	time_t t = time(NULL);
	int rule, ret = EXIT_OK;
	__u32 v;

	if (flow_spec_parse(argc, argv, &k))
		return cli_usage_error(
			"cannot parse the flow; expected: in|out PROTO SRC[:PORT] DST[:PORT] [type T code C] [vlan V] [ivlan V]");
	localtime_r(&t, &c.now);
	if (when && parse_when(when, &c.now))
		return cli_usage_error(
			"--time must be HH:MM or DAY HH:MM (e.g. 'sat 10:00'), not '%s'",
			when);
	p = policy_load(file);
	if (!p)
		return cli_error(EXIT_FAIL, "%s", err_get());
	rule = policy_match(p, &k, &c);
	v = policy_verdict(p, rule);
	flow_spec_str(&k, spec, sizeof(spec));
	if (env.json) {
		json_t *o = json_pack("{s:s, s:s}", "flow", spec, "verdict",
				      verdict_name(v));

		if (p->nacct)
			json_object_set_new(o, "accounted",
					    accounted_json(p, &k));
		if (rule >= 0) {
			json_object_set_new(o, "rule", json_integer(rule));
			json_object_set_new(o, "rule_name",
					    ctl_json_str(p->rules[rule].name));
			json_object_set_new(o, "line",
					    json_integer(p->rules[rule].line));
		} else {
			json_object_set_new(o, "rule", json_null());
		}
		json_out(o);
	} else if (rule >= 0) {
		printf("%s: rule %d%s%s%s (%s line %d): %s\n", spec, rule + 1,
		       p->rules[rule].name[0] ? " \"" : "", p->rules[rule].name,
		       p->rules[rule].name[0] ? "\"" : "", file,
		       p->rules[rule].line,
		       v == FLOWBPF_VERDICT_PASS ? "allow" : "deny");
	} else {
		printf("%s: no rule matches: default %s\n", spec,
		       v == FLOWBPF_VERDICT_PASS ? "allow" : "deny");
	}
	if (p->nacct && !env.json)
		accounted_print(p, &k);
	policy_free(p);
	return ret;
}

static int sub_check(int argc, char **argv, void *ctx)
{
	if (argc != 1)
		return cli_usage_error("policy check takes one file");
	return policy_check(argv[0]);
}

static int sub_test(int argc, char **argv, void *ctx)
{
	if (argc < 2)
		return cli_usage_error("policy test needs a file and a flow");
	return policy_test(argv[0], argc - 1, argv + 1, ctx);
}

static const struct subcmd policy_cmds[] = {
	{ "check", sub_check },
	{ "test", sub_test },
	{},
};

static const struct param policy_params[] = {
	{ "iface", 0, P_STR, PARAM_FIELD(struct policy_args, iface),
	  .arg = "NAME",
	  .help = "test: the interface the flow is on (for 'iface' matches)" },
	{ "time", 0, P_STR, PARAM_FIELD(struct policy_args, when),
	  .arg = "WHEN",
	  .help = "test: evaluate at HH:MM or 'DAY HH:MM' instead of now" },
	{},
};

int cmd_policy(int argc, char **argv)
{
	struct policy_args a = {};
	int ret;

	if (!PARAMS_PARSE(policy_params, &a, argc, argv, NULL, &ret))
		return ret;
	return cli_subcmd(policy_cmds, argc - optind, argv + optind, &a);
}
