// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "log.h"

static enum log_level cur_level = LOG_WARN;

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf is chatty even on success: only show it when debugging. */
	if (cur_level < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void log_setup(enum log_level level)
{
	cur_level = level;
	libbpf_set_print(libbpf_print);
}

enum log_level log_level(void)
{
	return cur_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > cur_level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static char last_err[512];

void err_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
	pr_debug("error: %s\n", last_err);
}

const char *err_get(void)
{
	return last_err[0] ? last_err : "unknown error";
}

void err_clear(void)
{
	last_err[0] = '\0';
}
