// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * "attach --ingress tc": ingress is seen by the tc program on the clsact
 * ingress hook instead of XDP.  Counts are as exact as with XDP, no XDP
 * program is attached, and detach removes both filters, the clsact qdisc
 * it created, the programs and the pins.
 */
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "netns.h"
#include "test.h"

/* Echo replies come in: counted by the tc ingress program, exactly as
 * XDP would, with no XDP program on the interface. */
static void tci_counted(struct test_net *n)
{
	struct flowbpf_stats st;
	struct flowbpf_flow f;
	struct flowbpf_key k;
	__u32 xdp_id = 0;
	char *out = NULL;

	key_icmp4(&k, FLOWBPF_DIR_INGRESS, n->peer_ip, n->host_ip, 0, 0);
	if (ASSERT_OK(pinned_flow(n->host_if, &k, &f), "ingress reply flow")) {
		ASSERT_EQ(f.packets, 5, "ingress reply packets");
		ASSERT_EQ(f.bytes, 5 * 84, "ingress reply bytes");
	}
	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n->host_ip, n->peer_ip, 8, 0);
	if (ASSERT_OK(pinned_flow(n->host_if, &k, &f), "egress echo flow")) {
		ASSERT_EQ(f.packets, 5, "egress echo packets");
		ASSERT_EQ(f.bytes, 5 * 84, "egress echo bytes");
	}
	if (ASSERT_OK(pinned_stats(n->host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 0, "nothing dropped");
		ASSERT_EQ(st.c[FLOWBPF_STAT_FLOWS_CREATED], 2, "two flows");
	}

	ASSERT_FALSE(!bpf_xdp_query_id(n->host_ifindex, 0, &xdp_id) && xdp_id,
		     "no XDP program on the interface");
	run(&out, NULL, "tc filter show dev %s ingress", n->host_if);
	ASSERT_HAS(out, "handle 0xf10", "flowbpf filter on clsact ingress");
	free(out);
}

/* "status" names both tc programs, in JSON and in text; their ids in
 * *tci_id and *tce_id. */
static void tci_status(struct test_net *n, __u32 *tci_id, __u32 *tce_id)
{
	char *out = NULL;
	json_t *j, *it;
	int rc;

	rc = run_json(&j, "%s status -j %s", flowbpf_bin(), n->host_if);
	ASSERT_EQ(rc, 0, "status");
	it = json_array_get(json_object_get(j, "interfaces"), 0);
	ASSERT_STREQ(json_string_value(json_object_get(it, "ingress")), "tc",
		     "status ingress");
	ASSERT_EQ(json_integer_value(json_object_get(it, "xdp_prog_id")), 0,
		  "no xdp prog id");
	*tci_id = json_integer_value(json_object_get(it, "tc_ingress_prog_id"));
	*tce_id = json_integer_value(json_object_get(it, "tc_egress_prog_id"));
	ASSERT_TRUE(*tci_id && prog_exists(*tci_id), "tc ingress prog id");
	ASSERT_TRUE(*tce_id && prog_exists(*tce_id), "tc egress prog id");
	json_decref(j);
	run(&out, NULL, "%s status %s", flowbpf_bin(), n->host_if);
	ASSERT_HAS(out, "tc ingress prog id", "status text");
	free(out);
}

/* Detach removes both filters, the clsact qdisc, the programs and the
 * pins. */
static void tci_detach(struct test_net *n, __u32 tci_id, __u32 tce_id)
{
	char *out = NULL, path[128];

	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n->host_if),
		  "detach");
	flowbpf_pin_path(path, sizeof(path), n->host_if, -1);
	ASSERT_TRUE(access(path, F_OK), "pins gone");
	ASSERT_FALSE(tci_id && prog_exists(tci_id), "tc ingress program gone");
	ASSERT_FALSE(tce_id && prog_exists(tce_id), "tc egress program gone");
	run(&out, NULL,
	    "tc filter show dev %s ingress; tc filter show dev %s egress; tc qdisc show dev %s",
	    n->host_if, n->host_if, n->host_if);
	/* Every device has a root qdisc: no output means no answer. */
	ASSERT_HAS(out, "qdisc", "tc answered");
	ASSERT_FALSE(out && (strstr(out, "bpf") || strstr(out, "clsact")),
		     "no filter or clsact left");
	free(out);
}

static void subtest_ping_and_detach(void)
{
	__u32 tci_id = 0, tce_id = 0;
	struct test_net n;
	char *out = NULL;
	int rc;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	rc = run(&out, NULL, "%s -j attach %s --mode monitor --ingress tc",
		 flowbpf_bin(), n.host_if);
	if (!ASSERT_EQ(rc, 0, "attach --ingress tc"))
		goto out;
	ASSERT_HAS(out, "\"ingress\":\"tc\"", "attach json says tc");

	ASSERT_OK(run(NULL, NULL, "ping -c 5 -i 0.2 -W 2 -s 56 %s", n.peer_ip),
		  "ping");
	tci_counted(&n);
	tci_status(&n, &tci_id, &tce_id);
	tci_detach(&n, tci_id, tce_id);
out:
	free(out);
	net_cleanup(&n);
}

static void subtest_usage(void)
{
	char *out = NULL, *err = NULL;
	int rc;

	rc = run(&out, &err, "%s attach lo --ingress foo", flowbpf_bin());
	ASSERT_EQ(rc, 2, "bad --ingress is a usage error");
	ASSERT_HAS(err, "--ingress", "names the option");
	free(out), free(err), out = err = NULL;
	rc = run(&out, &err, "%s attach lo --ingress tc --xdp-mode generic",
		 flowbpf_bin());
	ASSERT_EQ(rc, 2, "--xdp-mode with --ingress tc is a usage error");
	ASSERT_HAS(err, "--xdp-mode", "names the option");
	free(out), free(err);
}

void test_tc_ingress(void)
{
	if (test__start_subtest("ping_and_detach"))
		subtest_ping_and_detach();
	if (test__start_subtest("usage"))
		subtest_usage();
}
