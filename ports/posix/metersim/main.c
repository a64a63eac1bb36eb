/*
 * metersim: entry point, subcommand dispatch and shared helpers.
 *
 *   metersim [run] [options]      a meter running in real time or faster (default)
 *   metersim replay FILE.wav ...  a recorded waveform through a fresh meter
 *   metersim dump --state FILE    every register of the map from a state file
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "metersim.h"

int ms_state_lock(int fd, int exclusive, const char *path, char *err, size_t errlen)
{
    struct flock l;
    memset(&l, 0, sizeof(l));
    l.l_type = exclusive ? F_WRLCK : F_RDLCK;
    l.l_whence = SEEK_SET; /* l_start 0, l_len 0: the whole file */
    if (fcntl(fd, F_SETLK, &l) == 0) {
        return 0;
    }
    if (errno != EACCES && errno != EAGAIN) {
        snprintf(err, errlen, "state file %s: cannot lock it (%s)", path, strerror(errno));
        return -1;
    }
    struct flock who = l;
    if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK) {
        snprintf(err, errlen, "state file %s is in use by another metersim (pid %ld)", path, (long)who.l_pid);
    } else {
        snprintf(err, errlen, "state file %s is in use by another metersim", path);
    }
    return -1;
}

void ms_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* one line, whatever the message holds */
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    fflush(stdout);
    fprintf(stderr, "metersim: %s\n", msg);
}

int ms_parse_double(const char *s, double *out)
{
    if (s == NULL || *s == '\0') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v != v) {
        return -1;
    }
    *out = v;
    return 0;
}

int ms_parse_ulong(const char *s, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

int ms_parse_time(const char *s, mc_time_t *out)
{
    unsigned y, mo, d, h, mi, se;
    char tail;
    if (s == NULL || strlen(s) != 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':') {
        return -1;
    }
    for (int k = 0; k < 19; k++) {
        if (k == 4 || k == 7 || k == 10 || k == 13 || k == 16) {
            continue;
        }
        if (s[k] < '0' || s[k] > '9') {
            return -1;
        }
    }
    if (sscanf(s, "%4u-%2u-%2u%*c%2u:%2u:%2u%c", &y, &mo, &d, &h, &mi, &se, &tail) != 6) {
        return -1;
    }
    mc_datetime_t dt = { (uint16_t)y, (uint8_t)mo, (uint8_t)d, (uint8_t)h, (uint8_t)mi, (uint8_t)se, 0 };
    if (y > 9999 || mo > 99 || d > 99 || h > 23 || mi > 59 || se > 59) {
        return -1;
    }
    return mc_time_from_datetime(&dt, out) == MC_OK ? 0 : -1;
}

void ms_format_time(mc_time_t t, char *buf, size_t len)
{
    mc_datetime_t dt;
    if (mc_time_to_datetime(t, &dt) != MC_OK) {
        snprintf(buf, len, "(invalid time)");
        return;
    }
    snprintf(buf, len, "%04u-%02u-%02uT%02u:%02u:%02u", dt.year, dt.month, dt.day, dt.hour, dt.minute,
             dt.second);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: metersim [run] [options]           a meter in real time or faster (default)\n"
            "       metersim replay FILE.wav --v-scale V --i-scale A [--wiring W] [--netting sum|phase]\n"
            "                       [--json | --windows]\n"
            "       metersim dump --state FILE [--json]\n"
            "       metersim <command> --help          options of a command\n"
            "  --wiring W (run and replay) and the channels of a frame (a replayed WAV's, in order):\n"
            "    1p2w     U I (the default)          1p3w  U1 U2 I1 I2\n"
            "    3p4w     U1 U2 U3 I1 I2 I3 [IN]     3p3w  U12 U32 I1 I3\n"
            "    multi:N  U1 I1..IN, or U1 U2 U3 I1..IN (circuit k on voltage k mod 3: I1 on U1,\n"
            "             I2 on U2, I3 on U3, I4 on U1, ...); N 1..16\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        const char *cmd = argv[1];
        if (strcmp(cmd, "run") == 0) {
            return ms_cmd_run(argc - 1, argv + 1);
        }
        if (strcmp(cmd, "replay") == 0) {
            return ms_cmd_replay(argc - 1, argv + 1);
        }
        if (strcmp(cmd, "dump") == 0) {
            return ms_cmd_dump(argc - 1, argv + 1);
        }
        if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
            usage(stdout);
            printf("\n");
            char *help_argv[] = { "run", "--help", NULL };
            return ms_cmd_run(2, help_argv);
        }
        if (cmd[0] != '-') {
            ms_error("unknown command '%s' (run, replay, dump; try --help)", cmd);
            return MS_EXIT_USAGE;
        }
    }
    /* no subcommand: run, with every argument as its option */
    return ms_cmd_run(argc, argv);
}
