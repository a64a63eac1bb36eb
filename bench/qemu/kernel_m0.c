/*
 * The ARMv6-M assembly loops of the core (src/core/mc_kernel_armv6m.c) on a Cortex-M0
 * under QEMU (-M microbit), against sums computed here in int64 arithmetic (the compiler's
 * 64-bit multiply, nothing of the split-product method): random chunks of 1 to 32 frames
 * of 1 to 8 channels, with random, extreme (-2^23, 2^23) and split-boundary codes and
 * random and extreme reference values. Every routine must also give back r4-r11
 * (kernel_m0_call.S). Prints "kernel_m0: N chunks, all exact" and exits 0, or the first
 * mismatch and exits 1. Run by kernel_m0.sh (ctest qemu_kernel_m0).
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>

#include "mc_core_internal.h"
#include "mcq.h"

#if !MC_KERNEL_ARMV6M_ASM
#error "kernel_m0.c is built for ARMv6-M, where the core uses its assembly loops"
#endif

void kernel_m0_call(const void *fn, const uint32_t args[5], uint32_t regs_out[8]);

#define TRIALS 3000u
#define MAX_LEN 32u
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
        mcq_puts("kernel_m0: FAIL ");
        mcq_puts(what);
        mcq_put_u(" trial", trial);
        mcq_puts("\n");
    }
}

static void call(const void *fn, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t a4, unsigned trial)
{
    static const uint32_t want[8] = {0x44444444u, 0x55555555u, 0x66666666u, 0x77777777u,
                                     0x88888888u, 0x99999999u, 0xAAAAAAAAu, 0xBBBBBBBBu};
    const uint32_t args[5] = {a0, a1, a2, a3, a4};
    uint32_t regs[8];
    kernel_m0_call(fn, args, regs);
    for (unsigned r = 0; r < 8u; r++) {
        if (regs[r] != want[r]) {
            fail("callee-saved register r4-r11 not restored", trial);
        }
    }
}

#define U(p) ((uint32_t)(uintptr_t)(p))

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
        int32_t q[4], d[4], o[3];
        call((const void *)mc_k6m_squares, U(x), stride * 4u, U(x_end), U(q), 0u, t);
        if (q[0] != s1 || (int64_t)q[1] * 16777216 + (int64_t)q[2] * 8192 + q[3] != s2) {
            fail("mc_k6m_squares", t);
        }
        call((const void *)mc_k6m_dft, U(x), stride * 4u, U(ref), U(ref + 2u * len), U(d), t);
        if ((int64_t)d[0] * 4096 + d[1] != sc || (int64_t)d[2] * 4096 + d[3] != ss) {
            fail("mc_k6m_dft", t);
        }

        /* Two channels: Σ(a+b)², b in the same frame or in another array (either side). */
        const int32_t *b = (next() & 1u) ? frames + next() % stride : second + next() % stride;
        int64_t sab = 0;
        for (unsigned k = 0; k < len; k++) {
            const int64_t v = (int64_t)x[k * stride] + b[k * stride];
            sab += v * v;
        }
        call((const void *)mc_k6m_sum_squares, U(x), U(b) - U(x), stride * 4u, U(x_end), U(o), t);
        if ((int64_t)o[0] * 16777216 + (int64_t)o[1] * 8192 + o[2] != sab) {
            fail("mc_k6m_sum_squares", t);
        }

        /* The reference pairs of a chunk from the packed table. */
        mc_k6m_ref_t st = {table, next(), next() >> (next() % 32u), 0, 0};
        const uint32_t phase0 = st.phase;
        call((const void *)mc_k6m_reference, U(ref), U(ref + 2u * len), U(&st), 0u, 0u, t);
        int32_t want_c = 0, want_s = 0;
        uint32_t phase = phase0;
        for (unsigned k = 0; k < len; k++) {
            const uint32_t w = table[phase >> 24];
            const int32_t c = (int16_t)(uint16_t)(w >> 16), sn = (int16_t)(uint16_t)(w & 0xFFFFu);
            if (ref[2u * k] != c || ref[2u * k + 1u] != sn) {
                fail("mc_k6m_reference pairs", t);
            }
            want_c += c;
            want_s += sn;
            phase += st.dphase;
        }
        if (st.sc != want_c || st.ss != want_s || st.phase != phase) {
            fail("mc_k6m_reference sums or phase", t);
        }
    }
    if (failures == 0u) {
        mcq_put_u("kernel_m0: chunks", TRIALS);
        mcq_puts("all exact\n");
    }
    mcq_exit(failures != 0u);
}
