// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * JSON lines sink: one record per line, to stdout or a file.  A file is
 * rotated when it reaches a size or an age: it is renamed to
 * PATH.YYYYMMDDTHHMMSSZ (a -N suffix keeps names unique), compressed to
 * that name plus .gz with zlib, and PATH starts again empty.  The
 * uncompressed file is removed only once the .gz and its name are on
 * disk, so that a crash of the machine leaves one of the two whole.
 *
 * Lines are kept in a buffer of our own and written with write(2), so
 * that a failed write is known record by record: the sink counts in
 * base.written the records that are wholly in the file, cuts off the
 * start of a line that did not fit (a full disk), and drops the rest of
 * the buffer, which the collector offers again later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>
#include "array.h"
#include "clock.h"
#include "record.h"
#include "flowfmt.h"
#include "log.h"

/* A buffer this full is written out without waiting for the flush. */
#define JSONL_PUSH_BYTES (64U << 10)

struct jsonl {
	struct acct_sink base;
	struct jsonl_opts o;
	char dir[4096]; /* the file's directory */
	int fd; /* -1 while the file cannot be opened */
	bool regular; /* a regular file: rotated, and cut back on errors */
	char *buf; /* lines not written yet */
	size_t len, cap;
	size_t *ends; /* where each record's line ends in buf */
	size_t nrec, rec_cap;
	char *carry; /* the rest of a line that could not be cut off */
	size_t carry_len;
	int err; /* of the failure under way, 0 when writing works */
	bool refuse; /* a write failed: take nothing until the flush */
	__u64 size; /* bytes in the current file */
	__u64 opened_ns; /* CLOCK_MONOTONIC when it was started */
};

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0 || fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/* Copies in into gz; 0 or -errno. */
static int gz_copy(int in, gzFile gz)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (gzwrite(gz, buf, n) != (int)n)
			return -EIO;
	}
	return 0;
}

/* rename(), but never over a name that is taken; 0 or -errno. */
static int rename_new(const char *from, const char *to)
{
	if (!renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_NOREPLACE: the name was free a
	 * moment ago. */
	return rename(from, to) ? -errno : 0;
}

/*
 * Compresses src into dst, through a temporary file in the same
 * directory, with src's permissions.  dst and its name are on disk (fsync
 * of the file, then of the directory) before it returns 0, so that the
 * caller may remove src.  The temporary name is mkstemp's: one known in
 * advance could be made a link to another file by whoever can write the
 * directory.
 */
static int gzip_file(const char *src, const char *dst, const char *dir)
{
	int in, out = -1, err = 0;
	char tmp[4096 + 16];
	gzFile gz = NULL;
	struct stat st;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", dst);
	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		err = -errno;
		tmp[0] = '\0';
		goto out;
	}
	if (fstat(in, &st) || fchmod(out, st.st_mode & 0777)) {
		err = -errno;
		goto out;
	}
	/* gzclose() closes its descriptor; out stays open for the fsync. */
	gz = gzdopen(dup(out), "wb");
	err = gz ? gz_copy(in, gz) : -ENOMEM;
	if (gz && gzclose(gz) != Z_OK && !err)
		err = -EIO;
	if (!err && fsync(out))
		err = -errno;
	if (!err)
		err = rename_new(tmp, dst);
	if (!err)
		err = fsync_dir(dir);
out:
	close(in);
	if (out >= 0)
		close(out);
	if (err && tmp[0])
		unlink(tmp);
	return err;
}

/* Where the last whole line of fd ends (after its newline). */
static off_t last_line_end(int fd, off_t end)
{
	char buf[4096];
	off_t pos = end;
	ssize_t n, i;

	while (pos > 0) {
		n = pos < (off_t)sizeof(buf) ? pos : (off_t)sizeof(buf);
		if (pread(fd, buf, n, pos - n) != n)
			return end;
		for (i = n - 1; i >= 0; i--)
			if (buf[i] == '\n')
				return pos - n + i + 1;
		pos -= n;
	}
	return 0;
}

/*
 * A collector killed while writing can leave the start of a line: cut it
 * off, or the next record would be glued to it.  Its record is written
 * again (its flow's state did not count it as reported).
 */
static void cut_unfinished_line(struct jsonl *j)
{
	int fd = open(j->o.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat a, b;
	off_t keep;
	char last;

	if (fd < 0)
		return;
	if (!fstat(fd, &a) && !fstat(j->fd, &b) && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev && pread(fd, &last, 1, j->size - 1) == 1 &&
	    last != '\n') {
		keep = last_line_end(fd, j->size);
		if (keep < (off_t)j->size && !ftruncate(j->fd, keep)) {
			pr_warn("%s: cut off an unfinished last line (%llu bytes), left by a collector that stopped while writing\n",
				j->o.path,
				(unsigned long long)(j->size - keep));
			j->size = keep;
		}
	}
	close(fd);
}

/*
 * Opens (creates, mode 0640: records say who talked to whom) the file.
 * Never through a symbolic link: whoever can write the directory could
 * point one at any file, which the collector, as root, would then write.
 * 0 or -errno, with err_set().
 */
static int jsonl_open(struct jsonl *j)
{
	struct stat st;
	int err;

	j->fd = open(j->o.path,
		     O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		     0640);
	if (j->fd < 0 || fstat(j->fd, &st)) {
		err = -errno;
		if (j->fd >= 0)
			close(j->fd);
		j->fd = -1;
		if (err == -ELOOP)
			err_set("%s is a symbolic link; records are not written through one",
				j->o.path);
		else
			err_set("cannot open %s: %s", j->o.path,
				strerror(-err));
		return err;
	}
	j->regular = S_ISREG(st.st_mode);
	j->size = j->regular ? st.st_size : 0;
	j->opened_ns = mono_now_ns();
	if (j->size)
		cut_unfinished_line(j);
	return 0;
}

static void jsonl_rotate(struct jsonl *j)
{
	char name[4096], gz[4096 + 8], stamp[32];
	time_t now = time(NULL);
	struct stat st;
	struct tm tm;
	int i, err;

	if (close(j->fd))
		j->base.errors++;
	j->fd = -1;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (i = 0; i < 1000; i++) {
		if (i)
			snprintf(name, sizeof(name), "%s.%s-%d", j->o.path,
				 stamp, i);
		else
			snprintf(name, sizeof(name), "%s.%s", j->o.path, stamp);
		snprintf(gz, sizeof(gz), "%s.gz", name);
		/* A name that is a link, even one to nowhere, is taken. */
		if (lstat(name, &st) && lstat(gz, &st))
			break;
	}
	err = rename_new(j->o.path, name);
	if (err) {
		pr_warn("cannot rotate %s: %s\n", j->o.path, strerror(-err));
	} else if (j->o.gzip) {
		err = gzip_file(name, gz, j->dir);
		if (err)
			pr_warn("cannot compress %s (kept as it is): %s\n",
				name, strerror(-err));
		else
			unlink(name);
	}
	/* A file that cannot be opened now is tried again at the flush. */
	jsonl_open(j);
}

/* Writes all of buf[0..len) it can; the count written, or -errno. */
static ssize_t write_all(int fd, const char *buf, size_t len, int *err)
{
	size_t off = 0;
	ssize_t n;

	*err = 0;
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n < 0 ? -errno : -EIO;
			break;
		}
		off += n;
	}
	return off;
}

/*
 * After a short write: the records wholly written stay, the start of the
 * next one is cut off again (or, where the output cannot be cut, its rest
 * is kept to go first next time and it counts as written), and the
 * others are dropped, to be offered again.
 */
static void jsonl_undo(struct jsonl *j, size_t done)
{
	size_t k = 0, good;

	while (k < j->nrec && j->ends[k] <= done)
		k++;
	good = k ? j->ends[k - 1] : 0;
	if (done > good && j->regular && !ftruncate(j->fd, j->size + good)) {
		done = good;
	} else if (done > good) {
		good = j->ends[k++];
		free(j->carry);
		j->carry_len = good - done;
		j->carry = malloc(j->carry_len);
		if (j->carry)
			memcpy(j->carry, j->buf + done, j->carry_len);
		else
			j->carry_len = 0;
	}
	j->size += done;
	j->base.written += k;
	j->len = j->nrec = 0;
}

/* Writes the buffer out; 0 or -errno. */
static int jsonl_push(struct jsonl *j)
{
	size_t done;
	int err;

	if (j->fd < 0) {
		err = jsonl_open(j);
		if (err) {
			jsonl_undo(j, 0);
			goto fail;
		}
	}
	if (j->carry_len) {
		done = write_all(j->fd, j->carry, j->carry_len, &err);
		memmove(j->carry, j->carry + done, j->carry_len - done);
		j->carry_len -= done;
		j->size += done;
		if (err) {
			jsonl_undo(j, 0);
			goto fail;
		}
	}
	done = write_all(j->fd, j->buf, j->len, &err);
	if (err) {
		jsonl_undo(j, done);
		goto fail;
	}
	j->size += j->len;
	j->base.written += j->nrec;
	j->len = j->nrec = 0;
	if (j->err)
		pr_info("%s: writing records again\n", j->o.path);
	j->err = 0;
	return 0;
fail:
	j->base.errors++;
	/* One line when writing starts to fail (or fails otherwise). */
	if (err != j->err)
		pr_warn("cannot write records to %s: %s\n", j->o.path,
			strerror(-err));
	j->err = err;
	j->refuse = true;
	return err;
}

/* Room for one more line of len bytes (and its newline). */
static int jsonl_reserve(struct jsonl *j, size_t len)
{
	void *p;

	if (j->len + len + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : JSONL_PUSH_BYTES;

		while (cap < j->len + len + 1)
			cap *= 2;
		p = realloc(j->buf, cap);
		if (!p)
			return -ENOMEM;
		j->buf = p;
		j->cap = cap;
	}
	p = array_room(j->ends, &j->rec_cap, j->nrec, sizeof(*j->ends), 256);
	if (!p)
		return -ENOMEM;
	j->ends = p;
	return 0;
}

static int jsonl_write(struct acct_sink *s, const struct acct_record *r)
{
	struct jsonl *j = (struct jsonl *)s;
	json_t *o;
	char *line;
	size_t len;
	int err;

	if (j->refuse)
		return j->err ? j->err : -EIO;
	o = acct_record_json(r);
	line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	len = line ? strlen(line) : 0;
	err = line ? jsonl_reserve(j, len) : -ENOMEM;
	if (err) {
		free(line);
		s->errors++;
		return err;
	}
	memcpy(j->buf + j->len, line, len);
	j->buf[j->len + len] = '\n';
	j->len += len + 1;
	j->ends[j->nrec++] = j->len;
	free(line);
	if (j->o.rotate_bytes && j->size + j->len >= j->o.rotate_bytes) {
		err = jsonl_push(j);
		if (!err)
			jsonl_rotate(j);
	} else if (j->len >= JSONL_PUSH_BYTES) {
		err = jsonl_push(j);
	}
	return err;
}

static int jsonl_flush(struct acct_sink *s)
{
	struct jsonl *j = (struct jsonl *)s;
	int err = j->refuse ? j->err : 0;

	j->refuse = false;
	if (err)
		return err;
	err = jsonl_push(j);
	j->refuse = false;
	if (err)
		return err;
	if (j->o.rotate_ns && j->regular && j->size &&
	    mono_now_ns() - j->opened_ns >= j->o.rotate_ns)
		jsonl_rotate(j);
	return 0;
}

static void jsonl_close(struct acct_sink *s)
{
	struct jsonl *j = (struct jsonl *)s;

	if (j->len || j->carry_len)
		jsonl_push(j);
	if (j->fd >= 0 && j->fd != STDOUT_FILENO)
		close(j->fd);
	free(j->buf);
	free(j->ends);
	free(j->carry);
	free(j);
}

struct acct_sink *jsonl_sink_new(const struct jsonl_opts *o)
{
	struct jsonl *j = calloc(1, sizeof(*j));
	char *slash;

	if (!j) {
		err_set("out of memory");
		return NULL;
	}
	j->base.name = "json";
	j->base.write = jsonl_write;
	j->base.flush = jsonl_flush;
	j->base.close = jsonl_close;
	j->base.keeps = true;
	j->o = *o;
	snprintf(j->dir, sizeof(j->dir), "%s", o->path);
	slash = strrchr(j->dir, '/');
	if (slash == j->dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(j->dir, sizeof(j->dir), ".");
	if (!strcmp(o->path, "-")) {
		j->fd = STDOUT_FILENO;
		j->o.rotate_bytes = j->o.rotate_ns = 0;
	} else if (jsonl_open(j)) {
		free(j);
		return NULL;
	}
	return &j->base;
}
