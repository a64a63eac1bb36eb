/*
 * metercore registers: the built-in register maps besides the native one (Eastron
 * SDM120- and SDM630-compatible, SunSpec) and the list of built-in maps. A firmware that
 * serves only the native map (mc_modbus_handle_pdu(), mc_rtu_init()) does not link this
 * file: its tables cost flash only to a product that names a built-in map.
 * A map is data (mc_regmap_t): the Modbus handler serves any map the same way.
 * Sources of every address: docs/REGISTERS.md.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "metercore/mc_registers.h"

#include "mc_regmap_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* Eastron SDM120- and SDM630-compatible maps. Input registers (FC 04), float32 high word first,
 * at the addresses of Eastron's protocol documents (docs/REGISTERS.md gives the sources); the
 * holding registers (FC 03/10) for parity and the slave address, floats as Eastron writes them.  */

#define F32R(a, q, arg, unit) MC_REG_F32(a, 1, q, arg, 0, unit, MC_ACC_R)
#define F32PH(a, q, unit) MC_REG_F32(a, 3, q, 0, 1, unit, MC_ACC_R) /* L1, L2, L3 */

/* Holding registers both SDM maps share: 0012H parity (Eastron's codes 0 none, 1 even, 2 odd
 * with one stop bit are the meter's; 3, two stop bits, is out of range), 0014H slave address. */
static const mc_reg_entry_t sdm_holding[] = {
    MC_REG_F32(0x0012, 1, MC_QTY_PARITY, 0, 0, MC_UNIT_NONE, MC_ACC_RW),
    MC_REG_F32(0x0014, 1, MC_QTY_ADDRESS, 0, 0, MC_UNIT_NONE, MC_ACC_RW),
};

static const mc_reg_entry_t sdm120_input[] = {
    F32R(0x0000, MC_QTY_VOLTAGE, 0, MC_UNIT_V),
    F32R(0x0006, MC_QTY_CURRENT, 0, MC_UNIT_A),
    F32R(0x000C, MC_QTY_P, 0, MC_UNIT_W),
    F32R(0x0012, MC_QTY_S, 0, MC_UNIT_VA),
    F32R(0x0018, MC_QTY_Q, 0, MC_UNIT_VAR),
    F32R(0x001E, MC_QTY_PF, 0, MC_UNIT_NONE),
    F32R(0x0024, MC_QTY_AGGREGATE, 4, MC_UNIT_DEG),
    F32R(0x0046, MC_QTY_FREQ, 0, MC_UNIT_HZ),
    F32R(0x0048, MC_QTY_E_ACTIVE_IMPORT, 0, MC_UNIT_KWH),
    F32R(0x004A, MC_QTY_E_ACTIVE_EXPORT, 0, MC_UNIT_KWH),
    F32R(0x004C, MC_QTY_E_REACTIVE_IMPORT, 0, MC_UNIT_KVARH),
    F32R(0x004E, MC_QTY_E_REACTIVE_EXPORT, 0, MC_UNIT_KVARH),
    F32R(0x0054, MC_QTY_DEMAND_P, 0, MC_UNIT_W),
    F32R(0x0056, MC_QTY_MAX_DEMAND_P, 0, MC_UNIT_W),
    F32R(0x0156, MC_QTY_E_ACTIVE, 0, MC_UNIT_KWH),
    F32R(0x0158, MC_QTY_E_REACTIVE, 0, MC_UNIT_KVARH),
};

static const mc_reg_entry_t sdm630_input[] = {
    F32PH(0x0000, MC_QTY_EL_VOLTAGE, MC_UNIT_V),
    F32PH(0x0006, MC_QTY_EL_CURRENT, MC_UNIT_A),
    F32PH(0x000C, MC_QTY_EL_P, MC_UNIT_W),
    F32PH(0x0012, MC_QTY_EL_S, MC_UNIT_VA),
    F32PH(0x0018, MC_QTY_EL_Q, MC_UNIT_VAR),
    F32PH(0x001E, MC_QTY_EL_PF, MC_UNIT_NONE),
    F32PH(0x0024, MC_QTY_EL_PHASE_ANGLE, MC_UNIT_DEG),
    F32R(0x002A, MC_QTY_AGGREGATE, 0, MC_UNIT_V),
    F32R(0x002E, MC_QTY_AGGREGATE, 1, MC_UNIT_A),
    F32R(0x0030, MC_QTY_AGGREGATE, 2, MC_UNIT_A),
    F32R(0x0034, MC_QTY_P, 0, MC_UNIT_W),
    F32R(0x0038, MC_QTY_S, 0, MC_UNIT_VA),
    F32R(0x003C, MC_QTY_Q, 0, MC_UNIT_VAR),
    F32R(0x003E, MC_QTY_PF, 0, MC_UNIT_NONE),
    F32R(0x0042, MC_QTY_AGGREGATE, 4, MC_UNIT_DEG),
    F32R(0x0046, MC_QTY_FREQ, 0, MC_UNIT_HZ),
    F32R(0x0048, MC_QTY_E_ACTIVE_IMPORT, 0, MC_UNIT_KWH),
    F32R(0x004A, MC_QTY_E_ACTIVE_EXPORT, 0, MC_UNIT_KWH),
    F32R(0x004C, MC_QTY_E_REACTIVE_IMPORT, 0, MC_UNIT_KVARH),
    F32R(0x004E, MC_QTY_E_REACTIVE_EXPORT, 0, MC_UNIT_KVARH),
    F32R(0x0054, MC_QTY_DEMAND_P, 0, MC_UNIT_W),
    F32R(0x0056, MC_QTY_MAX_DEMAND_P, 0, MC_UNIT_W),
    F32R(0x0064, MC_QTY_DEMAND_S, 0, MC_UNIT_VA),
    MC_REG_F32(0x00C8, 3, MC_QTY_U_LL, 0, 1, MC_UNIT_V, MC_ACC_R),
    F32R(0x00CE, MC_QTY_AGGREGATE, 3, MC_UNIT_V),
    F32R(0x00E0, MC_QTY_I_NEUTRAL, 0, MC_UNIT_A),
    F32R(0x0156, MC_QTY_E_ACTIVE, 0, MC_UNIT_KWH),
    F32R(0x0158, MC_QTY_E_REACTIVE, 0, MC_UNIT_KVARH),
    F32PH(0x015A, MC_QTY_EL_E_ACTIVE_IMPORT, MC_UNIT_KWH),
    F32PH(0x0160, MC_QTY_EL_E_ACTIVE_EXPORT, MC_UNIT_KWH),
};

static const mc_regmap_t sdm120 = {
    .name = "sdm120",
    .title = "Eastron SDM120-compatible (single phase): FC 04 input registers, float32 ABCD",
    .holding = sdm_holding,
    .n_holding = sizeof(sdm_holding) / sizeof(sdm_holding[0]),
    .input = sdm120_input,
    .n_input = sizeof(sdm120_input) / sizeof(sdm120_input[0]),
    .words = MC_REGMAP_WORDS_ABCD,
};

static const mc_regmap_t sdm630 = {
    .name = "sdm630",
    .title = "Eastron SDM630-compatible (three phase): FC 04 input registers, float32 ABCD",
    .holding = sdm_holding,
    .n_holding = sizeof(sdm_holding) / sizeof(sdm_holding[0]),
    .input = sdm630_input,
    .n_input = sizeof(sdm630_input) / sizeof(sdm630_input[0]),
    .words = MC_REGMAP_WORDS_ABCD,
};

/* ------------------------------------------------------------------------------------------ */
/* SunSpec: "SunS" at 40000, the common model 1, the float meter model of the wiring (211, 212,
 * 213 or 214: one layout of 124 registers), the end model. Holding registers, read-only.       */

/** First register of the SunSpec map (the "SunS" marker). */
#define SUNS_BASE 40000u
/** The common model: ID 1, length 66. */
#define SUNS_COMMON (SUNS_BASE + 2u)
/** The meter model: ID, length 124. */
#define SUNS_METER (SUNS_COMMON + 2u + 66u)
/** The end model. */
#define SUNS_END (SUNS_METER + 2u + 124u)

/* One float point per phase A, B, C: an element the meter does not have reads NaN. */
#define SS_PH(a, q, unit) { (a), 0u, 3u, MC_FMT_F32, (q), 0u, 1u, (unit), MC_ACC_R, 0, MC_REGF_ELEMENT_NAN }
#define SS_PH_WH(a, q, unit) { (a), 0u, 3u, MC_FMT_F32, (q), 0u, 1u, (unit), MC_ACC_R, -3, MC_REGF_ELEMENT_NAN }
/* A float point of the totals; energies in Wh (the model's kWh × 10^3). */
#define SS_F(a, q, arg, unit) MC_REG_F32(a, 1, q, arg, 0, unit, MC_ACC_R)
#define SS_WH(a, q, arg, unit) { (a), 0u, 1u, MC_FMT_F32, (q), (arg), 0u, (unit), MC_ACC_R, -3, 0u }
/* Offsets of the meter model's points from its first data register (SunSpec model 21x order). */
#define SS_M(off) (SUNS_METER + 2u + (off))

static const char *const sunspec_strings[] = {
    "metercore",  /* Mn */
    "KPM31",      /* Md */
    "",           /* Opt */
    MC_VERSION_STRING, /* Vr */
};

static const mc_reg_entry_t sunspec_holding[] = {
    MC_REG_CONST(SUNS_BASE, 1, 0x5375),      /* "Su" */
    MC_REG_CONST(SUNS_BASE + 1u, 1, 0x6E53), /* "nS" */
    MC_REG_CONST(SUNS_COMMON, 1, 1),         /* ID: common model */
    MC_REG_CONST(SUNS_COMMON + 1u, 1, 66),   /* L */
    MC_REG_STR(SUNS_COMMON + 2u, 16, 0),     /* Mn */
    MC_REG_STR(SUNS_COMMON + 18u, 16, 1),    /* Md */
    MC_REG_STR(SUNS_COMMON + 34u, 8, 2),     /* Opt */
    MC_REG_STR(SUNS_COMMON + 42u, 8, 3),     /* Vr */
    MC_REG_U16(SUNS_COMMON + 50u, 8, MC_QTY_SERIAL, 0, 1, MC_ACC_R), /* SN: the meter's 16 characters */
    MC_REG_CONST(SUNS_COMMON + 58u, 8, 0),   /* SN: NUL padding to 32 characters */
    MC_REG_U16(SUNS_COMMON + 66u, 1, MC_QTY_ADDRESS, 0, 0, MC_ACC_R), /* DA */
    MC_REG_CONST(SUNS_COMMON + 67u, 1, 0x8000), /* Pad */
    MC_REG_U16(SUNS_METER, 1, MC_QTY_SUNSPEC_METER_MODEL, 0, 0, MC_ACC_R), /* ID: 211..214 */
    MC_REG_CONST(SUNS_METER + 1u, 1, 124),   /* L */
    SS_F(SS_M(0), MC_QTY_AGGREGATE, 2, MC_UNIT_A),   /* A: the sum of the phases */
    SS_PH(SS_M(2), MC_QTY_EL_CURRENT, MC_UNIT_A),    /* AphA..C */
    SS_F(SS_M(8), MC_QTY_AGGREGATE, 0, MC_UNIT_V),   /* PhV: mean of the phases */
    SS_PH(SS_M(10), MC_QTY_EL_VOLTAGE, MC_UNIT_V),   /* PhVphA..C */
    SS_F(SS_M(16), MC_QTY_AGGREGATE, 3, MC_UNIT_V),  /* PPV */
    MC_REG_F32(SS_M(18), 3, MC_QTY_U_LL, 0, 1, MC_UNIT_V, MC_ACC_R), /* PPVphAB, BC, CA */
    SS_F(SS_M(24), MC_QTY_FREQ, 0, MC_UNIT_HZ),      /* Hz */
    SS_F(SS_M(26), MC_QTY_P, 0, MC_UNIT_W),          /* W */
    SS_PH(SS_M(28), MC_QTY_EL_P, MC_UNIT_W),
    SS_F(SS_M(34), MC_QTY_S, 0, MC_UNIT_VA),         /* VA */
    SS_PH(SS_M(36), MC_QTY_EL_S, MC_UNIT_VA),
    SS_F(SS_M(42), MC_QTY_Q, 0, MC_UNIT_VAR),        /* VAR */
    SS_PH(SS_M(44), MC_QTY_EL_Q, MC_UNIT_VAR),
    SS_F(SS_M(50), MC_QTY_PF, 0, MC_UNIT_NONE),      /* PF */
    SS_PH(SS_M(52), MC_QTY_EL_PF, MC_UNIT_NONE),
    SS_WH(SS_M(58), MC_QTY_E_ACTIVE_EXPORT, 0, MC_UNIT_KWH), /* TotWhExp */
    SS_PH_WH(SS_M(60), MC_QTY_EL_E_ACTIVE_EXPORT, MC_UNIT_KWH),
    SS_WH(SS_M(66), MC_QTY_E_ACTIVE_IMPORT, 0, MC_UNIT_KWH), /* TotWhImp */
    SS_PH_WH(SS_M(68), MC_QTY_EL_E_ACTIVE_IMPORT, MC_UNIT_KWH),
    MC_REG_F32(SS_M(74), 8, MC_QTY_NAN, 0, 0, MC_UNIT_NONE, MC_ACC_R), /* TotVAhExp, TotVAhImp (+ phases) */
    SS_WH(SS_M(90), MC_QTY_E_QUADRANT, 0, MC_UNIT_KVARH),  /* TotVArhImpQ1 */
    SS_PH_WH(SS_M(92), MC_QTY_EL_E_REACTIVE_Q1, MC_UNIT_KVARH),
    SS_WH(SS_M(98), MC_QTY_E_QUADRANT, 1, MC_UNIT_KVARH),  /* TotVArhImpQ2 */
    SS_PH_WH(SS_M(100), MC_QTY_EL_E_REACTIVE_Q2, MC_UNIT_KVARH),
    SS_WH(SS_M(106), MC_QTY_E_QUADRANT, 2, MC_UNIT_KVARH), /* TotVArhExpQ3 */
    SS_PH_WH(SS_M(108), MC_QTY_EL_E_REACTIVE_Q3, MC_UNIT_KVARH),
    SS_WH(SS_M(114), MC_QTY_E_QUADRANT, 3, MC_UNIT_KVARH), /* TotVArhExpQ4 */
    SS_PH_WH(SS_M(116), MC_QTY_EL_E_REACTIVE_Q4, MC_UNIT_KVARH),
    MC_REG_CONST(SS_M(122), 2, 0),           /* Evt: no event flags */
    MC_REG_CONST(SUNS_END, 1, 0xFFFF),       /* end model */
    MC_REG_CONST(SUNS_END + 1u, 1, 0),
};

_Static_assert(SS_M(124) == SUNS_END, "the meter model is 124 registers long");

static const mc_regmap_t sunspec = {
    .name = "sunspec",
    .title = "SunSpec: common model 1, float meter model 211/212/213/214 by wiring, end model; from 40000",
    .holding = sunspec_holding,
    .n_holding = sizeof(sunspec_holding) / sizeof(sunspec_holding[0]),
    .strings = sunspec_strings,
    .n_strings = sizeof(sunspec_strings) / sizeof(sunspec_strings[0]),
    .words = MC_REGMAP_WORDS_ABCD,
};

/* ------------------------------------------------------------------------------------------ */
/* The built-in maps.                                                                         */

static const mc_regmap_t *const builtin[] = {
    &mc_regmap_kpm31,
    &sdm120,
    &sdm630,
    &sunspec,
};

const mc_regmap_t *mc_regmap_builtin_at(size_t index)
{
    return index < sizeof(builtin) / sizeof(builtin[0]) ? builtin[index] : NULL;
}

const mc_regmap_t *mc_regmap_builtin(const char *name)
{
    if (name == NULL) {
        return &mc_regmap_kpm31;
    }
    for (size_t k = 0; k < sizeof(builtin) / sizeof(builtin[0]); k++) {
        if (strcmp(builtin[k]->name, name) == 0) {
            return builtin[k];
        }
    }
    return NULL;
}
