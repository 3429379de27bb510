// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "daemon.h"

/*
 * A value that could not be built (NULL) is an error of its own: printing
 * nothing would let a script read an empty answer with exit status 0.
 * Every caller's next step is to exit, so this one exits for it.
 */
void json_out(json_t *v)
{
	size_t flags = JSON_PRESERVE_ORDER |
		       (env.pretty ? JSON_INDENT(2) : JSON_COMPACT);
	int err;

	if (!v) {
		fputs("{\"error\":\"cannot build the JSON output\"}\n", stdout);
		fflush(stdout);
		exit(EXIT_FAIL);
	}
	err = json_dumpf(v, stdout, flags);
	json_decref(v);
	if (err || fputc('\n', stdout) == EOF || fflush(stdout)) {
		fprintf(stderr, "Error: cannot write the JSON output\n");
		exit(EXIT_FAIL);
	}
}

static int verror(int code, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (env.json)
		json_out(json_pack("{s:o}", "error", ctl_json_str(msg)));
	else
		fprintf(stderr, "Error: %s\n", msg);
	return code;
}

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = verror(code, fmt, ap);
	va_end(ap);
	return ret;
}
