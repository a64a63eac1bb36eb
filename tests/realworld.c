/*
 * Real-world waveforms in continuous time and their truth by quadrature; see
 * realworld.h for the model.
 * SPDX-License-Identifier: MIT
 *
 * How the truth is computed. Time is cut at every half-sample instant
 * b_k = (k - 1/2)/fs and sample instant k/fs, and further at every switching
 * instant of the model (load angles, notch corners, phase jumps, amplitude and
 * load steps, frequency knots, interharmonic on/off): inside each piece every
 * signal is smooth (sinusoids, products of them, straight lines). On each piece
 * the unfiltered signals x are evaluated at RW_GL Gauss-Legendre nodes. The
 * anti-alias filter, a Butterworth low-pass of order N, is split into partial
 * fractions, H(s) = sum_k r_k / (s - p_k) (distinct poles p_k), so its output is
 * y = sum_k y_k with dy_k/dt = p_k y_k + r_k x, each advanced exactly for the
 * input's interpolant through the nodes:
 *
 *   y_k(s) = e^{p_k (s-a)} y_k(a) + r_k int_a^s e^{p_k (s-u)} x(u) du,
 *
 * the integral of the exponential against each Lagrange basis polynomial being
 * computed once per piece length (16-point Gauss-Legendre, exact to rounding for
 * a polynomial times an exponential). Poles come in conjugate pairs, so only
 * one of each pair is carried and y = 2 Re sum. Products and squares of x and y
 * are then integrated with the same nodes (degree 2*RW_GL-1 exact). Inside a
 * piece x is a few sinusoids of at most some hundred hertz (every switching
 * instant is a piece boundary) over at most half a sample period, so the
 * interpolation error is far below 1e-9 and so is the quadrature's.
 */
#include "realworld.h"

#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RW_PI 3.14159265358979323846
#define RW_SQRT2 1.4142135623730951
#define RW_Q 16 /* nodes of the kernel quadrature */

/* ------------------------------------------------------------------------ */
/* Source and load                                                          */

void rw_model_init(rw_model_t *m, double fs, double f, double un, int bits, double u_fs, double i_fs,
                   double seconds)
{
    memset(m, 0, sizeof(*m));
    m->src.un = un;
    m->src.nfseg = 1;
    m->src.fseg[0].t = 0.0;
    m->src.fseg[0].f = f;
    m->src.notch_t_on = -1e9;
    m->src.notch_t_off = 1e9;
    m->load.kind = RW_LOAD_NONE;
    m->load.level0 = 1.0;
    m->adc.fs = fs;
    m->adc.bits = bits;
    m->adc.u_full_scale = u_fs;
    m->adc.i_full_scale = i_fs;
    m->adc.f_cal = f;
    m->adc.seed = 1;
    m->seconds = seconds;
}

/* Segment k of the frequency law holding at t, and C at its start. */
static int fseg_at(const rw_source_t *s, double t, double *c_start)
{
    double c = 0.0;
    for (int k = 0; k < s->nfseg; k++) {
        const double te = k + 1 < s->nfseg ? s->fseg[k + 1].t : INFINITY;
        if (t < te || k + 1 == s->nfseg) {
            *c_start = c;
            return k;
        }
        const double u = te - s->fseg[k].t;
        c += s->fseg[k].f * u + 0.5 * s->fseg[k].rate * u * u;
    }
    *c_start = c;
    return 0;
}

double rw_cycles(const rw_source_t *s, double t)
{
    double c;
    const int k = fseg_at(s, t, &c);
    const double u = t - s->fseg[k].t;
    return c + s->fseg[k].f * u + 0.5 * s->fseg[k].rate * u * u;
}

double rw_freq(const rw_source_t *s, double t)
{
    double c;
    const int k = fseg_at(s, t, &c);
    return s->fseg[k].f + s->fseg[k].rate * (t - s->fseg[k].t);
}

/* theta0 and the jumps made at or before t, in cycles. */
static double phase_offset(const rw_source_t *s, double t)
{
    double o = s->theta0_deg / 360.0;
    for (int j = 0; j < s->njump; j++) {
        if (s->jump[j].t <= t) {
            o += s->jump[j].deg / 360.0;
        }
    }
    return o;
}

double rw_phase(const rw_source_t *s, double t)
{
    return rw_cycles(s, t) + phase_offset(s, t);
}

double rw_amplitude(const rw_source_t *s, double t)
{
    double a = 1.0;
    for (int k = 0; k < s->namp; k++) {
        if (t >= s->amp[k].t0 && t < s->amp[k].t1) {
            a *= s->amp[k].level;
        }
    }
    return a;
}

double rw_level(const rw_load_t *l, double t)
{
    double lv = l->level0;
    for (int k = 0; k < l->nstep; k++) {
        if (l->step[k].t <= t) {
            lv = l->step[k].level;
        }
    }
    return lv;
}

/* x reduced into [0, p). */
static double wrap(double x, double p)
{
    double r = fmod(x, p);
    return r < 0.0 ? r + p : r;
}

void rw_eval(const rw_model_t *m, double t, double *v, double *i)
{
    const rw_source_t *s = &m->src;
    const rw_load_t *l = &m->load;
    const double ph = rw_phase(s, t);
    const double cyc = floor(ph);
    const double fr = ph - cyc;           /* [0, 1) */
    const double th = 2.0 * RW_PI * fr;   /* angle, rad */
    const double deg = 360.0 * fr;
    const double a = rw_amplitude(s, t);
    const double upk = RW_SQRT2 * s->un;

    double vs = sin(th);
    for (int h = 0; h < s->nharm; h++) {
        vs += s->harm[h].frac * sin(wrap((double)s->harm[h].order * th + s->harm[h].deg * RW_PI / 180.0, 2.0 * RW_PI));
    }
    vs *= a * upk;
    for (int k = 0; k < s->nih; k++) {
        const rw_ih_t *q = &s->ih[k];
        if (t >= q->t_on && t < q->t_off) {
            vs += upk * q->frac * sin(2.0 * RW_PI * wrap(q->f * t + q->deg / 360.0, 1.0));
        }
    }
    if (s->notch_width_deg > 0.0 && t >= s->notch_t_on && t < s->notch_t_off) {
        const double w = s->notch_width_deg;
        for (int hc = 0; hc < 2; hc++) {
            const double d = wrap(deg - (s->notch_after_deg + 180.0 * hc), 360.0);
            if (d < w) {
                const double tri = 1.0 - fabs(d - 0.5 * w) / (0.5 * w);
                vs -= (hc == 0 ? 1.0 : -1.0) * s->notch_depth * upk * a * tri;
            }
        }
    }

    double cur = 0.0;
    const double base = a * rw_level(l, t) * l->i_pk;
    const double half_deg = wrap(deg, 180.0);
    switch (l->kind) {
    case RW_LOAD_LINEAR:
        cur = base * sin(th - l->phi_deg * RW_PI / 180.0);
        break;
    case RW_LOAD_HALFWAVE:
        cur = fr < 0.5 ? base * sin(th) : 0.0;
        break;
    case RW_LOAD_LEADING:
        cur = half_deg >= l->angle_deg ? base * sin(th) : 0.0;
        break;
    case RW_LOAD_TRAILING:
        cur = half_deg < l->angle_deg ? base * sin(th) : 0.0;
        break;
    case RW_LOAD_BURST: {
        const double p = (double)(l->period_cycles > 0 ? l->period_cycles : 1);
        cur = wrap(cyc, p) < (double)l->on_cycles ? base * sin(th) : 0.0;
        break;
    }
    case RW_LOAD_ALT_HALFWAVE: {
        const int even = wrap(cyc, 2.0) < 1.0;
        cur = (even ? fr < 0.5 : fr >= 0.5) ? base * sin(th) : 0.0;
        break;
    }
    case RW_LOAD_SMPS:
        for (int hc = 0; hc < 2; hc++) {
            const double d = wrap(deg - (l->angle_deg + 180.0 * hc) + 180.0, 360.0) - 180.0;
            if (fabs(d) < l->width_deg) {
                const double c = cos(0.5 * RW_PI * d / l->width_deg);
                cur += (hc == 0 ? 1.0 : -1.0) * base * c * c;
            }
        }
        break;
    default:
        break;
    }
    if (v != NULL) {
        *v = vs - s->z_ohm * cur;
    }
    if (i != NULL) {
        *i = cur;
    }
}

double rw_peak_for_rms(const rw_load_t *l, double irms)
{
    const double d2r = RW_PI / 180.0;
    double k2; /* (rms / peak)^2 */
    switch (l->kind) {
    case RW_LOAD_HALFWAVE:
    case RW_LOAD_ALT_HALFWAVE:
        k2 = 0.25;
        break;
    case RW_LOAD_LEADING: {
        const double al = l->angle_deg * d2r;
        k2 = (RW_PI - al + 0.5 * sin(2.0 * al)) / (2.0 * RW_PI);
        break;
    }
    case RW_LOAD_TRAILING: {
        const double b = l->angle_deg * d2r;
        k2 = (b - 0.5 * sin(2.0 * b)) / (2.0 * RW_PI);
        break;
    }
    case RW_LOAD_BURST:
        k2 = 0.5 * (double)l->on_cycles / (double)(l->period_cycles > 0 ? l->period_cycles : 1);
        break;
    case RW_LOAD_SMPS:
        k2 = 3.0 * l->width_deg * d2r / (4.0 * RW_PI);
        break;
    default:
        k2 = 0.5;
        break;
    }
    return irms / sqrt(k2);
}

/* ------------------------------------------------------------------------ */
/* Switching instants                                                       */

typedef struct dvec {
    double *p;
    size_t n, cap;
} rwvec_t;

static int dvec_push(rwvec_t *d, double x)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 256;
        double *p = realloc(d->p, cap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        d->p = p;
        d->cap = cap;
    }
    d->p[d->n++] = x;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Instants where the phase law changes form (frequency knots, jumps) in (lo, hi), sorted. */
static int phase_knots(const rw_source_t *s, double lo, double hi, rwvec_t *out)
{
    for (int k = 1; k < s->nfseg; k++) {
        if (s->fseg[k].t > lo && s->fseg[k].t < hi && dvec_push(out, s->fseg[k].t) != 0) {
            return -1;
        }
    }
    for (int j = 0; j < s->njump; j++) {
        if (s->jump[j].t > lo && s->jump[j].t < hi && dvec_push(out, s->jump[j].t) != 0) {
            return -1;
        }
    }
    if (out->n > 1) {
        qsort(out->p, out->n, sizeof(double), cmp_double);
    }
    return 0;
}

/* The t in [a, b) with C(t) = target, inside one frequency segment (f > 0). */
static double solve_cycles(const rw_source_t *s, double a, double target)
{
    double c0;
    const int k = fseg_at(s, a, &c0);
    const double f = s->fseg[k].f, r = s->fseg[k].rate;
    const double d = target - c0;
    double u;
    if (r == 0.0) {
        u = d / f;
    } else {
        const double disc = f * f + 2.0 * r * d;
        u = 2.0 * d / (f + sqrt(disc > 0.0 ? disc : 0.0));
    }
    return s->fseg[k].t + u;
}

/*
 * Every t in [lo, hi) where the source angle passes frac (cycles, [0, 1))
 * upwards within a smooth stretch of the phase law (jump instants themselves are
 * not reported here).
 */
static int angle_instants(const rw_source_t *s, double lo, double hi, double frac, rwvec_t *out)
{
    rwvec_t kn = {0};
    if (phase_knots(s, lo, hi, &kn) != 0) {
        free(kn.p);
        return -1;
    }
    double a = lo;
    for (size_t q = 0; q <= kn.n; q++) {
        const double b = q < kn.n ? kn.p[q] : hi;
        if (b > a) {
            const double off = phase_offset(s, a);
            const double pa = rw_cycles(s, a) + off;
            const double pb = rw_cycles(s, b) + off; /* left limit at b */
            for (double mm = ceil(pa - frac); mm + frac < pb; mm += 1.0) {
                const double t = solve_cycles(s, a, mm + frac - off);
                if (t >= a && t < b && dvec_push(out, t) != 0) {
                    free(kn.p);
                    return -1;
                }
            }
        }
        a = b;
    }
    free(kn.p);
    return 0;
}

double rw_time_at_angle(const rw_source_t *s, double t_after, double deg)
{
    rwvec_t d = {0};
    double t = NAN;
    /* Look a few cycles ahead (the frequency is at least 40 Hz in every model). */
    if (angle_instants(s, t_after, t_after + 0.1, wrap(deg, 360.0) / 360.0, &d) == 0 && d.n > 0) {
        qsort(d.p, d.n, sizeof(double), cmp_double);
        t = d.p[0];
    }
    free(d.p);
    return t;
}

/* All switching instants of the model in (lo, hi), sorted, duplicates merged. */
static int switching_instants(const rw_model_t *m, double lo, double hi, rwvec_t *out)
{
    const rw_source_t *s = &m->src;
    const rw_load_t *l = &m->load;
    double ang[16];
    int na = 0;
    switch (l->kind) {
    case RW_LOAD_HALFWAVE:
    case RW_LOAD_ALT_HALFWAVE:
    case RW_LOAD_BURST:
        ang[na++] = 0.0;
        ang[na++] = 180.0;
        break;
    case RW_LOAD_LEADING:
    case RW_LOAD_TRAILING:
        ang[na++] = 0.0;
        ang[na++] = 180.0;
        ang[na++] = l->angle_deg;
        ang[na++] = 180.0 + l->angle_deg;
        break;
    case RW_LOAD_SMPS:
        for (int hc = 0; hc < 2; hc++) {
            ang[na++] = l->angle_deg + 180.0 * hc - l->width_deg;
            ang[na++] = l->angle_deg + 180.0 * hc + l->width_deg;
        }
        break;
    default:
        break;
    }
    if (s->notch_width_deg > 0.0) {
        for (int hc = 0; hc < 2; hc++) {
            ang[na++] = s->notch_after_deg + 180.0 * hc;
            ang[na++] = s->notch_after_deg + 180.0 * hc + 0.5 * s->notch_width_deg;
            ang[na++] = s->notch_after_deg + 180.0 * hc + s->notch_width_deg;
        }
    }
    for (int k = 0; k < na; k++) {
        if (angle_instants(s, lo, hi, wrap(ang[k], 360.0) / 360.0, out) != 0) {
            return -1;
        }
    }
    double tb[2 * RW_MAX_AMP + RW_MAX_JUMPS + RW_MAX_FSEG + RW_MAX_STEPS + 2 * RW_MAX_IH + 8 + 2];
    int nt = 0;
    tb[nt++] = s->notch_t_on;
    tb[nt++] = s->notch_t_off;
    for (int k = 1; k < s->nfseg; k++) {
        tb[nt++] = s->fseg[k].t;
    }
    for (int k = 0; k < s->njump; k++) {
        tb[nt++] = s->jump[k].t;
    }
    for (int k = 0; k < s->namp; k++) {
        tb[nt++] = s->amp[k].t0;
        tb[nt++] = s->amp[k].t1;
    }
    for (int k = 0; k < l->nstep; k++) {
        tb[nt++] = l->step[k].t;
    }
    for (int k = 0; k < s->nih; k++) {
        tb[nt++] = s->ih[k].t_on;
        tb[nt++] = s->ih[k].t_off;
    }
    for (int k = 0; k < m->extra_bp && k < 8; k++) {
        tb[nt++] = m->bp[k];
    }
    for (int k = 0; k < nt; k++) {
        if (tb[k] > lo && tb[k] < hi && dvec_push(out, tb[k]) != 0) {
            return -1;
        }
    }
    if (out->n > 1) {
        qsort(out->p, out->n, sizeof(double), cmp_double);
    }
    size_t w = 0;
    for (size_t k = 0; k < out->n; k++) {
        if (w == 0 || out->p[k] - out->p[w - 1] > 1e-12) {
            out->p[w++] = out->p[k];
        }
    }
    out->n = w;
    return 0;
}

/* Positive-going crossings of the fundamental (source time) in [lo, hi). */
static int crossings(const rw_source_t *s, double lo, double hi, rwvec_t *out)
{
    if (angle_instants(s, lo, hi, 0.0, out) != 0) {
        return -1;
    }
    /* A forward jump over a whole cycle is a crossing at the jump itself. */
    for (int j = 0; j < s->njump; j++) {
        const double t = s->jump[j].t;
        if (t >= lo && t < hi && s->jump[j].deg > 0.0) {
            const double before = rw_cycles(s, t) + phase_offset(s, t) - s->jump[j].deg / 360.0;
            const double after = before + s->jump[j].deg / 360.0;
            if (floor(after) > floor(before) && dvec_push(out, t) != 0) {
                return -1;
            }
        }
    }
    if (out->n > 1) {
        qsort(out->p, out->n, sizeof(double), cmp_double);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Quadrature and the exact filter                                          */

typedef struct quad {
    double x[RW_GL], w[RW_GL];   /* Gauss-Legendre on [-1, 1], ascending */
    double lden[RW_GL];          /* Lagrange denominators prod (x_m - x_j) */
    double qx[RW_Q], qw[RW_Q];   /* the kernel quadrature */
} rwquad_t;

/* Gauss-Legendre nodes and weights of order n, by Newton on P_n. */
static void gauss_legendre(int n, double *x, double *w)
{
    for (int k = 0; k < n; k++) {
        double z = cos(RW_PI * ((double)k + 0.75) / ((double)n + 0.5));
        double dp = 1.0;
        for (int it = 0; it < 100; it++) {
            double p0 = 1.0, p1 = z;
            for (int j = 2; j <= n; j++) {
                const double p2 = ((2.0 * j - 1.0) * z * p1 - (j - 1.0) * p0) / (double)j;
                p0 = p1;
                p1 = p2;
            }
            dp = (double)n * (z * p1 - p0) / (z * z - 1.0);
            const double dz = p1 / dp;
            z -= dz;
            if (fabs(dz) < 1e-15) {
                break;
            }
        }
        double p0 = 1.0, p1 = z;
        for (int j = 2; j <= n; j++) {
            const double p2 = ((2.0 * j - 1.0) * z * p1 - (j - 1.0) * p0) / (double)j;
            p0 = p1;
            p1 = p2;
        }
        dp = (double)n * (z * p1 - p0) / (z * z - 1.0);
        x[n - 1 - k] = z; /* z decreases with k: store ascending */
        w[n - 1 - k] = 2.0 / ((1.0 - z * z) * dp * dp);
    }
}

static void quad_init(rwquad_t *q)
{
    gauss_legendre(RW_GL, q->x, q->w);
    gauss_legendre(RW_Q, q->qx, q->qw);
    for (int m = 0; m < RW_GL; m++) {
        double d = 1.0;
        for (int j = 0; j < RW_GL; j++) {
            if (j != m) {
                d *= q->x[m] - q->x[j];
            }
        }
        q->lden[m] = d;
    }
}

static double lagrange(const rwquad_t *q, int m, double xi)
{
    double p = 1.0;
    for (int j = 0; j < RW_GL; j++) {
        if (j != m) {
            p *= xi - q->x[j];
        }
    }
    return p / q->lden[m];
}

/* One complex first-order section (pole p; its residue is applied in section())
 * over a piece of length h: y at the nodes and at the end. */
typedef struct kernel {
    double complex e[RW_GL + 1];
    double complex k[RW_GL + 1][RW_GL];
} rwkernel_t;

static void kernel_make(const rwquad_t *q, double h, double complex p, rwkernel_t *kn)
{
    const double complex r = 0.5 * h * p; /* pole per unit of the node variable */
    for (int t = 0; t <= RW_GL; t++) {
        const double xt = t < RW_GL ? q->x[t] : 1.0;
        const double half = 0.5 * (xt + 1.0);
        kn->e[t] = cexp(r * (xt + 1.0));
        for (int m = 0; m < RW_GL; m++) {
            kn->k[t][m] = 0.0;
        }
        for (int j = 0; j < RW_Q; j++) {
            const double xi = -1.0 + half * (1.0 + q->qx[j]);
            const double complex g = q->qw[j] * half * 0.5 * h * cexp(r * (xt - xi));
            for (int m = 0; m < RW_GL; m++) {
                kn->k[t][m] += g * lagrange(q, m, xi);
            }
        }
    }
}

/* Adds 2 Re y at the nodes to out and leaves y at the end in *y, for input `in`
 * and residue res (the conjugate pole's section gives the conjugate). */
static void section(const rwkernel_t *kn, double complex res, double complex *y, const double *in, double *out)
{
    const double complex y0 = *y;
    for (int t = 0; t <= RW_GL; t++) {
        double complex s = 0.0;
        for (int m = 0; m < RW_GL; m++) {
            s += kn->k[t][m] * in[m];
        }
        s = kn->e[t] * y0 + res * s;
        if (t < RW_GL) {
            out[t] += 2.0 * creal(s);
        } else {
            *y = s;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* The record                                                               */

#define RW_MAX_POLES (RW_MAX_AA_ORDER / 2)

typedef struct gen {
    const rw_model_t *m;
    rwquad_t q;
    int npole;                           /* poles carried (one of each conjugate pair) */
    double complex pole[RW_MAX_POLES];
    double complex res[RW_MAX_POLES];
    rwkernel_t reg[RW_MAX_POLES];        /* kernels of a whole (half-sample) piece */
    double norm;
    double complex y[2][RW_MAX_POLES];   /* [channel][pole] section states */
    double out[2];                       /* filter output at the end of the last piece */
    double acc[RW_NACC];
    const double *bp;
    size_t nbp, ib;
} rwgen_t;

static void piece(rwgen_t *g, double a, double b, int regular)
{
    const double h = b - a;
    if (!(h > 1e-13)) {
        return; /* nothing measurable (rounding between merged instants) */
    }
    double xv[RW_GL], xi[RW_GL], yv[RW_GL], yi[RW_GL];
    for (int j = 0; j < RW_GL; j++) {
        rw_eval(g->m, a + 0.5 * h * (1.0 + g->q.x[j]), &xv[j], &xi[j]);
    }
    if (g->npole > 0) {
        for (int j = 0; j < RW_GL; j++) {
            yv[j] = yi[j] = 0.0;
        }
        double ev = 0.0, ei = 0.0;
        for (int k = 0; k < g->npole; k++) {
            rwkernel_t own;
            const rwkernel_t *kn = &g->reg[k];
            if (!regular) {
                kernel_make(&g->q, h, g->pole[k], &own);
                kn = &own;
            }
            section(kn, g->res[k], &g->y[0][k], xv, yv);
            section(kn, g->res[k], &g->y[1][k], xi, yi);
            ev += 2.0 * creal(g->y[0][k]);
            ei += 2.0 * creal(g->y[1][k]);
        }
        for (int j = 0; j < RW_GL; j++) {
            yv[j] *= g->norm;
            yi[j] *= g->norm;
        }
        g->out[0] = g->norm * ev;
        g->out[1] = g->norm * ei;
    } else {
        memcpy(yv, xv, sizeof yv);
        memcpy(yi, xi, sizeof yi);
    }
    for (int j = 0; j < RW_GL; j++) {
        const double w = 0.5 * h * g->q.w[j];
        g->acc[RW_A_VI] += w * yv[j] * yi[j];
        g->acc[RW_A_VV] += w * yv[j] * yv[j];
        g->acc[RW_A_II] += w * yi[j] * yi[j];
        g->acc[RW_A_V] += w * yv[j];
        g->acc[RW_A_I] += w * yi[j];
        g->acc[RW_A_XVI] += w * xv[j] * xi[j];
        g->acc[RW_A_XVV] += w * xv[j] * xv[j];
        g->acc[RW_A_XII] += w * xi[j] * xi[j];
        g->acc[RW_A_XV] += w * xv[j];
        g->acc[RW_A_XI] += w * xi[j];
    }
}

/* Integrate [a, b), split at the switching instants inside. */
static void integrate(rwgen_t *g, double a, double b)
{
    while (g->ib < g->nbp && g->bp[g->ib] <= a) {
        g->ib++;
    }
    double t = a;
    int regular = 1;
    while (g->ib < g->nbp && g->bp[g->ib] < b) {
        piece(g, t, g->bp[g->ib], 0);
        t = g->bp[g->ib++];
        regular = 0;
    }
    piece(g, t, b, regular);
}

/* Gaussian deviates: splitmix64 uniforms, Marsaglia's polar method. */
typedef struct rng {
    uint64_t s;
    double spare;
    int have;
} rwrng_t;

static double rng_uniform(rwrng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_gauss(rwrng_t *r)
{
    if (r->have) {
        r->have = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * rng_uniform(r) - 1.0;
        v = 2.0 * rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->have = 1;
    return u * f;
}

static int32_t adc_code(double x, double scale, int bits, long *clipped)
{
    const double hi = ldexp(1.0, bits - 1) - 1.0, lo = -ldexp(1.0, bits - 1);
    double c = nearbyint(x / scale);
    if (c > hi) {
        c = hi;
        (*clipped)++;
    } else if (c < lo) {
        c = lo;
        (*clipped)++;
    }
    return (int32_t)c;
}

void rw_record_free(rw_record_t *r)
{
    free(r->v);
    free(r->i);
    free(r->yv);
    free(r->yi);
    free(r->acc);
    free(r->cross);
    free(r->cross_j);
    memset(r, 0, sizeof(*r));
}

int rw_record_make(rw_record_t *r, const rw_model_t *m)
{
    memset(r, 0, sizeof(*r));
    const rw_adc_t *adc = &m->adc;
    if (m->src.nfseg < 1 || m->src.fseg[0].t != 0.0 || !(adc->fs > 0.0) || adc->bits < 2 || adc->bits > 24 ||
        adc->aa_order < 0 || adc->aa_order > RW_MAX_AA_ORDER || adc->aa_order % 2 != 0 ||
        (adc->aa_order > 0 && !(adc->aa_fc > 0.0))) {
        return -1;
    }
    r->m = *m;
    const double T = 1.0 / adc->fs;
    r->n = (uint64_t)llround(m->seconds * adc->fs);
    const size_t n = (size_t)r->n;
    r->v = calloc(n, sizeof(int32_t));
    r->i = calloc(n, sizeof(int32_t));
    r->yv = calloc(n, sizeof(double));
    r->yi = calloc(n, sizeof(double));
    r->acc = calloc((n + 1) * RW_NACC, sizeof(double));
    if (!r->v || !r->i || !r->yv || !r->yi || !r->acc) {
        rw_record_free(r);
        return -1;
    }
    r->u_scale = adc->u_full_scale / ldexp(1.0, adc->bits - 1);
    r->i_scale = adc->i_full_scale / ldexp(1.0, adc->bits - 1);

    rwgen_t *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        rw_record_free(r);
        return -1;
    }
    g->m = &r->m;
    quad_init(&g->q);
    g->norm = 1.0;
    r->norm = 1.0;
    r->delay = 0.0;
    double pre = T;
    if (adc->aa_order > 0) {
        /* Butterworth: poles wc e^{i pi (2k + N + 1) / (2N)}, k = 0..N-1 (left half-plane);
         * those with k < N/2 lie in the upper half (their conjugates are k' = N-1-k). */
        const int nn = adc->aa_order;
        const double wc = 2.0 * RW_PI * adc->aa_fc;
        double complex all[RW_MAX_AA_ORDER];
        for (int k = 0; k < nn; k++) {
            all[k] = wc * cexp(I * RW_PI * (2.0 * k + nn + 1.0) / (2.0 * nn));
        }
        g->npole = nn / 2;
        for (int k = 0; k < g->npole; k++) {
            double complex d = 1.0;
            for (int j = 0; j < nn; j++) {
                if (j != k) {
                    d *= all[k] - all[j];
                }
            }
            g->pole[k] = all[k];
            g->res[k] = pow(wc, nn) / d;
            kernel_make(&g->q, 0.5 * T, g->pole[k], &g->reg[k]);
        }
        /* H(j w_cal): its gain is normalised to 1; its phase is the delay crossings see. */
        const double complex jw = I * 2.0 * RW_PI * adc->f_cal;
        double complex hc = 1.0;
        for (int k = 0; k < nn; k++) {
            hc *= wc / (jw - all[k]);
        }
        g->norm = 1.0 / cabs(hc);
        r->norm = g->norm;
        r->delay = -carg(hc) / (2.0 * RW_PI * adc->f_cal);
        pre = fmax(0.02, 60.0 / (wc * sin(RW_PI / (2.0 * nn)))); /* slowest pole's decay: e^-60 left */
    }
    const long kpre = -(long)ceil(pre / T);
    const double lo = ((double)kpre - 0.5) * T, hi = ((double)r->n + 1.0) * T;

    rwvec_t bp = {0}, cr = {0};
    if (switching_instants(&r->m, lo, hi, &bp) != 0 || crossings(&r->m.src, lo, hi, &cr) != 0) {
        free(bp.p);
        free(cr.p);
        free(g);
        rw_record_free(r);
        return -1;
    }
    r->nbp = bp.n;
    r->cross = cr.p;
    r->ncross = cr.n;
    g->bp = bp.p;
    g->nbp = bp.n;

    rwrng_t rng = {.s = adc->seed * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull, .spare = 0.0, .have = 0};
    for (long k = kpre; k < (long)n; k++) {
        const double tk = (double)k * T;
        if (k == 0) {
            memset(g->acc, 0, sizeof g->acc); /* prefix integrals run from b_0 */
        }
        if (k >= 0) {
            memcpy(&r->acc[(size_t)k * RW_NACC], g->acc, sizeof g->acc);
        }
        integrate(g, tk - 0.5 * T, tk);
        if (k >= 0) {
            double yv, yi;
            if (g->npole > 0) {
                yv = g->out[0];
                yi = g->out[1];
            } else {
                rw_eval(&r->m, tk, &yv, &yi);
            }
            r->yv[k] = yv;
            r->yi[k] = yi;
            const double nu = rng_gauss(&rng), ni = rng_gauss(&rng); /* always two: a fixed stream */
            r->v[k] = adc_code(yv + adc->u_offset + adc->u_noise * nu, r->u_scale, adc->bits, &r->clipped);
            r->i[k] = adc_code(yi + adc->i_offset + adc->i_noise * ni, r->i_scale, adc->bits, &r->clipped);
        }
        integrate(g, tk, tk + 0.5 * T);
    }
    memcpy(&r->acc[n * RW_NACC], g->acc, sizeof g->acc);
    free(bp.p);
    free(g);

    /* Each crossing's sample interval: the sign change of the sampled input next to it. */
    r->cross_j = calloc(r->ncross > 0 ? r->ncross : 1, sizeof(int64_t));
    if (r->cross_j == NULL) {
        rw_record_free(r);
        return -1;
    }
    for (size_t c = 0; c < r->ncross; c++) {
        const int64_t j0 = (int64_t)ceil((r->cross[c] + r->delay) / T);
        int64_t best = j0;
        /* Nearest sign change: harmonics and noise move it a sample or two either
         * way; a notch just after the crossing can hide it until the notch's own
         * re-crossing a few samples later (then that is where the sampled signal
         * crosses). */
        for (int64_t d = 0; d <= 8; d++) {
            const int64_t cand[2] = {j0 - d, j0 + d};
            int found = 0;
            for (int q = 0; q < 2 && !found; q++) {
                const int64_t j = cand[q];
                if ((q == 1 || d <= 3) && j >= 1 && j < (int64_t)n && r->yv[j - 1] < 0.0 && r->yv[j] >= 0.0) {
                    best = j;
                    found = 1;
                }
            }
            if (found) {
                break;
            }
        }
        r->cross_j[c] = best;
    }
    return 0;
}

double rw_integral(const rw_record_t *r, int q, uint64_t k0, uint64_t k1)
{
    if (k0 > r->n) {
        k0 = r->n;
    }
    if (k1 > r->n) {
        k1 = r->n;
    }
    return r->acc[(size_t)k1 * RW_NACC + (size_t)q] - r->acc[(size_t)k0 * RW_NACC + (size_t)q];
}

void rw_window_truth(const rw_record_t *r, uint64_t s0, uint64_t n, int closing, double u_dc, double i_dc,
                     rw_wtruth_t *out)
{
    memset(out, 0, sizeof(*out));
    const double T = 1.0 / r->m.adc.fs;
    const uint64_t s1 = s0 + n;
    out->t0 = ((double)s0 - 0.5) * T;
    out->t1 = ((double)s1 - 0.5) * T;
    const double dur = (double)n * T;
    if (n == 0) {
        return;
    }
    out->e_j = rw_integral(r, RW_A_VI, s0, s1);
    out->e_unf_j = rw_integral(r, RW_A_XVI, s0, s1);
    const double vv = rw_integral(r, RW_A_VV, s0, s1), v1 = rw_integral(r, RW_A_V, s0, s1);
    const double ii = rw_integral(r, RW_A_II, s0, s1), i1 = rw_integral(r, RW_A_I, s0, s1);
    const double u2 = (vv - 2.0 * u_dc * v1) / dur + u_dc * u_dc;
    const double i2 = (ii - 2.0 * i_dc * i1) / dur + i_dc * i_dc;
    out->urms = sqrt(u2 > 0.0 ? u2 : 0.0);
    out->irms = sqrt(i2 > 0.0 ? i2 : 0.0);

    /* Crossings by the sample interval they fall in (cross_j). */
    const int64_t j_lo = (int64_t)s0, j_hi = (int64_t)s1 - 1;
    const int64_t j_hif = closing ? (int64_t)s1 : j_hi;
    double first = NAN, last = NAN;
    for (size_t k = 0; k < r->ncross; k++) {
        const int64_t j = r->cross_j[k];
        if (j < j_lo || j > j_hif) {
            continue;
        }
        const double tc = r->cross[k];
        const double a = rw_amplitude(&r->m.src, tc);
        if (!(a > 0.0)) {
            continue;
        }
        if (j <= j_hi) {
            out->crossings++;
            if (a >= RW_PRESENT) {
                out->crossings_sure++;
            }
        }
        if (isnan(first)) {
            first = tc;
        }
        last = tc;
    }
    if (!isnan(first) && last > first) {
        out->freq = (rw_cycles(&r->m.src, last) - rw_cycles(&r->m.src, first)) / (last - first);
    }
    for (int k = 0; k < r->m.src.namp; k++) {
        const rw_amp_t *e = &r->m.src.amp[k];
        if (e->level < RW_PRESENT) {
            const double a = fmax(e->t0 + r->delay, out->t0), b = fmin(e->t1 + r->delay, out->t1);
            if (b > a) {
                out->low_s += b - a;
            }
        }
    }
}
