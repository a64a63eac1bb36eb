/*
 * Real-world, non-stationary waveforms for the metercore test suites: a model in
 * continuous time, evaluated at any instant, with its truth computed by quadrature
 * of the continuous signals (never from the code under test).
 * SPDX-License-Identifier: MIT
 *
 * Source. The supply's phase, in cycles, is
 *
 *   P(t) = C(t) + theta0/360 + sum of the phase jumps made at or before t,
 *   C(t) = integral of f from 0 to t,
 *
 * f(t) piecewise linear (constant, steps, ramps: segment k holds from t_k with
 * f_k + rate_k (t - t_k)). theta(t) = 2 pi frac(P(t)) is the fundamental's angle
 * (0 at a positive-going zero crossing) and floor(P(t)) the cycle number. Then
 *
 *   v_src(t) = A(t) sqrt2 Un [sin theta + sum_h a_h sin(h theta + phi_h)]
 *              + sum of interharmonics sqrt2 Un a sin(2 pi f t + phi) (while on)
 *              - notches,
 *
 * A(t) the amplitude (1, or the level of a dip, swell or interruption while it
 * lasts: a step at any instant, e.g. at a chosen phase angle). A notch is a
 * V-shaped (triangular in angle) dip of depth d sqrt2 Un A that starts a given
 * angle after each zero crossing, pulling the voltage towards and past zero.
 *
 * Load. i(t) is a function of the source's state (theta, cycle number, A) and of a
 * load level schedule (steps at given instants):
 *   linear        I sin(theta - phi)                      (R-L: phi > 0 lags)
 *   half-wave     I sin theta while theta in [0, 180)     (diode: DC and even harmonics)
 *   leading edge  I sin theta while (theta mod 180) >= alpha  (triac, phase-fired)
 *   trailing edge I sin theta while (theta mod 180) <  beta   (MOSFET dimmer)
 *   burst         I sin theta in the first `on` of every `period` cycles
 *   alt half-wave I sin theta on the positive half of even cycles and the negative
 *                 half of odd cycles (a 25 Hz sub-harmonic at 50 Hz)
 *   SMPS          +-I cos^2(90 (theta - c)/w) for |theta - c| < w, c = centre and
 *                 c + 180: a capacitor-input rectifier's pulse near each peak
 * each scaled by A(t) and by the level. With a source impedance Z (resistive: the
 * 0.4 ohm real part of the IEC 60725 reference impedance, say) the meter sees
 * v = v_src - Z i.
 *
 * Front end and ADC. Both channels pass through the same anti-alias filter, a
 * Butterworth low-pass of even order aa_order and corner aa_fc (flat in band,
 * like the decimation filter of a sigma-delta metering ADC; 4th order at 0.3 fs
 * passes the 11th harmonic within 0.1 % and attenuates 8x at fs/2, 120x at fs),
 * normalised to gain 1 at f_cal (the meter is calibrated at its rated
 * frequency, as a real one is), so at f_cal the filter only delays (the same on
 * both channels: it cancels in P). The filter is solved exactly (partial
 * fractions, each pole's exponential kernel convolved with the input's
 * interpolant of degree RW_GL - 1 on every sub-interval; see realworld.c).
 * Then an offset, Gaussian noise and quantisation:
 * code = round((y + offset + noise) / scale), clipped, scale = full_scale / 2^(bits-1).
 *
 * Truth. The record integrates, by Gauss-Legendre quadrature (RW_GL nodes) on
 * sub-intervals of half a sample period split at every switching instant (the
 * load's angles, phase jumps, amplitude steps, load steps, frequency knots,
 * notch corners), both the signals at the ADC input (y, filtered, no offset or
 * noise) and the unfiltered signals (x). Prefix integrals are kept at the
 * half-sample instants b_k = (k - 1/2)/fs, so a window of samples [s0, s0 + n)
 * has the span [b_s0, b_s0+n): each sample stands for the period around it
 * (the rectangle sum over samples is then the midpoint rule of the integral).
 * Truth energy is the integral of y_v y_i over the span (x_v x_i: the unfiltered
 * figure, reported beside it); truth rms is about the long-term mean of the
 * record (the meter's offset tracker removes a true DC, see docs/DESIGN.md);
 * truth frequency is the advance of C (phase jumps excluded) between the
 * window's first and last true positive-going crossings over the time between
 * them, crossings being those of the fundamental delayed by the filter's delay
 * at f_cal. Each crossing is assigned to the sample interval in which the sampled
 * (noise-free) ADC input changes sign next to it, so the window a crossing opens
 * is known exactly even when harmonics move the zero by a fraction of a sample.
 */
#ifndef METERCORE_TESTS_REALWORLD_H
#define METERCORE_TESTS_REALWORLD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RW_MAX_FSEG 8   /**< Frequency segments. */
#define RW_MAX_JUMPS 8  /**< Phase jumps. */
#define RW_MAX_AMP 4    /**< Amplitude events. */
#define RW_MAX_HARM 8   /**< Source harmonics. */
#define RW_MAX_IH 4     /**< Interharmonics / ripple-control signals. */
#define RW_MAX_STEPS 64 /**< Load level steps. */
#define RW_GL 8         /**< Gauss-Legendre nodes per sub-interval. */
#define RW_MAX_AA_ORDER 8 /**< Highest anti-alias filter order. */

/** Amplitude (share of the rated) below which the meter may see no voltage: its
 * documented voltage-present level is 10 % of Un; 12 % leaves a margin. */
#define RW_PRESENT 0.12

/** Frequency from t on: f + rate (t' - t), until the next segment. */
typedef struct rw_fseg {
    double t;    /**< Start, s (the first segment holds before its t too). */
    double f;    /**< Frequency at t, Hz. */
    double rate; /**< Hz per second. */
} rw_fseg_t;

/** A phase jump of the source at t (every angle moves: fundamental, harmonics, load). */
typedef struct rw_jump {
    double t;   /**< Instant, s. */
    double deg; /**< Jump, degrees of the fundamental (> 0: forward). */
} rw_jump_t;

/** An amplitude event: A = level for t in [t0, t1). */
typedef struct rw_amp {
    double t0, t1; /**< Start and end, s. */
    double level;  /**< Amplitude, share of the rated (0.5: a dip to 50 %, 0: an interruption). */
} rw_amp_t;

/** A harmonic of the source: rms share of Un, phase in degrees of its own order. */
typedef struct rw_harm {
    int order;
    double frac;
    double deg;
} rw_harm_t;

/** An interharmonic or ripple-control signal, on during [t_on, t_off). */
typedef struct rw_ih {
    double f;     /**< Frequency, Hz. */
    double frac;  /**< rms share of Un. */
    double deg;   /**< Phase at t = 0, degrees. */
    double t_on;  /**< On from, s. */
    double t_off; /**< Off from, s. */
} rw_ih_t;

/** The supply. */
typedef struct rw_source {
    double un;         /**< rms of the fundamental at amplitude 1, V. */
    double theta0_deg; /**< Angle of the fundamental at t = 0, degrees. */
    int nfseg;
    rw_fseg_t fseg[RW_MAX_FSEG];
    int njump;
    rw_jump_t jump[RW_MAX_JUMPS];
    int namp;
    rw_amp_t amp[RW_MAX_AMP];
    int nharm;
    rw_harm_t harm[RW_MAX_HARM];
    int nih;
    rw_ih_t ih[RW_MAX_IH];
    double notch_after_deg; /**< Notch start after each zero crossing, degrees. */
    double notch_width_deg; /**< Notch width (base of the V), degrees; 0: no notches. */
    double notch_depth;     /**< Notch depth at its centre, share of the rated peak. */
    double notch_t_on;      /**< Notches present from (rw_model_init: long before the record)... */
    double notch_t_off;     /**< ...until, s. */
    double z_ohm;           /**< Source impedance (resistive), ohm: v = v_src - Z i. */
} rw_source_t;

/** Load kinds; see the file comment. */
typedef enum rw_load_kind {
    RW_LOAD_NONE = 0,
    RW_LOAD_LINEAR,
    RW_LOAD_HALFWAVE,
    RW_LOAD_LEADING,
    RW_LOAD_TRAILING,
    RW_LOAD_BURST,
    RW_LOAD_ALT_HALFWAVE,
    RW_LOAD_SMPS
} rw_load_kind;

/** A load level from t on. */
typedef struct rw_step {
    double t;
    double level;
} rw_step_t;

/** The load. */
typedef struct rw_load {
    rw_load_kind kind;
    double i_pk;      /**< Peak current at amplitude 1 and level 1, A. */
    double phi_deg;   /**< Linear: lag of the current, degrees. */
    double angle_deg; /**< Leading edge: firing angle; trailing edge: cut-off; SMPS: pulse centre. */
    double width_deg; /**< SMPS: pulse half-width, degrees. */
    int on_cycles;    /**< Burst: cycles on... */
    int period_cycles; /**< ...in every this many. */
    double level0;    /**< Level before the first step. */
    int nstep;
    rw_step_t step[RW_MAX_STEPS];
} rw_load_t;

/** Front end and ADC. */
typedef struct rw_adc {
    double fs;            /**< Sample rate, Hz. */
    int bits;             /**< Resolution, both channels, 2..24. */
    double u_full_scale;  /**< Peak of the voltage range, V. */
    double i_full_scale;  /**< Peak of the current range, A. */
    double u_offset;      /**< Offset at the ADC input, V (not in the truth). */
    double i_offset;      /**< Offset at the ADC input, A. */
    double u_noise;       /**< Gaussian noise, V rms (not in the truth). */
    double i_noise;       /**< Gaussian noise, A rms. */
    int aa_order;         /**< Anti-alias filter: Butterworth of this even order (0: none), up to RW_MAX_AA_ORDER. */
    double aa_fc;         /**< Its corner (-3 dB), Hz. */
    double f_cal;         /**< Frequency of unity gain (the meter's rated frequency), Hz. */
    uint64_t seed;        /**< Noise seed. */
} rw_adc_t;

/** A complete scenario. */
typedef struct rw_model {
    rw_source_t src;
    rw_load_t load;
    rw_adc_t adc;
    double seconds; /**< Record length, s. */
    int extra_bp;   /**< Extra switching instants (time), e.g. where a test wants a split. */
    double bp[8];
} rw_model_t;

/** Prefix integrals kept at every half-sample instant (index RW_A_* within a row). */
enum rw_acc {
    RW_A_VI = 0, /**< integral of y_v y_i (ADC input, filtered), V A s. */
    RW_A_VV,     /**< y_v^2 */
    RW_A_II,     /**< y_i^2 */
    RW_A_V,      /**< y_v */
    RW_A_I,      /**< y_i */
    RW_A_XVI,    /**< x_v x_i (unfiltered) */
    RW_A_XVV,    /**< x_v^2 */
    RW_A_XII,    /**< x_i^2 */
    RW_A_XV,     /**< x_v */
    RW_A_XI,     /**< x_i */
    RW_NACC
};

/** A generated record: ADC codes and the truth behind them. */
typedef struct rw_record {
    rw_model_t m;
    uint64_t n;       /**< Samples. */
    int32_t *v;       /**< Voltage codes, n. */
    int32_t *i;       /**< Current codes, n. */
    double *yv;       /**< ADC input (filtered, no offset/noise) at the sample instants, V. */
    double *yi;       /**< The same for the current, A. */
    double *acc;      /**< RW_NACC prefix integrals at b_k, k = 0..n (from b_0). */
    double *cross;    /**< Source-time instants of the positive-going crossings, ascending. */
    int64_t *cross_j; /**< For each crossing, the first sample after it as the sampled ADC input shows it:
                           the y_v[j-1] < 0 <= y_v[j] nearest to it, up to 3 samples before or 8 after (a
                           notch can hide a crossing until its own re-crossing); the next sample if none. */
    size_t ncross;
    double delay;     /**< The filter's delay at f_cal, s (crossings reach the ADC this much later). */
    double norm;      /**< Gain normalisation of the filter (1/|H(f_cal)|). */
    double u_scale;   /**< V per code. */
    double i_scale;   /**< A per code. */
    long clipped;     /**< Samples clipped by the ADC range (either channel). */
    size_t nbp;       /**< Switching instants the quadrature was split at. */
} rw_record_t;

/** Truth over a window of samples [s0, s0 + n). */
typedef struct rw_wtruth {
    double t0, t1;      /**< Span, s: [b_s0, b_s0+n). */
    double urms, irms;  /**< rms about the given long-term means, V, A (ADC input). */
    double e_j;         /**< Energy, J (ADC input, filtered). */
    double e_unf_j;     /**< Energy of the unfiltered v, i, J. */
    double freq;        /**< Mean frequency over the window's whole true cycles, Hz (0: fewer than 2 crossings). */
    int crossings;      /**< True positive-going crossings (amplitude > 0) whose first sample (cross_j) is in
                             [s0, s0 + n): the cycles a correct meter counts in a window closed at a crossing
                             (one more than in a flushed one, whose first crossing starts no counted cycle). */
    int crossings_sure; /**< Of those, with amplitude >= RW_PRESENT. */
    double low_s;       /**< Time of the span with amplitude < RW_PRESENT, s. */
} rw_wtruth_t;

/** A model with a clean sine source (Un at f, no events), no load, the given ADC. */
void rw_model_init(rw_model_t *m, double fs, double f, double un, int bits, double u_fs, double i_fs,
                   double seconds);

/** Frequency integral C(t) (cycles, without theta0 and jumps). */
double rw_cycles(const rw_source_t *s, double t);
/** Instantaneous frequency f(t), Hz. */
double rw_freq(const rw_source_t *s, double t);
/** Total phase P(t) in cycles (theta0 and jumps included). */
double rw_phase(const rw_source_t *s, double t);
/** Amplitude A(t). */
double rw_amplitude(const rw_source_t *s, double t);
/** Load level at t. */
double rw_level(const rw_load_t *l, double t);
/** First instant >= t_after where the source angle (jumps included) passes deg upwards. */
double rw_time_at_angle(const rw_source_t *s, double t_after, double deg);
/** Instantaneous (unfiltered) meter-terminal voltage and load current at t. */
void rw_eval(const rw_model_t *m, double t, double *v, double *i);

/** Generate the record (allocates; 0 on success, -1 out of memory or a bad model). */
int rw_record_make(rw_record_t *r, const rw_model_t *m);
/** Free a record. */
void rw_record_free(rw_record_t *r);
/** integral of quantity q (RW_A_*) over [b_k0, b_k1). */
double rw_integral(const rw_record_t *r, int q, uint64_t k0, uint64_t k1);
/**
 * Truth over the window [s0, s0 + n). closing: the window ended at a crossing
 * (not a flushed window), so its closing crossing at ((s0+n-1)T, (s0+n)T] is one
 * of its whole cycles' ends. u_dc, i_dc: long-term means the rms is taken about.
 */
void rw_window_truth(const rw_record_t *r, uint64_t s0, uint64_t n, int closing, double u_dc, double i_dc,
                     rw_wtruth_t *out);

/** Peak current that gives a load kind the rms current irms (at amplitude 1, level 1). */
double rw_peak_for_rms(const rw_load_t *l, double irms);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_TESTS_REALWORLD_H */
