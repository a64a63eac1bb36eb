/*
 * Synthetic voltage/current waveforms with analytic truth; see waveform.h.
 * SPDX-License-Identifier: MIT
 */
#include "waveform.h"

#include <math.h>
#include <string.h>

#define WF_PI 3.14159265358979323846
#define WF_DEG (WF_PI / 180.0)

static void channel_clean(wf_channel_t *c, double full_scale, int bits)
{
    memset(c, 0, sizeof(*c));
    c->gain = 1.0;
    c->full_scale = full_scale;
    c->bits = bits;
}

void wf_params_sine(wf_params_t *p, double fs, double f, double u_rms, double i_rms,
                    double phi_deg, double u_full_scale, double i_full_scale, int bits)
{
    memset(p, 0, sizeof(*p));
    p->fs = fs;
    p->f0 = f;
    p->f1 = f;
    p->ramp_s = 0.0;
    p->theta0_deg = 0.0;
    p->seed = 1;
    channel_clean(&p->u, u_full_scale, bits);
    channel_clean(&p->i, i_full_scale, bits);
    p->u.rms[1] = u_rms;
    p->u.phase_deg[1] = 0.0;
    p->i.rms[1] = i_rms;
    p->i.phase_deg[1] = -phi_deg;
}

double wf_scale(const wf_channel_t *c)
{
    return c->full_scale / ldexp(1.0, c->bits - 1);
}

double wf_freq_at(const wf_params_t *p, double t)
{
    if (p->ramp_s <= 0.0 || t <= 0.0) {
        return p->f0;
    }
    if (t >= p->ramp_s) {
        return p->f1;
    }
    return p->f0 + (p->f1 - p->f0) * t / p->ramp_s;
}

double wf_theta(const wf_params_t *p, double t)
{
    /* 2 pi times the integral of f from 0 to t (f = f0 before 0). */
    double cycles;
    if (p->ramp_s <= 0.0 || t <= 0.0) {
        cycles = p->f0 * t;
    } else if (t < p->ramp_s) {
        cycles = p->f0 * t + 0.5 * (p->f1 - p->f0) * t * t / p->ramp_s;
    } else {
        cycles = 0.5 * (p->f0 + p->f1) * p->ramp_s + p->f1 * (t - p->ramp_s);
    }
    /* Reduce the whole cycles exactly before multiplying by 2 pi. */
    cycles -= floor(cycles);
    return 2.0 * WF_PI * cycles;
}

void wf_truth(const wf_params_t *p, wf_truth_t *t)
{
    double uu = 0.0, ii = 0.0, pp = 0.0;
    for (int h = 1; h <= WF_MAX_HARMONIC; h++) {
        const double uh = p->u.rms[h], ih = p->i.rms[h];
        uu += uh * uh;
        ii += ih * ih;
        pp += uh * ih * cos((p->u.phase_deg[h] - p->i.phase_deg[h]) * WF_DEG);
    }
    const double phi1 = p->u.phase_deg[1] - p->i.phase_deg[1];
    t->urms = sqrt(uu);
    t->irms = sqrt(ii);
    t->p = pp;
    t->q1 = p->u.rms[1] * p->i.rms[1] * sin(phi1 * WF_DEG);
    t->s = t->urms * t->irms;
    t->pf = t->s > 0.0 ? t->p / t->s : 1.0;
    t->phi1_deg = phi1;
}

/* xorshift64* (Vigna): 64-bit state, never zero. */
static uint64_t rng_next(wf_gen_t *g)
{
    uint64_t x = g->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in (0, 1]: 53 random bits, never 0 (log is then finite). */
static double rng_uniform(wf_gen_t *g)
{
    return ((double)(rng_next(g) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

double wf_gauss(wf_gen_t *g)
{
    if (g->have_spare) {
        g->have_spare = 0;
        return g->spare;
    }
    const double u1 = rng_uniform(g);
    const double u2 = rng_uniform(g);
    const double r = sqrt(-2.0 * log(u1));
    g->spare = r * sin(2.0 * WF_PI * u2);
    g->have_spare = 1;
    return r * cos(2.0 * WF_PI * u2);
}

void wf_init(wf_gen_t *g, const wf_params_t *p)
{
    memset(g, 0, sizeof(*g));
    g->p = *p;
    g->k = 0;
    /* splitmix64 of the seed, so that nearby seeds give unrelated streams. */
    uint64_t z = p->seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    g->rng = z != 0 ? z : 0x853C49E6748FEA9Bull;
    g->u_scale = wf_scale(&p->u);
    g->i_scale = wf_scale(&p->i);
}

static double channel_value(const wf_params_t *p, const wf_channel_t *c, double t)
{
    const double th = wf_theta(p, t - c->delay_s) + p->theta0_deg * WF_DEG;
    double x = 0.0;
    for (int h = 1; h <= WF_MAX_HARMONIC; h++) {
        if (c->rms[h] != 0.0) {
            double a = fmod((double)h * th + c->phase_deg[h] * WF_DEG, 2.0 * WF_PI);
            x += 1.4142135623730951 * c->rms[h] * sin(a);
        }
    }
    return c->gain * x;
}

void wf_value(const wf_params_t *p, uint64_t k, double *u, double *i)
{
    const double t = (double)k / p->fs;
    if (u != NULL) {
        *u = channel_value(p, &p->u, t) + p->u.dc;
    }
    if (i != NULL) {
        *i = channel_value(p, &p->i, t) + p->i.dc;
    }
}

static int32_t quantise(double x, double scale, int bits, long *clipped)
{
    const double hi = ldexp(1.0, bits - 1) - 1.0;
    const double lo = -ldexp(1.0, bits - 1);
    double c = round(x / scale);
    if (c > hi) {
        c = hi;
        (*clipped)++;
    } else if (c < lo) {
        c = lo;
        (*clipped)++;
    }
    return (int32_t)c;
}

void wf_fill(wf_gen_t *g, int32_t *v, int32_t *i, size_t n)
{
    const wf_params_t *p = &g->p;
    for (size_t k = 0; k < n; k++, g->k++) {
        double u, c;
        wf_value(p, g->k, &u, &c);
        /* Two deviates per sample, always drawn: the stream does not depend on the levels. */
        const double nu = wf_gauss(g);
        const double ni = wf_gauss(g);
        u += p->u.noise_rms * nu;
        c += p->i.noise_rms * ni;
        if (v != NULL) {
            v[k] = quantise(u, g->u_scale, p->u.bits, &g->clipped);
        }
        if (i != NULL) {
            i[k] = quantise(c, g->i_scale, p->i.bits, &g->clipped);
        }
    }
}
