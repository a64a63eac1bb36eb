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

/*
 * Error angle e = atan2(q, p) - phi_ref (radians) of a measured P, Q against a
 * reference load's angle; MC_ERR_INVAL when there is no power or it is more than
 * about 25 degrees off (a wrong reference or wiring).
 */
static int phase_error(float p, float q, float phi_ref_deg, float *e_out)
{
    if (!(phi_ref_deg >= -89.0f && phi_ref_deg <= 89.0f)) {
        return MC_ERR_INVAL;
    }
    const float mag = sqrtf(p * p + q * q);
    if (!(mag > 0.0f)) {
        return MC_ERR_INVAL;
    }
    /*
     * From the rotation of the measured phasor by -phi_ref: sin e = (q cos phi_ref -
     * p sin phi_ref) / |pq|, cos e = (p cos phi_ref + q sin phi_ref) / |pq|. The
     * reference angle is large, so its sine and cosine come from the exact identity
     * with the given pf rather than from a series: only e itself is small.
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
        return MC_ERR_INVAL;
    }
    /* e = atan(se / ce); |e| < 0.45 rad: series of atan to the 9th power. */
    const float t = se / ce;
    const float t2 = t * t;
    *e_out = t * (1.0f - t2 * (1.0f / 3.0f - t2 * (1.0f / 5.0f - t2 * (1.0f / 7.0f - t2 / 9.0f))));
    return MC_OK;
}

int mc_calibrate_phase(const mc_reading_t *measured, float phi_ref_deg, mc_calibration_t *cal)
{
    if (measured == NULL || cal == NULL) {
        return MC_ERR_INVAL;
    }
    float e;
    int err = phase_error(measured->p + cal->p_offset, measured->q + cal->q_offset, phi_ref_deg, &e);
    if (err != MC_OK) {
        return err;
    }
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

/* ---- per-channel calibration (every wiring) ---- */

void mc_poly_calibration_default(mc_poly_calibration_t *cal)
{
    if (cal == NULL) {
        return;
    }
    memset(cal, 0, sizeof(*cal));
    for (unsigned k = 0; k < MC_MAX_CHANNELS; k++) {
        cal->gain[k] = 1.0f;
    }
    mc_poly_calibration_seal(cal);
}

void mc_poly_calibration_seal(mc_poly_calibration_t *cal)
{
    if (cal == NULL) {
        return;
    }
    cal->version = MC_CALIBRATION_VERSION;
    cal->size = (uint16_t)sizeof(*cal);
    cal->crc = mc_crc32(0, cal, offsetof(mc_poly_calibration_t, crc));
}

static int poly_ranges_ok(const mc_poly_calibration_t *cal)
{
    /* Written so that NaN fails every comparison. */
    for (unsigned k = 0; k < MC_MAX_CHANNELS; k++) {
        if (!(cal->gain[k] >= 0.5f && cal->gain[k] <= 2.0f) ||
            !(cal->phase_deg[k] >= -MC_PHASE_LIMIT_DEG && cal->phase_deg[k] <= MC_PHASE_LIMIT_DEG)) {
            return 0;
        }
    }
    for (unsigned k = 0; k < MC_MAX_CIRCUITS; k++) {
        if (!(fabsf(cal->p_offset[k]) <= 1e4f) || !(fabsf(cal->q_offset[k]) <= 1e4f)) {
            return 0;
        }
    }
    return 1;
}

int mc_poly_calibration_check(const mc_poly_calibration_t *cal)
{
    if (cal == NULL) {
        return MC_ERR_INVAL;
    }
    if (cal->version != MC_CALIBRATION_VERSION || cal->size != sizeof(*cal)) {
        return MC_ERR_VERSION;
    }
    if (mc_crc32(0, cal, offsetof(mc_poly_calibration_t, crc)) != cal->crc) {
        return MC_ERR_CORRUPT;
    }
    return poly_ranges_ok(cal) ? MC_OK : MC_ERR_INVAL;
}

static int poly_commit(mc_poly_calibration_t *cal, const mc_poly_calibration_t *next)
{
    if (!poly_ranges_ok(next)) {
        return MC_ERR_INVAL;
    }
    *cal = *next;
    mc_poly_calibration_seal(cal);
    return MC_OK;
}

static int element_ok(const mc_meter_t *m, unsigned element, const mc_phase_reading_t *measured,
                      const mc_poly_calibration_t *cal)
{
    return m != NULL && measured != NULL && cal != NULL && element < m->n_el;
}

int mc_calibrate_element_gain(const mc_meter_t *m, unsigned element, const mc_phase_reading_t *measured,
                              float u_ref, float i_ref, mc_poly_calibration_t *cal)
{
    if (!element_ok(m, element, measured, cal) || !(u_ref > 0.0f) || !(i_ref > 0.0f) ||
        !(measured->urms > 0.0f) || !(measured->irms > 0.0f)) {
        return MC_ERR_INVAL;
    }
    const unsigned u = MC_EL(m)[element].u, i = MC_EL(m)[element].i;
    mc_poly_calibration_t next = *cal;
    next.gain[u] = cal->gain[u] * (u_ref / measured->urms);
    next.gain[i] = cal->gain[i] * (i_ref / measured->irms);
    return poly_commit(cal, &next);
}

int mc_calibrate_element_phase(const mc_meter_t *m, unsigned element, const mc_phase_reading_t *measured,
                               float phi_ref_deg, mc_poly_calibration_t *cal)
{
    if (!element_ok(m, element, measured, cal)) {
        return MC_ERR_INVAL;
    }
    float e;
    int err = phase_error(measured->p + cal->p_offset[element], measured->q + cal->q_offset[element],
                          phi_ref_deg, &e);
    if (err != MC_OK) {
        return err;
    }
    const unsigned i = MC_EL(m)[element].i;
    mc_poly_calibration_t next = *cal;
    next.phase_deg[i] = cal->phase_deg[i] + e / MC_DEG2RAD;
    return poly_commit(cal, &next);
}

int mc_calibrate_element_offsets(const mc_meter_t *m, unsigned element, const mc_phase_reading_t *measured,
                                 mc_poly_calibration_t *cal)
{
    if (!element_ok(m, element, measured, cal)) {
        return MC_ERR_INVAL;
    }
    mc_poly_calibration_t next = *cal;
    next.p_offset[element] = cal->p_offset[element] + measured->p;
    next.q_offset[element] = cal->q_offset[element] + measured->q;
    return poly_commit(cal, &next);
}
