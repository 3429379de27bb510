// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include "cli.h"

void json_out(json_t *v)
{
	size_t flags = JSON_PRESERVE_ORDER |
		       (env.pretty ? JSON_INDENT(2) : JSON_COMPACT);

	if (!v)
		return;
	json_dumpf(v, stdout, flags);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(v);
}

static int verror(int code, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (env.json)
		json_out(json_pack("{s:s}", "error", msg));
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
