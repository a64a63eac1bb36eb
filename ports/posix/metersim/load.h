/*
 * metersim: the loads the simulated meter measures, and their sample synthesis; the
 * wirings (--wiring) and the poly-phase output shared by run and replay.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERSIM_LOAD_H
#define METERSIM_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_meter.h"

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

/* ---- wirings (--wiring, --netting) -------------------------------------------------------- */

/* A wiring as the command line gives it, with what the meter configuration needs. */
typedef struct ms_wiring {
    mc_wiring wiring;   /* MC_WIRING_* */
    mc_netting netting; /* MC_NETTING_SUM (default) or MC_NETTING_PHASE */
    unsigned circuits;  /* measuring elements: 1p2w 1, 1p3w 2, 3p4w 3, 3p3w 2, multi:N N */
    unsigned voltages;  /* voltage channels: 1p2w 1, 1p3w 2, 3p4w 3, 3p3w 2, multi 1 or 3 */
    unsigned neutral;   /* 3p4w: the frame ends with a measured neutral current IN */
} ms_wiring_t;

/* The caller-owned state of a poly-phase meter (every wiring but 1P2W), kept next to its
 * mc_meter_t: the largest arrays any wiring needs. */
typedef struct ms_meter_state {
    mc_meter_channel_t ch[MC_MAX_CHANNELS];
    mc_meter_pair_t pr[MC_MAX_PAIRS];
    mc_meter_element_t el[MC_MAX_CIRCUITS];
    uint8_t circuit_voltage[MC_MAX_CIRCUITS];
} ms_meter_state_t;

/* 1p2w, netting sum. */
void ms_wiring_default(ms_wiring_t *w);
/* "1p2w", "1p3w", "3p4w", "3p3w" or "multi:N" (N 1..16; one voltage, see ms_wiring_fit()).
 * The netting is left as it was. 0, or -1 with a one-line reason in err. */
int ms_wiring_parse(const char *spec, ms_wiring_t *w, char *err, size_t errlen);
/* "sum" or "phase". 0 or -1 with err. */
int ms_netting_parse(const char *spec, mc_netting *out, char *err, size_t errlen);
/* Channels per frame: voltages + circuits + neutral. */
unsigned ms_wiring_channels(const ms_wiring_t *w);
/* The wiring's name as --wiring spells it ("3p4w", "multi:4"). */
void ms_wiring_name(const ms_wiring_t *w, char *buf, size_t len);
/* Its frame's channels, e.g. "U1 U2 U3 I1 I2 I3 IN". */
void ms_wiring_layout(const ms_wiring_t *w, char *buf, size_t len);
/* Fit the wiring to a recording of `channels` channels: 3p4w takes 6 or 7 (IN measured),
 * multi:N takes N+1 (U1, I1..IN) or N+3 (U1 U2 U3, I1..IN, circuit k on voltage k mod 3),
 * the others their own count. 0, or -1 with a one-line reason in err. */
int ms_wiring_fit(ms_wiring_t *w, unsigned channels, char *err, size_t errlen);
/* Set the wiring fields of a meter configuration (wiring, netting, voltages, circuits,
 * neutral, circuit_voltage and the state arrays; for 1p2w none of them: the defaults). */
void ms_wiring_config(const ms_wiring_t *w, mc_meter_config_t *cfg, ms_meter_state_t *state);

/* ---- poly-phase synthesis (run --wiring) --------------------------------------------------- */

/* Every channel of a frame as RMS phasors per harmonic order (1, 3, 5, 7):
 * x(t) = sqrt(2) * sum_h |X_h| sin(h theta + arg X_h), theta = 2 pi freq t. Channels in the
 * wiring's frame order: the voltages, then the currents. */
typedef struct ms_frame_wave {
    double freq;
    unsigned channels;
    unsigned voltages;
    double re[MC_MAX_CHANNELS][MS_HARMONICS];
    double im[MC_MAX_CHANNELS][MS_HARMONICS];
} ms_frame_wave_t;

/* A constant load on every element, balanced: 3p4w three phases 120 degrees apart, each U
 * to neutral carrying the load; 3p3w the line voltages U12, U32 of that wye source and its
 * currents I1, I3; 1p3w two legs of U in antiphase, each carrying the load; multi:N three
 * voltages of a wye and N circuits, circuit k on voltage k mod 3, each carrying the load.
 * The total P is the sum (3p4w: 3 U I PF). 1p2w: the load itself. */
void ms_frame_from_load(const ms_wave_t *load, const ms_wiring_t *w, ms_frame_wave_t *out);
/* The built-in small business at local time t (changes at most once a minute), for a
 * poly-phase wiring: a 7.5 kW three-phase induction motor at PF 0.85 cycling during
 * business hours, and single-phase loads spread unevenly over the phases (LED lighting on
 * L1, an oven and a coffee machine on L2, PCs with harmonics and a kettle on L3, a fridge,
 * emergency lights and a server around the clock). See load.c for how each wiring takes it. */
void ms_business(mc_time_t t, const ms_wiring_t *w, ms_frame_wave_t *out);
/* No current (the relay is open): the current channels zeroed. */
void ms_frame_no_current(ms_frame_wave_t *w);
/* n frames at fs Hz, interleaved (frames holds n * channels codes); frame k at phase
 * 2 pi freq (k / fs) + phase0 (cycles * 2 pi). Codes = value / scale (voltage channels by
 * u_scale, current channels by i_scale), rounded and clipped to +-2^23. */
void ms_frame_fill(const ms_frame_wave_t *w, double phase0_cycles, uint32_t fs, double u_scale, double i_scale,
                   int32_t *frames, size_t n);

/* ---- poly-phase output (run and replay) ---------------------------------------------------- */

/* One window's elements and poly-phase quantities, and the elements' energy registers. */
typedef struct ms_poly_view {
    unsigned n;                              /* elements */
    mc_phase_reading_t ph[MC_MAX_CIRCUITS];  /* the window's element readings */
    mc_poly_reading_t poly;                  /* the window's poly-phase quantities */
    mc_energy_t e[MC_MAX_CIRCUITS];          /* the elements' own registers */
} ms_poly_view_t;

/* The meter's last window (readings) into v; 0, or -1 before the first window. */
int ms_poly_capture(const mc_meter_t *m, ms_poly_view_t *v);
/* The elements' energy registers as they are now into v. */
void ms_poly_energies(const mc_meter_t *m, ms_poly_view_t *v);
/* The poly-phase JSON keys, each preceded by a comma (to go before the object's '}'):
 * "wiring", "netting", "q1" (= q_total), "phases" [{urms, irms, p, q, s, pf, u_angle_deg,
 * i_angle_deg, active_import_wh, active_export_wh, reactive_import_varh,
 * reactive_export_varh}], "s_vector", "u12", "u23", "u31", "sequence", "u_unbalance_pct",
 * "i_unbalance_pct", "missing_phases", "i_neutral", "i_neutral_calc", "i_residual",
 * "neutral_mismatch"; null where the wiring has no such quantity. */
void ms_poly_json(FILE *f, const ms_wiring_t *w, const ms_poly_view_t *v, double q_total);
/* The per-element block of replay's text output (2 lines per element, then the system). */
void ms_poly_text(FILE *f, const ms_wiring_t *w, const ms_poly_view_t *v);
/* Element k's short label: "L1" (3p4w, 1p3w), "U12" / "U32" (3p3w), "C1" (multi). */
void ms_element_label(const ms_wiring_t *w, unsigned k, char *buf, size_t len);

#endif
