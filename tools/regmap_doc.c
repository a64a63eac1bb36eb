/*
 * regmap_doc: prints docs/REGISTERS.md from the register maps: the KPM31 map, mc_regmap_table(),
 * and every other built-in map (mc_regmap_builtin_at()).
 *
 * The table in src/registers/mc_registers.c is the one source of truth for
 * addresses, formats, units and access; this program only adds words: a name
 * and value range per quantity (qinfo[], indexed by mc_qty, so the firmware
 * carries no strings) and the grouping into the KPM31 manual's areas and the
 * metercore extension range. A register the words do not cover (a quantity
 * without a name, an entry outside every group) is an error, not a silent gap.
 *
 *   regmap_doc                 print the document on stdout
 *   regmap_doc -o FILE         write it to FILE (make regmap)
 *   regmap_doc --check FILE    compare FILE with it byte for byte (ctest regmap_doc)
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metercore/mc_modbus.h"
#include "metercore/mc_registers.h"

/* ------------------------------------------------------------------------ */
/* Output buffer                                                            */

typedef struct doc {
    char *p;
    size_t len, cap;
} doc_t;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("regmap_doc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void out(doc_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    const int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        die("formatting failed");
    }
    if (d->len + (size_t)n + 1u > d->cap) {
        size_t cap = d->cap ? d->cap : 4096u;
        while (d->len + (size_t)n + 1u > cap) {
            cap *= 2u;
        }
        char *p = realloc(d->p, cap);
        if (p == NULL) {
            die("out of memory");
        }
        d->p = p;
        d->cap = cap;
    }
    vsnprintf(d->p + d->len, (size_t)n + 1u, fmt, ap2);
    va_end(ap2);
    d->len += (size_t)n;
}

/* ------------------------------------------------------------------------ */
/* Words for the quantities                                                 */

/* How an item's argument turns into words (see mc_qty in mc_registers.h). */
typedef enum argk {
    ARG_NONE = 0, /* no argument */
    ARG_RATE,     /* 0 all rates, 1..4 */
    ARG_MONTH,    /* rate * 16 + month */
    ARG_INDEX     /* spelled out by item_name() itself */
} argk;

typedef struct qinfo {
    const char *name;   /* what it is */
    argk arg;           /* how the argument is spelled out */
    const char *values; /* range, default, meaning of values (for a row) */
} qinfo_t;

static const qinfo_t qinfo[] = {
    [MC_QTY_NONE] = {"Reserved", ARG_NONE, "Reads 0"},
    [MC_QTY_VOLTAGE] = {"Voltage U (RMS)", ARG_NONE, ""},
    [MC_QTY_CURRENT] = {"Current I (RMS)", ARG_NONE, ""},
    [MC_QTY_P] = {"Active power P", ARG_NONE, "Signed: > 0 import, < 0 export"},
    [MC_QTY_Q] = {"Reactive power Q (fundamental)", ARG_NONE, "Signed: > 0 inductive on import"},
    [MC_QTY_S] = {"Apparent power S", ARG_NONE, "U × I"},
    [MC_QTY_PF] = {"Power factor PF", ARG_NONE, "P / S, signed like P, -1..1"},
    [MC_QTY_FREQ] = {"Frequency F", ARG_NONE, "0 without voltage"},
    [MC_QTY_DEMAND_S] = {"Apparent demand", ARG_NONE, "Sliding window (default 15 min); 0 until a full window"},
    [MC_QTY_DEMAND_P] = {"Active demand (import)", ARG_NONE, "Sliding window (default 15 min); 0 until a full window"},
    [MC_QTY_MAX_DEMAND_P] = {"Maximum active demand, this month", ARG_NONE, "Reset at settlement"},
    [MC_QTY_E_ACTIVE] = {"Combined active energy (lifetime)", ARG_RATE, "Import + export (default combination)"},
    [MC_QTY_E_ACTIVE_IMPORT] = {"Active import energy (lifetime)", ARG_RATE, ""},
    [MC_QTY_E_ACTIVE_EXPORT] = {"Active export energy (lifetime)", ARG_RATE, ""},
    [MC_QTY_E_REACTIVE] = {"Combined reactive energy (lifetime)", ARG_RATE, "Import + export (default combination)"},
    [MC_QTY_E_REACTIVE_IMPORT] = {"Reactive import energy (lifetime)", ARG_RATE, "Quadrants I + II (Q > 0)"},
    [MC_QTY_E_REACTIVE_EXPORT] = {"Reactive export energy (lifetime)", ARG_RATE, "Quadrants III + IV (Q < 0)"},
    [MC_QTY_MONTH_ACTIVE] = {"Combined active energy", ARG_MONTH, ""},
    [MC_QTY_MONTH_REACTIVE] = {"Combined reactive energy", ARG_MONTH, ""},
    [MC_QTY_PASSWORD] = {"Protection password", ARG_NONE,
                         "0..9999 (default 6666); reads 0; see [Access levels](#access-levels)"},
    [MC_QTY_ADDRESS] = {"Communication address", ARG_NONE, "1..247 (default 1)"},
    [MC_QTY_BAUD] = {"Baud rate code", ARG_NONE, "1 = 1200, 2 = 2400, 3 = 4800, 4 = 9600 (default 4)"},
    [MC_QTY_PARITY] = {"Parity", ARG_NONE, "0 none, 1 even, 2 odd (default 0)"},
    [MC_QTY_WORD_ORDER] = {"Float word order", ARG_NONE, "0 ABCD, high word first (default); 1 CDAB, low word first"},
    [MC_QTY_CLEAR_ENERGY] = {"Clear energy", ARG_NONE,
                             "Write 55AAH: clear all energy (lifetime, this month, history, maximum demand); "
                             "any other value: exception 03; reads 0"},
    [MC_QTY_PULSE_CONSTANT] = {"Pulse constant, imp/kWh", ARG_NONE, "1..65535 (default 1600)"},
    [MC_QTY_SETTLE_DAY] = {"Settlement day of month", ARG_NONE, "1..28 (default 1)"},
    [MC_QTY_SETTLE_HOUR] = {"Settlement hour", ARG_NONE, "0..23 (default 0)"},
    [MC_QTY_CLOCK] = {"Clock", ARG_INDEX, ""},
    [MC_QTY_SERIAL] = {"Serial number", ARG_INDEX, "ASCII, high byte first, NUL-padded; set in production"},
    [MC_QTY_SW_VERSION] = {"Software version", ARG_NONE, "Major × 256 + minor"},
    [MC_QTY_SW_PATCH] = {"Software patch version", ARG_NONE, ""},
    [MC_QTY_MAP_VERSION] = {"Register map version", ARG_NONE, ""},
    [MC_QTY_SW_CHECKSUM] = {"Checksum of the legally relevant code", ARG_INDEX, "0 if the port does not provide it"},
    [MC_QTY_STATUS] = {"Status flags", ARG_NONE, ""},
    [MC_QTY_ERRORS] = {"Error flags", ARG_NONE, ""},
    [MC_QTY_RELAY] = {"Relay state", ARG_NONE, "0 open, 1 closed (products with a relay)"},
    [MC_QTY_DI] = {"DI state", ARG_NONE, "0 open, 1 closed (products with the DI)"},
    [MC_QTY_RATE] = {"Rate in force", ARG_NONE, "1 sharp, 2 peak, 3 flat, 4 valley"},
    [MC_QTY_TOU_COUNTS] = {"Schedule", ARG_INDEX, ""},
    [MC_QTY_TOU_PROFILE] = {"Day profile", ARG_INDEX, ""},
    [MC_QTY_TOU_WEEK] = {"Week profile", ARG_INDEX, "Day profile index"},
    [MC_QTY_TOU_SEASON] = {"Season", ARG_INDEX, ""},
    [MC_QTY_TOU_SPECIAL] = {"Special day", ARG_INDEX, ""},
    [MC_QTY_CAL] = {"Calibration", ARG_INDEX, ""},
    [MC_QTY_SEAL] = {"Calibration seal", ARG_NONE,
                     "1 sealed; writing 1 seals; 0 unseals only with the calibration switch set"},
    [MC_QTY_EVENT_COUNT] = {"Events in the log", ARG_NONE, "At least 100 are kept; the oldest are dropped first"},
    [MC_QTY_EVENT_SELECT] = {"Event selector", ARG_NONE,
                             "Which event 1302H..130DH show: 0 the newest, 1 the one before, ...; "
                             "no password needed, not logged"},
    [MC_QTY_EVENT] = {"Selected event", ARG_INDEX, ""},
    [MC_QTY_AUDIT_COUNTER] = {"Audit counter", ARG_INDEX, ""},
    [MC_QTY_WIRING] = {"Wiring", ARG_NONE,
                       "0 single phase 2 wires (1P2W), 1 split phase 3 wires (1P3W), 2 three phase 4 wires (3P4W), "
                       "3 three phase 3 wires (3P3W, two elements), 4 multi-circuit"},
    [MC_QTY_ELEMENTS] = {"Measuring elements", ARG_NONE,
                         "1..16: the elements of the per-element block (1500H..) this meter has"},
    [MC_QTY_SEQUENCE] = {"Phase sequence", ARG_NONE, "0 none (not three phase, or no voltage), 1 ABC, 2 ACB"},
    [MC_QTY_MISSING_PHASES] = {"Missing voltages", ARG_NONE, "Bit k: voltage channel k + 1 below 10 % of Un"},
    [MC_QTY_POLY_FLAGS] = {"Poly-phase flags", ARG_NONE, ""},
    [MC_QTY_REFERENCE] = {"Reference voltage", ARG_NONE,
                          "Voltage channel (0 = the first) that gives frequency and cycles; not 0 while the "
                          "first one is missing"},
    [MC_QTY_S_VECTOR] = {"Vector apparent power", ARG_NONE,
                         "sqrt(P² + Q²) of the totals; the arithmetic one (sum of the elements' S) is 0038H"},
    [MC_QTY_U_LL] = {"Line-to-line voltage", ARG_INDEX, ""},
    [MC_QTY_U_UNBALANCE] = {"Voltage unbalance", ARG_NONE,
                            "Negative over positive sequence of the fundamentals, against the rotation present; "
                            "three phase only"},
    [MC_QTY_I_UNBALANCE] = {"Current unbalance", ARG_NONE, "As the voltage unbalance, of the currents"},
    [MC_QTY_I_NEUTRAL] = {"Neutral current", ARG_NONE, "Measured (IN channel) if the meter has one, else calculated"},
    [MC_QTY_I_NEUTRAL_CALC] = {"Neutral current, calculated", ARG_NONE,
                               "rms of the instantaneous sum of the phase currents"},
    [MC_QTY_I_RESIDUAL] = {"Residual current", ARG_NONE, "rms(I1 + I2 + I3 + IN) with a measured IN, else 0"},
    [MC_QTY_EL_VOLTAGE] = {"voltage U (RMS)", ARG_INDEX, ""},
    [MC_QTY_EL_CURRENT] = {"current I (RMS)", ARG_INDEX, ""},
    [MC_QTY_EL_P] = {"active power P", ARG_INDEX, "Signed: > 0 import, < 0 export"},
    [MC_QTY_EL_Q] = {"reactive power Q (fundamental)", ARG_INDEX, "Signed: > 0 inductive on import"},
    [MC_QTY_EL_S] = {"apparent power S", ARG_INDEX, "U × I"},
    [MC_QTY_EL_PF] = {"power factor PF", ARG_INDEX, "P / S, signed like P, -1..1"},
    [MC_QTY_EL_U_ANGLE] = {"voltage angle", ARG_INDEX,
                           "Fundamental, to the first voltage channel (U1; 3P3W U12), -180..180, positive "
                           "leading"},
    [MC_QTY_EL_I_ANGLE] = {"current angle", ARG_INDEX,
                           "Fundamental, to the first voltage channel, -180..180, positive leading: a current "
                           "lagging its voltage by φ reads the voltage angle - φ"},
    [MC_QTY_EL_E_ACTIVE_IMPORT] = {"active import energy", ARG_INDEX, "Booked by the element's own sign"},
    [MC_QTY_EL_E_ACTIVE_EXPORT] = {"active export energy", ARG_INDEX, "Booked by the element's own sign"},
    [MC_QTY_EL_E_REACTIVE_Q1] = {"reactive energy, quadrant I", ARG_INDEX, "P >= 0, Q > 0"},
    [MC_QTY_EL_E_REACTIVE_Q2] = {"reactive energy, quadrant II", ARG_INDEX, "P < 0, Q > 0"},
    [MC_QTY_EL_E_REACTIVE_Q3] = {"reactive energy, quadrant III", ARG_INDEX, "P < 0, Q < 0"},
    [MC_QTY_EL_E_REACTIVE_Q4] = {"reactive energy, quadrant IV", ARG_INDEX, "P >= 0, Q < 0"},
    [MC_QTY_CAL_CH_GAIN] = {"gain", ARG_INDEX, "0.5..2 (1 = nominal); multiplies with the meter-wide gain"},
    [MC_QTY_CAL_CH_PHASE] = {"phase correction, degrees", ARG_INDEX,
                             "-10..10: the delay of the channel's signal to remove, at the fundamental"},
    [MC_QTY_CAL_EL_P_OFFSET] = {"active power offset, W", ARG_INDEX, "-10000..10000, subtracted from the element's P"},
    [MC_QTY_CAL_EL_Q_OFFSET] = {"reactive power offset, var", ARG_INDEX,
                                "-10000..10000, subtracted from the element's Q"},
    [MC_QTY_EL_PHASE_ANGLE] = {"phase angle (current to voltage)", ARG_INDEX,
                               "Fundamental, -180..180, positive when the current leads (capacitive)"},
    [MC_QTY_AGGREGATE] = {"Aggregate", ARG_INDEX, ""},
    [MC_QTY_E_QUADRANT] = {"Reactive energy by quadrant", ARG_INDEX, ""},
    [MC_QTY_NAN] = {"Not implemented", ARG_NONE, "NaN (7FC00000H)"},
    [MC_QTY_SUNSPEC_METER_MODEL] = {"SunSpec meter model ID", ARG_NONE,
                                    "211 single phase, 212 split phase, 213 wye, 214 delta (by the wiring)"},
};

/* A new quantity needs its words here before the document can be made. */
_Static_assert(sizeof(qinfo) / sizeof(qinfo[0]) == MC_QTY_COUNT, "qinfo[] must name every mc_qty");

static const char *const rate_name[MC_TARIFF_RATES + 1] = {
    "all rates", "sharp (rate 1)", "peak (rate 2)", "flat (rate 3)", "valley (rate 4)",
};

static const char *const weekday_name[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

/* Name and values of one item. Returns 0, or -1 for an argument the words do not cover. */
static int item_words(mc_qty q, unsigned arg, char *name, size_t nn, char *values, size_t nv)
{
    const qinfo_t *qi = &qinfo[q];
    if (qi->name == NULL) {
        return -1;
    }
    snprintf(values, nv, "%s", qi->values);
    switch (qi->arg) {
    case ARG_NONE:
        if (arg != 0u) {
            return -1;
        }
        snprintf(name, nn, "%s", qi->name);
        return 0;
    case ARG_RATE:
        if (arg > MC_TARIFF_RATES) {
            return -1;
        }
        snprintf(name, nn, "%s, %s", qi->name, rate_name[arg]);
        return 0;
    case ARG_MONTH: {
        const unsigned rate = arg / 16u, month = arg % 16u;
        if (rate > MC_TARIFF_RATES || month > MC_TARIFF_HISTORY_MONTHS) {
            return -1;
        }
        if (month == 0u) {
            snprintf(name, nn, "%s, %s, this month", qi->name, rate_name[rate]);
        } else {
            snprintf(name, nn, "%s, %s, settlement month -%u", qi->name, rate_name[rate], month);
        }
        return 0;
    }
    case ARG_INDEX:
        break;
    }
    if (q >= MC_QTY_EL_VOLTAGE && q <= MC_QTY_EL_E_REACTIVE_Q4) {
        if (arg >= MC_MAX_CIRCUITS) {
            return -1;
        }
        snprintf(name, nn, "Element %u: %s", arg, qi->name);
        return 0;
    }
    if (q == MC_QTY_CAL_CH_GAIN || q == MC_QTY_CAL_CH_PHASE) {
        if (arg >= MC_MAX_CHANNELS) {
            return -1;
        }
        snprintf(name, nn, "Calibration, channel %u: %s", arg, qi->name);
        return 0;
    }
    if (q == MC_QTY_CAL_EL_P_OFFSET || q == MC_QTY_CAL_EL_Q_OFFSET) {
        if (arg >= MC_MAX_CIRCUITS) {
            return -1;
        }
        snprintf(name, nn, "Calibration, element %u: %s", arg, qi->name);
        return 0;
    }
    if (q == MC_QTY_EL_PHASE_ANGLE) {
        if (arg >= MC_MAX_CIRCUITS) {
            return -1;
        }
        snprintf(name, nn, "Element %u: %s", arg, qi->name);
        return 0;
    }
    switch (q) {
    case MC_QTY_AGGREGATE: {
        static const char *const what[5] = {"Mean of the elements' voltages", "Mean of the elements' currents",
                                            "Sum of the elements' currents", "Mean line-to-line voltage",
                                            "Phase angle of the totals"};
        static const char *const note[5] = {"", "", "", "Of U12, U23, U31 (three phase), U12 (split phase), else 0",
                                            "-atan2(Q, P) of the totals, -180..180, positive leading"};
        if (arg > 4u) {
            return -1;
        }
        snprintf(name, nn, "%s", what[arg]);
        snprintf(values, nv, "%s", note[arg]);
        return 0;
    }
    case MC_QTY_E_QUADRANT: {
        static const char *const quad[4] = {"I (P >= 0, Q > 0)", "II (P < 0, Q > 0)", "III (P < 0, Q < 0)",
                                            "IV (P >= 0, Q < 0)"};
        if (arg > 3u) {
            return -1;
        }
        snprintf(name, nn, "%s, quadrant %s", qi->name, quad[arg]);
        snprintf(values, nv, "Lifetime, of the totals");
        return 0;
    }
    case MC_QTY_U_LL: {
        static const char *const pair[3] = {"U12", "U23", "U31"};
        static const char *const note[3] = {
            "1P3W: between the two halves; 3P3W: measured", "3P3W: the measured U32 (the same rms)",
            "3P3W: rms(u32 - u12)"};
        if (arg > 2u) {
            return -1;
        }
        snprintf(name, nn, "%s, %s", qi->name, pair[arg]);
        snprintf(values, nv, "0 where the wiring has no such pair; %s", note[arg]);
        return 0;
    }
    case MC_QTY_CLOCK: {
        static const char *const field[6] = {"year", "month", "day", "hour", "minute", "second"};
        static const char *const range[6] = {"2000..2099", "1..12", "1..28/29/30/31", "0..23", "0..59", "0..59"};
        if (arg > 5u) {
            return -1;
        }
        snprintf(name, nn, "Clock: %s", field[arg]);
        snprintf(values, nv, "%s", range[arg]);
        return 0;
    }
    case MC_QTY_SERIAL:
        if (arg > 7u) {
            return -1;
        }
        snprintf(name, nn, "Serial number, characters %u and %u", 2u * arg + 1u, 2u * arg + 2u);
        return 0;
    case MC_QTY_AUDIT_COUNTER: {
        static const char *const what[8] = {"calibration changes", "seal changes", "energy clears", "clock sets",
                                            "tariff and settlement changes", "pulse constant changes",
                                            "firmware and storage format changes", "all audit events"};
        if (arg > 15u) {
            return -1;
        }
        snprintf(name, nn, "Audit counter: %s, %s word", what[arg / 2u], (arg % 2u) ? "low" : "high");
        snprintf(values, nv, "%s", (arg % 2u) ? "" : "Never reset, not by an energy clear either");
        return 0;
    }
    case MC_QTY_SW_CHECKSUM:
        if (arg > 1u) {
            return -1;
        }
        snprintf(name, nn, "%s, %s word", qi->name, arg == 0u ? "high" : "low");
        return 0;
    case MC_QTY_TOU_COUNTS: {
        static const char *const what[4] = {"day profiles", "week profiles", "seasons", "special days"};
        static const char *const range[4] = {"1..4", "1..4", "1..4", "0..32"};
        if (arg > 3u) {
            return -1;
        }
        snprintf(name, nn, "Schedule: number of %s", what[arg]);
        snprintf(values, nv, "%s", range[arg]);
        return 0;
    }
    case MC_QTY_TOU_PROFILE: {
        const unsigned p = arg / 32u, w = arg % 32u;
        if (p >= MC_TARIFF_MAX_DAY_PROFILES || w > 2u * MC_TARIFF_MAX_SEGMENTS) {
            return -1;
        }
        if (w == 0u) {
            snprintf(name, nn, "Day profile %u: number of segments", p);
            snprintf(values, nv, "1..%u", MC_TARIFF_MAX_SEGMENTS);
        } else if (w % 2u) {
            snprintf(name, nn, "Day profile %u, segment %u: start", p, (w + 1u) / 2u);
            snprintf(values, nv, "Hour × 256 + minute; strictly increasing");
        } else {
            snprintf(name, nn, "Day profile %u, segment %u: rate", p, w / 2u);
            snprintf(values, nv, "1..4");
        }
        return 0;
    }
    case MC_QTY_TOU_WEEK:
        if (arg >= 7u * MC_TARIFF_MAX_WEEK_PROFILES) {
            return -1;
        }
        snprintf(name, nn, "Week profile %u: %s", arg / 7u, weekday_name[arg % 7u]);
        return 0;
    case MC_QTY_TOU_SEASON:
        if (arg >= 2u * MC_TARIFF_MAX_SEASONS) {
            return -1;
        }
        if (arg % 2u == 0u) {
            snprintf(name, nn, "Season %u: start date", arg / 2u);
            snprintf(values, nv, "Month × 256 + day; strictly increasing");
        } else {
            snprintf(name, nn, "Season %u: week profile", arg / 2u);
            snprintf(values, nv, "Week profile index");
        }
        return 0;
    case MC_QTY_TOU_SPECIAL: {
        static const char *const field[3] = {"year", "date", "day profile"};
        static const char *const range[3] = {"0 every year, or 2000..2099", "Month × 256 + day",
                                             "Day profile index"};
        if (arg >= 3u * MC_TARIFF_MAX_SPECIAL_DAYS) {
            return -1;
        }
        snprintf(name, nn, "Special day %u: %s", arg / 3u, field[arg % 3u]);
        snprintf(values, nv, "%s", range[arg % 3u]);
        return 0;
    }
    case MC_QTY_CAL: {
        static const char *const what[5] = {"voltage gain", "current gain", "phase correction, degrees",
                                            "active power offset, W", "reactive power offset, var"};
        static const char *const range[5] = {"0.5..2 (1 = nominal)", "0.5..2 (1 = nominal)", "-10..10",
                                             "-10000..10000, subtracted from P",
                                             "-10000..10000, subtracted from Q"};
        if (arg > 4u) {
            return -1;
        }
        snprintf(name, nn, "Calibration: %s", what[arg]);
        snprintf(values, nv, "%s", range[arg]);
        return 0;
    }
    case MC_QTY_EVENT: {
        static const char *const field[12] = {"sequence number, high word", "sequence number, low word",
                                              "time, high word", "time, low word", "type", "source",
                                              "quantity", "argument", "old value, high word",
                                              "old value, low word", "new value, high word", "new value, low word"};
        static const char *const range[12] = {"", "", "Seconds since 2000-01-01 00:00 local standard time", "",
                                              "1 power up, 2 power down, 3 parameter, 4 energy clear, 5 clock set, "
                                              "6 calibration, 7 relay, 8 integrity error, 9 freeze, "
                                              "10 clock went backwards, 11 storage trouble, 12 front panel (lockout), "
                                              "13 bus password (wrong, lockout; never the value), "
                                              "14 firmware or storage format change",
                                              "0 bus, 1 front panel, 2 firmware",
                                              "The quantity changed (parameter events)", "Field, rate or index", "",
                                              "Floats as their IEEE-754 bits", "", ""};
        if (arg > 11u) {
            return -1;
        }
        snprintf(name, nn, "Selected event: %s", field[arg]);
        snprintf(values, nv, "%s", range[arg]);
        return 0;
    }
    default:
        return -1;
    }
}

/* ------------------------------------------------------------------------ */
/* Groups                                                                   */

typedef struct group {
    unsigned first, last; /* address range covered */
    const char *title;
    const char *intro;    /* paragraph before the table, may be "" */
} group_t;

static const group_t groups[] = {
    {0x0000, 0x002F, "System parameters (KPM31 manual 6.2)",
     "Read with FC 03, written with FC 06 or 10. 0003H..000BH are not used by the KPM31; parity, word order "
     "and the other settings are in the extension range."},
    {0x0030, 0x007F, "Basic measurements (KPM31 manual 6.3)",
     "Real-time values of the last measurement window (1 s by default), primary side, read-only."},
    {0x0080, 0x009B, "Energy, lifetime (KPM31 manual 6.4)",
     "Energy since the last clear, read-only. With time-of-use rates the total is the sum of the four "
     "rates; a meter built without a tariff reports the totals only (the rates and the months read 0)."},
    {0x009C, 0x0FFF, "Energy per month (KPM31 manual 6.4)",
     "Blocks of 13 floats: this month, then settlement months -1 (the last one closed) to -12. At each "
     "settlement point (default 00:00 on the 1st) this month's whole watt-hours move into history; "
     "months never closed read 0. The manual's list stops at 0152H; 0154H..019EH continue its pattern."},
    {0x1000, 0x100F, "Communication, pulse output, settlement and clock",
     "A new baud rate or parity takes effect once the response has been sent. The clock is local standard "
     "time (no daylight saving); fields written together must form a real date and time, fields not written "
     "keep their value; the port sets the clock (exception 04 if that fails)."},
    {0x1010, 0x101F, "Identification",
     "The software version and the code checksum identify the legally relevant software."},
    {0x1020, 0x102F, "State", ""},
    {0x1030, 0x103F, "Demand", ""},
    {0x1040, 0x10FF, "Energy per rate, import and export (lifetime)", ""},
    {0x1100, 0x121F, "Time-of-use schedule",
     "The schedule is checked as a whole: a write that would leave it invalid (segments not strictly "
     "increasing, a rate outside 1..4, a count out of range, an index to a profile that does not exist, a "
     "date that does not exist) gives exception 03 and changes nothing, so write a whole day profile (17 "
     "registers) in one FC 10. Indices count from 0. A day profile's segment runs until the next one; the last "
     "runs past midnight into the first. Week profiles give a day profile per weekday; a season puts a week "
     "profile in force from its start date; special days override the week profile. The default is the "
     "KPM31 manual's example: one day profile with 06:00 rate 1, 10:00 rate 2, 12:00 rate 1, 15:00 rate 3, "
     "23:00 rate 4, for every day of the year."},
    {0x1220, 0x12FF, "Calibration",
     "Calibration level: logged in, and not sealed or the calibration switch set (else exception 04); see "
     "[Access levels](#access-levels). Calibration values out of range give exception 03."},
    {0x1300, 0x13FF, "Event log (audit trail)",
     "The meter's event log: power up and down, parameter changes (which, old and new value, source), energy "
     "clear, clock set, calibration changes, relay actions, wrong passwords, integrity errors, settlements. "
     "Metrologically relevant events (calibration, seal, energy clear, clock set, tariff and settlement "
     "changes, pulse constant, firmware or format change) are kept in a separate audit area that ordinary "
     "events cannot push out; the registers show both logs merged, newest first, by their common sequence "
     "number. Nothing on the bus erases either, energy clear included. Write the index of an event to 1301H "
     "(0 = newest), then read 1302H..130DH; an index past the end reads zeros."},
    {0x1400, 0x14FF, "Poly-phase: wiring and totals",
     "How the meter is wired and the quantities of the whole system beyond the totals of 0030H..003DH, read-only, "
     "of the last measurement window. With several elements the basic measurements are the totals: P and Q the "
     "sums of the elements', S the arithmetic sum of their S, PF = P / S, U and I the means over the elements; "
     "the lifetime and tariff energies book the total (by default the elements' sum, netted each window). A "
     "single-phase meter (wiring 0, one element) has no line-to-line voltage, sequence, unbalance or neutral: "
     "they read 0; its missing-voltage mask (1403H) and flags (1404H) do report its one voltage. Before the "
     "first window every measurement here reads 0."},
    {0x1500, 0x16FF, "Per element (phase, circuit)",
     "One block of 16 floats per quantity, one float per element: element k of the quantity whose block starts "
     "at B is at B + 2k (the blocks start at 1500H, 1520H, ... 16A0H). So a three-phase meter's L1, L2, L3 voltages "
     "are 1500H, 1502H, 1504H, read in one request. Elements are numbered from 0 in the order of the wiring: 1P2W "
     "element 0 (the meter itself: its values are the totals); 1P3W (U1, I1), (U2, I2); 3P4W (U1, I1), (U2, I2), "
     "(U3, I3); 3P3W (U12, I1), (U32, I3); multi-circuit the circuits in order. Elements the meter does not have "
     "(from the count in 1401H on) read 0, as does every measurement before the first window. Measurements are those of the last window; the energies are each element's own "
     "registers, booked by the element's own sign each window (import and export both count), kept across "
     "power cuts and cleared by an energy clear (000CH) like the totals. Read-only: a write gives exception 02."},
    {0x1700, 0x17FF, "Per-channel calibration (poly-phase)",
     "A meter of several elements (1401H from 2 on) is calibrated per channel, each phase's sensors having "
     "their own errors: a gain and a phase correction per frame channel, and an active and a reactive power "
     "offset per element, on top of the meter-wide calibration (1220H..1229H, then a common trim: gains "
     "multiply, phases and offsets add). Channels are numbered from 0 in the order of the wiring's sample "
     "frame: 1P3W U1 U2 I1 I2; 3P4W U1 U2 U3 I1 I2 I3, then IN if measured; 3P3W U12 U32 I1 I3; multi-circuit "
     "the voltages, then the circuits' currents. Elements are numbered as in 1500H. Channel k's gain is at "
     "1700H + 2k, its phase at 1740H + 2k; element k's offsets at 1780H + 2k (P) and 17C0H + 2k (Q). Access "
     "as the calibration above: the calibration level (exception 04 without the password, or when sealed "
     "without the calibration switch); a value out of range gives exception 03 and nothing changes. The "
     "calibration is saved with the configuration and every value changed is an audit event (calibration, "
     "the quantity and the channel or element as argument), counted by the calibration audit counter "
     "(1310H) and by the audit write budget. Channels and elements the meter does not have read unity "
     "(gain 1, the others 0) and take only that value, so a block read can be written back whole. A "
     "single-phase meter (1401H = 1) reads the per-channel calibration in force and takes no change: its "
     "calibration is 1220H..1229H."},
};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

static const char *unit_name(unsigned u)
{
    static const char *const names[] = {"", "V", "A", "W", "var", "VA", "Hz", "kWh", "kvarh", "°", "%"};
    if (u >= sizeof(names) / sizeof(names[0])) {
        die("unit %u has no name", u);
    }
    return names[u];
}

/* Access of a register: read (public) and, if writable, the level a change needs. */
static const char *access_name(unsigned a, mc_qty q)
{
    if (a == MC_ACC_R) {
        return "R";
    }
    if (a != MC_ACC_W && a != MC_ACC_RW) {
        die("access %u has no name", a);
    }
    const int r = a == MC_ACC_RW;
    if (q == MC_QTY_PASSWORD) {
        return "R/W login: public; change: password";
    }
    switch (mc_qty_level(q)) {
    case MC_LEVEL_PUBLIC:
        return r ? "R/W public" : "W public";
    case MC_LEVEL_PARAM:
        return r ? "R/W password" : "W password";
    case MC_LEVEL_CAL:
        return r ? "R/W calibration" : "W calibration";
    default:
        die("quantity %u is writable in the map but has no write level", (unsigned)q);
        return "";
    }
}

static unsigned entry_width(const mc_reg_entry_t *e)
{
    return e->format == MC_FMT_F32 ? 2u : 1u;
}

static unsigned entry_end(const mc_reg_entry_t *e)
{
    return (unsigned)e->addr + (unsigned)e->count * entry_width(e);
}

static unsigned bit_of(unsigned mask)
{
    unsigned b = 0;
    while (mask > 1u) {
        mask >>= 1;
        b++;
    }
    return b;
}

/* ------------------------------------------------------------------------ */
/* The document                                                             */

static void other_maps(doc_t *d);

static void intro(doc_t *d)
{
    out(d, "# metercore register map\n\n");
    out(d, "<!-- Generated by tools/regmap_doc.c from mc_regmap_table() (src/registers/mc_registers.c). "
           "Do not edit: change the table or the generator and run `make regmap`. -->\n\n");
    out(d, "The Modbus registers of a metercore meter: the KPM31 register map (0000H..019EH, sections 6.2..6.4 "
           "of the KPM31 manual) and the metercore extension from %04XH. This document is generated from the "
           "register map table of the firmware, so it lists exactly what the firmware serves. Register map "
           "version %u (readable at %04XH).\n\n",
        MC_REG_EXT_BASE, MC_REGMAP_VERSION, MC_REG_MAP_VERSION_ADDR);

    out(d, "## How to read this map\n\n");
    out(d, "### Function codes\n\n");
    out(d, "| FC | Function | Used for |\n| --- | --- | --- |\n");
    out(d, "| 01 | Read coils | Relay state, coil %04XH (products with a relay) |\n", MC_MB_RELAY_COIL);
    out(d, "| 02 | Read discrete inputs | DI state, input %04XH (products with the DI) |\n", MC_MB_RELAY_COIL);
    out(d, "| 03 | Read holding registers | Every register below; 1..125 registers per request |\n");
    out(d, "| 05 | Write single coil | Relay: FF00H closes, 0000H opens |\n");
    out(d, "| 06 | Write single register | One u16 register |\n");
    out(d, "| 10 | Write multiple registers | 1..123 registers, all or nothing |\n\n");
    out(d, "Any other function code (04, read input registers, included) is answered with exception 01. "
           "Addresses are the protocol addresses of the PDU, written in hex with an H as in the KPM31 manual "
           "(009CH = 156), without a 4xxxx offset.\n\n");

    out(d, "### Values\n\n");
    out(d, "- **u16**: one register, unsigned 16 bits.\n");
    out(d, "- **float32**: IEEE-754 single precision in two consecutive registers; the address given is the "
           "first. Each register is big-endian, as always in Modbus. The word order is set by %04XH: 0 **ABCD** "
           "(default: the first register holds the high 16 bits with sign and exponent), 1 **CDAB** (low word "
           "first). It applies to reads and writes alike. Example: 230.0 V is 43660000H, read as 4366H 0000H "
           "in ABCD and 0000H 4366H in CDAB.\n",
        0x1001u);
    out(d, "- Energies are floats in kWh (kvarh): a resolution of 1 Wh or better up to 16 777 kWh, 7 "
           "significant digits beyond.\n\n");

    out(d, "### Reading\n\n");
    out(d, "- A read (FC 03) may span gaps: registers that are not served, and write-only registers, read 0, "
           "so a whole area can be read in one request. Only a read that touches no served register at all "
           "gives exception 02, as does one that runs past FFFFH.\n");
    out(d, "- Floats may be read by halves: a read that starts or ends in the middle of a float returns that "
           "half. Read both halves in one request for a consistent value.\n");
    out(d, "- The password (0000H) always reads 0; so does the clear-energy command (000CH).\n\n");

    out(d, "### Writing\n\n");
    out(d, "- Every register written must be writable (access W), otherwise exception 02. A float must be "
           "written whole, both registers in one FC 10; half a float (FC 06 to a float, or an FC 10 that "
           "starts or ends inside one) gives exception 03.\n");
    out(d, "- Writes are **all or nothing**: the whole request is checked first, each value against its range "
           "and the values together (clock fields must form a real date, schedule words a valid schedule, "
           "calibration values their ranges). If anything is wrong, nothing changes.\n");
    out(d, "- A broadcast (slave address 0) write is executed without a reply; broadcast reads are ignored.\n");
    out(d, "- Every change is reported to the firmware (with old and new value and its source) for saving "
           "and the event log; the password is logged as changed, never with its value.\n\n");

    out(d, "### Exceptions\n\n");
    out(d, "| Code | Name | When |\n| --- | --- | --- |\n");
    out(d, "| 01 | Illegal function | Function code not in the list above |\n");
    out(d, "| 02 | Illegal data address | A read touching no served register; a write to a register that is "
           "not served or not writable; start + quantity past FFFFH; a coil or input other than 0001H, or on "
           "a product without relay or DI |\n");
    out(d, "| 03 | Illegal data value | Quantity out of range (FC 03: 1..125, FC 10: 1..123, FC 01/02: "
           "1..2000); FC 10 byte count not 2 × quantity, or a request of the wrong length; half a float "
           "written; a value out of range (on a session allowed to write it); FC 05 with a value other than "
           "FF00H or 0000H |\n");
    out(d, "| 04 | Server device failure | A write refused: the session has not the access level (no "
           "password, calibration sealed), a wrong password, the interface locked out after wrong passwords, "
           "the write budget spent; or a change that could not be saved; the relay driver or the clock "
           "failed |\n\n");
    out(d, "Checks run in the order of the Modbus specification: function (01), quantity and length (03), "
           "address (02; a float cut in half is found here and gives 03), access (04: before the values, so "
           "that a client without access learns nothing about them), values (03), execution and saving "
           "(04). A write is answered only once the change and its event are saved.\n\n");

    out(d, "### Access levels\n\n");
    out(d, "Reading is public. Every write needs the access level given in the Access column, on the "
           "client's session (a TCP connection, the RTU line's master); docs/SECURITY.md gives the threat "
           "model.\n\n");
    out(d, "- **public**: the event selector (%04XH), and the password register to log in.\n", 0x1301u);
    out(d, "- **password**: log in by writing the password to 0000H (factory default 6666): FC 06, or the "
           "first register of an FC 10 whose other registers are then written as logged in. The login "
           "lasts until %u s (`unlock_seconds`) pass without an authorised write, the connection closes or "
           "the password changes; one connection's login never opens another. Logged in, writing 0000H "
           "sets a new password. The relay (FC 05) needs this level too. A product may choose no password "
           "for this level (`require_unlock` 0: status bit %u of %04XH is then set).\n",
        300u, bit_of(MC_STATUS_UNLOCKED), 0x1020u);
    out(d, "- **calibration**: logged in, and the calibration not sealed: calibration (1220H..1229H, and per "
           "channel 1700H..17DFH), pulse constant (1002H) and seal (122AH). Writing 1 to 122AH seals it "
           "(status bit %u). Once sealed, "
           "only the physical act opens this level again: the calibration switch under the sealed cover "
           "(status bit %u shows it set); with it, writing 0 to 122AH unseals. Never without the password, "
           "whatever the product chose for the password level.\n",
        bit_of(MC_STATUS_SEALED), bit_of(MC_STATUS_CAL_SWITCH));
    out(d, "- **Wrong passwords**: after %u wrong passwords on an interface (TCP, RTU, each with its own "
           "count, which reconnecting does not reset), the interface is locked out for %u s, and for twice "
           "as long after each further wrong one, up to %u s (one try a day). During a lockout every try, "
           "the right password too, gets exception 04 unchecked. Each wrong password is logged (event type "
           "%u), never its value.\n",
        MC_AUTH_FREE_TRIES, MC_AUTH_LOCKOUT_FIRST_S, MC_AUTH_LOCKOUT_MAX_S, MC_EV_AUTH);
    out(d, "- **Write budget**: changes that are saved (a write of unchanged values, the event selector and a "
           "login are free) may come %u in a burst from the bus, then one per %u s; metrologically relevant "
           "ones (calibration, seal, pulse constant, clock, energy clear, tariff, settlement) also %u in a "
           "burst, then one per %u s. Beyond either, exception 04. This keeps the flash from being worn out "
           "and the audit log from being rotated from the bus.\n\n",
        MC_WRITE_BURST_DEFAULT, MC_WRITE_REFILL_S_DEFAULT, MC_AUDIT_BURST_DEFAULT, MC_AUDIT_REFILL_S_DEFAULT);

    out(d, "### Coil and discrete input\n\n");
    out(d, "| Address | FC | Name | Values | Products |\n| --- | --- | --- | --- | --- |\n");
    out(d, "| %04XH | 01 read, 05 write | Relay | Read: 1 closed, 0 open. Write: FF00H close, 0000H open "
           "| With a relay (KPM31B, KPM31BK) |\n",
        MC_MB_RELAY_COIL);
    out(d, "| %04XH | 02 read | DI | 1 closed (extended circuit), 0 open (basic circuit) "
           "| With the DI (KPM31BK) |\n\n",
        MC_MB_RELAY_COIL);
    out(d, "One bit each; a request for another address or for more than one bit, or on a product without "
           "relay or DI (KPM31A), gives exception 02. A failing relay driver gives exception 04.\n\n");
}

static void flags_note(doc_t *d)
{
    out(d, "Status flags (%04XH): bit %u parameters writable without a password (the product's choice), "
           "bit %u sealed, bit %u no voltage, bit %u under the creep threshold, bit %u exporting, bit %u relay "
           "closed, bit %u DI closed, bit %u calibration switch set.\n\n",
        0x1020u, bit_of(MC_STATUS_UNLOCKED), bit_of(MC_STATUS_SEALED), bit_of(MC_STATUS_NO_VOLTAGE),
        bit_of(MC_STATUS_CREEP), bit_of(MC_STATUS_EXPORT), bit_of(MC_STATUS_RELAY_CLOSED),
        bit_of(MC_STATUS_DI_CLOSED), bit_of(MC_STATUS_CAL_SWITCH));
    out(d, "Error flags (%04XH), set by the integrity checks at start-up: bit %u parameters CRC, bit %u "
           "calibration CRC, bit %u energy CRC (an older copy was used), bit %u clock invalid.\n\n",
        0x1021u, bit_of(MC_ERROR_PARAMS_CRC), bit_of(MC_ERROR_CAL_CRC), bit_of(MC_ERROR_ENERGY_CRC),
        bit_of(MC_ERROR_CLOCK));
}

static void rows(doc_t *d, const mc_reg_entry_t *t, size_t n, const group_t *g)
{
    out(d, "| Address | Name | Format | Unit | Access | Values |\n");
    out(d, "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t k = 0; k < n; k++) {
        const mc_reg_entry_t *e = &t[k];
        if (e->addr < g->first || e->addr > g->last) {
            continue;
        }
        for (unsigned item = 0; item < e->count; item++) {
            const unsigned addr = e->addr + item * entry_width(e);
            const unsigned arg = (unsigned)e->arg + item * e->arg_step;
            char name[128], values[256];
            if (e->qty >= MC_QTY_COUNT || item_words((mc_qty)e->qty, arg, name, sizeof(name), values,
                                                     sizeof(values)) != 0) {
                die("register %04XH: quantity %u argument %u has no name in qinfo[]", addr, e->qty, arg);
            }
            if (e->qty == MC_QTY_MAP_VERSION) {
                snprintf(values, sizeof(values), "%u", MC_REGMAP_VERSION);
            }
            out(d, "| %04XH | %s | %s | %s | %s | %s |\n", addr, name, e->format == MC_FMT_F32 ? "float32" : "u16",
                unit_name(e->unit), access_name(e->access, (mc_qty)e->qty), values);
        }
    }
    out(d, "\n");
}

static void build(doc_t *d)
{
    size_t n;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    if (t == NULL || n == 0u) {
        die("empty register map");
    }
    /* Every entry in exactly one group, whole; extensions only in extension groups. */
    for (size_t k = 0; k < n; k++) {
        const mc_reg_entry_t *e = &t[k];
        if (e->format != MC_FMT_U16 && e->format != MC_FMT_F32) {
            die("register %04XH: unknown format %u", e->addr, e->format);
        }
        if (k > 0u && e->addr < entry_end(&t[k - 1u])) {
            die("register %04XH: table not sorted or entries overlap", e->addr);
        }
        unsigned found = 0;
        for (size_t g = 0; g < NGROUPS; g++) {
            if (e->addr >= groups[g].first && e->addr <= groups[g].last) {
                if (entry_end(e) - 1u > groups[g].last) {
                    die("register %04XH: entry runs past its group '%s'", e->addr, groups[g].title);
                }
                if ((e->addr >= MC_REG_EXT_BASE) != (groups[g].first >= MC_REG_EXT_BASE)) {
                    die("register %04XH: in the wrong range", e->addr);
                }
                found++;
            }
        }
        if (found != 1u) {
            die("register %04XH: in %u groups (add it to groups[])", e->addr, found);
        }
    }

    intro(d);
    out(d, "## KPM31 registers\n\n");
    int ext_started = 0;
    for (size_t g = 0; g < NGROUPS; g++) {
        const group_t *gr = &groups[g];
        if (gr->first >= MC_REG_EXT_BASE && !ext_started) {
            ext_started = 1;
            out(d, "## metercore extension (from %04XH)\n\n", MC_REG_EXT_BASE);
            out(d, "Registers from %04XH on are a **metercore extension**: the KPM31 manual does not define "
                   "them. The KPM31 registers above keep their meaning.\n\n",
                MC_REG_EXT_BASE);
        }
        out(d, "### %s%s\n\n", gr->first >= MC_REG_EXT_BASE ? "metercore extension: " : "", gr->title);
        if (gr->intro[0] != '\0') {
            out(d, "%s\n\n", gr->intro);
        }
        if (gr->first == 0x1020u) {
            flags_note(d);
        }
        if (gr->first == 0x1400u) {
            out(d, "Poly-phase flags (%04XH): bit %u reversed phase sequence (ACB), bit %u neutral mismatch (the "
                   "measured IN and the phase currents do not sum to 0 within %.0f %% of the largest phase current), "
                   "bit %u a voltage missing (see %04XH), bit %u frequency taken from another voltage than U1.\n\n",
                0x1404u, bit_of(MC_POLY_REVERSE_SEQUENCE), bit_of(MC_POLY_NEUTRAL_MISMATCH),
                (double)(100.0f * MC_NEUTRAL_MISMATCH_RATIO), bit_of(MC_POLY_MISSING_PHASE), 0x1403u,
                bit_of(MC_POLY_REFERENCE_MOVED));
        }
        rows(d, t, n, gr);
    }
    other_maps(d);
}


/* ------------------------------------------------------------------------ */
/* The other built-in maps                                                  */

/* What the document says of each built-in map besides the KPM31's: where its addresses come from. */
typedef struct map_words {
    const char *name;
    const char *source; /* paragraph: sources and what is ambiguous */
} map_words_t;

static const map_words_t map_words[] = {
    {"sdm120",
     "Compatible with the Eastron SDM120-Modbus (single phase) as clients that know that meter read it "
     "(evcc, Home Assistant, openHAB, Tasmota, ESPHome). Addresses from Eastron's \"SDM120 Modbus protocol\" "
     "(input registers 30001.., parameter numbers 1..; holding registers 40019 parity, 40021 address), "
     "cross-checked against the SDM120 tables of the open-source SDM_Energy_Meter Arduino library (reaper7, "
     "SDM.h) and the SDM120C client (gianfrdp); the address columns below are the protocol (PDU) addresses, "
     "the 3xxxx/4xxxx numbers Eastron's documents use are one more. Values are float32, high word first, "
     "whatever word order the native map is set to. Ambiguities: Eastron's documents give energies in kWh "
     "(some libraries' comments say Wh; the values are kWh); the phase angle's sign is not defined there "
     "(here: positive when the current leads, as in the native per-element block); \"total\" energy "
     "(30343) is import + export as Eastron defines it, which is the native combined energy at its default "
     "combination. Eastron's baud-rate register (40029) is not served: its codes (0 = 2400, 1 = 4800, "
     "2 = 9600, 5 = 1200) differ from the meter's; set the baud rate through the native map. Eastron's "
     "parity codes 0..2 (one stop bit) are the meter's; 3 (two stop bits, no parity) is refused with 03."},
    {"sdm630",
     "Compatible with the Eastron SDM630-Modbus (three phase). Addresses from Eastron's \"SDM630 Modbus "
     "protocol\" (input registers 30001..30381), cross-checked against the SDM630 tables of the "
     "SDM_Energy_Meter library (reaper7, SDM.h) and the Oppleo SDM630v2 definitions. L1, L2, L3 are the "
     "meter's elements 0, 1, 2 (a single-phase meter reads 0 for L2 and L3; a 3P3W meter's elements are "
     "U12-I1 and U32-I3). Float32, high word first. Not served (read 0 inside a block): THD (00EAH..), the "
     "per-phase \"total\" energies (0166H..), demand by phase, and Eastron's system type, baud rate and "
     "password holding registers (different encodings from the meter's). Ambiguities as for the SDM120 map; "
     "the sum of line currents (0030H) is the arithmetic sum of the phases' rms currents."},
    {"sunspec",
     "SunSpec Modbus: the \"SunS\" marker (0x53756e53) at 40000, the common model 1 (length 66: Mn, Md, Opt, Vr, "
     "SN strings, DA, Pad), one meter model, then the end model (ID 0xFFFF, length 0); a generic SunSpec client "
     "finds the meter by walking from 40000 without configuration. The meter model is the float model of the "
     "wiring (211 single phase, 212 split phase, 213 wye, 214 delta: one layout of 124 registers, float32 "
     "high word first, no scale factors), read from the meter (the ID register reads the model of the meter's wiring). Points, order and units from the SunSpec model definitions (sunspec/models, "
     "json/model_213.json; models 211, 212, 214 have the same points). Sign conventions as SunSpec gives them "
     "for meters: W positive for import (energy delivered to the load), export negative. Points a meter does "
     "not have (phase B and C of a single-phase meter) and the apparent energies, which metercore does not "
     "count, read NaN (0x7FC00000), SunSpec's \"not implemented\" for float32. PF is the signed ratio -1..1 "
     "(the float models give PF without the percent scaling of the integer models 201..204). Energies are in "
     "Wh (the model's kWh × 10^3). Evt reads 0 (no meter events reported). Every register is read-only; FC 04 "
     "gets exception 01."},
};

static const char *fmt_name(unsigned f)
{
    static const char *const names[] = {"u16", "float32", "int16", "uint32", "const", "string"};
    if (f >= sizeof(names) / sizeof(names[0])) {
        die("format %u has no name", f);
    }
    return names[f];
}

static unsigned width_of(const mc_reg_entry_t *e)
{
    return (e->format == MC_FMT_F32 || e->format == MC_FMT_U32) ? 2u : 1u;
}

/* SunSpec point names of the float meter model (21x), one per float from the model's first data register. */
static const char *sunspec_point(unsigned off)
{
    static const char *const pts[] = {
        "A", "AphA", "AphB", "AphC", "PhV", "PhVphA", "PhVphB", "PhVphC", "PPV", "PPVphAB", "PPVphBC", "PPVphCA",
        "Hz", "W", "WphA", "WphB", "WphC", "VA", "VAphA", "VAphB", "VAphC", "VAR", "VARphA", "VARphB", "VARphC",
        "PF", "PFphA", "PFphB", "PFphC", "TotWhExp", "TotWhExpPhA", "TotWhExpPhB", "TotWhExpPhC", "TotWhImp",
        "TotWhImpPhA", "TotWhImpPhB", "TotWhImpPhC", "TotVAhExp", "TotVAhExpPhA", "TotVAhExpPhB", "TotVAhExpPhC",
        "TotVAhImp", "TotVAhImpPhA", "TotVAhImpPhB", "TotVAhImpPhC", "TotVArhImpQ1", "TotVArhImpQ1PhA",
        "TotVArhImpQ1PhB", "TotVArhImpQ1PhC", "TotVArhImpQ2", "TotVArhImpQ2PhA", "TotVArhImpQ2PhB",
        "TotVArhImpQ2PhC", "TotVArhExpQ3", "TotVArhExpQ3PhA", "TotVArhExpQ3PhB", "TotVArhExpQ3PhC",
        "TotVArhExpQ4", "TotVArhExpQ4PhA", "TotVArhExpQ4PhB", "TotVArhExpQ4PhC"};
    return off / 2u < sizeof(pts) / sizeof(pts[0]) ? pts[off / 2u] : NULL;
}

/* SunSpec names of the registers outside the meter model's floats. */
static const char *sunspec_name(unsigned addr, char *buf, size_t n)
{
    static const struct {
        unsigned addr;
        const char *name;
    } fixed[] = {
        {40000, "SunS marker, \"Su\""}, {40001, "SunS marker, \"nS\""}, {40002, "Common model: ID"},
        {40003, "Common model: L"},     {40004, "Mn (manufacturer)"},   {40020, "Md (model)"},
        {40036, "Opt (options)"},       {40044, "Vr (version)"},        {40052, "SN (serial number)"},
        {40060, "SN, continued (NUL)"}, {40068, "DA (Modbus address)"}, {40069, "Pad"},
        {40070, "Meter model: ID"},     {40071, "Meter model: L"},      {40194, "Evt (event flags)"},
        {40196, "End model: ID"},       {40197, "End model: L"},
    };
    for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
        if (fixed[k].addr == addr) {
            return fixed[k].name;
        }
    }
    if (addr >= 40072u && addr < 40194u) {
        const char *p = sunspec_point(addr - 40072u);
        if (p != NULL) {
            snprintf(buf, n, "%s", p);
            return buf;
        }
    }
    return NULL;
}

static void map_rows(doc_t *d, const mc_regmap_t *m, const mc_reg_entry_t *t, size_t n, char kind)
{
    const int sunspec = strcmp(m->name, "sunspec") == 0;
    out(d, "| Address | %s | Name | Format | Unit | Scale | Access | Values |\n",
        sunspec ? "SunSpec" : "Register");
    out(d, "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t k = 0; k < n; k++) {
        const mc_reg_entry_t *e = &t[k];
        const unsigned w = width_of(e);
        if (e->format == MC_FMT_CONST || e->format == MC_FMT_STR) { /* one row for the block */
            char buf[64], range[48];
            const char *label = sunspec ? sunspec_name(e->addr, buf, sizeof(buf)) : NULL;
            const unsigned last = (unsigned)e->addr + e->count - 1u;
            if (e->count > 1u) {
                snprintf(range, sizeof(range), "%04XH..%04XH (%u..%u)", e->addr, last, e->addr, last);
            } else {
                snprintf(range, sizeof(range), "%04XH (%u)", e->addr, e->addr);
            }
            char values[160];
            if (e->format == MC_FMT_CONST) {
                snprintf(values, sizeof(values), "%04XH%s", e->konst, e->count > 1u ? " in each" : "");
            } else {
                snprintf(values, sizeof(values), "\"%s\", 2 characters a register, NUL padded",
                         m->strings[e->arg]);
            }
            out(d, "| %s | %s | %s | %s |  |  | R | %s |\n", range, label != NULL ? label : "",
                e->format == MC_FMT_CONST ? "Constant" : "String", fmt_name(e->format), values);
            continue;
        }
        for (unsigned item = 0; item < e->count; item++) {
            const unsigned addr = e->addr + item * w;
            const unsigned arg = (unsigned)e->arg + item * e->arg_step;
            char name[128] = "", values[256] = "", buf[64];
            if (e->qty >= MC_QTY_COUNT ||
                       item_words((mc_qty)e->qty, arg, name, sizeof(name), values, sizeof(values)) != 0) {
                die("map %s register %04XH: quantity %u argument %u has no name in qinfo[]", m->name, addr, e->qty,
                    arg);
            }
            if (e->flags & MC_REGF_ELEMENT_NAN) {
                snprintf(values + strlen(values), sizeof(values) - strlen(values), "%sNaN if the meter has no such "
                         "element", values[0] != '\0' ? "; " : "");
            }
            const char *label = sunspec ? sunspec_name(addr, buf, sizeof(buf)) : NULL;
            char col2[80];
            if (sunspec) {
                snprintf(col2, sizeof(col2), "%s", label != NULL ? label : "");
            } else {
                snprintf(col2, sizeof(col2), "%c%04u", kind == 'i' ? '3' : '4', addr + 1u);
            }
            char scale[16] = "";
            if (e->scale != 0) {
                snprintf(scale, sizeof(scale), "10^%d", -(int)e->scale);
            }
            out(d, "| %04XH (%u) | %s | %s | %s | %s | %s | %s | %s |\n", addr, addr, col2, name, fmt_name(e->format),
                unit_name(e->unit), scale, e->access == MC_ACC_R ? "R" : access_name(e->access, (mc_qty)e->qty),
                values);
        }
    }
    out(d, "\n");
}

static void other_maps(doc_t *d)
{
    out(d, "## Other built-in maps\n\n");
    out(d, "A register map is data (`mc_regmap_t`, include/metercore/mc_registers.h): holding and input "
           "tables of `mc_reg_entry_t` (address, count, format, quantity and argument, scale, access), passed to "
           "`mc_modbus_handle_pdu_map()`, `mc_rtu_set_map()` or `mc_rtu_add_unit()`. The data model, the write "
           "path, the access levels and all-or-nothing writes are the library's, the same for every map: a "
           "map decides where a quantity sits and how it is encoded, never who may change it. A product "
           "defines its own map in its own source file (examples/product_map.c). Built in besides the KPM31 "
           "map: `sdm120`, `sdm630`, `sunspec` (`mc_regmap_builtin()`; metersim `--map NAME` serves one at "
           "the meter's address, `--map-unit UNIT:NAME` one at a further unit id; the STM32 firmware by "
           "`MC_STM32_REGMAP`, `MC_STM32_UNIT2`, `MC_STM32_UNIT2_MAP`).\n\n");
    out(d, "Common rules: FC 03 reads the holding table, FC 04 the input table, FC 06 and 10 write the holding "
           "table; a function code the map has no table for gets exception 01 (no map but the KPM31 one has "
           "the relay coil or the DI). A read that touches at least one defined register returns zeros for "
           "the undefined ones in its range (clients such as ESPHome read whole blocks); one that touches "
           "none gets exception 02, as does a write to a register that is not defined writable. Scale: the "
           "register carries the value × the power of ten given (integer formats round to nearest and clamp "
           "to their range). A word setting written as a float (the Eastron maps) must be a whole number in "
           "range, else exception 03. Writes need the password level of the quantity, as in the KPM31 map: "
           "log in on the same connection (TCP) or line (RTU) through a map that has the password register "
           "(the KPM31 map at the meter's address, or at a unit id that serves it).\n\n");
    for (size_t k = 1; mc_regmap_builtin_at(k) != NULL; k++) {
        const mc_regmap_t *m = mc_regmap_builtin_at(k);
        const char *src = NULL;
        for (size_t w = 0; w < sizeof(map_words) / sizeof(map_words[0]); w++) {
            if (strcmp(map_words[w].name, m->name) == 0) {
                src = map_words[w].source;
            }
        }
        if (src == NULL) {
            die("built-in map %s has no words in map_words[]", m->name);
        }
        if (mc_regmap_check(m) != MC_OK) {
            die("built-in map %s fails mc_regmap_check()", m->name);
        }
        out(d, "### `%s`: %s\n\n%s\n\n", m->name, m->title, src);
        if (m->n_input > 0u) {
            out(d, "#### Input registers (FC 04)\n\n");
            map_rows(d, m, m->input, m->n_input, 'i');
        }
        if (m->n_holding > 0u) {
            out(d, "#### Holding registers (FC 03%s)\n\n", m->n_holding > 0u && strcmp(m->name, "sunspec") != 0
                                                                ? ", written with FC 10"
                                                                : "");
            map_rows(d, m, m->holding, m->n_holding, 'h');
        }
    }
}

/* ------------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 65536u, n = 0;
    char *p = malloc(cap);
    if (p == NULL) {
        die("out of memory");
    }
    for (;;) {
        if (n == cap) {
            cap *= 2u;
            char *q = realloc(p, cap);
            if (q == NULL) {
                die("out of memory");
            }
            p = q;
        }
        size_t r = fread(p + n, 1, cap - n, f);
        if (r == 0u) {
            break;
        }
        n += r;
    }
    fclose(f);
    *len = n;
    return p;
}

static int check(const doc_t *d, const char *path)
{
    size_t len = 0;
    char *have = read_file(path, &len);
    if (have == NULL) {
        fprintf(stderr, "regmap_doc: cannot read %s\n", path);
        fprintf(stderr, "regmap_doc: generate it with: make regmap\n");
        return 1;
    }
    int rc = 0;
    if (len != d->len || memcmp(have, d->p, len) != 0) {
        size_t k = 0;
        unsigned line = 1;
        while (k < len && k < d->len && have[k] == d->p[k]) {
            line += have[k] == '\n';
            k++;
        }
        fprintf(stderr, "regmap_doc: %s differs from the register map (mc_regmap_table()) from line %u on.\n",
                path, line);
        fprintf(stderr, "regmap_doc: regenerate it with: make regmap   (then commit docs/REGISTERS.md)\n");
        rc = 1;
    } else {
        printf("regmap_doc: %s matches the register map\n", path);
    }
    free(have);
    return rc;
}

int main(int argc, char **argv)
{
    doc_t d = {NULL, 0, 0};
    build(&d);
    int rc = 0;
    if (argc == 1) {
        if (fwrite(d.p, 1, d.len, stdout) != d.len) {
            rc = 1;
        }
    } else if (argc == 3 && strcmp(argv[1], "-o") == 0) {
        FILE *f = fopen(argv[2], "wb");
        if (f == NULL || fwrite(d.p, 1, d.len, f) != d.len) {
            fprintf(stderr, "regmap_doc: cannot write %s\n", argv[2]);
            rc = 1;
        }
        if (f != NULL && fclose(f) != 0) {
            rc = 1;
        }
    } else if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        rc = check(&d, argv[2]);
    } else {
        fprintf(stderr, "usage: regmap_doc [-o FILE | --check FILE]\n");
        rc = 2;
    }
    free(d.p);
    return rc;
}
