/*
 * STM32F4 system drivers: clock tree, FPU, reset, SysTick, GPIO, PVD, IWDG.
 * Register facts from RM0090; see mc_stm32f4.h for the contracts.
 * SPDX-License-Identifier: MIT
 */
#include "mc_stm32f4.h"
#include "stm32f4_regs.h"

/* A bounded wait: ready flags that never come (a dead crystal) must not hang the boot. */
#define MC_F4_WAIT_LOOPS 2000000u

int mc_f4_clock_init(uint32_t hse_hz)
{
    if (hse_hz < 4000000u || hse_hz > 26000000u || hse_hz % 2000000u != 0u) {
        return -1;
    }
    RCC_APB1ENR |= RCC_APB1ENR_PWR;
    mc_rcc_settle();
    PWR_CR |= PWR_CR_VOS; /* regulator scale 1: needed above 144 MHz */
    RCC_CR |= RCC_CR_HSEON;
    uint32_t n = 0;
    while ((RCC_CR & RCC_CR_HSERDY) == 0u) {
        if (++n > MC_F4_WAIT_LOOPS) {
            RCC_CR &= ~RCC_CR_HSEON;
            return -1;
        }
    }
    /* VCO in = HSE / M = 2 MHz; VCO = 2 MHz * 168 = 336 MHz; core = VCO / 2; USB = VCO / 7. */
    const uint32_t m = hse_hz / 2000000u;
    const uint32_t fields = 0x0F437FFFu; /* PLLQ, PLLSRC, PLLP, PLLN, PLLM; the rest is reserved */
    RCC_PLLCFGR = (RCC_PLLCFGR & ~fields) | m | (168u << 6) | (0u << 16) /* P = 2 */ | (1u << 22) /* HSE */ |
                  (7u << 24);
    RCC_CR |= RCC_CR_PLLON;
    n = 0;
    while ((RCC_CR & RCC_CR_PLLRDY) == 0u) {
        if (++n > MC_F4_WAIT_LOOPS) {
            return -1;
        }
    }
    /* 5 wait states at 168 MHz and 2.7..3.6 V; prefetch and the ART caches on. The new
     * latency must be in force (read back) before the clock rises. */
    FLASH_ACR = FLASH_ACR_LATENCY(5) | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    n = 0;
    while ((FLASH_ACR & 7u) != 5u) {
        if (++n > MC_F4_WAIT_LOOPS) {
            return -1;
        }
    }
    /* AHB /1, APB1 /4 (42 MHz), APB2 /2 (84 MHz) first, still on the 16 MHz HSI; then
     * switch to the PLL, so that no bus ever runs above its limit. */
    RCC_CFGR = (RCC_CFGR & ~0xFCF0u) | (5u << 10) | (4u << 13);
    RCC_CFGR = (RCC_CFGR & ~3u) | RCC_CFGR_SW_PLL;
    n = 0;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
        if (++n > MC_F4_WAIT_LOOPS) {
            return -1;
        }
    }
    return 0;
}

void mc_f4_fpu_enable(void)
{
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n isb" ::: "memory");
}

void mc_f4_reset(void)
{
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = SCB_AIRCR_RESET;
    __asm__ volatile("dsb" ::: "memory");
    for (;;) {
    }
}

/* ---- SysTick ----------------------------------------------------------------------------- */

static volatile uint32_t g_ms;
static uint32_t g_ticks_per_us;
static uint32_t g_load;
static volatile uint32_t g_last_us; /* latest time returned by mc_f4_systick_us() */

void mc_f4_systick_init(uint32_t core_hz)
{
    g_ticks_per_us = core_hz / 1000000u;
    g_load = core_hz / 1000u - 1u;
    SYSTICK_LOAD = g_load;
    SYSTICK_VAL = 0u;
    /* SysTick is exception 15: its priority byte is SHPR3[31:24]; 0 = highest. */
    *(volatile uint8_t *)(uintptr_t)0xE000ED23u = 0u;
    SYSTICK_CTRL = SYSTICK_CTRL_ENABLE | SYSTICK_CTRL_TICKINT | SYSTICK_CTRL_CLKSOURCE;
}

void mc_f4_systick_irq(void)
{
    g_ms++;
}

uint32_t mc_f4_ms(void)
{
    return g_ms;
}

uint32_t mc_f4_systick_us(void)
{
    uint32_t ms;
    uint32_t val;
    uint32_t pending;
    /* Re-read if the tick interrupt ran between the reads. On the chip, the counter can
     * also have wrapped with its interrupt still pending (masked interrupts, a handler of
     * the same priority): then VAL has just reloaded (large), PENDSTSET is set and the
     * millisecond is not counted yet. */
    do {
        ms = g_ms;
        val = SYSTICK_VAL;
        pending = SCB_ICSR & SCB_ICSR_PENDSTSET;
    } while (ms != g_ms);
    if (pending != 0u && val > g_load / 2u) {
        ms++;
    }
    uint32_t us = ms * 1000u + (g_load - val) / g_ticks_per_us;
    /* Under QEMU the counter and the tick are not in step: VAL reloads from the virtual
     * clock while the tick interrupt (and PENDSTSET) comes from a host timer up to about
     * a millisecond later, so the sum above can step back. Never return an earlier time:
     * hold the latest one until the clock passes it (a difference over 2^31 µs is the
     * 71-minute wrap, not a step back). A 32-bit store is atomic; a reader in another
     * context may at worst hold a slightly older time. */
    const uint32_t last = g_last_us;
    if ((int32_t)(us - last) < 0) {
        us = last;
    } else {
        g_last_us = us;
    }
    return us;
}

void mc_f4_delay_us(uint32_t us)
{
    const uint32_t t0 = mc_f4_systick_us();
    while ((uint32_t)(mc_f4_systick_us() - t0) < us) {
    }
}

/* ---- GPIO -------------------------------------------------------------------------------- */

static void gpio_mode(unsigned port, unsigned pin, uint32_t mode)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIO(port);
    mc_rcc_settle();
    GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2u * pin))) | (mode << (2u * pin));
}

static void gpio_pull(unsigned port, unsigned pin, uint32_t pull)
{
    GPIO_PUPDR(port) = (GPIO_PUPDR(port) & ~(3u << (2u * pin))) | (pull << (2u * pin));
}

void mc_f4_gpio_output(unsigned port, unsigned pin, unsigned level)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIO(port);
    mc_rcc_settle();
    mc_f4_gpio_write(port, pin, level); /* level first: no glitch when the pin becomes an output */
    GPIO_OTYPER(port) &= ~(1u << pin);
    gpio_pull(port, pin, 0u);
    gpio_mode(port, pin, 1u);
}

void mc_f4_gpio_input(unsigned port, unsigned pin, unsigned pull_up)
{
    gpio_mode(port, pin, 0u);
    gpio_pull(port, pin, pull_up ? 1u : 0u);
}

void mc_f4_gpio_analog(unsigned port, unsigned pin)
{
    gpio_pull(port, pin, 0u);
    gpio_mode(port, pin, 3u);
}

void mc_f4_gpio_af(unsigned port, unsigned pin, unsigned af)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIO(port);
    mc_rcc_settle();
    const unsigned reg = pin / 8u;
    const unsigned shift = 4u * (pin % 8u);
    GPIO_AFR(port, reg) = (GPIO_AFR(port, reg) & ~(0xFu << shift)) | ((af & 0xFu) << shift);
    GPIO_OTYPER(port) &= ~(1u << pin);
    GPIO_OSPEEDR(port) |= 2u << (2u * pin);
    gpio_pull(port, pin, 1u);
    gpio_mode(port, pin, 2u);
}

/* ---- PVD --------------------------------------------------------------------------------- */

void mc_f4_pvd_init(unsigned pls)
{
    RCC_APB1ENR |= RCC_APB1ENR_PWR;
    PWR_CR = (PWR_CR & ~(7u << PWR_CR_PLS_SHIFT)) | ((pls & 7u) << PWR_CR_PLS_SHIFT) | PWR_CR_PVDE;
    /* PVDO rises when VDD falls below the level: a rising edge on line 16 is the warning. */
    EXTI_RTSR |= EXTI_LINE_PVD;
    EXTI_IMR |= EXTI_LINE_PVD;
    mc_nvic_enable(IRQ_PVD, 0u);
}

int mc_f4_pvd_irq(void)
{
    EXTI_PR = EXTI_LINE_PVD;
    return (PWR_CSR & PWR_CSR_PVDO) != 0u;
}

/* ---- IWDG -------------------------------------------------------------------------------- */

void mc_f4_iwdg_start(uint32_t ms)
{
    /* LSI ~32 kHz / 64 = 500 Hz: 2 ms per count, 12-bit reload. */
    uint32_t reload = ms / 2u;
    if (reload < 1u) {
        reload = 1u;
    }
    if (reload > 0xFFFu) {
        reload = 0xFFFu;
    }
    IWDG_KR = 0xCCCCu;
    IWDG_KR = 0x5555u;
    IWDG_PR = 4u; /* /64 */
    IWDG_RLR = reload;
    /* PR and RLR reach the LSI domain a few LSI cycles later (SR shows it): reload only
     * then, or the first period runs with the old reload value. */
    for (uint32_t n = 0; IWDG_SR != 0u && n < MC_F4_WAIT_LOOPS; n++) {
    }
    IWDG_KR = 0xAAAAu;
}

void mc_f4_iwdg_kick(void)
{
    IWDG_KR = 0xAAAAu;
}
