/*
 * The parts the STM32F4 boards share (see mc_f4_board_common.h), and the
 * mc_board.h functions that are the same on every F4 board.
 * SPDX-License-Identifier: MIT
 */
#include "mc_f4_board_common.h"

#include <string.h>

#include "metercore/mc_common.h"

#define RELAY_COIL_MS 100u /* coil pulse of a magnetic latching relay */
#define KEY_DEBOUNCE_MS 20u

mc_f4_board_t mc_f4_board;

int mc_f4_board_common_init(const mc_f4_board_config_t *cfg)
{
    mc_f4_board_t *b = &mc_f4_board;
    memset(b, 0, sizeof(*b));
    b->cfg = *cfg;
    mc_f4_gpio_output(cfg->pulse.port, cfg->pulse.pin, 0u);
    mc_f4_gpio_output(cfg->relay_set.port, cfg->relay_set.pin, 0u);
    mc_f4_gpio_output(cfg->relay_reset.port, cfg->relay_reset.pin, 0u);
    mc_f4_gpio_input(cfg->di.port, cfg->di.pin, 1u);
    mc_f4_gpio_input(cfg->cal_switch.port, cfg->cal_switch.pin, 1u);
    if (cfg->has_keys && cfg->raw_keys == NULL) {
        mc_f4_gpio_input(cfg->key1.port, cfg->key1.pin, 1u);
        mc_f4_gpio_input(cfg->key2.port, cfg->key2.pin, 1u);
    }
    mc_stm32_debounce_init(&b->keys, KEY_DEBOUNCE_MS, 0u);

    mc_f4_gpio_af(cfg->log_tx.port, cfg->log_tx.pin, 7u);
    mc_f4_usart_config_t uc;
    memset(&uc, 0, sizeof(uc));
    uc.base = 0x40011000u; /* USART1 */
    uc.pclk_hz = cfg->usart1_clk_hz;
    uc.de_port = -1;
    uc.rx_interrupt = cfg->log_rx;
    uc.now_us = cfg->now_us;
    if (mc_f4_usart_init(&b->log, &uc, 115200u, 0u) != 0) {
        return -1;
    }
    mc_f4_gpio_af(cfg->rs485_tx.port, cfg->rs485_tx.pin, 7u);
    mc_f4_gpio_af(cfg->rs485_rx.port, cfg->rs485_rx.pin, 7u);
    memset(&uc, 0, sizeof(uc));
    uc.base = 0x40004400u; /* USART2 */
    uc.pclk_hz = cfg->usart2_clk_hz;
    uc.de_port = cfg->rs485_de.port;
    uc.de_pin = cfg->rs485_de.pin;
    uc.tx_interrupt = cfg->rs485_tx_interrupt;
    uc.rx_interrupt = 1u;
    uc.now_us = cfg->now_us;
    return mc_f4_usart_init(&b->rs485, &uc, 9600u, 0u);
}

void mc_f4_board_tick(uint32_t now_ms)
{
    mc_f4_board_t *b = &mc_f4_board;
    if (b->coil_on && (int32_t)(now_ms - b->coil_off_ms) >= 0) {
        mc_f4_gpio_write(b->cfg.relay_set.port, b->cfg.relay_set.pin, 0u);
        mc_f4_gpio_write(b->cfg.relay_reset.port, b->cfg.relay_reset.pin, 0u);
        b->coil_on = 0u;
    }
    if (b->cfg.has_keys) {
        uint8_t raw = 0u;
        if (b->cfg.raw_keys != NULL) {
            raw = b->cfg.raw_keys(now_ms);
        } else {
            if (mc_f4_gpio_read(b->cfg.key1.port, b->cfg.key1.pin) == 0u) {
                raw |= MC_PANEL_K1;
            }
            if (mc_f4_gpio_read(b->cfg.key2.port, b->cfg.key2.pin) == 0u) {
                raw |= MC_PANEL_K2;
            }
        }
        (void)mc_stm32_debounce(&b->keys, raw, now_ms);
    }
}

static void pulse_pin(void *ctx, uint8_t level)
{
    const mc_f4_pin_t *p = ctx;
    mc_f4_gpio_write(p->port, p->pin, level);
}

int mc_f4_board_pulse_service(uint32_t now_us, uint32_t *next_us)
{
    mc_f4_board_t *b = &mc_f4_board;
    return mc_stm32_edges_service(&b->pulse_edges, now_us, pulse_pin, &b->cfg.pulse, next_us);
}

/* ---- mc_board.h functions shared by the F4 boards -------------------------------------- */

int mc_board_relay(int close)
{
    mc_f4_board_t *b = &mc_f4_board;
    if (b->coil_on) {
        return MC_ERR_IO; /* the previous coil pulse is still on */
    }
    const mc_f4_pin_t *coil = close ? &b->cfg.relay_set : &b->cfg.relay_reset;
    b->coil_off_ms = mc_board_ms() + RELAY_COIL_MS;
    b->coil_on = 1u;
    mc_f4_gpio_write(coil->port, coil->pin, 1u);
    return MC_OK;
}

int mc_board_di(void)
{
    const mc_f4_board_t *b = &mc_f4_board;
    return mc_f4_gpio_read(b->cfg.di.port, b->cfg.di.pin) == 0u ? 1 : 0;
}

int mc_board_cal_switch(void)
{
    const mc_f4_board_t *b = &mc_f4_board;
    return mc_f4_gpio_read(b->cfg.cal_switch.port, b->cfg.cal_switch.pin) == 0u ? 1 : 0;
}

unsigned mc_board_keys(void)
{
    return mc_f4_board.keys.state;
}

int mc_board_rs485_send(const uint8_t *adu, size_t len)
{
    return mc_f4_usart_send(&mc_f4_board.rs485, adu, len) == 0 ? MC_OK : MC_ERR_IO;
}

void mc_board_rs485_line(uint32_t baud, uint8_t parity)
{
    mc_f4_usart_set_line(&mc_f4_board.rs485, baud, parity);
}

int mc_board_rs485_rx(uint8_t *byte, uint32_t *t_us)
{
    return mc_stm32_rxq_pop(&mc_f4_board.rs485.rxq, byte, t_us);
}

void mc_f4_board_log_parts(const char *first, const char *second)
{
    if (mc_f4_board.log.cfg.base == 0u) {
        return; /* before mc_f4_board_common_init() */
    }
    const char *part[2] = {first, second};
    for (unsigned k = 0; k < 2u; k++) {
        if (part[k] != NULL) {
            const size_t n = strlen(part[k]);
            (void)mc_f4_usart_send(&mc_f4_board.log, (const uint8_t *)part[k], n > 256u ? 256u : n);
        }
    }
    (void)mc_f4_usart_send(&mc_f4_board.log, (const uint8_t *)"\r\n", 2u);
}

void mc_board_log(const char *line)
{
    mc_f4_board_log_parts(line, NULL);
}

int mc_board_power_failing(void)
{
    mc_f4_board_t *b = &mc_f4_board;
    const int pf = b->power_fail;
    b->power_fail = 0u;
    return pf;
}

extern const uint8_t __image_start[];
extern const uint8_t __image_end[];

void mc_board_image(const uint8_t **start, size_t *size)
{
    *start = __image_start;
    *size = (size_t)(__image_end - __image_start);
}

void USART1_IRQHandler(void);
void USART1_IRQHandler(void)
{
    mc_f4_usart_irq(&mc_f4_board.log);
}

void USART2_IRQHandler(void);
void USART2_IRQHandler(void)
{
    mc_f4_usart_irq(&mc_f4_board.rs485);
}
