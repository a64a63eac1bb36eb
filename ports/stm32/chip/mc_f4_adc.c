/*
 * STM32F4 acquisition: TIM5 as the microsecond clock, and ADC1/ADC2 in dual
 * regular-simultaneous mode triggered by TIM2, moved by DMA2 stream 0 into two
 * buffers (double-buffer mode) handed to the main loop block by block.
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

/* ---- ADC + DMA ----------------------------------------------------------------------------- */

int mc_f4_adc_start(mc_f4_adc_t *a, uint32_t sample_hz, uint32_t tim_clk_hz, unsigned u_channel,
                    unsigned i_channel)
{
    if (a == NULL || sample_hz < 1000u || sample_hz > 64000u || u_channel > 9u || i_channel > 9u) {
        return -1;
    }
    memset(a, 0, sizeof(*a));
    a->ready = -1;
    const uint32_t period = (tim_clk_hz + sample_hz / 2u) / sample_hz;
    a->sample_hz = tim_clk_hz / period;
    a->block_us = (uint32_t)((uint64_t)MC_F4_ADC_BLOCK * period * 1000000u / tim_clk_hz);

    RCC_AHB1ENR |= RCC_AHB1ENR_DMA2;
    RCC_APB2ENR |= RCC_APB2ENR_ADC1 | RCC_APB2ENR_ADC2;
    RCC_APB1ENR |= RCC_APB1ENR_TIM2;
    mc_rcc_settle();

    /* DMA2 stream 0, channel 0 (ADC1), peripheral to memory, 32-bit, double buffer, circular. */
    DMA2_S0CR = 0u;
    while ((DMA2_S0CR & DMA_SxCR_EN) != 0u) {
    }
    DMA2_LIFCR = DMA_LIFCR_ALL0;
    DMA2_S0PAR = ADC_CDR_ADDR;
    DMA2_S0M0AR = (uint32_t)(uintptr_t)a->buf[0];
    DMA2_S0M1AR = (uint32_t)(uintptr_t)a->buf[1];
    DMA2_S0NDTR = MC_F4_ADC_BLOCK;
    DMA2_S0CR = DMA_SxCR_DBM | DMA_SxCR_CIRC | DMA_SxCR_MINC | DMA_SxCR_PSIZE_32 | DMA_SxCR_MSIZE_32 |
                DMA_SxCR_PL_HIGH | DMA_SxCR_TCIE | DMA_SxCR_TEIE; /* CHSEL 0, DIR 00 */
    mc_nvic_enable(IRQ_DMA2_STREAM0, 1u);
    DMA2_S0CR |= DMA_SxCR_EN;

    /* TIM2: update event every 1/fs, routed to TRGO; set up before the ADC listens to it,
     * and without a UG write (UG itself would be a trigger: one stray conversion). ARR
     * is not preloaded, so it applies at once; PSC would only load at an update event,
     * but this timer's prescaler is 0, its reset value, and nothing else sets it. */
    TIM_CR1(TIM2_BASE) = 0u;
    TIM_PSC(TIM2_BASE) = 0u;
    TIM_ARR(TIM2_BASE) = period - 1u;
    TIM_CNT(TIM2_BASE) = 0u;
    TIM_CR2(TIM2_BASE) = TIM_CR2_MMS_UPDATE;

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

size_t mc_f4_adc_take(mc_f4_adc_t *a, int32_t *v, int32_t *i)
{
    const int8_t idx = a->ready;
    if (idx < 0) {
        return 0u;
    }
    const uint32_t *src = a->buf[idx];
    for (size_t k = 0; k < MC_F4_ADC_BLOCK; k++) {
        const uint32_t pair = src[k];
        v[k] = (int32_t)(pair & 0xFFFu) - 2048;
        i[k] = (int32_t)((pair >> 16) & 0xFFFu) - 2048;
    }
    /* If the DMA finished the other buffer while we copied, ready changed: keep it. */
    const uint32_t primask = mc_irq_save();
    if (a->ready == idx) {
        a->ready = -1;
    }
    mc_irq_restore(primask);
    return MC_F4_ADC_BLOCK;
}
