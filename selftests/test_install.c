// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Installing flowbpf as a system tool: "make install" lays out exactly
 * the expected files under DESTDIR and PREFIX (and "make uninstall" takes
 * them away) without writing into the tree; systemd accepts the units,
 * orders attach before the daemon and the collector, and the capabilities
 * it gives them are enough for attach, the daemon (holding and
 * re-injecting packets) and the collector on this kernel; the man page
 * renders without a warning and documents every command and option the
 * program's --help lists; the bash completion answers.
 *
 * The tree may be read-only (the VM): make only copies what is built.
 */
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <jansson.h>
#include "netns.h"
#include "test.h"
#include "test_collect.h"
#include "collect.h"

static const struct {
	const char *path;
	mode_t mode;
} layout[] = {
	{ "usr/sbin/flowbpf", 0755 },
	{ "usr/share/man/man8/flowbpf.8", 0644 },
	{ "usr/share/bash-completion/completions/flowbpf", 0644 },
	{ "usr/lib/systemd/system/flowbpf-attach@.service", 0644 },
	{ "usr/lib/systemd/system/flowbpf-daemon.service", 0644 },
	{ "usr/lib/systemd/system/flowbpf-collect@.service", 0644 },
	{ "usr/share/doc/flowbpf/README.md", 0644 },
	{ "usr/share/doc/flowbpf/policy.md", 0644 },
	{ "usr/share/doc/flowbpf/accounting.md", 0644 },
	{ "usr/share/doc/flowbpf/maps.md", 0644 },
	{ "usr/share/doc/flowbpf/examples/policy.conf", 0644 },
	{ "usr/share/doc/flowbpf/examples/flowbpf.default", 0644 },
};

#define NLAYOUT (sizeof(layout) / sizeof(layout[0]))

static const char *const units[] = { "flowbpf-attach@.service",
				     "flowbpf-daemon.service",
				     "flowbpf-collect@.service" };

/* What the nftw() callback compares the tree with. */
static struct {
	size_t root_len;
	int files, unexpected, bad_mode;
	bool seen[NLAYOUT];
} walk;

static int walk_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	const char *rel = path + walk.root_len + 1;
	size_t i;

	if (type == FTW_D || type == FTW_DP)
		return 0;
	walk.files++;
	for (i = 0; i < NLAYOUT; i++) {
		if (strcmp(rel, layout[i].path))
			continue;
		walk.seen[i] = true;
		if (type != FTW_F || (st->st_mode & 07777) != layout[i].mode) {
			test__log("%s: mode %o, expected %o\n", rel,
				  st->st_mode & 07777, layout[i].mode);
			walk.bad_mode++;
		}
		return 0;
	}
	fprintf(stderr, "unexpected file in the installed tree: %s\n", rel);
	walk.unexpected++;
	return 0;
}

static int tree_walk(const char *root)
{
	memset(&walk, 0, sizeof(walk));
	walk.root_len = strlen(root);
	return nftw(root, walk_one, 16, FTW_PHYS);
}

static bool make_tmp(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/fbt-install.XXXXXX");
	return mkdtemp(dir) != NULL;
}

static void rm_tmp(const char *dir)
{
	if (dir[0])
		run(NULL, NULL, "rm -rf '%s'", dir);
}

/* make in the repository; args say where to. */
static int make_install(const char *target, const char *args)
{
	char *err = NULL;
	int rc;

	rc = run(NULL, &err, "make -s --no-print-directory -C '%s' %s %s",
		 repo_root(), target, args);
	if (rc)
		fprintf(stderr, "make %s %s: %s", target, args, err ? err : "");
	free(err);
	return rc;
}

static long mtime_of(const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", repo_root(), rel);
	return stat(path, &st) ? -1
			       : (long)st.st_mtim.tv_sec * 1000000000L +
					 st.st_mtim.tv_nsec;
}

static bool file_has(const char *path, const char *needle)
{
	char *out = NULL;
	bool has;

	run(&out, NULL, "cat '%s'", path);
	has = out && strstr(out, needle);
	free(out);
	return has;
}

static void check_units(const char *unitdir, const char *sbindir)
{
	char path[PATH_MAX], exec[PATH_MAX + 32];
	size_t i;

	snprintf(exec, sizeof(exec), "ExecStart=%s/flowbpf ", sbindir);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", unitdir, units[i]);
		ASSERT_TRUE(file_has(path, exec), units[i]);
		ASSERT_FALSE(file_has(path, "@sbindir@") ||
				     file_has(path, "@sysconfdir@"),
			     "no placeholder left");
	}
}

static void subtest_layout(void)
{
	char tmp[64] = "", root[128], args[512], *out = NULL;
	long bin_t = mtime_of(".output/flowbpf");
	long man_t = mtime_of(".output/flowbpf.8");
	size_t i;

	if (!ASSERT_TRUE(make_tmp(tmp, sizeof(tmp)), "mkdtemp"))
		return;
	snprintf(root, sizeof(root), "%s/root", tmp);
	snprintf(args, sizeof(args), "DESTDIR=%s PREFIX=/usr", root);
	if (!ASSERT_OK(make_install("install", args), "make install"))
		goto out;
	ASSERT_OK(tree_walk(root), "walk");
	ASSERT_EQ(walk.files, (int)NLAYOUT, "files installed");
	ASSERT_EQ(walk.unexpected, 0, "no other file");
	ASSERT_EQ(walk.bad_mode, 0, "modes");
	for (i = 0; i < NLAYOUT; i++)
		if (!walk.seen[i])
			fprintf(stderr, "not installed: %s\n", layout[i].path);
	/* Nothing was built again: install only copies. */
	ASSERT_EQ(mtime_of(".output/flowbpf"), bin_t, "binary untouched");
	ASSERT_EQ(mtime_of(".output/flowbpf.8"), man_t, "man page untouched");
	snprintf(args, sizeof(args), "%s/usr/lib/systemd/system", root);
	check_units(args, "/usr/sbin");

	if (ASSERT_OK(run(&out, NULL, "'%s/usr/sbin/flowbpf' --version", root),
		      "installed binary runs")) {
		ASSERT_HAS(out, "flowbpf ", "--version");
		snprintf(args, sizeof(args), "%s/usr/share/man/man8/flowbpf.8",
			 root);
		/* .TH ... "flowbpf VERSION": the page is of this program. */
		out[strcspn(out, "\n")] = '\0';
		ASSERT_TRUE(file_has(args, out), "man page of this version");
	}

	snprintf(args, sizeof(args), "DESTDIR=%s PREFIX=/usr", root);
	if (ASSERT_OK(make_install("uninstall", args), "make uninstall")) {
		tree_walk(root);
		ASSERT_EQ(walk.files, 0, "uninstall leaves no file");
	}

	/* The default PREFIX, and a unit directory of one's own. */
	snprintf(root, sizeof(root), "%s/local", tmp);
	snprintf(args, sizeof(args), "DESTDIR=%s unitdir=/lib/systemd/system",
		 root);
	if (ASSERT_OK(make_install("install", args), "make install unitdir")) {
		snprintf(args, sizeof(args), "%s/usr/local/sbin/flowbpf", root);
		ASSERT_OK(access(args, X_OK), "PREFIX defaults to /usr/local");
		snprintf(args, sizeof(args), "%s/lib/systemd/system", root);
		check_units(args, "/usr/local/sbin");
	}
out:
	free(out);
	rm_tmp(tmp);
}

/*
 * Installs with PREFIX=tmp (so that the units' ExecStart exists) and runs
 * systemd-analyze verify on the units of interface ifname, its messages
 * in *out; with dump, at debug level, which adds systemd's reading of
 * each unit.
 */
static int verify_units(const char *tmp, const char *ifname, bool dump,
			char **out)
{
	char args[256];
	int rc;

	snprintf(args, sizeof(args), "PREFIX=%s/p", tmp);
	rc = make_install("install", args);
	if (rc)
		return rc;
	return run(out, NULL,
		   "cd '%s/p/lib/systemd/system' && MANPATH='%s/p/share/man' "
		   "%s systemd-analyze verify flowbpf-attach@%s.service "
		   "flowbpf-daemon.service flowbpf-collect@%s.service 2>&1",
		   tmp, tmp, dump ? "SYSTEMD_LOG_LEVEL=debug" : "", ifname,
		   ifname);
}

/* The lines of the dump of unit name, up to the next unit's. */
static char *unit_dump(const char *all, const char *name)
{
	char head[128];
	const char *s, *e;

	snprintf(head, sizeof(head), "-> Unit %s:\n", name);
	s = all ? strstr(all, head) : NULL;
	if (!s)
		return NULL;
	e = strstr(s + strlen(head), "-> Unit ");
	return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

static bool dump_has(const char *all, const char *unit, const char *line)
{
	char *d = unit_dump(all, unit);
	char want[256];
	bool has;

	snprintf(want, sizeof(want), "\t%s", line);
	has = d && strstr(d, want);
	if (!has)
		fprintf(stderr, "%s: no '%s' in systemd's reading\n", unit,
			line);
	free(d);
	return has;
}

/*
 * The capability bounding set systemd reads from a unit, as setpriv's
 * --bounding-set argument: "-all,+bpf,+net_admin".
 */
static int unit_caps(const char *all, const char *unit, char *buf, size_t len)
{
	char *d = unit_dump(all, unit), *line, *tok, *save;
	size_t n;

	line = d ? strstr(d, "\tCapabilityBoundingSet: ") : NULL;
	if (!line) {
		free(d);
		return -ENOENT;
	}
	line += strlen("\tCapabilityBoundingSet: ");
	line[strcspn(line, "\n")] = '\0';
	n = snprintf(buf, len, "-all");
	for (tok = strtok_r(line, " ", &save); tok && n < len;
	     tok = strtok_r(NULL, " ", &save))
		n += snprintf(buf + n, len - n, ",+%s",
			      strncmp(tok, "cap_", 4) ? tok : tok + 4);
	free(d);
	return 0;
}

static bool have_systemd_analyze(void)
{
	if (have_tool("systemd-analyze"))
		return true;
	test__skip(
		"systemd-analyze not installed (scripts/deps.sh installs systemd)");
	return false;
}

static void subtest_units(void)
{
	char tmp[64] = "", *err = NULL, caps[128];
	const char *a = "flowbpf-attach@fbt0.service";
	const char *c = "flowbpf-collect@fbt0.service";
	const char *d = "flowbpf-daemon.service";
	size_t i;

	if (!have_systemd_analyze() ||
	    !ASSERT_TRUE(make_tmp(tmp, sizeof(tmp)), "mkdtemp"))
		return;
	/* No warning either: an unknown key is only warned about. */
	if (ASSERT_OK(verify_units(tmp, "fbt0", false, &err), "verify"))
		ASSERT_STREQ(err, "", "verify says nothing");
	free(err), err = NULL;
	if (!ASSERT_OK(verify_units(tmp, "fbt0", true, &err), "verify dump"))
		goto out;

	ASSERT_TRUE(dump_has(err, a, "Type: oneshot"), "attach oneshot");
	ASSERT_TRUE(dump_has(err, a, "RemainAfterExit: yes"), "remains");
	ASSERT_TRUE(dump_has(err, a, "Before: flowbpf-daemon.service"),
		    "attach before daemon");
	ASSERT_TRUE(dump_has(err, d, "After: flowbpf-attach@fbt0.service"),
		    "daemon after attach");
	ASSERT_TRUE(dump_has(err, c, "BindsTo: flowbpf-attach@fbt0.service"),
		    "collector bound to attach");
	ASSERT_TRUE(dump_has(err, c, "After: flowbpf-attach@fbt0.service"),
		    "collector after attach");
	ASSERT_TRUE(dump_has(err, d, "Restart: on-failure"), "daemon restart");
	ASSERT_TRUE(dump_has(err, c, "Restart: on-failure"), "collect restart");
	ASSERT_TRUE(dump_has(err, c, "RuntimeDirectoryPreserve: yes"),
		    "collector state outlives a restart");
	ASSERT_TRUE(dump_has(err, c, "RuntimeDirectory: flowbpf"),
		    "collector state directory");
	ASSERT_TRUE(dump_has(err, d, "RuntimeDirectory: flowbpf"),
		    "control socket directory");
	for (i = 0; i < 3; i++) {
		const char *u = i == 0 ? a : i == 1 ? d : c;

		ASSERT_TRUE(dump_has(err, u, "ProtectSystem: strict"), u);
		/* What the sandbox of install/capabilities leaves writable. */
		ASSERT_TRUE(dump_has(err, u, "ReadWritePaths: /sys/fs/bpf\n"),
			    u);
		ASSERT_TRUE(dump_has(err, u, "ProtectKernelTunables: yes"), u);
		ASSERT_TRUE(dump_has(err, u, "ProtectHome: yes"), u);
		ASSERT_TRUE(dump_has(err, u, "PrivateTmp: yes"), u);
		ASSERT_TRUE(dump_has(err, u, "MemoryDenyWriteExecute: yes"), u);
		ASSERT_TRUE(dump_has(err, u, "LockPersonality: yes"), u);
		ASSERT_TRUE(dump_has(err, u, "SystemCallArchitectures: native"),
			    u);
		if (ASSERT_OK(unit_caps(err, u, caps, sizeof(caps)), u)) {
			ASSERT_FALSE(strstr(caps, "sys_admin"),
				     "no CAP_SYS_ADMIN");
			ASSERT_HAS(caps, "+bpf", "CAP_BPF");
		}
	}
out:
	free(err);
	rm_tmp(tmp);
}

struct capped {
	char tmp[64];
	char attach[128], daemon[128], collect[128];
	char sock[128], log[128], clog[128], records[128];
	pid_t dpid, cpid;
};

/*
 * What the units' sandbox leaves a command, in a mount namespace of its
 * own: every file system read-only (ProtectSystem=strict,
 * ProtectKernelTunables=yes) but /sys/fs/bpf and the directories in $1
 * (ReadWritePaths=, RuntimeDirectory=, LogsDirectory=), and the bounding
 * set $2 (CapabilityBoundingSet=).
 */
static const char sandbox_sh[] =
	"rw=$1 caps=$2; shift 2\n"
	"for m in $(findmnt -R -n -l -o TARGET /); do\n"
	"	case $m in /proc|/proc/*|/dev|/dev/*) ;;\n"
	"	*) mount -o bind,remount,ro \"$m\" 2>/dev/null ;; esac\n"
	"done\n"
	"for d in /sys/fs/bpf $rw; do\n"
	"	mount --bind \"$d\" \"$d\" && mount -o bind,remount,rw \"$d\" || exit 1\n"
	"done\n"
	"exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=\"$caps\" -- \"$@\"\n";

/* The prefix that runs a command as a unit with capabilities caps would. */
static const char *as_unit(const struct capped *c, const char *caps)
{
	static char buf[2][512];
	static int i;

	i ^= 1;
	snprintf(buf[i], sizeof(buf[i]),
		 "unshare -m --propagation private sh %s/sandbox.sh "
		 "'%s " COLLECT_STATE_DIR "' %s",
		 c->tmp, c->tmp, caps);
	return buf[i];
}

static pid_t spawn_capped(const struct capped *c, const char *caps,
			  const char *cmd, const char *log)
{
	return spawn("exec %s %s 2>%s", as_unit(c, caps), cmd, log);
}

static json_int_t daemon_num(const char *sock, const char *ifname,
			     const char *obj, const char *key)
{
	char *out = NULL;
	json_int_t v = -1;
	json_t *j, *o;

	if (run(&out, NULL, "%s --socket %s -j stats %s", flowbpf_bin(), sock,
		ifname))
		goto out;
	j = json_loads(out, 0, NULL);
	o = json_object_get(j, "daemon");
	if (obj)
		o = json_object_get(o, obj);
	if (json_is_integer(json_object_get(o, key)))
		v = json_integer_value(json_object_get(o, key));
	json_decref(j);
out:
	free(out);
	return v;
}

/* Two datagrams to port 9 of the peer, from two ports: two flows. */
static void send_discard(const char *peer)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	int i, fd;

	inet_pton(AF_INET, peer, &sa.sin_addr);
	for (i = 0; i < 2; i++) {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			continue;
		sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
	}
}

/* Writes the sandbox, and checks that it leaves only what it should. */
static int capped_sandbox(struct capped *c)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sandbox.sh", c->tmp);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(sandbox_sh, f);
	fclose(f);
	/* The collector keeps its state there: RuntimeDirectory=flowbpf. */
	if (mkdir(COLLECT_STATE_DIR, 0755) && errno != EEXIST)
		return -errno;
	return run(NULL, NULL,
		   "%s sh -c '! test -w /usr && ! test -w /sys/class && "
		   "! test -w /run && test -w /sys/fs/bpf && test -w %s'",
		   as_unit(c, "-all"), c->tmp)
		       ? -EROFS
		       : 0;
}

/* The capabilities systemd would give each unit on interface ifname. */
static int capped_setup(struct capped *c, const char *ifname)
{
	char unit[64], *err = NULL;
	int rc;

	rc = verify_units(c->tmp, ifname, true, &err);
	if (!rc) {
		snprintf(unit, sizeof(unit), "flowbpf-attach@%s.service",
			 ifname);
		rc = unit_caps(err, unit, c->attach, sizeof(c->attach));
		rc = rc
			     ?: unit_caps(err, "flowbpf-daemon.service",
					  c->daemon, sizeof(c->daemon));
		snprintf(unit, sizeof(unit), "flowbpf-collect@%s.service",
			 ifname);
		rc = rc ?: unit_caps(err, unit, c->collect, sizeof(c->collect));
	}
	free(err);
	snprintf(c->sock, sizeof(c->sock), "%s/d.sock", c->tmp);
	snprintf(c->log, sizeof(c->log), "%s/d.log", c->tmp);
	snprintf(c->clog, sizeof(c->clog), "%s/c.log", c->tmp);
	snprintf(c->records, sizeof(c->records), "%s/flows.jsonl", c->tmp);
	if (!rc)
		rc = capped_sandbox(c);
	return rc;
}

static void capped_check_records(struct capped *c, struct test_net *n)
{
	struct rec *r = NULL, sum;
	int nr, reasons[5] = { 0 };

	nr = read_records(c->records, &r);
	ASSERT_GE(nr, 1, "collector wrote records");
	/* ICMP: dport = type << 8 | code; the echo requests. */
	flow_sum(r, nr, "out", 1, n->host_ip, n->peer_ip, 8 << 8, &sum,
		 reasons);
	ASSERT_EQ(sum.packets, 3, "echo requests accounted");
	free(r);
}

/* Attach, then the daemon and the collector, each with its unit's caps. */
static bool capped_start(struct capped *c, struct test_net *n)
{
	char cmd[512];
	int i;

	/* Enforce mode holds first packets: the daemon must re-inject. */
	if (!ASSERT_OK(run(NULL, NULL, "%s %s attach %s -m enforce",
			   as_unit(c, c->attach), flowbpf_bin(), n->host_if),
		       "attach with the unit's capabilities"))
		return false;
	snprintf(cmd, sizeof(cmd), "%s/policy.conf", c->tmp);
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"printf 'default allow;\\nrule \"discard\" deny dir out proto udp dport 9;\\n' > %s",
			cmd),
		    "policy"))
		return false;
	snprintf(cmd, sizeof(cmd), "%s daemon -c %s/policy.conf --socket %s %s",
		 flowbpf_bin(), c->tmp, c->sock, n->host_if);
	c->dpid = spawn_capped(c, c->daemon, cmd, c->log);
	snprintf(cmd, sizeof(cmd), "%s collect %s -i 100ms -o %s",
		 flowbpf_bin(), n->host_if, c->records);
	c->cpid = spawn_capped(c, c->collect, cmd, c->clog);
	for (i = 0;
	     i < 1000 && daemon_num(c->sock, n->host_if, NULL, "pid") < 0; i++)
		usleep(10000);
	return ASSERT_GE(daemon_num(c->sock, n->host_if, NULL, "pid"), 1,
			 "daemon answers");
}

/* Held echoes re-injected both ways, denied datagrams discarded. */
static void capped_traffic(struct capped *c, struct test_net *n)
{
	const char *s = c->sock, *ifn = n->host_if;
	char *out = NULL;
	int i;

	ASSERT_OK(run(&out, NULL, "ping -c 3 -i 0.2 -W 2 %s", n->peer_ip),
		  "ping");
	ASSERT_HAS(out, " 3 received", "no echo lost while held");
	free(out);
	send_discard(n->peer_ip);
	for (i = 0; i < 1000 && daemon_num(s, ifn, "held", "discarded") < 2;
	     i++)
		usleep(10000);
	ASSERT_EQ(daemon_num(s, ifn, "held", "discarded"), 2,
		  "denied datagrams discarded");
	ASSERT_GE(daemon_num(s, ifn, "held", "released"), 2,
		  "echo request and reply re-injected");
	ASSERT_EQ(daemon_num(s, ifn, "held", "reinject_errors"), 0,
		  "re-injection works with these capabilities");
	ASSERT_EQ(daemon_num(s, ifn, NULL, "errors"), 0, "verdicts written");
	ASSERT_OK(run(NULL, NULL, "%s %s --socket %s reload",
		      as_unit(c, c->daemon), flowbpf_bin(), s),
		  "ExecReload");
}

static void subtest_capabilities(void)
{
	char pins[64];
	struct capped *c;
	struct test_net n;

	if (!have_systemd_analyze())
		return;
	if (!have_tool("setpriv")) {
		test__skip("setpriv not installed (util-linux)");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!ASSERT_OK_PTR(c, "calloc"))
		return;
	if (!ASSERT_TRUE(make_tmp(c->tmp, sizeof(c->tmp)), "mkdtemp") ||
	    !ASSERT_OK(net_setup(&n), "net_setup"))
		goto out_tmp;
	if (!ASSERT_OK(capped_setup(c, n.host_if), "units' capabilities"))
		goto out;
	test__log("attach %s, daemon %s, collect %s\n", c->attach, c->daemon,
		  c->collect);
	if (!capped_start(c, &n))
		goto out;
	capped_traffic(c, &n);
	ASSERT_EQ(stop(c->cpid, 10000), 0, "collector exits 0");
	ASSERT_EQ(stop(c->dpid, 10000), 0, "daemon exits 0");
	c->cpid = c->dpid = 0;
	capped_check_records(c, &n);
	ASSERT_OK(run(NULL, NULL, "%s %s detach %s", as_unit(c, c->attach),
		      flowbpf_bin(), n.host_if),
		  "detach with the unit's capabilities");
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/flowbpf/%s", n.host_if);
	ASSERT_ERR(access(pins, F_OK), "pins removed");
out:
	if (c->cpid > 0)
		stop(c->cpid, 5000);
	if (c->dpid > 0)
		stop(c->dpid, 5000);
	if (env_verbose)
		run(NULL, NULL, "cat %s %s >&2", c->log, c->clog);
	net_cleanup(&n);
out_tmp:
	rm_tmp(c->tmp);
	free(c);
}

/* The page "make install" installs. */
static const char *man_page(void)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.output/flowbpf.8", repo_root());
	return path;
}

/* Whether text has word (an option) not followed by more of a word. */
static bool has_word(const char *text, const char *word)
{
	size_t len = strlen(word);
	const char *p;

	for (p = strstr(text, word); p; p = strstr(p + 1, word))
		if (!p[len] || !strchr("abcdefghijklmnopqrstuvwxyz-", p[len]))
			return true;
	return false;
}

/* Every --option in the --help of cmd ("" for the common ones) is in text. */
static void check_options(const char *text, const char *cmd)
{
	char *help = NULL, *p, opt[64];
	size_t len;

	if (!ASSERT_OK(run(&help, NULL, "%s %s --help", flowbpf_bin(), cmd),
		       "--help"))
		return;
	for (p = strstr(help, "--"); p; p = strstr(p + len, "--")) {
		len = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
		if (len == 2 || len >= sizeof(opt))
			continue;
		snprintf(opt, sizeof(opt), "%.*s", (int)len, p);
		if (!has_word(text, opt)) {
			fprintf(stderr,
				"flowbpf %s %s is not in the man page\n", cmd,
				opt);
			test__fail();
		}
	}
	free(help);
}

/* The commands "flowbpf --help" lists, one per line. */
static char *commands(void)
{
	char *out = NULL;

	if (run(&out, NULL,
		"%s --help | sed -n '/^Commands:/,/^$/s/^  \\([a-z]*\\) .*/\\1/p'",
		flowbpf_bin())) {
		free(out);
		return NULL;
	}
	return out;
}

static void subtest_man(void)
{
	static const char *const sections[] = {
		"NAME",	       "SYNOPSIS",    "DESCRIPTION", "COMMON OPTIONS",
		"COMMANDS",    "FLOW SYNTAX", "OUTPUT",	     "FILES",
		"EXIT STATUS", "EXAMPLES",    "SEE ALSO",
	};
	char *out = NULL, *err = NULL, *text = NULL, *cmds = NULL, *cmd, *save;
	char want[64];
	size_t i;

	if (!have_tool("man") || !have_tool("groff")) {
		test__skip(
			"man or groff not installed (scripts/deps.sh installs man-db)");
		return;
	}
	if (!ASSERT_OK(access(man_page(), R_OK), "page built"))
		return;
	ASSERT_OK(run(&out, &err, "MANWIDTH=80 man -l '%s'", man_page()),
		  "man -l");
	ASSERT_STREQ(err, "", "man -l: no warning");
	for (i = 0; out && i < sizeof(sections) / sizeof(sections[0]); i++) {
		snprintf(want, sizeof(want), "\n%s\n", sections[i]);
		ASSERT_HAS(out, want, sections[i]);
	}
	ASSERT_HAS(out, "FLOWBPF(8)", "title");
	free(err), err = NULL;
	ASSERT_OK(run(NULL, &err, "groff -t -man -Tutf8 -rLL=80n -ww -z '%s'",
		      man_page()),
		  "groff");
	ASSERT_STREQ(err, "", "groff -ww: no warning");
	if (have_tool("mandoc")) {
		free(err), err = NULL;
		ASSERT_OK(run(NULL, &err, "mandoc -T lint -W warning '%s'",
			      man_page()),
			  "mandoc lint");
		ASSERT_STREQ(err, "", "mandoc: no warning");
	}

	/* Without hyphenation, so that every option is there in one piece. */
	if (!ASSERT_OK(
		    run(&text, NULL,
			"groff -t -man -Tascii -rHY=0 -rLL=250n -P-c -P-b -P-u '%s'",
			man_page()),
		    "render"))
		goto out;
	check_options(text, "");
	cmds = commands();
	if (!ASSERT_OK_PTR(cmds, "commands"))
		goto out;
	for (cmd = strtok_r(cmds, "\n", &save); cmd;
	     cmd = strtok_r(NULL, "\n", &save)) {
		/* A subsection of COMMANDS per command. */
		snprintf(want, sizeof(want), "\n   %s", cmd);
		ASSERT_HAS(text, want, cmd);
		check_options(text, cmd);
	}
out:
	free(out), free(err), free(text), free(cmds);
}

/* What the completion offers for words (the last one being completed). */
static char *complete(const char *driver, const char *words)
{
	char *out = NULL;

	if (run(&out, NULL, "bash '%s' '%s' %s", driver, flowbpf_bin(),
		words)) {
		free(out);
		return NULL;
	}
	return out;
}

#define ASSERT_COMPLETES(driver, words, want)                                \
	({                                                                   \
		char *_got = complete(driver, words);                        \
		bool _ok =                                                   \
			ASSERT_STREQ(_got ? _got : "(failed)", want, words); \
		free(_got);                                                  \
		_ok;                                                         \
	})

static void subtest_completion(void)
{
	char tmp[64] = "", driver[128], args[256], words[256], *cmds = NULL;
	char *got = NULL;
	struct test_net n;

	if (!ASSERT_TRUE(make_tmp(tmp, sizeof(tmp)), "mkdtemp"))
		return;
	/* The installed file, sourced as bash-completion would. */
	snprintf(args, sizeof(args), "DESTDIR=%s/root PREFIX=/usr", tmp);
	if (!ASSERT_OK(make_install("install", args), "make install"))
		goto out_tmp;
	snprintf(driver, sizeof(driver), "%s/complete.sh", tmp);
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"printf '%%s\\n' "
			"'source %s/root/usr/share/bash-completion/completions/flowbpf' "
			"'COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))' "
			"'_flowbpf; ((${#COMPREPLY[@]} == 0)) || printf \"%%s\\\\n\" \"${COMPREPLY[@]}\"' "
			"'complete -p flowbpf >/dev/null' > %s; touch %s/policy.conf",
			tmp, driver, tmp),
		    "driver"))
		goto out_tmp;
	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		goto out_tmp;

	cmds = commands();
	if (ASSERT_OK_PTR(cmds, "commands"))
		ASSERT_COMPLETES(driver, "''", cmds);
	ASSERT_COMPLETES(driver, "st", "status\nstats\n");
	ASSERT_COMPLETES(driver, "-j --socket /x pol", "policy\n");
	ASSERT_COMPLETES(driver, "attach --mo", "--mode\n");
	ASSERT_COMPLETES(driver, "attach -m ''", "monitor\nenforce\n");
	ASSERT_COMPLETES(driver, "attach eth0 --pending ''",
			 "pass\ndrop\nhold\n");
	ASSERT_COMPLETES(driver, "flows --sort ''", "bytes\npackets\nlast\n");
	ASSERT_COMPLETES(driver, "collect lo --no-c", "--no-compress\n");
	ASSERT_COMPLETES(driver, "verdict ''", "set\nclear\n");
	ASSERT_COMPLETES(driver, "v set lo ''", "in\nout\n");
	ASSERT_COMPLETES(driver, "policy ''", "check\ntest\n");
	snprintf(words, sizeof(words), "daemon -c %s/pol", tmp);
	snprintf(args, sizeof(args), "%s/policy.conf\n", tmp);
	ASSERT_COMPLETES(driver, words, args);
	/* Interfaces: the system's for attach, the attached ones for detach. */
	snprintf(words, sizeof(words), "attach %.*s",
		 (int)strlen(n.host_if) - 1, n.host_if);
	got = complete(driver, words);
	ASSERT_HAS(got, n.host_if, "attach IFACE");
	free(got);
	snprintf(words, sizeof(words), "detach %s", n.host_if);
	if (ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(), n.host_if),
		      "attach")) {
		snprintf(args, sizeof(args), "%s\n", n.host_if);
		ASSERT_COMPLETES(driver, words, args);
	}
	net_cleanup(&n);
out_tmp:
	free(cmds);
	rm_tmp(tmp);
}

void test_install(void)
{
	if (test__start_subtest("layout"))
		subtest_layout();
	if (test__start_subtest("units"))
		subtest_units();
	if (test__start_subtest("capabilities"))
		subtest_capabilities();
	if (test__start_subtest("man"))
		subtest_man();
	if (test__start_subtest("completion"))
		subtest_completion();
}
