/*
 * metercore core: calibration data (integrity, ranges) and the calibration routine.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "mc_core_internal.h"

void mc_calibration_default(mc_calibration_t *cal)
{
    if (cal == NULL) {
        return;
    }
    memset(cal, 0, sizeof(*cal));
    cal->u_gain = 1.0f;
    cal->i_gain = 1.0f;
    mc_calibration_seal(cal);
}

void mc_calibration_seal(mc_calibration_t *cal)
{
    if (cal == NULL) {
        return;
    }
    cal->version = MC_CALIBRATION_VERSION;
    cal->size = (uint16_t)sizeof(*cal);
    cal->crc = mc_crc32(0, cal, offsetof(mc_calibration_t, crc));
}

int mc_calibration_ranges_ok(const mc_calibration_t *cal)
{
    /* Written so that NaN fails every comparison. */
    return cal->u_gain >= 0.5f && cal->u_gain <= 2.0f && cal->i_gain >= 0.5f && cal->i_gain <= 2.0f &&
           cal->phase_deg >= -MC_PHASE_LIMIT_DEG && cal->phase_deg <= MC_PHASE_LIMIT_DEG &&
           fabsf(cal->p_offset) <= 1e4f && fabsf(cal->q_offset) <= 1e4f;
}

int mc_calibration_check(const mc_calibration_t *cal)
{
    if (cal == NULL) {
        return MC_ERR_INVAL;
    }
    if (cal->version != MC_CALIBRATION_VERSION || cal->size != sizeof(*cal)) {
        return MC_ERR_VERSION;
    }
    if (mc_crc32(0, cal, offsetof(mc_calibration_t, crc)) != cal->crc) {
        return MC_ERR_CORRUPT;
    }
    return mc_calibration_ranges_ok(cal) ? MC_OK : MC_ERR_INVAL;
}

/* Apply a candidate: seal it if its ranges hold, otherwise leave *cal alone. */
static int commit(mc_calibration_t *cal, const mc_calibration_t *next)
{
    if (!mc_calibration_ranges_ok(next)) {
        return MC_ERR_INVAL;
    }
    *cal = *next;
    mc_calibration_seal(cal);
    return MC_OK;
}

int mc_calibrate_gain(const mc_reading_t *measured, float u_ref, float i_ref, mc_calibration_t *cal)
{
    if (measured == NULL || cal == NULL || !(u_ref > 0.0f) || !(i_ref > 0.0f) ||
        !(measured->urms > 0.0f) || !(measured->irms > 0.0f)) {
        return MC_ERR_INVAL;
    }
    mc_calibration_t next = *cal;
    next.u_gain = cal->u_gain * (u_ref / measured->urms);
    next.i_gain = cal->i_gain * (i_ref / measured->irms);
    return commit(cal, &next);
}

int mc_calibrate_phase(const mc_reading_t *measured, float phi_ref_deg, mc_calibration_t *cal)
{
    if (measured == NULL || cal == NULL || !(phi_ref_deg >= -89.0f && phi_ref_deg <= 89.0f)) {
        return MC_ERR_INVAL;
    }
    const float p = measured->p + cal->p_offset;
    const float q = measured->q + cal->q_offset;
    const float mag = sqrtf(p * p + q * q);
    if (!(mag > 0.0f)) {
        return MC_ERR_INVAL;
    }
    /*
     * Error angle e = atan2(q, p) - phi_ref, from the rotation of the measured
     * phasor by -phi_ref: sin e = (q cos phi_ref - p sin phi_ref) / |pq|,
     * cos e = (p cos phi_ref + q sin phi_ref) / |pq|. The reference angle is
     * large, so its sine and cosine come from the exact identity with the
     * given pf rather than from a series: only e itself is small.
     */
    float sr, cr;
    const float ref = phi_ref_deg * MC_DEG2RAD;
    /* phi_ref up to 89 deg: split into halves until small, then double back. */
    mc_small_sincos(ref / 8.0f, &sr, &cr);
    for (int k = 0; k < 3; k++) {
        float s2 = 2.0f * sr * cr;
        float c2 = cr * cr - sr * sr;
        sr = s2;
        cr = c2;
    }
    const float se = (q * cr - p * sr) / mag;
    const float ce = (p * cr + q * sr) / mag;
    if (!(ce > 0.9f)) {
        return MC_ERR_INVAL; /* more than ~25 degrees off: wrong reference or wiring */
    }
    /* e = atan(se / ce); |e| < 0.45 rad: series of atan to the 9th power. */
    const float t = se / ce;
    const float t2 = t * t;
    const float e = t * (1.0f - t2 * (1.0f / 3.0f - t2 * (1.0f / 5.0f - t2 * (1.0f / 7.0f - t2 / 9.0f))));
    mc_calibration_t next = *cal;
    next.phase_deg = cal->phase_deg + e / MC_DEG2RAD;
    return commit(cal, &next);
}

int mc_calibrate_offsets(const mc_reading_t *measured, mc_calibration_t *cal)
{
    if (measured == NULL || cal == NULL) {
        return MC_ERR_INVAL;
    }
    mc_calibration_t next = *cal;
    next.p_offset = cal->p_offset + measured->p;
    next.q_offset = cal->q_offset + measured->q;
    return commit(cal, &next);
}
