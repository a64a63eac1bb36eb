/*
 * metercore real-world suite: the core on non-stationary, non-periodic and
 * asymmetric signals (issue 13), against the truth of a continuous-time model
 * (tests/realworld.h) that shares nothing with the core's cycle, window or
 * offset logic.
 * SPDX-License-Identifier: MIT
 *
 * Meter under test (as tests/test_accuracy.c): Un 230 V, In 5 A, Imax 60 A, start
 * current 5 mA, rated 50 Hz (60 Hz in the 60 Hz cases); ADC full scale
 * 230*sqrt2*1.6 V and 60*sqrt2*1.5 A peak, 24 bits unless the case says 16, fs
 * 4000 Hz (3200 Hz at 60 Hz); Gaussian noise 2e-5 of full scale rms on both
 * channels; ADC offsets +0.2 % of full scale on the voltage and -0.1 % on the
 * current in every case (+3 % / -2 % in the offset cases). Anti-alias filter:
 * 4th-order Butterworth at 0.3 fs (1.2 kHz at 4 kHz) on both channels, gain
 * normalised to 1 at the rated frequency (the meter is calibrated there): flat
 * to 0.1 % up to the 11th harmonic, 8x down at fs/2 and 120x at fs, so what the
 * sample rate cannot resolve hardly aliases back.
 *
 * Truth (realworld.h): the signals at the ADC input are integrated in
 * continuous time by quadrature split at every switching instant. Energy: the
 * integral of v*i over the samples' span, from the first window's start_sample
 * to the end of the record (the span the energy registers cover after
 * mc_meter_flush()), at the ADC input: the band the sample rate resolves. The
 * unfiltered integral of v(t)*i(t) is printed beside it ("FE": the front end's
 * share, which a calibrated meter's filter adds on top; it is not the core's).
 * Urms, Irms: over each window's exact span, about the long-term mean of the
 * record (the core's offset tracker removes a true DC with the ADC offset; see
 * docs/DESIGN.md "Offsets"). Frequency: the source's phase advance without its
 * deliberate jumps, between the window's first and last true crossings.
 * Cycles: true positive-going crossings of the fundamental, each assigned to the
 * sample interval in which the sampled ADC input changes sign next to it.
 *
 * Checks per case:
 *  - active energy (import - export registers) within the class 0.2S base limits
 *    of IEC 62053-22:2020, Table 3 "Acceptable percentage error limits
 *    (single-phase meters and poly-phase meters with balanced loads or
 *    single-phase loads)": PF 1: +-0.4 % for 0.01 In <= I < 0.05 In, +-0.2 % from
 *    0.05 In to Imax; PF 0.5 inductive / 0.8 capacitive: +-0.5 % for
 *    0.02 In <= I < 0.1 In, +-0.3 % from 0.1 In. (The table's title is from the
 *    standard's contents; its text was not reachable from here, so the figures
 *    are the ones test_accuracy.c and tools/accuracy_report.py already use.)
 *    Loads built from a resistance (half-wave,
 *    phase-fired, burst, dimmers, SMPS) get the PF 1 row, as the IEC influence
 *    tests state them; I is the record's rms current. The influence-test
 *    "variation" limits are looser; the base limit is enforced;
 *  - every window's Urms and Irms within 0.2 % of its truth (only the first
 *    window may be excluded, and only when it carries MC_FLAG_SETTLING);
 *  - every window's frequency within 0.01 Hz unless the window is flagged
 *    irregular or carries MC_FLAG_NO_VOLTAGE (frequency 0 by contract);
 *  - flagged windows only where an event is: a window may carry the irregular
 *    flag or MC_FLAG_NO_VOLTAGE only if it overlaps an event's neighbourhood
 *    (1 cycle before to 2 cycles after a phase jump, amplitude step, frequency
 *    knot or interharmonic switching) or a stretch the case declares (a 5 %
 *    ripple-control telegram, which docs/DESIGN.md says is flagged);
 *  - cycles: |cycles - true crossings| <= 1 in every window, and no false
 *    cycles at all (the sum of cycles counted beyond the true ones) in windows
 *    with voltage present throughout. A window that spans a stretch with the
 *    amplitude under RW_PRESENT (an interruption, a dip to 10 %) counts the
 *    meter's 1/40 s timeouts as cycles (mc_meter.h): there cycles must lie
 *    between the crossings with voltage clearly present - 1 and all crossings
 *    + ceil(40 * that time) + 1;
 *  - the windows partition the samples: contiguous, their samples add up to the
 *    samples fed after the first window's start.
 *
 * "Flagged" is MC_FLAG_IRREGULAR. It is recognised as any flag bit this suite
 * cannot map to the other documented flags, so that the suite also builds
 * against the core before the redesign (which had no such flag) for the
 * before/after comparison.
 *
 * "P wnd%" is the worst window's energy (P x its duration) against its truth, for
 * information (the class limits apply to the registers over the record).
 * "I adc%" in the table is, for the window with the worst Irms, the error an ideal
 * estimator would make on the same codes with the offset known exactly: the
 * front end's own share (noise and quantisation add their power to the rms).
 *
 * Output: one table row per case (print_message) and machine-readable lines
 *   ROW realworld <case> <quantity> <error>[unit] <limit>[unit] PASS|FAIL
 * for tools/accuracy_report.py. RW_VERBOSE=1 prints every window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metercore/mc_meter.h"
#include "realworld.h"
#include "waveform.h"

#define UN 230.0
#define IN 5.0
#define IMAX 60.0
#define SQRT2 1.4142135623730951
#define PI 3.14159265358979323846
#define U_FS (UN * SQRT2 * 1.6)
#define I_FS (IMAX * SQRT2 * 1.5)
#define NOISE_FRAC 2e-5
#define START_CURRENT 0.005
#define BLOCK 160u
#define MAX_WINDOWS 32
#define QPWH ((double)MC_ENERGY_QUANTA_PER_WH)
#define RMS_LIMIT 0.2   /* percent */
#define FREQ_LIMIT 0.01 /* Hz */
#define RECORD_S 4.6
#define T_EVENT 2.5     /* events start after this, in the third window */

#define KNOWN_FLAGS                                                                                          \
    ((unsigned)(MC_FLAG_NO_VOLTAGE | MC_FLAG_CREEP_P | MC_FLAG_CREEP_Q | MC_FLAG_SETTLING | MC_FLAG_CAPACITIVE | \
                MC_FLAG_INDUCTIVE | MC_FLAG_PARTIAL))
#define FLAGGED(f) (((unsigned)(f) & ~KNOWN_FLAGS) != 0u)

/* ------------------------------------------------------------------------ */
/* Cases and results                                                        */

typedef struct rcase {
    char name[48];
    rw_model_t m;
    double f_nom;      /* the meter's rated frequency */
    int pf1;           /* PF 1 row of the limits (else 0.5L/0.8C) */
    double flag_lo;    /* a stretch where flags are expected (source time), or 0, 0 */
    double flag_hi;
} rcase_t;

typedef struct result {
    char name[48];
    double e_err, e_lim, fe;  /* energy error, limit, front-end share (percent) */
    double i_over_in;
    double u_worst, i_worst;  /* signed worst window error, percent */
    double i_adc;             /* the same window's Irms error of an ideal estimator on the codes (offset known) */
    double f_worst;           /* signed worst unflagged window error, Hz */
    double p_worst;           /* signed worst window energy error, percent (information: not a class limit) */
    int windows, checked, flagged, flag_unexpected, novolt, novolt_unexpected;
    int cyc_dev;              /* worst |cycles - truth| */
    int cyc_bad;              /* windows outside their cycle range */
    int false_cycles, lost_cycles;
    int gaps;                 /* partition errors */
    double p_partial;         /* the flushed window's P error, percent */
    int fails;
    char why[200];
} result_t;

#define MAX_RESULTS 128
static result_t g_res[MAX_RESULTS];
static size_t g_nres;

typedef struct run {
    mc_reading_t w[MAX_WINDOWS];
    size_t nw, dropped;
} run_t;

static void on_window(void *ctx, const mc_reading_t *r)
{
    run_t *run = ctx;
    if (run->nw < MAX_WINDOWS) {
        run->w[run->nw++] = *r;
    } else {
        run->dropped++;
    }
}

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

static void note(result_t *r, const char *what)
{
    size_t l = strlen(r->why);
    if (l + 3 < sizeof r->why) {
        snprintf(r->why + l, sizeof r->why - l, "%s%s", l ? "; " : "", what);
    }
}

/* A case with the suite's front end, a clean source at f and no load yet. */
static void case_init(rcase_t *c, const char *name, double f, double f_nom, double fs, int bits)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof c->name, "%s", name);
    rw_model_init(&c->m, fs, f, UN, bits, U_FS, I_FS, RECORD_S);
    const unsigned h = name_hash(name);
    c->m.src.theta0_deg = fmod(37.7 + 101.3 * (double)(h % 1000u), 360.0);
    c->m.adc.seed = 0x5EED0000u + h;
    c->m.adc.u_noise = NOISE_FRAC * U_FS;
    c->m.adc.i_noise = NOISE_FRAC * I_FS;
    c->m.adc.u_offset = 0.002 * U_FS;
    c->m.adc.i_offset = -0.001 * I_FS;
    c->m.adc.aa_order = 4;
    c->m.adc.aa_fc = 0.3 * fs;
    c->m.adc.f_cal = f_nom;
    c->f_nom = f_nom;
    c->pf1 = 1;
}

static void load_set(rcase_t *c, rw_load_kind kind, double irms, double angle_deg)
{
    rw_load_t *l = &c->m.load;
    l->kind = kind;
    l->angle_deg = angle_deg;
    l->level0 = 1.0;
    if (kind == RW_LOAD_LINEAR) {
        l->phi_deg = angle_deg;
        c->pf1 = fabs(angle_deg) < 1e-9;
    }
    if (kind == RW_LOAD_BURST) {
        l->on_cycles = 2;
        l->period_cycles = 4;
    }
    if (kind == RW_LOAD_SMPS) {
        l->width_deg = 24.0;
    }
    l->i_pk = rw_peak_for_rms(l, irms);
}

/* A sine load of rms i_sine cut by the load's switching (IEC influence tests). */
static void load_cut_sine(rcase_t *c, rw_load_kind kind, double i_sine, double angle_deg)
{
    load_set(c, kind, 1.0, angle_deg);
    c->m.load.i_pk = SQRT2 * i_sine;
}

static void amp_event(rcase_t *c, double angle_deg, double dur, double level)
{
    rw_source_t *s = &c->m.src;
    const double t0 = rw_time_at_angle(s, T_EVENT, angle_deg);
    s->amp[s->namp].t0 = t0;
    s->amp[s->namp].t1 = t0 + dur;
    s->amp[s->namp].level = level;
    s->namp++;
}

/* ------------------------------------------------------------------------ */
/* Running one case                                                         */

static double class02s_limit(int pf1, double x)
{
    if (pf1) {
        return x < 0.05 ? 0.4 : 0.2;
    }
    return x < 0.1 ? 0.5 : 0.3;
}

/* Instants where the voltage changes its law (for the flags allowed). */
static size_t voltage_events(const rw_model_t *m, double *ev, size_t cap)
{
    size_t n = 0;
    const rw_source_t *s = &m->src;
    for (int k = 1; k < s->nfseg && n < cap; k++) {
        ev[n++] = s->fseg[k].t;
    }
    for (int k = 0; k < s->njump && n < cap; k++) {
        ev[n++] = s->jump[k].t;
    }
    for (int k = 0; k < s->namp && n + 1 < cap; k++) {
        ev[n++] = s->amp[k].t0;
        ev[n++] = s->amp[k].t1;
    }
    for (int k = 0; k < s->nih && n + 1 < cap; k++) {
        ev[n++] = s->ih[k].t_on;
        ev[n++] = s->ih[k].t_off;
    }
    if (s->notch_width_deg > 0.0 && n + 1 < cap) {
        ev[n++] = s->notch_t_on;
        ev[n++] = s->notch_t_off;
    }
    if (s->z_ohm > 0.0) {
        for (int k = 0; k < m->load.nstep && n < cap; k++) {
            ev[n++] = m->load.step[k].t;
        }
    }
    return n;
}

static void print_header(void)
{
    print_message("%-38s %8s %5s %8s %9s %9s %8s %9s %9s %7s %5s %5s %5s %4s %3s  %s\n", "case", "E err%",
                  "lim%", "FE%", "P wnd%", "U worst%", "I worst%", "I adc%", "f worstHz", "flagged", "novlt",
                  "cycdv", "false", "lost", "win", "result");
}

static void print_result(const result_t *r)
{
    char fl[16], nv[16];
    snprintf(fl, sizeof fl, "%d/%d", r->flagged, r->flag_unexpected);
    snprintf(nv, sizeof nv, "%d/%d", r->novolt, r->novolt_unexpected);
    print_message("%-38s %+8.4f %5.2f %+8.4f %+9.4f %+9.4f %+9.4f %+8.4f %+9.5f %7s %5s %5d %5d %4d %3d  %s%s%s\n",
                  r->name, r->e_err, r->e_lim, r->fe, r->p_worst, r->u_worst, r->i_worst, r->i_adc, r->f_worst, fl, nv,
                  r->cyc_dev, r->false_cycles, r->lost_cycles, r->windows, r->fails ? "FAIL" : "pass",
                  r->why[0] ? ": " : "", r->why);
}

static void print_rows(const result_t *r)
{
    const char *pf[2] = {"FAIL", "PASS"};
    print_message("ROW realworld %s energy %+.4f%% %.2f%% %s\n", r->name, r->e_err, r->e_lim,
                  pf[fabs(r->e_err) <= r->e_lim]);
    print_message("ROW realworld %s Urms %+.4f%% %.2f%% %s\n", r->name, r->u_worst, RMS_LIMIT,
                  pf[fabs(r->u_worst) <= RMS_LIMIT]);
    print_message("ROW realworld %s Irms %+.4f%% %.2f%% %s\n", r->name, r->i_worst, RMS_LIMIT,
                  pf[fabs(r->i_worst) <= RMS_LIMIT]);
    print_message("ROW realworld %s freq %+.5f Hz %.2f Hz %s\n", r->name, r->f_worst, FREQ_LIMIT,
                  pf[fabs(r->f_worst) <= FREQ_LIMIT]);
    print_message("ROW realworld %s flags_outside_events %d 0 %s\n", r->name,
                  r->flag_unexpected + r->novolt_unexpected, pf[r->flag_unexpected + r->novolt_unexpected == 0]);
    print_message("ROW realworld %s cycles %d 1 %s\n", r->name, r->cyc_dev, pf[r->cyc_bad == 0]);
    print_message("ROW realworld %s false_cycles %d 0 %s\n", r->name, r->false_cycles, pf[r->false_cycles == 0]);
    print_message("ROW realworld %s partition %d 0 %s\n", r->name, r->gaps, pf[r->gaps == 0]);
}

/* Feed the case to a fresh meter, check it against the truth; returns failures. */
static int run_case(const rcase_t *c)
{
    result_t *res = g_nres < MAX_RESULTS ? &g_res[g_nres++] : &g_res[MAX_RESULTS - 1];
    memset(res, 0, sizeof(*res));
    snprintf(res->name, sizeof res->name, "%s", c->name);

    rw_record_t rec;
    assert_int_equal(rw_record_make(&rec, &c->m), 0);

    run_t *run = calloc(1, sizeof(*run));
    assert_non_null(run);
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = (uint32_t)c->m.adc.fs;
    cfg.nominal_freq_hz = (float)c->f_nom;
    cfg.un = (float)UN;
    cfg.in = (float)IN;
    cfg.imax = (float)IMAX;
    cfg.start_current = (float)START_CURRENT;
    cfg.u_scale = (float)rec.u_scale;
    cfg.i_scale = (float)rec.i_scale;
    cfg.on_window = on_window;
    cfg.context = run;
    mc_meter_t m;
    assert_int_equal(mc_meter_init(&m, &cfg), MC_OK);
    for (uint64_t k = 0; k < rec.n; k += BLOCK) {
        const size_t nb = (size_t)(rec.n - k < BLOCK ? rec.n - k : BLOCK);
        assert_true(mc_meter_process(&m, &rec.v[k], &rec.i[k], nb) >= 0);
    }
    assert_true(mc_meter_flush(&m) >= 0);
    mc_energy_t e;
    assert_int_equal(mc_meter_energy(&m, &e), MC_OK);
    assert_int_equal(run->dropped, 0);
    assert_true(run->nw >= 3);
    res->windows = (int)run->nw;

    /* Partition and the record's span. */
    const uint64_t first = run->w[0].start_sample;
    uint64_t sum = 0;
    for (size_t k = 0; k < run->nw; k++) {
        sum += run->w[k].samples;
        if (k > 0 && run->w[k].start_sample != run->w[k - 1].start_sample + run->w[k - 1].samples) {
            res->gaps++;
        }
    }
    if (sum != rec.n - first) {
        res->gaps++;
    }
    if (res->gaps) {
        note(res, "windows do not partition the samples");
    }

    /* Energy. */
    const double dur = (double)(rec.n - first) / c->m.adc.fs;
    const double e_true = rw_integral(&rec, RW_A_VI, first, rec.n) / 3600.0;
    const double e_unf = rw_integral(&rec, RW_A_XVI, first, rec.n) / 3600.0;
    const double e_meas =
        ((double)e.q[MC_E_ACTIVE_IMPORT] - (double)e.q[MC_E_ACTIVE_EXPORT]) / QPWH;
    const double u_dc = rw_integral(&rec, RW_A_V, first, rec.n) / dur;
    const double i_dc = rw_integral(&rec, RW_A_I, first, rec.n) / dur;
    const double i2 = rw_integral(&rec, RW_A_II, first, rec.n) / dur - i_dc * i_dc;
    res->i_over_in = sqrt(i2 > 0.0 ? i2 : 0.0) / IN;
    res->e_err = 100.0 * (e_meas - e_true) / fabs(e_true);
    res->fe = 100.0 * (e_true - e_unf) / fabs(e_unf);
    res->e_lim = class02s_limit(c->pf1, res->i_over_in);
    if (!(fabs(res->e_err) <= res->e_lim)) {
        note(res, "energy");
    }
    if (rec.clipped) {
        note(res, "ADC clipped");
    }

    /* Windows. */
    double ev[64];
    const size_t nev = voltage_events(&c->m, ev, 64);
    const double cyc_s = 1.0 / c->f_nom;
    const int verbose = getenv("RW_VERBOSE") != NULL;
    int u_bad = 0, i_bad = 0, f_bad = 0;
    for (size_t k = 0; k < run->nw; k++) {
        const mc_reading_t *w = &run->w[k];
        const int partial = (w->flags & MC_FLAG_PARTIAL) != 0;
        rw_wtruth_t t;
        rw_window_truth(&rec, w->start_sample, w->samples, !partial, u_dc, i_dc, &t);
        const int skip = k == 0 && (w->flags & MC_FLAG_SETTLING);
        const double ue = 100.0 * ((double)w->urms - t.urms) / t.urms;
        const double ie = t.irms > 0.0 ? 100.0 * ((double)w->irms - t.irms) / t.irms : 0.0;
        /* What an ideal estimator would read from these codes, knowing the offset. */
        double sq = 0.0;
        for (uint64_t q = w->start_sample; q < w->start_sample + w->samples; q++) {
            const double x = (double)rec.i[q] * rec.i_scale - c->m.adc.i_offset - i_dc;
            sq += x * x;
        }
        const double ia = t.irms > 0.0 ? 100.0 * (sqrt(sq / (double)w->samples) - t.irms) / t.irms : 0.0;
        const int flagged = FLAGGED(w->flags);
        const int novolt = (w->flags & MC_FLAG_NO_VOLTAGE) != 0;
        double fe = 0.0;
        int f_checked = 0;
        if (!flagged && !novolt && t.freq > 0.0) {
            fe = (double)w->freq - t.freq;
            f_checked = 1;
        }
        /* Is an event near this window? (source time: the span less the filter's delay) */
        int near = 0;
        const double s0 = t.t0 - rec.delay, s1 = t.t1 - rec.delay;
        for (size_t q = 0; q < nev; q++) {
            if (ev[q] + 2.0 * cyc_s > s0 && ev[q] - cyc_s < s1) {
                near = 1;
            }
        }
        if (c->flag_hi > c->flag_lo && c->flag_hi > s0 && c->flag_lo < s1) {
            near = 1;
        }
        res->flagged += flagged;
        res->novolt += novolt;
        if (flagged && !near) {
            res->flag_unexpected++;
        }
        if (novolt && !(t.low_s > 0.0)) {
            res->novolt_unexpected++;
        }
        /* Cycles. */
        const int expect = t.crossings - (partial ? 1 : 0);
        int lo = expect - 1, hi = expect + 1, dev = (int)w->cycles - expect;
        if (t.low_s > 0.0) {
            lo = t.crossings_sure - (partial ? 1 : 0) - 1;
            hi = expect + (int)ceil(40.0 * t.low_s) + 1;
            dev = (int)w->cycles < lo ? lo - (int)w->cycles : ((int)w->cycles > hi ? (int)w->cycles - hi : 0);
        } else {
            if (dev > 0) {
                res->false_cycles += dev;
            } else {
                res->lost_cycles -= dev;
            }
        }
        if ((int)w->cycles < lo || (int)w->cycles > hi) {
            res->cyc_bad++;
        }
        if (abs(dev) > res->cyc_dev) {
            res->cyc_dev = abs(dev);
        }
        if (!skip) {
            res->checked++;
            if (fabs(ue) > fabs(res->u_worst)) {
                res->u_worst = ue;
            }
            if (fabs(ie) > fabs(res->i_worst)) {
                res->i_worst = ie;
                res->i_adc = ia;
            }
            if (f_checked && fabs(fe) > fabs(res->f_worst)) {
                res->f_worst = fe;
            }
            u_bad += !(fabs(ue) <= RMS_LIMIT);
            i_bad += !(fabs(ie) <= RMS_LIMIT);
            f_bad += f_checked && !(fabs(fe) <= FREQ_LIMIT);
        }
        const double pe = t.e_j != 0.0 ? 100.0 * ((double)w->p * (double)w->samples / c->m.adc.fs - t.e_j) / fabs(t.e_j)
                                        : 0.0;
        if (partial) {
            res->p_partial = pe;
        }
        if (!skip && fabs(pe) > fabs(res->p_worst)) {
            res->p_worst = pe;
        }
        if (verbose) {
            print_message("  w%-2zu start %7llu n %5u cyc %3u/%3d U %9.4f/%9.4f (%+.4f%%) I %8.4f/%8.4f (%+.4f%%) "
                          "[ideal %+.4f%%] f %9.5f/%9.5f P %9.2f/%9.2f flags 0x%02x%s\n",
                          k, (unsigned long long)w->start_sample, (unsigned)w->samples, (unsigned)w->cycles, expect,
                          (double)w->urms, t.urms, ue, (double)w->irms, t.irms, ie, ia, (double)w->freq, t.freq,
                          (double)w->p, t.e_j / ((double)w->samples / c->m.adc.fs), (unsigned)w->flags,
                          skip ? " (settling, not checked)" : "");
        }
    }
    if (u_bad) {
        note(res, "Urms");
    }
    if (i_bad) {
        note(res, "Irms");
    }
    if (f_bad) {
        note(res, "frequency");
    }
    if (res->flag_unexpected || res->novolt_unexpected) {
        note(res, "flags without an event");
    }
    if (res->cyc_bad) {
        note(res, "cycle count");
    }
    if (res->false_cycles) {
        note(res, "false cycles");
    }
    res->fails = !(fabs(res->e_err) <= res->e_lim) + u_bad + i_bad + f_bad + res->flag_unexpected +
                 res->novolt_unexpected + res->cyc_bad + (res->false_cycles > 0) + (res->gaps > 0) +
                 (rec.clipped != 0);
    print_result(res);
    if (fabs(res->p_partial) > 0.05) {
        print_message("  info: the flushed last window's P is %+.3f %% off its truth\n", res->p_partial);
    }
    print_rows(res);
    free(run);
    rw_record_free(&rec);
    return res->fails;
}

static void run_cases(const rcase_t *cases, size_t n, const char *section)
{
    int fails = 0;
    print_message("\n== %s ==\n", section);
    print_header();
    for (size_t k = 0; k < n; k++) {
        fails += run_case(&cases[k]) != 0;
    }
    if (fails) {
        fail_msg("%s: %d case(s) outside their limits (see the FAIL rows)", section, fails);
    }
}

/* ------------------------------------------------------------------------ */
/* The truth, checked                                                       */

/* Closed form of the integral of 2 U I sin(theta) sin(theta - phi) dt, theta = w t + th0. */
static double sine_energy(double u, double i, double phi, double w, double th0, double t0, double t1)
{
    const double a0 = 2.0 * (w * t0 + th0) - phi, a1 = 2.0 * (w * t1 + th0) - phi;
    return u * i * (cos(phi) * (t1 - t0) - (sin(a1) - sin(a0)) / (2.0 * w));
}

/* Integral over [t0, t1) of 2 U I sin^2(theta) where theta mod pi lies in [lo, hi) (lo, hi in [0, pi]). */
static double cut_energy(double u, double i, double w, double th0, double t0, double t1, double lo, double hi,
                         int positive_half_only)
{
    const double a = w * t0 + th0, b = w * t1 + th0;
    double sum = 0.0;
    /* G(x) = integral of sin^2 = x/2 - sin(2x)/4 */
    for (double k = floor(a / PI) - 1.0; k * PI < b; k += 1.0) {
        if (positive_half_only && fmod(fabs(k), 2.0) > 0.5) {
            continue;
        }
        const double x0 = fmax(a, k * PI + lo), x1 = fmin(b, k * PI + hi);
        if (x1 > x0) {
            sum += (x1 / 2.0 - sin(2.0 * x1) / 4.0) - (x0 / 2.0 - sin(2.0 * x0) / 4.0);
        }
    }
    return 2.0 * u * i * sum / w;
}

static void test_truth_sanity(void **state)
{
    (void)state;
    print_message("\n== truth sanity ==\n");
    /* (1) A stationary sine, no filter, 50 Hz exactly: 80 samples a cycle, so 4000
     * samples are 50 whole cycles, and the window truth must be waveform.c's
     * analytic truth; the instantaneous values must be waveform.c's too. */
    const double phi = 60.0, u = 230.0, i = 5.0, th0 = 37.0;
    wf_params_t wp;
    wf_params_sine(&wp, 4000.0, 50.0, u, i, phi, U_FS, I_FS, 24);
    wp.theta0_deg = th0;
    wf_truth_t wt;
    wf_truth(&wp, &wt);
    rw_model_t m;
    rw_model_init(&m, 4000.0, 50.0, u, 24, U_FS, I_FS, 1.5);
    m.src.theta0_deg = th0;
    m.load.kind = RW_LOAD_LINEAR;
    m.load.i_pk = SQRT2 * i;
    m.load.phi_deg = phi;
    rw_record_t r;
    assert_int_equal(rw_record_make(&r, &m), 0);
    double dmax = 0.0;
    for (uint64_t k = 0; k < r.n; k += 7) {
        double wu, wi;
        wf_value(&wp, k, &wu, &wi);
        dmax = fmax(dmax, fmax(fabs(wu - r.yv[k]) / (SQRT2 * u), fabs(wi - r.yi[k]) / (SQRT2 * i)));
    }
    rw_wtruth_t t;
    rw_window_truth(&r, 1000, 4000, 1, 0.0, 0.0, &t);
    const double eu = t.urms / wt.urms - 1.0, ei = t.irms / wt.irms - 1.0;
    const double ep = (t.e_j / 1.0) / wt.p - 1.0;
    print_message("sine vs waveform.c: values %.1e of peak, Urms %+.1e, Irms %+.1e, P %+.1e (relative), freq %.9f, "
                  "crossings %d\n",
                  dmax, eu, ei, ep, t.freq, t.crossings);
    assert_true(dmax < 1e-9);
    assert_true(fabs(eu) < 1e-6 && fabs(ei) < 1e-6 && fabs(ep) < 1e-6);
    assert_true(fabs(t.freq - 50.0) < 1e-9);
    assert_int_equal(t.crossings, 50);
    /* Energy over an arbitrary span against the closed form. */
    const double w = 2.0 * PI * 50.0, a0 = th0 * PI / 180.0, T = 1.0 / 4000.0;
    const uint64_t k0 = 777, k1 = 5321;
    const double e_rec = rw_integral(&r, RW_A_XVI, k0, k1);
    const double e_cf = sine_energy(u, i, phi * PI / 180.0, w, a0, ((double)k0 - 0.5) * T, ((double)k1 - 0.5) * T);
    print_message("sine energy, arbitrary span: %.12f J, closed form %.12f J (%+.1e)\n", e_rec, e_cf,
                  e_rec / e_cf - 1.0);
    assert_true(fabs(e_rec / e_cf - 1.0) < 1e-9);
    rw_record_free(&r);

    /* (2) The same through the anti-alias filter, normalised at 50 Hz: at that
     * frequency it only delays, so rms and P are unchanged, and each sample is the
     * sine delayed by the filter's phase. */
    m.adc.aa_order = 4;
    m.adc.aa_fc = 1200.0;
    m.adc.f_cal = 50.0;
    assert_int_equal(rw_record_make(&r, &m), 0);
    rw_window_truth(&r, 1000, 4000, 1, 0.0, 0.0, &t);
    /* 4th-order Butterworth's phase at 50 Hz: the angles of its two pole pairs,
     * 1/(1 + 2 cos(a) s/wc + (s/wc)^2) with a = 3 pi/8 and pi/8. */
    const double x = 50.0 / 1200.0;
    const double lag = atan2(2.0 * cos(3.0 * PI / 8.0) * x, 1.0 - x * x) + atan2(2.0 * cos(PI / 8.0) * x, 1.0 - x * x);
    dmax = 0.0;
    for (uint64_t k = 0; k < r.n; k += 7) {
        const double th = w * (double)k * T + a0 - lag;
        dmax = fmax(dmax, fabs(r.yv[k] - SQRT2 * u * sin(th)) / (SQRT2 * u));
        dmax = fmax(dmax, fabs(r.yi[k] - SQRT2 * i * sin(th - phi * PI / 180.0)) / (SQRT2 * i));
    }
    const double fu = t.urms / wt.urms - 1.0, fi = t.irms / wt.irms - 1.0, fp = t.e_j / wt.p - 1.0;
    print_message("filtered sine: values %.1e of peak from the closed form, Urms %+.1e, Irms %+.1e, P %+.1e, "
                  "crossings %d\n",
                  dmax, fu, fi, fp, t.crossings);
    assert_true(dmax < 1e-7);
    assert_true(fabs(fu) < 1e-6 && fabs(fi) < 1e-6 && fabs(fp) < 1e-6);
    assert_int_equal(t.crossings, 50);
    rw_record_free(&r);

    /* (3) Switching loads against their closed forms (unfiltered integral over an
     * arbitrary span): a half-wave and a 90-degree phase-fired current on a sine. */
    const struct {
        rw_load_kind kind;
        double lo, hi;
        int pos;
        const char *name;
    } sw[] = {
        {RW_LOAD_HALFWAVE, 0.0, PI, 1, "half-wave"},
        {RW_LOAD_LEADING, PI / 2.0, PI, 0, "phase-fired 90"},
        {RW_LOAD_TRAILING, 0.0, PI / 3.0, 0, "trailing 60"},
    };
    for (size_t q = 0; q < sizeof sw / sizeof sw[0]; q++) {
        rw_model_init(&m, 4000.0, 50.0137, u, 24, U_FS, I_FS, 1.2);
        m.src.theta0_deg = th0;
        m.load.kind = sw[q].kind;
        m.load.angle_deg = sw[q].kind == RW_LOAD_LEADING ? 90.0 : 60.0;
        m.load.i_pk = SQRT2 * i;
        m.load.level0 = 1.0;
        assert_int_equal(rw_record_make(&r, &m), 0);
        const double w2 = 2.0 * PI * 50.0137;
        const double er = rw_integral(&r, RW_A_XVI, 333, 4444);
        const double ec = cut_energy(u, i, w2, a0, 332.5 * T, 4443.5 * T, sw[q].lo, sw[q].hi, sw[q].pos);
        print_message("%s energy: %.12f J, closed form %.12f J (%+.1e), %zu switching instants\n", sw[q].name, er,
                      ec, er / ec - 1.0, r.nbp);
        assert_true(fabs(er / ec - 1.0) < 1e-9);
        rw_record_free(&r);
    }
}

/* ------------------------------------------------------------------------ */
/* Sections                                                                 */

static void test_control(void **state)
{
    (void)state;
    rcase_t c[2];
    case_init(&c[0], "control-sine-In-PF1", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[0], RW_LOAD_LINEAR, IN, 0.0);
    case_init(&c[1], "control-sine-In-PF0.5L", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[1], RW_LOAD_LINEAR, IN, 60.0);
    run_cases(c, 2, "control: stationary sine through the same front end");
}

static void test_iec_influence(void **state)
{
    (void)state;
    rcase_t c[5];
    /* IEC 62053-21 / EN 50470-3 influence waveforms, cut from a 0.5 Imax sine. */
    case_init(&c[0], "half-wave-0.5Imax", 50.0137, 50.0, 4000.0, 24);
    load_cut_sine(&c[0], RW_LOAD_HALFWAVE, 0.5 * IMAX, 0.0);
    case_init(&c[1], "phase-fired-90-0.5Imax", 50.0137, 50.0, 4000.0, 24);
    load_cut_sine(&c[1], RW_LOAD_LEADING, 0.5 * IMAX, 90.0);
    case_init(&c[2], "burst-2on2off-0.5Imax", 50.0137, 50.0, 4000.0, 24);
    load_cut_sine(&c[2], RW_LOAD_BURST, 0.5 * IMAX, 0.0);
    /* The half-wave record ending (mc_meter_flush) just after a conducting half-cycle,
     * and at a crossing: the flushed window holds part of a cycle, where the
     * voltage's mean times the load's DC is energy too. */
    case_init(&c[3], "half-wave-0.5Imax-flush-at-180", 50.0137, 50.0, 4000.0, 24);
    load_cut_sine(&c[3], RW_LOAD_HALFWAVE, 0.5 * IMAX, 0.0);
    c[3].m.seconds = rw_time_at_angle(&c[3].m.src, 4.5, 180.0);
    case_init(&c[4], "half-wave-0.5Imax-flush-at-0", 50.0137, 50.0, 4000.0, 24);
    load_cut_sine(&c[4], RW_LOAD_HALFWAVE, 0.5 * IMAX, 0.0);
    c[4].m.seconds = rw_time_at_angle(&c[4].m.src, 4.5, 0.0);
    run_cases(c, 5, "IEC influence waveforms: DC and even harmonics, odd harmonics, sub-harmonics");
}

static void test_subharmonic(void **state)
{
    (void)state;
    rcase_t c[6];
    /* IEC 60725 reference impedance, resistive part: 0.4 ohm. */
    case_init(&c[0], "alt-half-wave-0.4ohm-In", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[0], RW_LOAD_ALT_HALFWAVE, IN, 0.0);
    c[0].m.src.z_ohm = 0.4;
    case_init(&c[1], "alt-half-wave-0.4ohm-0.5Imax", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[1], RW_LOAD_ALT_HALFWAVE, 0.5 * IMAX, 0.0);
    c[1].m.src.z_ohm = 0.4;
    /* The start-up offset estimate sees the load's first pulse: every start phase. */
    for (int k = 0; k < 4; k++) {
        char nm[48];
        snprintf(nm, sizeof nm, "alt-half-wave-0.4ohm-0.5Imax-start%d", 90 * k);
        case_init(&c[2 + k], nm, 50.0137, 50.0, 4000.0, 24);
        load_set(&c[2 + k], RW_LOAD_ALT_HALFWAVE, 0.5 * IMAX, 0.0);
        c[2 + k].m.src.z_ohm = 0.4;
        c[2 + k].m.src.theta0_deg = 90.0 * k;
    }
    run_cases(c, 6, "alternating half-wave load (25 Hz sub-harmonic) on 0.4 ohm");
}

static void test_nonlinear(void **state)
{
    (void)state;
    rcase_t c[3];
    /* Capacitor-input rectifier: a cos^2 pulse of half-width 24 deg centred at 78 deg,
     * crest factor sqrt(4 pi / (3 * 24 deg)) = 3.16, on a flat-topped supply. */
    case_init(&c[0], "smps-crest3.2-In-flat-top", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[0], RW_LOAD_SMPS, IN, 78.0);
    rw_source_t *s = &c[0].m.src;
    s->harm[s->nharm++] = (rw_harm_t){3, 0.02, 180.0};
    s->harm[s->nharm++] = (rw_harm_t){5, 0.04, 180.0};
    s->harm[s->nharm++] = (rw_harm_t){7, 0.02, 0.0};
    s->harm[s->nharm++] = (rw_harm_t){11, 0.01, 40.0};
    /* Dimmers on a 1 In lamp. */
    case_init(&c[1], "dimmer-leading-120deg", 50.0137, 50.0, 4000.0, 24);
    load_cut_sine(&c[1], RW_LOAD_LEADING, IN, 120.0);
    case_init(&c[2], "dimmer-trailing-60deg", 50.0137, 50.0, 4000.0, 24);
    load_cut_sine(&c[2], RW_LOAD_TRAILING, IN, 60.0);
    run_cases(c, 3, "non-linear loads: SMPS and dimmers");
}

static void test_load_steps(void **state)
{
    (void)state;
    rcase_t c[1];
    case_init(&c[0], "load-steps-0.1In-10In-0.37s", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[0], RW_LOAD_LINEAR, 0.1 * IN, 0.0);
    rw_load_t *l = &c[0].m.load;
    for (int k = 1; 0.37 * k < RECORD_S && l->nstep < RW_MAX_STEPS; k++) {
        l->step[l->nstep].t = 0.37 * k;
        l->step[l->nstep].level = (k % 2) ? 100.0 : 1.0;
        l->nstep++;
    }
    run_cases(c, 1, "load steps 0.1 In <-> 10 In every 0.37 s (at any phase)");
}

static const double g_angles[5] = {0.0, 45.0, 90.0, 180.0, 270.0};

static void test_dips_swells(void **state)
{
    (void)state;
    rcase_t c[12];
    size_t n = 0;
    for (int k = 0; k < 5; k++) {
        char nm[48];
        snprintf(nm, sizeof nm, "dip50%%-300ms-at-%g", g_angles[k]);
        case_init(&c[n], nm, 50.0137, 50.0, 4000.0, 24);
        load_set(&c[n], RW_LOAD_LINEAR, IN, 0.0);
        amp_event(&c[n], g_angles[k], 0.3, 0.5);
        n++;
    }
    for (int k = 0; k < 5; k++) {
        char nm[48];
        snprintf(nm, sizeof nm, "dip10%%-300ms-at-%g", g_angles[k]);
        case_init(&c[n], nm, 50.0137, 50.0, 4000.0, 24);
        load_set(&c[n], RW_LOAD_LINEAR, IN, 0.0);
        amp_event(&c[n], g_angles[k], 0.3, 0.1);
        n++;
    }
    for (int k = 0; k < 2; k++) {
        char nm[48];
        const double a = k ? 270.0 : 45.0;
        snprintf(nm, sizeof nm, "swell110%%-500ms-at-%g", a);
        case_init(&c[n], nm, 50.0137, 50.0, 4000.0, 24);
        load_set(&c[n], RW_LOAD_LINEAR, IN, 0.0);
        amp_event(&c[n], a, 0.5, 1.1);
        n++;
    }
    run_cases(c, n, "dips to 50 % and 10 %, swells to 110 %, starting at any angle");
}

static void test_interruptions(void **state)
{
    (void)state;
    rcase_t c[5];
    for (int k = 0; k < 5; k++) {
        char nm[48];
        snprintf(nm, sizeof nm, "interruption-100ms-at-%g", g_angles[k]);
        case_init(&c[k], nm, 50.0137, 50.0, 4000.0, 24);
        load_set(&c[k], RW_LOAD_LINEAR, IN, 0.0);
        amp_event(&c[k], g_angles[k], 0.1, 0.0);
    }
    run_cases(c, 5, "interruptions of 100 ms");
}

static void test_phase_jumps(void **state)
{
    (void)state;
    const struct {
        double deg, at;
    } j[4] = {{10.0, 60.0}, {-10.0, 60.0}, {45.0, 330.0}, {-45.0, 20.0}};
    rcase_t c[4];
    for (int k = 0; k < 4; k++) {
        char nm[48];
        snprintf(nm, sizeof nm, "phase-jump%+g-at-%g-PF0.5L", j[k].deg, j[k].at);
        case_init(&c[k], nm, 50.0137, 50.0, 4000.0, 24);
        load_set(&c[k], RW_LOAD_LINEAR, IN, 60.0);
        rw_source_t *s = &c[k].m.src;
        s->jump[0].t = rw_time_at_angle(s, T_EVENT, j[k].at);
        s->jump[0].deg = j[k].deg;
        s->njump = 1;
    }
    run_cases(c, 4, "phase jumps (+45 at 330 deg jumps over a crossing, -45 at 20 deg back over one)");
}

static void test_frequency(void **state)
{
    (void)state;
    rcase_t c[2];
    case_init(&c[0], "freq-steps-50-50.5-49.5", 50.0, 50.0, 4000.0, 24);
    load_set(&c[0], RW_LOAD_LINEAR, IN, 0.0);
    rw_source_t *s = &c[0].m.src;
    s->fseg[1] = (rw_fseg_t){1.7, 50.5, 0.0};
    s->fseg[2] = (rw_fseg_t){3.1, 49.5, 0.0};
    s->nfseg = 3;
    case_init(&c[1], "freq-ramps-1Hz/s", 49.5, 50.0, 4000.0, 24);
    load_set(&c[1], RW_LOAD_LINEAR, IN, 60.0);
    s = &c[1].m.src;
    s->fseg[1] = (rw_fseg_t){1.5, 49.5, 1.0};  /* 49.5 -> 50.5 Hz in 1 s */
    s->fseg[2] = (rw_fseg_t){2.5, 50.5, 0.0};
    s->fseg[3] = (rw_fseg_t){3.2, 50.5, -0.5}; /* 50.5 -> 50.2 Hz in 0.6 s */
    s->fseg[4] = (rw_fseg_t){3.8, 50.2, 0.0};
    s->nfseg = 5;
    run_cases(c, 2, "frequency steps and ramps");
}

static void test_interharmonics_notches(void **state)
{
    (void)state;
    rcase_t c[5];
    rw_source_t *s;
    case_init(&c[0], "ripple-183.3Hz-2%", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[0], RW_LOAD_LINEAR, IN, 0.0);
    s = &c[0].m.src;
    s->ih[s->nih++] = (rw_ih_t){183.3, 0.02, 0.0, 1.6, 3.6};
    case_init(&c[1], "ripple-216.67Hz-5%", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[1], RW_LOAD_LINEAR, IN, 0.0);
    s = &c[1].m.src;
    s->ih[s->nih++] = (rw_ih_t){216.67, 0.05, 30.0, 1.6, 3.6};
    c[1].flag_lo = 1.6; /* above about 4 %, docs/DESIGN.md says windows are flagged */
    c[1].flag_hi = 3.6;
    case_init(&c[2], "interharmonics-90Hz0.5%-175Hz1%", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[2], RW_LOAD_LINEAR, IN, 60.0);
    s = &c[2].m.src;
    s->ih[s->nih++] = (rw_ih_t){90.0, 0.005, 0.0, -1.0, 100.0};
    s->ih[s->nih++] = (rw_ih_t){175.0, 0.01, 70.0, -1.0, 100.0};
    /* Commutation notches 10 deg after each zero crossing, 18 deg wide, 40 % of the peak
     * deep: the one after the negative-going crossing starts below the detector's
     * arming level and lifts the voltage back above zero (a positive-going crossing
     * half a cycle away from the true one). The deeper one starts 4 deg after the
     * crossing, inside the hysteresis. */
    case_init(&c[3], "notches-40%-18deg", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[3], RW_LOAD_LINEAR, IN, 0.0);
    c[3].m.src.notch_after_deg = 10.0;
    c[3].m.src.notch_width_deg = 18.0;
    c[3].m.src.notch_depth = 0.4;
    case_init(&c[4], "notches-70%-20deg-deep", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[4], RW_LOAD_LINEAR, IN, 0.0);
    c[4].m.src.notch_after_deg = 4.0;
    c[4].m.src.notch_width_deg = 20.0;
    c[4].m.src.notch_depth = 0.7;
    run_cases(c, 5, "ripple control, interharmonics, commutation notches");
}

static void test_notch_start_phase(void **state)
{
    (void)state;
    rcase_t c[13];
    /* The 40 % notches from start-up, at every start phase, and appearing mid-record. */
    for (int k = 0; k < 12; k++) {
        char nm[48];
        snprintf(nm, sizeof nm, "notches-40%%-18deg-start%d", 30 * k);
        case_init(&c[k], nm, 50.0137, 50.0, 4000.0, 24);
        load_set(&c[k], RW_LOAD_LINEAR, IN, 0.0);
        c[k].m.src.theta0_deg = 30.0 * k;
        c[k].m.src.notch_after_deg = 10.0;
        c[k].m.src.notch_width_deg = 18.0;
        c[k].m.src.notch_depth = 0.4;
    }
    case_init(&c[12], "notches-40%-18deg-from-2.5s", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[12], RW_LOAD_LINEAR, IN, 0.0);
    c[12].m.src.notch_after_deg = 10.0;
    c[12].m.src.notch_width_deg = 18.0;
    c[12].m.src.notch_depth = 0.4;
    c[12].m.src.notch_t_on = T_EVENT;
    run_cases(c, 13, "commutation notches: start phase, and notches appearing in steady state");
}

static void test_60hz(void **state)
{
    (void)state;
    rcase_t c[2];
    case_init(&c[0], "60Hz-fs3200-phase-fired-90", 59.9863, 60.0, 3200.0, 24);
    load_cut_sine(&c[0], RW_LOAD_LEADING, 0.5 * IMAX, 90.0);
    case_init(&c[1], "60Hz-fs3200-dip50-at-90", 59.9863, 60.0, 3200.0, 24);
    load_set(&c[1], RW_LOAD_LINEAR, IN, 0.0);
    amp_event(&c[1], 90.0, 0.3, 0.5);
    run_cases(c, 2, "60 Hz at 3200 Hz sampling");
}

static void test_low_current_16bit(void **state)
{
    (void)state;
    rcase_t c[1];
    /* Quantisation alone (the case). With this suite's Gaussian noise as well
     * (2e-5 of full scale, 2.5 mA rms against 50 mA) Irms reads +0.275 %, and so does
     * an ideal estimator that knows the offset: the noise adds its power to the rms,
     * whatever the meter does. Removing it needs an rms-offset calibration of the
     * noise floor (as metering chips have), which mc_calibration_t does not hold yet. */
    case_init(&c[0], "0.01In-16bit-PF1", 50.0137, 50.0, 4000.0, 16);
    load_set(&c[0], RW_LOAD_LINEAR, 0.01 * IN, 0.0);
    c[0].m.adc.u_noise = 0.0;
    c[0].m.adc.i_noise = 0.0;
    run_cases(c, 1, "0.01 In with 16-bit quantisation");
}

static void test_dc_offsets(void **state)
{
    (void)state;
    rcase_t c[2];
    case_init(&c[0], "adc-offsets+3%-2%-In-PF0.5L", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[0], RW_LOAD_LINEAR, IN, 60.0);
    c[0].m.adc.u_offset = 0.03 * U_FS;
    c[0].m.adc.i_offset = -0.02 * I_FS;
    case_init(&c[1], "adc-offsets+3%-2%-half-wave-In", 50.0137, 50.0, 4000.0, 24);
    load_set(&c[1], RW_LOAD_HALFWAVE, IN, 0.0);
    c[1].m.adc.u_offset = 0.03 * U_FS;
    c[1].m.adc.i_offset = -0.02 * I_FS;
    run_cases(c, 2, "ADC offsets on both channels");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truth_sanity),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_iec_influence),
        cmocka_unit_test(test_subharmonic),
        cmocka_unit_test(test_nonlinear),
        cmocka_unit_test(test_load_steps),
        cmocka_unit_test(test_dips_swells),
        cmocka_unit_test(test_interruptions),
        cmocka_unit_test(test_phase_jumps),
        cmocka_unit_test(test_frequency),
        cmocka_unit_test(test_interharmonics_notches),
        cmocka_unit_test(test_notch_start_phase),
        cmocka_unit_test(test_60hz),
        cmocka_unit_test(test_low_current_16bit),
        cmocka_unit_test(test_dc_offsets),
    };
    const int failed = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("\n== real-world summary: %zu cases ==\n", g_nres);
    print_header();
    size_t bad = 0;
    for (size_t k = 0; k < g_nres; k++) {
        print_result(&g_res[k]);
        bad += g_res[k].fails != 0;
    }
    print_message("Real-world summary: %zu cases, %zu outside their limits\n", g_nres, bad);
    return failed;
}
