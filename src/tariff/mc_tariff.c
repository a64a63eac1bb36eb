/*
 * metercore tariff: time-of-use booking, monthly settlement and history, demand.
 * See mc_tariff.h for the contract and docs/DESIGN.md for the reasoning.
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_tariff.h"

#include <stddef.h>
#include <string.h>

#define SECONDS_PER_DAY 86400u
#define QUANTA_PER_WH MC_ENERGY_QUANTA_PER_WH

void mc_tariff_config_default(mc_tariff_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->settle_day = 1;
    cfg->settle_hour = 0;
    cfg->demand_window_min = 15;
    cfg->demand_subinterval_min = 1;
    cfg->active_combination = MC_COMBINE_IMPORT_PLUS_EXPORT;
    cfg->reactive_combination = MC_COMBINE_IMPORT_PLUS_EXPORT;
}

void mc_tariff_schedule_default(mc_tariff_schedule_t *s)
{
    static const mc_tariff_segment_t kpm31[5] = {
        {6, 0, 1}, {10, 0, 2}, {12, 0, 1}, {15, 0, 3}, {23, 0, 4},
    };
    if (s == NULL) {
        return;
    }
    memset(s, 0, sizeof(*s));
    s->day_profile_count = 1;
    s->day_profiles[0].count = 5;
    memcpy(s->day_profiles[0].seg, kpm31, sizeof(kpm31));
    s->week_profile_count = 1; /* every weekday: day profile 0 */
    s->season_count = 1;
    s->seasons[0].month = 1;
    s->seasons[0].day = 1;
    s->seasons[0].week = 0;
    s->special_day_count = 0;
}

/* A month/day that exists in some year (29 February included). */
static int month_day_ok(unsigned month, unsigned day)
{
    return day >= 1u && day <= mc_days_in_month(2000u, month);
}

int mc_tariff_schedule_check(const mc_tariff_schedule_t *s)
{
    if (s == NULL) {
        return MC_ERR_INVAL;
    }
    if (s->day_profile_count < 1u || s->day_profile_count > MC_TARIFF_MAX_DAY_PROFILES ||
        s->week_profile_count < 1u || s->week_profile_count > MC_TARIFF_MAX_WEEK_PROFILES ||
        s->season_count < 1u || s->season_count > MC_TARIFF_MAX_SEASONS ||
        s->special_day_count > MC_TARIFF_MAX_SPECIAL_DAYS) {
        return MC_ERR_INVAL;
    }
    for (unsigned p = 0; p < s->day_profile_count; p++) {
        const mc_tariff_day_profile_t *d = &s->day_profiles[p];
        if (d->count < 1u || d->count > MC_TARIFF_MAX_SEGMENTS) {
            return MC_ERR_INVAL;
        }
        int prev = -1;
        for (unsigned k = 0; k < d->count; k++) {
            const mc_tariff_segment_t *g = &d->seg[k];
            if (g->hour > 23u || g->minute > 59u || g->rate < 1u || g->rate > MC_TARIFF_RATES) {
                return MC_ERR_INVAL;
            }
            int start = g->hour * 60 + g->minute;
            if (start <= prev) {
                return MC_ERR_INVAL; /* unsorted or duplicate start */
            }
            prev = start;
        }
    }
    for (unsigned w = 0; w < s->week_profile_count; w++) {
        for (unsigned d = 0; d < 7u; d++) {
            if (s->week_profiles[w][d] >= s->day_profile_count) {
                return MC_ERR_INVAL;
            }
        }
    }
    int prev = -1;
    for (unsigned k = 0; k < s->season_count; k++) {
        const mc_tariff_season_t *z = &s->seasons[k];
        if (!month_day_ok(z->month, z->day) || z->week >= s->week_profile_count) {
            return MC_ERR_INVAL;
        }
        int start = z->month * 32 + z->day;
        if (start <= prev) {
            return MC_ERR_INVAL;
        }
        prev = start;
    }
    for (unsigned k = 0; k < s->special_day_count; k++) {
        const mc_tariff_special_day_t *h = &s->special_days[k];
        if (h->profile >= s->day_profile_count) {
            return MC_ERR_INVAL;
        }
        if (h->year == 0u) {
            if (!month_day_ok(h->month, h->day)) {
                return MC_ERR_INVAL;
            }
        } else {
            uint32_t days;
            if (mc_date_to_days(h->year, h->month, h->day, &days) != MC_OK) {
                return MC_ERR_INVAL;
            }
        }
    }
    return MC_OK;
}

int mc_tariff_rate_at(const mc_tariff_schedule_t *s, mc_time_t when)
{
    if (s == NULL) {
        return MC_ERR_INVAL;
    }
    mc_datetime_t dt;
    int err = mc_time_to_datetime(when, &dt);
    if (err != MC_OK) {
        return err;
    }
    int profile = -1;
    for (unsigned k = 0; k < s->special_day_count && k < MC_TARIFF_MAX_SPECIAL_DAYS; k++) {
        const mc_tariff_special_day_t *h = &s->special_days[k];
        if ((h->year == 0u || h->year == dt.year) && h->month == dt.month && h->day == dt.day) {
            profile = h->profile;
            break;
        }
    }
    if (profile < 0) {
        /* The last season started on or before today; before the first, the year's last. */
        unsigned n = s->season_count;
        if (n < 1u || n > MC_TARIFF_MAX_SEASONS) {
            return MC_ERR_INVAL;
        }
        unsigned season = n - 1u;
        const int today = dt.month * 32 + dt.day;
        for (unsigned k = 0; k < n; k++) {
            if (s->seasons[k].month * 32 + s->seasons[k].day <= today) {
                season = k;
            }
        }
        unsigned week = s->seasons[season].week;
        if (week >= MC_TARIFF_MAX_WEEK_PROFILES) {
            return MC_ERR_INVAL;
        }
        profile = s->week_profiles[week][dt.weekday];
    }
    if (profile >= MC_TARIFF_MAX_DAY_PROFILES) {
        return MC_ERR_INVAL;
    }
    const mc_tariff_day_profile_t *d = &s->day_profiles[profile];
    if (d->count < 1u || d->count > MC_TARIFF_MAX_SEGMENTS) {
        return MC_ERR_INVAL;
    }
    /* The last segment that started at or before now; before the first, the last (wraps). */
    const int minute = dt.hour * 60 + dt.minute;
    unsigned seg = d->count - 1u;
    for (unsigned k = 0; k < d->count; k++) {
        if (d->seg[k].hour * 60 + d->seg[k].minute <= minute) {
            seg = k;
        }
    }
    return d->seg[seg].rate;
}

/* The settlement point of a month, or 0 if it is outside 2000..2099. */
static mc_time_t point_of_month(const mc_tariff_t *t, unsigned year, unsigned month)
{
    mc_datetime_t dt = {0};
    dt.year = (uint16_t)year;
    dt.month = (uint8_t)month;
    dt.day = t->cfg.settle_day;
    dt.hour = t->cfg.settle_hour;
    mc_time_t p;
    return mc_time_from_datetime(&dt, &p) == MC_OK ? p : 0u;
}

/* The first settlement point strictly after `after`; 0 if none before 2100. */
static mc_time_t next_point_after(const mc_tariff_t *t, mc_time_t after)
{
    mc_datetime_t dt;
    if (mc_time_to_datetime(after, &dt) != MC_OK) {
        return 0;
    }
    unsigned y = dt.year, m = dt.month;
    for (int k = 0; k < 2; k++) {
        mc_time_t p = point_of_month(t, y, m);
        if (p > after) {
            return p;
        }
        if (++m > 12u) {
            m = 1;
            y++;
        }
    }
    return 0;
}

/* The last settlement point at or before `now`; 0 if none since 2000 (time 0 stands for "none"). */
static mc_time_t point_at_or_before(const mc_tariff_t *t, mc_time_t now)
{
    mc_datetime_t dt;
    if (mc_time_to_datetime(now, &dt) != MC_OK) {
        return 0;
    }
    mc_time_t p = point_of_month(t, dt.year, dt.month);
    if (p <= now && !(p == 0u && dt.year != 2000u)) {
        return p;
    }
    unsigned y = dt.year, m = dt.month;
    if (--m == 0u) {
        m = 12;
        y--;
    }
    return y >= 2000u ? point_of_month(t, y, m) : 0u;
}

/* a + b, saturated at the int64 range (counters restored from storage can be huge). */
static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

/* Quanta as a signed count, saturated. */
static int64_t sat_i64(uint64_t q)
{
    return q > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)q;
}

/* Import and export are never negative: their difference cannot overflow, their sum saturates. */
static int64_t combine(mc_combination c, int64_t imp, int64_t exp)
{
    switch (c) {
    case MC_COMBINE_IMPORT_MINUS_EXPORT:
        return imp - exp;
    case MC_COMBINE_IMPORT_ONLY:
        return imp;
    default:
        return sat_add(imp, exp);
    }
}

static void emit(mc_tariff_t *t, unsigned type, uint32_t a, uint32_t b)
{
    if (t->cfg.on_event != NULL) {
        t->cfg.on_event(t->cfg.context, type, a, b);
    }
}

/* Move whole watt-hours of this month into a new history month; the residue stays. */
static void freeze(mc_tariff_t *t, mc_time_t point)
{
    memmove(&t->history[1], &t->history[0], sizeof(t->history[0]) * (MC_TARIFF_HISTORY_MONTHS - 1u));
    mc_tariff_month_t *h = &t->history[0];
    memset(h, 0, sizeof(*h));
    h->frozen_at = point;
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        int64_t wh[MC_TK_COUNT];
        for (unsigned k = 0; k < MC_TK_COUNT; k++) {
            uint64_t whole = t->month[r][k] / QUANTA_PER_WH;
            if (whole > (uint64_t)INT32_MAX) {
                whole = (uint64_t)INT32_MAX; /* the rest stays for next month: never lost */
            }
            t->month[r][k] -= whole * QUANTA_PER_WH;
            wh[k] = (int64_t)whole;
        }
        int64_t a = combine(t->cfg.active_combination, wh[MC_TK_ACTIVE_IMPORT], wh[MC_TK_ACTIVE_EXPORT]);
        int64_t q = combine(t->cfg.reactive_combination, wh[MC_TK_REACTIVE_IMPORT], wh[MC_TK_REACTIVE_EXPORT]);
        h->active_wh[r] = (int32_t)(a > INT32_MAX ? INT32_MAX : (a < -INT32_MAX ? -INT32_MAX : a));
        h->reactive_varh[r] = (int32_t)(q > INT32_MAX ? INT32_MAX : (q < -INT32_MAX ? -INT32_MAX : q));
    }
    h->max_demand_w = t->max_demand_p;
    h->max_demand_at = t->max_demand_p_at;
    t->max_demand_p = 0.0f;
    t->max_demand_p_at = 0;
}

static unsigned demand_slots(const mc_tariff_t *t)
{
    return t->cfg.demand_window_min / t->cfg.demand_subinterval_min;
}

static mc_time_t next_slot_end(const mc_tariff_t *t, mc_time_t now)
{
    const uint32_t sub = t->cfg.demand_subinterval_min * 60u;
    return (now / sub + 1u) * sub;
}

/* Realign the sub-intervals to the clock at `now`; the one under way is partial
 * unless it starts right now. */
static void demand_realign(mc_tariff_t *t, mc_time_t now)
{
    const uint32_t sub = t->cfg.demand_subinterval_min * 60u;
    t->slot_end = next_slot_end(t, now);
    t->slot_partial = (now % sub) != 0u;
}

/*
 * Close the sub-interval under way and any that passed without energy (outage).
 * A partial sub-interval (after start-up or a realignment) is closed like any
 * other, but a full window is only counted from the first whole one on.
 */
static void demand_advance(mc_tariff_t *t, mc_time_t now)
{
    const uint32_t sub = t->cfg.demand_subinterval_min * 60u;
    const unsigned slots = demand_slots(t);
    if (now + sub < t->slot_end) {
        /* Clock went back before the sub-interval under way: restart it at now. */
        demand_realign(t, now);
        return;
    }
    unsigned closed = 0;
    while (now >= t->slot_end && closed <= slots) {
        t->slot_p[t->slot_index] = t->cur_p;
        t->slot_s[t->slot_index] = t->cur_s;
        t->cur_p = t->cur_s = 0.0f;
        t->slot_index = (uint8_t)((t->slot_index + 1u) % slots);
        if (t->slot_partial) {
            t->slot_partial = 0;
        } else if (t->slots_used < slots) {
            t->slots_used++;
        }
        t->slot_end += sub;
        closed++;
        if (t->slots_used == slots) {
            float sp = 0.0f, ss = 0.0f;
            for (unsigned k = 0; k < slots; k++) {
                sp += t->slot_p[k];
                ss += t->slot_s[k];
            }
            const float window_s = (float)(slots * sub);
            t->demand_p = sp / window_s;
            t->demand_s = ss / window_s;
            t->demand_valid = 1;
            if (t->demand_p > t->max_demand_p) {
                t->max_demand_p = t->demand_p;
                t->max_demand_p_at = t->slot_end - sub;
            }
        }
    }
    if (now >= t->slot_end) {
        /* A gap longer than the whole window: every slot now holds zero (the
         * loop above pushed at least one per slot); continue from a realigned one. */
        demand_realign(t, now);
    }
}

int mc_tariff_init(mc_tariff_t *t, const mc_tariff_config_t *cfg, mc_time_t now)
{
    if (t == NULL || cfg == NULL) {
        return MC_ERR_INVAL;
    }
    if (now > MC_TIME_MAX) {
        return MC_ERR_RANGE;
    }
    if (cfg->settle_day < 1u || cfg->settle_day > 28u || cfg->settle_hour > 23u ||
        cfg->demand_window_min < 1u || cfg->demand_window_min > 60u || cfg->demand_subinterval_min < 1u ||
        cfg->demand_window_min % cfg->demand_subinterval_min != 0u ||
        cfg->demand_window_min / cfg->demand_subinterval_min > MC_DEMAND_MAX_SLOTS ||
        (unsigned)cfg->active_combination > (unsigned)MC_COMBINE_IMPORT_ONLY ||
        (unsigned)cfg->reactive_combination > (unsigned)MC_COMBINE_IMPORT_ONLY) {
        return MC_ERR_INVAL;
    }
    memset(t, 0, sizeof(*t));
    t->cfg = *cfg;
    mc_tariff_schedule_default(&t->schedule);
    t->last_settlement = point_at_or_before(t, now);
    t->last_time = now;
    t->rate = (uint8_t)mc_tariff_rate_at(&t->schedule, now);
    demand_realign(t, now);
    return MC_OK;
}

int mc_tariff_set_schedule(mc_tariff_t *t, const mc_tariff_schedule_t *s)
{
    if (t == NULL) {
        return MC_ERR_INVAL;
    }
    int err = mc_tariff_schedule_check(s);
    if (err != MC_OK) {
        return err;
    }
    t->schedule = *s;
    return MC_OK;
}

int mc_tariff_update(mc_tariff_t *t, mc_time_t now)
{
    if (t == NULL) {
        return MC_ERR_INVAL;
    }
    if (now > MC_TIME_MAX) {
        return MC_ERR_RANGE;
    }
    unsigned events = 0;
    if (now < t->last_time) {
        events |= MC_TEV_CLOCK_BACKWARD;
        emit(t, MC_TEV_CLOCK_BACKWARD, t->last_time, now);
    }
    /* Every settlement point after the last one made, up to now, once each, in order. */
    for (mc_time_t p = next_point_after(t, t->last_settlement); p != 0u && p <= now;
         p = next_point_after(t, p)) {
        /* Demand sub-intervals that ended by the settlement point belong to the closed month. */
        demand_advance(t, p);
        freeze(t, p);
        t->last_settlement = p;
        events |= MC_TEV_FREEZE;
        emit(t, MC_TEV_FREEZE, p, p);
    }
    int rate = mc_tariff_rate_at(&t->schedule, now);
    if (rate > 0 && (uint8_t)rate != t->rate) {
        const uint8_t old_rate = t->rate;
        t->rate = (uint8_t)rate;
        events |= MC_TEV_RATE_CHANGE;
        emit(t, MC_TEV_RATE_CHANGE, old_rate, (uint32_t)rate);
    }
    demand_advance(t, now);
    t->last_time = now;
    return (int)events;
}

int mc_tariff_add(mc_tariff_t *t, mc_time_t now, const mc_reading_t *reading)
{
    if (t == NULL || reading == NULL) {
        return MC_ERR_INVAL;
    }
    int events = mc_tariff_update(t, now);
    if (events < 0) {
        return events;
    }
    const mc_energy_t *d = &reading->delta;
    const uint64_t add[MC_TK_COUNT] = {
        d->q[MC_E_ACTIVE_IMPORT],
        d->q[MC_E_ACTIVE_EXPORT],
        d->q[MC_E_REACTIVE_Q1] + d->q[MC_E_REACTIVE_Q2],
        d->q[MC_E_REACTIVE_Q3] + d->q[MC_E_REACTIVE_Q4],
    };
    const unsigned r = t->rate - 1u;
    for (unsigned k = 0; k < MC_TK_COUNT; k++) {
        /* Registers roll over as the meter's do (MC_ENERGY_QUANTA_MODULO). */
        t->total[r][k] = (t->total[r][k] + add[k]) & (MC_ENERGY_QUANTA_MODULO - 1u);
        t->month[r][k] = (t->month[r][k] + add[k]) & (MC_ENERGY_QUANTA_MODULO - 1u);
    }
    /* Demand of active import and of S. */
    t->cur_p += (reading->p > 0.0f ? reading->p : 0.0f) * reading->duration_s;
    t->cur_s += reading->s * reading->duration_s;
    return events;
}

int mc_tariff_clock_set(mc_tariff_t *t, mc_time_t old_time, mc_time_t new_time)
{
    if (t == NULL) {
        return MC_ERR_INVAL;
    }
    if (new_time > MC_TIME_MAX || old_time > MC_TIME_MAX) {
        return MC_ERR_RANGE;
    }
    emit(t, MC_TEV_CLOCK_SET, old_time, new_time);
    /* A deliberate set is reported once, as such, not again as "went backwards". */
    if (new_time < t->last_time) {
        t->last_time = new_time;
    }
    int events = mc_tariff_update(t, new_time);
    return events < 0 ? events : (events | MC_TEV_CLOCK_SET);
}

uint64_t mc_tariff_energy(const mc_tariff_t *t, unsigned rate, mc_tariff_kind kind)
{
    if (t == NULL || rate > MC_TARIFF_RATES || (unsigned)kind >= MC_TK_COUNT) {
        return 0;
    }
    if (rate > 0u) {
        return t->total[rate - 1u][kind];
    }
    uint64_t sum = 0;
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        sum = (sum + t->total[r][kind]) & (MC_ENERGY_QUANTA_MODULO - 1u); /* as the meter's register */
    }
    return sum;
}

/* Signed quanta to kWh: whole Wh exactly, then the fraction. */
static float quanta_to_kwh(int64_t q)
{
    const int neg = q < 0;
    const uint64_t u = neg ? (uint64_t)(-(q + 1)) + 1u : (uint64_t)q; /* INT64_MIN too */
    const float kwh = mc_energy_kwh(u);
    return neg ? -kwh : kwh;
}

static int64_t combined_quanta(const mc_tariff_t *t, const uint64_t (*e)[MC_TK_COUNT], unsigned rate,
                               mc_combined which)
{
    int64_t sum = 0;
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        if (rate != 0u && r != rate - 1u) {
            continue;
        }
        if (which == MC_COMBINED_ACTIVE) {
            sum = sat_add(sum, combine(t->cfg.active_combination, sat_i64(e[r][MC_TK_ACTIVE_IMPORT]),
                                       sat_i64(e[r][MC_TK_ACTIVE_EXPORT])));
        } else {
            sum = sat_add(sum, combine(t->cfg.reactive_combination, sat_i64(e[r][MC_TK_REACTIVE_IMPORT]),
                                       sat_i64(e[r][MC_TK_REACTIVE_EXPORT])));
        }
    }
    return sum;
}

int mc_tariff_month_kwh(const mc_tariff_t *t, unsigned ago, unsigned rate, mc_combined which, float *kwh)
{
    if (t == NULL || kwh == NULL || ago > MC_TARIFF_HISTORY_MONTHS || rate > MC_TARIFF_RATES ||
        (unsigned)which > (unsigned)MC_COMBINED_REACTIVE) {
        return MC_ERR_INVAL;
    }
    if (ago == 0u) {
        *kwh = quanta_to_kwh(combined_quanta(t, (const uint64_t(*)[MC_TK_COUNT])t->month, rate, which));
        return MC_OK;
    }
    const mc_tariff_month_t *h = &t->history[ago - 1u];
    int64_t wh = 0;
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        if (rate == 0u || r == rate - 1u) {
            wh += which == MC_COMBINED_ACTIVE ? h->active_wh[r] : h->reactive_varh[r];
        }
    }
    *kwh = (float)wh / 1000.0f;
    return MC_OK;
}

float mc_tariff_combined_kwh(const mc_tariff_t *t, unsigned rate, mc_combined which)
{
    if (t == NULL || rate > MC_TARIFF_RATES) {
        return 0.0f;
    }
    return quanta_to_kwh(combined_quanta(t, (const uint64_t(*)[MC_TK_COUNT])t->total, rate, which));
}

int mc_tariff_rate(const mc_tariff_t *t)
{
    if (t == NULL) {
        return MC_ERR_INVAL;
    }
    return t->rate;
}

int mc_tariff_demand(const mc_tariff_t *t, float *p_w, float *s_va)
{
    if (t == NULL) {
        return MC_ERR_INVAL;
    }
    if (p_w != NULL) {
        *p_w = t->demand_valid ? t->demand_p : 0.0f;
    }
    if (s_va != NULL) {
        *s_va = t->demand_valid ? t->demand_s : 0.0f;
    }
    return t->demand_valid ? MC_OK : MC_ERR_NODATA;
}

int mc_tariff_clear_energy(mc_tariff_t *t)
{
    if (t == NULL) {
        return MC_ERR_INVAL;
    }
    memset(t->total, 0, sizeof(t->total));
    memset(t->month, 0, sizeof(t->month));
    memset(t->history, 0, sizeof(t->history));
    t->max_demand_p = 0.0f;
    t->max_demand_p_at = 0;
    return MC_OK;
}

int mc_tariff_demand_resume(mc_tariff_t *t, mc_time_t now)
{
    if (t == NULL) {
        return MC_ERR_INVAL;
    }
    if (now > MC_TIME_MAX) {
        return MC_ERR_RANGE;
    }
    const unsigned slots = demand_slots(t);
    const uint32_t sub = t->cfg.demand_subinterval_min * 60u;
    if (slots < 1u || slots > MC_DEMAND_MAX_SLOTS || t->slots_used > slots || t->slot_index >= slots ||
        t->slot_end > MC_TIME_MAX + sub || t->slot_end % sub != 0u) {
        /* (The last sub-interval before MC_TIME_MAX ends at MC_TIME_MAX + 1, as the tariff makes it.) */
        /* Not a window of this configuration: start a new one (the month's maximum stays). */
        memset(t->slot_p, 0, sizeof(t->slot_p));
        memset(t->slot_s, 0, sizeof(t->slot_s));
        t->cur_p = t->cur_s = t->demand_p = t->demand_s = 0.0f;
        t->slots_used = t->slot_index = t->demand_valid = 0;
        demand_realign(t, now);
        return MC_ERR_INVAL;
    }
    /* As mc_tariff_update() would: up to a settlement point that is due (the freeze there
     * is left to it, so that the closed month keeps its maximum), else up to now. */
    const mc_time_t p = next_point_after(t, t->last_settlement);
    demand_advance(t, p != 0u && p <= now ? p : now);
    return MC_OK;
}

int mc_tariff_set_settlement(mc_tariff_t *t, unsigned day, unsigned hour)
{
    if (t == NULL || day < 1u || day > 28u || hour > 23u) {
        return MC_ERR_INVAL;
    }
    t->cfg.settle_day = (uint8_t)day;
    t->cfg.settle_hour = (uint8_t)hour;
    const mc_time_t anchor = point_at_or_before(t, t->last_time);
    if (anchor > t->last_settlement) {
        t->last_settlement = anchor;
    }
    return MC_OK;
}

mc_time_t mc_tariff_settlement_at_or_before(const mc_tariff_t *t, mc_time_t now)
{
    return t != NULL && now <= MC_TIME_MAX ? point_at_or_before(t, now) : 0u;
}

mc_time_t mc_tariff_next_settlement(const mc_tariff_t *t)
{
    return t != NULL ? next_point_after(t, t->last_settlement) : 0u;
}
