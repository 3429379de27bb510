// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The flowbpf command: errors are one line and a non-zero exit with
 * nothing half-attached left behind; JSON output parses and has the
 * documented keys; detach leaves no program, filter or pin.
 */
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>
#include <bpf/bpf.h>
#include "loader.h"
#include "netns.h"
#include "test.h"

static bool pins_exist(const char *ifname)
{
	char path[128];

	flowbpf_pin_path(path, sizeof(path), ifname, -1);
	return !access(path, F_OK);
}

static int line_count(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static void subtest_errors(void)
{
	char *out = NULL, *err = NULL;
	struct test_net n;
	json_t *j;
	int rc;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;

	rc = run(&out, &err, "%s attach fbt-no-such-if0", flowbpf_bin());
	ASSERT_EQ(rc, 1, "missing interface exit code");
	ASSERT_HAS(err, "no such interface", "missing interface message");
	ASSERT_EQ(line_count(err), 1, "one line");
	ASSERT_FALSE(pins_exist("fbt-no-such-if0"), "no pins");
	free(out), free(err), out = err = NULL;

	rc = run(&out, &err, "%s attach %s --mode foo", flowbpf_bin(),
		 n.host_if);
	ASSERT_EQ(rc, 2, "bad --mode is a usage error");
	ASSERT_HAS(err, "--mode", "names the option");
	free(out), free(err), out = err = NULL;

	rc = run(&out, &err, "%s attach %s --timeout -3", flowbpf_bin(),
		 n.host_if);
	ASSERT_EQ(rc, 2, "negative timeout");
	free(out), free(err), out = err = NULL;

	rc = run(&out, &err, "%s attach %s --flows 0", flowbpf_bin(),
		 n.host_if);
	ASSERT_EQ(rc, 2, "zero flows");
	free(out), free(err), out = err = NULL;

	rc = run(&out, &err, "%s bogus", flowbpf_bin());
	ASSERT_EQ(rc, 2, "unknown command");
	free(out), free(err), out = err = NULL;

	/* JSON mode: the error is a JSON object on stdout. */
	rc = run_json(&j, "%s -j attach fbt-no-such-if0", flowbpf_bin());
	ASSERT_EQ(rc, 1, "json error exit code");
	if (ASSERT_OK_PTR(j, "json error parses")) {
		ASSERT_HAS(json_string_value(json_object_get(j, "error")),
			   "no such interface", "json error text");
		json_decref(j);
	}

	/* Twice: the second attach fails and the first keeps working. */
	ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(), n.host_if),
		  "attach");
	rc = run(&out, &err, "%s attach %s --mode enforce", flowbpf_bin(),
		 n.host_if);
	ASSERT_EQ(rc, 1, "second attach fails");
	ASSERT_HAS(err, "already attached", "second attach message");
	free(out), free(err), out = err = NULL;
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 2 %s", n.peer_ip),
		  "still working");
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n.host_if),
		  "detach");
	rc = run(&out, &err, "%s detach %s", flowbpf_bin(), n.host_if);
	ASSERT_EQ(rc, 1, "detach twice fails");
	ASSERT_HAS(err, "not attached", "detach twice message");
	free(out), free(err), out = err = NULL;

	/* Not root: refused before touching anything. */
	rc = run(
		&out, &err,
		"setpriv --reuid=65534 --regid=65534 --clear-groups %s attach %s",
		flowbpf_bin(), n.host_if);
	ASSERT_EQ(rc, 1, "non-root exit code");
	ASSERT_HAS(err, "root", "non-root message");
	ASSERT_FALSE(pins_exist(n.host_if), "non-root left no pins");
	free(out), free(err);
	net_cleanup(&n);
}

/* A device without native XDP (ifb): a clear message and nothing left behind. */
static void subtest_no_native(void)
{
	char *out = NULL, *err = NULL, dev[IF_NAMESIZE];
	int rc;

	snprintf(dev, sizeof(dev), "fbt%dd", getpid() % 10000);
	if (!ASSERT_OK(run(NULL, NULL,
			   "ip link add %s type ifb && ip link set %s up", dev,
			   dev),
		       "ifb device"))
		return;
	rc = run(&out, &err, "%s attach %s", flowbpf_bin(), dev);
	ASSERT_EQ(rc, 1, "native attach fails");
	ASSERT_HAS(err, "--xdp-mode generic", "suggests generic");
	ASSERT_FALSE(pins_exist(dev), "no pins");
	free(out), free(err), out = err = NULL;
	rc = run(&out, NULL, "tc qdisc show dev %s", dev);
	/* Every device has a root qdisc: no output means no answer. */
	ASSERT_HAS(out, "qdisc", "tc answered");
	ASSERT_FALSE(out && strstr(out, "clsact"), "no clsact left");
	free(out), out = NULL;

	rc = run(&out, NULL, "%s -j attach %s --xdp-mode generic",
		 flowbpf_bin(), dev);
	ASSERT_EQ(rc, 0, "generic attach");
	ASSERT_HAS(out, "\"xdp_mode\":\"generic\"", "generic in json");
	free(out), out = NULL;
	rc = run(&out, NULL, "ip link show %s", dev);
	ASSERT_HAS(out, "xdpgeneric", "generic XDP on the device");
	free(out);
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), dev),
		  "detach");
	run(NULL, NULL, "ip link del %s", dev);
}

/* "status -j" of the attach below; the ids of its programs in *xdp_id
 * and *tc_id. */
static void cli_status(struct test_net *n, __u32 *xdp_id, __u32 *tc_id)
{
	json_t *j, *ifs, *it;
	int rc;

	rc = run_json(&j, "%s status -j %s", flowbpf_bin(), n->host_if);
	ASSERT_EQ(rc, 0, "status");
	ifs = json_object_get(j, "interfaces");
	if (ASSERT_EQ(json_array_size(ifs), 1, "one interface")) {
		it = json_array_get(ifs, 0);
		ASSERT_STREQ(json_string_value(json_object_get(it, "ifname")),
			     n->host_if, "ifname");
		ASSERT_STREQ(json_string_value(json_object_get(it, "mode")),
			     "enforce", "mode");
		ASSERT_EQ(json_integer_value(json_object_get(it, "timeout_ms")),
			  1500, "timeout_ms");
		ASSERT_EQ(json_integer_value(json_object_get(it, "flows_max")),
			  4096, "flows_max");
		ASSERT_EQ(json_integer_value(json_object_get(it, "flows")), 2,
			  "flows in use");
		*xdp_id =
			json_integer_value(json_object_get(it, "xdp_prog_id"));
		*tc_id = json_integer_value(
			json_object_get(it, "tc_egress_prog_id"));
		ASSERT_TRUE(*xdp_id && prog_exists(*xdp_id), "xdp prog id");
		ASSERT_TRUE(*tc_id && prog_exists(*tc_id), "tc prog id");
	}
	json_decref(j);
}

/* "flows -j" and "stats -j" of two pings, queued with no daemon. */
static void cli_flows_stats(struct test_net *n)
{
	json_t *j, *it, *flows;
	size_t i;
	int rc;

	rc = run_json(&j, "%s flows -j %s --sort packets", flowbpf_bin(),
		      n->host_if);
	ASSERT_EQ(rc, 0, "flows");
	flows = json_object_get(j, "flows");
	ASSERT_EQ(json_array_size(flows), 2, "two flows");
	json_array_foreach(flows, i, it) {
		ASSERT_EQ(json_integer_value(json_object_get(it, "packets")), 2,
			  "packets");
		ASSERT_EQ(json_integer_value(json_object_get(it, "bytes")), 168,
			  "bytes");
		ASSERT_STREQ(
			json_string_value(json_object_get(it, "proto_name")),
			"icmp", "proto");
		ASSERT_STREQ(json_string_value(json_object_get(it, "verdict")),
			     "queued", "verdict");
		ASSERT_TRUE(json_object_get(it, "icmp_type") &&
				    json_object_get(it, "first_seen_ms") &&
				    json_object_get(it, "flow"),
			    "keys");
	}
	json_decref(j);

	rc = run_json(&j, "%s stats -j %s", flowbpf_bin(), n->host_if);
	ASSERT_EQ(rc, 0, "stats");
	it = json_object_get(json_array_get(json_object_get(j, "interfaces"),
					    0),
			     "counters");
	ASSERT_EQ(json_integer_value(json_object_get(it, "flows_created")), 2,
		  "flows_created");
	ASSERT_EQ(
		json_integer_value(json_object_get(it, "queued_pass_packets")),
		4, "queued_pass_packets");
	ASSERT_EQ(json_integer_value(json_object_get(
			  json_object_get(j, "total"), "queued_pass_packets")),
		  4, "total");
	json_decref(j);
}

/* Detach leaves no pin, program, tc filter, clsact or XDP, and traffic
 * flows on. */
static void cli_detach(struct test_net *n, __u32 xdp_id, __u32 tc_id)
{
	char *out = NULL;

	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n->host_if),
		  "detach");
	ASSERT_FALSE(pins_exist(n->host_if), "pins gone");
	ASSERT_FALSE(xdp_id && prog_exists(xdp_id), "xdp program gone");
	ASSERT_FALSE(tc_id && prog_exists(tc_id), "tc program gone");
	run(&out, NULL, "tc filter show dev %s egress; tc qdisc show dev %s",
	    n->host_if, n->host_if);
	ASSERT_HAS(out, "qdisc", "tc answered");
	ASSERT_FALSE(out && (strstr(out, "bpf") || strstr(out, "clsact")),
		     "no tc filter or clsact");
	free(out), out = NULL;
	run(&out, NULL, "ip link show %s", n->host_if);
	ASSERT_HAS(out, n->host_if, "ip answered");
	ASSERT_FALSE(out && strstr(out, "xdp"), "no XDP on the link");
	free(out);
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 2 %s", n->peer_ip),
		  "traffic after detach");
}

static void subtest_json_and_detach(void)
{
	char *out = NULL, path[256];
	__u32 xdp_id = 0, tc_id = 0;
	struct test_net n;
	int rc;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"%s attach %s --mode enforce --flows 4096 --timeout 1500ms",
			flowbpf_bin(), n.host_if),
		    "attach"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 2 -i 0.2 -W 2 %s", n.peer_ip),
		  "ping");
	cli_status(&n, &xdp_id, &tc_id);
	cli_flows_stats(&n);

	/* The pinned map prints field names: its BTF came along. */
	flowbpf_pin_path(path, sizeof(path), n.host_if, FB_MAP_FLOWS);
	rc = run(&out, NULL, "bpftool map dump pinned %s", path);
	ASSERT_EQ(rc, 0, "bpftool dump");
	ASSERT_HAS(out, "\"tcp_flags\"", "BTF field names");

	/* Every command answers --help. */
	ASSERT_OK(
		run(NULL, NULL,
		    "for c in attach detach status flows stats verdict daemon reload policy collect; do %s $c --help | grep -q Usage || exit 1; done",
		    flowbpf_bin()),
		"--help");
	cli_detach(&n, xdp_id, tc_id);
out:
	free(out);
	net_cleanup(&n);
}

/* A clsact qdisc that was there before attach survives detach. */
static void subtest_foreign_clsact(void)
{
	struct test_net n;
	char *out = NULL;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	ASSERT_OK(run(NULL, NULL, "tc qdisc add dev %s clsact", n.host_if),
		  "clsact");
	ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(), n.host_if),
		  "attach");
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n.host_if),
		  "detach");
	run(&out, NULL, "tc qdisc show dev %s", n.host_if);
	ASSERT_HAS(out, "clsact", "clsact kept");
	free(out);
	net_cleanup(&n);
}

void test_cli(void)
{
	if (test__start_subtest("errors"))
		subtest_errors();
	if (test__start_subtest("no_native_xdp"))
		subtest_no_native();
	if (test__start_subtest("json_and_detach"))
		subtest_json_and_detach();
	if (test__start_subtest("foreign_clsact"))
		subtest_foreign_clsact();
}
