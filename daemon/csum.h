/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef FLOWBPF_CSUM_H
#define FLOWBPF_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Finishes the TCP or UDP checksum of an Ethernet frame in place if it
 * holds only the partial sum CHECKSUM_PARTIAL leaves; else leaves it. */
void csum_fix_frame(uint8_t *frame, size_t len);

#endif
