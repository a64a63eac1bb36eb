/*
 * The counting method's self-check: loop lengths of selfcheck.S, and the instruction
 * counts they give, derived instruction by instruction (see selfcheck.S).
 * SPDX-License-Identifier: MIT
 */
#ifndef MCQ_SELFCHECK_H
#define MCQ_SELFCHECK_H

#define SC_OUTER 7    /* root: outer iterations, one call of the "cycle" function each */
#define SC_INNER 5    /* root: inner loop per outer iteration (subs, bne) */
#define SC_ENTRY 4    /* root: iterations of the loop whose head is a function entry */
#define SC_WLOOP 3    /* window: iterations calling the shared helper */
#define SC_LEAF 3     /* leaf (tail-called by window): loop iterations */

/* Thumb-2 (IT block in the cycle function) and FPU (two FP instructions there). */
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB >= 2
#define SC_T2 1
#else
#define SC_T2 0
#endif
#if defined(__ARM_FP)
#define SC_FP 1
#else
#define SC_FP 0
#endif

#ifndef __ASSEMBLER__
/* Odd and even values of the outer counter (SC_OUTER down to 1): the cycle function
 * calls the window function for odd ones. */
#define SC_ODD ((SC_OUTER + 1) / 2)
#define SC_EVEN (SC_OUTER / 2)
/* Per call of mcq_sc_root, see selfcheck.S for each term. */
#define SC_EXPECT_SAMPLE (6 + SC_OUTER * (5 + 2 * SC_INNER) + (2 * SC_ENTRY + 1) + 2)
#define SC_CYCLE_CALL (6 + 2 + 4 * SC_T2 + 2 * SC_FP)
#define SC_EXPECT_CYCLE (SC_EVEN * SC_CYCLE_CALL + SC_ODD * (SC_CYCLE_CALL + 1))
#define SC_EXPECT_WINDOW (SC_ODD * (2 + 5 * SC_WLOOP + 4 + (2 + 2 * SC_LEAF) + 3))
#define SC_EXPECT_JUMPS SC_ODD

void mcq_sc_root(void);
void mcq_sc_shared(void);
#endif

#endif /* MCQ_SELFCHECK_H */
