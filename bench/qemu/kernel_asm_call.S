/*
 * kernel_asm_call(fn, args[6], regs_out[10]): call fn(args[0..3], args[4] and args[5] on
 * the stack) with r4-r11 set to known patterns, then store what r4-r11 hold after the call
 * (regs_out[0..7]) and what it returned in r0 and r1 (regs_out[8], regs_out[9]), so that
 * kernel_asm.c can check that an assembly routine restores every callee-saved register
 * (AAPCS) and read a 64-bit result. ARMv6-M instructions only: it runs on the Cortex-M0 and
 * on the Cortex-M4 machine.
 * SPDX-License-Identifier: MIT
 */
    .syntax unified
    .thumb
    .text
    .align 1
    .global kernel_asm_call
    .type kernel_asm_call, %function
    .thumb_func
kernel_asm_call:
    push {r4, r5, r6, r7, lr}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    push {r4, r5, r6, r7}
    push {r0, r1, r2}           /* [sp] fn, [sp+4] args, [sp+8] out (above the stack arguments) */
    ldr r3, [r1, #16]
    ldr r4, [r1, #20]
    push {r3, r4}               /* the fifth and sixth arguments, at the callee's sp; 14 words pushed */
    mov r12, r0
    ldr r4, =0x88888888
    mov r8, r4
    ldr r4, =0x99999999
    mov r9, r4
    ldr r4, =0xAAAAAAAA
    mov r10, r4
    ldr r4, =0xBBBBBBBB
    mov r11, r4
    ldr r4, =0x44444444
    ldr r5, =0x55555555
    ldr r6, =0x66666666
    ldr r7, =0x77777777
    ldr r0, [r1, #0]
    ldr r2, [r1, #8]
    ldr r3, [r1, #12]
    ldr r1, [r1, #4]
    blx r12
    ldr r2, [sp, #16]           /* out */
    str r0, [r2, #32]
    str r1, [r2, #36]
    mov r0, r2
    str r4, [r0, #0]
    str r5, [r0, #4]
    str r6, [r0, #8]
    str r7, [r0, #12]
    mov r1, r8
    str r1, [r0, #16]
    mov r1, r9
    str r1, [r0, #20]
    mov r1, r10
    str r1, [r0, #24]
    mov r1, r11
    str r1, [r0, #28]
    add sp, #20
    pop {r4, r5, r6, r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4, r5, r6, r7, pc}
    .ltorg
    .size kernel_asm_call, . - kernel_asm_call
