/*
 * The counting method's self-check image: mcq_sc_root (selfcheck.S) twice between
 * the counting markers, once before and once after them, and the helper once outside
 * any root while counting; then the counts the parser must find, for selfcheck.sh to
 * compare (exactly).
 * SPDX-License-Identifier: MIT
 */
#include "mcq.h"
#include "selfcheck.h"

#define SC_CALLS 2u

int main(void)
{
    mcq_sc_root(); /* before counting: not counted */
    mcq_count_on();
    mcq_sc_shared(); /* no root on the stack: not counted */
    for (unsigned k = 0; k < SC_CALLS; k++) {
        mcq_sc_root();
    }
    mcq_count_off();
    mcq_sc_root(); /* after counting: not counted */

    mcq_puts("mcq expect ");
    mcq_put_u("sample", SC_CALLS * SC_EXPECT_SAMPLE);
    mcq_put_u("cycle", SC_CALLS * SC_EXPECT_CYCLE);
    mcq_put_u("window", SC_CALLS * SC_EXPECT_WINDOW);
    mcq_put_u("calls", SC_CALLS);
    mcq_put_u("jumps", SC_CALLS * SC_EXPECT_JUMPS);
    mcq_puts("\n");
    return 0;
}
