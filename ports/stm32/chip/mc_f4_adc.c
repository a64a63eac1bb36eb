/*
 * STM32F4 acquisition: TIM5 as the microsecond clock, and the ADCs triggered by
 * TIM2 and moved by DMA2 stream 0 into two buffers (double-buffer mode) handed to
 * the main loop block by block: ADC1/ADC2 in dual regular-simultaneous mode (one
 * voltage, one current), or ADC1/ADC2/ADC3 in triple regular-simultaneous mode
 * scanning up to three ranks each (poly-phase frames).
 * SPDX-License-Identifier: MIT
 */
#include "mc_stm32f4.h"
#include "stm32f4_regs.h"

#include <string.h>

/* ---- TIM5: microsecond clock ------------------------------------------------------------- */

void mc_f4_us_timer_init(uint32_t tim_clk_hz)
{
    RCC_APB1ENR |= RCC_APB1ENR_TIM5;
    mc_rcc_settle();
    TIM_CR1(TIM5_BASE) = 0u;
    TIM_PSC(TIM5_BASE) = tim_clk_hz / 1000000u - 1u;
    TIM_ARR(TIM5_BASE) = 0xFFFFFFFFu;
    TIM_EGR(TIM5_BASE) = TIM_EGR_UG; /* load the prescaler */
    TIM_SR(TIM5_BASE) = 0u;
    TIM_DIER(TIM5_BASE) = 0u;
    TIM_CR1(TIM5_BASE) = TIM_CR1_CEN;
    mc_nvic_enable(IRQ_TIM5, 1u);
}

uint32_t mc_f4_us_timer_now(void)
{
    return TIM_CNT(TIM5_BASE);
}

void mc_f4_us_timer_alarm(uint32_t t_us)
{
    TIM_CCR1(TIM5_BASE) = t_us;
    TIM_SR(TIM5_BASE) = ~TIM_SR_CC1IF;
    TIM_DIER(TIM5_BASE) |= TIM_DIER_CC1IE;
    /* A time already passed (or reached while arming) raises the interrupt at once. */
    if ((int32_t)(t_us - TIM_CNT(TIM5_BASE)) <= 0) {
        NVIC_ISPR(IRQ_TIM5 >> 5) = 1u << (IRQ_TIM5 & 31u); /* pend it */
    }
}

void mc_f4_us_timer_alarm_off(void)
{
    TIM_DIER(TIM5_BASE) &= ~TIM_DIER_CC1IE;
}

void mc_f4_us_timer_mask(int masked)
{
    if (masked) {
        mc_nvic_disable(IRQ_TIM5);
    } else {
        mc_nvic_enable(IRQ_TIM5, 1u);
    }
}

int mc_f4_us_timer_irq(void)
{
    TIM_SR(TIM5_BASE) = ~TIM_SR_CC1IF;
    return (TIM_DIER(TIM5_BASE) & TIM_DIER_CC1IE) != 0u;
}

/* ---- ADC + DMA: parts both bindings share ------------------------------------------------- */

/* The period of TIM2 for a sample rate, the rate it gives and a block's duration. */
static uint32_t adc_timing(mc_f4_adc_dma_t *d, uint32_t sample_hz, uint32_t tim_clk_hz, uint32_t *rate)
{
    memset(d, 0, sizeof(*d));
    d->ready = -1;
    const uint32_t period = (tim_clk_hz + sample_hz / 2u) / sample_hz;
    *rate = tim_clk_hz / period;
    d->block_us = (uint32_t)((uint64_t)MC_F4_ADC_BLOCK * period * 1000000u / tim_clk_hz);
    return period;
}

/* DMA2 stream 0, channel 0 (ADC1, which carries the multi-ADC requests), peripheral
 * to memory from ADC_CDR, double buffer, circular, transfer-complete interrupt. */
static void adc_dma_start(const void *buf0, const void *buf1, uint32_t items, uint32_t size_bits)
{
    DMA2_S0CR = 0u;
    while ((DMA2_S0CR & DMA_SxCR_EN) != 0u) {
    }
    DMA2_LIFCR = DMA_LIFCR_ALL0;
    DMA2_S0PAR = ADC_CDR_ADDR;
    DMA2_S0M0AR = (uint32_t)(uintptr_t)buf0;
    DMA2_S0M1AR = (uint32_t)(uintptr_t)buf1;
    DMA2_S0NDTR = items;
    DMA2_S0CR = DMA_SxCR_DBM | DMA_SxCR_CIRC | DMA_SxCR_MINC | size_bits | DMA_SxCR_PL_HIGH | DMA_SxCR_TCIE |
                DMA_SxCR_TEIE; /* CHSEL 0, DIR 00 */
    mc_nvic_enable(IRQ_DMA2_STREAM0, 1u);
    DMA2_S0CR |= DMA_SxCR_EN;
}

/* TIM2: update event every period, routed to TRGO; set up before the ADC listens to it,
 * and without a UG write (UG itself would be a trigger: one stray conversion). ARR
 * is not preloaded, so it applies at once; PSC would only load at an update event,
 * but this timer's prescaler is 0, its reset value, and nothing else sets it. */
static void adc_timer_setup(uint32_t period)
{
    TIM_CR1(TIM2_BASE) = 0u;
    TIM_PSC(TIM2_BASE) = 0u;
    TIM_ARR(TIM2_BASE) = period - 1u;
    TIM_CNT(TIM2_BASE) = 0u;
    TIM_CR2(TIM2_BASE) = TIM_CR2_MMS_UPDATE;
}

static void adc_dma_irq(mc_f4_adc_dma_t *a, uint32_t now_us)
{
    const uint32_t isr = DMA2_LISR;
    DMA2_LIFCR = isr & DMA_LIFCR_ALL0; /* only the flags seen: a later one stays pending */
    if ((isr & DMA_LISR_TEIF0) != 0u) {
        a->errors++;
    }
    if ((isr & DMA_LISR_TCIF0) != 0u) {
        /* CT names the buffer the DMA writes now: the other one is complete. */
        const int8_t done = (DMA2_S0CR & DMA_SxCR_CT) != 0u ? 0 : 1;
        if (a->ready >= 0) {
            a->overruns++;
        }
        if (a->have_tc && a->block_us > 0u) {
            /* one interrupt for k blocks completed: the k - 1 before the last are gone */
            const uint32_t k = ((uint32_t)(now_us - a->last_tc_us) + a->block_us / 2u) / a->block_us;
            if (k > 1u) {
                a->overruns += k - 1u;
                a->blocks += k - 1u;
            }
        }
        a->last_tc_us = now_us;
        a->have_tc = 1u;
        a->ready = done;
        a->blocks++;
    }
}

/* The block just taken is released, unless the DMA finished the other buffer while it
 * was copied (ready changed: keep it). */
static void adc_release(mc_f4_adc_dma_t *a, int8_t idx)
{
    const uint32_t primask = mc_irq_save();
    if (a->ready == idx) {
        a->ready = -1;
    }
    mc_irq_restore(primask);
}

/* ---- ADC1 + ADC2, dual regular simultaneous: one voltage, one current --------------------- */

int mc_f4_adc_start(mc_f4_adc_t *a, uint32_t sample_hz, uint32_t tim_clk_hz, unsigned u_channel,
                    unsigned i_channel)
{
    if (a == NULL || sample_hz < 1000u || sample_hz > 64000u || u_channel > 9u || i_channel > 9u) {
        return -1;
    }
    memset(a, 0, sizeof(*a));
    const uint32_t period = adc_timing(&a->dma, sample_hz, tim_clk_hz, &a->sample_hz);

    RCC_AHB1ENR |= RCC_AHB1ENR_DMA2;
    RCC_APB2ENR |= RCC_APB2ENR_ADC1 | RCC_APB2ENR_ADC2;
    RCC_APB1ENR |= RCC_APB1ENR_TIM2;
    mc_rcc_settle();

    /* 32-bit transfers: one word (ADC2 << 16 | ADC1) per pair. */
    adc_dma_start(a->buf[0], a->buf[1], MC_F4_ADC_BLOCK, DMA_SxCR_PSIZE_32 | DMA_SxCR_MSIZE_32);
    adc_timer_setup(period);

    /* ADC clock 84 MHz / 4 = 21 MHz; 144 + 12 cycles = 7.4 µs per conversion. */
    ADC_CCR = ADC_CCR_ADCPRE_DIV4 | ADC_CCR_DMA_MODE2 | ADC_CCR_DDS | ADC_CCR_MULTI_REG_SIMULT;
    ADC_CR1(ADC1_BASE) = 0u; /* 12 bits, one channel */
    ADC_CR1(ADC2_BASE) = 0u;
    ADC_SMPR2(ADC1_BASE) = ADC_SMPR_144 << (3u * u_channel);
    ADC_SMPR2(ADC2_BASE) = ADC_SMPR_144 << (3u * i_channel);
    ADC_SQR1(ADC1_BASE) = 0u; /* L = 0: one conversion */
    ADC_SQR1(ADC2_BASE) = 0u;
    ADC_SQR3(ADC1_BASE) = u_channel;
    ADC_SQR3(ADC2_BASE) = i_channel;
    ADC_CR2(ADC2_BASE) = ADC_CR2_ADON; /* the slave follows the master's trigger */
    ADC_CR2(ADC1_BASE) = ADC_CR2_ADON | ADC_CR2_EXTEN_RISING | ADC_CR2_EXTSEL_TIM2_TRGO;

    /* TIM2's first update (and TRGO) comes one period after CEN: sample 0 is then. */
    TIM_CR1(TIM2_BASE) = TIM_CR1_CEN;
    return 0;
}

void mc_f4_adc_dma_irq(mc_f4_adc_t *a, uint32_t now_us)
{
    adc_dma_irq(&a->dma, now_us);
}

size_t mc_f4_adc_take(mc_f4_adc_t *a, int32_t *v, int32_t *i)
{
    const int8_t idx = a->dma.ready;
    if (idx < 0) {
        return 0u;
    }
    const uint32_t *src = a->buf[idx];
    for (size_t k = 0; k < MC_F4_ADC_BLOCK; k++) {
        const uint32_t pair = src[k];
        v[k] = (int32_t)(pair & 0xFFFu) - 2048;
        i[k] = (int32_t)((pair >> 16) & 0xFFFu) - 2048;
    }
    adc_release(&a->dma, idx);
    return MC_F4_ADC_BLOCK;
}

/* ---- ADC1 + ADC2 + ADC3, triple regular simultaneous: poly-phase frames ------------------- */

static int triple_config_ok(const mc_f4_adc_triple_config_t *c)
{
    if (c->ranks < 1u || c->ranks > MC_F4_ADC_TRIPLE_RANKS || c->frame_channels < 1u ||
        c->frame_channels > MC_F4_ADC_TRIPLE_SLOTS) {
        return 0;
    }
    for (unsigned r = 0; r < c->ranks; r++) {
        for (unsigned x = 0; x < 3u; x++) {
            if (c->channel[x][r] > 15u) {
                return 0;
            }
            for (unsigned y = x + 1u; y < 3u; y++) {
                if (c->channel[x][r] == c->channel[y][r]) {
                    return 0; /* one channel sampled by two ADCs at once */
                }
            }
        }
    }
    for (unsigned k = 0; k < c->frame_channels; k++) {
        if (c->frame_slot[k] >= 3u * c->ranks) {
            return 0;
        }
    }
    return 1;
}

/* One ADC of the three: scan its sequence, every channel sampled for 84 cycles. */
static void triple_adc_setup(uint32_t base, const uint8_t *channels, unsigned ranks)
{
    uint32_t smpr1 = 0u, smpr2 = 0u, sqr3 = 0u;
    for (unsigned r = 0; r < ranks; r++) {
        const unsigned ch = channels[r];
        if (ch < 10u) {
            smpr2 |= (uint32_t)ADC_SMPR_84 << (3u * ch);
        } else {
            smpr1 |= (uint32_t)ADC_SMPR_84 << (3u * (ch - 10u));
        }
        sqr3 |= (uint32_t)ch << (5u * r);
    }
    ADC_CR1(base) = ADC_CR1_SCAN; /* 12 bits, the whole sequence per trigger */
    ADC_SMPR1(base) = smpr1;
    ADC_SMPR2(base) = smpr2;
    ADC_SQR1(base) = (uint32_t)(ranks - 1u) << ADC_SQR1_L_SHIFT;
    ADC_SQR3(base) = sqr3;
}

int mc_f4_adc_triple_start(mc_f4_adc_triple_t *a, uint32_t sample_hz, uint32_t tim_clk_hz,
                           const mc_f4_adc_triple_config_t *cfg)
{
    if (a == NULL || cfg == NULL || sample_hz < 1000u || sample_hz > 64000u || !triple_config_ok(cfg)) {
        return -1;
    }
    memset(a, 0, sizeof(*a));
    a->cfg = *cfg;
    const uint32_t period = adc_timing(&a->dma, sample_hz, tim_clk_hz, &a->sample_hz);

    RCC_AHB1ENR |= RCC_AHB1ENR_DMA2;
    RCC_APB2ENR |= RCC_APB2ENR_ADC1 | RCC_APB2ENR_ADC2 | RCC_APB2ENR_ADC3;
    RCC_APB1ENR |= RCC_APB1ENR_TIM2;
    mc_rcc_settle();

    /* DMA mode 1: a half-word per conversion, ADC1, ADC2, ADC3 of rank 0, then of rank 1, ...
     * (the mode RM0090 gives for triple regular simultaneous conversion). */
    adc_dma_start(a->buf[0], a->buf[1], MC_F4_ADC_BLOCK * 3u * cfg->ranks, DMA_SxCR_PSIZE_16 | DMA_SxCR_MSIZE_16);
    adc_timer_setup(period);

    /* ADC clock 84 MHz / 4 = 21 MHz; ranks (84 + 12) cycles = 4.571 µs apart. */
    ADC_CCR = ADC_CCR_ADCPRE_DIV4 | ADC_CCR_DMA_MODE1 | ADC_CCR_DDS | ADC_CCR_MULTI_TRIPLE_REG_SIMULT;
    triple_adc_setup(ADC1_BASE, cfg->channel[0], cfg->ranks);
    triple_adc_setup(ADC2_BASE, cfg->channel[1], cfg->ranks);
    triple_adc_setup(ADC3_BASE, cfg->channel[2], cfg->ranks);
    ADC_CR2(ADC3_BASE) = ADC_CR2_ADON; /* the slaves follow the master's trigger */
    ADC_CR2(ADC2_BASE) = ADC_CR2_ADON;
    ADC_CR2(ADC1_BASE) = ADC_CR2_ADON | ADC_CR2_EXTEN_RISING | ADC_CR2_EXTSEL_TIM2_TRGO;

    /* TIM2's first update (and TRGO) comes one period after CEN: frame 0 is then. */
    TIM_CR1(TIM2_BASE) = TIM_CR1_CEN;
    return 0;
}

void mc_f4_adc_triple_dma_irq(mc_f4_adc_triple_t *a, uint32_t now_us)
{
    adc_dma_irq(&a->dma, now_us);
}

size_t mc_f4_adc_triple_take(mc_f4_adc_triple_t *a, int32_t *frames)
{
    const int8_t idx = a->dma.ready;
    if (idx < 0) {
        return 0u;
    }
    const uint16_t *src = a->buf[idx];
    const unsigned stride = 3u * a->cfg.ranks;
    const unsigned nch = a->cfg.frame_channels;
    /* The reorder: the DMA's rank-by-rank order into the frame order the core wants. */
    for (size_t k = 0; k < MC_F4_ADC_BLOCK; k++) {
        for (unsigned c = 0; c < nch; c++) {
            frames[c] = (int32_t)(src[a->cfg.frame_slot[c]] & 0xFFFu) - 2048;
        }
        frames += nch;
        src += stride;
    }
    adc_release(&a->dma, idx);
    return MC_F4_ADC_BLOCK;
}
