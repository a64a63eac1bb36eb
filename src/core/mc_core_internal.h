/*
 * metercore core: helpers shared by the core's source files. Not installed.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERCORE_CORE_INTERNAL_H
#define METERCORE_CORE_INTERNAL_H

#include "metercore/mc_meter.h"

/** Degrees to radians. */
#define MC_DEG2RAD 0.017453292519943295f

/** Largest phase correction accepted, degrees. */
#define MC_PHASE_LIMIT_DEG 10.0f

/**
 * Sine and cosine of a small angle (|x| <= 0.2 rad) by their Taylor series to
 * the x^7 term: error below 1e-9 there, no libm needed.
 */
static inline void mc_small_sincos(float x, float *s, float *c)
{
    float x2 = x * x;
    *s = x * (1.0f - x2 / 6.0f * (1.0f - x2 / 20.0f * (1.0f - x2 / 42.0f)));
    *c = 1.0f - x2 / 2.0f * (1.0f - x2 / 12.0f * (1.0f - x2 / 30.0f));
}

/** A meter's channel states: the caller's array, or the built-in 1P2W one (no pointer to it is
 *  kept in the instance, so a meter may be copied or moved between calls). */
#define MC_CH(m) ((m)->ch != NULL ? (m)->ch : (m)->ch1)
/** A meter's sample products (see MC_CH()). */
#define MC_PR(m) ((m)->pr != NULL ? (m)->pr : &(m)->pr1)
/** A meter's elements (see MC_CH()). */
#define MC_EL(m) ((m)->el != NULL ? (m)->el : &(m)->el1)

/**
 * Keep a function out of line. The cycle and window work are called once per mains
 * cycle and per window: keeping them out of the sample loop's function costs a call
 * each and lets the exact instruction counts (bench/qemu) tell per-sample, per-cycle
 * and per-window work apart by symbol.
 */
#if defined(__GNUC__) || defined(__clang__)
#define MC_NOINLINE __attribute__((noinline))
#else
#define MC_NOINLINE
#endif

/**
 * Close the cycle that ends before sample `idx` (absolute; for a real crossing it lies at
 * idx - 1 + frac): fold the cycle's sums, track the offsets, close the window when due.
 * Stores the change of the reference voltage's integer DC in *dv_out and returns the
 * MC_EVENT_* bits. The per-cycle work of mc_meter.c, called by the block loop of
 * mc_meter_kernel.c.
 */
int mc_meter_close_cycle(mc_meter_t *m, uint64_t idx, float frac, int real, int32_t *dv_out);

/** Validate the ranges of a calibration (not its CRC). */
int mc_calibration_ranges_ok(const mc_calibration_t *cal);

#endif /* METERCORE_CORE_INTERNAL_H */
