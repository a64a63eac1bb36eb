/*
 * DL/T 645-2007 slave (mc_dlt645.h) over a real data model. The client side of this
 * test builds and checks frames itself from the standard's facts (68H, address low byte
 * first, 68H, C, L, data + 33H, sum mod 256, 16H; BCD low byte first), never with the
 * slave's code; expected values are read from the data model (mc_model_read()).
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_dlt645.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_tariff.h"
#include "waveform.h"

#define SQRT2 1.4142135623730951
#define QPWH ((double)MC_ENERGY_QUANTA_PER_WH)
#define MAX_LOG 64

/* ------------------------------------------------------------------------ */
/* Fixture: meter fed a sine (230 V, 5 A, 60 deg lagging), tariff with energy, */
/* model with a clock, a monotonic clock and a small event log               */

typedef struct fx {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t md;
    mc_dlt645_t d;
    mc_time_t now;
    uint32_t mono_ms;
    mc_event_t log[MAX_LOG];
    unsigned nlog;
    uint32_t clears, clock_sets;
    uint8_t sent[512];
    size_t sent_len;
    unsigned sends;
    uint32_t line_baud;
    unsigned lines;
    uint8_t new_addr[6];
} fx_t;

static fx_t g;

static mc_time_t T(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    mc_datetime_t dt = {(uint16_t)y, (uint8_t)mo, (uint8_t)d, (uint8_t)h, (uint8_t)mi, (uint8_t)s, 0};
    mc_time_t t;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_OK);
    return t;
}

static void on_change(void *ctx, mc_qty qty, unsigned arg, uint32_t old_value, uint32_t new_value, mc_source src)
{
    fx_t *f = ctx;
    mc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.seq = f->nlog + 1u;
    ev.time = f->now;
    ev.type = qty == MC_QTY_CLEAR_ENERGY ? MC_EV_ENERGY_CLEAR : qty == MC_QTY_CLOCK ? MC_EV_CLOCK_SET : MC_EV_PARAM;
    ev.source = (uint8_t)src;
    ev.qty = (uint8_t)qty;
    ev.arg = (uint8_t)arg;
    ev.old_value = old_value;
    ev.new_value = new_value;
    if (qty == MC_QTY_CLEAR_ENERGY) {
        f->clears++;
        (void)mc_tariff_clear_energy(&f->tariff);
    }
    if (qty == MC_QTY_CLOCK) {
        f->clock_sets++;
    }
    assert_true(f->nlog < MAX_LOG);
    memmove(&f->log[1], &f->log[0], sizeof(f->log[0]) * f->nlog); /* newest first */
    f->log[0] = ev;
    f->nlog++;
}

static unsigned ev_count(void *ctx)
{
    return ((fx_t *)ctx)->nlog;
}

static int ev_read(void *ctx, unsigned i, mc_event_t *out)
{
    fx_t *f = ctx;
    if (i >= f->nlog) {
        return MC_ERR_NODATA;
    }
    *out = f->log[i];
    return MC_OK;
}

static int audit_counter(void *ctx, unsigned which, uint32_t *out)
{
    fx_t *f = ctx;
    *out = which == 2u ? f->clears : which == 3u ? f->clock_sets : 0u;
    return MC_OK;
}

static mc_time_t now_hook(void *ctx)
{
    return ((fx_t *)ctx)->now;
}

static int set_clock(void *ctx, mc_time_t t)
{
    ((fx_t *)ctx)->now = t;
    return MC_OK;
}

static uint32_t mono(void *ctx)
{
    return ((fx_t *)ctx)->mono_ms;
}

static int port_send(void *ctx, const uint8_t *b, size_t n)
{
    fx_t *f = ctx;
    assert_true(n <= sizeof(f->sent));
    memcpy(f->sent, b, n);
    f->sent_len = n;
    f->sends++;
    return MC_OK;
}

static void port_line(void *ctx, uint32_t baud)
{
    fx_t *f = ctx;
    f->line_baud = baud;
    f->lines++;
}

static void port_addr(void *ctx, const uint8_t a[6])
{
    memcpy(((fx_t *)ctx)->new_addr, a, 6);
}

static void book(mc_time_t t, double ai, double ae, double ri, double re)
{
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta.q[MC_E_ACTIVE_IMPORT] = (uint64_t)llround(ai * QPWH);
    r.delta.q[MC_E_ACTIVE_EXPORT] = (uint64_t)llround(ae * QPWH);
    r.delta.q[MC_E_REACTIVE_Q1] = (uint64_t)llround(ri * QPWH);
    r.delta.q[MC_E_REACTIVE_Q4] = (uint64_t)llround(re * QPWH);
    assert_true(mc_tariff_add(&g.tariff, t, &r) >= 0);
}

static double g_phi = 60.0; /* the load's angle: 60 lagging, or an exporting one */

static int setup(void **state)
{
    memset(&g, 0, sizeof(g));
    wf_params_t p;
    wf_params_sine(&p, 4000.0, 50.0, 230.0, 5.0, g_phi, 230.0 * SQRT2 * 1.6, 60.0 * SQRT2 * 1.5, 24);
    mc_meter_config_t mc;
    mc_meter_config_default(&mc);
    mc.sample_rate_hz = 4000;
    mc.u_scale = (float)wf_scale(&p.u);
    mc.i_scale = (float)wf_scale(&p.i);
    assert_int_equal(mc_meter_init(&g.meter, &mc), MC_OK);
    wf_gen_t gen;
    wf_init(&gen, &p);
    int32_t v[400], i[400];
    for (int k = 0; k < 30; k++) {
        wf_fill(&gen, v, i, 400);
        assert_true(mc_meter_process(&g.meter, v, i, 400) >= 0);
    }
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    assert_int_equal(mc_tariff_init(&g.tariff, &tc, T(2024, 1, 15, 0, 0, 0)), MC_OK);
    /* January, February (frozen at the settlements) and March: Wh per kind, at rates 1 and 2 */
    book(T(2024, 1, 16, 7, 0, 0), 1017, 5, 303, 7);
    book(T(2024, 1, 16, 11, 0, 0), 2017, 0, 603, 0);
    book(T(2024, 2, 10, 7, 0, 0), 4029, 11, 1001, 13);
    book(T(2024, 3, 5, 11, 0, 0), 703.25, 0.75, 100.5, 0.125);
    /* demand: 16 minutes of 2 kW */
    mc_reading_t d;
    memset(&d, 0, sizeof(d));
    d.p = 2000.0f;
    d.s = 2500.0f;
    d.duration_s = 60.0f;
    for (unsigned k = 0; k < 16; k++) {
        assert_true(mc_tariff_add(&g.tariff, T(2024, 3, 6, 0, k, 30), &d) >= 0);
    }
    g.now = T(2024, 3, 6, 10, 20, 30); /* a Wednesday */
    g.mono_ms = 1000;
    mc_model_config_t cfg;
    mc_model_config_default(&cfg);
    cfg.audit_burst = 50;
    cfg.write_burst = 50;
    mc_model_hooks_t h;
    memset(&h, 0, sizeof(h));
    h.on_change = on_change;
    h.now = now_hook;
    h.set_clock = set_clock;
    h.monotonic_ms = mono;
    h.event_count = ev_count;
    h.event_read = ev_read;
    h.audit_counter = audit_counter;
    h.ctx = &g;
    assert_int_equal(mc_model_init(&g.md, &cfg, &h, &g.meter, &g.tariff, NULL), MC_OK);
    mc_dlt645_config_t dc;
    mc_dlt645_config_default(&dc);
    assert_int_equal(mc_dlt645_parse_address("123456789012", dc.address), MC_OK);
    mc_dlt645_port_t port = {port_send, port_line, port_addr, &g};
    assert_int_equal(mc_dlt645_init(&g.d, &g.md, &dc, &port), MC_OK);
    *state = &g;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The client: frames from the standard's facts                             */

static const uint8_t ADDR[6] = {0x12, 0x90, 0x78, 0x56, 0x34, 0x12}; /* 123456789012, low byte first */
static const uint8_t WILD[6] = {0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA};
static const uint8_t BCAST[6] = {0x99, 0x99, 0x99, 0x99, 0x99, 0x99};

static size_t make_frame(uint8_t *out, const uint8_t addr[6], uint8_t c, const uint8_t *data, size_t n)
{
    size_t k = 0;
    out[k++] = 0x68;
    for (unsigned i = 0; i < 6; i++) {
        out[k++] = addr[i];
    }
    out[k++] = 0x68;
    out[k++] = c;
    out[k++] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        out[k++] = (uint8_t)(data[i] + 0x33);
    }
    unsigned cs = 0;
    for (size_t i = 0; i < k; i++) {
        cs += out[i];
    }
    out[k++] = (uint8_t)(cs & 0xFF);
    out[k++] = 0x16;
    return k;
}

typedef struct reply {
    int present;
    uint8_t addr[6];
    uint8_t c;
    uint8_t data[256];
    size_t n;
} reply_t;

/* Parse a reply: FE preamble, frame, checksum, end byte; data - 33H. */
static reply_t parse(const uint8_t *b, size_t len)
{
    reply_t r;
    memset(&r, 0, sizeof(r));
    if (len == 0) {
        return r;
    }
    size_t k = 0;
    while (k < len && b[k] == 0xFE) {
        k++;
    }
    assert_true(k <= 4);
    assert_true(len - k >= 12);
    const uint8_t *f = b + k;
    assert_int_equal(f[0], 0x68);
    assert_int_equal(f[7], 0x68);
    r.n = f[9];
    assert_int_equal(len - k, 12 + r.n);
    assert_true(r.n <= 200);
    unsigned cs = 0;
    for (size_t i = 0; i < 10 + r.n; i++) {
        cs += f[i];
    }
    assert_int_equal(f[10 + r.n], cs & 0xFF);
    assert_int_equal(f[11 + r.n], 0x16);
    memcpy(r.addr, f + 1, 6);
    r.c = f[8];
    for (size_t i = 0; i < r.n; i++) {
        r.data[i] = (uint8_t)(f[10 + i] - 0x33);
    }
    r.present = 1;
    return r;
}

/* Send a request through the framer byte by byte (2400 baud: 4.6 ms a character) and poll. */
static reply_t transact_raw(const uint8_t *frame, size_t n)
{
    static uint32_t t = 1000;
    g.sent_len = 0;
    for (size_t i = 0; i < n; i++) {
        t += 4583;
        mc_dlt645_rx_byte(&g.d, frame[i], t);
        assert_int_equal(mc_dlt645_poll(&g.d, t) >= 0, 1);
    }
    t += 10000;
    (void)mc_dlt645_poll(&g.d, t);
    t += 1000000; /* a second of silence: nothing partial survives */
    (void)mc_dlt645_poll(&g.d, t);
    return parse(g.sent, g.sent_len);
}

static reply_t transact(const uint8_t addr[6], uint8_t c, const uint8_t *data, size_t n)
{
    uint8_t f[300];
    uint8_t pre[304] = {0xFE, 0xFE, 0xFE, 0xFE};
    const size_t len = make_frame(f, addr, c, data, n);
    memcpy(pre + 4, f, len);
    return transact_raw(pre, len + 4);
}

static reply_t read_di(uint32_t di)
{
    const uint8_t d[4] = {(uint8_t)di, (uint8_t)(di >> 8), (uint8_t)(di >> 16), (uint8_t)(di >> 24)};
    return transact(ADDR, 0x11, d, 4);
}

/* BCD, low byte first, n bytes; sign: top bit of the last byte. */
static int64_t bcd(const uint8_t *p, size_t n, int sign)
{
    int64_t v = 0;
    for (size_t k = n; k-- > 0;) {
        uint8_t b = p[k];
        if (sign && k == n - 1) {
            b &= 0x7F;
        }
        assert_true((b >> 4) <= 9 && (b & 15) <= 9);
        v = v * 100 + (b >> 4) * 10 + (b & 15);
    }
    if (sign && (p[n - 1] & 0x80)) {
        v = -v;
    }
    return v;
}

static double model_f(mc_qty q, unsigned arg)
{
    mc_value_t v;
    assert_int_equal(mc_model_read(&g.md, q, arg, &v), MC_OK);
    return v.is_float ? v.f : v.u;
}

static void expect_di(uint32_t di, size_t n, int sign, double scale, double expect)
{
    const reply_t r = read_di(di);
    assert_true(r.present);
    if (r.c != 0x91 || r.n != 4 + n) {
        fprintf(stderr, "DI %08X: C %02X L %zu\n", (unsigned)di, r.c, r.n);
    }
    assert_int_equal(r.c, 0x91);
    assert_int_equal(r.n, 4 + n);
    assert_int_equal(r.data[0] | r.data[1] << 8 | r.data[2] << 16 | (uint32_t)r.data[3] << 24, di);
    const double got = (double)bcd(r.data + 4, n, sign) / scale;
    if (fabs(got - expect) > 1.0 / scale + 1e-9) {
        fprintf(stderr, "DI %08X: got %f expected %f\n", (unsigned)di, got, expect);
    }
    assert_true(fabs(got - expect) <= 1.0 / scale + 1e-9);
}

static void expect_error(reply_t r, uint8_t c, uint8_t err)
{
    assert_true(r.present);
    assert_int_equal(r.c, c);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.data[0], err);
}

/* Password field: level PA, then the password's 6 BCD digits low byte first; operator code. */
static size_t auth(uint8_t *p, unsigned level, unsigned pw)
{
    p[0] = (uint8_t)level;
    p[1] = (uint8_t)((pw % 10) | ((pw / 10 % 10) << 4));
    p[2] = (uint8_t)((pw / 100 % 10) | ((pw / 1000 % 10) << 4));
    p[3] = (uint8_t)((pw / 10000 % 10) | ((pw / 100000 % 10) << 4));
    p[4] = 0x78;
    p[5] = 0x56;
    p[6] = 0x34;
    p[7] = 0x12; /* operator 12345678 */
    return 8;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

static void test_bcd_encoder(void **state)
{
    (void)state;
    uint8_t b[4];
    assert_int_equal(mc_dlt645_bcd(12345678, 4, 0, b), MC_OK);
    assert_memory_equal(b, ((uint8_t[]){0x78, 0x56, 0x34, 0x12}), 4);
    assert_int_equal(mc_dlt645_bcd(-2205, 3, 1, b), MC_OK);
    assert_memory_equal(b, ((uint8_t[]){0x05, 0x22, 0x80}), 3);
    assert_int_equal(mc_dlt645_bcd(100000, 2, 0, b), MC_ERR_RANGE);
    assert_memory_equal(b, ((uint8_t[]){0x99, 0x99}), 2);
    assert_int_equal(mc_dlt645_bcd(-9000, 2, 1, b), MC_ERR_RANGE);
    assert_memory_equal(b, ((uint8_t[]){0x99, 0xF9}), 2);
    uint8_t a[6];
    assert_int_equal(mc_dlt645_parse_address("000000000001", a), MC_OK);
    assert_memory_equal(a, ((uint8_t[]){1, 0, 0, 0, 0, 0}), 6);
    assert_int_equal(mc_dlt645_parse_address("999999999999", a), MC_ERR_INVAL);
    assert_int_equal(mc_dlt645_parse_address("00000000001", a), MC_ERR_INVAL);
    assert_int_equal(mc_dlt645_parse_address("0000000000012", a), MC_ERR_INVAL);
}

/* 13H with AA..AA: the hand-computed frame of the standard's example layout. */
static void test_read_address(void **state)
{
    (void)state;
    /* 68 AA*6 68 13 00 CS 16: CS = 68+68+6*AA+13 = 4DF -> DF */
    const uint8_t req[] = {0x68, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0x68, 0x13, 0x00, 0xDF, 0x16};
    reply_t r = transact_raw(req, sizeof(req));
    assert_true(r.present);
    assert_int_equal(r.c, 0x93);
    assert_int_equal(r.n, 6);
    assert_memory_equal(r.data, ADDR, 6);
    assert_memory_equal(r.addr, ADDR, 6);
}

static void test_read_every_identifier(void **state)
{
    (void)state;
    /* energies: combined active, forward, reverse, combined reactive 1/2 per rate, now */
    for (unsigned rate = 0; rate <= 4; rate++) {
        expect_di(0x00000000u | rate << 8, 4, 1, 100, model_f(MC_QTY_E_ACTIVE, rate));
        expect_di(0x00010000u | rate << 8, 4, 0, 100, model_f(MC_QTY_E_ACTIVE_IMPORT, rate));
        expect_di(0x00020000u | rate << 8, 4, 0, 100, model_f(MC_QTY_E_ACTIVE_EXPORT, rate));
        expect_di(0x00030000u | rate << 8, 4, 1, 100, model_f(MC_QTY_E_REACTIVE_IMPORT, rate));
        expect_di(0x00040000u | rate << 8, 4, 1, 100, model_f(MC_QTY_E_REACTIVE_EXPORT, rate));
    }
    for (unsigned q = 0; q < 4; q++) {
        expect_di(0x00050000u + (q << 16), 4, 0, 100, model_f(MC_QTY_E_QUADRANT, q));
    }
    /* combined active at the settlements: the reading now less the months since */
    for (unsigned m = 1; m <= 12; m++) {
        for (unsigned rate = 0; rate <= 4; rate++) {
            double e = model_f(MC_QTY_E_ACTIVE, rate);
            for (unsigned k = 0; k < m; k++) {
                e -= model_f(MC_QTY_MONTH_ACTIVE, rate * 16 + k);
            }
            expect_di(0x00000000u | rate << 8 | m, 4, 1, 100, e);
        }
    }
    /* independent check of one: at the end of February the total was Jan + Feb, combined */
    expect_di(0x00000001u, 4, 1, 100, (1017 + 5 + 2017 + 4029 + 11) / 1000.0);
    /* variables */
    expect_di(0x02010100u, 2, 0, 10, model_f(MC_QTY_EL_VOLTAGE, 0));
    expect_di(0x02010200u, 2, 0, 10, 0.0);
    expect_di(0x02020100u, 3, 1, 1000, model_f(MC_QTY_EL_CURRENT, 0));
    expect_di(0x02030000u, 3, 1, 10000, model_f(MC_QTY_P, 0) / 1000);
    expect_di(0x02030100u, 3, 1, 10000, model_f(MC_QTY_EL_P, 0) / 1000);
    expect_di(0x02040000u, 3, 1, 10000, model_f(MC_QTY_Q, 0) / 1000);
    expect_di(0x02050000u, 3, 1, 10000, model_f(MC_QTY_S, 0) / 1000);
    expect_di(0x02060000u, 2, 1, 1000, model_f(MC_QTY_PF, 0));
    expect_di(0x02060100u, 2, 1, 1000, model_f(MC_QTY_EL_PF, 0));
    expect_di(0x02800001u, 3, 1, 1000, model_f(MC_QTY_I_NEUTRAL, 0));
    expect_di(0x02800002u, 2, 0, 100, model_f(MC_QTY_FREQ, 0));
    expect_di(0x02800004u, 3, 1, 10000, model_f(MC_QTY_DEMAND_P, 0) / 1000);
    expect_di(0x02800006u, 3, 1, 10000, model_f(MC_QTY_DEMAND_S, 0) / 1000);
    assert_true(fabs(model_f(MC_QTY_EL_VOLTAGE, 0) - 230.0) < 0.5);
    assert_true(fabs(model_f(MC_QTY_PF, 0) - 0.5) < 0.01);
    /* maximum demand with its time */
    reply_t r = read_di(0x01010000u);
    assert_int_equal(r.c, 0x91);
    assert_int_equal(r.n, 12);
    assert_true(fabs((double)bcd(r.data + 4, 3, 0) / 10000.0 - g.tariff.max_demand_p / 1000.0) < 1e-4);
    assert_true(g.tariff.max_demand_p > 1900.0f);
    mc_datetime_t dt;
    assert_int_equal(mc_time_to_datetime(g.tariff.max_demand_p_at, &dt), MC_OK);
    const uint8_t when[5] = {(uint8_t)(dt.minute / 10 << 4 | dt.minute % 10), (uint8_t)(dt.hour / 10 << 4 | dt.hour % 10),
                             (uint8_t)(dt.day / 10 << 4 | dt.day % 10), (uint8_t)(dt.month / 10 << 4 | dt.month % 10),
                             0x24};
    assert_memory_equal(r.data + 7, when, 5);
    /* date and time: 2024-03-06 (Wednesday, WW 03) 10:20:30 */
    r = read_di(0x04000101u);
    assert_int_equal(r.c, 0x91);
    assert_memory_equal(r.data + 4, ((uint8_t[]){0x03, 0x06, 0x03, 0x24}), 4);
    r = read_di(0x04000102u);
    assert_memory_equal(r.data + 4, ((uint8_t[]){0x30, 0x20, 0x10}), 3);
    r = read_di(0x04000401u);
    assert_memory_equal(r.data + 4, ADDR, 6);
    r = read_di(0x04000703u);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.data[4], 0x08); /* 2400 */
    r = read_di(0x04000B01u);
    assert_int_equal(r.n, 6);
    assert_int_equal(r.data[5], 0x01); /* settlement day 1 */
    /* event counts */
    r = read_di(0x03300100u);
    assert_int_equal(r.c, 0x91);
    assert_int_equal(bcd(r.data + 4, 3, 0), 0);
}

static void test_blocks_and_follow_up(void **state)
{
    (void)state;
    reply_t r = read_di(0x0201FF00u); /* voltages A, B, C */
    assert_int_equal(r.c, 0x91);
    assert_int_equal(r.n, 4 + 6);
    r = read_di(0x0203FF00u); /* P total, A, B, C */
    assert_int_equal(r.n, 4 + 12);
    r = read_di(0x0001FF00u); /* forward active, total and 4 rates */
    assert_int_equal(r.n, 4 + 20);
    for (unsigned k = 0; k < 5; k++) {
        const double e = model_f(MC_QTY_E_ACTIVE_IMPORT, k);
        assert_true(fabs((double)bcd(r.data + 4 + 4 * k, 4, 0) / 100 - e) <= 0.01);
    }
    r = read_di(0x010100FFu); /* max demand now and 12 months: 13 x 8 = 104 */
    assert_int_equal(r.c, 0x91);
    assert_int_equal(r.n, 4 + 104);
    /* combined active, all rates of all 13 months: 65 x 4 = 260 bytes, in two frames */
    r = read_di(0x0000FFFFu);
    assert_int_equal(r.c, 0xB1); /* follow-up bit */
    assert_true(r.n <= 200);
    size_t got = r.n - 4;
    int64_t first = bcd(r.data + 4, 4, 1);
    assert_true(llabs(first - llround(model_f(MC_QTY_E_ACTIVE, 0) * 100)) <= 1);
    uint8_t seq = 1;
    for (;;) {
        const uint8_t d[5] = {0xFF, 0xFF, 0x00, 0x00, seq};
        r = transact(ADDR, 0x12, d, 5);
        assert_true(r.c == 0x92 || r.c == 0xB2);
        assert_int_equal(r.data[r.n - 1], seq);
        got += r.n - 5;
        if (r.c == 0x92) {
            break;
        }
        seq++;
    }
    assert_int_equal(got, 260);
    /* a follow-up nobody asked for: no requested data */
    const uint8_t d[5] = {0xFF, 0xFF, 0x00, 0x00, 5};
    expect_error(transact(ADDR, 0x12, d, 5), 0xD2, 0x02);
}

static void test_errors_and_silence(void **state)
{
    (void)state;
    /* unknown identifier: D1H, ERR 02 */
    expect_error(read_di(0x0500FFFFu), 0xD1, 0x02);
    expect_error(read_di(0x00010001u), 0xD1, 0x02); /* forward energy of a settlement month: not kept */
    expect_error(read_di(0x00000005u | 5u << 8), 0xD1, 0x02); /* rate 5 */
    /* unknown control code: D? with ERR 01 */
    expect_error(transact(ADDR, 0x1F, NULL, 0), 0xDF, 0x01);
    /* bad checksum, bad end byte, L over 200, truncated, garbage, another address: no reply */
    uint8_t f[300];
    const uint8_t di[4] = {0x00, 0x01, 0x01, 0x02};
    size_t n = make_frame(f, ADDR, 0x11, di, 4);
    const uint32_t frames = g.d.stats.frames;
    f[n - 2] ^= 1;
    assert_false(transact_raw(f, n).present);
    f[n - 2] ^= 1;
    f[n - 1] = 0x17;
    assert_false(transact_raw(f, n).present);
    f[n - 1] = 0x16;
    assert_false(transact_raw(f, n - 3).present); /* truncated, then a second of silence */
    uint8_t big[16] = {0x68, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x68, 0x11, 0xC9};
    assert_false(transact_raw(big, 10).present);
    assert_false(transact(((uint8_t[]){0x13, 0x90, 0x78, 0x56, 0x34, 0x12}), 0x11, di, 4).present);
    assert_false(transact(BCAST, 0x11, di, 4).present);
    /* a reply of another slave (D7 set) */
    assert_false(transact(ADDR, 0x91, di, 4).present);
    assert_int_equal(g.d.stats.frames, frames);
    /* garbage, then a good frame in the same stream: answered */
    uint8_t s[64] = {0x00, 0x68, 0x33, 0x16, 0x55, 0xFE, 0xFE};
    n = make_frame(s + 7, ADDR, 0x11, di, 4);
    reply_t r = transact_raw(s, n + 7);
    assert_true(r.present);
    assert_int_equal(r.c, 0x91);
    /* abbreviated address (high bytes AAH) is ours */
    r = transact(((uint8_t[]){0x12, 0x90, 0x78, 0xAA, 0xAA, 0xAA}), 0x11, di, 4);
    assert_int_equal(r.c, 0x91);
    /* a write with the wildcard address is not for us */
    uint8_t w[20];
    size_t k = 0;
    memcpy(w, ((uint8_t[]){0x02, 0x01, 0x00, 0x04}), 4);
    k = 4 + auth(w + 4, 2, 6666);
    memcpy(w + k, ((uint8_t[]){0x00, 0x00, 0x11}), 3);
    assert_false(transact(WILD, 0x14, w, k + 3).present);
}

static void test_write_needs_password(void **state)
{
    (void)state;
    uint8_t w[20];
    memcpy(w, ((uint8_t[]){0x02, 0x01, 0x00, 0x04}), 4); /* 04000102 time */
    size_t k = 4 + auth(w + 4, 2, 1234);
    memcpy(w + k, ((uint8_t[]){0x05, 0x04, 0x11}), 3);   /* 11:04:05 */
    const mc_time_t before = g.now;
    expect_error(transact(ADDR, 0x14, w, k + 3), 0xD4, 0x04);
    assert_int_equal(g.now, before);
    assert_int_equal(g.d.guard.wrong, 1);
    /* level 05: weaker than the library has: refused, not counted */
    auth(w + 4, 5, 6666);
    expect_error(transact(ADDR, 0x14, w, k + 3), 0xD4, 0x04);
    assert_int_equal(g.now, before);
    /* the right password: written, logged as a clock set */
    auth(w + 4, 2, 6666);
    reply_t r = transact(ADDR, 0x14, w, k + 3);
    assert_int_equal(r.c, 0x94);
    assert_int_equal(r.n, 0);
    assert_int_equal(g.now, T(2024, 3, 6, 11, 4, 5));
    assert_int_equal(g.log[0].type, MC_EV_CLOCK_SET);
    /* the time set record: operator, before, after */
    r = read_di(0x03300401u);
    assert_int_equal(r.n, 4 + 16);
    assert_memory_equal(r.data + 4, ((uint8_t[]){0x78, 0x56, 0x34, 0x12}), 4);
    assert_memory_equal(r.data + 8, ((uint8_t[]){0x30, 0x20, 0x10, 0x06, 0x03, 0x24}), 6);
    assert_memory_equal(r.data + 14, ((uint8_t[]){0x05, 0x04, 0x11, 0x06, 0x03, 0x24}), 6);
    r = read_di(0x03300400u);
    assert_int_equal(bcd(r.data + 4, 3, 0), 1);
    r = read_di(0x03300000u); /* programming: none yet (a clock set is a time set) */
    assert_int_equal(bcd(r.data + 4, 3, 0), 0);
    /* an invalid time (25 h): ERR 01, nothing changes */
    memcpy(w + k, ((uint8_t[]){0x05, 0x04, 0x25}), 3);
    expect_error(transact(ADDR, 0x14, w, k + 3), 0xD4, 0x01);
    assert_int_equal(g.now, T(2024, 3, 6, 11, 4, 5));
    /* date write */
    memcpy(w, ((uint8_t[]){0x01, 0x01, 0x00, 0x04}), 4);
    memcpy(w + k, ((uint8_t[]){0x04, 0x07, 0x03, 0x24}), 4);
    assert_int_equal(transact(ADDR, 0x14, w, k + 4).c, 0x94);
    assert_int_equal(g.now, T(2024, 3, 7, 11, 4, 5));
    /* settlement day 04000B01 = DDhh 1505 */
    memcpy(w, ((uint8_t[]){0x01, 0x0B, 0x00, 0x04}), 4);
    memcpy(w + k, ((uint8_t[]){0x05, 0x15}), 2);
    assert_int_equal(transact(ADDR, 0x14, w, k + 2).c, 0x94);
    assert_int_equal(g.tariff.cfg.settle_day, 15);
    assert_int_equal(g.tariff.cfg.settle_hour, 5);
    /* programming: two parameter events (day, hour); the last record: time, operator, 04000B01 */
    r = read_di(0x03300000u);
    assert_int_equal(bcd(r.data + 4, 3, 0), 2);
    r = read_di(0x03300001u);
    assert_int_equal(r.n, 4 + 50);
    assert_memory_equal(r.data + 4, ((uint8_t[]){0x05, 0x04, 0x11, 0x07, 0x03, 0x24}), 6);
    assert_memory_equal(r.data + 10, ((uint8_t[]){0x78, 0x56, 0x34, 0x12}), 4);
    assert_memory_equal(r.data + 14, ((uint8_t[]){0x01, 0x0B, 0x00, 0x04}), 4);
    assert_int_equal(r.data[18], 0xFF);
    /* a read-only identifier: no such writable data */
    memcpy(w, ((uint8_t[]){0x00, 0x01, 0x01, 0x02}), 4);
    expect_error(transact(ADDR, 0x14, w, k + 2), 0xD4, 0x02);
}

static void test_lockout(void **state)
{
    (void)state;
    uint8_t w[20];
    memcpy(w, ((uint8_t[]){0x02, 0x01, 0x00, 0x04}), 4);
    size_t k = 4 + auth(w + 4, 2, 1111);
    memcpy(w + k, ((uint8_t[]){0x05, 0x04, 0x11}), 3);
    for (unsigned i = 0; i < MC_AUTH_FREE_TRIES; i++) {
        expect_error(transact(ADDR, 0x14, w, k + 3), 0xD4, 0x04);
    }
    assert_true(mc_auth_lockout_left(&g.md, &g.d.guard) > 0);
    auth(w + 4, 2, 6666); /* even the right one is refused during the lockout */
    expect_error(transact(ADDR, 0x14, w, k + 3), 0xD4, 0x04);
    g.mono_ms += 61000;
    assert_int_equal(transact(ADDR, 0x14, w, k + 3).c, 0x94);
}

static void test_address_baud_freeze_need_session(void **state)
{
    (void)state;
    const uint8_t na[6] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
    expect_error(transact(WILD, 0x15, na, 6), 0xD5, 0x04);
    expect_error(transact(ADDR, 0x17, ((uint8_t[]){0x10}), 1), 0xD7, 0x04);
    expect_error(transact(ADDR, 0x16, ((uint8_t[]){0x00, 0x05, 0x15, 0x99}), 4), 0xD6, 0x04);
    assert_int_equal(g.tariff.cfg.settle_day, 1);
    /* open the session with a 14H that carries the password */
    uint8_t w[20];
    memcpy(w, ((uint8_t[]){0x01, 0x0B, 0x00, 0x04}), 4);
    size_t k = 4 + auth(w + 4, 2, 6666);
    memcpy(w + k, ((uint8_t[]){0x00, 0x01}), 2);
    assert_int_equal(transact(ADDR, 0x14, w, k + 2).c, 0x94);
    /* freeze: monthly at day 15 05:00 sets the settlement; an instant freeze has no store */
    assert_int_equal(transact(ADDR, 0x16, ((uint8_t[]){0x00, 0x05, 0x15, 0x99}), 4).c, 0x96);
    assert_int_equal(g.tariff.cfg.settle_day, 15);
    assert_int_equal(g.tariff.cfg.settle_hour, 5);
    expect_error(transact(ADDR, 0x16, ((uint8_t[]){0x99, 0x99, 0x99, 0x99}), 4), 0xD6, 0x01);
    /* baud: 19200 is not offered (ERR 08); 4800 answered at the old rate, then changed */
    expect_error(transact(ADDR, 0x17, ((uint8_t[]){0x40}), 1), 0xD7, 0x08);
    assert_int_equal(g.lines, 0);
    reply_t r = transact(ADDR, 0x17, ((uint8_t[]){0x10}), 1);
    assert_int_equal(r.c, 0x97);
    assert_int_equal(r.data[0], 0x10);
    assert_int_equal(g.lines, 1);
    assert_int_equal(g.line_baud, 4800);
    r = read_di(0x04000703u);
    assert_int_equal(r.data[4], 0x10);
    /* address */
    r = transact(WILD, 0x15, na, 6);
    assert_int_equal(r.c, 0x95);
    assert_memory_equal(g.new_addr, na, 6);
    assert_memory_equal(r.addr, na, 6);
    r = transact(WILD, 0x13, NULL, 0);
    assert_memory_equal(r.data, na, 6);
    assert_false(read_di(0x04000401u).present); /* the old address is no longer ours */
    /* the session times out after the model's unlock time */
    g.mono_ms += 301000;
    expect_error(transact(na, 0x17, ((uint8_t[]){0x08}), 1), 0xD7, 0x04);
}

static void test_password_change(void **state)
{
    (void)state;
    uint8_t p[12] = {0x03, 0x0C, 0x00, 0x04}; /* 04000C03: level 2 password */
    auth(p + 4, 2, 6666);
    p[8] = 0x02; /* new: level 2, 004321 */
    p[9] = 0x21;
    p[10] = 0x43;
    p[11] = 0x00;
    reply_t r = transact(ADDR, 0x18, p, 12);
    assert_int_equal(r.c, 0x98);
    assert_int_equal(r.n, 4);
    assert_memory_equal(r.data, p + 8, 4);
    assert_int_equal(g.md.params.password, 4321);
    /* the old one no longer works */
    expect_error(transact(ADDR, 0x18, p, 12), 0xD8, 0x04);
    /* a new password the meter cannot hold (6 digits) */
    auth(p + 4, 2, 4321); /* (auth() writes an operator code over p[8..11]: the new password again) */
    p[8] = 0x02;
    p[9] = 0x21;
    p[10] = 0x43;
    p[11] = 0x12;
    expect_error(transact(ADDR, 0x18, p, 12), 0xD8, 0x01);
    assert_int_equal(g.md.params.password, 4321);
}

static void test_clears_are_logged(void **state)
{
    (void)state;
    uint8_t c[12];
    auth(c, 2, 1);
    expect_error(transact(ADDR, 0x1A, c, 8), 0xDA, 0x04);
    assert_true(model_f(MC_QTY_E_ACTIVE, 0) > 1.0);
    auth(c, 2, 6666);
    /* demand clear */
    assert_true(g.tariff.max_demand_p > 0.0f);
    assert_int_equal(transact(ADDR, 0x19, c, 8).c, 0x99);
    assert_true(g.tariff.max_demand_p == 0.0f);
    assert_int_equal(g.log[0].qty, MC_QTY_MAX_DEMAND_P);
    reply_t r = read_di(0x03300200u);
    assert_int_equal(bcd(r.data + 4, 3, 0), 1);
    /* meter clear */
    assert_int_equal(transact(ADDR, 0x1A, c, 8).c, 0x9A);
    assert_true(model_f(MC_QTY_E_ACTIVE, 0) == 0.0);
    assert_int_equal(g.log[0].type, MC_EV_ENERGY_CLEAR);
    r = read_di(0x03300100u);
    assert_int_equal(bcd(r.data + 4, 3, 0), 1);
    r = read_di(0x03300101u);
    assert_int_equal(r.n, 4 + 106);
    assert_memory_equal(r.data + 4, ((uint8_t[]){0x30, 0x20, 0x10, 0x06, 0x03, 0x24}), 6);
    assert_memory_equal(r.data + 10, ((uint8_t[]){0x78, 0x56, 0x34, 0x12}), 4);
    /* event clear: logged, the log (audit trail) keeps every event */
    const unsigned before = g.nlog;
    memcpy(c + 8, ((uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF}), 4);
    assert_int_equal(transact(ADDR, 0x1B, c, 12).c, 0x9B);
    assert_int_equal(g.nlog, before + 1);
    r = read_di(0x03300301u);
    assert_int_equal(r.n, 4 + 14);
    assert_memory_equal(r.data + 14, ((uint8_t[]){0xFF, 0xFF, 0xFF, 0xFF}), 4);
    r = read_di(0x03300300u);
    assert_int_equal(bcd(r.data + 4, 3, 0), 1);
}

static void test_broadcast_time(void **state)
{
    (void)state;
    /* 99..99, 08H, ss mm hh DD MM YY, no reply */
    reply_t r = transact(BCAST, 0x08, ((uint8_t[]){0x00, 0x22, 0x10, 0x06, 0x03, 0x24}), 6); /* +90 s */
    assert_false(r.present);
    assert_int_equal(g.now, T(2024, 3, 6, 10, 22, 0));
    assert_int_equal(g.log[0].type, MC_EV_CLOCK_SET);
    /* a second one the same day: ignored */
    transact(BCAST, 0x08, ((uint8_t[]){0x30, 0x22, 0x10, 0x06, 0x03, 0x24}), 6);
    assert_int_equal(g.now, T(2024, 3, 6, 10, 22, 0));
    /* a day later, too large a jump (1 h): ignored */
    g.mono_ms += 86400u * 1000u;
    transact(BCAST, 0x08, ((uint8_t[]){0x00, 0x22, 0x11, 0x06, 0x03, 0x24}), 6);
    assert_int_equal(g.now, T(2024, 3, 6, 10, 22, 0));
    /* to our own address: not a broadcast, no effect */
    transact(ADDR, 0x08, ((uint8_t[]){0x10, 0x22, 0x10, 0x06, 0x03, 0x24}), 6);
    assert_int_equal(g.now, T(2024, 3, 6, 10, 22, 0));
    /* a model without a monotonic clock cannot keep "once a day": ignored */
    g.mono_ms += 86400u * 1000u;
    g.md.hooks.monotonic_ms = NULL;
    transact(BCAST, 0x08, ((uint8_t[]){0x10, 0x22, 0x10, 0x06, 0x03, 0x24}), 6);
    assert_int_equal(g.now, T(2024, 3, 6, 10, 22, 0));
    g.md.hooks.monotonic_ms = mono;
    /* a small one the next day: applied */
    transact(BCAST, 0x08, ((uint8_t[]){0x10, 0x22, 0x10, 0x06, 0x03, 0x24}), 6);
    assert_int_equal(g.now, T(2024, 3, 6, 10, 22, 10));
    assert_int_equal(g.clock_sets, 2);
}

static void test_inter_byte_timeout(void **state)
{
    (void)state;
    uint8_t f[32];
    const uint8_t di[4] = {0x00, 0x01, 0x01, 0x02};
    const size_t n = make_frame(f, ADDR, 0x11, di, 4);
    uint32_t t = 5000;
    g.sent_len = 0;
    for (size_t i = 0; i < n; i++) {
        t += (i == 6) ? 600000u : 4583u; /* a 600 ms pause inside the frame */
        mc_dlt645_rx_byte(&g.d, f[i], t);
        (void)mc_dlt645_poll(&g.d, t);
    }
    assert_int_equal(g.sent_len, 0);
    assert_true(g.d.stats.timeouts >= 1);
    /* the same with 400 ms: answered */
    for (size_t i = 0; i < n; i++) {
        t += (i == 6) ? 400000u : 4583u;
        mc_dlt645_rx_byte(&g.d, f[i], t);
        (void)mc_dlt645_poll(&g.d, t);
    }
    assert_true(g.sent_len > 0);
    /* a configured timeout beyond the 32-bit µs clock is taken as the longest one */
    mc_dlt645_config_t c;
    mc_dlt645_config_default(&c);
    c.byte_timeout_ms = 5000000u;
    mc_dlt645_t d2;
    assert_int_equal(mc_dlt645_init(&d2, &g.md, &c, NULL), MC_OK);
    assert_int_equal(d2.cfg.byte_timeout_ms, MC_DLT645_BYTE_TIMEOUT_MS_MAX);
    c.baud = 19200;
    assert_int_equal(mc_dlt645_init(&d2, &g.md, &c, NULL), MC_ERR_INVAL);
    /* handle_frame directly, NULLs and a frame of the wrong length */
    uint8_t out[MC_DLT645_REPLY_MAX];
    assert_int_equal(mc_dlt645_handle_frame(NULL, f, n, out), MC_ERR_INVAL);
    assert_int_equal(mc_dlt645_handle_frame(&g.d, f, n - 1, out), 0);
    assert_true(mc_dlt645_handle_frame(&g.d, f, n, out) > 0);
}

/* Found by fuzz_dlt645: a broken frame whose data holds what looks like the start of a shorter
 * frame. After the slave drops the broken one and searches on from the next 68H, the bytes it
 * keeps are already more than that shorter frame's length: they must be judged at once, not
 * grown past the buffer. Then a good frame is answered. */
static void test_resync_inside_a_broken_frame(void **state)
{
    (void)state;
    uint8_t s[400];
    size_t n = 0;
    s[n++] = 0x68;
    memcpy(s + n, ADDR, 6);
    n += 6;
    s[n++] = 0x68;
    s[n++] = 0x11;
    s[n++] = 200; /* L = 200 */
    /* data: "68 x*6 68 11 00", a 12-byte frame's head, then filler; checksum wrong */
    size_t start = n;
    s[n++] = 0x68;
    for (int k = 0; k < 6; k++) {
        s[n++] = 0x01;
    }
    s[n++] = 0x68;
    s[n++] = 0x11;
    s[n++] = 0x00;
    while (n < start + 200) {
        s[n++] = 0x55;
    }
    s[n++] = 0x00; /* a wrong checksum */
    s[n++] = 0x16;
    for (int k = 0; k < 30; k++) {
        s[n++] = 0x55; /* more bytes: past the buffer if the slave waited for them */
    }
    const uint8_t di[4] = {0x00, 0x01, 0x01, 0x02};
    n += make_frame(s + n, ADDR, 0x11, di, 4);
    reply_t r = transact_raw(s, n);
    assert_true(r.present);
    assert_int_equal(r.c, 0x91);
    assert_true(g.d.len <= MC_DLT645_FRAME_MAX);
}

/* An exporting load (150 degrees: P < 0, Q > 0): the signed formats carry the sign bit. */
static int setup_export(void **state)
{
    g_phi = 150.0;
    const int r = setup(state);
    g_phi = 60.0;
    return r;
}

static void test_signed_values(void **state)
{
    (void)state;
    assert_true(model_f(MC_QTY_P, 0) < -900.0);
    reply_t r = read_di(0x02030000u);
    assert_int_equal(r.c, 0x91);
    assert_true(r.data[6] & 0x80); /* the sign bit of the highest byte */
    expect_di(0x02030000u, 3, 1, 10000, model_f(MC_QTY_P, 0) / 1000);
    expect_di(0x02030100u, 3, 1, 10000, model_f(MC_QTY_EL_P, 0) / 1000);
    expect_di(0x02060000u, 2, 1, 1000, model_f(MC_QTY_PF, 0));
    assert_true(model_f(MC_QTY_PF, 0) < -0.8);
    /* the current is signed as the active power: negative here */
    expect_di(0x02020100u, 3, 1, 1000, -model_f(MC_QTY_EL_CURRENT, 0));
    r = read_di(0x02020100u);
    assert_true(r.data[6] & 0x80);
    /* a negative combined energy (import - export) */
    g.tariff.cfg.active_combination = MC_COMBINE_IMPORT_MINUS_EXPORT;
    book(T(2024, 3, 6, 11, 0, 0), 0, 20000, 0, 0);
    assert_true(model_f(MC_QTY_E_ACTIVE, 0) < -10.0);
    expect_di(0x00000000u, 4, 1, 100, model_f(MC_QTY_E_ACTIVE, 0));
    r = read_di(0x00000000u);
    assert_true(r.data[7] & 0x80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bcd_encoder),
        cmocka_unit_test_setup(test_read_address, setup),
        cmocka_unit_test_setup(test_read_every_identifier, setup),
        cmocka_unit_test_setup(test_blocks_and_follow_up, setup),
        cmocka_unit_test_setup(test_errors_and_silence, setup),
        cmocka_unit_test_setup(test_write_needs_password, setup),
        cmocka_unit_test_setup(test_lockout, setup),
        cmocka_unit_test_setup(test_address_baud_freeze_need_session, setup),
        cmocka_unit_test_setup(test_password_change, setup),
        cmocka_unit_test_setup(test_clears_are_logged, setup),
        cmocka_unit_test_setup(test_broadcast_time, setup),
        cmocka_unit_test_setup(test_inter_byte_timeout, setup),
        cmocka_unit_test_setup(test_resync_inside_a_broken_frame, setup),
        cmocka_unit_test_setup(test_signed_values, setup_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
