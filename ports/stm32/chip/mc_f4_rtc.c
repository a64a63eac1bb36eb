/*
 * STM32F4 RTC on the 32.768 kHz LSE (see mc_stm32f4.h). The calendar holds
 * local standard time as BCD fields; the year is 2000 + 0..99.
 * SPDX-License-Identifier: MIT
 */
#include "mc_stm32f4.h"
#include "stm32f4_regs.h"

#include "metercore/mc_calendar.h"

#define RTC_WAIT_LOOPS 4000000u
#define RTC_LSE_START_MS 3000u

static unsigned bcd2(uint32_t v) { return (unsigned)((v >> 4) & 0xFu) * 10u + (unsigned)(v & 0xFu); }
static uint32_t to_bcd(unsigned v) { return ((uint32_t)(v / 10u) << 4) | (uint32_t)(v % 10u); }

int mc_f4_rtc_init(void)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWR;
    mc_rcc_settle();
    PWR_CR |= PWR_CR_DBP; /* backup domain writable: only once DBP reads back (ES0182) */
    for (uint32_t n = 0; (PWR_CR & PWR_CR_DBP) == 0u; n++) {
        if (n > RTC_WAIT_LOOPS) {
            return -1;
        }
    }
    if ((RCC_BDCR & RCC_BDCR_RTCEN) != 0u && (RCC_BDCR & RCC_BDCR_LSERDY) != 0u) {
        /* Kept running on the battery. After a reset the calendar shadow registers may be
         * stale until the next RTCCLK synchronisation: clear RSF and wait for it. */
        RTC_WPR = 0xCAu;
        RTC_WPR = 0x53u;
        RTC_ISR &= ~RTC_ISR_RSF;
        RTC_WPR = 0xFFu;
        uint32_t n = 0;
        while ((RTC_ISR & RTC_ISR_RSF) == 0u) {
            if (++n > RTC_WAIT_LOOPS) {
                return -1;
            }
        }
        return 0;
    }
    RCC_BDCR |= RCC_BDCR_LSEON;
    /* A 32.768 kHz crystal takes up to about 2 s to start: wait on the SysTick clock. */
    const uint32_t t0 = mc_f4_ms();
    while ((RCC_BDCR & RCC_BDCR_LSERDY) == 0u) {
        if ((uint32_t)(mc_f4_ms() - t0) > RTC_LSE_START_MS) {
            return -1;
        }
    }
    RCC_BDCR |= RCC_BDCR_RTCSEL_LSE | RCC_BDCR_RTCEN;
    /* 32768 Hz / (127 + 1) / (255 + 1) = 1 Hz; 2000-01-01 until set. */
    if (mc_f4_rtc_set(0u) != 0) {
        return -1;
    }
    return 1;
}

int mc_f4_rtc_get(mc_time_t *t)
{
    /* Reading TR locks the shadow DR until DR is read: a consistent pair. */
    const uint32_t tr = RTC_TR;
    const uint32_t dr = RTC_DR;
    mc_datetime_t dt;
    dt.year = (uint16_t)(2000u + bcd2(dr >> 16));
    dt.month = (uint8_t)bcd2((dr >> 8) & 0x1Fu);
    dt.day = (uint8_t)bcd2(dr & 0x3Fu);
    dt.hour = (uint8_t)bcd2((tr >> 16) & 0x3Fu);
    dt.minute = (uint8_t)bcd2((tr >> 8) & 0x7Fu);
    dt.second = (uint8_t)bcd2(tr & 0x7Fu);
    dt.weekday = 0u;
    return mc_time_from_datetime(&dt, t) == MC_OK ? 0 : -1;
}

int mc_f4_rtc_set(mc_time_t t)
{
    mc_datetime_t dt;
    if (mc_time_to_datetime(t, &dt) != MC_OK) {
        return -1;
    }
    RTC_WPR = 0xCAu;
    RTC_WPR = 0x53u;
    RTC_ISR |= RTC_ISR_INIT;
    uint32_t n = 0;
    while ((RTC_ISR & RTC_ISR_INITF) == 0u) {
        if (++n > RTC_WAIT_LOOPS) {
            RTC_WPR = 0xFFu;
            return -1;
        }
    }
    RTC_PRER = 255u;               /* PREDIV_S first, then PREDIV_A: two separate writes */
    RTC_PRER = (127u << 16) | 255u;
    RTC_TR = (to_bcd(dt.hour) << 16) | (to_bcd(dt.minute) << 8) | to_bcd(dt.second);
    RTC_DR = (to_bcd(dt.year - 2000u) << 16) | ((uint32_t)(dt.weekday + 1u) << 13) | (to_bcd(dt.month) << 8) |
             to_bcd(dt.day);
    RTC_CR &= ~(1u << 6); /* 24-hour format */
    RTC_ISR &= ~RTC_ISR_INIT;
    /* The shadow registers show the new time only after the next synchronisation. */
    RTC_ISR &= ~RTC_ISR_RSF;
    RTC_WPR = 0xFFu; /* write protection back on */
    for (n = 0; (RTC_ISR & RTC_ISR_RSF) == 0u; n++) {
        if (n > RTC_WAIT_LOOPS) {
            return -1;
        }
    }
    return 0;
}
