/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses in fuzz/ share: CHECK(), which stops the
 * run with the reason (libFuzzer then keeps the input as a crash), and a
 * private directory for the files a harness hands to code that reads
 * files.
 */
#ifndef FLOWBPF_FUZZ_H
#define FLOWBPF_FUZZ_H

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The entry point libFuzzer calls with each input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

/* The same, saying more about what was checked. */
#define CHECKF(cond, fmt, ...)                                                \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: check failed: %s: " fmt "\n", \
				__FILE__, __LINE__, #cond, ##__VA_ARGS__);    \
			abort();                                              \
		}                                                             \
	} while (0)

#define FUZZ_FILES_MAX 8

/* The private directory and the files made in it. */
struct fuzz_files {
	char dir[PATH_MAX];
	char *path[FUZZ_FILES_MAX];
	int n;
};

static inline struct fuzz_files *fuzz_files(void)
{
	static struct fuzz_files f;

	return &f;
}

static inline void fuzz_dir_remove(void)
{
	struct fuzz_files *f = fuzz_files();

	while (f->n) {
		unlink(f->path[--f->n]);
		free(f->path[f->n]);
	}
	if (f->dir[0])
		rmdir(f->dir);
	f->dir[0] = '\0';
}

/*
 * The harness's own directory (mode 0700), made at the first call under
 * $TMPDIR or /tmp.  It goes at exit, with the files named by fuzz_path();
 * a crash leaves it behind, which is why fuzz/run.sh sets TMPDIR to a
 * directory of its own that it removes when done.
 */
static inline const char *fuzz_dir(void)
{
	struct fuzz_files *f = fuzz_files();
	const char *tmp = getenv("TMPDIR");

	if (f->dir[0])
		return f->dir;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	CHECK(snprintf(f->dir, sizeof(f->dir), "%s/flowbpf-fuzz.XXXXXX", tmp) <
	      (int)sizeof(f->dir));
	if (!mkdtemp(f->dir)) {
		perror(f->dir);
		abort();
	}
	atexit(fuzz_dir_remove);
	return f->dir;
}

/* DIR/name, removed at exit; the string lives as long as the run. */
static inline const char *fuzz_path(const char *name)
{
	struct fuzz_files *f = fuzz_files();
	const char *dir = fuzz_dir();
	char *p;

	CHECK(f->n < FUZZ_FILES_MAX);
	CHECK(asprintf(&p, "%s/%s", dir, name) > 0);
	f->path[f->n++] = p;
	return p;
}

/* Replaces the file's content with data[0..len). */
static inline void fuzz_write(const char *path, const void *data, size_t len)
{
	const char *p = data;
	ssize_t r;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	while (len) {
		r = write(fd, p, len);
		if (r <= 0) {
			perror(path);
			abort();
		}
		p += r;
		len -= r;
	}
	CHECK(!close(fd));
}

#endif
