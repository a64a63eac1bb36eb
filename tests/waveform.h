/*
 * Synthetic voltage/current waveforms for the metercore test suites, with the
 * expected readings computed analytically (never from the code under test).
 * SPDX-License-Identifier: MIT
 *
 * Signal model (double precision), for channel x in {u, i}:
 *
 *   x(t) = gain * sum_h  sqrt(2) * X_h * sin(h * theta(t - delay) + phi_h)
 *          + dc + noise(t)
 *
 *   theta(t) = theta0 + 2 pi * integral_0^t f(s) ds
 *   f(t)     = f0 + (f1 - f0) * min(t, ramp_s) / ramp_s   (f0 when ramp_s = 0)
 *
 * X_h is the RMS value of harmonic h and phi_h its phase in degrees of the h-th
 * order. The current lags the voltage at harmonic h by
 * phi_h(u) - phi_h(i) degrees: positive = inductive (Q > 0).
 *
 * gain, delay, dc and noise model the analogue front end; the truth ignores them
 * (it is what a reference standard would measure on the primary side). The ADC
 * then gives code = round(x / scale), clipped to [-2^(bits-1), 2^(bits-1) - 1],
 * scale = full_scale / 2^(bits-1), full_scale being the peak value of the range.
 * Noise is Gaussian, from a seeded xorshift64* generator with Box-Muller: the
 * sample stream is the same however the caller cuts it into blocks.
 */
#ifndef METERCORE_TESTS_WAVEFORM_H
#define METERCORE_TESTS_WAVEFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Highest harmonic order supported. */
#define WF_MAX_HARMONIC 40

/** One channel: the signal and its front end. */
typedef struct wf_channel {
    double rms[WF_MAX_HARMONIC + 1];       /**< RMS of harmonic h (index h, 1 = fundamental; [0] unused). */
    double phase_deg[WF_MAX_HARMONIC + 1]; /**< Phase of harmonic h, degrees of order h. */
    double dc;          /**< DC offset added before the ADC, physical units (V or A). */
    double noise_rms;   /**< Gaussian noise added before the ADC, physical units rms. */
    double gain;        /**< Front-end gain error (1 = exact). */
    double delay_s;     /**< Front-end delay, seconds (> 0: the channel lags). */
    double full_scale;  /**< Peak physical value of the ADC range. */
    int bits;           /**< ADC resolution, 2..24 (bipolar, two's complement). */
} wf_channel_t;

/** A complete test signal. */
typedef struct wf_params {
    double fs;          /**< Sample rate, Hz. */
    double f0;          /**< Mains frequency at t = 0, Hz. */
    double f1;          /**< Mains frequency at the end of the ramp, Hz. */
    double ramp_s;      /**< Duration of the linear ramp f0 -> f1, s (0: constant f0). */
    double theta0_deg;  /**< Phase of the fundamental angle at sample 0, degrees. */
    uint64_t seed;      /**< Noise seed (any value; 0 is replaced by a constant). */
    wf_channel_t u;     /**< Voltage channel. */
    wf_channel_t i;     /**< Current channel. */
} wf_params_t;

/** The expected values, computed from the parameters alone. */
typedef struct wf_truth {
    double urms;   /**< sqrt(sum U_h^2), V. */
    double irms;   /**< sqrt(sum I_h^2), A. */
    double p;      /**< sum U_h I_h cos(phi_h), W. */
    double q1;     /**< U_1 I_1 sin(phi_1), var, > 0 when the current lags. */
    double s;      /**< urms * irms, VA. */
    double pf;     /**< p / s (1 when s = 0). */
    double phi1_deg; /**< Fundamental angle phi_1 (voltage minus current), degrees. */
} wf_truth_t;

/** A generator: parameters plus the stream state. */
typedef struct wf_gen {
    wf_params_t p;     /**< Copy of the parameters. */
    uint64_t k;        /**< Index of the next sample. */
    uint64_t rng;      /**< xorshift64* state. */
    double spare;      /**< Second Box-Muller deviate. */
    int have_spare;    /**< spare is valid. */
    double u_scale;    /**< Physical units per code, voltage. */
    double i_scale;    /**< Physical units per code, current. */
    long clipped;      /**< Samples that hit the ADC range (either channel). */
} wf_gen_t;

/**
 * Parameters for a clean sine pair: U and I rms at fundamental angle phi_deg
 * (current lagging by phi_deg), constant frequency f, sample rate fs, the given
 * full scales and ADC bits on both channels, unity gain, no noise, no DC.
 */
void wf_params_sine(wf_params_t *p, double fs, double f, double u_rms, double i_rms,
                    double phi_deg, double u_full_scale, double i_full_scale, int bits);

/** Physical units per ADC code of a channel: full_scale / 2^(bits-1). */
double wf_scale(const wf_channel_t *c);

/** Instantaneous frequency at time t (seconds from sample 0), Hz. */
double wf_freq_at(const wf_params_t *p, double t);

/** Fundamental angle theta(t) in radians (without theta0). */
double wf_theta(const wf_params_t *p, double t);

/** Compute the analytic truth of a parameter set. */
void wf_truth(const wf_params_t *p, wf_truth_t *t);

/** Start a generator at sample 0. */
void wf_init(wf_gen_t *g, const wf_params_t *p);

/** Produce the next n samples of both channels as ADC codes. */
void wf_fill(wf_gen_t *g, int32_t *v, int32_t *i, size_t n);

/** Physical value of both channels at sample k before the ADC and without noise (for checks). */
void wf_value(const wf_params_t *p, uint64_t k, double *u, double *i);

/** One standard Gaussian deviate from the generator's noise stream. */
double wf_gauss(wf_gen_t *g);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_TESTS_WAVEFORM_H */
