/*
 * metersim: constant loads (--load), the built-in household day and sample synthesis;
 * the wirings, the small business of a poly-phase run, and the poly-phase output.
 * SPDX-License-Identifier: MIT
 */
#include "load.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metersim.h"

static const int order[MS_HARMONICS] = { 1, 3, 5, 7 };

int ms_load_parse(const char *spec, ms_wave_t *out, char *err, size_t errlen)
{
    double u = 230.0, i = 5.0, pf = 1.0, f = 50.0;
    int cap = 0;
    char buf[256];
    if (spec == NULL || strlen(spec) >= sizeof(buf) || *spec == '\0') {
        snprintf(err, errlen, "bad --load '%s' (e.g. U=230,I=5,PF=0.5L,F=50)", spec ? spec : "");
        return -1;
    }
    strcpy(buf, spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "bad --load item '%s' (KEY=VALUE with U, I, PF, F)", tok);
            return -1;
        }
        *eq = '\0';
        char *val = eq + 1;
        double x;
        if (strcmp(tok, "PF") == 0 || strcmp(tok, "pf") == 0) {
            size_t n = strlen(val);
            int suffix = 0;
            if (n > 0 && (val[n - 1] == 'L' || val[n - 1] == 'l' || val[n - 1] == 'C' || val[n - 1] == 'c')) {
                suffix = val[n - 1];
                val[n - 1] = '\0';
            }
            if (ms_parse_double(val, &x) != 0 || x < -1.0 || x > 1.0 || (x == 0.0 && suffix == 0)) {
                snprintf(err, errlen, "bad --load PF '%s' (-1..1 with L or C, e.g. 0.5L, -0.9C, 1)", eq + 1);
                return -1;
            }
            if (fabs(x) < 1.0 && suffix == 0) {
                snprintf(err, errlen, "bad --load PF '%s': say L (inductive) or C (capacitive)", eq + 1);
                return -1;
            }
            pf = x;
            cap = suffix == 'C' || suffix == 'c';
        } else if (ms_parse_double(val, &x) != 0) {
            snprintf(err, errlen, "bad --load value '%s=%s' (a number)", tok, val);
            return -1;
        } else if (strcmp(tok, "U") == 0 || strcmp(tok, "u") == 0) {
            if (x < 0.0 || x > 350.0) {
                snprintf(err, errlen, "bad --load U=%s (0..350 V)", val);
                return -1;
            }
            u = x;
        } else if (strcmp(tok, "I") == 0 || strcmp(tok, "i") == 0) {
            if (x < 0.0 || x > 70.0) {
                snprintf(err, errlen, "bad --load I=%s (0..70 A)", val);
                return -1;
            }
            i = x;
        } else if (strcmp(tok, "F") == 0 || strcmp(tok, "f") == 0) {
            if (x < 45.0 || x > 65.0) {
                snprintf(err, errlen, "bad --load F=%s (45..65 Hz)", val);
                return -1;
            }
            f = x;
        } else {
            snprintf(err, errlen, "bad --load key '%s' (U, I, PF, F)", tok);
            return -1;
        }
    }
    memset(out, 0, sizeof(*out));
    out->freq = f;
    out->u = u;
    out->i[0] = i;
    /* angle the current lags: import L 0..90, import C -90..0; export (P < 0): L in
     * quadrant III (Q < 0) 180..270, C in quadrant II (Q > 0) 90..180 */
    const double a = acos(fabs(pf)) * 180.0 / M_PI;
    if (pf >= 0.0) {
        out->lag_deg[0] = cap ? -a : a;
    } else {
        out->lag_deg[0] = cap ? 180.0 - a : 180.0 + a;
    }
    return 0;
}

/* One appliance: fundamental power and PF, harmonic content of its current. */
typedef struct appliance {
    double p;      /* W when on (negative: generation) */
    double lag;    /* fundamental lag, degrees */
    double h3, h5, h7; /* harmonic current / fundamental current */
} appliance_t;

/* Add an appliance's current phasors (at voltage u) into re/im per order. */
static void add(double re[], double im[], const appliance_t *a, double u, double scale)
{
    if (scale <= 0.0) {
        return;
    }
    const double lag = a->lag * M_PI / 180.0;
    const double i1 = fabs(a->p) * scale / (u * cos(lag));
    const double sign = a->p < 0.0 ? -1.0 : 1.0;
    const double frac[MS_HARMONICS] = { 1.0, a->h3, a->h5, a->h7 };
    for (int h = 0; h < MS_HARMONICS; h++) {
        /* harmonics of rectifier loads: at h times the fundamental's angle, plus 180° for the 3rd */
        const double ang = order[h] * lag + (h == 1 ? M_PI : 0.0);
        re[h] += sign * i1 * frac[h] * cos(ang);
        im[h] += sign * i1 * frac[h] * sin(ang);
    }
}

/* A small deterministic hash for day-to-day variety. */
static unsigned hash(unsigned x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static int between(unsigned m, unsigned from, unsigned to)
{
    return m >= from && m < to;
}

void ms_household(mc_time_t t, ms_wave_t *out)
{
    static const appliance_t standby = { 45.0, 25.0, 0.4, 0.2, 0.1 };   /* chargers, router */
    static const appliance_t fridge = { 110.0, 35.0, 0.05, 0.02, 0.0 }; /* compressor */
    static const appliance_t kettle = { 2000.0, 0.0, 0.0, 0.0, 0.0 };
    static const appliance_t toaster = { 900.0, 0.0, 0.0, 0.0, 0.0 };
    static const appliance_t washer = { 450.0, 40.0, 0.1, 0.05, 0.02 };
    static const appliance_t heater = { 2000.0, 0.0, 0.0, 0.0, 0.0 };   /* washer heating */
    static const appliance_t cooker = { 2500.0, 0.0, 0.0, 0.0, 0.0 };
    static const appliance_t heatpump = { 1200.0, 30.0, 0.08, 0.05, 0.03 };
    static const appliance_t tv = { 120.0, -18.0, 0.7, 0.45, 0.25 };   /* SMPS, capacitive */
    static const appliance_t lights = { 180.0, -10.0, 0.6, 0.35, 0.2 }; /* LED drivers */
    static const appliance_t pv = { -1.0, 180.0 - 180.0, 0.03, 0.02, 0.01 }; /* scaled below */

    const unsigned day = t / 86400u, m = (t % 86400u) / 60u; /* minute of the day */
    const unsigned r = hash(day);
    double re[MS_HARMONICS] = { 0 }, im[MS_HARMONICS] = { 0 };
    double pload = 0.0;
    const double u = 231.0;

#define ON(app, scale)                                                                                       \
    do {                                                                                                     \
        add(re, im, &(app), u, (scale));                                                                     \
        pload += (app).p * (scale);                                                                          \
    } while (0)

    ON(standby, 1.0);
    if ((m + (r & 31u)) % 40u < 14u) { /* fridge: 14 minutes in 40 */
        ON(fridge, 1.0);
    }
    const unsigned wake = 390u + (r % 45u); /* 06:30..07:15 */
    if (between(m, wake, wake + 3u)) {
        ON(kettle, 1.0);
    }
    if (between(m, wake + 5u, wake + 8u)) {
        ON(toaster, 1.0);
    }
    if (between(m, wake, wake + 60u) || between(m, 1080u, 1380u)) {
        ON(lights, 1.0);
    }
    if ((r >> 8) % 3u == 0u && between(m, 600u, 690u)) { /* washing day: 10:00..11:30 */
        ON(washer, 1.0);
        if (between(m, 605u, 625u)) {
            ON(heater, 1.0);
        }
    }
    if (between(m, 1110u, 1150u)) { /* 18:30..19:10 cooking */
        ON(cooker, (m % 6u) < 4u ? 1.0 : 0.4);
    }
    if (between(m, 1020u, 1320u) && (m % 20u) < 12u) { /* 17:00..22:00 heat pump cycling */
        ON(heatpump, 1.0);
    }
    if (between(m, 1170u, 1380u)) { /* 19:30..23:00 TV */
        ON(tv, 1.0);
    }
    /* a small PV roof: a bell 10:00..16:00 peaking at 13:00, up to 350..550 W depending on
     * the day, so that a little is exported around noon when the house is quiet */
    if (between(m, 600u, 960u)) {
        const double x = ((double)m - 780.0) / 180.0;
        const double peak = 350.0 + (double)(r % 200u);
        const double gen = floor(peak * cos(x * M_PI / 2.0) / 25.0) * 25.0; /* steps of 25 W */
        if (gen > 0.0) {
            appliance_t g = pv;
            g.p = -gen;
            add(re, im, &g, u, 1.0);
            pload -= gen;
        }
    }
#undef ON
    memset(out, 0, sizeof(*out));
    out->freq = 50.0;
    /* the voltage sags a little under load, rises with export */
    out->u = u - pload * 0.0012;
    out->u3 = out->u * 0.01;
    for (int h = 0; h < MS_HARMONICS; h++) {
        out->i[h] = hypot(re[h], im[h]) / 1.0;
        out->lag_deg[h] = atan2(im[h], re[h]) * 180.0 / M_PI;
    }
    /* phasors above are RMS currents at the lag angle: i(t) = √2·I·sin(hθ - lag) */
}

void ms_wave_fill(const ms_wave_t *w, double phase0_cycles, uint32_t fs, double u_scale, double i_scale,
                  int32_t *v, int32_t *i, size_t n)
{
    const double k2 = 2.0 * M_PI, r2 = sqrt(2.0);
    const double lim = 8388608.0;
    double lag[MS_HARMONICS];
    for (int h = 0; h < MS_HARMONICS; h++) {
        lag[h] = w->lag_deg[h] * M_PI / 180.0;
    }
    for (size_t k = 0; k < n; k++) {
        const double cyc = phase0_cycles + w->freq * (double)k / (double)fs;
        const double th = k2 * (cyc - floor(cyc));
        double x = r2 * (w->u * sin(th) + w->u3 * sin(3.0 * th)) / u_scale;
        double y = 0.0;
        for (int h = 0; h < MS_HARMONICS; h++) {
            if (w->i[h] != 0.0) {
                y += r2 * w->i[h] * sin(order[h] * th - lag[h]);
            }
        }
        y /= i_scale;
        x = x > lim ? lim : (x < -lim ? -lim : x);
        y = y > lim ? lim : (y < -lim ? -lim : y);
        v[k] = (int32_t)lrint(x);
        i[k] = (int32_t)lrint(y);
    }
}

double ms_wave_power(const ms_wave_t *w)
{
    double p = w->u * w->i[0] * cos(w->lag_deg[0] * M_PI / 180.0);
    p += w->u3 * w->i[1] * cos(w->lag_deg[1] * M_PI / 180.0);
    return p;
}

/* ---- wirings --------------------------------------------------------------------------------- */

void ms_wiring_default(ms_wiring_t *w)
{
    memset(w, 0, sizeof(*w));
    w->wiring = MC_WIRING_1P2W;
    w->netting = MC_NETTING_SUM;
    w->circuits = 1;
    w->voltages = 1;
}

int ms_wiring_parse(const char *spec, ms_wiring_t *w, char *err, size_t errlen)
{
    const mc_netting netting = w->netting;
    ms_wiring_default(w);
    w->netting = netting;
    if (spec == NULL) {
        spec = "";
    }
    if (strcmp(spec, "1p2w") == 0) {
        return 0;
    }
    if (strcmp(spec, "1p3w") == 0) {
        w->wiring = MC_WIRING_1P3W;
        w->circuits = 2;
        w->voltages = 2;
        return 0;
    }
    if (strcmp(spec, "3p4w") == 0) {
        w->wiring = MC_WIRING_3P4W;
        w->circuits = 3;
        w->voltages = 3;
        return 0;
    }
    if (strcmp(spec, "3p3w") == 0) {
        w->wiring = MC_WIRING_3P3W;
        w->circuits = 2;
        w->voltages = 2;
        return 0;
    }
    unsigned long n;
    if (strncmp(spec, "multi:", 6) == 0 && ms_parse_ulong(spec + 6, &n) == 0 && n >= 1 && n <= MC_MAX_CIRCUITS) {
        w->wiring = MC_WIRING_MULTI;
        w->circuits = (unsigned)n;
        w->voltages = 1;
        return 0;
    }
    snprintf(err, errlen, "bad --wiring '%s' (1p2w, 1p3w, 3p4w, 3p3w or multi:N with N 1..%u)", spec,
             MC_MAX_CIRCUITS);
    return -1;
}

int ms_netting_parse(const char *spec, mc_netting *out, char *err, size_t errlen)
{
    if (spec != NULL && strcmp(spec, "sum") == 0) {
        *out = MC_NETTING_SUM;
        return 0;
    }
    if (spec != NULL && strcmp(spec, "phase") == 0) {
        *out = MC_NETTING_PHASE;
        return 0;
    }
    snprintf(err, errlen, "bad --netting '%s' (sum or phase)", spec != NULL ? spec : "");
    return -1;
}

unsigned ms_wiring_channels(const ms_wiring_t *w)
{
    return w->voltages + w->circuits + (w->neutral ? 1u : 0u);
}

void ms_wiring_name(const ms_wiring_t *w, char *buf, size_t len)
{
    switch (w->wiring) {
    case MC_WIRING_1P3W: snprintf(buf, len, "1p3w"); break;
    case MC_WIRING_3P4W: snprintf(buf, len, "3p4w"); break;
    case MC_WIRING_3P3W: snprintf(buf, len, "3p3w"); break;
    case MC_WIRING_MULTI: snprintf(buf, len, "multi:%u", w->circuits); break;
    default: snprintf(buf, len, "1p2w"); break;
    }
}

void ms_wiring_layout(const ms_wiring_t *w, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
#define PUT(...)                                                                                     \
    do {                                                                                             \
        if (at < len) {                                                                              \
            int k_ = snprintf(buf + at, len - at, __VA_ARGS__);                                      \
            at += k_ > 0 ? (size_t)k_ : 0u;                                                          \
        }                                                                                            \
    } while (0)
    switch (w->wiring) {
    case MC_WIRING_1P3W: PUT("U1 U2 I1 I2"); break;
    case MC_WIRING_3P4W: PUT("U1 U2 U3 I1 I2 I3%s", w->neutral ? " IN" : ""); break;
    case MC_WIRING_3P3W: PUT("U12 U32 I1 I3"); break;
    case MC_WIRING_MULTI:
        PUT("%s", w->voltages == 3 ? "U1 U2 U3" : "U1");
        for (unsigned k = 1; k <= w->circuits; k++) {
            PUT(" I%u", k);
        }
        break;
    default: PUT("U I"); break;
    }
#undef PUT
}

int ms_wiring_fit(ms_wiring_t *w, unsigned channels, char *err, size_t errlen)
{
    char name[16];
    ms_wiring_name(w, name, sizeof(name));
    w->neutral = 0;
    switch (w->wiring) {
    case MC_WIRING_3P4W:
        if (channels == 6 || channels == 7) {
            w->neutral = channels == 7;
            return 0;
        }
        snprintf(err, errlen, "%u channels, but --wiring 3p4w needs 6 (U1 U2 U3 I1 I2 I3) or 7 (and IN)",
                 channels);
        return -1;
    case MC_WIRING_MULTI:
        if (channels == w->circuits + 1u || channels == w->circuits + 3u) {
            w->voltages = channels - w->circuits;
            return 0;
        }
        snprintf(err, errlen,
                 "%u channels, but --wiring %s needs %u (U1 I1..I%u) or %u (U1 U2 U3 I1..I%u)", channels, name,
                 w->circuits + 1u, w->circuits, w->circuits + 3u, w->circuits);
        return -1;
    default: {
        const unsigned want = ms_wiring_channels(w);
        if (channels == want) {
            return 0;
        }
        char layout[160];
        ms_wiring_layout(w, layout, sizeof(layout));
        snprintf(err, errlen, "%u channel%s, but --wiring %s needs %u (%s)", channels, channels == 1 ? "" : "s",
                 name, want, layout);
        return -1;
    }
    }
}

void ms_wiring_config(const ms_wiring_t *w, mc_meter_config_t *cfg, ms_meter_state_t *state)
{
    cfg->netting = w->netting;
    if (w->wiring == MC_WIRING_1P2W) {
        return; /* the single-phase meter: its state is built in */
    }
    memset(state, 0, sizeof(*state));
    cfg->wiring = w->wiring;
    cfg->voltages = (uint8_t)w->voltages;
    cfg->circuits = (uint8_t)w->circuits;
    cfg->neutral = (uint8_t)(w->neutral ? 1 : 0);
    if (w->wiring == MC_WIRING_MULTI) {
        for (unsigned k = 0; k < w->circuits; k++) {
            state->circuit_voltage[k] = (uint8_t)(w->voltages == 3 ? k % 3u : 0u);
        }
        cfg->circuit_voltage = state->circuit_voltage;
    }
    cfg->channel_state = state->ch;
    cfg->pair_state = state->pr;
    cfg->element_state = state->el;
}

/* ---- poly-phase synthesis ------------------------------------------------------------------ */

typedef double complex cplx;

/* Phasor of order h (index into order[]) of a wave at the phase angle alpha_deg of its
 * voltage: the household's convention i(t) = sqrt(2) I sin(h theta - lag) with theta the
 * phase's own angle theta0 + alpha. */
static cplx rot(double alpha_deg, int h)
{
    return cexp(I * (double)order[h] * alpha_deg * M_PI / 180.0);
}

static void frame_set(ms_frame_wave_t *out, unsigned ch, const cplx x[MS_HARMONICS])
{
    for (int h = 0; h < MS_HARMONICS; h++) {
        out->re[ch][h] = creal(x[h]);
        out->im[ch][h] = cimag(x[h]);
    }
}

/* A load's current phasors relative to its voltage at angle 0 (lag_deg per order). */
static void load_phasors(const ms_wave_t *load, cplx i[MS_HARMONICS])
{
    for (int h = 0; h < MS_HARMONICS; h++) {
        i[h] = load->i[h] * cexp(-I * load->lag_deg[h] * M_PI / 180.0);
    }
}

/* Three phases: voltage phasors v[k][h] and current phasors c[k][h] of phase k (absolute,
 * relative to U1's angle), into the wiring's frame. 3p3w: line voltages of the wye, the
 * currents of a three-wire system (their zero sequence cannot flow: removed). multi: the
 * three voltages and the circuits' currents cc[]. */
static void frame_three(const ms_wiring_t *w, double freq, cplx v[3][MS_HARMONICS], cplx c[3][MS_HARMONICS],
                        cplx cc[MC_MAX_CIRCUITS][MS_HARMONICS], ms_frame_wave_t *out)
{
    memset(out, 0, sizeof(*out));
    out->freq = freq;
    out->voltages = w->voltages;
    out->channels = ms_wiring_channels(w);
    if (w->wiring == MC_WIRING_3P4W) {
        for (unsigned k = 0; k < 3; k++) {
            frame_set(out, k, v[k]);
            frame_set(out, 3 + k, c[k]);
        }
        if (w->neutral) { /* IN with the sign of a return current */
            cplx n[MS_HARMONICS];
            for (int h = 0; h < MS_HARMONICS; h++) {
                n[h] = -(c[0][h] + c[1][h] + c[2][h]);
            }
            frame_set(out, 6, n);
        }
    } else if (w->wiring == MC_WIRING_3P3W) {
        cplx u12[MS_HARMONICS], u32[MS_HARMONICS], i1[MS_HARMONICS], i3[MS_HARMONICS];
        for (int h = 0; h < MS_HARMONICS; h++) {
            const cplx zero = (c[0][h] + c[1][h] + c[2][h]) / 3.0;
            u12[h] = v[0][h] - v[1][h];
            u32[h] = v[2][h] - v[1][h];
            i1[h] = c[0][h] - zero;
            i3[h] = c[2][h] - zero;
        }
        frame_set(out, 0, u12);
        frame_set(out, 1, u32);
        frame_set(out, 2, i1);
        frame_set(out, 3, i3);
    } else { /* multi */
        for (unsigned k = 0; k < w->voltages; k++) {
            frame_set(out, k, v[k]);
        }
        for (unsigned k = 0; k < w->circuits; k++) {
            frame_set(out, w->voltages + k, cc[k]);
        }
    }
}

void ms_frame_from_load(const ms_wave_t *load, const ms_wiring_t *w, ms_frame_wave_t *out)
{
    cplx il[MS_HARMONICS];
    load_phasors(load, il);
    if (w->wiring == MC_WIRING_1P2W || w->wiring == MC_WIRING_1P3W) {
        memset(out, 0, sizeof(*out));
        out->freq = load->freq;
        out->voltages = w->voltages;
        out->channels = ms_wiring_channels(w);
        const unsigned legs = w->wiring == MC_WIRING_1P3W ? 2u : 1u;
        for (unsigned k = 0; k < legs; k++) { /* leg 2 in antiphase: every order turned by 180 degrees */
            cplx v[MS_HARMONICS] = { 0 }, c[MS_HARMONICS];
            v[0] = load->u * rot(180.0 * k, 0);
            v[1] = load->u3 * rot(180.0 * k, 1);
            for (int h = 0; h < MS_HARMONICS; h++) {
                c[h] = il[h] * rot(180.0 * k, h);
            }
            frame_set(out, k, v);
            frame_set(out, legs + k, c);
        }
        return;
    }
    static const double alpha[3] = { 0.0, -120.0, 120.0 };
    cplx v[3][MS_HARMONICS], c[3][MS_HARMONICS], cc[MC_MAX_CIRCUITS][MS_HARMONICS];
    memset(v, 0, sizeof(v));
    for (unsigned k = 0; k < 3; k++) {
        v[k][0] = load->u * rot(alpha[k], 0);
        v[k][1] = load->u3 * rot(alpha[k], 1);
        for (int h = 0; h < MS_HARMONICS; h++) {
            c[k][h] = il[h] * rot(alpha[k], h);
        }
    }
    for (unsigned k = 0; k < w->circuits && w->wiring == MC_WIRING_MULTI; k++) {
        const unsigned ph = w->voltages == 3 ? k % 3u : 0u;
        memcpy(cc[k], c[ph], sizeof(cc[k]));
    }
    frame_three(w, load->freq, v, c, cc, out);
}

/* One load of the business: an appliance on a phase (0..2) or three-phase (-1, its power
 * shared equally by the phases). */
typedef struct biz_load {
    appliance_t a;
    int phase;
} biz_load_t;

/* A load's current phasors (order by order) at voltage u relative to its voltage. */
static void app_phasors(const appliance_t *a, double u, cplx out[MS_HARMONICS])
{
    double re[MS_HARMONICS] = { 0 }, im[MS_HARMONICS] = { 0 };
    add(re, im, a, u, 1.0);
    for (int h = 0; h < MS_HARMONICS; h++) {
        out[h] = re[h] - I * im[h]; /* add() gives lag angles: the phasor is at minus the lag */
    }
}

/* The small business, per wiring:
 * - 3p4w: phase voltages 231.0, 229.6, 232.1 V (sagging 1.2 V per kW on the phase, 1 % third
 *   harmonic) at 0, -120, +120 degrees; each phase carries its loads, the motor a third on each;
 * - 3p3w: the line voltages U12, U32 of that source; the phase currents less their zero
 *   sequence (a three-wire system carries none: the PCs' triplen harmonics and the
 *   imbalance's zero sequence have no path), I1 and I3 measured;
 * - 1p3w: legs of 121.0 and 120.4 V in antiphase; the motor a 240 V machine of half the power
 *   across both legs, L1's loads on leg 1, L2's and L3's on leg 2;
 * - multi:N on three voltages: each load (each third of the motor) on a circuit of its phase's
 *   voltage, chosen by the load (a phase without a circuit: its loads are not metered); on one
 *   voltage every load measured against U1. */
void ms_business(mc_time_t t, const ms_wiring_t *w, ms_frame_wave_t *out)
{
    /* the loads (p W when on, fundamental lag degrees, harmonic ratios 3, 5, 7) */
    static const appliance_t motor = { 7500.0, 31.788, 0.0, 0.04, 0.02 };   /* 7.5 kW, PF 0.85 */
    static const appliance_t lights = { 1500.0, -10.0, 0.6, 0.35, 0.2 };     /* LED drivers */
    static const appliance_t oven = { 3000.0, 0.0, 0.0, 0.0, 0.0 };
    static const appliance_t coffee = { 1200.0, 0.0, 0.0, 0.0, 0.0 };
    static const appliance_t pcs = { 900.0, -15.0, 0.8, 0.6, 0.4 };          /* SMPS, capacitive */
    static const appliance_t kettle = { 2000.0, 0.0, 0.0, 0.0, 0.0 };
    static const appliance_t fridge = { 350.0, 35.0, 0.05, 0.02, 0.0 };
    static const appliance_t emergency = { 60.0, -20.0, 0.5, 0.3, 0.15 };
    static const appliance_t server = { 150.0, -15.0, 0.7, 0.45, 0.25 };

    const unsigned day = t / 86400u, m = (t % 86400u) / 60u;
    const unsigned r = hash(day ^ 0x5a5au);
    const int open = (day + 5u) % 7u != 6u && m >= 450u && m < 1110u; /* 07:30..18:30, not Sunday */
    biz_load_t on[16];
    unsigned n = 0;
#define ON(app, ph) (on[n].a = (app), on[n].phase = (ph), n++)
    ON(server, 2);
    ON(emergency, 1);
    if ((m + (r & 31u)) % 40u < 14u) {
        ON(fridge, 0);
    }
    if (open) {
        if ((m + (r % 15u)) % 15u < 8u) { /* the motor cycles: 8 minutes on in 15 */
            ON(motor, -1);
        }
        ON(lights, 0);
        ON(pcs, 2);
        if (m >= 480u && m < 500u && m % 4u < 2u) { /* coffee 08:00..08:20 */
            ON(coffee, 1);
        }
        if (m >= 660u && m < 810u && m % 5u < 3u) { /* oven 11:00..13:30 on its thermostat */
            ON(oven, 1);
        }
        if ((m >= 600u && m < 603u) || (m >= 900u && m < 903u)) { /* kettle at 10:00 and 15:00 */
            ON(kettle, 2);
        }
    }
#undef ON
    /* power per phase (the three-phase motor a third on each) for the voltage sag */
    double pph[3] = { 0.0, 0.0, 0.0 };
    for (unsigned j = 0; j < n; j++) {
        for (int k = 0; k < 3; k++) {
            pph[k] += on[j].phase < 0 ? on[j].a.p / 3.0 : (on[j].phase == k ? on[j].a.p : 0.0);
        }
    }
    if (w->wiring == MC_WIRING_1P3W) {
        /* split phase 120/240 V: the motor is a 240 V machine of half the power across both
         * legs; L1's loads on leg 1, L2's and L3's on leg 2 */
        const double u0[2] = { 121.0 - 0.0008 * pph[0], 120.4 - 0.0008 * (pph[1] + pph[2]) };
        cplx v[2][MS_HARMONICS], c[2][MS_HARMONICS];
        memset(v, 0, sizeof(v));
        memset(c, 0, sizeof(c));
        for (unsigned k = 0; k < 2; k++) {
            v[k][0] = u0[k] * rot(180.0 * k, 0);
            v[k][1] = 0.01 * u0[k] * rot(180.0 * k, 1);
        }
        for (unsigned j = 0; j < n; j++) {
            cplx x[MS_HARMONICS];
            if (on[j].phase < 0) {
                appliance_t a = on[j].a;
                a.p *= 0.5;
                app_phasors(&a, 240.0, x); /* relative to U12 = U1 - U2, at U1's angle */
                for (int h = 0; h < MS_HARMONICS; h++) {
                    c[0][h] += x[h];
                    c[1][h] -= x[h];
                }
            } else {
                const unsigned leg = on[j].phase == 0 ? 0u : 1u;
                app_phasors(&on[j].a, 120.0, x);
                for (int h = 0; h < MS_HARMONICS; h++) {
                    c[leg][h] += x[h] * rot(180.0 * leg, h);
                }
            }
        }
        memset(out, 0, sizeof(*out));
        out->freq = 50.0;
        out->voltages = 2;
        out->channels = 4;
        for (unsigned k = 0; k < 2; k++) {
            frame_set(out, k, v[k]);
            frame_set(out, 2 + k, c[k]);
        }
        return;
    }
    static const double alpha[3] = { 0.0, -120.0, 120.0 };
    const double base[3] = { 231.0, 229.6, 232.1 }; /* a little unbalanced, sagging with load */
    cplx v[3][MS_HARMONICS], c[3][MS_HARMONICS], cc[MC_MAX_CIRCUITS][MS_HARMONICS];
    memset(v, 0, sizeof(v));
    memset(c, 0, sizeof(c));
    memset(cc, 0, sizeof(cc));
    for (unsigned k = 0; k < 3; k++) {
        const double u = base[k] - 0.0012 * pph[k];
        v[k][0] = u * rot(alpha[k], 0);
        v[k][1] = 0.01 * u * rot(alpha[k], 1);
    }
    for (unsigned j = 0; j < n; j++) {
        for (int k = 0; k < 3; k++) {
            if (on[j].phase >= 0 && on[j].phase != k) {
                continue;
            }
            appliance_t a = on[j].a;
            if (on[j].phase < 0) {
                a.p /= 3.0;
            }
            cplx x[MS_HARMONICS];
            app_phasors(&a, 230.0, x);
            for (int h = 0; h < MS_HARMONICS; h++) {
                c[k][h] += x[h] * rot(alpha[k], h);
            }
            if (w->wiring == MC_WIRING_MULTI) {
                /* a circuit on this phase's voltage, chosen by the load (none: not metered) */
                unsigned cand = 0;
                for (unsigned q = 0; q < w->circuits; q++) {
                    cand += (w->voltages == 3 ? q % 3u : 0u) == (w->voltages == 3 ? (unsigned)k : 0u);
                }
                if (cand == 0) {
                    continue;
                }
                const unsigned pick = j % cand;
                unsigned seen = 0;
                for (unsigned q = 0; q < w->circuits; q++) {
                    if ((w->voltages == 3 ? q % 3u : 0u) != (w->voltages == 3 ? (unsigned)k : 0u)) {
                        continue;
                    }
                    if (seen++ == pick) {
                        for (int h = 0; h < MS_HARMONICS; h++) {
                            /* one voltage: every load is measured against U1 */
                            cc[q][h] += x[h] * (w->voltages == 3 ? rot(alpha[k], h) : 1.0);
                        }
                        break;
                    }
                }
            }
        }
    }
    frame_three(w, 50.0, v, c, cc, out);
}

void ms_frame_no_current(ms_frame_wave_t *w)
{
    for (unsigned ch = w->voltages; ch < w->channels; ch++) {
        memset(w->re[ch], 0, sizeof(w->re[ch]));
        memset(w->im[ch], 0, sizeof(w->im[ch]));
    }
}

void ms_frame_fill(const ms_frame_wave_t *w, double phase0_cycles, uint32_t fs, double u_scale, double i_scale,
                   int32_t *frames, size_t n)
{
    const double k2 = 2.0 * M_PI, r2 = sqrt(2.0);
    const double lim = 8388608.0;
    const unsigned nch = w->channels;
    double gain[MC_MAX_CHANNELS];
    unsigned used[MC_MAX_CHANNELS]; /* highest order + 1 in use per channel */
    for (unsigned c = 0; c < nch; c++) {
        gain[c] = r2 / (c < w->voltages ? u_scale : i_scale);
        used[c] = 0;
        for (unsigned h = 0; h < MS_HARMONICS; h++) {
            if (w->re[c][h] != 0.0 || w->im[c][h] != 0.0) {
                used[c] = h + 1u;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        const double cyc = phase0_cycles + w->freq * (double)k / (double)fs;
        const double th = k2 * (cyc - floor(cyc));
        double sn[MS_HARMONICS], cs[MS_HARMONICS];
        for (int h = 0; h < MS_HARMONICS; h++) {
            sn[h] = sin(order[h] * th);
            cs[h] = cos(order[h] * th);
        }
        for (unsigned c = 0; c < nch; c++) {
            double x = 0.0; /* Im(X e^{j h theta}) */
            for (unsigned h = 0; h < used[c]; h++) {
                x += w->re[c][h] * sn[h] + w->im[c][h] * cs[h];
            }
            x *= gain[c];
            x = x > lim ? lim : (x < -lim ? -lim : x);
            frames[k * nch + c] = (int32_t)lrint(x);
        }
    }
}

/* ---- poly-phase output --------------------------------------------------------------------- */

#define WH(q) ((double)(q) / (double)MC_ENERGY_QUANTA_PER_WH)

int ms_poly_capture(const mc_meter_t *m, ms_poly_view_t *v)
{
    memset(v, 0, sizeof(*v));
    v->n = (unsigned)mc_meter_elements(&m->cfg);
    if (v->n > MC_MAX_CIRCUITS) {
        v->n = MC_MAX_CIRCUITS;
    }
    if (mc_meter_poly_reading(m, &v->poly) != MC_OK) {
        return -1;
    }
    for (unsigned k = 0; k < v->n; k++) {
        if (mc_meter_phase_reading(m, k, &v->ph[k]) != MC_OK) {
            return -1;
        }
    }
    return 0;
}

void ms_poly_energies(const mc_meter_t *m, ms_poly_view_t *v)
{
    for (unsigned k = 0; k < v->n; k++) {
        if (mc_meter_phase_energy(m, k, &v->e[k]) != MC_OK) {
            memset(&v->e[k], 0, sizeof(v->e[k]));
        }
    }
}

void ms_element_label(const ms_wiring_t *w, unsigned k, char *buf, size_t len)
{
    if (w->wiring == MC_WIRING_3P3W) {
        snprintf(buf, len, "%s", k == 0 ? "U12" : "U32");
    } else if (w->wiring == MC_WIRING_MULTI) {
        snprintf(buf, len, "C%u", k + 1u);
    } else {
        snprintf(buf, len, "L%u", k + 1u);
    }
}

/* Which poly-phase quantities a wiring has. */
static int has_ll(const ms_wiring_t *w, unsigned k)
{
    switch (w->wiring) {
    case MC_WIRING_1P3W: return k == 0; /* U12: the 240 V across both legs */
    case MC_WIRING_3P4W:
    case MC_WIRING_3P3W: return 1;
    case MC_WIRING_MULTI: return w->voltages == 3;
    default: return 0;
    }
}

static int three_phase_u(const ms_wiring_t *w)
{
    return w->wiring == MC_WIRING_3P4W || w->wiring == MC_WIRING_3P3W ||
           (w->wiring == MC_WIRING_MULTI && w->voltages == 3);
}

static int three_phase_i(const ms_wiring_t *w)
{
    return w->wiring == MC_WIRING_3P4W || w->wiring == MC_WIRING_3P3W;
}

static int has_neutral(const ms_wiring_t *w)
{
    return w->wiring == MC_WIRING_3P4W || w->wiring == MC_WIRING_1P3W;
}

static void json_num(FILE *f, const char *key, int have, double x)
{
    if (have) {
        fprintf(f, ",\"%s\":%.6f", key, x);
    } else {
        fprintf(f, ",\"%s\":null", key);
    }
}

void ms_poly_json(FILE *f, const ms_wiring_t *w, const ms_poly_view_t *v, double q_total)
{
    char name[16];
    ms_wiring_name(w, name, sizeof(name));
    fprintf(f, ",\"wiring\":\"%s\",\"netting\":\"%s\",\"q1\":%.6f,\"phases\":[", name,
            w->netting == MC_NETTING_PHASE ? "phase" : "sum", q_total);
    for (unsigned k = 0; k < v->n; k++) {
        const mc_phase_reading_t *p = &v->ph[k];
        const mc_energy_t *e = &v->e[k];
        fprintf(f,
                "%s{\"urms\":%.6f,\"irms\":%.6f,\"p\":%.6f,\"q\":%.6f,\"s\":%.6f,\"pf\":%.6f,"
                "\"u_angle_deg\":%.6f,\"i_angle_deg\":%.6f,\"quadrant\":%u,\"flags\":%u,"
                "\"active_import_wh\":%.9f,\"active_export_wh\":%.9f,"
                "\"reactive_import_varh\":%.9f,\"reactive_export_varh\":%.9f}",
                k > 0 ? "," : "", p->urms, p->irms, p->p, p->q, p->s, p->pf, p->u_angle_deg, p->i_angle_deg,
                (unsigned)p->quadrant, (unsigned)p->flags, WH(e->q[MC_E_ACTIVE_IMPORT]),
                WH(e->q[MC_E_ACTIVE_EXPORT]), WH(mc_energy_reactive_import(e)), WH(mc_energy_reactive_export(e)));
    }
    fprintf(f, "]");
    const mc_poly_reading_t *pp = &v->poly;
    json_num(f, "s_vector", 1, pp->s_vector);
    json_num(f, "u12", has_ll(w, 0), pp->u_ll[0]);
    json_num(f, "u23", has_ll(w, 1), pp->u_ll[1]);
    json_num(f, "u31", has_ll(w, 2), pp->u_ll[2]);
    if (pp->sequence == MC_SEQ_ABC || pp->sequence == MC_SEQ_ACB) {
        fprintf(f, ",\"sequence\":\"%s\"", pp->sequence == MC_SEQ_ABC ? "ABC" : "ACB");
    } else {
        fprintf(f, ",\"sequence\":null");
    }
    json_num(f, "u_unbalance_pct", three_phase_u(w), pp->u_unbalance_pct);
    json_num(f, "i_unbalance_pct", three_phase_i(w), pp->i_unbalance_pct);
    fprintf(f, ",\"missing_phases\":[");
    int first = 1;
    for (unsigned k = 0; k < 8; k++) {
        if (pp->missing & (1u << k)) {
            fprintf(f, "%s%u", first ? "" : ",", k + 1u);
            first = 0;
        }
    }
    fprintf(f, "]");
    json_num(f, "i_neutral", has_neutral(w), pp->i_neutral);
    json_num(f, "i_neutral_calc", has_neutral(w), pp->i_neutral_calc);
    json_num(f, "i_residual", w->neutral, pp->i_residual);
    fprintf(f, ",\"neutral_mismatch\":%s", (pp->flags & MC_POLY_NEUTRAL_MISMATCH) ? "true" : "false");
}

void ms_poly_text(FILE *f, const ms_wiring_t *w, const ms_poly_view_t *v)
{
    for (unsigned k = 0; k < v->n; k++) {
        const mc_phase_reading_t *p = &v->ph[k];
        const mc_energy_t *e = &v->e[k];
        char label[8];
        ms_element_label(w, k, label, sizeof(label));
        fprintf(f, "%-4s      U %.4f V  I %.5f A  P %.4f W  Q %.4f var  S %.4f VA  PF %.5f\n", label, p->urms,
                p->irms, p->p, p->q, p->s, p->pf);
        fprintf(f, "          angle U %.3f deg  I %.3f deg  import %.6f Wh  export %.6f Wh\n", p->u_angle_deg,
                p->i_angle_deg, WH(e->q[MC_E_ACTIVE_IMPORT]), WH(e->q[MC_E_ACTIVE_EXPORT]));
    }
    const mc_poly_reading_t *pp = &v->poly;
    fprintf(f, "system    S vector %.4f VA", pp->s_vector);
    static const char *const ll[3] = { "U12", "U23", "U31" };
    for (unsigned k = 0; k < 3; k++) {
        if (has_ll(w, k)) {
            fprintf(f, "  %s %.4f V", ll[k], pp->u_ll[k]);
        }
    }
    fprintf(f, "  sequence %s\n",
            pp->sequence == MC_SEQ_ABC ? "ABC" : (pp->sequence == MC_SEQ_ACB ? "ACB" : "none"));
    if (three_phase_u(w)) {
        fprintf(f, "balance   unbalance U %.4f %%", pp->u_unbalance_pct);
        if (three_phase_i(w)) {
            fprintf(f, "  I %.4f %%", pp->i_unbalance_pct);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "missing   ");
    if (pp->missing == 0) {
        fprintf(f, "none");
    }
    for (unsigned k = 0, first = 1; k < 8; k++) {
        if (pp->missing & (1u << k)) {
            fprintf(f, "%s%u", first ? "phase " : ", ", k + 1u);
            first = 0;
        }
    }
    fprintf(f, "\n");
    if (has_neutral(w)) {
        if (w->neutral) {
            fprintf(f, "neutral   IN %.5f A (measured)  calculated %.5f A  residual %.5f A  mismatch %s\n",
                    pp->i_neutral, pp->i_neutral_calc, pp->i_residual,
                    (pp->flags & MC_POLY_NEUTRAL_MISMATCH) ? "yes" : "no");
        } else {
            fprintf(f, "neutral   IN %.5f A (calculated, %s)\n", pp->i_neutral_calc,
                    w->wiring == MC_WIRING_1P3W ? "I1 + I2" : "I1 + I2 + I3");
        }
    }
}
