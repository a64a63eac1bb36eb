/*
 * Multi-channel synthetic waveforms with an independent truth; see polywave.h.
 * SPDX-License-Identifier: MIT
 */
#include "polywave.h"

#include <math.h>
#include <string.h>

#define PW_PI 3.14159265358979323846
#define PW_DEG (PW_PI / 180.0)
#define PW_SQRT2 1.4142135623730951

void pw_params_init(pw_params_t *p, double fs, double f)
{
    memset(p, 0, sizeof(*p));
    p->fs = fs;
    p->f0 = f;
    p->f1 = f;
    p->seed = 1;
}

void pw_set(pw_params_t *p, int s, int h, double rms, double deg)
{
    if (s < 0 || s >= PW_MAX_SIGNALS || h < 1 || h > PW_MAX_HARMONIC) {
        return;
    }
    p->sig[s].rms[h] = rms;
    p->sig[s].phase_deg[h] = deg;
}

int pw_add_event(pw_params_t *p, int s, double t0, double t1, double level)
{
    if (s < 0 || s >= PW_MAX_SIGNALS || p->sig[s].nev >= PW_MAX_EVENTS) {
        return -1;
    }
    pw_event_t *e = &p->sig[s].ev[p->sig[s].nev++];
    e->t0 = t0;
    e->t1 = t1;
    e->level = level;
    return 0;
}

void pw_balanced(pw_params_t *p, double u_rms, double i_rms, double phi_deg, int seq)
{
    for (int k = 0; k < 3; k++) {
        /* ABC: 0, -120, +120 (= -240); ACB: 0, +120, -120. */
        const double a = -120.0 * k * (seq < 0 ? -1.0 : 1.0);
        pw_set(p, PW_U(k + 1), 1, u_rms, a);
        pw_set(p, PW_I(k + 1), 1, i_rms, a - phi_deg);
    }
}

pw_mix_t pw_mix1(int s)
{
    pw_mix_t m;
    memset(&m, 0, sizeof m);
    if (s >= 0 && s < PW_MAX_SIGNALS) {
        m.c[s] = 1.0;
    }
    return m;
}

pw_mix_t pw_mix_diff(int a, int b)
{
    pw_mix_t m = pw_mix1(a);
    if (b >= 0 && b < PW_MAX_SIGNALS) {
        m.c[b] -= 1.0;
    }
    return m;
}

static void channel_clean(pw_channel_t *c, pw_mix_t mix, double fs_peak, int bits)
{
    memset(c, 0, sizeof(*c));
    c->mix = mix;
    c->ratio = 1.0;
    c->gain = 1.0;
    c->full_scale = fs_peak;
    c->bits = bits;
}

int pw_layout(pw_params_t *p, pw_layout_kind kind, int neutral, int voltages, int circuits, double u_fs,
              double i_fs, int bits)
{
    int n = 0;
    switch (kind) {
    case PW_LAYOUT_1P2W:
        channel_clean(&p->ch[n++], pw_mix1(PW_U(1)), u_fs, bits);
        channel_clean(&p->ch[n++], pw_mix1(PW_I(1)), i_fs, bits);
        break;
    case PW_LAYOUT_1P3W:
        channel_clean(&p->ch[n++], pw_mix1(PW_U(1)), u_fs, bits);
        channel_clean(&p->ch[n++], pw_mix1(PW_U(2)), u_fs, bits);
        channel_clean(&p->ch[n++], pw_mix1(PW_I(1)), i_fs, bits);
        channel_clean(&p->ch[n++], pw_mix1(PW_I(2)), i_fs, bits);
        break;
    case PW_LAYOUT_3P4W:
        for (int k = 1; k <= 3; k++) {
            channel_clean(&p->ch[n++], pw_mix1(PW_U(k)), u_fs, bits);
        }
        for (int k = 1; k <= 3; k++) {
            channel_clean(&p->ch[n++], pw_mix1(PW_I(k)), i_fs, bits);
        }
        if (neutral) {
            pw_mix_t in;
            memset(&in, 0, sizeof in);
            in.c[PW_I(1)] = in.c[PW_I(2)] = in.c[PW_I(3)] = -1.0;
            channel_clean(&p->ch[n++], in, i_fs, bits);
        }
        break;
    case PW_LAYOUT_3P3W:
        channel_clean(&p->ch[n++], pw_mix_diff(PW_U(1), PW_U(2)), u_fs, bits);
        channel_clean(&p->ch[n++], pw_mix_diff(PW_U(3), PW_U(2)), u_fs, bits);
        channel_clean(&p->ch[n++], pw_mix1(PW_I(1)), i_fs, bits);
        channel_clean(&p->ch[n++], pw_mix1(PW_I(3)), i_fs, bits);
        break;
    case PW_LAYOUT_MULTI:
        if ((voltages != 1 && voltages != 3) || circuits < 1 || circuits > PW_NI) {
            return 0;
        }
        for (int k = 1; k <= voltages; k++) {
            channel_clean(&p->ch[n++], pw_mix1(PW_U(k)), u_fs, bits);
        }
        for (int k = 1; k <= circuits; k++) {
            channel_clean(&p->ch[n++], pw_mix1(PW_I(k)), i_fs, bits);
        }
        break;
    default:
        return 0;
    }
    p->nch = n;
    return n;
}

double pw_scale(const pw_channel_t *c)
{
    return c->full_scale / ldexp(1.0, c->bits - 1);
}

double pw_theta(const pw_params_t *p, double t)
{
    double cycles;
    if (p->ramp_s <= 0.0 || t <= 0.0) {
        cycles = p->f0 * t;
    } else if (t < p->ramp_s) {
        cycles = p->f0 * t + 0.5 * (p->f1 - p->f0) * t * t / p->ramp_s;
    } else {
        cycles = 0.5 * (p->f0 + p->f1) * p->ramp_s + p->f1 * (t - p->ramp_s);
    }
    cycles -= floor(cycles); /* whole cycles removed exactly before the multiplication */
    return 2.0 * PW_PI * cycles;
}

void pw_mix_phasor(const pw_params_t *p, const pw_mix_t *m, int h, double *re, double *im)
{
    double r = 0.0, i = 0.0;
    if (h >= 1 && h <= PW_MAX_HARMONIC) {
        for (int s = 0; s < PW_MAX_SIGNALS; s++) {
            const double c = m->c[s], x = p->sig[s].rms[h];
            if (c != 0.0 && x != 0.0) {
                r += c * x * cos(p->sig[s].phase_deg[h] * PW_DEG);
                i += c * x * sin(p->sig[s].phase_deg[h] * PW_DEG);
            }
        }
    }
    *re = r;
    *im = i;
}

double pw_mix_rms(const pw_params_t *p, const pw_mix_t *m)
{
    double sum = 0.0;
    for (int h = 1; h <= PW_MAX_HARMONIC; h++) {
        double re, im;
        pw_mix_phasor(p, m, h, &re, &im);
        sum += re * re + im * im;
    }
    return sqrt(sum);
}

double pw_wrap_deg(double a)
{
    a = fmod(a, 360.0);
    if (a <= -180.0) {
        a += 360.0;
    } else if (a > 180.0) {
        a -= 360.0;
    }
    return a;
}

double pw_angle_deg(const pw_params_t *p, const pw_mix_t *m, const pw_mix_t *ref)
{
    double mr, mi, rr, ri;
    pw_mix_phasor(p, m, 1, &mr, &mi);
    pw_mix_phasor(p, ref, 1, &rr, &ri);
    return pw_wrap_deg((atan2(mi, mr) - atan2(ri, rr)) / PW_DEG);
}

void pw_element_truth(const pw_params_t *p, const pw_mix_t *u, const pw_mix_t *i, const pw_mix_t *ref,
                      pw_etruth_t *t)
{
    double pp = 0.0;
    for (int h = 1; h <= PW_MAX_HARMONIC; h++) {
        double ur, ui, ir, ii;
        pw_mix_phasor(p, u, h, &ur, &ui);
        pw_mix_phasor(p, i, h, &ir, &ii);
        pp += ur * ir + ui * ii; /* Re(U conj(I)) */
        if (h == 1) {
            t->q1 = ui * ir - ur * ii; /* Im(U conj(I)): > 0 when I lags */
        }
    }
    t->urms = pw_mix_rms(p, u);
    t->irms = pw_mix_rms(p, i);
    t->p = pp;
    t->s = t->urms * t->irms;
    t->pf = t->s > 0.0 ? pp / t->s : 1.0;
    t->u_angle_deg = pw_angle_deg(p, u, ref);
    t->i_angle_deg = pw_angle_deg(p, i, ref);
}

double pw_unbalance_pct(const pw_params_t *p, const pw_mix_t *a, const pw_mix_t *b, const pw_mix_t *c, int *seq)
{
    double ar, ai, br, bi, cr, ci;
    pw_mix_phasor(p, a, 1, &ar, &ai);
    pw_mix_phasor(p, b, 1, &br, &bi);
    pw_mix_phasor(p, c, 1, &cr, &ci);
    /* a = e^{j120}, a^2 = e^{-j120} */
    const double c120 = -0.5, s120 = 0.8660254037844386;
    /* a*B and a^2*B */
    const double abr = c120 * br - s120 * bi, abi = s120 * br + c120 * bi;
    const double a2br = c120 * br + s120 * bi, a2bi = -s120 * br + c120 * bi;
    const double acr = c120 * cr - s120 * ci, aci = s120 * cr + c120 * ci;
    const double a2cr = c120 * cr + s120 * ci, a2ci = -s120 * cr + c120 * ci;
    const double v1r = (ar + abr + a2cr) / 3.0, v1i = (ai + abi + a2ci) / 3.0;
    const double v2r = (ar + a2br + acr) / 3.0, v2i = (ai + a2bi + aci) / 3.0;
    const double m1 = hypot(v1r, v1i), m2 = hypot(v2r, v2i);
    if (seq != NULL) {
        *seq = m1 == 0.0 && m2 == 0.0 ? 0 : (m1 >= m2 ? 1 : -1);
    }
    if (m1 == 0.0 && m2 == 0.0) {
        return 0.0;
    }
    return m1 >= m2 ? 100.0 * m2 / m1 : 100.0 * m1 / m2;
}

static double amplitude(const pw_signal_t *s, double t)
{
    double a = 1.0;
    for (int k = 0; k < s->nev; k++) {
        if (t >= s->ev[k].t0 && t < s->ev[k].t1) {
            a = s->ev[k].level;
        }
    }
    return a;
}

/* A signal at mains angle th (radians, theta0 included) and time t (for its events). */
static double signal_value(const pw_signal_t *s, double th, double t)
{
    double x = 0.0;
    for (int h = 1; h <= PW_MAX_HARMONIC; h++) {
        if (s->rms[h] != 0.0) {
            const double a = fmod((double)h * th + s->phase_deg[h] * PW_DEG, 2.0 * PW_PI);
            x += PW_SQRT2 * s->rms[h] * sin(a);
        }
    }
    return s->nev > 0 ? amplitude(s, t) * x : x;
}

double pw_mix_value(const pw_params_t *p, const pw_mix_t *m, double t)
{
    const double th = pw_theta(p, t) + p->theta0_deg * PW_DEG;
    double x = 0.0;
    for (int s = 0; s < PW_MAX_SIGNALS; s++) {
        if (m->c[s] != 0.0) {
            x += m->c[s] * signal_value(&p->sig[s], th, t);
        }
    }
    return x;
}

/* 8-point Gauss-Legendre nodes and weights on [-1, 1]. */
static const double gl_x[8] = {-0.9602898564975363, -0.7966664774136267, -0.5255324099163290,
                               -0.1834346424956498, 0.1834346424956498,  0.5255324099163290,
                               0.7966664774136267,  0.9602898564975363};
static const double gl_w[8] = {0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
                               0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763};

static double gl_segment(const pw_params_t *p, const pw_mix_t *a, const pw_mix_t *b, double t0, double t1)
{
    const double c = 0.5 * (t0 + t1), h = 0.5 * (t1 - t0);
    double sum = 0.0;
    for (int k = 0; k < 8; k++) {
        const double t = c + h * gl_x[k];
        sum += gl_w[k] * pw_mix_value(p, a, t) * pw_mix_value(p, b, t);
    }
    return h * sum;
}

double pw_integral(const pw_params_t *p, const pw_mix_t *a, const pw_mix_t *b, double t0, double t1)
{
    if (!(t1 > t0)) {
        return 0.0;
    }
    /* Break points: the event edges of every signal either mix uses, inside (t0, t1). */
    double bp[2 * PW_MAX_SIGNALS * PW_MAX_EVENTS + 2];
    size_t nbp = 0;
    bp[nbp++] = t0;
    for (int s = 0; s < PW_MAX_SIGNALS; s++) {
        if (a->c[s] == 0.0 && b->c[s] == 0.0) {
            continue;
        }
        for (int k = 0; k < p->sig[s].nev; k++) {
            const double e[2] = {p->sig[s].ev[k].t0, p->sig[s].ev[k].t1};
            for (int j = 0; j < 2; j++) {
                if (e[j] > t0 && e[j] < t1) {
                    bp[nbp++] = e[j];
                }
            }
        }
    }
    bp[nbp++] = t1;
    /* Insertion sort (a handful of points). */
    for (size_t i = 1; i < nbp; i++) {
        const double x = bp[i];
        size_t j = i;
        while (j > 0 && bp[j - 1] > x) {
            bp[j] = bp[j - 1];
            j--;
        }
        bp[j] = x;
    }
    const double step = 0.5 / p->fs;
    double total = 0.0;
    for (size_t i = 0; i + 1 < nbp; i++) {
        const double lo = bp[i], hi = bp[i + 1];
        if (!(hi > lo)) {
            continue;
        }
        const double n = ceil((hi - lo) / step);
        const long nseg = n < 1.0 ? 1 : (long)n;
        const double d = (hi - lo) / (double)nseg;
        for (long k = 0; k < nseg; k++) {
            const double s0 = lo + d * (double)k;
            const double s1 = k + 1 == nseg ? hi : lo + d * (double)(k + 1);
            total += gl_segment(p, a, b, s0, s1);
        }
    }
    return total;
}

/* xorshift64* (Vigna). */
static uint64_t rng_next(pw_gen_t *g)
{
    uint64_t x = g->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double rng_uniform(pw_gen_t *g)
{
    return ((double)(rng_next(g) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

static double gauss(pw_gen_t *g)
{
    if (g->have_spare) {
        g->have_spare = 0;
        return g->spare;
    }
    const double u1 = rng_uniform(g), u2 = rng_uniform(g);
    const double r = sqrt(-2.0 * log(u1));
    g->spare = r * sin(2.0 * PW_PI * u2);
    g->have_spare = 1;
    return r * cos(2.0 * PW_PI * u2);
}

void pw_init(pw_gen_t *g, const pw_params_t *p)
{
    memset(g, 0, sizeof(*g));
    g->p = *p;
    uint64_t z = p->seed + 0x9E3779B97F4A7C15ull; /* splitmix64 of the seed */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    g->rng = z != 0 ? z : 0x853C49E6748FEA9Bull;
    for (int c = 0; c < p->nch && c < PW_MAX_CHANNELS; c++) {
        g->scale[c] = pw_scale(&p->ch[c]);
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

void pw_fill(pw_gen_t *g, int32_t *frames, size_t n)
{
    const pw_params_t *p = &g->p;
    const int nch = p->nch;
    double sv[PW_MAX_SIGNALS];
    for (size_t k = 0; k < n; k++, g->k++) {
        const double t = (double)g->k / p->fs;
        const double th = pw_theta(p, t) + p->theta0_deg * PW_DEG;
        int have[PW_MAX_SIGNALS] = {0};
        for (int c = 0; c < nch; c++) {
            const pw_channel_t *ch = &p->ch[c];
            double x = 0.0;
            if (ch->delay_s == 0.0) {
                /* Undelayed channels share the signals' values of this instant. */
                for (int s = 0; s < PW_MAX_SIGNALS; s++) {
                    if (ch->mix.c[s] != 0.0) {
                        if (!have[s]) {
                            sv[s] = signal_value(&p->sig[s], th, t);
                            have[s] = 1;
                        }
                        x += ch->mix.c[s] * sv[s];
                    }
                }
            } else {
                x = pw_mix_value(p, &ch->mix, t - ch->delay_s);
            }
            const double ratio = ch->ratio > 0.0 ? ch->ratio : 1.0;
            const double nz = gauss(g); /* always drawn */
            x = ch->gain * x / ratio + ch->dc + ch->noise_rms * nz;
            frames[k * (size_t)nch + (size_t)c] = quantise(x, g->scale[c], ch->bits, &g->clipped);
        }
    }
}
