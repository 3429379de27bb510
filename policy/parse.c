// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy file parser.  A small hand-written tokenizer and recursive
 * descent; every error names FILE:LINE:COL of the offending token.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include "array.h"
#include "addrset.h"
#include "log.h"
#include "policy.h"
#include "flowfmt.h"

enum tok_type { T_EOF, T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_SEMI, T_COMMA };

/* The longest word or string (docs/policy.md, Lexical structure). */
#define TOK_MAX 255
/* The longest line of a prefix table, without its line end. */
#define TABLE_LINE_MAX 510

struct tok {
	enum tok_type type;
	char text[TOK_MAX + 1];
	int line, col;
};

struct parser {
	const char *name; /* file name for messages */
	const char *src, *p;
	int line, col;
	struct tok tok; /* current token */
	char tok_desc[sizeof(((struct tok *)0)->text) + 8]; /* tok_desc()'s */
	char *err;
	size_t errlen;
	bool failed;
	struct policy *pol;
	size_t units_cap;
	/* Unit names by hash: index + 1 of the unit, 0 for a free slot. */
	size_t *slots, nslots;
	int default_line;
};

/* The first error wins: later ones are consequences of it. */
static void err_at(struct parser *ps, const char *file, int line, int col,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void err_at(struct parser *ps, const char *file, int line, int col,
		   const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%d:%d: %s", file, line, col, msg);
}

#define perr_at(ps, line, col, fmt, ...) \
	err_at(ps, (ps)->name, line, col, fmt, ##__VA_ARGS__)
#define perr(ps, fmt, ...) \
	perr_at(ps, (ps)->tok.line, (ps)->tok.col, fmt, ##__VA_ARGS__)

static void rules_free(struct rule *rules, size_t n);

static bool word_char(char c)
{
	/* strchr() would find the terminating NUL too. */
	return c && (isalnum((unsigned char)c) || strchr("._:/-*!+%", c));
}

/* Skips blanks, newlines and comments. */
static void skip_space(struct parser *ps)
{
	for (;;) {
		char c = *ps->p;

		if (c == '\n') {
			ps->line++;
			ps->col = 1;
			ps->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			ps->col++;
			ps->p++;
		} else if (c == '#') {
			while (*ps->p && *ps->p != '\n')
				ps->p++;
		} else {
			return;
		}
	}
}

/* A lexical error ends the input: the parser stops at T_EOF. */
static void tok_fail(struct parser *ps)
{
	ps->tok.type = T_EOF;
}

/* A "quoted string", on one line; ps->p is at the opening quote. */
static void lex_string(struct parser *ps)
{
	struct tok *t = &ps->tok;
	size_t n = 0;

	t->type = T_STRING;
	ps->p++;
	ps->col++;
	while (*ps->p && *ps->p != '"' && *ps->p != '\n') {
		/* A cut file name would name another file. */
		if (n == TOK_MAX) {
			perr(ps, "string longer than %d bytes", TOK_MAX);
			tok_fail(ps);
			return;
		}
		t->text[n++] = *ps->p;
		ps->p++;
		ps->col++;
	}
	t->text[n] = '\0';
	if (*ps->p != '"') {
		perr(ps, "unterminated string");
		tok_fail(ps);
		return;
	}
	ps->p++;
	ps->col++;
}

static void lex_word(struct parser *ps)
{
	struct tok *t = &ps->tok;
	size_t n = 0;

	if (!word_char(*ps->p)) {
		perr(ps, "unexpected character '%c'", *ps->p);
		tok_fail(ps);
		return;
	}
	t->type = T_WORD;
	while (word_char(*ps->p)) {
		if (n + 1 >= sizeof(t->text)) {
			perr(ps, "word too long");
			tok_fail(ps);
			return;
		}
		t->text[n++] = *ps->p++;
		ps->col++;
	}
	t->text[n] = '\0';
}

/* Reads the next token into ps->tok. */
static void next(struct parser *ps)
{
	struct tok *t = &ps->tok;

	skip_space(ps);
	t->line = ps->line;
	t->col = ps->col;
	t->text[0] = '\0';
	switch (*ps->p) {
	case '\0':
		t->type = T_EOF;
		return;
	case '{':
		t->type = T_LBRACE;
		break;
	case '}':
		t->type = T_RBRACE;
		break;
	case ';':
		t->type = T_SEMI;
		break;
	case ',':
		t->type = T_COMMA;
		break;
	case '"':
		lex_string(ps);
		return;
	default:
		lex_word(ps);
		return;
	}
	t->text[0] = *ps->p;
	t->text[1] = '\0';
	ps->p++;
	ps->col++;
}

/* The current token as a message names it. */
static const char *tok_desc(struct parser *ps)
{
	const struct tok *t = &ps->tok;
	char *buf = ps->tok_desc;

	switch (t->type) {
	case T_EOF:
		return "end of file";
	case T_STRING:
		snprintf(buf, sizeof(ps->tok_desc), "\"%s\"", t->text);
		return buf;
	default:
		snprintf(buf, sizeof(ps->tok_desc), "'%s'", t->text);
		return buf;
	}
}

static bool expect(struct parser *ps, enum tok_type type, const char *what)
{
	if (ps->tok.type != type) {
		perr(ps, "expected %s, found %s", what, tok_desc(ps));
		return false;
	}
	next(ps);
	return !ps->failed;
}

/*
 * "198.18.0.0/15", "198.18.0.1", "2001:db8::/32".  Returns 0, -EINVAL
 * (not an address) or -ERANGE (bad length / host bits), with lo/hi set.
 */
static int prefix_parse(const char *s, addr128 *lo, addr128 *hi, int *fam)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned char a6[16];
	unsigned long len;
	struct in_addr a4;
	addr128 base = 0, mask;
	int i, max;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		base = ((addr128)0xffff << 32) | ntohl(a4.s_addr);
		max = 32;
	} else if (inet_pton(AF_INET6, buf, a6) == 1) {
		for (i = 0; i < 16; i++)
			base = (base << 8) | a6[i];
		max = 128;
	} else {
		return -EINVAL;
	}
	len = max;
	if (slash) {
		char *end;

		if (!isdigit((unsigned char)*slash))
			return -ERANGE;
		len = strtoul(slash, &end, 10);
		if (*end || len > (unsigned long)max)
			return -ERANGE;
	}
	/* Host part of the prefix within its family's width. */
	mask = len == (unsigned long)max ? 0
	       : max - len == 128	 ? ~(addr128)0
					 : (((addr128)1 << (max - len)) - 1);
	if (base & mask)
		return -EDOM;
	*fam = max == 32 ? 4 : 6;
	*lo = base;
	*hi = base | mask;
	return 0;
}

/* FNV-1a. */
static size_t name_hash(const char *s)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* A policy may define 100 000 units: a scan per lookup would be quadratic. */
static struct unit *unit_find(struct parser *ps, const char *name)
{
	size_t mask = ps->nslots - 1, i, idx;

	if (!ps->nslots)
		return NULL;
	for (i = name_hash(name) & mask; (idx = ps->slots[i]);
	     i = (i + 1) & mask)
		if (!strcmp(ps->pol->units[idx - 1].name, name))
			return &ps->pol->units[idx - 1];
	return NULL;
}

static void slot_put(size_t *slots, size_t nslots, const char *name, size_t idx)
{
	size_t i = name_hash(name) & (nslots - 1);

	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = idx + 1;
}

/* Appends u to the policy's units and to the index of their names. */
static int unit_add(struct parser *ps, const struct unit *u)
{
	struct policy *p = ps->pol;
	size_t i, n, *slots;
	struct unit *nu;

	nu = array_room(p->units, &ps->units_cap, p->nunits, sizeof(*nu), 16);
	if (!nu)
		return -ENOMEM;
	p->units = nu;
	/* At most half full, so that probe runs stay short. */
	if (2 * (p->nunits + 1) > ps->nslots) {
		n = ps->nslots ? ps->nslots * 2 : 64;
		slots = calloc(n, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (i = 0; i < p->nunits; i++)
			slot_put(slots, n, p->units[i].name, i);
		free(ps->slots);
		ps->slots = slots;
		ps->nslots = n;
	}
	p->units[p->nunits] = *u;
	slot_put(ps->slots, ps->nslots, u->name, p->nunits);
	p->nunits++;
	return 0;
}

static bool is_keyword(const char *w)
{
	static const char *const kw[] = {
		"unit",	 "rule",      "default",   "any",   "from",   "to",
		"dir",	 "iface",     "vlan",	   "proto", "sport",  "dport",
		"port",	 "icmp-type", "icmp-code", "time",  "days",   "allow",
		"deny",	 "pass",      "drop",	   "file",  "tunnel", "account",
		"class", "quota",
	};
	size_t i;

	for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (!strcmp(w, kw[i]))
			return true;
	return false;
}

static bool valid_name(const char *w)
{
	const char *c;

	if (!isalpha((unsigned char)w[0]))
		return false;
	for (c = w; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
			return false;
	return true;
}

/* Adds an address/prefix or a unit's ranges to b; word is ps->tok. */
static int add_item(struct parser *ps, struct rangebuf *b, size_t *count)
{
	const char *w = ps->tok.text;
	addr128 lo, hi;
	struct unit *u;
	size_t i;
	int err, fam;

	err = prefix_parse(w, &lo, &hi, &fam);
	if (!err) {
		(*count)++;
		return rb_add(b, fam, lo, hi);
	}
	if (err == -ERANGE) {
		perr(ps, "invalid prefix length in '%s'", w);
		return -EINVAL;
	}
	if (err == -EDOM) {
		perr(ps, "host bits set in '%s'", w);
		return -EINVAL;
	}
	if (strchr(w, '.') || strchr(w, ':') || !valid_name(w)) {
		perr(ps, "invalid address or prefix '%s'", w);
		return -EINVAL;
	}
	u = unit_find(ps, w);
	if (!u) {
		perr(ps, "unknown unit '%s'", w);
		return -EINVAL;
	}
	for (i = 0; i < u->set.n; i++)
		if (rb_add(b, i < u->set.n4 ? 4 : 6, u->set.lo[i],
			   u->set.hi[i]))
			return -ENOMEM;
	*count += u->prefixes;
	return 0;
}

/*
 * Opens a file to be read whole: only a regular file of at most
 * POLICY_FILE_MAX_MIB, since a device or a FIFO would never end.  Returns
 * the descriptor, or -1 with the reason in why.
 */
static int open_text(const char *path, size_t *size, char *why, size_t whylen)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(why, whylen, "%s", strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s", strerror(EISDIR));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
	} else if (st.st_size > (off_t)POLICY_FILE_MAX_MIB << 20) {
		snprintf(why, whylen, "larger than %d MiB",
			 POLICY_FILE_MAX_MIB);
	} else {
		*size = st.st_size;
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * Reads a whole file (see open_text) into a buffer with a NUL after its
 * end.  The text may hold NUL bytes of its own, so *len is what counts.
 * 0, or -1 with the reason in why.
 */
static int read_file(const char *path, char **text, size_t *len, char *why,
		     size_t whylen)
{
	size_t size, n = 0;
	char *buf;
	ssize_t r;
	int fd;

	fd = open_text(path, &size, why, whylen);
	if (fd < 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf) {
		snprintf(why, whylen, "out of memory");
		close(fd);
		return -1;
	}
	/* What was there at open time: a file that grows is read again at
	 * the next reload. */
	while (n < size) {
		r = read(fd, buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (!r)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* Table errors point at the table's own file and line. */
#define table_err(ps, path, lineno, fmt, ...) \
	err_at(ps, path, lineno, 1, fmt, ##__VA_ARGS__)

/* One line of a table, s[0..n) without its '\n': an entry, a comment or
 * nothing. */
static int table_line(struct parser *ps, const char *path, int lineno,
		      const char *s, size_t n, struct rangebuf *b,
		      size_t *count)
{
	char line[TABLE_LINE_MAX + 1], *p = line, *e, *hash;
	addr128 lo, hi;
	int fam, err;

	if (n && s[n - 1] == '\r')
		n--;
	if (memchr(s, '\0', n)) {
		table_err(ps, path, lineno,
			  "contains a NUL byte (not a text file?)");
		return -EINVAL;
	}
	/* Even a comment: a line cut in two would make its tail an entry. */
	if (n > TABLE_LINE_MAX) {
		table_err(ps, path, lineno, "line longer than %d characters",
			  TABLE_LINE_MAX);
		return -EINVAL;
	}
	memcpy(line, s, n);
	line[n] = '\0';
	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	while (isspace((unsigned char)*p))
		p++;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (!*p)
		return 0;
	err = prefix_parse(p, &lo, &hi, &fam);
	if (err) {
		table_err(ps, path, lineno, "%s '%s'",
			  err == -EDOM	   ? "host bits set in"
			  : err == -ERANGE ? "invalid prefix length in"
					   : "invalid address or prefix",
			  p);
		return -EINVAL;
	}
	if (rb_add(b, fam, lo, hi)) {
		table_err(ps, path, lineno, "out of memory");
		return -ENOMEM;
	}
	(*count)++;
	return 0;
}

/* A prefix table: one address or prefix per line, '#' comments. */
static int load_prefix_file(struct parser *ps, const char *path,
			    struct rangebuf *b, size_t *count)
{
	char *text = NULL, *line, *nl, why[128];
	int lineno = 0, err = 0;
	size_t len = 0;

	if (read_file(path, &text, &len, why, sizeof(why))) {
		perr(ps, "cannot read prefix file \"%s\": %s", path, why);
		return -EINVAL;
	}
	for (line = text; !err && line < text + len; line = nl + 1) {
		nl = memchr(line, '\n', text + len - line);
		if (!nl)
			nl = text + len;
		err = table_line(ps, path, ++lineno, line, nl - line, b, count);
	}
	free(text);
	return err;
}

static int parse_unit(struct parser *ps)
{
	struct rangebuf b = {};
	struct unit u = {};
	struct unit *nu;
	int line = ps->tok.line, err = -EINVAL;

	next(ps);
	if (ps->tok.type != T_WORD || !valid_name(ps->tok.text) ||
	    is_keyword(ps->tok.text)) {
		perr(ps, "expected a unit name, found %s", tok_desc(ps));
		return -EINVAL;
	}
	if ((nu = unit_find(ps, ps->tok.text))) {
		perr(ps, "unit '%s' is already defined at line %d",
		     ps->tok.text, nu->line);
		return -EINVAL;
	}
	u.name = strdup(ps->tok.text);
	u.line = line;
	if (!u.name)
		return -ENOMEM;
	next(ps);

	if (ps->tok.type == T_WORD && !strcmp(ps->tok.text, "file")) {
		next(ps);
		if (ps->tok.type != T_STRING) {
			perr(ps, "expected a file name in quotes, found %s",
			     tok_desc(ps));
			goto out;
		}
		if (load_prefix_file(ps, ps->tok.text, &b, &u.prefixes))
			goto out;
		next(ps);
		if (!expect(ps, T_SEMI, "';'"))
			goto out;
	} else {
		if (!expect(ps, T_LBRACE, "'{' or 'file'"))
			goto out;
		while (ps->tok.type != T_RBRACE) {
			if (ps->tok.type != T_WORD) {
				perr(ps,
				     "expected an address, prefix or unit name, found %s",
				     tok_desc(ps));
				goto out;
			}
			if (add_item(ps, &b, &u.prefixes))
				goto out;
			next(ps);
			if (ps->tok.type == T_SEMI || ps->tok.type == T_COMMA)
				next(ps);
			else if (ps->tok.type != T_RBRACE) {
				perr(ps, "expected ';' or '}', found %s",
				     tok_desc(ps));
				goto out;
			}
			if (ps->failed)
				goto out;
		}
		next(ps);
		if (ps->tok.type == T_SEMI)
			next(ps);
		if (!b.n) {
			perr_at(ps, line, 1, "unit '%s' is empty", u.name);
			goto out;
		}
	}
	if (rb_finish(&b, &u.set) || unit_add(ps, &u)) {
		addrset_free(&u.set);
		perr_at(ps, line, 1, "out of memory");
		goto out;
	}
	return 0;
out:
	rb_free(&b);
	free(u.name);
	return err;
}

static int verdict_word(const char *w, __u32 *v)
{
	if (!strcmp(w, "allow") || !strcmp(w, "pass"))
		*v = FLOWBPF_VERDICT_PASS;
	else if (!strcmp(w, "deny") || !strcmp(w, "drop"))
		*v = FLOWBPF_VERDICT_DROP;
	else
		return -EINVAL;
	return 0;
}

static int parse_default(struct parser *ps)
{
	int line = ps->tok.line;

	if (ps->default_line) {
		perr(ps, "default is already set at line %d", ps->default_line);
		return -EINVAL;
	}
	next(ps);
	if (ps->tok.type != T_WORD ||
	    verdict_word(ps->tok.text, &ps->pol->dflt)) {
		perr(ps, "expected allow or deny after default, found %s",
		     tok_desc(ps));
		return -EINVAL;
	}
	ps->default_line = line;
	next(ps);
	return expect(ps, T_SEMI, "';'") ? 0 : -EINVAL;
}

/* Comma-separated list of words: calls fn for each (ps->tok is it). */
static int parse_list(struct parser *ps, int (*fn)(struct parser *, void *),
		      void *arg)
{
	for (;;) {
		if (ps->tok.type != T_WORD) {
			perr(ps, "expected a value, found %s", tok_desc(ps));
			return -EINVAL;
		}
		if (fn(ps, arg))
			return -EINVAL;
		next(ps);
		if (ps->tok.type != T_COMMA)
			return ps->failed ? -EINVAL : 0;
		next(ps);
	}
}

struct r16list {
	struct range16 **v;
	size_t *n;
	unsigned int max;
	const char *what;
};

static int add_range16(struct parser *ps, void *arg)
{
	struct r16list *l = arg;
	unsigned long lo, hi;
	struct range16 *nv;
	char *end, *dash;

	errno = 0;
	lo = strtoul(ps->tok.text, &end, 10);
	if (end == ps->tok.text || !isdigit((unsigned char)ps->tok.text[0]))
		goto bad;
	hi = lo;
	if (*end == '-') {
		dash = end + 1;
		if (!isdigit((unsigned char)*dash))
			goto bad;
		hi = strtoul(dash, &end, 10);
	}
	if (*end || errno)
		goto bad;
	if (lo > l->max || hi > l->max) {
		perr(ps, "%s out of range in '%s' (0-%u)", l->what,
		     ps->tok.text, l->max);
		return -EINVAL;
	}
	if (hi < lo) {
		perr(ps, "empty %s range '%s'", l->what, ps->tok.text);
		return -EINVAL;
	}
	nv = realloc(*l->v, (*l->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	nv[(*l->n)++] = (struct range16){ lo, hi };
	*l->v = nv;
	return 0;
bad:
	perr(ps, "invalid %s '%s'", l->what, ps->tok.text);
	return -EINVAL;
}

static int add_proto(struct parser *ps, void *arg)
{
	struct rule *r = arg;
	__u8 proto, *np;

	if (proto_parse(ps->tok.text, &proto)) {
		perr(ps, "unknown protocol '%s'", ps->tok.text);
		return -EINVAL;
	}
	np = realloc(r->protos, r->nprotos + 1);
	if (!np)
		return -ENOMEM;
	np[r->nprotos++] = proto;
	r->protos = np;
	return 0;
}

static int add_iface(struct parser *ps, void *arg)
{
	struct rule *r = arg;
	char(*ni)[IF_NAMESIZE];

	if (strlen(ps->tok.text) >= IF_NAMESIZE) {
		perr(ps, "interface name '%s' is too long", ps->tok.text);
		return -EINVAL;
	}
	ni = realloc(r->ifaces, (r->nifaces + 1) * sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	snprintf(ni[r->nifaces++], IF_NAMESIZE, "%s", ps->tok.text);
	r->ifaces = ni;
	return 0;
}

static const char *const day_names[] = { "sun", "mon", "tue", "wed",
					 "thu", "fri", "sat" };

static int day_index(const char *s, size_t len)
{
	int i;

	for (i = 0; i < 7; i++)
		if (len == 3 && !strncasecmp(s, day_names[i], 3))
			return i;
	return -1;
}

static int add_days(struct parser *ps, void *arg)
{
	struct rule *r = arg;
	const char *w = ps->tok.text, *dash = strchr(w, '-');
	int a, b;

	a = day_index(w, dash ? (size_t)(dash - w) : strlen(w));
	b = dash ? day_index(dash + 1, strlen(dash + 1)) : a;
	if (a < 0 || b < 0) {
		perr(ps,
		     "invalid day '%s' (expected sun, mon, ... sat, or a range like mon-fri)",
		     w);
		return -EINVAL;
	}
	/* mon-fri, or fri-mon wrapping over the weekend. */
	for (;;) {
		r->days |= 1 << a;
		if (a == b)
			break;
		a = (a + 1) % 7;
	}
	return 0;
}

/* Minutes of the day, 0 to 1440 (24:00), or -1. */
static int hhmm(const char *s, const char *end)
{
	int h, m;

	if (end - s != 5 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	h = (s[0] - '0') * 10 + s[1] - '0';
	m = (s[3] - '0') * 10 + s[4] - '0';
	if (m > 59 || h > 24 || (h == 24 && m))
		return -1;
	return h * 60 + m;
}

static int parse_time(struct parser *ps, struct rule *r)
{
	const char *w = ps->tok.text, *dash = strchr(w, '-');

	if (!dash || (r->tmin_from = hhmm(w, dash)) < 0 ||
	    (r->tmin_to = hhmm(dash + 1, w + strlen(w))) < 0 ||
	    r->tmin_from == r->tmin_to) {
		perr(ps,
		     "invalid time window '%s' (expected HH:MM-HH:MM, e.g. 09:00-17:30)",
		     w);
		return -EINVAL;
	}
	/* 24:00 is the end of a day: a window ends there, none starts. */
	if (r->tmin_from == 24 * 60) {
		perr(ps,
		     "invalid time window '%s' (24:00 only ends a window; a window from midnight starts at 00:00)",
		     w);
		return -EINVAL;
	}
	return 0;
}

/* from/to: any | ADDR | PREFIX | UNIT, comma-separated, '!' negates. */
static int parse_addr_match(struct parser *ps, struct addr_match **out)
{
	struct addr_match *m;
	struct rangebuf b = {};
	size_t count = 0, items = 0;
	struct unit *single = NULL;
	bool negate = false;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->unit = -1;
	*out = m;
	if (ps->tok.type == T_WORD && ps->tok.text[0] == '!') {
		negate = true;
		memmove(ps->tok.text, ps->tok.text + 1, strlen(ps->tok.text));
		ps->tok.col++;
	}
	if (ps->tok.type == T_WORD && !strcmp(ps->tok.text, "any")) {
		if (negate) {
			perr(ps, "'!any' matches nothing");
			return -EINVAL;
		}
		free(m);
		*out = NULL;
		next(ps);
		return 0;
	}
	for (;;) {
		if (ps->tok.type != T_WORD || !ps->tok.text[0]) {
			perr(ps,
			     "expected an address, prefix, unit name or any, found %s",
			     tok_desc(ps));
			goto err;
		}
		single = unit_find(ps, ps->tok.text);
		if (add_item(ps, &b, &count))
			goto err;
		items++;
		next(ps);
		if (ps->tok.type != T_COMMA)
			break;
		next(ps);
	}
	m->negate = negate;
	if (items == 1 && single) {
		/* One unit: share its set instead of copying it. */
		m->unit = single - ps->pol->units;
		rb_free(&b);
		return ps->failed ? -EINVAL : 0;
	}
	if (rb_finish(&b, &m->own))
		goto err;
	return ps->failed ? -EINVAL : 0;
err:
	rb_free(&b);
	return -EINVAL;
}

/* One rule match: parses the value(s) after its key, which is in key. */
typedef int (*match_fn)(struct parser *ps, struct rule *r, const char *key);

static int match_dir(struct parser *ps, struct rule *r, const char *key)
{
	if (!strcmp(ps->tok.text, "in")) {
		r->dir = FLOWBPF_DIR_INGRESS;
	} else if (!strcmp(ps->tok.text, "out")) {
		r->dir = FLOWBPF_DIR_EGRESS;
	} else {
		perr(ps, "expected in or out after dir, found %s",
		     tok_desc(ps));
		return -EINVAL;
	}
	next(ps);
	return 0;
}

static int match_iface(struct parser *ps, struct rule *r, const char *key)
{
	return parse_list(ps, add_iface, r);
}

static int match_vlan(struct parser *ps, struct rule *r, const char *key)
{
	struct r16list l = { &r->vlans, &r->nvlans, 4095, "VLAN id" };

	return parse_list(ps, add_range16, &l);
}

static int match_proto(struct parser *ps, struct rule *r, const char *key)
{
	return parse_list(ps, add_proto, r);
}

static int match_addr(struct parser *ps, struct rule *r, const char *key)
{
	return parse_addr_match(ps, key[0] == 'f' ? &r->from : &r->to);
}

static int match_ports(struct parser *ps, struct rule *r, const char *key)
{
	struct r16list l = { &r->ports, &r->nports, 65535, "port" };

	if (key[0] == 's')
		l = (struct r16list){ &r->sports, &r->nsports, 65535, "port" };
	else if (key[0] == 'd')
		l = (struct r16list){ &r->dports, &r->ndports, 65535, "port" };
	return parse_list(ps, add_range16, &l);
}

static int match_icmp(struct parser *ps, struct rule *r, const char *key)
{
	char *end;
	unsigned long v = strtoul(ps->tok.text, &end, 10);

	if (*end || !isdigit((unsigned char)ps->tok.text[0]) || v > 255) {
		perr(ps, "invalid %s '%s' (0-255)", key, ps->tok.text);
		return -EINVAL;
	}
	if (!strcmp(key, "icmp-type"))
		r->icmp_type = v;
	else
		r->icmp_code = v;
	next(ps);
	return 0;
}

static int match_time(struct parser *ps, struct rule *r, const char *key)
{
	if (parse_time(ps, r))
		return -EINVAL;
	ps->pol->has_time = true;
	next(ps);
	return 0;
}

static int match_tunnel(struct parser *ps, struct rule *r, const char *key)
{
	__u8 t;

	if (tunnel_parse(ps->tok.text, &t, &r->tun_id, &r->tun_has_id)) {
		perr(ps,
		     "invalid tunnel '%s' (none, vxlan, geneve, gre, ipip, sit, ip6, mpls or pppoe, with :ID for all but ipip, sit and ip6)",
		     ps->tok.text);
		return -EINVAL;
	}
	r->tun_type = t;
	next(ps);
	return 0;
}

static int match_days(struct parser *ps, struct rule *r, const char *key)
{
	if (parse_list(ps, add_days, r))
		return -EINVAL;
	ps->pol->has_time = true;
	return 0;
}

struct match_def {
	const char *key;
	match_fn parse;
	bool bare; /* takes no value */
};

/* Every match a rule takes, in the order the error message lists them. */
static const struct match_def matches[] = {
	{ "dir", match_dir },
	{ "iface", match_iface },
	{ "vlan", match_vlan },
	{ "proto", match_proto },
	{ "from", match_addr },
	{ "to", match_addr },
	{ "sport", match_ports },
	{ "dport", match_ports },
	{ "port", match_ports },
	{ "icmp-type", match_icmp },
	{ "icmp-code", match_icmp },
	{ "time", match_time },
	{ "days", match_days },
	{ "tunnel", match_tunnel },
	{},
};

static void perr_unknown_match(struct parser *ps, const struct match_def *tbl)
{
	char list[256];
	size_t i, n = 0;

	for (i = 0; tbl[i].key; i++)
		n += snprintf(list + n, sizeof(list) - n, "%s%s",
			      !i	       ? ""
			      : tbl[i + 1].key ? ", "
					       : " or ",
			      tbl[i].key);
	perr(ps, "unknown match '%s' (expected %s)", ps->tok.text, list);
}

/* The matches of a rule up to its ';'; seen has a bit per match given. */
static int parse_matches_of(struct parser *ps, struct rule *r,
			    const struct match_def *tbl)
{
	unsigned int seen = 0;

	while (!ps->failed && ps->tok.type == T_WORD) {
		char key[sizeof(ps->tok.text)];
		size_t i;

		for (i = 0; tbl[i].key; i++)
			if (!strcmp(ps->tok.text, tbl[i].key))
				break;
		if (!tbl[i].key) {
			perr_unknown_match(ps, tbl);
			return -EINVAL;
		}
		if (seen & (1U << i)) {
			perr(ps, "'%s' is given twice in this %s", ps->tok.text,
			     tbl == matches ? "rule" : "statement");
			return -EINVAL;
		}
		seen |= 1U << i;
		snprintf(key, sizeof(key), "%s", ps->tok.text);
		if (tbl[i].bare) {
			/* Its errors are at the word itself. */
			if (tbl[i].parse(ps, r, key))
				return -EINVAL;
			next(ps);
			continue;
		}
		next(ps);
		if (ps->tok.type != T_WORD) {
			perr(ps, "expected a value after '%s', found %s", key,
			     tok_desc(ps));
			return -EINVAL;
		}
		if (tbl[i].parse(ps, r, key))
			return -EINVAL;
	}
	if (ps->failed)
		return -EINVAL;
	if (ps->tok.type != T_SEMI) {
		perr(ps, "expected a match or ';', found %s", tok_desc(ps));
		return -EINVAL;
	}
	return 0;
}

static int parse_matches(struct parser *ps, struct rule *r)
{
	return parse_matches_of(ps, r, matches);
}

/* Matches that can never hold are mistakes worth stopping for. */
static int check_rule(struct parser *ps, const struct rule *r, int line,
		      int col)
{
	bool ports = r->nsports || r->ndports || r->nports, ok;
	size_t i;

	if (ports) {
		for (ok = !r->nprotos, i = 0; i < r->nprotos; i++)
			ok |= flowbpf_proto_has_ports(r->protos[i]);
		if (!ok) {
			perr_at(ps, line, col,
				"ports need proto tcp, udp, sctp, dccp or udplite");
			return -EINVAL;
		}
	}
	if (r->icmp_type < 0 && r->icmp_code < 0)
		return 0;
	for (ok = r->nprotos > 0, i = 0; i < r->nprotos; i++)
		ok &= flowbpf_proto_is_icmp(r->protos[i]);
	if (!ok) {
		perr_at(ps, line, col,
			"icmp-type and icmp-code need proto icmp or icmpv6 (only)");
		return -EINVAL;
	}
	if (ports) {
		perr_at(ps, line, col,
			"ports and icmp-type exclude each other");
		return -EINVAL;
	}
	return 0;
}

static int parse_rule(struct parser *ps)
{
	struct rule r = { .dir = -1,
			  .icmp_type = -1,
			  .icmp_code = -1,
			  .tun_type = -1,
			  .tmin_from = -1,
			  .tmin_to = -1 };
	int line = ps->tok.line, col = ps->tok.col;
	struct rule *nr;

	r.line = line;
	next(ps);
	if (ps->tok.type == T_STRING) {
		r.name = strdup(ps->tok.text);
		next(ps);
	} else {
		r.name = strdup("");
	}
	if (!r.name)
		return -ENOMEM;
	if (ps->tok.type != T_WORD || verdict_word(ps->tok.text, &r.verdict)) {
		perr(ps, "expected allow or deny, found %s", tok_desc(ps));
		goto err;
	}
	next(ps);
	if (parse_matches(ps, &r) || check_rule(ps, &r, line, col))
		goto err;
	next(ps);
	nr = realloc(ps->pol->rules, (ps->pol->nrules + 1) * sizeof(*nr));
	if (!nr)
		goto err;
	ps->pol->rules = nr;
	nr[ps->pol->nrules++] = r;
	return 0;
err:
	rules_free(&r, 1);
	return -EINVAL;
}

/*
 * Accounting statements (docs/units.md): account, class and quota.
 * Classes and quotas are parsed by match tables like rules; their parse
 * functions find their statement around the struct rule they are given.
 */
#define container_of(p, type, member) \
	((type *)((char *)(p)-offsetof(type, member)))

/* "account UNIT, UNIT ...;" */
static int acct_add_unit(struct parser *ps, void *arg)
{
	struct policy *p = ps->pol;
	struct unit *u = unit_find(ps, ps->tok.text);
	int *nv, idx;
	size_t i;

	if (!u) {
		perr(ps, "unknown unit '%s'", ps->tok.text);
		return -EINVAL;
	}
	idx = u - p->units;
	for (i = 0; i < p->nacct; i++)
		if (p->acct_units[i] == idx) {
			perr(ps, "unit '%s' is already accounted", u->name);
			return -EINVAL;
		}
	nv = realloc(p->acct_units, (p->nacct + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	p->acct_units = nv;
	nv[p->nacct++] = idx;
	return 0;
}

static int parse_account(struct parser *ps)
{
	next(ps);
	if (parse_list(ps, acct_add_unit, NULL))
		return -EINVAL;
	return expect(ps, T_SEMI, "',' or ';'") ? 0 : -EINVAL;
}

static int class_price(struct parser *ps, struct rule *r, const char *key)
{
	struct acct_class *c = container_of(r, struct acct_class, m);
	char *end;
	double v;

	errno = 0;
	v = strtod(ps->tok.text, &end);
	if (*end || errno || !isdigit((unsigned char)ps->tok.text[0]) ||
	    v > 1e12) {
		perr(ps, "invalid price '%s' (a number per GB)", ps->tok.text);
		return -EINVAL;
	}
	c->price = v;
	next(ps);
	return 0;
}

static const struct match_def class_matches[] = {
	{ "peer", match_addr },
	{ "proto", match_proto },
	{ "port", match_ports },
	{ "price", class_price },
	{},
};

static int acct_class_find(const struct policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nclasses; i++)
		if (!strcmp(p->classes[i].name, name))
			return i;
	return !strcmp(name, ACCT_CLASS_OTHER) ? (int)p->nclasses : -1;
}

/* "class NAME [peer ADDRS] [proto P] [port R] [price N];" */
static int parse_class(struct parser *ps)
{
	struct acct_class c = { .line = ps->tok.line, .price = -1 };
	int line = ps->tok.line, col = ps->tok.col;
	struct policy *p = ps->pol;
	struct acct_class *nv;

	c.m = (struct rule){ .dir = -1,
			     .icmp_type = -1,
			     .icmp_code = -1,
			     .tmin_from = -1,
			     .tmin_to = -1 };
	next(ps);
	if (ps->tok.type != T_WORD || !valid_name(ps->tok.text) ||
	    is_keyword(ps->tok.text)) {
		perr(ps, "expected a class name, found %s", tok_desc(ps));
		return -EINVAL;
	}
	if (acct_class_find(p, ps->tok.text) >= 0) {
		perr(ps,
		     !strcmp(ps->tok.text, ACCT_CLASS_OTHER)
			     ? "class '%s' is the traffic no class takes"
			     : "class '%s' is already defined",
		     ps->tok.text);
		return -EINVAL;
	}
	c.name = strdup(ps->tok.text);
	c.m.name = strdup("");
	if (!c.name || !c.m.name)
		goto err;
	next(ps);
	if (parse_matches_of(ps, &c.m, class_matches) ||
	    check_rule(ps, &c.m, line, col))
		goto err;
	next(ps);
	nv = realloc(p->classes, (p->nclasses + 1) * sizeof(*nv));
	if (!nv)
		goto err;
	p->classes = nv;
	nv[p->nclasses++] = c;
	return 0;
err:
	rules_free(&c.m, 1);
	free(c.name);
	return -EINVAL;
}

/* The quota being parsed, around the (unused) rule the matches get. */
struct quota_parse {
	struct rule r;
	struct acct_quota q;
	bool has_limit, has_per, has_action;
};

#define QP(r) container_of(r, struct quota_parse, r)

static int quota_class(struct parser *ps, struct rule *r, const char *key)
{
	int i = acct_class_find(ps->pol, ps->tok.text);

	if (i < 0) {
		perr(ps, "unknown class '%s'", ps->tok.text);
		return -EINVAL;
	}
	QP(r)->q.cls = i;
	next(ps);
	return 0;
}

static int quota_dir(struct parser *ps, struct rule *r, const char *key)
{
	if (match_dir(ps, r, key))
		return -EINVAL;
	QP(r)->q.dir = r->dir == FLOWBPF_DIR_INGRESS ? ACCT_IN : ACCT_OUT;
	return 0;
}

static int quota_limit(struct parser *ps, struct rule *r, const char *key)
{
	if (size_parse(ps->tok.text, &QP(r)->q.limit) || !QP(r)->q.limit) {
		perr(ps, "invalid limit '%s' (bytes, with K, M, G or T)",
		     ps->tok.text);
		return -EINVAL;
	}
	QP(r)->has_limit = true;
	next(ps);
	return 0;
}

static const char *const period_names[] = {
	[PERIOD_MINUTE] = "minute", [PERIOD_HOUR] = "hour",
	[PERIOD_DAY] = "day",	    [PERIOD_WEEK] = "week",
	[PERIOD_MONTH] = "month",
};

static int quota_per(struct parser *ps, struct rule *r, const char *key)
{
	struct acct_quota *q = &QP(r)->q;
	__u64 ns;
	int i;

	for (i = PERIOD_DAY; i <= PERIOD_MONTH; i++)
		if (!strcmp(ps->tok.text, period_names[i]))
			break;
	q->period = i;
	if (i > PERIOD_MONTH) {
		if (duration_parse(ps->tok.text, &ns) || ns < 1000000000ULL ||
		    ns % 1000000000ULL || ns > 86400ULL * 1000000000ULL) {
			perr(ps,
			     "invalid period '%s' (day, week, month, or whole seconds up to 1 day: 30s, 5m)",
			     ps->tok.text);
			return -EINVAL;
		}
		q->period = PERIOD_SECONDS;
		q->period_s = ns / 1000000000ULL;
	}
	QP(r)->has_per = true;
	next(ps);
	return 0;
}

static int quota_action(struct parser *ps, struct rule *r, const char *key)
{
	if (QP(r)->has_action) {
		perr(ps, "deny and warn exclude each other");
		return -EINVAL;
	}
	QP(r)->has_action = true;
	QP(r)->q.warn_only = !strcmp(key, "warn");
	return 0;
}

static int quota_soft_add(struct parser *ps, void *arg)
{
	struct acct_quota *q = arg;
	char *end;
	unsigned long v = strtoul(ps->tok.text, &end, 10);

	if (!isdigit((unsigned char)ps->tok.text[0]) || strcmp(end, "%") ||
	    v < 1 || v > 99) {
		perr(ps, "invalid soft threshold '%s' (1%% to 99%%)",
		     ps->tok.text);
		return -EINVAL;
	}
	if (q->nsoft && v <= q->soft[q->nsoft - 1]) {
		perr(ps, "soft thresholds must ascend");
		return -EINVAL;
	}
	if (q->nsoft == QUOTA_SOFT_MAX) {
		perr(ps, "at most %d soft thresholds", QUOTA_SOFT_MAX);
		return -EINVAL;
	}
	q->soft[q->nsoft++] = v;
	return 0;
}

static int quota_soft(struct parser *ps, struct rule *r, const char *key)
{
	return parse_list(ps, quota_soft_add, &QP(r)->q);
}

static const struct match_def quota_opts[] = {
	{ "class", quota_class },	{ "dir", quota_dir },
	{ "limit", quota_limit },	{ "per", quota_per },
	{ "deny", quota_action, true }, { "warn", quota_action, true },
	{ "soft", quota_soft },		{},
};

/* "quota UNIT [class C] [dir in|out] limit SIZE per PERIOD [deny|warn]
 * [soft P%,...];" */
static int parse_quota(struct parser *ps)
{
	struct quota_parse qp = {
		.q = { .line = ps->tok.line, .cls = -1, .dir = -1 }
	};
	int line = ps->tok.line, col = ps->tok.col;
	struct policy *p = ps->pol;
	struct acct_quota *nv;
	struct unit *u;
	size_t i;

	next(ps);
	u = ps->tok.type == T_WORD ? unit_find(ps, ps->tok.text) : NULL;
	if (!u) {
		perr(ps,
		     ps->tok.type == T_WORD ? "unknown unit '%s'"
					    : "expected a unit name, found %s",
		     ps->tok.type == T_WORD ? ps->tok.text : tok_desc(ps));
		return -EINVAL;
	}
	qp.q.unit = u - p->units;
	for (i = 0; i < p->nacct && p->acct_units[i] != qp.q.unit; i++)
		;
	if (i == p->nacct) {
		perr(ps, "unit '%s' is not accounted (account it first)",
		     u->name);
		return -EINVAL;
	}
	next(ps);
	if (parse_matches_of(ps, &qp.r, quota_opts))
		return -EINVAL;
	if (!qp.has_limit || !qp.has_per) {
		perr_at(ps, line, col, "a quota needs limit and per");
		return -EINVAL;
	}
	next(ps);
	nv = realloc(p->quotas, (p->nquotas + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	p->quotas = nv;
	nv[p->nquotas++] = qp.q;
	return 0;
}

void acct_period_str(const struct acct_quota *q, char *buf, size_t len)
{
	if (q->period == PERIOD_SECONDS)
		duration_str(q->period_s * 1000000000ULL, buf, len);
	else
		snprintf(buf, len, "%s", period_names[q->period]);
}

static void addr_match_free(struct addr_match *m)
{
	if (!m)
		return;
	addrset_free(&m->own);
	free(m);
}

static void rules_free(struct rule *rules, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct rule *r = &rules[i];

		free(r->name);
		free(r->ifaces);
		free(r->vlans);
		free(r->protos);
		addr_match_free(r->from);
		addr_match_free(r->to);
		free(r->sports);
		free(r->dports);
		free(r->ports);
	}
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	rules_free(p->rules, p->nrules);
	free(p->rules);
	for (i = 0; i < p->nunits; i++) {
		free(p->units[i].name);
		addrset_free(&p->units[i].set);
	}
	free(p->units);
	for (i = 0; i < p->nclasses; i++) {
		free(p->classes[i].name);
		rules_free(&p->classes[i].m, 1);
	}
	free(p->classes);
	free(p->acct_units);
	free(p->quotas);
	free(p->file);
	free(p);
}

struct policy *policy_parse(const char *name, const char *text)
{
	char err[512] = "";
	struct parser ps = { .name = name,
			     .src = text,
			     .p = text,
			     .line = 1,
			     .col = 1,
			     .err = err,
			     .errlen = sizeof(err) };

	ps.pol = calloc(1, sizeof(*ps.pol));
	if (!ps.pol) {
		err_set("%s: out of memory", name);
		return NULL;
	}
	ps.pol->dflt = FLOWBPF_VERDICT_PASS;
	ps.pol->file = strdup(name);
	next(&ps);
	while (!ps.failed && ps.tok.type != T_EOF) {
		if (ps.tok.type == T_WORD && !strcmp(ps.tok.text, "unit"))
			parse_unit(&ps);
		else if (ps.tok.type == T_WORD &&
			 !strcmp(ps.tok.text, "default"))
			parse_default(&ps);
		else if (ps.tok.type == T_WORD && !strcmp(ps.tok.text, "rule"))
			parse_rule(&ps);
		else if (ps.tok.type == T_WORD &&
			 !strcmp(ps.tok.text, "account"))
			parse_account(&ps);
		else if (ps.tok.type == T_WORD && !strcmp(ps.tok.text, "class"))
			parse_class(&ps);
		else if (ps.tok.type == T_WORD && !strcmp(ps.tok.text, "quota"))
			parse_quota(&ps);
		else
			perr(&ps,
			     "expected unit, rule, default, account, class or quota, found %s",
			     tok_desc(&ps));
	}
	if (ps.failed || !ps.pol->file) {
		if (!ps.failed)
			snprintf(err, sizeof(err), "%s: out of memory", name);
		err_set("%s", err);
		policy_free(ps.pol);
		ps.pol = NULL;
	}
	free(ps.slots);
	return ps.pol;
}

struct policy *policy_load(const char *file)
{
	char *text = NULL, why[128];
	struct policy *p;
	size_t len = 0;

	if (read_file(file, &text, &len, why, sizeof(why))) {
		err_set("%s: %s", file, why);
		return NULL;
	}
	if (strlen(text) != len) {
		err_set("%s: contains a NUL byte (not a text file?)", file);
		free(text);
		return NULL;
	}
	p = policy_parse(file, text);
	free(text);
	return p;
}
