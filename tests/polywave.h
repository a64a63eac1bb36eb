/*
 * Multi-channel (poly-phase, multi-circuit) synthetic waveforms for the metercore
 * test suites, with the expected readings computed from the parameters alone
 * (never from the code under test).
 * SPDX-License-Identifier: MIT
 *
 * Model. A set of analytic SIGNALS (the physical quantities on the primary side:
 * phase-to-neutral voltages U1..U3 and load currents I1..I16) share one mains
 * angle theta(t):
 *
 *   s(t)     = A_s(t) * sum_h sqrt2 * S_h * sin(h * theta(t) + phi_h)
 *   theta(t) = theta0 + 2 pi * integral_0^t f(x) dx
 *   f(t)     = f0 + (f1 - f0) * min(t, ramp_s) / ramp_s        (f0 when ramp_s = 0)
 *
 * S_h is the rms of harmonic h, phi_h its phase in degrees of order h (a larger
 * phase leads). A_s(t) is 1, or the level of the last amplitude event (step, dip,
 * swell, interruption) whose interval [t0, t1) holds t. A balanced ABC wye has
 * U1 at 0 deg, U2 at -120, U3 at +120; a current lagging its phase voltage by phi
 * has the voltage's phase minus phi (phi > 0: inductive, Q > 0).
 *
 * A frame CHANNEL (what one ADC input sees) measures a linear combination ("mix")
 * of signals: U1 alone, the line-to-line U1 - U2, a neutral -(I1 + I2 + I3), ...
 * Its front end then applies, in this order: the transformer (divide by ratio,
 * primary -> secondary), a gain error, a delay (the channel's value at sample k is
 * that of t_k - delay_s: > 0 lags; a multiplexed ADC that samples channel c
 * d seconds after the frame instant has delay_s = -d), a DC offset and Gaussian
 * noise (secondary units), and the ADC:
 *
 *   code = round(x / scale), clipped to [-2^(bits-1), 2^(bits-1) - 1],
 *   scale = full_scale / 2^(bits-1)   (full_scale: the peak of the range).
 *
 * Frames are interleaved: frame k holds channel 0..nch-1 at sample k, as a
 * scanning ADC's DMA writes them. pw_layout() builds the channels of a wiring in
 * metercore's frame order (mc_meter.h, mc_wiring); nothing here includes it.
 * Noise comes from a seeded xorshift64* stream with Box-Muller, one deviate per
 * channel and frame, always drawn: the stream does not depend on how the caller
 * cuts it into blocks.
 *
 * Truth. Steady-state quantities (pw_mix_rms, pw_element_truth, pw_unbalance_pct)
 * come from the harmonic phasors of the parameters (amplitude events ignored):
 *   rms of a mix     sqrt(sum_h |sum_s c_s S_h e^{j phi_h}|^2)   (line-to-line,
 *                    neutral: the exact rms of the instantaneous combination)
 *   element P        sum_h U_h I_h cos(phi_uh - phi_ih)
 *   element Q1       U_1 I_1 sin(phi_u1 - phi_i1)
 *   angles           fundamental phase against a reference mix, (-180, 180]
 *   unbalance        symmetrical components of three fundamental phasors,
 *                    V1 = (Va + a Vb + a^2 Vc)/3, V2 = (Va + a^2 Vb + a Vc)/3,
 *                    a = e^{j 120 deg}; |V2|/|V1| against the rotation present
 *                    (|V1|/|V2| when the negative sequence is the larger).
 * Anything with events (or for a check that wants it) is integrated numerically:
 * pw_integral() integrates the product of two mixes' continuous values by 8-point
 * Gauss-Legendre quadrature on sub-intervals of half a sample period, split at
 * every amplitude event instant. The front end (gain, delay, offset, noise,
 * ratio, ADC) is never in the truth: it is what a reference standard would read
 * on the primary side.
 */
#ifndef METERCORE_TESTS_POLYWAVE_H
#define METERCORE_TESTS_POLYWAVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Highest harmonic order. */
#define PW_MAX_HARMONIC 25
/** Amplitude events per signal. */
#define PW_MAX_EVENTS 32
/** Voltage signals U1..U3. */
#define PW_NU 3
/** Current signals I1..I16. */
#define PW_NI 16
/** Signals: U1..U3 then I1..I16. */
#define PW_MAX_SIGNALS (PW_NU + PW_NI)
/** Frame channels (3 voltages, 16 currents, a neutral). */
#define PW_MAX_CHANNELS 20

/** Index of voltage signal Uk (k = 1..3). */
#define PW_U(k) ((k) - 1)
/** Index of current signal Ik (k = 1..16). */
#define PW_I(k) (PW_NU + (k) - 1)

/** An amplitude event: the signal's amplitude is `level` for t in [t0, t1) (t1 = INFINITY: a step). */
typedef struct pw_event {
    double t0;    /**< Start, s. */
    double t1;    /**< End, s. */
    double level; /**< Amplitude factor (0.3: a dip to 30 %, 0: an interruption). */
} pw_event_t;

/** One analytic signal (primary side). */
typedef struct pw_signal {
    double rms[PW_MAX_HARMONIC + 1];       /**< RMS of harmonic h (index h; [0] unused). */
    double phase_deg[PW_MAX_HARMONIC + 1]; /**< Phase of harmonic h, degrees of order h. */
    int nev;                               /**< Amplitude events in use. */
    pw_event_t ev[PW_MAX_EVENTS];          /**< The events; the last one holding t wins. */
} pw_signal_t;

/** A linear combination of signals. */
typedef struct pw_mix {
    double c[PW_MAX_SIGNALS]; /**< Coefficient of each signal. */
} pw_mix_t;

/** A frame channel: what it measures and its front end. */
typedef struct pw_channel {
    pw_mix_t mix;       /**< The primary quantity measured. */
    double ratio;       /**< Transformer ratio primary/secondary (0 is taken as 1). */
    double gain;        /**< Gain error (1 exact). */
    double delay_s;     /**< Delay, s (> 0 lags; a channel sampled d late: -d). */
    double dc;          /**< Offset at the ADC input, secondary units. */
    double noise_rms;   /**< Gaussian noise at the ADC input, secondary units rms. */
    double full_scale;  /**< Peak of the ADC range, secondary units. */
    int bits;           /**< ADC resolution, 2..24. */
} pw_channel_t;

/** A complete multi-channel signal. */
typedef struct pw_params {
    double fs;          /**< Sample (frame) rate, Hz. */
    double f0;          /**< Mains frequency at t = 0, Hz. */
    double f1;          /**< Frequency at the end of the ramp, Hz. */
    double ramp_s;      /**< Ramp f0 -> f1 duration, s (0: constant f0). */
    double theta0_deg;  /**< Mains angle at sample 0, degrees. */
    uint64_t seed;      /**< Noise seed. */
    pw_signal_t sig[PW_MAX_SIGNALS]; /**< The signals (all zero: absent). */
    int nch;            /**< Frame channels in use. */
    pw_channel_t ch[PW_MAX_CHANNELS]; /**< The frame channels, in frame order. */
} pw_params_t;

/** Frame layouts of metercore's wirings (same frame order as mc_wiring). */
typedef enum pw_layout_kind {
    PW_LAYOUT_1P2W = 0, /**< U1 I1. */
    PW_LAYOUT_1P3W,     /**< U1 U2 I1 I2. */
    PW_LAYOUT_3P4W,     /**< U1 U2 U3 I1 I2 I3 (+ IN = -(I1 + I2 + I3) with `neutral`). */
    PW_LAYOUT_3P3W,     /**< U12 = U1 - U2, U32 = U3 - U2, I1, I3. */
    PW_LAYOUT_MULTI     /**< U1 [U2 U3] I1 .. In. */
} pw_layout_kind;

/** Steady-state truth of one element (a voltage mix against a current mix). */
typedef struct pw_etruth {
    double urms;        /**< V. */
    double irms;        /**< A. */
    double p;           /**< sum_h U_h I_h cos, W. */
    double q1;          /**< U_1 I_1 sin(phi_u1 - phi_i1), var (> 0: current lags). */
    double s;           /**< urms * irms, VA. */
    double pf;          /**< p / s (1 when s = 0). */
    double u_angle_deg; /**< Fundamental voltage angle against the reference, (-180, 180]. */
    double i_angle_deg; /**< Fundamental current angle against the reference. */
} pw_etruth_t;

/** A generator: parameters plus stream state. */
typedef struct pw_gen {
    pw_params_t p;                 /**< Copy of the parameters. */
    uint64_t k;                    /**< Next frame index. */
    uint64_t rng;                  /**< xorshift64* state. */
    double spare;                  /**< Second Box-Muller deviate. */
    int have_spare;                /**< spare valid. */
    double scale[PW_MAX_CHANNELS]; /**< Secondary units per code of each channel. */
    long clipped;                  /**< Codes that hit the ADC range. */
} pw_gen_t;

/** Zero everything, set fs, a constant frequency f and seed 1 (no signals, no channels). */
void pw_params_init(pw_params_t *p, double fs, double f);

/** Set harmonic h of signal s to rms at phase deg (degrees of order h). */
void pw_set(pw_params_t *p, int s, int h, double rms, double deg);

/** An angle in degrees brought into (-180, 180]. */
double pw_wrap_deg(double a);

/** Add an amplitude event to signal s (0 on success, -1 when full). */
int pw_add_event(pw_params_t *p, int s, double t0, double t1, double level);

/**
 * Balanced three-phase source and load on U1..U3, I1..I3: phase voltages u_rms, line
 * currents i_rms lagging their voltages by phi_deg; seq +1 ABC (U2 at -120), -1 ACB.
 */
void pw_balanced(pw_params_t *p, double u_rms, double i_rms, double phi_deg, int seq);

/**
 * Frame channels of a layout: clean front ends (ratio 1, gain 1, no delay, dc,
 * noise) with full scales u_fs / i_fs (secondary peak) and `bits`. neutral: 3P4W
 * with an IN channel; voltages, circuits: MULTI (1 or 3 voltages; circuit k on
 * signal I(k+1)). Returns the number of channels (0 for a bad layout).
 */
int pw_layout(pw_params_t *p, pw_layout_kind kind, int neutral, int voltages, int circuits, double u_fs,
              double i_fs, int bits);

/** A mix of one signal with coefficient 1. */
pw_mix_t pw_mix1(int s);
/** a - b, two signals. */
pw_mix_t pw_mix_diff(int a, int b);

/** Physical units per code of a channel: full_scale / 2^(bits-1). */
double pw_scale(const pw_channel_t *c);

/** Mains angle theta(t) in radians, without theta0, reduced to [0, 2 pi). */
double pw_theta(const pw_params_t *p, double t);

/** Phasor (rms, degrees of order h) of harmonic h of a mix, steady state (events ignored). */
void pw_mix_phasor(const pw_params_t *p, const pw_mix_t *m, int h, double *re, double *im);

/** RMS of a mix, steady state (exact rms of the instantaneous combination). */
double pw_mix_rms(const pw_params_t *p, const pw_mix_t *m);

/** Fundamental phase of a mix against a reference mix, degrees in (-180, 180]. */
double pw_angle_deg(const pw_params_t *p, const pw_mix_t *m, const pw_mix_t *ref);

/** Truth of an element: voltage mix u, current mix i, angles against ref. */
void pw_element_truth(const pw_params_t *p, const pw_mix_t *u, const pw_mix_t *i, const pw_mix_t *ref,
                      pw_etruth_t *t);

/**
 * Unbalance of three mixes' fundamental phasors, percent, against the rotation
 * present; *seq (may be NULL) receives +1 (positive sequence larger), -1, or 0
 * when both are zero.
 */
double pw_unbalance_pct(const pw_params_t *p, const pw_mix_t *a, const pw_mix_t *b, const pw_mix_t *c, int *seq);

/** Continuous value of a mix at t (events included, no front end). */
double pw_mix_value(const pw_params_t *p, const pw_mix_t *m, double t);

/** Integral of a(t) * b(t) over [t0, t1] by quadrature (see the file comment). */
double pw_integral(const pw_params_t *p, const pw_mix_t *a, const pw_mix_t *b, double t0, double t1);

/** Start a generator at frame 0. */
void pw_init(pw_gen_t *g, const pw_params_t *p);

/** Write the next n frames (n * p.nch codes, interleaved). */
void pw_fill(pw_gen_t *g, int32_t *frames, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_TESTS_POLYWAVE_H */
