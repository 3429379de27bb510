// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSON lines sink: one record per line, to stdout or a file.  A file is
 * rotated when it reaches a size or an age: it is renamed to
 * PATH.YYYYMMDDTHHMMSSZ (a -N suffix keeps names unique), compressed to
 * that name plus .gz with zlib, and PATH starts again empty.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "record.h"
#include "flowfmt.h"
#include "log.h"

struct jsonl {
	struct acct_sink base;
	struct jsonl_opts o;
	FILE *f;
	__u64 size; /* bytes in the current file */
	__u64 opened_ns; /* CLOCK_MONOTONIC when it was started */
};

/* Compresses src into dst (through dst.tmp); 0 or -errno. */
static int gzip_file(const char *src, const char *dst)
{
	char tmp[4096 + 16], buf[65536];
	int err = 0;
	size_t n;
	gzFile gz;
	FILE *in;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = fopen(src, "rb");
	if (!in)
		return -errno;
	gz = gzopen(tmp, "wb");
	if (!gz) {
		fclose(in);
		return -EIO;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (gzwrite(gz, buf, n) != (int)n) {
			err = -EIO;
			break;
		}
	}
	if (ferror(in))
		err = -EIO;
	fclose(in);
	if (gzclose(gz) != Z_OK && !err)
		err = -EIO;
	if (!err && rename(tmp, dst))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int jsonl_open(struct jsonl *j)
{
	j->f = fopen(j->o.path, "a");
	if (!j->f) {
		int err = -errno;

		pr_warn("cannot open %s: %s\n", j->o.path, strerror(errno));
		return err;
	}
	j->size = ftell(j->f) > 0 ? (__u64)ftell(j->f) : 0;
	j->opened_ns = mono_now_ns();
	return 0;
}

static void jsonl_rotate(struct jsonl *j)
{
	char name[4096], gz[4096 + 8], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int i, err;

	if (fclose(j->f))
		j->base.errors++;
	j->f = NULL;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (i = 0; i < 1000; i++) {
		if (i)
			snprintf(name, sizeof(name), "%s.%s-%d", j->o.path,
				 stamp, i);
		else
			snprintf(name, sizeof(name), "%s.%s", j->o.path, stamp);
		snprintf(gz, sizeof(gz), "%s.gz", name);
		if (access(name, F_OK) && access(gz, F_OK))
			break;
	}
	if (rename(j->o.path, name)) {
		pr_warn("cannot rotate %s: %s\n", j->o.path, strerror(errno));
	} else if (j->o.gzip) {
		err = gzip_file(name, gz);
		if (err)
			pr_warn("cannot compress %s (kept as it is): %s\n",
				name, strerror(-err));
		else
			unlink(name);
	}
	if (jsonl_open(j))
		j->base.errors++;
}

static int jsonl_write(struct acct_sink *s, const struct acct_record *r)
{
	struct jsonl *j = (struct jsonl *)s;
	json_t *o = acct_record_json(r);
	char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)
		       : NULL;
	int err = 0;

	json_decref(o);
	if (!line || !j->f || fprintf(j->f, "%s\n", line) < 0) {
		s->errors++;
		err = -EIO;
	} else {
		j->size += strlen(line) + 1;
	}
	free(line);
	if (!err && j->o.rotate_bytes && j->size >= j->o.rotate_bytes)
		jsonl_rotate(j);
	return err;
}

static int jsonl_flush(struct acct_sink *s)
{
	struct jsonl *j = (struct jsonl *)s;

	if (!j->f)
		return -EIO;
	if (fflush(j->f)) {
		s->errors++;
		return -errno;
	}
	if (j->o.rotate_ns && j->f != stdout && j->size &&
	    mono_now_ns() - j->opened_ns >= j->o.rotate_ns)
		jsonl_rotate(j);
	return 0;
}

static void jsonl_close(struct acct_sink *s)
{
	struct jsonl *j = (struct jsonl *)s;

	if (j->f && j->f != stdout)
		fclose(j->f);
	else if (j->f)
		fflush(j->f);
	free(j);
}

struct acct_sink *jsonl_sink_new(const struct jsonl_opts *o)
{
	struct jsonl *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->base.name = "json";
	j->base.write = jsonl_write;
	j->base.flush = jsonl_flush;
	j->base.close = jsonl_close;
	j->o = *o;
	if (!strcmp(o->path, "-")) {
		j->f = stdout;
		j->o.rotate_bytes = j->o.rotate_ns = 0;
	} else if (jsonl_open(j)) {
		free(j);
		return NULL;
	}
	return &j->base;
}
