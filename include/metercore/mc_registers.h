/**
 * @file mc_registers.h
 * @ingroup grp_registers
 * @brief The meter's data model and its register map, independent of any transport.
 *
 * Two layers:
 * - **The data model** (::mc_model_t): the quantities a meter reports and the
 *   parameters it keeps, named by ::mc_qty with an argument (rate, month), read
 *   and written through mc_model_read() and mc_model_write(). A protocol maps
 *   its own addressing onto these quantities: the Modbus register map below is
 *   one such mapping, DL/T645-2007 data identifiers could be another, and
 *   neither touches core or tariff.
 * - **The register map** (mc_regmap_table()): the one table that says which
 *   Modbus holding register holds which quantity, in which format, unit and
 *   access. docs/REGISTERS.md is generated from it (`regmap_doc` tool) and a
 *   test keeps the two identical.
 *
 * Every parameter change, whatever its source (bus, front panel, code), goes
 * through mc_model_write(): validated, applied, then reported to the
 * `on_change` hook with old value, new value and source, which the persistence
 * layer uses to save and log.
 */
#ifndef METERCORE_MC_REGISTERS_H
#define METERCORE_MC_REGISTERS_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_common.h"
#include "metercore/mc_meter.h"
#include "metercore/mc_tariff.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the register map (readable at ::MC_REG_MAP_VERSION_ADDR). 2: access levels, audit counters.
 *  3: the poly-phase block (wiring, totals' extras from ::MC_REG_POLY_BASE, per-element quantities from
 *  ::MC_REG_ELEMENT_BASE, the per-channel calibration from ::MC_REG_CHANNEL_CAL_BASE). */
#define MC_REGMAP_VERSION 3u

/** First address of the extension registers (the KPM31 manual uses 0000H..019EH). */
#define MC_REG_EXT_BASE 0x1000u
/** Register-map version register. */
#define MC_REG_MAP_VERSION_ADDR 0x101Au

/** First register of the poly-phase totals' extras: wiring, element count, sequence, missing phases,
 *  poly flags, reference (u16 from here), then vector S, U12 U23 U31, unbalance and neutral (float32
 *  from 1410H). */
#define MC_REG_POLY_BASE 0x1400u
/** First register of the per-element block: one block of ::MC_MAX_CIRCUITS floats per quantity,
 *  ::MC_QTY_EL_VOLTAGE first, in ::mc_qty order up to ::MC_QTY_EL_E_REACTIVE_Q4 (see mc_reg_element_addr()). */
#define MC_REG_ELEMENT_BASE 0x1500u
/** Registers from one per-element quantity's block to the next (::MC_MAX_CIRCUITS floats of 2 registers). */
#define MC_REG_ELEMENT_QTY_STRIDE (2u * MC_MAX_CIRCUITS)

/** First register of the per-channel calibration of a meter of several elements (::mc_poly_calibration_t):
 *  one block of floats per quantity, ::MC_QTY_CAL_CH_GAIN first (one float per frame channel), in ::mc_qty
 *  order up to ::MC_QTY_CAL_EL_Q_OFFSET (one float per element); see mc_reg_cal_addr(). */
#define MC_REG_CHANNEL_CAL_BASE 0x1700u
/** Registers from one per-channel calibration quantity's block to the next (room for ::MC_MAX_CHANNELS floats). */
#define MC_REG_CHANNEL_CAL_STRIDE 0x40u

/** Argument of a calibration event that replaces the whole per-channel calibration (the storage's mount,
 *  when the one stored was taken under another wiring and is not put in force): old and new values are the
 *  CRC-32 (the crc field) of the calibration stored and of the one in force. */
#define MC_POLY_CAL_ARG 0xFFu

/** Argument of the one on_change report of a clock set (old and new values are times). */
#define MC_CLOCK_ARG_TIME 6u

/** Argument of the one on_change report of a schedule change (::MC_QTY_TOU_COUNTS): old and new
 *  are the CRC-32 (mc_crc32()) of the served schedule registers of 1100H..11FFH (gaps left
 *  out) as FC 03 reads them, in address order, each register big-endian, before and after. */
#define MC_SCHEDULE_ARG 0xFFu

/** Value of the clear-energy command (KPM31 000CH). */
#define MC_CLEAR_ENERGY_COMMAND 0x55AAu

/**
 * Quantities of the data model. The argument of each is given in brackets;
 * "rate" is 0 for the total or 1..4, "month" is 0 for this month or 1..12 for
 * settlement month -1..-12, packed as arg = rate * 16 + month.
 */
typedef enum mc_qty {
    MC_QTY_NONE = 0,            /**< Gap in a block: reads 0, not writable. */
    /* measurements, float */
    MC_QTY_VOLTAGE,             /**< Urms, V. */
    MC_QTY_CURRENT,             /**< Irms, A. */
    MC_QTY_P,                   /**< Active power, W. */
    MC_QTY_Q,                   /**< Reactive power (fundamental), var. */
    MC_QTY_S,                   /**< Apparent power, VA. */
    MC_QTY_PF,                  /**< Power factor, signed. */
    MC_QTY_FREQ,                /**< Frequency, Hz. */
    MC_QTY_DEMAND_S,            /**< Apparent demand, VA. */
    MC_QTY_DEMAND_P,            /**< Active demand, W. */
    MC_QTY_MAX_DEMAND_P,        /**< Maximum active demand this month, W. */
    /* energies, float kWh / kvarh */
    MC_QTY_E_ACTIVE,            /**< Combined active energy, lifetime [rate]. */
    MC_QTY_E_ACTIVE_IMPORT,     /**< Active import energy, lifetime [rate]. */
    MC_QTY_E_ACTIVE_EXPORT,     /**< Active export energy, lifetime [rate]. */
    MC_QTY_E_REACTIVE,          /**< Combined reactive energy, lifetime [rate]. */
    MC_QTY_E_REACTIVE_IMPORT,   /**< Reactive import energy, lifetime [rate]. */
    MC_QTY_E_REACTIVE_EXPORT,   /**< Reactive export energy, lifetime [rate]. */
    MC_QTY_MONTH_ACTIVE,        /**< Combined active energy of a month [rate * 16 + month]. */
    MC_QTY_MONTH_REACTIVE,      /**< Combined reactive energy of a month [rate * 16 + month]. */
    /* parameters and commands, u16 */
    MC_QTY_PASSWORD,            /**< Protection password 0..9999; reads 0; writing it unlocks. */
    MC_QTY_ADDRESS,             /**< Modbus slave address 1..247. */
    MC_QTY_BAUD,                /**< Baud code 1..4 = 1200, 2400, 4800, 9600. */
    MC_QTY_PARITY,              /**< Parity 0 none, 1 even, 2 odd. */
    MC_QTY_WORD_ORDER,          /**< Float word order 0 ABCD (high word first), 1 CDAB. */
    MC_QTY_CLEAR_ENERGY,        /**< Write 0x55AA: clear all energy; reads 0. */
    MC_QTY_PULSE_CONSTANT,      /**< Pulse constant, imp/kWh, 1..65535. */
    MC_QTY_SETTLE_DAY,          /**< Settlement day 1..28. */
    MC_QTY_SETTLE_HOUR,         /**< Settlement hour 0..23. */
    MC_QTY_CLOCK,               /**< Clock field [0 year, 1 month, 2 day, 3 hour, 4 minute, 5 second]. */
    MC_QTY_SERIAL,              /**< Serial number, 2 ASCII characters per register [0..7]. */
    MC_QTY_SW_VERSION,          /**< Library version 0xMMmm. */
    MC_QTY_SW_PATCH,            /**< Library patch version. */
    MC_QTY_MAP_VERSION,         /**< ::MC_REGMAP_VERSION. */
    MC_QTY_SW_CHECKSUM,         /**< Checksum of the legally relevant code [0 high, 1 low word]. */
    MC_QTY_STATUS,              /**< Status flags ::mc_status_flag. */
    MC_QTY_ERRORS,              /**< Error flags ::mc_error_flag. */
    MC_QTY_RELAY,               /**< Relay state 0 open, 1 closed (KPM31B). */
    MC_QTY_DI,                  /**< DI state 0 open, 1 closed (KPM31BK). */
    MC_QTY_RATE,                /**< Rate in force 1..4. */
    /* tariff schedule, u16; writes are validated as a whole schedule */
    MC_QTY_TOU_COUNTS,          /**< [0] day profiles, [1] week profiles, [2] seasons, [3] special days. */
    MC_QTY_TOU_PROFILE,         /**< Day profile [profile * 32 + word]: word 0 segment count, word 1 + 2k
                                     segment k start hour * 256 + minute, word 2 + 2k its rate 1..4. */
    MC_QTY_TOU_WEEK,            /**< Day profile of a weekday [week * 7 + weekday], Monday = 0. */
    MC_QTY_TOU_SEASON,          /**< Season [season * 2 + field]: 0 start month * 256 + day, 1 week profile. */
    MC_QTY_TOU_SPECIAL,         /**< Special day [day * 3 + field]: 0 year (0 = every year), 1 month * 256 + day,
                                     2 day profile. */
    /* calibration, float; writable over the bus only while the meter is not sealed */
    MC_QTY_CAL,                 /**< [0] u_gain, [1] i_gain, [2] phase_deg, [3] p_offset W, [4] q_offset var. */
    MC_QTY_SEAL,                /**< 1 = calibration sealed; writing 1 seals, nothing unseals over the bus. */
    /* event log (audit trail), through the storage layer's hooks */
    MC_QTY_EVENT_COUNT,         /**< Events in the log. */
    MC_QTY_EVENT_SELECT,        /**< Which event the EVENT registers show: 0 = newest (not a parameter). */
    MC_QTY_EVENT,               /**< Selected event [field]: 0/1 seq high/low, 2/3 time high/low, 4 type, 5 source,
                                     6 qty, 7 arg, 8/9 old high/low, 10/11 new high/low. */
    MC_QTY_AUDIT_COUNTER,       /**< Audit counter that never resets [counter * 2 + word], word 0 high, 1 low;
                                     counter as mc_storage.h's mc_audit_counter (0 calibration, 1 seal, 2 energy
                                     clear, 3 clock set, 4 tariff, 5 pulse constant, 6 format, 7 all). */
    /* poly-phase: the wiring and the totals' extras (mc_meter_poly_reading()), read-only */
    MC_QTY_WIRING,              /**< Wiring, u16: ::mc_wiring (0 1P2W, 1 1P3W, 2 3P4W, 3 3P3W, 4 multi-circuit). */
    MC_QTY_ELEMENTS,            /**< Measuring elements (phases, circuits), u16: mc_meter_elements(), 1..16. */
    MC_QTY_SEQUENCE,            /**< Phase sequence, u16: ::mc_sequence (0 none, 1 ABC, 2 ACB). */
    MC_QTY_MISSING_PHASES,      /**< Missing voltages, u16: bit k = voltage channel k + 1 below 10 % of Un. */
    MC_QTY_POLY_FLAGS,          /**< Poly-phase flags, u16: ::mc_poly_flag bits. */
    MC_QTY_REFERENCE,           /**< Voltage channel (0-based) that gave frequency and cycles, u16. */
    MC_QTY_S_VECTOR,            /**< Vector apparent power sqrt(P² + Q1²) of the totals, VA. */
    MC_QTY_U_LL,                /**< Line-to-line voltage, V [0 U12, 1 U23, 2 U31]. */
    MC_QTY_U_UNBALANCE,         /**< Voltage unbalance (negative / positive sequence), %. */
    MC_QTY_I_UNBALANCE,         /**< Current unbalance, %. */
    MC_QTY_I_NEUTRAL,           /**< Neutral current (measured IN if there is one, else calculated), A. */
    MC_QTY_I_NEUTRAL_CALC,      /**< Neutral current calculated from the phase currents, A. */
    MC_QTY_I_RESIDUAL,          /**< Residual current rms(I1 + I2 + I3 + IN) with a measured IN, else 0, A. */
    /* per element (phase, circuit) [element 0..15], mc_meter_phase_reading() / mc_meter_phase_energy();
     * elements the meter does not have read 0. Keep the order: the register map follows it. */
    MC_QTY_EL_VOLTAGE,          /**< Element's Urms, V [element]. */
    MC_QTY_EL_CURRENT,          /**< Element's Irms, A [element]. */
    MC_QTY_EL_P,                /**< Element's active power, W, signed [element]. */
    MC_QTY_EL_Q,                /**< Element's reactive power (fundamental), var, signed [element]. */
    MC_QTY_EL_S,                /**< Element's apparent power, VA [element]. */
    MC_QTY_EL_PF,               /**< Element's power factor, signed like P [element]. */
    MC_QTY_EL_U_ANGLE,          /**< Element's fundamental voltage angle to U1, degrees, positive leading [element]. */
    MC_QTY_EL_I_ANGLE,          /**< Element's fundamental current angle to U1, degrees, positive leading [element]. */
    MC_QTY_EL_E_ACTIVE_IMPORT,  /**< Element's active import energy, kWh (booked by its own sign) [element]. */
    MC_QTY_EL_E_ACTIVE_EXPORT,  /**< Element's active export energy, kWh [element]. */
    MC_QTY_EL_E_REACTIVE_Q1,    /**< Element's reactive energy, quadrant I, kvarh [element]. */
    MC_QTY_EL_E_REACTIVE_Q2,    /**< Element's reactive energy, quadrant II, kvarh [element]. */
    MC_QTY_EL_E_REACTIVE_Q3,    /**< Element's reactive energy, quadrant III, kvarh [element]. */
    MC_QTY_EL_E_REACTIVE_Q4,    /**< Element's reactive energy, quadrant IV, kvarh [element]. */
    /* per-channel calibration of a meter of several elements (::mc_poly_calibration_t, in force with
     * mc_meter_set_poly_calibration(), on top of the meter-wide ::MC_QTY_CAL), float, ::MC_LEVEL_CAL like
     * ::MC_QTY_CAL: saved with the configuration, logged as calibration events, under the seal. A meter of
     * one element (1P2W) reads the calibration in force and takes no change (its calibration is
     * ::MC_QTY_CAL); nor do channels or elements the meter does not have (they read unity: gain 1,
     * phase and offsets 0). Keep the order: the register map follows it. */
    MC_QTY_CAL_CH_GAIN,         /**< Gain of a frame channel, 0.5..2 [channel 0..19, frame order]. */
    MC_QTY_CAL_CH_PHASE,        /**< Delay of a frame channel's signal to remove, degrees at the fundamental,
                                     -10..10 [channel]. */
    MC_QTY_CAL_EL_P_OFFSET,     /**< Active power offset of an element, W, -10000..10000 [element 0..15]. */
    MC_QTY_CAL_EL_Q_OFFSET,     /**< Reactive power offset of an element, var, -10000..10000 [element]. */
    /* derived readings other maps carry (Eastron SDM, SunSpec: mc_regmap_builtin()), read-only */
    MC_QTY_EL_PHASE_ANGLE,      /**< Angle of an element's fundamental current to its own voltage, degrees in
                                     (-180, 180], positive when the current leads (capacitive), negative when it
                                     lags (inductive) [element]; elements the meter does not have read 0. */
    MC_QTY_AGGREGATE,           /**< Over the elements the meter has: [0] mean Urms, V; [1] mean Irms, A; [2] sum
                                     of Irms, A; [3] mean of the line-to-line voltages the wiring has (U12, U23,
                                     U31 for three phases, U12 for split phase, else 0), V; [4] angle of the
                                     totals, -atan2(Q1, P) in degrees (the sign of ::MC_QTY_EL_PHASE_ANGLE). */
    MC_QTY_E_QUADRANT,          /**< Lifetime reactive energy of the totals by quadrant, kvarh [0..3 = quadrant
                                     I..IV] (::mc_energy_reg). */
    MC_QTY_NAN,                 /**< Reads NaN (a float point a map defines but the meter does not implement:
                                     SunSpec's 0x7FC00000). */
    MC_QTY_SUNSPEC_METER_MODEL, /**< SunSpec float meter model of the wiring, u16: 211 single phase (1P2W, and
                                     a multi-circuit meter on one voltage), 212 split phase (1P3W), 213 wye (3P4W,
                                     multi-circuit on three voltages), 214 delta (3P3W). */
    MC_QTY_COUNT                /**< Number of quantities. */
} mc_qty;

/**
 * Value formats on the bus. A quantity is read as a float or a word (::mc_value_t) and
 * converted to the entry's format; the entry's scale s (a power of ten) applies to the
 * numeric formats: the register carries value × 10^-s (SunSpec's scale factor: value =
 * register × 10^s). Integer formats round to nearest and clamp to their range (a reading
 * outside it shows as the limit, never as a wrapped value); a word quantity read as a float
 * is its value exactly.
 */
typedef enum mc_fmt {
    MC_FMT_U16 = 0, /**< One register, unsigned 0..65535. */
    MC_FMT_F32,     /**< Two registers, IEEE-754 single, word order as the map says (::mc_regmap_t). */
    MC_FMT_I16,     /**< One register, two's complement -32767..32767 (-32768 is SunSpec's "not implemented"). */
    MC_FMT_U32,     /**< Two registers, unsigned 0..2^32-1, high word first (SunSpec uint32, acc32). */
    MC_FMT_CONST,   /**< Every register of the block reads the entry's konst; never writable (SunSpec's
                         markers, model ids, lengths, scale factors). */
    MC_FMT_STR      /**< One register per item, two ASCII characters each, high byte first, NUL padded:
                         characters 2k and 2k+1 of the map's strings[arg] (::mc_regmap_t); never writable. */
} mc_fmt;

/** Units (for the documentation). */
typedef enum mc_unit {
    MC_UNIT_NONE = 0, MC_UNIT_V, MC_UNIT_A, MC_UNIT_W, MC_UNIT_VAR, MC_UNIT_VA, MC_UNIT_HZ,
    MC_UNIT_KWH, MC_UNIT_KVARH,
    MC_UNIT_DEG,    /**< Degrees (phase angles). */
    MC_UNIT_PERCENT /**< Percent (unbalance). */
} mc_unit;

/** Access rights of a register. */
enum mc_access {
    MC_ACC_R = 1,  /**< Readable. */
    MC_ACC_W = 2,  /**< Writable. */
    MC_ACC_RW = 3  /**< Both. */
};

/**
 * One block of a register map: @p count items of @p format from @p addr on, item k
 * holding quantity @p qty with argument arg + k * arg_step (an item is two registers for
 * ::MC_FMT_F32 and ::MC_FMT_U32, one otherwise). 12 bytes; a product's map is a const
 * array of these (in flash). Use the MC_REG_* initialiser macros below or designated
 * initialisers; fields left out are 0.
 */
typedef struct mc_reg_entry {
    uint16_t addr;     /**< First register address. */
    uint16_t konst;    /**< ::MC_FMT_CONST: the value every register of the block reads; 0 otherwise. */
    uint8_t count;     /**< Items in the block, 1..255. */
    uint8_t format;    /**< ::mc_fmt. */
    uint8_t qty;       /**< ::mc_qty (::MC_QTY_NONE for ::MC_FMT_CONST and ::MC_FMT_STR). */
    uint8_t arg;       /**< Argument of the first item (::MC_FMT_STR: index into the map's strings). */
    uint8_t arg_step;  /**< Argument step per item. */
    uint8_t unit : 4;  /**< ::mc_unit (documentation). */
    uint8_t access : 4; /**< ::mc_access bits; who may write is the quantity's level (mc_qty_level()). */
    int8_t scale;      /**< Power of ten: the register carries value × 10^-scale (numeric formats). */
    uint8_t flags;     /**< ::mc_reg_flag bits. */
} mc_reg_entry_t;

/** Per-entry options (::mc_reg_entry_t flags). */
enum mc_reg_flag {
    MC_REGF_ELEMENT_NAN = 1u /**< The items' argument is an element (phase): one the meter does not have reads
                                  NaN instead of 0 (::MC_FMT_F32; SunSpec's "not implemented"). */
};

/** An entry of float32 items: addr, count, quantity, first argument, argument step, unit, access. */
#define MC_REG_F32(addr, n, qty, arg, step, unit, acc) \
    { (addr), 0u, (n), MC_FMT_F32, (qty), (arg), (step), (unit), (acc), 0, 0u }
/** An entry of unsigned 16-bit items. */
#define MC_REG_U16(addr, n, qty, arg, step, acc) \
    { (addr), 0u, (n), MC_FMT_U16, (qty), (arg), (step), MC_UNIT_NONE, (acc), 0, 0u }
/** An entry of scaled integer items (format ::MC_FMT_I16, ::MC_FMT_U16 or ::MC_FMT_U32), read-only. */
#define MC_REG_INT(addr, n, fmt, qty, arg, step, unit, scale) \
    { (addr), 0u, (n), (fmt), (qty), (arg), (step), (unit), MC_ACC_R, (scale), 0u }
/** @p n registers that each read the constant @p value. */
#define MC_REG_CONST(addr, n, value) \
    { (addr), (uint16_t)(value), (n), MC_FMT_CONST, MC_QTY_NONE, 0u, 0u, MC_UNIT_NONE, MC_ACC_R, 0, 0u }
/** @p n registers of the map's constant string @p index (2 characters a register). */
#define MC_REG_STR(addr, n, index) \
    { (addr), 0u, (n), MC_FMT_STR, MC_QTY_NONE, (index), 0u, MC_UNIT_NONE, MC_ACC_R, 0, 0u }

/** Word order of a map's two-register values (::MC_FMT_F32; ::MC_FMT_U32 is always high word first). */
typedef enum mc_regmap_words {
    MC_REGMAP_WORDS_PARAM = 0, /**< As the meter's parameter ::MC_QTY_WORD_ORDER says (the KPM31 map). */
    MC_REGMAP_WORDS_ABCD,      /**< Always high word first (Eastron SDM, SunSpec). */
    MC_REGMAP_WORDS_CDAB       /**< Always low word first. */
} mc_regmap_words;

/** What a map serves besides registers (::mc_regmap_t flags). */
enum mc_regmap_flag {
    MC_REGMAP_BITS = 1u /**< The relay coil (FC 01/05) and the DI (FC 02) at ::MC_MB_RELAY_COIL, where the
                             product has them (KPM31B/BK). */
};

/**
 * A Modbus register map: a product's data, passed to the protocol handler
 * (mc_modbus_handle_pdu_map(), mc_rtu_set_map()). The data model, the write path, the access
 * levels and the all-or-nothing semantics are the library's; the map only says where each
 * quantity sits and how it is encoded. Holding registers answer FC 03 (read), 06 and 10
 * (write); input registers answer FC 04. Each table is sorted by address with no two
 * entries overlapping (mc_regmap_check()). A block read that touches at least one defined
 * register returns zeros for the undefined ones in it; one that touches none gets exception
 * 02, and so does any write to a register not defined writable. A function code the map
 * has no table for gets exception 01.
 */
typedef struct mc_regmap {
    const char *name;              /**< Short name: metersim's --map, the generated documentation. */
    const char *title;             /**< One line saying what the map is compatible with. */
    const mc_reg_entry_t *holding; /**< Holding registers (FC 03/06/10), sorted; NULL if none. */
    size_t n_holding;              /**< Entries in @p holding. */
    const mc_reg_entry_t *input;   /**< Input registers (FC 04), sorted; NULL if none (may be @p holding:
                                        then FC 04 reads the same registers). */
    size_t n_input;                /**< Entries in @p input. */
    const char *const *strings;    /**< Constant strings of ::MC_FMT_STR entries, or NULL. */
    size_t n_strings;              /**< Entries in @p strings. */
    uint8_t words;                 /**< ::mc_regmap_words. */
    uint8_t flags;                 /**< ::mc_regmap_flag bits. */
} mc_regmap_t;

/**
 * @brief The KPM31 register map's holding table (the native map, ::MC_REGMAP_VERSION):
 *        entries sorted by address, none overlapping.
 * @param count  receives the number of entries.
 * @return the table (in flash).
 */
const mc_reg_entry_t *mc_regmap_table(size_t *count);

/**
 * @brief The built-in map called @p name: "kpm31" (the native map), "sdm120" (Eastron
 *        SDM120-compatible), "sdm630" (Eastron SDM630-compatible), "sunspec" (SunSpec
 *        common model, meter model, end model). See docs/REGISTERS.md.
 * @param name  the map's name (case-sensitive); NULL gives the KPM31 map.
 * @return the map (in flash), or NULL for an unknown name.
 */
const mc_regmap_t *mc_regmap_builtin(const char *name);

/**
 * @brief The built-in maps, in a fixed order (the KPM31 map first).
 * @param index  0 .. count - 1.
 * @return the map, or NULL past the last.
 */
const mc_regmap_t *mc_regmap_builtin_at(size_t index);

/**
 * @brief Check a map's tables: each sorted by address, no overlap, no block past
 *        FFFFH, counts 1..255, known formats, strings in range, constants and strings
 *        read-only, writable entries only of ::MC_FMT_U16 or ::MC_FMT_F32.
 * @param map  the map.
 * @return ::MC_OK, or ::MC_ERR_INVAL naming nothing more (a product's test calls it).
 */
int mc_regmap_check(const mc_regmap_t *map);

/**
 * @brief Address of a per-element register: ::MC_REG_ELEMENT_BASE, plus
 *        ::MC_REG_ELEMENT_QTY_STRIDE per quantity after ::MC_QTY_EL_VOLTAGE, plus 2 per element.
 *
 * So element k's voltage is at 1500H + 2k, its current at 1520H + 2k, ..., its
 * quadrant IV reactive energy at 16A0H + 2k (docs/REGISTERS.md).
 * @param qty      ::MC_QTY_EL_VOLTAGE .. ::MC_QTY_EL_E_REACTIVE_Q4.
 * @param element  0 .. ::MC_MAX_CIRCUITS - 1.
 * @return the first register of the float, or 0 for a quantity or element out of range.
 */
static inline unsigned mc_reg_element_addr(mc_qty qty, unsigned element)
{
    if (qty < MC_QTY_EL_VOLTAGE || qty > MC_QTY_EL_E_REACTIVE_Q4 || element >= MC_MAX_CIRCUITS) {
        return 0u;
    }
    return MC_REG_ELEMENT_BASE + MC_REG_ELEMENT_QTY_STRIDE * (unsigned)(qty - MC_QTY_EL_VOLTAGE) + 2u * element;
}

/**
 * @brief Address of a per-channel calibration register: ::MC_REG_CHANNEL_CAL_BASE, plus
 *        ::MC_REG_CHANNEL_CAL_STRIDE per quantity after ::MC_QTY_CAL_CH_GAIN, plus 2 per channel or element.
 *
 * So frame channel k's gain is at 1700H + 2k, its phase at 1740H + 2k, element k's P offset at
 * 1780H + 2k and its Q offset at 17C0H + 2k (docs/REGISTERS.md).
 * @param qty    ::MC_QTY_CAL_CH_GAIN .. ::MC_QTY_CAL_EL_Q_OFFSET.
 * @param index  frame channel 0 .. ::MC_MAX_CHANNELS - 1 (gain, phase) or element 0 .. ::MC_MAX_CIRCUITS - 1
 *               (offsets).
 * @return the first register of the float, or 0 for a quantity or index out of range.
 */
static inline unsigned mc_reg_cal_addr(mc_qty qty, unsigned index)
{
    if (qty < MC_QTY_CAL_CH_GAIN || qty > MC_QTY_CAL_EL_Q_OFFSET ||
        index >= (qty <= MC_QTY_CAL_CH_PHASE ? MC_MAX_CHANNELS : MC_MAX_CIRCUITS)) {
        return 0u;
    }
    return MC_REG_CHANNEL_CAL_BASE + MC_REG_CHANNEL_CAL_STRIDE * (unsigned)(qty - MC_QTY_CAL_CH_GAIN) + 2u * index;
}

/** Where a parameter change came from. */
typedef enum mc_source {
    MC_SRC_BUS = 0,   /**< A protocol write (Modbus, DL/T645). */
    MC_SRC_PANEL,     /**< The front panel. */
    MC_SRC_LOCAL      /**< Firmware itself (start-up, production, tests). */
} mc_source;

/**
 * @name Access levels
 * Every quantity has one (mc_qty_level()). Reading is public. A change over a
 * bus needs a session (::mc_session_t) that reached the quantity's level:
 * - ::MC_LEVEL_PUBLIC: the event selector and the password register itself (to log in);
 * - ::MC_LEVEL_PARAM: the password (KPM31 0000H) was given on this session;
 * - ::MC_LEVEL_CAL: as PARAM, and the calibration is not sealed, or it is sealed and
 *   the port's calibration switch (hooks.cal_switch, a jumper under the sealed
 *   cover) is set: the physical act. Unsealing needs the switch too.
 *
 * See docs/SECURITY.md for the threat model and the OIML D 31 / WELMEC 7.2 reasoning.
 * @{
 */
/** Access level of a quantity. */
typedef enum mc_level {
    MC_LEVEL_PUBLIC = 0, /**< Anyone (event selector, password register to log in). */
    MC_LEVEL_PARAM = 1,  /**< Password: communication, clock, tariff, settlement, relay, energy clear, password change. */
    MC_LEVEL_CAL = 2,    /**< Password, and unsealed or the calibration switch: calibration (meter-wide and per
                              channel), pulse constant, seal. */
    MC_LEVEL_NONE = 3    /**< Not writable over any bus (measurements, serial number, status). */
} mc_level;

/** Interfaces, each with its own brute-force guard (::mc_auth_guard_t). */
typedef enum mc_iface {
    MC_IFACE_LOCAL = 0,  /**< Firmware itself. */
    MC_IFACE_RTU = 1,    /**< Modbus RTU line (RS485). */
    MC_IFACE_TCP = 2,    /**< Modbus TCP server (all its connections share one guard). */
    MC_IFACE_PANEL = 3,  /**< Front panel (mc_panel.h keeps its own lockout). */
    MC_IFACE_DLT645 = 4, /**< DL/T645-2007 line. */
    MC_IFACE_OTHER = 5   /**< Anything else a product adds. */
} mc_iface;

/** Wrong passwords an interface may try before it is locked out. */
#define MC_AUTH_FREE_TRIES 10u
/** First lockout, seconds; every wrong password after a lockout doubles it. */
#define MC_AUTH_LOCKOUT_FIRST_S 60u
/** Longest lockout, seconds (one try a day: 10 000 passwords take over 27 years). */
#define MC_AUTH_LOCKOUT_MAX_S 86400u
/** A day without a wrong password forgives one (the count decays; a right password does not reset it). */
#define MC_AUTH_DECAY_S 86400u

/**
 * Brute-force guard of one interface, shared by all its sessions (TCP
 * connections come and go; the guard stays). Caller-allocated, one per
 * interface, initialised with mc_auth_guard_init(); fields private.
 * Time is the model's monotonic clock (hooks.monotonic_ms), never the meter's
 * clock, which a client can set.
 */
typedef struct mc_auth_guard {
    uint32_t locked_at_ms;   /**< Monotonic time the lockout began. */
    uint32_t lockout_s;      /**< Length of the lockout under way, s (0: not locked). */
    uint32_t last_wrong_ms;  /**< Monotonic time of the last wrong password (or of the last decay step). */
    uint32_t wrong_total;    /**< Wrong passwords since start-up (never reset). */
    uint32_t refused;        /**< Tries refused during the lockout under way. */
    uint16_t wrong;          /**< Wrong passwords counted against the interface: +1 per wrong one, -1 per
                                  ::MC_AUTH_DECAY_S without one; a right password does not reset it (a
                                  client that logs in regularly must not shelter an attacker's guesses). */
    uint8_t iface;           /**< ::mc_iface, for the log. */
} mc_auth_guard_t;

/**
 * A session: one TCP connection, one RTU master, one DL/T645 master. It holds
 * the level reached by a password, until cfg.unlock_seconds pass without an
 * authorised write (counted on the monotonic clock), the session ends
 * (mc_session_end(), e.g. the connection closes) or the password changes.
 * Caller-allocated; fields private.
 */
typedef struct mc_session {
    mc_auth_guard_t *guard; /**< The interface's guard. */
    uint32_t last_ms;       /**< Monotonic time of the login or the last authorised write. */
    uint16_t password_gen;  /**< The model's password generation at login. */
    uint8_t authorised;     /**< The password was given. */
    uint8_t one_request;    /**< Without a monotonic clock: valid for the current request only. */
} mc_session_t;
/** @} */

/** Status flags (::MC_QTY_STATUS). */
enum mc_status_flag {
    MC_STATUS_UNLOCKED = 1u << 0,   /**< Parameter writes need no password (cfg.require_unlock 0: the product's choice). */
    MC_STATUS_SEALED = 1u << 1,     /**< Calibration sealed (never writable over the bus). */
    MC_STATUS_NO_VOLTAGE = 1u << 2, /**< Last window saw no voltage. */
    MC_STATUS_CREEP = 1u << 3,      /**< Last window under the creep threshold. */
    MC_STATUS_EXPORT = 1u << 4,     /**< Last window's active power was exported. */
    MC_STATUS_RELAY_CLOSED = 1u << 5, /**< Relay closed. */
    MC_STATUS_DI_CLOSED = 1u << 6,  /**< DI closed (extended circuit). */
    MC_STATUS_CAL_SWITCH = 1u << 7, /**< The calibration switch is set (hooks.cal_switch). */
};

/** Error flags (::MC_QTY_ERRORS), set by the integrity checks of the persistence layer. */
enum mc_error_flag {
    MC_ERROR_PARAMS_CRC = 1u << 0,  /**< Stored parameters failed their CRC. */
    MC_ERROR_CAL_CRC = 1u << 1,     /**< Stored calibration failed its CRC. */
    MC_ERROR_ENERGY_CRC = 1u << 2,  /**< Stored energy failed its CRC (an older copy was used). */
    MC_ERROR_CLOCK = 1u << 3,       /**< The clock was invalid at start-up. */
};

/** Meter variant features (KPM31A, B, BK and others). */
enum mc_feature {
    MC_FEAT_RELAY = 1u << 0, /**< Has a latching relay (KPM31B, BK). */
    MC_FEAT_DI = 1u << 1,    /**< Has the dual-source DI (KPM31BK). */
};

/** Parameters kept by the model (saved by the persistence layer). */
typedef struct mc_params {
    uint16_t password;       /**< 0..9999 (default 6666). */
    uint8_t address;         /**< 1..247 (default 1). */
    uint8_t baud_code;       /**< 1..4 (default 4 = 9600). */
    uint8_t parity;          /**< 0..2 (default 0 none). */
    uint8_t word_order;      /**< 0 ABCD (default), 1 CDAB. */
    uint16_t pulse_constant; /**< imp/kWh (default 1600). */
    char serial[16];         /**< Serial number, ASCII, NUL-padded. */
} mc_params_t;

/** Event types of the log. */
typedef enum mc_event_type {
    MC_EV_POWER_UP = 1,     /**< Mount after a start; old = time of the last energy save (power down, approx.). */
    MC_EV_POWER_DOWN = 2,   /**< Power-fail warning handled. */
    MC_EV_PARAM = 3,        /**< Parameter change: qty, arg, old, new, source. */
    MC_EV_ENERGY_CLEAR = 4, /**< Energy cleared. */
    MC_EV_CLOCK_SET = 5,    /**< Clock set: old time, new time. */
    MC_EV_CALIBRATION = 6,  /**< Calibration changed: arg = field, old, new (float bits). */
    MC_EV_RELAY = 7,        /**< Relay action: old, new state. */
    MC_EV_INTEGRITY = 8,    /**< Integrity error: arg = ::mc_error_flag bit index, old = stored CRC, new = computed (0 at mount). */
    MC_EV_FREEZE = 9,       /**< Monthly settlement: new = settlement point. */
    MC_EV_CLOCK_BACKWARD = 10, /**< Time went backwards without a clock set: old, new time. */
    MC_EV_STORAGE = 11,     /**< Storage trouble: arg = area, old = sector, new = mc_err. */
    MC_EV_PANEL = 12,       /**< Front panel: arg = the panel's event (2 settings locked after wrong
                                 passwords, 3 lockout over), old = wrong tries, new = lockout seconds. */
    MC_EV_AUTH = 13,        /**< Bus password: qty = ::mc_auth_event, arg = ::mc_iface, old = the interface's
                                 count of wrong passwords (mc_auth_guard_t::wrong) after this one (for
                                 ::MC_AUTH_REFUSED: the tries refused), new = lockout seconds (0: none).
                                 Never the tried value. */
    MC_EV_FORMAT = 14       /**< Firmware or storage format change seen at mount: arg 0 storage format
                                 (old, new = major * 256 + minor; old 0 at a first start; the format of
                                 the records the meter writes: 2.0 for a single-element meter, whose
                                 records did not change, 2.1 with several elements), arg 1 code checksum
                                 (old, new). */
} mc_event_type;

/** What an ::MC_EV_AUTH event reports (its qty field). */
typedef enum mc_auth_event {
    MC_AUTH_WRONG = 1,     /**< A wrong password (counted, never logged with its value). */
    MC_AUTH_LOCKOUT = 2,   /**< Too many wrong passwords: the interface is locked out for `new` seconds. */
    MC_AUTH_REFUSED = 3    /**< Tries refused during a lockout (logged once per lockout, old = how many). */
} mc_auth_event;

/** One event of the log. */
typedef struct mc_event {
    uint32_t seq;     /**< Sequence number, increasing. */
    mc_time_t time;   /**< When (local standard time). */
    uint8_t type;     /**< ::mc_event_type. */
    uint8_t source;   /**< ::mc_source for changes. */
    uint8_t qty;      /**< ::mc_qty for parameter changes. */
    uint8_t arg;      /**< Argument, as the type says. */
    uint32_t old_value; /**< Old value (floats as IEEE bits). */
    uint32_t new_value; /**< New value. */
} mc_event_t;

/**
 * Hooks of the model into the rest of the firmware: a struct of callbacks with
 * a context. Every hook may be NULL; the table says what then stops working, so
 * a product wires what it has. They run inside mc_model_write(), the protocol
 * handlers and the panel, so they must not block for long (a flash write is fine,
 * waiting for a network is not).
 *
 * | hook | needed for | when NULL |
 * |------|------------|-----------|
 * | now | the clock registers, event times | the tariff's latest time is used (0 without a tariff) |
 * | set_clock | writing the clock (::MC_QTY_CLOCK, KPM31 1008H..100DH, and the panel) | clock writes fail with ::MC_ERR_NODATA (Modbus exception 04) |
 * | on_change | the audit trail and persistence: wire it to mc_storage_param_changed() with the storage instance as ctx (or call it from your hook) | changes apply in RAM but are neither saved nor logged |
 * | event_count, event_read | the event-log registers (wire to mc_storage_event_count() / mc_storage_event_read()) | the log reads as empty |
 * | relay | products with ::MC_FEAT_RELAY: drives the coil | the relay state changes in the model only |
 * | di | products with ::MC_FEAT_DI: reads the input | the DI reads as open |
 * | code_checksum | the firmware checksum register | it reads 0 |
 * | monotonic_ms | session timeouts, lockouts, the write budget | a password opens only the request that carries it; a lockout lasts until restart; the write budget does not refill until restart |
 * | cal_switch | changing a sealed calibration (the physical act) | a sealed calibration can never be changed |
 * | commit | acknowledged = durable: wire to mc_storage_commit() | writes are acknowledged before they are saved (a cut can lose them) |
 * | on_auth | logging wrong passwords and lockouts (mc_storage_auth_event()) | they are counted in the guard only |
 * | audit_counter | the audit counter registers (1310H..131FH; mc_storage_audit_counter()) | they read 0 |
 */
typedef struct mc_model_hooks {
    /** A parameter changed (after validation, before it is applied): quantity, argument, old and
     *  new value (floats as their IEEE-754 bits), source. Energy clear is reported as
     *  ::MC_QTY_CLEAR_ENERGY; a clock set once as ::MC_QTY_CLOCK with argument
     *  ::MC_CLOCK_ARG_TIME and the old and new ::mc_time_t, whatever fields were written.
     *  Optional; a metering product wires it to storage (mc_storage_param_changed()). */
    void (*on_change)(void *ctx, mc_qty qty, unsigned arg, uint32_t old_value, uint32_t new_value,
                      mc_source source);
    /** Drive the relay: 1 close, 0 open. Return 0, or a negative mc_err if it failed. Optional. */
    int (*relay)(void *ctx, int close);
    /** Read the DI: 1 closed, 0 open. Optional (read as open). */
    int (*di)(void *ctx);
    /** Current local standard time. Optional, but every product with a clock should give it. */
    mc_time_t (*now)(void *ctx);
    /** Set the clock (the model then informs the tariff). Return 0 or a negative mc_err.
     *  Optional: without it the clock is read-only. */
    int (*set_clock)(void *ctx, mc_time_t t);
    /** Checksum of the legally relevant code (e.g. CRC-32 of the flash image), if the port can. Optional. */
    uint32_t (*code_checksum)(void *ctx);
    void *ctx; /**< Passed to every hook. */
    /** Number of events in the log (wire to the storage layer's mc_storage_event_count()). Optional. */
    unsigned (*event_count)(void *ctx);
    /** Read event @p index, 0 = newest (mc_storage_event_read()); 0 or a negative mc_err. Optional. */
    int (*event_read)(void *ctx, unsigned index, mc_event_t *out);
    /** Monotonic milliseconds since start-up (SysTick, CLOCK_MONOTONIC), wrapping at 2^32;
     *  never the meter's settable clock. Optional, but every product with a bus should give it. */
    uint32_t (*monotonic_ms)(void *ctx);
    /** The calibration switch: 1 while the physical switch or jumper under the sealed cover
     *  is set, else 0. Optional (a sealed meter is then sealed for good). */
    int (*cal_switch)(void *ctx);
    /** Make the changes reported to on_change durable, with their events, before the write
     *  is acknowledged. Called once at the end of every mc_model_write() and
     *  mc_model_set_relay() that changed something. Return 0, or a negative mc_err: the
     *  write then fails with it (the reply says so). Optional; wire to mc_storage_commit(). */
    int (*commit)(void *ctx);
    /** A password event on an interface: what (::mc_auth_event), the interface, a count and
     *  the lockout seconds, as ::MC_EV_AUTH logs them. Optional; wire to mc_storage_auth_event(). */
    void (*on_auth)(void *ctx, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s);
    /** Audit counter @p which (mc_storage.h's mc_audit_counter) into *out; 0 or a negative mc_err.
     *  Optional (the counters read 0); wire to mc_storage_audit_counter(). */
    int (*audit_counter)(void *ctx, unsigned which, uint32_t *out);
} mc_model_hooks_t;

/** Default write budget: changes saved to NVM a bus may make in a burst. */
#define MC_WRITE_BURST_DEFAULT 20u
/** Default write budget refill: one more change per this many seconds (144 a day). */
#define MC_WRITE_REFILL_S_DEFAULT 600u
/** Default audit budget: metrologically relevant bus changes (calibration, seal, pulse constant,
 *  clock, energy clear, tariff, settlement) in a burst. */
#define MC_AUDIT_BURST_DEFAULT 6u
/** Default audit budget refill: one more such change per this many seconds (24 a day). */
#define MC_AUDIT_REFILL_S_DEFAULT 3600u

/** Model configuration. */
typedef struct mc_model_config {
    uint8_t features;          /**< ::mc_feature bits: what this product has. */
    uint8_t require_unlock;    /**< 1 (default): bus writes need a session at the quantity's level.
                                    0: ::MC_LEVEL_PARAM quantities are writable by anyone on the bus,
                                    an explicit product choice for a closed installation (calibration
                                    still needs the seal rules); documented in docs/SECURITY.md. */
    uint16_t unlock_seconds;   /**< Session timeout after the last authorised write (default 300 s). */
    uint16_t write_burst;      /**< Bus changes saved to NVM allowed in a burst (0 = ::MC_WRITE_BURST_DEFAULT). */
    uint16_t write_refill_s;   /**< One more such change per this many seconds (0 = ::MC_WRITE_REFILL_S_DEFAULT). */
    uint16_t audit_burst;      /**< Metrologically relevant bus changes in a burst, on top of the write budget
                                    (0 = ::MC_AUDIT_BURST_DEFAULT): bounds how fast even a password holder
                                    rotates the audit log. */
    uint16_t audit_refill_s;   /**< One more such change per this many seconds (0 = ::MC_AUDIT_REFILL_S_DEFAULT). */
} mc_model_config_t;

/**
 * The data model instance. Caller-allocated; binds a meter and a tariff (both
 * owned by the caller) to the parameters and the hooks.
 */
typedef struct mc_model {
    mc_model_config_t cfg;   /**< Configuration. */
    mc_model_hooks_t hooks;  /**< Hooks. */
    mc_meter_t *meter;       /**< The meter (not owned). */
    mc_tariff_t *tariff;     /**< The tariff (not owned), may be NULL. */
    mc_params_t params;      /**< Parameters in force. */
    uint32_t budget_at_ms;   /**< Monotonic time the write budget was last refilled. */
    uint32_t audit_budget_at_ms; /**< Monotonic time the audit budget was last refilled. */
    uint16_t budget;         /**< Bus changes left in the write budget. */
    uint16_t audit_budget;   /**< Metrologically relevant bus changes left in the audit budget. */
    uint16_t password_gen;   /**< Counts password changes (ends every session). */
    uint16_t errors;         /**< ::mc_error_flag bits. */
    uint8_t relay_closed;    /**< Relay state as last driven. */
    uint8_t sealed;          /**< Calibration sealed. */
    uint16_t event_select;   /**< Event shown by the EVENT registers (0 = newest). */
} mc_model_t;

/**
 * @brief Default parameters: password 6666, address 1, 9600 baud, no parity, ABCD, 1600 imp/kWh.
 * @param p  receives them.
 */
void mc_params_default(mc_params_t *p);

/**
 * @brief Fill a model configuration with safe defaults: no relay or DI
 *        (features 0, a KPM31A), bus writes need the password (require_unlock 1),
 *        a password unlocks for 300 s.
 *
 * Set `features` for the product (::MC_FEAT_RELAY, ::MC_FEAT_DI). A product that
 * wants bus writes without a password must clear require_unlock itself, knowingly.
 * @param cfg  receives the defaults.
 */
void mc_model_config_default(mc_model_config_t *cfg);

/**
 * @brief Start a model over a meter and a tariff.
 * @param md      the instance.
 * @param cfg     configuration (copied).
 * @param hooks   hooks (copied), may be NULL.
 * @param meter   the meter (required).
 * @param tariff  the tariff, or NULL for a meter without tariffs.
 * @param params  parameters to start with (e.g. restored from storage), or NULL for defaults;
 *                checked, ::MC_ERR_INVAL if one is out of range.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_model_init(mc_model_t *md, const mc_model_config_t *cfg, const mc_model_hooks_t *hooks,
                  mc_meter_t *meter, mc_tariff_t *tariff, const mc_params_t *params);

/**
 * @brief A quantity as a float, for code that only shows or encodes it (a panel, a protocol).
 * @param md   the model.
 * @param qty  the quantity.
 * @param arg  its argument.
 * @return the value (a word quantity converted exactly), or 0 if mc_model_read() refused.
 */
float mc_model_read_f(const mc_model_t *md, mc_qty qty, unsigned arg);

/**
 * @brief A quantity as an unsigned word (a float quantity truncated toward zero; negative or NaN: 0).
 * @param md   the model.
 * @param qty  the quantity.
 * @param arg  its argument.
 * @return the value, or 0 if mc_model_read() refused.
 */
unsigned mc_model_read_u(const mc_model_t *md, mc_qty qty, unsigned arg);

/** A value of the model: a float or an unsigned 16-bit word. */
typedef struct mc_value {
    union {
        float f;      /**< Float value (is_float = 1). */
        uint16_t u;   /**< Word value (is_float = 0). */
    };
    uint8_t is_float; /**< Which member holds the value. */
} mc_value_t;

/**
 * @brief Read a quantity.
 * @param md   the model.
 * @param qty  the quantity.
 * @param arg  its argument (see ::mc_qty).
 * @param out  receives the value.
 * @return ::MC_OK, ::MC_ERR_INVAL for an unknown quantity or argument out of range.
 */
int mc_model_read(const mc_model_t *md, mc_qty qty, unsigned arg, mc_value_t *out);

/** One item of a write: quantity, argument, value (8 bytes, so that a 123-register
 *  write fits in under 1 KiB of stack). */
typedef struct mc_write_item {
    union {
        float f;      /**< Float value (is_float = 1: calibration). */
        uint16_t u;   /**< Word value (is_float = 0). */
    };
    uint8_t qty;      /**< ::mc_qty. */
    uint8_t arg;      /**< Its argument. */
    uint8_t is_float; /**< Which member holds the value. */
} mc_write_item_t;

/**
 * @brief Write parameters or commands, validated as a whole; the one path for every change.
 *
 * All items are checked together (e.g. clock fields form one date, tariff
 * schedule words must leave a valid schedule) and then applied; if any is out
 * of range or read-only, nothing changes. Each changed parameter is reported to
 * hooks.on_change (a schedule change once, as ::MC_QTY_TOU_COUNTS with argument
 * ::MC_SCHEDULE_ARG and the CRC-32 of the old and new schedule), then
 * hooks.commit makes them durable. Access is not checked here: this is the
 * trusted path of the firmware itself; a bus goes through mc_model_write_session().
 * @param md      the model.
 * @param items   the items.
 * @param n       number of items (1..125).
 * @param source  who writes.
 * @return ::MC_OK; ::MC_ERR_INVAL for a value out of range, a read-only
 *         quantity, or a relay change and a clock set in one write (one hardware
 *         act per write); ::MC_ERR_NODATA for a clock write on a meter without a
 *         set_clock hook; or the set_clock hook's negative error. On any of
 *         these nothing changed. The commit hook's error is returned after the
 *         change was applied in RAM (it is then not known to be saved).
 */
int mc_model_write(mc_model_t *md, const mc_write_item_t *items, size_t n, mc_source source);

/**
 * @brief The access level a change of @p qty needs (see ::mc_level).
 * @param qty  the quantity.
 * @return its ::mc_level; ::MC_LEVEL_NONE for read-only and unknown quantities.
 */
mc_level mc_qty_level(mc_qty qty);

/**
 * @brief Check parameters as a bus write would: every field in its range.
 * @param p  the parameters.
 * @return ::MC_OK or ::MC_ERR_INVAL (also for NULL).
 */
int mc_params_check(const mc_params_t *p);

/**
 * @brief Start the brute-force guard of an interface: no wrong tries, not locked.
 * @param g      the guard.
 * @param iface  ::mc_iface, named in the events it causes.
 */
void mc_auth_guard_init(mc_auth_guard_t *g, unsigned iface);

/**
 * @brief Carry a guard's count over a restart (a power cycle must not give an attacker
 *        fresh tries): set the count, e.g. from mc_storage_auth_restore(), and if it is
 *        at ::MC_AUTH_FREE_TRIES or more, start the lockout it calls for now.
 * @param md     the model (its monotonic clock).
 * @param g      the guard (initialised).
 * @param wrong  the count to carry over.
 */
void mc_auth_guard_restore(const mc_model_t *md, mc_auth_guard_t *g, uint32_t wrong);

/**
 * @brief Start a session on an interface, at ::MC_LEVEL_PUBLIC.
 * @param s      the session.
 * @param guard  the interface's guard (required for logging in; NULL: the session can only read).
 */
void mc_session_init(mc_session_t *s, mc_auth_guard_t *guard);

/**
 * @brief End a session (the connection closed, the master went silent): back to public.
 * @param s  the session (NULL ignored).
 */
void mc_session_end(mc_session_t *s);

/**
 * @brief Log in with the password.
 *
 * While the interface is locked out, the try is refused without being checked
 * (::MC_ERR_BUSY) and counted. A wrong password is counted and reported to
 * hooks.on_auth (never its value): the guard's count n goes up by one, and from
 * n = ::MC_AUTH_FREE_TRIES on the interface is locked for
 * ::MC_AUTH_LOCKOUT_FIRST_S * 2^(n - ::MC_AUTH_FREE_TRIES) seconds (at most
 * ::MC_AUTH_LOCKOUT_MAX_S). A right password does not reset the count; a day
 * without a wrong password (::MC_AUTH_DECAY_S) takes one off.
 * @param md        the model.
 * @param s         the session.
 * @param password  the password tried, 0..9999.
 * @return ::MC_OK; ::MC_ERR_AUTH wrong; ::MC_ERR_BUSY locked out;
 *         ::MC_ERR_INVAL (NULL, or a session without a guard).
 */
int mc_session_login(mc_model_t *md, mc_session_t *s, unsigned password);

/**
 * @brief The level a session holds now (an expired session is ended here).
 * @param md  the model.
 * @param s   the session (NULL: public).
 * @return ::MC_LEVEL_PUBLIC, ::MC_LEVEL_PARAM or ::MC_LEVEL_CAL.
 */
mc_level mc_session_level(const mc_model_t *md, mc_session_t *s);

/**
 * @brief Seconds a guard's lockout still lasts.
 * @param md  the model (its monotonic clock).
 * @param g   the guard.
 * @return 0 if not locked out.
 */
uint32_t mc_auth_lockout_left(const mc_model_t *md, const mc_auth_guard_t *g);

/**
 * @brief A write from a bus: the session's level, the seal and the write budget
 *        are checked, then mc_model_write().
 *
 * Every item needs mc_qty_level() reached by @p s (with cfg.require_unlock 0,
 * ::MC_LEVEL_PARAM is granted to anyone). A write that would change what is
 * saved in NVM takes one unit of the write budget (cfg.write_burst, refilled
 * one per cfg.write_refill_s on the monotonic clock); a password login, the
 * event selector and a write of unchanged values take none. A write that changes
 * a metrologically relevant quantity (calibration, seal, pulse constant, clock,
 * energy clear, tariff schedule, settlement) also takes one unit of the audit
 * budget per audit event it logs (one per changed item; one for a whole schedule
 * change, one for a clock set) (cfg.audit_burst, one more per cfg.audit_refill_s);
 * a write that needs more than is left is refused whole. An authorised write
 * keeps the session alive.
 * @param md      the model.
 * @param s       the session (NULL: public).
 * @param items   the items.
 * @param n       1..125.
 * @param source  ::MC_SRC_BUS, or ::MC_SRC_PANEL for a panel that uses sessions.
 * @return as mc_model_write(), and ::MC_ERR_DENIED (level not reached, sealed),
 *         ::MC_ERR_BUSY (the write or audit budget is spent). Nothing changes on error.
 */
int mc_model_write_session(mc_model_t *md, mc_session_t *s, const mc_write_item_t *items, size_t n,
                           mc_source source);

/**
 * @brief Drive the relay (KPM31B): through the hook, then record the state.
 * @param md      the model.
 * @param close   1 close, 0 open.
 * @param source  who asks.
 * @return ::MC_OK, ::MC_ERR_INVAL if the product has no relay, or the hook's error.
 */
int mc_model_set_relay(mc_model_t *md, int close, mc_source source);

/**
 * @brief The relay state (1 closed).
 * @param md  the model.
 * @return 0 or 1.
 */
int mc_model_relay(const mc_model_t *md);

/**
 * @brief The DI state through the hook (1 closed); 0 without DI.
 * @param md  the model.
 * @return 0 or 1.
 */
int mc_model_di(const mc_model_t *md);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_REGISTERS_H */
