/*
 * Bare-metal start of the QEMU counting images (netduinoplus2: Cortex-M4F,
 * microbit: Cortex-M0), ARMv6-M instructions only so that one file serves both.
 *
 * The vector table's 16 system entries: the initial stack pointer, the reset
 * handler and, for every exception, mcq_fault (nothing enables an interrupt).
 * Reset: enable the FPU where there is one (CPACR: CP10 and CP11 full access;
 * the hard-float code must not run before), copy .data from flash, clear .bss,
 * call main() and end QEMU with main's return value (semihosting SYS_EXIT).
 * Symbols come from sections.ld.
 * SPDX-License-Identifier: MIT
 */
    .syntax unified
    .thumb

    .section .vectors, "a", %progbits
    .global mcq_vectors
mcq_vectors:
    .word __stack_top
    .word mcq_reset
    .rept 14
    .word mcq_fault
    .endr

    .text
    .align 1
    .global mcq_reset
    .type mcq_reset, %function
    .thumb_func
mcq_reset:
#if defined(__ARM_FP)
    ldr r0, =0xE000ED88         /* CPACR */
    ldr r1, [r0]
    ldr r2, =0x00F00000         /* CP10, CP11: full access */
    orrs r1, r2
    str r1, [r0]
    dsb
    isb
#endif
    ldr r0, =__data_start
    ldr r1, =__data_end
    ldr r2, =__data_load
1:  cmp r0, r1
    bhs 2f
    ldr r3, [r2]
    str r3, [r0]
    adds r0, #4
    adds r2, #4
    b 1b
2:  ldr r0, =__bss_start
    ldr r1, =__bss_end
    movs r3, #0
3:  cmp r0, r1
    bhs 4f
    str r3, [r0]
    adds r0, #4
    b 3b
4:  bl main
    bl mcq_exit                 /* does not return */
    b .
    .size mcq_reset, . - mcq_reset
    .ltorg

    /* Any exception: report it and end QEMU with a failure. */
    .align 1
    .global mcq_fault
    .type mcq_fault, %function
    .thumb_func
mcq_fault:
    ldr r0, =mcq_fault_msg
    bl mcq_puts
    movs r0, #1
    bl mcq_exit
    b .
    .size mcq_fault, . - mcq_fault
    .ltorg

    .section .rodata.mcq_fault_msg, "a", %progbits
mcq_fault_msg:
    .asciz "mcq: fault (an exception was taken)\n"
