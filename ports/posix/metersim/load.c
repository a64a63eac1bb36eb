/*
 * metersim: constant loads (--load), the built-in household day and sample synthesis.
 * SPDX-License-Identifier: MIT
 */
#include "load.h"

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
