/**
 * @file mc_meter.h
 * @ingroup grp_core
 * @brief The metrology core: from voltage and current ADC samples to Urms, Irms,
 *        P, Q, S, PF, frequency, four-quadrant energy and a pulse output.
 *
 * One ::mc_meter_t instance measures one single-phase circuit. The caller owns
 * the instance (static, stack or a pool); the library never allocates and keeps
 * no globals, so any number of meters can run side by side.
 *
 * Use:
 * @code
 * mc_meter_config_t cfg;
 * mc_meter_config_default(&cfg);          // KPM31: 220 V, 5(60) A, 50 Hz, 1600 imp/kWh
 * cfg.sample_rate_hz = 4000;
 * cfg.u_scale = 400.0f / 8388608.0f;      // volts per ADC code of the voltage channel
 * cfg.i_scale = 100.0f / 8388608.0f;      // amps per ADC code of the current channel
 * mc_meter_t meter;
 * mc_meter_init(&meter, &cfg);            // unity calibration until one is set
 * // ADC DMA half-complete / complete interrupt:
 * int ev = mc_meter_process(&meter, v_block, i_block, n);
 * if (ev & MC_EVENT_WINDOW) { mc_reading_t r; mc_meter_reading(&meter, &r); ... }
 * @endcode
 *
 * @section mc_meter_chain Signal chain
 * Per sample (integer only, safe for an ADC interrupt on a Cortex-M0+):
 * subtract the window's ADC offsets (rounded to a code), accumulate Σv, Σi, Σv²,
 * Σi², Σv·i into 64-bit per-cycle accumulators, correlate v and i with a 256-entry
 * Q15 sine/cosine reference running at the tracked mains frequency (single-bin
 * DFT, for the fundamental phasors), and watch for the positive-going zero
 * crossing of v (armed below a quarter of the last peak, at least 1/75 s after the
 * previous crossing).
 *
 * Per mains cycle (closed on a positive-going voltage zero crossing, located to
 * a fraction of a sample by linear interpolation): remove the offsets' fractions
 * exactly, fold the cycle into the window accumulators (float), feed the slow
 * offset trackers (::MC_OFFSET_TAU_S) and follow the reference frequency.
 *
 * Per window (whole cycles, about window_ms long): re-centre the sums on the
 * trackers' offsets, then Urms, Irms, P (total, all harmonics), Q (fundamental
 * only, IEC 62053-24 style), S = Urms·Irms, PF = P/S, frequency = cycles / time
 * between the first and last crossing (least squares over every crossing when
 * crossings jitter); gain, phase and offset calibration; creep; energy; pulses.
 * Content below the mains frequency (sub-harmonics, steps) is measured; only what
 * is below the trackers' corner (0.08 Hz) is taken for ADC offset.
 *
 * @section mc_meter_scaling Scaling and overflow
 * - Input codes must lie in [-2^23, 2^23] (a 24-bit bipolar ADC or anything
 *   narrower; a unipolar ADC's codes 0..4095 are fine too). After DC removal
 *   |v| <= 2^24, so v² <= 2^48.
 * - A cycle is at most ::MC_CYCLE_MAX_SAMPLES = 2^14 samples (it is closed by a
 *   timeout before that), so every 64-bit per-cycle sum stays below 2^62;
 *   the DFT sums (v · Q15) below 2^53.
 * - Window sums are single-precision floats built from per-cycle results:
 *   relative rounding below 1e-6 per window, far under the 0.1 % budget.
 * - Energy is kept as unsigned 64-bit counts of ::MC_ENERGY_QUANTA_PER_WH-ths
 *   of a watt-hour (2^-20 mWh, 3.4 µWs). A window's energy (float, W·s) is
 *   rounded once to this quantum, which is finer than the float's own
 *   resolution above 1 W·s, and then added exactly: the residue below a
 *   watt-hour is carried forever, the counter wraps only after 1.7e10 kWh.
 *
 * @section mc_meter_q Reactive power
 * Q is the reactive power of the fundamental, Q1 = U1·I1·sin(φ1), from the
 * single-bin DFT of both channels at the measured mains frequency. Harmonics
 * do not contribute (as IEC 62053-24 meters and IEEE 1459 define Q1); so with
 * distortion S² >= P² + Q². Sign: positive when the current lags the voltage
 * (inductive load on import).
 */
#ifndef METERCORE_MC_METER_H
#define METERCORE_MC_METER_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest cycle in samples; a cycle without a zero crossing is closed at fs/40 or this. */
#define MC_CYCLE_MAX_SAMPLES 16384u
/** Energy quanta per watt-hour (or var-hour): 2^30, i.e. 2^20 per milliwatt-hour. */
#define MC_ENERGY_QUANTA_PER_WH (1024ull * 1024ull * 1024ull)
/** Energy quanta per milliwatt-hour (2^20). */
#define MC_ENERGY_QUANTA_PER_MWH (1024ull * 1024ull)

/** Version of the ::mc_calibration_t layout. */
#define MC_CALIBRATION_VERSION 1u

/** Energy registers, indices into ::mc_energy_t::q. */
typedef enum mc_energy_reg {
    MC_E_ACTIVE_IMPORT = 0, /**< P > 0: active energy delivered to the load (Wh). */
    MC_E_ACTIVE_EXPORT,     /**< P < 0: active energy returned to the grid (Wh). */
    MC_E_REACTIVE_Q1,       /**< Quadrant I: P >= 0, Q > 0 (import, inductive) (varh). */
    MC_E_REACTIVE_Q2,       /**< Quadrant II: P < 0, Q > 0 (export, capacitive) (varh). */
    MC_E_REACTIVE_Q3,       /**< Quadrant III: P < 0, Q < 0 (export, inductive) (varh). */
    MC_E_REACTIVE_Q4,       /**< Quadrant IV: P >= 0, Q < 0 (import, capacitive) (varh). */
    MC_E_COUNT              /**< Number of energy registers. */
} mc_energy_reg;

/**
 * Energy registers in quanta of 1/::MC_ENERGY_QUANTA_PER_WH Wh (or varh).
 * Reactive import (KPM31 "import reactive") is Q1 + Q2 (Q > 0), reactive export
 * is Q3 + Q4 (Q < 0); see mc_energy_reactive_import().
 */
typedef struct mc_energy {
    uint64_t q[MC_E_COUNT]; /**< One counter per ::mc_energy_reg, in quanta. */
} mc_energy_t;

/** Which energy drives the pulse output. */
typedef enum mc_pulse_source {
    MC_PULSE_ACTIVE_ABS = 0, /**< Active import + export (|P|), the usual LED/open-collector. */
    MC_PULSE_ACTIVE_IMPORT,  /**< Active import only. */
    MC_PULSE_REACTIVE_ABS    /**< Reactive, all four quadrants (|Q|). */
} mc_pulse_source;

/**
 * One output pulse. Times are in sample periods since mc_meter_init(), as
 * unsigned Q48.16 fixed point (sample index << 16 | fraction), so a port can
 * place both edges on a timer to sub-sample precision.
 */
typedef struct mc_pulse {
    uint64_t start_q16; /**< Rising edge: the moment the energy crossed a multiple of the constant. */
    uint32_t width_q16; /**< Pulse width in sample periods (Q16.16); at most half the pulse period. */
} mc_pulse_t;

/** Flags in ::mc_reading_t::flags. */
enum mc_reading_flag {
    MC_FLAG_NO_VOLTAGE = 1u << 0,  /**< No valid zero crossing in the window: freq is 0. */
    MC_FLAG_CREEP_P = 1u << 1,     /**< |P| under the creep threshold: no active energy registered. */
    MC_FLAG_CREEP_Q = 1u << 2,     /**< |Q| under the creep threshold: no reactive energy registered. */
    MC_FLAG_SETTLING = 1u << 3,    /**< First window after init (the DFT reference was still locking on). */
    MC_FLAG_CAPACITIVE = 1u << 4,  /**< Current leads voltage (quadrant II or IV). */
    MC_FLAG_INDUCTIVE = 1u << 5,   /**< Current lags voltage (quadrant I or III). */
    MC_FLAG_IRREGULAR = 1u << 7,   /**< A cycle in the window was more than 2 % longer or shorter than the one
                                        before (a phase jump, an interharmonic above about 4 %): freq may be
                                        off by more than 0.01 Hz. Without it, freq is within 0.01 Hz of the
                                        window's mean frequency (docs/DESIGN.md, "Frequency"). */
    MC_FLAG_PARTIAL = 1u << 6,     /**< Closed early by mc_meter_flush(): shorter than window_ms, may end
                                        inside a cycle (its frequency is that of its whole cycles). */
};

/** The results of one measurement window (all values calibrated, primary side). */
typedef struct mc_reading {
    float urms;        /**< RMS voltage, V (total, all harmonics). */
    float irms;        /**< RMS current, A (total). */
    float p;           /**< Active power, W, signed: > 0 import, < 0 export. Total, all harmonics. */
    float q;           /**< Reactive power of the fundamental, var, signed: > 0 inductive on import. */
    float s;           /**< Apparent power Urms·Irms, VA. */
    float pf;          /**< Power factor P/S, signed like P, in [-1, 1]; 1 when S is 0. */
    float freq;        /**< Mains frequency, Hz; 0 with ::MC_FLAG_NO_VOLTAGE. */
    float duration_s;  /**< Window length, s (samples / sample rate). */
    uint64_t start_sample; /**< Index of the window's first sample, counted from mc_meter_init(). */
    uint32_t samples;  /**< Samples in the window. */
    uint16_t cycles;   /**< Mains cycles in the window. */
    uint8_t quadrant;  /**< 1..4 as ::mc_energy_reg (I: P>=0,Q>=0; II: P<0,Q>=0; III; IV). */
    uint8_t flags;     /**< ::mc_reading_flag bits. */
    mc_energy_t delta; /**< Energy this window added to each register, in quanta. */
} mc_reading_t;

/** The results of one mains cycle (uncalibrated for phase; informational). */
typedef struct mc_cycle_reading {
    float urms;       /**< RMS voltage over the cycle, V. */
    float irms;       /**< RMS current over the cycle, A. */
    float p;          /**< Active power over the cycle, W (gain-calibrated, offset not applied). */
    float freq;       /**< 1 / cycle period, Hz; 0 if the cycle was closed by timeout. */
    uint32_t samples; /**< Samples in the cycle. */
} mc_cycle_reading_t;

/**
 * Calibration data: what a calibration bench measures for one meter. Stored by
 * the caller; sealed with a CRC-32 over every byte before `crc`.
 */
typedef struct mc_calibration {
    uint16_t version;  /**< ::MC_CALIBRATION_VERSION. */
    uint16_t size;     /**< sizeof(mc_calibration_t), guards against layout changes. */
    float u_gain;      /**< Voltage gain multiplier, 0.5..2 (1 = nominal u_scale). */
    float i_gain;      /**< Current gain multiplier, 0.5..2. */
    float phase_deg;   /**< Current channel delay to remove, degrees at the fundamental, -10..10. */
    float p_offset;    /**< Active power offset subtracted from P, W (low-current correction). */
    float q_offset;    /**< Reactive power offset subtracted from Q, var. */
    uint32_t crc;      /**< CRC-32 (IEEE 802.3) of the bytes before this field; see mc_calibration_seal(). */
} mc_calibration_t;

/** Window callback: called from mc_meter_process() when a window closes. */
typedef void (*mc_window_cb)(void *context, const mc_reading_t *reading);
/** Pulse callback: called from mc_meter_process() for each pulse of a closed window. */
typedef void (*mc_pulse_cb)(void *context, const mc_pulse_t *pulse);

/**
 * Meter configuration: the product's ratings and the analogue front end. All
 * rated values are data here, never constants in the code.
 */
typedef struct mc_meter_config {
    uint32_t sample_rate_hz;   /**< Samples per second per channel, 1000..64000 (not locked to the mains). */
    float nominal_freq_hz;     /**< Rated frequency, 45..65 (50 or 60). */
    float u_scale;             /**< Instantaneous volts per voltage ADC code (> 0). */
    float i_scale;             /**< Instantaneous amps per current ADC code (> 0). */
    float un;                  /**< Rated voltage Un, V (KPM31: 220). */
    float in;                  /**< Basic current In, A (KPM31: 5). */
    float imax;                /**< Maximum current Imax, A (KPM31: 60). */
    float start_current;       /**< Starting current, A, 0..in; energy registers from here. 0 (the
                                    default) means ::MC_START_CURRENT_DEFAULT_RATIO · in, taken from the
                                    in given to mc_meter_init() (KPM31: 0.001 · 5 A = 5 mA). Creep
                                    threshold power is half of Un · start_current. */
    uint16_t window_ms;        /**< Target window length, 20..2000 ms (default 1000); closed on a zero crossing. */
    uint16_t pulse_width_ms;   /**< Pulse width, ms (default 80); at high power shortened to just under half the period. */
    uint32_t pulse_constant;   /**< Pulses per kWh (or kvarh), 1..100000 (default 1600). */
    mc_pulse_source pulse_source; /**< Energy that drives the pulse output. */
    mc_window_cb on_window;    /**< Called when a window closes; may be NULL. */
    mc_pulse_cb on_pulse;      /**< Called for each pulse; may be NULL. */
    void *context;             /**< Passed to both callbacks unchanged. */
} mc_meter_config_t;

/**
 * Starting current as a share of In when mc_meter_config_t::start_current is 0:
 * 0.001 · In, the starting current of IEC 62053-22 class 0.2S and 0.5S meters
 * (and the KPM31's rating).
 */
#define MC_START_CURRENT_DEFAULT_RATIO 0.001f

/**
 * Time constant of the ADC offset trackers, seconds: the offsets are a running
 * mean of the measured cycles' means for the first MC_OFFSET_TAU_S after start-up,
 * then a one-pole low-pass with this time constant, so the corner is
 * 1/(2π·2 s) = 0.08 Hz. Everything above it (sub-harmonics, asymmetric half-cycles,
 * steps) is measured as signal; a true DC current is taken for offset (see
 * docs/DESIGN.md, "Offsets").
 */
#define MC_OFFSET_TAU_S 2.0f

/** Per-cycle accumulators. Private: read through the API only. */
typedef struct mc_cycle_acc {
    int64_t vv;                    /**< Σv² */
    int64_t ii;                    /**< Σi² */
    int64_t vi;                    /**< Σv·i */
    int64_t vc;                    /**< Σv·cos (Q15 reference) */
    int64_t vs;                    /**< Σv·sin */
    int64_t ic;                    /**< Σi·cos */
    int64_t is;                    /**< Σi·sin */
    int64_t v;                     /**< Σv (up to 2^14 · 2^24 = 2^38) */
    int64_t i;                     /**< Σi */
    int32_t c;                     /**< Σcos of the reference (up to 2^29) */
    int32_t s;                     /**< Σsin of the reference */
    int32_t vpeak;                 /**< max |v| */
    uint32_t n;                    /**< samples */
} mc_cycle_acc_t;

/**
 * A meter instance. Allocate it yourself; every field is private state that
 * only the mc_meter_* functions touch. sizeof(mc_meter_t) is the RAM one meter needs.
 */
typedef struct mc_meter {
    mc_meter_config_t cfg;     /**< Copy of the configuration. */
    mc_calibration_t cal;      /**< Calibration in force. */
    /* derived constants */
    float ku;                  /**< Volts per code with the gain applied. */
    float ki;                  /**< Amps per code with the gain applied. */
    float cos_d;               /**< Phase correction rotation, cosine. */
    float sin_d;               /**< Phase correction rotation, sine. */
    float creep_w;             /**< Creep threshold, W (and var). */
    uint32_t window_target;    /**< Window target, samples. */
    uint32_t cycle_timeout;    /**< Longest cycle, samples. */
    uint32_t cycle_min;        /**< Shortest cycle, samples (1/75 s): earlier crossings are not cycles. */
    int32_t vmin_peak;         /**< Smallest peak (codes) that counts as voltage present. */
    /* sample state */
    uint64_t sample_count;     /**< Samples since init. */
    int32_t dc_v;              /**< The window's voltage offset rounded to a code, subtracted per sample. */
    int32_t dc_i;              /**< The window's current offset rounded to a code, subtracted per sample. */
    float off_v;               /**< Voltage offset estimate, codes (the tracker's state). */
    float off_i;               /**< Current offset estimate, codes. */
    float offset_seen_n;       /**< Samples the tracker has averaged so far, up to offset_track_n. */
    float offset_track_n;      /**< Tracker time constant, samples (::MC_OFFSET_TAU_S · fs). */
    float offset_track_inv;    /**< 1 / offset_track_n. */
    int32_t prev_v;            /**< Previous DC-free voltage sample. */
    int32_t hyst;              /**< Zero-crossing hysteresis, codes. */
    uint32_t phase;            /**< DFT reference phase accumulator. */
    uint32_t dphase;           /**< DFT reference phase step per sample. */
    uint8_t armed;             /**< Zero-crossing detector armed (went below -hyst). */
    uint8_t acquiring;         /**< DC acquisition: before measurement starts. */
    uint8_t windows_done;      /**< Saturating count of windows closed. */
    uint8_t acquire_segments;  /**< Segments closed without a crossing while acquiring. */
    uint32_t acq_count;        /**< Samples seen in the first acquisition segment. */
    int32_t acq_vmin;          /**< Voltage minimum over the first acquisition segment. */
    int32_t acq_vmax;          /**< Voltage maximum over it. */
    int32_t acq_imin;          /**< Current minimum over it. */
    int32_t acq_imax;          /**< Current maximum over it. */
    mc_cycle_acc_t cyc;        /**< Current cycle. */
    /* window state */
    float w_vv;                /**< Window Σv², DC-free, codes². */
    float w_ii;                /**< Window Σi², DC-free. */
    float w_vi;                /**< Window Σv·i, DC-free. */
    float w_vr;                /**< Window DFT of v, real part. */
    float w_vim;               /**< Window DFT of v, imaginary part. */
    float w_ir;                /**< Window DFT of i, real part. */
    float w_iim;               /**< Window DFT of i, imaginary part. */
    float w_off_v;             /**< Voltage offset the window's samples are taken about, codes. */
    float w_off_i;             /**< Current offset the window's samples are taken about, codes. */
    float w_sv;                /**< Window Σ(v − w_off_v). */
    float w_si;                /**< Window Σ(i − w_off_i). */
    float w_sc;                /**< Window Σcos of the DFT reference (Q15). */
    float w_ss;                /**< Window Σsin of the DFT reference. */
    uint32_t w_n;              /**< Window samples. */
    uint16_t w_cycles;         /**< Real cycles in the window. */
    uint16_t w_pseudo;         /**< Cycles closed by timeout in the window. */
    uint64_t w_start_sample;   /**< First sample of the window. */
    uint64_t zc_first_idx;     /**< Sample index of the sample after the window's first crossing. */
    float zc_first_frac;       /**< Crossing at zc_first_idx - 1 + frac. */
    float zc_t0;               /**< Reference period at the window's first crossing, samples. */
    float zc_sr;               /**< Σ r_j over the window's crossings, r_j = t_j − j·zc_t0 (samples). */
    float zc_sjr;              /**< Σ j·r_j. */
    float zc_rlast;            /**< r_J of the window's last crossing. */
    float prev_period;         /**< Period of the last whole cycle, samples (0: none). */
    uint8_t zc_have_first;     /**< The window has a first crossing. */
    uint8_t settling;          /**< The window began while acquiring. */
    uint8_t after_flush;       /**< The cycle under way began before an mc_meter_flush(). */
    uint8_t w_irregular;       /**< A cycle of the window broke the 2 % rule (::MC_FLAG_IRREGULAR). */
    uint8_t w_jitter;          /**< Cycles of the window that differed from the one before by > 0.25 %. */
    uint8_t pad3_[3];          /**< Padding. */
    uint64_t zc_prev_idx;      /**< Previous crossing (for the cycle period). */
    float zc_prev_frac;        /**< Previous crossing fraction. */
    float f_ref;               /**< Reference frequency of the DFT, Hz. */
    /* results */
    mc_reading_t last;         /**< Last window. */
    mc_cycle_reading_t last_cycle; /**< Last cycle. */
    uint8_t have_cycle;        /**< last_cycle valid. */
    /* energy */
    mc_energy_t energy;        /**< Energy registers. */
    uint64_t pulse_acc;        /**< Pulse energy accumulator, quanta below one pulse. */
    uint64_t pulse_quanta;     /**< Quanta per pulse. */
} mc_meter_t;

/**
 * @brief Fill a configuration with the KPM31's ratings.
 *
 * Un 220 V, In 5 A, Imax 60 A, 50 Hz, start current 0 (= 0.001·In, computed by
 * mc_meter_init() from the In it is given, so changing `in` afterwards is enough), window 1000 ms,
 * 1600 imp/kWh, 80 ms pulses on |P|, sample rate 4000 Hz, no callbacks. The
 * scales are left at 0: the caller must set u_scale and i_scale for its front end.
 * @param cfg  the configuration to fill.
 */
void mc_meter_config_default(mc_meter_config_t *cfg);

/**
 * @brief Start a meter.
 *
 * Copies the configuration, sets unity calibration (see mc_calibration_default())
 * and zero energy. The first window after init carries ::MC_FLAG_SETTLING; the
 * first ADC offset estimate is acquired over the first 1/40 s and refined by the
 * offset trackers (a running mean at first), so readings are within class from
 * the first window on (well inside 0.5 s of signal).
 * @param m    the instance to initialise (caller-owned).
 * @param cfg  the configuration; every field is checked against its documented range.
 * @return ::MC_OK, or ::MC_ERR_INVAL for a NULL pointer or a field out of range
 *         (the instance is then unusable).
 */
int mc_meter_init(mc_meter_t *m, const mc_meter_config_t *cfg);

/**
 * @brief Measure a block of simultaneous voltage and current samples.
 *
 * Cost per sample: 7 multiply-accumulates into 64-bit sums, two table loads and
 * a comparison; per mains cycle and per window a few dozen float operations.
 * Callbacks (on_window, on_pulse) run inside this call.
 *
 * @param m  the meter.
 * @param v  n voltage codes, each in [-2^23, 2^23].
 * @param i  n current codes, same instants as v, same range.
 * @param n  number of sample pairs (any, including 0).
 * @return a non-negative bit set of ::MC_EVENT_CYCLE and ::MC_EVENT_WINDOW
 *         telling what closed during the block, or ::MC_ERR_INVAL for NULL pointers.
 */
int mc_meter_process(mc_meter_t *m, const int32_t *v, const int32_t *i, size_t n);

/**
 * @brief End of stream: close the open window now and book its energy.
 *
 * For a stream that ends (end of a recording, the power-fail warning before the
 * final save): the samples since the last window, including the mains cycle under
 * way, form one more window, closed as any window is (reading, energy rounded
 * once to a quantum, pulses, on_window) and flagged ::MC_FLAG_PARTIAL. So every
 * sample fed after the start-up acquisition is in the energy: the energy
 * registers then hold the integral from the first window's `start_sample` to the
 * last sample fed. The samples of the cycle under way are measured about the
 * window's ADC offsets like every other; being a partial cycle they do not feed the
 * offset trackers. (A true DC current, which the trackers take for offset, adds
 * nothing over whole cycles but mean(v)·I_dc over the partial one: the flushed
 * window of a half-wave load at 0.5 Imax reads about 1 % low, docs/ACCURACY.md.)
 *
 * The meter may go on after it: the cycle under way continues into the next
 * window, which starts at the next sample; the next crossing closes it without a
 * period (it was split) and the window after that is measured as usual.
 * Calling it twice in a row closes nothing the second time.
 *
 * @param m  the meter.
 * @return ::MC_EVENT_WINDOW when a window was closed, 0 when there was nothing to
 *         close (still in the start-up acquisition, or nothing fed since the last
 *         window), ::MC_ERR_INVAL for NULL.
 */
int mc_meter_flush(mc_meter_t *m);

/** At least one mains cycle closed in the block (see mc_meter_cycle_reading()). */
#define MC_EVENT_CYCLE 1
/** At least one window closed in the block (see mc_meter_reading()). */
#define MC_EVENT_WINDOW 2

/**
 * @brief The last closed window's readings.
 * @param m    the meter.
 * @param out  receives the reading.
 * @return ::MC_OK, ::MC_ERR_NODATA before the first window, ::MC_ERR_INVAL for NULL.
 */
int mc_meter_reading(const mc_meter_t *m, mc_reading_t *out);

/**
 * @brief The last closed cycle's readings (per-cycle values).
 * @param m    the meter.
 * @param out  receives the values.
 * @return ::MC_OK, ::MC_ERR_NODATA before the first cycle, ::MC_ERR_INVAL for NULL.
 */
int mc_meter_cycle_reading(const mc_meter_t *m, mc_cycle_reading_t *out);

/**
 * @brief Copy the energy registers.
 * @param m    the meter.
 * @param out  receives the registers.
 * @return ::MC_OK or ::MC_ERR_INVAL for NULL.
 */
int mc_meter_energy(const mc_meter_t *m, mc_energy_t *out);

/**
 * @brief Restore the energy registers (from storage) or clear them (all zero).
 *
 * The pulse accumulator is reset too.
 * @param m       the meter.
 * @param energy  the registers to take over.
 * @return ::MC_OK or ::MC_ERR_INVAL for NULL.
 */
int mc_meter_set_energy(mc_meter_t *m, const mc_energy_t *energy);

/**
 * @brief Change the pulse constant while running.
 *
 * The energy registers are not touched. The energy accumulated towards the
 * next pulse is kept, less whole pulses at the new constant (which are not emitted).
 * @param m         the meter.
 * @param constant  pulses per kWh (kvarh), 1..100000.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_meter_set_pulse_constant(mc_meter_t *m, uint32_t constant);

/**
 * @brief Put a calibration in force.
 *
 * Checks version, size, CRC and ranges first; on any failure the calibration in
 * force is kept.
 * @param m    the meter.
 * @param cal  a sealed calibration.
 * @return ::MC_OK, ::MC_ERR_CORRUPT (CRC), ::MC_ERR_VERSION (version or size),
 *         ::MC_ERR_INVAL (NULL or a value out of range).
 */
int mc_meter_set_calibration(mc_meter_t *m, const mc_calibration_t *cal);

/**
 * @brief The calibration in force.
 * @param m    the meter.
 * @param out  receives a sealed copy.
 * @return ::MC_OK or ::MC_ERR_INVAL for NULL.
 */
int mc_meter_get_calibration(const mc_meter_t *m, mc_calibration_t *out);

/**
 * @brief Energy in whole watt-hours (varh), exact: quanta / 2^30, rounded down.
 * @param quanta  an energy register.
 * @return whole Wh.
 */
static inline uint64_t mc_energy_wh(uint64_t quanta) { return quanta / MC_ENERGY_QUANTA_PER_WH; }

/**
 * @brief Energy in kWh (kvarh) as a float, for display and registers.
 *
 * Single precision: exact to 1 Wh up to 16 777 kWh, then relative 6e-8.
 * @param quanta  an energy register.
 * @return kWh.
 */
float mc_energy_kwh(uint64_t quanta);

/**
 * @brief Reactive import energy Q1 + Q2 (Q > 0), in quanta.
 * @param e  the registers.
 * @return quanta.
 */
static inline uint64_t mc_energy_reactive_import(const mc_energy_t *e)
{
    return e->q[MC_E_REACTIVE_Q1] + e->q[MC_E_REACTIVE_Q2];
}

/**
 * @brief Reactive export energy Q3 + Q4 (Q < 0), in quanta.
 * @param e  the registers.
 * @return quanta.
 */
static inline uint64_t mc_energy_reactive_export(const mc_energy_t *e)
{
    return e->q[MC_E_REACTIVE_Q3] + e->q[MC_E_REACTIVE_Q4];
}

/**
 * @brief A unity calibration (gains 1, no phase, no offsets), sealed.
 * @param cal  receives it.
 */
void mc_calibration_default(mc_calibration_t *cal);

/**
 * @brief Set version and size and compute the CRC over the fields before it.
 * @param cal  the calibration to seal.
 */
void mc_calibration_seal(mc_calibration_t *cal);

/**
 * @brief Check a stored calibration: version, size, CRC, value ranges.
 * @param cal  the calibration.
 * @return ::MC_OK, ::MC_ERR_VERSION, ::MC_ERR_CORRUPT or ::MC_ERR_INVAL.
 */
int mc_calibration_check(const mc_calibration_t *cal);

/**
 * @brief Calibration step 1, at PF 1: set the voltage and current gains.
 *
 * Feed the meter a reference load (U_ref, I_ref, PF 1) with the calibration
 * @p cal in force, take a window reading, and call this. The gains are scaled by
 * U_ref/Urms and I_ref/Irms; the result is sealed.
 * @param measured  a window reading taken with @p cal in force.
 * @param u_ref     reference voltage, V (> 0).
 * @param i_ref     reference current, A (> 0).
 * @param cal       the calibration in force; updated and sealed.
 * @return ::MC_OK, or ::MC_ERR_INVAL for NULL, non-positive values or a resulting
 *         gain outside 0.5..2 (@p cal is then unchanged).
 */
int mc_calibrate_gain(const mc_reading_t *measured, float u_ref, float i_ref,
                      mc_calibration_t *cal);

/**
 * @brief Calibration step 2, at a reactive load (PF 0.5L is usual): set the phase.
 *
 * The measured fundamental angle atan2(Q, P) is compared with @p phi_ref_deg
 * (+60 for PF 0.5 inductive, -36.87 for PF 0.8 capacitive) and the difference
 * added to cal->phase_deg. Resolution is that of a float (far below 0.01°).
 * @param measured     a window reading taken with @p cal in force.
 * @param phi_ref_deg  the reference load's angle, degrees, -89..89.
 * @param cal          the calibration in force; updated and sealed.
 * @return ::MC_OK, or ::MC_ERR_INVAL (NULL, a range error, or no power measured).
 */
int mc_calibrate_phase(const mc_reading_t *measured, float phi_ref_deg, mc_calibration_t *cal);

/**
 * @brief Optional step 3, at rated voltage and zero current: take P and Q offsets.
 *
 * The measured P and Q (with @p cal in force) are added to the offsets so that
 * they read 0 afterwards.
 * @param measured  a window reading with no load current.
 * @param cal       the calibration in force; updated and sealed.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_calibrate_offsets(const mc_reading_t *measured, mc_calibration_t *cal);

/**
 * @brief CRC-32 (IEEE 802.3, reflected, init and final XOR 0xFFFFFFFF).
 * @param crc   0 to start, or a previous result to continue.
 * @param data  bytes.
 * @param len   number of bytes.
 * @return the CRC of everything so far.
 */
uint32_t mc_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_METER_H */
