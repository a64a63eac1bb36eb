/**
 * @file mc_board.h
 * @ingroup grp_stm32
 * @brief The board interface: what the firmware (examples/stm32_meter) needs
 *        from a board, implemented once per board in `boards/<name>/board.c`
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

/** The product's wiring, chosen at build time (ports/stm32/CMakeLists.txt, MC_STM32_WIRINGS):
 *  0 single phase (today's firmware), 1 three phase four wire. */
#ifndef MC_FW_3P4W
#define MC_FW_3P4W 0
#endif

/** What a board tells the firmware about its front end. */
typedef struct mc_board_info {
    const char *name;          /**< Board name, e.g. "qemu-netduinoplus2". */
    uint32_t sample_hz;        /**< Sample (frame) rate of mc_board_samples() / mc_board_frames(). */
    float u_scale;             /**< Volts per voltage code (every voltage channel). */
    float i_scale;             /**< Amps per current code (every current channel, the neutral's too). */
    uint32_t block;            /**< Sample pairs (frames) per block: the most one call returns. */
    uint8_t has_flash_nvm;     /**< The NVM survives a power cycle (0: RAM, for emulation). */
    uint8_t wiring;            /**< ::mc_wiring of the front end: ::MC_WIRING_1P2W (pairs through
                                    mc_board_samples()) or ::MC_WIRING_3P4W (frames through
                                    mc_board_frames()); built as the firmware's MC_FW_3P4W says. */
    uint8_t neutral;           /**< 3P4W: the frames end with a measured neutral current (IN). */
    uint8_t pad_;              /**< Padding, 0. */
    /** Per frame channel (frame order), how long after the frame's first conversion the
     *  channel is sampled, µs: a scanning ADC's sequence delay, which the firmware removes
     *  through the per-channel calibration (mc_poly_calibration_t::phase_deg). NULL: every
     *  channel sampled at the same instant. */
    const float *channel_delay_us;
} mc_board_info_t;

/** Bring the board up: clocks, time base, pins, UARTs, sample source. Call first. */
void mc_board_init(void);
/**
 * @brief The board's description.
 * @return a static description of the front end (never NULL).
 */
const mc_board_info_t *mc_board_info(void);

/**
 * @brief Free-running microsecond clock; callable from interrupts.
 * @return microseconds since start-up (wraps after 71 minutes).
 */
uint32_t mc_board_us(void);
/**
 * @brief Free-running millisecond clock.
 * @return milliseconds since start-up (wraps after 49.7 days).
 */
uint32_t mc_board_ms(void);

/**
 * @brief The next block of samples, if one is complete.
 * @param v  receives up to info->block voltage codes.
 * @param i  receives as many current codes.
 * @return the number of sample pairs (0: none yet).
 */
size_t mc_board_samples(int32_t *v, int32_t *i);
/**
 * @brief The next block of poly-phase frames, if one is complete (boards built with
 *        MC_FW_3P4W, whose info->wiring is ::MC_WIRING_3P4W).
 *
 * A frame is one sample of every channel in the core's order: U1 U2 U3 I1 I2 I3,
 * then IN when info->neutral is 1 (see mc_meter_process_frames()).
 * @param frames  receives up to info->block frames of mc_meter_channels() codes.
 * @return the number of frames (0: none yet).
 */
size_t mc_board_frames(int32_t *frames);
/**
 * @brief Blocks lost because the main loop did not take them in time.
 * @return the number of blocks lost since start-up.
 */
uint32_t mc_board_sample_overruns(void);

/**
 * @brief Put a pulse of the core on the pulse output, @p latency_us after its
 *        sample time (edges scheduled on a timer: spacing exact to the µs clock).
 * @param p           the pulse, as the core's pulse callback reports it.
 * @param latency_us  delay from the pulse's sample time to its rising edge.
 * @return 1, or 0 if too many pulses are in flight (the pulse is lost).
 */
int mc_board_pulse(const mc_pulse_t *p, uint32_t latency_us);

/**
 * @brief Drive the latching relay with a coil pulse of 100 ms.
 * @param close  1: the set coil (relay closed); 0: the reset coil (open).
 * @return ::MC_OK, or a negative ::mc_err (the previous coil pulse is still on).
 */
int mc_board_relay(int close);
/**
 * @brief The DI contact.
 * @return 1 closed, 0 open.
 */
int mc_board_di(void);

/**
 * @brief The calibration switch: a jumper or switch under the sealed cover, the
 *        physical act that lets a sealed calibration be changed (hooks.cal_switch).
 * @return 1 set, 0 open (the normal state of a sealed meter).
 */
int mc_board_cal_switch(void);
/**
 * @brief The debounced keys, sampled every millisecond by the board.
 * @return a mask of ::MC_PANEL_K1 and ::MC_PANEL_K2, the keys held down.
 */
unsigned mc_board_keys(void);

/**
 * @brief Show a panel screen on the display (flashing characters blink at 2 Hz).
 * @param s  the screen, as the panel's show callback gives it.
 */
void mc_board_display(const mc_panel_screen_t *s);
/**
 * @brief Blink the flashing characters; call about every 100 ms.
 * @param now_ms  the millisecond clock (mc_board_ms()).
 */
void mc_board_display_tick(uint32_t now_ms);

/**
 * @brief RS485: send an ADU (the mc_rtu port's send).
 * @param adu  the bytes to send.
 * @param len  their number.
 * @return ::MC_OK, or a negative ::mc_err if it could not be sent.
 */
int mc_board_rs485_send(const uint8_t *adu, size_t len);
/**
 * @brief RS485: change baud rate and parity (the mc_rtu port's line); a reply
 *        being sent finishes at the old settings.
 * @param baud    the new baud rate.
 * @param parity  0 none, 1 even, 2 odd.
 */
void mc_board_rs485_line(uint32_t baud, uint8_t parity);
/**
 * @brief RS485: the next received byte with the time it arrived.
 * @param byte  receives the byte.
 * @param t_us  receives its arrival time on the microsecond clock.
 * @return 1, or 0 if no byte is waiting.
 */
int mc_board_rs485_rx(uint8_t *byte, uint32_t *t_us);

/**
 * @brief Local standard time from the board's real-time clock.
 * @return seconds since 2000-01-01 00:00:00 local standard time.
 */
mc_time_t mc_board_now(void);
/**
 * @brief Set the real-time clock; the time is valid from then on.
 * @param t  local standard time.
 * @return ::MC_OK, or a negative ::mc_err (time out of range, clock not set).
 */
int mc_board_set_clock(mc_time_t t);

/**
 * @brief Whether the real-time clock holds a valid time.
 * @return 1 valid, 0 if the clock was restarted and must be set.
 */
int mc_board_clock_valid(void);

/**
 * @brief The NVM the storage layer mounts.
 * @param nvm  filled with the memory's geometry and callbacks.
 */
void mc_board_nvm(mc_nvm_t *nvm);

/**
 * @brief Whether the supply is failing.
 * @return 1 if the power-fail warning was seen since the last call, else 0.
 */
int mc_board_power_failing(void);

/**
 * @brief Write a line to the log UART (polled at 115200 baud: 87 µs a
 *        character, a status line about 10 ms).
 * @param line  the text, without line ending (the board adds it).
 */
void mc_board_log(const char *line);
/** Reload the watchdog. */
void mc_board_watchdog(void);
/**
 * @brief Stop on an unrecoverable error: log it, then reset (or end the emulation).
 * @param why  a short reason for the log.
 */
void mc_board_fatal(const char *why) __attribute__((noreturn));

/**
 * @brief Where the firmware image lies in flash (for the code checksum).
 * @param start  receives the address of its first byte.
 * @param size   receives its size in bytes.
 */
void mc_board_image(const uint8_t **start, size_t *size);

#ifdef __cplusplus
}
#endif

#endif
