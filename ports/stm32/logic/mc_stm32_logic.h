/**
 * @file mc_stm32_logic.h
 * @ingroup grp_stm32
 * @brief The STM32 port's hardware-free parts: the receive queue between the
 *        USART interrupt and the main loop, the timed-edge queue of the pulse
 *        output, the mapping of the core's pulse times to the microsecond clock,
 *        and the key debouncer.
 *
 * Nothing here touches a register, so the files of this folder are unit-tested
 * on the host (tests/test_stm32_logic.c) and reusable by any MCU port. The
 * queues are single-producer single-consumer rings: one side runs in an
 * interrupt, the other in the main loop, and neither needs interrupts masked
 * (indices are written only by their owner, after the data; a single core
 * with in-order stores, as every Cortex-M, is assumed).
 * SPDX-License-Identifier: MIT
 */
#ifndef MC_STM32_LOGIC_H
#define MC_STM32_LOGIC_H

#include <stdint.h>

#include "metercore/mc_meter.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Entries of the receive queue (a power of two): 64 bytes is 53 ms at 9600 baud. */
#define MC_STM32_RXQ_SIZE 64u

/** Receive queue: bytes with the microsecond time of their receive interrupt. */
typedef struct mc_stm32_rxq {
    uint8_t byte[MC_STM32_RXQ_SIZE];     /**< Bytes. */
    uint32_t t_us[MC_STM32_RXQ_SIZE];    /**< Their arrival times. */
    volatile uint32_t head;              /**< Written by the producer (ISR) only. */
    volatile uint32_t tail;              /**< Written by the consumer (main loop) only. */
    volatile uint32_t dropped;           /**< Bytes lost to a full queue (producer side). */
} mc_stm32_rxq_t;

/**
 * @brief Queue a byte (interrupt side).
 * @param q     the queue (zero-initialised before first use).
 * @param byte  the byte.
 * @param t_us  its arrival time.
 * @return 1 if queued, 0 if the queue was full (the byte is counted in dropped).
 */
int mc_stm32_rxq_push(mc_stm32_rxq_t *q, uint8_t byte, uint32_t t_us);

/**
 * @brief Take the oldest byte (main-loop side).
 * @param q     the queue.
 * @param byte  receives the byte.
 * @param t_us  receives its arrival time.
 * @return 1 if a byte was taken, 0 if the queue was empty.
 */
int mc_stm32_rxq_pop(mc_stm32_rxq_t *q, uint8_t *byte, uint32_t *t_us);

/** Entries of the edge queue (a power of two): 16 pulses in flight, enough for
 *  7 pulses/s (60 A at 264 V, 1600 imp/kWh) behind a 1.2 s latency. */
#define MC_STM32_EDGES_SIZE 32u

/**
 * Timed-edge queue of an output pin: levels to apply at microsecond times.
 * The main loop pushes edges in time order; a timer interrupt applies the
 * due ones (mc_stm32_edges_service()).
 */
typedef struct mc_stm32_edges {
    uint32_t t_us[MC_STM32_EDGES_SIZE];  /**< When. */
    uint8_t level[MC_STM32_EDGES_SIZE];  /**< Level to set then. */
    volatile uint32_t head;              /**< Producer (main loop). */
    volatile uint32_t tail;              /**< Consumer (timer interrupt). */
    volatile uint32_t dropped;           /**< Edges refused because the queue was full. */
    volatile uint32_t late;              /**< Edges applied after their time had passed by over 1 ms. */
} mc_stm32_edges_t;

/**
 * @brief Queue an edge (main-loop side). Edges must be pushed in time order.
 * @param q      the queue.
 * @param t_us   when (microsecond clock; wrap-around is handled, times are
 *               compared by difference and must lie within 35 minutes).
 * @param level  0 or 1.
 * @return 1 if queued, 0 if the queue was full (counted in dropped).
 */
int mc_stm32_edges_push(mc_stm32_edges_t *q, uint32_t t_us, uint8_t level);

/**
 * @brief Apply every edge due at @p now_us (interrupt side).
 * @param q       the queue.
 * @param now_us  current time.
 * @param set     sets the pin to a level.
 * @param ctx     passed to @p set.
 * @param next_us receives the time of the next edge, if any.
 * @return 1 if an edge remains queued (its time in *next_us), 0 if none.
 */
int mc_stm32_edges_service(mc_stm32_edges_t *q, uint32_t now_us, void (*set)(void *ctx, uint8_t level),
                           void *ctx, uint32_t *next_us);

/**
 * @brief Microsecond time of a sample position of the core (Q48.16 sample periods
 *        since mc_meter_init()), given the time of sample 0 and the sample rate.
 *
 * us = t0 + floor(pos * 10^6 / fs), computed without overflow for any position
 * (exact integer arithmetic on whole seconds, then the remainder), modulo 2^32.
 * @param t0_us      time of sample 0.
 * @param pos_q16    position, Q48.16.
 * @param sample_hz  sample rate, 1..64000 (the core's range; exact up to 2.8e8 Hz).
 * @return the time.
 */
uint32_t mc_stm32_sample_time_us(uint32_t t0_us, uint64_t pos_q16, uint32_t sample_hz);

/**
 * @brief Queue the two edges of a pulse of the core's pulse callback.
 *
 * The edges are placed at the pulse's sample time plus @p latency_us, so that
 * the spacing of the pulses on the pin is the spacing of the energy, to the
 * microsecond, whatever the block size and main-loop jitter: the latency must
 * exceed the longest delay between a sample and the end of the block holding
 * it being processed.
 * @param q           the queue.
 * @param p           the pulse.
 * @param t0_us       time of sample 0.
 * @param sample_hz   sample rate.
 * @param latency_us  constant delay from the samples to the pin.
 * @return 1 if both edges were queued, 0 if the queue was full (nothing queued).
 */
int mc_stm32_edges_pulse(mc_stm32_edges_t *q, const mc_pulse_t *p, uint32_t t0_us, uint32_t sample_hz,
                         uint32_t latency_us);

/** Keys of the debouncer. */
#define MC_STM32_KEYS 8u

/**
 * Key debouncer over the whole key mask: the debounced mask takes the raw mask
 * once the raw mask has not changed for `stable_ms`. Keys are timed together,
 * not one by one: a bounce on any key restarts the wait for all, so a press of
 * both keys together comes out as one change of the mask (what the panel's
 * both-keys exit needs), never as K1 then K1|K2.
 */
typedef struct mc_stm32_debounce {
    uint32_t stable_ms;    /**< Time a new level must hold (e.g. 20 ms). */
    uint8_t state;         /**< Debounced mask (bit k = key k pressed). */
    uint8_t raw;           /**< Last raw mask. */
    uint32_t since_ms;     /**< When raw last changed. */
} mc_stm32_debounce_t;

/**
 * @brief Start a debouncer with every key released.
 * @param d          the instance.
 * @param stable_ms  hold time, 1..1000 ms.
 * @param now_ms     current time.
 */
void mc_stm32_debounce_init(mc_stm32_debounce_t *d, uint32_t stable_ms, uint32_t now_ms);

/**
 * @brief Feed the raw key mask (pressed = 1), sampled at least every few milliseconds.
 * @param d       the instance.
 * @param raw     raw mask.
 * @param now_ms  current time (a free-running counter; wrap-around is handled).
 * @return 1 if the debounced mask changed (read it in d->state), 0 otherwise.
 */
int mc_stm32_debounce(mc_stm32_debounce_t *d, uint8_t raw, uint32_t now_ms);

#ifdef __cplusplus
}
#endif

#endif
