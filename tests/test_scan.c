/*
 * test_scan: the crossing scan's states (src/core/mc_meter_kernel.c: scan_arm(), scan_fall(),
 * scan_rise()) against their rule written out, code by code, on short random sequences whose
 * codes sit on and next to the thresholds, every length from 0 to 40, strides 1 (1P2W, where
 * 64-bit hosts take four codes a step) to 7. Readings hide most scan slips (an extreme that
 * misses a code changes the cycle's peak, rarely a reading), so each state is checked for
 * where it stops and for the extremes it leaves.
 *
 * The kernel's scan states are file-local: this file includes the kernel's source and is
 * built with the rest of the core around it (tests/CMakeLists.txt), once per host form
 * (MC_KERNEL_FUSED 1 and 0).
 * SPDX-License-Identifier: MIT
 */
#include "mc_meter_kernel.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#define SEQ_MAX 40
#define STRIDE_MAX 7

static uint32_t rng = 12345u;
static uint32_t next_rng(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* A code on or next to dc or thr, or anywhere in the ADC's range. */
static int32_t pick(int32_t dc, int32_t thr)
{
    const uint32_t r = next_rng();
    switch (r % 8u) {
    case 0:
        return dc;
    case 1:
        return dc - 1;
    case 2:
        return thr;
    case 3:
        return thr - 1;
    case 4:
        return dc + 1 + (int32_t)((r >> 8) % 1000u);
    case 5:
        return thr - 1 - (int32_t)((r >> 8) % 1000u);
    default:
        return (int32_t)((r >> 4) % 16777217u) - 8388608;
    }
}

typedef struct seq {
    int32_t codes[SEQ_MAX * STRIDE_MAX + 1];
    size_t n, stride;
} seq_t;

static void make_seq(seq_t *s, size_t n, size_t stride, int32_t dc, int32_t thr, int mostly_above)
{
    s->n = n;
    s->stride = stride;
    for (size_t k = 0; k < n * stride; k++) {
        s->codes[k] = (k % stride) != 0u ? (int32_t)next_rng() : pick(dc, thr); /* between: other channels */
    }
    if (mostly_above) { /* long runs that stay in the state, the state's end near the tail */
        for (size_t k = 0; k < n; k++) {
            if (s->codes[k * stride] < dc && next_rng() % 8u != 0u) {
                s->codes[k * stride] = dc + (int32_t)(next_rng() % 5000u);
            }
        }
    }
}

static void make_seq_below(seq_t *s, size_t n, size_t stride, int32_t dc, int32_t thr)
{
    make_seq(s, n, stride, dc, thr, 0);
    for (size_t k = 0; k < n; k++) {
        if (s->codes[k * stride] >= dc && next_rng() % 8u != 0u) {
            s->codes[k * stride] = dc - 1 - (int32_t)(next_rng() % 5000u);
        }
    }
}

/* Not armed: every code up to and including the first below thr moves both extremes. */
static size_t rule_arm(const seq_t *s, int32_t thr, int32_t *lo, int32_t *hi)
{
    for (size_t k = 0; k < s->n; k++) {
        const int32_t v = s->codes[k * s->stride];
        if (v < *lo) {
            *lo = v;
        }
        if (v > *hi) {
            *hi = v;
        }
        if (v < thr) {
            return k + 1;
        }
    }
    return s->n;
}

/* Armed, previous at or above dc: codes at or above dc move the maximum; the first below dc
 * moves the minimum and ends the state (it is taken). */
static size_t rule_fall(const seq_t *s, int32_t dc, int32_t *lo, int32_t *hi)
{
    for (size_t k = 0; k < s->n; k++) {
        const int32_t v = s->codes[k * s->stride];
        if (v < dc) {
            if (v < *lo) {
                *lo = v;
            }
            return k + 1;
        }
        if (v > *hi) {
            *hi = v;
        }
    }
    return s->n;
}

/* Armed, previous below dc: codes below dc move the minimum; the first at or above dc ends
 * the state and is not taken. */
static size_t rule_rise(const seq_t *s, int32_t dc, int32_t *lo)
{
    for (size_t k = 0; k < s->n; k++) {
        const int32_t v = s->codes[k * s->stride];
        if (v >= dc) {
            return k;
        }
        if (v < *lo) {
            *lo = v;
        }
    }
    return s->n;
}

static void check_states(int32_t dc, int32_t thr)
{
    static const size_t strides[] = {1, 2, 3, 7};
    seq_t s;
    for (size_t si = 0; si < sizeof strides / sizeof strides[0]; si++) {
        const size_t stride = strides[si];
        for (size_t n = 0; n <= SEQ_MAX; n++) {
            for (int rep = 0; rep < 40; rep++) {
                const int32_t lo0 = rep % 3 == 0 ? INT32_MAX : pick(dc, thr);
                const int32_t hi0 = rep % 3 == 0 ? INT32_MIN : pick(dc, thr);
                const int32_t *stop;

                /* scan_arm: the kernel calls it with lo at or above thr until it arms */
                make_seq(&s, n, stride, dc, thr, rep % 2);
                int32_t lo = lo0 < thr ? thr : lo0, hi = hi0, want_lo = lo, want_hi = hi;
                size_t want = rule_arm(&s, thr, &want_lo, &want_hi);
                stop = s.codes + n * stride;
                const int32_t *p = scan_arm(s.codes, stop, stride, thr, &lo, &hi);
                if ((size_t)(p - s.codes) != want * stride || lo != want_lo || hi != want_hi) {
                    fail_msg("scan_arm n %zu stride %zu rep %d: stopped at %td (want %zu), lo %d (%d), hi %d (%d)", n,
                             stride, rep, (p - s.codes) / (ptrdiff_t)stride, want, lo, want_lo, hi, want_hi);
                }

                make_seq(&s, n, stride, dc, thr, rep % 2);
                lo = lo0;
                hi = hi0;
                want_lo = lo;
                want_hi = hi;
                want = rule_fall(&s, dc, &want_lo, &want_hi);
                p = scan_fall(s.codes, stop, stride, dc, &lo, &hi);
                if ((size_t)(p - s.codes) != want * stride || lo != want_lo || hi != want_hi) {
                    fail_msg("scan_fall n %zu stride %zu rep %d: stopped at %td (want %zu), lo %d (%d), hi %d (%d)", n,
                             stride, rep, (p - s.codes) / (ptrdiff_t)stride, want, lo, want_lo, hi, want_hi);
                }

                if (rep % 2) {
                    make_seq_below(&s, n, stride, dc, thr);
                } else {
                    make_seq(&s, n, stride, dc, thr, 0);
                }
                lo = lo0;
                want_lo = lo;
                want = rule_rise(&s, dc, &want_lo);
                p = scan_rise(s.codes, stop, stride, dc, &lo);
                if ((size_t)(p - s.codes) != want * stride || lo != want_lo) {
                    fail_msg("scan_rise n %zu stride %zu rep %d: stopped at %td (want %zu), lo %d (%d)", n, stride, rep,
                             (p - s.codes) / (ptrdiff_t)stride, want, lo, want_lo);
                }
            }
        }
    }
}

static void test_scan_states(void **state)
{
    (void)state;
    check_states(0, -300);
    check_states(2048, 1900);               /* a unipolar 12-bit ADC's mid-scale */
    check_states(-8388607, -8388608);       /* the thresholds at the range's ends */
    check_states(8388608, 8388608 - 50000); /* dc at full scale */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_states),
    };
    return cmocka_run_group_tests_name("scan", tests, NULL, NULL);
}
