/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef FLOWBPF_LOG_H
#define FLOWBPF_LOG_H

enum log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

/* Diagnostics go to stderr; libbpf's own messages only show at LOG_DEBUG. */
void log_setup(enum log_level level);
enum log_level log_level(void);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(fmt, ...) log_msg(LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) log_msg(LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_msg(LOG_DEBUG, fmt, ##__VA_ARGS__)

/*
 * The last error, as one line for a person.  Library code sets it and
 * returns -errno; the CLI prints it as text or as {"error": ...}.
 */
void err_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_get(void);
void err_clear(void);
#endif
