/*
 * metercore core: the per-sample loops of the chunked kernel in ARMv6-M assembly
 * (Cortex-M0/M0+, ARMv8-M Baseline), used when MC_KERNEL_ARMV6M_ASM is 1 (see
 * mc_core_internal.h). Empty on every other target.
 *
 * Why: these loops are where a Cortex-M0 spends most of its per-sample time, and GCC's
 * -Os code for them keeps the stride, the end and one or two split halves on the stack
 * (28 and 29 instructions a sample for a product and a channel's DFT step; 20 here and 17
 * for a product formed as a square). The arithmetic is the C form's in
 * mc_meter_kernel.c exactly: 12-bit split halves and int32 partial sums over a chunk of at
 * most MC_CHUNK (32) frames, combined into int64 by the caller. Each loop runs at least once
 * (callers pass a non-empty chunk). bench/qemu/kernel_asm.sh (ctest qemu_kernel_m0) checks
 * every routine on a Cortex-M0 under QEMU against 64-bit sums computed independently, on
 * random and extreme codes, and that the meter's whole state is the same with the C loops.
 *
 * Calling convention: AAPCS. r4-r11 are restored; r12 is scratch. No stack alignment is
 * needed inside (nothing is called).
 * SPDX-License-Identifier: MIT
 */
#include "mc_core_internal.h"

#if MC_KERNEL_ARMV6M_ASM

/* Epilogue step: the accumulators r8, r9, r10 into out[0..2] (out in r0; r1 is scratch). */
#define MC_K6M_STORE_R8_R10 \
    "    mov r1, r8\n" \
    "    str r1, [r0, #0]\n" \
    "    mov r1, r9\n" \
    "    str r1, [r0, #4]\n" \
    "    mov r1, r10\n" \
    "    str r1, [r0, #8]\n"

/* Instruction counts per loop iteration are given after each routine's name. */
__asm__(
    "    .syntax unified\n"
    "    .thumb\n"

    /*
     * mc_k6m_squares(x, stride_bytes, x_end, out[4]) - 16 a sample:
     * out = { Σx, Σh·h, Σh·l, Σl·l } with x = h·2^12 + l, l the low 12 bits as signed.
     * r0 x, r1 stride, r2 end, r3 Σhh, r4 x/h, r5 l, r6 scratch, r7 Σll, r8 Σhl, r12 Σx.
     */
    "    .section .text.mc_k6m_squares,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k6m_squares\n"
    "    .type mc_k6m_squares, %function\n"
    "    .thumb_func\n"
    "mc_k6m_squares:\n"
    "    push {r3, r4, r5, r6, r7, lr}\n"
    "    mov r4, r8\n"
    "    push {r4}\n"
    "    movs r3, #0\n"
    "    movs r7, #0\n"
    "    mov r8, r3\n"
    "    mov r12, r3\n"
    "1:  ldr r4, [r0]\n"
    "    adds r0, r0, r1\n"
    "    add r12, r4\n"
    "    lsls r5, r4, #20\n"
    "    asrs r5, r5, #20\n"
    "    subs r4, r4, r5\n"
    "    asrs r4, r4, #12\n"
    "    movs r6, r4\n"
    "    muls r6, r4, r6\n"
    "    adds r3, r3, r6\n"
    "    muls r4, r5, r4\n"
    "    add r8, r4\n"
    "    muls r5, r5, r5\n"
    "    adds r7, r7, r5\n"
    "    cmp r0, r2\n"
    "    bne 1b\n"
    "    ldr r0, [sp, #4]\n"
    "    mov r1, r12\n"
    "    str r1, [r0, #0]\n"
    "    str r3, [r0, #4]\n"
    "    mov r1, r8\n"
    "    str r1, [r0, #8]\n"
    "    str r7, [r0, #12]\n"
    "    pop {r4}\n"
    "    mov r8, r4\n"
    "    pop {r3, r4, r5, r6, r7, pc}\n"
    "    .size mc_k6m_squares, . - mc_k6m_squares\n"

    /*
     * mc_k6m_dft(x, stride_bytes, ref, ref_end, out[4]) - 20 a sample:
     * out = { Σh·c, Σl·c, Σh·s, Σl·s } over the reference pairs (c, s) at ref.
     * r0 x, r1 scratch, r2 ref, r3 end, r4 x/h, r5 l, r6 c, r7 s, r12 stride,
     * r8 Σhc, r9 Σlc, r10 Σhs, r11 Σls; out is the fifth argument, on the stack.
     */
    "    .section .text.mc_k6m_dft,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k6m_dft\n"
    "    .type mc_k6m_dft, %function\n"
    "    .thumb_func\n"
    "mc_k6m_dft:\n"
    "    push {r4, r5, r6, r7, lr}\n"
    "    mov r4, r8\n"
    "    mov r5, r9\n"
    "    mov r6, r10\n"
    "    mov r7, r11\n"
    "    push {r4, r5, r6, r7}\n"
    "    mov r12, r1\n"
    "    movs r4, #0\n"
    "    mov r8, r4\n"
    "    mov r9, r4\n"
    "    mov r10, r4\n"
    "    mov r11, r4\n"
    "1:  ldr r4, [r0]\n"
    "    add r0, r12\n"
    "    ldr r6, [r2, #0]\n"
    "    ldr r7, [r2, #4]\n"
    "    adds r2, #8\n"
    "    lsls r5, r4, #20\n"
    "    asrs r5, r5, #20\n"
    "    subs r4, r4, r5\n"
    "    asrs r4, r4, #12\n"
    "    movs r1, r4\n"
    "    muls r1, r6, r1\n"
    "    add r8, r1\n"
    "    muls r6, r5, r6\n"
    "    add r9, r6\n"
    "    muls r5, r7, r5\n"
    "    add r11, r5\n"
    "    muls r4, r7, r4\n"
    "    add r10, r4\n"
    "    cmp r2, r3\n"
    "    bne 1b\n"
    "    ldr r0, [sp, #36]\n"
    MC_K6M_STORE_R8_R10
    "    mov r1, r11\n"
    "    str r1, [r0, #12]\n"
    "    pop {r4, r5, r6, r7}\n"
    "    mov r8, r4\n"
    "    mov r9, r5\n"
    "    mov r10, r6\n"
    "    mov r11, r7\n"
    "    pop {r4, r5, r6, r7, pc}\n"
    "    .size mc_k6m_dft, . - mc_k6m_dft\n"

    /*
     * mc_k6m_sum_squares(xa, b_minus_a_bytes, stride_bytes, xa_end, out[3]) - 17 a sample:
     * out = { Σh·h, Σh·l, Σl·l } of the sums a + b = h·2^12 + l, b read at a fixed byte
     * offset from a (the same frame, or a second array).
     * r0 a, r1 offset, r2 stride, r3 end, r4 a+b / h, r5 b / scratch, r6 l,
     * r8 Σhh, r9 Σhl, r10 Σll; out is the fifth argument, on the stack.
     */
    "    .section .text.mc_k6m_sum_squares,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k6m_sum_squares\n"
    "    .type mc_k6m_sum_squares, %function\n"
    "    .thumb_func\n"
    "mc_k6m_sum_squares:\n"
    "    push {r4, r5, r6, r7, lr}\n"
    "    mov r4, r8\n"
    "    mov r5, r9\n"
    "    mov r6, r10\n"
    "    push {r4, r5, r6}\n"
    "    movs r4, #0\n"
    "    mov r8, r4\n"
    "    mov r9, r4\n"
    "    mov r10, r4\n"
    "1:  ldr r4, [r0]\n"
    "    ldr r5, [r0, r1]\n"
    "    adds r0, r0, r2\n"
    "    adds r4, r4, r5\n"
    "    lsls r6, r4, #20\n"
    "    asrs r6, r6, #20\n"
    "    subs r4, r4, r6\n"
    "    asrs r4, r4, #12\n"
    "    movs r5, r4\n"
    "    muls r5, r4, r5\n"
    "    add r8, r5\n"
    "    muls r4, r6, r4\n"
    "    add r9, r4\n"
    "    muls r6, r6, r6\n"
    "    add r10, r6\n"
    "    cmp r0, r3\n"
    "    bne 1b\n"
    "    ldr r0, [sp, #32]\n"
    MC_K6M_STORE_R8_R10
    "    pop {r4, r5, r6}\n"
    "    mov r8, r4\n"
    "    mov r9, r5\n"
    "    mov r10, r6\n"
    "    pop {r4, r5, r6, r7, pc}\n"
    "    .size mc_k6m_sum_squares, . - mc_k6m_sum_squares\n"

    /*
     * mc_k6m_reference(ref, ref_end, st) - 11 a frame: the chunk's DFT reference pairs
     * (c, s) from the packed table, st = { table, phase, dphase, Σc, Σs } (phase is
     * advanced, Σc and Σs are the chunk's).
     * r0 ref, r1 st, r2 phase, r3 dphase, r4 index, r5 c, r6 word / s, r7 table,
     * r8 Σc, r9 Σs, r12 end.
     */
    "    .section .text.mc_k6m_reference,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k6m_reference\n"
    "    .type mc_k6m_reference, %function\n"
    "    .thumb_func\n"
    "mc_k6m_reference:\n"
    "    push {r4, r5, r6, r7, lr}\n"
    "    mov r4, r8\n"
    "    mov r5, r9\n"
    "    push {r4, r5}\n"
    "    mov r12, r1\n"
    "    mov r1, r2\n"
    "    ldr r7, [r1, #0]\n"
    "    ldr r2, [r1, #4]\n"
    "    ldr r3, [r1, #8]\n"
    "    movs r4, #0\n"
    "    mov r8, r4\n"
    "    mov r9, r4\n"
    "1:  lsrs r4, r2, #24\n"
    "    lsls r4, r4, #2\n"
    "    ldr r6, [r7, r4]\n"
    "    adds r2, r2, r3\n"
    "    asrs r5, r6, #16\n"
    "    sxth r6, r6\n"
    "    stmia r0!, {r5, r6}\n"
    "    add r8, r5\n"
    "    add r9, r6\n"
    "    cmp r0, r12\n"
    "    bne 1b\n"
    "    str r2, [r1, #4]\n"
    "    mov r4, r8\n"
    "    str r4, [r1, #12]\n"
    "    mov r4, r9\n"
    "    str r4, [r1, #16]\n"
    "    pop {r4, r5}\n"
    "    mov r8, r4\n"
    "    mov r9, r5\n"
    "    pop {r4, r5, r6, r7, pc}\n"
    "    .size mc_k6m_reference, . - mc_k6m_reference\n"
    "    .text\n");

#else

/* ISO C wants a translation unit to declare something. */
typedef int mc_kernel_armv6m_unused_t;

#endif
