/*
 * generic-f405 pin choices (BOARD.md has the table). The qemu-netduinoplus2
 * board uses the same ones, so that both images are the same firmware.
 * SPDX-License-Identifier: MIT
 */
#ifndef MC_GENERIC_F405_PINS_H
#define MC_GENERIC_F405_PINS_H

#include <string.h>

#include "mc_f4_board_common.h"

/* Fills the pins and clocks of the shared board parts (not now_us, tx mode, has_keys). */
static inline void generic_f405_pins(mc_f4_board_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->usart1_clk_hz = MC_F4_APB2_HZ;
    c->usart2_clk_hz = MC_F4_APB1_HZ;
    c->log_tx = (mc_f4_pin_t){MC_GPIOA, 9u};   /* USART1_TX, AF7 */
    c->rs485_tx = (mc_f4_pin_t){MC_GPIOA, 2u}; /* USART2_TX, AF7 -> transceiver DI */
    c->rs485_rx = (mc_f4_pin_t){MC_GPIOA, 3u}; /* USART2_RX, AF7 <- transceiver RO */
    c->rs485_de = (mc_f4_pin_t){MC_GPIOA, 4u}; /* transceiver DE and /RE */
    c->pulse = (mc_f4_pin_t){MC_GPIOB, 0u};    /* pulse LED + optocoupler */
    c->relay_set = (mc_f4_pin_t){MC_GPIOB, 6u};
    c->relay_reset = (mc_f4_pin_t){MC_GPIOB, 7u};
    c->di = (mc_f4_pin_t){MC_GPIOB, 5u};
    c->cal_switch = (mc_f4_pin_t){MC_GPIOB, 8u}; /* jumper under the sealed terminal cover */
    c->key1 = (mc_f4_pin_t){MC_GPIOC, 0u};
    c->key2 = (mc_f4_pin_t){MC_GPIOC, 1u};
#if MC_FW_3P4W
    /* The three-phase front end takes PC0 (ADC123_IN10, the neutral current on ADC3,
     * whose LQFP64 inputs are PA0..PA3 and PC0..PC3 only): K1 moves to PC8. */
    c->key1 = (mc_f4_pin_t){MC_GPIOC, 8u};
#endif
}

#endif
