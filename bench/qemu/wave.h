/*
 * The sample table of the QEMU counting images (written by gen_wave.c on the host,
 * read by harness.c on the target): its signal, shared by both.
 * SPDX-License-Identifier: MIT
 */
#ifndef MCQ_WAVE_H
#define MCQ_WAVE_H

#include <stdint.h>

#define MCQ_WAVE_FS 4000u     /* samples per second */
#define MCQ_WAVE_N 7925u      /* frames in the table ... */
#define MCQ_WAVE_CYCLES 99u   /* ... holding this many whole cycles: 49.9685 Hz */
#define MCQ_WAVE_U_RMS 230.0
#define MCQ_WAVE_I_RMS 5.0
#define MCQ_WAVE_U_PEAK 6291456.0 /* codes: 3/4 of 2^23 */
#define MCQ_WAVE_I_PEAK 300000.0  /* codes */
#define MCQ_WAVE_PF 0.8           /* current lagging */
#define MCQ_WAVE_START_RAD 1.0    /* phase of U1 at frame 0 */

/* 1P2W: MCQ_WAVE_N voltage codes, then MCQ_WAVE_N current codes.
 * 3P4W: MCQ_WAVE_N frames of U1 U2 U3 I1 I2 I3. */
extern const int32_t mcq_wave[];

#endif /* MCQ_WAVE_H */
