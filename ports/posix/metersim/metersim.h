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

/*
 * Lock a state file for this process: exclusive for `run` (it writes), shared for
 * `dump` (it reads). POSIX record locks (fcntl), so the holder's pid can be named; they
 * are advisory and held until the process ends or closes any descriptor of the file.
 * Returns 0, or -1 with a one-line reason in err (e.g. "state file X is in use by
 * another metersim (pid N)").
 */
int ms_state_lock(int fd, int exclusive, const char *path, char *err, size_t errlen);

int ms_cmd_run(int argc, char **argv);
int ms_cmd_replay(int argc, char **argv);
int ms_cmd_dump(int argc, char **argv);

#endif
