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
 * Q15 sine over one cycle in 256 steps: round(32767 * sin(2*pi*k/256)).
 * The DFT reference reads it at index = phase >> 24 (cosine at +64).
 */
static const int16_t mc_sine_q15[256] = {
         0,    804,   1608,   2410,   3212,   4011,   4808,   5602,
      6393,   7179,   7962,   8739,   9512,  10278,  11039,  11793,
     12539,  13279,  14010,  14732,  15446,  16151,  16846,  17530,
     18204,  18868,  19519,  20159,  20787,  21403,  22005,  22594,
     23170,  23731,  24279,  24811,  25329,  25832,  26319,  26790,
     27245,  27683,  28105,  28510,  28898,  29268,  29621,  29956,
     30273,  30571,  30852,  31113,  31356,  31580,  31785,  31971,
     32137,  32285,  32412,  32521,  32609,  32678,  32728,  32757,
     32767,  32757,  32728,  32678,  32609,  32521,  32412,  32285,
     32137,  31971,  31785,  31580,  31356,  31113,  30852,  30571,
     30273,  29956,  29621,  29268,  28898,  28510,  28105,  27683,
     27245,  26790,  26319,  25832,  25329,  24811,  24279,  23731,
     23170,  22594,  22005,  21403,  20787,  20159,  19519,  18868,
     18204,  17530,  16846,  16151,  15446,  14732,  14010,  13279,
     12539,  11793,  11039,  10278,   9512,   8739,   7962,   7179,
      6393,   5602,   4808,   4011,   3212,   2410,   1608,    804,
         0,   -804,  -1608,  -2410,  -3212,  -4011,  -4808,  -5602,
     -6393,  -7179,  -7962,  -8739,  -9512, -10278, -11039, -11793,
    -12539, -13279, -14010, -14732, -15446, -16151, -16846, -17530,
    -18204, -18868, -19519, -20159, -20787, -21403, -22005, -22594,
    -23170, -23731, -24279, -24811, -25329, -25832, -26319, -26790,
    -27245, -27683, -28105, -28510, -28898, -29268, -29621, -29956,
    -30273, -30571, -30852, -31113, -31356, -31580, -31785, -31971,
    -32137, -32285, -32412, -32521, -32609, -32678, -32728, -32757,
    -32767, -32757, -32728, -32678, -32609, -32521, -32412, -32285,
    -32137, -31971, -31785, -31580, -31356, -31113, -30852, -30571,
    -30273, -29956, -29621, -29268, -28898, -28510, -28105, -27683,
    -27245, -26790, -26319, -25832, -25329, -24811, -24279, -23731,
    -23170, -22594, -22005, -21403, -20787, -20159, -19519, -18868,
    -18204, -17530, -16846, -16151, -15446, -14732, -14010, -13279,
    -12539, -11793, -11039, -10278,  -9512,  -8739,  -7962,  -7179,
     -6393,  -5602,  -4808,  -4011,  -3212,  -2410,  -1608,   -804,
};

/*
 * Gain of the reference for the fundamental: 32767 times the gain of a
 * 256-step staircase (sin(pi/256) / (pi/256)). Its half-step phase lag is
 * common to both channels and cancels in V1 * conj(I1).
 */
#define MC_REF_GAIN (32767.0f * 0.99997490f)

/* Quanta per watt-second: 2^30 per Wh / 3600. */
#define MC_QUANTA_PER_WS (1073741824.0f / 3600.0f)

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
}

static int config_ok(const mc_meter_config_t *c)
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
    return 1;
}

/* Recompute the constants that follow from configuration and calibration. */
static void derive(mc_meter_t *m)
{
    const mc_meter_config_t *c = &m->cfg;
    m->ku = c->u_scale * m->cal.u_gain;
    m->ki = c->i_scale * m->cal.i_gain;
    mc_small_sincos(m->cal.phase_deg * MC_DEG2RAD, &m->sin_d, &m->cos_d);
    m->creep_w = 0.5f * c->un * c->start_current;
}

static void set_reference_frequency(mc_meter_t *m, float f)
{
    m->f_ref = f;
    /* phase step = f / fs * 2^32; f <= 70 and fs >= 1000 keep it below 2^32. */
    m->dphase = (uint32_t)(f / (float)m->cfg.sample_rate_hz * 4294967296.0f);
}

static void window_reset(mc_meter_t *m, uint64_t start_sample)
{
    m->w_vv = m->w_ii = m->w_vi = 0.0f;
    m->w_vr = m->w_vim = m->w_ir = m->w_iim = 0.0f;
    m->w_sv = m->w_si = m->w_sc = m->w_ss = 0.0f;
    m->w_n = 0;
    m->w_cycles = 0;
    m->w_pseudo = 0;
    m->w_irregular = 0;
    m->w_start_sample = start_sample;
}

int mc_meter_init(mc_meter_t *m, const mc_meter_config_t *cfg)
{
    if (m == NULL || cfg == NULL || !config_ok(cfg)) {
        return MC_ERR_INVAL;
    }
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    if (m->cfg.start_current == 0.0f) {
        m->cfg.start_current = MC_START_CURRENT_DEFAULT_RATIO * m->cfg.in;
    }
    mc_calibration_default(&m->cal);
    derive(m);
    const float fs = (float)cfg->sample_rate_hz;
    m->window_target = (uint32_t)(fs * (float)cfg->window_ms / 1000.0f + 0.5f);
    m->cycle_timeout = cfg->sample_rate_hz / 40u;
    /* No mains cycle is shorter than 1/75 s: a crossing sooner than that after the
     * previous one is a step, notch or ringing inside a cycle, not a new cycle. */
    m->cycle_min = cfg->sample_rate_hz / 75u;
    m->offset_track_n = (float)cfg->sample_rate_hz * MC_OFFSET_TAU_S;
    m->offset_track_inv = 1.0f / m->offset_track_n;
    /* Voltage counts as present from 10 % of Un (peak, in codes). */
    float vmin = 0.1f * cfg->un * 1.41421356f / cfg->u_scale;
    m->vmin_peak = vmin > 16777216.0f ? 16777216 : (vmin > 1.0f ? (int32_t)vmin : 1); /* inputs are <= 2^24 */
    m->hyst = m->vmin_peak / 4;
    m->acquiring = 1;
    m->settling = 1;
    m->acq_vmin = m->acq_imin = INT32_MAX;
    m->acq_vmax = m->acq_imax = INT32_MIN;
    set_reference_frequency(m, cfg->nominal_freq_hz);
    /* Quanta per pulse: 2^30 per Wh * 1000 Wh per kWh / constant. */
    m->pulse_quanta = (MC_ENERGY_QUANTA_PER_WH * 1000u) / cfg->pulse_constant;
    window_reset(m, 0);
    return MC_OK;
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
    return (uint64_t)(q + 0.5f);
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
    const float fe = (float)e;
    /* Assume constant power over the window: energy e over n samples. */
    float period = (float)m->pulse_quanta / fe * n;
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
        float at = (float)needed / fe * n; /* samples after the window start */
        p.start_q16 = (m->w_start_sample << 16) + (uint64_t)(at * 65536.0f);
        p.width_q16 = (uint32_t)(width * 65536.0f);
        if (m->cfg.on_pulse != NULL) {
            m->cfg.on_pulse(m->cfg.context, &p);
        }
        needed += m->pulse_quanta;
    }
}

/*
 * Re-centre the window's sums from the offsets they were taken about (w_off_*,
 * the same for every sample of the window) to the tracker's estimates now
 * (off_*), exactly: with d = off - w_off and S = sum (x - w_off) over the window,
 *   sum (x - off)^2 = sum (x - w_off)^2 - 2 d S + n d^2,
 *   sum (v - offv)(i - offi) = sum (v - w_offv)(i - w_offi) - di Sv - dv Si + n dv di,
 *   sum (x - off) e^{-j theta} = sum (x - w_off) e^{-j theta} - d (sum cos - j sum sin).
 * One offset for the whole window means the tracker's own ripple (it follows each
 * cycle's mean, a little) cannot correlate with what the window measures.
 */
static void recentre_window(mc_meter_t *m)
{
    const float n = (float)m->w_n;
    const float dv = m->off_v - m->w_off_v;
    const float di = m->off_i - m->w_off_i;
    m->w_vv += dv * (n * dv - 2.0f * m->w_sv);
    m->w_ii += di * (n * di - 2.0f * m->w_si);
    m->w_vi += n * dv * di - di * m->w_sv - dv * m->w_si;
    m->w_vr -= dv * m->w_sc;
    m->w_vim += dv * m->w_ss;
    m->w_ir -= di * m->w_sc;
    m->w_iim += di * m->w_ss;
}

/* The next window is taken about the tracker's estimates now; returns the change of
 * the voltage's integer part (the caller corrects its previous sample by it). */
static int32_t take_offsets(mc_meter_t *m)
{
    m->w_off_v = m->off_v;
    m->w_off_i = m->off_i;
    const int32_t dv = (int32_t)lrintf(m->w_off_v) - m->dc_v;
    m->dc_v += dv;
    m->dc_i = (int32_t)lrintf(m->w_off_i);
    return dv;
}

/* Close the window: compute the reading, register energy, emit pulses.
 * extra_flags (MC_FLAG_PARTIAL) are set in the reading before on_window sees it. */
static void close_window(mc_meter_t *m, uint64_t next_start, uint32_t extra_flags)
{
    mc_reading_t *r = &m->last;
    const float prev_freq = r->freq;
    memset(r, 0, sizeof(*r));
    const float n = (float)m->w_n;
    const float fs = (float)m->cfg.sample_rate_hz;
    if (m->w_n == 0) {
        window_reset(m, next_start);
        return;
    }
    recentre_window(m);
    r->samples = m->w_n;
    r->start_sample = m->w_start_sample;
    r->cycles = (uint16_t)(m->w_cycles + m->w_pseudo);
    r->duration_s = n / fs;
    r->urms = m->ku * sqrtf(m->w_vv > 0.0f ? m->w_vv / n : 0.0f);
    r->irms = m->ki * sqrtf(m->w_ii > 0.0f ? m->w_ii / n : 0.0f);
    const float kp = m->ku * m->ki;
    float p_total = kp * m->w_vi / n;

    /* Fundamental: V1 * conj(I1) from the window DFT sums, scaled to rms phasors. */
    const float kd = 2.0f * kp / (MC_REF_GAIN * MC_REF_GAIN) / n / n;
    float p1 = kd * (m->w_vr * m->w_ir + m->w_vim * m->w_iim);
    float q1 = kd * (m->w_vim * m->w_ir - m->w_vr * m->w_iim);
    /* Phase correction: rotate the fundamental by -delta (current sensor delay). */
    float p1c = p1 * m->cos_d + q1 * m->sin_d;
    float q1c = q1 * m->cos_d - p1 * m->sin_d;
    float p = p_total + (p1c - p1) - m->cal.p_offset;
    float q = q1c - m->cal.q_offset;
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

    const int creep_p = !(fabsf(p) >= m->creep_w);
    const int creep_q = !(fabsf(q) >= m->creep_w);
    if (creep_p) {
        r->flags |= MC_FLAG_CREEP_P;
    }
    if (creep_q) {
        r->flags |= MC_FLAG_CREEP_Q;
    }
    const int pos_p = p >= 0.0f || creep_p;
    const int pos_q = q >= 0.0f || creep_q;
    r->quadrant = (uint8_t)(pos_p ? (pos_q ? 1 : 4) : (pos_q ? 2 : 3));
    if (!creep_q) {
        r->flags |= (r->quadrant == 1 || r->quadrant == 3) ? MC_FLAG_INDUCTIVE : MC_FLAG_CAPACITIVE;
    }

    /* Energy: each window's integral, rounded once to a quantum, added exactly. */
    const float dur = r->duration_s;
    if (!creep_p) {
        uint64_t e = ws_to_quanta(fabsf(p) * dur);
        r->delta.q[p >= 0.0f ? MC_E_ACTIVE_IMPORT : MC_E_ACTIVE_EXPORT] = e;
    }
    if (!creep_q) {
        uint64_t e = ws_to_quanta(fabsf(q) * dur);
        r->delta.q[MC_E_REACTIVE_Q1 + (r->quadrant - 1u)] = e;
    }
    for (int k = 0; k < MC_E_COUNT; k++) {
        m->energy.q[k] += r->delta.q[k];
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

    if (m->windows_done < 255u) {
        m->windows_done++;
    }
    m->settling = 0;
    if (m->cfg.on_window != NULL) {
        m->cfg.on_window(m->cfg.context, r);
    }
    window_reset(m, next_start);
}

/*
 * Fold the cycle accumulator into the window sums with constants kv, ki (codes: the
 * fractions of the window's offsets) removed from every sample, exactly:
 *   sum (x - kx)(y - ky) = sum xy - ky sum x - kx sum y + n kx ky.
 * Returns the cycle's centred sums of v*v, i*i and v*i.
 */
static void fold_cycle(mc_meter_t *m, float kv, float ki, float *cvv, float *cii, float *cvi)
{
    const mc_cycle_acc_t *a = &m->cyc;
    const float n = (float)a->n;
    const float sv = (float)a->v, si = (float)a->i;
    *cvv = (float)a->vv + kv * (n * kv - 2.0f * sv);
    *cii = (float)a->ii + ki * (n * ki - 2.0f * si);
    *cvi = (float)a->vi - ki * sv - kv * si + n * kv * ki;
    /* DFT: X = sum (x - mx) e^{-j theta} = (sum x cos - mx sum cos) - j (sum x sin - mx sum sin). */
    m->w_vr += (float)a->vc - kv * (float)a->c;
    m->w_vim -= (float)a->vs - kv * (float)a->s;
    m->w_ir += (float)a->ic - ki * (float)a->c;
    m->w_iim -= (float)a->is - ki * (float)a->s;
    m->w_vv += *cvv;
    m->w_ii += *cii;
    m->w_vi += *cvi;
    m->w_n += a->n;
    /* For re-centring at the window's end: sums of the centred samples and of the reference. */
    m->w_sv += sv - n * kv;
    m->w_si += si - n * ki;
    m->w_sc += (float)a->c;
    m->w_ss += (float)a->s;
}

/* The window's first crossing: the origin of its period regression. */
static void window_first_crossing(mc_meter_t *m, uint64_t idx, float frac)
{
    m->zc_have_first = 1;
    m->zc_first_idx = idx;
    m->zc_first_frac = frac;
    m->zc_t0 = (float)m->cfg.sample_rate_hz / m->f_ref;
    m->zc_sr = 0.0f;
    m->zc_sjr = 0.0f;
    m->zc_rlast = 0.0f;
    m->w_jitter = 0;
}

/* Acquisition: segments closed without a crossing before measuring starts anyway. */
#define MC_ACQUIRE_SEGMENTS 3

/*
 * Close the cycle that ends before sample `idx` (absolute index). For a real
 * zero crossing it lies at idx - 1 + frac. Stores the change of the voltage DC
 * estimate in *dv so the caller can correct its previous sample, and returns
 * the MC_EVENT_* bits.
 *
 * Before the first crossing after init (acquisition) segments only set the DC
 * estimate and are not measured: measurement, and the energy integral, start at
 * the first crossing, or after MC_ACQUIRE_SEGMENTS segments without one (no
 * voltage).
 */
static int close_cycle(mc_meter_t *m, uint64_t idx, float frac, int real, int32_t *dv_out)
{
    mc_cycle_acc_t *a = &m->cyc;
    const float fs = (float)m->cfg.sample_rate_hz;
    int32_t dv = 0;
    int events = 0;
    /* A whole cycle lies between two crossings: its period is measured, and its mean
     * (offset plus the signal's content below the mains frequency) feeds the offset
     * tracker at full weight. */
    const int whole = real && m->zc_prev_idx != 0u && !m->acquiring;
    float period = 0.0f;
    if (real && m->zc_prev_idx != 0u) {
        period = (float)(idx - m->zc_prev_idx) + (frac - m->zc_prev_frac);
    }

    if (a->n > 0) {
        const float n = (float)a->n;
        /* The window's offsets (w_off_v, w_off_i) stay the same for all its samples:
         * the per-sample path removed their integer parts dc_v, dc_i, the fractions
         * rv, ri are removed here. mv, mi: the segment's means about the tracker's
         * live estimates. */
        const float rv = m->w_off_v - (float)m->dc_v;
        const float ri = m->w_off_i - (float)m->dc_i;
        const float inv_n = 1.0f / n;
        const float mv = (float)a->v * inv_n - (m->off_v - (float)m->dc_v);
        const float mi = (float)a->i * inv_n - (m->off_i - (float)m->dc_i);
        if (m->acquiring) {
            /* Waiting for the first crossing: the DC from the extremes stands; measure nothing. */
        } else {
            /* Measured about the offset estimates, not about the segment's own mean:
             * what the signal carries below the mains frequency (sub-harmonics,
             * half-cycle asymmetry, a step) is signal and stays in P, U and I. The
             * window is re-centred on the tracker's estimate when it closes. */
            float cvv, cii, cvi;
            fold_cycle(m, rv, ri, &cvv, &cii, &cvi);

            /* Per-cycle values. P and U are normalised by the exact period: the
             * samples at either end lie where v is near zero, so their sums cover
             * the period whatever the sample count; I has no such zero there. */
            mc_cycle_reading_t *c = &m->last_cycle;
            const float nt = period > 0.0f ? period : n;
            c->urms = m->ku * sqrtf(cvv > 0.0f ? cvv / nt : 0.0f);
            c->irms = m->ki * sqrtf(cii > 0.0f ? cii / n : 0.0f);
            c->p = m->ku * m->ki * cvi / nt;
            c->samples = a->n;
            c->freq = 0.0f;
            m->have_cycle = 1;
            events |= MC_EVENT_CYCLE;

            /* Offset tracker: a running mean of the whole cycles' means over everything
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
                m->off_v += w * mv;
                m->off_i += w * mi;
            }
        }
        const int32_t h = a->vpeak / 4;
        m->hyst = h > m->vmin_peak / 4 ? h : m->vmin_peak / 4;
    }
    const uint32_t cycle_n = a->n;
    memset(a, 0, sizeof(*a));
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
            set_reference_frequency(m, m->settling ? f : m->f_ref + 0.25f * (f - m->f_ref));
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
            const float rj = ((float)(idx - m->zc_first_idx) + (frac - m->zc_first_frac)) - j * m->zc_t0;
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
        close_window(m, idx, 0u);
        dv = take_offsets(m);
        events |= MC_EVENT_WINDOW;
        if (real) {
            window_first_crossing(m, idx, frac);
        } else {
            m->zc_have_first = 0;
        }
    }
    *dv_out = dv;
    return events;
}

int mc_meter_process(mc_meter_t *m, const int32_t *v, const int32_t *i, size_t n)
{
    if (m == NULL || ((v == NULL || i == NULL) && n > 0)) {
        return MC_ERR_INVAL;
    }
    int events = 0;
    mc_cycle_acc_t a = m->cyc;
    int32_t dc_v = m->dc_v, dc_i = m->dc_i;
    int32_t prev = m->prev_v;
    int32_t hyst = m->hyst;
    uint32_t phase = m->phase, dphase = m->dphase;
    int armed = m->armed;
    /* No crossing counts during the first acquisition segment: it sets the DC first. */
    int32_t zc_min = (m->acquiring && m->acquire_segments == 0u) ? INT32_MAX : m->vmin_peak;
    uint32_t limit = m->cycle_timeout;
    /* The shortest-cycle rule counts from a crossing; a segment that began otherwise
     * (start-up, timeout) may end at its first crossing. */
    uint32_t cmin = m->zc_prev_idx != 0u ? m->cycle_min : 0u;

    size_t k = 0;
    /*
     * Acquisition, first segment: 1/40 s (a whole cycle at any mains frequency
     * from 40 Hz up) to find the DC as the midpoint of the extremes, which is
     * exact for any half-wave symmetric waveform whatever the segment covers.
     */
    while (k < n && m->acquiring && m->acquire_segments == 0u) {
        for (; k < n && m->acq_count < m->cycle_timeout; k++) {
            const int32_t vk = v[k], ik = i[k];
            m->acq_vmin = vk < m->acq_vmin ? vk : m->acq_vmin;
            m->acq_vmax = vk > m->acq_vmax ? vk : m->acq_vmax;
            m->acq_imin = ik < m->acq_imin ? ik : m->acq_imin;
            m->acq_imax = ik > m->acq_imax ? ik : m->acq_imax;
            m->acq_count++;
        }
        if (m->acq_count >= m->cycle_timeout) {
            /* Midpoints; the halves are summed separately so nothing overflows. */
            dc_v = m->acq_vmin / 2 + m->acq_vmax / 2;
            dc_i = m->acq_imin / 2 + m->acq_imax / 2;
            m->off_v = m->w_off_v = (float)dc_v;
            m->off_i = m->w_off_i = (float)dc_i;
            const int32_t h = (m->acq_vmax / 2 - m->acq_vmin / 2) / 4;
            hyst = h > m->vmin_peak / 4 ? h : m->vmin_peak / 4;
            m->dc_v = dc_v;
            m->dc_i = dc_i;
            m->hyst = hyst;
            m->acquire_segments = 1;
            zc_min = m->vmin_peak;
            armed = 0;
            prev = 0;
        }
    }
    while (k < n) {
        /*
         * Pass 1, voltage only: find where the cycle under way ends in this block
         * (a positive-going crossing, armed by a swing below -hyst, while the
         * cycle shows voltage present), or the timeout, or the end of the block.
         */
        const size_t room = (size_t)(limit - a.n);
        const size_t stop = (n - k < room) ? n : k + room;
        int32_t peak = a.vpeak;
        size_t end = k;
        int crossing = 0;
        float frac = 0.0f;
        /* Too soon after the previous crossing for another one: sign and peak only. */
        const size_t soon = cmin > a.n ? k + (cmin - a.n) : k;
        for (const size_t quiet = soon < stop ? soon : stop; end < quiet; end++) {
            const int32_t vs = v[end] - dc_v;
            if (vs < -hyst) {
                armed = 1;
            }
            const int32_t av = vs < 0 ? -vs : vs;
            peak = av > peak ? av : peak;
            prev = vs;
        }
        for (; end < stop; end++) {
            const int32_t vs = v[end] - dc_v;
            if (vs < -hyst) {
                armed = 1;
            } else if (armed && vs >= 0 && prev < 0 && peak >= zc_min) {
                frac = (float)(-prev) / (float)(vs - prev);
                crossing = 1;
                break;
            }
            const int32_t av = vs < 0 ? -vs : vs;
            peak = av > peak ? av : peak;
            prev = vs;
        }

        /* Pass 2: accumulate samples k..end-1 into the cycle, branch-free. */
        for (size_t j = k; j < end; j++) {
            const int32_t vs = v[j] - dc_v;
            const int32_t is = i[j] - dc_i;
            const uint32_t idx = phase >> 24;
            const int32_t sn = mc_sine_q15[idx];
            const int32_t cs = mc_sine_q15[(idx + 64u) & 255u];
            phase += dphase;
            a.v += vs;
            a.i += is;
            a.vv += (int64_t)vs * vs;
            a.ii += (int64_t)is * is;
            a.vi += (int64_t)vs * is;
            a.vc += (int64_t)vs * cs;
            a.vs += (int64_t)vs * sn;
            a.ic += (int64_t)is * cs;
            a.is += (int64_t)is * sn;
            a.c += cs;
            a.s += sn;
        }
        a.n += (uint32_t)(end - k);
        a.vpeak = peak;
        k = end;

        if (!crossing && a.n < limit) {
            break; /* end of block inside the cycle */
        }
        int32_t dv;
        m->cyc = a;
        /* A crossing lies before sample `end`, which starts the new cycle; a
         * timeout closes after the last accumulated sample, which is the same index. */
        events |= close_cycle(m, m->sample_count + end, frac, crossing, &dv);
        a = m->cyc;
        dc_v = m->dc_v;
        dc_i = m->dc_i;
        hyst = m->hyst;
        dphase = m->dphase;
        limit = m->cycle_timeout;
        cmin = m->zc_prev_idx != 0u ? m->cycle_min : 0u;
        zc_min = m->vmin_peak;
        armed = 0;
        /* The sample at `end` is measured against the new DC; after a crossing it
         * must not count as crossing again, hence "below zero". */
        prev = crossing ? -1 : prev - dv;
    }
    m->cyc = a;
    m->dc_v = dc_v;
    m->dc_i = dc_i;
    m->prev_v = prev;
    m->phase = phase;
    m->armed = (uint8_t)armed;
    m->sample_count += n;
    return events;
}

int mc_meter_flush(mc_meter_t *m)
{
    if (m == NULL) {
        return MC_ERR_INVAL;
    }
    if (m->acquiring || (m->cyc.n == 0u && m->w_n == 0u)) {
        return 0; /* start-up acquisition (nothing is measured yet) or nothing since the last window */
    }
    /* The cycle under way is measured about the window's offsets, as every segment
     * is; being partial, it does not feed the offset trackers. */
    float cvv, cii, cvi;
    fold_cycle(m, m->w_off_v - (float)m->dc_v, m->w_off_i - (float)m->dc_i, &cvv, &cii, &cvi);
    memset(&m->cyc, 0, sizeof(m->cyc));
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

int mc_meter_set_energy(mc_meter_t *m, const mc_energy_t *energy)
{
    if (m == NULL || energy == NULL) {
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
