/*
 * STM32F4 reset path and vector table, in C.
 *
 * Reset_Handler enables the FPU (the library is built for the hard-float ABI),
 * copies .data from flash, clears .bss and calls main(). Every handler is a
 * weak alias of Default_Handler, so a board defines only the ones it uses.
 * Symbols come from stm32f4_sections.ld.
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>

#include "mc_stm32f4.h"
#include "stm32f4_regs.h"

extern uint32_t __stack_top;
extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end;
int main(void);

void Reset_Handler(void);
/* An unexpected interrupt or fault: stop here, where a debugger shows it; the
 * watchdog (if the board started it) resets the chip. */
void Default_Handler(void)
{
    for (;;) {
    }
}

#define MC_WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("Default_Handler")))
MC_WEAK_HANDLER(NMI_Handler);
MC_WEAK_HANDLER(HardFault_Handler);
MC_WEAK_HANDLER(MemManage_Handler);
MC_WEAK_HANDLER(BusFault_Handler);
MC_WEAK_HANDLER(UsageFault_Handler);
MC_WEAK_HANDLER(SVC_Handler);
MC_WEAK_HANDLER(DebugMon_Handler);
MC_WEAK_HANDLER(PendSV_Handler);
MC_WEAK_HANDLER(SysTick_Handler);
MC_WEAK_HANDLER(PVD_IRQHandler);
MC_WEAK_HANDLER(TIM2_IRQHandler);
MC_WEAK_HANDLER(USART1_IRQHandler);
MC_WEAK_HANDLER(USART2_IRQHandler);
MC_WEAK_HANDLER(TIM5_IRQHandler);
MC_WEAK_HANDLER(DMA2_Stream0_IRQHandler);

typedef void (*mc_vector_t)(void);

/* 16 system exceptions + 82 interrupts of the F405/F407. Every slot not named
 * below (reserved ones included) is Default_Handler: the GNU range designator
 * fills them, and the named entries then override it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used)) const mc_vector_t mc_vectors[16u + IRQ_COUNT] = {
    [0] = (mc_vector_t)(uintptr_t)&__stack_top,
    [1] = Reset_Handler,
    [2 ... 16u + IRQ_COUNT - 1u] = Default_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 + IRQ_PVD] = PVD_IRQHandler,
    [16 + IRQ_TIM2] = TIM2_IRQHandler,
    [16 + IRQ_USART1] = USART1_IRQHandler,
    [16 + IRQ_USART2] = USART2_IRQHandler,
    [16 + IRQ_TIM5] = TIM5_IRQHandler,
    [16 + IRQ_DMA2_STREAM0] = DMA2_Stream0_IRQHandler,
};
#pragma GCC diagnostic pop

void Reset_Handler(void)
{
    mc_f4_fpu_enable();
    const uint32_t *src = &__data_load;
    for (uint32_t *dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0u;
    }
    (void)main();
    mc_f4_reset();
}
