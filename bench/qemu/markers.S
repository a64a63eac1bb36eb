/*
 * Counting markers: mcq_count (the host parser) counts from an entry of
 * mcq_count_on to an entry of mcq_count_off. Assembly, so that they stay two
 * functions at two addresses (a compiler may fold identical empty functions).
 * SPDX-License-Identifier: MIT
 */
    .syntax unified
    .thumb
    .text

    .align 1
    .global mcq_count_on
    .type mcq_count_on, %function
    .thumb_func
mcq_count_on:
    bx lr
    .size mcq_count_on, . - mcq_count_on

    .align 1
    .global mcq_count_off
    .type mcq_count_off, %function
    .thumb_func
mcq_count_off:
    nop
    bx lr
    .size mcq_count_off, . - mcq_count_off
