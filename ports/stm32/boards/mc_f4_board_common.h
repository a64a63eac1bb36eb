/**
 * @file mc_f4_board_common.h
 * @ingroup grp_stm32
 * @brief What the STM32F4 boards share: the log UART, the RS485 UART, the pulse
 *        output's edge queue, the latching relay's coil pulses, the DI and the keys.
 *
 * A board passes its pins and clocks; its SysTick handler calls
 * mc_f4_board_tick() every millisecond. Used by `boards/<name>/board.c` only.
 * SPDX-License-Identifier: MIT
 */
#ifndef MC_F4_BOARD_COMMON_H
#define MC_F4_BOARD_COMMON_H

#include <stdint.h>

#include "mc_board.h"
#include "mc_stm32f4.h"

/** A pin: GPIO port number (MC_GPIOA = 0) and pin 0..15. */
typedef struct mc_f4_pin {
    uint8_t port; /**< MC_GPIOx. */
    uint8_t pin;  /**< 0..15. */
} mc_f4_pin_t;

/** A board's pin choices and clocks for the shared parts. */
typedef struct mc_f4_board_config {
    uint32_t usart1_clk_hz;  /**< USART1 (log) clock. */
    uint32_t usart2_clk_hz;  /**< USART2 (RS485) clock. */
    mc_f4_pin_t log_tx;      /**< USART1 TX (AF7). */
    mc_f4_pin_t rs485_tx;    /**< USART2 TX (AF7). */
    mc_f4_pin_t rs485_rx;    /**< USART2 RX (AF7). */
    mc_f4_pin_t rs485_de;    /**< Driver enable, high to send. */
    uint8_t rs485_tx_interrupt; /**< Transmit from the interrupt (0: polled). */
    mc_f4_pin_t pulse;       /**< Pulse output (LED / optocoupler), high = pulse. */
    mc_f4_pin_t relay_set;   /**< Latching relay: set (close) coil driver, high = energise. */
    mc_f4_pin_t relay_reset; /**< Latching relay: reset (open) coil driver. */
    mc_f4_pin_t di;          /**< DI contact to ground, pulled up: low = closed. */
    mc_f4_pin_t cal_switch;  /**< Calibration switch (jumper under the sealed cover) to ground, pulled up: low = set. */
    mc_f4_pin_t key1;        /**< Key K1 to ground, pulled up: low = pressed. */
    mc_f4_pin_t key2;        /**< Key K2. */
    uint8_t has_keys;        /**< Sample the keys (0: none fitted). */
    /** Raw key mask instead of the key pins (a board without real keys, e.g. keys typed on
     *  the log UART under emulation); NULL: read key1/key2. Called every ms from SysTick. */
    uint8_t (*raw_keys)(uint32_t now_ms);
    uint8_t log_rx;          /**< Receive on the log UART too (into mc_f4_board.log.rxq). */
    uint32_t (*now_us)(void); /**< The board's microsecond clock. */
} mc_f4_board_config_t;

/** Shared state of the board (one per firmware: the interrupt handlers reach it). */
typedef struct mc_f4_board {
    mc_f4_board_config_t cfg;      /**< Pins and clocks. */
    mc_f4_usart_t log;             /**< USART1: log. */
    mc_f4_usart_t rs485;           /**< USART2: Modbus-RTU. */
    mc_stm32_edges_t pulse_edges;  /**< Pulse output edges. */
    mc_stm32_debounce_t keys;      /**< Key debouncer. */
    volatile uint32_t coil_off_ms; /**< When the relay coil pulse ends. */
    volatile uint8_t coil_on;      /**< A coil is energised. */
    volatile uint8_t power_fail;   /**< Power-fail warning seen. */
} mc_f4_board_t;

/** The board's shared state. */
extern mc_f4_board_t mc_f4_board;

/**
 * @brief Set up the shared parts: pins (outputs low), the log UART at 115200
 *        baud and the RS485 UART at 9600 8N1.
 * @param cfg  the board's pins and clocks (copied into ::mc_f4_board).
 * @return 0, or -1 if a UART refused its configuration.
 */
int mc_f4_board_common_init(const mc_f4_board_config_t *cfg);
/**
 * @brief Every millisecond from SysTick_Handler: samples the keys and ends the
 *        relay's coil pulse.
 * @param now_ms  the millisecond clock.
 */
void mc_f4_board_tick(uint32_t now_ms);
/**
 * @brief Log one line made of two parts, e.g. "FATAL: " and the reason.
 * @param first   the start of the line, or NULL.
 * @param second  the rest of the line, or NULL.
 */
void mc_f4_board_log_parts(const char *first, const char *second);
/**
 * @brief Apply the pulse output's edges that are due.
 * @param now_us   the microsecond clock.
 * @param next_us  receives the time of the next queued edge, if there is one.
 * @return 1 if edges remain queued (arm an alarm for @p next_us), 0 if none.
 */
int mc_f4_board_pulse_service(uint32_t now_us, uint32_t *next_us);

#endif
