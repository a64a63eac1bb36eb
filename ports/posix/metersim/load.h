/*
 * metersim: the loads the simulated meter measures, and their sample synthesis.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERSIM_LOAD_H
#define METERSIM_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_calendar.h"

/* Harmonic orders of the synthesized current: 1, 3, 5, 7. */
#define MS_HARMONICS 4

/* What is on the line: voltage and current as RMS per harmonic with phases. */
typedef struct ms_wave {
    double freq;                    /* mains frequency, Hz */
    double u;                       /* fundamental voltage, V rms */
    double u3;                      /* 3rd harmonic voltage, V rms (in phase) */
    double i[MS_HARMONICS];         /* current of order 1, 3, 5, 7, A rms */
    double lag_deg[MS_HARMONICS];   /* angle the current lags the voltage at that order, degrees of the order */
} ms_wave_t;

/* A constant load from "U=230,I=5,PF=0.5L,F=50" (keys in any order, each optional:
 * U 230, I 5, PF 1, F 50). PF with L (inductive) or C (capacitive); a negative PF is
 * export. 0 on success, else -1 with a one-line reason in err. */
int ms_load_parse(const char *spec, ms_wave_t *out, char *err, size_t errlen);

/* The built-in household day at local time t: standby and fridge, a morning
 * kettle and toaster, washing machine, PV export around noon, an evening peak
 * (cooker, heat pump, TV, lights). Changes at most once a minute. */
void ms_household(mc_time_t t, ms_wave_t *out);

/* Samples at fs Hz: index k of the buffer has phase 2π·freq·(k / fs) + phase0 (cycles * 2π).
 * Codes = value / scale, rounded and clipped to ±2^23. */
void ms_wave_fill(const ms_wave_t *w, double phase0_cycles, uint32_t fs, double u_scale, double i_scale,
                  int32_t *v, int32_t *i, size_t n);

/* Active power of a wave, W (sum over the harmonics; the voltage has only orders 1 and 3). */
double ms_wave_power(const ms_wave_t *w);

#endif
