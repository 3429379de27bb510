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
	char *err;
	size_t errlen;
	bool failed;
	struct policy *pol;
	size_t units_cap;
	/* Unit names by hash: index + 1 of the unit, 0 for a free slot. */
	size_t *slots, nslots;
	int default_line;
};

static void perr_at(struct parser *ps, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void perr_at(struct parser *ps, int line, int col, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%d:%d: %s", ps->name, line, col, msg);
}

#define perr(ps, fmt, ...) \
	perr_at(ps, (ps)->tok.line, (ps)->tok.col, fmt, ##__VA_ARGS__)

static void rules_free(struct rule *rules, size_t n);

static bool word_char(char c)
{
	/* strchr() would find the terminating NUL too. */
	return c && (isalnum((unsigned char)c) || strchr("._:/-*!+", c));
}

/* Reads the next token into ps->tok. */
static void next(struct parser *ps)
{
	struct tok *t = &ps->tok;
	size_t n = 0;

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
			break;
		}
	}
	t->line = ps->line;
	t->col = ps->col;
	t->text[0] = '\0';
	if (!*ps->p) {
		t->type = T_EOF;
		return;
	}
	switch (*ps->p) {
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
		t->type = T_STRING;
		ps->p++;
		ps->col++;
		while (*ps->p && *ps->p != '"' && *ps->p != '\n') {
			/* A cut file name would name another file. */
			if (n == TOK_MAX) {
				perr(ps, "string longer than %d bytes",
				     TOK_MAX);
				t->type = T_EOF;
				return;
			}
			t->text[n++] = *ps->p;
			ps->p++;
			ps->col++;
		}
		t->text[n] = '\0';
		if (*ps->p != '"') {
			perr(ps, "unterminated string");
			t->type = T_EOF;
			return;
		}
		ps->p++;
		ps->col++;
		return;
	default:
		if (!word_char(*ps->p)) {
			perr(ps, "unexpected character '%c'", *ps->p);
			t->type = T_EOF;
			return;
		}
		t->type = T_WORD;
		while (word_char(*ps->p)) {
			if (n + 1 >= sizeof(t->text)) {
				perr(ps, "word too long");
				t->type = T_EOF;
				return;
			}
			t->text[n++] = *ps->p++;
			ps->col++;
		}
		t->text[n] = '\0';
		return;
	}
	t->text[0] = *ps->p;
	t->text[1] = '\0';
	ps->p++;
	ps->col++;
}

static const char *tok_desc(const struct tok *t)
{
	static char buf[300];

	switch (t->type) {
	case T_EOF:
		return "end of file";
	case T_STRING:
		snprintf(buf, sizeof(buf), "\"%s\"", t->text);
		return buf;
	default:
		snprintf(buf, sizeof(buf), "'%s'", t->text);
		return buf;
	}
}

static bool expect(struct parser *ps, enum tok_type type, const char *what)
{
	if (ps->tok.type != type) {
		perr(ps, "expected %s, found %s", what, tok_desc(&ps->tok));
		return false;
	}
	next(ps);
	return !ps->failed;
}

/* ---- address sets ---- */

addr128 key_addr128(const struct flowbpf_key *k, bool src)
{
	const __be32 *a = src ? k->saddr : k->daddr;
	addr128 v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = (v << 32) | ntohl(a[i]);
	return v;
}

bool addrset_contains(const struct addrset *s, int family, addr128 a)
{
	size_t lo = family == 4 ? 0 : s->n4, hi = family == 4 ? s->n4 : s->n;
	size_t first = lo;

	/* The last range starting at or below a is the only candidate. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->lo[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > first && a <= s->hi[lo - 1];
}

struct rangebuf {
	addr128 *lo, *hi;
	__u8 *fam;
	size_t n, cap;
};

static int rb_add(struct rangebuf *b, int fam, addr128 lo, addr128 hi)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		addr128 *nl = realloc(b->lo, cap * sizeof(*nl));
		__u8 *nf;

		if (!nl)
			return -ENOMEM;
		b->lo = nl;
		nl = realloc(b->hi, cap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		b->hi = nl;
		nf = realloc(b->fam, cap);
		if (!nf)
			return -ENOMEM;
		b->fam = nf;
		b->cap = cap;
	}
	b->lo[b->n] = lo;
	b->hi[b->n] = hi;
	b->fam[b->n] = fam;
	b->n++;
	return 0;
}

static void rb_free(struct rangebuf *b)
{
	free(b->lo);
	free(b->hi);
	free(b->fam);
	memset(b, 0, sizeof(*b));
}

struct pair {
	addr128 lo, hi;
	int fam;
};

/* IPv4 first, then by start. */
static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/* Sorts and merges the ranges into a set; frees the buffer. */
static int rb_finish(struct rangebuf *b, struct addrset *out)
{
	struct pair *p = NULL;
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	if (b->n) {
		p = malloc(b->n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		for (i = 0; i < b->n; i++)
			p[i] = (struct pair){ b->lo[i], b->hi[i], b->fam[i] };
		qsort(p, b->n, sizeof(*p), pair_cmp);
		for (i = 0; i < b->n; i++) {
			struct pair *last = n ? &p[n - 1] : NULL;

			/* Overlapping or adjacent within a family: merge. */
			if (last && last->fam == p[i].fam &&
			    (last->hi == ~(addr128)0 ||
			     p[i].lo <= last->hi + 1)) {
				if (p[i].hi > last->hi)
					last->hi = p[i].hi;
			} else {
				p[n++] = p[i];
			}
		}
		/* Reuse the buffers: n <= b->n. */
		for (i = 0; i < n; i++) {
			b->lo[i] = p[i].lo;
			b->hi[i] = p[i].hi;
			out->n4 += p[i].fam == 4;
		}
		free(p);
	}
	out->lo = b->lo;
	out->hi = b->hi;
	out->n = n;
	b->lo = b->hi = NULL;
	rb_free(b);
	return 0;
}

static void addrset_free(struct addrset *s)
{
	free(s->lo);
	free(s->hi);
	memset(s, 0, sizeof(*s));
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

	if (p->nunits == ps->units_cap) {
		n = ps->units_cap ? ps->units_cap * 2 : 16;
		nu = realloc(p->units, n * sizeof(*nu));
		if (!nu)
			return -ENOMEM;
		p->units = nu;
		ps->units_cap = n;
	}
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
		"unit", "rule",	     "default",	  "any",   "from",  "to",
		"dir",	"iface",     "vlan",	  "proto", "sport", "dport",
		"port", "icmp-type", "icmp-code", "time",  "days",  "allow",
		"deny", "pass",	     "drop",	  "file",  "tunnel",
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

static void table_err(struct parser *ps, const char *path, int lineno,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void table_err(struct parser *ps, const char *path, int lineno,
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
	snprintf(ps->err, ps->errlen, "%s:%d:1: %s", path, lineno, msg);
}

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
		perr(ps, "expected a unit name, found %s", tok_desc(&ps->tok));
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
			     tok_desc(&ps->tok));
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
				     tok_desc(&ps->tok));
				goto out;
			}
			if (add_item(ps, &b, &u.prefixes))
				goto out;
			next(ps);
			if (ps->tok.type == T_SEMI || ps->tok.type == T_COMMA)
				next(ps);
			else if (ps->tok.type != T_RBRACE) {
				perr(ps, "expected ';' or '}', found %s",
				     tok_desc(&ps->tok));
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
		     tok_desc(&ps->tok));
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
			perr(ps, "expected a value, found %s",
			     tok_desc(&ps->tok));
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
			     tok_desc(&ps->tok));
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

static bool proto_has_ports(__u8 p)
{
	return p == 6 || p == 17 || p == 132 || p == 33 || p == 136;
}

static int parse_rule(struct parser *ps)
{
	struct r16list l;
	struct rule r = { .dir = -1,
			  .icmp_type = -1,
			  .icmp_code = -1,
			  .tun_type = -1,
			  .tmin_from = -1,
			  .tmin_to = -1 };
	struct rule *nr;
	unsigned int seen = 0;
	int line = ps->tok.line, col = ps->tok.col;
	size_t i;

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
		perr(ps, "expected allow or deny, found %s",
		     tok_desc(&ps->tok));
		goto err;
	}
	next(ps);

	while (!ps->failed && ps->tok.type == T_WORD) {
		static const char *const keys[] = {
			"dir",	     "iface", "vlan",  "proto", "from",
			"to",	     "sport", "dport", "port",	"icmp-type",
			"icmp-code", "time",  "days",  "tunnel",
		};
		char key[sizeof(ps->tok.text)];
		unsigned int bit = 0;

		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(ps->tok.text, keys[i]))
				bit = 1U << i;
		if (!bit) {
			perr(ps,
			     "unknown match '%s' (expected dir, iface, vlan, proto, from, to, sport, dport, port, icmp-type, icmp-code, time, days or tunnel)",
			     ps->tok.text);
			goto err;
		}
		if (seen & bit) {
			perr(ps, "'%s' is given twice in this rule",
			     ps->tok.text);
			goto err;
		}
		seen |= bit;
		snprintf(key, sizeof(key), "%s", ps->tok.text);
		next(ps);
		if (ps->tok.type != T_WORD) {
			perr(ps, "expected a value after '%s', found %s", key,
			     tok_desc(&ps->tok));
			goto err;
		}
		if (!strcmp(key, "dir")) {
			if (!strcmp(ps->tok.text, "in"))
				r.dir = FLOWBPF_DIR_INGRESS;
			else if (!strcmp(ps->tok.text, "out"))
				r.dir = FLOWBPF_DIR_EGRESS;
			else {
				perr(ps,
				     "expected in or out after dir, found %s",
				     tok_desc(&ps->tok));
				goto err;
			}
			next(ps);
		} else if (!strcmp(key, "iface")) {
			if (parse_list(ps, add_iface, &r))
				goto err;
		} else if (!strcmp(key, "vlan")) {
			l = (struct r16list){ &r.vlans, &r.nvlans, 4095,
					      "VLAN id" };
			if (parse_list(ps, add_range16, &l))
				goto err;
		} else if (!strcmp(key, "proto")) {
			if (parse_list(ps, add_proto, &r))
				goto err;
		} else if (!strcmp(key, "from")) {
			if (parse_addr_match(ps, &r.from))
				goto err;
		} else if (!strcmp(key, "to")) {
			if (parse_addr_match(ps, &r.to))
				goto err;
		} else if (!strcmp(key, "sport") || !strcmp(key, "dport") ||
			   !strcmp(key, "port")) {
			l = key[0] == 's'
				    ? (struct r16list){ &r.sports, &r.nsports,
							65535, "port" }
			    : key[0] == 'd'
				    ? (struct r16list){ &r.dports, &r.ndports,
							65535, "port" }
				    : (struct r16list){ &r.ports, &r.nports,
							65535, "port" };
			if (parse_list(ps, add_range16, &l))
				goto err;
		} else if (!strcmp(key, "icmp-type") ||
			   !strcmp(key, "icmp-code")) {
			char *end;
			unsigned long v = strtoul(ps->tok.text, &end, 10);

			if (*end || !isdigit((unsigned char)ps->tok.text[0]) ||
			    v > 255) {
				perr(ps, "invalid %s '%s' (0-255)", key,
				     ps->tok.text);
				goto err;
			}
			if (key[5] == 't')
				r.icmp_type = v;
			else
				r.icmp_code = v;
			next(ps);
		} else if (!strcmp(key, "time")) {
			if (parse_time(ps, &r))
				goto err;
			ps->pol->has_time = true;
			next(ps);
		} else if (!strcmp(key, "tunnel")) {
			__u8 t;

			if (tunnel_parse(ps->tok.text, &t, &r.tun_id,
					 &r.tun_has_id)) {
				perr(ps,
				     "invalid tunnel '%s' (none, vxlan, geneve, gre, ipip, sit, ip6, mpls or pppoe, with :ID for all but ipip, sit and ip6)",
				     ps->tok.text);
				goto err;
			}
			r.tun_type = t;
			next(ps);
		} else if (!strcmp(key, "days")) {
			if (parse_list(ps, add_days, &r))
				goto err;
			ps->pol->has_time = true;
		}
	}
	if (ps->failed)
		goto err;
	if (ps->tok.type != T_SEMI) {
		perr(ps, "expected a match or ';', found %s",
		     tok_desc(&ps->tok));
		goto err;
	}
	/* Matches that can never hold are mistakes worth stopping for. */
	if (r.nsports || r.ndports || r.nports) {
		bool ok = !r.nprotos;

		for (i = 0; i < r.nprotos; i++)
			ok |= proto_has_ports(r.protos[i]);
		if (!ok) {
			perr_at(ps, line, col,
				"ports need proto tcp, udp, sctp, dccp or udplite");
			goto err;
		}
	}
	if (r.icmp_type >= 0 || r.icmp_code >= 0) {
		bool ok = r.nprotos > 0;

		for (i = 0; i < r.nprotos; i++)
			ok &= r.protos[i] == 1 || r.protos[i] == 58;
		if (!ok) {
			perr_at(ps, line, col,
				"icmp-type and icmp-code need proto icmp or icmpv6 (only)");
			goto err;
		}
		if ((r.nsports || r.ndports || r.nports)) {
			perr_at(ps, line, col,
				"ports and icmp-type exclude each other");
			goto err;
		}
	}
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
	free(p->file);
	free(p);
}

struct policy *policy_parse(const char *name, const char *text, char *err,
			    size_t errlen)
{
	struct parser ps = { .name = name,
			     .src = text,
			     .p = text,
			     .line = 1,
			     .col = 1,
			     .err = err,
			     .errlen = errlen };

	ps.pol = calloc(1, sizeof(*ps.pol));
	if (!ps.pol) {
		snprintf(err, errlen, "%s: out of memory", name);
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
		else
			perr(&ps, "expected unit, rule or default, found %s",
			     tok_desc(&ps.tok));
	}
	if (ps.failed || !ps.pol->file) {
		if (!ps.failed)
			snprintf(err, errlen, "%s: out of memory", name);
		policy_free(ps.pol);
		ps.pol = NULL;
	}
	free(ps.slots);
	return ps.pol;
}

struct policy *policy_load(const char *file, char *err, size_t errlen)
{
	char *text = NULL, why[128];
	struct policy *p;
	size_t len = 0;

	if (read_file(file, &text, &len, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", file, why);
		return NULL;
	}
	if (strlen(text) != len) {
		snprintf(err, errlen,
			 "%s: contains a NUL byte (not a text file?)", file);
		free(text);
		return NULL;
	}
	p = policy_parse(file, text, err, errlen);
	free(text);
	return p;
}
