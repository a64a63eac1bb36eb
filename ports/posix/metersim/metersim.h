/*
 * metersim: the metercore meter on a desktop (ports/posix). Shared declarations.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERSIM_H
#define METERSIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metercore/mc_calendar.h"

/* Exit codes: 0 success, 1 runtime failure, 2 bad arguments or unreadable input. */
#define MS_EXIT_OK 0
#define MS_EXIT_FAIL 1
#define MS_EXIT_USAGE 2

/* One-line error on stderr: "metersim: <message>". */
void ms_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a time "YYYY-MM-DDTHH:MM:SS" (meter local standard time). 0 on success. */
int ms_parse_time(const char *s, mc_time_t *out);
/* Format a time as "YYYY-MM-DDTHH:MM:SS" into buf (at least 20 bytes). */
void ms_format_time(mc_time_t t, char *buf, size_t len);
/* Parse a double / unsigned integer that must use the whole string. 0 on success. */
int ms_parse_double(const char *s, double *out);
int ms_parse_ulong(const char *s, unsigned long *out);

int ms_cmd_run(int argc, char **argv);
int ms_cmd_replay(int argc, char **argv);
int ms_cmd_dump(int argc, char **argv);

#endif
