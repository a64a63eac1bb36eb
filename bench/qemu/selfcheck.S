/*
 * The counting method's self-check: functions of known instruction counts in the
 * roles of the metering core (root = mc_meter_process, cycle = the per-cycle
 * function, window = the per-window function), ARMv6-M plus, on the M4F, an IT
 * block and two FP instructions. The counts in the comments, summed in
 * selfcheck.h, are what the parser must report, exactly. What they exercise:
 * nested calls and returns, a helper counted in whichever class calls it, a loop
 * whose head is a function's entry (not a call), a tail call (window -> leaf, whose
 * return goes straight to the cycle function), a call into the middle of another
 * function's body (counted where it is called from), conditional instructions of an
 * IT block whose condition fails (they are executed instructions too).
 * SPDX-License-Identifier: MIT
 */
#include "selfcheck.h"

    .syntax unified
    .thumb
    .text

/* root: 6 + SC_OUTER * (5 + 2 * SC_INNER), plus the entry loop and the helper */
    .align 1
    .global mcq_sc_root
    .type mcq_sc_root, %function
    .thumb_func
mcq_sc_root:
    push {r4, r5, lr}               /* 1 */
    movs r4, #SC_OUTER              /* 1 */
1:  movs r5, #SC_INNER              /* 1   per outer iteration */
2:  subs r5, #1                     /* 1   per inner iteration */
    bne 2b                          /* 1   per inner iteration */
    movs r0, r4                     /* 1   per outer iteration */
    bl mcq_sc_cycle                 /* 1   per outer iteration */
    subs r4, #1                     /* 1   per outer iteration */
    bne 1b                          /* 1   per outer iteration */
    movs r0, #SC_ENTRY              /* 1 */
    bl mcq_sc_entry_loop            /* 1   + 2 * SC_ENTRY + 1 */
    bl mcq_sc_shared                /* 1   + 2 */
    pop {r4, r5, pc}                /* 1 */
    .size mcq_sc_root, . - mcq_sc_root

/* A loop whose head is the function's entry: 2 * r0 + 1 */
    .align 1
    .global mcq_sc_entry_loop
    .type mcq_sc_entry_loop, %function
    .thumb_func
mcq_sc_entry_loop:
    subs r0, #1                     /* 1   per iteration */
    bne mcq_sc_entry_loop           /* 1   per iteration */
    bx lr                           /* 1 */
    .size mcq_sc_entry_loop, . - mcq_sc_entry_loop

/* Called from every class: 2, counted in the caller's */
    .align 1
    .global mcq_sc_shared
    .type mcq_sc_shared, %function
    .thumb_func
mcq_sc_shared:
    adds r0, #1                     /* 1 */
    bx lr                           /* 1 */
    .size mcq_sc_shared, . - mcq_sc_shared

/* cycle, r0 = outer counter: 8 + 4 * SC_T2 + 2 * SC_FP with the helper, and for an
 * odd counter 1 more plus the window function */
    .align 1
    .global mcq_sc_cycle
    .type mcq_sc_cycle, %function
    .thumb_func
mcq_sc_cycle:
    push {r4, lr}                   /* 1 */
    movs r4, r0                     /* 1 */
    bl mcq_sc_shared                /* 1   + 2 */
#if SC_T2
    cmp r4, #3                      /* 1 */
    ite lo                          /* 1 */
    movlo r1, #1                    /* 1   executed, condition passes or fails */
    movhs r1, #2                    /* 1   executed, condition passes or fails */
#endif
#if SC_FP
    vmov s0, r4                     /* 1 */
    vadd.f32 s0, s0, s0             /* 1 */
#endif
    lsrs r1, r4, #1                 /* 1   carry = bit 0 */
    bcc 1f                          /* 1 */
    bl mcq_sc_window                /* 1   odd counter only, + the window function */
1:  pop {r4, pc}                    /* 1 */
    .size mcq_sc_cycle, . - mcq_sc_cycle

/* window: 2 + 5 * SC_WLOOP + 4 + the leaf (2 + 2 * SC_LEAF) + the mid-body call (3) */
    .align 1
    .global mcq_sc_window
    .type mcq_sc_window, %function
    .thumb_func
mcq_sc_window:
    push {r4, lr}                   /* 1 */
    movs r4, #SC_WLOOP              /* 1 */
1:  bl mcq_sc_shared                /* 1   + 2, per iteration */
    subs r4, #1                     /* 1   per iteration */
    bne 1b                          /* 1   per iteration */
    bl .Lmid                        /* 1   + 2: into the body of mcq_sc_other */
    pop {r4}                        /* 1 */
    pop {r3}                        /* 1 */
    mov lr, r3                      /* 1 */
    b mcq_sc_leaf                   /* 1   tail call; the leaf returns to mcq_sc_cycle */
    .size mcq_sc_window, . - mcq_sc_window

    .align 1
    .global mcq_sc_leaf
    .type mcq_sc_leaf, %function
    .thumb_func
mcq_sc_leaf:
    movs r1, #SC_LEAF               /* 1 */
1:  subs r1, #1                     /* 1   per iteration */
    bne 1b                          /* 1   per iteration */
    bx lr                           /* 1 */
    .size mcq_sc_leaf, . - mcq_sc_leaf

/* Never called at its entry; its second half is reached from mcq_sc_window. */
    .align 1
    .global mcq_sc_other
    .type mcq_sc_other, %function
    .thumb_func
mcq_sc_other:
    movs r0, #0
    adds r0, #2
.Lmid:
    adds r0, #1                     /* 1 */
    bx lr                           /* 1 */
    .size mcq_sc_other, . - mcq_sc_other
