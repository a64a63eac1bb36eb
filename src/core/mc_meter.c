/*
 * metercore core: the signal chain from ADC samples to readings, energy and pulses.
 * See mc_meter.h for the contract and docs/DESIGN.md for the reasoning.
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_meter.h"

#include <math.h>
#include <string.h>

#include "mc_core_internal.h"


/*
 * Gain of the reference for the fundamental: 32767 times the gain of a
 * 256-step staircase (sin(pi/256) / (pi/256)). Its half-step phase lag is
 * common to both channels and cancels in V1 * conj(I1).
 */
#define MC_REF_GAIN (32767.0f * 0.99997490f)

/* Quanta per watt-second: 2^30 per Wh / 3600. */
#define MC_QUANTA_PER_WS (1073741824.0f / 3600.0f)

/* sqrt(2) / MC_REF_GAIN: from a window DFT sum over n samples to the rms phasor (times 1/n). */
#define MC_PHASOR_SCALE (1.41421356f / MC_REF_GAIN)

/*
 * int64 -> float, exact: the value of the C cast (round to nearest, ties to even), bit for
 * bit, in integer operations only. A compiler for a core without a 64-bit conversion calls
 * a library routine instead (libgcc's __floatdisf on ARMv6-M goes through double: several
 * hundred instructions), and the per-cycle sums are all 64-bit.
 *
 * The magnitude a is reduced to its 32 leading bits y (bit 31 set), a = (y + t) * 2^e with
 * 0 <= t < 1, and `sticky` non-zero exactly when t is. The float keeps y's top 24 bits;
 * what decides the rounding is the next bit of y (the guard, bit 7: 0x80) and whether
 * anything below it is non-zero (bits 6..0 of y, or t): so y's low byte and `sticky` give
 * the same decision as the whole of a would. The exponent field is that of y's leading
 * bit (31 + e, biased by 127) less one, because the mantissa still carries its leading
 * one (bit 23) and adds it in; a mantissa rounded up to 2^24 carries into the exponent,
 * which is again the right result (the next power of two). |x| < 2^64 keeps every
 * exponent in range, and negation is exact.
 */
static inline unsigned clz32(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_clz(x); /* x != 0 */
#else
    unsigned n = 0;
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* 64-bit targets convert in one instruction (x86-64, AArch64): they keep the cast. (May be
 * set on the command line, e.g. to test the integer conversions on a host.) */
#ifndef MC_NATIVE_I64_FLOAT
#if UINTPTR_MAX > 0xFFFFFFFFu
#define MC_NATIVE_I64_FLOAT 1
#else
#define MC_NATIVE_I64_FLOAT 0
#endif
#endif

static float u64_to_float(uint64_t a)
{
    if (MC_NATIVE_I64_FLOAT) {
        return (float)a;
    }
    const uint32_t hi = (uint32_t)(a >> 32), lo = (uint32_t)a;
#if defined(__ARM_FP) && (__ARM_FP & 4)
    if (hi == 0u) {
        return (float)lo; /* one VCVT with a single-precision FPU: rounded to nearest even too */
    }
#endif
    uint32_t y, sticky;
    int e;
    if (hi != 0u) {
        const unsigned z = clz32(hi);
        y = z != 0u ? (hi << z) | (lo >> (32u - z)) : hi;
        sticky = z != 0u ? lo << z : lo; /* the bits of lo not in y */
        e = 32 - (int)z;
    } else if (lo != 0u) {
        const unsigned z = clz32(lo);
        y = lo << z;
        sticky = 0u;
        e = -(int)z;
    } else {
        return 0.0f;
    }
    uint32_t mant = y >> 8;
    const uint32_t rest = y & 0xFFu;
    if (rest > 0x80u || (rest == 0x80u && (sticky != 0u || (mant & 1u)))) {
        mant++; /* above half an ulp, or exactly half and the mantissa odd */
    }
    const uint32_t bits = ((uint32_t)(127 + 31 + e - 1) << 23) + mant;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static float i64_to_float(int64_t x)
{
    if (MC_NATIVE_I64_FLOAT) {
        return (float)x;
    }
    return x < 0 ? -u64_to_float(0u - (uint64_t)x) : u64_to_float((uint64_t)x);
}

/* A target without a floating-point unit, where every float operation is a library call.
 * (May be set on the command line, e.g. to test the soft-float paths on a host.) */
#ifndef MC_SOFT_FLOAT
#if defined(__SOFTFP__) || defined(__riscv_float_abi_soft)
#define MC_SOFT_FLOAT 1
#else
#define MC_SOFT_FLOAT 0
#endif
#endif

/*
 * x * p2 for p2 = 2^k, exactly that product (a power of two only moves the exponent), for x
 * zero or normal with a normal result: every call site says why its operands are such. With
 * an FPU it is the multiplication; without one an add to the exponent field instead of a
 * library multiplication.
 */
static inline float mul_pow2(float x, float p2, int k)
{
#if MC_SOFT_FLOAT
    uint32_t b;
    memcpy(&b, &x, sizeof(b));
    if ((b << 1) == 0u) {
        return x; /* +-0 */
    }
    b += (uint32_t)((int32_t)k * (1 << 23));
    (void)p2;
    memcpy(&x, &b, sizeof(x));
    return x;
#else
    (void)k;
    return x * p2;
#endif
}

/*
 * The sums about the window's offsets from the exact sums about the integer offsets dc. A
 * channel's samples are taken about w_off = dc + r (r: the fraction, constant over a window);
 * with n samples, S = Σ(x - dc) and the raw sums about dc:
 *   Σ(x - w_off)²            = Σ(x - dc)² + r·(n·r - 2·S)
 *   Σ(x - w_off)(y - w_offy) = Σ(x - dc)(y - dcy) - ry·Sx - rx·Sy + n·rx·ry
 * Used once per window for its sums (settle_window_ints()) and for the last cycle's
 * reading when asked for (cycle_values()): the cycles themselves only add integers.
 */
static float offset_fraction(const mc_meter_channel_t *c)
{
    return c->w_off - (float)c->dc;
}

static float centred_sq(int64_t sxx, float sx, float r, float n)
{
    /* 2 S: |S| < 2^42, a normal float or 0 */
    return i64_to_float(sxx) + r * (n * r - mul_pow2(sx, 2.0f, 1));
}

static float centred_xy(int64_t sxy, float sa, float sb, float ra, float rb, float n)
{
    return i64_to_float(sxy) - rb * sa - ra * sb + n * ra * rb;
}

/*
 * The raw sums (about 0) of n samples about the integer offsets dc instead, exactly:
 *   Σ(x - d)²         = Σx² + d·(n·d - 2·Σx)
 *   Σ(x - d)(y - e)   = Σxy + d·(n·e - Σy) - e·Σx
 * With codes and offsets in [-2^23, 2^23] and n at most MC_RAW_MAX + 1600 < 2^15 samples,
 * every term and result is below 2^63 in magnitude (d·(n·d - 2·Σx) < 2^23 · 3·2^38).
 */
static int64_t centre_sq(int64_t sxx, int64_t sx, int64_t d, int64_t n)
{
    return sxx + d * (n * d - 2 * sx);
}

static int64_t centre_xy(int64_t sxy, int64_t sx, int64_t sy, int64_t d, int64_t e, int64_t n)
{
    return sxy + d * (n * e - sy) - e * sx;
}

/* Layout of a wiring: channels per frame, voltages, elements, cross products. */
typedef struct wiring_layout {
    uint8_t n_ch, n_u, n_el, n_ll, n_icross, n_pr;
} wiring_layout_t;

static int layout_of(const mc_meter_config_t *c, wiring_layout_t *l)
{
    memset(l, 0, sizeof(*l));
    switch (c->wiring) {
    case MC_WIRING_1P2W:
        l->n_u = 1;
        l->n_el = 1;
        break;
    case MC_WIRING_1P3W:
        l->n_u = 2;
        l->n_el = 2;
        l->n_ll = 1;     /* u1 u2: U12 */
        l->n_icross = 1; /* i1 i2: the neutral */
        break;
    case MC_WIRING_3P4W:
        if (c->neutral > 1u) {
            return 0;
        }
        l->n_u = 3;
        l->n_el = 3;
        l->n_ll = 3;                                /* u1u2 u2u3 u3u1 */
        l->n_icross = (uint8_t)(c->neutral ? 6 : 3); /* i1i2 i2i3 i3i1 [i1in i2in i3in] */
        break;
    case MC_WIRING_3P3W:
        l->n_u = 2;
        l->n_el = 2;
        l->n_ll = 1; /* u12 u32: U31 */
        break;
    case MC_WIRING_MULTI:
        if (!(c->voltages == 1u || c->voltages == 3u) || c->circuits < 1u || c->circuits > MC_MAX_CIRCUITS) {
            return 0;
        }
        l->n_u = c->voltages;
        l->n_el = c->circuits;
        l->n_ll = (uint8_t)(c->voltages == 3u ? 3 : 0);
        break;
    default:
        return 0;
    }
    l->n_ch = (uint8_t)(l->n_u + l->n_el + (c->wiring == MC_WIRING_3P4W && c->neutral ? 1 : 0));
    l->n_pr = (uint8_t)(l->n_el + l->n_ll + l->n_icross);
    return 1;
}

size_t mc_meter_channels(const mc_meter_config_t *cfg)
{
    wiring_layout_t l;
    return (cfg != NULL && layout_of(cfg, &l)) ? l.n_ch : 0u;
}

size_t mc_meter_pairs(const mc_meter_config_t *cfg)
{
    wiring_layout_t l;
    return (cfg != NULL && layout_of(cfg, &l)) ? l.n_pr : 0u;
}

size_t mc_meter_elements(const mc_meter_config_t *cfg)
{
    wiring_layout_t l;
    return (cfg != NULL && layout_of(cfg, &l)) ? l.n_el : 0u;
}

void mc_meter_config_default(mc_meter_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->sample_rate_hz = 4000;
    cfg->nominal_freq_hz = 50.0f;
    cfg->un = 220.0f;
    cfg->in = 5.0f;
    cfg->imax = 60.0f;
    cfg->start_current = 0.0f; /* 0.001 * in, derived by mc_meter_init() from the in given then */
    cfg->window_ms = 1000;
    cfg->pulse_width_ms = 80;
    cfg->pulse_constant = 1600;
    cfg->pulse_source = MC_PULSE_ACTIVE_ABS;
    cfg->wiring = MC_WIRING_1P2W;
    cfg->netting = MC_NETTING_SUM;
}

static int config_ok(const mc_meter_config_t *c, wiring_layout_t *l)
{
    /* Comparisons written so that NaN fails them. */
    if (c->sample_rate_hz < 1000u || c->sample_rate_hz > 64000u) {
        return 0;
    }
    if (!(c->nominal_freq_hz >= 45.0f && c->nominal_freq_hz <= 65.0f)) {
        return 0;
    }
    if (!(c->u_scale > 0.0f && c->u_scale < 1e6f) || !(c->i_scale > 0.0f && c->i_scale < 1e6f)) {
        return 0;
    }
    if (!(c->un > 0.0f && c->un < 1e6f) || !(c->in > 0.0f && c->imax >= c->in && c->imax < 1e6f)) {
        return 0;
    }
    if (!(c->start_current >= 0.0f && c->start_current <= c->in)) {
        return 0;
    }
    if (c->window_ms < 20u || c->window_ms > 2000u) {
        return 0;
    }
    if (c->pulse_constant < 1u || c->pulse_constant > 100000u || c->pulse_width_ms < 1u) {
        return 0;
    }
    if ((unsigned)c->pulse_source > (unsigned)MC_PULSE_REACTIVE_ABS) {
        return 0;
    }
    if ((unsigned)c->netting > (unsigned)MC_NETTING_PHASE || !layout_of(c, l)) {
        return 0;
    }
    if (c->wiring != MC_WIRING_1P2W &&
        (c->channel_state == NULL || c->pair_state == NULL || c->element_state == NULL)) {
        return 0;
    }
    if (c->wiring == MC_WIRING_MULTI && c->circuit_voltage != NULL) {
        for (unsigned k = 0; k < l->n_el; k++) {
            if (c->circuit_voltage[k] >= l->n_u) {
                return 0;
            }
        }
    }
    if (c->ratios != NULL) {
        for (unsigned k = 0; k < l->n_ch; k++) {
            if (!(c->ratios[k] > 0.0f && c->ratios[k] < 1e6f)) {
                return 0;
            }
        }
    }
    return 1;
}

/*
 * The last cycle's U, I and P from its sums (element 0's U and I, the elements' P summed),
 * with the scales in force. P and U are normalised by the exact period: the samples at
 * either end lie where v is near zero, so their sums cover the period whatever the sample
 * count; I has no such zero there. Computed when asked for, not at every cycle: a mains
 * cycle closes 50 or 60 times a second and few callers read it (two square roots and
 * three divisions, a few thousand instructions per cycle on a core without an FPU).
 */
static void cycle_values(const mc_meter_t *m, mc_cycle_reading_t *c)
{
    const float n = (float)c->samples, nt = m->cyc_nt;
    const mc_meter_element_t *e0 = &MC_EL(m)[0];
    const mc_meter_channel_t *u0 = &MC_CH(m)[e0->u], *i0 = &MC_CH(m)[e0->i];
    const int64_t cn = (int64_t)c->samples;
    /* The raw sums about the integer offsets, then about the window's (the fractions). */
    const float uxx = centred_sq(centre_sq(m->cyc_uxx, u0->cyc_x, u0->dc, cn), i64_to_float(u0->cyc_x - cn * u0->dc),
                                 offset_fraction(u0), n);
    const float ixx = centred_sq(centre_sq(m->cyc_ixx, i0->cyc_x, i0->dc, cn), i64_to_float(i0->cyc_x - cn * i0->dc),
                                 offset_fraction(i0), n);
    c->urms = u0->k * sqrtf(uxx > 0.0f ? uxx / nt : 0.0f);
    c->irms = i0->k * sqrtf(ixx > 0.0f ? ixx / n : 0.0f);
    c->p = 0.0f;
    for (unsigned e = 0; e < m->n_el; e++) {
        const mc_meter_element_t *el = &MC_EL(m)[e];
        const mc_meter_channel_t *cu = &MC_CH(m)[el->u], *ci = &MC_CH(m)[el->i];
        const int64_t sxy = centre_xy(el->cyc_xy, cu->cyc_x, ci->cyc_x, cu->dc, ci->dc, cn);
        const float xy = centred_xy(sxy, i64_to_float(cu->cyc_x - cn * cu->dc), i64_to_float(ci->cyc_x - cn * ci->dc),
                                    offset_fraction(cu), offset_fraction(ci), n);
        const float pe = cu->k * ci->k * xy / nt;
        c->p = e == 0u ? pe : c->p + pe;
    }
}

/* The last cycle's values, before what they depend on changes (scales, the window's offsets). */
static void settle_cycle_values(mc_meter_t *m)
{
    if (m->cyc_pending) {
        cycle_values(m, &m->last_cycle);
        m->cyc_pending = 0;
    }
}

/* Recompute the constants that follow from configuration and calibration. The
 * 1P2W meter's arithmetic is that of the single-phase core it replaced, bit for bit:
 * every per-channel factor is exactly 1 there and multiplies or adds exactly. */
static void derive(mc_meter_t *m)
{
    const mc_meter_config_t *c = &m->cfg;
    settle_cycle_values(m); /* the last cycle's values with the scales it was measured with */
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *ch = &MC_CH(m)[k];
        const int voltage = k < m->n_u;
        const float base = voltage ? c->u_scale * m->cal.u_gain : c->i_scale * m->cal.i_gain;
        ch->k = base * ch->ratio * ch->gain;
    }
    for (unsigned e = 0; e < m->n_el; e++) {
        mc_meter_element_t *el = &MC_EL(m)[e];
        const float d = m->cal.phase_deg + MC_CH(m)[el->i].phase_deg - MC_CH(m)[el->u].phase_deg;
        mc_small_sincos(d * MC_DEG2RAD, &el->sin_d, &el->cos_d);
    }
    m->creep_w = 0.5f * c->un * c->start_current;
}

static void set_reference_frequency(mc_meter_t *m, float f)
{
    m->f_ref = f;
    /* phase step = f / fs * 2^32; f <= 70 and fs >= 1000 keep it below 2^32. */
    m->dphase = (uint32_t)mul_pow2(f / m->fs, 4294967296.0f, 32); /* f / fs in [6e-4, 0.07]: normal */
}

static void window_reset(mc_meter_t *m, uint64_t start_sample)
{
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *ch = &MC_CH(m)[k];
        ch->wc_xx = ch->wc_xc = ch->wc_xs = ch->wc_x = 0;
        ch->w_xx = ch->w_re = ch->w_im = ch->w_sx = 0.0f;
    }
    for (unsigned k = 0; k < m->n_pr; k++) {
        MC_PR(m)[k].wc_xy = 0;
        MC_PR(m)[k].w_xy = 0.0f;
    }
    m->wc_c = m->wc_s = 0;
    m->w_sc = m->w_ss = 0.0f;
    m->w_n = 0;
    m->wr_n = 0;
    m->w_cycles = 0;
    m->w_pseudo = 0;
    m->w_irregular = 0;
    m->w_ref_moved = 0;
    m->w_u1_absent = 0;
    m->w_start_sample = start_sample;
}

static void cycle_reset(mc_meter_t *m)
{
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *ch = &MC_CH(m)[k];
        ch->c_xx = ch->c_xc = ch->c_xs = ch->c_x = 0;
        ch->peak = 0;
    }
    for (unsigned k = 0; k < m->n_pr; k++) {
        MC_PR(m)[k].c_xy = 0;
    }
    m->c_c = m->c_s = 0;
    m->c_n = 0;
}

/* The sample products of a wiring: the elements' Σv·i first, then the line-to-line
 * voltages' and the currents' cross products (see mc_meter_pairs()). */
static void set_pairs(mc_meter_t *m, const mc_meter_config_t *c, const wiring_layout_t *l)
{
    unsigned p = 0;
    for (unsigned e = 0; e < l->n_el; e++) {
        mc_meter_element_t *el = &MC_EL(m)[e];
        el->i = (uint8_t)(l->n_u + e);
        if (c->wiring == MC_WIRING_MULTI) {
            el->u = c->circuit_voltage != NULL ? c->circuit_voltage[e] : 0u;
        } else {
            el->u = (uint8_t)e; /* 1P2W, 1P3W, 3P4W: Uk with Ik; 3P3W: U12 with I1, U32 with I3 */
        }
        MC_PR(m)[p].a = el->u;
        MC_PR(m)[p].b = el->i;
        p++;
    }
    m->ll_first = (uint8_t)p;
    m->n_ll = l->n_ll;
    for (unsigned k = 0; k < l->n_ll; k++) {
        MC_PR(m)[p].a = (uint8_t)k; /* 3 voltages: u1u2 u2u3 u3u1; 2: u1u2 */
        MC_PR(m)[p].b = (uint8_t)((k + 1u) % l->n_u);
        p++;
    }
    m->in_first = (uint8_t)p;
    m->n_icross = l->n_icross;
    for (unsigned k = 0; k < l->n_icross; k++) {
        const unsigned phases = l->n_icross >= 3u ? 3u : 2u;
        if (k < phases && l->n_icross != 1u) {
            MC_PR(m)[p].a = (uint8_t)(l->n_u + k); /* i1i2 i2i3 i3i1 */
            MC_PR(m)[p].b = (uint8_t)(l->n_u + (k + 1u) % phases);
        } else if (l->n_icross == 1u) {
            MC_PR(m)[p].a = l->n_u; /* 1P3W: i1 i2 */
            MC_PR(m)[p].b = (uint8_t)(l->n_u + 1u);
        } else {
            MC_PR(m)[p].a = (uint8_t)(l->n_u + (k - 3u)); /* ik in */
            MC_PR(m)[p].b = (uint8_t)(l->n_ch - 1u);
        }
        p++;
    }
}

int mc_meter_init(mc_meter_t *m, const mc_meter_config_t *cfg)
{
    wiring_layout_t l;
    if (m == NULL || cfg == NULL || !config_ok(cfg, &l)) {
        return MC_ERR_INVAL;
    }
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    m->cfg.channel_state = NULL; /* the arrays are the meter's now, through ch, pr, el */
    m->cfg.pair_state = NULL;
    m->cfg.element_state = NULL;
    m->cfg.ratios = NULL;
    m->cfg.circuit_voltage = NULL;
    if (cfg->wiring != MC_WIRING_1P2W) {
        /* The caller's arrays. A 1P2W meter keeps its built-in state and no pointer to it
         * (MC_CH() and friends resolve it per call), so the instance can be copied or moved. */
        m->ch = cfg->channel_state;
        m->pr = cfg->pair_state;
        m->el = cfg->element_state;
        memset(m->ch, 0, sizeof(*m->ch) * l.n_ch);
        memset(m->pr, 0, sizeof(*m->pr) * l.n_pr);
        memset(m->el, 0, sizeof(*m->el) * l.n_el);
    }
    m->n_ch = l.n_ch;
    m->n_u = l.n_u;
    m->n_el = l.n_el;
    m->n_pr = l.n_pr;
    for (unsigned k = 0; k < l.n_ch; k++) {
        MC_CH(m)[k].gain = 1.0f;
        MC_CH(m)[k].ratio = cfg->ratios != NULL ? cfg->ratios[k] : 1.0f;
    }
    set_pairs(m, cfg, &l); /* the caller's circuit_voltage (not kept in m->cfg) */
    if (m->cfg.start_current == 0.0f) {
        m->cfg.start_current = MC_START_CURRENT_DEFAULT_RATIO * m->cfg.in;
    }
    mc_calibration_default(&m->cal);
    derive(m);
    const float fs = (float)cfg->sample_rate_hz;
    m->fs = fs;
    m->window_target = (uint32_t)(fs * (float)cfg->window_ms / 1000.0f + 0.5f);
    m->cycle_timeout = cfg->sample_rate_hz / 40u;
    /* No mains cycle is shorter than 1/75 s: a crossing sooner than that after the
     * previous one is a step, notch or ringing inside a cycle, not a new cycle. */
    m->cycle_min = cfg->sample_rate_hz / 75u;
    m->offset_track_n = (float)cfg->sample_rate_hz * MC_OFFSET_TAU_S;
    m->offset_track_inv = 1.0f / m->offset_track_n;
    /* Voltage counts as present from 10 % of Un (peak, in codes; un is a primary value). */
    float vmin = 0.1f * cfg->un * 1.41421356f / (cfg->u_scale * MC_CH(m)[0].ratio);
    m->vmin_peak = vmin > 16777216.0f ? 16777216 : (vmin > 1.0f ? (int32_t)vmin : 1); /* inputs are <= 2^24 */
    m->hyst = m->vmin_peak / 4;
    m->acquiring = 1;
    m->settling = 1;
    for (unsigned k = 0; k < l.n_ch; k++) {
        MC_CH(m)[k].acq_min = INT32_MAX;
        MC_CH(m)[k].acq_max = INT32_MIN;
    }
    set_reference_frequency(m, cfg->nominal_freq_hz);
    /* Quanta per pulse: 2^30 per Wh * 1000 Wh per kWh / constant. */
    m->pulse_quanta = (MC_ENERGY_QUANTA_PER_WH * 1000u) / cfg->pulse_constant;
    window_reset(m, 0);
    return MC_OK;
}
/*
 * (uint64_t)x for a float x in [0, 2^64): the C conversion (towards zero), exactly, in
 * integer operations: the mantissa shifted by the exponent, the bits below the point
 * dropped. A compiler for a core without an FPU calls a library routine instead (libgcc's
 * __fixunssfdi on ARMv6-M goes through double).
 */
static uint64_t float_to_u64(float x)
{
    if (MC_NATIVE_I64_FLOAT) {
        return (uint64_t)x;
    }
    uint32_t b;
    memcpy(&b, &x, sizeof(b));
    const int e = (int)(b >> 23) - 127; /* x = 1.mant * 2^e (x >= 0: no sign bit) */
    const uint32_t mant = (b & 0x7FFFFFu) | 0x800000u;
    if (e < 0) {
        return 0u;
    }
    return e <= 23 ? (uint64_t)(mant >> (23 - e)) : (uint64_t)mant << (e - 23);
}

/* Convert a window's energy (W*s, sign removed) to quanta, rounding once. */
static uint64_t ws_to_quanta(float ws)
{
    float q = ws * MC_QUANTA_PER_WS;
    if (!(q > 0.5f)) {
        return 0; /* also NaN */
    }
    if (q >= 1.8e19f) {
        return UINT64_MAX / 2u; /* only with absurd scales; never undefined behaviour */
    }
    return float_to_u64(q + 0.5f); /* q + 0.5 in (1, 1.8e19]: in range */
}
static void emit_pulses(mc_meter_t *m, uint64_t e)
{
    if (e == 0) {
        return;
    }
    const uint64_t before = m->pulse_acc;
    m->pulse_acc += e;
    if (m->pulse_acc < m->pulse_quanta) {
        return;
    }
    const float n = (float)m->w_n;
    const float fe = u64_to_float(e);
    /* Assume constant power over the window: energy e over n samples. */
    float period = u64_to_float(m->pulse_quanta) / fe * n;
    float width = (float)m->cfg.pulse_width_ms * (float)m->cfg.sample_rate_hz / 1000.0f;
    /* At most half the period at this window's power, less 1/64 so that the
     * next window's power noise cannot make a pulse overlap the next one. */
    const float max_width = 0.5f * period * (1.0f - 1.0f / 64.0f);
    if (width > max_width) {
        width = max_width;
    }
    uint64_t needed = m->pulse_quanta - before; /* energy into the window at the first edge */
    while (m->pulse_acc >= m->pulse_quanta) {
        m->pulse_acc -= m->pulse_quanta;
        mc_pulse_t p;
        memset(&p, 0, sizeof(p)); /* no stray padding bytes reach the callback */
        float at = u64_to_float(needed) / fe * n; /* samples after the window start */
        p.start_q16 = (m->w_start_sample << 16) + float_to_u64(at * 65536.0f); /* at in [0, 2^17] */
        p.width_q16 = (uint32_t)(width * 65536.0f);
        if (m->cfg.on_pulse != NULL) {
            m->cfg.on_pulse(m->cfg.context, &p);
        }
        needed += m->pulse_quanta;
    }
}

/*
 * The window's integer sums are raw (about 0, as the per-sample path sums the codes) for at
 * most this many samples; then settle_window_ints() moves them into the window's float sums
 * about its offsets. With a cycle of at most 1600 samples on top, raw sums of fewer than
 * 2^15 samples keep every term of their centring below 2^63 (centre_sq(), centre_xy()).
 */
#define MC_RAW_MAX 16384u

/*
 * The window's integer sums so far (wr_n raw samples) about its offsets w_off = dc + r,
 * added into its float sums: exactly about the integer offsets dc first (centre_sq(),
 * centre_xy()), then the fractions r in float (centred_sq(), centred_xy()). Once per window
 * (close_window()), or before a cycle would take the raw sums past MC_RAW_MAX samples (only
 * windows of over MC_RAW_MAX samples: above 16 kHz at 1 s). The offsets are the same for
 * every sample of the window, so sums settled in parts add up to the whole window's.
 */
static void settle_window_ints(mc_meter_t *m)
{
    const int64_t n = (int64_t)m->wr_n;
    const float nf = (float)m->wr_n;
    const float sc = i64_to_float(m->wc_c), ss = i64_to_float(m->wc_s);
    float rr[MC_MAX_CHANNELS], sx[MC_MAX_CHANNELS];
    mc_meter_window_products(m); /* every wc_xy a raw Σa·b */
    for (unsigned k = 0; k < m->n_ch; k++) {
        const mc_meter_channel_t *c = &MC_CH(m)[k];
        rr[k] = offset_fraction(c);
        sx[k] = i64_to_float(c->wc_x - n * c->dc); /* Σ(x - dc) */
    }
    for (unsigned k = 0; k < m->n_pr; k++) { /* before the channels' raw Σx change */
        mc_meter_pair_t *p = &MC_PR(m)[k];
        const mc_meter_channel_t *a = &MC_CH(m)[p->a], *b = &MC_CH(m)[p->b];
        const int64_t sxy = centre_xy(p->wc_xy, a->wc_x, b->wc_x, a->dc, b->dc, n);
        p->w_xy += centred_xy(sxy, sx[p->a], sx[p->b], rr[p->a], rr[p->b], nf);
        p->wc_xy = 0;
    }
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *c = &MC_CH(m)[k];
        const int64_t d = c->dc;
        const float r = rr[k];
        c->w_xx += centred_sq(centre_sq(c->wc_xx, c->wc_x, d, n), sx[k], r, nf);
        /* DFT: X = sum (x - w_off) e^{-j theta} = (sum x cos - w_off sum cos) - j (...),
         * with the integer part exact: sum (x - dc) cos = sum x cos - dc sum cos. */
        c->w_re += i64_to_float(c->wc_xc - d * m->wc_c) - r * sc;
        c->w_im -= i64_to_float(c->wc_xs - d * m->wc_s) - r * ss;
        /* For re-centring at the window's end: the sum of the centred samples. */
        c->w_sx += sx[k] - nf * r;
        c->wc_xx = c->wc_xc = c->wc_xs = c->wc_x = 0;
    }
    m->w_sc += sc;
    m->w_ss += ss;
    m->wc_c = m->wc_s = 0;
    m->wr_n = 0;
}

/*
 * Fold the cycle accumulators into the window's: integer additions of raw sums only,
 * exact (the offsets come out once per window, settle_window_ints()). The cycle's raw sums
 * are kept for its reading (cycle_values(), which only reads them while cyc_pending says
 * so: mc_meter_flush() settles the last whole cycle's first).
 */
static void fold_cycle(mc_meter_t *m)
{
    mc_meter_cycle_products(m);
    if (m->wr_n + m->c_n > MC_RAW_MAX) {
        settle_window_ints(m);
    }
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *c = &MC_CH(m)[k];
        c->wc_x += c->c_x;
        c->wc_xc += c->c_xc;
        c->wc_xs += c->c_xs;
        c->wc_xx += c->c_xx;
        c->cyc_x = c->c_x;
    }
    for (unsigned k = 0; k < m->n_pr; k++) {
        mc_meter_pair_t *p = &MC_PR(m)[k];
        p->wc_xy += p->c_xy;
    }
    const mc_meter_element_t *e0 = &MC_EL(m)[0];
    m->cyc_uxx = MC_CH(m)[e0->u].c_xx;
    m->cyc_ixx = MC_CH(m)[e0->i].c_xx;
    for (unsigned e = 0; e < m->n_el; e++) {
        MC_EL(m)[e].cyc_xy = MC_PR(m)[e].c_xy; /* the elements' products come first */
    }
    m->w_n += m->c_n;
    m->wr_n += m->c_n;
    m->wc_c += m->c_c;
    m->wc_s += m->c_s;
}

/*
 * Re-centre the window's sums from the offsets they were taken about (w_off, the
 * same for every sample of the window) to the trackers' estimates now (off),
 * exactly: with d = off - w_off and S = sum (x - w_off) over the window,
 *   sum (x - off)^2 = sum (x - w_off)^2 - 2 d S + n d^2,
 *   sum (x - offx)(y - offy) = sum (x - w_offx)(y - w_offy) - dy Sx - dx Sy + n dx dy,
 *   sum (x - off) e^{-j theta} = sum (x - w_off) e^{-j theta} - d (sum cos - j sum sin).
 * One offset for the whole window means the tracker's own ripple (it follows each
 * cycle's mean, a little) cannot correlate with what the window measures.
 */
static void recentre_window(mc_meter_t *m)
{
    const float n = (float)m->w_n;
    for (unsigned k = 0; k < m->n_pr; k++) {
        mc_meter_pair_t *p = &MC_PR(m)[k];
        const mc_meter_channel_t *a = &MC_CH(m)[p->a], *b = &MC_CH(m)[p->b];
        const float da = a->off - a->w_off;
        const float db = b->off - b->w_off;
        p->w_xy += n * da * db - db * a->w_sx - da * b->w_sx;
    }
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *c = &MC_CH(m)[k];
        const float d = c->off - c->w_off;
        c->w_xx += d * (n * d - 2.0f * c->w_sx);
        c->w_re -= d * m->w_sc;
        c->w_im += d * m->w_ss;
    }
}

/* The next window is taken about the trackers' estimates now; returns the change of
 * the reference voltage's integer part (the caller corrects its previous sample by it). */
static int32_t take_offsets(mc_meter_t *m)
{
    int32_t dref = 0;
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *c = &MC_CH(m)[k];
        c->w_off = c->off;
        const int32_t d = (int32_t)lrintf(c->w_off) - c->dc;
        c->dc += d;
        if (k == m->ref) {
            dref = d;
        }
    }
    return dref;
}

/* A channel carries a signal in the window just measured: a voltage from 10 % of Un,
 * a current from the starting current (primary values). */
static int present(const mc_meter_t *m, unsigned c)
{
    return MC_CH(m)[c].rms >= (c < m->n_u ? 0.1f * m->cfg.un : m->cfg.start_current);
}

/* Symmetrical components of three phasors (a = e^{j120°}): |positive|, |negative|. */
static void sequence_of(const float re[3], const float im[3], float *pos, float *neg)
{
    const float c = -0.5f, s = 0.8660254f; /* a = c + js */
    /* a·B and a²·C, a²·B and a·C */
    const float abr = c * re[1] - s * im[1], abi = c * im[1] + s * re[1];
    const float a2br = c * re[1] + s * im[1], a2bi = c * im[1] - s * re[1];
    const float acr = c * re[2] - s * im[2], aci = c * im[2] + s * re[2];
    const float a2cr = c * re[2] + s * im[2], a2ci = c * im[2] - s * re[2];
    const float pr = re[0] + abr + a2cr, pi = im[0] + abi + a2ci;
    const float nr = re[0] + a2br + acr, ni = im[0] + a2bi + aci;
    *pos = sqrtf(pr * pr + pi * pi) / 3.0f;
    *neg = sqrtf(nr * nr + ni * ni) / 3.0f;
}

/*
 * Σ (k_a x_a)(k_b x_b) over the window, with the channels' calibrated delays removed at the
 * fundamental as P's are (element_window()): the mean product of two channels' fundamentals
 * is Re(A conj B) of their rms phasors, so the sum gains n (Re(A' conj B') - Re(A conj B)),
 * A' the phasor with its delay removed. Exact for the fundamental; harmonics keep the skew
 * of their own (h times the fundamental's angle, a small part of a small quantity).
 */
static float pair_cross(const mc_meter_t *m, const mc_meter_pair_t *p, float n, const float *g)
{
    const mc_meter_channel_t *a = &MC_CH(m)[p->a], *b = &MC_CH(m)[p->b];
    const float raw = g[p->a] * g[p->b] * (a->w_re * b->w_re + a->w_im * b->w_im); /* Re(A conj B), delays in */
    const float fixed = a->re * b->re + a->im * b->im;                   /* Re(A' conj B') */
    return a->k * b->k * p->w_xy + n * (fixed - raw);
}

/* Σ (k_a x_a + sign k_b x_b)² over the window (n samples), delays removed. */
static float pair_sum_sq(const mc_meter_t *m, const mc_meter_pair_t *p, float sign, float n, const float *g)
{
    const mc_meter_channel_t *a = &MC_CH(m)[p->a], *b = &MC_CH(m)[p->b];
    return a->k * a->k * a->w_xx + b->k * b->k * b->w_xx + 2.0f * sign * pair_cross(m, p, n, g);
}

static float rms_of(float sum_sq, float n)
{
    return sum_sq > 0.0f ? sqrtf(sum_sq / n) : 0.0f;
}

/* The poly-phase quantities of the window (after the channels' rms and phasors; g: each
 * channel's phasor scale k · MC_PHASOR_SCALE / n, close_window()). */
static void poly_window(mc_meter_t *m, float n, const float *g)
{
    mc_poly_reading_t *pp = &m->poly;
    const mc_wiring w = m->cfg.wiring;
    const mc_reading_t *r = &m->last;
    const unsigned ll = m->ll_first, ic = m->in_first;
    pp->s_vector = sqrtf(r->p * r->p + r->q * r->q);
    pp->reference = m->ref;
    if (m->w_ref_moved || m->ref != 0u) {
        pp->flags |= MC_POLY_REFERENCE_MOVED;
    }
    for (unsigned k = 0; k < m->n_u; k++) {
        if (!present(m, k)) {
            pp->missing |= (uint8_t)(1u << k);
            pp->flags |= MC_POLY_MISSING_PHASE;
        }
    }
    if (w == MC_WIRING_1P2W) {
        return;
    }
    /* Line-to-line voltages from the samples: rms(k_a u_a - k_b u_b). */
    if (w == MC_WIRING_3P3W) {
        pp->u_ll[0] = MC_CH(m)[0].rms;
        pp->u_ll[1] = MC_CH(m)[1].rms;
        pp->u_ll[2] = rms_of(pair_sum_sq(m, &MC_PR(m)[ll], -1.0f, n, g), n); /* u31 = u32 - u12 */
    } else {
        for (unsigned k = 0; k < m->n_ll; k++) {
            pp->u_ll[k] = rms_of(pair_sum_sq(m, &MC_PR(m)[ll + k], -1.0f, n, g), n);
        }
    }
    /* Neutral: rms of the currents' instantaneous sum, from squares and cross products. */
    if (m->n_icross > 0u) {
        const unsigned phases = (w == MC_WIRING_1P3W) ? 2u : 3u;
        float sum = 0.0f;
        for (unsigned k = 0; k < phases; k++) {
            const mc_meter_channel_t *c = &MC_CH(m)[m->n_u + k];
            sum += c->k * c->k * c->w_xx;
        }
        const unsigned crosses = (w == MC_WIRING_1P3W) ? 1u : 3u;
        for (unsigned k = 0; k < crosses; k++) {
            sum += 2.0f * pair_cross(m, &MC_PR(m)[ic + k], n, g);
        }
        pp->i_neutral_calc = rms_of(sum, n);
        pp->i_neutral = pp->i_neutral_calc;
        if (m->n_icross == 6u) {
            const mc_meter_channel_t *cn = &MC_CH(m)[m->n_ch - 1u];
            float res = sum + cn->k * cn->k * cn->w_xx;
            float imax = 0.0f;
            for (unsigned k = 0; k < 3u; k++) {
                res += 2.0f * pair_cross(m, &MC_PR(m)[ic + 3u + k], n, g);
                imax = MC_CH(m)[m->n_u + k].rms > imax ? MC_CH(m)[m->n_u + k].rms : imax;
            }
            pp->i_neutral = cn->rms;
            pp->i_residual = rms_of(res, n);
            float limit = MC_NEUTRAL_MISMATCH_RATIO * imax;
            if (limit < 10.0f * m->cfg.start_current) {
                limit = 10.0f * m->cfg.start_current;
            }
            if (pp->i_residual > limit) {
                pp->flags |= MC_POLY_NEUTRAL_MISMATCH;
            }
        }
    }
    /* Sequence and unbalance from the fundamental phasors (three-phase wirings). */
    float ur[3], ui[3], ir[3], ii[3];
    int three = 0, currents = 0;
    if (w == MC_WIRING_3P4W || (w == MC_WIRING_MULTI && m->n_u == 3u)) {
        for (unsigned k = 0; k < 3u; k++) {
            ur[k] = MC_CH(m)[k].re;
            ui[k] = MC_CH(m)[k].im;
        }
        three = 1;
        if (w == MC_WIRING_3P4W) {
            for (unsigned k = 0; k < 3u; k++) {
                ir[k] = MC_CH(m)[3u + k].re;
                ii[k] = MC_CH(m)[3u + k].im;
            }
            currents = 1;
        }
    } else if (w == MC_WIRING_3P3W) {
        /* The line set U12, U23 = -U32, U31 = U32 - U12 has the phase voltages' sequence. */
        ur[0] = MC_CH(m)[0].re;
        ui[0] = MC_CH(m)[0].im;
        ur[1] = -MC_CH(m)[1].re;
        ui[1] = -MC_CH(m)[1].im;
        ur[2] = MC_CH(m)[1].re - MC_CH(m)[0].re;
        ui[2] = MC_CH(m)[1].im - MC_CH(m)[0].im;
        ir[0] = MC_CH(m)[2].re;
        ii[0] = MC_CH(m)[2].im;
        ir[2] = MC_CH(m)[3].re;
        ii[2] = MC_CH(m)[3].im;
        ir[1] = -(ir[0] + ir[2]); /* no neutral: I2 = -(I1 + I3) */
        ii[1] = -(ii[0] + ii[2]);
        three = 1;
        currents = 1;
    }
    if (three) {
        /* A rotation exists only with at least two voltages present (fundamental of 10 % of
         * Un); without it there is no sequence, no reverse alarm, and the unbalance is the
         * smaller component over the larger as computed (100 % with one voltage, 0 with
         * none). Nothing is ever divided by a component below the presence level. */
        const float vmin = 0.1f * m->cfg.un;
        unsigned present_u = 0;
        for (unsigned k = 0; k < 3u; k++) {
            present_u += sqrtf(ur[k] * ur[k] + ui[k] * ui[k]) >= vmin;
        }
        float pos, neg;
        sequence_of(ur, ui, &pos, &neg);
        int reverse = neg > pos;
        if (present_u >= 2u) {
            pp->sequence = (uint8_t)(reverse ? MC_SEQ_ACB : MC_SEQ_ABC);
            if (reverse) {
                pp->flags |= MC_POLY_REVERSE_SEQUENCE;
            }
        }
        const float ubig = reverse ? neg : pos, usmall = reverse ? pos : neg;
        pp->u_unbalance_pct = (present_u >= 1u && ubig > 0.0f) ? 100.0f * usmall / ubig : 0.0f;
        if (currents) {
            /* Against the voltages' rotation when there is one, else the currents' own. */
            sequence_of(ir, ii, &pos, &neg);
            if (present_u < 2u) {
                reverse = neg > pos;
            }
            const float big = reverse ? neg : pos, small = reverse ? pos : neg;
            float iu = 0.0f;
            if ((pos > neg ? pos : neg) >= m->cfg.start_current) {
                /* A set rotating against the voltages (two CTs swapped) is nearly all of the
                 * opposite sequence: the ratio grows without bound; it reads its ceiling. */
                iu = small < 10.0f * big ? 100.0f * small / big : MC_UNBALANCE_MAX_PCT;
            }
            pp->i_unbalance_pct = iu;
        }
    }
}

/* Book a window's P and Q (W, var; creep already decided) by their signs into delta. */
static void book(float p, float q, int creep_p, int creep_q, uint8_t quadrant, float dur, mc_energy_t *delta)
{
    if (!creep_p) {
        uint64_t e = ws_to_quanta(fabsf(p) * dur);
        delta->q[p >= 0.0f ? MC_E_ACTIVE_IMPORT : MC_E_ACTIVE_EXPORT] = e;
    }
    if (!creep_q) {
        uint64_t e = ws_to_quanta(fabsf(q) * dur);
        delta->q[MC_E_REACTIVE_Q1 + (quadrant - 1u)] = e;
    }
}

static uint8_t quadrant_of(float p, float q, int creep_p, int creep_q)
{
    const int pos_p = p >= 0.0f || creep_p;
    const int pos_q = q >= 0.0f || creep_q;
    return (uint8_t)(pos_p ? (pos_q ? 1 : 4) : (pos_q ? 2 : 3));
}

/* One element's window: P (all harmonics, phase-corrected at the fundamental), Q1,
 * rms values, angles, creep, quadrant and its own energy. */
static void element_window(mc_meter_t *m, mc_meter_element_t *el, const mc_meter_pair_t *pr, float n, float dur,
                           unsigned a0, float ref_angle)
{
    mc_phase_reading_t *r = &el->last;
    const mc_meter_channel_t *u = &MC_CH(m)[el->u], *i = &MC_CH(m)[el->i];
    memset(r, 0, sizeof(*r));
    r->urms = u->rms;
    r->irms = i->rms;
    const float kp = u->k * i->k;
    float p_total = kp * pr->w_xy / n;
    /* Fundamental: V1 * conj(I1) from the window DFT sums, scaled to rms phasors. */
    const float kd = 2.0f * kp / (MC_REF_GAIN * MC_REF_GAIN) / n / n;
    float p1 = kd * (u->w_re * i->w_re + u->w_im * i->w_im);
    float q1 = kd * (u->w_im * i->w_re - u->w_re * i->w_im);
    /* Phase correction: rotate the fundamental by -delta (current delay minus voltage delay). */
    float p1c = p1 * el->cos_d + q1 * el->sin_d;
    float q1c = q1 * el->cos_d - p1 * el->sin_d;
    float p = p_total + (p1c - p1) - (m->cal.p_offset + el->p_offset);
    float q = q1c - (m->cal.q_offset + el->q_offset);
    r->p = p;
    r->q = q;
    r->s = r->urms * r->irms;
    float pf = r->s > 0.0f ? p / r->s : 1.0f;
    if (pf > 1.0f) {
        pf = 1.0f;
    } else if (pf < -1.0f) {
        pf = -1.0f;
    }
    r->pf = pf;
    /* Angles relative to the channel a0 (close_window()) at ref_angle; a channel without
     * signal (a voltage under 10 % of Un, a current under the starting current) has no
     * angle and reads 0, a0 itself reads 0. */
    r->u_angle_deg = present(m, el->u) && el->u != a0 ? mc_wrap_deg(mc_atan2_deg(u->im, u->re) - ref_angle) : 0.0f;
    r->i_angle_deg = present(m, el->i) ? mc_wrap_deg(mc_atan2_deg(i->im, i->re) - ref_angle) : 0.0f;
    const int creep_p = !(fabsf(p) >= m->creep_w);
    const int creep_q = !(fabsf(q) >= m->creep_w);
    if (creep_p) {
        r->flags |= MC_FLAG_CREEP_P;
    }
    if (creep_q) {
        r->flags |= MC_FLAG_CREEP_Q;
    }
    r->quadrant = quadrant_of(p, q, creep_p, creep_q);
    if (!creep_q) {
        r->flags |= (r->quadrant == 1 || r->quadrant == 3) ? MC_FLAG_INDUCTIVE : MC_FLAG_CAPACITIVE;
    }
    book(p, q, creep_p, creep_q, r->quadrant, dur, &r->delta);
    for (int k = 0; k < MC_E_COUNT; k++) {
        el->energy.q[k] = (el->energy.q[k] + r->delta.q[k]) & (MC_ENERGY_QUANTA_MODULO - 1u);
    }
}

/* Close the window: compute the readings, register energy, emit pulses.
 * extra_flags (MC_FLAG_PARTIAL) are set in the reading before on_window sees it. */
MC_NOINLINE static void close_window(mc_meter_t *m, uint64_t next_start, uint32_t extra_flags)
{
    mc_reading_t *r = &m->last;
    const float prev_freq = r->freq;
    memset(r, 0, sizeof(*r));
    memset(&m->poly, 0, sizeof(m->poly));
    const float n = (float)m->w_n;
    const float fs = (float)m->cfg.sample_rate_hz;
    if (m->w_n == 0) {
        window_reset(m, next_start);
        return;
    }
    settle_window_ints(m);
    recentre_window(m);
    r->samples = m->w_n;
    r->start_sample = m->w_start_sample;
    r->cycles = (uint16_t)(m->w_cycles + m->w_pseudo);
    r->duration_s = n / fs;
    const float dur = r->duration_s;

    /* Every channel's rms and calibrated fundamental phasor (rms, delay removed). */
    float g[MC_MAX_CHANNELS]; /* phasor scales */
    for (unsigned k = 0; k < m->n_ch; k++) {
        mc_meter_channel_t *c = &MC_CH(m)[k];
        c->rms = c->k * sqrtf(c->w_xx > 0.0f ? c->w_xx / n : 0.0f);
        float delay = c->phase_deg + (k >= m->n_u ? m->cal.phase_deg : 0.0f);
        float sd, cd;
        mc_small_sincos(delay * MC_DEG2RAD, &sd, &cd);
        g[k] = c->k * MC_PHASOR_SCALE / n;
        c->re = g[k] * (c->w_re * cd - c->w_im * sd);
        c->im = g[k] * (c->w_im * cd + c->w_re * sd);
    }
    /* Angles are relative to U1, or to the voltage that took over the reference while U1
     * is missing. */
    const unsigned a0 = present(m, 0u) ? 0u : m->ref;
    const float ref_angle = mc_atan2_deg(MC_CH(m)[a0].im, MC_CH(m)[a0].re);

    /* The elements, then the totals: P, Q1 and S summed (S arithmetic), creep per element. */
    float p_book = 0.0f, q_book = 0.0f;
    int creep_p = 1, creep_q = 1;
    for (unsigned e = 0; e < m->n_el; e++) {
        element_window(m, &MC_EL(m)[e], &MC_PR(m)[e], n, dur, a0, ref_angle);
        const mc_phase_reading_t *er = &MC_EL(m)[e].last;
        if (e == 0u) {
            r->p = er->p;
            r->q = er->q;
            r->s = er->s;
            r->urms = er->urms;
            r->irms = er->irms;
        } else {
            r->p += er->p;
            r->q += er->q;
            r->s += er->s;
            r->urms += er->urms;
            r->irms += er->irms;
        }
        if (!(er->flags & MC_FLAG_CREEP_P)) {
            p_book = creep_p ? er->p : p_book + er->p;
            creep_p = 0;
        }
        if (!(er->flags & MC_FLAG_CREEP_Q)) {
            q_book = creep_q ? er->q : q_book + er->q;
            creep_q = 0;
        }
    }
    if (m->n_el > 1u) {
        r->urms /= (float)m->n_el;
        r->irms /= (float)m->n_el;
    }
    const float p = r->p;
    float pf = r->s > 0.0f ? p / r->s : 1.0f;
    if (pf > 1.0f) {
        pf = 1.0f;
    } else if (pf < -1.0f) {
        pf = -1.0f;
    }
    r->pf = pf;

    if (m->w_pseudo == 0 && m->w_cycles > 0) {
        /* Crossing times t_j = j*T0 + r_j, j = 0..J (T0: the reference period when the
         * window's first crossing came; r_j small, so single precision holds them).
         * The mean period is (t_J - t_0)/J = T0 + r_J/J: exact for any frequency
         * trajectory (steps, ramps), but a crossing displaced by an interharmonic or
         * ripple-control signal moves it by displacement/J. When many cycles jitter,
         * the least-squares slope over every crossing is taken instead, which averages
         * the displacements out: T = T0 + (S_jr - S_j*S_r/c) / (S_jj - S_j^2/c), c = J+1. */
        const float jn = (float)m->w_cycles;
        float period = m->zc_t0 + m->zc_rlast / jn;
        if (m->w_jitter >= 3u + m->w_cycles / 16u) {
            const float c = jn + 1.0f;
            const float sj = c * jn * 0.5f;
            const float sjj = jn * c * (2.0f * c - 1.0f) / 6.0f;
            period = m->zc_t0 + (m->zc_sjr - sj * m->zc_sr / c) / (sjj - sj * sj / c);
        }
        r->freq = period > 0.0f ? fs / period : 0.0f;
    }
    if (m->w_irregular) {
        r->flags |= MC_FLAG_IRREGULAR;
    }
    if ((extra_flags & MC_FLAG_PARTIAL) && m->w_cycles == 0u && m->w_pseudo == 0u) {
        r->freq = prev_freq; /* flushed inside the first cycle: no span of its own to measure */
    }
    if (r->freq == 0.0f) {
        r->flags |= MC_FLAG_NO_VOLTAGE;
    }
    if (m->settling) {
        r->flags |= MC_FLAG_SETTLING;
    }
    r->flags |= extra_flags;

    /* Totals' energy. Sum netting: the non-creeping elements' P (Q) summed and booked by
     * the sum's sign; phase netting: the elements' own bookings added. One element: the
     * same either way. */
    if (creep_p) {
        r->flags |= MC_FLAG_CREEP_P;
    }
    if (creep_q) {
        r->flags |= MC_FLAG_CREEP_Q;
    }
    r->quadrant = quadrant_of(p_book, q_book, creep_p, creep_q);
    if (!creep_q) {
        r->flags |= (r->quadrant == 1 || r->quadrant == 3) ? MC_FLAG_INDUCTIVE : MC_FLAG_CAPACITIVE;
    }
    if (m->cfg.netting == MC_NETTING_PHASE && m->n_el > 1u) {
        for (unsigned e = 0; e < m->n_el; e++) {
            for (int k = 0; k < MC_E_COUNT; k++) {
                r->delta.q[k] += MC_EL(m)[e].last.delta.q[k];
            }
        }
    } else {
        book(p_book, q_book, creep_p, creep_q, r->quadrant, dur, &r->delta);
    }
    for (int k = 0; k < MC_E_COUNT; k++) {
        m->energy.q[k] = (m->energy.q[k] + r->delta.q[k]) & (MC_ENERGY_QUANTA_MODULO - 1u);
    }
    uint64_t pulse_e;
    switch (m->cfg.pulse_source) {
    case MC_PULSE_ACTIVE_IMPORT:
        pulse_e = r->delta.q[MC_E_ACTIVE_IMPORT];
        break;
    case MC_PULSE_REACTIVE_ABS:
        pulse_e = r->delta.q[MC_E_REACTIVE_Q1] + r->delta.q[MC_E_REACTIVE_Q2] +
                  r->delta.q[MC_E_REACTIVE_Q3] + r->delta.q[MC_E_REACTIVE_Q4];
        break;
    default:
        pulse_e = r->delta.q[MC_E_ACTIVE_IMPORT] + r->delta.q[MC_E_ACTIVE_EXPORT];
        break;
    }
    emit_pulses(m, pulse_e);
    poly_window(m, n, g);

    if (m->windows_done < 255u) {
        m->windows_done++;
    }
    m->settling = 0;
    if (m->cfg.on_window != NULL) {
        m->cfg.on_window(m->cfg.context, r);
    }
    window_reset(m, next_start);
}

/* 1.0f / n for a cycle of n samples (n > 0), from the two most recent lengths when it is one
 * of them (the same quotient: it is the one stored). An FPU divides in one instruction. */
static float recip_cycle(mc_meter_t *m, uint32_t n)
{
    if (!MC_SOFT_FLOAT) {
        return 1.0f / (float)n;
    }
    if (n == m->recip_n[0]) {
        return m->recip[0];
    }
    const float inv = n == m->recip_n[1] ? m->recip[1] : 1.0f / (float)n;
    m->recip_n[1] = m->recip_n[0];
    m->recip[1] = m->recip[0];
    m->recip_n[0] = n;
    m->recip[0] = inv;
    return inv;
}

/* The window's first crossing: the origin of its period regression. */
static void window_first_crossing(mc_meter_t *m, uint64_t idx, float frac)
{
    m->zc_have_first = 1;
    m->zc_first_idx = idx;
    m->zc_first_frac = frac;
    m->zc_t0 = m->fs / m->f_ref;
    m->zc_sr = 0.0f;
    m->zc_sjr = 0.0f;
    m->zc_rlast = 0.0f;
    m->w_jitter = 0;
}

/* Acquisition: segments closed without a crossing before measuring starts anyway. */
#define MC_ACQUIRE_SEGMENTS 3

/*
 * The reference voltage (the channel whose crossings close the cycles), after a cycle
 * closed by the timeout: when it showed no voltage and another voltage channel did,
 * that one takes over (the first voltage takes it back at a window's end, see
 * close_cycle()). Returns 1 when the reference changed.
 */
/* A voltage channel showed voltage in the cycle under way: its cycle rms reaches that of a
 * sine of the presence peak, Σx² >= n · vmin_peak² / 2 (only the reference tracks its peak). */
static int cycle_voltage(const mc_meter_t *m, unsigned k)
{
    const float need = (float)m->c_n * 0.5f * (float)m->vmin_peak * (float)m->vmin_peak;
    const mc_meter_channel_t *c = &MC_CH(m)[k];
    return i64_to_float(centre_sq(c->c_xx, c->c_x, c->dc, m->c_n)) >= need; /* the raw sums about dc */
}

static int follow_reference(mc_meter_t *m)
{
    if (m->n_u < 2u || MC_CH(m)[m->ref].peak >= m->vmin_peak || m->c_n == 0u) {
        return 0;
    }
    for (unsigned k = 0; k < m->n_u; k++) {
        if (k != m->ref && cycle_voltage(m, k)) {
            m->ref = (uint8_t)k;
            m->w_ref_moved = 1;
            return 1;
        }
    }
    return 0;
}

/*
 * (Declared in mc_core_internal.h; called by the block loop in mc_meter_kernel.c.)
 * Close the cycle that ends before sample `idx` (absolute index). For a real
 * zero crossing it lies at idx - 1 + frac. Stores the change of the reference
 * voltage's DC estimate in *dv so the caller can correct its previous sample, and
 * returns the MC_EVENT_* bits.
 *
 * Before the first crossing after init (acquisition) segments only set the DC
 * estimate and are not measured: measurement, and the energy integral, start at
 * the first crossing, or after MC_ACQUIRE_SEGMENTS segments without one (no
 * voltage).
 */
MC_NOINLINE int mc_meter_close_cycle(mc_meter_t *m, uint64_t idx, float frac, int real, int32_t *dv_out)
{
    const float fs = m->fs;
    int32_t dv = 0;
    int events = 0;
    /* A whole cycle lies between two crossings: its period is measured, and its mean
     * (offset plus the signal's content below the mains frequency) feeds the offset
     * trackers at full weight. */
    const int whole = real && m->zc_prev_idx != 0u && !m->acquiring;
    float period = 0.0f;
    if (real && m->zc_prev_idx != 0u) {
        period = u64_to_float(idx - m->zc_prev_idx) + (frac - m->zc_prev_frac);
    }
    const uint32_t cycle_n = m->c_n;

    if (cycle_n > 0) {
        const float n = (float)cycle_n;
        if (!m->acquiring) {
            /* Measured about the offset estimates, not about the segment's own mean:
             * what the signal carries below the mains frequency (sub-harmonics,
             * half-cycle asymmetry, a step) is signal and stays in P, U and I. The
             * window is re-centred on the trackers' estimates when it closes.
             * The window's offsets stay the same for all its samples: the per-sample
             * path sums the raw codes, the offsets are removed once, when the window
             * closes (settle_window_ints()); a cycle only adds its integer sums. */
            fold_cycle(m);

            /* The cycle's values are computed from its sums when asked for (cycle_values()). */
            m->cyc_nt = period > 0.0f ? period : n;
            m->cyc_pending = 1;
            m->last_cycle.samples = cycle_n;
            m->last_cycle.freq = 0.0f;
            m->have_cycle = 1;
            events |= MC_EVENT_CYCLE;

            /* Offset trackers: a running mean of the whole cycles' means over everything
             * since start-up until MC_OFFSET_TAU_S of samples, then a one-pole low-pass
             * with that time constant (weights n / tau: corner 1/(2 pi tau)). A whole
             * cycle's mean is the offset plus what the signal carries below the mains
             * frequency, which the low-pass removes. A partial segment (timeout, voltage
             * returning, the rest of a cycle cut by mc_meter_flush()) also holds part of
             * a cycle's AC: it does not count. */
            if (whole) {
                float w;
                if (m->offset_seen_n < m->offset_track_n) {
                    w = n / (m->offset_seen_n + n); /* start-up: running mean */
                    m->offset_seen_n += n;
                } else {
                    w = n * m->offset_track_inv; /* steady state: low-pass, no division */
                }
                const float inv_n = recip_cycle(m, cycle_n);
                for (unsigned k = 0; k < m->n_ch; k++) {
                    mc_meter_channel_t *ch = &MC_CH(m)[k];
                    const int64_t sx = ch->c_x - (int64_t)cycle_n * ch->dc; /* Σ(x - dc) */
                    const float mx = i64_to_float(sx) * inv_n - (ch->off - (float)ch->dc);
                    ch->off += w * mx;
                }
            }
        }
        if (!real) {
            /* Also during the start-up acquisition: a meter powered with U1 dead finds
             * its crossings on another voltage before it starts measuring. */
            (void)follow_reference(m);
        }
        if (m->n_u > 1u && !cycle_voltage(m, 0u)) {
            m->w_u1_absent = 1; /* U1 may not take the reference back at this window's end */
        }
        const int32_t h = MC_CH(m)[m->ref].peak / 4;
        m->hyst = h > m->vmin_peak / 4 ? h : m->vmin_peak / 4;
    }
    cycle_reset(m);
    m->after_flush = 0;

    if (m->acquiring) {
        if (real) {
            m->acquiring = 0; /* measurement starts at this crossing */
        } else if (++m->acquire_segments >= MC_ACQUIRE_SEGMENTS) {
            m->acquiring = 0; /* no voltage: measure current anyway */
        }
        if (!m->acquiring) {
            window_reset(m, idx);
        }
    }

    if (real) {
        const float f = period > 0.0f ? fs / period : 0.0f;
        if (f >= 40.0f && f <= 70.0f) {
            if (events & MC_EVENT_CYCLE) {
                m->last_cycle.freq = f;
            }
            /* Reference follows the mains with a short smoothing against crossing
             * noise; during the first window it jumps to the measured value. */
            /* f and f_ref in [40, 70]: their difference is 0 or at least 2^-18, normal */
            set_reference_frequency(m, m->settling ? f : m->f_ref + mul_pow2(f - m->f_ref, 0.25f, -2));
        }
        /* A whole cycle more than 2 % longer or shorter than the one before: a phase
         * jump, a frequency step or a disturbed crossing; the window is flagged. The
         * grid's own rate of change is far below (1 Hz/s is 0.04 % a cycle). */
        if (period > 0.0f && m->prev_period > 0.0f) {
            const float change = fabsf(period - m->prev_period);
            if (change > 0.02f * m->prev_period) {
                m->w_irregular = 1;
            }
            /* Jitter: crossings moved back and forth by more than a frequency step would
             * (interharmonics); see close_window() for what it changes. */
            if (change > 0.0025f * m->prev_period && m->w_jitter < UINT8_MAX) {
                m->w_jitter++;
            }
        }
        m->prev_period = period;
        m->zc_prev_idx = idx;
        m->zc_prev_frac = frac;
        if (!m->zc_have_first) {
            window_first_crossing(m, idx, frac);
        } else {
            m->w_cycles++;
            const float j = (float)m->w_cycles;
            const float rj = (u64_to_float(idx - m->zc_first_idx) + (frac - m->zc_first_frac)) - j * m->zc_t0;
            m->zc_sr += rj;
            m->zc_sjr += j * rj;
            m->zc_rlast = rj;
        }
    } else {
        m->zc_prev_idx = 0;
        m->prev_period = 0.0f;
        if (!m->acquiring && cycle_n > 0u) {
            m->w_pseudo++;
        }
    }

    /* Close the window at the crossing nearest to its target length. */
    if (!m->acquiring && m->w_n > 0u && m->w_n + cycle_n / 2u >= m->window_target) {
        const int u1_absent = m->w_u1_absent;
        close_window(m, idx, 0u);
        settle_cycle_values(m); /* this cycle's reading, about the offsets it was measured with */
        dv = take_offsets(m);
        events |= MC_EVENT_WINDOW;
        if (real) {
            window_first_crossing(m, idx, frac);
        } else {
            m->zc_have_first = 0;
        }
        if (m->ref != 0u && !u1_absent && MC_CH(m)[0].rms >= 0.2f * m->cfg.un) {
            /* The first voltage is back: present in every cycle of the window just closed
             * and its rms at twice the presence threshold (against chatter: a U1 that comes
             * and goes never takes the reference back). Its crossings close the cycles from
             * its next one on, which starts the new window's span. */
            m->ref = 0;
            m->w_ref_moved = 1;
            m->zc_have_first = 0;
            m->zc_prev_idx = 0;
            m->prev_period = 0.0f;
        }
    }
    *dv_out = dv;
    return events;
}

int mc_meter_flush(mc_meter_t *m)
{
    if (m == NULL) {
        return MC_ERR_INVAL;
    }
    if (m->acquiring || (m->c_n == 0u && m->w_n == 0u)) {
        return 0; /* start-up acquisition (nothing is measured yet) or nothing since the last window */
    }
    /* The cycle under way is measured about the window's offsets, as every segment
     * is; being partial, it does not feed the offset trackers. */
    settle_cycle_values(m); /* the last whole cycle's reading, before the offsets change */
    fold_cycle(m);
    cycle_reset(m);
    close_window(m, m->sample_count, MC_FLAG_PARTIAL);
    m->prev_v -= take_offsets(m);
    /* The cycle goes on after the flush: its next crossing has no whole cycle
     * before it (no period, no exact mean) and starts the next window's span. */
    m->zc_prev_idx = 0;
    m->prev_period = 0.0f;
    m->zc_have_first = 0;
    m->after_flush = 1;
    return MC_EVENT_WINDOW;
}

int mc_meter_reading(const mc_meter_t *m, mc_reading_t *out)
{
    if (m == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    if (m->windows_done == 0u) {
        return MC_ERR_NODATA;
    }
    *out = m->last;
    return MC_OK;
}

int mc_meter_cycle_reading(const mc_meter_t *m, mc_cycle_reading_t *out)
{
    if (m == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    if (!m->have_cycle) {
        return MC_ERR_NODATA;
    }
    *out = m->last_cycle;
    if (m->cyc_pending) {
        cycle_values(m, out);
    }
    return MC_OK;
}

int mc_meter_energy(const mc_meter_t *m, mc_energy_t *out)
{
    if (m == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    *out = m->energy;
    return MC_OK;
}

/* Every register below the roll-over. */
static int energy_in_range(const mc_energy_t *e)
{
    for (int k = 0; k < MC_E_COUNT; k++) {
        if (e->q[k] >= MC_ENERGY_QUANTA_MODULO) {
            return 0;
        }
    }
    return 1;
}

int mc_meter_set_energy(mc_meter_t *m, const mc_energy_t *energy)
{
    if (m == NULL || energy == NULL || !energy_in_range(energy)) {
        return MC_ERR_INVAL;
    }
    m->energy = *energy;
    m->pulse_acc = 0;
    return MC_OK;
}

float mc_energy_kwh(uint64_t quanta)
{
    /* Whole Wh exactly, then the fraction: keeps full float precision at any size. */
    uint64_t wh = quanta / MC_ENERGY_QUANTA_PER_WH;
    uint64_t rest = quanta % MC_ENERGY_QUANTA_PER_WH;
    return (float)wh / 1000.0f + (float)rest / ((float)MC_ENERGY_QUANTA_PER_WH * 1000.0f);
}

int mc_meter_set_calibration(mc_meter_t *m, const mc_calibration_t *cal)
{
    if (m == NULL || cal == NULL) {
        return MC_ERR_INVAL;
    }
    int err = mc_calibration_check(cal);
    if (err != MC_OK) {
        return err;
    }
    m->cal = *cal;
    derive(m);
    return MC_OK;
}

int mc_meter_get_calibration(const mc_meter_t *m, mc_calibration_t *out)
{
    if (m == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    *out = m->cal;
    return MC_OK;
}

int mc_meter_set_pulse_constant(mc_meter_t *m, uint32_t constant)
{
    if (m == NULL || constant < 1u || constant > 100000u) {
        return MC_ERR_INVAL;
    }
    m->cfg.pulse_constant = constant;
    m->pulse_quanta = (MC_ENERGY_QUANTA_PER_WH * 1000u) / constant;
    /* A larger constant may leave more than one pulse's energy pending: the
     * pulse output restarts from the remainder (the registers lose nothing). */
    m->pulse_acc %= m->pulse_quanta;
    return MC_OK;
}

int mc_meter_phase_reading(const mc_meter_t *m, unsigned element, mc_phase_reading_t *out)
{
    if (m == NULL || out == NULL || element >= m->n_el) {
        return MC_ERR_INVAL;
    }
    if (m->windows_done == 0u) {
        return MC_ERR_NODATA;
    }
    *out = MC_EL(m)[element].last;
    return MC_OK;
}

int mc_meter_poly_reading(const mc_meter_t *m, mc_poly_reading_t *out)
{
    if (m == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    if (m->windows_done == 0u) {
        return MC_ERR_NODATA;
    }
    *out = m->poly;
    return MC_OK;
}

int mc_meter_phase_energy(const mc_meter_t *m, unsigned element, mc_energy_t *out)
{
    if (m == NULL || out == NULL || element >= m->n_el) {
        return MC_ERR_INVAL;
    }
    *out = m->cfg.wiring == MC_WIRING_1P2W ? m->energy : MC_EL(m)[element].energy;
    return MC_OK;
}

int mc_meter_set_phase_energy(mc_meter_t *m, unsigned element, const mc_energy_t *energy)
{
    if (m == NULL || energy == NULL || element >= m->n_el || !energy_in_range(energy)) {
        return MC_ERR_INVAL;
    }
    if (m->cfg.wiring == MC_WIRING_1P2W) {
        return mc_meter_set_energy(m, energy);
    }
    MC_EL(m)[element].energy = *energy;
    return MC_OK;
}

int mc_meter_set_poly_calibration(mc_meter_t *m, const mc_poly_calibration_t *cal)
{
    if (m == NULL || cal == NULL) {
        return MC_ERR_INVAL;
    }
    int err = mc_poly_calibration_check(cal);
    if (err != MC_OK) {
        return err;
    }
    for (unsigned k = 0; k < m->n_ch; k++) {
        MC_CH(m)[k].gain = cal->gain[k];
        MC_CH(m)[k].phase_deg = cal->phase_deg[k];
    }
    for (unsigned e = 0; e < m->n_el; e++) {
        MC_EL(m)[e].p_offset = cal->p_offset[e];
        MC_EL(m)[e].q_offset = cal->q_offset[e];
    }
    derive(m);
    return MC_OK;
}

int mc_meter_get_poly_calibration(const mc_meter_t *m, mc_poly_calibration_t *out)
{
    if (m == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    mc_poly_calibration_default(out);
    for (unsigned k = 0; k < m->n_ch; k++) {
        out->gain[k] = MC_CH(m)[k].gain;
        out->phase_deg[k] = MC_CH(m)[k].phase_deg;
    }
    for (unsigned e = 0; e < m->n_el; e++) {
        out->p_offset[e] = MC_EL(m)[e].p_offset;
        out->q_offset[e] = MC_EL(m)[e].q_offset;
    }
    mc_poly_calibration_seal(out);
    return MC_OK;
}
