/**
 * @file mc_hd44780.h
 * @ingroup grp_stm32
 * @brief HD44780-compatible character LCD (16x4) on six GPIOs, 4-bit bus, write
 *        only (R/W tied low): the front panel's display binding for boards
 *        with such a module.
 *
 * A board with a segment LCD replaces this file with its glass driver
 * behind the same mc_board_display() call.
 * SPDX-License-Identifier: MIT
 */
#ifndef MC_HD44780_H
#define MC_HD44780_H

#include "mc_f4_board_common.h"
#include "metercore/mc_panel.h"

/** The LCD's pins. */
typedef struct mc_hd44780 {
    mc_f4_pin_t rs;       /**< Register select: 0 command, 1 data. */
    mc_f4_pin_t e;        /**< Enable strobe. */
    mc_f4_pin_t d[4];     /**< D4..D7. */
    mc_panel_screen_t shown; /**< Screen to show (copied by mc_hd44780_show()). */
    uint8_t blink_off;    /**< Flashing characters are blanked now. */
} mc_hd44780_t;

/**
 * @brief Power-on initialisation (4-bit mode, 2-line addressing, display on,
 *        cursor off): takes about 50 ms.
 * @param lcd  the LCD, with its pins filled in.
 */
void mc_hd44780_init(mc_hd44780_t *lcd);
/**
 * @brief Show a screen (lines 1..3; line 4 stays blank): takes about 3 ms.
 * @param lcd  the LCD.
 * @param s    the screen (copied).
 */
void mc_hd44780_show(mc_hd44780_t *lcd, const mc_panel_screen_t *s);
/**
 * @brief Blink the flashing characters (shown, then blanked); call every 500 ms.
 * @param lcd  the LCD.
 */
void mc_hd44780_blink(mc_hd44780_t *lcd);

#endif
