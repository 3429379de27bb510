// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "flowfmt.h"
#include "params.h"

/* Options are returned by getopt_long() as PARAM_VAL + their row. */
#define PARAM_VAL 256
#define PARAMS_MAX 48
#define HELP_WIDTH 79
#define HELP_COL_MAX 36

static size_t params_count(const struct param *params)
{
	size_t n = 0;

	while (params && params[n].name)
		n++;
	return n;
}

/* The largest value the row's field holds, or its explicit max. */
static __u64 param_max(const struct param *p)
{
	if (p->max)
		return p->max;
	return p->size == 8 ? ~0ULL : p->size == 4 ? 0xffffffffULL : 0xffff;
}

static void value_str(const struct param *p, __u64 v, char *buf, size_t len)
{
	if (p->type == P_SIZE)
		size_str(v, buf, len);
	else if (p->type == P_DURATION)
		duration_str(v, buf, len);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* Whether a later name is an alias of an earlier one. */
static bool is_alias(const struct name_value *names, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (names[j].value == names[i].value)
			return true;
	return false;
}

/* "'a', 'b' or 'c'", or with sep "|": "a|b|c". */
static void names_str(const struct name_value *names, const char *sep,
		      char *buf, size_t len)
{
	size_t i, n = 0, count = 0, k = 0;

	for (i = 0; names[i].name; i++)
		count += !is_alias(names, i);
	buf[0] = '\0';
	for (i = 0; names[i].name && n < len; i++) {
		if (is_alias(names, i))
			continue;
		if (sep)
			n += snprintf(buf + n, len - n, "%s%s", k ? sep : "",
				      names[i].name);
		else
			n += snprintf(buf + n, len - n, "%s'%s'",
				      !k	      ? ""
				      : k + 1 < count ? ", "
						      : " or ",
				      names[i].name);
		k++;
	}
}

/* What a value of the row must be, for its usage error. */
static void param_want(const struct param *p, char *buf, size_t len)
{
	const char *what = p->type == P_COUNT	   ? "a number"
			   : p->type == P_DURATION ? "a duration"
			   : p->flags & P_POW2	   ? "a power of two"
						   : "a size";
	const char *example = p->type == P_DURATION ? " (such as 2s or 500ms)"
			      : p->type == P_SIZE   ? " (such as 64K or 1M)"
						    : "";
	char lo[32], hi[32];

	if (p->type == P_ENUM) {
		names_str(p->names, NULL, buf, len);
		return;
	}
	value_str(p, p->min, lo, sizeof(lo));
	value_str(p, param_max(p), hi, sizeof(hi));
	if (p->max || (p->size < 8 && p->type == P_COUNT))
		snprintf(buf, len, "%s from %s to %s%s", what, lo, hi, example);
	else if (p->min == 1 && p->type == P_DURATION)
		snprintf(buf, len, "%s above zero%s", what, example);
	else if (p->min)
		snprintf(buf, len, "%s of at least %s%s", what, lo, example);
	else
		snprintf(buf, len, "%s%s", what, example);
}

static void field_set(void *args, const struct param *p, __u64 v)
{
	char *f = (char *)args + p->off;

	if (p->size == 8) {
		__u64 x = v;

		memcpy(f, &x, 8);
	} else if (p->size == 4) {
		__u32 x = v;

		memcpy(f, &x, 4);
	} else if (p->size == 2) {
		__u16 x = v;

		memcpy(f, &x, 2);
	} else {
		*(bool *)f = v;
	}
}

static __u64 field_get(const void *args, const struct param *p)
{
	const char *f = (const char *)args + p->off;
	__u64 x8;
	__u32 x4;
	__u16 x2;

	switch (p->size) {
	case 8:
		memcpy(&x8, f, 8);
		return x8;
	case 4:
		memcpy(&x4, f, 4);
		return x4;
	case 2:
		memcpy(&x2, f, 2);
		return x2;
	default:
		return *(const bool *)f;
	}
}

static int param_number(const struct param *p, const char *arg, __u64 *v)
{
	int err = p->type == P_COUNT  ? count_parse(arg, v)
		  : p->type == P_SIZE ? size_parse(arg, v)
				      : duration_parse(arg, v);

	if (err || *v < p->min || *v > param_max(p))
		return -EINVAL;
	if ((p->flags & P_POW2) && (*v & (*v - 1)))
		return -EINVAL;
	return 0;
}

/* P_LIST: the slots are the field; one more value in the first free. */
static int param_append(const struct param *p, void *args, const char *arg)
{
	const char **slot = (const char **)((char *)args + p->off);
	size_t i, n = p->size / sizeof(*slot);

	for (i = 0; i < n; i++) {
		if (!slot[i]) {
			slot[i] = arg;
			return 0;
		}
	}
	return cli_usage_error("--%s is taken at most %zu time%s", p->name, n,
			       n == 1 ? "" : "s");
}

/* Stores one option's value; 0 or a usage error's exit code. */
static int param_set(const struct param *p, void *args, const char *arg)
{
	char want[160];
	__u64 v = 0;
	size_t i;

	switch (p->type) {
	case P_FLAG:
		field_set(args, p, !(p->flags & P_INVERT));
		return 0;
	case P_STR:
		memcpy((char *)args + p->off, &arg, sizeof(arg));
		return 0;
	case P_LIST:
		return param_append(p, args, arg);
	case P_ENUM:
		for (i = 0; p->names[i].name; i++) {
			if (!strcmp(arg, p->names[i].name)) {
				field_set(args, p, p->names[i].value);
				return 0;
			}
		}
		break;
	default:
		if (!param_number(p, arg, &v)) {
			field_set(args, p, v);
			return 0;
		}
	}
	param_want(p, want, sizeof(want));
	return cli_usage_error("--%s must be %s, not '%s'", p->name, want, arg);
}

/* getopt_long()'s tables for params; false if they do not fit. */
static bool getopt_tables(const struct param *params, size_t n,
			  struct option *lo, char *so, size_t solen)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		lo[i] = (struct option){ params[i].name,
					 params[i].type == P_FLAG
						 ? no_argument
						 : required_argument,
					 NULL, PARAM_VAL + (int)i };
		if (params[i].short_name && k + 3 < solen) {
			so[k++] = params[i].short_name;
			if (params[i].type != P_FLAG)
				so[k++] = ':';
		}
	}
	memset(&lo[n], 0, sizeof(lo[n]));
	so[k] = '\0';
	return true;
}

static int row_of(const struct param *params, size_t n, int c)
{
	size_t i;

	if (c >= PARAM_VAL && c < PARAM_VAL + (int)n)
		return c - PARAM_VAL;
	for (i = 0; i < n; i++)
		if (params[i].short_name == c)
			return i;
	return -1;
}

bool params_parse(const struct param *params, void *args, size_t args_size,
		  int argc, char **argv, __u64 *seen, int *rc)
{
	struct option lo[PARAMS_MAX + 1];
	size_t n = params_count(params);
	char so[2 * PARAMS_MAX + 1];
	void *defaults = NULL;
	int c, row;

	if (n > PARAMS_MAX) {
		/* A table that outgrew this is a bug, never input. */
		fprintf(stderr, "internal error: more than %d options\n",
			PARAMS_MAX);
		abort();
	}
	getopt_tables(params, n, lo, so, sizeof(so));
	if (seen)
		*seen = 0;
	/* --help shows the defaults, whatever came before it. */
	defaults = malloc(args_size ? args_size : 1);
	if (defaults && args_size)
		memcpy(defaults, args, args_size);
	*rc = EXIT_USAGE;
	while ((c = cli_getopt(argc, argv, lo, so)) != -1) {
		if (c == 'h') {
			*rc = cli_help_params(params, defaults);
			break;
		}
		row = row_of(params, n, c);
		if (row < 0 || param_set(&params[row], args, optarg))
			break;
		if (seen)
			*seen |= 1ULL << row;
	}
	free(defaults);
	return c == -1;
}

bool params_given(const struct param *params, __u64 seen, const char *name)
{
	size_t i;

	for (i = 0; params[i].name; i++)
		if (!strcmp(params[i].name, name))
			return seen & (1ULL << i);
	return false;
}

/* "(default X)" for the row, or "" when it has none to show. */
static void param_default(const struct param *p, const void *args, char *buf,
			  size_t len)
{
	const char *s = NULL;
	char v[48];
	size_t i;

	buf[0] = '\0';
	if (p->dflt) {
		if (p->dflt[0])
			snprintf(buf, len, " (default %s)", p->dflt);
		return;
	}
	if (p->type == P_FLAG || p->type == P_LIST) {
		return;
	} else if (p->type == P_STR) {
		memcpy(&s, (const char *)args + p->off, sizeof(s));
		if (s)
			snprintf(buf, len, " (default %s)", s);
		return;
	} else if (p->type == P_ENUM) {
		for (i = 0; p->names[i].name && !s; i++)
			if (p->names[i].value == field_get(args, p))
				s = p->names[i].name;
		if (s)
			snprintf(buf, len, " (default %s)", s);
		return;
	}
	value_str(p, field_get(args, p), v, sizeof(v));
	snprintf(buf, len, " (default %s)", v);
}

/* Writes text from column col, wrapped at HELP_WIDTH. */
static void help_wrap(FILE *f, const char *text, size_t at, size_t col)
{
	const char *w = text, *e;

	while (*w) {
		size_t len;

		e = strchr(w, ' ');
		len = e ? (size_t)(e - w) : strlen(w);
		if (at > col && at + 1 + len > HELP_WIDTH) {
			fprintf(f, "\n%*s", (int)col, "");
			at = col;
		} else if (at > col) {
			fputc(' ', f);
			at++;
		}
		fprintf(f, "%.*s", (int)len, w);
		at += len;
		w += len;
		while (*w == ' ')
			w++;
	}
	fputc('\n', f);
}

/* "  -m, --mode monitor|enforce": the row's left column. */
static void param_head(const struct param *p, char *head, size_t len)
{
	char arg[96] = "";

	if (p->arg) {
		snprintf(arg, sizeof(arg), " %s", p->arg);
	} else if (p->type == P_ENUM) {
		arg[0] = ' ';
		names_str(p->names, "|", arg + 1, sizeof(arg) - 1);
	}
	if (p->short_name)
		snprintf(head, len, "  -%c, --%s%s", p->short_name, p->name,
			 arg);
	else
		snprintf(head, len, "      --%s%s", p->name, arg);
}

void params_help(FILE *f, const struct param *params, const void *args)
{
	char head[128], dflt[128], *text;
	size_t i, len, col = 0;

	/* The help column: after the widest head that is not too wide. */
	for (i = 0; params[i].name; i++) {
		param_head(&params[i], head, sizeof(head));
		len = strlen(head) + 2;
		if (len > col && len <= HELP_COL_MAX)
			col = len;
	}
	for (i = 0; params[i].name; i++) {
		param_head(&params[i], head, sizeof(head));
		param_default(&params[i], args, dflt, sizeof(dflt));
		len = strlen(head);
		if (len + 2 > col)
			fprintf(f, "%s\n%*s", head, (int)col, "");
		else
			fprintf(f, "%s%*s", head, (int)(col - len), "");
		if (asprintf(&text, "%s%s", params[i].help, dflt) < 0)
			continue;
		help_wrap(f, text, col, col);
		free(text);
	}
}
