/**
 * @file mc_tariff.h
 * @ingroup grp_tariff
 * @brief Time-of-use tariff, monthly settlement with 12 months of history, and demand.
 *
 * An ::mc_tariff_t books the energy increments of the core (the `delta` of each
 * ::mc_reading_t) into the rate in force at that moment, keeps this month's
 * energies, freezes them into a 12-month history at the settlement point, and
 * computes the sliding-window demand of P and S.
 *
 * @section mc_tariff_model Schedule model
 * As DLMS activity calendars and multi-rate meters have it:
 * - up to ::MC_TARIFF_MAX_DAY_PROFILES day profiles, each with 1..8 segments
 *   (start hour:minute and a rate 1..4). A segment runs until the next one; the
 *   last wraps past midnight into the first hours of the same profile's day.
 * - up to ::MC_TARIFF_MAX_WEEK_PROFILES week profiles: a day profile per weekday
 *   (Monday first).
 * - up to ::MC_TARIFF_MAX_SEASONS seasons: a start date (month, day) and the week
 *   profile in force from then on; the last season of the year continues into
 *   January until the first season's start.
 * - up to ::MC_TARIFF_MAX_SPECIAL_DAYS special days (holidays): a date, every year
 *   or one year only, with its own day profile; they override the week profile.
 *   If two match the same date, the first in the list wins.
 * The default is the KPM31 manual's example: 06:00 rate 1, 10:00 rate 2,
 * 12:00 rate 1, 15:00 rate 3, 23:00 rate 4, every day.
 *
 * @section mc_tariff_exact Exactness
 * Energy per rate is kept in the core's integer quanta (2^-30 Wh). Totals are
 * not stored: they are the sum of the rates, so "sum of rates = total" holds by
 * construction, for ever. At a settlement the whole watt-hours of each rate and
 * kind move into history (int32 Wh per month and rate) and the residue below
 * 1 Wh stays in the month's counters: nothing is lost, nothing counted twice.
 *
 * @section mc_tariff_clock Clock handling
 * Time is local standard time (see mc_calendar.h). Settlement points are
 * processed in order, each at most once: the tariff remembers the last one it
 * made. After an outage or a clock set forwards, every missed point is made up,
 * in order, once each: the first made-up month holds the energy, the later ones
 * are empty, and the history keeps the last 12 of them. A clock set
 * backwards makes no freeze until the clock passes the last point made again,
 * so no month is ever frozen twice. Energy is always booked at the time it is
 * added, so no energy is lost across a jump. Jumps are reported as events.
 */
#ifndef METERCORE_MC_TARIFF_H
#define METERCORE_MC_TARIFF_H

#include <stdint.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_common.h"
#include "metercore/mc_meter.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MC_TARIFF_RATES 4               /**< Rates 1 sharp, 2 peak, 3 flat, 4 valley. */
#define MC_TARIFF_MAX_SEGMENTS 8        /**< Segments per day profile. */
/*
 * The schedule's capacity can be lowered at compile time (define before
 * including, the same for the library and the firmware) to save RAM: each day
 * profile costs 25 bytes, each special day 6. The register map serves what exists.
 */
#ifndef MC_TARIFF_MAX_DAY_PROFILES
#define MC_TARIFF_MAX_DAY_PROFILES 4    /**< Day profiles (1..4). */
#endif
#ifndef MC_TARIFF_MAX_WEEK_PROFILES
#define MC_TARIFF_MAX_WEEK_PROFILES 4   /**< Week profiles (1..4). */
#endif
#ifndef MC_TARIFF_MAX_SEASONS
#define MC_TARIFF_MAX_SEASONS 4         /**< Seasons (1..4). */
#endif
#ifndef MC_TARIFF_MAX_SPECIAL_DAYS
#define MC_TARIFF_MAX_SPECIAL_DAYS 32   /**< Special days (1..32). */
#endif
#define MC_TARIFF_HISTORY_MONTHS 12     /**< Settlement months kept. */
#define MC_DEMAND_MAX_SLOTS 15          /**< Sub-intervals in a demand window. */

/** Energy kinds booked per rate. */
typedef enum mc_tariff_kind {
    MC_TK_ACTIVE_IMPORT = 0, /**< Active import. */
    MC_TK_ACTIVE_EXPORT,     /**< Active export. */
    MC_TK_REACTIVE_IMPORT,   /**< Reactive import (core quadrants I + II). */
    MC_TK_REACTIVE_EXPORT,   /**< Reactive export (core quadrants III + IV). */
    MC_TK_COUNT              /**< Number of kinds. */
} mc_tariff_kind;

/** How the combined energy is formed from import and export (DL/T645 combination word). */
typedef enum mc_combination {
    MC_COMBINE_IMPORT_PLUS_EXPORT = 0, /**< import + export (default). */
    MC_COMBINE_IMPORT_MINUS_EXPORT,    /**< import - export (net; may be negative). */
    MC_COMBINE_IMPORT_ONLY             /**< import only. */
} mc_combination;

/** Which combined quantity of the month and history. */
typedef enum mc_combined {
    MC_COMBINED_ACTIVE = 0, /**< Combined active energy, Wh. */
    MC_COMBINED_REACTIVE    /**< Combined reactive energy, varh. */
} mc_combined;

/** One segment of a day profile. */
typedef struct mc_tariff_segment {
    uint8_t hour;   /**< Start hour 0..23. */
    uint8_t minute; /**< Start minute 0..59. */
    uint8_t rate;   /**< Rate 1..4. */
} mc_tariff_segment_t;

/** A day profile: segments sorted by start, strictly increasing. */
typedef struct mc_tariff_day_profile {
    uint8_t count;                                    /**< Segments used, 1..8. */
    mc_tariff_segment_t seg[MC_TARIFF_MAX_SEGMENTS];  /**< The segments. */
} mc_tariff_day_profile_t;

/** A season: from its start date on, a week profile is in force. */
typedef struct mc_tariff_season {
    uint8_t month; /**< Start month 1..12. */
    uint8_t day;   /**< Start day 1..31 (valid for the month; 29 Feb allowed). */
    uint8_t week;  /**< Week profile index. */
} mc_tariff_season_t;

/** A special day (holiday). */
typedef struct mc_tariff_special_day {
    uint16_t year;   /**< 0 = every year, else 2000..2099. */
    uint8_t month;   /**< 1..12. */
    uint8_t day;     /**< 1..31 (valid for the month). */
    uint8_t profile; /**< Day profile index. */
} mc_tariff_special_day_t;

/** The whole time-of-use schedule. Validated as a whole by mc_tariff_schedule_check(). */
typedef struct mc_tariff_schedule {
    uint8_t day_profile_count;  /**< 1..4 */
    uint8_t week_profile_count; /**< 1..4 */
    uint8_t season_count;       /**< 1..4, sorted by start date, strictly increasing. */
    uint8_t special_day_count;  /**< 0..32 */
    mc_tariff_day_profile_t day_profiles[MC_TARIFF_MAX_DAY_PROFILES]; /**< Day profiles. */
    uint8_t week_profiles[MC_TARIFF_MAX_WEEK_PROFILES][7];            /**< Day profile per weekday, Monday first. */
    mc_tariff_season_t seasons[MC_TARIFF_MAX_SEASONS];                /**< Seasons. */
    mc_tariff_special_day_t special_days[MC_TARIFF_MAX_SPECIAL_DAYS]; /**< Special days. */
} mc_tariff_schedule_t;

/**
 * Tariff events, as bits returned by mc_tariff_update() and passed to the event
 * callback one at a time, with two values whose meaning depends on the event.
 */
enum mc_tariff_event {
    MC_TEV_FREEZE = 1u << 0,         /**< A monthly settlement was made: a = b = the settlement point (time). */
    MC_TEV_RATE_CHANGE = 1u << 1,    /**< The rate in force changed: a = old rate, b = new rate (1..4). */
    MC_TEV_CLOCK_BACKWARD = 1u << 2, /**< Time went backwards: a = latest time seen before, b = the new time. */
    MC_TEV_CLOCK_SET = 1u << 3,      /**< mc_tariff_clock_set() was called: a = old time, b = new time. */
};

/** Event callback: @p type is one ::mc_tariff_event bit; @p a and @p b as documented for it. */
typedef void (*mc_tariff_event_cb)(void *context, unsigned type, uint32_t a, uint32_t b);

/** Tariff configuration. */
typedef struct mc_tariff_config {
    uint8_t settle_day;               /**< Settlement day of month 1..28 (default 1). */
    uint8_t settle_hour;              /**< Settlement hour 0..23 (default 0). */
    uint8_t demand_window_min;        /**< Demand window, minutes, 1..60 (default 15). */
    uint8_t demand_subinterval_min;   /**< Sub-interval, minutes; divides the window into at most 15 (default 1). */
    mc_combination active_combination;   /**< Combined active energy rule. */
    mc_combination reactive_combination; /**< Combined reactive energy rule. */
    mc_tariff_event_cb on_event;      /**< Event callback, may be NULL. */
    void *context;                    /**< Passed to on_event. */
} mc_tariff_config_t;

/** One settlement month of history. */
typedef struct mc_tariff_month {
    mc_time_t frozen_at;                              /**< Settlement point that closed it; 0 = empty. */
    int32_t active_wh[MC_TARIFF_RATES];               /**< Combined active energy per rate, Wh. */
    int32_t reactive_varh[MC_TARIFF_RATES];           /**< Combined reactive energy per rate, varh. */
    float max_demand_w;                               /**< Maximum active demand of the month, W. */
    mc_time_t max_demand_at;                          /**< When it occurred. */
} mc_tariff_month_t;

/**
 * A tariff instance. Caller-allocated; every field is private state. Its
 * contents (except the callback pointers in cfg) are what a persistence layer saves.
 */
typedef struct mc_tariff {
    mc_tariff_config_t cfg;             /**< Configuration. */
    mc_tariff_schedule_t schedule;      /**< Schedule in force. */
    uint64_t total[MC_TARIFF_RATES][MC_TK_COUNT];  /**< Lifetime energy per rate, quanta. */
    uint64_t month[MC_TARIFF_RATES][MC_TK_COUNT];  /**< This month per rate, quanta. */
    mc_tariff_month_t history[MC_TARIFF_HISTORY_MONTHS]; /**< [0] = last month (-1) .. [11] = -12. */
    mc_time_t last_settlement;          /**< Last settlement point made (or the anchor at init). */
    mc_time_t last_time;                /**< Latest time seen. */
    uint8_t rate;                       /**< Rate in force at last_time, 1..4. */
    uint8_t slots_used;                 /**< Completed demand sub-intervals, up to slot count. */
    uint8_t slot_index;                 /**< Next slot to overwrite. */
    uint8_t demand_valid;               /**< A full demand window has elapsed. */
    uint8_t slot_partial;               /**< The sub-interval under way began mid-way (start-up, realignment):
                                             it closes without counting towards a full window. */
    float slot_p[MC_DEMAND_MAX_SLOTS];  /**< Active energy per completed sub-interval, W*s. */
    float slot_s[MC_DEMAND_MAX_SLOTS];  /**< Apparent energy per completed sub-interval, W*s. */
    float cur_p;                        /**< Active energy of the sub-interval under way, W*s. */
    float cur_s;                        /**< Apparent energy of the sub-interval under way, W*s. */
    mc_time_t slot_end;                 /**< End of the sub-interval under way. */
    float demand_p;                     /**< Active demand, W (sliding window). */
    float demand_s;                     /**< Apparent demand, VA. */
    float max_demand_p;                 /**< Maximum active demand this month, W. */
    mc_time_t max_demand_p_at;          /**< When. */
} mc_tariff_t;

/**
 * @brief Fill a configuration with defaults: settlement on the 1st at 00:00,
 *        15-minute demand with 1-minute sub-intervals, import + export.
 * @param cfg  the configuration.
 */
void mc_tariff_config_default(mc_tariff_config_t *cfg);

/**
 * @brief The KPM31 default schedule (one day profile for every day of the year).
 * @param s  receives it.
 */
void mc_tariff_schedule_default(mc_tariff_schedule_t *s);

/**
 * @brief Validate a schedule.
 *
 * Refused: counts out of range, segments not strictly increasing by start or
 * with hour > 23 or minute > 59, a rate outside 1..4, seasons not strictly
 * increasing or on a date that does not exist, an index to a profile that does
 * not exist, a special day on an impossible date or year.
 * @param s  the schedule.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_tariff_schedule_check(const mc_tariff_schedule_t *s);

/**
 * @brief Start a tariff at time @p now with zero energy and the default schedule.
 *
 * The last settlement point at or before @p now is taken as made (no freeze).
 * @param t    the instance.
 * @param cfg  the configuration.
 * @param now  current local standard time.
 * @return ::MC_OK, ::MC_ERR_INVAL (NULL, a field out of range), ::MC_ERR_RANGE (now).
 */
int mc_tariff_init(mc_tariff_t *t, const mc_tariff_config_t *cfg, mc_time_t now);

/**
 * @brief Put a schedule in force (after mc_tariff_schedule_check()).
 * @param t  the instance.
 * @param s  the schedule; copied.
 * @return ::MC_OK or ::MC_ERR_INVAL; on error the old schedule stays.
 */
int mc_tariff_set_schedule(mc_tariff_t *t, const mc_tariff_schedule_t *s);

/**
 * @brief Change the settlement day and hour.
 *
 * The change starts from now (the latest time the tariff has seen): the last
 * settlement point under the new rule at or before now counts as made, so the
 * change never back-dates a freeze; this month runs to the next point of the
 * new rule.
 * @param t     the instance.
 * @param day   1..28.
 * @param hour  0..23.
 * @return ::MC_OK or ::MC_ERR_INVAL (nothing changes).
 */
int mc_tariff_set_settlement(mc_tariff_t *t, unsigned day, unsigned hour);

/**
 * @brief The newest settlement point at or before a time, by the instance's settlement day and hour.
 * @param t    the instance.
 * @param now  the time (up to ::MC_TIME_MAX).
 * @return the point, or 0 if there is none (or @p t is NULL, @p now past ::MC_TIME_MAX).
 */
mc_time_t mc_tariff_settlement_at_or_before(const mc_tariff_t *t, mc_time_t now);

/**
 * @brief The next settlement point after the last one made.
 * @param t  the instance.
 * @return its time, or 0 if there is none before 2100 (or @p t is NULL).
 */
mc_time_t mc_tariff_next_settlement(const mc_tariff_t *t);

/**
 * @brief The rate a schedule puts in force at a time.
 * @param s     a valid schedule.
 * @param when  the time.
 * @return the rate 1..4, or ::MC_ERR_RANGE / ::MC_ERR_INVAL.
 */
int mc_tariff_rate_at(const mc_tariff_schedule_t *s, mc_time_t when);

/**
 * @brief Advance the tariff to @p now: make due settlements, track the rate and demand.
 *
 * Call it at least once a minute (mc_tariff_add() calls it too). Events are
 * returned as bits and, if configured, passed to the callback one by one.
 * @param t    the instance.
 * @param now  current local standard time.
 * @return a non-negative ::mc_tariff_event bit set, ::MC_ERR_RANGE for a time
 *         outside 2000..2099 (nothing changes), ::MC_ERR_INVAL for NULL.
 */
int mc_tariff_update(mc_tariff_t *t, mc_time_t now);

/**
 * @brief Book a window's energy into the rate in force at @p now, and its power into demand.
 *
 * Calls mc_tariff_update() first. Active import/export come from the core's
 * registers of the same name; reactive import from quadrants I + II and export
 * from III + IV. For demand, the window's energy goes into the sub-interval
 * containing @p now; active demand counts import only (P < 0 adds nothing).
 * @param t        the instance.
 * @param now      the time the window closed (local standard time).
 * @param reading  the core's window reading (delta, p, s, duration_s are used).
 * @return as mc_tariff_update().
 */
int mc_tariff_add(mc_tariff_t *t, mc_time_t now, const mc_reading_t *reading);

/**
 * @brief Report that the clock was set from @p old_time to @p new_time.
 *
 * Emits ::MC_TEV_CLOCK_SET and then processes @p new_time like mc_tariff_update()
 * (settlement points passed forwards are made up; backwards, none is repeated).
 * A set backwards is reported only as ::MC_TEV_CLOCK_SET, not also as
 * ::MC_TEV_CLOCK_BACKWARD.
 * @param t         the instance.
 * @param old_time  the time before the set.
 * @param new_time  the time after.
 * @return as mc_tariff_update().
 */
int mc_tariff_clock_set(mc_tariff_t *t, mc_time_t old_time, mc_time_t new_time);

/**
 * @brief Lifetime energy of a rate and kind, in quanta (2^-30 Wh).
 * @param t     the instance.
 * @param rate  1..4, or 0 for the total (the sum of the rates).
 * @param kind  an ::mc_tariff_kind.
 * @return quanta; 0 for arguments out of range.
 */
uint64_t mc_tariff_energy(const mc_tariff_t *t, unsigned rate, mc_tariff_kind kind);

/**
 * @brief Combined energy of this month or a settlement month, in kWh (kvarh).
 * @param t       the instance.
 * @param ago     0 = this month, 1..12 = settlement month -1..-12.
 * @param rate    1..4, or 0 for the total.
 * @param which   active or reactive.
 * @param kwh     receives the value (0 for a month never frozen).
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_tariff_month_kwh(const mc_tariff_t *t, unsigned ago, unsigned rate, mc_combined which, float *kwh);

/**
 * @brief Combined lifetime energy (KPM31 "total active energy" 0080H, per rate 008CH...), kWh.
 * @param t      the instance.
 * @param rate   1..4, or 0 for the total.
 * @param which  active or reactive.
 * @return kWh (kvarh), signed with MC_COMBINE_IMPORT_MINUS_EXPORT.
 */
float mc_tariff_combined_kwh(const mc_tariff_t *t, unsigned rate, mc_combined which);

/**
 * @brief Clear all energy: lifetime per rate, this month, history and maximum demand.
 *
 * The schedule, the configuration and the settlement bookkeeping stay.
 * @param t  the instance.
 * @return ::MC_OK or ::MC_ERR_INVAL.
 */
int mc_tariff_clear_energy(mc_tariff_t *t);

/**
 * @brief Bring a demand state restored from storage (the running window, the month's
 *        maximum) up to @p now, as mc_tariff_update() would.
 *
 * Sub-intervals that ended while the meter was off are closed without energy;
 * after a gap longer than the window the window holds only zeros and starts
 * again; a clock before the sub-interval under way restarts it. If a settlement
 * point is due, the window is only brought up to it (mc_tariff_update() makes the
 * freeze, so that the closed month keeps its maximum). A persistence layer calls
 * this right after restoring the fields at start-up.
 * @param t    the instance.
 * @param now  current local standard time.
 * @return ::MC_OK; ::MC_ERR_INVAL for NULL or a window that does not fit this
 *         configuration (it is then restarted at @p now, the maximum kept);
 *         ::MC_ERR_RANGE for a time past 2099 (nothing changes).
 */
int mc_tariff_demand_resume(mc_tariff_t *t, mc_time_t now);

/**
 * @brief The rate in force: the one that the latest mc_tariff_update() or
 *        mc_tariff_add() time fell into (what the KPM31 shows as "current rate").
 *
 * Energy added now is booked to this rate. To ask what rate a schedule gives at
 * another time, use mc_tariff_rate_at().
 * @param t  the instance.
 * @return the rate, 1..::MC_TARIFF_RATES (1 sharp, 2 peak, 3 flat, 4 valley), or ::MC_ERR_INVAL for NULL.
 */
int mc_tariff_rate(const mc_tariff_t *t);

/**
 * @brief The current demand values.
 * @param t       the instance.
 * @param p_w     receives the active demand, W (may be NULL).
 * @param s_va    receives the apparent demand, VA (KPM31 0070H) (may be NULL).
 * @return ::MC_OK, ::MC_ERR_NODATA before a full window has elapsed (values are then 0).
 */
int mc_tariff_demand(const mc_tariff_t *t, float *p_w, float *s_va);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_TARIFF_H */
