/*
 * A complete meter on a desktop: meter + tariff + data model + storage in a file
 * + Modbus TCP, with the POSIX port. The ADC is a synthetic 230 V, 5 A, PF 0.87
 * load fed in real time.
 *
 *   posix_meter [PORT [STATE_FILE [SECONDS]]]     (defaults: 1502, posix_meter.nvm, until Ctrl-C)
 *   mbpoll -m tcp -p 1502 -a 1 -r 49 -c 7 -t 4:float -B 127.0.0.1   # U I P Q S PF F
 *   mbpoll -m tcp -p 1502 -a 1 -r 1 -t 4 127.0.0.1 6666 7          # password 6666, then address 7
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L /* localtime_r, clock_gettime */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metercore/metercore.h"
#include "metercore/posix/mc_posix_modbus.h"
#include "metercore/posix/mc_posix_nvm.h"

#define FS 4000 /* samples per second per channel */
#define CODES_PER_FS 8388608.0 /* a 24-bit converter: full scale = 2^23 codes */

static mc_meter_t meter;
static mc_tariff_t tariff;
static mc_model_t model;
static mc_storage_t storage;
static mc_reading_t pending[8]; /* windows closed inside mc_meter_process(), booked afterwards */
static int npending;
static volatile sig_atomic_t stop;

static void on_window(void *ctx, const mc_reading_t *r)
{
    (void)ctx;
    if (npending < 8) {
        pending[npending++] = *r;
    }
}

/* The meter's clock: the host's local time (set_clock is left NULL: read-only). */
static mc_time_t now_hook(void *ctx)
{
    (void)ctx;
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    mc_datetime_t dt = {(uint16_t)(tm.tm_year + 1900), (uint8_t)(tm.tm_mon + 1), (uint8_t)tm.tm_mday,
                        (uint8_t)tm.tm_hour, (uint8_t)tm.tm_min, (uint8_t)tm.tm_sec, 0};
    mc_time_t out = 0;
    mc_time_from_datetime(&dt, &out);
    return out;
}

/* Sessions, password lockouts and the write budget count real time: CLOCK_MONOTONIC, never the
 * meter's clock (which a client can set). */
static uint32_t monotonic_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Every change is logged and saved by storage (before the write is acknowledged: commit);
 * wrong passwords and lockouts too (on_auth); the event registers read its log. */
static void on_change(void *ctx, mc_qty q, unsigned arg, uint32_t o, uint32_t n, mc_source src)
{
    mc_storage_param_changed(ctx, q, arg, o, n, src);
}
static unsigned event_count(void *ctx) { return mc_storage_event_count(ctx); }
static int event_read(void *ctx, unsigned k, mc_event_t *e) { return mc_storage_event_read(ctx, k, e); }
static int audit_counter(void *ctx, unsigned k, uint32_t *v) { return mc_storage_audit_counter(ctx, k, v); }

static void book_windows(void)
{
    for (int k = 0; k < npending; k++) {
        mc_storage_window(&storage, now_hook(NULL), &pending[k]); /* tariff, demand, saves */
    }
    npending = 0;
}

static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
    const int port = argc > 1 ? atoi(argv[1]) : 1502;
    const char *state = argc > 2 ? argv[2] : "posix_meter.nvm";
    const double seconds = argc > 3 ? atof(argv[3]) : 0.0;

    mc_meter_config_t mc;
    mc_meter_config_default(&mc); /* KPM31 ratings: 220 V, 5(60) A, 50 Hz */
    mc.un = 230.0f;
    mc.u_scale = (float)(400.0 / CODES_PER_FS); /* volts per code */
    mc.i_scale = (float)(100.0 / CODES_PER_FS); /* amps per code */
    mc.on_window = on_window;
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    mc_model_config_t mdc;
    mc_model_config_default(&mdc); /* bus writes need the password (6666 on a new meter) */
    mc_model_hooks_t hooks = {.on_change = on_change, .now = now_hook, .event_count = event_count,
                              .event_read = event_read, .monotonic_ms = monotonic_ms,
                              .commit = mc_storage_commit, .on_auth = mc_storage_auth_event,
                              .audit_counter = audit_counter, .ctx = &storage};
    mc_storage_config_t sc;
    mc_storage_config_default(&sc);
    mc_posix_nvm_t file;
    mc_posix_modbus_t mb;
    int err;
    if ((err = mc_meter_init(&meter, &mc)) != MC_OK || (err = mc_tariff_init(&tariff, &tc, now_hook(NULL))) != MC_OK ||
        (err = mc_model_init(&model, &mdc, &hooks, &meter, &tariff, NULL)) != MC_OK ||
        (err = mc_posix_nvm_open(&file, state, 64, 4096, 4, 0xFF, &sc.nvm)) != MC_OK ||
        (err = mc_storage_mount(&storage, &sc, &meter, &tariff, &model)) != MC_OK ||
        (err = mc_posix_modbus_open_tcp(&mb, &model, "127.0.0.1", port)) != MC_OK) {
        fprintf(stderr, "posix_meter: start-up failed: %s\n", mc_strerror(err));
        return 1;
    }
    printf("posix_meter: Modbus TCP on 127.0.0.1:%d, address %u, state %s\n", port, model.params.address, state);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t fed = 0;
    while (!stop) {
        mc_posix_modbus_poll(&mb, 20); /* serve clients; waits at most 20 ms */
        clock_gettime(CLOCK_MONOTONIC, &t);
        const double elapsed = (double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec);
        if (seconds > 0.0 && elapsed >= seconds) {
            break;
        }
        /* The "ADC": every sample due since the start, 230 V and 5 A rms, current 30 degrees behind. */
        int32_t v[256], i[256];
        size_t n = 0;
        for (; n < 256 && fed < (uint64_t)(elapsed * FS); n++, fed++) {
            const double wt = 2.0 * 3.14159265358979 * 50.0 * (double)fed / FS;
            v[n] = (int32_t)lrint(230.0 * sqrt(2.0) * sin(wt) / 400.0 * CODES_PER_FS);
            i[n] = (int32_t)lrint(5.0 * sqrt(2.0) * sin(wt - 3.14159265358979 / 6.0) / 100.0 * CODES_PER_FS);
        }
        mc_meter_process(&meter, v, i, n);
        book_windows();
        mc_storage_poll(&storage, now_hook(NULL)); /* parameter saves, integrity checks */
    }
    /* Power-fail warning: book the window under way, then save. */
    mc_meter_flush(&meter);
    book_windows();
    err = mc_storage_power_fail(&storage, now_hook(NULL));
    mc_energy_t e;
    mc_meter_energy(&meter, &e);
    printf("posix_meter: %.3f s of samples, import %.6f kWh, saved: %s\n", (double)fed / FS,
           mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT]), mc_strerror(err));
    mc_posix_modbus_close(&mb);
    mc_posix_nvm_close(&file);
    return err == MC_OK ? 0 : 1;
}
