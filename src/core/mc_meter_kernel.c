/*
 * metercore core: the per-sample work. The block loop of mc_meter_process() and
 * mc_meter_process_frames(): the acquisition's first segment, the crossing scan and the
 * accumulation of every channel's and product's sums, between the cycle closes that
 * mc_meter.c does (mc_meter_close_cycle()). See docs/DESIGN.md, "Per-sample cost".
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_meter.h"

#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_core_internal.h"

/*
 * Accumulation. The loops sum the raw codes: Σx, Σx², Σx·cos, Σx·sin of every channel and
 * Σa·b of every product, about 0, into the cycle's sums, and nothing else per sample. The
 * integer offsets dc are removed later, exactly, from the window's sums (mc_meter.c,
 * settle_window_ints()), where they cost a few multiplications per window instead of per
 * span of samples. Ranges: codes lie in [-2^23, 2^23] and a cycle has at most the cycle
 * timeout, 1600 samples (64 kHz / 40), so a cycle's Σx² and Σa·b stay below 2^57.
 *
 * Two forms, the same sums (MC_KERNEL_FUSED):
 *  1: per element, one loop that loads its voltage, current and reference once and keeps
 *     nine sums; the reference is looked up in the loop. It suits 64-bit hosts: x86-64 adds
 *     a spilled sum to memory in one instruction, AArch64 has 31 registers; with SSE2 or NEON
 *     the sums go in pairs of binary64 lanes, exactly (MC_KERNEL_F64X2 below).
 *  0: per chunk of MC_CHUNK frames, the reference is tabled once, then one loop per channel
 *     (Σx, Σx², Σx·cos, Σx·sin: seven words) and one per product (Σx·y), each small enough
 *     to keep its sums in registers on a 32-bit microcontroller (Cortex-M4: three SMLAL and
 *     no spill per channel sample), the reference shared by every channel.
 * tests/CMakeLists.txt builds the core both ways and checks that the readings are equal.
 */
#ifndef MC_KERNEL_FUSED
#if UINTPTR_MAX > 0xFFFFFFFFu
#define MC_KERNEL_FUSED 1
#else
#define MC_KERNEL_FUSED 0
#endif
#endif

/*
 * Without a 32x32->64 multiply (ARMv6-M: Cortex-M0/M0+, ARMv8-M Baseline), a 64-bit product
 * is a library call of tens of instructions. MC_KERNEL_SPLIT16 = 1 forms the products from
 * partial products of 12-bit halves instead (MULS only, exact; see channel_raw()).
 */
#ifndef MC_KERNEL_SPLIT16
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define MC_KERNEL_SPLIT16 1
#else
#define MC_KERNEL_SPLIT16 0
#endif
#endif

#if MC_KERNEL_ARMV6M_ASM && !MC_KERNEL_SPLIT16
#error "MC_KERNEL_ARMV6M_ASM needs MC_KERNEL_SPLIT16: the assembly loops form split products"
#endif

#if MC_KERNEL_ARMV7M_ASM && (MC_KERNEL_SPLIT16 || MC_KERNEL_FUSED)
#error "MC_KERNEL_ARMV7M_ASM is the chunked form with 64-bit products (MC_KERNEL_FUSED 0, MC_KERNEL_SPLIT16 0)"
#endif

/* 1 where a product's cycle sum collects Σ(a+b)² (the ARMv6-M assembly's chunked form;
 * see product_chunk()), turned into Σa·b by mc_meter_cycle_products(). */
#define MC_KERNEL_SQUARE_PRODUCTS (MC_KERNEL_ARMV6M_ASM && !MC_KERNEL_FUSED)

/* Frames whose DFT reference is tabled once for every channel (MC_KERNEL_FUSED 0); with
 * split products 32, which bounds their 32-bit partial sums (see channel_raw()). */
#if MC_KERNEL_SPLIT16
#define MC_CHUNK 32u
#else
#define MC_CHUNK 64u
#endif

/*
 * MC_KERNEL_F64X2 = 1 (the fused form, GCC or Clang on x86-64 or AArch64): the element loop
 * keeps its sums in pairs of binary64 lanes (voltage, current), SSE2 or NEON, over runs of at
 * most MC_F64_RUN frames, each run's sums then moved into the int64 sums. Exact, the same
 * integers as the int64 loop: every product and every partial sum of a run is an integer of
 * magnitude at most 2^53, which a double holds exactly (codes in [-2^23, 2^23]: x² and u·i at
 * most 2^46, 128 of them 2^53; x·cos below 2^38), so no addition rounds and their order does not
 * matter. The int64 loop multiplies in one integer unit (x86-64: one 64-bit IMUL a cycle);
 * the pairs do seven products in four vector multiplications. 0: the int64 loop.
 */
#ifndef MC_KERNEL_F64X2
#if MC_KERNEL_FUSED && defined(__GNUC__) && (defined(__SSE2__) || defined(__aarch64__))
#define MC_KERNEL_F64X2 1
#else
#define MC_KERNEL_F64X2 0
#endif
#endif
#define MC_F64_RUN 128u

#if MC_KERNEL_F64X2 && !MC_KERNEL_FUSED
#error "MC_KERNEL_F64X2 is a variant of the fused form (MC_KERNEL_FUSED 1)"
#endif

/*
 * The DFT reference over one cycle in 256 steps, Q15: X(cos_k, sin_k) for k = 0..255 with
 * sin_k = round(32767 * sin(2*pi*k/256)) and cos_k = sin_{(k+64) mod 256} (index = phase >> 24).
 * One list, two tables made from it: packed words (cos_k << 16) | (sin_k & 0xFFFF), so that one
 * load gives both (ref_sin(), ref_cos() unpack them exactly), and, for the fused form in
 * binary64 pairs (MC_KERNEL_F64X2), the same integers as doubles.
 */
#define MC_SINCOS_Q15(X) \
    X(32767, 0) X(32757, 804) X(32728, 1608) X(32678, 2410) X(32609, 3212) X(32521, 4011) \
    X(32412, 4808) X(32285, 5602) X(32137, 6393) X(31971, 7179) X(31785, 7962) X(31580, 8739) \
    X(31356, 9512) X(31113, 10278) X(30852, 11039) X(30571, 11793) X(30273, 12539) X(29956, 13279) \
    X(29621, 14010) X(29268, 14732) X(28898, 15446) X(28510, 16151) X(28105, 16846) X(27683, 17530) \
    X(27245, 18204) X(26790, 18868) X(26319, 19519) X(25832, 20159) X(25329, 20787) X(24811, 21403) \
    X(24279, 22005) X(23731, 22594) X(23170, 23170) X(22594, 23731) X(22005, 24279) X(21403, 24811) \
    X(20787, 25329) X(20159, 25832) X(19519, 26319) X(18868, 26790) X(18204, 27245) X(17530, 27683) \
    X(16846, 28105) X(16151, 28510) X(15446, 28898) X(14732, 29268) X(14010, 29621) X(13279, 29956) \
    X(12539, 30273) X(11793, 30571) X(11039, 30852) X(10278, 31113) X(9512, 31356) X(8739, 31580) \
    X(7962, 31785) X(7179, 31971) X(6393, 32137) X(5602, 32285) X(4808, 32412) X(4011, 32521) \
    X(3212, 32609) X(2410, 32678) X(1608, 32728) X(804, 32757) X(0, 32767) X(-804, 32757) \
    X(-1608, 32728) X(-2410, 32678) X(-3212, 32609) X(-4011, 32521) X(-4808, 32412) X(-5602, 32285) \
    X(-6393, 32137) X(-7179, 31971) X(-7962, 31785) X(-8739, 31580) X(-9512, 31356) X(-10278, 31113) \
    X(-11039, 30852) X(-11793, 30571) X(-12539, 30273) X(-13279, 29956) X(-14010, 29621) X(-14732, 29268) \
    X(-15446, 28898) X(-16151, 28510) X(-16846, 28105) X(-17530, 27683) X(-18204, 27245) X(-18868, 26790) \
    X(-19519, 26319) X(-20159, 25832) X(-20787, 25329) X(-21403, 24811) X(-22005, 24279) X(-22594, 23731) \
    X(-23170, 23170) X(-23731, 22594) X(-24279, 22005) X(-24811, 21403) X(-25329, 20787) X(-25832, 20159) \
    X(-26319, 19519) X(-26790, 18868) X(-27245, 18204) X(-27683, 17530) X(-28105, 16846) X(-28510, 16151) \
    X(-28898, 15446) X(-29268, 14732) X(-29621, 14010) X(-29956, 13279) X(-30273, 12539) X(-30571, 11793) \
    X(-30852, 11039) X(-31113, 10278) X(-31356, 9512) X(-31580, 8739) X(-31785, 7962) X(-31971, 7179) \
    X(-32137, 6393) X(-32285, 5602) X(-32412, 4808) X(-32521, 4011) X(-32609, 3212) X(-32678, 2410) \
    X(-32728, 1608) X(-32757, 804) X(-32767, 0) X(-32757, -804) X(-32728, -1608) X(-32678, -2410) \
    X(-32609, -3212) X(-32521, -4011) X(-32412, -4808) X(-32285, -5602) X(-32137, -6393) X(-31971, -7179) \
    X(-31785, -7962) X(-31580, -8739) X(-31356, -9512) X(-31113, -10278) X(-30852, -11039) X(-30571, -11793) \
    X(-30273, -12539) X(-29956, -13279) X(-29621, -14010) X(-29268, -14732) X(-28898, -15446) X(-28510, -16151) \
    X(-28105, -16846) X(-27683, -17530) X(-27245, -18204) X(-26790, -18868) X(-26319, -19519) X(-25832, -20159) \
    X(-25329, -20787) X(-24811, -21403) X(-24279, -22005) X(-23731, -22594) X(-23170, -23170) X(-22594, -23731) \
    X(-22005, -24279) X(-21403, -24811) X(-20787, -25329) X(-20159, -25832) X(-19519, -26319) X(-18868, -26790) \
    X(-18204, -27245) X(-17530, -27683) X(-16846, -28105) X(-16151, -28510) X(-15446, -28898) X(-14732, -29268) \
    X(-14010, -29621) X(-13279, -29956) X(-12539, -30273) X(-11793, -30571) X(-11039, -30852) X(-10278, -31113) \
    X(-9512, -31356) X(-8739, -31580) X(-7962, -31785) X(-7179, -31971) X(-6393, -32137) X(-5602, -32285) \
    X(-4808, -32412) X(-4011, -32521) X(-3212, -32609) X(-2410, -32678) X(-1608, -32728) X(-804, -32757) \
    X(0, -32767) X(804, -32757) X(1608, -32728) X(2410, -32678) X(3212, -32609) X(4011, -32521) \
    X(4808, -32412) X(5602, -32285) X(6393, -32137) X(7179, -31971) X(7962, -31785) X(8739, -31580) \
    X(9512, -31356) X(10278, -31113) X(11039, -30852) X(11793, -30571) X(12539, -30273) X(13279, -29956) \
    X(14010, -29621) X(14732, -29268) X(15446, -28898) X(16151, -28510) X(16846, -28105) X(17530, -27683) \
    X(18204, -27245) X(18868, -26790) X(19519, -26319) X(20159, -25832) X(20787, -25329) X(21403, -24811) \
    X(22005, -24279) X(22594, -23731) X(23170, -23170) X(23731, -22594) X(24279, -22005) X(24811, -21403) \
    X(25329, -20787) X(25832, -20159) X(26319, -19519) X(26790, -18868) X(27245, -18204) X(27683, -17530) \
    X(28105, -16846) X(28510, -16151) X(28898, -15446) X(29268, -14732) X(29621, -14010) X(29956, -13279) \
    X(30273, -12539) X(30571, -11793) X(30852, -11039) X(31113, -10278) X(31356, -9512) X(31580, -8739) \
    X(31785, -7962) X(31971, -7179) X(32137, -6393) X(32285, -5602) X(32412, -4808) X(32521, -4011) \
    X(32609, -3212) X(32678, -2410) X(32728, -1608) X(32757, -804)

#if MC_KERNEL_F64X2
_Static_assert(DBL_MANT_DIG >= 53, "the fused form's binary64 sums need a 53-bit significand");
#define MC_SINCOS_F64(c, s) {c, s},
/* Two binary64 lanes (GCC and Clang vector extension: SSE2 or NEON registers). */
typedef double f64x2_t __attribute__((vector_size(16)));
static const f64x2_t mc_sincos_f64[256] = {MC_SINCOS_Q15(MC_SINCOS_F64)}; /* (cos, sin) */
#undef MC_SINCOS_F64
#else
#define MC_SINCOS_PACK(c, s) ((uint32_t)(uint16_t)(int16_t)(c) << 16) | (uint16_t)(int16_t)(s),
static const uint32_t mc_sincos_q15[256] = {MC_SINCOS_Q15(MC_SINCOS_PACK)};
#undef MC_SINCOS_PACK
#endif

#if !MC_KERNEL_F64X2 && (MC_KERNEL_FUSED || !MC_KERNEL_ARMV6M_ASM)
/* The sine and cosine halves of a packed reference word. */
static inline int32_t ref_sin(uint32_t w)
{
    return (int16_t)(uint16_t)(w & 0xFFFFu);
}

static inline int32_t ref_cos(uint32_t w)
{
    return (int16_t)(uint16_t)(w >> 16);
}
#endif

/* A span of frames: where each channel's codes start. */
typedef struct span {
    size_t len;                        /* frames */
    size_t stride;                     /* codes from one frame to the next in every channel */
    const int32_t *x[MC_MAX_CHANNELS]; /* the span's first code of each channel */
    int32_t sc, ss;                    /* Σcos, Σsin of the reference over a chunk */
} span_t;

/* A channel's raw sums, into its cycle sums. */
static inline void add_channel(mc_meter_channel_t *ch, int64_t s1, int64_t s2, int64_t sxc, int64_t sxs)
{
    ch->c_x += s1;
    ch->c_xx += s2;
    ch->c_xc += sxc;
    ch->c_xs += sxs;
}

/* A raw Σa·b (with MC_KERNEL_SQUARE_PRODUCTS, a raw Σ(a+b)²), into a product's cycle sum. */
static inline void add_product(mc_meter_pair_t *pr, int64_t sab)
{
    pr->c_xy += sab;
}

#if !MC_KERNEL_SPLIT16 || MC_KERNEL_FUSED
#if !MC_KERNEL_ARMV7M_ASM
static inline int64_t product_raw_at(const int32_t *xa, const int32_t *xb, size_t stride, size_t n)
{
    const int32_t *const xa_end = xa + n * stride;
    int64_t ab = 0;
    do {
        ab += (int64_t)*xa * *xb;
        xa += stride;
        xb += stride;
    } while (xa != xa_end);
    return ab;
}
#endif

/* Raw Σa·b of two channels over a span (a copy of the loop for stride 1, see channel_raw();
 * on ARMv7-M the assembly loop of mc_kernel_armv7m.c). */
#if MC_KERNEL_ARMV7M_ASM
static int64_t product_raw(const int32_t *xa, const int32_t *xb, size_t stride, size_t n)
{
    return mc_k7m_product(xa, xb, (uint32_t)(stride * sizeof *xa), (uint32_t)n);
}
#else
MC_NOINLINE static int64_t product_raw(const int32_t *xa, const int32_t *xb, size_t stride, size_t n)
{
    return stride == 1u ? product_raw_at(xa, xb, 1u, n) : product_raw_at(xa, xb, stride, n);
}
#endif
#elif !MC_KERNEL_ARMV6M_ASM
static int64_t product_raw(const int32_t *xa, const int32_t *xb, size_t stride, size_t n);
#endif

#if MC_KERNEL_SQUARE_PRODUCTS
/*
 * Raw Σ(a+b)² of two channels over a chunk: a product's sums collect these, turned into
 * Σa·b from the channels' raw Σa² and Σb² (Σ(a+b)² - Σa² - Σb² = 2·Σa·b, exactly in int64):
 * an element's once per cycle (mc_meter_cycle_products(): the cycle's reading needs it), a
 * cross product's once per window (mc_meter_window_products()). A square is 17 instructions a
 * sample on a Cortex-M0 against 23 for a product of split halves (four partial products
 * instead of three). Ranges: a + b lies in [-2^24, 2^24], so its high half h in
 * [-4096, 4096]: Σh·h over a chunk of 32 stays below 2^29, Σh·l below 2^28, Σl·l below 2^27
 * (see the split products below); a cycle's Σ(a+b)² below 2^59, the window's integer sums
 * (at most MC_RAW_MAX + 1600 samples, mc_meter.c) below 2^63.
 */
static int64_t product_chunk(const span_t *ck, unsigned a, unsigned b)
{
    const int32_t *xa = ck->x[a];
    int32_t o[3];
    mc_k6m_sum_squares(xa, (int32_t)((uintptr_t)ck->x[b] - (uintptr_t)xa), (uint32_t)(ck->stride * sizeof *xa),
                       xa + ck->len * ck->stride, o);
    return (int64_t)o[0] * 16777216 + (int64_t)o[1] * 8192 + o[2];
}
#endif

#if MC_KERNEL_SQUARE_PRODUCTS
/* (Σ(a+b)² - Σa² - Σb²) / 2 = Σa·b: the difference is even, so the shift is exact (>> of a
 * negative int64 is arithmetic on every compiler this builds with, as below). */
static inline int64_t product_of_squares(int64_t sq, int64_t aa, int64_t bb)
{
    return (sq - aa - bb) >> 1;
}
#endif

void mc_meter_cycle_products(mc_meter_t *m)
{
#if MC_KERNEL_SQUARE_PRODUCTS
    for (unsigned k = 0; k < m->n_el; k++) {
        mc_meter_pair_t *pr = &MC_PR(m)[k];
        pr->c_xy = product_of_squares(pr->c_xy, MC_CH(m)[pr->a].c_xx, MC_CH(m)[pr->b].c_xx);
    }
#else
    (void)m;
#endif
}

void mc_meter_window_products(mc_meter_t *m)
{
#if MC_KERNEL_SQUARE_PRODUCTS
    for (unsigned k = m->n_el; k < m->n_pr; k++) {
        mc_meter_pair_t *pr = &MC_PR(m)[k];
        pr->wc_xy = product_of_squares(pr->wc_xy, MC_CH(m)[pr->a].wc_xx, MC_CH(m)[pr->b].wc_xx);
    }
#else
    (void)m;
#endif
}

/* Raw Σa·b of channels a and b over a span (a chunk in the chunked forms), by the form's loop. */
static int64_t span_product(const span_t *sp, unsigned a, unsigned b)
{
#if MC_KERNEL_SQUARE_PRODUCTS
    return product_chunk(sp, a, b);
#else
    return product_raw(sp->x[a], sp->x[b], sp->stride, sp->len);
#endif
}

#if MC_KERNEL_ARMV7M_ASM
/* Raw Σa·b, Σb·c, Σc·a of three channels of a frame over a span, in one pass of the
 * assembly loop (mc_kernel_armv7m.c). */
static void cross3_raw(const int32_t *xa, const int32_t *xb, const int32_t *xc, size_t stride, size_t n,
                       int64_t out[3])
{
    mc_k7m_cross3(xa, (int32_t)((uintptr_t)xb - (uintptr_t)xa), (int32_t)((uintptr_t)xc - (uintptr_t)xa),
                  (uint32_t)(stride * sizeof *xa), (uint32_t)n, out);
}
#elif !MC_KERNEL_SPLIT16
/* Raw Σa·b, Σb·c, Σc·a of three channels over a span, in one pass: three pointers, the
 * end, three codes and six accumulator words (14 registers on a Cortex-M4: no spill). */
MC_NOINLINE static void cross3_raw(const int32_t *xa, const int32_t *xb, const int32_t *xc, size_t stride,
                                   size_t n, int64_t out[3])
{
    const int32_t *const xa_end = xa + n * stride;
    int64_t ab = 0, bc = 0, ca = 0;
    do {
        const int32_t va = *xa, vb = *xb, vc = *xc;
        ab += (int64_t)va * vb;
        bc += (int64_t)vb * vc;
        ca += (int64_t)vc * va;
        xa += stride;
        xb += stride;
        xc += stride;
    } while (xa != xa_end);
    out[0] = ab;
    out[1] = bc;
    out[2] = ca;
}
#endif

/* Cross products over a span: count 3 (a·b, b·c, c·a into pr[0..2]) in one pass, with
 * count 6 (pr[3..5]: a·d, b·d, c·d with the neutral d) one pass each for the rest.
 * Without a 32x32->64 multiply (split products), and for other counts, one pass a pair. */
static void span_cross(mc_meter_pair_t *pr, unsigned count, const span_t *sp)
{
    unsigned k = 0;
#if !MC_KERNEL_SPLIT16
    if (count == 3u || count == 6u) {
        int64_t raw[3];
        cross3_raw(sp->x[pr[0].a], sp->x[pr[0].b], sp->x[pr[1].b], sp->stride, sp->len, raw);
        add_product(&pr[0], raw[0]);
        add_product(&pr[1], raw[1]);
        add_product(&pr[2], raw[2]);
        k = 3;
    }
#endif
    for (; k < count; k++) {
        add_product(&pr[k], span_product(sp, pr[k].a, pr[k].b));
    }
}

/* The pointers of a span starting at frame k: frames f, or for 1P2W the arrays v and i. */
static void span_at(span_t *sp, const mc_meter_t *m, const int32_t *f, const int32_t *v, const int32_t *i,
                    size_t k)
{
    if (f != NULL) {
        for (unsigned c = 0; c < m->n_ch; c++) {
            sp->x[c] = f + k * m->n_ch + c;
        }
    } else {
        sp->x[0] = v + k;
        sp->x[1] = i + k;
    }
}

#if MC_KERNEL_FUSED

/* An element's raw sums over a span: its voltage's (unless another element took them),
 * its current's, Σv·i, and Σcos, Σsin of the reference. */
typedef struct element_raw {
    int64_t su, suu, suc, sus, si, sii, sic, sis, sui, sc, ss;
} element_raw_t;

#if MC_KERNEL_F64X2
static void element_fused(const int32_t *xu, const int32_t *xi, size_t stride, size_t n, uint32_t phase,
                          uint32_t dphase, int with_voltage, element_raw_t *r)
{
    /* Lane 0 the voltage, lane 1 the current; with_voltage 0 only drops lane 0's sums (the
     * vector operations cost the same). */
    (void)with_voltage;
    *r = (element_raw_t){0};
    const int32_t *pu = xu, *pi = xi;
    while (n > 0u) {
        const size_t len = n < MC_F64_RUN ? n : MC_F64_RUN;
        n -= len;
        f64x2_t s1 = {0, 0}, s2 = {0, 0}, sxc = {0, 0}, sxs = {0, 0}, sref = {0, 0};
        double sui = 0;
        for (size_t j = 0; j < len; j++, pu += stride, pi += stride) {
            const f64x2_t x = {(double)*pu, (double)*pi};
            const f64x2_t w = mc_sincos_f64[phase >> 24]; /* cos, sin */
            const f64x2_t cs = {w[0], w[0]}, sn = {w[1], w[1]};
            phase += dphase;
            s1 += x;
            s2 += x * x;
            sxc += x * cs;
            sxs += x * sn;
            sref += w;
            sui += x[0] * x[1];
        }
        r->su += (int64_t)s1[0];
        r->suu += (int64_t)s2[0];
        r->suc += (int64_t)sxc[0];
        r->sus += (int64_t)sxs[0];
        r->si += (int64_t)s1[1];
        r->sii += (int64_t)s2[1];
        r->sic += (int64_t)sxc[1];
        r->sis += (int64_t)sxs[1];
        r->sui += (int64_t)sui;
        r->sc += (int64_t)sref[0];
        r->ss += (int64_t)sref[1];
    }
}

#else
static void element_fused(const int32_t *xu, const int32_t *xi, size_t stride, size_t n, uint32_t phase,
                          uint32_t dphase, int with_voltage, element_raw_t *r)
{
    int64_t si = 0, sii = 0, sic = 0, sis = 0, sui = 0;
    const size_t stop = n * stride;
    if (with_voltage) {
        int64_t su = 0, suu = 0, suc = 0, sus = 0, sc = 0, ss = 0;
        for (size_t o = 0; o < stop; o += stride) {
            const int32_t u = xu[o], x = xi[o];
            const uint32_t idx = phase >> 24;
            const uint32_t w = mc_sincos_q15[idx];
            const int32_t sn = ref_sin(w), cs = ref_cos(w);
            phase += dphase;
            su += u;
            suu += (int64_t)u * u;
            suc += (int64_t)u * cs;
            sus += (int64_t)u * sn;
            si += x;
            sii += (int64_t)x * x;
            sic += (int64_t)x * cs;
            sis += (int64_t)x * sn;
            sui += (int64_t)u * x;
            sc += cs;
            ss += sn;
        }
        r->su = su;
        r->suu = suu;
        r->suc = suc;
        r->sus = sus;
        r->sc = sc;
        r->ss = ss;
    } else {
        for (size_t o = 0; o < stop; o += stride) {
            const int32_t u = xu[o], x = xi[o];
            const uint32_t idx = phase >> 24;
            const uint32_t w = mc_sincos_q15[idx];
            const int32_t sn = ref_sin(w), cs = ref_cos(w);
            phase += dphase;
            si += x;
            sii += (int64_t)x * x;
            sic += (int64_t)x * cs;
            sis += (int64_t)x * sn;
            sui += (int64_t)u * x;
        }
    }
    r->si = si;
    r->sii = sii;
    r->sic = sic;
    r->sis = sis;
    r->sui = sui;
}
#endif

/* A channel no element measures (the neutral) over a span. */
static void channel_fused(const int32_t *x, size_t stride, size_t n, uint32_t phase, uint32_t dphase, int64_t out[4])
{
#if MC_KERNEL_F64X2
    element_raw_t r; /* the element loop with the channel in both lanes */
    element_fused(x, x, stride, n, phase, dphase, 0, &r);
    out[0] = r.si;
    out[1] = r.sii;
    out[2] = r.sic;
    out[3] = r.sis;
#else
    int64_t s1 = 0, s2 = 0, sxc = 0, sxs = 0;
    for (size_t o = 0, stop = n * stride; o < stop; o += stride) {
        const int32_t v = x[o];
        const uint32_t idx = phase >> 24;
        phase += dphase;
        s1 += v;
        s2 += (int64_t)v * v;
        const uint32_t w = mc_sincos_q15[idx];
        sxc += (int64_t)v * ref_cos(w);
        sxs += (int64_t)v * ref_sin(w);
    }
    out[0] = s1;
    out[1] = s2;
    out[2] = sxc;
    out[3] = sxs;
#endif
}

/*
 * Pass 2 of a block: accumulate frames [k, end) of every channel and product, element by
 * element over the whole segment, then the neutral and the cross products.
 */
static void accumulate(mc_meter_t *m, const int32_t *f, const int32_t *v, const int32_t *i, size_t k, size_t end,
                       uint32_t *phase_io)
{
    if (end <= k) {
        return;
    }
    span_t sp;
    sp.len = end - k;
    sp.stride = f != NULL ? m->n_ch : 1u;
    span_at(&sp, m, f, v, i, k);
    int64_t sc = 0, ss = 0; /* the first element's loop sums the reference */
    const uint32_t phase = *phase_io;
    uint32_t done = 0; /* channels whose sums the span has */
    for (unsigned e = 0; e < m->n_el; e++) {
        mc_meter_pair_t *pr = &MC_PR(m)[e];
        const unsigned u = pr->a, c = pr->b;
        const int with_voltage = !(done & (1u << u));
        element_raw_t r;
        element_fused(sp.x[u], sp.x[c], sp.stride, sp.len, phase, m->dphase, with_voltage, &r);
        if (with_voltage) {
            if (done == 0u) {
                sc = r.sc;
                ss = r.ss;
            }
            add_channel(&MC_CH(m)[u], r.su, r.suu, r.suc, r.sus);
        }
        add_channel(&MC_CH(m)[c], r.si, r.sii, r.sic, r.sis);
        add_product(pr, r.sui);
        done |= (1u << u) | (1u << c);
    }
    for (unsigned c = 0; c < m->n_ch; c++) {
        if (!(done & (1u << c))) {
            int64_t raw[4];
            channel_fused(sp.x[c], sp.stride, sp.len, phase, m->dphase, raw);
            add_channel(&MC_CH(m)[c], raw[0], raw[1], raw[2], raw[3]);
        }
    }
    if (m->n_ll > 0u) {
        span_cross(&MC_PR(m)[m->ll_first], m->n_ll, &sp);
    }
    if (m->n_icross > 0u) {
        span_cross(&MC_PR(m)[m->in_first], m->n_icross, &sp);
    }
    m->c_c += (int32_t)sc; /* a span lies in one cycle: |Σcos| < 1600 · 2^15 */
    m->c_s += (int32_t)ss;
    *phase_io = phase + (uint32_t)sp.len * m->dphase;
}

#else /* !MC_KERNEL_FUSED */

/* The DFT reference of a chunk (cos, sin of each frame side by side) and its sums. */
MC_NOINLINE static void chunk_reference(int32_t *ref, size_t len, uint32_t *phase_io, uint32_t dphase, span_t *sp)
{
#if MC_KERNEL_ARMV6M_ASM || MC_KERNEL_ARMV7M_ASM
    mc_kernel_ref_t st = {mc_sincos_q15, *phase_io, dphase, 0, 0};
#if MC_KERNEL_ARMV6M_ASM
    mc_k6m_reference(ref, ref + 2u * len, &st);
#else
    mc_k7m_reference(ref, ref + 2u * len, &st);
#endif
    sp->sc = st.sc;
    sp->ss = st.ss;
    *phase_io = st.phase;
#else
    uint32_t phase = *phase_io;
    int32_t sc = 0, ss = 0;
    const int32_t *const ref_end = ref + 2u * len;
    do {
        const uint32_t idx = phase >> 24;
        const uint32_t w = mc_sincos_q15[idx];
        const int32_t sn = ref_sin(w), cs = ref_cos(w);
        ref[0] = cs;
        ref[1] = sn;
        ref += 2;
        sc += cs;
        ss += sn;
        phase += dphase;
    } while (ref != ref_end);
    sp->sc = sc;
    sp->ss = ss;
    *phase_io = phase;
#endif
}

#if MC_KERNEL_SPLIT16
/*
 * Split products. A code x in [-2^23, 2^23] is h·2^12 + l with l its low 12 bits taken as
 * signed (l in [-2048, 2047]) and h = (x - l) / 2^12 in [-2048, 2048]; then
 *   x² = h²·2^24 + h·l·2^13 + l²        x·c = h·c·2^12 + l·c        x·y = ... (four)
 * Every partial product is at most 2^11 · 2^15 = 2^26 in magnitude (c, the Q15 reference,
 * at most 2^15 - 1; h·h, h·l and l·l at most 2^22), so over a chunk of 32 samples each
 * partial sum stays below 2^31 in an int32, and the int64 result is exact. (>> of a negative
 * int32 is arithmetic on every compiler this builds with: GCC, Clang and the Arm compilers
 * define it so.)
 */
#if MC_KERNEL_ARMV6M_ASM
/* The same partial sums from the assembly loops (mc_kernel_armv6m.c), one pass each. */
static int32_t channel_raw(const int32_t *x, size_t stride, const int32_t *ref, const int32_t *ref_end,
                           int64_t out[3])
{
    int32_t q[4], d[4];
    const uint32_t stride_bytes = (uint32_t)(stride * sizeof *x);
    mc_k6m_squares(x, stride_bytes, x + (size_t)(ref_end - ref) / 2u * stride, q);
    mc_k6m_dft(x, stride_bytes, ref, ref_end, d);
    out[0] = (int64_t)q[1] * 16777216 + (int64_t)q[2] * 8192 + q[3];
    out[1] = (int64_t)d[0] * 4096 + d[1];
    out[2] = (int64_t)d[2] * 4096 + d[3];
    return q[0];
}
#else
static inline int32_t split_lo(int32_t x)
{
    return (int32_t)((uint32_t)x << 20) >> 20;
}

/* Two passes over the chunk, four partial sums each, so that a Cortex-M0's eight low
 * registers hold what each pass needs. */
MC_NOINLINE static int32_t channel_squares(const int32_t *x, size_t stride, const int32_t *x_end, int64_t *sq)
{
    int32_t s1 = 0, hh = 0, hl = 0, ll = 0;
    do {
        const int32_t v = *x;
        const int32_t l = split_lo(v), h = (v - l) >> 12;
        x += stride;
        s1 += v;
        hh += h * h;
        hl += h * l;
        ll += l * l;
    } while (x != x_end);
    *sq = (int64_t)hh * 16777216 + (int64_t)hl * 8192 + ll;
    return s1;
}

MC_NOINLINE static void channel_dft(const int32_t *x, size_t stride, const int32_t *ref, const int32_t *ref_end,
                                    int64_t out[2])
{
    int32_t hc = 0, lc = 0, hs = 0, ls = 0;
    do {
        const int32_t v = *x;
        const int32_t c = ref[0], sn = ref[1];
        const int32_t l = split_lo(v), h = (v - l) >> 12;
        x += stride;
        ref += 2;
        hc += h * c;
        lc += l * c;
        hs += h * sn;
        ls += l * sn;
    } while (ref != ref_end);
    out[0] = (int64_t)hc * 4096 + lc;
    out[1] = (int64_t)hs * 4096 + ls;
}

static int32_t channel_raw(const int32_t *x, size_t stride, const int32_t *ref, const int32_t *ref_end,
                           int64_t out[3])
{
    const int32_t s1 = channel_squares(x, stride, x + (size_t)(ref_end - ref) / 2u * stride, &out[0]);
    channel_dft(x, stride, ref, ref_end, &out[1]);
    return s1;
}

MC_NOINLINE static int64_t product_raw(const int32_t *xa, const int32_t *xb, size_t stride, size_t n)
{
    const int32_t *const xa_end = xa + n * stride;
    int32_t hh = 0, mid = 0, ll = 0;
    do {
        const int32_t a = *xa, b = *xb;
        const int32_t la = split_lo(a), ha = (a - la) >> 12;
        const int32_t lb = split_lo(b), hb = (b - lb) >> 12;
        hh += ha * hb;
        mid += ha * lb + la * hb;
        ll += la * lb;
        xa += stride;
        xb += stride;
    } while (xa != xa_end);
    return (int64_t)hh * 16777216 + (int64_t)mid * 4096 + ll;
}
#endif /* MC_KERNEL_ARMV6M_ASM */
#elif !MC_KERNEL_ARMV7M_ASM
/*
 * Raw Σx² (out[0]), Σx·cos (out[1]) and Σx·sin (out[2]) of one channel over a chunk;
 * returns Σx (a chunk's fits an int32). Out of line so that the compiler gives its loop
 * every register: seven accumulator words, two pointers and the end.
 */
static inline int32_t channel_raw_at(const int32_t *x, size_t stride, const int32_t *ref, const int32_t *ref_end,
                                     int64_t out[3])
{
    int32_t s1 = 0;
    int64_t s2 = 0, sxc = 0, sxs = 0;
    do {
        const int32_t v = *x;
        x += stride;
        s1 += v;
        s2 += (int64_t)v * v;
        sxc += (int64_t)v * ref[0];
        sxs += (int64_t)v * ref[1];
        ref += 2;
    } while (ref != ref_end);
    out[0] = s2;
    out[1] = sxc;
    out[2] = sxs;
    return s1;
}

/* (Two copies of the loop: stride 1, 1P2W's separate arrays, steps by a constant.) */
MC_NOINLINE static int32_t channel_raw(const int32_t *x, size_t stride, const int32_t *ref, const int32_t *ref_end,
                                       int64_t out[3])
{
    return stride == 1u ? channel_raw_at(x, 1u, ref, ref_end, out) : channel_raw_at(x, stride, ref, ref_end, out);
}
#endif

/* A chunk of one channel into its cycle sums. */
static void channel_chunk(mc_meter_channel_t *ch, const int32_t *x, size_t stride, const int32_t *ref,
                          const int32_t *ref_end)
{
#if MC_KERNEL_ARMV7M_ASM
    /* The assembly loop (mc_kernel_armv7m.c) adds into c_xx, c_xc, c_xs and c_x at offsets 0 to 24. */
    _Static_assert(offsetof(mc_meter_channel_t, c_xx) == 0u && offsetof(mc_meter_channel_t, c_xc) == 8u &&
                       offsetof(mc_meter_channel_t, c_xs) == 16u && offsetof(mc_meter_channel_t, c_x) == 24u,
                   "mc_k7m_channel() adds into the channel's first four fields");
    mc_k7m_channel(x, (uint32_t)(stride * sizeof *x), ref, ref_end, ch);
#else
    int64_t raw[3];
    const int32_t s1 = channel_raw(x, stride, ref, ref_end, raw);
    add_channel(ch, s1, raw[0], raw[1], raw[2]);
#endif
}

/*
 * Pass 2 of a block, the 1P2W form: two channels and their product, chunk by chunk, with
 * nothing of the frames' generality (no pointer tables).
 */
static void accumulate_pair(mc_meter_t *m, const int32_t *v, const int32_t *i, size_t k, size_t end,
                            uint32_t *phase_io)
{
    mc_meter_channel_t *cv = &MC_CH(m)[0], *ci = &MC_CH(m)[1];
    mc_meter_pair_t *pr = &MC_PR(m)[0];
    int32_t ref[2u * MC_CHUNK];
    span_t ck;
    int32_t sc = 0, ss = 0; /* a span lies in one cycle: |Σcos| < 1600 · 2^15 */
    while (k < end) {
        const size_t len = (end - k) < MC_CHUNK ? (end - k) : MC_CHUNK;
        chunk_reference(ref, len, phase_io, m->dphase, &ck);
        sc += ck.sc;
        ss += ck.ss;
        channel_chunk(cv, v + k, 1u, ref, ref + 2u * len);
        channel_chunk(ci, i + k, 1u, ref, ref + 2u * len);
#if MC_KERNEL_SQUARE_PRODUCTS
        ck.x[0] = v + k;
        ck.x[1] = i + k;
        ck.len = len;
        ck.stride = 1u;
        add_product(pr, product_chunk(&ck, 0u, 1u));
#else
        add_product(pr, product_raw(v + k, i + k, 1u, len)); /* no span to fill per chunk */
#endif
        k += len;
    }
    m->c_c += sc;
    m->c_s += ss;
}

/*
 * Pass 2 of a block: accumulate frames [k, end) of every channel and product, chunk by
 * chunk: the reference once, then each channel's sums, each element's Σv·i and the cross
 * products.
 */
static void accumulate(mc_meter_t *m, const int32_t *f, const int32_t *v, const int32_t *i, size_t k, size_t end,
                       uint32_t *phase_io)
{
    if (end <= k) {
        return;
    }
    if (f == NULL) {
        accumulate_pair(m, v, i, k, end, phase_io);
        return;
    }
    span_t ck;
    int32_t ref[2u * MC_CHUNK];
    int32_t sc = 0, ss = 0; /* a span lies in one cycle: |Σcos| < 1600 · 2^15 */
    ck.stride = m->n_ch;
    while (k < end) {
        ck.len = (end - k) < MC_CHUNK ? (end - k) : MC_CHUNK;
        span_at(&ck, m, f, v, i, k);
        chunk_reference(ref, ck.len, phase_io, m->dphase, &ck);
        sc += ck.sc;
        ss += ck.ss;
        for (unsigned c = 0; c < m->n_ch; c++) {
            channel_chunk(&MC_CH(m)[c], ck.x[c], ck.stride, ref, ref + 2u * ck.len);
        }
        for (unsigned e = 0; e < m->n_el; e++) {
            mc_meter_pair_t *pr = &MC_PR(m)[e];
            add_product(pr, span_product(&ck, pr->a, pr->b));
        }
        if (m->n_ll > 0u) {
            span_cross(&MC_PR(m)[m->ll_first], m->n_ll, &ck);
        }
        if (m->n_icross > 0u) {
            span_cross(&MC_PR(m)[m->in_first], m->n_icross, &ck);
        }
        k += ck.len;
    }
    m->c_c += sc;
    m->c_s += ss;
}

#endif /* MC_KERNEL_FUSED */

/*
 * Pass 1: find where the cycle under way ends in frames [k, stop) (a positive-going
 * crossing of the reference voltage, armed by a swing below -hyst, while the cycle
 * shows voltage present), or the end. x points at the reference channel of frame 0,
 * stride frames apart. Returns the end; *crossing and *frac say whether and where.
 */
typedef struct scan_state {
    int32_t dc, hyst, zc_min, prev, peak;
    int armed;
} scan_state_t;

/* The larger of a peak and the excursions of the extremes lo, hi about dc (the empty-range
 * sentinels lo = INT32_MAX, hi = INT32_MIN add nothing: a side with no sample beyond dc
 * gives 0). The differences are taken in uint32_t, where nothing can overflow: taken only
 * when positive and at most 2^24 (codes and dc lie in [-2^23, 2^23]), they are exact. The
 * plain int32 form, "hi > dc ? hi - dc : 0", is well defined C too, but clang 14 at -O1 and
 * above compiled it into an unconditional subtraction that overflowed on the sentinels, so
 * the cycle's peak came out wrong (tests/CMakeLists.txt, kernel_equivalence, builds the
 * core with the other compiler at -O2 to catch the like). */
static int32_t peak_with(int32_t peak, int32_t lo, int32_t hi, int32_t dc)
{
    const uint32_t up = hi > dc ? (uint32_t)hi - (uint32_t)dc : 0u;
    const uint32_t down = lo < dc ? (uint32_t)dc - (uint32_t)lo : 0u;
    const int32_t ex = (int32_t)(up > down ? up : down);
    return ex > peak ? ex : peak;
}

/*
 * The scan works on raw codes against the integer DC, as a small state machine, so that
 * each sample costs a load, one or two compares and the extreme it can move:
 *  - not armed: wait for a sample below dc - hyst (it arms), tracking both extremes;
 *  - armed, previous sample at or above dc: wait for one below (only the maximum moves);
 *  - armed, previous sample below dc: wait for one at or above (only the minimum moves);
 *    that sample is the crossing when it comes after `soon` and the cycle's peak so far
 *    (max |x - dc|, from the extremes) reaches zc_min; otherwise the scan goes on.
 * This is the same rule, sample for sample, as checking every condition on every sample:
 * arming needs a sample below dc - hyst <= dc, and a crossing needs the previous sample
 * below dc and this one at or above it.
 */
/* Scan states, each a tight loop over [p, stop) `stride` codes apart; each returns where
 * it stopped (stop when the block ended first). Each is one out-of-line function with two
 * copies of its loop: stride 1 (1P2W), where the step is a constant (a post-incremented
 * load on a Cortex-M), and any stride. */

#if MC_KERNEL_FUSED
/*
 * 64-bit hosts, codes one word apart (1P2W): the two long states (about half a cycle each)
 * four codes a step, with one branch for the four (branch-free minima and maxima), as long
 * as none of the four ends the state; the one-code loop then finds which one does. The same
 * rule, so the same result; on the Cortex-M the one-code loops (and the ARMv7-M assembly)
 * are shorter.
 */
static const int32_t *scan_arm_by4(const int32_t *p, const int32_t *stop, int32_t thr, int32_t *lo_io, int32_t *hi_io)
{
    int32_t lo = *lo_io, hi = *hi_io;
    while (stop - p >= 4) {
        const int32_t a = p[0], b = p[1], c = p[2], d = p[3];
        const int32_t ab = a < b ? a : b, cd = c < d ? c : d, mn = ab < cd ? ab : cd;
        if (mn < thr) {
            break;
        }
        const int32_t xab = a > b ? a : b, xcd = c > d ? c : d, mx = xab > xcd ? xab : xcd;
        lo = mn < lo ? mn : lo;
        hi = mx > hi ? mx : hi;
        p += 4;
    }
    *lo_io = lo;
    *hi_io = hi;
    return p;
}

static const int32_t *scan_rise_by4(const int32_t *p, const int32_t *stop, int32_t dc, int32_t *lo_io)
{
    int32_t lo = *lo_io;
    while (stop - p >= 4) {
        const int32_t a = p[0], b = p[1], c = p[2], d = p[3];
        const int32_t xab = a > b ? a : b, xcd = c > d ? c : d;
        if ((xab > xcd ? xab : xcd) >= dc) {
            break;
        }
        const int32_t ab = a < b ? a : b, cd = c < d ? c : d, mn = ab < cd ? ab : cd;
        lo = mn < lo ? mn : lo;
        p += 4;
    }
    *lo_io = lo;
    return p;
}
#endif

/* Not armed: up to and including the first sample below thr; both extremes move. */
static inline const int32_t *scan_arm_at(const int32_t *p, const int32_t *stop, size_t stride, int32_t thr,
                                         int32_t *lo_io, int32_t *hi_io)
{
    int32_t lo = *lo_io, hi = *hi_io;
    while (p != stop) {
        const int32_t v = *p;
        p += stride;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        if (v < thr) {
            break;
        }
    }
    *lo_io = lo;
    *hi_io = hi;
    return p;
}

MC_NOINLINE static const int32_t *scan_arm(const int32_t *p, const int32_t *stop, size_t stride, int32_t thr,
                                           int32_t *lo_io, int32_t *hi_io)
{
#if MC_KERNEL_ARMV7M_ASM
    /* The assembly needs the minimum so far at or above thr: it is, since the scan arms (and
     * leaves this state for the cycle) at the first code below thr; checked all the same. */
    if (stride == 1u && *lo_io >= thr) {
        int32_t lohi[2] = {*lo_io, *hi_io};
        p = mc_k7m_scan_arm(p, stop, thr, lohi);
        *lo_io = lohi[0];
        *hi_io = lohi[1];
        return p;
    }
#endif
#if MC_KERNEL_FUSED
    if (stride == 1u) {
        p = scan_arm_by4(p, stop, thr, lo_io, hi_io);
    }
#endif
    return stride == 1u ? scan_arm_at(p, stop, 1u, thr, lo_io, hi_io) : scan_arm_at(p, stop, stride, thr, lo_io, hi_io);
}

/* Armed, previous sample at or above dc: up to and including the first sample below dc. */
static inline const int32_t *scan_fall_at(const int32_t *p, const int32_t *stop, size_t stride, int32_t dc,
                                          int32_t *lo_io, int32_t *hi_io)
{
    int32_t hi = *hi_io;
    while (p != stop) {
        const int32_t v = *p;
        p += stride;
        if (v < dc) {
            *lo_io = v < *lo_io ? v : *lo_io;
            break;
        }
        hi = v > hi ? v : hi;
    }
    *hi_io = hi;
    return p;
}

MC_NOINLINE static const int32_t *scan_fall(const int32_t *p, const int32_t *stop, size_t stride, int32_t dc,
                                            int32_t *lo_io, int32_t *hi_io)
{
    return stride == 1u ? scan_fall_at(p, stop, 1u, dc, lo_io, hi_io) : scan_fall_at(p, stop, stride, dc, lo_io, hi_io);
}

/* Armed, previous sample below dc: up to (not including) the first sample at or above dc. */
static inline const int32_t *scan_rise_at(const int32_t *p, const int32_t *stop, size_t stride, int32_t dc,
                                          int32_t *lo_io)
{
    int32_t lo = *lo_io;
    while (p != stop) {
        const int32_t v = *p;
        if (v >= dc) {
            break;
        }
        lo = v < lo ? v : lo;
        p += stride;
    }
    *lo_io = lo;
    return p;
}

MC_NOINLINE static const int32_t *scan_rise(const int32_t *p, const int32_t *stop, size_t stride, int32_t dc,
                                            int32_t *lo_io)
{
#if MC_KERNEL_ARMV7M_ASM
    if (stride == 1u) {
        return mc_k7m_scan_rise(p, stop, dc, lo_io);
    }
#endif
#if MC_KERNEL_FUSED
    if (stride == 1u) {
        p = scan_rise_by4(p, stop, dc, lo_io);
    }
#endif
    return stride == 1u ? scan_rise_at(p, stop, 1u, dc, lo_io) : scan_rise_at(p, stop, stride, dc, lo_io);
}

static size_t scan_crossing(const int32_t *x, size_t stride, size_t k, size_t soon, size_t stop, scan_state_t *st,
                            int *crossing, float *frac)
{
    const int32_t dc = st->dc, thr = st->dc - st->hyst;
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    int32_t prev = st->prev + dc; /* raw */
    int armed = st->armed;
    const int32_t *p = x + k * stride, *const pstop = x + stop * stride;
    const int32_t *const psoon = x + (soon > stop ? stop : soon) * stride;
    while (p != pstop) {
        const int32_t *const from = p;
        if (!armed) {
            p = scan_arm(p, pstop, stride, thr, &lo, &hi);
            armed = p[-(ptrdiff_t)stride] < thr;
        } else if (prev >= dc) {
            p = scan_fall(p, pstop, stride, dc, &lo, &hi);
        } else {
            p = scan_rise(p, pstop, stride, dc, &lo);
            if (p != pstop) {
                const int32_t v = *p;
                const int32_t before = p != from ? p[-(ptrdiff_t)stride] : prev;
                if (p >= psoon && soon <= stop && peak_with(st->peak, lo, hi, dc) >= st->zc_min) {
                    *frac = (float)(dc - before) / (float)(v - before);
                    *crossing = 1;
                    prev = before;
                    break;
                }
                hi = v > hi ? v : hi;
                p += stride;
            }
        }
        if (p != from) {
            prev = p[-(ptrdiff_t)stride];
        }
    }
    st->prev = prev - dc;
    st->peak = peak_with(st->peak, lo, hi, dc);
    st->armed = armed;
    /* (1P2W scans with stride 1: no division, which a Cortex-M0 does in a library call) */
    return stride == 1u ? (size_t)(p - x) : (size_t)(p - x) / stride;
}

/*
 * Acquisition, first segment: 1/40 s (a whole cycle at any mains frequency from
 * 40 Hz up) to find each channel's DC as the midpoint of its extremes, which is
 * exact for any half-wave symmetric waveform whatever the segment covers. Frames
 * of n_ch channels (the 1P2W path passes v and i separately: see mc_meter_process()).
 * Returns the frames consumed.
 */
static size_t acquire_first(mc_meter_t *m, const int32_t *v, const int32_t *i, const int32_t *f, size_t n)
{
    size_t k = 0;
    for (; k < n && m->acq_count < m->cycle_timeout; k++) {
        for (unsigned c = 0; c < m->n_ch; c++) {
            const int32_t x = f != NULL ? f[k * m->n_ch + c] : (c == 0 ? v[k] : i[k]);
            mc_meter_channel_t *ch = &MC_CH(m)[c];
            ch->acq_min = x < ch->acq_min ? x : ch->acq_min;
            ch->acq_max = x > ch->acq_max ? x : ch->acq_max;
        }
        m->acq_count++;
    }
    if (m->acq_count >= m->cycle_timeout) {
        for (unsigned c = 0; c < m->n_ch; c++) {
            mc_meter_channel_t *ch = &MC_CH(m)[c];
            /* Midpoints; the halves are summed separately so nothing overflows. */
            ch->dc = ch->acq_min / 2 + ch->acq_max / 2;
            ch->off = ch->w_off = (float)ch->dc;
        }
        const mc_meter_channel_t *r = &MC_CH(m)[m->ref];
        const int32_t h = (r->acq_max / 2 - r->acq_min / 2) / 4;
        m->hyst = h > m->vmin_peak / 4 ? h : m->vmin_peak / 4;
        m->acquire_segments = 1;
        m->armed = 0;
        m->prev_v = 0;
    }
    return k;
}

/* The block loop shared by both entry points: f (frames) or v and i (1P2W). */
static int process(mc_meter_t *m, const int32_t *f, const int32_t *v, const int32_t *i, size_t n)
{
    int events = 0;
    size_t k = 0;
    if (m->acquiring && m->acquire_segments == 0u) {
        k = acquire_first(m, v, i, f, n);
    }
    uint32_t phase = m->phase;
    scan_state_t st;
    st.prev = m->prev_v;
    st.armed = m->armed;
    /* No crossing counts during the first acquisition segment: it sets the DC first. */
    st.zc_min = m->vmin_peak;
    uint32_t limit = m->cycle_timeout;
    /* The shortest-cycle rule counts from a crossing; a segment that began otherwise
     * (start-up, timeout) may end at its first crossing. */
    uint32_t cmin = m->zc_prev_idx != 0u ? m->cycle_min : 0u;
    unsigned ref = m->ref;
    while (k < n) {
        const size_t room = (size_t)(limit - m->c_n);
        const size_t stop = (n - k < room) ? n : k + room;
        st.dc = MC_CH(m)[ref].dc;
        st.hyst = m->hyst;
        st.peak = MC_CH(m)[ref].peak;
        int crossing = 0;
        float frac = 0.0f;
        const size_t soon = cmin > m->c_n ? k + (cmin - m->c_n) : k;
        size_t end;
        if (f != NULL) {
            end = scan_crossing(f + ref, m->n_ch, k, soon, stop, &st, &crossing, &frac);
        } else {
            end = scan_crossing(v, 1u, k, soon, stop, &st, &crossing, &frac);
        }
        accumulate(m, f, v, i, k, end, &phase);
        m->c_n += (uint32_t)(end - k);
        MC_CH(m)[ref].peak = st.peak;
        k = end;

        if (!crossing && m->c_n < limit) {
            break; /* end of block inside the cycle */
        }
        int32_t dv;
        m->phase = phase;
        /* A crossing lies before sample `end`, which starts the new cycle; a
         * timeout closes after the last accumulated sample, which is the same index. */
        events |= mc_meter_close_cycle(m, m->sample_count + end, frac, crossing, &dv);
        phase = m->phase;
        limit = m->cycle_timeout;
        cmin = m->zc_prev_idx != 0u ? m->cycle_min : 0u;
        st.armed = 0;
        if (m->ref != ref) {
            ref = m->ref; /* another voltage gives the crossings now: no previous sample of it */
            st.prev = 0;
        } else {
            /* The sample at `end` is measured against the new DC; after a crossing it
             * must not count as crossing again, hence "below zero". */
            st.prev = crossing ? -1 : st.prev - dv;
        }
    }
    m->prev_v = st.prev;
    m->phase = phase;
    m->armed = (uint8_t)st.armed;
    m->sample_count += n;
    return events;
}

int mc_meter_process(mc_meter_t *m, const int32_t *v, const int32_t *i, size_t n)
{
    if (m == NULL || ((v == NULL || i == NULL) && n > 0) || m->n_ch != 2u || m->n_el != 1u) {
        return MC_ERR_INVAL;
    }
    return process(m, NULL, v, i, n);
}

int mc_meter_process_frames(mc_meter_t *m, const int32_t *frames, size_t n)
{
    if (m == NULL || (frames == NULL && n > 0)) {
        return MC_ERR_INVAL;
    }
    return process(m, frames, NULL, NULL, n);
}

