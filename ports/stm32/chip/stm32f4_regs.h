/*
 * STM32F4 (F405/F407/F415/F417) peripheral registers used by the metercore port.
 *
 * Written for this port from the facts of the STM32F4 reference manual (RM0090:
 * base addresses, register offsets, bit positions) and the Cortex-M4 generic user
 * guide (SysTick, NVIC, SCB). Only what the drivers in this folder use is here.
 * This file belongs to chip/: only chip drivers include it; boards and the
 * firmware call the drivers.
 * SPDX-License-Identifier: MIT
 */
#ifndef MC_STM32F4_REGS_H
#define MC_STM32F4_REGS_H

#include <stdint.h>

#define MC_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ---- Cortex-M4 core ------------------------------------------------------------------ */
#define SYSTICK_CTRL MC_REG(0xE000E010u)
#define SYSTICK_LOAD MC_REG(0xE000E014u)
#define SYSTICK_VAL MC_REG(0xE000E018u)
#define SYSTICK_CTRL_ENABLE (1u << 0)
#define SYSTICK_CTRL_TICKINT (1u << 1)
#define SYSTICK_CTRL_CLKSOURCE (1u << 2) /* 1: processor clock */

#define NVIC_ISER(n) MC_REG(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) MC_REG(0xE000E180u + 4u * (n))
#define NVIC_ISPR(n) MC_REG(0xE000E200u + 4u * (n))
#define NVIC_IPR_BYTE(irq) (*(volatile uint8_t *)(uintptr_t)(0xE000E400u + (irq)))
#define SCB_ICSR MC_REG(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_AIRCR MC_REG(0xE000ED0Cu)
#define SCB_AIRCR_RESET (0x05FA0000u | (1u << 2)) /* VECTKEY + SYSRESETREQ */
#define SCB_CPACR MC_REG(0xE000ED88u)

/* IRQ numbers (position in the vector table after the 16 system exceptions). */
#define IRQ_PVD 1u
#define IRQ_TIM2 28u
#define IRQ_USART1 37u
#define IRQ_USART2 38u
#define IRQ_TIM5 50u
#define IRQ_DMA2_STREAM0 56u
#define IRQ_COUNT 82u

/* ---- RCC ------------------------------------------------------------------------------ */
#define RCC_BASE 0x40023800u
#define RCC_CR MC_REG(RCC_BASE + 0x00u)
#define RCC_PLLCFGR MC_REG(RCC_BASE + 0x04u)
#define RCC_CFGR MC_REG(RCC_BASE + 0x08u)
#define RCC_AHB1ENR MC_REG(RCC_BASE + 0x30u)
#define RCC_APB1ENR MC_REG(RCC_BASE + 0x40u)
#define RCC_APB2ENR MC_REG(RCC_BASE + 0x44u)
#define RCC_BDCR MC_REG(RCC_BASE + 0x70u)
#define RCC_CSR MC_REG(RCC_BASE + 0x74u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_AHB1ENR_GPIO(n) (1u << (n))
#define RCC_AHB1ENR_DMA2 (1u << 22)
#define RCC_APB1ENR_TIM2 (1u << 0)
#define RCC_APB1ENR_TIM5 (1u << 3)
#define RCC_APB1ENR_USART2 (1u << 17)
#define RCC_APB1ENR_PWR (1u << 28)
#define RCC_APB2ENR_USART1 (1u << 4)
#define RCC_APB2ENR_ADC1 (1u << 8)
#define RCC_APB2ENR_ADC2 (1u << 9)
#define RCC_APB2ENR_ADC3 (1u << 10)
#define RCC_BDCR_LSEON (1u << 0)
#define RCC_BDCR_LSERDY (1u << 1)
#define RCC_BDCR_RTCSEL_LSE (1u << 8)
#define RCC_BDCR_RTCEN (1u << 15)

/* ---- PWR ------------------------------------------------------------------------------ */
#define PWR_CR MC_REG(0x40007000u)
#define PWR_CSR MC_REG(0x40007004u)
#define PWR_CR_PVDE (1u << 4)
#define PWR_CR_PLS_SHIFT 5u
#define PWR_CR_DBP (1u << 8)
#define PWR_CR_VOS (1u << 14)
#define PWR_CSR_PVDO (1u << 2)

/* ---- EXTI (PVD is line 16) ------------------------------------------------------------- */
#define EXTI_IMR MC_REG(0x40013C00u)
#define EXTI_RTSR MC_REG(0x40013C08u)
#define EXTI_PR MC_REG(0x40013C14u)
#define EXTI_LINE_PVD (1u << 16)

/* ---- FLASH interface ------------------------------------------------------------------- */
#define FLASH_ACR MC_REG(0x40023C00u)
#define FLASH_KEYR MC_REG(0x40023C04u)
#define FLASH_SR MC_REG(0x40023C0Cu)
#define FLASH_CR MC_REG(0x40023C10u)
#define FLASH_ACR_LATENCY(ws) ((uint32_t)(ws) & 7u)
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define FLASH_ACR_DCRST (1u << 12)
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_SR_EOP (1u << 0)
#define FLASH_SR_OPERR (1u << 1)
#define FLASH_SR_ERRORS (0xF2u) /* OPERR, WRPERR, PGAERR, PGPERR, PGSERR */
#define FLASH_SR_BSY (1u << 16)
#define FLASH_CR_PG (1u << 0)
#define FLASH_CR_SER (1u << 1)
#define FLASH_CR_SNB_SHIFT 3u
#define FLASH_CR_PSIZE_X32 (2u << 8)
#define FLASH_CR_STRT (1u << 16)
#define FLASH_CR_LOCK (1u << 31)

/* ---- GPIO ------------------------------------------------------------------------------ */
#define GPIO_BASE(port) (0x40020000u + 0x400u * (uint32_t)(port))
#define GPIO_MODER(port) MC_REG(GPIO_BASE(port) + 0x00u)
#define GPIO_OTYPER(port) MC_REG(GPIO_BASE(port) + 0x04u)
#define GPIO_OSPEEDR(port) MC_REG(GPIO_BASE(port) + 0x08u)
#define GPIO_PUPDR(port) MC_REG(GPIO_BASE(port) + 0x0Cu)
#define GPIO_IDR(port) MC_REG(GPIO_BASE(port) + 0x10u)
#define GPIO_BSRR(port) MC_REG(GPIO_BASE(port) + 0x18u)
#define GPIO_AFR(port, n) MC_REG(GPIO_BASE(port) + 0x20u + 4u * (n))

/* ---- USART ----------------------------------------------------------------------------- */
#define USART1_BASE 0x40011000u
#define USART2_BASE 0x40004400u
#define USART_SR(b) MC_REG((b) + 0x00u)
#define USART_DR(b) MC_REG((b) + 0x04u)
#define USART_BRR(b) MC_REG((b) + 0x08u)
#define USART_CR1(b) MC_REG((b) + 0x0Cu)
#define USART_CR2(b) MC_REG((b) + 0x10u)
#define USART_CR3(b) MC_REG((b) + 0x14u)
#define USART_SR_PE (1u << 0)
#define USART_SR_FE (1u << 1)
#define USART_SR_NF (1u << 2)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_TCIE (1u << 6)
#define USART_CR1_TXEIE (1u << 7)
#define USART_CR1_PS (1u << 9)
#define USART_CR1_PCE (1u << 10)
#define USART_CR1_M (1u << 12)
#define USART_CR1_UE (1u << 13)
#define USART_CR2_STOP_2 (2u << 12)

/* ---- General-purpose timers TIM2 and TIM5 (32-bit) ------------------------------------- */
#define TIM2_BASE 0x40000000u
#define TIM5_BASE 0x40000C00u
#define TIM_CR1(b) MC_REG((b) + 0x00u)
#define TIM_CR2(b) MC_REG((b) + 0x04u)
#define TIM_DIER(b) MC_REG((b) + 0x0Cu)
#define TIM_SR(b) MC_REG((b) + 0x10u)
#define TIM_EGR(b) MC_REG((b) + 0x14u)
#define TIM_CNT(b) MC_REG((b) + 0x24u)
#define TIM_PSC(b) MC_REG((b) + 0x28u)
#define TIM_ARR(b) MC_REG((b) + 0x2Cu)
#define TIM_CCR1(b) MC_REG((b) + 0x34u)
#define TIM_CR1_CEN (1u << 0)
#define TIM_CR2_MMS_UPDATE (2u << 4)
#define TIM_DIER_CC1IE (1u << 1)
#define TIM_SR_CC1IF (1u << 1)
#define TIM_EGR_UG (1u << 0)

/* ---- ADC1/ADC2/ADC3 and the common registers ------------------------------------------- */
#define ADC1_BASE 0x40012000u
#define ADC2_BASE 0x40012100u
#define ADC3_BASE 0x40012200u
#define ADC_CR1(b) MC_REG((b) + 0x04u)
#define ADC_CR2(b) MC_REG((b) + 0x08u)
#define ADC_SMPR1(b) MC_REG((b) + 0x0Cu) /* channels 10..18 */
#define ADC_SMPR2(b) MC_REG((b) + 0x10u) /* channels 0..9 */
#define ADC_SQR1(b) MC_REG((b) + 0x2Cu)
#define ADC_SQR3(b) MC_REG((b) + 0x34u)  /* SQ1..SQ6, 5 bits each */
#define ADC_CR1_SCAN (1u << 8)
#define ADC_SQR1_L_SHIFT 20u              /* regular sequence length - 1 */
#define ADC_CCR MC_REG(0x40012304u)
#define ADC_CDR_ADDR 0x40012308u
#define ADC_CR2_ADON (1u << 0)
#define ADC_CR2_EXTSEL_TIM2_TRGO (6u << 24)
#define ADC_CR2_EXTEN_RISING (1u << 28)
#define ADC_SMPR_84 4u                    /* 84 ADC clock cycles */
#define ADC_SMPR_144 6u                   /* 144 ADC clock cycles */
#define ADC_CCR_MULTI_REG_SIMULT 6u       /* dual mode, regular simultaneous only */
#define ADC_CCR_MULTI_TRIPLE_REG_SIMULT 0x16u /* triple mode, regular simultaneous only */
#define ADC_CCR_DDS (1u << 13)
#define ADC_CCR_DMA_MODE1 (1u << 14)      /* one 16-bit request per conversion: ADC1, ADC2, ADC3, ... */
#define ADC_CCR_DMA_MODE2 (2u << 14)      /* one 32-bit request per pair: ADC2 << 16 | ADC1 */
#define ADC_CCR_ADCPRE_DIV4 (1u << 16)

/* ---- DMA2 stream 0 (ADC1 on channel 0) ------------------------------------------------- */
#define DMA2_BASE 0x40026400u
#define DMA2_LISR MC_REG(DMA2_BASE + 0x00u)
#define DMA2_LIFCR MC_REG(DMA2_BASE + 0x08u)
#define DMA2_S0CR MC_REG(DMA2_BASE + 0x10u)
#define DMA2_S0NDTR MC_REG(DMA2_BASE + 0x14u)
#define DMA2_S0PAR MC_REG(DMA2_BASE + 0x18u)
#define DMA2_S0M0AR MC_REG(DMA2_BASE + 0x1Cu)
#define DMA2_S0M1AR MC_REG(DMA2_BASE + 0x20u)
#define DMA_SxCR_EN (1u << 0)
#define DMA_SxCR_TEIE (1u << 2)
#define DMA_SxCR_TCIE (1u << 4)
#define DMA_SxCR_CIRC (1u << 8)
#define DMA_SxCR_MINC (1u << 10)
#define DMA_SxCR_PSIZE_16 (1u << 11)
#define DMA_SxCR_PSIZE_32 (2u << 11)
#define DMA_SxCR_MSIZE_16 (1u << 13)
#define DMA_SxCR_MSIZE_32 (2u << 13)
#define DMA_SxCR_PL_HIGH (2u << 16)
#define DMA_SxCR_DBM (1u << 18)
#define DMA_SxCR_CT (1u << 19)
#define DMA_LISR_TEIF0 (1u << 3)
#define DMA_LISR_TCIF0 (1u << 5)
#define DMA_LIFCR_ALL0 0x3Du

/* ---- RTC ------------------------------------------------------------------------------- */
#define RTC_TR MC_REG(0x40002800u)
#define RTC_DR MC_REG(0x40002804u)
#define RTC_CR MC_REG(0x40002808u)
#define RTC_ISR MC_REG(0x4000280Cu)
#define RTC_PRER MC_REG(0x40002810u)
#define RTC_WPR MC_REG(0x40002824u)
#define RTC_ISR_INITS (1u << 4)
#define RTC_ISR_RSF (1u << 5)
#define RTC_ISR_INITF (1u << 6)
#define RTC_ISR_INIT (1u << 7)

/* ---- Independent watchdog --------------------------------------------------------------- */
#define IWDG_KR MC_REG(0x40003000u)
#define IWDG_PR MC_REG(0x40003004u)
#define IWDG_RLR MC_REG(0x40003008u)
#define IWDG_SR MC_REG(0x4000300Cu)

/* Enable / disable an interrupt in the NVIC, with a priority (0 highest .. 15). */
/* After enabling a peripheral clock in RCC, wait before touching the peripheral
 * (ES0182 "delay after an RCC peripheral clock enabling": a DSB, not a read-back). */
static inline void mc_rcc_settle(void)
{
    __asm__ volatile("dsb" ::: "memory");
}

static inline void mc_nvic_enable(uint32_t irq, uint32_t prio)
{
    NVIC_IPR_BYTE(irq) = (uint8_t)(prio << 4);
    NVIC_ISER(irq >> 5) = 1u << (irq & 31u);
}

static inline void mc_nvic_disable(uint32_t irq)
{
    NVIC_ICER(irq >> 5) = 1u << (irq & 31u);
    __asm__ volatile("dsb\n isb" ::: "memory");
}

static inline uint32_t mc_irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void mc_irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

#endif
