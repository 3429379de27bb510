/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Command options as tables.  One row per option names it, says its type,
 * where its value goes in the command's argument struct, its range and
 * its help; parsing, the --help text, its defaults (the struct's values
 * before parsing) and the names an option takes all come from the row.
 */
#ifndef FLOWBPF_PARAMS_H
#define FLOWBPF_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "flowfmt.h"

enum param_type {
	P_FLAG, /* no value: sets a bool (or clears it, with P_INVERT) */
	P_STR, /* a const char * to the argument */
	P_LIST, /* each time given, the next free slot of a const char *[] */
	P_ENUM, /* one of names[], stored as its value */
	P_COUNT, /* a number with k/M/G suffixes (count_parse) */
	P_SIZE, /* bytes with K/M/G suffixes (size_parse) */
	P_DURATION, /* 2s, 500ms, ... (duration_parse), in ns */
};

enum {
	P_POW2 = 1 << 0, /* P_SIZE: a power of two */
	P_INVERT = 1 << 1, /* P_FLAG: the option clears the bool */
};

struct param {
	const char *name; /* the long option, without "--" */
	int short_name; /* its one-letter form, or 0 */
	enum param_type type;
	size_t off, size; /* the field: PARAM_FIELD(struct, member) */
	const char *arg; /* the value's name in --help: "N", "FILE" */
	const char *help;
	__u64 min, max; /* numbers: the range; max 0 means the field's */
	unsigned int flags;
	const struct name_value *names; /* P_ENUM, ends with { NULL } */
	const char *dflt; /* --help's default when the value cannot say it,
			   * "" for none */
};

#define PARAM_FIELD(type, member) \
	offsetof(type, member), sizeof(((type *)0)->member)

/*
 * Parses the options of argv (a command's, argv[0] its name) into args by
 * the table params (ending with a row whose name is NULL), the common
 * options too.  Returns true to go on, with optind at the first operand;
 * false when the command is to exit with *rc: after --help (EXIT_OK) or a
 * usage error (EXIT_USAGE).  seen, if not NULL, gets a bit per row
 * given.
 */
bool params_parse(const struct param *params, void *args, size_t args_size,
		  int argc, char **argv, __u64 *seen, int *rc);
#define PARAMS_PARSE(params, args, argc, argv, seen, rc) \
	params_parse(params, args, sizeof(*(args)), argc, argv, seen, rc)

/* For a command without options of its own: the common ones only. */
#define PARAMS_NONE(argc, argv, rc) \
	params_parse(NULL, NULL, 0, argc, argv, NULL, rc)

/* Whether the option named was given, from params_parse()'s seen. */
bool params_given(const struct param *params, __u64 seen, const char *name);

/* The "Options:" lines of --help; defaults are args' values. */
void params_help(FILE *f, const struct param *params, const void *args);

#endif
