/*
 * kernel_m0_call(fn, args[5], regs_out[8]): call fn(args[0..3], args[4] on the stack) with
 * r4-r11 set to known patterns, then store what r4-r11 hold after the call, so that
 * kernel_m0.c can check that an assembly routine restores every callee-saved register
 * (AAPCS). ARMv6-M.
 * SPDX-License-Identifier: MIT
 */
    .syntax unified
    .thumb
    .text
    .align 1
    .global kernel_m0_call
    .type kernel_m0_call, %function
    .thumb_func
kernel_m0_call:
    push {r4, r5, r6, r7, lr}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    push {r4, r5, r6, r7}
    push {r0, r2}               /* [sp] fn, [sp+4] out (below the fifth argument) */
    ldr r3, [r1, #16]
    push {r3}                   /* the fifth argument, at the callee's sp */
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
    ldr r0, [sp, #8]            /* out */
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
    add sp, #12
    pop {r4, r5, r6, r7}
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    pop {r4, r5, r6, r7, pc}
    .ltorg
    .size kernel_m0_call, . - kernel_m0_call
