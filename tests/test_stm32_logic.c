/*
 * metercore stm32_logic suite: the STM32 port's hardware-free parts
 * (ports/stm32/logic/mc_stm32_logic.h), compiled for the host:
 *   - the byte + timestamp receive queue (FIFO order, empty, full, index wrap),
 *   - the timed-edge queue of the pulse output (due edges only, in order, the
 *     next time, the 32-bit microsecond clock wrapping, late and dropped edges),
 *   - the mapping of the core's Q48.16 sample positions to microseconds, against
 *     exact values worked out by hand and a 128-bit reference,
 *   - the two edges of a pulse (sample time + latency; all or nothing),
 *   - the key debouncer (hold time, bounces, release, two keys, counter wrap,
 *     clamping of the hold time).
 * Every expectation is computed here from the documented behaviour, never
 * read back from the code under test.
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "mc_stm32_logic.h"

#define RXQ_N MC_STM32_RXQ_SIZE
#define EDGES_N MC_STM32_EDGES_SIZE
#define Q16(samples) ((uint64_t)(samples) << 16)

/* ------------------------------------------------------------------------ */
/* Receive queue                                                            */

static void test_rxq_fifo(void **state)
{
    (void)state;
    mc_stm32_rxq_t q;
    memset(&q, 0, sizeof(q));
    static const uint8_t bytes[5] = {0x01u, 0x03u, 0x00u, 0xFFu, 0x7Eu};
    static const uint32_t times[5] = {10u, 1050u, 2090u, 2090u, 0xFFFFFFF0u};
    for (unsigned k = 0; k < 5u; k++) {
        assert_int_equal(mc_stm32_rxq_push(&q, bytes[k], times[k]), 1);
    }
    for (unsigned k = 0; k < 5u; k++) {
        uint8_t b = 0xAAu;
        uint32_t t = 0xDEADBEEFu;
        assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
        assert_int_equal(b, bytes[k]);
        assert_int_equal(t, times[k]);
    }
    assert_int_equal(q.dropped, 0u);

    /* Interleaved: push two, pop one, push one, pop the rest. */
    assert_int_equal(mc_stm32_rxq_push(&q, 0x11u, 100u), 1);
    assert_int_equal(mc_stm32_rxq_push(&q, 0x22u, 200u), 1);
    uint8_t b;
    uint32_t t;
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
    assert_int_equal(b, 0x11u);
    assert_int_equal(t, 100u);
    assert_int_equal(mc_stm32_rxq_push(&q, 0x33u, 300u), 1);
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
    assert_int_equal(b, 0x22u);
    assert_int_equal(t, 200u);
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
    assert_int_equal(b, 0x33u);
    assert_int_equal(t, 300u);
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);
}

static void test_rxq_empty(void **state)
{
    (void)state;
    mc_stm32_rxq_t q;
    memset(&q, 0, sizeof(q));
    uint8_t b = 0x5Au;
    uint32_t t = 12345u;
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);
    /* Nothing written to the outputs, nothing counted, indices unchanged. */
    assert_int_equal(b, 0x5Au);
    assert_int_equal(t, 12345u);
    assert_int_equal(q.head, 0u);
    assert_int_equal(q.tail, 0u);
    assert_int_equal(q.dropped, 0u);

    /* Empty again after one byte in and out. */
    assert_int_equal(mc_stm32_rxq_push(&q, 0x42u, 7u), 1);
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
    b = 0x5Au;
    t = 12345u;
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);
    assert_int_equal(b, 0x5Au);
    assert_int_equal(t, 12345u);
}

static void test_rxq_full(void **state)
{
    (void)state;
    mc_stm32_rxq_t q;
    memset(&q, 0, sizeof(q));
    for (unsigned k = 0; k < RXQ_N; k++) {
        assert_int_equal(mc_stm32_rxq_push(&q, (uint8_t)k, 1000u + k), 1);
    }
    assert_int_equal(q.dropped, 0u);
    /* Full: refused and counted, however many times. */
    assert_int_equal(mc_stm32_rxq_push(&q, 0xEEu, 5000u), 0);
    assert_int_equal(q.dropped, 1u);
    assert_int_equal(mc_stm32_rxq_push(&q, 0xEFu, 5001u), 0);
    assert_int_equal(q.dropped, 2u);

    /* One out makes room for exactly one. */
    uint8_t b;
    uint32_t t;
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
    assert_int_equal(b, 0u);
    assert_int_equal(t, 1000u);
    assert_int_equal(mc_stm32_rxq_push(&q, 0xC0u, 6000u), 1);
    assert_int_equal(mc_stm32_rxq_push(&q, 0xC1u, 6001u), 0);
    assert_int_equal(q.dropped, 3u);

    /* The rest comes out in order; the refused bytes never appear. */
    for (unsigned k = 1; k < RXQ_N; k++) {
        assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
        assert_int_equal(b, (uint8_t)k);
        assert_int_equal(t, 1000u + k);
    }
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
    assert_int_equal(b, 0xC0u);
    assert_int_equal(t, 6000u);
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);
    assert_int_equal(q.dropped, 3u);
}

static void test_rxq_index_wrap(void **state)
{
    (void)state;
    mc_stm32_rxq_t q;
    memset(&q, 0, sizeof(q));
    q.head = UINT32_MAX - 5u;
    q.tail = UINT32_MAX - 5u;

    uint8_t b;
    uint32_t t;
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);
    /* Fill it across the wrap of head: full after exactly RXQ_N bytes. */
    for (unsigned k = 0; k < RXQ_N; k++) {
        assert_int_equal(mc_stm32_rxq_push(&q, (uint8_t)(0x80u + k), 7u * k), 1);
    }
    assert_int_equal(q.head, (uint32_t)(UINT32_MAX - 5u + RXQ_N)); /* wrapped: 58 */
    assert_int_equal(q.head, RXQ_N - 6u);
    assert_int_equal(mc_stm32_rxq_push(&q, 0u, 0u), 0);
    assert_int_equal(q.dropped, 1u);
    for (unsigned k = 0; k < RXQ_N; k++) {
        assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
        assert_int_equal(b, (uint8_t)(0x80u + k));
        assert_int_equal(t, 7u * k);
    }
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);

    /* Tail behind the wrap, head past it: partly filled, pops in order. */
    memset(&q, 0, sizeof(q));
    q.head = UINT32_MAX - 1u;
    q.tail = UINT32_MAX - 1u;
    for (unsigned k = 0; k < 10u; k++) {
        assert_int_equal(mc_stm32_rxq_push(&q, (uint8_t)k, 100u + k), 1);
    }
    assert_true(q.head < q.tail); /* head has wrapped, tail not yet */
    for (unsigned k = 0; k < 10u; k++) {
        assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 1);
        assert_int_equal(b, (uint8_t)k);
        assert_int_equal(t, 100u + k);
    }
    assert_int_equal(mc_stm32_rxq_pop(&q, &b, &t), 0);
    assert_int_equal(q.dropped, 0u);
}

/* A long random interleaving of pushes and pops, started just before the index
 * wrap, against a plain array FIFO. */
static uint32_t lcg_next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s;
}

static void test_rxq_model(void **state)
{
    (void)state;
    mc_stm32_rxq_t q;
    memset(&q, 0, sizeof(q));
    q.head = UINT32_MAX - 1000u;
    q.tail = UINT32_MAX - 1000u;

    enum { STEPS = 20000 };
    static uint8_t mb[STEPS];
    static uint32_t mt[STEPS];
    unsigned mhead = 0, mtail = 0, mdropped = 0;
    uint32_t seed = 12345u;
    for (unsigned step = 0; step < STEPS; step++) {
        const uint32_t r = lcg_next(&seed) >> 8;
        /* Bursts: phases biased to push or to pop so that the queue fills and empties. */
        const unsigned push_bias = ((step / 500u) % 2u) ? 70u : 30u;
        if (r % 100u < push_bias) {
            const uint8_t byte = (uint8_t)(r >> 8);
            const uint32_t tus = lcg_next(&seed);
            const int ok = mc_stm32_rxq_push(&q, byte, tus);
            if (mhead - mtail < RXQ_N) {
                assert_int_equal(ok, 1);
                mb[mhead] = byte;
                mt[mhead] = tus;
                mhead++;
            } else {
                assert_int_equal(ok, 0);
                mdropped++;
            }
        } else {
            uint8_t b = 0;
            uint32_t t = 0;
            const int ok = mc_stm32_rxq_pop(&q, &b, &t);
            if (mhead != mtail) {
                assert_int_equal(ok, 1);
                assert_int_equal(b, mb[mtail]);
                assert_int_equal(t, mt[mtail]);
                mtail++;
            } else {
                assert_int_equal(ok, 0);
            }
        }
        assert_int_equal(q.dropped, mdropped);
    }
    assert_true(mdropped > 0u);       /* the full case was exercised */
    assert_true(q.head < 20000u);     /* and the wrap */
}

/* ------------------------------------------------------------------------ */
/* Edge queue                                                               */

typedef struct pin_log {
    uint8_t level[256];
    unsigned n;
} pin_log_t;

static void pin_set(void *ctx, uint8_t level)
{
    pin_log_t *log = ctx;
    assert_true(log->n < 256u);
    log->level[log->n++] = level;
}

/* Service at now_us; returns the edges applied (appended to log), checks the
 * return value and next time. */
static void service_expect(mc_stm32_edges_t *q, pin_log_t *log, uint32_t now_us, unsigned applied,
                           int more, uint32_t next_expected)
{
    const unsigned before = log->n;
    uint32_t next = 0xA5A5A5A5u;
    const int r = mc_stm32_edges_service(q, now_us, pin_set, log, &next);
    assert_int_equal(log->n - before, applied);
    assert_int_equal(r, more);
    if (more) {
        assert_int_equal(next, next_expected);
    } else {
        assert_int_equal(next, 0xA5A5A5A5u); /* untouched when nothing remains */
    }
}

static void test_edges_order(void **state)
{
    (void)state;
    mc_stm32_edges_t q;
    memset(&q, 0, sizeof(q));
    pin_log_t log;
    memset(&log, 0, sizeof(log));

    service_expect(&q, &log, 0u, 0u, 0, 0u); /* empty */

    assert_int_equal(mc_stm32_edges_push(&q, 1000u, 1u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 1500u, 0u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 2000u, 1u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 2500u, 0u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 2500u, 1u), 1); /* same time: both, in order */
    assert_int_equal(mc_stm32_edges_push(&q, 9000u, 0u), 1);

    service_expect(&q, &log, 500u, 0u, 1, 1000u);
    service_expect(&q, &log, 999u, 0u, 1, 1000u);
    service_expect(&q, &log, 1000u, 1u, 1, 1500u); /* exactly at its time */
    assert_int_equal(log.level[0], 1u);
    service_expect(&q, &log, 1000u, 0u, 1, 1500u); /* applied once only */
    service_expect(&q, &log, 2100u, 2u, 1, 2500u); /* 1500 and 2000, in order */
    assert_int_equal(log.level[1], 0u);
    assert_int_equal(log.level[2], 1u);
    service_expect(&q, &log, 2500u, 2u, 1, 9000u);
    assert_int_equal(log.level[3], 0u);
    assert_int_equal(log.level[4], 1u);
    /* NULL next_us is allowed. */
    assert_int_equal(mc_stm32_edges_service(&q, 8999u, pin_set, &log, NULL), 1);
    assert_int_equal(log.n, 5u);
    service_expect(&q, &log, 9000u, 1u, 0, 0u);
    assert_int_equal(log.level[5], 0u);
    assert_int_equal(mc_stm32_edges_service(&q, 20000u, pin_set, &log, NULL), 0);
    assert_int_equal(log.n, 6u);
    assert_int_equal(q.late, 0u);
    assert_int_equal(q.dropped, 0u);
}

static void test_edges_clock_wrap(void **state)
{
    (void)state;
    mc_stm32_edges_t q;
    memset(&q, 0, sizeof(q));
    pin_log_t log;
    memset(&log, 0, sizeof(log));

    assert_int_equal(mc_stm32_edges_push(&q, UINT32_MAX - 100u, 1u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, UINT32_MAX, 0u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 0u, 1u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 300u, 0u), 1);

    service_expect(&q, &log, UINT32_MAX - 1000u, 0u, 1, UINT32_MAX - 100u);
    service_expect(&q, &log, UINT32_MAX - 100u, 1u, 1, UINT32_MAX);
    /* Now past the wrap: UINT32_MAX and 0 are due (101 and 100 µs ago). */
    service_expect(&q, &log, 100u, 2u, 1, 300u);
    assert_int_equal(log.level[0], 1u);
    assert_int_equal(log.level[1], 0u);
    assert_int_equal(log.level[2], 1u);
    /* Before the wrap, an edge just after it is in the future. */
    service_expect(&q, &log, 299u, 0u, 1, 300u);
    service_expect(&q, &log, 300u, 1u, 0, 0u);
    assert_int_equal(log.level[3], 0u);
    assert_int_equal(q.late, 0u);

    /* An edge after the wrap seen from before it: 200 µs ahead, not due. */
    assert_int_equal(mc_stm32_edges_push(&q, 100u, 1u), 1);
    service_expect(&q, &log, UINT32_MAX - 99u, 0u, 1, 100u);
    service_expect(&q, &log, 100u, 1u, 0, 0u);

    /* An edge over 1 ms overdue across the wrap is late. */
    assert_int_equal(mc_stm32_edges_push(&q, UINT32_MAX - 1500u, 0u), 1);
    service_expect(&q, &log, 0u, 1u, 0, 0u); /* 1501 µs overdue */
    assert_int_equal(q.late, 1u);
}

static void test_edges_late(void **state)
{
    (void)state;
    mc_stm32_edges_t q;
    memset(&q, 0, sizeof(q));
    pin_log_t log;
    memset(&log, 0, sizeof(log));

    const uint32_t now = 5000000u;
    assert_int_equal(mc_stm32_edges_push(&q, now - 100000u, 1u), 1); /* 100 ms overdue: late */
    assert_int_equal(mc_stm32_edges_push(&q, now - 1001u, 0u), 1);   /* 1.001 ms: late */
    assert_int_equal(mc_stm32_edges_push(&q, now - 1000u, 1u), 1);   /* exactly 1 ms: not late */
    assert_int_equal(mc_stm32_edges_push(&q, now - 1u, 0u), 1);      /* not late */
    assert_int_equal(mc_stm32_edges_push(&q, now, 1u), 1);           /* on time */
    assert_int_equal(mc_stm32_edges_push(&q, now + 1u, 0u), 1);      /* future */

    service_expect(&q, &log, now, 5u, 1, now + 1u);
    assert_int_equal(q.late, 2u);
    static const uint8_t expect[5] = {1u, 0u, 1u, 0u, 1u};
    assert_memory_equal(log.level, expect, sizeof(expect));
    /* Applied 1 µs late: not counted. */
    service_expect(&q, &log, now + 2u, 1u, 0, 0u);
    assert_int_equal(q.late, 2u);
    assert_int_equal(q.dropped, 0u);
}

static void test_edges_full(void **state)
{
    (void)state;
    mc_stm32_edges_t q;
    memset(&q, 0, sizeof(q));
    /* Indices about to wrap, too. */
    q.head = UINT32_MAX - 9u;
    q.tail = UINT32_MAX - 9u;
    pin_log_t log;
    memset(&log, 0, sizeof(log));

    for (unsigned k = 0; k < EDGES_N; k++) {
        assert_int_equal(mc_stm32_edges_push(&q, 100u * (k + 1u), (uint8_t)(k & 1u)), 1);
    }
    assert_int_equal(q.dropped, 0u);
    assert_int_equal(mc_stm32_edges_push(&q, 100000u, 1u), 0);
    assert_int_equal(q.dropped, 1u);
    assert_int_equal(mc_stm32_edges_push(&q, 100001u, 0u), 0);
    assert_int_equal(q.dropped, 2u);

    /* The first two go out; two fit again. */
    service_expect(&q, &log, 200u, 2u, 1, 300u);
    assert_int_equal(mc_stm32_edges_push(&q, 100u * (EDGES_N + 1u), 0u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 100u * (EDGES_N + 2u), 1u), 1);
    assert_int_equal(mc_stm32_edges_push(&q, 100u * (EDGES_N + 3u), 0u), 0);
    assert_int_equal(q.dropped, 3u);

    /* Everything queued comes out in order, the refused edges never. Serviced
     * at 3400 µs, the edges at 300..2300 µs (21 of them) are over 1 ms late. */
    service_expect(&q, &log, 100u * (EDGES_N + 2u), EDGES_N, 0, 0u);
    assert_int_equal(log.n, EDGES_N + 2u);
    for (unsigned k = 0; k < EDGES_N + 2u; k++) {
        assert_int_equal(log.level[k], (uint8_t)(k & 1u));
    }
    assert_int_equal(q.late, 21u);
}

/* ------------------------------------------------------------------------ */
/* Sample time                                                              */

static void test_sample_time_4k(void **state)
{
    (void)state;
    const uint32_t fs = 4000u; /* 250 µs per sample */
    assert_int_equal(mc_stm32_sample_time_us(0u, 0u, fs), 0u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1), fs), 250u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(2), fs), 500u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(3999), fs), 999750u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(4000), fs), 1000000u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(4001), fs), 1000250u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(12000), fs), 3000000u);
    /* Fractions: half a sample 125 µs, a quarter 62.5 -> 62, 1/65536 -> 0.0038 -> 0,
     * 65535/65536 -> 249.996 -> 249, 4000.5 samples -> 1000125. */
    assert_int_equal(mc_stm32_sample_time_us(0u, 0x8000u, fs), 125u);
    assert_int_equal(mc_stm32_sample_time_us(0u, 0x4000u, fs), 62u);
    assert_int_equal(mc_stm32_sample_time_us(0u, 1u, fs), 0u);
    assert_int_equal(mc_stm32_sample_time_us(0u, 0xFFFFu, fs), 249u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1) + 0x8000u, fs), 375u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(4000) + 0x8000u, fs), 1000125u);
    /* 263 q16 = 1.00311 µs -> 1; 262 q16 = 0.99945 µs -> 0. */
    assert_int_equal(mc_stm32_sample_time_us(0u, 263u, fs), 1u);
    assert_int_equal(mc_stm32_sample_time_us(0u, 262u, fs), 0u);
}

static void test_sample_time_huge(void **state)
{
    (void)state;
    /* 10^12 samples at 4 kHz = 2.5e14 µs (7.9 years); modulo 2^32:
     * 2.5e14 = 58207 * 2^32 + 2838601728 (58207 * 4294967296 = 249997161398272). */
    const uint64_t us = 250000000000000ull;
    assert_int_equal(us - 58207ull * 4294967296ull, 2838601728ull);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1000000000000ull), 4000u), 2838601728u);
    /* Same plus half a sample (125 µs) and a t0 of 1000. */
    assert_int_equal(mc_stm32_sample_time_us(1000u, Q16(1000000000000ull) + 0x8000u, 4000u),
                     2838601728u + 125u + 1000u);

    /* 2^32 µs exactly: 17179869184 samples at 4 kHz -> 0 modulo 2^32. */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(17179869184ull), 4000u), 0u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(17179869184ull + 1u), 4000u), 250u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(17179869184ull - 1u), 4000u), UINT32_MAX - 249u);

#if defined(__SIZEOF_INT128__)
    /* The largest positions, with a 128-bit reference: floor(pos * 1e6 / (fs * 2^16)) mod 2^32. */
    static const uint64_t pos[] = {UINT64_MAX, UINT64_MAX - 0xFFFFu, 0xFFFFFFFFFFFF0000ull, 1ull << 63,
                                   (1ull << 63) - 1u, 0x123456789ABCDEF0ull};
    static const uint32_t rates[] = {1u, 3000u, 4000u, 8000u, 48000u, 64000u};
    for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
        for (size_t j = 0; j < sizeof(rates) / sizeof(rates[0]); j++) {
            const unsigned __int128 num = (unsigned __int128)pos[i] * 1000000u;
            const unsigned __int128 den = (unsigned __int128)rates[j] << 16;
            const uint32_t expect = (uint32_t)(num / den);
            assert_int_equal(mc_stm32_sample_time_us(0u, pos[i], rates[j]), expect);
        }
    }
#endif
}

static void test_sample_time_rates(void **state)
{
    (void)state;
    /* 3000 Hz: 333.33 µs per sample. */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1), 3000u), 333u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(2), 3000u), 666u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(3), 3000u), 1000u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(2999), 3000u), 999666u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(3000), 3000u), 1000000u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(3001), 3000u), 1000333u);
    assert_int_equal(mc_stm32_sample_time_us(0u, 0x8000u, 3000u), 166u);          /* 166.67 */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(2) + 0x8000u, 3000u), 833u); /* 833.33 */
    /* 10^9 samples at 3000 Hz = 333333333333.33 µs -> 333333333333 mod 2^32
     * = 333333333333 - 77 * 4294967296 = 2620851541. */
    assert_int_equal(333333333333ull - 77ull * 4294967296ull, 2620851541ull);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1000000000ull), 3000u), 2620851541u);

    /* 48000 Hz: 20.833 µs per sample. */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1), 48000u), 20u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(5), 48000u), 104u);       /* 104.17 */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(6), 48000u), 125u);       /* exact */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(47999), 48000u), 999979u); /* 999979.17 */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(48000), 48000u), 1000000u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(96003), 48000u), 2000062u); /* 2000062.5 */

    /* 44100 Hz: 22.676 µs per sample. */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1), 44100u), 22u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(441), 44100u), 10000u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(44099), 44100u), 999977u); /* 999977.32 */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(44100), 44100u), 1000000u);

    /* 7 Hz: 142857.14 µs per sample. */
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(1), 7u), 142857u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(6), 7u), 857142u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(7), 7u), 1000000u);
    assert_int_equal(mc_stm32_sample_time_us(0u, Q16(8), 7u), 1142857u);

#if defined(__SIZEOF_INT128__)
    /* A sweep of positions (whole range, fractional parts) and rates against a
     * 128-bit reference. */
    static const uint32_t rates[] = {1u, 7u, 50u, 1000u, 2400u, 3000u, 3200u, 4000u, 4096u,
                                     7812u, 8000u, 11025u, 22050u, 32000u, 44100u, 48000u,
                                     64000u, 96000u, 192000u, 1000000u};
    uint32_t seed = 777u;
    for (size_t j = 0; j < sizeof(rates) / sizeof(rates[0]); j++) {
        for (unsigned k = 0; k < 2000u; k++) {
            uint64_t p = ((uint64_t)lcg_next(&seed) << 32) | lcg_next(&seed);
            p >>= (k % 64u); /* every magnitude */
            const uint32_t t0 = lcg_next(&seed);
            const unsigned __int128 num = (unsigned __int128)p * 1000000u;
            const unsigned __int128 den = (unsigned __int128)rates[j] << 16;
            const uint32_t expect = (uint32_t)(t0 + (uint32_t)(num / den));
            assert_int_equal(mc_stm32_sample_time_us(t0, p, rates[j]), expect);
        }
    }
#endif
}

static void test_sample_time_t0(void **state)
{
    (void)state;
    assert_int_equal(mc_stm32_sample_time_us(123456u, 0u, 4000u), 123456u);
    assert_int_equal(mc_stm32_sample_time_us(123456u, Q16(1), 4000u), 123706u);
    /* t0 just before the wrap: (2^32 - 100 + 250) mod 2^32 = 150. */
    assert_int_equal(mc_stm32_sample_time_us(UINT32_MAX - 99u, Q16(1), 4000u), 150u);
    assert_int_equal(mc_stm32_sample_time_us(UINT32_MAX - 99u, Q16(0), 4000u), UINT32_MAX - 99u);
    /* t0 = 2^32 - 1, one second: 999999. */
    assert_int_equal(mc_stm32_sample_time_us(UINT32_MAX, Q16(4000), 4000u), 999999u);
    /* t0 + 2^32 µs (17179869184 samples at 4 kHz) is t0 again. */
    assert_int_equal(mc_stm32_sample_time_us(0x89ABCDEFu, Q16(17179869184ull), 4000u), 0x89ABCDEFu);
    /* t0 = 3e9, 10^12 samples at 4 kHz: (3e9 + 2838601728) mod 2^32 = 1543634432. */
    assert_int_equal(3000000000ull + 2838601728ull - 4294967296ull, 1543634432ull);
    assert_int_equal(mc_stm32_sample_time_us(3000000000u, Q16(1000000000000ull), 4000u), 1543634432u);
    /* Differences survive the wrap: two samples 250 µs apart, whatever t0. */
    for (uint32_t k = 0, t0 = UINT32_MAX - 600u; k < 40u; k++, t0 += 37u) { /* t0 crosses 2^32 */
        const uint32_t a = mc_stm32_sample_time_us(t0, Q16(100), 4000u);
        const uint32_t b = mc_stm32_sample_time_us(t0, Q16(101), 4000u);
        assert_int_equal((uint32_t)(b - a), 250u);
        assert_int_equal((uint32_t)(a - t0), 25000u);
    }
}

/* ------------------------------------------------------------------------ */
/* Pulse edges                                                              */

static void test_edges_pulse_times(void **state)
{
    (void)state;
    mc_stm32_edges_t q;
    memset(&q, 0, sizeof(q));
    pin_log_t log;
    memset(&log, 0, sizeof(log));

    /* fs 4000, t0 1000 µs, latency 1.2 s. Pulse at sample 8000.25 (2000062.5 µs),
     * 80 samples wide (20 ms): rise 1000 + 2000062 + 1200000 = 3201062,
     * fall at sample 8080.25 -> 2020062 + 1201000 = 3221062. */
    mc_pulse_t p;
    memset(&p, 0, sizeof(p));
    p.start_q16 = Q16(8000) + 0x4000u;
    p.width_q16 = (uint32_t)Q16(80);
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 1000u, 4000u, 1200000u), 1);
    assert_int_equal(q.head - q.tail, 2u);
    assert_int_equal(q.t_us[0], 3201062u);
    assert_int_equal(q.level[0], 1u);
    assert_int_equal(q.t_us[1], 3221062u);
    assert_int_equal(q.level[1], 0u);

    service_expect(&q, &log, 3201061u, 0u, 1, 3201062u);
    service_expect(&q, &log, 3201062u, 1u, 1, 3221062u);
    service_expect(&q, &log, 3221061u, 0u, 1, 3221062u);
    service_expect(&q, &log, 3221062u, 1u, 0, 0u);
    assert_int_equal(log.level[0], 1u);
    assert_int_equal(log.level[1], 0u);

    /* fs 3000, t0 near the wrap, width with a fraction: start at sample 1 (333.33),
     * width 1.5 samples -> fall at 2.5 samples (833.33);
     * rise = 2^32 - 500 + 333 + 100 = 2^32 - 67, fall = 2^32 - 500 + 833 + 100 = 433. */
    p.start_q16 = Q16(1);
    p.width_q16 = (uint32_t)Q16(1) + 0x8000u;
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, UINT32_MAX - 499u, 3000u, 100u), 1);
    assert_int_equal(q.t_us[2], UINT32_MAX - 66u);
    assert_int_equal(q.t_us[3], 433u);
    service_expect(&q, &log, UINT32_MAX - 67u, 0u, 1, UINT32_MAX - 66u);
    service_expect(&q, &log, UINT32_MAX - 66u, 1u, 1, 433u);
    service_expect(&q, &log, 432u, 0u, 1, 433u);
    service_expect(&q, &log, 433u, 1u, 0, 0u);

    /* A pulse 10^12 samples after sample 0 (4 kHz), 20 ms wide, no latency, t0 0:
     * rise 2838601728 (see test_sample_time_huge), fall + 20000. */
    p.start_q16 = Q16(1000000000000ull);
    p.width_q16 = (uint32_t)Q16(80);
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 0u, 4000u, 0u), 1);
    assert_int_equal(q.t_us[4], 2838601728u);
    assert_int_equal(q.t_us[5], 2838621728u);

    /* The fall is the time of start + width, floored once: at 3000 Hz a pulse
     * from sample 1 (333.33 µs) 2 samples wide falls at sample 3, 1000 µs
     * exactly (not 333 + 666 = 999). t0 0, latency 50. */
    p.start_q16 = Q16(1);
    p.width_q16 = (uint32_t)Q16(2);
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 0u, 3000u, 50u), 1);
    assert_int_equal(q.t_us[6], 383u);
    assert_int_equal(q.t_us[7], 1050u);
    /* Sub-microsecond: a pulse at 0 q16, 262 q16 wide (0.99945 µs at 4 kHz),
     * falls at the same microsecond; 263 q16 (1.0031 µs) one later. */
    p.start_q16 = 0u;
    p.width_q16 = 262u;
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 7u, 4000u, 0u), 1);
    assert_int_equal(q.t_us[8], 7u);
    assert_int_equal(q.t_us[9], 7u);
    p.width_q16 = 263u;
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 7u, 4000u, 0u), 1);
    assert_int_equal(q.t_us[10], 7u);
    assert_int_equal(q.t_us[11], 8u);
    assert_int_equal(q.dropped, 0u);
    assert_int_equal(q.late, 0u);
}

static void test_edges_pulse_full(void **state)
{
    (void)state;
    mc_stm32_edges_t q;
    memset(&q, 0, sizeof(q));
    q.head = UINT32_MAX - 20u;
    q.tail = UINT32_MAX - 20u;
    pin_log_t log;
    memset(&log, 0, sizeof(log));
    mc_pulse_t p;
    memset(&p, 0, sizeof(p));
    p.start_q16 = Q16(40000); /* 10 s at 4 kHz */
    p.width_q16 = (uint32_t)Q16(80);

    /* Two slots free: accepted, the queue is then full. */
    for (unsigned k = 0; k < EDGES_N - 2u; k++) {
        assert_int_equal(mc_stm32_edges_push(&q, 1000u + k, 0u), 1);
    }
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 0u, 4000u, 0u), 1);
    assert_int_equal(q.head - q.tail, EDGES_N);
    assert_int_equal(q.dropped, 0u);

    /* None free: refused, two edges counted. */
    const uint32_t head = q.head;
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 0u, 4000u, 0u), 0);
    assert_int_equal(q.dropped, 2u);
    assert_int_equal(q.head, head);

    /* One free: refused as well (never a rise without its fall). */
    service_expect(&q, &log, 1000u, 1u, 1, 1001u);
    assert_int_equal(q.head - q.tail, EDGES_N - 1u);
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 0u, 4000u, 0u), 0);
    assert_int_equal(q.dropped, 4u);
    assert_int_equal(q.head, head);

    /* Two free again: accepted. */
    service_expect(&q, &log, 1001u, 1u, 1, 1002u);
    p.start_q16 = Q16(80000); /* 20 s */
    assert_int_equal(mc_stm32_edges_pulse(&q, &p, 0u, 4000u, 0u), 1);
    assert_int_equal(q.head, head + 2u);
    assert_int_equal(q.dropped, 4u);

    /* Everything comes out: the remaining 28 fillers (levels 0), then
     * 10 s rise, 10.02 s fall, 20 s rise, 20.02 s fall. */
    service_expect(&q, &log, 1000u + EDGES_N, EDGES_N - 4u, 1, 10000000u);
    service_expect(&q, &log, 10000000u, 1u, 1, 10020000u);
    service_expect(&q, &log, 10020000u, 1u, 1, 20000000u);
    service_expect(&q, &log, 20020000u, 2u, 0, 0u);
    assert_int_equal(log.n, EDGES_N + 2u);
    static const uint8_t tail_levels[4] = {1u, 0u, 1u, 0u};
    assert_memory_equal(&log.level[EDGES_N - 2u], tail_levels, sizeof(tail_levels));
}

/* ------------------------------------------------------------------------ */
/* Debouncer                                                                */

/* Feed raw every millisecond from t_from to t_to inclusive; return the number
 * of reported changes and the time of the last one in *t_change. */
static unsigned feed(mc_stm32_debounce_t *d, uint8_t raw, uint32_t t_from, uint32_t t_to, uint32_t *t_change)
{
    unsigned changes = 0;
    for (uint32_t t = t_from;; t++) {
        if (mc_stm32_debounce(d, raw, t)) {
            changes++;
            if (t_change != NULL) {
                *t_change = t;
            }
        }
        if (t == t_to) {
            break;
        }
    }
    return changes;
}

static void test_debounce_press(void **state)
{
    (void)state;
    mc_stm32_debounce_t d;
    memset(&d, 0xA5, sizeof(d)); /* init must not depend on the previous content */
    mc_stm32_debounce_init(&d, 20u, 1000u);
    assert_int_equal(d.stable_ms, 20u);
    assert_int_equal(d.state, 0u);

    assert_int_equal(feed(&d, 0u, 1000u, 1500u, NULL), 0u);
    assert_int_equal(d.state, 0u);

    /* K1 seen pressed from 2000: held 19 ms at 2019, 20 ms at 2020. */
    uint32_t tc = 0;
    assert_int_equal(feed(&d, 1u, 2000u, 2019u, NULL), 0u);
    assert_int_equal(d.state, 0u);
    assert_int_equal(feed(&d, 1u, 2020u, 2020u, &tc), 1u);
    assert_int_equal(tc, 2020u);
    assert_int_equal(d.state, 1u);
    /* Held on: no more changes. */
    assert_int_equal(feed(&d, 1u, 2021u, 5000u, NULL), 0u);
    assert_int_equal(d.state, 1u);

    /* Sampled every 5 ms instead: the change comes at the first call 20 ms or more
     * after the first sample that saw the release (6000 -> 6020). */
    assert_int_equal(mc_stm32_debounce(&d, 0u, 6000u), 0);
    assert_int_equal(mc_stm32_debounce(&d, 0u, 6005u), 0);
    assert_int_equal(mc_stm32_debounce(&d, 0u, 6010u), 0);
    assert_int_equal(mc_stm32_debounce(&d, 0u, 6015u), 0);
    assert_int_equal(d.state, 1u);
    assert_int_equal(mc_stm32_debounce(&d, 0u, 6020u), 1);
    assert_int_equal(d.state, 0u);
    assert_int_equal(mc_stm32_debounce(&d, 0u, 6025u), 0);
}

static void test_debounce_bounce(void **state)
{
    (void)state;
    mc_stm32_debounce_t d;
    mc_stm32_debounce_init(&d, 20u, 0u);

    /* Contact bounce on press: runs of 1..19 ms alternating for 600 ms never
     * change the state. */
    uint32_t t = 100u;
    uint8_t level = 1u;
    unsigned run = 1u;
    while (t < 700u) {
        assert_int_equal(feed(&d, level, t, t + run - 1u, NULL), 0u);
        assert_int_equal(d.state, 0u);
        t += run;
        level ^= 1u;
        run = run % 19u + 1u;
    }
    /* The longest possible glitch: 19 ms of press, then released. */
    assert_int_equal(feed(&d, 0u, 700u, 800u, NULL), 0u);
    assert_int_equal(feed(&d, 1u, 801u, 819u, NULL), 0u);
    assert_int_equal(feed(&d, 0u, 820u, 900u, NULL), 0u);
    assert_int_equal(d.state, 0u);

    /* A real press after a bounce: 20 ms after the last raw change (1005). */
    assert_int_equal(feed(&d, 1u, 1000u, 1002u, NULL), 0u);
    assert_int_equal(feed(&d, 0u, 1003u, 1004u, NULL), 0u);
    uint32_t tc = 0;
    assert_int_equal(feed(&d, 1u, 1005u, 1100u, &tc), 1u);
    assert_int_equal(tc, 1025u);
    assert_int_equal(d.state, 1u);
}

static void test_debounce_release(void **state)
{
    (void)state;
    mc_stm32_debounce_t d;
    mc_stm32_debounce_init(&d, 30u, 0u);
    uint32_t tc = 0;
    assert_int_equal(feed(&d, 1u, 10u, 100u, &tc), 1u);
    assert_int_equal(tc, 40u);
    assert_int_equal(d.state, 1u);

    /* Release chatter: 0/1 every 3 ms from 200 to 259, runs under 30 ms:
     * the key stays pressed. */
    for (uint32_t t = 200u; t < 260u; t += 3u) {
        assert_int_equal(feed(&d, (uint8_t)(((t - 200u) / 3u) % 2u == 0u ? 0u : 1u), t, t + 2u, NULL), 0u);
        assert_int_equal(d.state, 1u);
    }
    /* A 29 ms release glitch: still pressed. */
    assert_int_equal(feed(&d, 0u, 300u, 328u, NULL), 0u);
    assert_int_equal(feed(&d, 1u, 329u, 400u, NULL), 0u);
    assert_int_equal(d.state, 1u);
    /* Released for good at 500: state 0 at 530, not before. */
    assert_int_equal(feed(&d, 0u, 500u, 529u, NULL), 0u);
    assert_int_equal(d.state, 1u);
    assert_int_equal(feed(&d, 0u, 530u, 1000u, &tc), 1u);
    assert_int_equal(tc, 530u);
    assert_int_equal(d.state, 0u);
}

static void test_debounce_two_keys(void **state)
{
    (void)state;
    const uint8_t K1 = 1u, K2 = 2u;
    mc_stm32_debounce_t d;
    mc_stm32_debounce_init(&d, 20u, 0u);
    uint32_t tc = 0;

    /* K1 at 100, K2 at 200 (while K1 is held), K1 up at 300, K2 up at 400. */
    assert_int_equal(feed(&d, K1, 100u, 199u, &tc), 1u);
    assert_int_equal(tc, 120u);
    assert_int_equal(d.state, K1);
    assert_int_equal(feed(&d, K1 | K2, 200u, 299u, &tc), 1u);
    assert_int_equal(tc, 220u);
    assert_int_equal(d.state, K1 | K2);
    assert_int_equal(feed(&d, K2, 300u, 399u, &tc), 1u);
    assert_int_equal(tc, 320u);
    assert_int_equal(d.state, K2);
    assert_int_equal(feed(&d, 0u, 400u, 499u, &tc), 1u);
    assert_int_equal(tc, 420u);
    assert_int_equal(d.state, 0u);

    /* Both together (one change), both released together. */
    assert_int_equal(feed(&d, K1 | K2, 600u, 700u, &tc), 1u);
    assert_int_equal(tc, 620u);
    assert_int_equal(d.state, K1 | K2);
    assert_int_equal(feed(&d, 0u, 800u, 900u, &tc), 1u);
    assert_int_equal(tc, 820u);
    assert_int_equal(d.state, 0u);

    /* K2 bouncing while K1 is pressed cleanly: K2 never shows, K1 does once
     * it has held 20 ms (at the latest once K2 is quiet 20 ms). */
    assert_int_equal(feed(&d, K1, 1000u, 1004u, NULL), 0u);
    assert_int_equal(feed(&d, K1 | K2, 1005u, 1007u, NULL), 0u);
    assert_int_equal(feed(&d, K1, 1008u, 1011u, NULL), 0u);
    assert_int_equal(feed(&d, K1 | K2, 1012u, 1013u, NULL), 0u);
    assert_int_equal(d.state, 0u); /* before 1020 nothing may change */
    assert_int_equal(feed(&d, K1, 1014u, 1019u, NULL), 0u);
    assert_int_equal(d.state, 0u);
    assert_int_equal(feed(&d, K1, 1020u, 1100u, &tc), 1u);
    assert_true(tc >= 1020u && tc <= 1034u);
    assert_int_equal(d.state, K1);

    /* Keys other than K1 and K2: all eight bits are debounced alike. */
    mc_stm32_debounce_init(&d, 20u, 0u);
    assert_int_equal(feed(&d, 0x80u, 0u, 19u, NULL), 0u);
    assert_int_equal(feed(&d, 0x80u, 20u, 20u, NULL), 1u);
    assert_int_equal(d.state, 0x80u);
    assert_int_equal(feed(&d, 0xFFu, 100u, 200u, &tc), 1u);
    assert_int_equal(tc, 120u);
    assert_int_equal(d.state, 0xFFu);
}

static void test_debounce_wrap(void **state)
{
    (void)state;
    mc_stm32_debounce_t d;
    mc_stm32_debounce_init(&d, 20u, UINT32_MAX - 100u);
    uint32_t tc = 0;
    /* Pressed at 2^32 - 6: held 20 ms at (2^32 - 6 + 20) mod 2^32 = 14. */
    assert_int_equal(feed(&d, 0u, UINT32_MAX - 100u, UINT32_MAX - 6u, NULL), 0u);
    assert_int_equal(feed(&d, 1u, UINT32_MAX - 5u, 13u, NULL), 0u);
    assert_int_equal(d.state, 0u);
    assert_int_equal(feed(&d, 1u, 14u, 14u, &tc), 1u);
    assert_int_equal(d.state, 1u);
    /* Released at 2^32 - 10 (after a lap of the counter): 0 at 10. */
    mc_stm32_debounce_init(&d, 20u, 0u);
    d.state = 1u;
    d.raw = 1u;
    d.since_ms = UINT32_MAX - 1000u;
    assert_int_equal(feed(&d, 1u, UINT32_MAX - 1000u, UINT32_MAX - 10u, NULL), 0u);
    assert_int_equal(feed(&d, 0u, UINT32_MAX - 9u, 9u, NULL), 0u);
    assert_int_equal(d.state, 1u);
    assert_int_equal(feed(&d, 0u, 10u, 50u, &tc), 1u);
    assert_int_equal(tc, 10u);
    assert_int_equal(d.state, 0u);
}

static void test_debounce_clamp(void **state)
{
    (void)state;
    mc_stm32_debounce_t d;
    uint32_t tc = 0;

    /* 0 -> 1 ms: the change comes at the next millisecond, not at once. */
    mc_stm32_debounce_init(&d, 0u, 0u);
    assert_int_equal(d.stable_ms, 1u);
    assert_int_equal(mc_stm32_debounce(&d, 1u, 100u), 0);
    assert_int_equal(mc_stm32_debounce(&d, 1u, 100u), 0);
    assert_int_equal(mc_stm32_debounce(&d, 1u, 101u), 1);
    assert_int_equal(d.state, 1u);

    mc_stm32_debounce_init(&d, 1u, 0u);
    assert_int_equal(d.stable_ms, 1u);

    mc_stm32_debounce_init(&d, 1000u, 0u);
    assert_int_equal(d.stable_ms, 1000u);

    /* 1001, 5000, UINT32_MAX -> 1000 ms. */
    mc_stm32_debounce_init(&d, 1001u, 0u);
    assert_int_equal(d.stable_ms, 1000u);
    mc_stm32_debounce_init(&d, UINT32_MAX, 0u);
    assert_int_equal(d.stable_ms, 1000u);
    mc_stm32_debounce_init(&d, 5000u, 0u);
    assert_int_equal(d.stable_ms, 1000u);
    assert_int_equal(feed(&d, 1u, 10u, 1009u, NULL), 0u);
    assert_int_equal(d.state, 0u);
    assert_int_equal(feed(&d, 1u, 1010u, 3000u, &tc), 1u);
    assert_int_equal(tc, 1010u);
    assert_int_equal(d.state, 1u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rxq_fifo),
        cmocka_unit_test(test_rxq_empty),
        cmocka_unit_test(test_rxq_full),
        cmocka_unit_test(test_rxq_index_wrap),
        cmocka_unit_test(test_rxq_model),
        cmocka_unit_test(test_edges_order),
        cmocka_unit_test(test_edges_clock_wrap),
        cmocka_unit_test(test_edges_late),
        cmocka_unit_test(test_edges_full),
        cmocka_unit_test(test_sample_time_4k),
        cmocka_unit_test(test_sample_time_huge),
        cmocka_unit_test(test_sample_time_rates),
        cmocka_unit_test(test_sample_time_t0),
        cmocka_unit_test(test_edges_pulse_times),
        cmocka_unit_test(test_edges_pulse_full),
        cmocka_unit_test(test_debounce_press),
        cmocka_unit_test(test_debounce_bounce),
        cmocka_unit_test(test_debounce_release),
        cmocka_unit_test(test_debounce_two_keys),
        cmocka_unit_test(test_debounce_wrap),
        cmocka_unit_test(test_debounce_clamp),
    };
    return cmocka_run_group_tests_name("stm32_logic", tests, NULL, NULL);
}
