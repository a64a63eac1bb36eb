/*
 * End of stream: mc_meter_flush() closes the open window so that every sample fed
 * after the start-up acquisition is in the energy.
 *
 * The truth is the integral of the continuous waveform's v(t)*i(t), computed here
 * by Simpson's rule on a grid 16 times finer than the sample rate from the
 * generator's physical values (tests/waveform.c), over [start, end) where start is
 * the first sample in the energy (the first window's start_sample, which the meter
 * reports) and end the instant after the last sample fed. It shares nothing with
 * the meter's window, cycle or DC logic.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metercore/mc_meter.h"
#include "waveform.h"

/* What the callbacks saw. */
typedef struct seen {
    uint64_t windows;
    uint64_t partial_windows;
    uint64_t samples;        /* sum of every window's samples */
    uint64_t first_start;    /* start_sample of the first window */
    uint64_t next_start;     /* where the next window must start (contiguity) */
    int gaps;                /* windows that did not start where the previous one ended */
    uint64_t pulses;
    mc_reading_t last;
} seen_t;

static void on_window(void *ctx, const mc_reading_t *r)
{
    seen_t *s = ctx;
    if (s->windows == 0) {
        s->first_start = r->start_sample;
    } else if (r->start_sample != s->next_start) {
        s->gaps++;
    }
    s->next_start = r->start_sample + r->samples;
    s->windows++;
    s->samples += r->samples;
    if (r->flags & MC_FLAG_PARTIAL) {
        s->partial_windows++;
    }
    s->last = *r;
}

static void on_pulse(void *ctx, const mc_pulse_t *p)
{
    (void)p;
    ((seen_t *)ctx)->pulses++;
}

/* A distorted, inductive load at an off-nominal frequency, with ADC offsets. */
static void load_params(wf_params_t *p)
{
    wf_params_sine(p, 4000.0, 49.83, 230.0, 5.0, 60.0, 400.0, 100.0, 24);
    p->theta0_deg = 37.0;
    p->u.rms[3] = 4.6;
    p->u.phase_deg[3] = 20.0;
    p->i.rms[3] = 1.5;
    p->i.phase_deg[3] = -70.0;
    p->i.rms[5] = 0.8;
    p->i.phase_deg[5] = 10.0;
    p->u.dc = 0.35;   /* ADC offsets, in physical units before the ADC */
    p->i.dc = -0.012;
    p->u.noise_rms = 0.02;
    p->i.noise_rms = 0.001;
    p->seed = 12345;
}

static void meter_for(mc_meter_t *m, const wf_params_t *p, seen_t *s)
{
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = (uint32_t)p->fs;
    cfg.nominal_freq_hz = 50.0f;
    cfg.un = 230.0f;
    cfg.u_scale = (float)wf_scale(&p->u);
    cfg.i_scale = (float)wf_scale(&p->i);
    cfg.on_window = on_window;
    cfg.on_pulse = on_pulse;
    cfg.context = s;
    memset(s, 0, sizeof(*s));
    assert_int_equal(mc_meter_init(m, &cfg), MC_OK);
}

/* The load, its generator at sample 0 and a fresh meter. */
static void start(wf_params_t *p, wf_gen_t *g, mc_meter_t *m, seen_t *s)
{
    load_params(p);
    wf_init(g, p);
    meter_for(m, p, s);
}

/* Integral of v(t)*i(t) dt over samples [k0, k1), in Wh, from the continuous model. */
static double truth_wh(const wf_params_t *p, uint64_t k0, uint64_t k1)
{
    enum { SUB = 16 }; /* grid points per sample period (even: Simpson) */
    wf_params_t fine = *p;
    fine.fs = p->fs * SUB;
    fine.u.dc = fine.i.dc = 0.0; /* the truth is the signal, not the front end's offset */
    const double h = 1.0 / fine.fs;
    const uint64_t a = k0 * SUB, b = k1 * SUB;
    double sum = 0.0;
    for (uint64_t k = a; k <= b; k++) {
        double u, i;
        wf_value(&fine, k, &u, &i);
        const double w = (k == a || k == b) ? 1.0 : ((k - a) % 2u ? 4.0 : 2.0);
        sum += w * u * i;
    }
    return sum * h / 3.0 / 3600.0;
}

static double active_wh(const mc_meter_t *m)
{
    mc_energy_t e;
    assert_int_equal(mc_meter_energy(m, &e), MC_OK);
    return ((double)e.q[MC_E_ACTIVE_IMPORT] - (double)e.q[MC_E_ACTIVE_EXPORT]) / (double)MC_ENERGY_QUANTA_PER_WH;
}

/* Feed `seconds` of the load in blocks of `block` pairs; returns the samples fed. */
static uint64_t feed(mc_meter_t *m, wf_gen_t *g, double seconds, size_t block)
{
    static int32_t v[1024], i[1024];
    const uint64_t n = (uint64_t)llround(seconds * g->p.fs);
    uint64_t done = 0;
    while (done < n) {
        size_t k = (size_t)(n - done < block ? n - done : block);
        wf_fill(g, v, i, k);
        assert_true(mc_meter_process(m, v, i, k) >= 0);
        done += k;
    }
    return n;
}

/* A whole file of `seconds` through a meter, flushed at the end, against the integral. */
static void whole_stream(double seconds, size_t block, double limit)
{
    wf_params_t p;
    wf_gen_t g;
    mc_meter_t m;
    seen_t s;
    start(&p, &g, &m, &s);
    const uint64_t n = feed(&m, &g, seconds, block);
    const double before = active_wh(&m);
    assert_int_equal(mc_meter_flush(&m), MC_EVENT_WINDOW);
    const double wh = active_wh(&m);
    const double truth = truth_wh(&p, s.first_start, n);
    const double err = (wh - truth) / truth;
    print_message("  %.3f s in blocks of %zu: start-up %.4f s, %llu windows (%llu partial), "
                  "energy %.6f Wh against %.6f Wh: %+.4f %% (without the flush %+.2f %%)\n",
                  seconds, block, (double)s.first_start / p.fs, (unsigned long long)s.windows,
                  (unsigned long long)s.partial_windows, wh, truth, 100.0 * err,
                  100.0 * (before - truth) / truth);
    assert_true(fabs(err) <= limit);
    /* every sample from the first window on is in exactly one window */
    assert_int_equal(s.samples, n - s.first_start);
    assert_int_equal(s.gaps, 0);
    assert_int_equal(s.partial_windows, 1);
    /* the start-up acquisition stays within half a second */
    assert_true((double)s.first_start / p.fs < 0.5);
    /* the flushed window is a measured window: partial, with voltage and frequency */
    assert_true(s.last.flags & MC_FLAG_PARTIAL);
    assert_false(s.last.flags & MC_FLAG_NO_VOLTAGE);
    assert_true(fabs(s.last.freq - 49.83) < 0.05);
    /* nothing left to close */
    assert_int_equal(mc_meter_flush(&m), 0);
    assert_true(active_wh(&m) == wh);
}

static void test_flush_20s(void **state)
{
    (void)state;
    whole_stream(20.0, 160, 0.001);
}

static void test_flush_3s(void **state)
{
    (void)state;
    whole_stream(3.0, 160, 0.001);
    whole_stream(3.0037, 97, 0.001); /* ends at an arbitrary instant, odd blocks */
}

static void test_flush_shorter_than_a_window(void **state)
{
    (void)state;
    whole_stream(0.7013, 64, 0.002);
}

/*
 * Flushing in the middle of a stream and going on: the flushes only cut windows.
 * The energy over the whole stream still equals the integral, every sample is in
 * exactly one window, and the pulses are exactly the energy's whole pulses.
 */
static void test_flush_midstream(void **state)
{
    (void)state;
    wf_params_t p;
    wf_gen_t g;
    mc_meter_t m;
    seen_t s;
    start(&p, &g, &m, &s);
    uint64_t n = 0;
    const double pieces[] = {1.37, 0.0051, 2.9, 0.33, 0.0102, 4.125, 0.9999};
    int flushed = 0;
    for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
        n += feed(&m, &g, pieces[k], 131);
        int ev = mc_meter_flush(&m);
        assert_true(ev == 0 || ev == MC_EVENT_WINDOW);
        flushed += ev == MC_EVENT_WINDOW;
    }
    assert_true(flushed >= 6);
    const double wh = active_wh(&m);
    const double truth = truth_wh(&p, s.first_start, n);
    print_message("  %d flushes in %.2f s: energy %+.4f %% of the integral, %llu windows\n", flushed,
                  (double)n / p.fs, 100.0 * (wh - truth) / truth, (unsigned long long)s.windows);
    assert_true(fabs(wh - truth) / truth <= 0.001);
    assert_int_equal(s.samples, n - s.first_start);
    assert_int_equal(s.gaps, 0);
    /* pulses: exactly the whole pulses in the energy (1600 imp/kWh on |P|) */
    mc_energy_t e;
    mc_meter_energy(&m, &e);
    const uint64_t per_pulse = MC_ENERGY_QUANTA_PER_WH * 1000u / 1600u;
    assert_int_equal(s.pulses, (e.q[MC_E_ACTIVE_IMPORT] + e.q[MC_E_ACTIVE_EXPORT]) / per_pulse);
    /* the meter measures on after the flushes: a later full window reads the load */
    const uint64_t windows = s.windows;
    feed(&m, &g, 2.5, 160);
    assert_true(s.windows >= windows + 2);
    assert_false(s.last.flags & (MC_FLAG_PARTIAL | MC_FLAG_NO_VOLTAGE));
    wf_truth_t t;
    wf_truth(&p, &t);
    assert_true(fabs(s.last.p - t.p) / t.p < 0.002);
    assert_true(fabs(s.last.urms - t.urms) / t.urms < 0.002);
    assert_true(fabs(s.last.freq - 49.83) < 0.01);
}

static void test_flush_edges(void **state)
{
    (void)state;
    assert_int_equal(mc_meter_flush(NULL), MC_ERR_INVAL);
    wf_params_t p;
    wf_gen_t g;
    mc_meter_t m;
    seen_t s;
    start(&p, &g, &m, &s);
    /* nothing fed, then inside the start-up acquisition: nothing to close */
    assert_int_equal(mc_meter_flush(&m), 0);
    feed(&m, &g, 0.01, 40);
    assert_int_equal(mc_meter_flush(&m), 0);
    assert_int_equal(s.windows, 0);
    assert_true(active_wh(&m) == 0.0);
    /* measuring: a flush inside the first cycle of a window keeps the last frequency */
    feed(&m, &g, 1.2, 40);
    assert_int_equal(s.windows, 1);
    assert_int_equal(mc_meter_flush(&m), MC_EVENT_WINDOW);
    feed(&m, &g, 0.005, 40);
    assert_int_equal(mc_meter_flush(&m), MC_EVENT_WINDOW);
    assert_true(s.last.flags & MC_FLAG_PARTIAL);
    assert_false(s.last.flags & MC_FLAG_NO_VOLTAGE);
    assert_true(fabs(s.last.freq - 49.83) < 0.05);
    assert_int_equal(mc_meter_flush(&m), 0);
}

/* No voltage at all (current only): the flush books the current-only window as usual. */
static void test_flush_no_voltage(void **state)
{
    (void)state;
    wf_params_t p;
    load_params(&p);
    p.u.rms[1] = 0.0;
    p.u.rms[3] = 0.0;
    wf_gen_t g;
    wf_init(&g, &p);
    mc_meter_t m;
    seen_t s;
    meter_for(&m, &p, &s);
    feed(&m, &g, 1.5, 160);
    assert_int_equal(mc_meter_flush(&m), MC_EVENT_WINDOW);
    assert_true(s.last.flags & MC_FLAG_NO_VOLTAGE);
    assert_true(s.last.flags & MC_FLAG_PARTIAL);
    assert_true(fabs(s.last.irms - 5.28) / 5.28 < 0.05);
    assert_int_equal(s.samples, (uint64_t)6000 - s.first_start);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_20s),
        cmocka_unit_test(test_flush_3s),
        cmocka_unit_test(test_flush_shorter_than_a_window),
        cmocka_unit_test(test_flush_midstream),
        cmocka_unit_test(test_flush_edges),
        cmocka_unit_test(test_flush_no_voltage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
