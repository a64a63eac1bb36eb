/**
 * @file mc_board.h
 * @brief The board interface: what the firmware (examples/stm32_meter) needs
 *        from a board, implemented once per board in boards/<name>/board.c
 *        over the chip drivers of chip/.
 *
 * A board owns the pin choices, the clock source, the sample source, the NVM,
 * the display and the interrupt handlers. Everything here is called from the
 * main loop unless it says otherwise; nothing blocks longer than stated.
 * SPDX-License-Identifier: MIT
 */
#ifndef MC_BOARD_H
#define MC_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_meter.h"
#include "metercore/mc_panel.h"
#include "metercore/mc_storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What a board tells the firmware about its front end. */
typedef struct mc_board_info {
    const char *name;          /**< Board name, e.g. "qemu-netduinoplus2". */
    uint32_t sample_hz;        /**< Sample rate of mc_board_samples(). */
    float u_scale;             /**< Volts per voltage code. */
    float i_scale;             /**< Amps per current code. */
    uint32_t block;            /**< Sample pairs per block (the most mc_board_samples() returns). */
    uint8_t has_flash_nvm;     /**< The NVM survives a power cycle (0: RAM, for emulation). */
} mc_board_info_t;

/** Bring the board up: clocks, time base, pins, UARTs, sample source. Call first. */
void mc_board_init(void);
/** The board's description. */
const mc_board_info_t *mc_board_info(void);

/** Free-running microsecond clock (wraps after 71 minutes); callable from interrupts. */
uint32_t mc_board_us(void);
/** Free-running millisecond clock. */
uint32_t mc_board_ms(void);

/**
 * @brief The next block of samples, if one is complete.
 * @param v  receives up to info->block voltage codes.
 * @param i  receives as many current codes.
 * @return the number of sample pairs (0: none yet).
 */
size_t mc_board_samples(int32_t *v, int32_t *i);
/** Blocks lost because the main loop did not take them in time. */
uint32_t mc_board_sample_overruns(void);

/**
 * @brief Put a pulse of the core on the pulse output, @p latency_us after its
 *        sample time (edges scheduled on a timer: spacing exact to the µs clock).
 * @return 1, or 0 if too many pulses are in flight (the pulse is lost and counted).
 */
int mc_board_pulse(const mc_pulse_t *p, uint32_t latency_us);

/** Drive the latching relay: a set (1) or reset (0) coil pulse of 100 ms. 0 or a negative mc_err. */
int mc_board_relay(int close);
/** The DI contact: 1 closed, 0 open. */
int mc_board_di(void);
/** Debounced key mask (MC_PANEL_K1 | MC_PANEL_K2); sampled every millisecond by the board. */
unsigned mc_board_keys(void);

/** Show a panel screen on the display (flashing characters blink at 2 Hz). */
void mc_board_display(const mc_panel_screen_t *s);
/** Call about every 100 ms: blinking. */
void mc_board_display_tick(uint32_t now_ms);

/** RS485: send an ADU (the mc_rtu port's send). */
int mc_board_rs485_send(const uint8_t *adu, size_t len);
/** RS485: change baud and parity (the mc_rtu port's line). */
void mc_board_rs485_line(uint32_t baud, uint8_t parity);
/** RS485: next received byte with its µs time. 1, or 0 if none. */
int mc_board_rs485_rx(uint8_t *byte, uint32_t *t_us);

/** Local standard time from the board's real-time clock. */
mc_time_t mc_board_now(void);
/** Set the real-time clock. 0 or a negative mc_err. */
int mc_board_set_clock(mc_time_t t);

/** 1 if the real-time clock holds a valid time (0: it was restarted and must be set). */
int mc_board_clock_valid(void);

/** The NVM the storage layer mounts. */
void mc_board_nvm(mc_nvm_t *nvm);

/** 1 once the supply is failing (power-fail warning seen since the last call). */
int mc_board_power_failing(void);

/** Write a line to the log UART (polled at 115200 baud: 87 µs a character, a status line about 10 ms). */
void mc_board_log(const char *line);
/** Reload the watchdog. */
void mc_board_watchdog(void);
/** Stop on an unrecoverable error: log it, then reset (or end the emulation). */
void mc_board_fatal(const char *why) __attribute__((noreturn));

/** Start and end of the firmware image in flash (for the code checksum). */
void mc_board_image(const uint8_t **start, size_t *size);

#ifdef __cplusplus
}
#endif

#endif
