/**
 * @file mc_calendar.h
 * @ingroup grp_tariff
 * @brief Calendar arithmetic for the meter's clock, without libc time functions.
 *
 * The meter keeps **local standard time** (no daylight-saving shifts, as
 * metering rules require: a tariff day is always 24 h and a billing month never
 * loses or gains an hour). Time is ::mc_time_t, seconds since
 * 2000-01-01 00:00:00 local standard time, valid through 2099-12-31 23:59:59.
 * In that range every year divisible by 4 is a leap year (2000 included), and
 * the 32-bit count never overflows (2099 ends at 3 155 759 999 s).
 *
 * Nothing here calls mktime() or localtime(), so it runs bare-metal.
 */
#ifndef METERCORE_MC_CALENDAR_H
#define METERCORE_MC_CALENDAR_H

#include <stdint.h>

#include "metercore/mc_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Seconds since 2000-01-01 00:00:00 local standard time. */
typedef uint32_t mc_time_t;

/** The last second the library handles: 2099-12-31 23:59:59. */
#define MC_TIME_MAX 3155759999u

/** A broken-down date and time (local standard time). */
typedef struct mc_datetime {
    uint16_t year;   /**< 2000..2099 */
    uint8_t month;   /**< 1..12 */
    uint8_t day;     /**< 1..28/29/30/31 */
    uint8_t hour;    /**< 0..23 */
    uint8_t minute;  /**< 0..59 */
    uint8_t second;  /**< 0..59 */
    uint8_t weekday; /**< 0 = Monday .. 6 = Sunday (ISO order); ignored on input */
} mc_datetime_t;

/**
 * @brief Whether a year is a leap year (Gregorian rule).
 * @param year  any year.
 * @return 1 for a leap year, else 0.
 */
int mc_is_leap_year(unsigned year);

/**
 * @brief Days in a month.
 * @param year   the year (for February).
 * @param month  1..12.
 * @return 28..31, or 0 for a month outside 1..12.
 */
unsigned mc_days_in_month(unsigned year, unsigned month);

/**
 * @brief Day number of a date: days since 2000-01-01.
 * @param year   2000..2099.
 * @param month  1..12.
 * @param day    1..days in that month.
 * @param out    receives the day number (0 for 2000-01-01).
 * @return ::MC_OK, ::MC_ERR_RANGE for a year outside 2000..2099, ::MC_ERR_INVAL
 *         for a month or day that does not exist (e.g. 2023-02-29) or NULL.
 */
int mc_date_to_days(unsigned year, unsigned month, unsigned day, uint32_t *out);

/**
 * @brief Date and time to ::mc_time_t.
 * @param dt   the date and time; weekday is ignored.
 * @param out  receives the time.
 * @return ::MC_OK, ::MC_ERR_RANGE (year) or ::MC_ERR_INVAL (a field that does not exist, NULL).
 */
int mc_time_from_datetime(const mc_datetime_t *dt, mc_time_t *out);

/**
 * @brief ::mc_time_t to date and time, weekday included.
 * @param t    a time up to ::MC_TIME_MAX.
 * @param out  receives the broken-down time.
 * @return ::MC_OK, ::MC_ERR_RANGE past ::MC_TIME_MAX, ::MC_ERR_INVAL for NULL.
 */
int mc_time_to_datetime(mc_time_t t, mc_datetime_t *out);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_CALENDAR_H */
