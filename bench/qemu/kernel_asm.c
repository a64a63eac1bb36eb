/*
 * The assembly loops of the core on a Cortex-M under QEMU, against sums computed here in
 * int64 arithmetic (the compiler's 64-bit multiply, nothing of the loops' methods): the
 * ARMv6-M loops (src/core/mc_kernel_armv6m.c: split products) on the Cortex-M0 machine
 * (-M microbit), the ARMv7-M loops (src/core/mc_kernel_armv7m.c: two samples an iteration)
 * on the Cortex-M4 machine (-M netduinoplus2); random chunks of 1 to MC_CHUNK frames (odd
 * and even) of 1 to 8 channels, with random, extreme (-2^23, 2^23) and split-boundary codes
 * and random and extreme reference values. Every routine must also give back r4-r11
 * (kernel_asm_call.S). Prints "kernel_asm: chunks N all exact" and exits 0, or the first
 * mismatch and exits 1. Run by kernel_asm.sh (ctest qemu_kernel_m0, qemu_kernel_m4f).
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>

#include "mc_core_internal.h"
#include "mcq.h"

#if MC_KERNEL_ARMV6M_ASM
#define MAX_LEN 32u /* MC_CHUNK with split products */
#elif MC_KERNEL_ARMV7M_ASM
#define MAX_LEN 64u /* MC_CHUNK */
#else
#error "kernel_asm.c is built for ARMv6-M or ARMv7-M, where the core uses its assembly loops"
#endif

void kernel_asm_call(const void *fn, const uint32_t args[6], uint32_t regs_out[10]);

#define TRIALS 3000u
#define MAX_STRIDE 8u

static uint32_t rng = 0x9E3779B9u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* A code in [-2^23, 2^23]: uniform, an extreme, near a multiple of 2^12 or 2^11, or small. */
static int32_t code(void)
{
    const uint32_t r = next();
    switch (r & 7u) {
    case 0:
        return (r & 8u) ? 8388608 : -8388608;
    case 1:
        return (r & 8u) ? 8388607 : -8388607;
    case 2: {
        /* a multiple of 2^12, or halfway between two, give or take 2 */
        const int32_t c = (int32_t)(next() % 4097u) * 4096 - 8388608 + ((r & 8u) ? 2048 : 0) +
                          (int32_t)((r >> 4) % 5u) - 2;
        return c > 8388608 ? 8388608 : (c < -8388608 ? -8388608 : c);
    }
    case 3:
        return (int32_t)(r >> 20) - 2048;
    default:
        return (int32_t)(next() % 16777217u) - 8388608;
    }
}

/* A reference value in [-32767, 32767] (the Q15 table's range), often an extreme. */
static int32_t refval(void)
{
    const uint32_t r = next();
    if ((r & 3u) == 0u) {
        return (r & 4u) ? 32767 : -32767;
    }
    return (int32_t)(r % 65535u) - 32767;
}

static int32_t frames[MAX_LEN * MAX_STRIDE + MAX_STRIDE];
static int32_t second[MAX_LEN * MAX_STRIDE + MAX_STRIDE];
static int32_t ref[2u * MAX_LEN + 2u];
static uint32_t table[256];
static unsigned failures;

static void fail(const char *what, unsigned trial)
{
    if (failures++ == 0u) {
        mcq_puts("kernel_asm: FAIL ");
        mcq_puts(what);
        mcq_put_u(" trial", trial);
        mcq_puts("\n");
    }
}

/* Calls fn with up to six word arguments; returns what it left in r0:r1 (a 64-bit result). */
static int64_t call6(const void *fn, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4, uint32_t a5,
                     unsigned trial)
{
    static const uint32_t want[8] = {0x44444444u, 0x55555555u, 0x66666666u, 0x77777777u,
                                     0x88888888u, 0x99999999u, 0xAAAAAAAAu, 0xBBBBBBBBu};
    const uint32_t args[6] = {a0, a1, a2, a3, a4, a5};
    uint32_t regs[10];
    kernel_asm_call(fn, args, regs);
    for (unsigned r = 0; r < 8u; r++) {
        if (regs[r] != want[r]) {
            fail("callee-saved register r4-r11 not restored", trial);
        }
    }
    return (int64_t)(((uint64_t)regs[9] << 32) | regs[8]);
}

static void call(const void *fn, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4, unsigned trial)
{
    (void)call6(fn, a0, a1, a2, a3, a4, 0u, trial);
}

#define U(p) ((uint32_t)(uintptr_t)(p))

#if MC_KERNEL_ARMV6M_ASM
#define REFERENCE mc_k6m_reference
#else
#define REFERENCE mc_k7m_reference
#endif

int main(void)
{
    for (unsigned k = 0; k < 256u; k++) {
        table[k] = ((uint32_t)(uint16_t)(int16_t)refval() << 16) | (uint16_t)(int16_t)refval();
    }
    for (unsigned t = 0; t < TRIALS && failures == 0u; t++) {
        const unsigned len = 1u + next() % MAX_LEN, stride = 1u + next() % MAX_STRIDE;
        for (unsigned k = 0; k < len * stride; k++) {
            frames[k] = code();
            second[k] = code();
        }
        for (unsigned k = 0; k < 2u * len; k++) {
            ref[k] = refval();
        }
        const int32_t *x = frames + next() % stride;
        const int32_t *x_end = x + len * stride;

        /* One channel: Σx, Σx², Σx·c, Σx·s. */
        int64_t s1 = 0, s2 = 0, sc = 0, ss = 0;
        for (unsigned k = 0; k < len; k++) {
            const int64_t v = x[k * stride];
            s1 += v;
            s2 += v * v;
            sc += v * ref[2u * k];
            ss += v * ref[2u * k + 1u];
        }
        /* Two channels: b in the same frame or in another array (either side); a third, c. */
        const int32_t *b = (next() & 1u) ? frames + next() % stride : second + next() % stride;
        const int32_t *c = (next() & 1u) ? frames + next() % stride : second + next() % stride;
        int64_t sab = 0, sab2 = 0, sbc = 0, sca = 0;
        for (unsigned k = 0; k < len; k++) {
            const int64_t va = x[k * stride], vb = b[k * stride], vc = c[k * stride];
            sab += va * vb;
            sab2 += (va + vb) * (va + vb);
            sbc += vb * vc;
            sca += vc * va;
        }
#if MC_KERNEL_ARMV6M_ASM
        (void)sab;
        (void)sbc;
        (void)sca;
        int32_t q[4], d[4], o[3];
        call((const void *)mc_k6m_squares, U(x), stride * 4u, U(x_end), U(q), 0u, t);
        if (q[0] != s1 || (int64_t)q[1] * 16777216 + (int64_t)q[2] * 8192 + q[3] != s2) {
            fail("mc_k6m_squares", t);
        }
        call((const void *)mc_k6m_dft, U(x), stride * 4u, U(ref), U(ref + 2u * len), U(d), t);
        if ((int64_t)d[0] * 4096 + d[1] != sc || (int64_t)d[2] * 4096 + d[3] != ss) {
            fail("mc_k6m_dft", t);
        }
        call((const void *)mc_k6m_sum_squares, U(x), U(b) - U(x), stride * 4u, U(x_end), U(o), t);
        if ((int64_t)o[0] * 16777216 + (int64_t)o[1] * 8192 + o[2] != sab2) {
            fail("mc_k6m_sum_squares", t);
        }
#else
        (void)sab2;
        (void)x_end;
        /* The channel's cycle sums gain the chunk's: start them anywhere in [-2^40, 2^40). */
        mc_meter_channel_t ch;
        int64_t start[4];
        for (unsigned j = 0; j < 4u; j++) {
            start[j] = (int64_t)(((uint64_t)next() << 32 | next()) >> 23) - ((int64_t)1 << 40);
        }
        ch.c_xx = start[0];
        ch.c_xc = start[1];
        ch.c_xs = start[2];
        ch.c_x = start[3];
        call6((const void *)mc_k7m_channel, U(x), stride * 4u, U(ref), U(ref + 2u * len), U(&ch), 0u, t);
        if (ch.c_xx != start[0] + s2 || ch.c_xc != start[1] + sc || ch.c_xs != start[2] + ss || ch.c_x != start[3] + s1) {
            fail("mc_k7m_channel", t);
        }
        int64_t out[3];
        if (call6((const void *)mc_k7m_product, U(x), U(b), stride * 4u, len, 0u, 0u, t) != sab) {
            fail("mc_k7m_product", t);
        }
        call6((const void *)mc_k7m_cross3, U(x), U(b) - U(x), U(c) - U(x), stride * 4u, len, U(out), t);
        if (out[0] != sab || out[1] != sbc || out[2] != sca) {
            fail("mc_k7m_cross3", t);
        }

        /* The crossing scan's two states over `second` (codes one word apart, 0 to len of
         * them), against the rule written out here: thresholds often inside the codes' range. */
        const unsigned n = next() % (len + 1u);
        const int32_t thr = (next() & 1u) ? second[next() % len] : code(), dc = (next() & 1u) ? second[next() % len] : code();
        int32_t lohi[2] = {INT32_MAX, INT32_MIN}, want_lo = INT32_MAX, want_hi = INT32_MIN;
        if (next() & 1u) { /* a minimum so far at or above thr, as the caller's state has it */
            lohi[0] = want_lo = thr + (int32_t)(next() % 1000u);
            lohi[1] = want_hi = code();
        }
        unsigned k = 0;
        while (k < n) {
            const int32_t v = second[k++];
            want_lo = v < want_lo ? v : want_lo;
            want_hi = v > want_hi ? v : want_hi;
            if (v < thr) {
                break;
            }
        }
        const int32_t *got = (const int32_t *)(uintptr_t)call6((const void *)mc_k7m_scan_arm, U(second),
                                                               U(second + n), (uint32_t)thr, U(lohi), 0u, 0u, t);
        if (got != second + k || lohi[0] != want_lo || lohi[1] != want_hi) {
            fail("mc_k7m_scan_arm", t);
        }
        int32_t lo = (next() & 1u) ? INT32_MAX : code();
        want_lo = lo;
        k = 0;
        while (k < n && second[k] < dc) {
            want_lo = second[k] < want_lo ? second[k] : want_lo;
            k++;
        }
        got = (const int32_t *)(uintptr_t)call6((const void *)mc_k7m_scan_rise, U(second), U(second + n), (uint32_t)dc,
                                                 U(&lo), 0u, 0u, t);
        if (got != second + k || lo != want_lo) {
            fail("mc_k7m_scan_rise", t);
        }
#endif

        /* The reference pairs of a chunk from the packed table. */
        mc_kernel_ref_t st = {table, next(), next() >> (next() % 32u), 0, 0};
        const uint32_t phase0 = st.phase;
        call((const void *)REFERENCE, U(ref), U(ref + 2u * len), U(&st), 0u, 0u, t);
        int32_t want_c = 0, want_s = 0;
        uint32_t phase = phase0;
        for (unsigned k = 0; k < len; k++) {
            const uint32_t w = table[phase >> 24];
            const int32_t c = (int16_t)(uint16_t)(w >> 16), sn = (int16_t)(uint16_t)(w & 0xFFFFu);
            if (ref[2u * k] != c || ref[2u * k + 1u] != sn) {
                fail("reference pairs", t);
            }
            want_c += c;
            want_s += sn;
            phase += st.dphase;
        }
        if (st.sc != want_c || st.ss != want_s || st.phase != phase) {
            fail("reference sums or phase", t);
        }
    }
    if (failures == 0u) {
        mcq_put_u("kernel_asm: chunks", TRIALS);
        mcq_puts("all exact\n");
    }
    mcq_exit(failures != 0u);
}
