/*
 * The STM32 port's hardware-free parts (see mc_stm32_logic.h).
 * SPDX-License-Identifier: MIT
 */
#include "mc_stm32_logic.h"

#include <stddef.h>

/* Stores must reach memory in program order as seen by the other side: a compiler
 * barrier is enough on a single in-order core. */
#define MC_BARRIER() __asm__ volatile("" ::: "memory")

int mc_stm32_rxq_push(mc_stm32_rxq_t *q, uint8_t byte, uint32_t t_us)
{
    const uint32_t head = q->head;
    if (head - q->tail >= MC_STM32_RXQ_SIZE) {
        q->dropped++;
        return 0;
    }
    q->byte[head % MC_STM32_RXQ_SIZE] = byte;
    q->t_us[head % MC_STM32_RXQ_SIZE] = t_us;
    MC_BARRIER();
    q->head = head + 1u;
    return 1;
}

int mc_stm32_rxq_pop(mc_stm32_rxq_t *q, uint8_t *byte, uint32_t *t_us)
{
    const uint32_t tail = q->tail;
    if (tail == q->head) {
        return 0;
    }
    *byte = q->byte[tail % MC_STM32_RXQ_SIZE];
    *t_us = q->t_us[tail % MC_STM32_RXQ_SIZE];
    MC_BARRIER();
    q->tail = tail + 1u;
    return 1;
}

int mc_stm32_edges_push(mc_stm32_edges_t *q, uint32_t t_us, uint8_t level)
{
    const uint32_t head = q->head;
    if (head - q->tail >= MC_STM32_EDGES_SIZE) {
        q->dropped++;
        return 0;
    }
    q->t_us[head % MC_STM32_EDGES_SIZE] = t_us;
    q->level[head % MC_STM32_EDGES_SIZE] = level ? 1u : 0u;
    MC_BARRIER();
    q->head = head + 1u;
    return 1;
}

int mc_stm32_edges_service(mc_stm32_edges_t *q, uint32_t now_us, void (*set)(void *ctx, uint8_t level),
                           void *ctx, uint32_t *next_us)
{
    uint32_t tail = q->tail;
    while (tail != q->head) {
        const uint32_t t = q->t_us[tail % MC_STM32_EDGES_SIZE];
        const int32_t ahead = (int32_t)(t - now_us);
        if (ahead > 0) {
            if (next_us != NULL) {
                *next_us = t;
            }
            return 1;
        }
        if (ahead < -1000) {
            q->late++;
        }
        set(ctx, q->level[tail % MC_STM32_EDGES_SIZE]);
        MC_BARRIER();
        tail++;
        q->tail = tail;
    }
    return 0;
}

uint32_t mc_stm32_sample_time_us(uint32_t t0_us, uint64_t pos_q16, uint32_t sample_hz)
{
    if (sample_hz == 0u) {
        return t0_us;
    }
    const uint64_t whole = pos_q16 >> 16;
    const uint64_t frac = pos_q16 & 0xFFFFu;
    const uint64_t secs = whole / sample_hz;
    const uint64_t rem = whole % sample_hz; /* < fs <= 64000: rem * 1e6 < 2^36 */
    /* rem samples and frac/65536 of a sample, in µs: (rem * 65536 + frac) * 1e6 / (fs * 65536);
     * (rem * 65536 + frac) < 2^32, times 1e6 < 2^52: no overflow. */
    const uint64_t sub = ((rem << 16) + frac) * 1000000u / ((uint64_t)sample_hz << 16);
    return t0_us + (uint32_t)(secs * 1000000u) + (uint32_t)sub;
}

int mc_stm32_edges_pulse(mc_stm32_edges_t *q, const mc_pulse_t *p, uint32_t t0_us, uint32_t sample_hz,
                         uint32_t latency_us)
{
    if (q->head - q->tail > MC_STM32_EDGES_SIZE - 2u) {
        q->dropped += 2u;
        return 0;
    }
    const uint32_t rise = mc_stm32_sample_time_us(t0_us, p->start_q16, sample_hz) + latency_us;
    const uint32_t fall = mc_stm32_sample_time_us(t0_us, p->start_q16 + p->width_q16, sample_hz) + latency_us;
    (void)mc_stm32_edges_push(q, rise, 1u);
    (void)mc_stm32_edges_push(q, fall, 0u);
    return 1;
}

void mc_stm32_debounce_init(mc_stm32_debounce_t *d, uint32_t stable_ms, uint32_t now_ms)
{
    d->stable_ms = stable_ms < 1u ? 1u : (stable_ms > 1000u ? 1000u : stable_ms);
    d->state = 0u;
    d->raw = 0u;
    d->since_ms = now_ms;
}

int mc_stm32_debounce(mc_stm32_debounce_t *d, uint8_t raw, uint32_t now_ms)
{
    if (raw != d->raw) {
        d->raw = raw;
        d->since_ms = now_ms;
        return 0;
    }
    if (raw != d->state && (uint32_t)(now_ms - d->since_ms) >= d->stable_ms) {
        d->state = raw;
        return 1;
    }
    return 0;
}
