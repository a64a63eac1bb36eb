/*
 * Test server for the POSIX Modbus port (ports/posix/mc_posix_modbus.c), driven by
 * tests/test_posix_modbus.sh with real clients (mbpoll, pymodbus).
 * SPDX-License-Identifier: MIT
 *
 *   modbus_server [--tcp PORT] [--rtu DEVICE] [--host HOST] [--seconds N]
 *
 * A KPM31BK-like meter (relay and DI, no password protection) with a tariff,
 * fed 3 s of a synthetic 230 V / 5 A / PF 0.5 inductive (60 degrees) / 50 Hz
 * sine (noise-free, 24-bit, 4 kHz), each 1 s window booked into the tariff on
 * 2024-03-06 from 12:00:00 (rate 1 of the default schedule). Then the meter
 * stands still and is served over TCP and/or RTU until SIGTERM/SIGINT or N
 * seconds (default 300), so a test that dies never leaves it behind for long.
 * Prints "ready tcp=PORT rtu=DEVICE" on stdout once listening, "line: baud B
 * parity P" whenever a write reconfigured the RTU line (a pty keeps the speed
 * but, on Linux, drops the parity bit, so the test cannot see parity with stty),
 * "rtu frames: N dropped: ..." whenever the RTU framer ended a frame (the test
 * waits for these counts rather than for time), and the counters on exit.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metercore/mc_meter.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_tariff.h"
#include "metercore/posix/mc_posix_modbus.h"
#include "waveform.h"

#define UN 230.0
#define IN 5.0
#define PHI 60.0
#define F0 50.0
#define SQRT2 1.4142135623730951
#define U_FS (UN * SQRT2 * 1.6)
#define I_FS (60.0 * SQRT2 * 1.5)

static volatile sig_atomic_t g_stop;

static struct {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t model;
    mc_time_t now;
    int relay;
    unsigned windows;
} g;

/* Longest time a poll took beyond its timeout, µs (the API promises not to block longer). */
static double g_overshoot_us;

static double mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int timed_poll(mc_posix_modbus_t *mb, int timeout_ms)
{
    const double t = mono_us();
    const int rc = mc_posix_modbus_poll(mb, timeout_ms);
    const double over = mono_us() - t - timeout_ms * 1e3;
    if (over > g_overshoot_us) {
        g_overshoot_us = over;
    }
    return rc;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void on_window(void *ctx, const mc_reading_t *r)
{
    (void)ctx;
    g.windows++;
    g.now++;
    (void)mc_tariff_add(&g.tariff, g.now, r);
}

static mc_time_t hook_now(void *ctx)
{
    (void)ctx;
    return g.now;
}

static int hook_relay(void *ctx, int close)
{
    (void)ctx;
    g.relay = close;
    return 0;
}

static int hook_di(void *ctx)
{
    (void)ctx;
    return 1;
}

static int hook_set_clock(void *ctx, mc_time_t t)
{
    (void)ctx;
    g.now = t;
    return 0;
}

static int setup(void)
{
    wf_params_t p;
    wf_params_sine(&p, 4000.0, F0, UN, IN, PHI, U_FS, I_FS, 24);
    p.theta0_deg = 37.0;
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = 4000;
    cfg.nominal_freq_hz = 50.0f;
    cfg.un = (float)UN;
    cfg.in = (float)IN;
    cfg.imax = 60.0f;
    cfg.start_current = 0.005f;
    cfg.u_scale = (float)wf_scale(&p.u);
    cfg.i_scale = (float)wf_scale(&p.i);
    cfg.on_window = on_window;
    if (mc_meter_init(&g.meter, &cfg) != MC_OK) {
        return -1;
    }
    mc_datetime_t dt = {2024, 3, 6, 12, 0, 0, 0};
    if (mc_time_from_datetime(&dt, &g.now) != MC_OK) {
        return -1;
    }
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    if (mc_tariff_init(&g.tariff, &tc, g.now) != MC_OK) {
        return -1;
    }
    mc_model_config_t mcfg = {MC_FEAT_RELAY | MC_FEAT_DI, 0, 60, 0, 0, 0, 0};
    mc_model_hooks_t h = {NULL, hook_relay, hook_di, hook_now, hook_set_clock, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    if (mc_model_init(&g.model, &mcfg, &h, &g.meter, &g.tariff, NULL) != MC_OK) {
        return -1;
    }
    wf_gen_t gen;
    wf_init(&gen, &p);
    int32_t v[400], i[400];
    for (int k = 0; k < 30; k++) {
        wf_fill(&gen, v, i, 400);
        if (mc_meter_process(&g.meter, v, i, 400) < 0) {
            return -1;
        }
    }
    return g.windows >= 2u ? 0 : -1;
}

int main(int argc, char **argv)
{
    int tcp_port = -1;
    const char *rtu = NULL;
    const char *host = "127.0.0.1";
    double seconds = 300.0;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--tcp") == 0 && k + 1 < argc) {
            tcp_port = atoi(argv[++k]);
        } else if (strcmp(argv[k], "--rtu") == 0 && k + 1 < argc) {
            rtu = argv[++k];
        } else if (strcmp(argv[k], "--host") == 0 && k + 1 < argc) {
            host = argv[++k];
        } else if (strcmp(argv[k], "--seconds") == 0 && k + 1 < argc) {
            seconds = atof(argv[++k]);
        } else {
            fprintf(stderr, "usage: %s [--tcp PORT] [--rtu DEVICE] [--host HOST] [--seconds N]\n", argv[0]);
            return 2;
        }
    }
    if (setup() != 0) {
        fprintf(stderr, "modbus_server: meter setup failed\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mc_posix_modbus_t tcp, line;
    memset(&tcp, 0, sizeof(tcp));
    memset(&line, 0, sizeof(line));
    if (tcp_port >= 0) {
        int rc = mc_posix_modbus_open_tcp(&tcp, &g.model, host, tcp_port);
        if (rc != MC_OK) {
            fprintf(stderr, "modbus_server: TCP %s:%d: %s\n", host, tcp_port, mc_strerror(rc));
            return 1;
        }
    }
    if (rtu != NULL) {
        int rc = mc_posix_modbus_open_rtu(&line, &g.model, rtu, 9600, 'N');
        if (rc != MC_OK) {
            fprintf(stderr, "modbus_server: RTU %s: %s\n", rtu, mc_strerror(rc));
            mc_posix_modbus_close(&tcp);
            return 1;
        }
    }
    printf("ready tcp=%d rtu=%s\n", tcp_port >= 0 ? tcp.port : -1, rtu != NULL ? rtu : "-");
    fflush(stdout);

    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    uint64_t line_changes = 0;
    mc_rtu_stats_t rtu_seen;
    memset(&rtu_seen, 0, sizeof(rtu_seen));
    while (!g_stop) {
        if (tcp.mode != MC_POSIX_MODBUS_CLOSED) {
            int rc = timed_poll(&tcp, line.mode != MC_POSIX_MODBUS_CLOSED ? 2 : 50);
            if (rc < 0) {
                fprintf(stderr, "modbus_server: TCP poll: %s\n", mc_strerror(rc));
                status = 1;
                break;
            }
        }
        if (line.mode != MC_POSIX_MODBUS_CLOSED) {
            /* With TCP too, the TCP poll does the waiting: an RTU wait would hold up TCP clients. */
            int rc = timed_poll(&line, tcp.mode != MC_POSIX_MODBUS_CLOSED ? 0 : 50);
            if (rc < 0 && rc != MC_ERR_IO) { /* IO: no client on the pty right now */
                fprintf(stderr, "modbus_server: RTU poll: %s\n", mc_strerror(rc));
                status = 1;
                break;
            }
            if (line.stats.line_changes != line_changes) { /* for the test: the line as now set */
                line_changes = line.stats.line_changes;
                printf("line: baud %u parity %u\n", (unsigned)line.baud, (unsigned)line.parity);
                fflush(stdout);
            }
            /* For the test: every frame the framer has ended, so that it can wait for a frame
             * to be taken (a count) instead of sleeping and hoping the server ran meanwhile. */
            const mc_rtu_stats_t *rs = &line.rtu.stats;
            if (memcmp(rs, &rtu_seen, sizeof(rtu_seen)) != 0) {
                rtu_seen = *rs;
                printf("rtu frames: %u dropped: crc %u gap %u overrun %u foreign %u\n", (unsigned)rs->frames,
                       (unsigned)rs->crc_errors, (unsigned)rs->gap_errors, (unsigned)rs->overruns,
                       (unsigned)rs->foreign);
                fflush(stdout);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 > seconds) {
            break;
        }
        if (tcp.mode == MC_POSIX_MODBUS_CLOSED && line.mode == MC_POSIX_MODBUS_CLOSED) {
            break;
        }
    }
    printf("tcp: requests %llu accepted %llu dropped %llu refused %llu\n",
           (unsigned long long)tcp.stats.requests, (unsigned long long)tcp.stats.accepted,
           (unsigned long long)tcp.stats.dropped, (unsigned long long)tcp.stats.refused);
    printf("rtu: requests %llu line changes %llu frames %u crc %u foreign %u address %u baud %u parity %u\n",
           (unsigned long long)line.stats.requests, (unsigned long long)line.stats.line_changes,
           (unsigned)line.rtu.stats.frames, (unsigned)line.rtu.stats.crc_errors,
           (unsigned)line.rtu.stats.foreign, (unsigned)g.model.params.address, (unsigned)line.baud,
           (unsigned)line.parity);
    printf("poll: longest overshoot of the timeout %.1f ms\n", g_overshoot_us / 1e3);
    mc_posix_modbus_close(&tcp);
    mc_posix_modbus_close(&line);
    return status;
}
