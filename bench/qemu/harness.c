/*
 * The QEMU counting image of the metering core: the workload of bench/bench_core.c
 * at a microcontroller's scale, on the library as shipped (libmetercore.a, -Os).
 *
 * The signal (wave.h, a table that gen_wave.c computes on the host and the image keeps
 * in flash): 4 kHz sampling, 49.9685 Hz (80.05 samples a cycle, not locked to the
 * sample rate), 230 V and 5 A rms, PF 0.8 inductive, 24-bit codes with noise. The
 * table holds 99 whole cycles and is read round and round: one continuous signal.
 * Blocks of 160 sample pairs (frames), passed to the core where they lie in the table
 * (copied to RAM only where a block wraps round its end), 4000 (a pass) per 1000 ms
 * window (the default window_ms at the default 4000 Hz).
 *   MCQ_3P4W=0  1P2W, mc_meter_config_default(), mc_meter_process(m, v, i, 160)
 *   MCQ_3P4W=1  3P4W (no neutral), mc_meter_process_frames(m, frames, 160), frames
 *               U1 U2 U3 I1 I2 I3, the phases 120 degrees apart (ABC)
 *
 * Warm-up: the acquisition, the first crossing and the first window (flagged
 * settling, it closes about 4100 pairs in), then half a pass (12 blocks), so that
 * the windows close in the middle of the counted passes. Then COUNTED_PASSES passes
 * of 25 blocks between the markers mcq_count_on() and mcq_count_off(); each must close
 * exactly one window (checked). The last window's reading is checked against the
 * signal, so that what was counted is a meter measuring what it was given.
 * Prints "mcq result pairs=N channel_pairs=N calls=N windows=N" and exits 0.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mcq.h"
#include "metercore/metercore.h"
#include "wave.h"

#ifndef MCQ_3P4W
#define MCQ_3P4W 0
#endif

#define BLOCK 160u
#define PASS 4000u
#ifndef SETTLE_BLOCKS
#define SETTLE_BLOCKS 12u
#endif
#ifndef COUNTED_PASSES
#define COUNTED_PASSES 3u
#endif

#if MCQ_3P4W
#define N_PHASES 3u
#else
#define N_PHASES 1u
#endif

static mc_meter_t meter;
static size_t pos; /* next frame of the table */
#if MCQ_3P4W
/* State arrays of a 3P4W meter (with room for the neutral's), checked against
 * mc_meter_channels() and friends below. */
static mc_meter_channel_t ch_state[7];
static mc_meter_pair_t pr_state[12];
static mc_meter_element_t el_state[3];
static int32_t wrap_frames[BLOCK * 6u];
#else
static int32_t wrap_v[BLOCK], wrap_i[BLOCK];
#endif

/* The next block into the meter; returns its events. */
static int feed(void)
{
    int ev;
#if MCQ_3P4W
    const int32_t *f = &mcq_wave[pos * 6u];
    if (pos + BLOCK > MCQ_WAVE_N) {
        for (size_t k = 0; k < BLOCK * 6u; k++) {
            wrap_frames[k] = mcq_wave[((pos + k / 6u) % MCQ_WAVE_N) * 6u + k % 6u];
        }
        f = wrap_frames;
    }
    ev = mc_meter_process_frames(&meter, f, BLOCK);
#else
    const int32_t *v = &mcq_wave[pos], *i = &mcq_wave[MCQ_WAVE_N + pos];
    if (pos + BLOCK > MCQ_WAVE_N) {
        for (size_t k = 0; k < BLOCK; k++) {
            wrap_v[k] = mcq_wave[(pos + k) % MCQ_WAVE_N];
            wrap_i[k] = mcq_wave[MCQ_WAVE_N + (pos + k) % MCQ_WAVE_N];
        }
        v = wrap_v;
        i = wrap_i;
    }
    ev = mc_meter_process(&meter, v, i, BLOCK);
#endif
    pos = (pos + BLOCK) % MCQ_WAVE_N;
    return ev;
}

static void fail(const char *why)
{
    mcq_puts("mcq: FAILED: ");
    mcq_puts(why);
    mcq_puts("\n");
    mcq_exit(1);
}

/* FNV-1a over n bytes, continuing from h. */
static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t k = 0; k < n; k++) {
        h = (h ^ b[k]) * 16777619u;
    }
    return h;
}

static int near(float x, double want, double tol)
{
    return (double)x >= want - tol && (double)x <= want + tol;
}

int main(void)
{
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = MCQ_WAVE_FS;
    cfg.u_scale = (float)(MCQ_WAVE_U_RMS * 1.4142135623730951 / MCQ_WAVE_U_PEAK);
    cfg.i_scale = (float)(MCQ_WAVE_I_RMS * 1.4142135623730951 / MCQ_WAVE_I_PEAK);
#if MCQ_3P4W
    cfg.wiring = MC_WIRING_3P4W;
    if (mc_meter_channels(&cfg) > sizeof ch_state / sizeof ch_state[0] ||
        mc_meter_pairs(&cfg) > sizeof pr_state / sizeof pr_state[0] ||
        mc_meter_elements(&cfg) > sizeof el_state / sizeof el_state[0] || mc_meter_channels(&cfg) != 6u) {
        fail("3P4W state arrays too small");
    }
    cfg.channel_state = ch_state;
    cfg.pair_state = pr_state;
    cfg.element_state = el_state;
#endif
    if (mc_meter_init(&meter, &cfg) != MC_OK) {
        fail("mc_meter_init");
    }

    /* Warm-up. */
    int ev = 0;
    for (unsigned b = 0; b < 2u * PASS / BLOCK && !(ev & MC_EVENT_WINDOW); b++) {
        ev = feed();
        if (ev < 0) {
            fail("mc_meter_process");
        }
    }
    if (!(ev & MC_EVENT_WINDOW)) {
        fail("no window in the first two passes");
    }
    for (unsigned b = 0; b < SETTLE_BLOCKS; b++) {
        if (feed() < 0) {
            fail("mc_meter_process");
        }
    }

    /* Counted. */
    uint32_t windows = 0;
    mcq_count_on();
    for (unsigned pass = 0; pass < COUNTED_PASSES; pass++) {
        uint32_t pass_windows = 0;
        for (unsigned b = 0; b < PASS / BLOCK; b++) {
            ev = feed();
            if (ev < 0) {
                fail("mc_meter_process");
            }
            pass_windows += (ev & MC_EVENT_WINDOW) != 0;
        }
        if (pass_windows != 1u) {
            mcq_put_u("mcq: pass", pass + 1u);
            mcq_put_u("windows", pass_windows);
            fail("a counted pass must close exactly one window");
        }
        windows += pass_windows;
    }
    mcq_count_off();
    /* What the meter measured in the last window. */
    mc_reading_t r;
    mc_phase_reading_t ph;
    if (mc_meter_reading(&meter, &r) != MC_OK || mc_meter_phase_reading(&meter, 0u, &ph) != MC_OK) {
        fail("no reading");
    }
    mcq_puts("mcq reading ");
    mcq_put_milli("u1", (int32_t)lroundf(ph.urms * 1000.0f));
    mcq_put_milli("i1", (int32_t)lroundf(ph.irms * 1000.0f));
    mcq_put_milli("p", (int32_t)lroundf(r.p * 1000.0f));
    mcq_put_milli("pf", (int32_t)lroundf(r.pf * 1000.0f));
    mcq_put_milli("f", (int32_t)lroundf(r.freq * 1000.0f));
    mcq_put_u("cycles", r.cycles);
    mcq_put_u("samples", r.samples);
    /* Every byte of the meter's state once mc_meter_flush() has closed the window under way
     * (the integer sums of the cycle and window under way are in its readings then: the
     * kernel forms may hold a product's sum as Σ(a+b)² until then): equal between two builds
     * of the core (say, two kernel forms) only if every sum, reading and register is. */
    if (mc_meter_flush(&meter) < 0) {
        fail("flush");
    }
    uint32_t h = 2166136261u;
    h = fnv1a(h, &meter, sizeof meter);
#if MCQ_3P4W
    h = fnv1a(h, ch_state, sizeof ch_state);
    h = fnv1a(h, pr_state, sizeof pr_state);
    h = fnv1a(h, el_state, sizeof el_state);
#endif
    mcq_put_u("state", h);
    mcq_puts("\n");
    const double p_want = (double)N_PHASES * MCQ_WAVE_U_RMS * MCQ_WAVE_I_RMS * MCQ_WAVE_PF;
    const double f_want = (double)MCQ_WAVE_FS * MCQ_WAVE_CYCLES / MCQ_WAVE_N;
    if (!near(ph.urms, MCQ_WAVE_U_RMS, 0.01 * MCQ_WAVE_U_RMS) ||
        !near(ph.irms, MCQ_WAVE_I_RMS, 0.01 * MCQ_WAVE_I_RMS) ||
        !near(r.p, p_want, 0.01 * p_want) || !near(r.freq, f_want, 0.01) || r.flags != MC_FLAG_INDUCTIVE) {
        fail("the reading is not the signal's");
    }

    mcq_puts("mcq result ");
    mcq_put_u("pairs", COUNTED_PASSES * PASS);
    mcq_put_u("channel_pairs", COUNTED_PASSES * PASS * N_PHASES);
    mcq_put_u("calls", COUNTED_PASSES * (PASS / BLOCK));
    mcq_put_u("windows", windows);
    mcq_puts("\n");
    return 0;
}
