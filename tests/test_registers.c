/*
 * metercore registers suite: the data model and the Modbus PDU handler
 * (mc_registers.h, mc_modbus.h), driven through mc_modbus_handle_pdu() as a
 * client would, and checked against what the test itself knows:
 *   - the register list of the reference device (tests/data/kpm31-register-map.csv, a copy of shared/reference),
 *   - the analytic truth of a synthetic 230 V / 5 A / PF 0.5L / 50 Hz signal,
 *   - the analytic truth of an unbalanced three-phase system fed to a 3P4W meter (phasors: per-phase
 *     values and angles, line-to-line voltages, sequence components, the neutral),
 *   - energy the test booked into the tariff itself (exact watt-hours per rate and month),
 *   - values the test wrote.
 * Nothing is expected because the code returned it earlier.
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_modbus.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_storage.h"
#include "metercore/mc_tariff.h"
#include "waveform.h"

#ifndef MC_REFERENCE_DIR
#error "MC_REFERENCE_DIR must name the folder of kpm31-register-map.csv (tests/CMakeLists.txt sets it)"
#endif

#define SQRT2 1.4142135623730951
#define UN 230.0
#define IN 5.0
#define PHI 60.0 /* PF 0.5 inductive */
#define F0 50.0
#define U_FS (UN * SQRT2 * 1.6)
#define I_FS (60.0 * SQRT2 * 1.5)
#define QPWH ((double)MC_ENERGY_QUANTA_PER_WH)
#define REL_MEAS 1e-3  /* 0.1 % for the synthetic signal */
#define REL_KWH 1e-6   /* float kWh against exact Wh */

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */

#define MAX_CHANGES 300
#define MAX_WINDOWS 16

typedef struct change {
    mc_qty qty;
    unsigned arg;
    uint32_t old_v, new_v;
    mc_source src;
} change_t;

typedef struct fx {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t md;
    mc_reading_t win[MAX_WINDOWS]; /* the meter's windows over the synthetic signal */
    size_t nwin;
    wf_truth_t truth;
    /* hooks */
    mc_time_t now;
    int set_clock_calls;
    mc_time_t set_clock_to;
    int set_clock_ret;
    int relay_calls;
    int relay_last;
    int relay_ret;
    int di;
    uint32_t mono;       /* the monotonic clock, ms */
    int cal_switch;      /* the calibration switch */
    int commits;         /* commit hook calls */
    int commit_ret;      /* what the commit hook returns */
    size_t nch_at_commit; /* changes reported when commit was last called */
    unsigned auth[4];    /* on_auth reports by what */
    uint32_t auth_lockout_s; /* the last lockout reported */
    mc_auth_guard_t guard;
    mc_session_t sess;   /* the session handle() serves */
    change_t ch[MAX_CHANGES];
    size_t nch;
    /* tariff events */
    int clock_set_events;
    mc_time_t ev_old, ev_new;
    int freezes;
    mc_time_t first_freeze_at; /* settlement point of the first freeze since freeze_watch() */
    int watch;
} fx_t;

static fx_t g;

static void on_window(void *ctx, const mc_reading_t *r)
{
    fx_t *f = ctx;
    if (f->nwin < MAX_WINDOWS) {
        f->win[f->nwin++] = *r;
    }
}

static mc_time_t hook_now(void *ctx)
{
    return ((fx_t *)ctx)->now;
}

static int hook_set_clock(void *ctx, mc_time_t t)
{
    fx_t *f = ctx;
    f->set_clock_calls++;
    f->set_clock_to = t;
    if (f->set_clock_ret < 0) {
        return f->set_clock_ret;
    }
    f->now = t;
    return MC_OK;
}

static int hook_relay(void *ctx, int close)
{
    fx_t *f = ctx;
    f->relay_calls++;
    f->relay_last = close;
    return f->relay_ret;
}

static int hook_di(void *ctx)
{
    return ((fx_t *)ctx)->di;
}

static uint32_t hook_checksum(void *ctx)
{
    (void)ctx;
    return 0x12345678u;
}

static uint32_t hook_mono(void *ctx)
{
    return ((fx_t *)ctx)->mono;
}

static int hook_cal_switch(void *ctx)
{
    return ((fx_t *)ctx)->cal_switch;
}

static int hook_commit(void *ctx)
{
    fx_t *f = ctx;
    f->commits++;
    f->nch_at_commit = f->nch;
    return f->commit_ret;
}

static void hook_on_auth(void *ctx, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s)
{
    fx_t *f = ctx;
    assert_int_equal(iface, MC_IFACE_TCP);
    assert_true(what >= 1u && what <= 3u);
    (void)count;
    f->auth[what]++;
    if (what == MC_AUTH_LOCKOUT) {
        f->auth_lockout_s = lockout_s;
    }
}

/* Audit counters as a storage would keep them: counter k reads 0x10000 * k + 7 * k. */
static int hook_audit_counter(void *ctx, unsigned which, uint32_t *out)
{
    (void)ctx;
    if (which > 7u) {
        return MC_ERR_INVAL;
    }
    *out = 0x10000u * which + 7u * which;
    return MC_OK;
}

static void hook_on_change(void *ctx, mc_qty qty, unsigned arg, uint32_t old_v, uint32_t new_v, mc_source src)
{
    fx_t *f = ctx;
    assert_true(f->nch < MAX_CHANGES);
    f->ch[f->nch++] = (change_t){qty, arg, old_v, new_v, src};
}

static void on_tariff_event(void *ctx, unsigned type, mc_time_t old_time, mc_time_t new_time)
{
    fx_t *f = ctx;
    if (type == MC_TEV_CLOCK_SET) {
        f->clock_set_events++;
        f->ev_old = old_time;
        f->ev_new = new_time;
    } else if (type == MC_TEV_FREEZE) {
        f->freezes++;
        if (f->watch) {
            f->first_freeze_at = old_time;
            f->watch = 0;
        }
    }
}

static mc_time_t T(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    mc_datetime_t dt = {(uint16_t)y, (uint8_t)mo, (uint8_t)d, (uint8_t)h, (uint8_t)mi, (uint8_t)s, 0};
    mc_time_t t;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_OK);
    return t;
}

/* The meter, fed 3 s of the synthetic signal (noise-free, 24-bit, 4 kHz), current lagging by phi. */
static void meter_start_phi(double phi)
{
    wf_params_t p;
    wf_params_sine(&p, 4000.0, F0, UN, IN, phi, U_FS, I_FS, 24);
    p.theta0_deg = 37.0;
    wf_truth(&p, &g.truth);
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = 4000;
    cfg.nominal_freq_hz = 50.0f;
    cfg.un = (float)UN;
    cfg.in = (float)IN;
    cfg.imax = 60.0f;
    cfg.start_current = 0.005f;
    cfg.u_scale = (float)wf_scale(&p.u);
    cfg.i_scale = (float)wf_scale(&p.i);
    cfg.on_window = on_window;
    cfg.context = &g;
    assert_int_equal(mc_meter_init(&g.meter, &cfg), MC_OK);
    wf_gen_t gen;
    wf_init(&gen, &p);
    int32_t v[400], i[400];
    for (int k = 0; k < 30; k++) {
        wf_fill(&gen, v, i, 400);
        assert_true(mc_meter_process(&g.meter, v, i, 400) >= 0);
    }
    assert_int_equal(gen.clipped, 0);
    assert_true(g.nwin >= 2);
}

static void meter_start(void)
{
    meter_start_phi(PHI);
}

/*
 * Energy the test books into the tariff, in Wh (varh), per month (January,
 * February, March 2024), rate 1..4 and kind (active import, active export,
 * reactive import, reactive export). January and February are whole Wh, so at
 * the settlements they move into history whole; March stays this month and
 * has fractions.
 */
static const double plan_wh[3][4][4] = {
    {{1017, 0, 303, 0}, {2017, 5, 603, 0}, {3017, 0, 903, 0}, {4017, 0, 1203, 7}},
    {{2029, 0, 501, 13}, {4029, 0, 1001, 0}, {6029, 11, 1501, 0}, {8029, 0, 2001, 0}},
    {{703.25, 0, 100.5, 0}, {1403, 0.75, 200, 0}, {2103, 0, 300, 0.125}, {2803, 0, 400, 0}},
};
static const unsigned plan_day[3][2] = {{1, 16}, {2, 10}, {3, 5}};
/* A time of day in each rate of the default schedule (06 r1, 10 r2, 12 r1, 15 r3, 23 r4). */
static const unsigned rate_hour[4][2] = {{7, 0}, {11, 0}, {16, 0}, {23, 30}};

#define DEMAND_STEPS 17

/* Expected energies from the plan. kind: 0 AI, 1 AE, 2 RI, 3 RE; rate 0 = all. */
static double plan_month(unsigned m, unsigned rate, unsigned kind)
{
    double s = 0.0;
    for (unsigned r = 1; r <= 4; r++) {
        if (rate == 0u || rate == r) {
            s += plan_wh[m][r - 1u][kind];
        }
    }
    return s;
}

static double exp_lifetime_kwh(unsigned rate, unsigned kind)
{
    return (plan_month(0, rate, kind) + plan_month(1, rate, kind) + plan_month(2, rate, kind)) / 1000.0;
}

/* Combined (import + export, the default) of a month: ago 0 = March, 1 = February, 2 = January. */
static double exp_month_kwh(unsigned ago, unsigned rate, int reactive)
{
    if (ago > 2u) {
        return 0.0;
    }
    const unsigned m = 2u - ago, k = reactive ? 2u : 0u;
    return (plan_month(m, rate, k) + plan_month(m, rate, k + 1u)) / 1000.0;
}

static void book(mc_time_t t, const mc_reading_t *tmpl, const double wh[4], unsigned expect_rate)
{
    mc_reading_t r = *tmpl;
    memset(&r.delta, 0, sizeof(r.delta));
    r.delta.q[MC_E_ACTIVE_IMPORT] = (uint64_t)llround(wh[0] * QPWH);
    r.delta.q[MC_E_ACTIVE_EXPORT] = (uint64_t)llround(wh[1] * QPWH);
    r.delta.q[MC_E_REACTIVE_Q1] = (uint64_t)llround(wh[2] * QPWH);
    r.delta.q[MC_E_REACTIVE_Q4] = (uint64_t)llround(wh[3] * QPWH);
    r.p = r.s = r.duration_s = 0.0f; /* energy only: demand comes from its own series */
    assert_true(mc_tariff_add(&g.tariff, t, &r) >= 0);
    assert_int_equal(g.tariff.rate, expect_rate);
}

/* Tariff from 2024-01-15 with the plan booked, then 17 one-minute demand steps on 2024-03-06 at 00:00:30. */
static void tariff_start(void)
{
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    tc.on_event = on_tariff_event;
    tc.context = &g;
    assert_int_equal(mc_tariff_init(&g.tariff, &tc, T(2024, 1, 15, 0, 0, 0)), MC_OK);
    const mc_reading_t *w = &g.win[g.nwin - 1u];
    for (unsigned m = 0; m < 3; m++) {
        for (unsigned r = 0; r < 4; r++) {
            book(T(2024, plan_day[m][0], plan_day[m][1], rate_hour[r][0], rate_hour[r][1], 0), w, plan_wh[m][r],
                 r + 1u);
        }
    }
    assert_int_equal(g.freezes, 2);
    /* Demand: each minute one reading of the signal's P and S lasting 60 s, no energy. */
    mc_reading_t d = *w;
    memset(&d.delta, 0, sizeof(d.delta));
    d.duration_s = 60.0f;
    for (unsigned k = 0; k < DEMAND_STEPS; k++) {
        assert_true(mc_tariff_add(&g.tariff, T(2024, 3, 6, 0, k, 30), &d) >= 0);
    }
    g.now = T(2024, 3, 6, 0, DEMAND_STEPS - 1u, 30);
}

/* A model over the fixture. The write budget is out of the way (65535) except where a
 * test sets its own; with require_unlock 0 the session is logged in, so that the
 * functional tests reach calibration as before (the protection tests start locked). */
static void model_start(uint8_t features, uint8_t require_unlock, int with_tariff)
{
    mc_model_config_t cfg = {features, require_unlock, 60, 65535, 600, 65535, 3600};
    mc_model_hooks_t h = {hook_on_change, hook_relay,    hook_di,     hook_now,     hook_set_clock,
                          hook_checksum,  &g,            NULL,        NULL,         hook_mono,
                          hook_cal_switch, hook_commit,  hook_on_auth, hook_audit_counter};
    g.mono = 1000u;
    assert_int_equal(mc_model_init(&g.md, &cfg, &h, &g.meter, with_tariff ? &g.tariff : NULL, NULL), MC_OK);
    mc_auth_guard_init(&g.guard, MC_IFACE_TCP);
    mc_session_init(&g.sess, &g.guard);
    if (!require_unlock) {
        assert_int_equal(mc_session_login(&g.md, &g.sess, 6666), MC_OK);
    }
}

/* The usual meter: KPM31BK-like (relay and DI), no password protection, tariff. */
static void fx(uint8_t features, uint8_t require_unlock, int with_tariff)
{
    memset(&g, 0, sizeof(g));
    meter_start();
    if (with_tariff) {
        tariff_start();
    } else {
        g.now = T(2024, 3, 6, 0, 0, 0);
    }
    model_start(features, require_unlock, with_tariff);
}

static int setup_default(void **state)
{
    (void)state;
    fx(MC_FEAT_RELAY | MC_FEAT_DI, 0, 1);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Modbus client helpers                                                    */

static uint8_t g_resp[MC_MODBUS_PDU_MAX];

static int handle(const uint8_t *req, size_t len, int broadcast)
{
    memset(g_resp, 0xEE, sizeof(g_resp));
    return mc_modbus_handle_pdu(&g.md, &g.sess, req, len, g_resp, broadcast);
}

/* The exception code of the last response to function fc, or 0 for a normal response. */
static int exception_of(int len, uint8_t fc)
{
    assert_true(len >= 2);
    if (g_resp[0] == (uint8_t)(fc | 0x80u)) {
        assert_int_equal(len, 2);
        return g_resp[1];
    }
    assert_int_equal(g_resp[0], fc);
    return 0;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* FC 03: 0 and the registers in regs, or the exception code. */
static int rd(unsigned start, unsigned qty, uint16_t *regs)
{
    uint8_t req[5] = {MC_MB_FC_READ_HOLDING};
    put16(req + 1, start);
    put16(req + 3, qty);
    int len = handle(req, 5, 0);
    int ex = exception_of(len, MC_MB_FC_READ_HOLDING);
    if (ex != 0) {
        return ex;
    }
    assert_int_equal(len, 2 + 2 * (int)qty);
    assert_int_equal(g_resp[1], 2 * qty);
    for (unsigned k = 0; k < qty; k++) {
        if (regs != NULL) {
            regs[k] = get16(g_resp + 2 + 2 * k);
        }
    }
    return 0;
}

static void rd_ok(unsigned start, unsigned qty, uint16_t *regs)
{
    int ex = rd(start, qty, regs);
    if (ex != 0) {
        fail_msg("FC03 %04XH x %u: exception %d", start, qty, ex);
    }
}

static uint16_t rd1(unsigned addr)
{
    uint16_t v = 0;
    rd_ok(addr, 1, &v);
    return v;
}

/* FC 06: 0 (echo checked) or the exception code. */
static int wr1(unsigned addr, unsigned value)
{
    uint8_t req[5] = {MC_MB_FC_WRITE_SINGLE_REGISTER};
    put16(req + 1, addr);
    put16(req + 3, value);
    int len = handle(req, 5, 0);
    int ex = exception_of(len, MC_MB_FC_WRITE_SINGLE_REGISTER);
    if (ex == 0) {
        assert_int_equal(len, 5);
        assert_memory_equal(g_resp, req, 5);
    }
    return ex;
}

/* FC 10: 0 (response checked) or the exception code. */
static int wrn(unsigned addr, unsigned qty, const uint16_t *vals)
{
    uint8_t req[MC_MODBUS_PDU_MAX] = {MC_MB_FC_WRITE_MULTIPLE};
    assert_true(qty <= 123u);
    put16(req + 1, addr);
    put16(req + 3, qty);
    req[5] = (uint8_t)(2u * qty);
    for (unsigned k = 0; k < qty; k++) {
        put16(req + 6 + 2 * k, vals[k]);
    }
    int len = handle(req, 6u + 2u * qty, 0);
    int ex = exception_of(len, MC_MB_FC_WRITE_MULTIPLE);
    if (ex == 0) {
        assert_int_equal(len, 5);
        assert_memory_equal(g_resp, req, 5);
    }
    return ex;
}

static uint32_t fbits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static float bitsf(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static float regs_float(const uint16_t *r, int cdab)
{
    return bitsf(cdab ? ((uint32_t)r[1] << 16 | r[0]) : ((uint32_t)r[0] << 16 | r[1]));
}

static void float_regs(float f, int cdab, uint16_t *r)
{
    const uint32_t b = fbits(f);
    r[0] = (uint16_t)(cdab ? b : b >> 16);
    r[1] = (uint16_t)(cdab ? b >> 16 : b);
}

static float rdf(unsigned addr, int cdab)
{
    uint16_t r[2];
    rd_ok(addr, 2, r);
    return regs_float(r, cdab);
}

static void assert_rel(double meas, double truth, double rel, const char *what)
{
    const double e = truth == 0.0 ? fabs(meas) : fabs(meas - truth) / fabs(truth);
    if (!(e <= rel)) {
        fail_msg("%s: read %.9g, expected %.9g (error %.3g > %.3g)", what, meas, truth, e, rel);
    }
}

/* Byte-wise state of everything a write may touch. */
typedef struct snap {
    mc_model_t md;
    mc_tariff_t tariff;
    mc_meter_t meter;
    size_t nch;
    int set_clock_calls, relay_calls;
} snap_t;

static void snap_take(snap_t *s)
{
    memcpy(&s->md, &g.md, sizeof(g.md));
    memcpy(&s->tariff, &g.tariff, sizeof(g.tariff));
    memcpy(&s->meter, &g.meter, sizeof(g.meter));
    s->nch = g.nch;
    s->set_clock_calls = g.set_clock_calls;
    s->relay_calls = g.relay_calls;
}

static void snap_same(const snap_t *s, const char *what)
{
    if (memcmp(&s->md, &g.md, sizeof(g.md)) != 0) {
        fail_msg("%s: the model changed", what);
    }
    if (memcmp(&s->tariff, &g.tariff, sizeof(g.tariff)) != 0) {
        fail_msg("%s: the tariff changed", what);
    }
    if (memcmp(&s->meter, &g.meter, sizeof(g.meter)) != 0) {
        fail_msg("%s: the meter changed", what);
    }
    if (s->nch != g.nch) {
        fail_msg("%s: on_change was called", what);
    }
    assert_int_equal(s->set_clock_calls, g.set_clock_calls);
    assert_int_equal(s->relay_calls, g.relay_calls);
}

static uint64_t energy_sum_q(const mc_energy_t *e)
{
    uint64_t s = 0;
    for (unsigned k = 0; k < MC_E_COUNT; k++) {
        s += e->q[k];
    }
    return s;
}

static const mc_reg_entry_t *entry_of(unsigned addr)
{
    size_t n;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    for (size_t k = 0; k < n; k++) {
        const unsigned w = t[k].format == MC_FMT_F32 ? 2u : 1u;
        if (addr >= t[k].addr && addr < t[k].addr + t[k].count * w) {
            return &t[k];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The map against the reference device's register list                     */

/* Split one csv line into fields (double quotes protect commas). Returns the field count. */
static int csv_fields(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *out = p;
        f[n++] = p;
        int quoted = 0;
        for (;;) {
            char c = *p;
            if (c == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            if (c == '\0' || c == '\n' || c == '\r' || (c == ',' && !quoted)) {
                break;
            }
            *out++ = c;
            p++;
        }
        const char end = *p;
        *out = '\0';
        if (end != ',') {
            break;
        }
        p++;
    }
    return n;
}

static void test_map_matches_reference_csv(void **state)
{
    (void)state;
    const char *path = MC_REFERENCE_DIR "/kpm31-register-map.csv";
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open %s: the reference register list (tests/data) is missing", path);
    }
    char line[512];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_true(strncmp(line, "address,name,format,unit,access", 31) == 0);
    static uint8_t in_csv[0x1000];
    memset(in_csv, 0, sizeof(in_csv));
    unsigned rows = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *fld[8];
        if (line[0] == '\n' || line[0] == '\0') {
            continue;
        }
        const int n = csv_fields(line, fld, 8);
        if (n != 7) {
            fclose(f);
            fail_msg("csv row %u: %d fields", rows + 1u, n);
        }
        const unsigned addr = (unsigned)strtoul(fld[0], NULL, 16);
        const int is_f32 = strcmp(fld[2], "f32") == 0;
        assert_true(is_f32 || strcmp(fld[2], "u16") == 0);
        const unsigned acc = strcmp(fld[4], "r") == 0 ? MC_ACC_R : strcmp(fld[4], "w") == 0 ? MC_ACC_W
                                                                 : strcmp(fld[4], "rw") == 0 ? MC_ACC_RW : 0u;
        assert_true(acc != 0u);
        const mc_reg_entry_t *e = entry_of(addr);
        if (e == NULL) {
            fclose(f);
            fail_msg("%04XH (%s) is not served", addr, fld[1]);
        }
        const unsigned w = e->format == MC_FMT_F32 ? 2u : 1u;
        if ((addr - e->addr) % w != 0u) {
            fclose(f);
            fail_msg("%04XH (%s) is in the middle of an item", addr, fld[1]);
        }
        if ((e->format == MC_FMT_F32) != is_f32 || e->access != acc) {
            fclose(f);
            fail_msg("%04XH (%s): map has format %u access %u, csv %s %s", addr, fld[1], e->format, e->access,
                     fld[2], fld[4]);
        }
        /* Units as the device documents them. */
        static const char *const units[] = {"", "V", "A", "W", "var", "VA", "Hz", "kWh", "kvarh"};
        if (strcmp(units[e->unit], fld[3]) != 0) {
            fclose(f);
            fail_msg("%04XH (%s): unit '%s', csv '%s'", addr, fld[1], units[e->unit], fld[3]);
        }
        /* And it reads over the bus, whole. */
        uint16_t regs[2];
        assert_int_equal(rd(addr, is_f32 ? 2u : 1u, regs), 0);
        assert_true(addr < 0x1000u);
        in_csv[addr] = 1;
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 156); /* the reference list: 4 + 8 + 14 + 130 registers */
    /* Conversely, below the extension base the map serves only what the device has. */
    size_t n;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    for (size_t k = 0; k < n; k++) {
        const unsigned w = t[k].format == MC_FMT_F32 ? 2u : 1u;
        for (unsigned i = 0; i < t[k].count; i++) {
            const unsigned a = t[k].addr + i * w;
            if (a < MC_REG_EXT_BASE && !in_csv[a]) {
                fail_msg("%04XH is served below %04XH but is not a KPM31 register", a, MC_REG_EXT_BASE);
            }
        }
    }
}

static void test_table_well_formed(void **state)
{
    (void)state;
    size_t n = 0;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    assert_non_null(t);
    assert_true(n > 0u);
    assert_ptr_equal(mc_regmap_table(NULL), t);
    unsigned prev_end = 0;
    for (size_t k = 0; k < n; k++) {
        const mc_reg_entry_t *e = &t[k];
        const unsigned w = e->format == MC_FMT_F32 ? 2u : 1u;
        assert_true(e->format == MC_FMT_U16 || e->format == MC_FMT_F32);
        assert_true(e->count >= 1u);
        assert_true(e->qty > MC_QTY_NONE && e->qty < MC_QTY_COUNT);
        assert_true(e->access == MC_ACC_R || e->access == MC_ACC_W || e->access == MC_ACC_RW);
        assert_true(e->unit <= MC_UNIT_PERCENT);
        if (k > 0u && e->addr < prev_end) {
            fail_msg("entry %zu at %04XH: not sorted or overlaps the previous one (ends %04XH)", k, e->addr,
                     prev_end);
        }
        prev_end = e->addr + e->count * w;
        assert_true(prev_end <= 0x10000u);
        /* Extension entries from the base on; KPM31 entries end before it. */
        if (e->addr >= MC_REG_EXT_BASE) {
            assert_true(e->addr >= 0x1000u);
        } else {
            assert_true(prev_end <= MC_REG_EXT_BASE);
        }
        /* Floats are calibration (R/W) or measurements (R); u16 parameters never F32 units. */
        if (e->format == MC_FMT_U16) {
            assert_int_equal(e->unit, MC_UNIT_NONE);
        }
        /* Every item reads. */
        for (unsigned i = 0; i < e->count; i++) {
            mc_value_t v;
            assert_int_equal(mc_model_read(&g.md, (mc_qty)e->qty, e->arg + i * e->arg_step, &v), MC_OK);
            assert_int_equal(v.is_float, e->format == MC_FMT_F32);
        }
    }
    assert_int_equal(rd1(MC_REG_MAP_VERSION_ADDR), MC_REGMAP_VERSION);
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */

/* Every quantity read through FC 03 against the test's own knowledge, in word order cdab. */
static void check_all_values(int cdab)
{
    const wf_truth_t *tr = &g.truth;
    uint16_t r[125];

    /* 0030H..003DH in one read. */
    rd_ok(0x0030, 14, r);
    assert_rel(regs_float(r + 0, cdab), tr->urms, REL_MEAS, "U 0030H");
    assert_rel(regs_float(r + 2, cdab), tr->irms, REL_MEAS, "I 0032H");
    assert_rel(regs_float(r + 4, cdab), tr->p, REL_MEAS, "P 0034H");
    assert_rel(regs_float(r + 6, cdab), tr->q1, REL_MEAS, "Q 0036H");
    assert_rel(regs_float(r + 8, cdab), tr->s, REL_MEAS, "S 0038H");
    assert_rel(regs_float(r + 10, cdab), 0.5, 2e-3, "PF 003AH");
    assert_rel(regs_float(r + 12, cdab), F0, 2e-4, "F 003CH");
    /* Demand: S and P of the signal over full 15-minute windows. */
    assert_rel(rdf(0x0070, cdab), tr->s, REL_MEAS, "apparent demand 0070H");
    assert_rel(rdf(0x1030, cdab), tr->p, REL_MEAS, "active demand 1030H");
    assert_rel(rdf(0x1032, cdab), tr->p, REL_MEAS, "max active demand 1032H");

    /* Lifetime energies 0080H..009BH. */
    rd_ok(0x0080, 28, r);
    char what[64];
    assert_rel(regs_float(r + 0, cdab), exp_lifetime_kwh(0, 0) + exp_lifetime_kwh(0, 1), REL_KWH, "0080H");
    assert_rel(regs_float(r + 2, cdab), exp_lifetime_kwh(0, 0), REL_KWH, "0082H");
    assert_rel(regs_float(r + 4, cdab), exp_lifetime_kwh(0, 1), REL_KWH, "0084H");
    assert_rel(regs_float(r + 6, cdab), exp_lifetime_kwh(0, 2) + exp_lifetime_kwh(0, 3), REL_KWH, "0086H");
    assert_rel(regs_float(r + 8, cdab), exp_lifetime_kwh(0, 2), REL_KWH, "0088H");
    assert_rel(regs_float(r + 10, cdab), exp_lifetime_kwh(0, 3), REL_KWH, "008AH");
    for (unsigned rate = 1; rate <= 4; rate++) {
        snprintf(what, sizeof(what), "combined active rate %u", rate);
        assert_rel(regs_float(r + 12 + 2 * (rate - 1), cdab), exp_lifetime_kwh(rate, 0) + exp_lifetime_kwh(rate, 1),
                   REL_KWH, what);
        snprintf(what, sizeof(what), "combined reactive rate %u", rate);
        assert_rel(regs_float(r + 20 + 2 * (rate - 1), cdab), exp_lifetime_kwh(rate, 2) + exp_lifetime_kwh(rate, 3),
                   REL_KWH, what);
    }
    /* Extension: per rate import and export, 1040H..105FH. */
    rd_ok(0x1040, 32, r);
    for (unsigned kind = 0; kind < 4; kind++) {
        for (unsigned rate = 1; rate <= 4; rate++) {
            snprintf(what, sizeof(what), "%04XH kind %u rate %u", 0x1040u + 8 * kind + 2 * (rate - 1), kind, rate);
            assert_rel(regs_float(r + 8 * kind + 2 * (rate - 1), cdab), exp_lifetime_kwh(rate, kind), REL_KWH, what);
            const float api = mc_energy_kwh(mc_tariff_energy(&g.tariff, rate, (mc_tariff_kind)kind));
            assert_int_equal(fbits(regs_float(r + 8 * kind + 2 * (rate - 1), cdab)), fbits(api));
        }
    }

    /* Month blocks 009CH..019FH: [rate][active, reactive][13 months], read in chunks. */
    static uint16_t m[0x104];
    rd_ok(0x009C, 120, m);
    rd_ok(0x009C + 120, 120, m + 120);
    rd_ok(0x009C + 240, 0x104 - 240, m + 240);
    for (unsigned rate = 0; rate <= 4; rate++) {
        for (int reactive = 0; reactive <= 1; reactive++) {
            const unsigned base = 0x009Cu + rate * 52u + (unsigned)reactive * 26u;
            for (unsigned ago = 0; ago <= 12; ago++) {
                const unsigned a = base + 2u * ago;
                const float got = regs_float(m + (a - 0x009Cu), cdab);
                snprintf(what, sizeof(what), "%04XH rate %u %s month -%u", a, rate, reactive ? "reactive" : "active",
                         ago);
                assert_rel(got, exp_month_kwh(ago, rate, reactive), REL_KWH, what);
                float api;
                assert_int_equal(mc_tariff_month_kwh(&g.tariff, ago, rate,
                                                     reactive ? MC_COMBINED_REACTIVE : MC_COMBINED_ACTIVE, &api),
                                 MC_OK);
                if (fbits(got) != fbits(api)) {
                    fail_msg("%s: register %.9g, mc_tariff_month_kwh %.9g", what, got, api);
                }
            }
        }
    }

    /* Parameters and state. */
    rd_ok(0x0000, 13, r);
    const uint16_t sys[13] = {0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(r, sys, sizeof(sys));
    rd_ok(0x1000, 14, r);
    const mc_datetime_t now = {2024, 3, 6, 0, DEMAND_STEPS - 1u, 30, 0};
    const uint16_t ext[14] = {0, (uint16_t)cdab, 1600, 1, 0, 0, 0, 0, now.year, now.month, now.day, now.hour,
                              now.minute, now.second};
    assert_memory_equal(r, ext, sizeof(ext));
    rd_ok(0x1018, 5, r);
    const uint16_t id[5] = {(MC_VERSION_MAJOR << 8) | MC_VERSION_MINOR, MC_VERSION_PATCH, MC_REGMAP_VERSION, 0x1234,
                            0x5678};
    assert_memory_equal(r, id, sizeof(id));
    rd_ok(0x1020, 5, r);
    /* Unlocked (no protection), not sealed, voltage, above creep, import, relay open, DI open; rate 4 at 00:16. */
    const uint16_t st[5] = {MC_STATUS_UNLOCKED, 0, 0, 0, 4};
    assert_memory_equal(r, st, sizeof(st));
    /* The default schedule (the KPM31 manual's example). */
    rd_ok(0x1100, 4, r);
    const uint16_t counts[4] = {1, 1, 1, 0};
    assert_memory_equal(r, counts, sizeof(counts));
    rd_ok(0x1110, 17, r);
    const uint16_t prof[17] = {5, 0x0600, 1, 0x0A00, 2, 0x0C00, 1, 0x0F00, 3, 0x1700, 4, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(r, prof, sizeof(prof));
    rd_ok(0x11B0, 2, r);
    assert_int_equal(r[0], 0x0101);
    assert_int_equal(r[1], 0);
    /* Calibration: unity, not sealed. */
    rd_ok(0x1220, 11, r);
    const float cal[5] = {1.0f, 1.0f, 0.0f, 0.0f, 0.0f};
    for (unsigned k = 0; k < 5; k++) {
        assert_int_equal(fbits(regs_float(r + 2 * k, cdab)), fbits(cal[k]));
    }
    assert_int_equal(r[10], 0);
}

static void test_read_every_quantity_abcd_cdab(void **state)
{
    (void)state;
    uint16_t abcd[28], cdab[28];
    check_all_values(0);
    rd_ok(0x0080, 28, abcd);
    assert_int_equal(wr1(0x1001, 1), 0);
    assert_int_equal(g.md.params.word_order, 1);
    check_all_values(1);
    rd_ok(0x0080, 28, cdab);
    for (unsigned k = 0; k < 28; k += 2) {
        assert_int_equal(abcd[k], cdab[k + 1]);
        assert_int_equal(abcd[k + 1], cdab[k]);
    }
    /* 230 V-ish: the high word of the voltage carries sign and exponent (4366H for 230.0). */
    assert_int_equal(wr1(0x1001, 0), 0);
    assert_int_equal(rd1(0x0030) >> 8, 0x43);
}

static void test_read_serial_errors_status(void **state)
{
    (void)state;
    /* Serial number: set locally (production), read over the bus, never written over the bus. */
    const char *sn = "KPM31-0042";
    mc_write_item_t it[8];
    memset(it, 0, sizeof(it));
    for (unsigned k = 0; k < 8; k++) {
        it[k].qty = MC_QTY_SERIAL;
        it[k].arg = (uint8_t)k;
        const unsigned c0 = 2u * k < strlen(sn) ? (uint8_t)sn[2u * k] : 0u;
        const unsigned c1 = 2u * k + 1u < strlen(sn) ? (uint8_t)sn[2u * k + 1u] : 0u;
        it[k].u = (uint16_t)(c0 << 8 | c1);
    }
    assert_int_equal(mc_model_write(&g.md, it, 8, MC_SRC_LOCAL), MC_OK);
    uint16_t r[8];
    rd_ok(0x1010, 8, r);
    assert_int_equal(r[0], ('K' << 8) | 'P');
    assert_int_equal(r[2], ('1' << 8) | '-');
    assert_int_equal(r[3], ('0' << 8) | '0');
    assert_int_equal(r[4], ('4' << 8) | '2');
    assert_int_equal(r[5], 0);
    assert_int_equal(r[7], 0);
    assert_int_equal(wr1(0x1010, 0x4142), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(mc_model_write(&g.md, it, 1, MC_SRC_BUS), MC_ERR_INVAL);
    /* Error flags as the persistence layer sets them. */
    g.md.errors = MC_ERROR_CAL_CRC | MC_ERROR_CLOCK;
    assert_int_equal(rd1(0x1021), MC_ERROR_CAL_CRC | MC_ERROR_CLOCK);
    /* Status: relay and DI bits follow the hardware. */
    g.di = 1;
    assert_int_equal(mc_model_set_relay(&g.md, 1, MC_SRC_LOCAL), MC_OK);
    assert_int_equal(rd1(0x1020), MC_STATUS_UNLOCKED | MC_STATUS_RELAY_CLOSED | MC_STATUS_DI_CLOSED);
    assert_int_equal(rd1(0x1022), 1);
    assert_int_equal(rd1(0x1023), 1);
    g.md.sealed = 1;
    assert_int_equal(rd1(0x1020) & MC_STATUS_SEALED, MC_STATUS_SEALED);
    assert_int_equal(rd1(0x122A), 1);
}

static void test_read_gaps_halves_limits(void **state)
{
    (void)state;
    uint16_t r[125];
    /* A new password never reads back. */
    assert_int_equal(wr1(0x0000, 1234), 0);
    assert_int_equal(g.md.params.password, 1234);
    assert_int_equal(wr1(0x0001, 17), 0);
    /* 0000H..000CH: gaps and the write-only command read 0. */
    rd_ok(0x0000, 13, r);
    const uint16_t sys[13] = {0, 17, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(r, sys, sizeof(sys));
    assert_int_equal(rd1(0x0000), 0);
    assert_int_equal(rd1(0x000C), 0);
    /* Reads touching no served register: exception 02. */
    assert_int_equal(rd(0x0003, 9, NULL), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x000D, 0x23, NULL), MC_MB_EX_ILLEGAL_ADDRESS); /* 000DH..002FH */
    assert_int_equal(rd(0x003E, 0x32, NULL), MC_MB_EX_ILLEGAL_ADDRESS); /* 003EH..006FH */
    assert_int_equal(rd(0x01A0, 125, NULL), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0x0FFF, 1, NULL), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0xFFFF, 1, NULL), MC_MB_EX_ILLEGAL_ADDRESS);
    /* One served register is enough; the rest reads 0. */
    rd_ok(0x000D, 0x24, r); /* 000DH..0030H: the last is U's high word */
    for (unsigned k = 0; k < 0x23; k++) {
        assert_int_equal(r[k], 0);
    }
    const uint32_t u_bits = fbits(rdf(0x0030, 0));
    assert_int_equal(r[0x23], u_bits >> 16);
    rd_ok(0x0FFF, 2, r);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 0); /* 1000H parity 0 */
    rd_ok(0x019F, 125, r);     /* valley reactive -12 low word, then nothing */
    for (unsigned k = 1; k < 125; k++) {
        assert_int_equal(r[k], 0);
    }
    /* Halves of a float, in either word order. */
    const uint32_t e_bits = fbits(rdf(0x0082, 0));
    assert_int_equal(rd1(0x0082), e_bits >> 16);
    assert_int_equal(rd1(0x0083), e_bits & 0xFFFFu);
    rd_ok(0x0083, 3, r); /* low half of 0082H, whole 0084H */
    assert_int_equal(r[0], e_bits & 0xFFFFu);
    assert_int_equal(wr1(0x1001, 1), 0);
    assert_int_equal(rd1(0x0082), e_bits & 0xFFFFu);
    assert_int_equal(rd1(0x0083), e_bits >> 16);
    assert_int_equal(wr1(0x1001, 0), 0);
    /* 125 registers: the largest read. */
    rd_ok(0x0080, 125, r);
    assert_int_equal(r[2], e_bits >> 16);
    rd_ok(0x1100, 125, r);
    assert_int_equal(r[0x10], 5);
    /* Quantity 0 and 126: exception 03, also where no register is served (quantity first). */
    assert_int_equal(rd(0x0080, 0, NULL), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(rd(0x0080, 126, NULL), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(rd(0x5000, 0, NULL), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(rd(0xFFFF, 126, NULL), MC_MB_EX_ILLEGAL_VALUE);
    /* Past FFFFH: exception 02; up to FFFFH is a legal request (nothing served there). */
    assert_int_equal(rd(0xFF90, 125, NULL), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0xFFFF, 2, NULL), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd(0xFF83, 125, NULL), MC_MB_EX_ILLEGAL_ADDRESS);
    /* Wrong PDU length for FC 03: exception 03. */
    const uint8_t short_req[4] = {0x03, 0x00, 0x30, 0x00};
    assert_int_equal(exception_of(handle(short_req, 4, 0), 0x03), MC_MB_EX_ILLEGAL_VALUE);
    const uint8_t long_req[6] = {0x03, 0x00, 0x30, 0x00, 0x02, 0x00};
    assert_int_equal(exception_of(handle(long_req, 6, 0), 0x03), MC_MB_EX_ILLEGAL_VALUE);
    /* The response may overwrite the request. */
    uint8_t buf[MC_MODBUS_PDU_MAX] = {0x03, 0x00, 0x80, 0x00, 0x7D};
    assert_int_equal(mc_modbus_handle_pdu(&g.md, &g.sess, buf, 5, buf, 0), 252);
    assert_int_equal(buf[1], 250);
    assert_int_equal(get16(buf + 2 + 2 * 2), e_bits >> 16); /* 0082H */
}

static void test_model_without_tariff(void **state)
{
    (void)state;
    fx(MC_FEAT_RELAY, 0, 0);
    /* Energies come from the meter's registers: the signal's P and Q over the windows measured. */
    double dur = 0.0;
    for (size_t k = 0; k < g.nwin; k++) {
        dur += g.win[k].duration_s;
    }
    const double ai_kwh = g.truth.p * dur / 3600.0 / 1000.0, ri_kwh = g.truth.q1 * dur / 3600.0 / 1000.0;
    assert_rel(rdf(0x0080, 0), ai_kwh, 2e-3, "0080H from the meter");
    assert_rel(rdf(0x0082, 0), ai_kwh, 2e-3, "0082H from the meter");
    assert_int_equal(fbits(rdf(0x0084, 0)), fbits(0.0f));
    assert_rel(rdf(0x0086, 0), ri_kwh, 2e-3, "0086H from the meter");
    assert_rel(rdf(0x0088, 0), ri_kwh, 2e-3, "0088H from the meter");
    mc_energy_t e;
    assert_int_equal(mc_meter_energy(&g.meter, &e), MC_OK);
    assert_int_equal(fbits(rdf(0x0082, 0)), fbits(mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT])));
    /* Per rate, months, demand, rate: 0 without a tariff. */
    uint16_t r[28];
    rd_ok(0x008C, 16, r);
    for (unsigned k = 0; k < 16; k++) {
        assert_int_equal(r[k], 0);
    }
    assert_int_equal(fbits(rdf(0x009C, 0)), 0);
    assert_int_equal(fbits(rdf(0x0070, 0)), 0);
    assert_int_equal(rd1(0x1024), 0);
    assert_int_equal(rd1(0x1003), 0);
    /* Settlement and schedule need a tariff: exception 03, nothing changes. */
    snap_t s;
    snap_take(&s);
    assert_int_equal(wr1(0x1003, 5), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wr1(0x1004, 5), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wr1(0x1110, 3), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "settlement write without tariff");
    /* The schedule registers show the default schedule. */
    assert_int_equal(rd1(0x1110), 5);
    /* Clear energy clears the meter. */
    assert_int_equal(wr1(0x000C, MC_CLEAR_ENERGY_COMMAND), 0);
    assert_int_equal(mc_meter_energy(&g.meter, &e), MC_OK);
    for (unsigned k = 0; k < MC_E_COUNT; k++) {
        assert_int_equal(e.q[k], 0);
    }
    assert_int_equal(fbits(rdf(0x0080, 0)), 0);
}

/* Export (current leading by 120 degrees: P < 0, Q > 0, quadrant II) and loss of voltage, meter only. */
static void test_export_and_no_voltage(void **state)
{
    (void)state;
    memset(&g, 0, sizeof(g));
    meter_start_phi(120.0);
    g.now = T(2024, 3, 6, 0, 0, 0);
    model_start(0, 0, 0);
    const double p = UN * IN * cos(120.0 * M_PI / 180.0), q = UN * IN * sin(120.0 * M_PI / 180.0);
    assert_rel(rdf(0x0034, 0), p, REL_MEAS, "P 0034H exporting");
    assert_rel(rdf(0x0036, 0), q, REL_MEAS, "Q 0036H exporting");
    assert_rel(rdf(0x003A, 0), -0.5, 2e-3, "PF 003AH exporting");
    assert_int_equal(rd1(0x1020), MC_STATUS_UNLOCKED | MC_STATUS_EXPORT);
    double dur = 0.0;
    for (size_t k = 0; k < g.nwin; k++) {
        dur += g.win[k].duration_s;
    }
    assert_int_equal(fbits(rdf(0x0082, 0)), 0);
    assert_rel(rdf(0x0084, 0), -p * dur / 3.6e6, 2e-3, "active export 0084H");
    assert_rel(rdf(0x0080, 0), -p * dur / 3.6e6, 2e-3, "combined active 0080H (import + export)");
    assert_rel(rdf(0x0088, 0), q * dur / 3.6e6, 2e-3, "reactive import 0088H (quadrant II)");
    assert_int_equal(fbits(rdf(0x008A, 0)), 0);
    /* The voltage goes away: no-voltage flag, frequency 0. */
    int32_t zero[400];
    memset(zero, 0, sizeof(zero));
    for (int k = 0; k < 30; k++) {
        assert_true(mc_meter_process(&g.meter, zero, zero, 400) >= 0);
    }
    assert_int_equal(rd1(0x1020) & MC_STATUS_NO_VOLTAGE, MC_STATUS_NO_VOLTAGE);
    assert_int_equal(fbits(rdf(0x003C, 0)), fbits(0.0f));
    assert_true(fabsf(rdf(0x0030, 0)) < 1.0f);
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                   */

typedef struct param_case {
    uint16_t addr;
    uint16_t good[3];
    uint16_t bad[3];
    size_t nbad;
} param_case_t;

static unsigned param_now(uint16_t addr)
{
    switch (addr) {
    case 0x0001:
        return g.md.params.address;
    case 0x0002:
        return g.md.params.baud_code;
    case 0x1000:
        return g.md.params.parity;
    case 0x1001:
        return g.md.params.word_order;
    case 0x1002:
        return g.md.params.pulse_constant;
    case 0x1003:
        return g.tariff.cfg.settle_day;
    case 0x1004:
        return g.tariff.cfg.settle_hour;
    default:
        fail();
        return 0;
    }
}

static void test_write_parameters(void **state)
{
    (void)state;
    static const param_case_t cases[] = {
        {0x0001, {1, 247, 42}, {0, 248, 0xFFFF}, 3},
        {0x0002, {1, 3, 2}, {0, 5, 0x0104}, 3},
        {0x1000, {2, 1, 0}, {3, 0x100, 0xFFFF}, 3},
        {0x1001, {1, 0, 1}, {2, 0x100, 0}, 2},
        {0x1002, {1, 65535, 3200}, {0, 0, 0}, 1},
        {0x1003, {28, 1, 15}, {0, 29, 0x101}, 3},
        {0x1004, {23, 0, 7}, {24, 0x100, 0xFFFF}, 3},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const param_case_t *pc = &cases[c];
        for (unsigned k = 0; k < 3; k++) {
            /* FC 06 and FC 10 alternately. */
            const int ex = (k % 2u) ? wrn(pc->addr, 1, &pc->good[k]) : wr1(pc->addr, pc->good[k]);
            if (ex != 0) {
                fail_msg("write %u to %04XH: exception %d", pc->good[k], pc->addr, ex);
            }
            assert_int_equal(param_now(pc->addr), pc->good[k]);
            assert_int_equal(rd1(pc->addr), pc->good[k]);
        }
        for (size_t k = 0; k < pc->nbad; k++) {
            snap_t s;
            snap_take(&s);
            assert_int_equal(wr1(pc->addr, pc->bad[k]), MC_MB_EX_ILLEGAL_VALUE);
            assert_int_equal(wrn(pc->addr, 1, &pc->bad[k]), MC_MB_EX_ILLEGAL_VALUE);
            snap_same(&s, "out-of-range parameter");
        }
    }
    /* The pulse constant reaches the meter. */
    assert_int_equal(g.meter.cfg.pulse_constant, 3200);
    /* Several parameters in one FC 10. */
    const uint16_t v[5] = {1, 0, 1000, 2, 3};
    assert_int_equal(wrn(0x1000, 5, v), 0);
    assert_int_equal(g.md.params.parity, 1);
    assert_int_equal(g.md.params.word_order, 0);
    assert_int_equal(g.md.params.pulse_constant, 1000);
    assert_int_equal(g.meter.cfg.pulse_constant, 1000);
    assert_int_equal(g.tariff.cfg.settle_day, 2);
    assert_int_equal(g.tariff.cfg.settle_hour, 3);
    /* The response may overwrite the request. */
    uint8_t buf[MC_MODBUS_PDU_MAX] = {0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x09, 0x00, 0x03};
    assert_int_equal(mc_modbus_handle_pdu(&g.md, &g.sess, buf, 10, buf, 0), 5);
    const uint8_t echo[5] = {0x10, 0x00, 0x01, 0x00, 0x02};
    assert_memory_equal(buf, echo, 5);
    assert_int_equal(g.md.params.address, 9);
    assert_int_equal(g.md.params.baud_code, 3);
}

static void test_write_all_or_nothing(void **state)
{
    (void)state;
    snap_t s;
    /* One bad value among good ones: nothing changes, nobody is told. */
    const uint16_t sys[2] = {7, 9};                            /* address ok, baud 9 bad */
    const uint16_t ext[5] = {2, 1, 3200, 0, 5};                /* settle day 0 bad */
    const uint16_t ext2[5] = {1, 1, 3200, 12, 24};             /* settle hour 24 bad */
    const uint16_t ext3[5] = {3, 0, 3200, 12, 5};              /* parity 3 bad */
    const uint16_t clk[6] = {2024, 4, 31, 10, 0, 0};           /* 31 April */
    const uint16_t clk2[6] = {2024, 3, 6, 10, 60, 0};          /* minute 60 */
    const uint16_t clk3[6] = {2100, 1, 1, 0, 0, 0};            /* past 2099 */
    snap_take(&s);
    assert_int_equal(wrn(0x0001, 2, sys), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "address + bad baud");
    assert_int_equal(wrn(0x1000, 5, ext), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "parameters + bad settlement day");
    assert_int_equal(wrn(0x1000, 5, ext2), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "parameters + bad settlement hour");
    assert_int_equal(wrn(0x1000, 5, ext3), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "bad parity + parameters");
    assert_int_equal(wrn(0x1008, 6, clk), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "31 April");
    assert_int_equal(wrn(0x1008, 6, clk2), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "minute 60");
    assert_int_equal(wrn(0x1008, 6, clk3), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "year 2100");
    assert_int_equal(wr1(0x1009, 2), 0); /* month 3 -> 2: 6 February exists */
    assert_int_equal(g.set_clock_calls, 1);
    snap_take(&s);
    assert_int_equal(wr1(0x100A, 30), MC_MB_EX_ILLEGAL_VALUE); /* 30 February */
    snap_same(&s, "30 February");
    /* A good value followed by a read-only register: exception 02, nothing written. */
    assert_int_equal(wrn(0x100D, 4, (const uint16_t[]){1, 2, 3, 4}), MC_MB_EX_ILLEGAL_ADDRESS);
    snap_same(&s, "clock + gap");
    /* Calibration floats with one out of range. */
    uint16_t cal[10];
    float_regs(1.01f, 0, cal);
    float_regs(1.02f, 0, cal + 2);
    float_regs(0.5f, 0, cal + 4);
    float_regs(1.0f, 0, cal + 6);
    float_regs(20000.0f, 0, cal + 8); /* q offset out of range */
    assert_int_equal(wrn(0x1220, 10, cal), MC_MB_EX_ILLEGAL_VALUE);
    snap_same(&s, "calibration with one bad value");
    float_regs(1.0f, 0, cal + 8);
    assert_int_equal(wrn(0x1220, 10, cal), 0);
    mc_calibration_t c;
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c), MC_OK);
    assert_true(c.u_gain == 1.01f && c.i_gain == 1.02f && c.phase_deg == 0.5f && c.p_offset == 1.0f &&
                c.q_offset == 1.0f);
    assert_int_equal(mc_calibration_check(&c), MC_OK);
}

static void test_write_refused_registers(void **state)
{
    (void)state;
    snap_t s;
    snap_take(&s);
    /* Read-only and unserved registers: exception 02. */
    static const uint16_t ro[] = {0x0003, 0x000B, 0x000D, 0x0030, 0x0031, 0x0070, 0x0080, 0x009C, 0x019E, 0x0FFF,
                                  0x1005, 0x1010, 0x1018, 0x101A, 0x101B, 0x1020, 0x1021, 0x1022, 0x1024, 0x1030,
                                  0x1040, 0x1104, 0x1121, 0x122B, 0x1400, 0x1401, 0x1406, 0x1410, 0x1412,
                                  0x1420, 0x1500, 0x1502, 0x15FE, 0x16A0, 0x16BE, 0x16C0, 0xFFFF};
    for (size_t k = 0; k < sizeof(ro) / sizeof(ro[0]); k++) {
        if (wr1(ro[k], 1) != MC_MB_EX_ILLEGAL_ADDRESS) {
            fail_msg("FC06 to %04XH: expected exception 02", ro[k]);
        }
        const uint16_t two[2] = {1, 1};
        if (wrn(ro[k], ro[k] == 0xFFFF ? 1 : 2, two) != MC_MB_EX_ILLEGAL_ADDRESS) {
            fail_msg("FC10 to %04XH: expected exception 02", ro[k]);
        }
    }
    /* A write running from writable into read-only or unserved registers. */
    const uint16_t v3[3] = {1, 4, 0};
    assert_int_equal(wrn(0x0001, 3, v3), MC_MB_EX_ILLEGAL_ADDRESS);    /* 0003H unserved */
    assert_int_equal(wrn(0x1004, 3, v3), MC_MB_EX_ILLEGAL_ADDRESS);    /* 1005H unserved */
    assert_int_equal(wrn(0x122A, 2, v3), MC_MB_EX_ILLEGAL_ADDRESS);    /* 122BH unserved */
    assert_int_equal(wrn(0xFFFF, 2, v3), MC_MB_EX_ILLEGAL_ADDRESS);    /* past FFFFH */
    snap_same(&s, "read-only registers");
    /* Half a float: exception 03. */
    uint16_t f[4];
    float_regs(1.0f, 0, f);
    float_regs(1.0f, 0, f + 2);
    assert_int_equal(wr1(0x1220, f[0]), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wr1(0x1221, f[1]), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wrn(0x1220, 1, f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wrn(0x1221, 2, f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wrn(0x1220, 3, f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wrn(0x1229, 2, f), MC_MB_EX_ILLEGAL_VALUE); /* low half of q offset + seal */
    snap_same(&s, "half a float");
}

static void test_clear_energy(void **state)
{
    (void)state;
    snap_t s;
    snap_take(&s);
    static const uint16_t bad[] = {0, 1, 0x55AB, 0xAA55, 0xFFFF};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_int_equal(wr1(0x000C, bad[k]), MC_MB_EX_ILLEGAL_VALUE);
        assert_int_equal(wrn(0x000C, 1, &bad[k]), MC_MB_EX_ILLEGAL_VALUE);
    }
    snap_same(&s, "clear energy with a wrong value");
    assert_true(rdf(0x0080, 0) > 10.0f);

    mc_energy_t e;
    assert_int_equal(mc_meter_energy(&g.meter, &e), MC_OK);
    assert_true(e.q[MC_E_ACTIVE_IMPORT] > 0u);
    assert_int_equal(wr1(0x000C, MC_CLEAR_ENERGY_COMMAND), 0);
    /* Meter registers zero. */
    assert_int_equal(mc_meter_energy(&g.meter, &e), MC_OK);
    for (unsigned k = 0; k < MC_E_COUNT; k++) {
        assert_int_equal(e.q[k], 0);
    }
    /* Tariff: lifetime, month, history, maximum demand. */
    for (unsigned rate = 0; rate <= 4; rate++) {
        for (unsigned kind = 0; kind < MC_TK_COUNT; kind++) {
            assert_int_equal(mc_tariff_energy(&g.tariff, rate, (mc_tariff_kind)kind), 0);
        }
        for (unsigned ago = 0; ago <= 12; ago++) {
            float kwh = -1.0f;
            assert_int_equal(mc_tariff_month_kwh(&g.tariff, ago, rate, MC_COMBINED_ACTIVE, &kwh), MC_OK);
            assert_true(kwh == 0.0f);
        }
    }
    /* And every energy register reads 0. */
    uint16_t r[125];
    for (unsigned a = 0x0080; a < 0x01A0; a += 96) {
        const unsigned n = 0x01A0 - a < 96 ? 0x01A0 - a : 96;
        rd_ok(a, n, r);
        for (unsigned k = 0; k < n; k++) {
            if (r[k] != 0) {
                fail_msg("%04XH reads %04XH after clearing", a + k, r[k]);
            }
        }
    }
    rd_ok(0x1040, 32, r);
    for (unsigned k = 0; k < 32; k++) {
        assert_int_equal(r[k], 0);
    }
    assert_int_equal(fbits(rdf(0x1032, 0)), 0);
    /* Parameters untouched. */
    assert_int_equal(g.md.params.address, 1);
    assert_int_equal(g.md.params.password, 6666);
    /* Reported once, as the command. */
    assert_int_equal(g.nch, 1);
    assert_int_equal(g.ch[0].qty, MC_QTY_CLEAR_ENERGY);
    assert_int_equal(g.ch[0].new_v, MC_CLEAR_ENERGY_COMMAND);
    assert_int_equal(g.ch[0].src, MC_SRC_BUS);
    /* By FC 10 too. */
    const uint16_t cmd = MC_CLEAR_ENERGY_COMMAND;
    assert_int_equal(wrn(0x000C, 1, &cmd), 0);
    assert_int_equal(g.nch, 2);
}

static void test_clock(void **state)
{
    (void)state;
    const mc_time_t before = g.now;
    uint16_t r[6];
    /* A whole date and time in one FC 10, through the port's set_clock hook. */
    const uint16_t clk[6] = {2024, 3, 6, 12, 34, 56};
    assert_int_equal(wrn(0x1008, 6, clk), 0);
    assert_int_equal(g.set_clock_calls, 1);
    assert_int_equal(g.set_clock_to, T(2024, 3, 6, 12, 34, 56));
    rd_ok(0x1008, 6, r);
    assert_memory_equal(r, clk, sizeof(clk));
    /* The tariff saw the clock set, from the old time to the new, and follows the rate. */
    assert_int_equal(g.clock_set_events, 1);
    assert_int_equal(g.ev_old, before);
    assert_int_equal(g.ev_new, T(2024, 3, 6, 12, 34, 56));
    assert_int_equal(g.tariff.last_time, T(2024, 3, 6, 12, 34, 56));
    assert_int_equal(rd1(0x1024), 1); /* 12:00..15:00 rate 1 */
    /* One field by FC 06: the others stay. */
    assert_int_equal(wr1(0x100B, 23), 0);
    assert_int_equal(g.set_clock_to, T(2024, 3, 6, 23, 34, 56));
    assert_int_equal(g.clock_set_events, 2);
    assert_int_equal(rd1(0x1024), 4);
    /* Forwards past the settlement point: the tariff freezes March. */
    const int freezes = g.freezes;
    const uint16_t apr[6] = {2024, 4, 2, 8, 0, 0};
    assert_int_equal(wrn(0x1008, 6, apr), 0);
    assert_int_equal(g.freezes, freezes + 1);
    /* March's whole Wh moved (fractions stay), February and January moved down one. */
    assert_rel(rdf(0x009E, 0), (703 + 1403 + 2103 + 2803) / 1000.0, REL_KWH, "009EH March active");
    assert_rel(rdf(0x00B8, 0), (100 + 200 + 300 + 400) / 1000.0, REL_KWH, "00B8H March reactive");
    assert_rel(rdf(0x00D2, 0), 703 / 1000.0, REL_KWH, "00D2H March sharp active");
    assert_rel(rdf(0x00A0, 0), exp_month_kwh(1, 0, 0), REL_KWH, "00A0H February active");
    assert_rel(rdf(0x00A2, 0), exp_month_kwh(2, 0, 0), REL_KWH, "00A2H January active");
    assert_rel(rdf(0x013E, 0), exp_month_kwh(2, 3, 0), REL_KWH, "013EH January flat active");
    assert_rel(rdf(0x0156, 0), exp_month_kwh(1, 3, 1), REL_KWH, "0156H February flat reactive");
    assert_int_equal(fbits(rdf(0x00A4, 0)), 0);
    assert_rel(rdf(0x009C, 0), (0.25 + 0.75) / 1000.0, REL_KWH, "009CH residue this month");
    assert_rel(rdf(0x00B6, 0), (0.5 + 0.125) / 1000.0, REL_KWH, "00B6H residue this month");
    /* The clock hook fails: exception 04, nothing else changes. */
    snap_t s;
    snap_take(&s);
    g.set_clock_ret = MC_ERR_RANGE;
    const uint16_t may[6] = {2024, 5, 2, 8, 0, 0};
    assert_int_equal(wrn(0x1008, 6, may), MC_MB_EX_DEVICE_FAILURE);
    s.set_clock_calls++;
    snap_same(&s, "clock hook failed");
    g.set_clock_ret = 0;
    /* Without a set_clock hook the clock cannot be set: refused, nothing changes. */
    g.md.hooks.set_clock = NULL;
    snap_take(&s);
    assert_true(wrn(0x1008, 6, may) != 0);
    assert_true(wr1(0x100D, 0) != 0);
    snap_same(&s, "no set_clock hook");
}

/*
 * A new settlement day applies from its next occurrence: changing it never
 * makes up a settlement point that lies before the change (that record would
 * claim to close the month at a time before energy it contains was booked).
 */
static void test_settle_day_change(void **state)
{
    (void)state;
    const mc_time_t t0 = g.now; /* 2024-03-06 00:16:30, last settlement 2024-03-01 00:00 */
    const int freezes = g.freezes;
    g.watch = 1;
    assert_int_equal(wr1(0x1003, 5), 0); /* 5 March has passed this month */
    assert_int_equal(g.tariff.cfg.settle_day, 5);
    assert_true(mc_tariff_update(&g.tariff, t0 + 60) >= 0);
    if (g.freezes != freezes) {
        mc_datetime_t d;
        assert_int_equal(mc_time_to_datetime(g.first_freeze_at, &d), MC_OK);
        fail_msg("settlement day 1 -> 5 written on 2024-03-06 00:16: a settlement dated %04u-%02u-%02u %02u:%02u "
                 "was made, before the change; expected none until 2024-04-05 00:00",
                 d.year, d.month, d.day, d.hour, d.minute);
    }
    /* March so far is still this month; February still month -1. */
    assert_rel(rdf(0x009E, 0), exp_month_kwh(1, 0, 0), REL_KWH, "009EH February after the change");
    /* The next point is 5 April 00:00. */
    assert_true(mc_tariff_update(&g.tariff, T(2024, 4, 4, 23, 59, 59)) >= 0);
    assert_int_equal(g.freezes, freezes);
    assert_true(mc_tariff_update(&g.tariff, T(2024, 4, 5, 0, 0, 0)) >= 0);
    assert_int_equal(g.freezes, freezes + 1);
    assert_int_equal(g.first_freeze_at, T(2024, 4, 5, 0, 0, 0));
}

/* on_change reports changed clock fields only, like every other parameter. */
static void test_on_change_clock_fields(void **state)
{
    (void)state;
    /* The fixture's clock: 2024-03-06 00:16:30. Same date, new time of day: one report, in times. */
    const uint16_t clk[6] = {2024, 3, 6, 12, 34, 56};
    mc_datetime_t od = {2024, 3, 6, 0, 16, 30, 0}, nd = {2024, 3, 6, 12, 34, 56, 0};
    mc_time_t ot, nt;
    assert_int_equal(mc_time_from_datetime(&od, &ot), MC_OK);
    assert_int_equal(mc_time_from_datetime(&nd, &nt), MC_OK);
    assert_int_equal(wrn(0x1008, 6, clk), 0);
    assert_int_equal(g.nch, 1);
    assert_int_equal(g.ch[0].qty, MC_QTY_CLOCK);
    assert_int_equal(g.ch[0].arg, MC_CLOCK_ARG_TIME);
    assert_int_equal(g.ch[0].old_v, ot);
    assert_int_equal(g.ch[0].new_v, nt);
    assert_int_equal(g.ch[0].src, MC_SRC_BUS);
    /* Writing the same time again reports nothing. */
    g.nch = 0;
    assert_int_equal(wrn(0x1008, 6, clk), 0);
    assert_int_equal(g.nch, 0);
}

static void assert_change(size_t idx, mc_qty q, unsigned arg, uint32_t old_v, uint32_t new_v, mc_source src)
{
    if (idx >= g.nch) {
        fail_msg("change %zu expected (qty %d arg %u), only %zu reported", idx, (int)q, arg, g.nch);
    }
    const change_t *c = &g.ch[idx];
    if (c->qty != q || c->arg != arg || c->old_v != old_v || c->new_v != new_v || c->src != src) {
        fail_msg("change %zu: got qty %d arg %u old %08X new %08X src %d, expected qty %d arg %u old %08X new %08X "
                 "src %d",
                 idx, (int)c->qty, c->arg, c->old_v, c->new_v, (int)c->src, (int)q, arg, old_v, new_v, (int)src);
    }
}

/* CRC-32 of the schedule registers 1100H..11FFH as FC 03 reads them, in address order,
 * each word big-endian (the tariff blocks of the register map). */
static uint32_t schedule_regs_crc(void)
{
    static const uint16_t blocks[][2] = {{0x1100, 4},  {0x1110, 17}, {0x1130, 17}, {0x1150, 17},
                                         {0x1170, 17}, {0x1190, 28}, {0x11B0, 8},  {0x11C0, 96}};
    uint32_t crc = 0;
    for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
        for (unsigned k = 0; k < blocks[b][1]; k++) {
            const unsigned w = rd1(blocks[b][0] + k);
            const uint8_t be[2] = {(uint8_t)(w >> 8), (uint8_t)w};
            crc = mc_crc32(crc, be, 2);
        }
    }
    return crc;
}

static void test_on_change(void **state)
{
    (void)state;
    assert_int_equal(g.nch, 0);
    /* Unchanged values are not reported. */
    assert_int_equal(wr1(0x0001, 1), 0);
    assert_int_equal(g.nch, 0);
    assert_int_equal(wr1(0x0001, 5), 0);
    assert_int_equal(g.nch, 1);
    assert_change(0, MC_QTY_ADDRESS, 0, 1, 5, MC_SRC_BUS);
    assert_int_equal(wr1(0x0001, 5), 0);
    assert_int_equal(g.nch, 1);
    /* One FC 10, one changed value among five. */
    const uint16_t ext[5] = {1, 0, 1600, 1, 0};
    assert_int_equal(wrn(0x1000, 5, ext), 0);
    assert_int_equal(g.nch, 2);
    assert_change(1, MC_QTY_PARITY, 0, 0, 1, MC_SRC_BUS);
    /* The password: reported as changed, never with its value. */
    assert_int_equal(wr1(0x0000, 6666), 0);
    assert_int_equal(g.nch, 2);
    assert_int_equal(wr1(0x0000, 1234), 0);
    assert_int_equal(g.nch, 3);
    assert_change(2, MC_QTY_PASSWORD, 0, 0, 0, MC_SRC_BUS);
    assert_int_equal(g.md.params.password, 1234);
    /* The change ended the session (it was opened with the old password). */
    assert_int_equal(mc_session_login(&g.md, &g.sess, 1234), MC_OK);
    /* Calibration floats as their bits. */
    uint16_t f[10];
    float_regs(1.05f, 0, f);
    assert_int_equal(wrn(0x1222, 2, f), 0);
    assert_int_equal(g.nch, 4);
    assert_change(3, MC_QTY_CAL, 1, fbits(1.0f), fbits(1.05f), MC_SRC_BUS);
    float_regs(1.0f, 0, f);
    float_regs(1.05f, 0, f + 2);
    float_regs(0.25f, 0, f + 4);
    float_regs(0.0f, 0, f + 6);
    float_regs(0.0f, 0, f + 8);
    assert_int_equal(wrn(0x1220, 10, f), 0);
    assert_int_equal(g.nch, 5);
    assert_change(4, MC_QTY_CAL, 2, fbits(0.0f), fbits(0.25f), MC_SRC_BUS);
    /* A schedule change (here one word: segment 5's rate, 4 -> 3): one report for the whole
     * schedule, with the CRC-32 of its registers before and after, as a client reads them. */
    const uint32_t crc_before = schedule_regs_crc();
    const uint16_t prof[17] = {5, 0x0600, 1, 0x0A00, 2, 0x0C00, 1, 0x0F00, 3, 0x1700, 3, 0, 0, 0, 0, 0, 0};
    assert_int_equal(wrn(0x1110, 17, prof), 0);
    assert_int_equal(g.nch, 6);
    assert_true(schedule_regs_crc() != crc_before);
    assert_change(5, MC_QTY_TOU_COUNTS, MC_SCHEDULE_ARG, crc_before, schedule_regs_crc(), MC_SRC_BUS);
    assert_int_equal(wrn(0x1110, 17, prof), 0); /* the same again: no change, no report */
    assert_int_equal(g.nch, 6);
    /* Settlement day, seal. */
    assert_int_equal(wr1(0x1003, 15), 0);
    assert_change(6, MC_QTY_SETTLE_DAY, 0, 1, 15, MC_SRC_BUS);
    assert_int_equal(wr1(0x122A, 1), 0);
    assert_change(7, MC_QTY_SEAL, 0, 0, 1, MC_SRC_BUS);
    /* Other sources are reported as such. */
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_ADDRESS;
    it.u = 9;
    assert_int_equal(mc_model_write(&g.md, &it, 1, MC_SRC_PANEL), MC_OK);
    assert_change(8, MC_QTY_ADDRESS, 0, 5, 9, MC_SRC_PANEL);
    /* The relay: once per change. */
    const uint8_t close[5] = {0x05, 0x00, 0x01, 0xFF, 0x00};
    assert_int_equal(handle(close, 5, 0), 5);
    assert_int_equal(g.nch, 10);
    assert_change(9, MC_QTY_RELAY, 0, 0, 1, MC_SRC_BUS);
    assert_int_equal(handle(close, 5, 0), 5);
    assert_int_equal(g.nch, 10);
    /* A refused write reports nothing. */
    assert_int_equal(wr1(0x0001, 0), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(g.nch, 10);
}

static void test_schedule(void **state)
{
    (void)state;
    /* A whole day profile in one FC 10: 00:00 r4, 07:30 r1, 12:00 r2, 19:45 r3. */
    const uint16_t prof[17] = {4, 0x0000, 4, 0x071E, 1, 0x0C00, 2, 0x132D, 3, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(wrn(0x1110, 17, prof), 0);
    uint16_t r[17];
    rd_ok(0x1110, 17, r);
    assert_memory_equal(r, prof, sizeof(prof));
    static const struct {
        unsigned h, m, s;
        int rate;
    } at[] = {{0, 0, 0, 4},   {3, 0, 0, 4},   {7, 29, 59, 4}, {7, 30, 0, 1},   {11, 59, 59, 1},
              {12, 0, 0, 2},  {19, 44, 59, 2}, {19, 45, 0, 3}, {23, 59, 59, 3}};
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        const int rate = mc_tariff_rate_at(&g.tariff.schedule, T(2024, 3, 7, at[k].h, at[k].m, at[k].s));
        if (rate != at[k].rate) {
            fail_msg("%02u:%02u:%02u: rate %d, expected %d", at[k].h, at[k].m, at[k].s, rate, at[k].rate);
        }
    }
    /* Invalid profiles: exception 03, the schedule (and everything else) unchanged. */
    static const struct {
        unsigned word;
        uint16_t value;
        const char *what;
    } bad[] = {
        {0, 9, "count 9"},          {0, 0, "count 0"},           {0, 0x0104, "count 260"},
        {3, 0x0C00, "unsorted"},    {3, 0x0000, "duplicate start"}, {4, 5, "rate 5"},
        {4, 0, "rate 0"},           {3, 0x073C, "minute 60"},    {7, 0x1800, "hour 24"},
        {8, 0x0101, "rate 257"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        uint16_t p[17];
        memcpy(p, prof, sizeof(p));
        p[bad[k].word] = bad[k].value;
        snap_t s;
        snap_take(&s);
        if (wrn(0x1110, 17, p) != MC_MB_EX_ILLEGAL_VALUE) {
            fail_msg("profile with %s: expected exception 03", bad[k].what);
        }
        if (wr1(0x1110 + bad[k].word, bad[k].value) != MC_MB_EX_ILLEGAL_VALUE) {
            fail_msg("FC06 %s: expected exception 03", bad[k].what);
        }
        snap_same(&s, bad[k].what);
    }
    /* Unused segments beyond the count are not checked. */
    uint16_t p9[17];
    memcpy(p9, prof, sizeof(p9));
    p9[9] = 0xFFFF;
    p9[10] = 9;
    assert_int_equal(wrn(0x1110, 17, p9), 0);
    /* A second day profile for Sundays: written first (unused, unchecked), then put in use. */
    snap_t s;
    snap_take(&s);
    assert_int_equal(wr1(0x1100, 2), MC_MB_EX_ILLEGAL_VALUE); /* profile 1 is still empty */
    snap_same(&s, "count 2 with an empty profile");
    const uint16_t sunday[3] = {1, 0x0000, 4};
    assert_int_equal(wrn(0x1130, 3, sunday), 0);
    assert_int_equal(wr1(0x1100, 2), 0);
    assert_int_equal(wr1(0x1196, 1), 0); /* week profile 0, Sunday -> day profile 1 */
    assert_int_equal(wr1(0x1196, 2), MC_MB_EX_ILLEGAL_VALUE); /* no day profile 2 */
    assert_int_equal(mc_tariff_rate_at(&g.tariff.schedule, T(2024, 3, 10, 13, 0, 0)), 4); /* Sunday */
    assert_int_equal(mc_tariff_rate_at(&g.tariff.schedule, T(2024, 3, 11, 13, 0, 0)), 2); /* Monday */
    /* A special day: May 1st every year, day profile 1. */
    const uint16_t may1[3] = {0, 0x0501, 1};
    assert_int_equal(wrn(0x11C0, 3, may1), 0);
    assert_int_equal(wr1(0x1103, 1), 0);
    assert_int_equal(mc_tariff_rate_at(&g.tariff.schedule, T(2025, 5, 1, 13, 0, 0)), 4);
    assert_int_equal(mc_tariff_rate_at(&g.tariff.schedule, T(2025, 5, 2, 13, 0, 0)), 2);
    snap_take(&s);
    assert_int_equal(wr1(0x11C1, 0x021E), MC_MB_EX_ILLEGAL_VALUE); /* 30 February */
    assert_int_equal(wr1(0x11B0, 0x0D01), MC_MB_EX_ILLEGAL_VALUE); /* season from month 13 */
    assert_int_equal(wr1(0x1102, 5), MC_MB_EX_ILLEGAL_VALUE);      /* 5 seasons */
    assert_int_equal(wr1(0x1103, 33), MC_MB_EX_ILLEGAL_VALUE);     /* 33 special days */
    snap_same(&s, "bad season / special day");
}

/* ------------------------------------------------------------------------ */
/* Protection and seal                                                      */

static void test_password_protection(void **state)
{
    (void)state;
    fx(MC_FEAT_RELAY, 1, 1);
    const uint8_t close[5] = {0x05, 0x00, 0x01, 0xFF, 0x00};
    snap_t s;
    snap_take(&s);
    /* Locked (the issue's attack: anyone on the bus rewrote address, clock, clear, relay,
     * calibration): every change refused with 04, nothing changed, nothing reported. */
    assert_int_equal(wr1(0x0001, 5), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x0002, 3), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wrn(0x1000, 1, (const uint16_t[]){1}), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wrn(0x1002, 1, (const uint16_t[]){800}), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wrn(0x1008, 6, (const uint16_t[]){2030, 1, 1, 0, 0, 0}), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wrn(0x1110, 3, (const uint16_t[]){1, 0, 2}), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x000C, MC_CLEAR_ENERGY_COMMAND), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(exception_of(handle(close, 5, 0), 0x05), MC_MB_EX_DEVICE_FAILURE);
    uint16_t f[2];
    float_regs(0.5f, 0, f);
    assert_int_equal(wrn(0x1220, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x122A, 1), MC_MB_EX_DEVICE_FAILURE);
    /* Protection (04) comes after the address (02); before the value (no oracle). */
    assert_int_equal(wr1(0x0030, 1), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr1(0x0001, 0), MC_MB_EX_DEVICE_FAILURE);
    /* The event selector is public. */
    assert_int_equal(wr1(0x1301, 2), 0);
    assert_int_equal(g.md.event_select, 2);
    assert_int_equal(wr1(0x1301, 0), 0);
    assert_int_equal(rd1(0x1020) & MC_STATUS_UNLOCKED, 0);
    /* A wrong password: 04 (refused, documented), still locked, counted (never its value). */
    assert_int_equal(wr1(0x0000, 1111), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x0000, 16666), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wrn(0x0000, 2, (const uint16_t[]){1111, 9}), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x0001, 5), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(g.auth[MC_AUTH_WRONG], 3);
    assert_int_equal(g.guard.wrong, 3);
    assert_int_equal(g.nch, 0);
    snap_same(&s, "locked");
    /* The right password in a request whose rest fails: logged in, the rest not written. */
    assert_int_equal(wrn(0x0000, 2, (const uint16_t[]){6666, 0}), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(g.guard.wrong, 3); /* a right password forgives no wrong one */
    assert_int_equal(g.nch, 0);
    snap_same(&s, "a login with a bad value");
    mc_session_end(&g.sess);
    /* The right password logs in (not a parameter change). */
    assert_int_equal(wr1(0x0000, 6666), 0);
    assert_int_equal(g.nch, 0);
    assert_int_equal(g.md.params.password, 6666);
    assert_int_equal(rd1(0x0000), 0);
    assert_int_equal(wr1(0x0001, 5), 0);
    assert_int_equal(g.md.params.address, 5);
    assert_int_equal(g.commits, 1);
    assert_int_equal(g.nch_at_commit, 1);
    assert_int_equal(handle(close, 5, 0), 5);
    assert_int_equal(g.md.relay_closed, 1);
    assert_int_equal(g.commits, 2);
    /* Another connection (session) is not opened by this one's login. */
    mc_session_t other;
    mc_session_init(&other, &g.guard);
    uint8_t req[5] = {0x06, 0x00, 0x01, 0x00, 0x07};
    assert_int_equal(exception_of(mc_modbus_handle_pdu(&g.md, &other, req, 5, g_resp, 0), 0x06),
                     MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(exception_of(mc_modbus_handle_pdu(&g.md, NULL, req, 5, g_resp, 0), 0x06),
                     MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(g.md.params.address, 5);
    /* Calibration needs the calibration level: unsealed, a logged-in session has it. */
    float_regs(1.01f, 0, f);
    assert_int_equal(wrn(0x1220, 2, f), 0);
    /* The session times out unlock_seconds (60 here) after the last authorised write,
     * on the monotonic clock; the meter's clock (settable by a client) does not count. */
    g.mono += 59999u;
    assert_int_equal(wr1(0x0001, 6), 0);
    g.mono += 59999u;
    g.now += 100000u;
    assert_int_equal(wr1(0x0001, 7), 0);
    g.mono += 60000u;
    assert_int_equal(wr1(0x0001, 8), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(g.md.params.address, 7);
    /* Password and parameters in one FC 10. */
    assert_int_equal(wrn(0x0000, 2, (const uint16_t[]){6666, 8}), 0);
    assert_int_equal(g.md.params.address, 8);
    /* Logged in, 0000H sets a new password; reported without its value; every session
     * logged in with the old one ends, this one too. */
    assert_true(mc_session_login(&g.md, &other, 6666) == MC_OK);
    assert_int_equal(wr1(0x0000, 4321), 0);
    assert_int_equal(g.md.params.password, 4321);
    assert_change(g.nch - 1u, MC_QTY_PASSWORD, 0, 0, 0, MC_SRC_BUS);
    assert_int_equal(rd1(0x0000), 0);
    assert_int_equal(mc_session_level(&g.md, &other), MC_LEVEL_PUBLIC);
    assert_int_equal(wr1(0x0001, 9), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x0000, 6666), MC_MB_EX_DEVICE_FAILURE); /* the old one no longer works */
    assert_int_equal(wr1(0x0000, 4321), 0);
    assert_int_equal(wr1(0x0001, 9), 0);
    /* Reads never need the password. */
    mc_session_end(&g.sess);
    assert_int_equal(rd1(0x0001), 9);
    /* A commit that fails (the save did not happen): the client hears 04. */
    assert_int_equal(wr1(0x0000, 4321), 0);
    g.commit_ret = MC_ERR_IO;
    assert_int_equal(wr1(0x0001, 10), MC_MB_EX_DEVICE_FAILURE);
    g.commit_ret = 0;
}

/* Brute force (the issue: 10 000 passwords in 0.11 s over TCP, no delay, no lockout,
 * nothing logged): a full sweep against the guard, on the monotonic clock. */
static void test_brute_force(void **state)
{
    (void)state;
    fx(MC_FEAT_RELAY, 1, 1);
    g.md.params.password = 9999; /* the last one a sweep from 0 tries */
    const uint32_t t0 = g.mono;
    unsigned tried = 0, checked = 0, refused = 0;
    uint64_t elapsed_ms = 0;
    /* The attacker tries the next password as soon as it can: at once while tries are
     * free, else when the lockout ends (it polls every second, as fast as it likes). */
    for (unsigned pw = 0; pw < 10000u;) {
        const int ex = wr1(0x0000, pw);
        tried++;
        if (ex == 0) {
            break;
        }
        assert_int_equal(ex, MC_MB_EX_DEVICE_FAILURE);
        if (g.guard.lockout_s != 0u && mc_auth_lockout_left(&g.md, &g.guard) > 0u) {
            if (g.guard.refused > 0u) {
                refused++;
            } else {
                checked++;
                pw++;
            }
            g.mono += 1000u;
            elapsed_ms += 1000u;
            if (elapsed_ms > 40ull * 86400000ull) {
                break; /* far enough: extrapolate below */
            }
            continue;
        }
        checked++;
        pw++;
    }
    (void)t0;
    /* Ten free tries, then 60 s, 120 s, ... doubling to a day per try. */
    assert_true(checked < 10000u);
    assert_int_equal(g.md.params.password, 9999);
    assert_true(g.auth[MC_AUTH_WRONG] == checked);
    assert_true(g.auth[MC_AUTH_LOCKOUT] >= 10u);
    assert_int_equal(g.auth_lockout_s, MC_AUTH_LOCKOUT_MAX_S);
    /* Checked tries in 40 days: the free ten, the ramp (60 s .. 86400 s: 12 steps), then one a day. */
    assert_true(checked <= 10u + 12u + 40u);
    /* A sweep of 10 000 at one try a day takes over 27 years. */
    const double sweep_days = (10000.0 - checked) * MC_AUTH_LOCKOUT_MAX_S / 86400.0 + elapsed_ms / 86400000.0;
    print_message("brute force: %u tries checked in %.1f days (%u refused unchecked); a sweep takes %.0f days\n",
                  checked, elapsed_ms / 86400000.0, tried - checked, sweep_days);
    assert_true(sweep_days > 365.0 * 27.0);
    (void)refused;
    /* During a lockout even the right password is refused, unchecked. */
    g.md.params.password = 6666;
    assert_true(mc_auth_lockout_left(&g.md, &g.guard) > 0u);
    assert_int_equal(wr1(0x0000, 6666), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(mc_session_login(&g.md, &g.sess, 6666), MC_ERR_BUSY);
    /* A new connection on the same interface shares the guard: reconnecting does not help. */
    mc_session_t fresh;
    mc_session_init(&fresh, &g.guard);
    assert_int_equal(mc_session_login(&g.md, &fresh, 6666), MC_ERR_BUSY);
    /* Another interface has its own guard. */
    mc_auth_guard_t rtu;
    mc_auth_guard_init(&rtu, MC_IFACE_TCP);
    mc_session_t line;
    mc_session_init(&line, &rtu);
    assert_int_equal(mc_session_login(&g.md, &line, 6666), MC_OK);
    /* After the lockout, the right password works; the count stays (a day locks the next wrong one out). */
    g.mono += mc_auth_lockout_left(&g.md, &g.guard) * 1000u + 1000u;
    const unsigned refused_before = g.auth[MC_AUTH_REFUSED];
    unsigned wrong_before = g.guard.wrong;
    assert_int_equal(wr1(0x0000, 6666), 0);
    assert_int_equal(g.auth[MC_AUTH_REFUSED], refused_before + 1u); /* the tries refused, logged once */
    assert_true(g.guard.wrong + 1u >= wrong_before); /* at most the day the lockout lasted forgiven */
    wrong_before = g.guard.wrong;
    assert_int_equal(wr1(0x0001, 12), 0);
    /* A day without a wrong password forgives one. */
    g.mono += MC_AUTH_DECAY_S * 1000u * 3u;
    mc_session_end(&g.sess);
    assert_int_equal(wr1(0x0000, 1), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(g.guard.wrong, wrong_before - 3u + 1u);
    /* A restart carries the count over (mc_auth_guard_restore, from the log): locked at once. */
    mc_auth_guard_t after;
    mc_auth_guard_init(&after, MC_IFACE_TCP);
    mc_auth_guard_restore(&g.md, &after, 12u);
    assert_int_equal(mc_auth_lockout_left(&g.md, &after), MC_AUTH_LOCKOUT_FIRST_S * 4u);
    mc_session_t s2;
    mc_session_init(&s2, &after);
    assert_int_equal(mc_session_login(&g.md, &s2, 6666), MC_ERR_BUSY);
    mc_auth_guard_restore(&g.md, &after, 3u);
    assert_int_equal(mc_auth_lockout_left(&g.md, &after), 0);
    assert_int_equal(mc_session_login(&g.md, &s2, 6666), MC_OK);
    assert_int_equal(after.wrong, 3);
    /* The review's attack: a head end logs in every few minutes while an attacker guesses 9 at a
     * time in between. The right logins do not reset the count: the lockout comes all the same. */
    mc_auth_guard_t tcp;
    mc_auth_guard_init(&tcp, MC_IFACE_TCP);
    mc_session_t head_end, attacker;
    mc_session_init(&head_end, &tcp);
    mc_session_init(&attacker, &tcp);
    unsigned guessed = 0, held_off = 0;
    for (unsigned round = 0; round < 100u; round++) {
        for (unsigned k = 0; k < 9u; k++) {
            const int e = mc_session_login(&g.md, &attacker, 1000u + round * 9u + k);
            guessed += e == MC_ERR_AUTH;
            held_off += e == MC_ERR_BUSY;
        }
        (void)mc_session_login(&g.md, &head_end, 6666);
        g.mono += 300000u; /* five minutes */
    }
    print_message("interleaved: %u guesses checked, %u refused in 100 rounds of 9 (8.3 hours)\n", guessed, held_off);
    assert_true(guessed < 30u);
    /* Without a monotonic clock a lockout lasts until restart, and a login opens its own request only
     * (a fresh guard: the one above is locked for a day). */
    g.md.hooks.monotonic_ms = NULL;
    mc_auth_guard_init(&g.guard, MC_IFACE_TCP);
    mc_session_end(&g.sess);
    assert_int_equal(wrn(0x0000, 2, (const uint16_t[]){6666, 13}), 0);
    assert_int_equal(g.md.params.address, 13);
    assert_int_equal(wr1(0x0001, 14), MC_MB_EX_DEVICE_FAILURE);
    for (unsigned k = 0; k < MC_AUTH_FREE_TRIES; k++) {
        assert_int_equal(wr1(0x0000, 1), MC_MB_EX_DEVICE_FAILURE);
    }
    assert_int_equal(mc_session_login(&g.md, &g.sess, 6666), MC_ERR_BUSY);
}

/* The write budget (the issue: 400 writes in 0.11 s flushed the log and would wear the
 * flash out in hours): a bus may make write_burst changes, then one per write_refill_s. */
static void test_write_budget(void **state)
{
    (void)state;
    fx(MC_FEAT_RELAY, 1, 1);
    g.md.cfg.write_burst = 20;
    g.md.cfg.write_refill_s = 600;
    g.md.budget = 20;
    assert_int_equal(wr1(0x0000, 6666), 0);
    unsigned ok = 0;
    for (unsigned k = 0; k < 400u; k++) {
        const size_t before = g.nch;
        const int ex = wr1(0x0001, 2u + k % 200u); /* a new value each time while accepted */
        if (ex == 0) {
            ok += g.nch > before; /* once refused, the value in force may come round: no change, no cost */
        } else {
            assert_int_equal(ex, MC_MB_EX_DEVICE_FAILURE);
        }
        g.mono += 1u; /* 400 writes in 0.4 s */
        if (k % 50u == 49u) {
            assert_int_equal(wr1(0x0000, 6666), 0); /* re-login keeps the session; costs nothing */
        }
    }
    assert_int_equal(ok, 20);
    /* Writes of unchanged values, the selector and reads cost nothing. */
    const unsigned addr = g.md.params.address;
    assert_int_equal(wr1(0x0001, addr), 0);
    assert_int_equal(wr1(0x1301, 1), 0);
    /* One more per 600 s of monotonic time. */
    g.mono += 599000u;
    assert_int_equal(wr1(0x0000, 6666), 0);
    assert_int_equal(wr1(0x0001, 100), MC_MB_EX_DEVICE_FAILURE);
    g.mono += 2000u;
    assert_int_equal(wr1(0x0001, 100), 0);
    assert_int_equal(wr1(0x0001, 101), MC_MB_EX_DEVICE_FAILURE);
    /* Local (firmware) and panel writes are not budgeted. */
    const mc_write_item_t it = {.u = 77, .qty = MC_QTY_ADDRESS};
    assert_int_equal(mc_model_write(&g.md, &it, 1, MC_SRC_LOCAL), MC_OK);
    assert_int_equal(mc_model_write_session(&g.md, &g.sess, &it, 1, MC_SRC_PANEL), MC_OK);
    /* The audit budget: metrologically relevant changes (here the clock and the settlement
     * day) 6 in a burst, then one per hour, even for a password holder whose write budget
     * is not spent; other parameters go on. */
    g.md.cfg.write_burst = 1000;
    g.md.budget = 1000;
    g.md.cfg.audit_burst = 6;
    g.md.cfg.audit_refill_s = 3600;
    g.md.audit_budget = 6;
    unsigned audited = 0;
    for (unsigned k = 0; k < 30u; k++) {
        audited += wr1(0x1003, 2u + k % 27u) == 0; /* day 1 is in force: every value a change */
        g.mono += 1000u;
    }
    assert_int_equal(audited, 6);
    assert_int_equal(wrn(0x1008, 6, (const uint16_t[]){2024, 3, 7, 0, 0, 0}), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x0001, 150), 0);
    g.mono += 3600000u;
    assert_int_equal(wr1(0x0000, 6666), 0);
    assert_int_equal(wrn(0x1008, 6, (const uint16_t[]){2024, 3, 7, 0, 0, 0}), 0);
    assert_int_equal(wr1(0x1003, 20), MC_MB_EX_DEVICE_FAILURE);
    /* The budget counts audit events, not requests: settlement day and hour in one FC 10 are two. */
    g.mono += 3600000u;
    assert_int_equal(wr1(0x0000, 6666), 0);
    assert_int_equal(g.md.audit_budget, 0); /* refilled on the next write: one */
    const unsigned day = g.md.tariff->cfg.settle_day, hour = g.md.tariff->cfg.settle_hour;
    assert_int_equal(wrn(0x1003, 2, (const uint16_t[]){day % 28u + 1u, (hour + 1u) % 24u}), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(g.md.tariff->cfg.settle_day, day);
    assert_int_equal(wr1(0x1003, day % 28u + 1u), 0);
    /* Lifetime: 20 + 144 a day from the bus at most. */
    print_message("write budget: %u of 400 writes in 0.4 s accepted; sustained 1 per %u s = %u a day\n", ok,
                  (unsigned)g.md.cfg.write_refill_s, 86400u / g.md.cfg.write_refill_s);
}

static void test_seal_calibration(void **state)
{
    (void)state;
    uint16_t f[2];
    mc_calibration_t c0, c;
    /* Not sealed: a gain takes effect, sealed with a valid CRC. */
    float_regs(1.01f, 0, f);
    assert_int_equal(wrn(0x1220, 2, f), 0);
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c), MC_OK);
    assert_true(c.u_gain == 1.01f);
    assert_int_equal(mc_calibration_check(&c), MC_OK);
    assert_true(rdf(0x1220, 0) == 1.01f);
    /* Even on a product without password protection, calibration needs the password. */
    mc_session_end(&g.sess);
    float_regs(0.5f, 0, f);
    assert_int_equal(wrn(0x1220, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x1002, 800), MC_MB_EX_DEVICE_FAILURE); /* pulse constant: metrological */
    assert_int_equal(wr1(0x0001, 4), 0);                         /* a parameter: the product's choice */
    assert_int_equal(rd1(0x1020) & MC_STATUS_UNLOCKED, MC_STATUS_UNLOCKED);
    assert_int_equal(mc_session_login(&g.md, &g.sess, 6666), MC_OK);
    /* Out of range: 03, calibration unchanged. */
    static const float bad[] = {3.0f, 0.49f, 2.01f, -1.0f, NAN, INFINITY};
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c0), MC_OK);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        snap_t s;
        snap_take(&s);
        float_regs(bad[k], 0, f);
        assert_int_equal(wrn(0x1222, 2, f), MC_MB_EX_ILLEGAL_VALUE);
        snap_same(&s, "calibration gain out of range");
    }
    float_regs(10.5f, 0, f);
    assert_int_equal(wrn(0x1224, 2, f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c), MC_OK);
    assert_memory_equal(&c, &c0, sizeof(c));
    /* In CDAB. */
    assert_int_equal(wr1(0x1001, 1), 0);
    float_regs(0.98f, 1, f);
    assert_int_equal(wrn(0x1222, 2, f), 0);
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c), MC_OK);
    assert_true(c.i_gain == 0.98f);
    assert_true(rdf(0x1222, 1) == 0.98f);
    /* The seal value is 0 or 1. */
    assert_int_equal(wr1(0x122A, 2), MC_MB_EX_ILLEGAL_VALUE);
    /* Sealed over the bus: calibration and pulse constant refused with 04 and unchanged;
     * no unsealing, even with the password. */
    assert_int_equal(wr1(0x122A, 1), 0);
    assert_int_equal(g.md.sealed, 1);
    assert_int_equal(rd1(0x122A), 1);
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c0), MC_OK);
    snap_t s;
    snap_take(&s);
    float_regs(1.0f, 1, f);
    assert_int_equal(wrn(0x1220, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wrn(0x1222, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x122A, 0), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wr1(0x1002, 800), MC_MB_EX_DEVICE_FAILURE);
    snap_same(&s, "sealed");
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c), MC_OK);
    assert_memory_equal(&c, &c0, sizeof(c));
    /* Other parameters stay writable. */
    assert_int_equal(wr1(0x0001, 5), 0);
    /* The physical act: with the calibration switch set, a logged-in session may
     * calibrate and unseal; without a login it still may not. */
    g.cal_switch = 1;
    assert_int_equal(rd1(0x1020) & MC_STATUS_CAL_SWITCH, MC_STATUS_CAL_SWITCH);
    float_regs(1.02f, 1, f);
    assert_int_equal(wrn(0x1220, 2, f), 0);
    assert_int_equal(wr1(0x1002, 800), 0);
    assert_int_equal(g.md.params.pulse_constant, 800);
    mc_session_end(&g.sess);
    assert_int_equal(wr1(0x122A, 0), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(mc_session_login(&g.md, &g.sess, 6666), MC_OK);
    assert_int_equal(wr1(0x122A, 0), 0);
    assert_int_equal(g.md.sealed, 0);
    assert_int_equal(wr1(0x122A, 1), 0);
    g.cal_switch = 0;
    assert_int_equal(wrn(0x1220, 2, f), MC_MB_EX_DEVICE_FAILURE);

    /* Sealed by the firmware (md.sealed = 1, e.g. restored from storage). */
    fx(MC_FEAT_RELAY | MC_FEAT_DI, 0, 1);
    g.md.sealed = 1;
    snap_take(&s);
    float_regs(1.01f, 0, f);
    assert_int_equal(wrn(0x1220, 2, f), MC_MB_EX_DEVICE_FAILURE);
    snap_same(&s, "md.sealed = 1");
    assert_int_equal(mc_meter_get_calibration(&g.meter, &c), MC_OK);
    assert_true(c.u_gain == 1.0f);
}

/* ------------------------------------------------------------------------ */
/* Relay, DI and product variants                                           */

static int bits_req(uint8_t fc, unsigned addr, unsigned qty, uint8_t *value)
{
    uint8_t req[5] = {fc};
    put16(req + 1, addr);
    put16(req + 3, qty);
    const int len = handle(req, 5, 0);
    const int ex = exception_of(len, fc);
    if (ex == 0) {
        assert_int_equal(len, 3);
        assert_int_equal(g_resp[1], 1);
        *value = g_resp[2];
    }
    return ex;
}

static int coil(unsigned addr, unsigned value)
{
    uint8_t req[5] = {MC_MB_FC_WRITE_SINGLE_COIL};
    put16(req + 1, addr);
    put16(req + 3, value);
    const int len = handle(req, 5, 0);
    const int ex = exception_of(len, MC_MB_FC_WRITE_SINGLE_COIL);
    if (ex == 0) {
        assert_int_equal(len, 5);
        assert_memory_equal(g_resp, req, 5);
    }
    return ex;
}

static void variant(uint8_t features)
{
    fx(features, 0, 1);
    const int relay = (features & MC_FEAT_RELAY) != 0, di = (features & MC_FEAT_DI) != 0;
    uint8_t b = 0xAA;
    /* FC 05: FF00H closes, 0000H opens; other values 03 before any address check. */
    static const uint16_t bad_values[] = {0x0001, 0x00FF, 0xFF01, 0xFFFF, 0x1234};
    for (size_t k = 0; k < sizeof(bad_values) / sizeof(bad_values[0]); k++) {
        assert_int_equal(coil(0x0001, bad_values[k]), MC_MB_EX_ILLEGAL_VALUE);
        assert_int_equal(coil(0x0002, bad_values[k]), MC_MB_EX_ILLEGAL_VALUE);
    }
    assert_int_equal(g.relay_calls, 0);
    assert_int_equal(coil(0x0000, 0xFF00), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(coil(0x0002, 0x0000), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(coil(0x1022, 0xFF00), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(g.relay_calls, 0);
    if (relay) {
        assert_int_equal(coil(0x0001, 0xFF00), 0);
        assert_int_equal(g.relay_calls, 1);
        assert_int_equal(g.relay_last, 1);
        assert_int_equal(bits_req(0x01, 0x0001, 1, &b), 0);
        assert_int_equal(b, 1);
        assert_int_equal(rd1(0x1022), 1);
        assert_int_equal(coil(0x0001, 0x0000), 0);
        assert_int_equal(g.relay_calls, 2);
        assert_int_equal(g.relay_last, 0);
        assert_int_equal(bits_req(0x01, 0x0001, 1, &b), 0);
        assert_int_equal(b, 0);
        assert_int_equal(rd1(0x1022), 0);
        /* The driver fails: 04, the state stays as it was. */
        g.relay_ret = MC_ERR_INVAL;
        assert_int_equal(coil(0x0001, 0xFF00), MC_MB_EX_DEVICE_FAILURE);
        assert_int_equal(g.relay_calls, 3);
        assert_int_equal(bits_req(0x01, 0x0001, 1, &b), 0);
        assert_int_equal(b, 0);
        assert_int_equal(g.md.relay_closed, 0);
        g.relay_ret = 0;
    } else {
        assert_int_equal(coil(0x0001, 0xFF00), MC_MB_EX_ILLEGAL_ADDRESS);
        assert_int_equal(coil(0x0001, 0x0000), MC_MB_EX_ILLEGAL_ADDRESS);
        assert_int_equal(g.relay_calls, 0);
        assert_int_equal(bits_req(0x01, 0x0001, 1, &b), MC_MB_EX_ILLEGAL_ADDRESS);
        assert_int_equal(mc_model_set_relay(&g.md, 1, MC_SRC_LOCAL), MC_ERR_INVAL);
        assert_int_equal(rd1(0x1022), 0);
    }
    /* FC 02: the DI through the hook. */
    g.di = 1;
    assert_int_equal(bits_req(0x02, 0x0001, 1, &b), di ? 0 : MC_MB_EX_ILLEGAL_ADDRESS);
    if (di) {
        assert_int_equal(b, 1);
    }
    assert_int_equal(rd1(0x1023), di ? 1 : 0);
    assert_int_equal(rd1(0x1020) & MC_STATUS_DI_CLOSED, di ? MC_STATUS_DI_CLOSED : 0);
    g.di = 0;
    assert_int_equal(bits_req(0x02, 0x0001, 1, &b), di ? 0 : MC_MB_EX_ILLEGAL_ADDRESS);
    if (di) {
        assert_int_equal(b, 0);
    }
    assert_int_equal(rd1(0x1023), 0);
    /* Quantity (03) before address (02); one bit at 0001H only. */
    for (uint8_t fc = 0x01; fc <= 0x02; fc++) {
        const int have = fc == 0x01 ? relay : di;
        assert_int_equal(bits_req(fc, 0x0001, 0, &b), MC_MB_EX_ILLEGAL_VALUE);
        assert_int_equal(bits_req(fc, 0x0001, 2001, &b), MC_MB_EX_ILLEGAL_VALUE);
        assert_int_equal(bits_req(fc, 0x5000, 0, &b), MC_MB_EX_ILLEGAL_VALUE);
        assert_int_equal(bits_req(fc, 0x0001, 2, &b), MC_MB_EX_ILLEGAL_ADDRESS);
        assert_int_equal(bits_req(fc, 0x0000, 1, &b), MC_MB_EX_ILLEGAL_ADDRESS);
        assert_int_equal(bits_req(fc, 0x0002, 1, &b), MC_MB_EX_ILLEGAL_ADDRESS);
        assert_int_equal(bits_req(fc, 0x0001, 1, &b), have ? 0 : MC_MB_EX_ILLEGAL_ADDRESS);
        const uint8_t short_req[4] = {fc, 0x00, 0x01, 0x00};
        assert_int_equal(exception_of(handle(short_req, 4, 0), fc), MC_MB_EX_ILLEGAL_VALUE);
    }
    const uint8_t long_coil[6] = {0x05, 0x00, 0x01, 0xFF, 0x00, 0x00};
    assert_int_equal(exception_of(handle(long_coil, 6, 0), 0x05), MC_MB_EX_ILLEGAL_VALUE);
    /* Registers work the same on every variant. */
    assert_int_equal(wr1(0x0001, 3), 0);
    assert_rel(rdf(0x0030, 0), g.truth.urms, REL_MEAS, "U");
}

static void test_variant_kpm31a(void **state)
{
    (void)state;
    variant(0);
}

static void test_variant_kpm31b(void **state)
{
    (void)state;
    variant(MC_FEAT_RELAY);
}

static void test_variant_kpm31bk(void **state)
{
    (void)state;
    variant(MC_FEAT_RELAY | MC_FEAT_DI);
}

/* ------------------------------------------------------------------------ */
/* Exception order, malformed requests, broadcast                           */

static void test_exception_order(void **state)
{
    (void)state;
    snap_t s;
    snap_take(&s);
    /* 01: unsupported function codes, whatever follows. */
    static const uint8_t fcs[] = {0x00, 0x04, 0x07, 0x08, 0x0F, 0x11, 0x16, 0x17, 0x2B, 0x41, 0x7F};
    for (size_t k = 0; k < sizeof(fcs) / sizeof(fcs[0]); k++) {
        const uint8_t req[5] = {fcs[k], 0x00, 0x30, 0x00, 0x02};
        assert_int_equal(handle(req, 5, 0), 2);
        assert_int_equal(g_resp[0], fcs[k] | 0x80);
        assert_int_equal(g_resp[1], MC_MB_EX_ILLEGAL_FUNCTION);
        assert_int_equal(handle(req, 1, 0), 2);
        assert_int_equal(g_resp[1], MC_MB_EX_ILLEGAL_FUNCTION);
    }
    const uint8_t mei[4] = {0x2B, 0x0E, 0x01, 0x00}; /* read device identification */
    assert_int_equal(exception_of(handle(mei, 4, 0), 0x2B), MC_MB_EX_ILLEGAL_FUNCTION);
    /* FC 10: quantity and byte count (03) before address (02). */
    uint8_t req[MC_MODBUS_PDU_MAX];
    memset(req, 0, sizeof(req));
    req[0] = 0x10;
    put16(req + 1, 0x5000); /* not served */
    put16(req + 3, 0);
    req[5] = 0;
    assert_int_equal(exception_of(handle(req, 6, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE);
    put16(req + 3, 124);
    req[5] = 248;
    assert_int_equal(exception_of(handle(req, 6, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE);
    put16(req + 3, 2);
    req[5] = 3;
    assert_int_equal(exception_of(handle(req, 9, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE);
    req[5] = 4;
    assert_int_equal(exception_of(handle(req, 9, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE);  /* one byte short */
    assert_int_equal(exception_of(handle(req, 11, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE); /* one byte extra */
    assert_int_equal(exception_of(handle(req, 10, 0), 0x10), MC_MB_EX_ILLEGAL_ADDRESS);
    put16(req + 1, 0x0001); /* writable, but the byte count is wrong */
    req[5] = 2;
    assert_int_equal(exception_of(handle(req, 8, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(exception_of(handle(req, 5, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE); /* no byte count */
    put16(req + 1, 0x0030); /* read-only, byte count wrong: 03 */
    req[5] = 5;
    assert_int_equal(exception_of(handle(req, 11, 0), 0x10), MC_MB_EX_ILLEGAL_VALUE);
    /* FC 06: wrong length 03; address before value. */
    const uint8_t w4[4] = {0x06, 0x00, 0x01, 0x00};
    assert_int_equal(exception_of(handle(w4, 4, 0), 0x06), MC_MB_EX_ILLEGAL_VALUE);
    const uint8_t w6[6] = {0x06, 0x00, 0x01, 0x00, 0x05, 0x00};
    assert_int_equal(exception_of(handle(w6, 6, 0), 0x06), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wr1(0x0030, 0xFFFF), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(wr1(0x0003, 0xFFFF), MC_MB_EX_ILLEGAL_ADDRESS);
    snap_same(&s, "malformed requests");
    /* Not a request at all: library errors, no response. */
    uint8_t big[MC_MODBUS_PDU_MAX + 1];
    memset(big, 0, sizeof(big));
    big[0] = 0x03;
    assert_int_equal(mc_modbus_handle_pdu(&g.md, &g.sess, big, 0, g_resp, 0), MC_ERR_INVAL);
    assert_int_equal(mc_modbus_handle_pdu(&g.md, &g.sess, big, sizeof(big), g_resp, 0), MC_ERR_INVAL);
    assert_int_equal(mc_modbus_handle_pdu(NULL, &g.sess, big, 5, g_resp, 0), MC_ERR_INVAL);
    assert_int_equal(mc_modbus_handle_pdu(&g.md, &g.sess, NULL, 5, g_resp, 0), MC_ERR_INVAL);
    assert_int_equal(mc_modbus_handle_pdu(&g.md, &g.sess, big, 5, NULL, 0), MC_ERR_INVAL);
}

static void test_broadcast(void **state)
{
    (void)state;
    /* Writes are executed, nothing is answered. */
    const uint8_t w[5] = {0x06, 0x00, 0x01, 0x00, 0x09};
    assert_int_equal(handle(w, 5, 1), 0);
    assert_int_equal(g.md.params.address, 9);
    const uint8_t wm[10] = {0x10, 0x10, 0x00, 0x00, 0x02, 0x04, 0x00, 0x02, 0x00, 0x01};
    assert_int_equal(handle(wm, 10, 1), 0);
    assert_int_equal(g.md.params.parity, 2);
    assert_int_equal(g.md.params.word_order, 1);
    const uint8_t c[5] = {0x05, 0x00, 0x01, 0xFF, 0x00};
    assert_int_equal(handle(c, 5, 1), 0);
    assert_int_equal(g.relay_calls, 1);
    assert_int_equal(g.md.relay_closed, 1);
    /* Reads and failing writes: neither executed nor answered. */
    snap_t s;
    snap_take(&s);
    const uint8_t reads[3][5] = {{0x03, 0x00, 0x30, 0x00, 0x02}, {0x01, 0x00, 0x01, 0x00, 0x01},
                                 {0x02, 0x00, 0x01, 0x00, 0x01}};
    for (unsigned k = 0; k < 3; k++) {
        assert_int_equal(handle(reads[k], 5, 1), 0);
        for (size_t i = 0; i < sizeof(g_resp); i++) {
            assert_int_equal(g_resp[i], 0xEE);
        }
    }
    const uint8_t bad[5] = {0x06, 0x00, 0x01, 0x00, 0x00};
    assert_int_equal(handle(bad, 5, 1), 0);
    const uint8_t ro[5] = {0x06, 0x00, 0x30, 0x00, 0x00};
    assert_int_equal(handle(ro, 5, 1), 0);
    const uint8_t unknown[5] = {0x04, 0x00, 0x30, 0x00, 0x02};
    assert_int_equal(handle(unknown, 5, 1), 0);
    snap_same(&s, "broadcast reads and bad writes");
}

static void test_model_api(void **state)
{
    (void)state;
    mc_model_t md;
    mc_model_config_t cfg = {0, 0, 0, 0, 0, 0, 0};
    mc_params_t p;
    mc_params_default(&p);
    assert_int_equal(p.password, 6666);
    assert_int_equal(p.address, 1);
    assert_int_equal(p.baud_code, 4);
    assert_int_equal(p.parity, 0);
    assert_int_equal(p.word_order, 0);
    assert_int_equal(p.pulse_constant, 1600);
    /* Defaults; unlock_seconds 0 means 300. */
    assert_int_equal(mc_model_init(&md, &cfg, NULL, &g.meter, NULL, NULL), MC_OK);
    assert_int_equal(md.cfg.unlock_seconds, 300);
    /* Parameters restored from storage are checked. */
    p.address = 0;
    assert_int_equal(mc_model_init(&md, &cfg, NULL, &g.meter, NULL, &p), MC_ERR_INVAL);
    mc_params_default(&p);
    p.password = 10000;
    assert_int_equal(mc_model_init(&md, &cfg, NULL, &g.meter, NULL, &p), MC_ERR_INVAL);
    mc_params_default(&p);
    p.pulse_constant = 800;
    p.word_order = 1;
    assert_int_equal(mc_model_init(&md, &cfg, NULL, &g.meter, &g.tariff, &p), MC_OK);
    assert_int_equal(g.meter.cfg.pulse_constant, 800);
    assert_int_equal(mc_model_init(NULL, &cfg, NULL, &g.meter, NULL, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_model_init(&md, NULL, NULL, &g.meter, NULL, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_model_init(&md, &cfg, NULL, NULL, NULL, NULL), MC_ERR_INVAL);
    /* Read: unknown quantities and arguments. */
    mc_value_t v;
    assert_int_equal(mc_model_read(&g.md, MC_QTY_COUNT, 0, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_E_ACTIVE, 5, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_MONTH_ACTIVE, 13, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_CLOCK, 6, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_CAL, 5, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(NULL, MC_QTY_VOLTAGE, 0, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_VOLTAGE, 0, NULL), MC_ERR_INVAL);
    /* Write: item count and types. */
    mc_write_item_t it[126];
    memset(it, 0, sizeof(it));
    for (unsigned k = 0; k < 126; k++) {
        it[k].qty = MC_QTY_ADDRESS;
        it[k].u = 3;
    }
    assert_int_equal(mc_model_write(&g.md, it, 0, MC_SRC_LOCAL), MC_ERR_INVAL);
    assert_int_equal(mc_model_write(&g.md, it, 126, MC_SRC_LOCAL), MC_ERR_INVAL);
    assert_int_equal(mc_model_write(NULL, it, 1, MC_SRC_LOCAL), MC_ERR_INVAL);
    assert_int_equal(mc_model_write(&g.md, NULL, 1, MC_SRC_LOCAL), MC_ERR_INVAL);
    it[0].is_float = 1; /* a float for a word quantity */
    assert_int_equal(mc_model_write(&g.md, it, 1, MC_SRC_LOCAL), MC_ERR_INVAL);
    it[0].is_float = 0;
    it[0].qty = MC_QTY_VOLTAGE; /* read-only */
    assert_int_equal(mc_model_write(&g.md, it, 1, MC_SRC_LOCAL), MC_ERR_INVAL);
    assert_int_equal(mc_model_write(&g.md, it + 1, 125, MC_SRC_LOCAL), MC_OK);
    assert_int_equal(g.md.params.address, 3);
    /* Relay and clock in one write: refused whole (two hardware acts, one could fail after the other). */
    {
        const mc_write_item_t both[2] = {{.u = 1, .qty = MC_QTY_RELAY}, {.u = 2030, .qty = MC_QTY_CLOCK}};
        const int calls = g.relay_calls, clocks = g.set_clock_calls;
        assert_int_equal(mc_model_write(&g.md, both, 2, MC_SRC_LOCAL), MC_ERR_INVAL);
        assert_int_equal(g.relay_calls, calls);
        assert_int_equal(g.set_clock_calls, clocks);
    }
    assert_int_equal(mc_session_level(NULL, &g.sess), MC_LEVEL_PUBLIC);
    assert_int_equal(mc_session_login(NULL, &g.sess, 6666), MC_ERR_INVAL);
    assert_int_equal(mc_model_write_session(NULL, &g.sess, it, 1, MC_SRC_BUS), MC_ERR_INVAL);
    assert_int_equal(mc_model_relay(NULL), 0);
    assert_int_equal(mc_model_di(NULL), 0);
    assert_int_equal(mc_model_set_relay(NULL, 1, MC_SRC_LOCAL), MC_ERR_INVAL);
}

/* The event log through 1300H..130DH: count, selector, fields, via the model's hooks. */
static unsigned fake_event_count(void *ctx)
{
    (void)ctx;
    return 3;
}

static int fake_event_read(void *ctx, unsigned index, mc_event_t *out)
{
    (void)ctx;
    if (index >= 3u) {
        return MC_ERR_NODATA;
    }
    memset(out, 0, sizeof(*out));
    out->seq = 0x00010000u + 3u - index; /* newest has the highest sequence */
    out->time = 0x2D5A1234u + index;
    out->type = (uint8_t)(MC_EV_PARAM + index);
    out->source = MC_SRC_PANEL;
    out->qty = MC_QTY_ADDRESS;
    out->arg = (uint8_t)index;
    out->old_value = 0xDEADBEEFu;
    out->new_value = 0x00000009u + index;
    return MC_OK;
}

static void test_audit_counter_registers(void **state)
{
    (void)state;
    /* 1310H..131FH: eight 32-bit counters, high word first, from the hook. */
    uint16_t r[16];
    rd_ok(0x1310, 16, r);
    for (unsigned k = 0; k < 8u; k++) {
        const uint32_t v = (uint32_t)r[2u * k] << 16 | r[2u * k + 1u];
        assert_int_equal(v, 0x10000u * k + 7u * k);
    }
    /* Read-only: exception 02 for a write, whatever the session. */
    assert_int_equal(wr1(0x1310, 0), MC_MB_EX_ILLEGAL_ADDRESS);
    /* Without the hook they read 0. */
    g.md.hooks.audit_counter = NULL;
    rd_ok(0x1310, 16, r);
    for (unsigned k = 0; k < 16u; k++) {
        assert_int_equal(r[k], 0);
    }
}

static void test_event_log_registers(void **state)
{
    (void)state;
    /* Without hooks: count 0, fields 0. */
    assert_int_equal(rd1(0x1300), 0);
    assert_int_equal(rd1(0x1306), 0);
    g.md.hooks.event_count = fake_event_count;
    g.md.hooks.event_read = fake_event_read;
    assert_int_equal(rd1(0x1300), 3);
    uint16_t r[12];
    rd_ok(0x1302, 12, r);
    const uint16_t want0[12] = {0x0001, 0x0003, 0x2D5A, 0x1234, MC_EV_PARAM, MC_SRC_PANEL, MC_QTY_ADDRESS, 0,
                                0xDEAD, 0xBEEF, 0x0000, 0x0009};
    assert_memory_equal(r, want0, sizeof(want0));
    /* Select the oldest: the selector is writable without protection and is not logged. */
    const unsigned changes = g.nch;
    assert_int_equal(wr1(0x1301, 2), 0);
    assert_int_equal(g.nch, changes);
    assert_int_equal(rd1(0x1301), 2);
    rd_ok(0x1302, 12, r);
    assert_int_equal(r[1], 0x0001);
    assert_int_equal(r[3], 0x1236);
    assert_int_equal(r[4], MC_EV_PARAM + 2);
    assert_int_equal(r[7], 2);
    assert_int_equal(r[11], 0x000B);
    /* Past the end: zeros. */
    assert_int_equal(wr1(0x1301, 7), 0);
    rd_ok(0x1302, 12, r);
    for (unsigned k = 0; k < 12u; k++) {
        assert_int_equal(r[k], 0);
    }
    /* Fields are read-only. */
    assert_int_equal(wr1(0x1302, 1), MC_MB_EX_ILLEGAL_ADDRESS);
}

/* ------------------------------------------------------------------------ */
/* Poly-phase: the wiring, the totals' extras and the per-element block      */

/* A 3P4W meter of its own (the fixture's meter is 1P2W): state arrays of the largest size. */
static mc_meter_t g3;
static mc_meter_channel_t g3_ch[MC_MAX_CHANNELS];
static mc_meter_pair_t g3_pr[MC_MAX_PAIRS];
static mc_meter_element_t g3_el[MC_MAX_CIRCUITS];
static double g3_seconds; /* sum of the window durations (energy since the first window) */
static uint64_t g3_frames; /* frames fed since the start */

static void on_window3(void *ctx, const mc_reading_t *r)
{
    (void)ctx;
    g3_seconds += (double)r->duration_s;
}

/* The unbalanced system the poly tests feed: phase k's rms voltage and angle (ABC wye, degrees),
 * rms current and the current's lag behind its voltage (> 0 inductive). Phase 3 exports. */
static const double ph_u[3] = {230.0, 220.0, 240.0};
static const double ph_ua[3] = {0.0, -120.0, 120.0};
static const double ph_i[3] = {5.0, 3.0, 2.0};
static const double ph_phi[3] = {30.0, -20.0, 120.0};
#define PH_U_FS 500.0
#define PH_I_FS 100.0
#define PH_FS 4000.0

typedef struct cplx {
    double re, im;
} cplx_t;

static cplx_t phasor(double rms, double deg)
{
    const double a = deg * M_PI / 180.0;
    return (cplx_t){rms * cos(a), rms * sin(a)};
}

static cplx_t c_add(cplx_t a, cplx_t b)
{
    return (cplx_t){a.re + b.re, a.im + b.im};
}

static cplx_t c_mul(cplx_t a, cplx_t b)
{
    return (cplx_t){a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}

static double c_abs(cplx_t a)
{
    return hypot(a.re, a.im);
}

/* Negative over positive sequence component of three phasors, % (the analytic unbalance). */
static double unbalance_pct(const cplx_t x[3])
{
    const cplx_t a = phasor(1.0, 120.0), a2 = phasor(1.0, 240.0);
    const cplx_t pos = c_add(x[0], c_add(c_mul(a, x[1]), c_mul(a2, x[2])));
    const cplx_t neg = c_add(x[0], c_add(c_mul(a2, x[1]), c_mul(a, x[2])));
    return 100.0 * c_abs(neg) / c_abs(pos);
}

/* Feed the 3P4W meter `blocks` tenths of a second more of the system: frames U1 U2 U3 I1 I2 I3, 24-bit codes. */
static void meter3_feed(unsigned blocks)
{
    static int32_t frames[400 * 6];
    const double theta0 = 37.0;
    for (unsigned blk = 0; blk < blocks; blk++) {
        for (unsigned n = 0; n < 400u; n++, g3_frames++) {
            const double t = (double)g3_frames / PH_FS;
            for (unsigned k = 0; k < 3u; k++) {
                const double wt = 2.0 * M_PI * F0 * t + (theta0 + ph_ua[k]) * M_PI / 180.0;
                const double u = SQRT2 * ph_u[k] * sin(wt);
                const double i = SQRT2 * ph_i[k] * sin(wt - ph_phi[k] * M_PI / 180.0);
                frames[6u * n + k] = (int32_t)lround(u / (PH_U_FS / 8388608.0));
                frames[6u * n + 3u + k] = (int32_t)lround(i / (PH_I_FS / 8388608.0));
            }
        }
        assert_true(mc_meter_process_frames(&g3, frames, 400) >= 0);
    }
}

/* Start the 3P4W meter and feed it 3 s of the system. */
static void meter3_start(void)
{
    memset(&g3, 0, sizeof(g3));
    g3_seconds = 0.0;
    g3_frames = 0;
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = (uint32_t)PH_FS;
    cfg.un = 230.0f;
    cfg.in = 5.0f;
    cfg.imax = 60.0f;
    cfg.u_scale = (float)(PH_U_FS / 8388608.0);
    cfg.i_scale = (float)(PH_I_FS / 8388608.0);
    cfg.wiring = MC_WIRING_3P4W;
    cfg.channel_state = g3_ch;
    cfg.pair_state = g3_pr;
    cfg.element_state = g3_el;
    cfg.on_window = on_window3;
    assert_int_equal(mc_meter_channels(&cfg), 6);
    assert_int_equal(mc_meter_elements(&cfg), 3);
    assert_int_equal(mc_meter_init(&g3, &cfg), MC_OK);
    meter3_feed(30);
    assert_true(g3_seconds > 1.5);
}

/* The model over the 3P4W meter, without a tariff (the energy registers are then the meter's). */
static int setup_poly(void **state)
{
    (void)state;
    fx(MC_FEAT_RELAY | MC_FEAT_DI, 0, 0);
    meter3_start();
    mc_model_config_t cfg = {0, 0, 60, 65535, 600, 65535, 3600};
    mc_model_hooks_t h = {hook_on_change, hook_relay,    hook_di,     hook_now,     hook_set_clock,
                          hook_checksum,  &g,            NULL,        NULL,         hook_mono,
                          hook_cal_switch, hook_commit,  hook_on_auth, hook_audit_counter};
    assert_int_equal(mc_model_init(&g.md, &cfg, &h, &g3, NULL, NULL), MC_OK);
    mc_session_init(&g.sess, &g.guard);
    assert_int_equal(mc_session_login(&g.md, &g.sess, 6666), MC_OK);
    return 0;
}

/* The per-element quantities in their register order, and each one's value in a phase reading. */
static const mc_qty el_qty[8] = {MC_QTY_EL_VOLTAGE, MC_QTY_EL_CURRENT, MC_QTY_EL_P, MC_QTY_EL_Q,
                                 MC_QTY_EL_S, MC_QTY_EL_PF, MC_QTY_EL_U_ANGLE, MC_QTY_EL_I_ANGLE};

static float el_value(const mc_phase_reading_t *r, unsigned q)
{
    const float v[8] = {r->urms, r->irms, r->p, r->q, r->s, r->pf, r->u_angle_deg, r->i_angle_deg};
    return v[q];
}

/* Angle difference a - b folded into (-180, 180]. */
static double angle_diff(double a, double b)
{
    double d = fmod(a - b, 360.0);
    d = d > 180.0 ? d - 360.0 : (d <= -180.0 ? d + 360.0 : d);
    return d;
}

static void check_poly_registers(int cdab)
{
    uint16_t r[125];
    char what[96];
    /* Wiring and elements, and the block of each per-element quantity (16 floats), element by element:
     * the registers read the meter's own phase readings, bit for bit, and those the analytic truth. */
    rd_ok(0x1400, 6, r);
    assert_int_equal(r[0], MC_WIRING_3P4W);
    assert_int_equal(r[1], 3);
    assert_int_equal(r[2], MC_SEQ_ABC);
    assert_int_equal(r[3], 0); /* no voltage missing */
    assert_int_equal(r[4], 0); /* ABC, no neutral channel to mismatch, nothing missing, reference U1 */
    assert_int_equal(r[5], 0);
    for (unsigned q = 0; q < 8u; q++) {
        const unsigned base = 0x1500u + 0x20u * q;
        assert_int_equal(mc_reg_element_addr(el_qty[q], 0), base);
        rd_ok(base, 32, r);
        for (unsigned k = 0; k < MC_MAX_CIRCUITS; k++) {
            const float got = regs_float(r + 2u * k, cdab);
            snprintf(what, sizeof(what), "%04XH (element %u, quantity %u)", base + 2u * k, k, q);
            if (k >= 3u) {
                if (fbits(got) != 0u) {
                    fail_msg("%s: an element the meter does not have reads %.9g", what, (double)got);
                }
                continue;
            }
            mc_phase_reading_t pr;
            assert_int_equal(mc_meter_phase_reading(&g3, k, &pr), MC_OK);
            if (fbits(got) != fbits(el_value(&pr, q))) {
                fail_msg("%s: register %.9g, mc_meter_phase_reading %.9g", what, (double)got,
                         (double)el_value(&pr, q));
            }
            const double phi = ph_phi[k] * M_PI / 180.0;
            const double s = ph_u[k] * ph_i[k];
            const double truth[6] = {ph_u[k], ph_i[k], s * cos(phi), s * sin(phi), s, cos(phi)};
            if (q < 6u) {
                assert_rel(got, truth[q], q == 3u || q == 2u ? 2e-3 : REL_MEAS, what);
            } else {
                const double want = q == 6u ? ph_ua[k] : ph_ua[k] - ph_phi[k];
                if (!(fabs(angle_diff(got, want)) < 0.05)) {
                    fail_msg("%s: angle %.4f, expected %.4f", what, (double)got, want);
                }
            }
        }
    }
    /* The totals' extras against the analytic system. */
    cplx_t u[3], i[3], isum = {0.0, 0.0};
    double p = 0.0, qq = 0.0;
    for (unsigned k = 0; k < 3u; k++) {
        u[k] = phasor(ph_u[k], ph_ua[k]);
        i[k] = phasor(ph_i[k], ph_ua[k] - ph_phi[k]);
        isum = c_add(isum, i[k]);
        p += ph_u[k] * ph_i[k] * cos(ph_phi[k] * M_PI / 180.0);
        qq += ph_u[k] * ph_i[k] * sin(ph_phi[k] * M_PI / 180.0);
    }
    rd_ok(0x1410, 18, r);
    assert_rel(regs_float(r + 0, cdab), hypot(p, qq), REL_MEAS, "vector S 1410H");
    for (unsigned k = 0; k < 3u; k++) {
        const cplx_t d = c_add(u[k], (cplx_t){-u[(k + 1u) % 3u].re, -u[(k + 1u) % 3u].im});
        snprintf(what, sizeof(what), "line-to-line %04XH", 0x1412u + 2u * k);
        assert_rel(regs_float(r + 2u + 2u * k, cdab), c_abs(d), REL_MEAS, what);
    }
    if (!(fabs(regs_float(r + 8, cdab) - unbalance_pct(u)) < 0.05)) {
        fail_msg("voltage unbalance 1418H %.4f %%, expected %.4f %%", (double)regs_float(r + 8, cdab), unbalance_pct(u));
    }
    if (!(fabs(regs_float(r + 10, cdab) - unbalance_pct(i)) < 0.1)) {
        fail_msg("current unbalance 141AH %.4f %%, expected %.4f %%", (double)regs_float(r + 10, cdab),
                 unbalance_pct(i));
    }
    assert_rel(regs_float(r + 12, cdab), c_abs(isum), 2e-3, "neutral 141CH (calculated: no IN channel)");
    assert_rel(regs_float(r + 14, cdab), c_abs(isum), 2e-3, "neutral, calculated 141EH");
    assert_int_equal(fbits(regs_float(r + 16, cdab)), 0); /* residual: no measured IN */
    /* ... and bit for bit the meter's poly reading. */
    mc_poly_reading_t pp;
    assert_int_equal(mc_meter_poly_reading(&g3, &pp), MC_OK);
    const float pv[9] = {pp.s_vector, pp.u_ll[0], pp.u_ll[1], pp.u_ll[2], pp.u_unbalance_pct,
                         pp.i_unbalance_pct, pp.i_neutral, pp.i_neutral_calc, pp.i_residual};
    for (unsigned k = 0; k < 9u; k++) {
        assert_int_equal(fbits(regs_float(r + 2u * k, cdab)), fbits(pv[k]));
    }
    /* The basic measurements stay the totals: P and Q the sums, S the arithmetic sum, U and I the means. */
    rd_ok(0x0030, 14, r);
    mc_reading_t tot;
    assert_int_equal(mc_meter_reading(&g3, &tot), MC_OK);
    const float tv[7] = {tot.urms, tot.irms, tot.p, tot.q, tot.s, tot.pf, tot.freq};
    for (unsigned k = 0; k < 7u; k++) {
        assert_int_equal(fbits(regs_float(r + 2u * k, cdab)), fbits(tv[k]));
    }
    const double s_sum = ph_u[0] * ph_i[0] + ph_u[1] * ph_i[1] + ph_u[2] * ph_i[2];
    assert_rel(regs_float(r + 0, cdab), (ph_u[0] + ph_u[1] + ph_u[2]) / 3.0, REL_MEAS, "U 0030H (mean)");
    assert_rel(regs_float(r + 2, cdab), (ph_i[0] + ph_i[1] + ph_i[2]) / 3.0, REL_MEAS, "I 0032H (mean)");
    assert_rel(regs_float(r + 4, cdab), p, REL_MEAS, "P 0034H (sum)");
    assert_rel(regs_float(r + 6, cdab), qq, 2e-3, "Q 0036H (sum)");
    assert_rel(regs_float(r + 8, cdab), s_sum, REL_MEAS, "S 0038H (arithmetic sum)");
    assert_rel(regs_float(r + 12, cdab), F0, 2e-4, "F 003CH");
}

static void test_poly_registers_3p4w(void **state)
{
    (void)state;
    check_poly_registers(0);
    assert_int_equal(wr1(0x1001, 1), 0);
    check_poly_registers(1);
    /* The same through the model API, and the argument's range. */
    mc_value_t v;
    assert_int_equal(mc_model_read(&g.md, MC_QTY_EL_VOLTAGE, 2, &v), MC_OK);
    assert_true(v.is_float);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_EL_VOLTAGE, 15, &v), MC_OK);
    assert_int_equal(fbits(v.f), 0);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_EL_VOLTAGE, 16, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_EL_E_REACTIVE_Q4, 16, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_U_LL, 2, &v), MC_OK);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_U_LL, 3, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_WIRING, 1, &v), MC_ERR_INVAL);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_ELEMENTS, 0, &v), MC_OK);
    assert_false(v.is_float);
    assert_int_equal(v.u, 3);
    /* mc_reg_element_addr(): the documented layout, nothing outside it. */
    assert_int_equal(mc_reg_element_addr(MC_QTY_EL_E_REACTIVE_Q4, 15), 0x16BE);
    assert_int_equal(mc_reg_element_addr(MC_QTY_EL_VOLTAGE, 16), 0);
    assert_int_equal(mc_reg_element_addr(MC_QTY_I_RESIDUAL, 0), 0);
}

/* Each element's energy registers: its own, booked by its own sign, against P and Q times the time measured. */
static void test_poly_energy_registers(void **state)
{
    (void)state;
    uint16_t r[32];
    char what[96];
    /* Element k, register kind j (AI, AE, Q1..Q4) is at 1600H + 20H * j + 2k. */
    for (unsigned j = 0; j < MC_E_COUNT; j++) {
        const unsigned base = 0x1600u + 0x20u * j;
        assert_int_equal(mc_reg_element_addr((mc_qty)(MC_QTY_EL_E_ACTIVE_IMPORT + j), 0), base);
        rd_ok(base, 32, r);
        for (unsigned k = 0; k < MC_MAX_CIRCUITS; k++) {
            const float got = regs_float(r + 2u * k, 0);
            snprintf(what, sizeof(what), "%04XH (element %u, register %u)", base + 2u * k, k, j);
            if (k >= 3u) {
                assert_int_equal(fbits(got), 0);
                continue;
            }
            mc_energy_t e;
            assert_int_equal(mc_meter_phase_energy(&g3, k, &e), MC_OK);
            if (fbits(got) != fbits(mc_energy_kwh(e.q[j]))) {
                fail_msg("%s: register %.9g, mc_meter_phase_energy %.9g kWh", what, (double)got,
                         (double)mc_energy_kwh(e.q[j]));
            }
            /* Truth: P and Q of the phase over every window since the first, booked by their sign. */
            const double phi = ph_phi[k] * M_PI / 180.0;
            const double pk = ph_u[k] * ph_i[k] * cos(phi), qk = ph_u[k] * ph_i[k] * sin(phi);
            const double kwh_p = fabs(pk) * g3_seconds / 3.6e6, kwh_q = fabs(qk) * g3_seconds / 3.6e6;
            double want = 0.0;
            switch (j) {
            case MC_E_ACTIVE_IMPORT:
                want = pk > 0.0 ? kwh_p : 0.0;
                break;
            case MC_E_ACTIVE_EXPORT:
                want = pk < 0.0 ? kwh_p : 0.0;
                break;
            case MC_E_REACTIVE_Q1:
                want = pk >= 0.0 && qk > 0.0 ? kwh_q : 0.0;
                break;
            case MC_E_REACTIVE_Q2:
                want = pk < 0.0 && qk > 0.0 ? kwh_q : 0.0;
                break;
            case MC_E_REACTIVE_Q3:
                want = pk < 0.0 && qk < 0.0 ? kwh_q : 0.0;
                break;
            default:
                want = pk >= 0.0 && qk < 0.0 ? kwh_q : 0.0;
                break;
            }
            assert_rel(got, want, 3e-3, what);
        }
    }
    /* The totals keep booking the sum (the default netting): import = (P1 + P2 + P3) t. */
    double p = 0.0;
    for (unsigned k = 0; k < 3u; k++) {
        p += ph_u[k] * ph_i[k] * cos(ph_phi[k] * M_PI / 180.0);
    }
    assert_rel(rdf(0x0082, 0), p * g3_seconds / 3.6e6, 3e-3, "total active import 0082H");
    assert_int_equal(fbits(rdf(0x0084, 0)), 0); /* phase 3 exports, the sum does not */
    /* An energy clear clears the elements' registers too. */
    assert_int_equal(wr1(0x000C, MC_CLEAR_ENERGY_COMMAND), 0);
    for (unsigned j = 0; j < MC_E_COUNT; j++) {
        rd_ok(0x1600u + 0x20u * j, 32, r);
        for (unsigned k = 0; k < 32u; k++) {
            if (r[k] != 0u) {
                fail_msg("%04XH reads %04XH after the energy clear", 0x1600u + 0x20u * j + k, r[k]);
            }
        }
    }
    for (unsigned k = 0; k < 3u; k++) {
        mc_energy_t e;
        assert_int_equal(mc_meter_phase_energy(&g3, k, &e), MC_OK);
        assert_int_equal(energy_sum_q(&e), 0);
    }
}

/* The block is read-only: writes refused over the bus (exception 02) and through the model, nothing changes. */
static void test_poly_writes_refused(void **state)
{
    (void)state;
    snap_t s;
    snap_take(&s);
    const mc_meter_t meter0 = g3;
    uint16_t f[4];
    float_regs(1.0f, 0, f);
    float_regs(2.0f, 0, f + 2);
    static const uint16_t addrs[] = {0x1400, 0x1401, 0x1405, 0x1410, 0x1416, 0x1420, 0x1500, 0x1504,
                                     0x15E0, 0x1600, 0x1602, 0x16A0, 0x16BE};
    for (size_t k = 0; k < sizeof(addrs) / sizeof(addrs[0]); k++) {
        if (wr1(addrs[k], 1) != MC_MB_EX_ILLEGAL_ADDRESS) {
            fail_msg("FC06 to %04XH: expected exception 02", addrs[k]);
        }
        if (wrn(addrs[k], 2, f) != MC_MB_EX_ILLEGAL_ADDRESS || wrn(addrs[k], 4, f) != MC_MB_EX_ILLEGAL_ADDRESS) {
            fail_msg("FC10 to %04XH: expected exception 02", addrs[k]);
        }
    }
    /* Every new measurement: no write level, refused by both write paths, whoever writes. */
    for (unsigned q = MC_QTY_WIRING; q <= MC_QTY_EL_E_REACTIVE_Q4; q++) {
        assert_int_equal(mc_qty_level((mc_qty)q), MC_LEVEL_NONE);
        const int is_float = q >= MC_QTY_S_VECTOR;
        mc_write_item_t it;
        memset(&it, 0, sizeof(it));
        it.qty = (uint8_t)q;
        it.is_float = (uint8_t)is_float;
        if (is_float) {
            it.f = 1.0f;
        } else {
            it.u = 1u;
        }
        for (int src = MC_SRC_BUS; src <= MC_SRC_LOCAL; src++) {
            if (mc_model_write(&g.md, &it, 1, (mc_source)src) != MC_ERR_INVAL) {
                fail_msg("quantity %u written by source %d", q, src);
            }
        }
        assert_int_equal(mc_model_write_session(&g.md, &g.sess, &it, 1, MC_SRC_BUS), MC_ERR_INVAL);
    }
    snap_same(&s, "the poly-phase block");
    assert_memory_equal(&g3, &meter0, sizeof(meter0));
}

/* A single-phase meter: wiring 0, one element, element 0 the totals, the rest and the extras 0. */
static void test_poly_registers_1p2w(void **state)
{
    (void)state;
    uint16_t r[125];
    rd_ok(0x1400, 6, r);
    assert_int_equal(r[0], MC_WIRING_1P2W);
    assert_int_equal(r[1], 1);
    assert_int_equal(r[2], MC_SEQ_NONE);
    assert_int_equal(r[3], 0);
    assert_int_equal(r[4], 0);
    assert_int_equal(r[5], 0);
    /* Element 0 reads what the basic registers read (the meter is its one element); the others 0. */
    const unsigned basic[8] = {0x0030, 0x0032, 0x0034, 0x0036, 0x0038, 0x003A, 0, 0};
    for (unsigned q = 0; q < 8u; q++) {
        rd_ok(0x1500u + 0x20u * q, 32, r);
        if (basic[q] != 0u) {
            assert_int_equal(fbits(regs_float(r, 0)), fbits(rdf(basic[q], 0)));
        } else if (q == 6u) {
            assert_true(fabs(regs_float(r, 0)) < 0.01f); /* U1 against itself */
        } else {
            assert_true(fabs(angle_diff(regs_float(r, 0), -PHI)) < 0.05); /* the current lags by 60 degrees */
        }
        for (unsigned k = 2; k < 32u; k++) {
            assert_int_equal(r[k], 0);
        }
    }
    /* Element 0's energy registers are the meter's registers (the tariff books them by rate). */
    mc_energy_t e;
    assert_int_equal(mc_meter_energy(&g.meter, &e), MC_OK);
    assert_true(e.q[MC_E_ACTIVE_IMPORT] > 0u);
    for (unsigned j = 0; j < MC_E_COUNT; j++) {
        rd_ok(0x1600u + 0x20u * j, 32, r);
        assert_int_equal(fbits(regs_float(r, 0)), fbits(mc_energy_kwh(e.q[j])));
        for (unsigned k = 2; k < 32u; k++) {
            assert_int_equal(r[k], 0);
        }
    }
    /* The extras: no line-to-line voltage, unbalance or neutral; vector S from the totals' P and Q. */
    rd_ok(0x1410, 18, r);
    assert_rel(regs_float(r, 0), hypot(g.truth.p, g.truth.q1), REL_MEAS, "vector S 1410H");
    for (unsigned k = 2; k < 18u; k++) {
        assert_int_equal(r[k], 0);
    }
    /* The map version says the block is there. */
    assert_int_equal(rd1(MC_REG_MAP_VERSION_ADDR), 3);
}

/* ------------------------------------------------------------------------ */
/* The per-channel calibration of a meter of several elements (review 15, F8) */

static const mc_qty cal_qty[4] = {MC_QTY_CAL_CH_GAIN, MC_QTY_CAL_CH_PHASE, MC_QTY_CAL_EL_P_OFFSET,
                                  MC_QTY_CAL_EL_Q_OFFSET};

static void assert_poly_cal(const mc_poly_calibration_t *want, const char *what)
{
    mc_poly_calibration_t got;
    assert_int_equal(mc_meter_get_poly_calibration(&g3, &got), MC_OK);
    assert_int_equal(mc_poly_calibration_check(&got), MC_OK);
    if (memcmp(&got, want, sizeof(got)) != 0) {
        fail_msg("%s: the per-channel calibration in force is not the expected one", what);
    }
}

/* Element k's reading of the analytic system with its current's gain g and delay-to-remove d degrees:
 * I times g, the angle between U and I phi - d (the correction advances the current by d), P and Q less
 * the offsets. */
static void assert_element(unsigned k, double g, double d, double p_off, double q_off, const char *what)
{
    mc_phase_reading_t pr;
    assert_int_equal(mc_meter_phase_reading(&g3, k, &pr), MC_OK);
    const double phi = (ph_phi[k] - d) * M_PI / 180.0, s = ph_u[k] * ph_i[k] * g;
    char w[128];
    snprintf(w, sizeof(w), "%s: element %u I", what, k);
    assert_rel(pr.irms, ph_i[k] * g, REL_MEAS, w);
    snprintf(w, sizeof(w), "%s: element %u P", what, k);
    assert_rel(pr.p, s * cos(phi) - p_off, 2e-3, w);
    snprintf(w, sizeof(w), "%s: element %u Q", what, k);
    assert_rel(pr.q, s * sin(phi) - q_off, 2e-3, w);
    snprintf(w, sizeof(w), "%s: element %u current angle", what, k);
    if (!(fabs(angle_diff(pr.i_angle_deg, ph_ua[k] - ph_phi[k] + d)) < 0.05)) {
        fail_msg("%s: %.4f, expected %.4f", w, (double)pr.i_angle_deg, ph_ua[k] - ph_phi[k] + d);
    }
    /* and the register reads the reading */
    assert_int_equal(fbits(rdf(mc_reg_element_addr(MC_QTY_EL_CURRENT, k), 0)), fbits(pr.irms));
}

/* 1700H..17DFH on the 3P4W meter: unity at first; a gain, a phase and offsets written with the password
 * on an unsealed meter are in force (mc_meter_get_poly_calibration()) and the readings follow the
 * analytic system accordingly; refused without the password (04), out of range (03, all or nothing),
 * for channels and elements the meter does not have (03, but unity written back), when sealed (04). */
static void test_channel_calibration_registers(void **state)
{
    (void)state;
    uint16_t r[40], f[40];
    /* The layout. */
    assert_int_equal(mc_reg_cal_addr(MC_QTY_CAL_CH_GAIN, 0), 0x1700);
    assert_int_equal(mc_reg_cal_addr(MC_QTY_CAL_CH_PHASE, 19), 0x1766);
    assert_int_equal(mc_reg_cal_addr(MC_QTY_CAL_EL_P_OFFSET, 15), 0x179E);
    assert_int_equal(mc_reg_cal_addr(MC_QTY_CAL_EL_Q_OFFSET, 0), 0x17C0);
    assert_int_equal(mc_reg_cal_addr(MC_QTY_CAL_EL_Q_OFFSET, 16), 0);
    assert_int_equal(mc_reg_cal_addr(MC_QTY_CAL_CH_GAIN, 20), 0);
    assert_int_equal(mc_reg_cal_addr(MC_QTY_CAL, 0), 0);
    for (unsigned q = 0; q < 4u; q++) {
        assert_int_equal(mc_qty_level(cal_qty[q]), MC_LEVEL_CAL);
        const mc_reg_entry_t *e = entry_of(mc_reg_cal_addr(cal_qty[q], 0));
        assert_non_null(e);
        assert_int_equal(e->qty, cal_qty[q]);
        assert_int_equal(e->count, q < 2u ? MC_MAX_CHANNELS : MC_MAX_CIRCUITS);
        assert_int_equal(e->format, MC_FMT_F32);
        assert_int_equal(e->access, MC_ACC_RW);
    }
    /* Unity: every gain 1, every phase and offset 0. */
    rd_ok(0x1700, 40, r);
    for (unsigned k = 0; k < MC_MAX_CHANNELS; k++) {
        assert_int_equal(fbits(regs_float(r + 2u * k, 0)), fbits(1.0f));
    }
    static const unsigned zero_blocks[3][2] = {{0x1740, 40}, {0x1780, 32}, {0x17C0, 32}};
    for (unsigned b = 0; b < 3u; b++) {
        rd_ok(zero_blocks[b][0], zero_blocks[b][1], r);
        for (unsigned k = 0; k < zero_blocks[b][1]; k++) {
            assert_int_equal(r[k], 0);
        }
    }
    mc_poly_calibration_t want;
    mc_poly_calibration_default(&want);
    assert_poly_cal(&want, "at first");
    assert_element(1, 1.0, 0.0, 0.0, 0.0, "uncalibrated");
    /* Without the password: 04, nothing changes (even on this product without parameter protection). */
    mc_session_end(&g.sess);
    float_regs(1.02f, 0, f);
    assert_int_equal(wrn(0x1708, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_poly_cal(&want, "written without the password");
    assert_int_equal(mc_session_login(&g.md, &g.sess, 6666), MC_OK);
    /* I2 (frame channel 4) 2 % up: in force, reported (old and new bits), committed. */
    const size_t n0 = g.nch;
    const int commits0 = g.commits;
    assert_int_equal(wrn(0x1708, 2, f), 0);
    want.gain[4] = 1.02f;
    mc_poly_calibration_seal(&want);
    assert_poly_cal(&want, "I2's gain");
    assert_int_equal(fbits(rdf(0x1708, 0)), fbits(1.02f));
    assert_int_equal(g.nch, n0 + 1u);
    assert_change(n0, MC_QTY_CAL_CH_GAIN, 4, fbits(1.0f), fbits(1.02f), MC_SRC_BUS);
    assert_int_equal(g.commits, commits0 + 1);
    /* I1 (channel 3): 2 degrees of delay removed; element 2 (index 2) 10 W of P offset, element 0 -5 var of Q. */
    float_regs(2.0f, 0, f);
    assert_int_equal(wrn(0x1746, 2, f), 0);
    float_regs(10.0f, 0, f);
    assert_int_equal(wrn(0x1784, 2, f), 0);
    float_regs(-5.0f, 0, f);
    assert_int_equal(wrn(0x17C0, 2, f), 0);
    want.phase_deg[3] = 2.0f;
    want.p_offset[2] = 10.0f;
    want.q_offset[0] = -5.0f;
    mc_poly_calibration_seal(&want);
    assert_poly_cal(&want, "gain, phase, offsets");
    /* The readings follow (windows measured with the calibration in force from their start). */
    meter3_feed(25);
    assert_element(0, 1.0, 2.0, 0.0, -5.0, "I1 phase 2 degrees, Q offset -5 var");
    assert_element(1, 1.02, 0.0, 0.0, 0.0, "I2 gain 1.02");
    assert_element(2, 1.0, 0.0, 10.0, 0.0, "P offset 10 W");
    /* Out of range: 03 and nothing changes; a block with one bad value changes nothing of it. */
    static const float bad_gain[] = {2.5f, 0.49f, -1.0f, NAN, INFINITY};
    for (size_t k = 0; k < sizeof(bad_gain) / sizeof(bad_gain[0]); k++) {
        float_regs(bad_gain[k], 0, f);
        assert_int_equal(wrn(0x1706, 2, f), MC_MB_EX_ILLEGAL_VALUE);
    }
    float_regs(10.5f, 0, f);
    assert_int_equal(wrn(0x1740, 2, f), MC_MB_EX_ILLEGAL_VALUE);
    float_regs(1e5f, 0, f);
    assert_int_equal(wrn(0x1780, 2, f), MC_MB_EX_ILLEGAL_VALUE);
    rd_ok(0x1700, 40, f);
    float_regs(1.01f, 0, f + 2);
    float_regs(3.0f, 0, f + 10);
    assert_int_equal(wrn(0x1700, 40, f), MC_MB_EX_ILLEGAL_VALUE);
    assert_poly_cal(&want, "values out of range");
    /* What the meter does not have (channels 6.., elements 3..) reads unity and takes only that: a whole
     * block read writes back, changing and reporting nothing. */
    const size_t n1 = g.nch;
    for (unsigned b = 0; b < 4u; b++) {
        const unsigned base = mc_reg_cal_addr(cal_qty[b], 0), regs = b < 2u ? 40u : 32u;
        rd_ok(base, regs, r);
        assert_int_equal(wrn(base, regs, r), 0);
    }
    assert_int_equal(g.nch, n1);
    float_regs(1.1f, 0, f);
    assert_int_equal(wrn(0x170C, 2, f), MC_MB_EX_ILLEGAL_VALUE); /* channel 6: no IN on this meter */
    float_regs(5.0f, 0, f);
    assert_int_equal(wrn(0x1786, 2, f), MC_MB_EX_ILLEGAL_VALUE); /* element 3 */
    assert_poly_cal(&want, "channels and elements the meter does not have");
    /* Sealed: 04 like the meter-wide calibration; the calibration switch opens it. */
    assert_int_equal(wr1(0x122A, 1), 0);
    float_regs(1.03f, 0, f);
    assert_int_equal(wrn(0x1708, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(wrn(0x17C0, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_poly_cal(&want, "sealed");
    g.cal_switch = 1;
    assert_int_equal(wrn(0x1708, 2, f), 0);
    g.cal_switch = 0;
    want.gain[4] = 1.03f;
    mc_poly_calibration_seal(&want);
    assert_poly_cal(&want, "with the calibration switch");
    /* Through the model: the firmware's own write (no session) is checked alike. */
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_CAL_CH_GAIN;
    it.arg = 20;
    it.is_float = 1;
    it.f = 1.0f;
    assert_int_equal(mc_model_write(&g.md, &it, 1, MC_SRC_LOCAL), MC_ERR_INVAL); /* no channel 20 */
    it.arg = 0;
    it.is_float = 0;
    assert_int_equal(mc_model_write(&g.md, &it, 1, MC_SRC_LOCAL), MC_ERR_INVAL); /* a float quantity */
    mc_value_t v;
    assert_int_equal(mc_model_read(&g.md, MC_QTY_CAL_CH_PHASE, 3, &v), MC_OK);
    assert_true(v.is_float && v.f == 2.0f);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_CAL_EL_P_OFFSET, 16, &v), MC_ERR_INVAL);
}

/* A single-element meter: its calibration is 1220H..1229H; the per-channel registers read what is in force
 * and take no change (03), only what they read. */
static void test_channel_calibration_1p2w(void **state)
{
    (void)state;
    uint16_t r[40], f[2];
    rd_ok(0x1700, 40, r);
    for (unsigned k = 0; k < MC_MAX_CHANNELS; k++) {
        assert_int_equal(fbits(regs_float(r + 2u * k, 0)), fbits(1.0f));
    }
    const size_t n0 = g.nch;
    assert_int_equal(wrn(0x1700, 40, r), 0); /* written back: no change */
    float_regs(1.02f, 0, f);
    assert_int_equal(wrn(0x1702, 2, f), MC_MB_EX_ILLEGAL_VALUE);
    float_regs(1.0f, 0, f);
    assert_int_equal(wrn(0x1780, 2, f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(g.nch, n0);
    mc_poly_calibration_t got, unity;
    mc_poly_calibration_default(&unity);
    assert_int_equal(mc_meter_get_poly_calibration(&g.meter, &got), MC_OK);
    assert_memory_equal(&got, &unity, sizeof(got));
}

/* End to end with the storage: the change is a calibration event in the audit trail (the event registers
 * show it), counted by the calibration audit counter (1310H), and spends the audit budget per value. A
 * RAM memory with flash semantics (a byte programmed once: AND). */
#define RAM_SECTORS 32u
#define RAM_SECTOR 1024u
static uint8_t g_ram[RAM_SECTORS * RAM_SECTOR];
static mc_storage_t g3_st;
static mc_tariff_t g3_tariff;

static int ram_read(void *ctx, uint32_t sector, uint32_t off, void *buf, uint32_t n)
{
    (void)ctx;
    memcpy(buf, g_ram + sector * RAM_SECTOR + off, n);
    return 0;
}

static int ram_prog(void *ctx, uint32_t sector, uint32_t off, const void *buf, uint32_t n)
{
    (void)ctx;
    for (uint32_t k = 0; k < n; k++) {
        g_ram[sector * RAM_SECTOR + off + k] &= ((const uint8_t *)buf)[k];
    }
    return 0;
}

static int ram_erase(void *ctx, uint32_t sector)
{
    (void)ctx;
    memset(g_ram + sector * RAM_SECTOR, 0xFF, RAM_SECTOR);
    return 0;
}

static unsigned st_event_count(void *ctx)
{
    return mc_storage_event_count(ctx);
}

static int st_event_read(void *ctx, unsigned index, mc_event_t *out)
{
    return mc_storage_event_read(ctx, index, out);
}

static int st_audit_counter(void *ctx, unsigned which, uint32_t *out)
{
    return mc_storage_audit_counter(ctx, which, out);
}

static uint32_t st_mono(void *ctx)
{
    (void)ctx;
    return g.mono;
}

static mc_time_t st_now(void *ctx)
{
    (void)ctx;
    return g.now;
}

static uint32_t counter_regs(unsigned which)
{
    uint16_t r[2];
    rd_ok(0x1310u + 2u * which, 2, r);
    return (uint32_t)r[0] << 16 | r[1];
}

/* The newest event (1301H = 0) as the event registers show it. */
static void newest_event(mc_event_t *ev)
{
    uint16_t r[12];
    assert_int_equal(wr1(0x1301, 0), 0);
    rd_ok(0x1302, 12, r);
    ev->seq = (uint32_t)r[0] << 16 | r[1];
    ev->type = (uint8_t)r[4];
    ev->source = (uint8_t)r[5];
    ev->qty = (uint8_t)r[6];
    ev->arg = (uint8_t)r[7];
    ev->old_value = (uint32_t)r[8] << 16 | r[9];
    ev->new_value = (uint32_t)r[10] << 16 | r[11];
}

static void test_channel_calibration_audit(void **state)
{
    (void)state;
    memset(g_ram, 0xFF, sizeof(g_ram));
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    assert_int_equal(mc_tariff_init(&g3_tariff, &tc, g.now), MC_OK);
    mc_model_config_t cfg;
    mc_model_config_default(&cfg); /* the password for every change, the default write and audit budgets */
    mc_model_hooks_t h;
    memset(&h, 0, sizeof(h));
    h.on_change = mc_storage_param_changed;
    h.commit = mc_storage_commit;
    h.now = st_now;
    h.event_count = st_event_count;
    h.event_read = st_event_read;
    h.audit_counter = st_audit_counter;
    h.monotonic_ms = st_mono;
    h.ctx = &g3_st;
    assert_int_equal(mc_model_init(&g.md, &cfg, &h, &g3, &g3_tariff, NULL), MC_OK);
    mc_storage_config_t sc;
    mc_storage_config_default(&sc);
    const mc_nvm_t nvm = {ram_read, ram_prog, ram_erase, NULL, RAM_SECTOR, RAM_SECTORS, 4, 0xFF};
    sc.nvm = nvm;
    assert_int_equal(mc_storage_mount(&g3_st, &sc, &g3, &g3_tariff, &g.md), MC_OK);
    mc_auth_guard_init(&g.guard, MC_IFACE_TCP);
    mc_session_init(&g.sess, &g.guard);
    const uint32_t cal0 = counter_regs(0), all0 = counter_regs(7);
    assert_int_equal(cal0, 0);
    uint16_t f[12];
    mc_event_t ev;
    /* No password: 04, no event. */
    float_regs(1.02f, 0, f);
    assert_int_equal(wrn(0x1708, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(counter_regs(7), all0);
    /* Logged in, unsealed: I2's gain, one calibration event (the quantity, the channel, old and new bits). */
    assert_int_equal(wr1(0x0000, 6666), 0);
    assert_int_equal(wrn(0x1708, 2, f), 0);
    newest_event(&ev);
    assert_int_equal(ev.type, MC_EV_CALIBRATION);
    assert_int_equal(ev.source, MC_SRC_BUS);
    assert_int_equal(ev.qty, MC_QTY_CAL_CH_GAIN);
    assert_int_equal(ev.arg, 4);
    assert_int_equal(ev.old_value, fbits(1.0f));
    assert_int_equal(ev.new_value, fbits(1.02f));
    assert_int_equal(counter_regs(0), cal0 + 1u);
    assert_int_equal(counter_regs(7), all0 + 1u);
    /* The audit budget (6 in a burst, one spent): 6 values in one write are refused whole (04), 4 pass. */
    for (unsigned k = 0; k < 6u; k++) {
        float_regs(1.0f + 0.001f * (float)(k + 1u), 0, f + 2u * k);
    }
    mc_poly_calibration_t before, after;
    assert_int_equal(mc_meter_get_poly_calibration(&g3, &before), MC_OK);
    assert_int_equal(wrn(0x1700, 12, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(mc_meter_get_poly_calibration(&g3, &after), MC_OK);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(counter_regs(0), cal0 + 1u);
    assert_int_equal(wrn(0x1700, 8, f), 0);
    assert_int_equal(counter_regs(0), cal0 + 5u);
    newest_event(&ev);
    assert_int_equal(ev.qty, MC_QTY_CAL_CH_GAIN);
    assert_int_equal(ev.arg, 3);
    assert_int_equal(ev.new_value, fbits(1.004f));
    /* Sealed (the last unit of the budget): refused (04), nothing logged. */
    assert_int_equal(wr1(0x122A, 1), 0);
    assert_int_equal(counter_regs(1), 1);
    const uint32_t all1 = counter_regs(7);
    float_regs(1.05f, 0, f);
    assert_int_equal(wrn(0x1708, 2, f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(counter_regs(7), all1);
    assert_int_equal(counter_regs(0), cal0 + 5u);
}


/* ------------------------------------------------------------------------ */
/* Register maps as data: the built-in maps besides the KPM31's             */

/* A request to map `map` (FC 03/04 read): 0 and the registers, or the exception code. */
static int rd_map(const mc_regmap_t *map, uint8_t fc, unsigned start, unsigned qty, uint16_t *regs)
{
    uint8_t req[5] = {fc};
    put16(req + 1, start);
    put16(req + 3, qty);
    memset(g_resp, 0xEE, sizeof(g_resp));
    const int len = mc_modbus_handle_pdu_map(map, &g.md, &g.sess, req, 5, g_resp, 0);
    const int ex = exception_of(len, fc);
    if (ex != 0) {
        return ex;
    }
    assert_int_equal(len, 2 + 2 * (int)qty);
    for (unsigned k = 0; k < qty; k++) {
        regs[k] = get16(g_resp + 2 + 2 * k);
    }
    return 0;
}

/* One float of map `map` by FC 04 (fc 4) or 03, high word first (the SDM and SunSpec order). */
static float rdf_map(const mc_regmap_t *map, uint8_t fc, unsigned addr)
{
    uint16_t r[2];
    const int ex = rd_map(map, fc, addr, 2, r);
    if (ex != 0) {
        fail_msg("%s FC %02X %04XH: exception %d", map->name, fc, addr, ex);
    }
    return regs_float(r, 0);
}

/* FC 10 of one float, high word first, to map `map` with session `sess`: 0 or the exception. */
static int wrf_map(const mc_regmap_t *map, mc_session_t *sess, unsigned addr, float f)
{
    uint8_t req[10] = {MC_MB_FC_WRITE_MULTIPLE};
    put16(req + 1, addr);
    put16(req + 3, 2);
    req[5] = 4;
    const uint32_t b = fbits(f);
    put16(req + 6, b >> 16);
    put16(req + 8, b & 0xFFFFu);
    memset(g_resp, 0xEE, sizeof(g_resp));
    const int len = mc_modbus_handle_pdu_map(map, &g.md, sess, req, sizeof(req), g_resp, 0);
    return exception_of(len, MC_MB_FC_WRITE_MULTIPLE);
}

/* Quantity and argument read through the model, as a float. */
static float model_f(mc_qty q, unsigned arg)
{
    mc_value_t v;
    assert_int_equal(mc_model_read(&g.md, q, arg, &v), MC_OK);
    return v.is_float ? v.f : (float)v.u;
}

/* mc_model_read_f() and mc_model_read_u(): the value, converted; 0 where mc_model_read() refuses. */
static void test_model_read_f_u(void **state)
{
    (void)state;
    assert_true(mc_model_read_f(&g.md, MC_QTY_VOLTAGE, 0) == model_f(MC_QTY_VOLTAGE, 0));
    assert_int_equal(mc_model_read_u(&g.md, MC_QTY_VOLTAGE, 0), (unsigned)model_f(MC_QTY_VOLTAGE, 0));
    assert_true(mc_model_read_f(&g.md, MC_QTY_ADDRESS, 0) == 1.0f);
    assert_int_equal(mc_model_read_u(&g.md, MC_QTY_ADDRESS, 0), 1);
    assert_int_equal(mc_model_read_u(&g.md, MC_QTY_NAN, 0), 0);
    assert_int_equal(mc_model_read_u(&g.md, MC_QTY_EL_PHASE_ANGLE, 0), 0); /* -60 degrees: negative */
    assert_true(mc_model_read_f(&g.md, MC_QTY_EL_PHASE_ANGLE, 0) < -59.9f);
    assert_true(mc_model_read_f(&g.md, MC_QTY_U_LL, 3) == 0.0f); /* refused: argument out of range */
    assert_int_equal(mc_model_read_u(&g.md, MC_QTY_COUNT, 0), 0);
}

static void test_regmap_builtins(void **state)
{
    (void)state;
    const char *const names[] = {"kpm31", "sdm120", "sdm630", "sunspec"};
    for (size_t k = 0; k < 4u; k++) {
        const mc_regmap_t *m = mc_regmap_builtin(names[k]);
        assert_non_null(m);
        assert_ptr_equal(mc_regmap_builtin_at(k), m);
        assert_string_equal(m->name, names[k]);
        assert_int_equal(mc_regmap_check(m), MC_OK);
    }
    assert_null(mc_regmap_builtin_at(4));
    assert_null(mc_regmap_builtin("SDM120"));
    assert_null(mc_regmap_builtin(""));
    assert_ptr_equal(mc_regmap_builtin(NULL), mc_regmap_builtin("kpm31"));
    size_t n;
    assert_ptr_equal(mc_regmap_builtin(NULL)->holding, mc_regmap_table(&n));
    assert_int_equal(mc_regmap_builtin(NULL)->n_holding, n);

    /* The check refuses what the handler could not serve as documented. */
    static const char *const strs[] = {"ab"};
    const mc_reg_entry_t sorted[] = {MC_REG_U16(0x10, 2, MC_QTY_ADDRESS, 0, 0, MC_ACC_R),
                                     MC_REG_F32(0x12, 1, MC_QTY_P, 0, 0, MC_UNIT_W, MC_ACC_R)};
    const mc_reg_entry_t overlap[] = {MC_REG_F32(0x10, 2, MC_QTY_P, 0, 0, MC_UNIT_W, MC_ACC_R),
                                      MC_REG_U16(0x13, 1, MC_QTY_ADDRESS, 0, 0, MC_ACC_R)};
    const mc_reg_entry_t unsorted[] = {MC_REG_U16(0x20, 1, MC_QTY_ADDRESS, 0, 0, MC_ACC_R),
                                       MC_REG_U16(0x10, 1, MC_QTY_ADDRESS, 0, 0, MC_ACC_R)};
    const mc_reg_entry_t past_end[] = {MC_REG_F32(0xFFFF, 1, MC_QTY_P, 0, 0, MC_UNIT_W, MC_ACC_R)};
    const mc_reg_entry_t const_rw[] = {{0x10, 5u, 1, MC_FMT_CONST, MC_QTY_NONE, 0, 0, 0, MC_ACC_RW, 0, 0}};
    const mc_reg_entry_t str_bad[] = {MC_REG_STR(0x10, 4, 1)};
    const mc_reg_entry_t str_ok[] = {MC_REG_STR(0x10, 4, 0)};
    const mc_reg_entry_t i16_rw[] = {{0x10, 0, 1, MC_FMT_I16, MC_QTY_ADDRESS, 0, 0, 0, MC_ACC_RW, 0, 0}};
    const mc_reg_entry_t scaled_rw[] = {{0x10, 0, 1, MC_FMT_U16, MC_QTY_ADDRESS, 0, 0, 0, MC_ACC_RW, 1, 0}};
    const mc_reg_entry_t nan_u16[] = {{0x10, 0, 1, MC_FMT_U16, MC_QTY_EL_P, 0, 1, 0, MC_ACC_R, 0,
                                       MC_REGF_ELEMENT_NAN}};
    const mc_reg_entry_t zero_count[] = {MC_REG_U16(0x10, 0, MC_QTY_ADDRESS, 0, 0, MC_ACC_R)};
    const mc_reg_entry_t bad_qty[] = {MC_REG_U16(0x10, 1, MC_QTY_COUNT, 0, 0, MC_ACC_R)};
    struct {
        const mc_reg_entry_t *t;
        size_t n;
        int ok;
    } cases[] = {
        {sorted, 2, 1},   {overlap, 2, 0}, {unsorted, 2, 0}, {past_end, 1, 0}, {const_rw, 1, 0},
        {str_bad, 1, 0},  {str_ok, 1, 1},  {i16_rw, 1, 0},   {scaled_rw, 1, 0}, {nan_u16, 1, 0},
        {zero_count, 1, 0}, {bad_qty, 1, 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        mc_regmap_t m = {.name = "t", .input = cases[k].t, .n_input = cases[k].n, .strings = strs, .n_strings = 1};
        if ((mc_regmap_check(&m) == MC_OK) != cases[k].ok) {
            fail_msg("case %zu: check %s", k, cases[k].ok ? "refused a good table" : "passed a bad table");
        }
    }
    mc_regmap_t empty = {.name = "t"};
    assert_int_equal(mc_regmap_check(&empty), MC_ERR_INVAL);
    assert_int_equal(mc_regmap_check(NULL), MC_ERR_INVAL);
    uint8_t req[5] = {MC_MB_FC_READ_HOLDING, 0, 0, 0, 1};
    assert_int_equal(mc_modbus_handle_pdu_map(NULL, &g.md, &g.sess, req, 5, g_resp, 0), MC_ERR_INVAL);
}

/* The SDM120 map on the single-phase meter: FC 04 at Eastron's addresses, high word first whatever the
 * native map's word order, the same values as the native map, and the signal's analytic truth. */
static void test_sdm120_map(void **state)
{
    (void)state;
    const mc_regmap_t *m = mc_regmap_builtin("sdm120");
    assert_int_equal(wr1(0x1001, 1), 0); /* the native map in CDAB: the SDM map stays ABCD */
    const struct {
        unsigned sdm, native;
        double truth; /* analytic (NAN: compare with the native map only) */
        double rel;
    } pts[] = {
        {0x0000, 0x0030, UN, REL_MEAS},
        {0x0006, 0x0032, IN, REL_MEAS},
        {0x000C, 0x0034, UN * IN * 0.5, REL_MEAS},
        {0x0012, 0x0038, UN * IN, REL_MEAS},
        {0x0018, 0x0036, UN * IN * 0.8660254037844386, 2e-3},
        {0x001E, 0x003A, 0.5, REL_MEAS},
        {0x0046, 0x003C, F0, 2e-4},
        {0x0048, 0x0082, exp_lifetime_kwh(0, 0), REL_KWH}, /* import, lifetime, all rates */
        {0x004A, 0x0084, exp_lifetime_kwh(0, 1), REL_KWH},
        {0x004C, 0x0088, exp_lifetime_kwh(0, 2), REL_KWH},
        {0x004E, 0x008A, exp_lifetime_kwh(0, 3), REL_KWH},
        {0x0156, 0x0080, exp_lifetime_kwh(0, 0) + exp_lifetime_kwh(0, 1), REL_KWH},
        {0x0158, 0x0086, exp_lifetime_kwh(0, 2) + exp_lifetime_kwh(0, 3), REL_KWH},
    };
    char what[64];
    for (size_t k = 0; k < sizeof(pts) / sizeof(pts[0]); k++) {
        const float got = rdf_map(m, MC_MB_FC_READ_INPUT, pts[k].sdm);
        const float native = rdf(pts[k].native, 1);
        snprintf(what, sizeof(what), "SDM120 3%04u (%04XH)", pts[k].sdm + 1u, pts[k].sdm);
        if (fbits(got) != fbits(native)) {
            fail_msg("%s: %.9g, the native map's %04XH %.9g", what, (double)got, pts[k].native, (double)native);
        }
        assert_rel(got, pts[k].truth, pts[k].rel, what);
    }
    /* Phase angle: the current lags by PHI, so -PHI (negative: inductive). */
    const float ang = rdf_map(m, MC_MB_FC_READ_INPUT, 0x0024);
    if (!(fabs(ang + PHI) < 0.05)) {
        fail_msg("SDM120 phase angle %.4f, expected %.1f", (double)ang, -PHI);
    }
    /* Demand as the native map. */
    assert_int_equal(fbits(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0054)), fbits(model_f(MC_QTY_DEMAND_P, 0)));
    assert_int_equal(fbits(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0056)), fbits(model_f(MC_QTY_MAX_DEMAND_P, 0)));
    /* A block spanning gaps reads zeros there (ESPHome reads blocks); one touching nothing: 02. */
    uint16_t r[80];
    assert_int_equal(rd_map(m, MC_MB_FC_READ_INPUT, 0x0000, 80, r), 0);
    assert_int_equal(fbits(regs_float(r + 0, 0)), fbits(rdf(0x0030, 1)));
    for (unsigned a = 0x0002; a < 0x0006; a++) {
        assert_int_equal(r[a], 0);
    }
    for (unsigned a = 0x0026; a < 0x0046; a++) {
        assert_int_equal(r[a], 0);
    }
    assert_int_equal(rd_map(m, MC_MB_FC_READ_INPUT, 0x0100, 0x56, r), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd_map(m, MC_MB_FC_READ_INPUT, 0x0050, 4, r), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd_map(m, MC_MB_FC_READ_INPUT, 0x0157, 1, r), 0); /* half a float */
    /* FC 03 reads the holding registers only (there the measurements are not). */
    assert_int_equal(rd_map(m, MC_MB_FC_READ_HOLDING, 0x0000, 2, r), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(fbits(rdf_map(m, MC_MB_FC_READ_HOLDING, 0x0014)), fbits(1.0f)); /* slave address */
    /* Function codes the map has no table for: 01. */
    const uint8_t coils[5] = {MC_MB_FC_READ_COILS, 0, 1, 0, 1};
    int len = mc_modbus_handle_pdu_map(m, &g.md, &g.sess, coils, 5, g_resp, 0);
    assert_int_equal(exception_of(len, MC_MB_FC_READ_COILS), MC_MB_EX_ILLEGAL_FUNCTION);
    const uint8_t coil_w[5] = {MC_MB_FC_WRITE_SINGLE_COIL, 0, 1, 0xFF, 0};
    len = mc_modbus_handle_pdu_map(m, &g.md, &g.sess, coil_w, 5, g_resp, 0);
    assert_int_equal(exception_of(len, MC_MB_FC_WRITE_SINGLE_COIL), MC_MB_EX_ILLEGAL_FUNCTION);
    assert_int_equal(g.relay_calls, 0);
    /* Writes: the slave address as Eastron writes it, a float; whole numbers only; the access level
     * of the data model (a public session gets 04 and nothing changes). */
    g.md.cfg.require_unlock = 1; /* the secure default: a change needs the password level */
    assert_int_equal(wrf_map(m, NULL, 0x0014, 17.0f), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(g.md.params.address, 1);
    assert_int_equal(wrf_map(m, &g.sess, 0x0014, 17.5f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wrf_map(m, &g.sess, 0x0014, 300.0f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(wrf_map(m, &g.sess, 0x0014, -1.0f), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(g.md.params.address, 1);
    assert_int_equal(wrf_map(m, &g.sess, 0x0014, 17.0f), 0);
    assert_int_equal(g.md.params.address, 17);
    assert_int_equal(wrf_map(m, &g.sess, 0x0012, 2.0f), 0); /* parity odd */
    assert_int_equal(g.md.params.parity, 2);
    assert_int_equal(wrf_map(m, &g.sess, 0x0012, 3.0f), MC_MB_EX_ILLEGAL_VALUE); /* two stop bits: not ours */
    assert_int_equal(wrf_map(m, &g.sess, 0x0048, 0.0f), MC_MB_EX_ILLEGAL_ADDRESS); /* energy: not writable */
    const uint8_t half[5] = {MC_MB_FC_WRITE_SINGLE_REGISTER, 0x00, 0x14, 0x41, 0x88};
    len = mc_modbus_handle_pdu_map(m, &g.md, &g.sess, half, 5, g_resp, 0);
    assert_int_equal(exception_of(len, MC_MB_FC_WRITE_SINGLE_REGISTER), MC_MB_EX_ILLEGAL_VALUE);
    assert_int_equal(g.md.params.address, 17);
}

/* The SDM630 map on the 3P4W meter: the phases at Eastron's addresses against the analytic system. */
static void test_sdm630_map(void **state)
{
    (void)state;
    const mc_regmap_t *m = mc_regmap_builtin("sdm630");
    char what[80];
    double p = 0.0, qq = 0.0, s_sum = 0.0, i_sum = 0.0, u_sum = 0.0;
    for (unsigned k = 0; k < 3u; k++) {
        const double phi = ph_phi[k] * M_PI / 180.0, s = ph_u[k] * ph_i[k];
        const double truth[6] = {ph_u[k], ph_i[k], s * cos(phi), s, s * sin(phi), cos(phi)};
        const unsigned base[6] = {0x0000, 0x0006, 0x000C, 0x0012, 0x0018, 0x001E};
        const mc_qty el[6] = {MC_QTY_EL_VOLTAGE, MC_QTY_EL_CURRENT, MC_QTY_EL_P,
                              MC_QTY_EL_S,       MC_QTY_EL_Q,       MC_QTY_EL_PF};
        for (unsigned q = 0; q < 6u; q++) {
            const float got = rdf_map(m, MC_MB_FC_READ_INPUT, base[q] + 2u * k);
            snprintf(what, sizeof(what), "SDM630 %04XH (L%u)", base[q] + 2u * k, k + 1u);
            assert_int_equal(fbits(got), fbits(model_f(el[q], k)));
            assert_rel(got, truth[q], q == 2u || q == 4u ? 2e-3 : REL_MEAS, what);
        }
        const float ang = rdf_map(m, MC_MB_FC_READ_INPUT, 0x0024 + 2u * k);
        if (!(fabs(angle_diff(ang, -ph_phi[k])) < 0.05)) {
            fail_msg("SDM630 phase angle L%u %.4f, expected %.1f", k + 1u, (double)ang, -ph_phi[k]);
        }
        p += s * cos(phi);
        qq += s * sin(phi);
        s_sum += s;
        i_sum += ph_i[k];
        u_sum += ph_u[k];
    }
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x002A), u_sum / 3.0, REL_MEAS, "mean L-N voltage 002AH");
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x002E), i_sum / 3.0, REL_MEAS, "mean current 002EH");
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0030), i_sum, REL_MEAS, "sum of currents 0030H");
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0034), p, REL_MEAS, "total P 0034H");
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0038), s_sum, REL_MEAS, "total VA 0038H");
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x003C), qq, 2e-3, "total var 003CH");
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x003E), p / s_sum, REL_MEAS, "total PF 003EH");
    const double tot_angle = -atan2(qq, p) * 180.0 / M_PI;
    if (!(fabs(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0042) - tot_angle) < 0.1)) {
        fail_msg("total phase angle %.4f, expected %.4f", (double)rdf_map(m, MC_MB_FC_READ_INPUT, 0x0042), tot_angle);
    }
    cplx_t u[3], isum = {0.0, 0.0};
    double ll_sum = 0.0;
    for (unsigned k = 0; k < 3u; k++) {
        u[k] = phasor(ph_u[k], ph_ua[k]);
        isum = c_add(isum, phasor(ph_i[k], ph_ua[k] - ph_phi[k]));
    }
    for (unsigned k = 0; k < 3u; k++) {
        const cplx_t d = c_add(u[k], (cplx_t){-u[(k + 1u) % 3u].re, -u[(k + 1u) % 3u].im});
        snprintf(what, sizeof(what), "SDM630 line-to-line %04XH", 0x00C8u + 2u * k);
        assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x00C8 + 2u * k), c_abs(d), REL_MEAS, what);
        ll_sum += c_abs(d);
    }
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x00CE), ll_sum / 3.0, REL_MEAS, "mean line-to-line 00CEH");
    assert_rel(rdf_map(m, MC_MB_FC_READ_INPUT, 0x00E0), c_abs(isum), 2e-3, "neutral current 00E0H");
    /* Energies: the totals and each phase's, as the native map. */
    assert_int_equal(fbits(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0048)), fbits(model_f(MC_QTY_E_ACTIVE_IMPORT, 0)));
    assert_int_equal(fbits(rdf_map(m, MC_MB_FC_READ_INPUT, 0x004A)), fbits(model_f(MC_QTY_E_ACTIVE_EXPORT, 0)));
    assert_true(model_f(MC_QTY_E_ACTIVE_EXPORT, 0) == 0.0f); /* netted: the total imports */
    for (unsigned k = 0; k < 3u; k++) {
        assert_int_equal(fbits(rdf_map(m, MC_MB_FC_READ_INPUT, 0x015A + 2u * k)),
                         fbits(model_f(MC_QTY_EL_E_ACTIVE_IMPORT, k)));
        assert_int_equal(fbits(rdf_map(m, MC_MB_FC_READ_INPUT, 0x0160 + 2u * k)),
                         fbits(model_f(MC_QTY_EL_E_ACTIVE_EXPORT, k)));
    }
    assert_true(model_f(MC_QTY_EL_E_ACTIVE_EXPORT, 2) > 0.0f); /* phase 3 exports */
}

/* A SunSpec walk over the map: the marker, then model after model by ID and length to the end model;
 * the points at the offsets of the SunSpec model definitions (common model 1, float meter 21x). */
typedef struct sunspec_seen {
    unsigned meter_id, meter_at, models;
} sunspec_seen_t;

static sunspec_seen_t sunspec_walk(const mc_regmap_t *m)
{
    sunspec_seen_t seen = {0, 0, 0};
    uint16_t r[2];
    assert_int_equal(rd_map(m, MC_MB_FC_READ_HOLDING, 40000, 2, r), 0);
    assert_int_equal(r[0], ('S' << 8) | 'u');
    assert_int_equal(r[1], ('n' << 8) | 'S');
    unsigned at = 40002;
    for (;;) {
        assert_true(at < 0xFFFEu);
        assert_int_equal(rd_map(m, MC_MB_FC_READ_HOLDING, at, 2, r), 0);
        const unsigned id = r[0], len = r[1];
        if (id == 0xFFFFu) {
            assert_int_equal(len, 0);
            break;
        }
        seen.models++;
        if (seen.models == 1u) {
            assert_int_equal(id, 1);
            assert_int_equal(len, 66);
        } else {
            assert_true(id >= 211u && id <= 214u);
            assert_int_equal(len, 124);
            seen.meter_id = id;
            seen.meter_at = at + 2u;
        }
        at += 2u + len;
    }
    assert_int_equal(seen.models, 2);
    return seen;
}

static void test_sunspec_map_1p2w(void **state)
{
    (void)state;
    const mc_regmap_t *m = mc_regmap_builtin("sunspec");
    memcpy(g.md.params.serial, "KPM31-000123", 12);
    const sunspec_seen_t s = sunspec_walk(m);
    assert_int_equal(s.meter_id, 211);
    /* Common model: Mn, SN, DA, Pad. */
    uint16_t r[66];
    assert_int_equal(rd_map(m, MC_MB_FC_READ_HOLDING, 40004, 66, r), 0);
    char mn[33] = {0}, sn[33] = {0};
    for (unsigned k = 0; k < 16u; k++) {
        mn[2 * k] = (char)(r[k] >> 8);
        mn[2 * k + 1] = (char)(r[k] & 0xFF);
        sn[2 * k] = (char)(r[48 + k] >> 8);
        sn[2 * k + 1] = (char)(r[48 + k] & 0xFF);
    }
    assert_string_equal(mn, "metercore");
    assert_string_equal(sn, "KPM31-000123");
    assert_int_equal(r[64], 1);      /* DA: the slave address */
    assert_int_equal(r[65], 0x8000); /* Pad */
    const unsigned b = s.meter_at;
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 0), IN, REL_MEAS, "A");
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 2), IN, REL_MEAS, "AphA");
    assert_true(isnan(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 4))); /* AphB: not implemented */
    assert_true(isnan(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 6)));
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 8), UN, REL_MEAS, "PhV");
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 24), F0, 2e-4, "Hz");
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 26), UN * IN * 0.5, REL_MEAS, "W (positive: import)");
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 50), 0.5, REL_MEAS, "PF");
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 58), 1000.0 * exp_lifetime_kwh(0, 1), REL_KWH, "TotWhExp");
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 66), 1000.0 * exp_lifetime_kwh(0, 0), REL_KWH, "TotWhImp");
    assert_true(isnan(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 74))); /* TotVAhExp */
    /* FC 04 and writes: not served. */
    assert_int_equal(rd_map(m, MC_MB_FC_READ_INPUT, 40000, 2, r), MC_MB_EX_ILLEGAL_FUNCTION);
    assert_int_equal(wrf_map(m, &g.sess, b + 26, 1.0f), MC_MB_EX_ILLEGAL_ADDRESS);
    assert_int_equal(rd_map(m, MC_MB_FC_READ_HOLDING, 0, 10, r), MC_MB_EX_ILLEGAL_ADDRESS);
}

static void test_sunspec_map_3p4w(void **state)
{
    (void)state;
    const mc_regmap_t *m = mc_regmap_builtin("sunspec");
    const sunspec_seen_t s = sunspec_walk(m);
    assert_int_equal(s.meter_id, 213);
    const unsigned b = s.meter_at;
    char what[64];
    double i_sum = 0.0;
    for (unsigned k = 0; k < 3u; k++) {
        snprintf(what, sizeof(what), "phase %c", 'A' + k);
        assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 2 + 2 * k), ph_i[k], REL_MEAS, what);
        assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 10 + 2 * k), ph_u[k], REL_MEAS, what);
        const double phi = ph_phi[k] * M_PI / 180.0;
        assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 28 + 2 * k), ph_u[k] * ph_i[k] * cos(phi), REL_MEAS, what);
        assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 52 + 2 * k), cos(phi), REL_MEAS, what);
        /* Energies in Wh: the model's kWh × 1000. */
        assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 68 + 2 * k), 1000.0 * model_f(MC_QTY_EL_E_ACTIVE_IMPORT, k),
                   1e-6, what);
        assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 92 + 2 * k), 1000.0 * model_f(MC_QTY_EL_E_REACTIVE_Q1, k),
                   1e-6, what);
        i_sum += ph_i[k];
    }
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 0), i_sum, REL_MEAS, "A (sum)");
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 90), 1000.0 * model_f(MC_QTY_E_QUADRANT, 0), 1e-6, "TotVArhImpQ1");
    mc_energy_t e;
    mc_meter_energy(&g3, &e);
    assert_rel(rdf_map(m, MC_MB_FC_READ_HOLDING, b + 114), (double)e.q[MC_E_REACTIVE_Q4] / QPWH, 1e-6,
               "TotVArhExpQ4 against the meter's quanta");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_map_matches_reference_csv, setup_default),
        cmocka_unit_test_setup(test_table_well_formed, setup_default),
        cmocka_unit_test_setup(test_read_every_quantity_abcd_cdab, setup_default),
        cmocka_unit_test_setup(test_read_serial_errors_status, setup_default),
        cmocka_unit_test_setup(test_read_gaps_halves_limits, setup_default),
        cmocka_unit_test_setup(test_model_without_tariff, setup_default),
        cmocka_unit_test_setup(test_export_and_no_voltage, setup_default),
        cmocka_unit_test_setup(test_write_parameters, setup_default),
        cmocka_unit_test_setup(test_write_all_or_nothing, setup_default),
        cmocka_unit_test_setup(test_write_refused_registers, setup_default),
        cmocka_unit_test_setup(test_clear_energy, setup_default),
        cmocka_unit_test_setup(test_clock, setup_default),
        cmocka_unit_test_setup(test_settle_day_change, setup_default),
        cmocka_unit_test_setup(test_on_change, setup_default),
        cmocka_unit_test_setup(test_on_change_clock_fields, setup_default),
        cmocka_unit_test_setup(test_schedule, setup_default),
        cmocka_unit_test_setup(test_password_protection, setup_default),
        cmocka_unit_test_setup(test_brute_force, setup_default),
        cmocka_unit_test_setup(test_write_budget, setup_default),
        cmocka_unit_test_setup(test_audit_counter_registers, setup_default),
        cmocka_unit_test_setup(test_seal_calibration, setup_default),
        cmocka_unit_test_setup(test_variant_kpm31a, setup_default),
        cmocka_unit_test_setup(test_variant_kpm31b, setup_default),
        cmocka_unit_test_setup(test_variant_kpm31bk, setup_default),
        cmocka_unit_test_setup(test_exception_order, setup_default),
        cmocka_unit_test_setup(test_broadcast, setup_default),
        cmocka_unit_test_setup(test_model_api, setup_default),
        cmocka_unit_test_setup(test_event_log_registers, setup_default),
        cmocka_unit_test_setup(test_poly_registers_1p2w, setup_default),
        cmocka_unit_test_setup(test_poly_registers_3p4w, setup_poly),
        cmocka_unit_test_setup(test_poly_energy_registers, setup_poly),
        cmocka_unit_test_setup(test_poly_writes_refused, setup_poly),
        cmocka_unit_test_setup(test_channel_calibration_registers, setup_poly),
        cmocka_unit_test_setup(test_channel_calibration_1p2w, setup_default),
        cmocka_unit_test_setup(test_channel_calibration_audit, setup_poly),
        cmocka_unit_test_setup(test_regmap_builtins, setup_default),
        cmocka_unit_test_setup(test_model_read_f_u, setup_default),
        cmocka_unit_test_setup(test_sdm120_map, setup_default),
        cmocka_unit_test_setup(test_sdm630_map, setup_poly),
        cmocka_unit_test_setup(test_sunspec_map_1p2w, setup_default),
        cmocka_unit_test_setup(test_sunspec_map_3p4w, setup_poly),
    };
    /* MC_TEST_FILTER=<glob> runs only the matching tests. */
    const char *filter = getenv("MC_TEST_FILTER");
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    return cmocka_run_group_tests_name("registers", tests, NULL, NULL);
}
