/*
 * bench_core: throughput of mc_meter_process() against a floor.
 *
 * A long stream of 50 Hz, 230 V / 10 A, PF 0.8 inductive sample pairs with a
 * little noise (24-bit ADC codes, fs 8000 Hz) is generated up front. The core is
 * timed over the whole stream in blocks of 256 pairs. The floor is a bare loop
 * that only sums (int64)v*i, run twice: streamed over the same arrays (bound by
 * memory bandwidth on most machines), and over one block of 4096 pairs (32 KiB,
 * resident in the cache) repeated until it has covered as many pairs. Each is the
 * best of a few runs (CLOCK_MONOTONIC); the core's runs and the cache-resident
 * floor's alternate, so that both bests come from the same stretch of the
 * machine's time. The last line of output is the summary,
 * against the cache-resident floor (what bounds the ratio: docs/PERFORMANCE.md):
 *
 *   bench core: X M sample pairs/s, floor Y M/s, ratio R     (R = floor / core)
 *
 * Usage: bench_core [sample_pairs]   (default 8 Mi pairs, about 17.5 min of signal)
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 199309L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metercore/metercore.h"

#define BENCH_FS 8000u
#define BENCH_BLOCK 256u
#define BENCH_CORE_RUNS 9
#define BENCH_FLOOR_RUNS 9
#define BENCH_FLOOR_BLOCK 4096u /* pairs: 32 KiB, resident in L1 or L2 */
#define BENCH_DEFAULT_PAIRS (8u * 1024u * 1024u)
#define BENCH_FULL_SCALE 8388608.0 /* 2^23: codes of a 24-bit bipolar ADC */
#define BENCH_PI 3.14159265358979323846

static volatile int64_t floor_sink;

/* Signal time covered by closed windows (the stream's tail is an open window). */
static double windows_s;
static void on_window(void *context, const mc_reading_t *r)
{
    (void)context;
    windows_s += (double)r->duration_s;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One run of the cache-resident floor: `passes` passes over the block of `fb` pairs
 * whose addresses *vblock and *iblock hold, read anew each pass (they are volatile), so
 * that the passes cannot be folded into one. Returns its time, s. */
static double cached_floor_run(int32_t *volatile const *vblock, int32_t *volatile const *iblock, size_t fb,
                               size_t passes)
{
    double t0 = now_s();
    int64_t acc = 0;
    for (size_t p = 0; p < passes; p++) {
        const int32_t *vb = *vblock, *ib = *iblock;
        for (size_t k = 0; k < fb; k++) {
            acc += (int64_t)vb[k] * ib[k];
        }
    }
    floor_sink = acc;
    return now_s() - t0;
}

/* xorshift32: a repeatable, dependency-free noise source. */
static uint32_t rng_state = 0x2545F491u;
static double noise(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (double)rng_state / 4294967296.0 - 0.5; /* [-0.5, 0.5) */
}

static int32_t to_code(double x, double scale)
{
    double c = floor(x / scale + 0.5);
    if (c > BENCH_FULL_SCALE) c = BENCH_FULL_SCALE;
    if (c < -BENCH_FULL_SCALE) c = -BENCH_FULL_SCALE;
    return (int32_t)c;
}

int main(int argc, char **argv)
{
    size_t n = BENCH_DEFAULT_PAIRS;
    if (argc > 1) {
        char *end = NULL;
        unsigned long long arg = strtoull(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || arg < BENCH_BLOCK || arg > ((size_t)-1) / 8u) {
            fprintf(stderr, "usage: %s [sample_pairs >= %u]\n", argv[0], BENCH_BLOCK);
            return 2;
        }
        n = (size_t)arg;
    }

    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = BENCH_FS;
    cfg.u_scale = (float)(400.0 / BENCH_FULL_SCALE);
    cfg.i_scale = (float)(100.0 / BENCH_FULL_SCALE);
    cfg.on_window = on_window;

    int32_t *v = malloc(n * sizeof *v);
    int32_t *i = malloc(n * sizeof *i);
    if (v == NULL || i == NULL) {
        fprintf(stderr, "bench: cannot allocate %zu sample pairs\n", n);
        return 1;
    }

    /* 230 V, 10 A rms, current lagging by acos(0.8); noise of +-100 codes. */
    const double u_pk = 230.0 * sqrt(2.0), i_pk = 10.0 * sqrt(2.0);
    const double phi = acos(0.8), w = 2.0 * BENCH_PI * 50.0 / BENCH_FS;
    for (size_t k = 0; k < n; k++) {
        double a = w * (double)k;
        v[k] = to_code(u_pk * sin(a) + 200.0 * noise() * cfg.u_scale, cfg.u_scale);
        i[k] = to_code(i_pk * sin(a - phi) + 200.0 * noise() * cfg.i_scale, cfg.i_scale);
    }

    printf("bench: %zu sample pairs (%.1f s of signal at %u Hz), 230 V / 10 A / PF 0.8 L, "
           "blocks of %u\n", n, (double)n / BENCH_FS, BENCH_FS, BENCH_BLOCK);

    /* The cache-resident floor's block: one block, passed over as many pairs in all. Its
     * address is read through a volatile each pass, so the passes cannot be folded into one. */
    const size_t fb = n < BENCH_FLOOR_BLOCK ? n : BENCH_FLOOR_BLOCK;
    const size_t passes = n / fb;
    int32_t *volatile vblock = v, *volatile iblock = i;
    double cached_best = 1e30;

    /* The core, best of BENCH_CORE_RUNS, each run followed by one run of the cache-resident
     * floor: the two bests on the summary line come from the same stretch of time, so a
     * slow spell of a shared host (seconds long on a virtual machine) cannot fall on the
     * core's runs alone and move the ratio by itself. */
    static mc_meter_t meter;
    double core_best = 1e30;
    unsigned windows = 0;
    for (int run = 0; run < BENCH_CORE_RUNS; run++) {
        if (mc_meter_init(&meter, &cfg) != MC_OK) {
            fprintf(stderr, "bench: mc_meter_init failed\n");
            return 1;
        }
        windows = 0;
        windows_s = 0.0;
        double t0 = now_s();
        for (size_t off = 0; off < n; off += BENCH_BLOCK) {
            size_t len = n - off < BENCH_BLOCK ? n - off : BENCH_BLOCK;
            int ev = mc_meter_process(&meter, v + off, i + off, len);
            if (ev < 0) {
                fprintf(stderr, "bench: mc_meter_process: %s\n", mc_strerror(ev));
                return 1;
            }
            windows += (ev & MC_EVENT_WINDOW) != 0;
        }
        double t = now_s() - t0;
        if (t < core_best) core_best = t;
        const double tf = cached_floor_run(&vblock, &iblock, fb, passes);
        if (tf < cached_best) cached_best = tf;
        printf("bench: core run %d: %.3f s, cache-resident floor %.4f s\n", run + 1, t, tf);
    }
    /* The floor gets BENCH_FLOOR_RUNS runs in all, as before the interleaving. */
    for (int run = BENCH_CORE_RUNS; run < BENCH_FLOOR_RUNS; run++) {
        const double tf = cached_floor_run(&vblock, &iblock, fb, passes);
        if (tf < cached_best) cached_best = tf;
    }

    /* The streamed floor, best of BENCH_FLOOR_RUNS, over the whole arrays. */
    double floor_best = 1e30;
    for (int run = 0; run < BENCH_FLOOR_RUNS; run++) {
        double t0 = now_s();
        int64_t acc = 0;
        for (size_t k = 0; k < n; k++) {
            acc += (int64_t)v[k] * i[k];
        }
        floor_sink = acc;
        double t = now_s() - t0;
        if (t < floor_best) floor_best = t;
    }
    const double cached_rate = (double)(passes * fb) / cached_best / 1e6;
    printf("bench: floor best of %d: streamed %.4f s (%.1f M pairs/s), cache-resident %.4f s "
           "(%.1f M pairs/s, %zu passes over %zu pairs)\n",
           BENCH_FLOOR_RUNS, floor_best, (double)n / floor_best / 1e6, cached_best, cached_rate, passes, fb);

    /* Show that the core measured what was generated. */
    mc_reading_t r;
    mc_energy_t e;
    if (mc_meter_reading(&meter, &r) == MC_OK && mc_meter_energy(&meter, &e) == MC_OK) {
        printf("bench: last window: U %.3f V, I %.4f A, P %.2f W, Q %.2f var, PF %.4f, f %.4f Hz "
               "(%u windows closed)\n",
               (double)r.urms, (double)r.irms, (double)r.p, (double)r.q, (double)r.pf,
               (double)r.freq, windows);
        printf("bench: active import %.6f kWh (expected %.6f for the %.3f s in closed windows)\n",
               (double)mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT]), 230.0 * 10.0 * 0.8 * windows_s / 3.6e6,
               windows_s);
    } else {
        printf("bench: no window closed\n");
    }

    /* 3P4W: the same signal on three phases 120 degrees apart, frames U1 U2 U3 I1 I2 I3;
     * the rate is counted per channel pair (three per frame). */
    double poly_best = 1e30;
    {
        const size_t nf = n / 3u;
        int32_t *fr = malloc(nf * 6u * sizeof *fr);
        if (fr == NULL) {
            fprintf(stderr, "bench: cannot allocate %zu frames\n", nf);
            return 1;
        }
        for (size_t k = 0; k < nf; k++) {
            double a = w * (double)k;
            for (int p = 0; p < 3; p++) {
                const double ap = a - 2.0 * BENCH_PI / 3.0 * p;
                fr[k * 6u + (size_t)p] = to_code(u_pk * sin(ap) + 200.0 * noise() * cfg.u_scale, cfg.u_scale);
                fr[k * 6u + 3u + (size_t)p] =
                    to_code(i_pk * sin(ap - phi) + 200.0 * noise() * cfg.i_scale, cfg.i_scale);
            }
        }
        static mc_meter_channel_t ch[MC_MAX_CHANNELS];
        static mc_meter_pair_t pr[MC_MAX_PAIRS];
        static mc_meter_element_t el[MC_MAX_CIRCUITS];
        mc_meter_config_t pc = cfg;
        pc.wiring = MC_WIRING_3P4W;
        pc.channel_state = ch;
        pc.pair_state = pr;
        pc.element_state = el;
        static mc_meter_t poly;
        for (int run = 0; run < BENCH_CORE_RUNS; run++) {
            if (mc_meter_init(&poly, &pc) != MC_OK) {
                fprintf(stderr, "bench: mc_meter_init (3p4w) failed\n");
                return 1;
            }
            double t0 = now_s();
            for (size_t off = 0; off < nf; off += BENCH_BLOCK) {
                size_t len = nf - off < BENCH_BLOCK ? nf - off : BENCH_BLOCK;
                if (mc_meter_process_frames(&poly, fr + off * 6u, len) < 0) {
                    fprintf(stderr, "bench: mc_meter_process_frames failed\n");
                    return 1;
                }
            }
            double t = now_s() - t0;
            if (t < poly_best) poly_best = t;
        }
        mc_reading_t pr3;
        if (mc_meter_reading(&poly, &pr3) == MC_OK) {
            printf("bench: 3p4w last window: P %.2f W (expected %.2f), Q %.2f var, f %.4f Hz\n", (double)pr3.p,
                   3.0 * 230.0 * 10.0 * 0.8, (double)pr3.q, (double)pr3.freq);
        }
        printf("bench core 3p4w: %.1f M channel pairs/s (%.1f M frames/s, 3 pairs each)\n",
               3.0 * (double)nf / poly_best / 1e6, (double)nf / poly_best / 1e6);
        free(fr);
    }

    double core_rate = (double)n / core_best / 1e6;
    const double stream_rate = (double)n / floor_best / 1e6;
    printf("bench core streamed floor: %.1f M/s, ratio %.2f\n", stream_rate, stream_rate / core_rate);
    printf("bench core: %.1f M sample pairs/s, floor %.1f M/s, ratio %.2f\n", core_rate, cached_rate,
           cached_rate / core_rate);
    free(v);
    free(i);
    return 0;
}
