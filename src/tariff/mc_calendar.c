/*
 * metercore tariff: calendar arithmetic (2000..2099), no libc time functions.
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_calendar.h"

#include <stddef.h>

/* Days before the first of each month in a common year. */
static const uint16_t days_before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

int mc_is_leap_year(unsigned year)
{
    return (year % 4u == 0u && year % 100u != 0u) || year % 400u == 0u;
}

unsigned mc_days_in_month(unsigned year, unsigned month)
{
    static const uint8_t len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1u || month > 12u) {
        return 0;
    }
    return len[month - 1u] + (month == 2u && mc_is_leap_year(year) ? 1u : 0u);
}

int mc_date_to_days(unsigned year, unsigned month, unsigned day, uint32_t *out)
{
    if (out == NULL) {
        return MC_ERR_INVAL;
    }
    if (year < 2000u || year > 2099u) {
        return MC_ERR_RANGE;
    }
    if (day < 1u || day > mc_days_in_month(year, month)) {
        return MC_ERR_INVAL; /* also catches month outside 1..12 (0 days) */
    }
    const unsigned y = year - 2000u;
    /* Leap years before `year` since 2000 (2000, 2004, ...): ceil(y / 4). */
    uint32_t days = 365u * y + (y + 3u) / 4u;
    days += days_before_month[month - 1u];
    if (month > 2u && mc_is_leap_year(year)) {
        days += 1u;
    }
    *out = days + (day - 1u);
    return MC_OK;
}

int mc_time_from_datetime(const mc_datetime_t *dt, mc_time_t *out)
{
    if (dt == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    uint32_t days;
    int err = mc_date_to_days(dt->year, dt->month, dt->day, &days);
    if (err != MC_OK) {
        return err;
    }
    if (dt->hour > 23u || dt->minute > 59u || dt->second > 59u) {
        return MC_ERR_INVAL;
    }
    *out = days * 86400u + dt->hour * 3600u + dt->minute * 60u + dt->second;
    return MC_OK;
}

int mc_time_to_datetime(mc_time_t t, mc_datetime_t *out)
{
    if (out == NULL) {
        return MC_ERR_INVAL;
    }
    if (t > MC_TIME_MAX) {
        return MC_ERR_RANGE;
    }
    uint32_t days = t / 86400u;
    uint32_t secs = t % 86400u;
    /* 2000-01-01 was a Saturday: ISO index 5 (Monday = 0). */
    out->weekday = (uint8_t)((days + 5u) % 7u);
    /* Four-year blocks of 1461 days each begin with a leap year (2000..2099). */
    unsigned year = 2000u + 4u * (days / 1461u);
    days %= 1461u;
    if (days >= 366u) {
        days -= 366u;
        year += 1u + days / 365u;
        days %= 365u;
    }
    unsigned month = 1;
    while (days >= mc_days_in_month(year, month)) {
        days -= mc_days_in_month(year, month);
        month++;
    }
    out->year = (uint16_t)year;
    out->month = (uint8_t)month;
    out->day = (uint8_t)(days + 1u);
    out->hour = (uint8_t)(secs / 3600u);
    out->minute = (uint8_t)(secs % 3600u / 60u);
    out->second = (uint8_t)(secs % 60u);
    return MC_OK;
}
