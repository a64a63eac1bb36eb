/*
 * metercore tariff suite: mc_calendar.h and mc_tariff.h.
 *
 * Every expected value is computed here, independently of the library: a
 * day-by-day calendar walk (weekday cycling from Saturday 2000-01-01, a leap
 * year every 4 years), a per-minute rate table built from each day profile, a
 * settlement/booking model in exact integer quanta that carries the residue
 * below 1 Wh, and a sliding-window demand model over the increments fed; or
 * hand-derived numbers (written next to the assertion with their derivation).
 *
 * Time convention (documented in mc_tariff.h): an increment passed to
 * mc_tariff_add() at time `now` is booked at `now` (rate in force at now, and
 * a settlement point p <= now is made before it is booked). The demand model
 * uses the same convention: an increment at `now` belongs to the
 * sub-interval containing `now`.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_tariff.h"

#define Q MC_ENERGY_QUANTA_PER_WH

/* ------------------------------------------------------------------------ */
/* Assertion helpers with context                                           */

#define EXPECT_INT(got, exp, ctx, ...)                                                                 \
    do {                                                                                               \
        long long g_ = (long long)(got), e_ = (long long)(exp);                                        \
        if (g_ != e_) {                                                                                \
            fail_msg("%s = %lld, expected %lld; " ctx, #got, g_, e_, ##__VA_ARGS__);                   \
        }                                                                                              \
    } while (0)

#define EXPECT_U64(got, exp, ctx, ...)                                                                 \
    do {                                                                                               \
        unsigned long long g_ = (unsigned long long)(got), e_ = (unsigned long long)(exp);             \
        if (g_ != e_) {                                                                                \
            fail_msg("%s = %llu, expected %llu; " ctx, #got, g_, e_, ##__VA_ARGS__);                   \
        }                                                                                              \
    } while (0)

#define EXPECT_NEAR(got, exp, tol, ctx, ...)                                                           \
    do {                                                                                               \
        double g_ = (double)(got), e_ = (double)(exp), t_ = (double)(tol);                             \
        if (!(fabs(g_ - e_) <= t_)) {                                                                  \
            fail_msg("%s = %.9g, expected %.9g (tol %.3g); " ctx, #got, g_, e_, t_, ##__VA_ARGS__);    \
        }                                                                                              \
    } while (0)

/* Relative tolerance with a floor, for demand (float arithmetic in the library). */
#define EXPECT_REL(got, exp, rel, ctx, ...)                                                                            \
    EXPECT_NEAR(got, exp, fabs((double)(exp)) * (rel) + 1e-3, ctx, ##__VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* Reference calendar: a day-by-day walk from 2000-01-01 (a Saturday).       */

#define REF_DAYS 36525u /* 2000-01-01 .. 2099-12-31 */

typedef struct refday {
    uint16_t y;
    uint8_t m, d, wd; /* wd: 0 = Monday .. 6 = Sunday */
} refday_t;

static refday_t g_day[REF_DAYS];
static uint32_t g_first[100][12]; /* day number of the 1st of each month */

static unsigned ref_mlen(unsigned y, unsigned m)
{
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1u] + (m == 2u && y % 4u == 0u ? 1u : 0u); /* every 4th year in 2000..2099 */
}

static int ref_walk(void **state)
{
    (void)state;
    unsigned y = 2000, m = 1, d = 1, wd = 5; /* Saturday */
    for (uint32_t n = 0; n < REF_DAYS; n++) {
        g_day[n].y = (uint16_t)y;
        g_day[n].m = (uint8_t)m;
        g_day[n].d = (uint8_t)d;
        g_day[n].wd = (uint8_t)wd;
        if (d == 1u) {
            g_first[y - 2000u][m - 1u] = n;
        }
        if (++wd == 7u) {
            wd = 0;
        }
        if (++d > ref_mlen(y, m)) {
            d = 1;
            if (++m == 13u) {
                m = 1;
                y++;
            }
        }
    }
    return (y == 2100u && m == 1u && d == 1u) ? 0 : -1;
}

/* Local standard time from the walk's tables. */
static mc_time_t T(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    return (g_first[y - 2000u][mo - 1u] + d - 1u) * 86400u + h * 3600u + mi * 60u + s;
}

static const char *ts(mc_time_t t)
{
    static char buf[8][32];
    static unsigned k;
    char *b = buf[k++ % 8u];
    if (t / 86400u >= REF_DAYS) {
        snprintf(b, 32, "t=%u", (unsigned)t);
    } else {
        const refday_t *D = &g_day[t / 86400u];
        unsigned s = t % 86400u;
        snprintf(b, 32, "%04u-%02u-%02u %02u:%02u:%02u", D->y, D->m, D->d, s / 3600u, s % 3600u / 60u, s % 60u);
    }
    return b;
}

/* Settlement points p with after < p <= upto, from the walk's calendar. */
static unsigned ref_points(unsigned sd, unsigned sh, mc_time_t after, mc_time_t upto, mc_time_t *out, unsigned max)
{
    const refday_t *D = &g_day[after / 86400u];
    unsigned y = D->y, m = D->m, n = 0;
    for (;;) {
        mc_time_t p = T(y, m, sd, sh, 0, 0);
        if (p > upto) {
            break;
        }
        if (p > after) {
            if (n < max) {
                out[n] = p;
            }
            n++;
        }
        if (++m == 13u) {
            m = 1;
            if (++y == 2100u) {
                break;
            }
        }
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Reference schedule model: per-profile minute tables.                      */

typedef struct refsched {
    mc_tariff_schedule_t s;
    uint8_t minute_rate[MC_TARIFF_MAX_DAY_PROFILES][1440];
} refsched_t;

static void ref_build(refsched_t *r, const mc_tariff_schedule_t *s)
{
    r->s = *s;
    memset(r->minute_rate, 0, sizeof(r->minute_rate));
    for (unsigned p = 0; p < s->day_profile_count; p++) {
        const mc_tariff_day_profile_t *d = &s->day_profiles[p];
        /* Each segment fills from its start to the next start (the last to midnight);
         * the minutes before the first start belong to the last segment (wrap). */
        for (unsigned k = 0; k < d->count; k++) {
            unsigned from = d->seg[k].hour * 60u + d->seg[k].minute;
            unsigned to = k + 1u < d->count ? d->seg[k + 1u].hour * 60u + d->seg[k + 1u].minute : 1440u;
            for (unsigned mm = from; mm < to; mm++) {
                r->minute_rate[p][mm] = d->seg[k].rate;
            }
        }
        unsigned first = d->seg[0].hour * 60u + d->seg[0].minute;
        for (unsigned mm = 0; mm < first; mm++) {
            r->minute_rate[p][mm] = d->seg[d->count - 1u].rate;
        }
    }
}

static int ref_profile_of_day(const refsched_t *r, uint32_t day)
{
    const refday_t *D = &g_day[day];
    for (unsigned k = 0; k < r->s.special_day_count; k++) {
        const mc_tariff_special_day_t *h = &r->s.special_days[k];
        if ((h->year == 0u || h->year == D->y) && h->month == D->m && h->day == D->d) {
            return h->profile;
        }
    }
    /* Season: the latest start (month, day) on or before today; none: the latest of the year. */
    int best = -1, latest = -1;
    unsigned best_key = 0, latest_key = 0;
    const unsigned today = D->m * 100u + D->d;
    for (unsigned k = 0; k < r->s.season_count; k++) {
        unsigned key = r->s.seasons[k].month * 100u + r->s.seasons[k].day;
        if (key <= today && (best < 0 || key > best_key)) {
            best = (int)k;
            best_key = key;
        }
        if (latest < 0 || key > latest_key) {
            latest = (int)k;
            latest_key = key;
        }
    }
    if (best < 0) {
        best = latest;
    }
    return r->s.week_profiles[r->s.seasons[best].week][D->wd];
}

static int ref_rate(const refsched_t *r, mc_time_t t)
{
    int p = ref_profile_of_day(r, t / 86400u);
    return r->minute_rate[p][t % 86400u / 60u];
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */

static void set_profile(mc_tariff_day_profile_t *d, unsigned n, const mc_tariff_segment_t *seg)
{
    d->count = (uint8_t)n;
    for (unsigned k = 0; k < n; k++) {
        d->seg[k] = seg[k];
    }
}

/* The KPM31 example, built by hand (not from mc_tariff_schedule_default). */
static void sched_kpm31(mc_tariff_schedule_t *s)
{
    static const mc_tariff_segment_t seg[] = {{6, 0, 1}, {10, 0, 2}, {12, 0, 1}, {15, 0, 3}, {23, 0, 4}};
    memset(s, 0, sizeof(*s));
    s->day_profile_count = 1;
    set_profile(&s->day_profiles[0], 5, seg);
    s->week_profile_count = 1;
    s->season_count = 1;
    s->seasons[0].month = 1;
    s->seasons[0].day = 1;
    s->seasons[0].week = 0;
}

/*
 * S1: 4 day profiles, 4 week profiles, 4 seasons (the last wraps into January),
 * special days every year and one year only.
 *   P0 workday  06:00 r1, 10:00 r2, 12:00 r1, 15:00 r3, 23:00 r4
 *   P1 weekend  07:30 r3, 21:15 r4           (00:00..07:29 wraps: r4)
 *   P2 holiday  09:00 r4                     (all day r4)
 *   P3 summer   00:00 r3, 08:00 r2, 11:30 r1, 13:00 r2, 17:45 r1, 19:00 r2, 21:00 r3, 23:59 r4
 *   W0 Mon-Fri P0, Sat-Sun P1;  W1 Mon-Fri P3, Sat P1, Sun P2;  W2 all P0;  W3 all P1
 *   Seasons: 03-01 W0, 06-01 W1, 09-15 W2, 12-01 W3 (so January..February: W3)
 *   Special: every year 01-01, 12-25, 05-01 -> P2, 02-29 -> P3; 2024-07-04 -> P2; 2025-03-03 -> P1
 */
static void sched_s1(mc_tariff_schedule_t *s)
{
    static const mc_tariff_segment_t p0[] = {{6, 0, 1}, {10, 0, 2}, {12, 0, 1}, {15, 0, 3}, {23, 0, 4}};
    static const mc_tariff_segment_t p1[] = {{7, 30, 3}, {21, 15, 4}};
    static const mc_tariff_segment_t p2[] = {{9, 0, 4}};
    static const mc_tariff_segment_t p3[] = {{0, 0, 3},   {8, 0, 2},  {11, 30, 1}, {13, 0, 2},
                                             {17, 45, 1}, {19, 0, 2}, {21, 0, 3},  {23, 59, 4}};
    static const uint8_t weeks[4][7] = {
        {0, 0, 0, 0, 0, 1, 1}, {3, 3, 3, 3, 3, 1, 2}, {0, 0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1, 1}};
    static const mc_tariff_season_t seasons[4] = {{3, 1, 0}, {6, 1, 1}, {9, 15, 2}, {12, 1, 3}};
    static const mc_tariff_special_day_t special[6] = {
        {0, 1, 1, 2}, {0, 12, 25, 2}, {0, 5, 1, 2}, {2024, 7, 4, 2}, {0, 2, 29, 3}, {2025, 3, 3, 1}};
    memset(s, 0, sizeof(*s));
    s->day_profile_count = 4;
    set_profile(&s->day_profiles[0], 5, p0);
    set_profile(&s->day_profiles[1], 2, p1);
    set_profile(&s->day_profiles[2], 1, p2);
    set_profile(&s->day_profiles[3], 8, p3);
    s->week_profile_count = 4;
    memcpy(s->week_profiles, weeks, sizeof(weeks));
    s->season_count = 4;
    memcpy(s->seasons, seasons, sizeof(seasons));
    s->special_day_count = 6;
    memcpy(s->special_days, special, sizeof(special));
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

#define EV_MAX 64
#define FREEZE_MAX 2048

typedef struct evlog {
    unsigned n; /* events recorded (first EV_MAX) */
    unsigned type[EV_MAX];
    uint32_t old_t[EV_MAX], new_t[EV_MAX]; /* the event's a and b */
    unsigned total;    /* all callbacks */
    unsigned count[4]; /* per event bit */
    unsigned bad;      /* callbacks whose type is not exactly one bit */
    unsigned nfreeze;
    mc_time_t freeze[FREEZE_MAX]; /* data of every MC_TEV_FREEZE */
} evlog_t;

static evlog_t g_ev;

static void on_event(void *ctx, unsigned type, uint32_t old_time, uint32_t new_time)
{
    evlog_t *e = ctx;
    e->total++;
    int bit = -1;
    for (int b = 0; b < 4; b++) {
        if (type == 1u << b) {
            bit = b;
        }
    }
    if (bit < 0) {
        e->bad++;
    } else {
        e->count[bit]++;
    }
    if (e->n < EV_MAX) {
        e->type[e->n] = type;
        e->old_t[e->n] = old_time;
        e->new_t[e->n] = new_time;
        e->n++;
    }
    if (type == MC_TEV_FREEZE) {
        if (e->nfreeze < FREEZE_MAX) {
            e->freeze[e->nfreeze] = new_time;
        }
        e->nfreeze++;
    }
}

static unsigned ev_count(unsigned type)
{
    for (unsigned b = 0; b < 4; b++) {
        if (type == 1u << b) {
            return g_ev.count[b];
        }
    }
    return 0;
}

/* Default configuration with the event recorder attached (and reset). */
static void cfg_events(mc_tariff_config_t *c)
{
    mc_tariff_config_default(c);
    memset(&g_ev, 0, sizeof(g_ev));
    c->on_event = on_event;
    c->context = &g_ev;
}

/* ------------------------------------------------------------------------ */
/* Readings built by hand                                                    */

static mc_reading_t rd6(uint64_t ai, uint64_t ae, uint64_t q1, uint64_t q2, uint64_t q3, uint64_t q4, float p,
                        float s, float dur)
{
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta.q[MC_E_ACTIVE_IMPORT] = ai;
    r.delta.q[MC_E_ACTIVE_EXPORT] = ae;
    r.delta.q[MC_E_REACTIVE_Q1] = q1;
    r.delta.q[MC_E_REACTIVE_Q2] = q2;
    r.delta.q[MC_E_REACTIVE_Q3] = q3;
    r.delta.q[MC_E_REACTIVE_Q4] = q4;
    r.p = p;
    r.s = s;
    r.duration_s = dur;
    return r;
}

/* Active import only. */
static mc_reading_t rd_ai(uint64_t ai)
{
    return rd6(ai, 0, 0, 0, 0, 0, 0.0f, 0.0f, 1.0f);
}

/* Power only (demand tests): energy consistent with p over dur, active import. */
static mc_reading_t rd_power(float p, float s, float dur)
{
    double wh = (double)p * (double)dur / 3600.0;
    uint64_t q = wh > 0 ? (uint64_t)(wh * (double)Q) : 0u;
    return rd6(q, 0, 0, 0, 0, 0, p, s, dur);
}

static void add_ok(mc_tariff_t *t, mc_time_t now, const mc_reading_t *r)
{
    int ev = mc_tariff_add(t, now, r);
    if (ev < 0) {
        fail_msg("mc_tariff_add at %s returned %d", ts(now), ev);
    }
}

static int update_ok(mc_tariff_t *t, mc_time_t now)
{
    int ev = mc_tariff_update(t, now);
    if (ev < 0) {
        fail_msg("mc_tariff_update at %s returned %d", ts(now), ev);
    }
    return ev;
}

static int64_t combine_ref(mc_combination c, int64_t imp, int64_t ex)
{
    if (c == MC_COMBINE_IMPORT_MINUS_EXPORT) {
        return imp - ex;
    }
    if (c == MC_COMBINE_IMPORT_ONLY) {
        return imp;
    }
    return imp + ex;
}

/* Simple 64-bit PRNG (xorshift64*), fixed seeds. */
static uint64_t g_rng;
static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1Dull;
}

/* ======================================================================== */
/* Calendar                                                                  */

static void test_calendar_known_dates(void **state)
{
    (void)state;
    uint32_t n = 12345;
    /* 2000-01-01 is day 0, a Saturday. */
    assert_int_equal(mc_date_to_days(2000, 1, 1, &n), MC_OK);
    assert_int_equal(n, 0);
    /* 2024-01-01: 24 * 365 + 6 leap days (2000, 04, 08, 12, 16, 20) = 8766; a Monday. */
    assert_int_equal(mc_date_to_days(2024, 1, 1, &n), MC_OK);
    assert_int_equal(n, 8766);
    /* 2024-02-29: 8766 + 31 + 28 = 8825. 2024-03-01: 8826. */
    assert_int_equal(mc_date_to_days(2024, 2, 29, &n), MC_OK);
    assert_int_equal(n, 8825);
    assert_int_equal(mc_date_to_days(2024, 3, 1, &n), MC_OK);
    assert_int_equal(n, 8826);
    /* 2099-12-31: day 36524. */
    assert_int_equal(mc_date_to_days(2099, 12, 31, &n), MC_OK);
    assert_int_equal(n, 36524);

    mc_datetime_t dt;
    /* 2024-01-01 00:00:00 = 8766 * 86400 = 757 382 400 s (Unix 1704067200 - 946684800). */
    assert_int_equal(mc_time_to_datetime(757382400u, &dt), MC_OK);
    assert_int_equal(dt.year, 2024);
    assert_int_equal(dt.month, 1);
    assert_int_equal(dt.day, 1);
    assert_int_equal(dt.weekday, 0); /* Monday */
    /* MC_TIME_MAX = 2099-12-31 23:59:59, a Thursday (2100-01-01 is a Friday). */
    assert_int_equal(mc_time_to_datetime(MC_TIME_MAX, &dt), MC_OK);
    assert_int_equal(dt.year, 2099);
    assert_int_equal(dt.month, 12);
    assert_int_equal(dt.day, 31);
    assert_int_equal(dt.hour, 23);
    assert_int_equal(dt.minute, 59);
    assert_int_equal(dt.second, 59);
    assert_int_equal(dt.weekday, 3);
    assert_int_equal(dt.weekday, g_day[REF_DAYS - 1u].wd); /* the walk agrees */
    assert_int_equal(MC_TIME_MAX, REF_DAYS * 86400u - 1u);
    /* The walk itself: 2000-01-01 Saturday, 2024-01-01 Monday. */
    assert_int_equal(g_day[0].wd, 5);
    assert_int_equal(g_day[8766].wd, 0);

    mc_datetime_t in = {2000, 1, 1, 0, 0, 0, 3};
    mc_time_t t = 99;
    assert_int_equal(mc_time_from_datetime(&in, &t), MC_OK);
    assert_int_equal(t, 0);
    mc_datetime_t last = {2099, 12, 31, 23, 59, 59, 0};
    assert_int_equal(mc_time_from_datetime(&last, &t), MC_OK);
    assert_int_equal(t, MC_TIME_MAX);
}

static void test_calendar_every_day_2000_2099(void **state)
{
    (void)state;
    for (uint32_t n = 0; n < REF_DAYS; n++) {
        const refday_t *D = &g_day[n];
        uint32_t dn = 0xFFFFFFFFu;
        EXPECT_INT(mc_date_to_days(D->y, D->m, D->d, &dn), MC_OK, "%u-%u-%u", D->y, D->m, D->d);
        EXPECT_U64(dn, n, "day number of %u-%02u-%02u", D->y, D->m, D->d);

        /* Vary the time of day; the weekday on input must be ignored. */
        unsigned h = n % 24u, mi = (n * 7u) % 60u, s = (n * 13u) % 60u;
        mc_datetime_t in = {D->y, D->m, D->d, (uint8_t)h, (uint8_t)mi, (uint8_t)s, (uint8_t)((D->wd + 3u) % 7u)};
        mc_time_t t = 0;
        EXPECT_INT(mc_time_from_datetime(&in, &t), MC_OK, "%u-%u-%u", D->y, D->m, D->d);
        const mc_time_t expect = n * 86400u + h * 3600u + mi * 60u + s;
        EXPECT_U64(t, expect, "mc_time_from_datetime %u-%02u-%02u %02u:%02u:%02u", D->y, D->m, D->d, h, mi, s);

        const mc_time_t probes[3] = {n * 86400u, expect, n * 86400u + 86399u};
        for (unsigned k = 0; k < 3; k++) {
            mc_datetime_t out;
            memset(&out, 0xEE, sizeof(out));
            EXPECT_INT(mc_time_to_datetime(probes[k], &out), MC_OK, "t=%u", probes[k]);
            const unsigned sec = probes[k] % 86400u;
            if (out.year != D->y || out.month != D->m || out.day != D->d || out.weekday != D->wd ||
                out.hour != sec / 3600u || out.minute != sec % 3600u / 60u || out.second != sec % 60u) {
                fail_msg("mc_time_to_datetime(%u) = %u-%02u-%02u %02u:%02u:%02u wd %u, expected "
                         "%u-%02u-%02u %02u:%02u:%02u wd %u",
                         probes[k], out.year, out.month, out.day, out.hour, out.minute, out.second, out.weekday,
                         D->y, D->m, D->d, sec / 3600u, sec % 3600u / 60u, sec % 60u, D->wd);
            }
            /* ... and back. */
            mc_time_t back = 0;
            EXPECT_INT(mc_time_from_datetime(&out, &back), MC_OK, "t=%u", probes[k]);
            EXPECT_U64(back, probes[k], "round trip");
        }
    }
}

static void test_calendar_leap_years_and_month_lengths(void **state)
{
    (void)state;
    for (unsigned y = 2000; y <= 2099; y++) {
        EXPECT_INT(mc_is_leap_year(y), y % 4u == 0u ? 1 : 0, "year %u", y);
        for (unsigned m = 1; m <= 12; m++) {
            EXPECT_INT(mc_days_in_month(y, m), ref_mlen(y, m), "%u-%u", y, m);
        }
        EXPECT_INT(mc_days_in_month(y, 0), 0, "month 0");
        EXPECT_INT(mc_days_in_month(y, 13), 0, "month 13");
    }
    /* The Gregorian rule outside the range (documented "Gregorian rule"). */
    assert_int_equal(mc_is_leap_year(1900), 0);
    assert_int_equal(mc_is_leap_year(2100), 0);
    assert_int_equal(mc_is_leap_year(2400), 1);
    assert_int_equal(mc_is_leap_year(2023), 0);
    assert_int_equal(mc_days_in_month(2023, 2), 28);
    assert_int_equal(mc_days_in_month(2024, 2), 29);
    assert_int_equal(mc_days_in_month(2000, 2), 29);
}

static void test_calendar_invalid_and_range(void **state)
{
    (void)state;
    uint32_t n = 7;
    /* Dates that do not exist. */
    static const unsigned inval[][3] = {{2023, 2, 29}, {2023, 0, 1},  {2023, 13, 1}, {2023, 1, 0},
                                        {2023, 1, 32}, {2023, 4, 31}, {2024, 2, 30}, {2099, 2, 29}};
    for (unsigned k = 0; k < sizeof(inval) / sizeof(inval[0]); k++) {
        EXPECT_INT(mc_date_to_days(inval[k][0], inval[k][1], inval[k][2], &n), MC_ERR_INVAL, "%u-%u-%u",
                   inval[k][0], inval[k][1], inval[k][2]);
        mc_datetime_t dt = {(uint16_t)inval[k][0], (uint8_t)inval[k][1], (uint8_t)inval[k][2], 12, 0, 0, 0};
        mc_time_t t;
        EXPECT_INT(mc_time_from_datetime(&dt, &t), MC_ERR_INVAL, "%u-%u-%u", inval[k][0], inval[k][1], inval[k][2]);
    }
    assert_int_equal(mc_date_to_days(2024, 2, 29, &n), MC_OK);
    assert_int_equal(mc_date_to_days(2000, 2, 29, &n), MC_OK);
    assert_int_equal(mc_date_to_days(2023, 1, 1, NULL), MC_ERR_INVAL);
    /* Years out of range. */
    assert_int_equal(mc_date_to_days(1999, 12, 31, &n), MC_ERR_RANGE);
    assert_int_equal(mc_date_to_days(2100, 1, 1, &n), MC_ERR_RANGE);

    mc_time_t t = 0;
    mc_datetime_t ok = {2023, 6, 15, 23, 59, 59, 0};
    assert_int_equal(mc_time_from_datetime(&ok, &t), MC_OK);
    mc_datetime_t dt = ok;
    dt.hour = 24;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_ERR_INVAL);
    dt = ok;
    dt.minute = 60;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_ERR_INVAL);
    dt = ok;
    dt.second = 60;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_ERR_INVAL);
    dt = ok;
    dt.year = 1999;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_ERR_RANGE);
    dt = ok;
    dt.year = 2100;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_ERR_RANGE);
    assert_int_equal(mc_time_from_datetime(NULL, &t), MC_ERR_INVAL);
    assert_int_equal(mc_time_from_datetime(&ok, NULL), MC_ERR_INVAL);

    mc_datetime_t out;
    assert_int_equal(mc_time_to_datetime(MC_TIME_MAX, &out), MC_OK);
    assert_int_equal(mc_time_to_datetime(MC_TIME_MAX + 1u, &out), MC_ERR_RANGE);
    assert_int_equal(mc_time_to_datetime(UINT32_MAX, &out), MC_ERR_RANGE);
    assert_int_equal(mc_time_to_datetime(0, NULL), MC_ERR_INVAL);
}

/* ======================================================================== */
/* Schedule                                                                  */

static void test_config_and_schedule_defaults(void **state)
{
    (void)state;
    mc_tariff_config_t c;
    memset(&c, 0x77, sizeof(c));
    mc_tariff_config_default(&c);
    assert_int_equal(c.settle_day, 1);
    assert_int_equal(c.settle_hour, 0);
    assert_int_equal(c.demand_window_min, 15);
    assert_int_equal(c.demand_subinterval_min, 1);
    assert_int_equal(c.active_combination, MC_COMBINE_IMPORT_PLUS_EXPORT);
    assert_int_equal(c.reactive_combination, MC_COMBINE_IMPORT_PLUS_EXPORT);
    assert_null(c.on_event);
    mc_tariff_schedule_t s;
    mc_tariff_schedule_default(&s);
    assert_int_equal(mc_tariff_schedule_check(&s), MC_OK);
    assert_int_equal(mc_tariff_schedule_check(NULL), MC_ERR_INVAL);
}

/* Hand-derived KPM31 rates: 06:00 r1, 10:00 r2, 12:00 r1, 15:00 r3, 23:00 r4 (wrapping to 06:00). */
static const struct {
    unsigned h, m, s;
    int rate;
} kpm31_probe[] = {
    {0, 0, 0, 4},   {2, 0, 0, 4},    {5, 59, 59, 4},  {6, 0, 0, 1},   {9, 59, 59, 1}, {10, 0, 0, 2},
    {11, 59, 59, 2}, {12, 0, 0, 1},  {14, 59, 59, 1}, {15, 0, 0, 3},  {22, 59, 59, 3}, {23, 0, 0, 4},
    {23, 59, 59, 4},
};

static void test_schedule_default_is_kpm31(void **state)
{
    (void)state;
    mc_tariff_schedule_t def;
    mc_tariff_schedule_default(&def);
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    static mc_tariff_t t;
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 4, 0, 0, 0)), MC_OK);
    /* Weekdays, a weekend, the leap day, a holiday-like date, year end, 2000 and 2099. */
    static const unsigned days[][3] = {{2024, 3, 4}, {2024, 3, 9},  {2024, 3, 10}, {2024, 2, 29},
                                       {2024, 12, 25}, {2024, 12, 31}, {2000, 1, 1}, {2099, 12, 31}};
    for (unsigned d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
        for (unsigned k = 0; k < sizeof(kpm31_probe) / sizeof(kpm31_probe[0]); k++) {
            mc_time_t w = T(days[d][0], days[d][1], days[d][2], kpm31_probe[k].h, kpm31_probe[k].m, kpm31_probe[k].s);
            EXPECT_INT(mc_tariff_rate_at(&def, w), kpm31_probe[k].rate, "default schedule at %s", ts(w));
            EXPECT_INT(mc_tariff_rate_at(&t.schedule, w), kpm31_probe[k].rate, "instance schedule at %s", ts(w));
        }
    }
    /* Every minute of a week against the hand-built KPM31 model. */
    mc_tariff_schedule_t kp;
    sched_kpm31(&kp);
    static refsched_t rk;
    ref_build(&rk, &kp);
    for (mc_time_t w = T(2024, 2, 26, 0, 0, 0); w < T(2024, 3, 4, 0, 0, 0); w += 60u) {
        EXPECT_INT(mc_tariff_rate_at(&def, w), ref_rate(&rk, w), "at %s", ts(w));
    }
}

static void test_schedule_rich_hand_checks(void **state)
{
    (void)state;
    mc_tariff_schedule_t s;
    sched_s1(&s);
    assert_int_equal(mc_tariff_schedule_check(&s), MC_OK);
    /* Each line: date (weekday), why, expected rate. Weekdays from 2024-01-01 = Monday. */
    static const struct {
        unsigned y, mo, d, h, mi, s;
        int rate;
    } c[] = {
        {2024, 1, 1, 12, 0, 0, 4},    /* Mon, every-year special 01-01 -> P2: r4 */
        {2024, 1, 2, 12, 0, 0, 3},    /* Tue, Jan wraps into season 12-01 (W3 = P1): 07:30 r3 */
        {2024, 1, 2, 3, 0, 0, 4},     /* P1 before 07:30 wraps to 21:15 r4 */
        {2024, 2, 28, 12, 0, 0, 3},   /* Wed, W3 -> P1: r3 */
        {2024, 2, 29, 12, 0, 0, 1},   /* Thu, every-year special 02-29 -> P3: 11:30 r1 */
        {2024, 3, 2, 7, 0, 0, 4},     /* Sat, season 03-01 W0 Sat -> P1, 07:00 wraps: r4 */
        {2024, 3, 2, 7, 30, 0, 3},    /* Sat 07:30 r3 */
        {2024, 3, 4, 10, 30, 0, 2},   /* Mon, W0 -> P0: 10:00 r2 */
        {2024, 5, 1, 10, 30, 0, 4},   /* Wed, every-year special 05-01 -> P2 */
        {2024, 5, 31, 10, 30, 0, 2},  /* Fri, still season 03-01: P0 r2 */
        {2024, 6, 3, 12, 15, 0, 1},   /* Mon, season 06-01 W1 -> P3: 11:30 r1 */
        {2024, 6, 3, 0, 30, 0, 3},    /* P3 00:00 r3 */
        {2024, 6, 3, 23, 58, 59, 3},  /* P3 21:00 r3 */
        {2024, 6, 3, 23, 59, 30, 4},  /* P3 23:59 r4 */
        {2024, 6, 9, 12, 0, 0, 4},    /* Sun, W1 Sun -> P2 */
        {2024, 7, 4, 12, 0, 0, 4},    /* Thu, one-year special 2024-07-04 -> P2 */
        {2025, 7, 4, 12, 0, 0, 1},    /* Fri, not special in 2025: W1 Fri -> P3: r1 */
        {2024, 9, 14, 12, 0, 0, 3},   /* Sat, W1 Sat -> P1: r3 */
        {2024, 9, 15, 12, 0, 0, 1},   /* Sun, season 09-15 W2 -> P0: r1 */
        {2024, 11, 30, 10, 30, 0, 2}, /* Sat, W2 -> P0: r2 */
        {2024, 12, 1, 10, 30, 0, 3},  /* Sun, season 12-01 W3 -> P1: r3 */
        {2024, 12, 24, 12, 0, 0, 3},  /* Tue, W3 -> P1 */
        {2024, 12, 25, 12, 0, 0, 4},  /* Wed, every-year special 12-25 -> P2 */
        {2025, 2, 25, 10, 30, 0, 3},  /* Tue, January..February = last season W3 -> P1 (not P0's r2) */
        {2025, 2, 28, 10, 30, 0, 3},  /* Fri, W3 */
        {2025, 3, 3, 10, 30, 0, 3},   /* Mon, one-year special 2025-03-03 -> P1 (P0 would be r2) */
        {2025, 3, 4, 10, 30, 0, 2},   /* Tue, W0 -> P0: r2 */
        {2026, 3, 3, 10, 30, 0, 2},   /* Tue, 03-03 not special in 2026: P0 r2 */
    };
    for (unsigned k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
        mc_time_t w = T(c[k].y, c[k].mo, c[k].d, c[k].h, c[k].mi, c[k].s);
        EXPECT_INT(mc_tariff_rate_at(&s, w), c[k].rate, "S1 at %s (case %u)", ts(w), k);
    }

    /* A season starting on 29 February: in a common year it starts on 1 March. */
    mc_tariff_schedule_t s2;
    memset(&s2, 0, sizeof(s2));
    static const mc_tariff_segment_t r1[] = {{0, 0, 1}}, r2[] = {{0, 0, 2}};
    s2.day_profile_count = 2;
    set_profile(&s2.day_profiles[0], 1, r1);
    set_profile(&s2.day_profiles[1], 1, r2);
    s2.week_profile_count = 2;
    memset(s2.week_profiles[1], 1, 7);
    s2.season_count = 2;
    s2.seasons[0] = (mc_tariff_season_t){2, 29, 1};
    s2.seasons[1] = (mc_tariff_season_t){10, 1, 0};
    assert_int_equal(mc_tariff_schedule_check(&s2), MC_OK);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2023, 2, 28, 12, 0, 0)), 1);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2023, 3, 1, 0, 0, 0)), 2);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2024, 2, 28, 23, 59, 59)), 1);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2024, 2, 29, 0, 0, 0)), 2);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2024, 9, 30, 23, 59, 59)), 2);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2024, 10, 1, 0, 0, 0)), 1);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2024, 12, 31, 23, 59, 59)), 1);
    assert_int_equal(mc_tariff_rate_at(&s2, T(2025, 1, 1, 0, 0, 0)), 1);

    assert_int_equal(mc_tariff_rate_at(NULL, 0), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_rate_at(&s, MC_TIME_MAX + 1u), MC_ERR_RANGE);
    assert_int_equal(mc_tariff_rate_at(&s, MC_TIME_MAX), 4); /* 2099-12-31 Thu, season W3 -> P1 23:59 r4 */
}

static void test_schedule_rich_vs_model(void **state)
{
    (void)state;
    mc_tariff_schedule_t s;
    sched_s1(&s);
    static refsched_t r;
    ref_build(&r, &s);
    /* Every 7 minutes (so every minute-of-day is hit over the span) from 2023-11-01 to 2026-03-31. */
    for (mc_time_t w = T(2023, 11, 1, 0, 0, 0); w < T(2026, 4, 1, 0, 0, 0); w += 7u * 60u + 1u) {
        EXPECT_INT(mc_tariff_rate_at(&s, w), ref_rate(&r, w), "S1 at %s", ts(w));
    }
    /* Every minute of the days around each season start and special day of 2024 and 2025. */
    static const unsigned days[][3] = {{2024, 2, 28}, {2024, 2, 29}, {2024, 3, 1}, {2024, 5, 31}, {2024, 6, 1},
                                       {2024, 7, 4},  {2024, 9, 14}, {2024, 9, 15}, {2024, 11, 30}, {2024, 12, 1},
                                       {2024, 12, 31}, {2025, 1, 1}, {2025, 2, 28}, {2025, 3, 1}, {2025, 3, 3}};
    for (unsigned d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
        mc_time_t d0 = T(days[d][0], days[d][1], days[d][2], 0, 0, 0);
        for (mc_time_t w = d0; w < d0 + 86400u; w += 60u) {
            EXPECT_INT(mc_tariff_rate_at(&s, w), ref_rate(&r, w), "S1 at %s", ts(w));
            EXPECT_INT(mc_tariff_rate_at(&s, w + 59u), ref_rate(&r, w + 59u), "S1 at %s", ts(w + 59u));
        }
    }
}

static void test_schedule_valid_edges(void **state)
{
    (void)state;
    mc_tariff_schedule_t s;
    sched_s1(&s);
    /* 32 special days, every-year 02-29, one-year 2000 and 2099 dates. */
    s.special_day_count = 32;
    for (unsigned k = 6; k < 32; k++) {
        s.special_days[k] = (mc_tariff_special_day_t){(uint16_t)(k % 2u ? 2000u : 2099u), (uint8_t)(k % 12u + 1u),
                                                     (uint8_t)(k % 28u + 1u), (uint8_t)(k % 4u)};
    }
    assert_int_equal(mc_tariff_schedule_check(&s), MC_OK);
    s.special_days[31] = (mc_tariff_special_day_t){2096, 2, 29, 0}; /* a leap day that exists */
    assert_int_equal(mc_tariff_schedule_check(&s), MC_OK);
    /* A 1-segment profile starting at 23:59, seasons on 01-01 and 12-31. */
    sched_s1(&s);
    s.day_profiles[2].seg[0] = (mc_tariff_segment_t){23, 59, 2};
    s.seasons[0] = (mc_tariff_season_t){1, 1, 0};
    s.seasons[3] = (mc_tariff_season_t){12, 31, 3};
    assert_int_equal(mc_tariff_schedule_check(&s), MC_OK);
}

static void test_schedule_invalid_refused_old_kept(void **state)
{
    (void)state;
    mc_tariff_schedule_t good;
    sched_s1(&good);
    static refsched_t r;
    ref_build(&r, &good);

    mc_tariff_schedule_t bad[40];
    const char *why[40];
    unsigned n = 0;
#define BAD(desc, ...)                                                                                 \
    do {                                                                                               \
        bad[n] = good;                                                                                 \
        mc_tariff_schedule_t *b = &bad[n];                                                             \
        __VA_ARGS__;                                                                                   \
        why[n++] = desc;                                                                               \
    } while (0)
    BAD("unsorted segments", { b->day_profiles[0].seg[1] = good.day_profiles[0].seg[2];
                               b->day_profiles[0].seg[2] = good.day_profiles[0].seg[1]; });
    BAD("duplicate segment start", { b->day_profiles[0].seg[2].hour = 10; b->day_profiles[0].seg[2].minute = 0; });
    BAD("duplicate start, last = first", { b->day_profiles[1].seg[1] = (mc_tariff_segment_t){7, 30, 4}; });
    BAD("rate 0", { b->day_profiles[0].seg[3].rate = 0; });
    BAD("rate 5", { b->day_profiles[3].seg[7].rate = 5; });
    BAD("9 segments", { b->day_profiles[3].count = 9; });
    BAD("0 segments", { b->day_profiles[2].count = 0; });
    BAD("9 segments, the 9th looking valid", {
        /* P0: 00:00..00:07 in seg[0..7]; P1 so laid out that a 9th segment read past seg[7]
         * (P1's count, then P1.seg[0]) would be 08:01 rate 2, sorted and in range. */
        for (unsigned k = 0; k < 8; k++) {
            b->day_profiles[0].seg[k] = (mc_tariff_segment_t){0, (uint8_t)k, 1};
        }
        b->day_profiles[0].count = 9;
        b->day_profiles[1].count = 8;
        for (unsigned k = 0; k < 8; k++) {
            b->day_profiles[1].seg[k] = (mc_tariff_segment_t){(uint8_t)(k + 1u), 2, 3};
        }
    });
    BAD("hour 24", { b->day_profiles[0].seg[4].hour = 24; });
    BAD("minute 60", { b->day_profiles[1].seg[0].minute = 60; });
    BAD("seasons equal", { b->seasons[2] = b->seasons[1]; });
    BAD("seasons decreasing", { b->seasons[1] = good.seasons[2]; b->seasons[2] = good.seasons[1]; });
    BAD("season Feb 30", { b->seasons[0].month = 2; b->seasons[0].day = 30; });
    BAD("season Apr 31", { b->seasons[1].month = 4; b->seasons[1].day = 31; });
    BAD("season month 0", { b->seasons[0].month = 0; });
    BAD("season month 13", { b->seasons[3].month = 13; });
    BAD("season day 0", { b->seasons[0].day = 0; });
    BAD("season -> missing week profile", { b->seasons[2].week = 4; });
    BAD("season -> week beyond count", { b->week_profile_count = 3; /* W3 used by season 12-01 */ });
    BAD("week -> missing day profile", { b->week_profiles[1][4] = 4; });
    BAD("week -> day profile beyond count", { b->day_profile_count = 3; /* P3 used by W1 */ });
    BAD("special day -> missing profile", { b->special_days[2].profile = 4; });
    BAD("special day 2023-02-29", { b->special_days[3] = (mc_tariff_special_day_t){2023, 2, 29, 2}; });
    BAD("special day every year 02-30", { b->special_days[0] = (mc_tariff_special_day_t){0, 2, 30, 2}; });
    BAD("special day 04-31", { b->special_days[0] = (mc_tariff_special_day_t){0, 4, 31, 2}; });
    BAD("special day month 13", { b->special_days[0].month = 13; });
    BAD("special day day 0", { b->special_days[0].day = 0; });
    BAD("special day year 1999", { b->special_days[3].year = 1999; });
    BAD("special day year 2100", { b->special_days[3].year = 2100; });
    BAD("day profile count 0", { b->day_profile_count = 0; });
    BAD("day profile count 5", { b->day_profile_count = 5; });
    BAD("week profile count 0", { b->week_profile_count = 0; });
    BAD("week profile count 5", { b->week_profile_count = 5; });
    BAD("season count 0", { b->season_count = 0; });
    BAD("season count 5", { b->season_count = 5; b->seasons[3] = good.seasons[3]; });
    BAD("special day count 33", { b->special_day_count = 33; });
#undef BAD

    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 5, 30, 0, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);

    /* With the default schedule in force, a refused one keeps the default. */
    for (unsigned k = 0; k < n; k++) {
        EXPECT_INT(mc_tariff_schedule_check(&bad[k]), MC_ERR_INVAL, "check: %s", why[k]);
        EXPECT_INT(mc_tariff_set_schedule(&t, &bad[k]), MC_ERR_INVAL, "set: %s", why[k]);
        EXPECT_INT(mc_tariff_rate_at(&t.schedule, T(2024, 6, 3, 2, 0, 0)), 4, "default kept after %s", why[k]);
        EXPECT_INT(mc_tariff_rate_at(&t.schedule, T(2024, 6, 3, 12, 15, 0)), 1, "default kept after %s", why[k]);
    }
    assert_int_equal(mc_tariff_set_schedule(&t, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_set_schedule(NULL, &good), MC_ERR_INVAL);

    /* Now S1 in force; every refusal keeps it byte for byte. */
    assert_int_equal(mc_tariff_set_schedule(&t, &good), MC_OK);
    assert_memory_equal(&t.schedule, &good, sizeof(good));
    for (unsigned k = 0; k < n; k++) {
        EXPECT_INT(mc_tariff_set_schedule(&t, &bad[k]), MC_ERR_INVAL, "set: %s", why[k]);
        if (memcmp(&t.schedule, &good, sizeof(good)) != 0) {
            fail_msg("schedule changed by refused set (%s)", why[k]);
        }
        for (mc_time_t w = T(2024, 5, 30, 0, 0, 0); w < T(2024, 6, 10, 0, 0, 0); w += 1800u) {
            EXPECT_INT(mc_tariff_rate_at(&t.schedule, w), ref_rate(&r, w), "after %s, at %s", why[k], ts(w));
        }
    }
    /* Booking still follows S1: one increment per half hour over 11 days. */
    uint64_t expect[MC_TARIFF_RATES + 1] = {0};
    unsigned i = 0;
    for (mc_time_t w = t0; w < T(2024, 6, 10, 0, 0, 0); w += 1800u, i++) {
        mc_reading_t x = rd_ai(Q + i);
        add_ok(&t, w, &x);
        expect[ref_rate(&r, w)] += Q + i;
    }
    for (unsigned rr = 1; rr <= MC_TARIFF_RATES; rr++) {
        EXPECT_U64(mc_tariff_energy(&t, rr, MC_TK_ACTIVE_IMPORT), expect[rr], "rate %u", rr);
    }
}

/* ======================================================================== */
/* Booking                                                                   */

static void test_booking_kinds_and_quadrants(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 4, 0, 0, 0)), MC_OK);

    /* 11:00 is rate 2 (10:00..12:00). Import, quadrant I and II reactive -> import, III + IV -> export. */
    mc_reading_t a = rd6(3 * Q + 5, 0, Q, 2 * Q, 7, 11, 100.0f, 120.0f, 1.0f);
    add_ok(&t, T(2024, 3, 4, 11, 0, 0), &a);
    EXPECT_U64(mc_tariff_energy(&t, 2, MC_TK_ACTIVE_IMPORT), 3 * Q + 5, "r2 AI");
    EXPECT_U64(mc_tariff_energy(&t, 2, MC_TK_ACTIVE_EXPORT), 0, "r2 AE");
    EXPECT_U64(mc_tariff_energy(&t, 2, MC_TK_REACTIVE_IMPORT), 3 * Q, "r2 RI = Q1 + Q2");
    EXPECT_U64(mc_tariff_energy(&t, 2, MC_TK_REACTIVE_EXPORT), 18, "r2 RE = Q3 + Q4");

    /* 16:00 is rate 3. Export with quadrant II (Q > 0) and III (Q < 0). */
    mc_reading_t b = rd6(0, 4 * Q, 0, Q / 2, Q / 4, 0, -100.0f, 120.0f, 1.0f);
    add_ok(&t, T(2024, 3, 4, 16, 0, 0), &b);
    EXPECT_U64(mc_tariff_energy(&t, 3, MC_TK_ACTIVE_IMPORT), 0, "r3 AI");
    EXPECT_U64(mc_tariff_energy(&t, 3, MC_TK_ACTIVE_EXPORT), 4 * Q, "r3 AE");
    EXPECT_U64(mc_tariff_energy(&t, 3, MC_TK_REACTIVE_IMPORT), Q / 2, "r3 RI");
    EXPECT_U64(mc_tariff_energy(&t, 3, MC_TK_REACTIVE_EXPORT), Q / 4, "r3 RE");

    /* 02:00 next day is rate 4: quadrant IV only. */
    mc_reading_t c = rd6(Q, 0, 0, 0, 0, 9 * Q + 1, 50.0f, 60.0f, 1.0f);
    add_ok(&t, T(2024, 3, 5, 2, 0, 0), &c);
    EXPECT_U64(mc_tariff_energy(&t, 4, MC_TK_REACTIVE_EXPORT), 9 * Q + 1, "r4 RE");
    EXPECT_U64(mc_tariff_energy(&t, 4, MC_TK_REACTIVE_IMPORT), 0, "r4 RI");
    EXPECT_U64(mc_tariff_energy(&t, 4, MC_TK_ACTIVE_IMPORT), Q, "r4 AI");

    /* Rate 1 untouched; totals are the sums. */
    for (unsigned k = 0; k < MC_TK_COUNT; k++) {
        EXPECT_U64(mc_tariff_energy(&t, 1, (mc_tariff_kind)k), 0, "r1 kind %u", k);
    }
    EXPECT_U64(mc_tariff_energy(&t, 0, MC_TK_ACTIVE_IMPORT), 4 * Q + 5, "total AI");
    EXPECT_U64(mc_tariff_energy(&t, 0, MC_TK_ACTIVE_EXPORT), 4 * Q, "total AE");
    EXPECT_U64(mc_tariff_energy(&t, 0, MC_TK_REACTIVE_IMPORT), 3 * Q + Q / 2, "total RI");
    EXPECT_U64(mc_tariff_energy(&t, 0, MC_TK_REACTIVE_EXPORT), 18 + Q / 4 + 9 * Q + 1, "total RE");
    /* Out of range arguments. */
    assert_true(mc_tariff_energy(&t, 5, MC_TK_ACTIVE_IMPORT) == 0);
    assert_true(mc_tariff_energy(&t, 1, MC_TK_COUNT) == 0);
    assert_true(mc_tariff_energy(NULL, 0, MC_TK_ACTIVE_IMPORT) == 0);
    assert_int_equal(mc_tariff_add(&t, T(2024, 3, 5, 3, 0, 0), NULL), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_add(NULL, T(2024, 3, 5, 3, 0, 0), &c), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_update(NULL, T(2024, 3, 5, 3, 0, 0)), MC_ERR_INVAL);
}

static void test_booking_each_increment_at_rate_boundaries(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 4, 0, 0, 0)), MC_OK);
    for (unsigned k = 0; k < sizeof(kpm31_probe) / sizeof(kpm31_probe[0]); k++) {
        const mc_time_t w = T(2024, 3, 4, kpm31_probe[k].h, kpm31_probe[k].m, kpm31_probe[k].s);
        uint64_t before[MC_TARIFF_RATES + 1];
        for (unsigned r = 0; r <= MC_TARIFF_RATES; r++) {
            before[r] = mc_tariff_energy(&t, r, MC_TK_ACTIVE_EXPORT);
        }
        const uint64_t inc = (k + 1u) * Q + k * 1000u + 1u;
        mc_reading_t x = rd6(0, inc, 0, 0, 0, 0, 0.0f, 0.0f, 1.0f);
        add_ok(&t, w, &x);
        for (unsigned r = 1; r <= MC_TARIFF_RATES; r++) {
            uint64_t grew = mc_tariff_energy(&t, r, MC_TK_ACTIVE_EXPORT) - before[r];
            EXPECT_U64(grew, (int)r == kpm31_probe[k].rate ? inc : 0u, "increment at %s, rate %u", ts(w), r);
        }
        EXPECT_U64(mc_tariff_energy(&t, 0, MC_TK_ACTIVE_EXPORT) - before[0], inc, "total at %s", ts(w));
    }
}

static void test_booking_random_totals_exact(void **state)
{
    (void)state;
    static mc_tariff_t t;
    static refsched_t r;
    mc_tariff_schedule_t s;
    sched_s1(&s);
    ref_build(&r, &s);
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    mc_time_t w = T(2024, 5, 30, 7, 13, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, w), MC_OK);
    assert_int_equal(mc_tariff_set_schedule(&t, &s), MC_OK);
    uint64_t fed[MC_TARIFF_RATES + 1][MC_TK_COUNT];
    memset(fed, 0, sizeof(fed));
    g_rng = 0x9E3779B97F4A7C15ull;
    for (unsigned i = 0; i < 30000; i++) {
        w += 1u + (mc_time_t)(rnd() % 2400u);
        uint64_t q[6];
        for (unsigned k = 0; k < 6; k++) {
            q[k] = rnd() % 4u == 0u ? 0u : rnd() % (7u * Q); /* up to 7 Wh, any fraction */
        }
        mc_reading_t x = rd6(q[0], q[1], q[2], q[3], q[4], q[5], 0.0f, 0.0f, 1.0f);
        add_ok(&t, w, &x);
        const int rate = ref_rate(&r, w);
        fed[rate][MC_TK_ACTIVE_IMPORT] += q[0];
        fed[rate][MC_TK_ACTIVE_EXPORT] += q[1];
        fed[rate][MC_TK_REACTIVE_IMPORT] += q[2] + q[3];
        fed[rate][MC_TK_REACTIVE_EXPORT] += q[4] + q[5];
    }
    for (unsigned k = 0; k < MC_TK_COUNT; k++) {
        uint64_t sum = 0, sum_lib = 0;
        for (unsigned rr = 1; rr <= MC_TARIFF_RATES; rr++) {
            EXPECT_U64(mc_tariff_energy(&t, rr, (mc_tariff_kind)k), fed[rr][k], "rate %u kind %u", rr, k);
            sum += fed[rr][k];
            sum_lib += mc_tariff_energy(&t, rr, (mc_tariff_kind)k);
        }
        EXPECT_U64(mc_tariff_energy(&t, 0, (mc_tariff_kind)k), sum, "total kind %u = fed", k);
        EXPECT_U64(mc_tariff_energy(&t, 0, (mc_tariff_kind)k), sum_lib, "total kind %u = sum of rates", k);
    }
}

/* ======================================================================== */
/* Combination                                                               */

static void run_combination(mc_combination ca, mc_combination cr)
{
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    cfg.active_combination = ca;
    cfg.reactive_combination = cr;
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 4, 0, 0, 0)), MC_OK);
    /* Rate 2 (11:00): import 7.25 Wh, export 10.5 Wh; reactive import 2 + 2.75 = 4.75, export 9 + 0.25 = 9.25. */
    mc_reading_t a = rd6(7 * Q + Q / 4, 10 * Q + Q / 2, 2 * Q, 2 * Q + 3 * Q / 4, 9 * Q, Q / 4, 0, 0, 1);
    add_ok(&t, T(2024, 3, 4, 11, 0, 0), &a);
    /* Rate 3 (16:00): import 3 Wh; reactive export 5 (Q4). */
    mc_reading_t b = rd6(3 * Q, 0, 0, 0, 0, 5 * Q, 0, 0, 1);
    add_ok(&t, T(2024, 3, 4, 16, 0, 0), &b);

    /* Wh per rate: {import, export} active and reactive. */
    const double ai[5] = {0, 0, 7.25, 3, 0}, ae[5] = {0, 0, 10.5, 0, 0};
    const double ri[5] = {0, 0, 4.75, 0, 0}, re[5] = {0, 0, 9.25, 5, 0};
    double act[5] = {0}, rea[5] = {0};
    for (unsigned r = 1; r <= 4; r++) {
        act[r] = ca == MC_COMBINE_IMPORT_MINUS_EXPORT ? ai[r] - ae[r]
                 : ca == MC_COMBINE_IMPORT_ONLY       ? ai[r]
                                                      : ai[r] + ae[r];
        rea[r] = cr == MC_COMBINE_IMPORT_MINUS_EXPORT ? ri[r] - re[r]
                 : cr == MC_COMBINE_IMPORT_ONLY       ? ri[r]
                                                      : ri[r] + re[r];
        act[0] += act[r];
        rea[0] += rea[r];
    }
    for (unsigned r = 0; r <= 4; r++) {
        float v = -1;
        assert_int_equal(mc_tariff_month_kwh(&t, 0, r, MC_COMBINED_ACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, act[r] / 1000.0, 1e-8, "this month active rate %u comb %d", r, ca);
        assert_int_equal(mc_tariff_month_kwh(&t, 0, r, MC_COMBINED_REACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, rea[r] / 1000.0, 1e-8, "this month reactive rate %u comb %d", r, cr);
        EXPECT_NEAR(mc_tariff_combined_kwh(&t, r, MC_COMBINED_ACTIVE), act[r] / 1000.0, 1e-8, "lifetime active r%u", r);
        EXPECT_NEAR(mc_tariff_combined_kwh(&t, r, MC_COMBINED_REACTIVE), rea[r] / 1000.0, 1e-8, "lifetime reactive r%u",
                    r);
        /* Never frozen: history reads 0. */
        assert_int_equal(mc_tariff_month_kwh(&t, 1, r, MC_COMBINED_ACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, 0.0, 0.0, "history before any freeze");
    }

    /* Settlement: whole Wh of each kind go to history, combined; the residues stay. */
    assert_true(update_ok(&t, T(2024, 4, 1, 0, 0, 0)) & MC_TEV_FREEZE);
    double hact[5] = {0}, hrea[5] = {0}, mact[5] = {0}, mrea[5] = {0};
    for (unsigned r = 1; r <= 4; r++) {
        hact[r] = (double)combine_ref(ca, (int64_t)floor(ai[r]), (int64_t)floor(ae[r]));
        hrea[r] = (double)combine_ref(cr, (int64_t)floor(ri[r]), (int64_t)floor(re[r]));
        mact[r] = act[r] - hact[r];
        mrea[r] = rea[r] - hrea[r];
        hact[0] += hact[r];
        hrea[0] += hrea[r];
        mact[0] += mact[r];
        mrea[0] += mrea[r];
        EXPECT_INT(t.history[0].active_wh[r - 1], (long long)hact[r], "history active Wh r%u comb %d", r, ca);
        EXPECT_INT(t.history[0].reactive_varh[r - 1], (long long)hrea[r], "history reactive varh r%u comb %d", r, cr);
    }
    for (unsigned r = 0; r <= 4; r++) {
        float v = -1;
        assert_int_equal(mc_tariff_month_kwh(&t, 1, r, MC_COMBINED_ACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, hact[r] / 1000.0, 1e-8, "history active r%u comb %d", r, ca);
        assert_int_equal(mc_tariff_month_kwh(&t, 1, r, MC_COMBINED_REACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, hrea[r] / 1000.0, 1e-8, "history reactive r%u comb %d", r, cr);
        assert_int_equal(mc_tariff_month_kwh(&t, 0, r, MC_COMBINED_ACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, mact[r] / 1000.0, 1e-8, "residue active r%u comb %d", r, ca);
        assert_int_equal(mc_tariff_month_kwh(&t, 0, r, MC_COMBINED_REACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, mrea[r] / 1000.0, 1e-8, "residue reactive r%u comb %d", r, cr);
        /* Lifetime unchanged by the settlement. */
        EXPECT_NEAR(mc_tariff_combined_kwh(&t, r, MC_COMBINED_ACTIVE), act[r] / 1000.0, 1e-8, "lifetime active r%u", r);
        EXPECT_NEAR(mc_tariff_combined_kwh(&t, r, MC_COMBINED_REACTIVE), rea[r] / 1000.0, 1e-8, "lifetime reactive r%u",
                    r);
    }
    /* One more month: the history moves to ago = 2. */
    assert_true(update_ok(&t, T(2024, 5, 1, 0, 0, 0)) & MC_TEV_FREEZE);
    float v = 0;
    assert_int_equal(mc_tariff_month_kwh(&t, 2, 0, MC_COMBINED_ACTIVE, &v), MC_OK);
    EXPECT_NEAR(v, hact[0] / 1000.0, 1e-8, "history -2 active");
    assert_int_equal(mc_tariff_month_kwh(&t, 1, 0, MC_COMBINED_ACTIVE, &v), MC_OK);
    EXPECT_NEAR(v, 0.0, 1e-12, "history -1 active (no whole Wh in April)");
}

static void test_combination_import_plus_export(void **state)
{
    (void)state;
    run_combination(MC_COMBINE_IMPORT_PLUS_EXPORT, MC_COMBINE_IMPORT_PLUS_EXPORT);
}

static void test_combination_import_minus_export(void **state)
{
    (void)state;
    run_combination(MC_COMBINE_IMPORT_MINUS_EXPORT, MC_COMBINE_IMPORT_MINUS_EXPORT);
    /* Hand values: active rate 2 = 7.25 - 10.5 = -3.25 Wh; history 7 - 10 = -3 Wh. */
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    cfg.active_combination = MC_COMBINE_IMPORT_MINUS_EXPORT;
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 4, 0, 0, 0)), MC_OK);
    mc_reading_t a = rd6(7 * Q + Q / 4, 10 * Q + Q / 2, 0, 0, 0, 0, 0, 0, 1);
    add_ok(&t, T(2024, 3, 4, 11, 0, 0), &a);
    EXPECT_NEAR(mc_tariff_combined_kwh(&t, 2, MC_COMBINED_ACTIVE), -0.00325, 1e-9, "net lifetime");
    update_ok(&t, T(2024, 4, 1, 0, 0, 0));
    EXPECT_INT(t.history[0].active_wh[1], -3, "net history");
    float v = 0;
    assert_int_equal(mc_tariff_month_kwh(&t, 1, 0, MC_COMBINED_ACTIVE, &v), MC_OK);
    EXPECT_NEAR(v, -0.003, 1e-9, "net history kWh");
    assert_int_equal(mc_tariff_month_kwh(&t, 0, 0, MC_COMBINED_ACTIVE, &v), MC_OK);
    EXPECT_NEAR(v, -0.00025, 1e-9, "net residue 0.25 - 0.5 Wh");
}

static void test_combination_import_only(void **state)
{
    (void)state;
    run_combination(MC_COMBINE_IMPORT_ONLY, MC_COMBINE_IMPORT_ONLY);
    run_combination(MC_COMBINE_IMPORT_ONLY, MC_COMBINE_IMPORT_MINUS_EXPORT); /* independent rules */
    run_combination(MC_COMBINE_IMPORT_PLUS_EXPORT, MC_COMBINE_IMPORT_ONLY);
}

static void test_month_kwh_arguments(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 4, 0, 0, 0)), MC_OK);
    float v;
    assert_int_equal(mc_tariff_month_kwh(&t, 12, 0, MC_COMBINED_ACTIVE, &v), MC_OK);
    assert_int_equal(mc_tariff_month_kwh(&t, 13, 0, MC_COMBINED_ACTIVE, &v), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_month_kwh(&t, 0, 5, MC_COMBINED_ACTIVE, &v), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_month_kwh(&t, 0, 0, (mc_combined)2, &v), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_month_kwh(&t, 0, 0, MC_COMBINED_ACTIVE, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_month_kwh(NULL, 0, 0, MC_COMBINED_ACTIVE, &v), MC_ERR_INVAL);
}

/* ======================================================================== */
/* Settlement                                                                */

static void test_settlement_28th_at_noon_not_the_1st(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    cfg.settle_day = 28;
    cfg.settle_hour = 12;
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 1, 15, 8, 0, 0)), MC_OK);
    mc_reading_t one = rd_ai(Q), two = rd_ai(2 * Q), four = rd_ai(4 * Q);
    add_ok(&t, T(2024, 1, 20, 10, 0, 0), &one);
    /* No freeze at the 1st or at midnight. */
    EXPECT_INT(update_ok(&t, T(2024, 1, 28, 0, 0, 0)) & MC_TEV_FREEZE, 0, "28th 00:00");
    EXPECT_INT(update_ok(&t, T(2024, 1, 28, 11, 59, 58)) & MC_TEV_FREEZE, 0, "28th 11:59:58");
    add_ok(&t, T(2024, 1, 28, 11, 59, 59), &two); /* still January's month */
    assert_int_equal(ev_count(MC_TEV_FREEZE), 0);
    int ev = mc_tariff_add(&t, T(2024, 1, 28, 12, 0, 0), &four); /* freeze first, then booked in the new month */
    assert_true(ev >= 0 && (ev & MC_TEV_FREEZE));
    assert_int_equal(ev_count(MC_TEV_FREEZE), 1);
    EXPECT_U64(t.history[0].frozen_at, T(2024, 1, 28, 12, 0, 0), "frozen_at");
    EXPECT_INT(t.history[0].active_wh[0] + t.history[0].active_wh[1] + t.history[0].active_wh[2] +
                   t.history[0].active_wh[3],
               3, "January: 1 + 2 Wh");
    float v;
    assert_int_equal(mc_tariff_month_kwh(&t, 0, 0, MC_COMBINED_ACTIVE, &v), MC_OK);
    EXPECT_NEAR(v, 0.004, 1e-9, "this month: 4 Wh");
    /* The event carries the settlement time. */
    assert_int_equal(g_ev.nfreeze, 1);
    EXPECT_U64(g_ev.freeze[0], T(2024, 1, 28, 12, 0, 0), "FREEZE data");
    /* Not at Feb 1, nor on Feb 28 before noon. */
    EXPECT_INT(update_ok(&t, T(2024, 2, 1, 0, 0, 0)) & MC_TEV_FREEZE, 0, "Feb 1");
    EXPECT_INT(update_ok(&t, T(2024, 2, 28, 11, 59, 59)) & MC_TEV_FREEZE, 0, "Feb 28 11:59:59");
    EXPECT_INT(update_ok(&t, T(2024, 2, 28, 12, 0, 0)) & MC_TEV_FREEZE, MC_TEV_FREEZE, "Feb 28 12:00");
    EXPECT_U64(t.history[0].frozen_at, T(2024, 2, 28, 12, 0, 0), "frozen_at Feb");
    EXPECT_U64(t.history[1].frozen_at, T(2024, 1, 28, 12, 0, 0), "history[1]");
    EXPECT_INT(t.history[0].active_wh[0] + t.history[0].active_wh[1] + t.history[0].active_wh[2] +
                   t.history[0].active_wh[3],
               4, "February: 4 Wh");
    /* Feb 29 and Mar 1: nothing. */
    EXPECT_INT(update_ok(&t, T(2024, 3, 1, 0, 0, 0)) & MC_TEV_FREEZE, 0, "Mar 1");
    assert_int_equal(ev_count(MC_TEV_FREEZE), 2);
}

static void test_settlement_month_end_and_year_end(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 12, 30, 10, 0, 0)), MC_OK);
    mc_reading_t five = rd_ai(5 * Q), two = rd_ai(2 * Q);
    add_ok(&t, T(2024, 12, 31, 23, 59, 59), &five);
    assert_int_equal(ev_count(MC_TEV_FREEZE), 0);
    int ev = mc_tariff_add(&t, T(2025, 1, 1, 0, 0, 0), &two);
    assert_true(ev >= 0 && (ev & MC_TEV_FREEZE));
    EXPECT_U64(t.history[0].frozen_at, T(2025, 1, 1, 0, 0, 0), "year end");
    EXPECT_INT(t.history[0].active_wh[3], 5, "December (rate 4 at 23:59:59)");
    EXPECT_U64(t.month[3][MC_TK_ACTIVE_IMPORT], 2 * Q, "January (rate 4 at 00:00)");
    /* Month ends of a common year: Jan 31 -> Feb 1, Feb 28 -> Mar 1, Apr 30 -> May 1. */
    static const unsigned ends[][3] = {{2025, 1, 31}, {2025, 2, 28}, {2025, 3, 31}, {2025, 4, 30}};
    for (unsigned k = 0; k < 4; k++) {
        mc_time_t last = T(ends[k][0], ends[k][1], ends[k][2], 23, 59, 59);
        EXPECT_INT(update_ok(&t, last) & MC_TEV_FREEZE, 0, "at %s", ts(last));
        EXPECT_INT(update_ok(&t, last + 1u) & MC_TEV_FREEZE, MC_TEV_FREEZE, "at %s", ts(last + 1u));
        EXPECT_U64(t.history[0].frozen_at, last + 1u, "frozen_at");
    }
    assert_int_equal(ev_count(MC_TEV_FREEZE), 5);
}

/* Whole-Wh pattern of increment k (indexes: AI, AE, Q1, Q2, Q3, Q4). */
static void pattern_wh(uint64_t k, uint64_t wh[6])
{
    wh[0] = k % 5u;
    wh[1] = (k / 3u) % 4u == 0u ? 2u : 0u;
    wh[2] = k % 3u == 0u ? 1u : 0u;
    wh[3] = k % 11u == 0u ? 3u : 0u;
    wh[4] = k % 7u == 0u ? 1u : 0u;
    wh[5] = (k / 5u) % 2u;
}

/* A year of minute increments in whole Wh under S1; history compared exactly with the model. */
static void run_year(unsigned sd, unsigned sh, mc_time_t start, mc_time_t end, mc_time_t step)
{
    static mc_tariff_t t;
    static refsched_t rs, rdef;
    static uint64_t exp_wh[14][MC_TARIFF_RATES][MC_TK_COUNT];
    memset(exp_wh, 0, sizeof(exp_wh));
    mc_tariff_schedule_t s1, kp;
    sched_s1(&s1);
    sched_kpm31(&kp);
    ref_build(&rs, &s1);
    ref_build(&rdef, &kp);
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    cfg.settle_day = (uint8_t)sd;
    cfg.settle_hour = (uint8_t)sh;
    assert_int_equal(mc_tariff_init(&t, &cfg, start), MC_OK);
    assert_int_equal(mc_tariff_set_schedule(&t, &s1), MC_OK);

    mc_time_t pts[13];
    const unsigned npts = ref_points(sd, sh, start, end, pts, 13);
    assert_true(npts == 12);
    unsigned mi = 0, exp_rc = 0;
    int prev_rate = ref_rate(&rdef, start); /* init puts the default schedule's rate in force */
    uint64_t k = 0;
    for (mc_time_t x = start; x <= end; x += step, k++) {
        while (mi < npts && pts[mi] <= x) {
            mi++;
        }
        const int rate = ref_rate(&rs, x);
        if (rate != prev_rate) {
            exp_rc++;
            prev_rate = rate;
        }
        uint64_t wh[6];
        pattern_wh(k, wh);
        mc_reading_t rd = rd6(wh[0] * Q, wh[1] * Q, wh[2] * Q, wh[3] * Q, wh[4] * Q, wh[5] * Q, 0.0f, 0.0f, 60.0f);
        const int ev = mc_tariff_add(&t, x, &rd);
        if (ev < 0) {
            fail_msg("add at %s: %d", ts(x), ev);
        }
        exp_wh[mi][rate - 1][MC_TK_ACTIVE_IMPORT] += wh[0];
        exp_wh[mi][rate - 1][MC_TK_ACTIVE_EXPORT] += wh[1];
        exp_wh[mi][rate - 1][MC_TK_REACTIVE_IMPORT] += wh[2] + wh[3];
        exp_wh[mi][rate - 1][MC_TK_REACTIVE_EXPORT] += wh[4] + wh[5];
    }
    /* Freezes: exactly the model's points, in order, once each. */
    EXPECT_INT(g_ev.nfreeze, npts, "freezes for settle %u %02u:00", sd, sh);
    for (unsigned j = 0; j < npts; j++) {
        EXPECT_U64(g_ev.freeze[j], pts[j], "freeze %u", j);
    }
    EXPECT_INT(ev_count(MC_TEV_RATE_CHANGE), exp_rc, "rate changes");
    EXPECT_INT(g_ev.bad, 0, "event types");
    /* History: history[j] closed at pts[npts-1-j]. */
    for (unsigned j = 0; j < MC_TARIFF_HISTORY_MONTHS; j++) {
        const unsigned m = npts - 1u - j;
        const mc_tariff_month_t *h = &t.history[j];
        EXPECT_U64(h->frozen_at, pts[m], "history[%u].frozen_at", j);
        int64_t ta = 0, tr = 0;
        for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
            const int64_t a = (int64_t)(exp_wh[m][r][MC_TK_ACTIVE_IMPORT] + exp_wh[m][r][MC_TK_ACTIVE_EXPORT]);
            const int64_t q = (int64_t)(exp_wh[m][r][MC_TK_REACTIVE_IMPORT] + exp_wh[m][r][MC_TK_REACTIVE_EXPORT]);
            EXPECT_INT(h->active_wh[r], a, "history[%u] (closed %s) active rate %u", j, ts(pts[m]), r + 1);
            EXPECT_INT(h->reactive_varh[r], q, "history[%u] (closed %s) reactive rate %u", j, ts(pts[m]), r + 1);
            float v;
            assert_int_equal(mc_tariff_month_kwh(&t, j + 1u, r + 1u, MC_COMBINED_ACTIVE, &v), MC_OK);
            EXPECT_NEAR(v, (double)a / 1000.0, 1e-6 * (double)a / 1000.0 + 1e-9, "month_kwh ago %u rate %u", j + 1,
                        r + 1);
            ta += a;
            tr += q;
        }
        float v;
        assert_int_equal(mc_tariff_month_kwh(&t, j + 1u, 0, MC_COMBINED_ACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, (double)ta / 1000.0, 1e-6 * (double)ta / 1000.0, "month_kwh ago %u total", j + 1);
        assert_int_equal(mc_tariff_month_kwh(&t, j + 1u, 0, MC_COMBINED_REACTIVE, &v), MC_OK);
        EXPECT_NEAR(v, (double)tr / 1000.0, 1e-6 * (double)tr / 1000.0, "month_kwh ago %u reactive total", j + 1);
        EXPECT_NEAR(h->max_demand_w, 0.0, 0.0, "no power fed");
    }
    /* This month and lifetime, exact quanta. */
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        for (unsigned kk = 0; kk < MC_TK_COUNT; kk++) {
            EXPECT_U64(t.month[r][kk], exp_wh[npts][r][kk] * Q, "this month rate %u kind %u", r + 1, kk);
            uint64_t life = 0;
            for (unsigned m = 0; m <= npts; m++) {
                life += exp_wh[m][r][kk];
            }
            EXPECT_U64(mc_tariff_energy(&t, r + 1u, (mc_tariff_kind)kk), life * Q, "lifetime rate %u kind %u", r + 1,
                       kk);
        }
    }
}

static void test_year_2024_settle_28th_noon(void **state)
{
    (void)state;
    /* Freezes Jan 28 12:00 .. Dec 28 12:00 (incl. Feb 28 12:00 of the leap year; Feb 29 lands in March's month). */
    run_year(28, 12, T(2024, 1, 1, 0, 0, 0), T(2025, 1, 1, 0, 0, 0), 60u);
}

static void test_year_2024_settle_1st_midnight(void **state)
{
    (void)state;
    /* Freezes Feb 1 .. Jan 1 2025 (year end), with Feb 29 in February's month. */
    run_year(1, 0, T(2024, 1, 1, 0, 0, 0), T(2025, 1, 1, 0, 0, 0), 60u);
}

/* Fractional increments: the model carries the residue below 1 Wh per rate and kind. */
static void run_fractional(mc_combination comb, uint64_t seed)
{
    static mc_tariff_t t;
    static refsched_t rs;
    mc_tariff_schedule_t s1;
    sched_s1(&s1);
    ref_build(&rs, &s1);
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    cfg.active_combination = comb;
    cfg.reactive_combination = comb;
    const mc_time_t start = T(2024, 1, 1, 0, 0, 0), end = T(2024, 12, 15, 0, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, start), MC_OK);
    assert_int_equal(mc_tariff_set_schedule(&t, &s1), MC_OK);
    mc_time_t pts[12];
    const unsigned npts = ref_points(1, 0, start, end, pts, 12);
    assert_int_equal(npts, 11);

    uint64_t mq[MC_TARIFF_RATES][MC_TK_COUNT], fed[MC_TARIFF_RATES][MC_TK_COUNT];
    int64_t ha[12][MC_TARIFF_RATES], hr[12][MC_TARIFF_RATES];
    memset(mq, 0, sizeof(mq));
    memset(fed, 0, sizeof(fed));
    unsigned pi = 0;
    g_rng = seed;
    mc_time_t x = start;
    for (;;) {
        x += 1u + (mc_time_t)(rnd() % 7200u);
        if (x >= end) {
            break;
        }
        while (pi < npts && pts[pi] <= x) {
            for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
                int64_t whole[MC_TK_COUNT];
                for (unsigned k = 0; k < MC_TK_COUNT; k++) {
                    whole[k] = (int64_t)(mq[r][k] / Q);
                    mq[r][k] -= (uint64_t)whole[k] * Q;
                }
                ha[pi][r] = combine_ref(comb, whole[MC_TK_ACTIVE_IMPORT], whole[MC_TK_ACTIVE_EXPORT]);
                hr[pi][r] = combine_ref(comb, whole[MC_TK_REACTIVE_IMPORT], whole[MC_TK_REACTIVE_EXPORT]);
            }
            pi++;
        }
        if (update_ok(&t, x) & MC_TEV_FREEZE) {
            /* Right after a settlement only the residue below 1 Wh is left. */
            for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
                for (unsigned k = 0; k < MC_TK_COUNT; k++) {
                    if (t.month[r][k] >= Q) {
                        fail_msg("after freeze at %s rate %u kind %u holds %llu quanta", ts(x), r + 1, k,
                                 (unsigned long long)t.month[r][k]);
                    }
                }
            }
        }
        uint64_t q[6];
        for (unsigned k = 0; k < 6; k++) {
            q[k] = rnd() % 3u == 0u ? 0u : rnd() % (3u * Q);
        }
        mc_reading_t rd = rd6(q[0], q[1], q[2], q[3], q[4], q[5], 0.0f, 0.0f, 1.0f);
        add_ok(&t, x, &rd);
        const unsigned r = (unsigned)ref_rate(&rs, x) - 1u;
        const uint64_t kinds[MC_TK_COUNT] = {q[0], q[1], q[2] + q[3], q[4] + q[5]};
        for (unsigned k = 0; k < MC_TK_COUNT; k++) {
            mq[r][k] += kinds[k];
            fed[r][k] += kinds[k];
        }
    }
    assert_int_equal(pi, npts);
    assert_int_equal(g_ev.nfreeze, npts);
    for (unsigned j = 0; j < npts; j++) {
        const unsigned m = npts - 1u - j;
        EXPECT_U64(t.history[j].frozen_at, pts[m], "history[%u]", j);
        for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
            EXPECT_INT(t.history[j].active_wh[r], ha[m][r], "history[%u] active rate %u comb %d", j, r + 1, comb);
            EXPECT_INT(t.history[j].reactive_varh[r], hr[m][r], "history[%u] reactive rate %u comb %d", j, r + 1, comb);
        }
    }
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        for (unsigned k = 0; k < MC_TK_COUNT; k++) {
            EXPECT_U64(t.month[r][k], mq[r][k], "this month rate %u kind %u", r + 1, k);
            EXPECT_U64(mc_tariff_energy(&t, r + 1u, (mc_tariff_kind)k), fed[r][k], "lifetime rate %u kind %u", r + 1,
                       k);
        }
        /* Nothing lost, read from the instance only: sum(history) + this month == fed, to the quantum. */
        int64_t hsa = 0, hsr = 0;
        for (unsigned j = 0; j < npts; j++) {
            hsa += t.history[j].active_wh[r];
            hsr += t.history[j].reactive_varh[r];
        }
        const int64_t month_a =
            combine_ref(comb, (int64_t)t.month[r][MC_TK_ACTIVE_IMPORT], (int64_t)t.month[r][MC_TK_ACTIVE_EXPORT]);
        const int64_t month_r =
            combine_ref(comb, (int64_t)t.month[r][MC_TK_REACTIVE_IMPORT], (int64_t)t.month[r][MC_TK_REACTIVE_EXPORT]);
        const int64_t fed_a =
            combine_ref(comb, (int64_t)fed[r][MC_TK_ACTIVE_IMPORT], (int64_t)fed[r][MC_TK_ACTIVE_EXPORT]);
        const int64_t fed_r =
            combine_ref(comb, (int64_t)fed[r][MC_TK_REACTIVE_IMPORT], (int64_t)fed[r][MC_TK_REACTIVE_EXPORT]);
        EXPECT_INT(hsa * (int64_t)Q + month_a, fed_a, "active nothing lost, rate %u comb %d", r + 1, comb);
        EXPECT_INT(hsr * (int64_t)Q + month_r, fed_r, "reactive nothing lost, rate %u comb %d", r + 1, comb);
    }
}

static void test_fractional_increments_nothing_lost(void **state)
{
    (void)state;
    run_fractional(MC_COMBINE_IMPORT_PLUS_EXPORT, 0x1234567887654321ull);
    run_fractional(MC_COMBINE_IMPORT_MINUS_EXPORT, 0x0F1E2D3C4B5A6978ull);
    run_fractional(MC_COMBINE_IMPORT_ONLY, 0x5555AAAA3333CCCCull);
}

/* ======================================================================== */
/* Outages                                                                   */

static int64_t hist_total_active(const mc_tariff_month_t *h)
{
    return (int64_t)h->active_wh[0] + h->active_wh[1] + h->active_wh[2] + h->active_wh[3];
}

static void test_outage_across_one_point(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 1, 10, 12, 0, 0)), MC_OK);
    mc_reading_t a = rd_ai(5 * Q + Q / 2), b = rd_ai(2 * Q);
    add_ok(&t, T(2024, 1, 10, 12, 0, 10), &a); /* rate 1 */
    add_ok(&t, T(2024, 1, 10, 16, 0, 0), &b);  /* rate 3 */
    /* Power comes back on 2024-02-20. */
    int ev = update_ok(&t, T(2024, 2, 20, 8, 0, 0));
    assert_true(ev & MC_TEV_FREEZE);
    assert_int_equal(g_ev.nfreeze, 1);
    EXPECT_U64(g_ev.freeze[0], T(2024, 2, 1, 0, 0, 0), "made-up point");
    EXPECT_U64(t.history[0].frozen_at, T(2024, 2, 1, 0, 0, 0), "history[0]");
    EXPECT_INT(t.history[0].active_wh[0], 5, "rate 1 whole Wh");
    EXPECT_INT(t.history[0].active_wh[2], 2, "rate 3");
    EXPECT_U64(t.history[1].frozen_at, 0, "history[1] empty");
    EXPECT_U64(t.month[0][MC_TK_ACTIVE_IMPORT], Q / 2, "residue stays");
    /* Never twice. */
    EXPECT_INT(update_ok(&t, T(2024, 2, 20, 8, 0, 0)) & MC_TEV_FREEZE, 0, "same time again");
    EXPECT_INT(update_ok(&t, T(2024, 2, 29, 23, 59, 59)) & MC_TEV_FREEZE, 0, "later, same month");
    assert_int_equal(g_ev.nfreeze, 1);
}

static void test_outage_across_several_points(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 1, 10, 12, 0, 0)), MC_OK);
    mc_reading_t a = rd_ai(7 * Q + 3);
    add_ok(&t, T(2024, 1, 10, 12, 30, 0), &a);
    /* Start-up on 2024-05-15: Feb 1, Mar 1, Apr 1, May 1 are made up, once each, in order. */
    int ev = update_ok(&t, T(2024, 5, 15, 9, 0, 0));
    assert_true(ev & MC_TEV_FREEZE);
    const mc_time_t p[4] = {T(2024, 2, 1, 0, 0, 0), T(2024, 3, 1, 0, 0, 0), T(2024, 4, 1, 0, 0, 0),
                            T(2024, 5, 1, 0, 0, 0)};
    assert_int_equal(g_ev.nfreeze, 4);
    for (unsigned k = 0; k < 4; k++) {
        EXPECT_U64(g_ev.freeze[k], p[k], "freeze %u", k);
        EXPECT_U64(t.history[3 - k].frozen_at, p[k], "history[%u]", 3 - k);
    }
    EXPECT_INT(hist_total_active(&t.history[3]), 7, "first made-up month holds the energy");
    for (unsigned j = 0; j < 3; j++) {
        EXPECT_INT(hist_total_active(&t.history[j]), 0, "later made-up month %u is zero", j);
    }
    EXPECT_U64(t.history[4].frozen_at, 0, "history[4] empty");
    EXPECT_U64(t.month[0][MC_TK_ACTIVE_IMPORT], 3, "residue");
    EXPECT_INT(update_ok(&t, T(2024, 5, 31, 23, 0, 0)) & MC_TEV_FREEZE, 0, "no repeat");
    mc_reading_t b = rd_ai(3 * Q);
    add_ok(&t, T(2024, 5, 31, 23, 30, 0), &b);
    EXPECT_INT(update_ok(&t, T(2024, 6, 1, 0, 0, 0)) & MC_TEV_FREEZE, MC_TEV_FREEZE, "Jun 1");
    assert_int_equal(g_ev.nfreeze, 5);
    EXPECT_INT(hist_total_active(&t.history[0]), 3, "June freeze");
    EXPECT_INT(hist_total_active(&t.history[4]), 7, "February month moved to [4]");

    /* The same with settlement on the 28th at 12:00: up to Mar 28 11:59:59 two points, then the third. */
    cfg_events(&cfg);
    cfg.settle_day = 28;
    cfg.settle_hour = 12;
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 1, 10, 12, 0, 0)), MC_OK);
    add_ok(&t, T(2024, 1, 10, 12, 30, 0), &a);
    update_ok(&t, T(2024, 3, 28, 11, 59, 59));
    assert_int_equal(g_ev.nfreeze, 2);
    EXPECT_U64(g_ev.freeze[0], T(2024, 1, 28, 12, 0, 0), "Jan 28 noon");
    EXPECT_U64(g_ev.freeze[1], T(2024, 2, 28, 12, 0, 0), "Feb 28 noon");
    EXPECT_INT(hist_total_active(&t.history[1]), 7, "first made-up");
    EXPECT_INT(hist_total_active(&t.history[0]), 0, "second made-up");
    update_ok(&t, T(2024, 3, 28, 12, 0, 0));
    assert_int_equal(g_ev.nfreeze, 3);
}

static void test_outage_more_than_12_points(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 1, 10, 12, 0, 0)), MC_OK);
    mc_reading_t a = rd_ai(7 * Q + Q / 2);
    add_ok(&t, T(2024, 1, 10, 12, 30, 0), &a);
    /* 15 points missed: 2024-02-01 .. 2025-04-01. The history holds the last 12 (2024-05-01 .. 2025-04-01),
     * all zero: the energy belongs to the month closed on 2024-02-01, which is older than 12 months. */
    update_ok(&t, T(2025, 4, 15, 0, 0, 0));
    mc_time_t pts[16];
    const unsigned n = ref_points(1, 0, T(2024, 1, 10, 12, 0, 0), T(2025, 4, 15, 0, 0, 0), pts, 16);
    assert_int_equal(n, 15);
    for (unsigned j = 0; j < MC_TARIFF_HISTORY_MONTHS; j++) {
        EXPECT_U64(t.history[j].frozen_at, pts[n - 1u - j], "history[%u]", j);
        EXPECT_INT(hist_total_active(&t.history[j]), 0, "history[%u] (closed %s) must be zero", j,
                   ts(pts[n - 1u - j]));
        EXPECT_NEAR(t.history[j].max_demand_w, 0.0, 0.0, "history[%u] demand", j);
    }
    /* At least the 12 kept were made, never more than the points passed, in increasing order. */
    assert_true(g_ev.nfreeze >= 12 && g_ev.nfreeze <= n);
    for (unsigned k = 1; k < g_ev.nfreeze; k++) {
        assert_true(g_ev.freeze[k] > g_ev.freeze[k - 1]);
    }
    EXPECT_U64(g_ev.freeze[g_ev.nfreeze - 1u], pts[n - 1u], "last made");
    EXPECT_U64(t.month[0][MC_TK_ACTIVE_IMPORT], Q / 2, "residue below 1 Wh stays");
    EXPECT_U64(mc_tariff_energy(&t, 0, MC_TK_ACTIVE_IMPORT), 7 * Q + Q / 2, "lifetime keeps it");
    const unsigned made = g_ev.nfreeze;
    EXPECT_INT(update_ok(&t, T(2025, 4, 30, 0, 0, 0)) & MC_TEV_FREEZE, 0, "never twice");
    assert_int_equal(g_ev.nfreeze, made);

    /* Decades: to the very last second the library handles. */
    update_ok(&t, MC_TIME_MAX);
    for (unsigned j = 0; j < MC_TARIFF_HISTORY_MONTHS; j++) {
        EXPECT_U64(t.history[j].frozen_at, T(2099, 12 - j, 1, 0, 0, 0), "history[%u] after jump to 2099", j);
    }
    const unsigned made2 = g_ev.nfreeze;
    EXPECT_INT(update_ok(&t, MC_TIME_MAX) & MC_TEV_FREEZE, 0, "no point after 2099-12-01");
    assert_int_equal(g_ev.nfreeze, made2);
}

/* ======================================================================== */
/* Clock handling and events                                                 */

static void test_clock_set_forward_across_rate_and_settlement(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 31, 22, 50, 0)), MC_OK);
    uint64_t r3 = 0;
    for (unsigned m = 51; m <= 59; m++) { /* 22:51..22:59: rate 3 */
        mc_reading_t x = rd_ai(Q + Q / 3);
        add_ok(&t, T(2024, 3, 31, 22, m, 0), &x);
        r3 += Q + Q / 3;
    }
    const unsigned before = g_ev.total;
    const mc_time_t old_t = T(2024, 3, 31, 22, 59, 30), new_t = T(2024, 4, 1, 2, 0, 0);
    int ev = mc_tariff_clock_set(&t, old_t, new_t);
    assert_true(ev >= 0);
    EXPECT_INT(ev & (MC_TEV_CLOCK_SET | MC_TEV_FREEZE | MC_TEV_RATE_CHANGE),
               MC_TEV_CLOCK_SET | MC_TEV_FREEZE | MC_TEV_RATE_CHANGE, "returned bits");
    EXPECT_INT(ev & MC_TEV_CLOCK_BACKWARD, 0, "forward set is not backward");
    /* Callback order: CLOCK_SET (old, new) first, then the freeze at the point. */
    assert_true(g_ev.n > before);
    EXPECT_INT(g_ev.type[before], MC_TEV_CLOCK_SET, "first event");
    EXPECT_U64(g_ev.old_t[before], old_t, "CLOCK_SET old");
    EXPECT_U64(g_ev.new_t[before], new_t, "CLOCK_SET new");
    assert_int_equal(g_ev.nfreeze, 1);
    EXPECT_U64(g_ev.freeze[0], T(2024, 4, 1, 0, 0, 0), "freeze data");
    /* After the jump: rate 4 (02:00). */
    mc_reading_t y = rd_ai(2 * Q);
    add_ok(&t, T(2024, 4, 1, 2, 0, 5), &y);
    EXPECT_INT(t.history[0].active_wh[2], (long long)(r3 / Q), "March, rate 3, whole Wh");
    EXPECT_U64(t.month[2][MC_TK_ACTIVE_IMPORT], r3 % Q, "rate 3 residue");
    EXPECT_U64(t.month[3][MC_TK_ACTIVE_IMPORT], 2 * Q, "after the jump: rate 4");
    EXPECT_U64(mc_tariff_energy(&t, 3, MC_TK_ACTIVE_IMPORT), r3, "rate 3 lifetime");
    EXPECT_U64(mc_tariff_energy(&t, 4, MC_TK_ACTIVE_IMPORT), 2 * Q, "rate 4 lifetime");
    EXPECT_U64(mc_tariff_energy(&t, 0, MC_TK_ACTIVE_IMPORT), r3 + 2 * Q, "none lost");
    update_ok(&t, T(2024, 4, 30, 23, 59, 59));
    assert_int_equal(g_ev.nfreeze, 1);
}

static void test_clock_set_backward_no_second_freeze(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 31, 20, 0, 0)), MC_OK);
    mc_reading_t four = rd_ai(4 * Q), one = rd_ai(Q), two = rd_ai(2 * Q);
    add_ok(&t, T(2024, 3, 31, 23, 30, 0), &four);
    update_ok(&t, T(2024, 4, 1, 0, 10, 0));
    assert_int_equal(g_ev.nfreeze, 1);
    add_ok(&t, T(2024, 4, 1, 0, 20, 0), &one);

    /* Set back across the point. */
    const unsigned before = g_ev.total;
    const mc_time_t old_t = T(2024, 4, 1, 0, 20, 0), new_t = T(2024, 3, 31, 23, 40, 0);
    int ev = mc_tariff_clock_set(&t, old_t, new_t);
    assert_true(ev >= 0);
    EXPECT_INT(ev & MC_TEV_CLOCK_SET, MC_TEV_CLOCK_SET, "CLOCK_SET reported");
    EXPECT_INT(ev & MC_TEV_FREEZE, 0, "no freeze going back");
    assert_true(g_ev.n > before);
    EXPECT_INT(g_ev.type[before], MC_TEV_CLOCK_SET, "event");
    EXPECT_U64(g_ev.old_t[before], old_t, "CLOCK_SET old");
    EXPECT_U64(g_ev.new_t[before], new_t, "CLOCK_SET new");
    /* Energy at the repeated time goes into the month under way (after the Apr 1 freeze). */
    add_ok(&t, T(2024, 3, 31, 23, 50, 0), &two);
    EXPECT_INT(hist_total_active(&t.history[0]), 4, "history untouched");
    /* Passing Apr 1 00:00 again: no freeze. */
    for (mc_time_t w = T(2024, 3, 31, 23, 55, 0); w < T(2024, 5, 1, 0, 0, 0); w += 3600u) {
        EXPECT_INT(update_ok(&t, w) & MC_TEV_FREEZE, 0, "at %s", ts(w));
    }
    assert_int_equal(g_ev.nfreeze, 1);
    EXPECT_INT(update_ok(&t, T(2024, 5, 1, 0, 0, 0)) & MC_TEV_FREEZE, MC_TEV_FREEZE, "May 1");
    assert_int_equal(g_ev.nfreeze, 2);
    EXPECT_U64(t.history[0].frozen_at, T(2024, 5, 1, 0, 0, 0), "May");
    EXPECT_INT(hist_total_active(&t.history[0]), 3, "April: 1 + 2 Wh");
    EXPECT_U64(t.history[1].frozen_at, T(2024, 4, 1, 0, 0, 0), "April point once");
    EXPECT_INT(hist_total_active(&t.history[1]), 4, "March");
    EXPECT_U64(t.history[2].frozen_at, 0, "no duplicate");

    /* Back three months, then forward day by day: nothing until after the last point made (May 1). */
    assert_true(mc_tariff_clock_set(&t, T(2024, 5, 2, 0, 0, 0), T(2024, 2, 10, 0, 0, 0)) >= 0);
    for (mc_time_t w = T(2024, 2, 10, 0, 0, 0); w < T(2024, 6, 1, 0, 0, 0); w += 86400u / 4u) {
        EXPECT_INT(update_ok(&t, w) & MC_TEV_FREEZE, 0, "replay at %s", ts(w));
    }
    EXPECT_INT(update_ok(&t, T(2024, 6, 1, 0, 0, 0)) & MC_TEV_FREEZE, MC_TEV_FREEZE, "Jun 1");
    assert_int_equal(g_ev.nfreeze, 3);
    EXPECT_U64(t.history[0].frozen_at, T(2024, 6, 1, 0, 0, 0), "June");
    EXPECT_U64(t.history[1].frozen_at, T(2024, 5, 1, 0, 0, 0), "May");
    EXPECT_U64(t.history[2].frozen_at, T(2024, 4, 1, 0, 0, 0), "April");
}

static void test_update_backwards_reports_clock_backward(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    const mc_time_t t0 = T(2024, 6, 12, 13, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    EXPECT_INT(update_ok(&t, t0 + 100u) & MC_TEV_CLOCK_BACKWARD, 0, "forward");
    const unsigned before = g_ev.n;
    int ev = update_ok(&t, t0 + 50u);
    EXPECT_INT(ev & MC_TEV_CLOCK_BACKWARD, MC_TEV_CLOCK_BACKWARD, "backward");
    assert_int_equal(g_ev.n, before + 1u);
    EXPECT_INT(g_ev.type[before], MC_TEV_CLOCK_BACKWARD, "event type");
    EXPECT_U64(g_ev.old_t[before], t0 + 100u, "old time");
    EXPECT_U64(g_ev.new_t[before], t0 + 50u, "new time");
    EXPECT_INT(update_ok(&t, t0 + 60u) & MC_TEV_CLOCK_BACKWARD, 0, "forward again");
    EXPECT_INT(update_ok(&t, t0 + 60u) & MC_TEV_CLOCK_BACKWARD, 0, "same time is not backward");
    EXPECT_INT(update_ok(&t, t0 + 61u) & MC_TEV_CLOCK_BACKWARD, 0, "forward 1 s");
    EXPECT_INT(update_ok(&t, t0 + 60u) & MC_TEV_CLOCK_BACKWARD, MC_TEV_CLOCK_BACKWARD, "back 1 s");
    /* Through mc_tariff_add as well; the energy is still booked (rate 1 at 13:00). */
    mc_reading_t x = rd_ai(Q);
    ev = mc_tariff_add(&t, t0 + 10u, &x);
    assert_true(ev >= 0 && (ev & MC_TEV_CLOCK_BACKWARD));
    EXPECT_U64(mc_tariff_energy(&t, 1, MC_TK_ACTIVE_IMPORT), Q, "booked");
    EXPECT_U64(g_ev.old_t[g_ev.n - 1u], t0 + 60u, "old time");
    EXPECT_U64(g_ev.new_t[g_ev.n - 1u], t0 + 10u, "new time");
    assert_int_equal(ev_count(MC_TEV_CLOCK_BACKWARD), 3);
    EXPECT_INT(g_ev.bad, 0, "one bit per callback");
}

/* mc_tariff.h: "MC_TEV_RATE_CHANGE: the rate in force changed: a = old rate, b = new rate (1..4)". */
static void test_event_rate_change_carries_old_and_new_rate(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, T(2024, 3, 4, 5, 59, 0)), MC_OK); /* rate 4 */
    int ev = update_ok(&t, T(2024, 3, 4, 6, 0, 0));                               /* rate 1 */
    assert_true(ev & MC_TEV_RATE_CHANGE);
    assert_int_equal(g_ev.n, 1);
    assert_int_equal(g_ev.type[0], MC_TEV_RATE_CHANGE);
    EXPECT_U64(g_ev.old_t[0], 4, "RATE_CHANGE a = old rate");
    EXPECT_U64(g_ev.new_t[0], 1, "RATE_CHANGE b = new rate");
    EXPECT_INT(update_ok(&t, T(2024, 3, 4, 9, 59, 59)) & MC_TEV_RATE_CHANGE, 0, "no change within rate 1");
    assert_true(update_ok(&t, T(2024, 3, 4, 10, 0, 0)) & MC_TEV_RATE_CHANGE); /* rate 2 */
    assert_int_equal(g_ev.n, 2);
    EXPECT_U64(g_ev.old_t[1], 1, "old rate");
    EXPECT_U64(g_ev.new_t[1], 2, "new rate");
    /* Across midnight into the next day's 00:00..06:00 (rate 4 from 23:00): 15:00 r3, 23:00 r4, no change at 00:00. */
    update_ok(&t, T(2024, 3, 4, 15, 0, 0));
    update_ok(&t, T(2024, 3, 4, 23, 0, 0));
    EXPECT_INT(update_ok(&t, T(2024, 3, 5, 0, 0, 0)) & MC_TEV_RATE_CHANGE, 0, "23:00 r4 wraps past midnight");
    assert_int_equal(g_ev.n, 4);
    EXPECT_U64(g_ev.old_t[3], 3, "old rate");
    EXPECT_U64(g_ev.new_t[3], 4, "new rate");
    /* A schedule change takes effect (and is reported) at the next update. */
    mc_tariff_schedule_t s1;
    sched_s1(&s1);
    assert_int_equal(mc_tariff_set_schedule(&t, &s1), MC_OK); /* 2024-03-05 Tue, W0 -> P0: 00:00 wraps r4 */
    assert_true(update_ok(&t, T(2024, 3, 5, 6, 0, 0)) & MC_TEV_RATE_CHANGE);
    EXPECT_U64(g_ev.old_t[g_ev.n - 1u], 4, "old rate");
    EXPECT_U64(g_ev.new_t[g_ev.n - 1u], 1, "new rate");
}

static void test_invalid_time_changes_nothing(void **state)
{
    (void)state;
    static mc_tariff_t t, snap, u, u_snap;
    mc_tariff_config_t cfg;
    cfg_events(&cfg);
    const mc_time_t t0 = T(2024, 5, 5, 12, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    mc_tariff_schedule_t s1;
    sched_s1(&s1);
    assert_int_equal(mc_tariff_set_schedule(&t, &s1), MC_OK);
    for (unsigned i = 0; i < 20; i++) {
        mc_reading_t x = rd6(Q / 3 * i, Q / 7, Q / 5, 3, 4, 5, 1500.0f + (float)i, 1800.0f, 60.0f);
        add_ok(&t, t0 + 60u * i, &x);
    }
    update_ok(&t, T(2024, 6, 1, 0, 0, 0)); /* a freeze in history too */
    memcpy(&snap, &t, sizeof(t));
    const unsigned events = g_ev.total;
    const mc_time_t bad[] = {MC_TIME_MAX + 1u, MC_TIME_MAX + 86400u, UINT32_MAX};
    mc_reading_t x = rd6(5 * Q, Q, Q, Q, Q, Q, 2000.0f, 2100.0f, 60.0f);
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        EXPECT_INT(mc_tariff_update(&t, bad[k]), MC_ERR_RANGE, "update(%u)", bad[k]);
        if (memcmp(&t, &snap, sizeof(t)) != 0) {
            fail_msg("mc_tariff_update(%u) changed the instance", bad[k]);
        }
        EXPECT_INT(mc_tariff_add(&t, bad[k], &x), MC_ERR_RANGE, "add(%u)", bad[k]);
        if (memcmp(&t, &snap, sizeof(t)) != 0) {
            fail_msg("mc_tariff_add(%u) changed the instance", bad[k]);
        }
        EXPECT_INT(mc_tariff_clock_set(&t, T(2024, 6, 1, 0, 0, 0), bad[k]), MC_ERR_RANGE, "clock_set(-> %u)", bad[k]);
        if (memcmp(&t, &snap, sizeof(t)) != 0) {
            fail_msg("mc_tariff_clock_set(-> %u) changed the instance", bad[k]);
        }
        memset(&u, 0xA5, sizeof(u));
        memcpy(&u_snap, &u, sizeof(u));
        EXPECT_INT(mc_tariff_init(&u, &cfg, bad[k]), MC_ERR_RANGE, "init(%u)", bad[k]);
        if (memcmp(&u, &u_snap, sizeof(u)) != 0) {
            fail_msg("mc_tariff_init(%u) wrote into the instance", bad[k]);
        }
        EXPECT_INT(mc_tariff_rate_at(&t.schedule, bad[k]), MC_ERR_RANGE, "rate_at(%u)", bad[k]);
    }
    EXPECT_INT(g_ev.total, events, "no callback on a refused time");
    /* The last valid second works. */
    assert_true(mc_tariff_update(&t, MC_TIME_MAX) >= 0);
    assert_int_equal(mc_tariff_init(&u, &cfg, MC_TIME_MAX), MC_OK);
    assert_int_equal(mc_tariff_init(&u, &cfg, 0), MC_OK);
}

static void test_init_invalid_config(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t base, c;
    mc_tariff_config_default(&base);
    const mc_time_t now = T(2024, 5, 5, 12, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &base, now), MC_OK);
    assert_int_equal(mc_tariff_init(NULL, &base, now), MC_ERR_INVAL);
    assert_int_equal(mc_tariff_init(&t, NULL, now), MC_ERR_INVAL);
#define BADCFG(field, value)                                                                          \
    do {                                                                                              \
        c = base;                                                                                     \
        c.field = value;                                                                              \
        EXPECT_INT(mc_tariff_init(&t, &c, now), MC_ERR_INVAL, "%s = %d", #field, (int)(value));       \
    } while (0)
#define GOODCFG(w, s)                                                                                 \
    do {                                                                                              \
        c = base;                                                                                     \
        c.demand_window_min = w;                                                                      \
        c.demand_subinterval_min = s;                                                                 \
        EXPECT_INT(mc_tariff_init(&t, &c, now), MC_OK, "window %d / %d", w, s);                       \
    } while (0)
    BADCFG(settle_day, 0);
    BADCFG(settle_day, 29);
    BADCFG(settle_day, 31);
    BADCFG(settle_hour, 24);
    BADCFG(active_combination, (mc_combination)3);
    BADCFG(reactive_combination, (mc_combination)3);
    BADCFG(demand_window_min, 0);
    BADCFG(demand_window_min, 61);
    BADCFG(demand_subinterval_min, 0);
    c = base;
    c.demand_window_min = 16;
    c.demand_subinterval_min = 5; /* does not divide */
    EXPECT_INT(mc_tariff_init(&t, &c, now), MC_ERR_INVAL, "16 / 5");
    c.demand_window_min = 16;
    c.demand_subinterval_min = 1; /* 16 slots */
    EXPECT_INT(mc_tariff_init(&t, &c, now), MC_ERR_INVAL, "16 / 1");
    c.demand_window_min = 60;
    c.demand_subinterval_min = 2; /* 30 slots */
    EXPECT_INT(mc_tariff_init(&t, &c, now), MC_ERR_INVAL, "60 / 2");
    c.demand_window_min = 15;
    c.demand_subinterval_min = 30; /* longer than the window */
    EXPECT_INT(mc_tariff_init(&t, &c, now), MC_ERR_INVAL, "15 / 30");
    GOODCFG(30, 2);
    GOODCFG(60, 4);
    GOODCFG(60, 60);
    GOODCFG(1, 1);
    GOODCFG(15, 15);
    c = base;
    c.settle_day = 28;
    c.settle_hour = 23;
    c.active_combination = MC_COMBINE_IMPORT_ONLY;
    c.reactive_combination = MC_COMBINE_IMPORT_MINUS_EXPORT;
    assert_int_equal(mc_tariff_init(&t, &c, now), MC_OK);
#undef BADCFG
#undef GOODCFG
}

/* ======================================================================== */
/* Demand                                                                    */

/*
 * Reference demand: increments (time, W*s) fed; the demand at a sub-interval
 * boundary B is the energy of the increments with B - W <= time < B, over W.
 */
#define DM_MAX 8192
typedef struct dmodel {
    unsigned n;
    mc_time_t t[DM_MAX];
    double ep[DM_MAX], es[DM_MAX];
} dmodel_t;

static dmodel_t g_dm;

static void dm_feed(mc_tariff_t *t, mc_time_t now, float p, float s, float dur)
{
    mc_reading_t r = rd_power(p, s, dur);
    add_ok(t, now, &r);
    assert_true(g_dm.n < DM_MAX);
    g_dm.t[g_dm.n] = now;
    g_dm.ep[g_dm.n] = p > 0 ? (double)p * dur : 0.0;
    g_dm.es[g_dm.n] = (double)s * dur;
    g_dm.n++;
}

static double dm_avg(mc_time_t b, unsigned window_s, int apparent)
{
    double e = 0;
    for (unsigned k = 0; k < g_dm.n; k++) {
        if (g_dm.t[k] < b && g_dm.t[k] + window_s >= b) { /* b - window <= t < b */
            e += apparent ? g_dm.es[k] : g_dm.ep[k];
        }
    }
    return e / window_s;
}

static void test_demand_constant_power(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 3, 4, 10, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    float p = -1, s = -1;
    assert_int_equal(mc_tariff_demand(&t, &p, &s), MC_ERR_NODATA);
    assert_true(p == 0.0f && s == 0.0f);
    /* 1-s windows at t0, t0+1, ... for 20 minutes. */
    for (mc_time_t x = t0; x <= t0 + 1200u; x++) {
        mc_reading_t r = rd_power(1234.5f, 1500.25f, 1.0f);
        add_ok(&t, x, &r);
        p = -1;
        s = -1;
        int rc = mc_tariff_demand(&t, &p, &s);
        if (x < t0 + 900u) {
            EXPECT_INT(rc, MC_ERR_NODATA, "before 15 minutes, at %s", ts(x));
            assert_true(p == 0.0f && s == 0.0f);
        } else {
            EXPECT_INT(rc, MC_OK, "after 15 minutes, at %s", ts(x));
            EXPECT_REL(p, 1234.5, 1e-4, "P demand at %s", ts(x));
            EXPECT_REL(s, 1500.25, 1e-4, "S demand at %s", ts(x));
        }
    }
    assert_int_equal(mc_tariff_demand(&t, NULL, NULL), MC_OK);
    assert_int_equal(mc_tariff_demand(NULL, &p, &s), MC_ERR_INVAL);
}

static void test_demand_step_change_linear(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 3, 4, 10, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    const double p1 = 1000.0, p2 = 2500.0;
    for (unsigned i = 0; i <= 45; i++) {
        const double p = i < 20u ? p1 : p2;
        mc_reading_t r = rd_power((float)p, (float)(2.0 * p), 60.0f);
        add_ok(&t, t0 + 60u * i, &r);
        if (i < 15u) {
            continue;
        }
        /* After the add at t0 + 60 i the window holds increments i-15..i-1; k of them at p2. */
        const unsigned k = i <= 20u ? 0u : (i - 20u > 15u ? 15u : i - 20u);
        const double expect = ((15.0 - k) * p1 + k * p2) / 15.0;
        float dp, ds;
        assert_int_equal(mc_tariff_demand(&t, &dp, &ds), MC_OK);
        EXPECT_REL(dp, expect, 1e-4, "P demand, minute %u", i);
        EXPECT_REL(ds, 2.0 * expect, 1e-4, "S demand, minute %u", i);
    }
}

/* Run `minutes` of 60-s increments at the minute marks with power fn(i); compare with the model at each. */
static void demand_run_model(mc_tariff_t *t, mc_time_t t0, unsigned first, unsigned last, double (*fn)(unsigned),
                             unsigned window_s, unsigned sub_s, mc_time_t valid_from)
{
    for (unsigned i = first; i <= last; i++) {
        const mc_time_t x = t0 + 60u * i;
        const double p = fn(i);
        dm_feed(t, x, (float)p, (float)(p * 1.25), 60.0f);
        if (x % sub_s != 0u) {
            continue; /* demand moves at sub-interval boundaries only */
        }
        float dp = -1, ds = -1;
        int rc = mc_tariff_demand(t, &dp, &ds);
        if (x < valid_from) {
            EXPECT_INT(rc, MC_ERR_NODATA, "at %s", ts(x));
        } else {
            EXPECT_INT(rc, MC_OK, "at %s", ts(x));
            EXPECT_REL(dp, dm_avg(x, window_s, 0), 1e-4, "P demand at %s (window %u s)", ts(x), window_s);
            EXPECT_REL(ds, dm_avg(x, window_s, 1), 1e-4, "S demand at %s", ts(x));
        }
    }
}

static double pow_varied(unsigned i)
{
    return 1000.0 + 37.0 * (double)(i % 11u) + (i % 17u == 3u ? 900.0 : 0.0);
}

static void test_demand_other_configurations(void **state)
{
    (void)state;
    static mc_tariff_t t;
    static const unsigned cfgs[][2] = {{30, 2}, {60, 4}, {5, 1}, {15, 5}, {60, 60}};
    for (unsigned c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
        mc_tariff_config_t cfg;
        mc_tariff_config_default(&cfg);
        cfg.demand_window_min = (uint8_t)cfgs[c][0];
        cfg.demand_subinterval_min = (uint8_t)cfgs[c][1];
        const mc_time_t t0 = T(2024, 3, 4, 10, 0, 0);
        assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
        memset(&g_dm, 0, sizeof(g_dm));
        const unsigned w = cfgs[c][0] * 60u, sub = cfgs[c][1] * 60u;
        demand_run_model(&t, t0, 0, cfgs[c][0] * 3u, pow_varied, w, sub, t0 + w);
    }
}

static double pow_gap(unsigned i)
{
    return i < 20u ? 3000.0 : 700.0;
}

static void test_demand_outage_drops_to_power_after_gap(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 3, 4, 10, 0, 0);
    /* 30-minute gap: minutes 0..19 at 3000 W, nothing for minutes 20..49, then 700 W. */
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    memset(&g_dm, 0, sizeof(g_dm));
    demand_run_model(&t, t0, 0, 19, pow_gap, 900, 60, t0 + 900u);
    demand_run_model(&t, t0, 50, 80, pow_gap, 900, 60, t0 + 900u);
    float dp;
    assert_int_equal(mc_tariff_demand(&t, &dp, NULL), MC_OK);
    EXPECT_REL(dp, 700.0, 1e-4, "after 15 minutes of 700 W following the gap");
    /* Hand values right after the gap: the window [t0+35 min, t0+50 min) saw no energy. */
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    memset(&g_dm, 0, sizeof(g_dm));
    demand_run_model(&t, t0, 0, 19, pow_gap, 900, 60, t0 + 900u);
    dm_feed(&t, t0 + 50u * 60u, 700.0f, 875.0f, 60.0f);
    assert_int_equal(mc_tariff_demand(&t, &dp, NULL), MC_OK);
    EXPECT_NEAR(dp, 0.0, 1e-3, "first call after the gap");
    dm_feed(&t, t0 + 51u * 60u, 700.0f, 875.0f, 60.0f);
    assert_int_equal(mc_tariff_demand(&t, &dp, NULL), MC_OK);
    EXPECT_REL(dp, 700.0 / 15.0, 1e-4, "one minute of 700 W in the window");

    /* A 5-minute gap (shorter than the window): minutes 20..24 count as zero. */
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    memset(&g_dm, 0, sizeof(g_dm));
    demand_run_model(&t, t0, 0, 19, pow_gap, 900, 60, t0 + 900u);
    demand_run_model(&t, t0, 25, 45, pow_gap, 900, 60, t0 + 900u);
    /* Hand: at minute 25 the window holds minutes 10..24: 10 x 3000 W + 5 x 0 -> checked by the model;
     * at minute 45: minutes 30..44 all 700 W. */
    assert_int_equal(mc_tariff_demand(&t, &dp, NULL), MC_OK);
    EXPECT_REL(dp, 700.0, 1e-4, "after the short gap");
}

static void test_demand_follows_after_clock_set_backward(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 3, 4, 10, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    for (unsigned i = 0; i <= 20; i++) {
        mc_reading_t r = rd_power(3000.0f, 3000.0f, 60.0f);
        add_ok(&t, t0 + 60u * i, &r);
    }
    float dp;
    assert_int_equal(mc_tariff_demand(&t, &dp, NULL), MC_OK);
    EXPECT_REL(dp, 3000.0, 1e-4, "before the set");
    /* Clock set back by an hour; then 1200 W. After 15 minutes (+1 for the sub-interval the set
     * interrupted) of 1200 W, the window holds nothing else. */
    const mc_time_t back = t0 + 20u * 60u - 3600u;
    assert_true(mc_tariff_clock_set(&t, t0 + 20u * 60u + 30u, back) >= 0);
    for (unsigned i = 1; i <= 20; i++) {
        mc_reading_t r = rd_power(1200.0f, 1200.0f, 60.0f);
        add_ok(&t, back + 60u * i, &r);
        if (i >= 17u) {
            assert_int_equal(mc_tariff_demand(&t, &dp, NULL), MC_OK);
            EXPECT_REL(dp, 1200.0, 1e-4, "%u minutes after the clock was set back", i);
        }
    }
}

static double pow_burst(unsigned i)
{
    if (i >= 20u && i < 25u) {
        return 4000.0;
    }
    if (i < 90u) {
        return 1000.0;
    }
    return 500.0;
}

static void test_demand_max_of_month_and_reset_at_settlement(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 3, 31, 21, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    memset(&g_dm, 0, sizeof(g_dm));
    /* 21:00..23:59: 1000 W with a 5-minute burst of 4000 W at 21:20..21:24, 500 W from 22:30. */
    demand_run_model(&t, t0, 0, 179, pow_burst, 900, 60, t0 + 900u);
    /* Hand: the window holding the whole burst averages (5 x 4000 + 10 x 1000) / 15 = 2000 W; the first
     * such window ends at 21:25 (minutes 21:10..21:24). */
    mc_reading_t r = rd_power(1500.0f, 1600.0f, 60.0f);
    int ev = mc_tariff_add(&t, T(2024, 4, 1, 0, 0, 0), &r);
    assert_true(ev >= 0 && (ev & MC_TEV_FREEZE));
    EXPECT_REL(t.history[0].max_demand_w, 2000.0, 1e-4, "March max demand");
    EXPECT_U64(t.history[0].max_demand_at, T(2024, 3, 31, 21, 25, 0), "March max demand time");
    /* April: 1500 W for 20 minutes, then 800 W. Max = 1500 W, first reached by the window ending 00:15. */
    for (unsigned i = 1; i <= 60; i++) {
        mc_reading_t x = rd_power(i < 20u ? 1500.0f : 800.0f, 1600.0f, 60.0f);
        add_ok(&t, T(2024, 4, 1, 0, 0, 0) + 60u * i, &x);
    }
    float dp;
    assert_int_equal(mc_tariff_demand(&t, &dp, NULL), MC_OK); /* the sliding value survives the reset */
    EXPECT_REL(dp, 800.0, 1e-4, "sliding demand");
    assert_true(update_ok(&t, T(2024, 5, 1, 0, 0, 0)) & MC_TEV_FREEZE);
    EXPECT_REL(t.history[0].max_demand_w, 1500.0, 1e-4, "April max demand (reset at settlement)");
    EXPECT_U64(t.history[0].max_demand_at, T(2024, 4, 1, 0, 15, 0), "April max demand time");
    EXPECT_REL(t.history[1].max_demand_w, 2000.0, 1e-4, "March moved to history[1]");
}

/*
 * Regression (fixed in b8070cd): the demand window that ends exactly at the
 * settlement point is made of increments booked in the month being closed, so
 * it counts for that month; the new month's maximum starts with the windows
 * ending after the point. (Before the fix the freeze came first and that
 * window counted for the new month, timestamped at the old month's frozen_at.)
 */
static double pow_ramp(unsigned i)
{
    return i < 60u ? 1000.0 + 20.0 * i : 100.0;
}

static void test_demand_window_ending_at_settlement_belongs_to_closed_month(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 1, 31, 23, 0, 0), p = T(2024, 2, 1, 0, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    memset(&g_dm, 0, sizeof(g_dm));
    /* 23:00 + i min: 1000 + 20 i W (i < 60), then 100 W from Feb 1 00:00. */
    demand_run_model(&t, t0, 0, 60, pow_ramp, 900, 60, t0 + 900u);
    /* Hand: the window ending at p holds i = 45..59: 1000 + 20 * 52 = 2040 W, all January increments.
     * The window ending at 23:59 (i = 44..58) is 2020 W. The first February window (ending 00:01) holds
     * i = 46..59 and one 100 W minute: (14 * 1000 + 20 * 735 + 100) / 15 = 1920 W. */
    EXPECT_U64(t.history[0].frozen_at, p, "freeze");
    EXPECT_REL(t.history[0].max_demand_w, 2040.0, 1e-4, "January max must include the window ending at %s", ts(p));
    EXPECT_U64(t.history[0].max_demand_at, p, "January max demand time");
    demand_run_model(&t, t0, 61, 90, pow_ramp, 900, 60, t0 + 900u);
    update_ok(&t, T(2024, 3, 1, 0, 0, 0));
    EXPECT_REL(t.history[0].max_demand_w, 1920.0, 1e-4, "February max must not include January's last window");
    EXPECT_U64(t.history[0].max_demand_at, p + 60u, "February max demand time");
}

/*
 * Regression (fixed in b8070cd, same root cause, after an outage or a forward
 * clock set): the sub-intervals still open before the gap close into the month
 * they belong to, not into the month after the made-up freezes (which got the
 * old month's power as its maximum, timestamped before it began).
 */
static void test_demand_after_outage_max_not_from_previous_month(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 1, 31, 23, 0, 0);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    for (unsigned i = 0; i < 30; i++) { /* 2000 W, 23:00..23:29 */
        mc_reading_t r = rd_power(2000.0f, 2100.0f, 60.0f);
        add_ok(&t, t0 + 60u * i, &r);
    }
    /* Outage until Feb 1 06:00. */
    const mc_time_t back = T(2024, 2, 1, 6, 0, 0);
    assert_true(update_ok(&t, back) & MC_TEV_FREEZE);
    EXPECT_REL(t.history[0].max_demand_w, 2000.0, 1e-4, "January max");
    EXPECT_U64(t.history[0].max_demand_at, T(2024, 1, 31, 23, 15, 0), "January max time");
    for (unsigned i = 0; i < 30; i++) { /* 500 W, 06:00..06:29 */
        mc_reading_t r = rd_power(500.0f, 600.0f, 60.0f);
        add_ok(&t, back + 60u * i, &r);
    }
    assert_true(update_ok(&t, T(2024, 3, 1, 0, 0, 0)) & MC_TEV_FREEZE);
    /* February's power was 500 W; its first full window ends at 06:15. */
    EXPECT_U64(t.history[1].frozen_at, T(2024, 2, 1, 0, 0, 0), "history[1]");
    EXPECT_REL(t.history[0].max_demand_w, 500.0, 1e-4, "February max demand (got January's power?)");
    if (t.history[0].max_demand_at < t.history[1].frozen_at) {
        fail_msg("February max demand timestamped %s, before February began (%s)", ts(t.history[0].max_demand_at),
                 ts(t.history[1].frozen_at));
    }
    EXPECT_U64(t.history[0].max_demand_at, T(2024, 2, 1, 6, 15, 0), "February max demand time");
}

/*
 * Regression (fixed in b8070cd; contract: "MC_ERR_NODATA before a full window
 * has elapsed"): started 30 s into a minute, the partial first sub-interval
 * must not count as a whole one (it made the demand valid after 14.5 minutes,
 * at 870/900 of the power).
 */
static void test_demand_nodata_until_full_window_after_unaligned_start(void **state)
{
    (void)state;
    static mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    const mc_time_t t0 = T(2024, 3, 4, 10, 0, 30);
    assert_int_equal(mc_tariff_init(&t, &cfg, t0), MC_OK);
    for (mc_time_t x = t0; x <= T(2024, 3, 4, 10, 17, 0); x++) {
        mc_reading_t r = rd_power(1000.0f, 1000.0f, 1.0f);
        add_ok(&t, x, &r);
        float dp = -1;
        int rc = mc_tariff_demand(&t, &dp, NULL);
        if (x < t0 + 900u) {
            if (rc != MC_ERR_NODATA) {
                fail_msg("demand valid (%d, %.3f W) at %s, only %u s after the start at %s", rc, (double)dp, ts(x),
                         (unsigned)(x - t0), ts(t0));
            }
        } else if (x >= T(2024, 3, 4, 10, 16, 0)) {
            EXPECT_INT(rc, MC_OK, "at %s", ts(x));
            EXPECT_REL(dp, 1000.0, 1e-4, "window 10:01..10:16 fully measured, at %s", ts(x));
        }
    }
}

/* ======================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar_known_dates),
        cmocka_unit_test(test_calendar_every_day_2000_2099),
        cmocka_unit_test(test_calendar_leap_years_and_month_lengths),
        cmocka_unit_test(test_calendar_invalid_and_range),
        cmocka_unit_test(test_config_and_schedule_defaults),
        cmocka_unit_test(test_schedule_default_is_kpm31),
        cmocka_unit_test(test_schedule_rich_hand_checks),
        cmocka_unit_test(test_schedule_rich_vs_model),
        cmocka_unit_test(test_schedule_valid_edges),
        cmocka_unit_test(test_schedule_invalid_refused_old_kept),
        cmocka_unit_test(test_booking_kinds_and_quadrants),
        cmocka_unit_test(test_booking_each_increment_at_rate_boundaries),
        cmocka_unit_test(test_booking_random_totals_exact),
        cmocka_unit_test(test_combination_import_plus_export),
        cmocka_unit_test(test_combination_import_minus_export),
        cmocka_unit_test(test_combination_import_only),
        cmocka_unit_test(test_month_kwh_arguments),
        cmocka_unit_test(test_settlement_28th_at_noon_not_the_1st),
        cmocka_unit_test(test_settlement_month_end_and_year_end),
        cmocka_unit_test(test_year_2024_settle_28th_noon),
        cmocka_unit_test(test_year_2024_settle_1st_midnight),
        cmocka_unit_test(test_fractional_increments_nothing_lost),
        cmocka_unit_test(test_outage_across_one_point),
        cmocka_unit_test(test_outage_across_several_points),
        cmocka_unit_test(test_outage_more_than_12_points),
        cmocka_unit_test(test_clock_set_forward_across_rate_and_settlement),
        cmocka_unit_test(test_clock_set_backward_no_second_freeze),
        cmocka_unit_test(test_update_backwards_reports_clock_backward),
        cmocka_unit_test(test_event_rate_change_carries_old_and_new_rate),
        cmocka_unit_test(test_invalid_time_changes_nothing),
        cmocka_unit_test(test_init_invalid_config),
        cmocka_unit_test(test_demand_constant_power),
        cmocka_unit_test(test_demand_step_change_linear),
        cmocka_unit_test(test_demand_other_configurations),
        cmocka_unit_test(test_demand_outage_drops_to_power_after_gap),
        cmocka_unit_test(test_demand_follows_after_clock_set_backward),
        cmocka_unit_test(test_demand_max_of_month_and_reset_at_settlement),
        cmocka_unit_test(test_demand_window_ending_at_settlement_belongs_to_closed_month),
        cmocka_unit_test(test_demand_after_outage_max_not_from_previous_month),
        cmocka_unit_test(test_demand_nodata_until_full_window_after_unaligned_start),
    };
    return cmocka_run_group_tests(tests, ref_walk, NULL);
}
