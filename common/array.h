/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Arrays that double as they fill: one way to grow them. */
#ifndef FLOWBPF_ARRAY_H
#define FLOWBPF_ARRAY_H

#include <stdlib.h>

/*
 * Room for element n of v, which holds *cap elements of size bytes: v
 * itself while n < *cap, else v grown to twice *cap (first when empty).
 * NULL when memory runs out, with v and *cap as they were.
 */
static inline void *array_room(void *v, size_t *cap, size_t n, size_t size,
			       size_t first)
{
	size_t c;

	if (n < *cap)
		return v;
	c = *cap ? *cap * 2 : first;
	v = realloc(v, c * size);
	if (v)
		*cap = c;
	return v;
}

#endif
