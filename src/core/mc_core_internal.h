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
 * MC_KERNEL_ARMV6M_ASM: 1 where the chunked kernel's loops run as the ARMv6-M assembly of
 * mc_kernel_armv6m.c (Cortex-M0/M0+ and ARMv8-M Baseline, GCC or Clang), 0 for the C loops
 * of mc_meter_kernel.c. Same sums bit for bit; define it 0 to build the C form there too.
 */
#ifndef MC_KERNEL_ARMV6M_ASM
#if (defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)) && defined(__thumb__) && \
    (defined(__GNUC__) || defined(__clang__))
#define MC_KERNEL_ARMV6M_ASM 1
#else
#define MC_KERNEL_ARMV6M_ASM 0
#endif
#endif

/**
 * MC_KERNEL_ARMV7M_ASM: 1 where the chunked kernel's loops run as the ARMv7-M assembly of
 * mc_kernel_armv7m.c (Cortex-M3/M4/M7 and ARMv8-M Mainline, little-endian, GCC or Clang), 0 for
 * the C loops of mc_meter_kernel.c. Same sums bit for bit; define it 0 to build the C form there too.
 */
#ifndef MC_KERNEL_ARMV7M_ASM
#if (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)) && \
    defined(__thumb__) && !defined(__ARM_BIG_ENDIAN) && (defined(__GNUC__) || defined(__clang__))
#define MC_KERNEL_ARMV7M_ASM 1
#else
#define MC_KERNEL_ARMV7M_ASM 0
#endif
#endif

#if MC_KERNEL_ARMV6M_ASM || MC_KERNEL_ARMV7M_ASM
/** The DFT reference of a chunk (mc_k6m_reference(), mc_k7m_reference()): the table, the
 *  running phase and step, and the chunk's Σcos, Σsin (the assembly reads and writes the
 *  fields at byte offsets 0, 4, 8, 12 and 16). */
typedef struct mc_kernel_ref {
    const uint32_t *table; /**< Packed (cos << 16) | sin words, 256 a cycle. */
    uint32_t phase;        /**< Phase of the chunk's first frame; advanced past its last. */
    uint32_t dphase;       /**< Phase step a frame. */
    int32_t sc;            /**< Out: Σcos over the chunk. */
    int32_t ss;            /**< Out: Σsin over the chunk. */
} mc_kernel_ref_t;
#endif

#if MC_KERNEL_ARMV6M_ASM
/* The loops (mc_kernel_armv6m.c); each runs over a chunk of 1 to 32 frames, strides and
 * offsets in bytes, x = h·2^12 + l with l the low 12 bits taken as signed. */
/** out = { Σx, Σh·h, Σh·l, Σl·l } of one channel. */
void mc_k6m_squares(const int32_t *x, uint32_t stride_bytes, const int32_t *x_end, int32_t out[4]);
/** out = { Σh·c, Σl·c, Σh·s, Σl·s } of one channel against the reference pairs (c, s). */
void mc_k6m_dft(const int32_t *x, uint32_t stride_bytes, const int32_t *ref, const int32_t *ref_end, int32_t out[4]);
/** out = { Σh·h, Σh·l, Σl·l } of the sums a + b, b at a fixed byte offset from a. */
void mc_k6m_sum_squares(const int32_t *xa, int32_t b_minus_a_bytes, uint32_t stride_bytes, const int32_t *xa_end,
                        int32_t out[3]);
/** The reference pairs (c, s) of a chunk into ref[0 .. ref_end), from st's table and phase. */
void mc_k6m_reference(int32_t *ref, const int32_t *ref_end, mc_kernel_ref_t *st);
#endif

#if MC_KERNEL_ARMV7M_ASM
/* The loops (mc_kernel_armv7m.c); each runs over a chunk of 1 to 64 frames, strides in bytes
 * (4: two samples an iteration). */
/** ch's cycle sums c_xx, c_xc, c_xs, c_x (its first four fields, at byte offsets 0, 8, 16, 24)
 *  += Σx², Σx·c, Σx·s, Σx of one channel against the reference pairs (c, s). */
void mc_k7m_channel(const int32_t *x, uint32_t stride_bytes, const int32_t *ref, const int32_t *ref_end,
                    mc_meter_channel_t *ch);
/** Σa·b of two channels over n >= 1 samples. */
int64_t mc_k7m_product(const int32_t *a, const int32_t *b, uint32_t stride_bytes, uint32_t n);
/** out = { Σa·b, Σb·c, Σc·a } over n >= 1 frames, b and c at byte offsets from a. */
void mc_k7m_cross3(const int32_t *a, int32_t b_minus_a_bytes, int32_t c_minus_a_bytes, uint32_t stride_bytes,
                   uint32_t n, int64_t out[3]);
/** The reference pairs (c, s) of a chunk into ref[0 .. ref_end), from st's table and phase. */
void mc_k7m_reference(int32_t *ref, const int32_t *ref_end, mc_kernel_ref_t *st);
/** The crossing scan not armed, codes one word apart: up to and including the first code below
 *  thr; lohi = { minimum, maximum } so far, lohi[0] >= thr on entry. Returns where it stopped. */
const int32_t *mc_k7m_scan_arm(const int32_t *p, const int32_t *stop, int32_t thr, int32_t lohi[2]);
/** The crossing scan armed below dc, codes one word apart: up to, not including, the first code
 *  at or above dc; *lo the minimum so far. Returns where it stopped. */
const int32_t *mc_k7m_scan_rise(const int32_t *p, const int32_t *stop, int32_t dc, int32_t *lo);
#endif

/**
 * Close the cycle that ends before sample `idx` (absolute; for a real crossing it lies at
 * idx - 1 + frac): fold the cycle's sums, track the offsets, close the window when due.
 * Stores the change of the reference voltage's integer DC in *dv_out and returns the
 * MC_EVENT_* bits. The per-cycle work of mc_meter.c, called by the block loop of
 * mc_meter_kernel.c.
 */
int mc_meter_close_cycle(mc_meter_t *m, uint64_t idx, float frac, int real, int32_t *dv_out);

/**
 * Make the elements' cycle sums (mc_meter_pair_t::c_xy of pairs 0 .. n_el - 1) the raw Σv·i
 * of their channels: where the kernel collects Σ(a+b)² instead (ARMv6-M), subtract the
 * channels' raw Σa² and Σb² and halve; elsewhere nothing. Once per cycle, before its sums
 * are read or folded, while the channels' c_xx are raw (mc_meter_kernel.c).
 */
void mc_meter_cycle_products(mc_meter_t *m);

/**
 * The same for the cross products' window sums (wc_xy of pairs n_el .. n_pr - 1, which fold
 * their cycles' Σ(a+b)² as they are), from the channels' raw wc_xx: before the window's
 * integer sums are centred (mc_meter_kernel.c).
 */
void mc_meter_window_products(mc_meter_t *m);

/** Validate the ranges of a calibration (not its CRC). */
int mc_calibration_ranges_ok(const mc_calibration_t *cal);

#endif /* METERCORE_CORE_INTERNAL_H */
