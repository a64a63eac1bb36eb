/*
 * metercore registers: the data model (read, validated write, protection) and
 * the register map table. See mc_registers.h.
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_registers.h"

#include <string.h>

#include "mc_regmap_internal.h"

/* Entry helpers: address, items, format, quantity, first argument, step, unit, access. */
#define F32(a, n, q, arg, step, unit, acc) MC_REG_F32(a, n, q, arg, step, unit, acc)
#define U16(a, n, q, arg, step, acc) MC_REG_U16(a, n, q, arg, step, acc)
/* Month blocks: this month then settlement months -1..-12 of one rate. */
#define MONTHS(a, q, rate, unit) F32(a, 13, q, (rate) * 16, 1, unit, MC_ACC_R)
/* Per-element blocks: elements 0..MC_MAX_CIRCUITS-1 of one quantity, at mc_reg_element_addr(q, 0). */
#define ELEMENTS(q, unit)                                                                                          \
    F32(MC_REG_ELEMENT_BASE + MC_REG_ELEMENT_QTY_STRIDE * ((q) - MC_QTY_EL_VOLTAGE), MC_MAX_CIRCUITS, q, 0, 1,   \
        unit, MC_ACC_R)
/* Per-channel calibration blocks: n channels (elements) of one quantity, at mc_reg_cal_addr(q, 0). */
#define CHANNEL_CAL(q, n, unit)                                                                                    \
    F32(MC_REG_CHANNEL_CAL_BASE + MC_REG_CHANNEL_CAL_STRIDE * ((q) - MC_QTY_CAL_CH_GAIN), n, q, 0, 1, unit,       \
        MC_ACC_RW)

/* The register map: sorted by address, no overlaps (a test checks both). */
static const mc_reg_entry_t regmap[] = {
    /* KPM31 system parameters (manual 6.2) */
    U16(0x0000, 1, MC_QTY_PASSWORD, 0, 0, MC_ACC_RW),
    U16(0x0001, 1, MC_QTY_ADDRESS, 0, 0, MC_ACC_RW),
    U16(0x0002, 1, MC_QTY_BAUD, 0, 0, MC_ACC_RW),
    U16(0x000C, 1, MC_QTY_CLEAR_ENERGY, 0, 0, MC_ACC_W),
    /* basic measurements (6.3) */
    F32(0x0030, 1, MC_QTY_VOLTAGE, 0, 0, MC_UNIT_V, MC_ACC_R),
    F32(0x0032, 1, MC_QTY_CURRENT, 0, 0, MC_UNIT_A, MC_ACC_R),
    F32(0x0034, 1, MC_QTY_P, 0, 0, MC_UNIT_W, MC_ACC_R),
    F32(0x0036, 1, MC_QTY_Q, 0, 0, MC_UNIT_VAR, MC_ACC_R),
    F32(0x0038, 1, MC_QTY_S, 0, 0, MC_UNIT_VA, MC_ACC_R),
    F32(0x003A, 1, MC_QTY_PF, 0, 0, MC_UNIT_NONE, MC_ACC_R),
    F32(0x003C, 1, MC_QTY_FREQ, 0, 0, MC_UNIT_HZ, MC_ACC_R),
    F32(0x0070, 1, MC_QTY_DEMAND_S, 0, 0, MC_UNIT_VA, MC_ACC_R),
    /* energies (6.4) */
    F32(0x0080, 1, MC_QTY_E_ACTIVE, 0, 0, MC_UNIT_KWH, MC_ACC_R),
    F32(0x0082, 1, MC_QTY_E_ACTIVE_IMPORT, 0, 0, MC_UNIT_KWH, MC_ACC_R),
    F32(0x0084, 1, MC_QTY_E_ACTIVE_EXPORT, 0, 0, MC_UNIT_KWH, MC_ACC_R),
    F32(0x0086, 1, MC_QTY_E_REACTIVE, 0, 0, MC_UNIT_KVARH, MC_ACC_R),
    F32(0x0088, 1, MC_QTY_E_REACTIVE_IMPORT, 0, 0, MC_UNIT_KVARH, MC_ACC_R),
    F32(0x008A, 1, MC_QTY_E_REACTIVE_EXPORT, 0, 0, MC_UNIT_KVARH, MC_ACC_R),
    F32(0x008C, 4, MC_QTY_E_ACTIVE, 1, 1, MC_UNIT_KWH, MC_ACC_R),
    F32(0x0094, 4, MC_QTY_E_REACTIVE, 1, 1, MC_UNIT_KVARH, MC_ACC_R),
    MONTHS(0x009C, MC_QTY_MONTH_ACTIVE, 0, MC_UNIT_KWH),
    MONTHS(0x00B6, MC_QTY_MONTH_REACTIVE, 0, MC_UNIT_KVARH),
    MONTHS(0x00D0, MC_QTY_MONTH_ACTIVE, 1, MC_UNIT_KWH),
    MONTHS(0x00EA, MC_QTY_MONTH_REACTIVE, 1, MC_UNIT_KVARH),
    MONTHS(0x0104, MC_QTY_MONTH_ACTIVE, 2, MC_UNIT_KWH),
    MONTHS(0x011E, MC_QTY_MONTH_REACTIVE, 2, MC_UNIT_KVARH),
    MONTHS(0x0138, MC_QTY_MONTH_ACTIVE, 3, MC_UNIT_KWH),
    MONTHS(0x0152, MC_QTY_MONTH_REACTIVE, 3, MC_UNIT_KVARH),
    MONTHS(0x016C, MC_QTY_MONTH_ACTIVE, 4, MC_UNIT_KWH),
    MONTHS(0x0186, MC_QTY_MONTH_REACTIVE, 4, MC_UNIT_KVARH),
    /* extensions (metercore), from MC_REG_EXT_BASE */
    U16(0x1000, 1, MC_QTY_PARITY, 0, 0, MC_ACC_RW),
    U16(0x1001, 1, MC_QTY_WORD_ORDER, 0, 0, MC_ACC_RW),
    U16(0x1002, 1, MC_QTY_PULSE_CONSTANT, 0, 0, MC_ACC_RW),
    U16(0x1003, 1, MC_QTY_SETTLE_DAY, 0, 0, MC_ACC_RW),
    U16(0x1004, 1, MC_QTY_SETTLE_HOUR, 0, 0, MC_ACC_RW),
    U16(0x1008, 6, MC_QTY_CLOCK, 0, 1, MC_ACC_RW),
    U16(0x1010, 8, MC_QTY_SERIAL, 0, 1, MC_ACC_R),
    U16(0x1018, 1, MC_QTY_SW_VERSION, 0, 0, MC_ACC_R),
    U16(0x1019, 1, MC_QTY_SW_PATCH, 0, 0, MC_ACC_R),
    U16(MC_REG_MAP_VERSION_ADDR, 1, MC_QTY_MAP_VERSION, 0, 0, MC_ACC_R),
    U16(0x101B, 2, MC_QTY_SW_CHECKSUM, 0, 1, MC_ACC_R),
    U16(0x1020, 1, MC_QTY_STATUS, 0, 0, MC_ACC_R),
    U16(0x1021, 1, MC_QTY_ERRORS, 0, 0, MC_ACC_R),
    U16(0x1022, 1, MC_QTY_RELAY, 0, 0, MC_ACC_R),
    U16(0x1023, 1, MC_QTY_DI, 0, 0, MC_ACC_R),
    U16(0x1024, 1, MC_QTY_RATE, 0, 0, MC_ACC_R),
    F32(0x1030, 1, MC_QTY_DEMAND_P, 0, 0, MC_UNIT_W, MC_ACC_R),
    F32(0x1032, 1, MC_QTY_MAX_DEMAND_P, 0, 0, MC_UNIT_W, MC_ACC_R),
    F32(0x1040, 4, MC_QTY_E_ACTIVE_IMPORT, 1, 1, MC_UNIT_KWH, MC_ACC_R),
    F32(0x1048, 4, MC_QTY_E_ACTIVE_EXPORT, 1, 1, MC_UNIT_KWH, MC_ACC_R),
    F32(0x1050, 4, MC_QTY_E_REACTIVE_IMPORT, 1, 1, MC_UNIT_KVARH, MC_ACC_R),
    F32(0x1058, 4, MC_QTY_E_REACTIVE_EXPORT, 1, 1, MC_UNIT_KVARH, MC_ACC_R),
    U16(0x1100, 4, MC_QTY_TOU_COUNTS, 0, 1, MC_ACC_RW),
    U16(0x1110, 17, MC_QTY_TOU_PROFILE, 0, 1, MC_ACC_RW),
    U16(0x1130, 17, MC_QTY_TOU_PROFILE, 32, 1, MC_ACC_RW),
    U16(0x1150, 17, MC_QTY_TOU_PROFILE, 64, 1, MC_ACC_RW),
    U16(0x1170, 17, MC_QTY_TOU_PROFILE, 96, 1, MC_ACC_RW),
    U16(0x1190, 28, MC_QTY_TOU_WEEK, 0, 1, MC_ACC_RW),
    U16(0x11B0, 8, MC_QTY_TOU_SEASON, 0, 1, MC_ACC_RW),
    U16(0x11C0, 96, MC_QTY_TOU_SPECIAL, 0, 1, MC_ACC_RW),
    F32(0x1220, 5, MC_QTY_CAL, 0, 1, MC_UNIT_NONE, MC_ACC_RW),
    U16(0x122A, 1, MC_QTY_SEAL, 0, 0, MC_ACC_RW),
    U16(0x1300, 1, MC_QTY_EVENT_COUNT, 0, 0, MC_ACC_R),
    U16(0x1301, 1, MC_QTY_EVENT_SELECT, 0, 0, MC_ACC_RW),
    U16(0x1302, 12, MC_QTY_EVENT, 0, 1, MC_ACC_R),
    U16(0x1310, 16, MC_QTY_AUDIT_COUNTER, 0, 1, MC_ACC_R),
    /* poly-phase: wiring and the totals' extras, from MC_REG_POLY_BASE */
    U16(0x1400, 1, MC_QTY_WIRING, 0, 0, MC_ACC_R),
    U16(0x1401, 1, MC_QTY_ELEMENTS, 0, 0, MC_ACC_R),
    U16(0x1402, 1, MC_QTY_SEQUENCE, 0, 0, MC_ACC_R),
    U16(0x1403, 1, MC_QTY_MISSING_PHASES, 0, 0, MC_ACC_R),
    U16(0x1404, 1, MC_QTY_POLY_FLAGS, 0, 0, MC_ACC_R),
    U16(0x1405, 1, MC_QTY_REFERENCE, 0, 0, MC_ACC_R),
    F32(0x1410, 1, MC_QTY_S_VECTOR, 0, 0, MC_UNIT_VA, MC_ACC_R),
    F32(0x1412, 3, MC_QTY_U_LL, 0, 1, MC_UNIT_V, MC_ACC_R),
    F32(0x1418, 1, MC_QTY_U_UNBALANCE, 0, 0, MC_UNIT_PERCENT, MC_ACC_R),
    F32(0x141A, 1, MC_QTY_I_UNBALANCE, 0, 0, MC_UNIT_PERCENT, MC_ACC_R),
    F32(0x141C, 1, MC_QTY_I_NEUTRAL, 0, 0, MC_UNIT_A, MC_ACC_R),
    F32(0x141E, 1, MC_QTY_I_NEUTRAL_CALC, 0, 0, MC_UNIT_A, MC_ACC_R),
    F32(0x1420, 1, MC_QTY_I_RESIDUAL, 0, 0, MC_UNIT_A, MC_ACC_R),
    /* per element, from MC_REG_ELEMENT_BASE: one block of MC_MAX_CIRCUITS floats per quantity
     * (mc_reg_element_addr()) */
    ELEMENTS(MC_QTY_EL_VOLTAGE, MC_UNIT_V),
    ELEMENTS(MC_QTY_EL_CURRENT, MC_UNIT_A),
    ELEMENTS(MC_QTY_EL_P, MC_UNIT_W),
    ELEMENTS(MC_QTY_EL_Q, MC_UNIT_VAR),
    ELEMENTS(MC_QTY_EL_S, MC_UNIT_VA),
    ELEMENTS(MC_QTY_EL_PF, MC_UNIT_NONE),
    ELEMENTS(MC_QTY_EL_U_ANGLE, MC_UNIT_DEG),
    ELEMENTS(MC_QTY_EL_I_ANGLE, MC_UNIT_DEG),
    ELEMENTS(MC_QTY_EL_E_ACTIVE_IMPORT, MC_UNIT_KWH),
    ELEMENTS(MC_QTY_EL_E_ACTIVE_EXPORT, MC_UNIT_KWH),
    ELEMENTS(MC_QTY_EL_E_REACTIVE_Q1, MC_UNIT_KVARH),
    ELEMENTS(MC_QTY_EL_E_REACTIVE_Q2, MC_UNIT_KVARH),
    ELEMENTS(MC_QTY_EL_E_REACTIVE_Q3, MC_UNIT_KVARH),
    ELEMENTS(MC_QTY_EL_E_REACTIVE_Q4, MC_UNIT_KVARH),
    /* per-channel calibration, from MC_REG_CHANNEL_CAL_BASE: gain and phase per frame channel, P and Q
     * offsets per element (mc_reg_cal_addr()) */
    CHANNEL_CAL(MC_QTY_CAL_CH_GAIN, MC_MAX_CHANNELS, MC_UNIT_NONE),
    CHANNEL_CAL(MC_QTY_CAL_CH_PHASE, MC_MAX_CHANNELS, MC_UNIT_DEG),
    CHANNEL_CAL(MC_QTY_CAL_EL_P_OFFSET, MC_MAX_CIRCUITS, MC_UNIT_W),
    CHANNEL_CAL(MC_QTY_CAL_EL_Q_OFFSET, MC_MAX_CIRCUITS, MC_UNIT_VAR),
};

/* The per-element block: the quantities in enum order, each a block of MC_MAX_CIRCUITS floats. */
_Static_assert(MC_QTY_EL_E_REACTIVE_Q4 - MC_QTY_EL_VOLTAGE == 13, "14 per-element quantities");
_Static_assert(MC_REG_ELEMENT_BASE + MC_REG_ELEMENT_QTY_STRIDE * 14u <= 0x1700u,
               "the per-element block ends before 1700H");
_Static_assert(MC_QTY_CAL_EL_Q_OFFSET - MC_QTY_CAL_CH_GAIN == 3, "4 per-channel calibration quantities");
_Static_assert(2u * MC_MAX_CHANNELS <= MC_REG_CHANNEL_CAL_STRIDE, "a channel block fits its stride");
_Static_assert(MC_REG_ELEMENT_BASE + MC_REG_ELEMENT_QTY_STRIDE * 14u <= MC_REG_CHANNEL_CAL_BASE,
               "the per-channel calibration follows the per-element block");
_Static_assert(MC_QTY_COUNT <= 256, "quantities are stored in a byte (the map, the event log)");

const mc_reg_entry_t *mc_regmap_table(size_t *count)
{
    if (count != NULL) {
        *count = sizeof(regmap) / sizeof(regmap[0]);
    }
    return regmap;
}

/* The native map: holding registers only, floats in the configured word order, the relay
 * coil and the DI where the product has them. */
const mc_regmap_t mc_regmap_kpm31 = {
    .name = "kpm31",
    .title = "KPM31 native map (KPM31 manual, section 6) with the metercore extension",
    .holding = regmap,
    .n_holding = sizeof(regmap) / sizeof(regmap[0]),
    .words = MC_REGMAP_WORDS_PARAM,
    .flags = MC_REGMAP_BITS,
};

void mc_params_default(mc_params_t *p)
{
    if (p == NULL) {
        return;
    }
    memset(p, 0, sizeof(*p));
    p->password = 6666;
    p->address = 1;
    p->baud_code = 4;
    p->parity = 0;
    p->word_order = 0;
    p->pulse_constant = 1600;
}

int mc_params_check(const mc_params_t *p)
{
    if (p == NULL) {
        return MC_ERR_INVAL;
    }
    const int ok = p->password <= 9999u && p->address >= 1u && p->address <= 247u && p->baud_code >= 1u &&
                   p->baud_code <= 4u && p->parity <= 2u && p->word_order <= 1u && p->pulse_constant >= 1u;
    return ok ? MC_OK : MC_ERR_INVAL;
}

void mc_model_config_default(mc_model_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->features = 0u;
    cfg->require_unlock = 1u;
    cfg->unlock_seconds = 300u;
    cfg->write_burst = MC_WRITE_BURST_DEFAULT;
    cfg->write_refill_s = MC_WRITE_REFILL_S_DEFAULT;
    cfg->audit_burst = MC_AUDIT_BURST_DEFAULT;
    cfg->audit_refill_s = MC_AUDIT_REFILL_S_DEFAULT;
}

/* The monotonic clock, if the product gave one: 1 and *ms, else 0. */
static int mono_ms(const mc_model_t *md, uint32_t *ms)
{
    if (md->hooks.monotonic_ms == NULL) {
        *ms = 0u;
        return 0;
    }
    *ms = md->hooks.monotonic_ms(md->hooks.ctx);
    return 1;
}

int mc_model_init(mc_model_t *md, const mc_model_config_t *cfg, const mc_model_hooks_t *hooks,
                  mc_meter_t *meter, mc_tariff_t *tariff, const mc_params_t *params)
{
    if (md == NULL || cfg == NULL || meter == NULL) {
        return MC_ERR_INVAL;
    }
    mc_params_t p;
    if (params != NULL) {
        p = *params;
    } else {
        mc_params_default(&p);
    }
    if (mc_params_check(&p) != MC_OK) {
        return MC_ERR_INVAL;
    }
    memset(md, 0, sizeof(*md));
    md->cfg = *cfg;
    if (md->cfg.unlock_seconds == 0u) {
        md->cfg.unlock_seconds = 300u;
    }
    if (md->cfg.write_burst == 0u) {
        md->cfg.write_burst = MC_WRITE_BURST_DEFAULT;
    }
    if (md->cfg.write_refill_s == 0u) {
        md->cfg.write_refill_s = MC_WRITE_REFILL_S_DEFAULT;
    }
    if (md->cfg.audit_burst == 0u) {
        md->cfg.audit_burst = MC_AUDIT_BURST_DEFAULT;
    }
    if (md->cfg.audit_refill_s == 0u) {
        md->cfg.audit_refill_s = MC_AUDIT_REFILL_S_DEFAULT;
    }
    if (hooks != NULL) {
        md->hooks = *hooks;
    }
    md->budget = md->cfg.write_burst;
    md->audit_budget = md->cfg.audit_burst;
    (void)mono_ms(md, &md->budget_at_ms);
    md->audit_budget_at_ms = md->budget_at_ms;
    md->meter = meter;
    md->tariff = tariff;
    md->params = p;
    return mc_meter_set_pulse_constant(meter, p.pulse_constant);
}

/* The model's idea of now: the clock hook, else the tariff's latest time. */
static mc_time_t model_now(const mc_model_t *md)
{
    if (md->hooks.now != NULL) {
        return md->hooks.now(md->hooks.ctx);
    }
    return md->tariff != NULL ? md->tariff->last_time : 0u;
}

static void set_u(mc_value_t *out, unsigned u)
{
    out->is_float = 0;
    out->f = 0.0f; /* clears the whole union */
    out->u = (uint16_t)u;
}

static void set_f(mc_value_t *out, float f)
{
    out->is_float = 1;
    out->f = f;
}

/* Read a schedule word (TOU quantities). Returns -1 for an argument out of range. */
static int schedule_word(const mc_tariff_schedule_t *s, mc_qty qty, unsigned arg)
{
    switch (qty) {
    case MC_QTY_TOU_COUNTS: {
        const uint8_t c[4] = {s->day_profile_count, s->week_profile_count, s->season_count,
                              s->special_day_count};
        return arg < 4u ? c[arg] : -1;
    }
    case MC_QTY_TOU_PROFILE: {
        unsigned p = arg / 32u, w = arg % 32u;
        if (p >= MC_TARIFF_MAX_DAY_PROFILES || w > 2u * MC_TARIFF_MAX_SEGMENTS) {
            return -1;
        }
        const mc_tariff_day_profile_t *d = &s->day_profiles[p];
        if (w == 0u) {
            return d->count;
        }
        const mc_tariff_segment_t *g = &d->seg[(w - 1u) / 2u];
        return (w % 2u) ? g->hour * 256 + g->minute : g->rate;
    }
    case MC_QTY_TOU_WEEK:
        return arg < 7u * MC_TARIFF_MAX_WEEK_PROFILES ? s->week_profiles[arg / 7u][arg % 7u] : -1;
    case MC_QTY_TOU_SEASON: {
        if (arg >= 2u * MC_TARIFF_MAX_SEASONS) {
            return -1;
        }
        const mc_tariff_season_t *z = &s->seasons[arg / 2u];
        return (arg % 2u) ? z->week : z->month * 256 + z->day;
    }
    case MC_QTY_TOU_SPECIAL: {
        if (arg >= 3u * MC_TARIFF_MAX_SPECIAL_DAYS) {
            return -1;
        }
        const mc_tariff_special_day_t *h = &s->special_days[arg / 3u];
        const unsigned f = arg % 3u;
        return f == 0u ? h->year : (f == 1u ? h->month * 256 + h->day : h->profile);
    }
    default:
        return -1;
    }
}

/* Write a schedule word into a staged copy. Returns 0, or -1 if out of range. */
static int schedule_set_word(mc_tariff_schedule_t *s, mc_qty qty, unsigned arg, unsigned v)
{
    if (schedule_word(s, qty, arg) < 0) {
        return -1;
    }
    const uint8_t hi = (uint8_t)(v >> 8), lo = (uint8_t)v;
    switch (qty) {
    case MC_QTY_TOU_COUNTS:
        if (v > 255u) {
            return -1;
        }
        if (arg == 0u) {
            s->day_profile_count = lo;
        } else if (arg == 1u) {
            s->week_profile_count = lo;
        } else if (arg == 2u) {
            s->season_count = lo;
        } else {
            s->special_day_count = lo;
        }
        return 0;
    case MC_QTY_TOU_PROFILE: {
        mc_tariff_day_profile_t *d = &s->day_profiles[arg / 32u];
        const unsigned w = arg % 32u;
        if (w == 0u) {
            if (v > 255u) {
                return -1;
            }
            d->count = lo;
        } else if (w % 2u) {
            d->seg[(w - 1u) / 2u].hour = hi;
            d->seg[(w - 1u) / 2u].minute = lo;
        } else {
            if (v > 255u) {
                return -1;
            }
            d->seg[(w - 1u) / 2u].rate = lo;
        }
        return 0;
    }
    case MC_QTY_TOU_WEEK:
        if (v > 255u) {
            return -1;
        }
        s->week_profiles[arg / 7u][arg % 7u] = lo;
        return 0;
    case MC_QTY_TOU_SEASON: {
        mc_tariff_season_t *z = &s->seasons[arg / 2u];
        if (arg % 2u) {
            if (v > 255u) {
                return -1;
            }
            z->week = lo;
        } else {
            z->month = hi;
            z->day = lo;
        }
        return 0;
    }
    case MC_QTY_TOU_SPECIAL: {
        mc_tariff_special_day_t *h = &s->special_days[arg / 3u];
        const unsigned f = arg % 3u;
        if (f == 0u) {
            h->year = (uint16_t)v;
        } else if (f == 1u) {
            h->month = hi;
            h->day = lo;
        } else {
            if (v > 255u) {
                return -1;
            }
            h->profile = lo;
        }
        return 0;
    }
    default:
        return -1;
    }
}

static int is_schedule_qty(mc_qty q)
{
    return q == MC_QTY_TOU_COUNTS || q == MC_QTY_TOU_PROFILE || q == MC_QTY_TOU_WEEK ||
           q == MC_QTY_TOU_SEASON || q == MC_QTY_TOU_SPECIAL;
}

static uint16_t status_flags(const mc_model_t *md)
{
    uint16_t st = 0;
    if (!md->cfg.require_unlock) {
        st |= MC_STATUS_UNLOCKED; /* parameter writes open to anyone: the product chose no protection */
    }
    if (md->hooks.cal_switch != NULL && md->hooks.cal_switch(md->hooks.ctx)) {
        st |= MC_STATUS_CAL_SWITCH;
    }
    if (md->sealed) {
        st |= MC_STATUS_SEALED;
    }
    mc_reading_t r;
    if (mc_meter_reading(md->meter, &r) == MC_OK) {
        if (r.flags & MC_FLAG_NO_VOLTAGE) {
            st |= MC_STATUS_NO_VOLTAGE;
        }
        if (r.flags & MC_FLAG_CREEP_P) {
            st |= MC_STATUS_CREEP;
        }
        if (r.quadrant == 2u || r.quadrant == 3u) {
            st |= MC_STATUS_EXPORT;
        }
    }
    if (md->relay_closed) {
        st |= MC_STATUS_RELAY_CLOSED;
    }
    if (mc_model_di(md)) {
        st |= MC_STATUS_DI_CLOSED;
    }
    return st;
}

static float energy_kwh(const mc_model_t *md, unsigned rate, mc_tariff_kind kind)
{
    if (md->tariff != NULL) {
        return mc_energy_kwh(mc_tariff_energy(md->tariff, rate, kind));
    }
    if (rate != 0u) {
        return 0.0f;
    }
    mc_energy_t e;
    mc_meter_energy(md->meter, &e);
    switch (kind) {
    case MC_TK_ACTIVE_IMPORT:
        return mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT]);
    case MC_TK_ACTIVE_EXPORT:
        return mc_energy_kwh(e.q[MC_E_ACTIVE_EXPORT]);
    case MC_TK_REACTIVE_IMPORT:
        return mc_energy_kwh(mc_energy_reactive_import(&e));
    default:
        return mc_energy_kwh(mc_energy_reactive_export(&e));
    }
}

/* Whether a quantity is one of the per-channel calibration, and the number of its arguments. */
static int is_channel_cal(mc_qty q)
{
    return q >= MC_QTY_CAL_CH_GAIN && q <= MC_QTY_CAL_EL_Q_OFFSET;
}

static unsigned channel_cal_args(mc_qty q)
{
    return q <= MC_QTY_CAL_CH_PHASE ? MC_MAX_CHANNELS : MC_MAX_CIRCUITS;
}

/* The field of a per-channel calibration a quantity and argument (in range) name. */
static float *channel_cal_field(mc_poly_calibration_t *c, mc_qty q, unsigned arg)
{
    switch (q) {
    case MC_QTY_CAL_CH_GAIN:
        return &c->gain[arg];
    case MC_QTY_CAL_CH_PHASE:
        return &c->phase_deg[arg];
    case MC_QTY_CAL_EL_P_OFFSET:
        return &c->p_offset[arg];
    default:
        return &c->q_offset[arg];
    }
}

/* Whether the per-channel calibration field may change: a meter of several elements (the storage saves
 * the calibration of those only; a single-element meter has the meter-wide one), a channel or element
 * the meter has. */
static int channel_cal_writable(const mc_model_t *md, mc_qty q, unsigned arg)
{
    const size_t elements = mc_meter_elements(&md->meter->cfg);
    const size_t n = q <= MC_QTY_CAL_CH_PHASE ? mc_meter_channels(&md->meter->cfg) : elements;
    return elements > 1u && arg < n;
}

/* The poly-phase quantities: the wiring, the totals' extras, each element's reading and energy, the
 * per-channel calibration in force. Returns 1 with *out set, 0 if @p qty is not one of them, or
 * MC_ERR_INVAL for an argument out of range. Elements the meter does not have, and values before the
 * first window, read 0 (the calibration of channels it does not have: unity). */
static int poly_read(const mc_model_t *md, mc_qty qty, unsigned arg, mc_value_t *out)
{
    const mc_meter_t *m = md->meter;
    if (is_channel_cal(qty)) {
        if (arg >= channel_cal_args(qty)) {
            return MC_ERR_INVAL;
        }
        mc_poly_calibration_t c;
        if (mc_meter_get_poly_calibration(m, &c) != MC_OK) {
            mc_poly_calibration_default(&c);
        }
        set_f(out, *channel_cal_field(&c, qty, arg));
        return 1;
    }
    if (qty >= MC_QTY_EL_VOLTAGE && qty <= MC_QTY_EL_E_REACTIVE_Q4) {
        if (arg >= MC_MAX_CIRCUITS) {
            return MC_ERR_INVAL;
        }
        const unsigned n = (unsigned)mc_meter_elements(&m->cfg);
        if (qty >= MC_QTY_EL_E_ACTIVE_IMPORT) {
            mc_energy_t e;
            if (arg >= n || mc_meter_phase_energy(m, arg, &e) != MC_OK) {
                memset(&e, 0, sizeof(e));
            }
            set_f(out, mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT + (qty - MC_QTY_EL_E_ACTIVE_IMPORT)]));
            return 1;
        }
        mc_phase_reading_t r;
        if (arg >= n || mc_meter_phase_reading(m, arg, &r) != MC_OK) {
            memset(&r, 0, sizeof(r));
        }
        const float v[8] = {r.urms, r.irms, r.p, r.q, r.s, r.pf, r.u_angle_deg, r.i_angle_deg};
        set_f(out, v[qty - MC_QTY_EL_VOLTAGE]);
        return 1;
    }
    if (qty < MC_QTY_WIRING || qty > MC_QTY_I_RESIDUAL) {
        return 0;
    }
    if ((qty == MC_QTY_U_LL && arg > 2u) || (qty != MC_QTY_U_LL && arg != 0u)) {
        return MC_ERR_INVAL;
    }
    mc_poly_reading_t pr;
    if (mc_meter_poly_reading(m, &pr) != MC_OK) {
        memset(&pr, 0, sizeof(pr));
    }
    switch (qty) {
    case MC_QTY_WIRING:
        set_u(out, (unsigned)m->cfg.wiring);
        break;
    case MC_QTY_ELEMENTS:
        set_u(out, (unsigned)mc_meter_elements(&m->cfg));
        break;
    case MC_QTY_SEQUENCE:
        set_u(out, pr.sequence);
        break;
    case MC_QTY_MISSING_PHASES:
        set_u(out, pr.missing);
        break;
    case MC_QTY_POLY_FLAGS:
        set_u(out, pr.flags);
        break;
    case MC_QTY_REFERENCE:
        set_u(out, pr.reference);
        break;
    case MC_QTY_S_VECTOR:
        set_f(out, pr.s_vector);
        break;
    case MC_QTY_U_LL:
        set_f(out, pr.u_ll[arg]);
        break;
    case MC_QTY_U_UNBALANCE:
        set_f(out, pr.u_unbalance_pct);
        break;
    case MC_QTY_I_UNBALANCE:
        set_f(out, pr.i_unbalance_pct);
        break;
    case MC_QTY_I_NEUTRAL:
        set_f(out, pr.i_neutral);
        break;
    case MC_QTY_I_NEUTRAL_CALC:
        set_f(out, pr.i_neutral_calc);
        break;
    default:
        set_f(out, pr.i_residual);
        break;
    }
    return 1;
}

/* The readings other maps carry (MC_QTY_EL_PHASE_ANGLE .. MC_QTY_SUNSPEC_METER_MODEL), derived from the
 * meter's: returns 1 with *out set, 0 if @p qty is not one of them, MC_ERR_INVAL for a bad argument. */
static int derived_read(const mc_model_t *md, mc_qty qty, unsigned arg, mc_value_t *out)
{
    const mc_meter_t *m = md->meter;
    const unsigned n = (unsigned)mc_meter_elements(&m->cfg);
    switch (qty) {
    case MC_QTY_EL_PHASE_ANGLE: {
        if (arg >= MC_MAX_CIRCUITS) {
            return MC_ERR_INVAL;
        }
        mc_phase_reading_t r;
        if (arg >= n || mc_meter_phase_reading(m, arg, &r) != MC_OK || !(r.irms > 0.0f)) {
            set_f(out, 0.0f);
            return 1;
        }
        set_f(out, mc_wrap_deg(r.i_angle_deg - r.u_angle_deg));
        return 1;
    }
    case MC_QTY_AGGREGATE: {
        if (arg > 4u) {
            return MC_ERR_INVAL;
        }
        if (arg == 4u) {
            mc_reading_t r;
            if (mc_meter_reading(m, &r) != MC_OK) {
                memset(&r, 0, sizeof(r));
            }
            set_f(out, -mc_atan2_deg(r.q, r.p));
            return 1;
        }
        if (arg == 3u) {
            mc_poly_reading_t pr;
            if (mc_meter_poly_reading(m, &pr) != MC_OK) {
                memset(&pr, 0, sizeof(pr));
            }
            const mc_wiring w = m->cfg.wiring;
            const int three = w == MC_WIRING_3P4W || w == MC_WIRING_3P3W ||
                              (w == MC_WIRING_MULTI && m->cfg.voltages == 3u);
            set_f(out, three ? (pr.u_ll[0] + pr.u_ll[1] + pr.u_ll[2]) / 3.0f
                             : (w == MC_WIRING_1P3W ? pr.u_ll[0] : 0.0f));
            return 1;
        }
        float sum = 0.0f;
        for (unsigned k = 0; k < n; k++) {
            mc_phase_reading_t r;
            if (mc_meter_phase_reading(m, k, &r) == MC_OK) {
                sum += arg == 0u ? r.urms : r.irms;
            }
        }
        set_f(out, arg == 2u ? sum : sum / (float)(n > 0u ? n : 1u));
        return 1;
    }
    case MC_QTY_E_QUADRANT: {
        if (arg > 3u) {
            return MC_ERR_INVAL;
        }
        mc_energy_t e;
        mc_meter_energy(m, &e);
        set_f(out, mc_energy_kwh(e.q[MC_E_REACTIVE_Q1 + arg]));
        return 1;
    }
    case MC_QTY_NAN: {
        const uint32_t bits = 0x7FC00000u;
        float f;
        memcpy(&f, &bits, sizeof(f));
        set_f(out, f);
        return 1;
    }
    case MC_QTY_SUNSPEC_METER_MODEL: {
        const mc_wiring w = m->cfg.wiring;
        unsigned id = 211u;
        if (w == MC_WIRING_1P3W) {
            id = 212u;
        } else if (w == MC_WIRING_3P4W || (w == MC_WIRING_MULTI && m->cfg.voltages == 3u)) {
            id = 213u;
        } else if (w == MC_WIRING_3P3W) {
            id = 214u;
        }
        set_u(out, id);
        return 1;
    }
    default:
        return 0;
    }
}

int mc_model_read(const mc_model_t *md, mc_qty qty, unsigned arg, mc_value_t *out)
{
    if (md == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    const int derived = derived_read(md, qty, arg, out);
    if (derived != 0) {
        return derived < 0 ? derived : MC_OK;
    }
    const int poly = poly_read(md, qty, arg, out);
    if (poly != 0) {
        return poly < 0 ? poly : MC_OK;
    }
    mc_reading_t r;
    if (mc_meter_reading(md->meter, &r) != MC_OK) {
        memset(&r, 0, sizeof(r));
    }
    const mc_tariff_t *t = md->tariff;
    const unsigned rate = arg / 16u, month = arg % 16u;
    switch (qty) {
    case MC_QTY_NONE:
    case MC_QTY_PASSWORD:
    case MC_QTY_CLEAR_ENERGY:
        set_u(out, 0); /* the password is never read back; commands read 0 */
        return MC_OK;
    case MC_QTY_VOLTAGE:
        set_f(out, r.urms);
        return MC_OK;
    case MC_QTY_CURRENT:
        set_f(out, r.irms);
        return MC_OK;
    case MC_QTY_P:
        set_f(out, r.p);
        return MC_OK;
    case MC_QTY_Q:
        set_f(out, r.q);
        return MC_OK;
    case MC_QTY_S:
        set_f(out, r.s);
        return MC_OK;
    case MC_QTY_PF:
        set_f(out, r.pf);
        return MC_OK;
    case MC_QTY_FREQ:
        set_f(out, r.freq);
        return MC_OK;
    case MC_QTY_DEMAND_S:
    case MC_QTY_DEMAND_P: {
        float p = 0.0f, s = 0.0f;
        if (t != NULL) {
            (void)mc_tariff_demand(t, &p, &s);
        }
        set_f(out, qty == MC_QTY_DEMAND_S ? s : p);
        return MC_OK;
    }
    case MC_QTY_MAX_DEMAND_P:
        set_f(out, t != NULL ? t->max_demand_p : 0.0f);
        return MC_OK;
    case MC_QTY_E_ACTIVE:
    case MC_QTY_E_REACTIVE:
        if (arg > MC_TARIFF_RATES) {
            return MC_ERR_INVAL;
        }
        if (t != NULL) {
            set_f(out, mc_tariff_combined_kwh(t, arg, qty == MC_QTY_E_ACTIVE ? MC_COMBINED_ACTIVE
                                                                             : MC_COMBINED_REACTIVE));
        } else {
            const mc_tariff_kind imp = qty == MC_QTY_E_ACTIVE ? MC_TK_ACTIVE_IMPORT : MC_TK_REACTIVE_IMPORT;
            set_f(out, energy_kwh(md, arg, imp) + energy_kwh(md, arg, (mc_tariff_kind)(imp + 1)));
        }
        return MC_OK;
    case MC_QTY_E_ACTIVE_IMPORT:
    case MC_QTY_E_ACTIVE_EXPORT:
    case MC_QTY_E_REACTIVE_IMPORT:
    case MC_QTY_E_REACTIVE_EXPORT:
        if (arg > MC_TARIFF_RATES) {
            return MC_ERR_INVAL;
        }
        set_f(out, energy_kwh(md, arg, (mc_tariff_kind)(qty - MC_QTY_E_ACTIVE_IMPORT +
                                                        (qty >= MC_QTY_E_REACTIVE_IMPORT ? -1 : 0))));
        return MC_OK;
    case MC_QTY_MONTH_ACTIVE:
    case MC_QTY_MONTH_REACTIVE: {
        if (rate > MC_TARIFF_RATES || month > MC_TARIFF_HISTORY_MONTHS) {
            return MC_ERR_INVAL;
        }
        float kwh = 0.0f;
        if (t != NULL) {
            mc_tariff_month_kwh(t, month, rate,
                                qty == MC_QTY_MONTH_ACTIVE ? MC_COMBINED_ACTIVE : MC_COMBINED_REACTIVE, &kwh);
        }
        set_f(out, kwh);
        return MC_OK;
    }
    case MC_QTY_ADDRESS:
        set_u(out, md->params.address);
        return MC_OK;
    case MC_QTY_BAUD:
        set_u(out, md->params.baud_code);
        return MC_OK;
    case MC_QTY_PARITY:
        set_u(out, md->params.parity);
        return MC_OK;
    case MC_QTY_WORD_ORDER:
        set_u(out, md->params.word_order);
        return MC_OK;
    case MC_QTY_PULSE_CONSTANT:
        set_u(out, md->params.pulse_constant);
        return MC_OK;
    case MC_QTY_SETTLE_DAY:
        set_u(out, t != NULL ? t->cfg.settle_day : 0u);
        return MC_OK;
    case MC_QTY_SETTLE_HOUR:
        set_u(out, t != NULL ? t->cfg.settle_hour : 0u);
        return MC_OK;
    case MC_QTY_CLOCK: {
        mc_datetime_t dt;
        if (arg > 5u) {
            return MC_ERR_INVAL;
        }
        if (mc_time_to_datetime(model_now(md), &dt) != MC_OK) {
            memset(&dt, 0, sizeof(dt));
        }
        const unsigned f[6] = {dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second};
        set_u(out, f[arg]);
        return MC_OK;
    }
    case MC_QTY_SERIAL:
        if (arg > 7u) {
            return MC_ERR_INVAL;
        }
        set_u(out, (unsigned)(uint8_t)md->params.serial[2u * arg] * 256u + (uint8_t)md->params.serial[2u * arg + 1u]);
        return MC_OK;
    case MC_QTY_SW_VERSION:
        set_u(out, (MC_VERSION_MAJOR << 8) | MC_VERSION_MINOR);
        return MC_OK;
    case MC_QTY_SW_PATCH:
        set_u(out, MC_VERSION_PATCH);
        return MC_OK;
    case MC_QTY_MAP_VERSION:
        set_u(out, MC_REGMAP_VERSION);
        return MC_OK;
    case MC_QTY_SW_CHECKSUM: {
        if (arg > 1u) {
            return MC_ERR_INVAL;
        }
        const uint32_t c = md->hooks.code_checksum != NULL ? md->hooks.code_checksum(md->hooks.ctx) : 0u;
        set_u(out, arg == 0u ? (c >> 16) : (c & 0xFFFFu));
        return MC_OK;
    }
    case MC_QTY_STATUS:
        set_u(out, status_flags(md));
        return MC_OK;
    case MC_QTY_ERRORS:
        set_u(out, md->errors);
        return MC_OK;
    case MC_QTY_RELAY:
        set_u(out, md->relay_closed);
        return MC_OK;
    case MC_QTY_DI:
        set_u(out, (unsigned)mc_model_di(md));
        return MC_OK;
    case MC_QTY_RATE:
        set_u(out, t != NULL ? t->rate : 0u);
        return MC_OK;
    case MC_QTY_TOU_COUNTS:
    case MC_QTY_TOU_PROFILE:
    case MC_QTY_TOU_WEEK:
    case MC_QTY_TOU_SEASON:
    case MC_QTY_TOU_SPECIAL: {
        mc_tariff_schedule_t dflt;
        const mc_tariff_schedule_t *s = t != NULL ? &t->schedule : NULL;
        if (s == NULL) {
            mc_tariff_schedule_default(&dflt);
            s = &dflt;
        }
        const int w = schedule_word(s, qty, arg);
        if (w < 0) {
            return MC_ERR_INVAL;
        }
        set_u(out, (unsigned)w);
        return MC_OK;
    }
    case MC_QTY_CAL: {
        const mc_calibration_t *c = &md->meter->cal;
        const float v[5] = {c->u_gain, c->i_gain, c->phase_deg, c->p_offset, c->q_offset};
        if (arg > 4u) {
            return MC_ERR_INVAL;
        }
        set_f(out, v[arg]);
        return MC_OK;
    }
    case MC_QTY_SEAL:
        set_u(out, md->sealed);
        return MC_OK;
    case MC_QTY_EVENT_COUNT: {
        const unsigned n = md->hooks.event_count != NULL ? md->hooks.event_count(md->hooks.ctx) : 0u;
        set_u(out, n > 0xFFFFu ? 0xFFFFu : n);
        return MC_OK;
    }
    case MC_QTY_EVENT_SELECT:
        set_u(out, md->event_select);
        return MC_OK;
    case MC_QTY_AUDIT_COUNTER: {
        uint32_t c = 0;
        if (arg > 15u) {
            return MC_ERR_INVAL;
        }
        if (md->hooks.audit_counter == NULL || md->hooks.audit_counter(md->hooks.ctx, arg / 2u, &c) != MC_OK) {
            c = 0;
        }
        set_u(out, (arg % 2u) ? (c & 0xFFFFu) : (c >> 16));
        return MC_OK;
    }
    case MC_QTY_EVENT: {
        mc_event_t ev;
        if (arg > 11u) {
            return MC_ERR_INVAL;
        }
        if (md->hooks.event_read == NULL || md->hooks.event_read(md->hooks.ctx, md->event_select, &ev) != MC_OK) {
            memset(&ev, 0, sizeof(ev)); /* no such event: all fields read 0 */
        }
        const uint32_t w[6] = {ev.seq, ev.time, ev.type, ev.source, ev.qty, ev.arg};
        const uint32_t v = arg < 4u ? w[arg / 2u] : (arg < 8u ? w[arg - 2u] : (arg < 10u ? ev.old_value : ev.new_value));
        const int wide = arg < 4u || arg >= 8u;
        set_u(out, wide ? ((arg % 2u) ? (v & 0xFFFFu) : (v >> 16)) : v);
        return MC_OK;
    }
    default:
        return MC_ERR_INVAL;
    }
}

static uint32_t float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof(b));
    return b;
}

static uint32_t value_bits(const mc_value_t *v)
{
    return v->is_float ? float_bits(v->f) : v->u;
}

mc_level mc_qty_level(mc_qty qty)
{
    switch (qty) {
    case MC_QTY_EVENT_SELECT:
        return MC_LEVEL_PUBLIC;
    case MC_QTY_PASSWORD: /* as a change; writing it on a session not logged in is the login */
    case MC_QTY_ADDRESS:
    case MC_QTY_BAUD:
    case MC_QTY_PARITY:
    case MC_QTY_WORD_ORDER:
    case MC_QTY_CLEAR_ENERGY:
    case MC_QTY_SETTLE_DAY:
    case MC_QTY_SETTLE_HOUR:
    case MC_QTY_CLOCK:
    case MC_QTY_RELAY:
    case MC_QTY_TOU_COUNTS:
    case MC_QTY_TOU_PROFILE:
    case MC_QTY_TOU_WEEK:
    case MC_QTY_TOU_SEASON:
    case MC_QTY_TOU_SPECIAL:
        return MC_LEVEL_PARAM;
    case MC_QTY_CAL:
    case MC_QTY_CAL_CH_GAIN:
    case MC_QTY_CAL_CH_PHASE:
    case MC_QTY_CAL_EL_P_OFFSET:
    case MC_QTY_CAL_EL_Q_OFFSET:
    case MC_QTY_SEAL:
    case MC_QTY_PULSE_CONSTANT: /* the test output: changes what is measured against it */
        return MC_LEVEL_CAL;
    default:
        return MC_LEVEL_NONE;
    }
}

void mc_auth_guard_init(mc_auth_guard_t *g, unsigned iface)
{
    if (g == NULL) {
        return;
    }
    memset(g, 0, sizeof(*g));
    g->iface = (uint8_t)iface;
}

void mc_session_init(mc_session_t *s, mc_auth_guard_t *guard)
{
    if (s == NULL) {
        return;
    }
    memset(s, 0, sizeof(*s));
    s->guard = guard;
}

void mc_session_end(mc_session_t *s)
{
    if (s != NULL) {
        s->authorised = 0;
        s->one_request = 0;
    }
}

static void auth_report(const mc_model_t *md, unsigned what, const mc_auth_guard_t *g, uint32_t count,
                        uint32_t lockout_s)
{
    if (md->hooks.on_auth != NULL) {
        md->hooks.on_auth(md->hooks.ctx, what, g->iface, count, lockout_s);
    }
}

/* The lockout a count calls for: 60 s at the 10th wrong password, doubling, at most a day. */
static uint32_t lockout_for(uint32_t wrong)
{
    if (wrong < MC_AUTH_FREE_TRIES) {
        return 0u;
    }
    const uint32_t steps = wrong - MC_AUTH_FREE_TRIES;
    uint32_t s = MC_AUTH_LOCKOUT_FIRST_S;
    for (uint32_t k = 0; k < steps && s < MC_AUTH_LOCKOUT_MAX_S; k++) {
        s *= 2u;
    }
    return s < MC_AUTH_LOCKOUT_MAX_S ? s : MC_AUTH_LOCKOUT_MAX_S;
}

/* A day without a wrong password forgives one. Without a monotonic clock nothing decays. */
static void guard_decay(const mc_model_t *md, mc_auth_guard_t *g)
{
    uint32_t now;
    if (g->wrong == 0u || !mono_ms(md, &now)) {
        return;
    }
    const uint32_t days = (now - g->last_wrong_ms) / (MC_AUTH_DECAY_S * 1000u);
    if (days > 0u) {
        g->wrong = (uint16_t)(days >= g->wrong ? 0u : g->wrong - days);
        g->last_wrong_ms += days * (MC_AUTH_DECAY_S * 1000u);
    }
}

/* Whether the guard's lockout is still on; ends it (reporting the tries it refused) when it is over.
 * Without a monotonic clock a lockout lasts until restart. */
static int guard_locked(const mc_model_t *md, mc_auth_guard_t *g)
{
    if (g->lockout_s == 0u) {
        return 0;
    }
    uint32_t now;
    if (mono_ms(md, &now) && (uint32_t)(now - g->locked_at_ms) >= g->lockout_s * 1000u) {
        g->lockout_s = 0u;
        if (g->refused != 0u) {
            auth_report(md, MC_AUTH_REFUSED, g, g->refused, 0u);
            g->refused = 0u;
        }
        return 0;
    }
    return 1;
}

void mc_auth_guard_restore(const mc_model_t *md, mc_auth_guard_t *g, uint32_t wrong)
{
    if (md == NULL || g == NULL) {
        return;
    }
    uint32_t now;
    (void)mono_ms(md, &now);
    g->wrong = (uint16_t)(wrong > UINT16_MAX ? UINT16_MAX : wrong);
    g->last_wrong_ms = now;
    g->lockout_s = lockout_for(g->wrong);
    g->locked_at_ms = now;
    g->refused = 0u;
}

uint32_t mc_auth_lockout_left(const mc_model_t *md, const mc_auth_guard_t *g)
{
    if (md == NULL || g == NULL || g->lockout_s == 0u) {
        return 0u;
    }
    uint32_t now;
    if (!mono_ms(md, &now)) {
        return g->lockout_s;
    }
    const uint32_t gone = (now - g->locked_at_ms) / 1000u;
    return gone >= g->lockout_s ? 0u : g->lockout_s - gone;
}

int mc_session_login(mc_model_t *md, mc_session_t *s, unsigned password)
{
    if (md == NULL || s == NULL || s->guard == NULL) {
        return MC_ERR_INVAL;
    }
    mc_auth_guard_t *g = s->guard;
    if (guard_locked(md, g)) {
        if (g->refused < UINT32_MAX) {
            g->refused++;
        }
        return MC_ERR_BUSY; /* not even checked */
    }
    guard_decay(md, g);
    uint32_t now;
    const int have_clock = mono_ms(md, &now);
    if (password != md->params.password) {
        s->authorised = 0;
        if (g->wrong < UINT16_MAX) {
            g->wrong++;
        }
        if (g->wrong_total < UINT32_MAX) {
            g->wrong_total++;
        }
        g->last_wrong_ms = now;
        auth_report(md, MC_AUTH_WRONG, g, g->wrong, 0u);
        const uint32_t lock = lockout_for(g->wrong);
        if (lock != 0u) {
            g->lockout_s = lock;
            g->locked_at_ms = now;
            g->refused = 0u;
            auth_report(md, MC_AUTH_LOCKOUT, g, g->wrong, lock);
        }
        return MC_ERR_AUTH;
    }
    /* A right password opens this session; it does not forgive the interface's wrong ones. */
    s->authorised = 1;
    s->one_request = (uint8_t)!have_clock;
    s->last_ms = now;
    s->password_gen = md->password_gen;
    return MC_OK;
}

/* Whether a session is logged in now; ends it when it timed out or the password changed. */
static int session_valid(const mc_model_t *md, mc_session_t *s)
{
    if (s == NULL || !s->authorised) {
        return 0;
    }
    if (s->password_gen != md->password_gen) {
        mc_session_end(s);
        return 0;
    }
    if (s->one_request) {
        return 1;
    }
    uint32_t now;
    if (!mono_ms(md, &now) || (uint32_t)(now - s->last_ms) >= (uint32_t)md->cfg.unlock_seconds * 1000u) {
        mc_session_end(s);
        return 0;
    }
    return 1;
}

mc_level mc_session_level(const mc_model_t *md, mc_session_t *s)
{
    if (md == NULL) {
        return MC_LEVEL_PUBLIC;
    }
    if (!session_valid(md, s)) {
        /* Calibration always needs a password; parameters too unless the product chose otherwise. */
        return md->cfg.require_unlock ? MC_LEVEL_PUBLIC : MC_LEVEL_PARAM;
    }
    if (!md->sealed || (md->hooks.cal_switch != NULL && md->hooks.cal_switch(md->hooks.ctx))) {
        return MC_LEVEL_CAL;
    }
    return MC_LEVEL_PARAM;
}

/* Staged state of a write: everything is checked here before anything changes. */
typedef struct staged {
    mc_params_t params;
    mc_calibration_t cal;
    mc_poly_calibration_t poly; /* the per-channel calibration, read at its first item (poly_loaded) */
    mc_tariff_schedule_t schedule;
    mc_datetime_t clock;
    uint16_t event_select;
    uint8_t settle_day, settle_hour, sealed, relay;
    uint8_t clear, cal_changed, schedule_changed, clock_changed, settle_changed, relay_changed;
    uint8_t poly_loaded, poly_changed;
} staged_t;

static int stage_item(const mc_model_t *md, staged_t *st, const mc_write_item_t *it, mc_source source)
{
    const mc_qty q = (mc_qty)it->qty;
    const unsigned a = it->arg;
    const unsigned v = it->u;
    if (it->is_float != (q == MC_QTY_CAL || is_channel_cal(q))) {
        return -1; /* wrong type for the quantity */
    }
    switch (q) {
    case MC_QTY_PASSWORD:
        if (v > 9999u) {
            return -1;
        }
        st->params.password = (uint16_t)v;
        return 0;
    case MC_QTY_ADDRESS:
        if (v < 1u || v > 247u) {
            return -1;
        }
        st->params.address = (uint8_t)v;
        return 0;
    case MC_QTY_BAUD:
        if (v < 1u || v > 4u) {
            return -1;
        }
        st->params.baud_code = (uint8_t)v;
        return 0;
    case MC_QTY_PARITY:
        if (v > 2u) {
            return -1;
        }
        st->params.parity = (uint8_t)v;
        return 0;
    case MC_QTY_WORD_ORDER:
        if (v > 1u) {
            return -1;
        }
        st->params.word_order = (uint8_t)v;
        return 0;
    case MC_QTY_PULSE_CONSTANT:
        if (v < 1u) {
            return -1;
        }
        st->params.pulse_constant = (uint16_t)v;
        return 0;
    case MC_QTY_CLEAR_ENERGY:
        if (v != MC_CLEAR_ENERGY_COMMAND) {
            return -1;
        }
        st->clear = 1;
        return 0;
    case MC_QTY_SETTLE_DAY:
        if (md->tariff == NULL || v < 1u || v > 28u) {
            return -1;
        }
        st->settle_day = (uint8_t)v;
        st->settle_changed = 1;
        return 0;
    case MC_QTY_SETTLE_HOUR:
        if (md->tariff == NULL || v > 23u) {
            return -1;
        }
        st->settle_hour = (uint8_t)v;
        st->settle_changed = 1;
        return 0;
    case MC_QTY_CLOCK: {
        if (a > 5u) {
            return -1;
        }
        if (md->hooks.set_clock == NULL) {
            return MC_ERR_NODATA; /* this meter has no settable clock: a device failure, not a bad value */
        }
        if (v > 0xFFFFu) {
            return -1;
        }
        switch (a) {
        case 0:
            st->clock.year = (uint16_t)v;
            break;
        case 1:
            st->clock.month = (uint8_t)(v > 255u ? 255u : v);
            break;
        case 2:
            st->clock.day = (uint8_t)(v > 255u ? 255u : v);
            break;
        case 3:
            st->clock.hour = (uint8_t)(v > 255u ? 255u : v);
            break;
        case 4:
            st->clock.minute = (uint8_t)(v > 255u ? 255u : v);
            break;
        default:
            st->clock.second = (uint8_t)(v > 255u ? 255u : v);
            break;
        }
        st->clock_changed = 1;
        return 0;
    }
    case MC_QTY_SERIAL:
        if (a > 7u || source == MC_SRC_BUS) {
            return -1;
        }
        st->params.serial[2u * a] = (char)(v >> 8);
        st->params.serial[2u * a + 1u] = (char)(v & 0xFFu);
        return 0;
    case MC_QTY_CAL: {
        if (a > 4u) {
            return -1;
        }
        float *f[5] = {&st->cal.u_gain, &st->cal.i_gain, &st->cal.phase_deg, &st->cal.p_offset,
                       &st->cal.q_offset};
        *f[a] = it->f;
        st->cal_changed = 1;
        return 0;
    }
    case MC_QTY_CAL_CH_GAIN:
    case MC_QTY_CAL_CH_PHASE:
    case MC_QTY_CAL_EL_P_OFFSET:
    case MC_QTY_CAL_EL_Q_OFFSET: {
        if (a >= channel_cal_args(q)) {
            return -1;
        }
        if (!st->poly_loaded) {
            if (mc_meter_get_poly_calibration(md->meter, &st->poly) != MC_OK) {
                mc_poly_calibration_default(&st->poly);
            }
            st->poly_loaded = 1;
        }
        float *f = channel_cal_field(&st->poly, q, a);
        if (!channel_cal_writable(md, q, a)) {
            /* a single-element meter, a channel or element it does not have: only what it reads (so a
             * block read can be written back whole) */
            return float_bits(*f) == float_bits(it->f) ? 0 : -1;
        }
        *f = it->f;
        st->poly_changed = 1;
        return 0;
    }
    case MC_QTY_SEAL:
        if (v > 1u || (v == 0u && source == MC_SRC_BUS && md->sealed &&
                       !(md->hooks.cal_switch != NULL && md->hooks.cal_switch(md->hooks.ctx)))) {
            /* unsealing from a bus needs the physical act (the calibration switch) */
            return -1;
        }
        st->sealed = (uint8_t)v;
        return 0;
    case MC_QTY_EVENT_SELECT:
        st->event_select = (uint16_t)v;
        return 0;
    case MC_QTY_RELAY:
        if (!(md->cfg.features & MC_FEAT_RELAY) || v > 1u) {
            return -1;
        }
        st->relay = (uint8_t)v;
        st->relay_changed = 1;
        return 0;
    default:
        if (is_schedule_qty(q) && md->tariff != NULL) {
            if (schedule_set_word(&st->schedule, q, a, v) != 0) {
                return -1;
            }
            st->schedule_changed = 1;
            return 0;
        }
        return -1; /* read-only or unknown */
    }
}

/* CRC-32 of a schedule word by word, as the registers show it (independent of struct padding). */
static uint32_t schedule_crc(const mc_tariff_schedule_t *s)
{
    static const struct {
        uint8_t qty;
        uint8_t words;
    } blocks[] = {{MC_QTY_TOU_COUNTS, 4u},
                  {MC_QTY_TOU_PROFILE, 32u * MC_TARIFF_MAX_DAY_PROFILES},
                  {MC_QTY_TOU_WEEK, 7u * MC_TARIFF_MAX_WEEK_PROFILES},
                  {MC_QTY_TOU_SEASON, 2u * MC_TARIFF_MAX_SEASONS},
                  {MC_QTY_TOU_SPECIAL, 3u * MC_TARIFF_MAX_SPECIAL_DAYS}};
    uint32_t crc = 0;
    for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
        for (unsigned a = 0; a < blocks[b].words; a++) {
            const int w = schedule_word(s, (mc_qty)blocks[b].qty, a);
            if (w >= 0) {
                const uint8_t bytes[2] = {(uint8_t)(w >> 8), (uint8_t)w};
                crc = mc_crc32(crc, bytes, 2);
            }
        }
    }
    return crc;
}

/*
 * The one write path, up to the commit: MC_OK once the change is in RAM (then only
 * the commit hook, commit_after(), can still fail), *reported whether a change was
 * reported to on_change (so must be committed).
 */
static int model_write(mc_model_t *md, const mc_write_item_t *items, size_t n, mc_source source, int *reported_out)
{
    *reported_out = 0;
    if (md == NULL || items == NULL || n == 0u || n > 125u) {
        return MC_ERR_INVAL;
    }
    staged_t st;
    memset(&st, 0, sizeof(st));
    st.params = md->params;
    st.cal = md->meter->cal;
    st.sealed = md->sealed;
    st.relay = md->relay_closed;
    st.event_select = md->event_select;
    if (md->tariff != NULL) {
        st.schedule = md->tariff->schedule;
        st.settle_day = md->tariff->cfg.settle_day;
        st.settle_hour = md->tariff->cfg.settle_hour;
    }
    const mc_time_t old_time = model_now(md);
    if (mc_time_to_datetime(old_time, &st.clock) != MC_OK) {
        memset(&st.clock, 0, sizeof(st.clock));
    }
    for (size_t k = 0; k < n; k++) {
        const int err = stage_item(md, &st, &items[k], source);
        if (err != 0) {
            return err < -1 ? err : MC_ERR_INVAL;
        }
    }
    /* Whole-state checks. */
    mc_time_t new_time = old_time;
    if (st.clock_changed && mc_time_from_datetime(&st.clock, &new_time) != MC_OK) {
        return MC_ERR_INVAL;
    }
    if (st.schedule_changed && mc_tariff_schedule_check(&st.schedule) != MC_OK) {
        return MC_ERR_INVAL;
    }
    if (st.cal_changed) {
        mc_calibration_seal(&st.cal);
        if (mc_calibration_check(&st.cal) != MC_OK) {
            return MC_ERR_INVAL;
        }
    }
    if (st.poly_changed) {
        mc_poly_calibration_seal(&st.poly);
        if (mc_poly_calibration_check(&st.poly) != MC_OK) {
            return MC_ERR_INVAL;
        }
    }
    /* The steps that can fail are the hooks that act on hardware: do them first, and at
     * most one of them per write, so that a failure leaves nothing half done. */
    const int relay_moves = st.relay_changed && st.relay != md->relay_closed;
    if (relay_moves && st.clock_changed) {
        return MC_ERR_INVAL; /* (only the firmware's own writes can combine them) */
    }
    if (relay_moves && md->hooks.relay != NULL) {
        int err = md->hooks.relay(md->hooks.ctx, st.relay);
        if (err < 0) {
            return err;
        }
    }
    if (st.clock_changed) {
        int err = md->hooks.set_clock(md->hooks.ctx, new_time);
        if (err < 0) {
            return err;
        }
        if (md->tariff != NULL) {
            (void)mc_tariff_clock_set(md->tariff, old_time, new_time);
        }
    }
    /* Report, then apply: nothing after this point can fail but the commit.
     * Each item is reported with the value it replaces (read now, before the
     * change); a clock set once, with the old and the new time; a schedule
     * change once, with the CRC of the old and the new schedule. */
    int reported = 0;
    if (md->hooks.on_change != NULL) {
        int clock_reported = 0;
        for (size_t k = 0; k < n; k++) {
            const mc_qty q = (mc_qty)items[k].qty;
            const unsigned a = items[k].arg;
            mc_value_t ov;
            (void)mc_model_read(md, q, a, &ov);
            uint32_t oldv = value_bits(&ov);
            uint32_t newv = items[k].is_float ? float_bits(items[k].f) : items[k].u;
            if (q == MC_QTY_CLOCK) {
                /* One report for the whole clock set, with the old and new time. */
                if (clock_reported || old_time == new_time) {
                    continue;
                }
                clock_reported = 1;
                md->hooks.on_change(md->hooks.ctx, q, MC_CLOCK_ARG_TIME, old_time, new_time, source);
                reported = 1;
                continue;
            } else if (is_schedule_qty(q)) {
                continue; /* reported once below */
            } else if (q == MC_QTY_RELAY) {
                if (!relay_moves) {
                    continue;
                }
                oldv = md->relay_closed;
                newv = st.relay;
            } else if (q == MC_QTY_PASSWORD) {
                if (items[k].u == md->params.password) {
                    continue;
                }
                oldv = newv = 0; /* reported as changed, never with its value */
            } else if (q == MC_QTY_EVENT_SELECT) {
                continue; /* a view selector, not a parameter */
            } else if (q != MC_QTY_CLEAR_ENERGY && oldv == newv) {
                continue; /* commands are always reported; unchanged values are not */
            }
            md->hooks.on_change(md->hooks.ctx, q, a, oldv, newv, source);
            reported = 1;
        }
        if (st.schedule_changed && md->tariff != NULL) {
            const uint32_t oc = schedule_crc(&md->tariff->schedule), nc = schedule_crc(&st.schedule);
            if (oc != nc) {
                md->hooks.on_change(md->hooks.ctx, MC_QTY_TOU_COUNTS, MC_SCHEDULE_ARG, oc, nc, source);
                reported = 1;
            }
        }
    }
    if (st.params.password != md->params.password) {
        md->password_gen++; /* every session logged in with the old password ends */
    }
    md->params = st.params;
    (void)mc_meter_set_pulse_constant(md->meter, st.params.pulse_constant);
    md->sealed = st.sealed;
    md->event_select = st.event_select;
    md->relay_closed = st.relay;
    if (st.cal_changed) {
        (void)mc_meter_set_calibration(md->meter, &st.cal);
    }
    if (st.poly_changed) {
        (void)mc_meter_set_poly_calibration(md->meter, &st.poly); /* checked above */
    }
    if (md->tariff != NULL) {
        if (st.settle_changed) {
            (void)mc_tariff_set_settlement(md->tariff, st.settle_day, st.settle_hour);
        }
        if (st.schedule_changed) {
            (void)mc_tariff_set_schedule(md->tariff, &st.schedule);
        }
    }
    if (st.clear) {
        mc_energy_t zero;
        memset(&zero, 0, sizeof(zero));
        (void)mc_meter_set_energy(md->meter, &zero);
        const unsigned elements = (unsigned)mc_meter_elements(&md->meter->cfg);
        for (unsigned k = 0; k < elements && md->meter->cfg.wiring != MC_WIRING_1P2W; k++) {
            (void)mc_meter_set_phase_energy(md->meter, k, &zero); /* the elements' registers too */
        }
        if (md->tariff != NULL) {
            (void)mc_tariff_clear_energy(md->tariff);
        }
    }
    *reported_out = reported;
    return MC_OK;
}

/* The commit hook after a write that reported changes. Called by model_write()'s callers once it has
 * returned, so that the commit (a record saved, 1.1 to 1.5 KiB of stack) does not stand on the staged
 * copies (about 700 bytes with the per-channel calibration). */
static int commit_after(mc_model_t *md, int reported)
{
    return reported && md->hooks.commit != NULL ? md->hooks.commit(md->hooks.ctx) : MC_OK;
}

int mc_model_write(mc_model_t *md, const mc_write_item_t *items, size_t n, mc_source source)
{
    int reported;
    const int err = model_write(md, items, n, source, &reported);
    return err == MC_OK ? commit_after(md, reported) : err;
}

/* Whether an item would change what is kept in NVM (or log an event): costs write budget. */
static int item_changes(const mc_model_t *md, const mc_write_item_t *it)
{
    const mc_qty q = (mc_qty)it->qty;
    if (q == MC_QTY_EVENT_SELECT) {
        return 0;
    }
    if (q == MC_QTY_CLOCK || q == MC_QTY_CLEAR_ENERGY) {
        return 1;
    }
    if (q == MC_QTY_PASSWORD) {
        return it->u != md->params.password;
    }
    mc_value_t v;
    if (mc_model_read(md, q, it->arg, &v) != MC_OK) {
        return 1;
    }
    return it->is_float ? float_bits(it->f) != float_bits(v.f) : it->u != v.u;
}

/* Whether a change of the quantity goes to the audit log (metrologically relevant). */
static int qty_audited(mc_qty q)
{
    return q == MC_QTY_CAL || is_channel_cal(q) || q == MC_QTY_SEAL || q == MC_QTY_PULSE_CONSTANT ||
           q == MC_QTY_CLOCK || q == MC_QTY_CLEAR_ENERGY || q == MC_QTY_SETTLE_DAY || q == MC_QTY_SETTLE_HOUR ||
           is_schedule_qty(q);
}

/* Refill a token bucket (budget, its refill time) from the monotonic clock. */
static void bucket_refill(const mc_model_t *md, uint16_t *budget, uint32_t *at_ms, uint16_t burst, uint16_t refill_s)
{
    uint32_t now;
    if (!mono_ms(md, &now)) {
        return; /* no clock: no refill until restart (fails safe) */
    }
    if (*budget >= burst) {
        *at_ms = now;
        return;
    }
    const uint32_t step = (uint32_t)refill_s * 1000u;
    const uint32_t gone = now - *at_ms;
    if (gone >= step) {
        const uint32_t more = gone / step;
        const uint32_t room = (uint32_t)burst - *budget;
        *budget = (uint16_t)(*budget + (more < room ? more : room));
        *at_ms += more * step;
    }
}

int mc_model_write_session(mc_model_t *md, mc_session_t *s, const mc_write_item_t *items, size_t n,
                           mc_source source)
{
    if (md == NULL || items == NULL || n == 0u || n > 125u) {
        return MC_ERR_INVAL;
    }
    const mc_level level = mc_session_level(md, s);
    int changes = 0;
    unsigned audited = 0; /* audit events the write will log: one per changed item, one per
                             schedule change and one per clock set however many words */
    int schedule_counted = 0, clock_counted = 0;
    for (size_t k = 0; k < n; k++) {
        const mc_qty q = (mc_qty)items[k].qty;
        const mc_level need = mc_qty_level(q);
        if (need == MC_LEVEL_NONE) {
            return MC_ERR_INVAL; /* read-only */
        }
        if (need > level) {
            return MC_ERR_DENIED;
        }
        const int c = item_changes(md, &items[k]);
        changes |= c;
        if (c && qty_audited(q)) {
            if (is_schedule_qty(q)) {
                audited += !schedule_counted;
                schedule_counted = 1;
            } else if (q == MC_QTY_CLOCK) {
                audited += !clock_counted;
                clock_counted = 1;
            } else {
                audited++;
            }
        }
    }
    const int budgeted = source == MC_SRC_BUS;
    if (budgeted && changes) {
        bucket_refill(md, &md->budget, &md->budget_at_ms, md->cfg.write_burst, md->cfg.write_refill_s);
        bucket_refill(md, &md->audit_budget, &md->audit_budget_at_ms, md->cfg.audit_burst, md->cfg.audit_refill_s);
        if (md->budget == 0u || audited > md->audit_budget) {
            return MC_ERR_BUSY;
        }
    }
    int reported;
    int err = model_write(md, items, n, source, &reported);
    if (err == MC_OK) { /* applied (only the commit below can still fail) */
        if (budgeted && changes && md->budget > 0u) {
            md->budget--;
        }
        if (budgeted) {
            md->audit_budget = (uint16_t)(audited < md->audit_budget ? md->audit_budget - audited : 0u);
        }
        uint32_t now;
        if (s != NULL && s->authorised && mono_ms(md, &now)) {
            s->last_ms = now; /* an authorised write keeps the session alive */
        }
        err = commit_after(md, reported);
    }
    return err;
}

int mc_model_set_relay(mc_model_t *md, int close, mc_source source)
{
    if (md == NULL || !(md->cfg.features & MC_FEAT_RELAY)) {
        return MC_ERR_INVAL;
    }
    const uint8_t want = close ? 1u : 0u;
    if (md->hooks.relay != NULL) {
        int err = md->hooks.relay(md->hooks.ctx, want);
        if (err < 0) {
            return err;
        }
    }
    const uint8_t was = md->relay_closed;
    md->relay_closed = want;
    if (md->hooks.on_change != NULL && was != want) {
        md->hooks.on_change(md->hooks.ctx, MC_QTY_RELAY, 0, was, want, source);
        if (md->hooks.commit != NULL) {
            return md->hooks.commit(md->hooks.ctx);
        }
    }
    return MC_OK;
}

int mc_model_relay(const mc_model_t *md)
{
    return md != NULL ? md->relay_closed : 0;
}

int mc_model_di(const mc_model_t *md)
{
    if (md == NULL || !(md->cfg.features & MC_FEAT_DI) || md->hooks.di == NULL) {
        return 0;
    }
    return md->hooks.di(md->hooks.ctx) ? 1 : 0;
}

float mc_model_read_f(const mc_model_t *md, mc_qty qty, unsigned arg)
{
    mc_value_t v;
    if (mc_model_read(md, qty, arg, &v) != MC_OK) {
        return 0.0f;
    }
    return v.is_float ? v.f : (float)v.u;
}

unsigned mc_model_read_u(const mc_model_t *md, mc_qty qty, unsigned arg)
{
    mc_value_t v;
    if (mc_model_read(md, qty, arg, &v) != MC_OK) {
        return 0u;
    }
    if (!v.is_float) {
        return v.u;
    }
    return v.f >= 1.0f ? (v.f < 4294967040.0f ? (unsigned)v.f : 0xFFFFFFFFu) : 0u;
}
