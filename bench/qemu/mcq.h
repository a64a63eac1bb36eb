/*
 * The QEMU counting images' runtime: semihosting output and exit, and the markers
 * that switch counting on and off (mcq_count, the host parser, watches their entries).
 * SPDX-License-Identifier: MIT
 */
#ifndef MCQ_H
#define MCQ_H

#include <stdint.h>

/** Write a NUL-terminated string on QEMU's semihosting console (stderr). */
void mcq_puts(const char *s);
/** Write "name=value " (value in decimal). */
void mcq_put_u(const char *name, uint32_t value);
/** Write "name=value " with value / 1000 shown to three decimals. */
void mcq_put_milli(const char *name, int32_t milli);
/** End QEMU: exit code 0 when status is 0, else 1 (semihosting SYS_EXIT). */
void mcq_exit(int status) __attribute__((noreturn));

/** Counting markers (markers.S): the parser counts between an entry of the first
 *  and an entry of the second. They do nothing. */
void mcq_count_on(void);
void mcq_count_off(void);

#endif /* MCQ_H */
