/*
 * STM32F4 USART driver with an RS485 driver-enable pin (see mc_stm32f4.h).
 *
 * Receive: the RXNE interrupt stamps each byte with the microsecond clock and
 * queues it (mc_stm32_rxq_t); bytes with a parity, framing or noise error are
 * dropped (a Modbus frame missing a byte then fails its CRC), overruns counted.
 * Transmit: DE goes high before the first byte and low after the last stop bit
 * (TC), polled or from the TXE/TC interrupt.
 * SPDX-License-Identifier: MIT
 */
#include "mc_stm32f4.h"
#include "stm32f4_regs.h"

#include <string.h>

static uint32_t usart_irq_number(uint32_t base)
{
    return base == USART1_BASE ? IRQ_USART1 : IRQ_USART2;
}

static void usart_apply_line(mc_f4_usart_t *u, uint32_t baud, uint8_t parity)
{
    const uint32_t b = u->cfg.base;
    uint32_t cr1 = USART_CR1(b) & ~(USART_CR1_M | USART_CR1_PCE | USART_CR1_PS);
    if (parity == 1u || parity == 2u) {
        cr1 |= USART_CR1_M | USART_CR1_PCE; /* 8 data bits + parity = 9-bit frames */
        if (parity == 2u) {
            cr1 |= USART_CR1_PS;
        }
    }
    USART_CR1(b) = cr1 & ~USART_CR1_UE;
    /* Modbus RTU characters are 11 bits: 8 data + parity + 1 stop, or 8 data + 2 stop. */
    USART_CR2(b) = (parity == 1u || parity == 2u) ? 0u : USART_CR2_STOP_2;
    /* 16x oversampling: BRR = f / baud, rounded (mantissa and fraction in one number). */
    USART_BRR(b) = (u->cfg.pclk_hz + baud / 2u) / baud;
    USART_CR1(b) = cr1 | USART_CR1_UE;
}

int mc_f4_usart_init(mc_f4_usart_t *u, const mc_f4_usart_config_t *cfg, uint32_t baud, uint8_t parity)
{
    if (u == NULL || cfg == NULL || baud == 0u || parity > 2u ||
        (cfg->base != USART1_BASE && cfg->base != USART2_BASE) || cfg->now_us == NULL) {
        return -1;
    }
    memset(u, 0, sizeof(*u));
    u->cfg = *cfg;
    if (cfg->base == USART1_BASE) {
        RCC_APB2ENR |= RCC_APB2ENR_USART1;
    } else {
        RCC_APB1ENR |= RCC_APB1ENR_USART2;
    }
    mc_rcc_settle();
    if (cfg->de_port >= 0) {
        mc_f4_gpio_output((unsigned)cfg->de_port, cfg->de_pin, 0u);
    }
    const uint32_t b = cfg->base;
    USART_CR1(b) = 0u;
    USART_CR3(b) = 0u;
    USART_CR1(b) = USART_CR1_TE | USART_CR1_RE | (cfg->rx_interrupt ? USART_CR1_RXNEIE : 0u);
    usart_apply_line(u, baud, parity);
    if (cfg->rx_interrupt || cfg->tx_interrupt) {
        mc_nvic_enable(usart_irq_number(b), 2u);
    }
    return 0;
}

int mc_f4_usart_busy(const mc_f4_usart_t *u)
{
    return u->tx_busy != 0u;
}

void mc_f4_usart_set_line(mc_f4_usart_t *u, uint32_t baud, uint8_t parity)
{
    if (baud == 0u || parity > 2u) {
        return;
    }
    const uint32_t irq = usart_irq_number(u->cfg.base);
    mc_nvic_disable(irq);
    if (u->tx_busy) {
        u->pending_baud = baud;
        u->pending_parity = parity;
        u->line_pending = 1u;
    } else {
        usart_apply_line(u, baud, parity);
    }
    if (u->cfg.rx_interrupt || u->cfg.tx_interrupt) {
        mc_nvic_enable(irq, 2u);
    }
}

static void de_set(const mc_f4_usart_t *u, unsigned level)
{
    if (u->cfg.de_port >= 0) {
        mc_f4_gpio_write((unsigned)u->cfg.de_port, u->cfg.de_pin, level);
    }
}

int mc_f4_usart_send(mc_f4_usart_t *u, const uint8_t *data, size_t len)
{
    if (len > sizeof(u->tx) || u->tx_busy) {
        return -1;
    }
    if (len == 0u) {
        return 0;
    }
    const uint32_t b = u->cfg.base;
    de_set(u, 1u);
    if (u->cfg.tx_interrupt) {
        memcpy(u->tx, data, len);
        u->tx_len = (uint16_t)len;
        u->tx_pos = 0u;
        u->tx_busy = 1u;
        USART_CR1(b) |= USART_CR1_TXEIE;
        return 0;
    }
    for (size_t k = 0; k < len; k++) {
        while ((USART_SR(b) & USART_SR_TXE) == 0u) {
        }
        USART_DR(b) = data[k];
    }
    while ((USART_SR(b) & USART_SR_TC) == 0u) {
    }
    de_set(u, 0u);
    return 0;
}

void mc_f4_usart_irq(mc_f4_usart_t *u)
{
    const uint32_t b = u->cfg.base;
    const uint32_t sr = USART_SR(b);
    if ((sr & (USART_SR_RXNE | USART_SR_ORE)) != 0u) {
        /* Reading SR then DR clears RXNE and the error flags of this byte. */
        const uint8_t byte = (uint8_t)USART_DR(b);
        if ((sr & USART_SR_ORE) != 0u) {
            u->overruns++;
        }
        if ((sr & USART_SR_PE) != 0u) {
            u->parity_errors++;
        } else if ((sr & (USART_SR_FE | USART_SR_NF)) != 0u) {
            u->framing_errors++;
        } else if ((sr & USART_SR_RXNE) != 0u) {
            (void)mc_stm32_rxq_push(&u->rxq, byte, u->cfg.now_us());
        }
    }
    const uint32_t cr1 = USART_CR1(b);
    if ((cr1 & USART_CR1_TXEIE) != 0u && (sr & USART_SR_TXE) != 0u) {
        if (u->tx_pos < u->tx_len) {
            USART_DR(b) = u->tx[u->tx_pos++];
        }
        if (u->tx_pos >= u->tx_len) {
            /* last byte in the shift register: wait for its stop bit */
            USART_CR1(b) = (cr1 & ~USART_CR1_TXEIE) | USART_CR1_TCIE;
        }
    } else if ((cr1 & USART_CR1_TCIE) != 0u && (sr & USART_SR_TC) != 0u) {
        USART_CR1(b) = cr1 & ~USART_CR1_TCIE;
        de_set(u, 0u);
        if (u->line_pending) {
            u->line_pending = 0u;
            usart_apply_line(u, u->pending_baud, u->pending_parity);
        }
        u->tx_busy = 0u;
    }
}
