/*
 * Board: generic-f405, an STM32F405RG board with an 8 MHz crystal, a 32.768 kHz
 * crystal and a battery on VBAT, wired to a single-phase metering front end, or
 * (built with MC_FW_3P4W) to a three-phase four-wire one: 3 voltages and 4
 * currents on the three ADCs in triple regular simultaneous mode. BOARD.md in
 * this folder documents the pins, the analogue front ends, the sampling delays
 * and the flash map. Real drivers throughout: PLL at 168 MHz, TIM5 microsecond clock,
 * TIM2-triggered dual (triple) ADC with DMA double buffering, interrupt-driven RS485
 * transmit, internal flash as the NVM, the LSE RTC, the PVD power-fail warning,
 * the watchdog, an HD44780 16x4 LCD and two keys.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "mc_board.h"
#include "mc_f4_board_common.h"
#include "mc_hd44780.h"
#include "pins.h"
#include "metercore/mc_calendar.h"

#define F405_HSE_HZ 8000000u
#define F405_SAMPLE_HZ 4000u
#define F405_ADC_U_CHANNEL 0u  /* PA0 = ADC123_IN0 */
#define F405_ADC_I_CHANNEL 1u  /* PA1 = ADC123_IN1 */
#if MC_FW_3P4W
/* 3P4W (BOARD.md, "Three phase four wire"): at each rank the three ADCs convert at one
 * instant, so every phase's voltage (ADC1) and current (ADC2) are sampled together, and
 * the neutral (ADC3) with phase 1. Rank r is sampled r x 96 ADC cycles after rank 0. */
#define F405_3P_RANK_US ((float)MC_F4_ADC_TRIPLE_RANK_CYCLES * 1e6f / (float)MC_F4_ADC_CLK_HZ) /* 4.571 */
static const mc_f4_adc_triple_config_t g_adc_seq = {
    .ranks = 3u,
    .channel = {
        {0u, 5u, 6u},    /* ADC1: U1 PA0 (IN0), U2 PA5 (IN5), U3 PA6 (IN6) */
        {1u, 7u, 9u},    /* ADC2: I1 PA1 (IN1), I2 PA7 (IN7), I3 PB1 (IN9) */
        {10u, 10u, 10u}, /* ADC3: IN PC0 (IN10); ranks 1 and 2 repeat it, unused */
    },
    .frame_channels = 7u,
    /* slot = rank x 3 + ADC: the core's frame U1 U2 U3 I1 I2 I3 IN */
    .frame_slot = {0u, 3u, 6u, 1u, 4u, 7u, 2u},
};
/* When each frame channel is sampled after the frame's first conversion, µs. */
static const float g_channel_delay_us[7] = {
    0.0f, F405_3P_RANK_US, 2.0f * F405_3P_RANK_US, /* U1 U2 U3 */
    0.0f, F405_3P_RANK_US, 2.0f * F405_3P_RANK_US, /* I1 I2 I3 */
    0.0f,                                          /* IN */
};
#endif
/* Front end (BOARD.md): 12-bit ADC, 3.3 V reference, codes centred on mid-scale.
 * Voltage: 1:300 resistive divider (373 V peak = 1.24 V). Current: 2000:1 CT
 * into a 27 ohm burden (84.9 A peak = 1.15 V). Calibration trims both. */
#define F405_VOLTS_PER_CODE (3.3f / 4096.0f)
#define F405_U_SCALE (F405_VOLTS_PER_CODE * 300.0f)
#define F405_I_SCALE (F405_VOLTS_PER_CODE / 27.0f * 2000.0f)
#define F405_PVD_LEVEL 7u      /* 2.9 V: the warning comes while the bulk capacitor still holds */
#define F405_WATCHDOG_MS 4000u /* above the 2 s of a 128 KiB sector erase */

static const mc_board_info_t g_info = {
    .name = "generic-f405",
    .sample_hz = F405_SAMPLE_HZ,
    .u_scale = F405_U_SCALE,
    .i_scale = F405_I_SCALE,
    .block = MC_F4_ADC_BLOCK,
    .has_flash_nvm = 1u,
#if MC_FW_3P4W
    .wiring = MC_WIRING_3P4W,
    .neutral = 1u,
    .channel_delay_us = g_channel_delay_us,
#endif
};

/* Flash map: logical sector 0 = sector 4 (64 KiB), 1..7 = first 64 KiB of sectors 5..11. */
static const uint32_t g_nvm_addr[8] = {0x08010000u, 0x08020000u, 0x08040000u, 0x08060000u,
                                       0x08080000u, 0x080A0000u, 0x080C0000u, 0x080E0000u};
static const uint8_t g_nvm_snb[8] = {4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u};
static mc_f4_flash_nvm_t g_flash = {g_nvm_addr, g_nvm_snb, 8u, 65536u, 0u, 0u};

#if MC_FW_3P4W
static mc_f4_adc_triple_t g_adc;
#else
static mc_f4_adc_t g_adc;
#endif
static uint32_t g_adc_t0_us;      /* TIM5 time of the first sample */
static uint32_t g_lost_blocks;    /* blocks overwritten before the main loop took them */
static mc_hd44780_t g_lcd = {
    .rs = {MC_GPIOC, 2u}, .e = {MC_GPIOC, 3u},
    .d = {{MC_GPIOC, 4u}, {MC_GPIOC, 5u}, {MC_GPIOC, 6u}, {MC_GPIOC, 7u}},
};
static uint32_t g_blink_ms;
static int g_clock_valid;

const mc_board_info_t *mc_board_info(void) { return &g_info; }
uint32_t mc_board_us(void) { return mc_f4_us_timer_now(); }
uint32_t mc_board_ms(void) { return mc_f4_ms(); }

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    mc_f4_systick_irq();
    mc_f4_board_tick(mc_f4_ms());
}

void TIM5_IRQHandler(void);
void TIM5_IRQHandler(void)
{
    if (mc_f4_us_timer_irq()) {
        uint32_t next;
        if (mc_f4_board_pulse_service(mc_f4_us_timer_now(), &next)) {
            mc_f4_us_timer_alarm(next);
        } else {
            mc_f4_us_timer_alarm_off();
        }
    }
}

void DMA2_Stream0_IRQHandler(void);
void DMA2_Stream0_IRQHandler(void)
{
#if MC_FW_3P4W
    mc_f4_adc_triple_dma_irq(&g_adc, mc_f4_us_timer_now());
#else
    mc_f4_adc_dma_irq(&g_adc, mc_f4_us_timer_now());
#endif
}

void PVD_IRQHandler(void);
void PVD_IRQHandler(void)
{
    if (mc_f4_pvd_irq()) {
        mc_f4_board.power_fail = 1u;
    }
}

void mc_board_init(void)
{
    const int clock_ok = mc_f4_clock_init(F405_HSE_HZ) == 0;
    mc_f4_systick_init(clock_ok ? MC_F4_SYSCLK_HZ : 16000000u);
    mc_f4_us_timer_init(MC_F4_APB1_TIM_HZ);
    mc_f4_board_config_t c;
    generic_f405_pins(&c);
    if (!clock_ok) {
        c.usart1_clk_hz = 16000000u; /* still on the internal oscillator: the log still works */
        c.usart2_clk_hz = 16000000u;
    }
    c.rs485_tx_interrupt = 1u;
    c.has_keys = 1u;
    c.now_us = mc_board_us;
    if (mc_f4_board_common_init(&c) != 0) {
        mc_board_fatal("board init");
    }
    if (!clock_ok) {
        /* without the crystal neither the sample rate nor the RTC is right: log and reset */
        mc_board_fatal("clock: HSE or PLL did not start");
    }
    mc_f4_iwdg_start(F405_WATCHDOG_MS);
    const int rtc = mc_f4_rtc_init();
    g_clock_valid = rtc == 0;
    if (rtc < 0) {
        mc_board_log("rtc: LSE did not start, clock invalid");
    } else if (rtc > 0) {
        mc_board_log("rtc: started from 2000-01-01 (battery was flat), clock invalid until set");
    }
    mc_f4_pvd_init(F405_PVD_LEVEL);
    mc_hd44780_init(&g_lcd);
    mc_f4_gpio_analog(MC_GPIOA, 0u);
    mc_f4_gpio_analog(MC_GPIOA, 1u);
#if MC_FW_3P4W
    mc_f4_gpio_analog(MC_GPIOA, 5u);
    mc_f4_gpio_analog(MC_GPIOA, 6u);
    mc_f4_gpio_analog(MC_GPIOA, 7u);
    mc_f4_gpio_analog(MC_GPIOB, 1u);
    mc_f4_gpio_analog(MC_GPIOC, 0u);
    /* Starts TIM2 as it returns, as mc_f4_adc_start() does. */
    if (mc_f4_adc_triple_start(&g_adc, F405_SAMPLE_HZ, MC_F4_APB1_TIM_HZ, &g_adc_seq) != 0) {
        mc_board_fatal("adc");
    }
#else
    /* mc_f4_adc_start() starts TIM2 as it returns: sample 0 comes one period after the TIM5
     * time read right after it (within a microsecond). */
    if (mc_f4_adc_start(&g_adc, F405_SAMPLE_HZ, MC_F4_APB1_TIM_HZ, F405_ADC_U_CHANNEL, F405_ADC_I_CHANNEL) != 0) {
        mc_board_fatal("adc");
    }
#endif
    g_adc_t0_us = mc_f4_us_timer_now() + 1000000u / F405_SAMPLE_HZ;
}

/* Samples the core never saw: move sample 0 on so that pulse times stay true. */
static void account_lost_blocks(void)
{
    const uint32_t lost = g_adc.dma.overruns;
    if (lost != g_lost_blocks) {
        g_adc_t0_us += (lost - g_lost_blocks) * MC_F4_ADC_BLOCK * (1000000u / F405_SAMPLE_HZ);
        g_lost_blocks = lost;
    }
}

#if MC_FW_3P4W
size_t mc_board_frames(int32_t *frames)
{
    account_lost_blocks();
    return mc_f4_adc_triple_take(&g_adc, frames);
}
#else
size_t mc_board_samples(int32_t *v, int32_t *i)
{
    account_lost_blocks();
    return mc_f4_adc_take(&g_adc, v, i);
}
#endif

uint32_t mc_board_sample_overruns(void) { return g_lost_blocks; }

int mc_board_pulse(const mc_pulse_t *p, uint32_t latency_us)
{
    mc_f4_us_timer_mask(1);
    const int ok = mc_stm32_edges_pulse(&mc_f4_board.pulse_edges, p, g_adc_t0_us, F405_SAMPLE_HZ, latency_us);
    uint32_t next;
    if (mc_f4_board_pulse_service(mc_f4_us_timer_now(), &next)) {
        mc_f4_us_timer_alarm(next);
    }
    mc_f4_us_timer_mask(0);
    return ok;
}

mc_time_t mc_board_now(void)
{
    mc_time_t t = 0;
    (void)mc_f4_rtc_get(&t);
    return t;
}

int mc_board_set_clock(mc_time_t t)
{
    if (mc_f4_rtc_set(t) != 0) {
        return MC_ERR_RANGE;
    }
    g_clock_valid = 1;
    return MC_OK;
}

int mc_board_clock_valid(void)
{
    return g_clock_valid;
}

/* A sector erase stalls the CPU for up to 2 s: reload the watchdog around each one, so
 * that several erases in a row (a fresh memory at mount) cannot add up to its 4 s. */
static int (*g_flash_erase)(void *ctx, uint32_t sector);

static int erase_with_watchdog(void *ctx, uint32_t sector)
{
    mc_f4_iwdg_kick();
    const int rc = g_flash_erase(ctx, sector);
    mc_f4_iwdg_kick();
    return rc;
}

void mc_board_nvm(mc_nvm_t *nvm)
{
    mc_f4_flash_nvm_bind(&g_flash, nvm);
    g_flash_erase = nvm->erase;
    nvm->erase = erase_with_watchdog;
}

void mc_board_display(const mc_panel_screen_t *s)
{
    mc_hd44780_show(&g_lcd, s);
    g_blink_ms = mc_f4_ms();
}

void mc_board_display_tick(uint32_t now_ms)
{
    if ((uint32_t)(now_ms - g_blink_ms) >= 500u) {
        g_blink_ms = now_ms;
        mc_hd44780_blink(&g_lcd);
    }
}

void mc_board_watchdog(void)
{
    mc_f4_iwdg_kick();
}

void mc_board_fatal(const char *why)
{
    mc_f4_board_log_parts("FATAL: ", why);
    mc_f4_delay_us(10000u);
    mc_f4_reset();
}
