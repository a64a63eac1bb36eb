/*
 * metercore panel suite: the front panel state machine (mc_panel.h) driven
 * with timed key edges, as a port would, over a data model whose values the
 * test knows:
 *   - a meter fed a synthetic 230 V / 5 A / PF 0.5 inductive / 50 Hz signal,
 *   - energy the test booked into the tariff itself (whole Wh per rate and month),
 *   - a meter whose last reading the test set (exact P, Q, S, PF, F),
 *   - parameters the test wrote.
 * Every screen is checked as text; every setting is checked against the
 * model's parameters and the on_change reports (source MC_SRC_PANEL), which
 * must contain exactly the expected changes and nothing else. Time starts
 * just before the 32-bit millisecond counter wraps.
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
#include "metercore/mc_panel.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_tariff.h"
#include "waveform.h"

#define SQRT2 1.41421356237309504880
#define UN 230.0
#define IN 5.0
#define PHI 60.0
#define F0 50.0
#define U_FS (UN * SQRT2 * 1.6)
#define I_FS (60.0 * SQRT2 * 1.5)
#define QPWH ((double)MC_ENERGY_QUANTA_PER_WH)
#define MAX_CHANGES 64
#define MAX_EVENTS 16
#define K1 MC_PANEL_K1
#define K2 MC_PANEL_K2

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
    mc_panel_t panel;
    mc_time_t now;
    uint32_t ms;
    int di;
    change_t ch[MAX_CHANGES];
    size_t nch;
    mc_panel_screen_t shown;
    unsigned shows;
    mc_panel_event ev[MAX_EVENTS];
    size_t nev;
    uint32_t ev_ms[MAX_EVENTS];
    unsigned wifi_calls;
    int wifi_ret;
    unsigned commits; /* commit hook calls */
    int commit_ret;   /* what the commit hook returns */
} fx_t;

static fx_t g;

/* ---- hooks --------------------------------------------------------------- */

static void hook_on_change(void *ctx, mc_qty qty, unsigned arg, uint32_t o, uint32_t n, mc_source src)
{
    fx_t *f = ctx;
    assert_true(f->nch < MAX_CHANGES);
    f->ch[f->nch++] = (change_t){qty, arg, o, n, src};
}

static mc_time_t hook_now(void *ctx)
{
    return ((fx_t *)ctx)->now;
}

static int hook_relay(void *ctx, int close)
{
    (void)ctx;
    (void)close;
    return MC_OK;
}

static int hook_di(void *ctx)
{
    return ((fx_t *)ctx)->di;
}

static uint32_t hook_checksum(void *ctx)
{
    (void)ctx;
    return 0x12AB34CDu;
}

/* The storage's commit: the panel's change is saved before the panel shows it saved. */
static int hook_commit(void *ctx)
{
    fx_t *f = ctx;
    f->commits++;
    return f->commit_ret;
}

static void port_show(void *ctx, const mc_panel_screen_t *s)
{
    fx_t *f = ctx;
    f->shown = *s;
    f->shows++;
}

static void port_event(void *ctx, mc_panel_event type)
{
    fx_t *f = ctx;
    assert_true(f->nev < MAX_EVENTS);
    f->ev_ms[f->nev] = f->ms;
    f->ev[f->nev++] = type;
}

static int port_wifi(void *ctx)
{
    fx_t *f = ctx;
    f->wifi_calls++;
    return f->wifi_ret;
}

/* ---- fixture ------------------------------------------------------------- */

static mc_time_t T(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    mc_datetime_t dt = {(uint16_t)y, (uint8_t)mo, (uint8_t)d, (uint8_t)h, (uint8_t)mi, (uint8_t)s, 0};
    mc_time_t t;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_OK);
    return t;
}

static void meter_start(void)
{
    wf_params_t p;
    wf_params_sine(&p, 4000.0, F0, UN, IN, PHI, U_FS, I_FS, 24);
    p.theta0_deg = 37.0;
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
    assert_int_equal(mc_meter_init(&g.meter, &cfg), MC_OK);
    wf_gen_t gen;
    wf_init(&gen, &p);
    int32_t v[400], i[400];
    for (int k = 0; k < 30; k++) {
        wf_fill(&gen, v, i, 400);
        assert_true(mc_meter_process(&g.meter, v, i, 400) >= 0);
    }
    assert_int_equal(gen.clipped, 0);
}

/* Book whole Wh: active import, active export, reactive Q1 (import), reactive Q4 (export). */
static void book(mc_time_t t, double ai, double ae, double rq1, double rq4, unsigned expect_rate)
{
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta.q[MC_E_ACTIVE_IMPORT] = (uint64_t)llround(ai * QPWH);
    r.delta.q[MC_E_ACTIVE_EXPORT] = (uint64_t)llround(ae * QPWH);
    r.delta.q[MC_E_REACTIVE_Q1] = (uint64_t)llround(rq1 * QPWH);
    r.delta.q[MC_E_REACTIVE_Q4] = (uint64_t)llround(rq4 * QPWH);
    assert_true(mc_tariff_add(&g.tariff, t, &r) >= 0);
    assert_int_equal(g.tariff.rate, expect_rate);
}

/*
 * Tariff from 2024-01-15: January rate 1 (07:00) 1017 Wh import, 303 varh Q1;
 * February rate 2 (11:00) 2029 Wh import, 11 Wh export; March rate 3 (16:00)
 * 703 Wh import, 7 varh Q4. Then 16 one-minute demand steps of 575 W / 1150 VA
 * on 2024-03-06 from 00:00:30 (rate 4), now = 2024-03-06 00:16:30.
 */
static void tariff_start(void)
{
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    assert_int_equal(mc_tariff_init(&g.tariff, &tc, T(2024, 1, 15, 0, 0, 0)), MC_OK);
    book(T(2024, 1, 16, 7, 0, 0), 1017, 0, 303, 0, 1);
    book(T(2024, 2, 10, 11, 0, 0), 2029, 11, 0, 0, 2);
    book(T(2024, 3, 5, 16, 0, 0), 703, 0, 0, 7, 3);
    mc_reading_t d;
    memset(&d, 0, sizeof(d));
    d.p = 575.0f;
    d.s = 1150.0f;
    d.duration_s = 60.0f;
    for (unsigned k = 0; k < 16u; k++) {
        assert_true(mc_tariff_add(&g.tariff, T(2024, 3, 6, 0, k, 30), &d) >= 0);
    }
    g.now = T(2024, 3, 6, 0, 16, 30);
}

static const mc_panel_port_t port_full = {port_show, port_event, port_wifi, &g};
static const mc_panel_port_t port_no_wifi = {port_show, port_event, NULL, &g};

static void fx_start(uint8_t features, const mc_panel_port_t *port)
{
    memset(&g, 0, sizeof(g));
    meter_start();
    tariff_start();
    mc_model_config_t cfg = {features, 0, 60, 0, 0, 0, 0};
    mc_model_hooks_t h = {hook_on_change, hook_relay, hook_di, hook_now, NULL, hook_checksum, &g, NULL, NULL,
                          NULL,           NULL,       hook_commit, NULL, NULL};
    mc_params_t prm;
    mc_params_default(&prm);
    memcpy(prm.serial, "KPM31BK-00012345", 16);
    assert_int_equal(mc_model_init(&g.md, &cfg, &h, &g.meter, &g.tariff, &prm), MC_OK);
    g.ms = 0xFFFFF000u; /* the millisecond counter wraps 4 s into every test */
    assert_int_equal(mc_panel_init(&g.panel, &g.md, port, g.ms), MC_OK);
}

static int setup(void **state)
{
    (void)state;
    fx_start(MC_FEAT_RELAY | MC_FEAT_DI, &port_full);
    return 0;
}

/* ---- driving ------------------------------------------------------------- */

static const mc_panel_screen_t *scr(void)
{
    const mc_panel_screen_t *s = mc_panel_screen(&g.panel);
    assert_non_null(s);
    /* what the port was last shown is what the panel says it shows */
    assert_memory_equal(s, &g.shown, sizeof(*s));
    return s;
}

static const char *line(unsigned k)
{
    return scr()->text[k];
}

static void key(unsigned mask)
{
    assert_int_equal(mc_panel_key(&g.panel, mask, g.ms), MC_OK);
}

/* Let time pass in 100 ms ticks. */
static void advance(uint32_t ms)
{
    while (ms > 0u) {
        const uint32_t d = ms < 100u ? ms : 100u;
        g.ms += d;
        ms -= d;
        assert_int_equal(mc_panel_tick(&g.panel, g.ms), MC_OK);
    }
}

static void press(unsigned k, uint32_t hold_ms)
{
    key(k);
    advance(hold_ms);
    key(0);
    advance(100);
}

static void short_k(unsigned k)
{
    press(k, 100);
}

static void short_n(unsigned k, unsigned n)
{
    while (n-- > 0u) {
        short_k(k);
    }
}

static void long_k(unsigned k)
{
    press(k, MC_PANEL_LONG_MS);
}

static void expect_screen(unsigned mode, const char *l0, const char *l1, const char *l2)
{
    const mc_panel_screen_t *s = scr();
    assert_int_equal(s->mode, mode);
    assert_string_equal(s->text[0], l0);
    assert_string_equal(s->text[1], l1);
    assert_string_equal(s->text[2], l2);
}

static void expect_flash(uint16_t f0, uint16_t f1, uint16_t f2)
{
    const mc_panel_screen_t *s = scr();
    assert_int_equal(s->flash[0], f0);
    assert_int_equal(s->flash[1], f1);
    assert_int_equal(s->flash[2], f2);
}

static void goto_page(unsigned page)
{
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    while (scr()->page != page) {
        short_k(K1);
    }
}

/* On the password screen at digit 0 showing 0000: enter the 4 digits and confirm. */
static void enter_password(unsigned pw)
{
    assert_int_equal(scr()->mode, MC_PANEL_PASSWORD);
    assert_string_equal(line(1), "0000");
    const unsigned d[4] = {pw / 1000u, pw / 100u % 10u, pw / 10u % 10u, pw % 10u};
    for (unsigned k = 0; k < 4u; k++) {
        assert_int_equal(scr()->flash[1], 1u << k);
        short_n(K2, d[k]);
        short_k(K1);
    }
    assert_int_equal(scr()->flash[1], 1u); /* K1 went round to the first digit again */
    long_k(K2);
}

static void open_settings(void)
{
    long_k(K1);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "");
    enter_password(6666);
    expect_screen(MC_PANEL_MENU, "PASS", "----", "");
}

static void goto_item(unsigned item)
{
    assert_int_equal(scr()->mode, MC_PANEL_MENU);
    while (scr()->page != item) {
        short_k(K1);
    }
}

static void expect_changes(size_t n)
{
    assert_int_equal(g.nch, n);
}

static void expect_change(size_t k, mc_qty qty, uint32_t old_v, uint32_t new_v)
{
    assert_true(k < g.nch);
    assert_int_equal(g.ch[k].qty, qty);
    assert_int_equal(g.ch[k].arg, 0);
    assert_int_equal(g.ch[k].old_v, old_v);
    assert_int_equal(g.ch[k].new_v, new_v);
    assert_int_equal(g.ch[k].src, MC_SRC_PANEL);
}

static void expect_params(const mc_params_t *want)
{
    assert_memory_equal(&g.md.params, want, sizeof(*want));
}

static unsigned value_u(void)
{
    return (unsigned)strtoul(line(1), NULL, 10);
}

/* ---- measurement pages --------------------------------------------------- */

static void test_pages_synthetic(void **state)
{
    (void)state;
    /* Initial screen: U/I/F of the synthetic signal, as the manual's Real-1. */
    expect_screen(MC_PANEL_MEASURE, "U: 230.0V", "I: 005.0A", "F: 50 Hz");
    expect_flash(0, 0, 0);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_UIF);
    assert_int_equal(g.shows, 1u);

    short_k(K1);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_PQS);
    expect_screen(MC_PANEL_MEASURE, "P:  +0.575kW", "Q:  +0.996kvar", "S:  +1.150kVA");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "PF: +0.500", "F: 50.00Hz", "");
    short_k(K1);
    /* lifetime: import 1017 + 2029 + 703 Wh, export 11 Wh */
    expect_screen(MC_PANEL_MEASURE, "ACTIVE kWh", "IMP 0000003.75", "EXP 0000000.01");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "REACTIVE kvarh", "IMP 0000000.30", "EXP 0000000.01");
    short_k(K1);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_RATE(1));
    expect_screen(MC_PANEL_MEASURE, "T1 SHARP", "P 000001.02kWh", "Q 000000.30kvarh");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "T2 PEAK", "P 000002.04kWh", "Q 000000.00kvarh");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "T3 FLAT", "P 000000.70kWh", "Q 000000.01kvarh");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "T4 VALLEY", "P 000000.00kWh", "Q 000000.00kvarh");
    short_k(K1);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_MONTH(0));
    expect_screen(MC_PANEL_MEASURE, "MONTH 0", "P 000000.70kWh", "Q 000000.01kvarh");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "MONTH -1", "P 000002.04kWh", "Q 000000.00kvarh");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "MONTH -2", "P 000001.02kWh", "Q 000000.30kvarh");
    for (unsigned m = 3; m <= 12u; m++) {
        short_k(K1);
        assert_int_equal(scr()->page, MC_PANEL_PAGE_MONTH(m));
        char title[17];
        snprintf(title, sizeof(title), "MONTH -%u", m);
        expect_screen(MC_PANEL_MEASURE, title, "P 000000.00kWh", "Q 000000.00kvarh");
    }
    short_k(K1);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_CLOCK);
    expect_screen(MC_PANEL_MEASURE, "2024-03-06", "00:16:30", "RATE 4 VALLEY");
    /* the clock page follows the model's clock on a tick */
    g.now += 9;
    advance(100);
    expect_screen(MC_PANEL_MEASURE, "2024-03-06", "00:16:39", "RATE 4 VALLEY");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "DP:  +0.575kW", "DS:  +1.150kVA", "MD:  +0.575kW");
    short_k(K1);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_IO);
    expect_screen(MC_PANEL_MEASURE, "RELAY OPEN", "DI OPEN", "");
    g.di = 1;
    assert_int_equal(mc_model_set_relay(&g.md, 1, MC_SRC_LOCAL), MC_OK);
    advance(100);
    expect_screen(MC_PANEL_MEASURE, "RELAY CLOSED", "DI CLOSED", "");
    short_k(K1);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_SW);
    expect_screen(MC_PANEL_MEASURE, "SW 0.1.0 MAP 3", "CRC 12AB34CD", "KPM31BK-00012345");
    /* wraps to the first page; K2 goes back */
    short_k(K1);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_UIF);
    short_k(K2);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_SW);
    short_k(K2);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_IO);
    assert_int_equal(MC_PANEL_PAGE_COUNT, 26);
    /* paging changes nothing but the relay the test drove itself */
    expect_changes(1);
    assert_int_equal(g.ch[0].qty, MC_QTY_RELAY);
    assert_int_equal(g.ch[0].src, MC_SRC_LOCAL);
    assert_int_equal(g.nev, 0u);
}

/* A meter whose last reading the test sets: exact formats, signs, rounding, overflow. */
static void set_reading(float u, float i, float p, float q, float s, float pf, float f)
{
    g.meter.last.urms = u;
    g.meter.last.irms = i;
    g.meter.last.p = p;
    g.meter.last.q = q;
    g.meter.last.s = s;
    g.meter.last.pf = pf;
    g.meter.last.freq = f;
    advance(100);
}

static void test_pages_known_readings(void **state)
{
    (void)state;
    set_reading(220.3f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 50.0f);
    expect_screen(MC_PANEL_MEASURE, "U: 220.3V", "I: 000.0A", "F: 50 Hz"); /* the manual's Real-1 */
    set_reading(239.96f, 59.99f, -13200.4f, -996.2f, 13200.4f, -0.9994f, 49.96f);
    expect_screen(MC_PANEL_MEASURE, "U: 240.0V", "I: 060.0A", "F: 50 Hz");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "P: -13.200kW", "Q:  -0.996kvar", "S: +13.200kVA");
    short_k(K1);
    expect_screen(MC_PANEL_MEASURE, "PF: -0.999", "F: 49.96Hz", "");
    /* no voltage: zeros, and never "-0.0" */
    set_reading(0.0f, 0.0f, -0.0001f, 0.0f, 0.0f, 1.0f, 0.0f);
    expect_screen(MC_PANEL_MEASURE, "PF: +1.000", "F:  0.00Hz", "");
    short_k(K2);
    expect_screen(MC_PANEL_MEASURE, "P:  +0.000kW", "Q:  +0.000kvar", "S:  +0.000kVA");
    short_k(K2);
    expect_screen(MC_PANEL_MEASURE, "U: 000.0V", "I: 000.0A", "F:  0 Hz");
    /* values too wide lose decimals, then show dashes */
    set_reading(1234.5f, 0.04f, 0.0f, 0.0f, 0.0f, 1.0f, 123.0f);
    expect_screen(MC_PANEL_MEASURE, "U: 01235V", "I: 000.0A", "F: -- Hz");
    set_reading(123456.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 50.0f);
    assert_string_equal(line(0), "U: -----V");
    set_reading(NAN, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 50.0f);
    assert_string_equal(line(0), "U: -----V");
    expect_changes(0);
}

static void test_pages_without_relay_di_wifi(void **state)
{
    (void)state;
    fx_start(0, &port_no_wifi);
    goto_page(MC_PANEL_PAGE_IO);
    expect_screen(MC_PANEL_MEASURE, "RELAY NONE", "DI NONE", "");
    /* without a wifi_reset callback the menu has no RSTW item */
    short_k(K1);
    open_settings();
    const unsigned order[] = {MC_PANEL_ITEM_ADDRESS, MC_PANEL_ITEM_BAUD, MC_PANEL_ITEM_PARITY,
                              MC_PANEL_ITEM_CLEAR, MC_PANEL_ITEM_PASSWORD};
    for (unsigned k = 0; k < 5u; k++) {
        short_k(K1);
        assert_int_equal(scr()->page, order[k]);
    }
    short_k(K2);
    assert_int_equal(scr()->page, MC_PANEL_ITEM_CLEAR);
    expect_changes(0);
}

/* ---- keys ---------------------------------------------------------------- */

static void test_key_timing(void **state)
{
    (void)state;
    /* 2999 ms is short, 3000 ms is long (at the moment it is reached, key still down) */
    press(K1, MC_PANEL_LONG_MS - 1u);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_PQS);
    key(K1);
    advance(MC_PANEL_LONG_MS);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", ""); /* before the release */
    key(0); /* the release of a long press does nothing more */
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "");
    assert_int_equal(scr()->flash[1], 1u);
    key(K1 | K2);
    key(0);
    expect_screen(MC_PANEL_MEASURE, "U: 230.0V", "I: 005.0A", "F: 50 Hz");
    /* a long press without ticks is seen at the release */
    key(K2);
    g.ms += 3500u;
    key(0);
    assert_int_equal(scr()->mode, MC_PANEL_PASSWORD);
    /* a repeated mask is not a new press */
    key(K1);
    g.ms += 2000u;
    key(K1);
    g.ms += 1000u;
    assert_int_equal(mc_panel_tick(&g.panel, g.ms), MC_OK);
    assert_int_equal(scr()->mode, MC_PANEL_PASSWORD);
    assert_string_equal(line(2), "ERR 1"); /* long press: 0000 checked and refused */
    key(0);
    /* both keys from the measurement pages: back to the first page */
    key(K1 | K2);
    key(0);
    short_n(K1, 5);
    assert_int_equal(scr()->page, 5u);
    key(K2);
    key(K1 | K2);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_UIF);
    key(K1); /* releasing one key, then the other: no short press */
    advance(MC_PANEL_LONG_MS + 500u); /* nor a long one */
    key(0);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_UIF);
    /* bad arguments */
    assert_int_equal(mc_panel_key(&g.panel, 4, g.ms), MC_ERR_INVAL);
    assert_int_equal(mc_panel_key(NULL, 1, g.ms), MC_ERR_INVAL);
    assert_int_equal(mc_panel_tick(NULL, g.ms), MC_ERR_INVAL);
    assert_int_equal(mc_panel_refresh(NULL), MC_ERR_INVAL);
    assert_null(mc_panel_screen(NULL));
    assert_int_equal(mc_panel_init(NULL, &g.md, NULL, 0), MC_ERR_INVAL);
    mc_panel_t p2;
    assert_int_equal(mc_panel_init(&p2, NULL, NULL, 0), MC_ERR_INVAL);
    /* refresh shows the same screen again */
    const unsigned shows = g.shows;
    advance(1000);
    assert_int_equal(g.shows, shows); /* nothing changed: nothing shown */
    assert_int_equal(mc_panel_refresh(&g.panel), MC_OK);
    assert_int_equal(g.shows, shows + 1u);
    expect_changes(0);
    /* one wrong password was refused above and reported */
    assert_int_equal(g.nev, 1u);
    assert_int_equal(g.ev[0], MC_PANEL_EV_WRONG_PASSWORD);
}

/* ---- password ------------------------------------------------------------ */

static void test_password_right(void **state)
{
    (void)state;
    const mc_params_t before = g.md.params;
    long_k(K1);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "");
    expect_flash(0, 1u, 0); /* the selected digit flashes */
    short_k(K2);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "1000", "");
    short_k(K1);
    expect_flash(0, 2u, 0);
    short_n(K2, 10); /* wraps 9 -> 0 */
    assert_string_equal(line(1), "1000");
    short_n(K1, 3);
    expect_flash(0, 1u, 0); /* K1 goes round the four digits */
    short_n(K2, 5);
    assert_string_equal(line(1), "6000");
    key(K1 | K2);
    key(0);
    open_settings();
    expect_flash(0, 0, 0);
    expect_changes(0);
    expect_params(&before);
    assert_int_equal(g.nev, 0u);
}

static void test_password_wrong_lockout(void **state)
{
    (void)state;
    const mc_params_t before = g.md.params;
    long_k(K1);
    enter_password(6665);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "ERR 1");
    enter_password(1234);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "ERR 2");
    assert_int_equal(g.nev, 2u);
    enter_password(0);
    const uint32_t t_lock = g.ev_ms[3]; /* when the third long press acted */
    /* third wrong: back to measurement, locked */
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_UIF);
    assert_int_equal(g.nev, 4u);
    assert_int_equal(g.ev[0], MC_PANEL_EV_WRONG_PASSWORD);
    assert_int_equal(g.ev[1], MC_PANEL_EV_WRONG_PASSWORD);
    assert_int_equal(g.ev[2], MC_PANEL_EV_WRONG_PASSWORD);
    assert_int_equal(g.ev[3], MC_PANEL_EV_LOCKOUT);
    /* while locked a long press shows the time left, never the password screen */
    long_k(K1);
    const uint32_t left = (uint32_t)(t_lock + MC_PANEL_LOCK_MS - g.ms + 999u) / 1000u;
    char want[16];
    snprintf(want, sizeof(want), "%02u:%02u", left / 60u, left % 60u);
    expect_screen(MC_PANEL_LOCKED, "LOCKED", want, "");
    short_k(K2);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    long_k(K2);
    assert_int_equal(scr()->mode, MC_PANEL_LOCKED);
    /* the LOCKED screen also times out */
    advance(MC_PANEL_TIMEOUT_MS);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    /* just before the end: still locked */
    advance((uint32_t)(t_lock + MC_PANEL_LOCK_MS - g.ms - MC_PANEL_LONG_MS - 200u)); /* long_k() takes 3100 ms */
    long_k(K1);
    assert_int_equal(scr()->mode, MC_PANEL_LOCKED);
    assert_string_equal(line(1), "00:01");
    assert_int_equal(g.nev, 4u);
    advance(100);
    /* over: reported once, back to measurement, password accepted again */
    assert_int_equal(g.nev, 5u);
    assert_int_equal(g.ev[4], MC_PANEL_EV_LOCKOUT_END);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    open_settings();
    assert_int_equal(g.nev, 5u);
    expect_changes(0);
    expect_params(&before);
}

/* Wrong entries count in a row across leaving the password screen; a right one resets them. */
static void test_password_count_resets(void **state)
{
    (void)state;
    long_k(K1);
    enter_password(1);
    enter_password(2);
    key(K1 | K2);
    key(0);
    long_k(K1);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "ERR 2"); /* leaving did not forget them */
    enter_password(6666);
    assert_int_equal(scr()->mode, MC_PANEL_MENU);
    key(K1 | K2);
    key(0);
    long_k(K1);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "");
    enter_password(3);
    enter_password(4);
    assert_int_equal(scr()->mode, MC_PANEL_PASSWORD); /* two in a row: not locked */
    assert_int_equal(g.nev, 4u);
    expect_changes(0);
}

/* ---- settings ------------------------------------------------------------ */

static void test_menu_items(void **state)
{
    (void)state;
    open_settings();
    const char *want[][2] = {{"Adr", "001"}, {"baud", "9600"}, {"PrtY", "NONE"}, {"CLr.E", "NO"},
                             {"RSTW", "NO"}, {"PASS", "----"}};
    for (unsigned k = 0; k < 6u; k++) {
        short_k(K1);
        assert_int_equal(scr()->page, (k + 1u) % 6u);
        expect_screen(MC_PANEL_MENU, want[k][0], want[k][1], "");
        expect_flash(0, 0, 0);
    }
    short_k(K2);
    assert_int_equal(scr()->page, MC_PANEL_ITEM_WIFI);
    expect_changes(0);
}

static void test_address(void **state)
{
    (void)state;
    mc_params_t want = g.md.params;
    open_settings();
    goto_item(MC_PANEL_ITEM_ADDRESS);
    long_k(K1);
    expect_screen(MC_PANEL_EDIT, "Adr", "001", "");
    expect_flash(0, 1u, 0);
    /* hundreds: 0 -> 1 -> 2 -> (3..9 would exceed 247) -> 0 */
    short_k(K2);
    assert_string_equal(line(1), "101");
    short_k(K2);
    assert_string_equal(line(1), "201");
    short_k(K2);
    assert_string_equal(line(1), "001");
    short_n(K2, 2);
    short_k(K1);
    expect_flash(0, 2u, 0);
    /* tens of 201: 0..4 only */
    short_n(K2, 4);
    assert_string_equal(line(1), "241");
    short_k(K2);
    assert_string_equal(line(1), "201");
    short_n(K2, 4);
    short_k(K1);
    expect_flash(0, 4u, 0);
    /* units of 241: 1..7, never 8 or 9 */
    short_n(K2, 6);
    assert_string_equal(line(1), "247");
    short_k(K2);
    assert_string_equal(line(1), "240");
    short_k(K2);
    assert_string_equal(line(1), "241");
    short_n(K2, 6);
    assert_string_equal(line(1), "247");
    expect_changes(0); /* nothing written while editing */
    long_k(K2);
    expect_screen(MC_PANEL_MENU, "Adr", "247", ""); /* saved: no longer flashing */
    expect_flash(0, 0, 0);
    expect_changes(1);
    expect_change(0, MC_QTY_ADDRESS, 1, 247);
    assert_int_equal(g.commits, 1); /* saved (committed) before the menu came back */
    want.address = 247;
    expect_params(&want);
    /* A save that fails is not shown as saved: ERR under the item. */
    g.commit_ret = MC_ERR_IO;
    long_k(K1);
    short_k(K2);
    long_k(K2);
    assert_int_equal(g.commits, 2);
    assert_string_equal(line(2), "ERR");
    g.commit_ret = MC_OK;
    expect_changes(2);
    g.md.params = want; /* (the change stayed in RAM, as the model documents): back to 247 */
    g.nch = 1;
    /* the lower limit: from 010, units 0 -> 1..9 -> (000 refused) ; from 001 units never 0 */
    long_k(K1);
    short_n(K2, 1);          /* hundreds 2 -> 0: 047 */
    short_k(K1);
    short_n(K2, 7);          /* tens 4 -> 1: 017 */
    short_k(K1);
    short_n(K2, 3);          /* units 7 -> 0: 010 */
    assert_string_equal(line(1), "010");
    short_n(K1, 2);          /* units -> hundreds -> tens */
    short_n(K2, 9);          /* tens 1 -> 0 would be 000: skipped, 1 -> 2..9 -> 1 */
    assert_string_equal(line(1), "010");
    short_k(K2);
    assert_string_equal(line(1), "020");
    short_n(K2, 8);          /* 3..9, then 000 refused: 010 */
    assert_string_equal(line(1), "010");
    short_k(K1);
    short_k(K2);             /* units 0 -> 1: 011 */
    short_k(K1);
    short_k(K1);
    short_n(K2, 8);          /* tens 1 -> 2..9 */
    assert_string_equal(line(1), "091");
    short_k(K2);             /* then 0: 001 is in range */
    assert_string_equal(line(1), "001");
    short_k(K1);
    short_n(K2, 9);          /* units of 001: 2..9, 000 refused, back to 1 */
    assert_string_equal(line(1), "001");
    long_k(K1);
    expect_screen(MC_PANEL_MENU, "Adr", "001", "");
    expect_changes(2);
    expect_change(1, MC_QTY_ADDRESS, 247, 1);
    want.address = 1;
    expect_params(&want);
    /* any sequence of keys keeps the value in 001..247 */
    long_k(K1);
    srand(12345);
    for (unsigned k = 0; k < 1500u; k++) {
        short_k((rand() & 1) ? K1 : K2);
        const unsigned v = value_u();
        assert_true(v >= 1u && v <= 247u);
        assert_int_equal(strlen(line(1)), 3);
    }
    expect_changes(2);
}

static void test_baud_parity(void **state)
{
    (void)state;
    mc_params_t want = g.md.params;
    open_settings();
    goto_item(MC_PANEL_ITEM_BAUD);
    long_k(K2);
    expect_screen(MC_PANEL_EDIT, "baud", "9600", "");
    expect_flash(0, 0xFu, 0); /* the whole value flashes */
    const char *up[] = {"1200", "2400", "4800", "9600", "1200"};
    for (unsigned k = 0; k < 5u; k++) {
        short_k(K2);
        assert_string_equal(line(1), up[k]);
    }
    short_k(K1); /* K1 steps back */
    assert_string_equal(line(1), "9600");
    short_k(K1);
    assert_string_equal(line(1), "4800");
    long_k(K1);
    expect_screen(MC_PANEL_MENU, "baud", "4800", "");
    expect_changes(1);
    expect_change(0, MC_QTY_BAUD, 4, 3);
    want.baud_code = 3;
    expect_params(&want);
    /* saving the same value reports nothing */
    long_k(K1);
    long_k(K1);
    expect_changes(1);

    short_k(K1);
    expect_screen(MC_PANEL_MENU, "PrtY", "NONE", "");
    long_k(K1);
    expect_screen(MC_PANEL_EDIT, "PrtY", "NONE", "");
    expect_flash(0, 0xFu, 0);
    short_k(K2);
    assert_string_equal(line(1), "EVEN");
    short_k(K2);
    assert_string_equal(line(1), "ODD");
    expect_flash(0, 0x7u, 0);
    short_k(K2);
    assert_string_equal(line(1), "NONE");
    short_k(K1);
    assert_string_equal(line(1), "ODD");
    long_k(K2);
    expect_screen(MC_PANEL_MENU, "PrtY", "ODD", "");
    expect_changes(2);
    expect_change(1, MC_QTY_PARITY, 0, 2);
    want.parity = 2;
    expect_params(&want);
}

static void test_password_change(void **state)
{
    (void)state;
    mc_params_t want = g.md.params;
    open_settings();
    long_k(K1);
    expect_screen(MC_PANEL_EDIT, "PASS", "6666", ""); /* starts from the password in force */
    expect_flash(0, 1u, 0);
    /* 6666 -> 1234: digit k + (10 - 6 + target) */
    const unsigned target[4] = {1, 2, 3, 4};
    for (unsigned k = 0; k < 4u; k++) {
        short_n(K2, (10u - 6u + target[k]) % 10u);
        short_k(K1);
    }
    assert_string_equal(line(1), "1234");
    long_k(K1);
    expect_screen(MC_PANEL_MENU, "PASS", "----", "");
    expect_changes(1);
    expect_change(0, MC_QTY_PASSWORD, 0, 0); /* reported, never with its value */
    want.password = 1234;
    expect_params(&want);
    /* the old one is now wrong, the new one right */
    key(K1 | K2);
    key(0);
    long_k(K1);
    enter_password(6666);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "0000", "ERR 1");
    enter_password(1234);
    assert_int_equal(scr()->mode, MC_PANEL_MENU);
    /* 0000 is a valid password */
    long_k(K1);
    short_n(K2, 9);
    short_k(K1);
    short_n(K2, 8);
    short_k(K1);
    short_n(K2, 7);
    short_k(K1);
    short_n(K2, 6);
    assert_string_equal(line(1), "0000");
    long_k(K1);
    expect_changes(2);
    expect_change(1, MC_QTY_PASSWORD, 0, 0);
    assert_int_equal(g.md.params.password, 0);
}

static void test_energy_clear(void **state)
{
    (void)state;
    const mc_params_t before = g.md.params;
    mc_value_t v;
    open_settings();
    goto_item(MC_PANEL_ITEM_CLEAR);
    /* NO + long press: nothing */
    long_k(K1);
    expect_screen(MC_PANEL_EDIT, "CLr.E", "NO", "");
    expect_flash(0, 0x3u, 0);
    long_k(K1);
    expect_screen(MC_PANEL_MENU, "CLr.E", "NO", "");
    expect_changes(0);
    assert_int_equal(mc_model_read(&g.md, MC_QTY_E_ACTIVE_IMPORT, 0, &v), MC_OK);
    assert_true(v.f > 3.7f);
    /* YES then back to NO: nothing */
    long_k(K1);
    short_k(K2);
    short_k(K2);
    long_k(K1);
    expect_changes(0);
    /* YES + long press: the clear command, once */
    long_k(K1);
    short_k(K2);
    expect_screen(MC_PANEL_EDIT, "CLr.E", "YES", "");
    expect_flash(0, 0x7u, 0);
    long_k(K2);
    expect_screen(MC_PANEL_MENU, "CLr.E", "NO", "");
    expect_changes(1);
    expect_change(0, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND);
    expect_params(&before);
    const mc_qty e[] = {MC_QTY_E_ACTIVE_IMPORT, MC_QTY_E_ACTIVE_EXPORT, MC_QTY_E_REACTIVE_IMPORT,
                        MC_QTY_E_REACTIVE_EXPORT};
    for (unsigned k = 0; k < 4u; k++) {
        assert_int_equal(mc_model_read(&g.md, e[k], 0, &v), MC_OK);
        assert_true(v.f == 0.0f);
    }
    key(K1 | K2);
    key(0);
    goto_page(MC_PANEL_PAGE_E_ACTIVE);
    expect_screen(MC_PANEL_MEASURE, "ACTIVE kWh", "IMP 0000000.00", "EXP 0000000.00");
}

static void test_wifi_reset(void **state)
{
    (void)state;
    const mc_params_t before = g.md.params;
    open_settings();
    goto_item(MC_PANEL_ITEM_WIFI);
    expect_screen(MC_PANEL_MENU, "RSTW", "NO", "");
    long_k(K1);
    long_k(K1); /* NO: no reset */
    assert_int_equal(g.wifi_calls, 0u);
    long_k(K1);
    short_k(K1); /* K1 also toggles a NO/YES choice */
    expect_screen(MC_PANEL_EDIT, "RSTW", "YES", "");
    long_k(K1);
    expect_screen(MC_PANEL_MENU, "RSTW", "NO", "");
    assert_int_equal(g.wifi_calls, 1u);
    /* a failing reset says ERR */
    g.wifi_ret = MC_ERR_IO;
    long_k(K1);
    short_k(K2);
    long_k(K1);
    expect_screen(MC_PANEL_MENU, "RSTW", "NO", "ERR");
    assert_int_equal(g.wifi_calls, 2u);
    short_k(K1);
    expect_screen(MC_PANEL_MENU, "PASS", "----", ""); /* the message goes with the next key */
    expect_changes(0); /* not a parameter */
    expect_params(&before);
}

/* ---- leaving without saving ---------------------------------------------- */

static void test_timeout(void **state)
{
    (void)state;
    const mc_params_t before = g.md.params;
    /* from an edit with a changed value */
    open_settings();
    goto_item(MC_PANEL_ITEM_ADDRESS);
    long_k(K1);
    short_k(K2);
    expect_screen(MC_PANEL_EDIT, "Adr", "101", "");
    advance(MC_PANEL_TIMEOUT_MS - 200u); /* 100 ms after the release already passed */
    assert_int_equal(scr()->mode, MC_PANEL_EDIT);
    advance(100);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    expect_changes(0);
    expect_params(&before);
    /* from the menu and from the password screen; a held key is not "no key" */
    open_settings();
    advance(MC_PANEL_TIMEOUT_MS);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    long_k(K1);
    advance(MC_PANEL_TIMEOUT_MS - 1000u);
    short_k(K2);
    advance(MC_PANEL_TIMEOUT_MS - 1000u);
    expect_screen(MC_PANEL_PASSWORD, "PASS", "1000", "");
    advance(1000);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    /* the measurement page is kept; measurement pages never time out */
    short_n(K1, 3);
    advance(2u * MC_PANEL_TIMEOUT_MS);
    assert_int_equal(scr()->page, 3u);
    /* a late key after the timeout acts on the measurement pages, not on the stale edit */
    open_settings();
    goto_item(MC_PANEL_ITEM_ADDRESS);
    long_k(K1);
    short_k(K2);
    g.ms += MC_PANEL_TIMEOUT_MS + 5000u;
    key(K2);
    key(0);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    expect_changes(0);
    expect_params(&before);
    assert_int_equal(g.nev, 0u);
}

static void test_both_keys_exit(void **state)
{
    (void)state;
    const mc_params_t before = g.md.params;
    open_settings();
    goto_item(MC_PANEL_ITEM_BAUD);
    long_k(K1);
    short_k(K2);
    expect_screen(MC_PANEL_EDIT, "baud", "1200", "");
    key(K2);
    g.ms += 200u;
    key(K1 | K2); /* at once, before any release */
    expect_screen(MC_PANEL_MEASURE, "U: 230.0V", "I: 005.0A", "F: 50 Hz");
    key(K1);
    advance(MC_PANEL_LONG_MS + 100u); /* still part of the chord: no long press */
    key(0);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    assert_int_equal(scr()->page, MC_PANEL_PAGE_UIF);
    expect_changes(0);
    expect_params(&before);
    /* from the password screen and the menu as well */
    long_k(K1);
    key(K1 | K2);
    key(0);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    open_settings();
    key(K1 | K2);
    key(0);
    assert_int_equal(scr()->mode, MC_PANEL_MEASURE);
    expect_changes(0);
}

/* The event-log record of the lockout events: the fields the event register map documents
 * (type 12, source front panel, arg 2 / 3, old 3 tries, new 300 s); a wrong password alone
 * is not an event to log. */
static void test_event_record(void **state)
{
    (void)state;
    mc_event_t ev;
    memset(&ev, 0xA5, sizeof(ev));
    assert_int_equal(mc_panel_event_record(MC_PANEL_EV_LOCKOUT, &ev), MC_OK);
    assert_int_equal(ev.type, 12);
    assert_int_equal(ev.source, MC_SRC_PANEL);
    assert_int_equal(ev.arg, 2);
    assert_int_equal(ev.qty, 0);
    assert_int_equal(ev.old_value, 3);
    assert_int_equal(ev.new_value, 300);
    assert_int_equal(ev.seq, 0);
    assert_int_equal(ev.time, 0);
    assert_int_equal(mc_panel_event_record(MC_PANEL_EV_LOCKOUT_END, &ev), MC_OK);
    assert_int_equal(ev.arg, 3);
    assert_int_equal(mc_panel_event_record(MC_PANEL_EV_WRONG_PASSWORD, &ev), MC_ERR_INVAL);
    assert_int_equal(mc_panel_event_record((mc_panel_event)0, &ev), MC_ERR_INVAL);
    assert_int_equal(mc_panel_event_record(MC_PANEL_EV_LOCKOUT, NULL), MC_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_record),
        cmocka_unit_test_setup(test_pages_synthetic, setup),
        cmocka_unit_test_setup(test_pages_known_readings, setup),
        cmocka_unit_test_setup(test_pages_without_relay_di_wifi, setup),
        cmocka_unit_test_setup(test_key_timing, setup),
        cmocka_unit_test_setup(test_password_right, setup),
        cmocka_unit_test_setup(test_password_wrong_lockout, setup),
        cmocka_unit_test_setup(test_password_count_resets, setup),
        cmocka_unit_test_setup(test_menu_items, setup),
        cmocka_unit_test_setup(test_address, setup),
        cmocka_unit_test_setup(test_baud_parity, setup),
        cmocka_unit_test_setup(test_password_change, setup),
        cmocka_unit_test_setup(test_energy_clear, setup),
        cmocka_unit_test_setup(test_wifi_reset, setup),
        cmocka_unit_test_setup(test_timeout, setup),
        cmocka_unit_test_setup(test_both_keys_exit, setup),
    };
    return cmocka_run_group_tests_name("panel", tests, NULL, NULL);
}
