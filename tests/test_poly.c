/*
 * metercore poly-phase accuracy suite (issue 15): every wiring (1P2W, 1P3W, 3P3W,
 * 3P4W with and without a measured neutral, multi-circuit) against the truth of a
 * multi-channel analytic generator (tests/polywave.h) and, for the non-stationary
 * cases, the continuous-time model of tests/realworld.h. The truth is computed
 * from the generators' parameters (harmonic phasors, or quadrature of the
 * continuous v*i), never from the code under test.
 * SPDX-License-Identifier: MIT
 *
 * Meter under test (as tests/test_accuracy.c): Un 230 V phase to neutral (1P3W
 * 120 V per leg; 3P3W 400 V line to line), In 5 A, Imax 60 A, start current 5 mA,
 * rated 50 Hz; ADC full scale Un*sqrt2*1.6 and Imax*sqrt2*1.5 peak, 24 bits, fs
 * 4000 Hz; Gaussian noise 2e-5 of full scale rms on every channel; signal
 * frequency 50.0137 Hz (inside the +-0.3 % of the reference conditions, not
 * synchronous with fs); 4.25 s per point, 1 s windows.
 *
 * Energy: the sum of the windows' delta (totals: mc_reading_t::delta, elements:
 * mc_phase_reading_t::delta) over the windows after the first (settling) one,
 * against truth P * sum(duration_s); where a case ends with mc_meter_flush(), the
 * registers against the integral of the continuous v*i from the first window's
 * start to the last sample (each sample standing for [k - 1/2, k + 1/2) / fs).
 *
 * Limits:
 *  - active energy, class 0.2S of IEC 62053-22 (the figures of test_accuracy.c
 *    and test_realworld.c): PF 1: +-0.4 % for 0.01 In <= I < 0.05 In, +-0.2 % from
 *    0.05 In to Imax; PF 0.5 inductive / 0.8 capacitive: +-0.5 % for
 *    0.02 In <= I < 0.1 In, +-0.3 % from 0.1 In. They hold for poly-phase meters
 *    with balanced loads; single-phase loads on a poly-phase meter have their own
 *    table (case 2);
 *  - reactive energy, class 2 of IEC 62053-23 (as test_accuracy.c);
 *  - Urms, Irms, line-to-line voltages: 0.2 % (as test_accuracy.c); frequency:
 *    0.01 Hz; angles: 0.1 degree; unbalance: 0.1 percentage point; neutral
 *    current: 0.5 % (the figures).
 *
 * Output: a row per check (the failed ones, and every active-energy check;
 * POLY_VERBOSE=1: all), summary tables per wiring with the worst error of each
 * case as a share of its limit (every check; active energy alone), and the
 * closing line
 *   poly accuracy: N cases, M checks, worst P error X % of limit
 * (N: signal scenarios run, M: comparisons against a limit).
 * POLY_SEED=<n> runs other start phases and noise streams; MC_TEST_FILTER=<glob>
 * selects tests.
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
#include "polywave.h"
#include "realworld.h"

#define UN 230.0
#define UN_1P3W 120.0
#define UN_LL 400.0
#define IN 5.0
#define IMAX 60.0
#define F_NOM 50.0
#define F_REF 50.0137
#define SQRT2 1.4142135623730951
#define SQRT3 1.7320508075688772
#define PI 3.14159265358979323846
#define I_FS (IMAX * SQRT2 * 1.5)
#define NOISE_FRAC 2e-5
#define START_CURRENT 0.005
#define FS 4000.0
#define BITS 24
#define POINT_SECONDS 4.25
#define BLOCK 160u
#define MAX_BLOCK 400u
#define MAX_W 16
#define QPWH ((double)MC_ENERGY_QUANTA_PER_WH)

#define RMS_LIMIT 0.2      /* percent */
#define FREQ_LIMIT 0.01    /* Hz */
#define ANGLE_LIMIT 0.1    /* degrees */
#define UNB_LIMIT 0.1      /* percentage points */
#define NEUTRAL_LIMIT 0.5  /* percent */

#define PHI_PF1 0.0
#define PHI_05L 60.0
#define PHI_08C (-36.86989764584402)

static double u_fs(double un) { return un * SQRT2 * 1.6; }

/* ------------------------------------------------------------------------ */
/* Checks and the summary                                                   */

enum wcol { WC_1P2W, WC_1P3W, WC_3P3W, WC_3P4W, WC_3P4WN, WC_MULTI, WC_COUNT };
static const char *const wc_name[WC_COUNT] = {"1P2W", "1P3W", "3P3W", "3P4W", "3P4W+IN", "MULTI"};
#define NCASES 10

typedef struct crow {
    int wc, cs;
    char cond[56];
    char qty[40];
    char unit[8];    /* "%": relative error; else absolute in this unit ("" for a yes/no check) */
    double truth, meas, err, limit;
    int is_p;        /* an active-energy check */
    int pass;
} crow_t;

#define MAX_ROWS 6000
static crow_t g_rows[MAX_ROWS];
static size_t g_nrows, g_dropped_rows;
static int g_fail;        /* failures in the running test */
static int g_case;        /* the case number of the running test */
static unsigned g_point;  /* start phase and seed counter */
static size_t g_runs;     /* scenarios run */
static int g_verbose;

static void print_row(const crow_t *r)
{
    if (r->unit[0] == '\0') {
        printf("  %-7s c%-2d %-54s %-18s %s\n", wc_name[r->wc], r->cs, r->cond, r->qty, r->pass ? "PASS" : "FAIL");
    } else {
        printf("  %-7s c%-2d %-54s %-18s truth %12.5f meas %12.5f err %+9.4f %-3s lim %6.3f %s\n", wc_name[r->wc],
               r->cs, r->cond, r->qty, r->truth, r->meas, r->err, r->unit, r->limit, r->pass ? "PASS" : "FAIL");
    }
}

static crow_t *new_row(int wc, const char *cond, const char *qty)
{
    static crow_t overflow;
    crow_t *r;
    if (g_nrows < MAX_ROWS) {
        r = &g_rows[g_nrows++];
    } else {
        r = &overflow;
        g_dropped_rows++;
    }
    memset(r, 0, sizeof(*r));
    r->wc = wc;
    r->cs = g_case;
    snprintf(r->cond, sizeof r->cond, "%s", cond);
    snprintf(r->qty, sizeof r->qty, "%s", qty);
    return r;
}

static void finish(crow_t *r)
{
    if (!r->pass) {
        g_fail++;
    }
    if (!r->pass || r->is_p || g_verbose) {
        print_row(r);
    }
}

/* Relative check (percent of |truth|). */
static crow_t *row_rel(int wc, const char *cond, const char *qty, double truth, double meas, double limit)
{
    crow_t *r = new_row(wc, cond, qty);
    snprintf(r->unit, sizeof r->unit, "%%");
    r->truth = truth;
    r->meas = meas;
    r->err = truth != 0.0 ? 100.0 * (meas - truth) / fabs(truth) : (meas == 0.0 ? 0.0 : INFINITY);
    r->limit = limit;
    r->pass = isfinite(r->err) && fabs(r->err) <= limit;
    return r;
}

/* Absolute check in `unit`. */
static crow_t *row_abs(int wc, const char *cond, const char *qty, const char *unit, double truth, double meas,
                       double limit)
{
    crow_t *r = new_row(wc, cond, qty);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->truth = truth;
    r->meas = meas;
    r->err = meas - truth;
    r->limit = limit;
    r->pass = isfinite(r->err) && fabs(r->err) <= limit;
    return r;
}

/* A yes/no check. */
static void row_bool(int wc, const char *cond, const char *what, int ok)
{
    crow_t *r = new_row(wc, cond, what);
    r->pass = ok != 0;
    r->limit = 0.0;
    finish(r);
}

static void begin_test(int cs, const char *title)
{
    unsigned h = 2166136261u;
    for (const char *c = title; *c; c++) {
        h = (h ^ (unsigned char)*c) * 16777619u;
    }
    /* POLY_SEED=<n> explores other start phases and noise (default 0). */
    const char *seed = getenv("POLY_SEED");
    g_point = h % 100000u + (seed != NULL ? (unsigned)strtoul(seed, NULL, 10) * 1000003u : 0u);
    g_fail = 0;
    g_case = cs;
    printf("\n== case %d: %s ==\n", cs, title);
    fflush(stdout);
}

static void end_test(const char *title)
{
    fflush(stdout);
    if (g_fail != 0) {
        fail_msg("%s: %d check(s) outside their limit (see the FAIL rows)", title, g_fail);
    }
}

/* IEC 62053-22 class 0.2S (percent) at I/In = x; PF 1 row when phi is 0. */
static double limit_02s(double phi, double x)
{
    if (fabs(phi) < 1e-9) {
        return x < 0.05 - 1e-9 ? 0.4 : 0.2;
    }
    return x < 0.1 - 1e-9 ? 0.5 : 0.3;
}

/* IEC 62053-23 class 2 (percent) at sin(phi) and I/In = x (as test_accuracy.c). */
static double limit_reactive(double sinphi, double x)
{
    if (fabs(sinphi) > 0.99) {
        return x < 0.05 - 1e-9 ? 2.5 : 2.0;
    }
    return x < 0.1 - 1e-9 ? 2.5 : 2.0;
}

static const char *pf_name(double phi)
{
    static char buf[4][16];
    static int k;
    char *b = buf[k++ & 3];
    if (fabs(phi) < 1e-9) {
        snprintf(b, 16, "PF1");
    } else {
        snprintf(b, 16, "PF%.2g%s", fabs(cos(phi * PI / 180.0)), phi > 0 ? "L" : "C");
    }
    return b;
}

/* ------------------------------------------------------------------------ */
/* Running a meter                                                          */

typedef struct popt {
    mc_wiring wiring;
    int neutral;
    mc_netting netting;
    int voltages, circuits;           /* MULTI */
    const uint8_t *circuit_voltage;   /* MULTI */
    const float *ratios;
    const mc_poly_calibration_t *cal;
    double un, in, imax, start_current;
    double seconds;
    int flush;
    uint32_t random_blocks;           /* 0: blocks of BLOCK frames; else the seed of random sizes */
    const rw_record_t *rw;            /* 3P4W: phase 2 (frame channels U2, I2) from this record */
} popt_t;

typedef struct prun {
    size_t nw, cb_windows;
    mc_reading_t w[MAX_W];
    mc_phase_reading_t ph[MAX_W][MC_MAX_CIRCUITS];
    mc_poly_reading_t poly[MAX_W];
    unsigned nel;
    mc_energy_t e_tot, e_el[MC_MAX_CIRCUITS];
    uint64_t n, first;
    double dur;                                   /* sum of duration_s of the windows used */
    size_t used;                                  /* windows used for energy (after the first) */
    uint64_t sum_tot[MC_E_COUNT];
    uint64_t sum_el[MC_MAX_CIRCUITS][MC_E_COUNT];
    long clipped;
    int gaps;                                     /* windows that do not follow each other */
} prun_t;

typedef struct meterbox {
    mc_meter_t m;
    mc_meter_channel_t ch[MC_MAX_CHANNELS];
    mc_meter_pair_t pr[MC_MAX_PAIRS];
    mc_meter_element_t el[MC_MAX_CIRCUITS];
} meterbox_t;

static void on_window(void *ctx, const mc_reading_t *r)
{
    (void)r;
    prun_t *run = ctx;
    run->cb_windows++;
}

static int n_volt(const popt_t *o)
{
    switch (o->wiring) {
    case MC_WIRING_1P2W:
        return 1;
    case MC_WIRING_1P3W:
    case MC_WIRING_3P3W:
        return 2;
    case MC_WIRING_3P4W:
        return 3;
    default:
        return o->voltages;
    }
}

static void popt_default(popt_t *o, mc_wiring wiring)
{
    memset(o, 0, sizeof(*o));
    o->wiring = wiring;
    o->un = wiring == MC_WIRING_1P3W ? UN_1P3W : (wiring == MC_WIRING_3P3W ? UN_LL : UN);
    o->in = IN;
    o->imax = IMAX;
    o->start_current = START_CURRENT;
    o->seconds = POINT_SECONDS;
    o->voltages = 1;
    o->circuits = 1;
}

static void capture(meterbox_t *b, prun_t *r)
{
    if (r->nw >= MAX_W) {
        return;
    }
    assert_int_equal(mc_meter_reading(&b->m, &r->w[r->nw]), MC_OK);
    for (unsigned k = 0; k < r->nel; k++) {
        assert_int_equal(mc_meter_phase_reading(&b->m, k, &r->ph[r->nw][k]), MC_OK);
    }
    assert_int_equal(mc_meter_poly_reading(&b->m, &r->poly[r->nw]), MC_OK);
    r->nw++;
}

static void meter_config(mc_meter_config_t *cfg, meterbox_t *b, const pw_params_t *pw, const popt_t *o, prun_t *r)
{
    mc_meter_config_default(cfg);
    cfg->sample_rate_hz = (uint32_t)pw->fs;
    cfg->nominal_freq_hz = (float)F_NOM;
    cfg->un = (float)o->un;
    cfg->in = (float)o->in;
    cfg->imax = (float)o->imax;
    cfg->start_current = (float)o->start_current;
    const int nu = n_volt(o);
    cfg->u_scale = (float)pw_scale(&pw->ch[0]);
    cfg->i_scale = (float)pw_scale(&pw->ch[nu]);
    cfg->wiring = o->wiring;
    cfg->netting = o->netting;
    cfg->neutral = (uint8_t)o->neutral;
    if (o->wiring == MC_WIRING_MULTI) {
        cfg->voltages = (uint8_t)o->voltages;
        cfg->circuits = (uint8_t)o->circuits;
        cfg->circuit_voltage = o->circuit_voltage;
    }
    cfg->ratios = o->ratios;
    if (o->wiring != MC_WIRING_1P2W) {
        cfg->channel_state = b->ch;
        cfg->pair_state = b->pr;
        cfg->element_state = b->el;
    }
    cfg->on_window = on_window;
    cfg->context = r;
}

/* Feed a signal to a fresh meter and collect every window. */
static void run_poly(const pw_params_t *pw, const popt_t *o, prun_t *r)
{
    memset(r, 0, sizeof(*r));
    g_runs++;
    meterbox_t *b = calloc(1, sizeof(*b));
    pw_gen_t *g = calloc(1, sizeof(*g));
    int32_t *frames = calloc((size_t)MAX_BLOCK * PW_MAX_CHANNELS, sizeof(int32_t));
    assert_non_null(b);
    assert_non_null(g);
    assert_non_null(frames);
    mc_meter_config_t cfg;
    meter_config(&cfg, b, pw, o, r);
    assert_int_equal(mc_meter_init(&b->m, &cfg), MC_OK);
    const size_t nch = mc_meter_channels(&cfg);
    assert_int_equal(nch, (size_t)pw->nch);
    r->nel = (unsigned)mc_meter_elements(&cfg);
    assert_true(r->nel >= 1 && r->nel <= MC_MAX_CIRCUITS);
    if (o->cal != NULL) {
        assert_int_equal(mc_meter_set_poly_calibration(&b->m, o->cal), MC_OK);
    }
    pw_init(g, pw);
    const uint64_t total = o->rw != NULL ? o->rw->n : (uint64_t)llround(o->seconds * pw->fs);
    uint32_t lcg = o->random_blocks;
    uint64_t done = 0;
    while (done < total) {
        size_t n = BLOCK;
        if (o->random_blocks != 0) {
            lcg = lcg * 1664525u + 1013904223u;
            n = 1u + (size_t)((lcg >> 8) % MAX_BLOCK);
        }
        if (n > total - done) {
            n = (size_t)(total - done);
        }
        pw_fill(g, frames, n);
        if (o->rw != NULL) {
            for (size_t k = 0; k < n; k++) {
                frames[k * nch + 1] = o->rw->v[done + k];
                frames[k * nch + 4] = o->rw->i[done + k];
            }
        }
        const int ev = mc_meter_process_frames(&b->m, frames, n);
        assert_true(ev >= 0);
        if (ev & MC_EVENT_WINDOW) {
            capture(b, r);
        }
        done += n;
    }
    if (o->flush) {
        const int ev = mc_meter_flush(&b->m);
        assert_true(ev >= 0);
        if (ev & MC_EVENT_WINDOW) {
            capture(b, r);
        }
    }
    assert_int_equal(mc_meter_energy(&b->m, &r->e_tot), MC_OK);
    for (unsigned k = 0; k < r->nel; k++) {
        assert_int_equal(mc_meter_phase_energy(&b->m, k, &r->e_el[k]), MC_OK);
    }
    r->n = total;
    r->clipped = g->clipped;
    if (r->nw > 0) {
        r->first = r->w[0].start_sample;
    }
    for (size_t w = 0; w < r->nw; w++) {
        if (w > 0 && r->w[w].start_sample != r->w[w - 1].start_sample + r->w[w - 1].samples) {
            r->gaps++;
        }
        if (w == 0) {
            continue;
        }
        r->dur += r->w[w].duration_s;
        r->used++;
        for (int q = 0; q < MC_E_COUNT; q++) {
            r->sum_tot[q] += r->w[w].delta.q[q];
            for (unsigned k = 0; k < r->nel; k++) {
                r->sum_el[k][q] += r->ph[w][k].delta.q[q];
            }
        }
    }
    free(frames);
    free(g);
    free(b);
}

/* Window w is checked for readings: not the first (settling), not a flushed one. */
static int window_used(const prun_t *r, size_t w)
{
    return w >= 1 && w < r->nw && !(r->w[w].flags & MC_FLAG_PARTIAL);
}

/* Common sanity of a run: windows collected, contiguous, no clipping. */
static void check_run_sanity(int wc, const char *cond, const prun_t *r)
{
    char what[40];
    snprintf(what, sizeof what, "windows %zu ok", r->nw);
    row_bool(wc, cond, what, r->nw >= 4 && r->nw < MAX_W && r->cb_windows == r->nw && r->gaps == 0 &&
                                 r->clipped == 0);
}

/* ------------------------------------------------------------------------ */
/* Truth of a run                                                           */

static int volt_channel(const popt_t *o, unsigned k)
{
    if (o->wiring == MC_WIRING_1P2W) {
        return 0;
    }
    if (o->wiring == MC_WIRING_MULTI) {
        return o->circuit_voltage != NULL ? o->circuit_voltage[k] : 0;
    }
    return (int)k;
}

static void elem_truth(const pw_params_t *pw, const popt_t *o, unsigned k, pw_etruth_t *t)
{
    const int nu = n_volt(o);
    pw_element_truth(pw, &pw->ch[volt_channel(o, k)].mix, &pw->ch[nu + (int)k].mix, &pw->ch[0].mix, t);
}

/* Total P and Q1: the elements' sum; 3P3W: the sum of the underlying wye's three phases. */
static void total_truth(const pw_params_t *pw, const popt_t *o, unsigned nel, double *p, double *q)
{
    *p = 0.0;
    *q = 0.0;
    if (o->wiring == MC_WIRING_3P3W) {
        for (int k = 1; k <= 3; k++) {
            pw_etruth_t t;
            const pw_mix_t u = pw_mix1(PW_U(k)), i = pw_mix1(PW_I(k));
            pw_element_truth(pw, &u, &i, &u, &t);
            *p += t.p;
            *q += t.q1;
        }
        return;
    }
    for (unsigned k = 0; k < nel; k++) {
        pw_etruth_t t;
        elem_truth(pw, o, k, &t);
        *p += t.p;
        *q += t.q1;
    }
}

/* ------------------------------------------------------------------------ */
/* Energy checks                                                            */

/* Active energy of summed deltas against truth p * dur; the other register must stay 0. */
static void check_p_deltas(int wc, const char *cond, const char *who, const uint64_t *sum, const mc_energy_t *regs,
                           double p_true, double dur, double limit)
{
    const int exp = p_true < 0.0;
    char qty[40];
    snprintf(qty, sizeof qty, "%s P %s", who, exp ? "exp" : "imp");
    crow_t *r = row_rel(wc, cond, qty, fabs(p_true) * dur / 3600.0,
                        (double)sum[exp ? MC_E_ACTIVE_EXPORT : MC_E_ACTIVE_IMPORT] / QPWH, limit);
    r->is_p = 1;
    if (regs->q[exp ? MC_E_ACTIVE_IMPORT : MC_E_ACTIVE_EXPORT] != 0) {
        r->pass = 0;
        snprintf(r->qty, sizeof r->qty, "%s P (+%s moved)", who, exp ? "imp" : "exp");
    }
    finish(r);
}

static void check_q_deltas(int wc, const char *cond, const char *who, const uint64_t *sum, double q_true, double dur,
                           double limit)
{
    const int imp = q_true > 0.0;
    char qty[40];
    snprintf(qty, sizeof qty, "%s Q %s", who, imp ? "imp" : "exp");
    const uint64_t meas = imp ? sum[MC_E_REACTIVE_Q1] + sum[MC_E_REACTIVE_Q2] : sum[MC_E_REACTIVE_Q3] + sum[MC_E_REACTIVE_Q4];
    finish(row_rel(wc, cond, qty, fabs(q_true) * dur / 3600.0, (double)meas / QPWH, limit));
}

static int regs_zero(const mc_energy_t *e)
{
    for (int q = 0; q < MC_E_COUNT; q++) {
        if (e->q[q] != 0) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Reading checks: the worst window after the first                         */

enum rq { Q_URMS, Q_IRMS, Q_UANG, Q_IANG, Q_FREQ, Q_ULL, Q_UUNB, Q_IUNB, Q_IN, Q_INCALC, Q_IRES };

static double qval(const prun_t *r, size_t w, enum rq q, unsigned k)
{
    switch (q) {
    case Q_URMS:
        return r->ph[w][k].urms;
    case Q_IRMS:
        return r->ph[w][k].irms;
    case Q_UANG:
        return r->ph[w][k].u_angle_deg;
    case Q_IANG:
        return r->ph[w][k].i_angle_deg;
    case Q_FREQ:
        return r->w[w].freq;
    case Q_ULL:
        return r->poly[w].u_ll[k];
    case Q_UUNB:
        return r->poly[w].u_unbalance_pct;
    case Q_IUNB:
        return r->poly[w].i_unbalance_pct;
    case Q_IN:
        return r->poly[w].i_neutral;
    case Q_INCALC:
        return r->poly[w].i_neutral_calc;
    default:
        return r->poly[w].i_residual;
    }
}

/*
 * A reading against its truth over every used window; the row shows the worst.
 * unit "%": relative; "deg": absolute, the difference wrapped; else absolute.
 */
static void check_reading(int wc, const char *cond, const char *qty, const prun_t *r, enum rq q, unsigned k,
                          double truth, const char *unit, double limit)
{
    const int rel = strcmp(unit, "%") == 0, ang = strcmp(unit, "deg") == 0;
    double worst = -1.0, worst_meas = NAN;
    size_t n = 0;
    for (size_t w = 0; w < r->nw; w++) {
        if (!window_used(r, w)) {
            continue;
        }
        const double v = qval(r, w, q, k);
        double e = rel ? fabs(v - truth) / fabs(truth) : (ang ? fabs(pw_wrap_deg(v - truth)) : fabs(v - truth));
        if (!isfinite(e)) {
            e = INFINITY;
        }
        if (e > worst) {
            worst = e;
            worst_meas = v;
        }
        n++;
    }
    crow_t *row;
    if (rel) {
        row = row_rel(wc, cond, qty, truth, worst_meas, limit);
    } else {
        row = row_abs(wc, cond, qty, unit, truth, worst_meas, limit);
        if (ang && isfinite(worst_meas)) {
            row->err = pw_wrap_deg(worst_meas - truth);
            row->pass = fabs(row->err) <= limit;
        }
    }
    if (n < 2) {
        row->pass = 0;
        snprintf(row->qty, sizeof row->qty, "%.12s (no wnd)", qty);
    }
    finish(row);
}

/* Per-element readings: Urms, Irms (if the current is >= i_min), angles (if angles). */
static void check_elements(int wc, const char *cond, const pw_params_t *pw, const popt_t *o, const prun_t *r,
                           double i_min, int angles)
{
    for (unsigned k = 0; k < r->nel; k++) {
        pw_etruth_t t;
        elem_truth(pw, o, k, &t);
        char qty[40];
        if (t.urms > 0.1 * o->un) {
            snprintf(qty, sizeof qty, "Urms e%u", k + 1);
            check_reading(wc, cond, qty, r, Q_URMS, k, t.urms, "%", RMS_LIMIT);
        }
        if (t.irms >= i_min && t.irms > 0.0) {
            snprintf(qty, sizeof qty, "Irms e%u", k + 1);
            check_reading(wc, cond, qty, r, Q_IRMS, k, t.irms, "%", RMS_LIMIT);
        }
        if (angles && t.urms > 0.1 * o->un && k > 0) {
            snprintf(qty, sizeof qty, "U angle e%u", k + 1);
            check_reading(wc, cond, qty, r, Q_UANG, k, t.u_angle_deg, "deg", ANGLE_LIMIT);
        }
        if (angles && t.irms > 0.0 && t.irms >= i_min) {
            snprintf(qty, sizeof qty, "I angle e%u", k + 1);
            check_reading(wc, cond, qty, r, Q_IANG, k, t.i_angle_deg, "deg", ANGLE_LIMIT);
        }
    }
}

/* Line-to-line voltages: u_ll[0..2] = U12, U23, U31 (3P3W: U12, U32, U31). */
static void check_line_voltages(int wc, const char *cond, const pw_params_t *pw, const popt_t *o, const prun_t *r)
{
    static const char *const names[3] = {"U12", "U23", "U31"};
    pw_mix_t m[3];
    int n = 0;
    if (o->wiring == MC_WIRING_1P3W) {
        m[0] = pw_mix_diff(PW_U(1), PW_U(2));
        n = 1;
    } else if (o->wiring == MC_WIRING_3P4W || o->wiring == MC_WIRING_3P3W ||
               (o->wiring == MC_WIRING_MULTI && o->voltages == 3)) {
        m[0] = pw_mix_diff(PW_U(1), PW_U(2));
        m[1] = pw_mix_diff(PW_U(2), PW_U(3));
        m[2] = pw_mix_diff(PW_U(3), PW_U(1));
        n = 3;
    }
    for (int k = 0; k < n; k++) {
        const double t = pw_mix_rms(pw, &m[k]);
        if (t > 0.1 * o->un) {
            check_reading(wc, cond, names[k], r, Q_ULL, (unsigned)k, t, "%", RMS_LIMIT);
        }
    }
}

/* Unbalance (and the sequence flag) from the defining phasors. */
static void check_unbalance(int wc, const char *cond, const pw_params_t *pw, const popt_t *o, const prun_t *r,
                            int currents)
{
    pw_mix_t ua, ub, uc;
    if (o->wiring == MC_WIRING_3P3W) {
        ua = pw_mix_diff(PW_U(1), PW_U(2));
        ub = pw_mix_diff(PW_U(2), PW_U(3));
        uc = pw_mix_diff(PW_U(3), PW_U(1));
    } else {
        ua = pw_mix1(PW_U(1));
        ub = pw_mix1(PW_U(2));
        uc = pw_mix1(PW_U(3));
    }
    int seq;
    const double uu = pw_unbalance_pct(pw, &ua, &ub, &uc, &seq);
    check_reading(wc, cond, "U unbalance", r, Q_UUNB, 0, uu, "pp", UNB_LIMIT);
    if (currents) {
        const pw_mix_t ia = pw_mix1(PW_I(1)), ib = pw_mix1(PW_I(2)), ic = pw_mix1(PW_I(3));
        const double iu = pw_unbalance_pct(pw, &ia, &ib, &ic, NULL);
        check_reading(wc, cond, "I unbalance", r, Q_IUNB, 0, iu, "pp", UNB_LIMIT);
    }
    /* Sequence and its flag in every used window. */
    int ok = 1;
    for (size_t w = 0; w < r->nw; w++) {
        if (!window_used(r, w)) {
            continue;
        }
        const int rev = (r->poly[w].flags & MC_POLY_REVERSE_SEQUENCE) != 0;
        if (seq > 0 && (r->poly[w].sequence != MC_SEQ_ABC || rev)) {
            ok = 0;
        }
        if (seq < 0 && (r->poly[w].sequence != MC_SEQ_ACB || !rev)) {
            ok = 0;
        }
    }
    row_bool(wc, cond, seq < 0 ? "sequence ACB+flag" : "sequence ABC", ok);
}

/* Every used window has (want = 1) or has not (want = 0) all the poly flag bits `bits`. */
static void check_poly_flag(int wc, const char *cond, const char *what, const prun_t *r, unsigned bits, int want)
{
    int ok = 1, n = 0;
    for (size_t w = 0; w < r->nw; w++) {
        if (!window_used(r, w)) {
            continue;
        }
        n++;
        const int has = (r->poly[w].flags & bits) == bits;
        if (has != want) {
            ok = 0;
        }
    }
    row_bool(wc, cond, what, ok && n >= 2);
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */

/* Front-end noise on every channel (2e-5 of its full scale), a fresh start phase and seed. */
static void finish_params(pw_params_t *p)
{
    for (int c = 0; c < p->nch; c++) {
        p->ch[c].noise_rms = NOISE_FRAC * p->ch[c].full_scale;
    }
    g_point++;
    p->theta0_deg = fmod(37.7 + 101.3 * (double)g_point, 360.0);
    p->seed = 0x5EED0000u + g_point;
}

/*
 * A balanced load of x In at phi on a wiring: 3P4W (neutral: with IN), 1P3W
 * (two 120 V legs in antiphase), 3P3W (400 V line to line, a delta load with
 * line currents x In).
 */
static void balanced_signal(pw_params_t *p, popt_t *o, mc_wiring wiring, int neutral, double x, double phi)
{
    pw_params_init(p, FS, F_REF);
    popt_default(o, wiring);
    o->neutral = neutral;
    switch (wiring) {
    case MC_WIRING_1P3W:
        pw_set(p, PW_U(1), 1, UN_1P3W, 0.0);
        pw_set(p, PW_U(2), 1, UN_1P3W, 180.0);
        pw_set(p, PW_I(1), 1, x * IN, -phi);
        pw_set(p, PW_I(2), 1, x * IN, 180.0 - phi);
        pw_layout(p, PW_LAYOUT_1P3W, 0, 0, 0, u_fs(UN_1P3W), I_FS, BITS);
        break;
    case MC_WIRING_3P3W:
        pw_balanced(p, UN_LL / SQRT3, x * IN, phi, +1);
        pw_layout(p, PW_LAYOUT_3P3W, 0, 0, 0, u_fs(UN_LL), I_FS, BITS);
        break;
    default:
        pw_balanced(p, UN, x * IN, phi, +1);
        pw_layout(p, PW_LAYOUT_3P4W, neutral, 0, 0, u_fs(UN), I_FS, BITS);
        break;
    }
    finish_params(p);
}

static int wc_of(const popt_t *o)
{
    switch (o->wiring) {
    case MC_WIRING_1P2W:
        return WC_1P2W;
    case MC_WIRING_1P3W:
        return WC_1P3W;
    case MC_WIRING_3P3W:
        return WC_3P3W;
    case MC_WIRING_3P4W:
        return o->neutral ? WC_3P4WN : WC_3P4W;
    default:
        return WC_MULTI;
    }
}

/* ------------------------------------------------------------------------ */
/* Truth sanity: the generator's samples against its own analytic truth      */

static void test_truth_sanity(void **state)
{
    (void)state;
    begin_test(0, "truth sanity: samples of the generator against its analytic truth");
    /* 3P4W with IN, harmonics, f = 50 Hz exactly at 4 kHz (80 samples a cycle): sums
     * over 50 whole cycles of the noise-free 24-bit codes against the phasor truth. */
    pw_params_t *p = calloc(1, sizeof(*p));
    pw_gen_t *g = calloc(1, sizeof(*g));
    assert_non_null(p);
    assert_non_null(g);
    pw_params_init(p, 4000.0, 50.0);
    pw_balanced(p, UN, 7.0, 25.0, +1);
    for (int k = 0; k < 3; k++) {
        const double a = -120.0 * k;
        pw_set(p, PW_U(k + 1), 3, 0.1 * UN, 3.0 * a + 10.0);
        pw_set(p, PW_U(k + 1), 5, 0.06 * UN, 5.0 * a + 23.0);
        pw_set(p, PW_I(k + 1), 3, 0.4 * 7.0, 3.0 * a - 20.0);
        pw_set(p, PW_I(k + 1), 5, 0.2 * 7.0, 5.0 * a + 63.0);
    }
    pw_set(p, PW_I(2), 1, 3.0, -120.0 - 40.0); /* unbalanced currents: a neutral fundamental */
    pw_layout(p, PW_LAYOUT_3P4W, 1, 0, 0, u_fs(UN), I_FS, 24);
    p->theta0_deg = 17.0;
    const size_t n = 4000;
    int32_t *fr = calloc(n * 7u, sizeof(int32_t));
    assert_non_null(fr);
    pw_init(g, p);
    pw_fill(g, fr, n);
    const double us = pw_scale(&p->ch[0]), is = pw_scale(&p->ch[3]);
    double worst = 0.0;
    for (int k = 0; k < 3; k++) {
        double sv = 0.0, si = 0.0, svi = 0.0, sll = 0.0;
        for (size_t j = 0; j < n; j++) {
            const double v = fr[j * 7 + (size_t)k] * us, i = fr[j * 7 + 3 + (size_t)k] * is;
            const double v2 = fr[j * 7 + (size_t)((k + 1) % 3)] * us;
            sv += v * v;
            si += i * i;
            svi += v * i;
            sll += (v - v2) * (v - v2);
        }
        pw_etruth_t t;
        const pw_mix_t um = pw_mix1(PW_U(k + 1)), im = pw_mix1(PW_I(k + 1));
        const pw_mix_t ll = pw_mix_diff(PW_U(k + 1), PW_U((k + 1) % 3 + 1));
        pw_element_truth(p, &um, &im, &um, &t);
        const double e[4] = {sqrt(sv / n) / t.urms - 1.0, sqrt(si / n) / t.irms - 1.0, (svi / n) / t.p - 1.0,
                             sqrt(sll / n) / pw_mix_rms(p, &ll) - 1.0};
        for (int q = 0; q < 4; q++) {
            worst = fmax(worst, fabs(e[q]));
        }
        /* The integral of the continuous product over the same 50 cycles. */
        const double ei = pw_integral(p, &um, &im, -0.5 / 4000.0, (n - 0.5) / 4000.0) / 1.0;
        worst = fmax(worst, fabs(ei / t.p - 1.0));
    }
    /* Neutral channel: -(i1 + i2 + i3) against the phasor rms of the sum. */
    double sn = 0.0, sres = 0.0;
    for (size_t j = 0; j < n; j++) {
        const double in = fr[j * 7 + 6] * is;
        const double sum = (fr[j * 7 + 3] + fr[j * 7 + 4] + fr[j * 7 + 5]) * is;
        sn += in * in;
        sres += (in + sum) * (in + sum);
    }
    const double tn = pw_mix_rms(p, &p->ch[6].mix);
    worst = fmax(worst, fabs(sqrt(sn / n) / tn - 1.0));
    printf("  sample sums against the phasor truth: worst relative %.2e (neutral %.4f A, residual %.2e A)\n", worst,
           tn, sqrt(sres / n));
    assert_true(worst < 2e-6);
    assert_true(sqrt(sres / n) < 1e-4);
    /* Fundamental phasors from a DFT of the samples: angles against the truth. */
    double ang_worst = 0.0;
    for (int c = 0; c < 6; c++) {
        double re = 0.0, im = 0.0, re0 = 0.0, im0 = 0.0;
        for (size_t j = 0; j < n; j++) {
            const double th = 2.0 * PI * 50.0 * (double)j / 4000.0;
            const double x = fr[j * 7 + (size_t)c], x0 = fr[j * 7];
            re += x * sin(th);
            im += x * cos(th);
            re0 += x0 * sin(th);
            im0 += x0 * cos(th);
        }
        const double a = pw_wrap_deg((atan2(im, re) - atan2(im0, re0)) * 180.0 / PI);
        ang_worst = fmax(ang_worst, fabs(pw_wrap_deg(a - pw_angle_deg(p, &p->ch[c].mix, &p->ch[0].mix))));
    }
    printf("  DFT angles against the truth: worst %.2e deg\n", ang_worst);
    assert_true(ang_worst < 1e-4);
    /* A delayed channel: delay_s = -5 us (sampled late) reads +0.09 deg at 50 Hz. */
    p->ch[1].delay_s = -5e-6;
    pw_init(g, p);
    pw_fill(g, fr, n);
    {
        double re = 0.0, im = 0.0, re0 = 0.0, im0 = 0.0;
        for (size_t j = 0; j < n; j++) {
            const double th = 2.0 * PI * 50.0 * (double)j / 4000.0;
            re += fr[j * 7 + 1] * sin(th);
            im += fr[j * 7 + 1] * cos(th);
            re0 += fr[j * 7] * sin(th);
            im0 += fr[j * 7] * cos(th);
        }
        const double a = pw_wrap_deg((atan2(im, re) - atan2(im0, re0)) * 180.0 / PI);
        const double want = pw_angle_deg(p, &p->ch[1].mix, &p->ch[0].mix) + 360.0 * 50.0 * 5e-6;
        printf("  channel sampled 5 us late: %+.5f deg, expected %+.5f\n", a, want);
        assert_true(fabs(pw_wrap_deg(a - want)) < 1e-4);
    }
    /* Symmetrical components: Va = 1, Vb = 0, Vc = 1 at +120: V1 = 2/3, V2 = 1/3 -> 50 %. */
    {
        pw_params_t *q = calloc(1, sizeof(*q));
        assert_non_null(q);
        pw_params_init(q, 4000.0, 50.0);
        pw_set(q, PW_U(1), 1, 1.0, 0.0);
        pw_set(q, PW_U(3), 1, 1.0, 120.0);
        const pw_mix_t a = pw_mix1(PW_U(1)), b = pw_mix1(PW_U(2)), c = pw_mix1(PW_U(3));
        int seq = 0;
        const double u = pw_unbalance_pct(q, &a, &b, &c, &seq);
        printf("  unbalance of (1, 0, 1/+120): %.6f %% (50 expected), sequence %+d\n", u, seq);
        assert_true(fabs(u - 50.0) < 1e-9 && seq == 1);
        pw_balanced(q, 230.0, 0.0, 0.0, -1);
        assert_true(pw_unbalance_pct(q, &a, &b, &c, &seq) < 1e-9 && seq == -1);
        /* An interruption of whole cycles: the integral loses exactly their energy. */
        pw_balanced(q, 230.0, 5.0, 30.0, +1);
        q->theta0_deg = 11.0;
        const pw_mix_t u1 = pw_mix1(PW_U(1)), i1 = pw_mix1(PW_I(1));
        const double full = pw_integral(q, &u1, &i1, 0.0, 1.0);
        pw_add_event(q, PW_U(1), 0.3, 0.5, 0.0);
        const double cut = pw_integral(q, &u1, &i1, 0.0, 1.0);
        const double p1 = 230.0 * 5.0 * cos(30.0 * PI / 180.0);
        printf("  integral over 1 s: %.9f J (P %.9f W), with 200 ms out %.9f J\n", full, p1, cut);
        assert_true(fabs(full / p1 - 1.0) < 1e-10);
        assert_true(fabs(cut / (0.8 * p1) - 1.0) < 1e-10);
        free(q);
    }
    free(fr);
    free(g);
    free(p);
    g_runs++;
    row_bool(WC_3P4WN, "generator truth", "samples vs phasors", 1);
    end_test("truth sanity");
}

/* ------------------------------------------------------------------------ */
/* Case 1: the 0.2S grid with balanced loads                                */

static const double grid_pf1[] = {0.01, 0.02, 0.05, 0.1, 1.0, 12.0};
static const double grid_reactive[] = {0.02, 0.05, 0.1, 1.0, 12.0};

/* One balanced point: totals, elements, readings. Returns the total P error (percent). */
static double balanced_point(mc_wiring wiring, int neutral, double x, double phi, const char *extra)
{
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    popt_t o;
    balanced_signal(p, &o, wiring, neutral, x, phi);
    run_poly(p, &o, r);
    const int wc = wc_of(&o);
    char cond[56];
    snprintf(cond, sizeof cond, "%g In %s balanced%s", x, pf_name(phi), extra);
    check_run_sanity(wc, cond, r);
    double pt, qt;
    total_truth(p, &o, r->nel, &pt, &qt);
    const double lim = limit_02s(phi, x);
    check_p_deltas(wc, cond, "total", r->sum_tot, &r->e_tot, pt, r->dur, lim);
    const double err = g_rows[g_nrows - 1].err;
    if (fabs(phi) > 1e-9) {
        check_q_deltas(wc, cond, "total", r->sum_tot, qt, r->dur, limit_reactive(sin(phi * PI / 180.0), x));
    }
    if (wiring != MC_WIRING_3P3W) {
        /* Aron's elements are not phases (at PF 0.5 one of them carries no power). */
        for (unsigned k = 0; k < r->nel; k++) {
            pw_etruth_t t;
            char who[16];
            elem_truth(p, &o, k, &t);
            snprintf(who, sizeof who, "e%u", k + 1);
            check_p_deltas(wc, cond, who, r->sum_el[k], &r->e_el[k], t.p, r->dur, lim);
        }
    }
    check_elements(wc, cond, p, &o, r, 0.05 * IN, x >= 0.1);
    check_line_voltages(wc, cond, p, &o, r);
    check_reading(wc, cond, "freq", r, Q_FREQ, 0, F_REF, "Hz", FREQ_LIMIT);
    if (wiring == MC_WIRING_3P4W || wiring == MC_WIRING_3P3W) {
        check_unbalance(wc, cond, p, &o, r, x >= 0.1);
    }
    if (neutral) {
        check_poly_flag(wc, cond, "no neutral mismatch", r, MC_POLY_NEUTRAL_MISMATCH, 0);
    }
    free(r);
    free(p);
    return err;
}

static void grid(mc_wiring wiring, int neutral)
{
    for (size_t k = 0; k < sizeof grid_pf1 / sizeof grid_pf1[0]; k++) {
        balanced_point(wiring, neutral, grid_pf1[k], PHI_PF1, "");
    }
    for (size_t k = 0; k < sizeof grid_reactive / sizeof grid_reactive[0]; k++) {
        balanced_point(wiring, neutral, grid_reactive[k], PHI_05L, "");
    }
    for (size_t k = 0; k < sizeof grid_reactive / sizeof grid_reactive[0]; k++) {
        balanced_point(wiring, neutral, grid_reactive[k], PHI_08C, "");
    }
}

static void test_grid_3p4w(void **state)
{
    (void)state;
    begin_test(1, "IEC 62053-22 0.2S grid, balanced 3P4W");
    grid(MC_WIRING_3P4W, 0);
    end_test("grid 3P4W");
}

static void test_grid_3p4w_n(void **state)
{
    (void)state;
    begin_test(1, "IEC 62053-22 0.2S grid, balanced 3P4W with a measured IN");
    grid(MC_WIRING_3P4W, 1);
    end_test("grid 3P4W+IN");
}

static void test_grid_1p3w(void **state)
{
    (void)state;
    begin_test(1, "IEC 62053-22 0.2S grid, balanced 1P3W (120/240 V)");
    grid(MC_WIRING_1P3W, 0);
    end_test("grid 1P3W");
}

static void test_grid_3p3w(void **state)
{
    (void)state;
    begin_test(1, "IEC 62053-22 0.2S grid, 3P3W (Aron, 400 V, delta load; truth: the wye's three phases)");
    grid(MC_WIRING_3P3W, 0);
    end_test("grid 3P3W");
}

/* ------------------------------------------------------------------------ */
/* Case 2: single-phase load on each element, balanced voltages             */

/*
 * IEC 62053-22:2003, 8.1, Table 5 "Percentage error limits (polyphase meters with
 * single-phase load, but with balanced polyphase voltages applied to voltage
 * circuits)", class 0.2S: +-0.3 % at 0.05 In <= I <= Imax, PF 1; +-0.4 % at
 * 0.1 In <= I <= Imax, PF 0.5 inductive. And (8.1): the difference between the
 * percentage error with a single-phase load and with a balanced poly-phase load,
 * at In and PF 1, shall not exceed 0.4 % for class 0.2S.
 */
#define T5_PF1 0.3
#define T5_PF05L 0.4
#define T5_DIFF 0.4

static void test_single_phase_loads(void **state)
{
    (void)state;
    static const struct {
        double x, phi, lim;
    } pts[] = {{0.05, PHI_PF1, T5_PF1}, {1.0, PHI_PF1, T5_PF1},   {12.0, PHI_PF1, T5_PF1},
               {0.1, PHI_05L, T5_PF05L}, {1.0, PHI_05L, T5_PF05L}, {12.0, PHI_05L, T5_PF05L}};
    begin_test(2, "single-phase load on each element, balanced voltages (IEC 62053-22:2003 Table 5)");
    const double e_bal = balanced_point(MC_WIRING_3P4W, 0, 1.0, PHI_PF1, " (reference)");
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    for (unsigned e = 0; e < 3; e++) {
        for (size_t k = 0; k < sizeof pts / sizeof pts[0]; k++) {
            popt_t o;
            pw_params_init(p, FS, F_REF);
            popt_default(&o, MC_WIRING_3P4W);
            pw_balanced(p, UN, 0.0, 0.0, +1);
            pw_set(p, PW_I(e + 1), 1, pts[k].x * IN, -120.0 * e - pts[k].phi);
            pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
            finish_params(p);
            run_poly(p, &o, r);
            char cond[56];
            snprintf(cond, sizeof cond, "load on e%u only, %g In %s", e + 1, pts[k].x, pf_name(pts[k].phi));
            check_run_sanity(WC_3P4W, cond, r);
            double pt, qt;
            total_truth(p, &o, r->nel, &pt, &qt);
            check_p_deltas(WC_3P4W, cond, "total", r->sum_tot, &r->e_tot, pt, r->dur, pts[k].lim);
            const double err = g_rows[g_nrows - 1].err;
            for (unsigned j = 0; j < 3; j++) {
                if (j != e) {
                    char what[40];
                    snprintf(what, sizeof what, "e%u registers 0", j + 1);
                    row_bool(WC_3P4W, cond, what, regs_zero(&r->e_el[j]));
                }
            }
            check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 1);
            if (pts[k].x == 1.0 && pts[k].phi == PHI_PF1) {
                crow_t *d = row_abs(WC_3P4W, cond, "err - balanced err", "pp", e_bal, err, T5_DIFF);
                d->err = err - e_bal;
                d->pass = fabs(d->err) <= T5_DIFF;
                finish(d);
            }
        }
    }
    free(r);
    free(p);
    end_test("single-phase loads");
}

/* ------------------------------------------------------------------------ */
/* Case 3: sequence, missing phases, unbalance, harmonics                   */

/* Energies of every element with current, the total, and element readings. */
static void check_energies(int wc, const char *cond, const pw_params_t *p, const popt_t *o, const prun_t *r,
                           double x, double phi)
{
    double pt, qt;
    total_truth(p, o, r->nel, &pt, &qt);
    const double lim = limit_02s(phi, x);
    check_p_deltas(wc, cond, "total", r->sum_tot, &r->e_tot, pt, r->dur, lim);
    for (unsigned k = 0; k < r->nel; k++) {
        pw_etruth_t t;
        char who[16];
        elem_truth(p, o, k, &t);
        snprintf(who, sizeof who, "e%u", k + 1);
        if (t.irms > 0.0) {
            check_p_deltas(wc, cond, who, r->sum_el[k], &r->e_el[k], t.p, r->dur, lim);
        } else {
            char what[40];
            snprintf(what, sizeof what, "e%u registers 0", k + 1);
            row_bool(wc, cond, what, regs_zero(&r->e_el[k]));
        }
    }
}

static void test_sequence_missing(void **state)
{
    (void)state;
    begin_test(3, "reversed sequence, missing phases");
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    popt_t o;

    /* ACB at In PF 0.5L. */
    static const double acb_phi[2] = {PHI_PF1, PHI_05L};
    for (int k = 0; k < 2; k++) {
        char cond[56];
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        pw_balanced(p, UN, IN, acb_phi[k], -1);
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        snprintf(cond, sizeof cond, "ACB In %s", pf_name(acb_phi[k]));
        check_run_sanity(WC_3P4W, cond, r);
        check_energies(WC_3P4W, cond, p, &o, r, 1.0, acb_phi[k]);
        check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 1);
        check_line_voltages(WC_3P4W, cond, p, &o, r);
        check_unbalance(WC_3P4W, cond, p, &o, r, 1);
    }

    /* U3 and I3 missing. */
    {
        const char *cond = "U3 = 0, I3 = 0, In PF1 on e1 e2";
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        pw_balanced(p, UN, IN, PHI_PF1, +1);
        pw_set(p, PW_U(3), 1, 0.0, 0.0);
        pw_set(p, PW_I(3), 1, 0.0, 0.0);
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        check_run_sanity(WC_3P4W, cond, r);
        check_energies(WC_3P4W, cond, p, &o, r, 1.0, PHI_PF1);
        check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 1);
        check_reading(WC_3P4W, cond, "freq", r, Q_FREQ, 0, F_REF, "Hz", FREQ_LIMIT);
        int ok = 1;
        for (size_t w = 1; w < r->nw; w++) {
            if (r->poly[w].missing != 0x4u || r->poly[w].reference != 0) {
                ok = 0;
            }
        }
        row_bool(WC_3P4W, cond, "missing = U3, ref U1", ok && r->nw >= 3);
        check_poly_flag(WC_3P4W, cond, "MISSING_PHASE", r, MC_POLY_MISSING_PHASE, 1);
        check_poly_flag(WC_3P4W, cond, "no REFERENCE_MOVED", r, MC_POLY_REFERENCE_MOVED, 0);
        /* A channel without signal has no angle: it reads 0, not the angle of its noise. */
        int zero = 1;
        for (size_t w = 1; w < r->nw; w++) {
            if (r->ph[w][2].u_angle_deg != 0.0f || r->ph[w][2].i_angle_deg != 0.0f) {
                zero = 0;
            }
        }
        row_bool(WC_3P4W, cond, "e3 angles 0 (no signal)", zero && r->nw >= 3);
        /* (1, 1 at -120, 0): V1 = 2/3, V2 = 1/3 of the phase voltage: 50 %. */
        const pw_mix_t a = pw_mix1(PW_U(1)), b = pw_mix1(PW_U(2)), c = pw_mix1(PW_U(3));
        check_reading(WC_3P4W, cond, "U unbalance", r, Q_UUNB, 0, pw_unbalance_pct(p, &a, &b, &c, NULL), "pp",
                      UNB_LIMIT);
    }

    /* U1 and I1 missing: the frequency from U2. */
    {
        const char *cond = "U1 = 0, I1 = 0, In PF 0.5L on e2 e3";
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        pw_balanced(p, UN, IN, PHI_05L, +1);
        pw_set(p, PW_U(1), 1, 0.0, 0.0);
        pw_set(p, PW_I(1), 1, 0.0, 0.0);
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        check_run_sanity(WC_3P4W, cond, r);
        check_energies(WC_3P4W, cond, p, &o, r, 1.0, PHI_05L);
        check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 0);
        check_reading(WC_3P4W, cond, "freq (from U2)", r, Q_FREQ, 0, F_REF, "Hz", FREQ_LIMIT);
        int ok = 1;
        for (size_t w = 1; w < r->nw; w++) {
            if (r->poly[w].missing != 0x1u || r->poly[w].reference != 1) {
                ok = 0;
            }
        }
        row_bool(WC_3P4W, cond, "missing = U1, ref U2", ok && r->nw >= 3);
        check_poly_flag(WC_3P4W, cond, "MISSING+REF_MOVED", r, MC_POLY_MISSING_PHASE | MC_POLY_REFERENCE_MOVED, 1);
        /* U1 dead from power-up: the reference moves to U2 during the start-up acquisition,
         * so the first window already has a frequency. */
        row_bool(WC_3P4W, cond, "first window has freq", r->nw >= 1 && !(r->w[0].flags & MC_FLAG_NO_VOLTAGE) &&
                                                              fabs(r->w[0].freq - F_REF) < FREQ_LIMIT);
        /* Without U1 the angles are relative to the voltage that took over (U2 reads 0, U3
         * lags it by 120 degrees). */
        int rel = r->nw >= 3;
        for (size_t w = 1; w < r->nw; w++) {
            const mc_phase_reading_t *e2 = &r->ph[w][1], *e3 = &r->ph[w][2];
            const double want[4] = {0.0, -PHI_05L, -120.0, -120.0 - PHI_05L};
            const double got[4] = {e2->u_angle_deg, e2->i_angle_deg, e3->u_angle_deg, e3->i_angle_deg};
            for (int k = 0; k < 4; k++) {
                const double d = pw_wrap_deg(got[k] - want[k]);
                if (fabs(d) > 0.1) {
                    rel = 0;
                }
            }
        }
        row_bool(WC_3P4W, cond, "angles relative to U2", rel);
    }

    /* U1 lost in the middle of a window, then U1 flapping (a loose fuse: on and off in pieces
     * of 0.3 to 0.8 s). Only the window in which U1 is lost first may lack a frequency: the
     * reference must not go back to U1 while U1 is not there for a whole window. */
    for (int flap = 0; flap <= 1; flap++) {
        const char *cond = flap ? "U1 flapping from 2.35 s, In PF1" : "U1 lost at 2.35 s, In PF1";
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        o.seconds = 9.0;
        pw_balanced(p, UN, IN, PHI_PF1, +1);
        if (!flap) {
            assert_int_equal(pw_add_event(p, PW_U(1), 2.35, INFINITY, 0.0), 0);
        } else {
            static const double pieces[] = {0.5, 0.3, 0.8, 0.4, 0.6, 0.3, 0.7, 0.5, 0.3, 0.8, 0.4, 0.6};
            double t = 2.35;
            for (size_t k = 0; t < o.seconds && k < sizeof pieces / sizeof pieces[0]; k += 2) {
                assert_int_equal(pw_add_event(p, PW_U(1), t, t + pieces[k], 0.0), 0);
                t += pieces[k] + pieces[k + 1];
            }
        }
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        int lost = 0, ok = r->nw >= 6;
        for (size_t w = 1; w < r->nw; w++) {
            const double t0 = (double)r->w[w].start_sample / FS, t1 = t0 + r->w[w].duration_s;
            if (t0 <= 2.35 && 2.35 < t1) {
                lost = 1; /* the window of the loss: a timed-out cycle, no frequency */
                continue;
            }
            if ((r->w[w].flags & MC_FLAG_NO_VOLTAGE) || fabs(r->w[w].freq - F_REF) > FREQ_LIMIT) {
                ok = 0;
            }
        }
        row_bool(WC_3P4W, cond, "frequency in every later window", ok && lost);
    }

    /* No rotation to measure: no voltage at all (ADC noise), or only U1 (two fuses blown).
     * Then there is no sequence and no reverse-sequence alarm, and no unbalance is made of
     * noise divided by noise; with voltages but no load the current unbalance is 0. */
    for (int k = 0; k < 3; k++) {
        static const char *conds[3] = {"no voltage, no load (noise)", "U2 = U3 = 0, In PF1 on e1..e3",
                                       "balanced voltages, no load"};
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        pw_balanced(p, UN, k == 2 ? 0.0 : IN, PHI_PF1, +1);
        if (k == 0) {
            pw_balanced(p, 0.0, 0.0, PHI_PF1, +1);
        } else if (k == 1) {
            pw_set(p, PW_U(2), 1, 0.0, 0.0);
            pw_set(p, PW_U(3), 1, 0.0, 0.0);
        }
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        for (int c = 0; c < p->nch; c++) {
            p->ch[c].noise_rms = 1e-4 * (c < 3 ? u_fs(UN) : I_FS); /* well above the ADC's LSB */
        }
        finish_params(p);
        run_poly(p, &o, r);
        int none = r->nw >= 3, sane = r->nw >= 3;
        for (size_t w = 1; w < r->nw; w++) {
            const mc_poly_reading_t *q = &r->poly[w];
            if (k < 2 && (q->sequence != MC_SEQ_NONE || (q->flags & MC_POLY_REVERSE_SEQUENCE))) {
                none = 0;
            }
            if (k == 2 && (q->sequence != MC_SEQ_ABC || (q->flags & MC_POLY_REVERSE_SEQUENCE))) {
                none = 0;
            }
            if (!(q->i_unbalance_pct >= 0.0f && q->i_unbalance_pct <= (k == 1 ? 0.1f : 0.0f)) ||
                !(q->u_unbalance_pct >= 0.0f && q->u_unbalance_pct <= 100.0f)) {
                sane = 0;
            }
        }
        row_bool(WC_3P4W, conds[k], k < 2 ? "no sequence, no REVERSE" : "ABC, no REVERSE", none);
        row_bool(WC_3P4W, conds[k], "unbalances not from noise", sane);
    }

    /* Two CTs swapped (I2 on phase 3's CT input and I3 on phase 2's): the currents rotate
     * against the voltages. Against the voltages' rotation that is all negative sequence:
     * the current unbalance reads its ceiling, 1000 %, not 0. */
    {
        const char *cond = "ABC voltages, I2 and I3 swapped, In PF1";
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        pw_balanced(p, UN, IN, PHI_PF1, +1);
        pw_set(p, PW_I(2), 1, IN, 120.0);
        pw_set(p, PW_I(3), 1, IN, -120.0);
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        int ok = r->nw >= 3;
        for (size_t w = 1; w < r->nw; w++) {
            if (!(r->poly[w].i_unbalance_pct >= 999.0f && r->poly[w].i_unbalance_pct <= 1000.0f) ||
                r->poly[w].sequence != MC_SEQ_ABC) {
                ok = 0;
            }
        }
        row_bool(WC_3P4W, cond, "I unbalance 1000 % (swapped CTs)", ok);
    }
    free(r);
    free(p);
    end_test("sequence and missing phases");
}

/* 10 % voltage unbalance with unequal loads (also the unbalanced angle case of case 4). */
static void unbalanced_signal(pw_params_t *p, popt_t *o)
{
    pw_params_init(p, FS, F_REF);
    popt_default(o, MC_WIRING_3P4W);
    pw_set(p, PW_U(1), 1, UN, 0.0);
    pw_set(p, PW_U(2), 1, 0.9 * UN, -125.0); /* -10 % and 5 degrees late */
    pw_set(p, PW_U(3), 1, UN, 120.0);
    pw_set(p, PW_I(1), 1, IN, 0.0 - 30.0);
    pw_set(p, PW_I(2), 1, 0.5 * IN, -125.0 + 20.0);
    pw_set(p, PW_I(3), 1, 2.0 * IN, 120.0 - 60.0);
    pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
    finish_params(p);
}

static void test_unbalance_harmonics(void **state)
{
    (void)state;
    begin_test(3, "10 % voltage unbalance; harmonics on every phase (neutral)");
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    popt_t o;
    {
        const char *cond = "U2 -10 % -5 deg, loads 1/0.5/2 In";
        unbalanced_signal(p, &o);
        run_poly(p, &o, r);
        check_run_sanity(WC_3P4W, cond, r);
        /* Element limits by their own current and angle. */
        double pt, qt;
        total_truth(p, &o, r->nel, &pt, &qt);
        check_p_deltas(WC_3P4W, cond, "total", r->sum_tot, &r->e_tot, pt, r->dur, limit_02s(PHI_05L, 1.0));
        static const double xs[3] = {1.0, 0.5, 2.0}, phis[3] = {30.0, -20.0, 60.0};
        for (unsigned k = 0; k < 3; k++) {
            pw_etruth_t t;
            char who[16];
            elem_truth(p, &o, k, &t);
            snprintf(who, sizeof who, "e%u", k + 1);
            check_p_deltas(WC_3P4W, cond, who, r->sum_el[k], &r->e_el[k], t.p, r->dur, limit_02s(phis[k], xs[k]));
        }
        check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 0);
        check_line_voltages(WC_3P4W, cond, p, &o, r);
        check_unbalance(WC_3P4W, cond, p, &o, r, 1);
    }
    /* Harmonics: U 10 % h3, 6 % h5, 4 % h7; I 40 %, 20 %, 10 %; 0.5 Imax fundamental at
     * PF 1 and 0.5L; balanced, so the neutral carries 3 x I3 (zero sequence), the
     * line-to-line voltages no 3rd. Without and with a measured IN. */
    static const int hs[3] = {3, 5, 7};
    static const double uh[3] = {0.10, 0.06, 0.04}, ih[3] = {0.40, 0.20, 0.10};
    static const double up[3] = {10.0, 23.0, 200.0}, dl[3] = {30.0, -40.0, 70.0};
    for (int neutral = 0; neutral <= 1; neutral++) {
        for (int f = 0; f < 2; f++) {
            const double phi = f ? PHI_05L : PHI_PF1;
            const double i1 = 0.5 * IMAX;
            char cond[56];
            pw_params_init(p, FS, F_REF);
            popt_default(&o, MC_WIRING_3P4W);
            o.neutral = neutral;
            pw_balanced(p, UN, i1, phi, +1);
            for (int k = 0; k < 3; k++) {
                const double a = -120.0 * k;
                for (int j = 0; j < 3; j++) {
                    pw_set(p, PW_U(k + 1), hs[j], uh[j] * UN, hs[j] * a + up[j]);
                    pw_set(p, PW_I(k + 1), hs[j], ih[j] * i1, hs[j] * a + up[j] - dl[j]);
                }
            }
            pw_layout(p, PW_LAYOUT_3P4W, neutral, 0, 0, u_fs(UN), I_FS, BITS);
            finish_params(p);
            run_poly(p, &o, r);
            const int wc = neutral ? WC_3P4WN : WC_3P4W;
            snprintf(cond, sizeof cond, "h3/5/7 U 10/6/4 %% I 40/20/10 %%, 0.5 Imax %s", pf_name(phi));
            check_run_sanity(wc, cond, r);
            check_energies(wc, cond, p, &o, r, i1 / IN, phi);
            check_elements(wc, cond, p, &o, r, 0.05 * IN, 1);
            check_line_voltages(wc, cond, p, &o, r);
            check_unbalance(wc, cond, p, &o, r, 1);
            pw_mix_t sum;
            memset(&sum, 0, sizeof sum);
            sum.c[PW_I(1)] = sum.c[PW_I(2)] = sum.c[PW_I(3)] = 1.0;
            const double tn = pw_mix_rms(p, &sum);
            check_reading(wc, cond, "I neutral", r, Q_IN, 0, tn, "%", NEUTRAL_LIMIT);
            check_reading(wc, cond, "I neutral calc", r, Q_INCALC, 0, tn, "%", NEUTRAL_LIMIT);
            if (neutral) {
                check_poly_flag(wc, cond, "no neutral mismatch", r, MC_POLY_NEUTRAL_MISMATCH, 0);
            }
        }
    }
    free(r);
    free(p);
    end_test("unbalance and harmonics");
}

/* ------------------------------------------------------------------------ */
/* Case 4: angles; a multiplexed ADC's sampling delay, compensated          */

#define MUX_DELAY_S 5e-6 /* channel c sampled c * 5 us after the frame instant */

static void test_angles_delay(void **state)
{
    (void)state;
    begin_test(4, "angles: balanced, unbalanced, multiplexed ADC (channel c sampled c x 5 us late)");
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    popt_t o;
    static const double phis[3] = {PHI_PF1, PHI_05L, PHI_08C};
    /* Balanced: U2 -120, U3 +120, currents their voltage's angle less phi. */
    for (int k = 0; k < 3; k++) {
        char cond[56];
        balanced_signal(p, &o, MC_WIRING_3P4W, 0, 1.0, phis[k]);
        run_poly(p, &o, r);
        snprintf(cond, sizeof cond, "balanced In %s", pf_name(phis[k]));
        check_run_sanity(WC_3P4W, cond, r);
        check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 1);
    }
    {
        const char *cond = "unbalanced (U2 -10 % -5 deg; 1/0.5/2 In)";
        unbalanced_signal(p, &o);
        run_poly(p, &o, r);
        check_run_sanity(WC_3P4W, cond, r);
        check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 1);
    }
    {
        const char *cond = "3P3W In PF0.5L (against U12)";
        balanced_signal(p, &o, MC_WIRING_3P3W, 0, 1.0, PHI_05L);
        run_poly(p, &o, r);
        check_run_sanity(WC_3P3W, cond, r);
        check_elements(WC_3P3W, cond, p, &o, r, 0.05 * IN, 1);
    }

    /* The multiplexed ADC: channel c of the frame sampled c * 5 us late, i.e. a
     * front-end delay of -c * 5 us (it leads by 360 f c 5 us = c * 0.09 deg). The
     * calibration removes the delay: phase_deg[c] = 360 f delay = -c * 0.09 deg. */
    mc_poly_calibration_t cal;
    mc_poly_calibration_default(&cal);
    for (int c = 0; c < 6; c++) {
        cal.phase_deg[c] = (float)(360.0 * F_REF * (-(double)c * MUX_DELAY_S));
    }
    mc_poly_calibration_seal(&cal);
    assert_int_equal(mc_poly_calibration_check(&cal), MC_OK);
    double err_raw = 0.0, err_comp = 0.0;
    for (int comp = 0; comp <= 1; comp++) {
        for (int k = 0; k < 3; k++) {
            if (!comp && k != 1) {
                continue; /* uncompensated: PF 0.5L only, where the delay shows */
            }
            char cond[56];
            balanced_signal(p, &o, MC_WIRING_3P4W, 0, 1.0, phis[k]);
            for (int c = 0; c < p->nch; c++) {
                p->ch[c].delay_s = -(double)c * MUX_DELAY_S;
            }
            o.cal = comp ? &cal : NULL;
            run_poly(p, &o, r);
            snprintf(cond, sizeof cond, "mux delay c*5us, %s, In %s", comp ? "compensated" : "UNcompensated",
                     pf_name(phis[k]));
            check_run_sanity(WC_3P4W, cond, r);
            double pt, qt;
            total_truth(p, &o, r->nel, &pt, &qt);
            if (comp) {
                check_energies(WC_3P4W, cond, p, &o, r, 1.0, phis[k]);
                if (k == 1) {
                    /* the total row is the first of check_energies' rows: find it */
                    for (size_t q = g_nrows; q-- > 0;) {
                        if (strcmp(g_rows[q].cond, cond) == 0 && strncmp(g_rows[q].qty, "total P", 7) == 0) {
                            err_comp = g_rows[q].err;
                            break;
                        }
                    }
                }
                check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 1);
            } else {
                /* Information: the error the delay makes (expected +0.8 %: 0.27 deg at PF 0.5). */
                const double meas = (double)r->sum_tot[MC_E_ACTIVE_IMPORT] / QPWH, truth = pt * r->dur / 3600.0;
                err_raw = 100.0 * (meas - truth) / truth;
                printf("  uncompensated mux delay, In PF0.5L: total P error %+.4f %% (class 0.2S limit 0.3 %%)\n",
                       err_raw);
                pw_etruth_t t;
                elem_truth(p, &o, 2, &t);
                double worst = 0.0;
                for (size_t w = 1; w < r->nw; w++) {
                    worst = fmax(worst, fabs(pw_wrap_deg(r->ph[w][2].i_angle_deg - t.i_angle_deg)));
                }
                printf("  uncompensated: I3 angle off by up to %.4f deg (channel 5: 0.45 deg expected)\n", worst);
                row_bool(WC_3P4W, cond, "I3 angle visibly off", worst > ANGLE_LIMIT);
            }
        }
    }
    /* Without compensation the PF 0.5 error must be visibly larger: beyond the class
     * limit (0.3 %) and more than three times the compensated one. Not a class check
     * itself (no limit in the summary's shares). */
    {
        crow_t *d = row_abs(WC_3P4W, "mux delay: uncompensated In PF0.5L", "total P err (%)", "%", 0.0, err_raw,
                            INFINITY);
        d->pass = fabs(err_raw) > 0.3 && fabs(err_raw) > 3.0 * fabs(err_comp);
        printf("  uncompensated %+.4f %% against compensated %+.4f %%: %s\n", err_raw, err_comp,
               d->pass ? "visibly larger" : "NOT visibly larger");
        finish(d);
    }

    /* The calibration routine, element by element: a front end with a gain error on every
     * channel and a delay on every current (sensors), calibrated by mc_calibrate_element_gain
     * at In PF 1 and mc_calibrate_element_phase at In PF 0.5L, then measured at other points. */
    {
        static const double gains[6] = {1.03, 0.97, 1.01, 0.98, 1.02, 1.04};
        static const double delays_us[6] = {0.0, 0.0, 0.0, 30.0, -20.0, 12.0}; /* 0.54, -0.36, 0.22 deg */
        meterbox_t *map = calloc(1, sizeof(*map)); /* the element-to-channel map of a 3P4W meter */
        assert_non_null(map);
        mc_meter_config_t mc;
        mc_meter_config_default(&mc);
        mc.u_scale = 1.0f;
        mc.i_scale = 1.0f;
        mc.wiring = MC_WIRING_3P4W;
        mc.channel_state = map->ch;
        mc.pair_state = map->pr;
        mc.element_state = map->el;
        assert_int_equal(mc_meter_init(&map->m, &mc), MC_OK);
        mc_poly_calibration_t pc;
        mc_poly_calibration_default(&pc);
        const double steps[2] = {PHI_PF1, PHI_05L};
        for (int step = 0; step < 2; step++) {
            balanced_signal(p, &o, MC_WIRING_3P4W, 0, 1.0, steps[step]);
            for (int c = 0; c < 6; c++) {
                p->ch[c].gain = gains[c];
                p->ch[c].delay_s = delays_us[c] * 1e-6;
            }
            o.cal = &pc;
            run_poly(p, &o, r);
            for (unsigned e = 0; e < 3; e++) {
                const mc_phase_reading_t *m = &r->ph[r->nw - 1][e];
                const int rc = step == 0 ? mc_calibrate_element_gain(&map->m, e, m, (float)UN, (float)IN, &pc)
                                         : mc_calibrate_element_phase(&map->m, e, m, (float)PHI_05L, &pc);
                assert_int_equal(rc, MC_OK);
            }
        }
        assert_int_equal(mc_poly_calibration_check(&pc), MC_OK);
        static const double after[3] = {PHI_05L, PHI_08C, PHI_PF1};
        static const double at[3] = {1.0, 0.1, 10.0};
        for (int k = 0; k < 3; k++) {
            char cond[64];
            balanced_signal(p, &o, MC_WIRING_3P4W, 0, at[k], after[k]);
            for (int c = 0; c < 6; c++) {
                p->ch[c].gain = gains[c];
                p->ch[c].delay_s = delays_us[c] * 1e-6;
            }
            o.cal = &pc;
            run_poly(p, &o, r);
            snprintf(cond, sizeof cond, "calibrated per element, %.1f In %s", at[k], pf_name(after[k]));
            check_run_sanity(WC_3P4W, cond, r);
            check_energies(WC_3P4W, cond, p, &o, r, at[k], after[k]);
            check_elements(WC_3P4W, cond, p, &o, r, 0.05 * IN, 1);
        }
        free(map);
    }
    free(r);
    free(p);
    end_test("angles and delay");
}

/* ------------------------------------------------------------------------ */
/* Case 5: measured neutral                                                 */

static void test_neutral(void **state)
{
    (void)state;
    begin_test(5, "neutral: measured IN against calculated; broken CT");
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    static const struct {
        double gain;
        const char *name;
    } ct[3] = {{1.0, "IN healthy"}, {0.0, "IN CT broken (IN = 0)"}, {0.8, "IN CT 20 % low"}};
    for (int k = 0; k < 3; k++) {
        popt_t o;
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        o.neutral = 1;
        pw_balanced(p, UN, 0.0, 0.0, +1);
        /* Unequal loads and a 3rd harmonic: a neutral current of about 1.2 In. */
        pw_set(p, PW_I(1), 1, IN, 0.0);
        pw_set(p, PW_I(2), 1, 0.6 * IN, -120.0 - 36.87);
        pw_set(p, PW_I(3), 1, 0.3 * IN, 120.0 - 60.0);
        pw_set(p, PW_I(1), 3, 0.3 * IN, 40.0);
        pw_set(p, PW_I(2), 3, 0.3 * 0.6 * IN, 40.0);
        pw_set(p, PW_I(3), 3, 0.3 * 0.3 * IN, 40.0);
        pw_layout(p, PW_LAYOUT_3P4W, 1, 0, 0, u_fs(UN), I_FS, BITS);
        p->ch[6].gain = ct[k].gain;
        finish_params(p);
        run_poly(p, &o, r);
        check_run_sanity(WC_3P4WN, ct[k].name, r);
        pw_mix_t sum;
        memset(&sum, 0, sizeof sum);
        sum.c[PW_I(1)] = sum.c[PW_I(2)] = sum.c[PW_I(3)] = 1.0;
        const double tn = pw_mix_rms(p, &sum);
        check_reading(WC_3P4WN, ct[k].name, "I neutral calc", r, Q_INCALC, 0, tn, "%", NEUTRAL_LIMIT);
        if (k == 0) {
            check_reading(WC_3P4WN, ct[k].name, "I neutral (meas)", r, Q_IN, 0, tn, "%", NEUTRAL_LIMIT);
            check_poly_flag(WC_3P4WN, ct[k].name, "no NEUTRAL_MISMATCH", r, MC_POLY_NEUTRAL_MISMATCH, 0);
            check_energies(WC_3P4WN, ct[k].name, p, &o, r, 0.3, PHI_05L);
        } else {
            /* The residual i1 + i2 + i3 + in = (1 - gain)(i1 + i2 + i3): against that truth,
             * to 0.5 % of the neutral current. */
            crow_t *row = NULL;
            double worst = -1.0, meas = NAN;
            const double tr = (1.0 - ct[k].gain) * tn;
            for (size_t w = 1; w < r->nw; w++) {
                const double e = fabs(r->poly[w].i_residual - tr);
                if (e > worst) {
                    worst = e;
                    meas = r->poly[w].i_residual;
                }
            }
            row = row_abs(WC_3P4WN, ct[k].name, "I residual", "A", tr, meas, NEUTRAL_LIMIT / 100.0 * tn);
            finish(row);
            /* The measured IN is what the CT gives: gain x the neutral, to 0.5 % of the neutral. */
            check_reading(WC_3P4WN, ct[k].name, "I neutral (meas)", r, Q_IN, 0, ct[k].gain * tn, "A",
                          NEUTRAL_LIMIT / 100.0 * tn);
            check_poly_flag(WC_3P4WN, ct[k].name, "NEUTRAL_MISMATCH set", r, MC_POLY_NEUTRAL_MISMATCH, 1);
        }
    }
    /* A single multiplexed ADC scanning all seven channels at 4 kHz: channel c sampled
     * c/(7 fs) late, compensated as mc_meter.h says (phase_deg = -360 f d). The line-to-line
     * voltages, the calculated neutral and the residual come from cross products of skewed
     * samples: they must be compensated too. Balanced (neutral 0) and I2 2 % low (neutral
     * 0.1 A). */
    for (int k = 0; k < 2; k++) {
        popt_t o;
        const char *cond = k ? "mux 7 ch, I2 -2 %: neutral 0.1 A" : "mux 7 ch, balanced: neutral 0";
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        o.neutral = 1;
        pw_balanced(p, UN, IN, PHI_PF1, +1);
        if (k) {
            pw_set(p, PW_I(2), 1, 0.98 * IN, -120.0);
        }
        pw_layout(p, PW_LAYOUT_3P4W, 1, 0, 0, u_fs(UN), I_FS, BITS);
        mc_poly_calibration_t cal;
        mc_poly_calibration_default(&cal);
        for (int c = 0; c < 7; c++) {
            const double d = (double)c / (7.0 * FS);
            p->ch[c].delay_s = -d;
            cal.phase_deg[c] = (float)(-360.0 * F_REF * d);
        }
        mc_poly_calibration_seal(&cal);
        o.cal = &cal;
        finish_params(p);
        run_poly(p, &o, r);
        check_run_sanity(WC_3P4WN, cond, r);
        check_line_voltages(WC_3P4WN, cond, p, &o, r);
        pw_mix_t sum;
        memset(&sum, 0, sizeof sum);
        sum.c[PW_I(1)] = sum.c[PW_I(2)] = sum.c[PW_I(3)] = 1.0;
        const double tn = pw_mix_rms(p, &sum);
        /* 0.5 % of the phase current (the neutral is a small difference of large ones). */
        check_reading(WC_3P4WN, cond, "I neutral calc", r, Q_INCALC, 0, tn, "A", NEUTRAL_LIMIT / 100.0 * IN);
        check_reading(WC_3P4WN, cond, "I residual", r, Q_IRES, 0, 0.0, "A", NEUTRAL_LIMIT / 100.0 * IN);
        check_poly_flag(WC_3P4WN, cond, "no NEUTRAL_MISMATCH", r, MC_POLY_NEUTRAL_MISMATCH, 0);
    }
    free(r);
    free(p);
    end_test("neutral");
}

/* ------------------------------------------------------------------------ */
/* Case 6: multi-circuit                                                    */

static void test_multi(void **state)
{
    (void)state;
    begin_test(6, "multi-circuit: 16 circuits on one voltage; crosstalk");
    static const struct {
        double x, phi;
        int exp;
    } ld[16] = {{0.05, PHI_PF1, 0}, {0.1, PHI_PF1, 0}, {0.5, PHI_PF1, 0},  {1.0, PHI_PF1, 0},
                {2.0, PHI_PF1, 0},  {6.0, PHI_PF1, 0}, {12.0, PHI_PF1, 0}, {0.1, PHI_05L, 0},
                {1.0, PHI_05L, 0},  {12.0, PHI_05L, 0}, {0.1, PHI_08C, 0}, {1.0, PHI_08C, 0},
                {12.0, PHI_08C, 0}, {1.0, PHI_PF1, 1}, {6.0, PHI_05L, 1},  {0.5, PHI_08C, 1}};
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    popt_t o;
    for (int run = 0; run < 2; run++) {
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_MULTI);
        o.voltages = 1;
        o.circuits = 16;
        pw_set(p, PW_U(1), 1, UN, 0.0);
        for (int k = 0; k < 16; k++) {
            if (run == 0) {
                pw_set(p, PW_I(k + 1), 1, ld[k].x * IN, -ld[k].phi + (ld[k].exp ? 180.0 : 0.0));
            } else if (k % 2 == 0) {
                pw_set(p, PW_I(k + 1), 1, IMAX, 0.0); /* Imax beside every idle circuit */
            }
        }
        pw_layout(p, PW_LAYOUT_MULTI, 0, 1, 16, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        check_run_sanity(WC_MULTI, run ? "crosstalk: even Imax, odd 0" : "16 loads", r);
        for (unsigned k = 0; k < 16; k++) {
            pw_etruth_t t;
            char cond[56], who[16];
            elem_truth(p, &o, k, &t);
            snprintf(who, sizeof who, "c%u", k + 1);
            if (run == 0 || k % 2 == 0) {
                const double x = run ? IMAX / IN : ld[k].x, phi = run ? PHI_PF1 : ld[k].phi;
                snprintf(cond, sizeof cond, "%s%g In %s%s", run ? "crosstalk: " : "", x, pf_name(phi),
                         (!run && ld[k].exp) ? " export" : "");
                check_p_deltas(WC_MULTI, cond, who, r->sum_el[k], &r->e_el[k], t.p, r->dur, limit_02s(phi, x));
                if (run == 0 && k == 0) {
                    check_elements(WC_MULTI, cond, p, &o, r, 0.05 * IN, 1);
                    check_reading(WC_MULTI, cond, "freq", r, Q_FREQ, 0, F_REF, "Hz", FREQ_LIMIT);
                }
            } else {
                /* The idle neighbour: creep, no energy, Irms below the starting current. */
                snprintf(cond, sizeof cond, "crosstalk: idle c%u beside Imax", k + 1);
                int creep = 1;
                double imax_seen = 0.0;
                for (size_t w = 1; w < r->nw; w++) {
                    if (!(r->ph[w][k].flags & MC_FLAG_CREEP_P)) {
                        creep = 0;
                    }
                    imax_seen = fmax(imax_seen, r->ph[w][k].irms);
                }
                row_bool(WC_MULTI, cond, "creep, registers 0", creep && regs_zero(&r->e_el[k]) && r->nw >= 3);
                crow_t *row = row_abs(WC_MULTI, cond, "Irms < start", "A", 0.0, imax_seen, START_CURRENT);
                row->pass = imax_seen < START_CURRENT;
                finish(row);
            }
        }
    }
    /* Three voltages, six circuits on them (circuit k on voltage k mod 3). */
    {
        static const uint8_t cv[6] = {0, 1, 2, 0, 1, 2};
        static const double xs[6] = {1.0, 0.5, 2.0, 0.1, 12.0, 1.0}, phs[6] = {0.0, 60.0, -36.86989764584402,
                                                                                 60.0, 0.0, 0.0};
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_MULTI);
        o.voltages = 3;
        o.circuits = 6;
        o.circuit_voltage = cv;
        pw_balanced(p, UN, 0.0, 0.0, +1);
        for (int k = 0; k < 6; k++) {
            pw_set(p, PW_I(k + 1), 1, xs[k] * IN, -120.0 * cv[k] - phs[k]);
        }
        pw_layout(p, PW_LAYOUT_MULTI, 0, 3, 6, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        check_run_sanity(WC_MULTI, "3 voltages, 6 circuits", r);
        for (unsigned k = 0; k < 6; k++) {
            pw_etruth_t t;
            char cond[56], who[16];
            elem_truth(p, &o, k, &t);
            snprintf(who, sizeof who, "c%u", k + 1);
            snprintf(cond, sizeof cond, "3 voltages: c%u on U%u, %g In %s", k + 1, cv[k] + 1u, xs[k], pf_name(phs[k]));
            check_p_deltas(WC_MULTI, cond, who, r->sum_el[k], &r->e_el[k], t.p, r->dur, limit_02s(phs[k], xs[k]));
        }
        check_elements(WC_MULTI, "3 voltages, 6 circuits", p, &o, r, 0.05 * IN, 1);
        check_line_voltages(WC_MULTI, "3 voltages, 6 circuits", p, &o, r);
    }
    free(r);
    free(p);
    end_test("multi-circuit");
}

/* ------------------------------------------------------------------------ */
/* Case 7: real-world waveforms on phase 2                                  */

#define RW_SECONDS 4.6
#define RW_T_EVENT 2.5

typedef struct rwcase {
    const char *name;
    rw_load_kind kind;
    double irms;      /* linear: rms; cut loads: the rms of the sine they are cut from */
    int cut;          /* cut from a sine of rms irms (half-wave) */
    double z_ohm;
    double amp_angle, amp_dur, amp_level; /* amplitude event (dur 0: none; dur < 0: to the end) */
} rwcase_t;

static void test_realworld_phase2(void **state)
{
    (void)state;
    begin_test(7, "real-world waveforms on phase 2 (tests/realworld.h), steady loads on phases 1 and 3");
    static const rwcase_t cs[] = {
        {"alt-half-wave 0.4 ohm 0.5 Imax", RW_LOAD_ALT_HALFWAVE, 0.5 * IMAX, 0, 0.4, 0.0, 0.0, 1.0},
        {"half-wave 0.5 Imax (DC)", RW_LOAD_HALFWAVE, 0.5 * IMAX, 1, 0.0, 0.0, 0.0, 1.0},
        {"U2 step to 85 % at 60 deg, In PF1", RW_LOAD_LINEAR, IN, 0, 0.0, 60.0, -1.0, 0.85},
        {"U2 dip to 30 % for 3 cycles, In PF1", RW_LOAD_LINEAR, IN, 0, 0.0, 90.0, 3.0 / 50.0, 0.3},
        {"U2 interruption 200 ms, In PF1", RW_LOAD_LINEAR, IN, 0, 0.0, 0.0, 0.2, 0.0},
    };
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        popt_t o;
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        o.flush = 1;
        /* Phases 1 and 3 from the analytic generator: In PF 1 and 0.5 Imax PF 0.5L. */
        pw_set(p, PW_U(1), 1, UN, 0.0);
        pw_set(p, PW_I(1), 1, IN, 0.0);
        pw_set(p, PW_U(3), 1, UN, 120.0);
        pw_set(p, PW_I(3), 1, 0.5 * IMAX, 120.0 - PHI_05L);
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        finish_params(p);
        /* The offsets test_realworld.c gives every case, on every channel. */
        for (int k = 0; k < 3; k++) {
            p->ch[k].dc = 0.002 * p->ch[k].full_scale;
            p->ch[3 + k].dc = -0.001 * p->ch[3 + k].full_scale;
        }
        /* Phase 2 from the real-world model, as test_realworld.c's cases (front end,
         * offsets, noise, anti-alias filter), its angle 120 degrees behind U1. */
        rw_model_t m;
        rw_model_init(&m, FS, F_REF, UN, BITS, u_fs(UN), I_FS, RW_SECONDS);
        m.src.theta0_deg = fmod(p->theta0_deg - 120.0 + 360.0, 360.0);
        m.adc.seed = p->seed + 77u;
        m.adc.u_noise = NOISE_FRAC * u_fs(UN);
        m.adc.i_noise = NOISE_FRAC * I_FS;
        m.adc.u_offset = 0.002 * u_fs(UN);
        m.adc.i_offset = -0.001 * I_FS;
        m.adc.aa_order = 4;
        m.adc.aa_fc = 0.3 * FS;
        m.adc.f_cal = F_NOM;
        m.src.z_ohm = cs[c].z_ohm;
        m.load.kind = cs[c].kind;
        m.load.level0 = 1.0;
        if (cs[c].cut) {
            m.load.i_pk = SQRT2 * cs[c].irms;
        } else {
            m.load.i_pk = rw_peak_for_rms(&m.load, cs[c].irms);
        }
        if (cs[c].amp_dur != 0.0) {
            const double t0 = rw_time_at_angle(&m.src, RW_T_EVENT, cs[c].amp_angle);
            m.src.amp[0].t0 = t0;
            m.src.amp[0].t1 = cs[c].amp_dur > 0.0 ? t0 + cs[c].amp_dur : 1e9;
            m.src.amp[0].level = cs[c].amp_level;
            m.src.namp = 1;
        }
        rw_record_t rec;
        assert_int_equal(rw_record_make(&rec, &m), 0);
        assert_true(fabs(rec.u_scale / pw_scale(&p->ch[1]) - 1.0) < 1e-12);
        assert_true(fabs(rec.i_scale / pw_scale(&p->ch[4]) - 1.0) < 1e-12);
        o.rw = &rec;
        run_poly(p, &o, r);
        const char *cond = cs[c].name;
        check_run_sanity(WC_3P4W, cond, r);
        {
            uint64_t sum = 0;
            for (size_t w = 0; w < r->nw; w++) {
                sum += r->w[w].samples;
            }
            row_bool(WC_3P4W, cond, "windows = all samples", sum == r->n - r->first && rec.clipped == 0);
        }
        /* Energy of each phase: registers (after the flush) against the integral of v*i
         * over [first - 1/2, n - 1/2) / fs. */
        const double t0 = ((double)r->first - 0.5) / FS, t1 = ((double)r->n - 0.5) / FS;
        const double dur = (double)(r->n - r->first) / FS;
        for (unsigned k = 0; k < 3; k++) {
            double e_true, x, lim;
            if (k == 1) {
                e_true = rw_integral(&rec, RW_A_VI, r->first, r->n) / 3600.0;
                const double i_dc = rw_integral(&rec, RW_A_I, r->first, r->n) / dur;
                const double i2 = rw_integral(&rec, RW_A_II, r->first, r->n) / dur - i_dc * i_dc;
                x = sqrt(i2 > 0.0 ? i2 : 0.0) / IN;
                lim = limit_02s(PHI_PF1, x); /* resistive loads: the PF 1 row, as test_realworld.c */
            } else {
                const pw_mix_t u = pw_mix1(PW_U(k + 1)), i = pw_mix1(PW_I(k + 1));
                e_true = pw_integral(p, &u, &i, t0, t1) / 3600.0;
                x = (k == 0 ? IN : 0.5 * IMAX) / IN;
                lim = limit_02s(k == 0 ? PHI_PF1 : PHI_05L, x);
            }
            const double meas =
                ((double)r->e_el[k].q[MC_E_ACTIVE_IMPORT] - (double)r->e_el[k].q[MC_E_ACTIVE_EXPORT]) / QPWH;
            char qty[40];
            snprintf(qty, sizeof qty, "e%u E (integral)", k + 1);
            crow_t *row = row_rel(WC_3P4W, cond, qty, e_true, meas, lim);
            row->is_p = 1;
            finish(row);
        }
        /* The reference U1 is steady: the frequency in every window. */
        check_reading(WC_3P4W, cond, "freq", r, Q_FREQ, 0, F_REF, "Hz", FREQ_LIMIT);
        rw_record_free(&rec);
    }
    free(r);
    free(p);
    end_test("real-world on phase 2");
}

/* ------------------------------------------------------------------------ */
/* Case 8: energy netting                                                   */

static void test_netting(void **state)
{
    (void)state;
    begin_test(8, "netting: phase 1 imports 1 kW, phase 2 exports 400 W");
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    for (int mode = 0; mode < 2; mode++) {
        popt_t o;
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        o.netting = mode ? MC_NETTING_PHASE : MC_NETTING_SUM;
        o.flush = 1;
        pw_balanced(p, UN, 0.0, 0.0, +1);
        pw_set(p, PW_I(1), 1, 1000.0 / UN, 0.0);
        pw_set(p, PW_I(2), 1, 400.0 / UN, -120.0 + 180.0);
        pw_layout(p, PW_LAYOUT_3P4W, 0, 0, 0, u_fs(UN), I_FS, BITS);
        finish_params(p);
        run_poly(p, &o, r);
        const char *cond = mode ? "MC_NETTING_PHASE, flushed" : "MC_NETTING_SUM, flushed";
        check_run_sanity(WC_3P4W, cond, r);
        uint64_t sum = 0;
        for (size_t w = 0; w < r->nw; w++) {
            sum += r->w[w].samples;
        }
        row_bool(WC_3P4W, cond, "windows = all samples", sum == r->n - r->first && r->nw > 0 &&
                                                             (r->w[r->nw - 1].flags & MC_FLAG_PARTIAL));
        const double t0 = ((double)r->first - 0.5) / FS, t1 = ((double)r->n - 0.5) / FS;
        double e[3];
        for (int k = 0; k < 3; k++) {
            const pw_mix_t u = pw_mix1(PW_U(k + 1)), i = pw_mix1(PW_I(k + 1));
            e[k] = pw_integral(p, &u, &i, t0, t1) / 3600.0;
        }
        const double l1 = limit_02s(PHI_PF1, 1000.0 / UN / IN), l2 = limit_02s(PHI_PF1, 400.0 / UN / IN);
        crow_t *row;
        if (mode == 0) {
            row = row_rel(WC_3P4W, cond, "total import", e[0] + e[1], (double)r->e_tot.q[MC_E_ACTIVE_IMPORT] / QPWH,
                          fmax(l1, l2));
            row->is_p = 1;
            finish(row);
            row_bool(WC_3P4W, cond, "total export = 0", r->e_tot.q[MC_E_ACTIVE_EXPORT] == 0);
        } else {
            row = row_rel(WC_3P4W, cond, "total import", e[0], (double)r->e_tot.q[MC_E_ACTIVE_IMPORT] / QPWH, l1);
            row->is_p = 1;
            finish(row);
            row = row_rel(WC_3P4W, cond, "total export", -e[1], (double)r->e_tot.q[MC_E_ACTIVE_EXPORT] / QPWH, l2);
            row->is_p = 1;
            finish(row);
        }
        /* Each element books its own sign, whatever the netting. */
        row = row_rel(WC_3P4W, cond, "e1 import", e[0], (double)r->e_el[0].q[MC_E_ACTIVE_IMPORT] / QPWH, l1);
        row->is_p = 1;
        finish(row);
        row_bool(WC_3P4W, cond, "e1 export = 0", r->e_el[0].q[MC_E_ACTIVE_EXPORT] == 0);
        row = row_rel(WC_3P4W, cond, "e2 export", -e[1], (double)r->e_el[1].q[MC_E_ACTIVE_EXPORT] / QPWH, l2);
        row->is_p = 1;
        finish(row);
        row_bool(WC_3P4W, cond, "e2 import = 0", r->e_el[1].q[MC_E_ACTIVE_IMPORT] == 0);
        row_bool(WC_3P4W, cond, "e3 registers 0", regs_zero(&r->e_el[2]));
    }
    free(r);
    free(p);
    end_test("netting");
}

/* ------------------------------------------------------------------------ */
/* Case 9: 1P2W through both entry points                                   */

typedef struct wlog {
    size_t n;
    mc_reading_t w[MAX_W];
    mc_phase_reading_t ph[MAX_W];
    mc_poly_reading_t poly[MAX_W];
} wlog_t;

static void on_window_log(void *ctx, const mc_reading_t *r)
{
    wlog_t *l = ctx;
    if (l->n < MAX_W) {
        memset(&l->w[l->n], 0, sizeof l->w[l->n]);
        l->w[l->n++] = *r;
    }
}

static void log_extra(const mc_meter_t *m, wlog_t *l)
{
    /* After the block in which the window closed (one window per block at most). */
    const size_t k = l->n - 1;
    memset(&l->ph[k], 0, sizeof l->ph[k]);
    memset(&l->poly[k], 0, sizeof l->poly[k]);
    assert_int_equal(mc_meter_phase_reading(m, 0, &l->ph[k]), MC_OK);
    assert_int_equal(mc_meter_poly_reading(m, &l->poly[k]), MC_OK);
}

/* A 1P2W meter is an ordinary value: a copy made after mc_meter_init() measures on its
 * own (the instance holds no pointer into itself) and leaves the original untouched. */
static void test_1p2w_copy(void **state)
{
    (void)state;
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.u_scale = (float)(400.0 / 8388608.0);
    cfg.i_scale = (float)(100.0 / 8388608.0);
    mc_meter_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)), *ref = calloc(1, sizeof(*ref));
    mc_meter_t *a_before = calloc(1, sizeof(*a_before));
    int32_t *v = calloc(8000, sizeof(int32_t)), *i = calloc(8000, sizeof(int32_t));
    assert_true(a && b && ref && a_before && v && i);
    assert_int_equal(mc_meter_init(a, &cfg), MC_OK);
    assert_int_equal(mc_meter_init(ref, &cfg), MC_OK);
    *b = *a; /* e.g. a meter initialised into a temporary and returned by value */
    memcpy(a_before, a, sizeof(*a));
    for (size_t k = 0; k < 8000; k++) {
        const double t = (double)k / 4000.0, w = 2.0 * M_PI * 50.0 * t;
        v[k] = (int32_t)lrint(230.0 * M_SQRT2 * sin(w) / cfg.u_scale);
        i[k] = (int32_t)lrint(5.0 * M_SQRT2 * sin(w - M_PI / 6.0) / cfg.i_scale);
    }
    assert_true(mc_meter_process(b, v, i, 8000) >= 0);
    assert_true(mc_meter_process(ref, v, i, 8000) >= 0);
    assert_memory_equal(a, a_before, sizeof(*a)); /* the original did not move */
    mc_reading_t rb, rr;
    assert_int_equal(mc_meter_reading(b, &rb), MC_OK);
    assert_int_equal(mc_meter_reading(ref, &rr), MC_OK);
    assert_memory_equal(&rb, &rr, sizeof(rb)); /* the copy measured as a meter of its own */
    /* The registers roll over at MC_ENERGY_QUANTA_MODULO like a mechanical register; values at or
     * above it are refused. */
    mc_energy_t e;
    memset(&e, 0, sizeof e);
    e.q[MC_E_ACTIVE_IMPORT] = MC_ENERGY_QUANTA_MODULO - 1000u;
    assert_int_equal(mc_meter_set_energy(ref, &e), MC_OK);
    assert_true(mc_meter_process(ref, v, i, 8000) >= 0);
    mc_energy_t after;
    assert_int_equal(mc_meter_energy(ref, &after), MC_OK);
    assert_true(after.q[MC_E_ACTIVE_IMPORT] > 0u && after.q[MC_E_ACTIVE_IMPORT] < MC_ENERGY_QUANTA_MODULO / 2u);
    e.q[MC_E_ACTIVE_EXPORT] = MC_ENERGY_QUANTA_MODULO;
    assert_int_equal(mc_meter_set_energy(ref, &e), MC_ERR_INVAL);
    free(a);
    free(b);
    free(ref);
    free(a_before);
    free(v);
    free(i);
}

static void test_1p2w_frames(void **state)
{
    (void)state;
    begin_test(9, "1P2W: mc_meter_process(v, i) and mc_meter_process_frames(U1 I1) bit for bit");
    pw_params_t *p = calloc(1, sizeof(*p));
    wlog_t *la = calloc(1, sizeof(*la)), *lb = calloc(1, sizeof(*lb));
    mc_meter_t *ma = calloc(1, sizeof(*ma)), *mb = calloc(1, sizeof(*mb));
    assert_non_null(p);
    assert_non_null(la);
    assert_non_null(lb);
    assert_non_null(ma);
    assert_non_null(mb);
    pw_params_init(p, FS, F_REF);
    pw_set(p, PW_U(1), 1, UN, 0.0);
    pw_set(p, PW_U(1), 5, 0.08 * UN, 33.0);
    pw_set(p, PW_I(1), 1, IN, -PHI_05L);
    pw_set(p, PW_I(1), 3, 0.3 * IN, 71.0);
    pw_set(p, PW_I(1), 5, 0.2 * IN, 12.0);
    pw_layout(p, PW_LAYOUT_1P2W, 0, 0, 0, u_fs(UN), I_FS, BITS);
    finish_params(p);
    p->ch[0].dc = 0.002 * p->ch[0].full_scale;
    p->ch[1].dc = -0.001 * p->ch[1].full_scale;
    const size_t n = (size_t)llround(POINT_SECONDS * FS);
    int32_t *fr = calloc(2 * n, sizeof(int32_t)), *v = calloc(n, sizeof(int32_t)), *i = calloc(n, sizeof(int32_t));
    pw_gen_t *g = calloc(1, sizeof(*g));
    assert_non_null(fr);
    assert_non_null(v);
    assert_non_null(i);
    assert_non_null(g);
    pw_init(g, p);
    pw_fill(g, fr, n);
    for (size_t k = 0; k < n; k++) {
        v[k] = fr[2 * k];
        i[k] = fr[2 * k + 1];
    }
    mc_meter_config_t ca, cb;
    popt_t o;
    popt_default(&o, MC_WIRING_1P2W);
    prun_t dummy;
    meterbox_t *box = calloc(1, sizeof(*box));
    assert_non_null(box);
    meter_config(&ca, box, p, &o, &dummy);
    ca.on_window = on_window_log;
    cb = ca;
    ca.context = la;
    cb.context = lb;
    assert_int_equal(mc_meter_init(ma, &ca), MC_OK);
    assert_int_equal(mc_meter_init(mb, &cb), MC_OK);
    assert_int_equal(mc_meter_channels(&cb), 2);
    g_runs++;
    /* Random block sizes, different for the two meters. */
    uint32_t sa = 12345u, sb = 987654321u;
    size_t da = 0, db = 0;
    while (da < n) {
        sa = sa * 1664525u + 1013904223u;
        size_t b = 1u + (size_t)((sa >> 8) % 700u);
        b = b > n - da ? n - da : b;
        const size_t before = la->n;
        assert_true(mc_meter_process(ma, &v[da], &i[da], b) >= 0);
        if (la->n != before) {
            log_extra(ma, la);
        }
        da += b;
    }
    while (db < n) {
        sb = sb * 1664525u + 1013904223u;
        size_t b = 1u + (size_t)((sb >> 8) % 700u);
        b = b > n - db ? n - db : b;
        const size_t before = lb->n;
        assert_true(mc_meter_process_frames(mb, &fr[2 * db], b) >= 0);
        if (lb->n != before) {
            log_extra(mb, lb);
        }
        db += b;
    }
    /* The last cycle at the same sample (the blocks ended elsewhere before). */
    mc_cycle_reading_t cya, cyb;
    memset(&cya, 0, sizeof cya);
    memset(&cyb, 0, sizeof cyb);
    assert_int_equal(mc_meter_cycle_reading(ma, &cya), MC_OK);
    assert_int_equal(mc_meter_cycle_reading(mb, &cyb), MC_OK);
    assert_true(mc_meter_flush(ma) >= 0);
    log_extra(ma, la);
    assert_true(mc_meter_flush(mb) >= 0);
    log_extra(mb, lb);
    const char *cond = "In PF0.5L + harmonics, random blocks";
    row_bool(WC_1P2W, cond, "same window count", la->n == lb->n && la->n >= 4);
    int same_w = 1, same_x = 1;
    for (size_t k = 0; k < la->n && k < lb->n; k++) {
        if (memcmp(&la->w[k], &lb->w[k], sizeof la->w[k]) != 0) {
            same_w = 0;
            printf("  window %zu differs: P %.9g / %.9g, Urms %.9g / %.9g\n", k, (double)la->w[k].p,
                   (double)lb->w[k].p, (double)la->w[k].urms, (double)lb->w[k].urms);
        }
        if (memcmp(&la->ph[k], &lb->ph[k], sizeof la->ph[k]) != 0 ||
            memcmp(&la->poly[k], &lb->poly[k], sizeof la->poly[k]) != 0) {
            same_x = 0;
            printf("  window %zu: phase reading %s, poly reading %s\n", k,
                   memcmp(&la->ph[k], &lb->ph[k], sizeof la->ph[k]) != 0 ? "differs" : "same",
                   memcmp(&la->poly[k], &lb->poly[k], sizeof la->poly[k]) != 0 ? "differs" : "same");
        }
    }
    row_bool(WC_1P2W, cond, "readings memcmp", same_w);
    row_bool(WC_1P2W, cond, "phase/poly memcmp", same_x);
    row_bool(WC_1P2W, cond, "last cycle memcmp", memcmp(&cya, &cyb, sizeof cya) == 0);
    mc_energy_t ea, eb, pa, pb;
    assert_int_equal(mc_meter_energy(ma, &ea), MC_OK);
    assert_int_equal(mc_meter_energy(mb, &eb), MC_OK);
    assert_int_equal(mc_meter_phase_energy(ma, 0, &pa), MC_OK);
    assert_int_equal(mc_meter_phase_energy(mb, 0, &pb), MC_OK);
    row_bool(WC_1P2W, cond, "energies memcmp", memcmp(&ea, &eb, sizeof ea) == 0 && memcmp(&pa, &pb, sizeof pa) == 0 &&
                                                    memcmp(&ea, &pa, sizeof ea) == 0);
    /* And the energy is right: the registers against the integral of v*i. */
    if (la->n > 0) {
        const uint64_t first = la->w[0].start_sample;
        const pw_mix_t u = pw_mix1(PW_U(1)), ii = pw_mix1(PW_I(1));
        const double e_true = pw_integral(p, &u, &ii, ((double)first - 0.5) / FS, ((double)n - 0.5) / FS) / 3600.0;
        crow_t *row = row_rel(WC_1P2W, cond, "E (integral)", e_true, (double)ea.q[MC_E_ACTIVE_IMPORT] / QPWH,
                              limit_02s(PHI_05L, 1.0));
        row->is_p = 1;
        finish(row);
    }
    free(box);
    free(g);
    free(i);
    free(v);
    free(fr);
    free(mb);
    free(ma);
    free(lb);
    free(la);
    free(p);
    end_test("1P2W entry points");
}

/* ------------------------------------------------------------------------ */
/* Case 10: transformer ratios                                              */

static void test_ratios(void **state)
{
    (void)state;
    begin_test(10, "CT/VT ratios: VT 100, CT 200 (11 kV / 1000 A primary); readings are primary");
    /* Primary: 11 kV line to line (6351 V phase), In 1000 A, Imax 2000 A; secondary
     * 63.5 V and 5 A (10 A at Imax). The IN channel has a CT of 200 too. */
    static const float ratios[7] = {100.0f, 100.0f, 100.0f, 200.0f, 200.0f, 200.0f, 200.0f};
    const double un_p = 11000.0 / SQRT3, in_p = 1000.0, imax_p = 2000.0;
    static const struct {
        double x, phi;
    } pts[3] = {{1.0, PHI_PF1}, {1.0, PHI_05L}, {0.1, PHI_PF1}};
    pw_params_t *p = calloc(1, sizeof(*p));
    prun_t *r = calloc(1, sizeof(*r));
    assert_non_null(p);
    assert_non_null(r);
    for (int k = 0; k < 3; k++) {
        popt_t o;
        pw_params_init(p, FS, F_REF);
        popt_default(&o, MC_WIRING_3P4W);
        o.neutral = 1;
        o.ratios = ratios;
        o.un = un_p;
        o.in = in_p;
        o.imax = imax_p;
        o.start_current = 0.0; /* the default: 0.001 In = 1 A primary */
        pw_balanced(p, un_p, pts[k].x * in_p, pts[k].phi, +1);
        pw_set(p, PW_I(1), 3, 0.2 * pts[k].x * in_p, 30.0); /* a neutral current */
        pw_layout(p, PW_LAYOUT_3P4W, 1, 0, 0, u_fs(un_p / 100.0), imax_p / 200.0 * SQRT2 * 1.5, BITS);
        for (int c = 0; c < 7; c++) {
            p->ch[c].ratio = ratios[c];
        }
        finish_params(p);
        run_poly(p, &o, r);
        char cond[56];
        snprintf(cond, sizeof cond, "primary %g In %s", pts[k].x, pf_name(pts[k].phi));
        check_run_sanity(WC_3P4WN, cond, r);
        check_energies(WC_3P4WN, cond, p, &o, r, pts[k].x, pts[k].phi);
        check_elements(WC_3P4WN, cond, p, &o, r, 0.05 * in_p, 1);
        check_line_voltages(WC_3P4WN, cond, p, &o, r);
        pw_mix_t sum;
        memset(&sum, 0, sizeof sum);
        sum.c[PW_I(1)] = sum.c[PW_I(2)] = sum.c[PW_I(3)] = 1.0;
        check_reading(WC_3P4WN, cond, "I neutral (meas)", r, Q_IN, 0, pw_mix_rms(p, &sum), "%", NEUTRAL_LIMIT);
    }
    free(r);
    free(p);
    end_test("ratios");
}

/* ------------------------------------------------------------------------ */
/* Summary                                                                  */

static double row_ratio(const crow_t *r)
{
    if (r->unit[0] == '\0') {
        return r->pass ? 0.0 : INFINITY;
    }
    if (!(r->limit > 0.0) || isinf(r->limit)) {
        return r->pass ? 0.0 : INFINITY;
    }
    return isfinite(r->err) ? fabs(r->err) / r->limit : INFINITY;
}

/* Worst share of limit per wiring and case (p_only: active-energy checks alone). */
static void print_matrix(int p_only)
{
    printf("%-8s", "wiring");
    for (int c = 0; c <= NCASES; c++) {
        printf(" %7s%d", "case", c);
    }
    printf("\n");
    for (int w = 0; w < WC_COUNT; w++) {
        printf("%-8s", wc_name[w]);
        for (int c = 0; c <= NCASES; c++) {
            double worst = -1.0;
            int bad = 0;
            for (size_t k = 0; k < g_nrows; k++) {
                if (g_rows[k].wc == w && g_rows[k].cs == c && (!p_only || g_rows[k].is_p)) {
                    worst = fmax(worst, row_ratio(&g_rows[k]));
                    bad += !g_rows[k].pass;
                }
            }
            if (worst < 0.0) {
                printf(" %8s", "-");
            } else if (bad) {
                printf(" %4dFAIL", bad);
            } else {
                printf(" %7.0f%%", 100.0 * worst);
            }
        }
        printf("\n");
    }
}

static int summary(void **state)
{
    (void)state;
    size_t fails = 0;
    double worst_p = 0.0;
    const crow_t *worst_p_row = NULL;
    for (size_t k = 0; k < g_nrows; k++) {
        fails += !g_rows[k].pass;
        if (g_rows[k].is_p) {
            const double q = row_ratio(&g_rows[k]);
            if (worst_p_row == NULL || q > worst_p) {
                worst_p = q;
                worst_p_row = &g_rows[k];
            }
        }
    }
    printf("\n== poly-phase accuracy summary: worst error per case, as a share of its limit ==\n");
    printf("(case 0 truth sanity; 1 0.2S grid; 2 single-phase loads; 3 sequence/missing/unbalance/harmonics; "
           "4 angles/delay; 5 neutral; 6 multi-circuit; 7 real-world on L2; 8 netting; 9 1P2W entry points; "
           "10 ratios; yes/no checks: 0 %% pass, FAIL)\n");
    print_matrix(0);
    printf("\nActive energy checks only (worst P error per case, share of its class limit):\n");
    print_matrix(1);
    printf("\nWorst check per wiring and case:\n");
    for (int w = 0; w < WC_COUNT; w++) {
        for (int c = 0; c <= NCASES; c++) {
            const crow_t *worst = NULL;
            double q = -1.0;
            size_t n = 0;
            for (size_t k = 0; k < g_nrows; k++) {
                if (g_rows[k].wc == w && g_rows[k].cs == c) {
                    n++;
                    const double x = row_ratio(&g_rows[k]);
                    if (x > q) {
                        q = x;
                        worst = &g_rows[k];
                    }
                }
            }
            if (worst == NULL) {
                continue;
            }
            if (worst->unit[0] == '\0' || isinf(worst->limit)) {
                printf("  %-7s case %-2d %4zu checks  worst: %s, %s: %s\n", wc_name[w], c, n, worst->cond, worst->qty,
                       worst->pass ? "pass" : "FAIL");
            } else {
                printf("  %-7s case %-2d %4zu checks  worst: %s, %s: %+.4f %s of +-%.3g (%.0f %% of limit) %s\n",
                       wc_name[w], c, n, worst->cond, worst->qty, worst->err, worst->unit, worst->limit,
                       100.0 * q, worst->pass ? "pass" : "FAIL");
            }
        }
    }
    if (fails) {
        printf("\nFailed checks:\n");
        for (size_t k = 0; k < g_nrows; k++) {
            if (!g_rows[k].pass) {
                print_row(&g_rows[k]);
            }
        }
    }
    if (g_dropped_rows) {
        printf("warning: %zu checks beyond the table's %d rows were not kept\n", g_dropped_rows, MAX_ROWS);
    }
    if (worst_p_row != NULL) {
        printf("worst P error: %s %s %s: %+.4f %% against +-%.2f %%\n", wc_name[worst_p_row->wc], worst_p_row->cond,
               worst_p_row->qty, worst_p_row->err, worst_p_row->limit);
    }
    printf("poly accuracy: %zu cases, %zu checks, worst P error %.0f %% of limit\n", g_runs, g_nrows + g_dropped_rows,
           100.0 * worst_p);
    fflush(stdout);
    return 0;
}

int main(void)
{
    const char *v = getenv("POLY_VERBOSE");
    g_verbose = v != NULL && v[0] != '\0' && v[0] != '0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truth_sanity),
        cmocka_unit_test(test_grid_3p4w),
        cmocka_unit_test(test_grid_3p4w_n),
        cmocka_unit_test(test_grid_1p3w),
        cmocka_unit_test(test_grid_3p3w),
        cmocka_unit_test(test_single_phase_loads),
        cmocka_unit_test(test_sequence_missing),
        cmocka_unit_test(test_unbalance_harmonics),
        cmocka_unit_test(test_angles_delay),
        cmocka_unit_test(test_neutral),
        cmocka_unit_test(test_multi),
        cmocka_unit_test(test_realworld_phase2),
        cmocka_unit_test(test_netting),
        cmocka_unit_test(test_1p2w_frames),
        cmocka_unit_test(test_1p2w_copy),
        cmocka_unit_test(test_ratios),
    };
    const char *filter = getenv("MC_TEST_FILTER");
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    return cmocka_run_group_tests_name("poly", tests, NULL, summary);
}
