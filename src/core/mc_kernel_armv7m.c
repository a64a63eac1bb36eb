/*
 * metercore core: the per-sample loops of the chunked kernel in ARMv7-M assembly
 * (Cortex-M3/M4/M7, ARMv8-M Mainline), used when MC_KERNEL_ARMV7M_ASM is 1 (see
 * mc_core_internal.h). Empty on every other target.
 *
 * Why: GCC's -Os code for these loops loads the reference's cosine and sine one word at a
 * time with a separate pointer step, and steps the codes by a stride register even where
 * the stride is one: 10 instructions a channel sample, 5 a product, 11 a reference frame.
 * Here two samples go per iteration, and where the stride is one code (1P2W's separate
 * arrays) with doubleword loads (LDRD): 6.5 a channel sample, 3 a product at stride one
 * (7.5 and 5 at any other), 8.5 a reference frame (a four-word store, STM); the three
 * cross products of a frame (line-to-line voltages, the neutral) take 9 a frame for all
 * three, against 11; the crossing scan's two main states 6.5 a code, against 11 and 8 (see
 * mc_k7m_scan_arm for the one fact about the scan's state it relies on). The arithmetic is
 * the C form's in mc_meter_kernel.c exactly (SMLAL into 64-bit sums, Σx in 32 bits over a
 * chunk of at most MC_CHUNK = 64 frames). Each loop runs
 * at least once (callers pass a non-empty chunk). bench/qemu/kernel_asm.sh (ctest
 * qemu_kernel_m4f) checks every routine on a Cortex-M4 under QEMU against 64-bit sums
 * computed independently, with odd and even lengths and every stride from 1 to 8, and that
 * the meter's whole state is the same with the C loops.
 *
 * Calling convention: AAPCS. r4-r11 are restored; r12 is scratch. Nothing is called.
 * SPDX-License-Identifier: MIT
 */
#include "mc_core_internal.h"

#if MC_KERNEL_ARMV7M_ASM

/* Instruction counts per sample (or frame) are given after each routine's name. */
__asm__(
    "    .syntax unified\n"
    "    .thumb\n"

    /*
     * void mc_k7m_channel(x, stride_bytes, ref, ref_end, ch) - 6.5 a sample at stride 4,
     * else 7.5: the channel's cycle sums c_xx, c_xc, c_xs, c_x (int64 at byte offsets 0, 8, 16
     * and 24 of ch) += Σx², Σx·c, Σx·s, Σx.
     * r0 x, r1 stride (at stride 4: c), r2 ref, r3 end, r4:r5 Σx², r6:r7 Σx·c, r8:r9 Σx·s,
     * r10 x (x0), r11 c (x1), r12 Σx, lr s.
     */
    "    .section .text.mc_k7m_channel,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k7m_channel\n"
    "    .type mc_k7m_channel, %function\n"
    "    .thumb_func\n"
    "mc_k7m_channel:\n"
    "    push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "    movs r4, #0\n"
    "    movs r5, #0\n"
    "    movs r6, #0\n"
    "    movs r7, #0\n"
    "    mov r8, r4\n"
    "    mov r9, r4\n"
    "    mov r12, r4\n"
    "    cmp r1, #4\n"
    "    bne 3f\n"
    "    sub r10, r3, r2\n"
    "    tst r10, #8\n"          /* an odd number of frames: one first */
    "    beq 2f\n"
    "    ldr r10, [r0], #4\n"
    "    ldrd r11, lr, [r2], #8\n"
    "    add r12, r12, r10\n"
    "    smlal r4, r5, r10, r10\n"
    "    smlal r6, r7, r10, r11\n"
    "    smlal r8, r9, r10, lr\n"
    "    cmp r2, r3\n"
    "    beq 4f\n"
    "2:  ldrd r10, r11, [r0], #8\n" /* two codes */
    "    ldrd r1, lr, [r2], #8\n"
    "    add r12, r12, r10\n"
    "    smlal r4, r5, r10, r10\n"
    "    smlal r6, r7, r10, r1\n"
    "    smlal r8, r9, r10, lr\n"
    "    ldrd r1, lr, [r2], #8\n"
    "    add r12, r12, r11\n"
    "    smlal r4, r5, r11, r11\n"
    "    smlal r6, r7, r11, r1\n"
    "    smlal r8, r9, r11, lr\n"
    "    cmp r2, r3\n"
    "    bne 2b\n"
    "    b 4f\n"
    "3:  sub r10, r3, r2\n"        /* any stride: an odd number of frames, one first */
    "    tst r10, #8\n"
    "    beq 5f\n"
    "    ldr r10, [r0]\n"
    "    add r0, r0, r1\n"
    "    ldrd r11, lr, [r2], #8\n"
    "    add r12, r12, r10\n"
    "    smlal r4, r5, r10, r10\n"
    "    smlal r6, r7, r10, r11\n"
    "    smlal r8, r9, r10, lr\n"
    "    cmp r2, r3\n"
    "    beq 4f\n"
    "5:  ldr r10, [r0]\n"
    "    ldrd r11, lr, [r2], #8\n"
    "    add r12, r12, r10\n"
    "    smlal r4, r5, r10, r10\n"
    "    smlal r6, r7, r10, r11\n"
    "    smlal r8, r9, r10, lr\n"
    "    ldr r10, [r0, r1]\n"
    "    add r0, r0, r1, lsl #1\n"
    "    ldrd r11, lr, [r2], #8\n"
    "    add r12, r12, r10\n"
    "    smlal r4, r5, r10, r10\n"
    "    smlal r6, r7, r10, r11\n"
    "    smlal r8, r9, r10, lr\n"
    "    cmp r2, r3\n"
    "    bne 5b\n"
    "4:  ldr r1, [sp, #36]\n"       /* ch, the fifth argument, above the nine saved words */
    "    ldrd r10, r11, [r1]\n"
    "    adds r10, r10, r4\n"
    "    adc r11, r11, r5\n"
    "    strd r10, r11, [r1]\n"
    "    ldrd r10, r11, [r1, #8]\n"
    "    adds r10, r10, r6\n"
    "    adc r11, r11, r7\n"
    "    strd r10, r11, [r1, #8]\n"
    "    ldrd r10, r11, [r1, #16]\n"
    "    adds r10, r10, r8\n"
    "    adc r11, r11, r9\n"
    "    strd r10, r11, [r1, #16]\n"
    "    ldrd r10, r11, [r1, #24]\n"
    "    adds r10, r10, r12\n"
    "    adc r11, r11, r12, asr #31\n" /* Σx sign-extended */
    "    strd r10, r11, [r1, #24]\n"
    "    pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    "    .size mc_k7m_channel, .-mc_k7m_channel\n"

    /*
     * int64_t mc_k7m_product(a, b, stride_bytes, n) - 3 a sample at stride 4, else 5: Σa·b
     * over n >= 1 samples. r0 a, r1 b, r2 stride, r3 n, r4:r5 Σa·b, r6 r7 r12 lr codes.
     */
    "    .section .text.mc_k7m_product,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k7m_product\n"
    "    .type mc_k7m_product, %function\n"
    "    .thumb_func\n"
    "mc_k7m_product:\n"
    "    push {r4, r5, r6, r7, lr}\n"
    "    movs r4, #0\n"
    "    movs r5, #0\n"
    "    tst r3, #1\n"           /* an odd number of samples: one first */
    "    beq 1f\n"
    "    ldr r6, [r0]\n"
    "    ldr r7, [r1]\n"
    "    add r0, r0, r2\n"
    "    add r1, r1, r2\n"
    "    smlal r4, r5, r6, r7\n"
    "    subs r3, r3, #1\n"
    "    beq 4f\n"
    "1:  cmp r2, #4\n"
    "    bne 3f\n"
    "2:  ldrd r6, r7, [r0], #8\n"  /* stride 4 */
    "    ldrd r12, lr, [r1], #8\n"
    "    smlal r4, r5, r6, r12\n"
    "    smlal r4, r5, r7, lr\n"
    "    subs r3, r3, #2\n"
    "    bne 2b\n"
    "    b 4f\n"
    "3:  ldr r6, [r0]\n"            /* any stride */
    "    ldr r7, [r1]\n"
    "    ldr r12, [r0, r2]\n"
    "    ldr lr, [r1, r2]\n"
    "    add r0, r0, r2, lsl #1\n"
    "    add r1, r1, r2, lsl #1\n"
    "    smlal r4, r5, r6, r7\n"
    "    smlal r4, r5, r12, lr\n"
    "    subs r3, r3, #2\n"
    "    bne 3b\n"
    "4:  mov r0, r4\n"
    "    mov r1, r5\n"
    "    pop {r4, r5, r6, r7, pc}\n"
    "    .size mc_k7m_product, .-mc_k7m_product\n"

    /*
     * void mc_k7m_cross3(a, b_off, c_off, stride_bytes, n, out) - 9 a frame for three
     * products: out = { Σa·b, Σb·c, Σc·a } (int64) over n >= 1 frames, b and c at byte offsets
     * from a. r0 a, r1 b offset, r2 c offset, r3 stride, r4:r5 Σab, r6:r7 Σbc, r8:r9 Σca,
     * r10 r11 r12 codes, lr n.
     */
    "    .section .text.mc_k7m_cross3,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k7m_cross3\n"
    "    .type mc_k7m_cross3, %function\n"
    "    .thumb_func\n"
    "mc_k7m_cross3:\n"
    "    push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "    ldr lr, [sp, #36]\n"       /* n, the fifth argument */
    "    movs r4, #0\n"
    "    movs r5, #0\n"
    "    movs r6, #0\n"
    "    movs r7, #0\n"
    "    mov r8, r4\n"
    "    mov r9, r4\n"
    "1:  ldr r10, [r0]\n"
    "    ldr r11, [r0, r1]\n"
    "    ldr r12, [r0, r2]\n"
    "    add r0, r0, r3\n"
    "    smlal r4, r5, r10, r11\n"
    "    smlal r6, r7, r11, r12\n"
    "    smlal r8, r9, r12, r10\n"
    "    subs lr, lr, #1\n"
    "    bne 1b\n"
    "    ldr r1, [sp, #40]\n"       /* out, the sixth */
    "    strd r4, r5, [r1]\n"
    "    strd r6, r7, [r1, #8]\n"
    "    strd r8, r9, [r1, #16]\n"
    "    pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    "    .size mc_k7m_cross3, .-mc_k7m_cross3\n"

    /*
     * void mc_k7m_reference(ref, ref_end, st) - 8.5 a frame: the pairs (c, s) of the packed
     * table words (c << 16 | s) at phase >> 24, phase += dphase; st->sc, st->ss their sums.
     * r0 ref, r1 end, r2 table, r3 phase, r4 dphase, r5 Σc, r6 Σs, r7 index/word,
     * r8 r9 (c, s), r10 r11 (c, s) of the second frame, lr st.
     */
    "    .section .text.mc_k7m_reference,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k7m_reference\n"
    "    .type mc_k7m_reference, %function\n"
    "    .thumb_func\n"
    "mc_k7m_reference:\n"
    "    push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n"
    "    mov lr, r2\n"
    "    ldm r2, {r2, r3, r4}\n"    /* table, phase, dphase */
    "    movs r5, #0\n"
    "    movs r6, #0\n"
    "    sub r7, r1, r0\n"
    "    tst r7, #8\n"           /* an odd number of frames: one first */
    "    beq 2f\n"
    "    lsr r7, r3, #24\n"
    "    add r3, r3, r4\n"
    "    ldr r7, [r2, r7, lsl #2]\n"
    "    asr r8, r7, #16\n"
    "    sxth r9, r7\n"
    "    stmia r0!, {r8, r9}\n"
    "    add r5, r5, r8\n"
    "    add r6, r6, r9\n"
    "    cmp r0, r1\n"
    "    beq 3f\n"
    "2:  lsr r7, r3, #24\n"
    "    add r3, r3, r4\n"
    "    ldr r7, [r2, r7, lsl #2]\n"
    "    asr r8, r7, #16\n"
    "    sxth r9, r7\n"
    "    lsr r7, r3, #24\n"
    "    add r3, r3, r4\n"
    "    ldr r7, [r2, r7, lsl #2]\n"
    "    asr r10, r7, #16\n"
    "    sxth r11, r7\n"
    "    stmia r0!, {r8, r9, r10, r11}\n"
    "    add r5, r5, r8\n"
    "    add r5, r5, r10\n"
    "    add r6, r6, r9\n"
    "    add r6, r6, r11\n"
    "    cmp r0, r1\n"
    "    bne 2b\n"
    "3:  str r3, [lr, #4]\n"        /* phase */
    "    strd r5, r6, [lr, #12]\n"  /* sc, ss */
    "    pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n"
    "    .size mc_k7m_reference, .-mc_k7m_reference\n"

    /*
     * const int32_t *mc_k7m_scan_arm(p, stop, thr, lohi) - 6.5 a sample: the crossing scan
     * not armed (mc_meter_kernel.c, scan_arm()) over codes one word apart: up to and
     * including the first code below thr, lohi[0] and lohi[1] the minimum and maximum of the
     * codes seen; returns where it stopped. Needs lohi[0] >= thr on entry (the caller's
     * state guarantees it): then a code below thr is always a new minimum, and only a new
     * minimum is compared with thr. r0 p, r1 stop, r2 thr, r3 lohi, r4 lo, r5 hi, r6 r7 codes.
     */
    "    .section .text.mc_k7m_scan_arm,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k7m_scan_arm\n"
    "    .type mc_k7m_scan_arm, %function\n"
    "    .thumb_func\n"
    "mc_k7m_scan_arm:\n"
    "    push {r4, r5, r6, r7, lr}\n"
    "    ldrd r4, r5, [r3]\n"
    "    sub r6, r1, r0\n"
    "    tst r6, #4\n"           /* an odd number of codes: one first */
    "    beq 2f\n"
    "    ldr r6, [r0], #4\n"
    "    cmp r6, r5\n"
    "    it gt\n"
    "    movgt r5, r6\n"
    "    cmp r6, r4\n"
    "    bge 2f\n"
    "    mov r4, r6\n"
    "    cmp r6, r2\n"
    "    blt 9f\n"
    "2:  cmp r0, r1\n"
    "    beq 9f\n"
    "3:  ldrd r6, r7, [r0], #8\n"
    "    cmp r6, r5\n"
    "    it gt\n"
    "    movgt r5, r6\n"
    "    cmp r6, r4\n"
    "    blt 5f\n"
    "4:  cmp r7, r5\n"
    "    it gt\n"
    "    movgt r5, r7\n"
    "    cmp r7, r4\n"
    "    blt 6f\n"
    "    cmp r0, r1\n"
    "    bne 3b\n"
    "    b 9f\n"
    "5:  mov r4, r6\n"             /* the first a new minimum */
    "    cmp r6, r2\n"
    "    bge 4b\n"
    "    sub r0, r0, #4\n"         /* armed at the first: stop after it */
    "    b 9f\n"
    "6:  mov r4, r7\n"             /* the second a new minimum */
    "    cmp r7, r2\n"
    "    blt 9f\n"                 /* armed at the second */
    "    cmp r0, r1\n"
    "    bne 3b\n"
    "9:  strd r4, r5, [r3]\n"
    "    pop {r4, r5, r6, r7, pc}\n"
    "    .size mc_k7m_scan_arm, .-mc_k7m_scan_arm\n"

    /*
     * const int32_t *mc_k7m_scan_rise(p, stop, dc, lo) - 6.5 a sample: the crossing scan
     * armed below dc (scan_rise()) over codes one word apart: up to, not including, the
     * first code at or above dc, *lo the minimum of the codes before it; returns where it
     * stopped. r0 p, r1 stop, r2 dc, r3 lo, r4 minimum, r5 r6 codes.
     */
    "    .section .text.mc_k7m_scan_rise,\"ax\",%progbits\n"
    "    .align 1\n"
    "    .global mc_k7m_scan_rise\n"
    "    .type mc_k7m_scan_rise, %function\n"
    "    .thumb_func\n"
    "mc_k7m_scan_rise:\n"
    "    push {r4, r5, r6, lr}\n"
    "    ldr r4, [r3]\n"
    "    sub r5, r1, r0\n"
    "    tst r5, #4\n"           /* an odd number of codes: one first */
    "    beq 2f\n"
    "    ldr r5, [r0]\n"
    "    cmp r5, r2\n"
    "    bge 9f\n"
    "    add r0, r0, #4\n"
    "    cmp r5, r4\n"
    "    it lt\n"
    "    movlt r4, r5\n"
    "2:  cmp r0, r1\n"
    "    beq 9f\n"
    "3:  ldrd r5, r6, [r0], #8\n"
    "    cmp r5, r2\n"
    "    bge 7f\n"
    "    cmp r5, r4\n"
    "    it lt\n"
    "    movlt r4, r5\n"
    "    cmp r6, r2\n"
    "    bge 8f\n"
    "    cmp r6, r4\n"
    "    it lt\n"
    "    movlt r4, r6\n"
    "    cmp r0, r1\n"
    "    bne 3b\n"
    "    b 9f\n"
    "7:  sub r0, r0, #4\n"         /* at the first: back two codes */
    "8:  sub r0, r0, #4\n"         /* at the second: back one */
    "9:  str r4, [r3]\n"
    "    pop {r4, r5, r6, pc}\n"
    "    .size mc_k7m_scan_rise, .-mc_k7m_scan_rise\n"

    "    .text\n");

#else

/* ISO C wants a translation unit to declare something. */
typedef int mc_kernel_armv7m_unused_t;

#endif
