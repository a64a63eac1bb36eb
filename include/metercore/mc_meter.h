/**
 * @file mc_meter.h
 * @ingroup grp_core
 * @brief The metrology core: from voltage and current ADC samples to Urms, Irms,
 *        P, Q, S, PF, frequency, four-quadrant energy and a pulse output.
 *
 * One ::mc_meter_t instance measures one installation of any wiring (single
 * phase, split phase, three phase with or without neutral, many circuits on
 * shared voltages: @ref mc_meter_wiring). The caller owns
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
 * accumulate the raw codes' Σv, Σi, Σv², Σi², Σv·i into 64-bit per-cycle
 * accumulators, correlate v and i with a 256-entry Q15 sine/cosine reference
 * running at the tracked mains frequency (single-bin DFT, for the fundamental
 * phasors), and watch for the positive-going zero crossing of v (armed below a
 * quarter of the last peak, at least 1/75 s after the previous crossing).
 *
 * Per mains cycle (closed on a positive-going voltage zero crossing, located to
 * a fraction of a sample by linear interpolation): fold the cycle's integer sums
 * into the window's (exact), feed the slow offset trackers (::MC_OFFSET_TAU_S)
 * and follow the reference frequency.
 *
 * Per window (whole cycles, about window_ms long): remove the window's ADC
 * offsets from its integer sums (exactly for their integer parts, then the
 * fractions in float), re-centre the sums on the trackers' offsets, then Urms,
 * Irms, P (total, all harmonics), Q (fundamental only, IEC 62053-24 style),
 * S = Urms·Irms, PF = P/S, frequency = cycles / time
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
 *   timeout before that), so every 64-bit per-cycle sum of raw codes stays below
 *   2^60; the DFT sums (v · Q15) below 2^52.
 * - The window's integer sums (raw, exact) cover at most 16 384 samples plus a
 *   cycle before they are centred on the offsets (exactly, every term below 2^63)
 *   and moved into single-precision floats: relative rounding below 1e-6 per
 *   window, far under the 0.1 % budget.
 * - Energy is kept as unsigned 64-bit counts of ::MC_ENERGY_QUANTA_PER_WH-ths
 *   of a watt-hour (2^-20 mWh, 3.4 µWs). A window's energy (float, W·s) is
 *   rounded once to this quantum, which is finer than the float's own
 *   resolution above 1 W·s, and then added exactly: the residue below a
 *   watt-hour is carried forever. A register holds ::MC_ENERGY_QUANTA_MODULO
 *   quanta = 2^33 Wh, about 8.6 GWh (primary, with transformer ratios), and then
 *   rolls over to 0 like a mechanical register: a 60 A direct-connected 3P4W meter
 *   at 230 V and full load (41 kW) takes 23 years to get there, a 2000/5 A CT-fed
 *   one (1.4 MW) 8 months, which its product must allow for (as meters with
 *   six-digit kWh registers do: the difference of two readings stays right modulo
 *   the roll-over).
 *
 * @section mc_meter_wiring Wirings: one chain, any number of channels
 * A meter measures frames: one simultaneous sample of every channel of its
 * wiring (::mc_wiring, voltages first). Every channel gets the chain above: its
 * own ADC offset (integer part per sample, fraction per cycle, tracker), Σx²
 * and the two DFT sums against the one shared reference; every measuring element
 * (a voltage with a current) gets Σv·i; cross products Σx·y of channel pairs give
 * the line-to-line voltages and the neutral current from the samples,
 * rms(k_a x_a ± k_b x_b)² = k_a² Σx_a² + k_b² Σx_b² ± 2 k_a k_b Σx_a x_b, so the
 * channels' own calibrated scales apply. Cycles and windows are closed for all
 * channels at once on the crossings of one reference voltage (U1; while U1 shows no
 * voltage, the first voltage channel that does; U1 takes over again at a window's end
 * once back), so every element's window covers exactly the same samples and the
 * totals are sums over identical spans. 1P2W is the case of two channels and one
 * element, bit for bit the single-phase core this replaced; mc_meter_process()
 * keeps its two-array loop for it.
 *
 * Totals: P, Q1 and S (arithmetic) are the elements' sums, PF = P/S; the vector
 * apparent power sqrt(P² + Q1²) is in ::mc_poly_reading_t. Energy: each element
 * books its own window by its own sign into its own registers; the totals book
 * either the sum of the non-creeping elements' P (::MC_NETTING_SUM, per window)
 * or the elements' bookings added (::MC_NETTING_PHASE). Sequence and unbalance
 * come from the symmetrical components of the fundamental phasors, with
 * a = e^{j120°}: V+ = (V1 + a V2 + a² V3)/3, V- = (V1 + a² V2 + a V3)/3,
 * unbalance |V-|/|V+| for ABC and |V+|/|V-| for ACB (IEC 61000-4-30's u2, taken
 * against the rotation present). 3P3W uses the line set U12, U23 = -U32,
 * U31 = U32 - U12 and I2 = -(I1 + I3).
 *
 * RAM: mc_meter_t (the 1P2W meter with its built-in state) plus, for other wirings,
 * sizeof(mc_meter_channel_t) per channel, sizeof(mc_meter_pair_t) per product and
 * sizeof(mc_meter_element_t) per element (a 3P4W meter with IN: 7, 12 and 3).
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
/**
 * Energy registers roll over at this many quanta (2^63 = 2^33 Wh, 8.6 GWh, primary): every
 * register of the meter, of its elements and of the tariff counts modulo it, like a
 * mechanical register, so that whatever a meter can count is a value storage keeps
 * (::MC_STORAGE_QUANTA_MAX) and two registers add without overflow.
 */
#define MC_ENERGY_QUANTA_MODULO (1ull << 63)
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

/**
 * Wiring: which channels a sample frame carries and how they pair into measuring
 * elements (a voltage and a current). Configuration, not separate code: every
 * wiring runs through the same signal chain (see @ref mc_meter_wiring).
 */
typedef enum mc_wiring {
    MC_WIRING_1P2W = 0, /**< Single phase, 2 wires: frame U1 I1; one element (the default). */
    MC_WIRING_1P3W,     /**< Split phase 120/240 V: frame U1 U2 I1 I2 (U1, U2 to neutral, in antiphase);
                             elements (U1, I1), (U2, I2). */
    MC_WIRING_3P4W,     /**< Three phase wye: frame U1 U2 U3 I1 I2 I3 [IN] (voltages to neutral; IN when
                             mc_meter_config_t::neutral is 1, measured with the sign of a return
                             current, IN = -(I1 + I2 + I3) in a healthy system); elements (Uk, Ik). */
    MC_WIRING_3P3W,     /**< Three phase delta, two elements (Aron): frame U12 U32 I1 I3; elements
                             (U12, I1), (U32, I3). */
    MC_WIRING_MULTI     /**< Multi-circuit: frame U1 [U2 U3] I1 .. In: mc_meter_config_t::voltages
                             (1 or 3) voltages shared by mc_meter_config_t::circuits (1..16) currents,
                             circuit k measured against voltage circuit_voltage[k]. */
} mc_wiring;

/** How the total energy registers book the phases' power (poly-phase wirings). */
typedef enum mc_netting {
    MC_NETTING_SUM = 0, /**< Per window, the sum of the elements' P (and Q) booked by its sign: the usual
                             for billing (a phase exporting offsets one importing). */
    MC_NETTING_PHASE    /**< Each element booked by its own sign: import and export both count. */
} mc_netting;

/** Most voltage channels in a frame. */
#define MC_MAX_VOLTAGES 3u
/** Most circuits (elements) of a multi-circuit meter. */
#define MC_MAX_CIRCUITS 16u
/** Most channels in a frame: 3 voltages + 16 currents + a neutral. */
#define MC_MAX_CHANNELS 20u
/** Most sample-product pairs: one per element plus the line-to-line and neutral cross products. */
#define MC_MAX_PAIRS (MC_MAX_CIRCUITS + 9u)

/**
 * State of one frame channel. Private: caller-allocated in an array of
 * mc_meter_channels() entries passed by mc_meter_config_t::channel_state,
 * touched only by the mc_meter_* functions.
 */
typedef struct mc_meter_channel {
    int64_t c_xx;     /**< Cycle Σx² of the raw codes (about 0; codes², below 2^57). */
    int64_t c_xc;     /**< Cycle Σx·cos, raw (Q15 reference, below 2^49). */
    int64_t c_xs;     /**< Cycle Σx·sin, raw. */
    int64_t c_x;      /**< Cycle Σx, raw (below 2^34). */
    int64_t wc_xx;    /**< Window Σx² of the closed cycles, raw and exact, over at most
                           MC_RAW_MAX + 1600 samples (then moved into w_xx about the offsets). */
    int64_t wc_xc;    /**< Window Σx·cos, raw and exact (below 2^53). */
    int64_t wc_xs;    /**< Window Σx·sin, raw and exact. */
    int64_t wc_x;     /**< Window Σx, raw and exact (below 2^38). */
    int64_t cyc_x;    /**< Last cycle's raw Σx (its reading is computed when asked for). */
    int32_t dc;       /**< The window's offset rounded to a code: the scan's zero, and what the
                           window's integer sums are centred on when they move. */
    int32_t peak;     /**< Cycle max |x| (voltage channels). */
    int32_t acq_min;  /**< Minimum over the first acquisition segment. */
    int32_t acq_max;  /**< Maximum over it. */
    float off;        /**< Offset tracker estimate, codes. */
    float w_off;      /**< Offset the window's samples are taken about, codes. */
    float w_xx;       /**< Window Σx², about w_off (while the window runs: what wc_xx moved into it). */
    float w_re;       /**< Window DFT, real part (from wc_xc when the integer sums move, as w_im, w_sx). */
    float w_im;       /**< Window DFT, imaginary part. */
    float w_sx;       /**< Window Σ(x - w_off). */
    float k;          /**< Units per code, primary side: scale · ratio · gains. */
    float gain;       /**< Per-channel calibrated gain (::mc_poly_calibration_t). */
    float ratio;      /**< Transformer ratio, primary/secondary. */
    float phase_deg;  /**< Per-channel calibrated delay, degrees at the fundamental. */
    float rms;        /**< Last window's rms, primary units. */
    float re;         /**< Last window's fundamental phasor (rms, calibrated), real part. */
    float im;         /**< Its imaginary part. */
} mc_meter_channel_t;

/**
 * A product of two channels' samples summed per cycle: an element's Σv·i, or a
 * cross product for the line-to-line voltages and the neutral current. Private:
 * caller-allocated (mc_meter_pairs() entries, mc_meter_config_t::pair_state).
 */
typedef struct mc_meter_pair {
    int64_t c_xy;     /**< Cycle Σx·y of the raw codes (on ARMv6-M Σ(x+y)², an element's turned into
                           Σx·y when the cycle closes). */
    int64_t wc_xy;    /**< Window Σx·y of the closed cycles, raw and exact (see wc_xx; on ARMv6-M a
                           cross product's Σ(x+y)² until the integer sums are centred). */
    float w_xy;       /**< Window Σx·y about the window's offsets (what the integer sums moved into). */
    uint8_t a;        /**< First channel (frame index). */
    uint8_t b;        /**< Second channel. */
    uint8_t pad_[2];  /**< Padding. */
} mc_meter_pair_t;

/** A measuring element's (phase's, circuit's) window results, primary side. */
typedef struct mc_phase_reading {
    float urms;        /**< RMS voltage of the element's voltage channel, V. */
    float irms;        /**< RMS current, A. */
    float p;           /**< Active power, W (all harmonics), signed like ::mc_reading_t::p. */
    float q;           /**< Fundamental reactive power Q1, var, > 0 inductive on import. */
    float s;           /**< Apparent power Urms·Irms, VA. */
    float pf;          /**< P/S in [-1, 1]; 1 when S is 0. */
    float u_angle_deg; /**< Fundamental voltage angle relative to U1 (the first voltage channel),
                            degrees in (-180, 180], positive leading: U2 of an ABC wye reads -120. */
    float i_angle_deg; /**< Fundamental current angle relative to U1, same convention: a current
                            lagging its phase voltage by φ reads u_angle_deg - φ. While U1 is
                            missing both angles are relative to the voltage that gives the
                            crossings (::mc_poly_reading_t::reference); a channel without signal
                            (voltage under 10 % of Un, current under the starting current) reads 0. */
    uint8_t quadrant;  /**< 1..4 as ::mc_reading_t::quadrant. */
    uint8_t flags;     /**< ::mc_reading_flag bits (creep, inductive, capacitive) of this element. */
    uint8_t pad_[6];   /**< Padding. */
    mc_energy_t delta; /**< Energy this window added to the element's registers, quanta. */
} mc_phase_reading_t;

/**
 * State of one measuring element. Private: caller-allocated in an array passed by
 * mc_meter_config_t::element_state (one per element), touched only by mc_meter_*.
 */
typedef struct mc_meter_element {
    float cos_d;           /**< Phase correction rotation (current delay minus voltage delay), cosine. */
    float sin_d;           /**< Its sine. */
    float p_offset;        /**< Active power offset of this element (per-channel calibration), W. */
    float q_offset;        /**< Reactive power offset, var. */
    uint8_t u;             /**< Voltage channel (frame index). */
    uint8_t i;             /**< Current channel (frame index). */
    uint8_t pad_[2];       /**< Padding. */
    int64_t cyc_xy;        /**< Last cycle's raw Σv·i (about 0), codes² (for the cycle's
                                P, computed when asked for: see mc_meter_t::cyc_pending). */
    mc_phase_reading_t last; /**< Last window (poly-phase wirings; 1P2W: the total is the element). */
    mc_energy_t energy;    /**< The element's own energy registers, each window booked by its sign. */
} mc_meter_element_t;

/** Phase sequence of a three-phase system (::mc_poly_reading_t::sequence). */
typedef enum mc_sequence {
    MC_SEQ_NONE = 0, /**< Not a three-phase wiring, or fewer than two voltages present (no rotation). */
    MC_SEQ_ABC,      /**< Positive sequence: U2 lags U1 by 120°. */
    MC_SEQ_ACB       /**< Reversed: U2 leads U1 by 120°. */
} mc_sequence;

/** Flags in ::mc_poly_reading_t::flags. */
enum mc_poly_flag {
    MC_POLY_REVERSE_SEQUENCE = 1u << 0, /**< Phase sequence ACB. */
    MC_POLY_NEUTRAL_MISMATCH = 1u << 1, /**< rms(I1 + I2 + I3 + IN) above ::MC_NEUTRAL_MISMATCH_RATIO
                                             of the largest phase current (and 10 starting currents). */
    MC_POLY_MISSING_PHASE = 1u << 2,    /**< A voltage channel below 10 % of Un (see missing). */
    MC_POLY_REFERENCE_MOVED = 1u << 3   /**< Frequency and cycles taken from another voltage than U1. */
};

/** Ceiling of ::mc_poly_reading_t::i_unbalance_pct, %: a current set rotating against the
 *  voltages (two CTs swapped) is nearly all of the opposite sequence and reads this. */
#define MC_UNBALANCE_MAX_PCT 1000.0f

/** Share of the largest phase current above which the neutral residual flags a mismatch. */
#define MC_NEUTRAL_MISMATCH_RATIO 0.05f

/** The quantities of a poly-phase window beyond the totals in ::mc_reading_t. */
typedef struct mc_poly_reading {
    float s_vector;        /**< Vector apparent power sqrt(P² + Q1²) of the totals, VA (the
                                arithmetic one, the sum of the elements' S, is ::mc_reading_t::s). */
    float u_ll[3];         /**< Line-to-line rms from the samples: U12, U23, U31, V (0 where the
                                wiring has no such pair; 3P3W: U12, U32 measured, U31 = rms(u32 - u12)). */
    float u_unbalance_pct; /**< Negative- over positive-sequence fundamental voltage, %, against the
                                rotation present (a balanced ACB system reads 0): the smaller
                                component over the larger. Three-phase only; with one voltage
                                present 100, with none 0. */
    float i_unbalance_pct; /**< The same for the currents (3P3W: I2 = -(I1 + I3)), against the voltages'
                                rotation (the currents' own without one); 0 while both
                                components are below the starting current; at most
                                ::MC_UNBALANCE_MAX_PCT. */
    float i_neutral;       /**< Neutral current, A: measured (IN channel) when there is one, else calculated. */
    float i_neutral_calc;  /**< rms of the instantaneous sum of the phase currents, A. */
    float i_residual;      /**< rms(I1 + I2 + I3 + IN) with a measured IN, else 0, A. */
    uint8_t sequence;      /**< ::mc_sequence. */
    uint8_t missing;       /**< Bit k: voltage channel k+1 below 10 % of Un. */
    uint8_t reference;     /**< Voltage channel (0-based) that gave frequency and cycles. */
    uint8_t flags;         /**< ::mc_poly_flag bits. */
} mc_poly_reading_t;

/**
 * Per-channel calibration of a poly-phase meter (and per element offsets), sealed
 * like ::mc_calibration_t. It multiplies with the meter-wide ::mc_calibration_t
 * (which then acts as a common trim, unity by default).
 */
typedef struct mc_poly_calibration {
    uint16_t version;                    /**< ::MC_CALIBRATION_VERSION. */
    uint16_t size;                       /**< sizeof(mc_poly_calibration_t). */
    float gain[MC_MAX_CHANNELS];         /**< Gain of each frame channel, 0.5..2. */
    float phase_deg[MC_MAX_CHANNELS];    /**< Delay of each frame channel's signal to remove, degrees at
                                              the fundamental, -10..10 (any resolution; 0.01° is ample).
                                              A sensor or filter that delays its signal by d seconds:
                                              +360·f·d. A multiplexed ADC that samples the channel d
                                              seconds after the frame's instant sees it early: -360·f·d
                                              (f the rated frequency). */
    float p_offset[MC_MAX_CIRCUITS];     /**< Active power offset of each element, W. */
    float q_offset[MC_MAX_CIRCUITS];     /**< Reactive power offset of each element, var. */
    uint32_t crc;                        /**< CRC-32 of the bytes before it; see mc_poly_calibration_seal(). */
} mc_poly_calibration_t;

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
    /* Wiring (all zero: 1P2W, the single-phase meter). */
    mc_wiring wiring;          /**< ::mc_wiring of the frames mc_meter_process_frames() is given. */
    mc_netting netting;        /**< How the total energy books the elements (ignored for 1P2W). */
    uint8_t voltages;          /**< MC_WIRING_MULTI: voltage channels, 1 or 3 (others: set by the wiring). */
    uint8_t circuits;          /**< MC_WIRING_MULTI: circuits, 1..16 (others: set by the wiring). */
    uint8_t neutral;           /**< MC_WIRING_3P4W: 1 = the frame ends with a measured neutral current. */
    uint8_t pad_;              /**< Padding, 0. */
    const uint8_t *circuit_voltage; /**< MC_WIRING_MULTI: voltage channel (0-based) of each circuit;
                                     NULL: all on the first voltage. Read by mc_meter_init() only. */
    const float *ratios;       /**< Transformer ratio (primary/secondary, > 0) of each frame channel,
                                    in frame order; NULL: all 1. u_scale and i_scale are then the
                                    secondary's units per code and every reading, energy, un, in and
                                    imax is a primary value. Read by mc_meter_init() only. */
    mc_meter_channel_t *channel_state; /**< Every wiring but 1P2W: caller-owned array of
                                    mc_meter_channels() entries (NULL for 1P2W: built in). */
    mc_meter_pair_t *pair_state; /**< Every wiring but 1P2W: caller-owned array of
                                    mc_meter_pairs() entries (NULL for 1P2W: built in). */
    mc_meter_element_t *element_state; /**< Every wiring but 1P2W: caller-owned array of
                                    mc_meter_elements() entries (NULL for 1P2W: built in). */
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

/**
 * A meter instance. Allocate it yourself; every field is private state that
 * only the mc_meter_* functions touch. sizeof(mc_meter_t) is the RAM a 1P2W meter
 * needs; other wirings add the arrays they are given (mc_meter_channels(),
 * mc_meter_pairs(), mc_meter_elements()).
 */
typedef struct mc_meter {
    mc_meter_config_t cfg;     /**< Copy of the configuration. */
    mc_calibration_t cal;      /**< Calibration in force (poly-phase: a common trim over the per-channel one). */
    /* wiring */
    mc_meter_channel_t *ch;    /**< Frame channels (cfg.channel_state; NULL for 1P2W: ch1, so that a
                                    1P2W instance holds no pointer into itself and may be copied). */
    mc_meter_pair_t *pr;       /**< Sample products: the elements' first, then the cross products (NULL: pr1). */
    mc_meter_element_t *el;    /**< Elements (NULL: el1). */
    uint8_t n_ch;              /**< Channels per frame. */
    uint8_t n_u;               /**< Voltage channels (the first n_u of a frame). */
    uint8_t n_el;              /**< Elements. */
    uint8_t n_pr;              /**< Products (n_el and the cross products). */
    uint8_t ref;               /**< Voltage channel giving the crossings (0 unless it went missing). */
    uint8_t ll_first;          /**< Index in pr of the first line-to-line cross product (n_pr: none). */
    uint8_t in_first;          /**< Index in pr of the first current cross product (n_pr: none). */
    uint8_t n_ll;              /**< Line-to-line cross products (0, 1 or 3). */
    uint8_t n_icross;          /**< Current cross products (0, 1, 3) and neutral products (3) after them. */
    uint8_t pad0_[3];          /**< Padding. */
    /* derived constants */
    float creep_w;             /**< Creep threshold per element, W (and var). */
    float fs;                  /**< cfg.sample_rate_hz as a float. */
    uint32_t window_target;    /**< Window target, samples. */
    uint32_t cycle_timeout;    /**< Longest cycle, samples. */
    uint32_t cycle_min;        /**< Shortest cycle, samples (1/75 s): earlier crossings are not cycles. */
    int32_t vmin_peak;         /**< Smallest peak (codes) that counts as voltage present. */
    /* sample state */
    uint64_t sample_count;     /**< Samples since init. */
    float offset_seen_n;       /**< Samples the trackers have averaged so far, up to offset_track_n. */
    float offset_track_n;      /**< Tracker time constant, samples (::MC_OFFSET_TAU_S · fs). */
    float offset_track_inv;    /**< 1 / offset_track_n. */
    uint32_t recip_n[2];       /**< Two cycle lengths (samples; 0: none) whose reciprocals are in recip: at a
                                    steady frequency a cycle has one of two lengths, so 1/n, which the
                                    offset trackers need every cycle, is a division only when it changes. */
    float recip[2];            /**< 1.0f / recip_n[k], the most recently used first. */
    int32_t prev_v;            /**< Previous DC-free sample of the reference voltage. */
    int32_t hyst;              /**< Zero-crossing hysteresis, codes. */
    uint32_t phase;            /**< DFT reference phase accumulator. */
    uint32_t dphase;           /**< DFT reference phase step per sample. */
    uint8_t armed;             /**< Zero-crossing detector armed (went below -hyst). */
    uint8_t acquiring;         /**< DC acquisition: before measurement starts. */
    uint8_t windows_done;      /**< Saturating count of windows closed. */
    uint8_t acquire_segments;  /**< Segments closed without a crossing while acquiring. */
    uint32_t acq_count;        /**< Samples seen in the first acquisition segment. */
    uint32_t c_n;              /**< Samples in the cycle under way. */
    int32_t c_c;               /**< Cycle Σcos of the reference (up to 2^29). */
    int32_t c_s;               /**< Cycle Σsin of the reference. */
    /* window state */
    int32_t wc_c;              /**< Σcos of the DFT reference (Q15) over the window's integer sums
                                    (wr_n samples, below 2^15 · 2^15), exact. */
    int32_t wc_s;              /**< Σsin over them, exact. */
    float w_sc;                /**< Window Σcos as a float (added when the integer sums move). */
    float w_ss;                /**< Window Σsin as a float. */
    uint32_t w_n;              /**< Window samples. */
    uint32_t wr_n;             /**< Samples in the window's integer sums (raw, about 0), at most
                                    MC_RAW_MAX + 1600 (mc_meter.c). */
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
    uint8_t w_ref_moved;       /**< The reference voltage changed during the window. */
    uint8_t w_u1_absent;       /**< A cycle of the window showed no voltage on U1. */
    uint8_t pad3_;             /**< Padding. */
    uint64_t zc_prev_idx;      /**< Previous crossing (for the cycle period). */
    float zc_prev_frac;        /**< Previous crossing fraction. */
    float f_ref;               /**< Reference frequency of the DFT, Hz. */
    /* results */
    mc_reading_t last;         /**< Last window: the totals. */
    mc_cycle_reading_t last_cycle; /**< Last cycle (urms, irms, p: see cyc_pending). */
    int64_t cyc_uxx;           /**< Last cycle's raw Σu² of element 0's voltage (about 0),
                                    codes²: its urms is computed from it when asked for. */
    int64_t cyc_ixx;           /**< Last cycle's raw Σi² of element 0's current. */
    float cyc_nt;              /**< Last cycle's length for U and P: its exact period, else its samples. */
    uint8_t have_cycle;        /**< last_cycle valid. */
    uint8_t cyc_pending;       /**< last_cycle's urms, irms and p are still to be computed from cyc_uxx,
                                    cyc_ixx, cyc_nt, the channels' cyc_x and the elements' cyc_xy
                                    (mc_meter_cycle_reading(); derive() does it before a calibration
                                    changes the scales, the window's close before its offsets change). */
    /* energy */
    mc_energy_t energy;        /**< Energy registers (totals, by cfg.netting). */
    uint64_t pulse_acc;        /**< Pulse energy accumulator, quanta below one pulse. */
    uint64_t pulse_quanta;     /**< Quanta per pulse. */
    mc_poly_reading_t poly;    /**< Last window's poly-phase quantities. */
    /* 1P2W: the built-in state */
    mc_meter_channel_t ch1[2]; /**< Voltage and current. */
    mc_meter_pair_t pr1;       /**< Σv·i. */
    mc_meter_element_t el1;    /**< The element. */
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
 * @brief Measure a block of sample frames of any wiring.
 *
 * A frame is one simultaneous sample of every channel, in the order the wiring
 * gives (::mc_wiring): voltages first, then currents, then the neutral. So a
 * 3P4W frame is U1 U2 U3 I1 I2 I3 [IN]. Frames follow each other without gaps
 * (interleaved, as a scanning ADC's DMA writes them). A 1P2W meter accepts
 * frames U1 I1 too, with results bit for bit those of mc_meter_process().
 * Cost per frame: for each channel 3 multiply-accumulates into 64-bit sums (Σx²,
 * and the DFT's two), one per element (Σv·i) and one per cross product (line-to-line
 * voltages, neutral: 3P4W 6, 9 with IN); the reference's table loads and the
 * crossing scan are shared by all channels.
 *
 * @param m       the meter.
 * @param frames  n · mc_meter_channels() codes, each in [-2^23, 2^23].
 * @param n       number of frames (any, including 0).
 * @return the ::MC_EVENT_CYCLE / ::MC_EVENT_WINDOW bits, or ::MC_ERR_INVAL for NULL.
 */
int mc_meter_process_frames(mc_meter_t *m, const int32_t *frames, size_t n);

/**
 * @brief Channels per frame of a configuration's wiring (the length of channel_state).
 * @param cfg  the configuration.
 * @return 2..20, or 0 for NULL or an invalid wiring.
 */
size_t mc_meter_channels(const mc_meter_config_t *cfg);

/**
 * @brief Sample products a configuration needs (the length of pair_state): one per
 *        element, plus the line-to-line (3P4W 3, 1P3W 1, 3P3W 1, multi with three
 *        voltages 3) and current cross products (3P4W 3, and 3 more with IN; 1P3W 1).
 * @param cfg  the configuration.
 * @return 1..25, or 0 for NULL or an invalid wiring.
 */
size_t mc_meter_pairs(const mc_meter_config_t *cfg);

/**
 * @brief Measuring elements of a configuration (the length of element_state).
 * @param cfg  the configuration.
 * @return 1..16, or 0 for NULL or an invalid wiring.
 */
size_t mc_meter_elements(const mc_meter_config_t *cfg);

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
 * @brief The last closed window's readings of one element (phase, circuit).
 *
 * For 1P2W element 0 is the meter itself (the totals of mc_meter_reading()).
 * @param m        the meter.
 * @param element  0 .. mc_meter_elements() - 1.
 * @param out      receives the reading.
 * @return ::MC_OK, ::MC_ERR_NODATA before the first window, ::MC_ERR_INVAL.
 */
int mc_meter_phase_reading(const mc_meter_t *m, unsigned element, mc_phase_reading_t *out);

/**
 * @brief The last closed window's poly-phase quantities (line-to-line voltages,
 *        sequence, unbalance, neutral, missing phases, vector S).
 * @param m    the meter.
 * @param out  receives them. For 1P2W: s_vector, and missing / ::MC_POLY_MISSING_PHASE for its
 *             one voltage; the three-phase quantities read 0.
 * @return ::MC_OK, ::MC_ERR_NODATA before the first window, ::MC_ERR_INVAL.
 */
int mc_meter_poly_reading(const mc_meter_t *m, mc_poly_reading_t *out);

/**
 * @brief One element's own energy registers (each window booked by the element's sign).
 *
 * For 1P2W element 0's registers are the meter's.
 * @param m        the meter.
 * @param element  0 .. mc_meter_elements() - 1.
 * @param out      receives the registers.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_meter_phase_energy(const mc_meter_t *m, unsigned element, mc_energy_t *out);

/**
 * @brief Restore (from storage) or clear one element's energy registers.
 *
 * The totals are set by mc_meter_set_energy(); with ::MC_NETTING_PHASE they are the
 * sum of the elements' only if the caller keeps them so.
 * @param m        the meter.
 * @param element  0 .. mc_meter_elements() - 1 (1P2W: sets the meter's registers).
 * @param energy   the registers.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_meter_set_phase_energy(mc_meter_t *m, unsigned element, const mc_energy_t *energy);

/**
 * @brief Restore the energy registers (from storage) or clear them (all zero).
 *
 * The pulse accumulator is reset too.
 * @param m       the meter.
 * @param energy  the registers to take over, each below ::MC_ENERGY_QUANTA_MODULO.
 * @return ::MC_OK, or ::MC_ERR_INVAL for NULL or a register out of range (nothing changed).
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
 * @brief Put a per-channel calibration in force (every wiring; 1P2W too).
 *
 * Checks version, size, CRC and ranges; on failure the one in force is kept. The
 * meter-wide ::mc_calibration_t stays in force on top of it (gains multiply,
 * phases and offsets add).
 * @param m    the meter.
 * @param cal  a sealed per-channel calibration.
 * @return ::MC_OK, ::MC_ERR_CORRUPT, ::MC_ERR_VERSION or ::MC_ERR_INVAL.
 */
int mc_meter_set_poly_calibration(mc_meter_t *m, const mc_poly_calibration_t *cal);

/**
 * @brief The per-channel calibration in force.
 * @param m    the meter.
 * @param out  receives a sealed copy (entries beyond the wiring's channels are unity).
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_meter_get_poly_calibration(const mc_meter_t *m, mc_poly_calibration_t *out);

/**
 * @brief A unity per-channel calibration (gains 1, no phase, no offsets), sealed.
 * @param cal  receives it.
 */
void mc_poly_calibration_default(mc_poly_calibration_t *cal);

/**
 * @brief Set version and size and compute the CRC of a per-channel calibration.
 * @param cal  the calibration to seal.
 */
void mc_poly_calibration_seal(mc_poly_calibration_t *cal);

/**
 * @brief Check a per-channel calibration: version, size, CRC, value ranges.
 * @param cal  the calibration.
 * @return ::MC_OK, ::MC_ERR_VERSION, ::MC_ERR_CORRUPT or ::MC_ERR_INVAL.
 */
int mc_poly_calibration_check(const mc_poly_calibration_t *cal);

/**
 * @brief Calibrate one element's gains at PF 1 (per-element calibration routine).
 *
 * Feed a reference load on the element (U_ref, I_ref, PF 1) with @p cal in force,
 * read the element with mc_meter_phase_reading() and call this: the element's
 * voltage and current channel gains are scaled by U_ref/Urms and I_ref/Irms. (A
 * voltage shared by several circuits is calibrated by whichever element runs last.)
 * @param m         the meter (for the element's channels).
 * @param element   the element.
 * @param measured  its reading taken with @p cal in force.
 * @param u_ref     reference voltage, V (> 0).
 * @param i_ref     reference current, A (> 0).
 * @param cal       the per-channel calibration in force; updated and sealed.
 * @return ::MC_OK or ::MC_ERR_INVAL (@p cal then unchanged).
 */
int mc_calibrate_element_gain(const mc_meter_t *m, unsigned element, const mc_phase_reading_t *measured,
                              float u_ref, float i_ref, mc_poly_calibration_t *cal);

/**
 * @brief Calibrate one element's phase at a reactive load (PF 0.5L usual).
 *
 * The element's angle atan2(Q, P) is compared with @p phi_ref_deg and the
 * difference added to the delay of the element's current channel. @p phi_ref_deg
 * is the element's own angle, between its voltage and its current: the load's
 * angle φ for 1P2W, 1P3W, 3P4W and multi-circuit, but φ + 30° for a 3P3W meter's
 * first element (U12, I1) and φ - 30° for its second (U32, I3) in an ABC system. So
 * a 3P3W meter is phase-calibrated at a load whose element angles stay within ±89°
 * (PF 0.866 L: 60° and 0°), or per element with a single-phase load.
 * @param m            the meter.
 * @param element      the element.
 * @param measured     its reading with @p cal in force.
 * @param phi_ref_deg  the reference load's angle, degrees, -89..89.
 * @param cal          updated and sealed.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_calibrate_element_phase(const mc_meter_t *m, unsigned element, const mc_phase_reading_t *measured,
                               float phi_ref_deg, mc_poly_calibration_t *cal);

/**
 * @brief Calibrate one element's P and Q offsets at rated voltage and no current.
 * @param m         the meter.
 * @param element   the element.
 * @param measured  its reading with @p cal in force.
 * @param cal       updated and sealed.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_calibrate_element_offsets(const mc_meter_t *m, unsigned element, const mc_phase_reading_t *measured,
                                 mc_poly_calibration_t *cal);

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
