/*
 * metercore registers: DL/T 645-2007 slave over the data model (frame handler and framer).
 * Transport-independent like the Modbus PDU handler: the framer takes bytes with timestamps
 * (UART interrupt, TCP stream), mc_dlt645_handle_frame() takes a complete frame.
 * Protocol facts (frame, control codes, ERR bits, identifiers and formats) and their sources
 * are listed in docs/DLT645.md.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_dlt645.h"

/* ------------------------------------------------------------------------ */
/* Formats                                                                  */

int mc_dlt645_bcd(int32_t v, unsigned n, int sign, uint8_t *out)
{
    if (out == NULL || n == 0u || n > 4u) {
        return MC_ERR_INVAL;
    }
    int neg = v < 0;
    uint32_t m = neg ? (uint32_t)(-(v + 1)) + 1u : (uint32_t)v;
    if (!sign) {
        neg = 0;
        if (v < 0) {
            m = 0u;
        }
    }
    /* largest magnitude: 2n nines, or with a sign bit 7 followed by 2n - 1 nines */
    uint32_t max = 1u;
    for (unsigned k = 0; k + 1u < 2u * n; k++) {
        max *= 10u;
    }
    max = (sign ? 8u : 10u) * max - 1u;
    int rc = MC_OK;
    if (m > max) {
        m = max;
        rc = MC_ERR_RANGE;
    }
    for (unsigned k = 0; k < n; k++) {
        const uint32_t lo = m % 10u, hi = (m / 10u) % 10u;
        out[k] = (uint8_t)(hi << 4 | lo);
        m /= 100u;
    }
    if (neg) {
        out[n - 1u] |= 0x80u;
    }
    return rc;
}

/* BCD byte to 0..99, or -1 if not BCD. */
static int from_bcd(uint8_t b)
{
    if ((b >> 4) > 9u || (b & 0x0Fu) > 9u) {
        return -1;
    }
    return (int)(b >> 4) * 10 + (int)(b & 0x0Fu);
}

static uint8_t to_bcd(unsigned v)
{
    return (uint8_t)(((v / 10u) % 10u) << 4 | (v % 10u));
}

/* x * 10^dec rounded half away from zero, clamped to +-2e9. */
static int32_t scaled(float x, unsigned dec)
{
    for (unsigned k = 0; k < dec; k++) {
        x *= 10.0f;
    }
    if (!(x == x)) {
        return 0; /* NaN */
    }
    if (x >= 2.0e9f) {
        return 2000000000;
    }
    if (x <= -2.0e9f) {
        return -2000000000;
    }
    return (int32_t)(x < 0.0f ? x - 0.5f : x + 0.5f);
}

/* ------------------------------------------------------------------------ */
/* Set-up                                                                   */

void mc_dlt645_config_default(mc_dlt645_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->address[0] = 0x01u;
    cfg->baud = 2400u;
    cfg->byte_timeout_ms = MC_DLT645_BYTE_TIMEOUT_MS_DEFAULT;
    cfg->bcast_time_max_s = MC_DLT645_BCAST_MAX_S_DEFAULT;
}

static int all_bytes(const uint8_t *a, uint8_t v)
{
    for (unsigned k = 0; k < 6u; k++) {
        if (a[k] != v) {
            return 0;
        }
    }
    return 1;
}

static int address_valid(const uint8_t a[6])
{
    for (unsigned k = 0; k < 6u; k++) {
        if (from_bcd(a[k]) < 0) {
            return 0;
        }
    }
    return !all_bytes(a, 0x99u);
}

int mc_dlt645_parse_address(const char *text, uint8_t out[6])
{
    if (text == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    uint8_t a[6];
    for (unsigned k = 0; k < 12u; k++) {
        if (text[k] < '0' || text[k] > '9') {
            return MC_ERR_INVAL;
        }
    }
    if (text[12] != '\0') {
        return MC_ERR_INVAL;
    }
    for (unsigned k = 0; k < 6u; k++) {
        /* text is most significant first; the wire is lowest byte first */
        const unsigned i = 10u - 2u * k;
        a[k] = (uint8_t)((unsigned)(text[i] - '0') << 4 | (unsigned)(text[i + 1u] - '0'));
    }
    if (!address_valid(a)) {
        return MC_ERR_INVAL;
    }
    memcpy(out, a, 6);
    return MC_OK;
}

static int baud_valid(uint32_t b)
{
    return b == 1200u || b == 2400u || b == 4800u || b == 9600u;
}

int mc_dlt645_init(mc_dlt645_t *d, mc_model_t *model, const mc_dlt645_config_t *cfg,
                   const mc_dlt645_port_t *port)
{
    if (d == NULL || model == NULL) {
        return MC_ERR_INVAL;
    }
    mc_dlt645_config_t c;
    if (cfg != NULL) {
        c = *cfg;
    } else {
        mc_dlt645_config_default(&c);
    }
    if (!address_valid(c.address) || !baud_valid(c.baud)) {
        return MC_ERR_INVAL;
    }
    if (c.byte_timeout_ms == 0u) {
        c.byte_timeout_ms = MC_DLT645_BYTE_TIMEOUT_MS_DEFAULT;
    }
    if (c.byte_timeout_ms > MC_DLT645_BYTE_TIMEOUT_MS_MAX) {
        c.byte_timeout_ms = MC_DLT645_BYTE_TIMEOUT_MS_MAX; /* (µs of it must fit the 32-bit clock) */
    }
    memset(d, 0, sizeof(*d));
    d->model = model;
    d->cfg = c;
    if (port != NULL) {
        d->port = *port;
    }
    memset(d->last_operator, 0xFF, sizeof(d->last_operator));
    mc_auth_guard_init(&d->guard, MC_IFACE_DLT645);
    mc_session_init(&d->session, &d->guard);
    return MC_OK;
}

/* ------------------------------------------------------------------------ */
/* Data identifiers                                                         */

#define DI(a, b, c, e) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(e))
#define DI3(di) ((unsigned)((di) >> 24) & 0xFFu)
#define DI2(di) ((unsigned)((di) >> 16) & 0xFFu)
#define DI1(di) ((unsigned)((di) >> 8) & 0xFFu)
#define DI0(di) ((unsigned)(di) & 0xFFu)

#define NO_DATA (-1000)
/* The largest item encode_single() writes (the meter clear record). */
#define ITEM_MAX 106u

/* The model's clock as a time (0 if it has none). */
static mc_time_t model_time(const mc_model_t *md)
{
    mc_datetime_t dt;
    memset(&dt, 0, sizeof(dt));
    dt.year = (uint16_t)mc_model_read_u(md, MC_QTY_CLOCK, 0);
    dt.month = (uint8_t)mc_model_read_u(md, MC_QTY_CLOCK, 1);
    dt.day = (uint8_t)mc_model_read_u(md, MC_QTY_CLOCK, 2);
    dt.hour = (uint8_t)mc_model_read_u(md, MC_QTY_CLOCK, 3);
    dt.minute = (uint8_t)mc_model_read_u(md, MC_QTY_CLOCK, 4);
    dt.second = (uint8_t)mc_model_read_u(md, MC_QTY_CLOCK, 5);
    mc_time_t t;
    return mc_time_from_datetime(&dt, &t) == MC_OK ? t : 0u;
}

/* A time as n BCD bytes, lowest first: n = 6 ssmmhhDDMMYY, n = 5 mmhhDDMMYY; 0 reads all zero. */
static void put_time(mc_time_t t, unsigned n, uint8_t *out)
{
    mc_datetime_t dt;
    if (t == 0u || mc_time_to_datetime(t, &dt) != MC_OK) {
        memset(out, 0, n);
        return;
    }
    const unsigned f[6] = {dt.second, dt.minute, dt.hour, dt.day, dt.month, (unsigned)dt.year % 100u};
    for (unsigned k = 0; k < n; k++) {
        out[k] = to_bcd(f[k + 6u - n]);
    }
}

/* Combined active energy (kind 0) at the end of settlement month -ago (0 = now), kWh: the lifetime
 * reading less this month's and the later months' consumption (the history keeps each settlement
 * month's combined energy, not the register at the freeze). */
static float combined_at(const mc_model_t *md, unsigned rate, unsigned ago)
{
    float e = mc_model_read_f(md, MC_QTY_E_ACTIVE, rate);
    for (unsigned m = 0; m < ago; m++) {
        e -= mc_model_read_f(md, MC_QTY_MONTH_ACTIVE, rate * 16u + m);
    }
    return e;
}

/* Events of a kind in the model's log: how many, and the newest. match(ev) decides. */
typedef int (*ev_match_fn)(const mc_event_t *ev);

static int is_meter_clear(const mc_event_t *ev)
{
    return ev->type == MC_EV_ENERGY_CLEAR;
}
static int is_clock_set(const mc_event_t *ev)
{
    return ev->type == MC_EV_CLOCK_SET;
}
static int is_demand_clear(const mc_event_t *ev)
{
    return ev->type == MC_EV_PARAM && ev->qty == MC_QTY_MAX_DEMAND_P;
}
static int is_event_clear(const mc_event_t *ev)
{
    return ev->type == MC_EV_PARAM && ev->qty == MC_QTY_EVENT_COUNT;
}
/* Programming: a parameter change, from any source (bus, panel), other than the two clears
 * above, which the model reports as parameter events. */
static int is_programming(const mc_event_t *ev)
{
    return ev->type == MC_EV_PARAM && !is_demand_clear(ev) && !is_event_clear(ev);
}

/* The identifier of a programmed quantity, where DL/T645 has one; FFFFFFFF otherwise. */
static uint32_t programmed_di(unsigned qty)
{
    switch (qty) {
    case MC_QTY_SETTLE_DAY:
    case MC_QTY_SETTLE_HOUR:
        return 0x04000B01u; /* first settlement day */
    case MC_QTY_PASSWORD:
        return 0x04000C03u; /* the level 02 password (the one metercore has) */
    default:
        return 0xFFFFFFFFu;
    }
}

static uint32_t find_events(const mc_model_t *md, ev_match_fn match, mc_event_t *newest)
{
    uint32_t n = 0;
    memset(newest, 0, sizeof(*newest));
    const unsigned count = md->hooks.event_count != NULL ? md->hooks.event_count(md->hooks.ctx) : 0u;
    for (unsigned i = 0; i < count && md->hooks.event_read != NULL; i++) {
        mc_event_t ev;
        if (md->hooks.event_read(md->hooks.ctx, i, &ev) != MC_OK) {
            break;
        }
        if (match(&ev)) {
            if (n == 0u) {
                *newest = ev;
            }
            n++;
        }
    }
    return n;
}

/* One non-block identifier into out; returns its length, or NO_DATA. */
static int encode_single(const mc_dlt645_t *d, uint32_t di, uint8_t *out)
{
    const mc_model_t *md = d->model;
    const unsigned d3 = DI3(di), d2 = DI2(di), d1 = DI1(di), d0 = DI0(di);
    if (d3 == 0x00u) {
        /* Energy, XXXXXX.XX kWh/kvarh; combined kinds signed (A.1). d1 rate, d0 settlement month. */
        if (d1 > MC_TARIFF_RATES || d0 > MC_TARIFF_HISTORY_MONTHS) {
            return NO_DATA;
        }
        float kwh;
        int sign = 0;
        switch (d2) {
        case 0x00:
            kwh = combined_at(md, d1, d0);
            sign = 1;
            break;
        case 0x01:
        case 0x02:
        case 0x03:
        case 0x04:
            if (d0 != 0u) {
                return NO_DATA; /* the history keeps combined energy only */
            }
            kwh = mc_model_read_f(md, d2 == 0x01u ? MC_QTY_E_ACTIVE_IMPORT
                             : d2 == 0x02u ? MC_QTY_E_ACTIVE_EXPORT
                             : d2 == 0x03u ? MC_QTY_E_REACTIVE_IMPORT
                                           : MC_QTY_E_REACTIVE_EXPORT, d1);
            sign = d2 >= 0x03u;
            break;
        case 0x05:
        case 0x06:
        case 0x07:
        case 0x08:
            if (d0 != 0u || d1 != 0u) {
                return NO_DATA; /* quadrants: lifetime totals only */
            }
            kwh = mc_model_read_f(md, MC_QTY_E_QUADRANT, d2 - 0x05u);
            break;
        default:
            return NO_DATA;
        }
        (void)mc_dlt645_bcd(scaled(kwh, 2), 4, sign, out);
        return 4;
    }
    if (d3 == 0x01u) {
        /* Forward active maximum demand XX.XXXX kW and its time YYMMDDhhmm (A.2). */
        if (d2 != 0x01u || d1 != 0x00u || d0 > MC_TARIFF_HISTORY_MONTHS || md->tariff == NULL) {
            return NO_DATA;
        }
        const mc_tariff_t *t = md->tariff;
        const float w = d0 == 0u ? t->max_demand_p : t->history[d0 - 1u].max_demand_w;
        const mc_time_t at = d0 == 0u ? t->max_demand_p_at : t->history[d0 - 1u].max_demand_at;
        (void)mc_dlt645_bcd(scaled(w / 1000.0f, 4), 3, 0, out);
        put_time(at, 5, out + 3);
        return 8;
    }
    if (d3 == 0x02u) {
        /* Variables (A.3). */
        if (d2 == 0x80u) {
            if (d1 != 0x00u) {
                return NO_DATA;
            }
            switch (d0) {
            case 0x01: /* neutral current XXX.XXX A */
                (void)mc_dlt645_bcd(scaled(mc_model_read_f(md, MC_QTY_I_NEUTRAL, 0), 3), 3, 1, out);
                return 3;
            case 0x02: /* frequency XX.XX Hz */
                (void)mc_dlt645_bcd(scaled(mc_model_read_f(md, MC_QTY_FREQ, 0), 2), 2, 0, out);
                return 2;
            case 0x04: /* active demand XX.XXXX kW */
                (void)mc_dlt645_bcd(scaled(mc_model_read_f(md, MC_QTY_DEMAND_P, 0) / 1000.0f, 4), 3, 1, out);
                return 3;
            case 0x06: /* apparent demand XX.XXXX kVA */
                (void)mc_dlt645_bcd(scaled(mc_model_read_f(md, MC_QTY_DEMAND_S, 0) / 1000.0f, 4), 3, 1, out);
                return 3;
            default:
                return NO_DATA;
            }
        }
        if (d0 != 0x00u || d2 < 0x01u || d2 > 0x06u) {
            return NO_DATA;
        }
        const unsigned phases = mc_meter_elements(&md->meter->cfg);
        if (d1 > 3u || (d1 == 0u && d2 <= 0x02u)) {
            return NO_DATA; /* voltage and current per phase only */
        }
        /* phase d1 (1..3) = element d1 - 1; a phase the meter does not have reads 0 */
        const unsigned el = d1 - 1u;
        const int have = d1 == 0u || el < phases;
        switch (d2) {
        case 0x01: /* voltage XXX.X V */
            (void)mc_dlt645_bcd(have ? scaled(mc_model_read_f(md, MC_QTY_EL_VOLTAGE, el), 1) : 0, 2, 0, out);
            return 2;
        case 0x02: { /* current XXX.XXX A, signed as the element's active power */
            const float i = have ? mc_model_read_f(md, MC_QTY_EL_CURRENT, el) : 0.0f;
            const float p = have ? mc_model_read_f(md, MC_QTY_EL_P, el) : 0.0f;
            (void)mc_dlt645_bcd(scaled(p < 0.0f ? -i : i, 3), 3, 1, out);
            return 3;
        }
        case 0x03:
        case 0x04:
        case 0x05: { /* powers XX.XXXX kW, kvar, kVA */
            static const mc_qty tot[3] = {MC_QTY_P, MC_QTY_Q, MC_QTY_S};
            static const mc_qty per[3] = {MC_QTY_EL_P, MC_QTY_EL_Q, MC_QTY_EL_S};
            const float x = d1 == 0u ? mc_model_read_f(md, tot[d2 - 3u], 0) : (have ? mc_model_read_f(md, per[d2 - 3u], el) : 0.0f);
            (void)mc_dlt645_bcd(scaled(x / 1000.0f, 4), 3, 1, out);
            return 3;
        }
        default: { /* power factor X.XXX */
            const float pf = d1 == 0u ? mc_model_read_f(md, MC_QTY_PF, 0) : (have ? mc_model_read_f(md, MC_QTY_EL_PF, el) : 0.0f);
            (void)mc_dlt645_bcd(scaled(pf, 3), 2, 1, out);
            return 2;
        }
        }
    }
    if (d3 == 0x03u && d2 == 0x30u && d1 <= 0x04u && d0 <= 0x01u) {
        /* Event records (A.4): 00 programming, 01 meter clear, 02 demand clear, 03 event clear,
         * 04 time set. */
        static const ev_match_fn match[5] = {is_programming, is_meter_clear, is_demand_clear, is_event_clear,
                                             is_clock_set};
        mc_event_t ev;
        uint32_t n = find_events(md, match[d1], &ev);
        if (d0 == 0x00u) {
            uint32_t c;
            if (d1 == 0x01u && md->hooks.audit_counter != NULL &&
                md->hooks.audit_counter(md->hooks.ctx, 2u /* energy clear */, &c) == MC_OK) {
                n = c; /* the audit counter counts every clear, also those that left the log */
            } else if (d1 == 0x04u && md->hooks.audit_counter != NULL &&
                       md->hooks.audit_counter(md->hooks.ctx, 3u /* clock set */, &c) == MC_OK) {
                n = c;
            }
            (void)mc_dlt645_bcd(n > 999999u ? 999999 : (int32_t)n, 3, 0, out);
            return 3;
        }
        /* the operator code: this line's last one if it made the newest such event, else unknown */
        const uint8_t unknown[4] = {0xFFu, 0xFFu, 0xFFu, 0xFFu};
        switch (d1) {
        case 0x00: /* time 6, operator 4, 10 identifiers programmed (the event's, then FFFFFFFF) = 50 */
            put_time(n > 0u ? ev.time : 0u, 6, out);
            memcpy(out + 6, n > 0u ? d->last_operator : unknown, 4);
            memset(out + 10, 0xFF, 40);
            if (n > 0u) {
                const uint32_t pdi = programmed_di(ev.qty);
                for (unsigned k = 0; k < 4u; k++) {
                    out[10u + k] = (uint8_t)(pdi >> (8u * k));
                }
            }
            return 50;
        case 0x01: /* time 6, operator 4, 24 energies before the clear (not kept: zero) = 106 */
            memset(out, 0, 106);
            put_time(n > 0u ? ev.time : 0u, 6, out);
            memcpy(out + 6, n > 0u ? d->last_operator : unknown, 4);
            return 106;
        case 0x03: /* time 6, operator 4, the event clear's identifier 4 = 14 */
            put_time(n > 0u ? ev.time : 0u, 6, out);
            memcpy(out + 6, n > 0u ? d->last_operator : unknown, 4);
            for (unsigned k = 0; k < 4u; k++) {
                out[10u + k] = n > 0u ? (uint8_t)(ev.old_value >> (8u * k)) : 0u;
            }
            return 14;
        case 0x04: /* operator 4, time before 6, time after 6 = 16 */
            memcpy(out, n > 0u ? d->last_operator : unknown, 4);
            put_time(n > 0u ? ev.old_value : 0u, 6, out + 4);
            put_time(n > 0u ? ev.new_value : 0u, 6, out + 10);
            return 16;
        default: /* 03300201, the 202-byte demand clear record: not served */
            return NO_DATA;
        }
    }
    if (di == DI(0x04, 0x00, 0x01, 0x01) || di == DI(0x04, 0x00, 0x01, 0x02)) {
        mc_datetime_t dt;
        if (mc_time_to_datetime(model_time(md), &dt) != MC_OK) {
            memset(&dt, 0, sizeof(dt));
        }
        if (d0 == 0x01u) { /* date and week YYMMDDWW, WW 0 = Sunday */
            out[0] = to_bcd((dt.weekday + 1u) % 7u);
            out[1] = to_bcd(dt.day);
            out[2] = to_bcd(dt.month);
            out[3] = to_bcd((unsigned)dt.year % 100u);
            return 4;
        }
        out[0] = to_bcd(dt.second); /* time hhmmss */
        out[1] = to_bcd(dt.minute);
        out[2] = to_bcd(dt.hour);
        return 3;
    }
    if (di == DI(0x04, 0x00, 0x04, 0x01)) { /* address NNNNNNNNNNNN */
        memcpy(out, d->cfg.address, 6);
        return 6;
    }
    if (di == DI(0x04, 0x00, 0x07, 0x03)) { /* baud rate feature word of the line (1200 bit 2 .. 9600 bit 5) */
        out[0] = (uint8_t)(d->cfg.baud / 1200u == 1u ? 0x04u : d->cfg.baud / 1200u == 2u ? 0x08u
                                                           : d->cfg.baud / 1200u == 4u ? 0x10u : 0x20u);
        return 1;
    }
    if (di == DI(0x04, 0x00, 0x0B, 0x01)) { /* first settlement day DDhh */
        if (md->tariff == NULL) {
            return NO_DATA;
        }
        out[0] = to_bcd(mc_model_read_u(md, MC_QTY_SETTLE_HOUR, 0));
        out[1] = to_bcd(mc_model_read_u(md, MC_QTY_SETTLE_DAY, 0));
        return 2;
    }
    return NO_DATA;
}

/* A block identifier: how many items, and item k's single identifier. Non-blocks have one item. */
static unsigned block_items(uint32_t di)
{
    const unsigned d3 = DI3(di), d2 = DI2(di), d1 = DI1(di), d0 = DI0(di);
    if (d3 == 0x00u && d2 != 0xFFu) {
        return (d1 == 0xFFu ? MC_TARIFF_RATES + 1u : 1u) * (d0 == 0xFFu ? MC_TARIFF_HISTORY_MONTHS + 1u : 1u);
    }
    if (d3 == 0x01u && d2 != 0xFFu && d1 != 0xFFu && d0 == 0xFFu) {
        return MC_TARIFF_HISTORY_MONTHS + 1u;
    }
    if (d3 == 0x02u && d2 >= 0x01u && d2 <= 0x06u && d1 == 0xFFu && d0 == 0x00u) {
        return d2 <= 0x02u ? 3u : 4u;
    }
    return 1u;
}

static uint32_t block_item(uint32_t di, unsigned k)
{
    const unsigned d3 = DI3(di), d1 = DI1(di), d0 = DI0(di);
    if (d3 == 0x00u) {
        /* month-major: for each settlement month (current first), the total then rates 1..4 */
        const unsigned rates = d1 == 0xFFu ? MC_TARIFF_RATES + 1u : 1u;
        const unsigned r = d1 == 0xFFu ? k % rates : d1;
        const unsigned m = d0 == 0xFFu ? k / rates : d0;
        return (di & 0xFFFF0000u) | (uint32_t)r << 8 | m;
    }
    if (d3 == 0x01u) {
        return (di & 0xFFFFFF00u) | k;
    }
    if (d3 == 0x02u && d1 == 0xFFu) {
        const unsigned first = DI2(di) <= 0x02u ? 1u : 0u;
        return (di & 0xFFFF00FFu) | (uint32_t)(first + k) << 8;
    }
    return di;
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                   */

static uint8_t checksum(const uint8_t *p, size_t n)
{
    unsigned s = 0;
    for (size_t k = 0; k < n; k++) {
        s += p[k];
    }
    return (uint8_t)s;
}

/* Build a reply: preamble, 68H, address, 68H, C, L, data (+33H), CS, 16H. data is plain. */
static int reply_frame(const uint8_t addr[6], uint8_t c, const uint8_t *data, size_t n, uint8_t *out)
{
    if (n > MC_DLT645_DATA_MAX) {
        return MC_ERR_INVAL; /* never sent past the limit */
    }
    memset(out, 0xFE, MC_DLT645_PREAMBLE);
    uint8_t *f = out + MC_DLT645_PREAMBLE;
    f[0] = 0x68;
    memcpy(f + 1, addr, 6);
    f[7] = 0x68;
    f[8] = c;
    f[9] = (uint8_t)n;
    for (size_t k = 0; k < n; k++) {
        f[10u + k] = (uint8_t)(data[k] + 0x33u);
    }
    f[10u + n] = checksum(f, 10u + n);
    f[11u + n] = 0x16;
    return (int)(MC_DLT645_PREAMBLE + 12u + n);
}

static int error_reply(const mc_dlt645_t *d, uint8_t code, uint8_t err, uint8_t *out)
{
    return reply_frame(d->cfg.address, (uint8_t)(code | 0xC0u), &err, 1, out);
}

/* A library error of a change as the ERR bits that report it. */
static uint8_t err_bits(int err)
{
    return (err == MC_ERR_DENIED || err == MC_ERR_AUTH || err == MC_ERR_BUSY) ? MC_DLT645_ERR_PASSWORD
                                                                              : MC_DLT645_ERR_OTHER;
}

/* Read replies: items of a block from `first` into data after the DI; sets the follow-up state. */
static int read_items(mc_dlt645_t *d, uint32_t di, unsigned first, uint8_t code, int with_seq, uint8_t seq,
                      uint8_t *out)
{
    /* items are encoded in place; the largest (106 bytes) may run past the room, then it is
     * left for the follow-up */
    uint8_t data[MC_DLT645_DATA_MAX + ITEM_MAX];
    const unsigned room = MC_DLT645_DATA_MAX - 4u - (with_seq ? 1u : 0u);
    for (unsigned k = 0; k < 4u; k++) {
        data[k] = (uint8_t)(di >> (8u * k));
    }
    const unsigned items = block_items(di);
    size_t n = 4;
    unsigned k = first;
    for (; k < items; k++) {
        const int len = encode_single(d, block_item(di, k), data + n);
        if (len < 0) {
            d->follow_active = 0;
            return error_reply(d, code, MC_DLT645_ERR_NO_DATA, out);
        }
        if (n - 4u + (size_t)len > room) {
            break;
        }
        n += (size_t)len;
    }
    if (k == first) {
        d->follow_active = 0;
        return error_reply(d, code, MC_DLT645_ERR_NO_DATA, out); /* (an item larger than a frame) */
    }
    uint8_t c = (uint8_t)(code | 0x80u);
    if (k < items) {
        c |= 0x20u; /* follow-up data */
        d->follow_active = 1;
        d->follow_di = di;
        d->follow_item = (uint16_t)k;
        d->follow_seq = (uint8_t)(with_seq ? seq + 1u : 1u);
    } else {
        d->follow_active = 0;
    }
    if (with_seq) {
        data[n++] = seq;
    }
    return reply_frame(d->cfg.address, c, data, n, out);
}

static uint32_t get_di(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* PA P0 P1 P2: log in on the line's session. 0 or the ERR bits to reply with. */
static uint8_t login(mc_dlt645_t *d, const uint8_t *pw)
{
    if (pw[0] > 0x04u) {
        return MC_DLT645_ERR_PASSWORD; /* levels 05..09: weaker than any level the library has */
    }
    const int b0 = from_bcd(pw[1]), b1 = from_bcd(pw[2]), b2 = from_bcd(pw[3]);
    unsigned value = 10000u; /* not BCD or over 9999: a wrong password (counted by the guard) */
    if (b0 >= 0 && b1 >= 0 && b2 == 0) {
        value = (unsigned)b1 * 100u + (unsigned)b0;
    }
    if (value > 9999u) {
        /* a password the meter cannot hold is wrong: try one that cannot match so that the
         * guard counts it like any other wrong password */
        const unsigned actual = d->model->params.password;
        value = actual == 0u ? 1u : actual - 1u;
    }
    return mc_session_login(d->model, &d->session, value) == MC_OK ? 0u : MC_DLT645_ERR_PASSWORD;
}

/* A session holding the parameter level (or a product without unlock). */
static int session_param(mc_dlt645_t *d)
{
    return !d->model->cfg.require_unlock || mc_session_level(d->model, &d->session) >= MC_LEVEL_PARAM;
}

static int write_session(mc_dlt645_t *d, const mc_write_item_t *items, size_t n)
{
    return mc_model_write_session(d->model, &d->session, items, n, MC_SRC_BUS);
}

static void item_u(mc_write_item_t *it, mc_qty q, unsigned arg, unsigned v)
{
    memset(it, 0, sizeof(*it));
    it->qty = (uint8_t)q;
    it->arg = (uint8_t)arg;
    it->u = (uint16_t)v;
}

/* 14H: DI, PA P0..P2, C0..C3, data. */
static int do_write(mc_dlt645_t *d, const uint8_t *data, size_t n, uint8_t *out)
{
    const uint8_t code = MC_DLT645_WRITE;
    if (n < 12u) {
        return error_reply(d, code, MC_DLT645_ERR_OTHER, out);
    }
    const uint32_t di = get_di(data);
    const uint8_t *v = data + 12;
    const size_t vn = n - 12u;
    uint8_t e = login(d, data + 4);
    if (e != 0u) {
        return error_reply(d, code, e, out);
    }
    mc_write_item_t it[3];
    size_t k = 0;
    int bad = 0;
    if (di == DI(0x04, 0x00, 0x01, 0x01) && vn == 4u) { /* WW DD MM YY */
        const int ww = from_bcd(v[0]), dd = from_bcd(v[1]), mm = from_bcd(v[2]), yy = from_bcd(v[3]);
        bad = ww < 0 || ww > 6 || dd < 0 || mm < 0 || yy < 0;
        if (!bad) {
            item_u(&it[k++], MC_QTY_CLOCK, 0, 2000u + (unsigned)yy);
            item_u(&it[k++], MC_QTY_CLOCK, 1, (unsigned)mm);
            item_u(&it[k++], MC_QTY_CLOCK, 2, (unsigned)dd);
        }
    } else if (di == DI(0x04, 0x00, 0x01, 0x02) && vn == 3u) { /* ss mm hh */
        const int ss = from_bcd(v[0]), mi = from_bcd(v[1]), hh = from_bcd(v[2]);
        bad = ss < 0 || mi < 0 || hh < 0;
        if (!bad) {
            item_u(&it[k++], MC_QTY_CLOCK, 3, (unsigned)hh);
            item_u(&it[k++], MC_QTY_CLOCK, 4, (unsigned)mi);
            item_u(&it[k++], MC_QTY_CLOCK, 5, (unsigned)ss);
        }
    } else if (di == DI(0x04, 0x00, 0x0B, 0x01) && vn == 2u) { /* hh DD */
        const int hh = from_bcd(v[0]), dd = from_bcd(v[1]);
        bad = hh < 0 || dd < 0;
        if (!bad) {
            item_u(&it[k++], MC_QTY_SETTLE_DAY, 0, (unsigned)dd);
            item_u(&it[k++], MC_QTY_SETTLE_HOUR, 0, (unsigned)hh);
        }
    } else {
        return error_reply(d, code, MC_DLT645_ERR_NO_DATA, out); /* not writable (or wrong length) */
    }
    if (bad) {
        return error_reply(d, code, MC_DLT645_ERR_OTHER, out);
    }
    const int err = write_session(d, it, k);
    if (err < 0) {
        return error_reply(d, code, err_bits(err), out);
    }
    memcpy(d->last_operator, data + 8, 4);
    return reply_frame(d->cfg.address, (uint8_t)(code | 0x80u), NULL, 0, out);
}

/* Log a change the model has no write for (demand clear, event clear) and make it durable. */
static int log_change(mc_dlt645_t *d, mc_qty q, uint32_t old_value, uint32_t new_value)
{
    mc_model_t *md = d->model;
    if (md->hooks.on_change != NULL) {
        md->hooks.on_change(md->hooks.ctx, q, 0u, old_value, new_value, MC_SRC_BUS);
    }
    return md->hooks.commit != NULL ? md->hooks.commit(md->hooks.ctx) : MC_OK;
}

/* 19H, 1AH, 1BH: PA P0..P2, C0..C3 (and 1BH the identifier of the events to clear). */
static int do_clear(mc_dlt645_t *d, uint8_t code, const uint8_t *data, size_t n, uint8_t *out)
{
    const size_t need = code == MC_DLT645_EVENT_CLEAR ? 12u : 8u;
    if (n != need) {
        return error_reply(d, code, MC_DLT645_ERR_OTHER, out);
    }
    uint8_t e = login(d, data);
    if (e != 0u) {
        return error_reply(d, code, e, out);
    }
    int err = MC_OK;
    mc_model_t *md = d->model;
    if (code == MC_DLT645_METER_CLEAR) {
        mc_write_item_t it;
        item_u(&it, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND);
        err = write_session(d, &it, 1);
    } else if (!session_param(d)) {
        err = MC_ERR_DENIED;
    } else if (code == MC_DLT645_DEMAND_CLEAR) {
        if (md->tariff == NULL) {
            err = MC_ERR_NODATA;
        } else {
            uint32_t old;
            memcpy(&old, &md->tariff->max_demand_p, sizeof(old));
            md->tariff->max_demand_p = 0.0f;
            md->tariff->max_demand_p_at = 0u;
            err = log_change(d, MC_QTY_MAX_DEMAND_P, old, 0u);
        }
    } else {
        /* Event clear: the log is the audit trail, which no command erases; the request is
         * authorised, logged (old = the identifier asked for, new = the events kept) and answered. */
        const unsigned kept = md->hooks.event_count != NULL ? md->hooks.event_count(md->hooks.ctx) : 0u;
        err = log_change(d, MC_QTY_EVENT_COUNT, get_di(data + 8), kept);
    }
    if (err < 0) {
        return error_reply(d, code, err_bits(err), out);
    }
    memcpy(d->last_operator, data + 4, 4);
    return reply_frame(d->cfg.address, (uint8_t)(code | 0x80u), NULL, 0, out);
}

/* 18H: DI 04000C01..05, old PA P0..P2, new PAN P0N..P2N. */
static int do_password(mc_dlt645_t *d, const uint8_t *data, size_t n, uint8_t *out)
{
    const uint8_t code = MC_DLT645_PASSWORD;
    if (n != 12u) {
        return error_reply(d, code, MC_DLT645_ERR_OTHER, out);
    }
    const uint32_t di = get_di(data);
    if ((di & 0xFFFFFF00u) != DI(0x04, 0x00, 0x0C, 0x00) || DI0(di) < 0x01u || DI0(di) > 0x05u ||
        data[8] != DI0(di) - 1u) {
        return error_reply(d, code, MC_DLT645_ERR_PASSWORD, out);
    }
    uint8_t e = login(d, data + 4);
    if (e != 0u) {
        return error_reply(d, code, e, out);
    }
    const int b0 = from_bcd(data[9]), b1 = from_bcd(data[10]), b2 = from_bcd(data[11]);
    if (b0 < 0 || b1 < 0 || b2 != 0) {
        return error_reply(d, code, MC_DLT645_ERR_OTHER, out); /* the meter holds 0..9999 */
    }
    mc_write_item_t it;
    item_u(&it, MC_QTY_PASSWORD, 0, (unsigned)b1 * 100u + (unsigned)b0);
    const int err = write_session(d, &it, 1);
    if (err < 0) {
        return error_reply(d, code, err_bits(err), out);
    }
    return reply_frame(d->cfg.address, (uint8_t)(code | 0x80u), data + 8, 4, out);
}

/* 08H: ss mm hh DD MM YY, broadcast, no reply. A small correction, once a day, logged. */
static void do_bcast_time(mc_dlt645_t *d, const uint8_t *data, size_t n)
{
    mc_model_t *md = d->model;
    if (n != 6u || d->cfg.bcast_time_max_s == 0u) {
        return;
    }
    int f[6];
    for (unsigned k = 0; k < 6u; k++) {
        f[k] = from_bcd(data[k]);
        if (f[k] < 0) {
            return;
        }
    }
    mc_datetime_t dt;
    memset(&dt, 0, sizeof(dt));
    dt.second = (uint8_t)f[0];
    dt.minute = (uint8_t)f[1];
    dt.hour = (uint8_t)f[2];
    dt.day = (uint8_t)f[3];
    dt.month = (uint8_t)f[4];
    dt.year = (uint16_t)(2000 + f[5]);
    mc_time_t t;
    const mc_time_t now = model_time(md);
    if (mc_time_from_datetime(&dt, &t) != MC_OK || now == 0u) {
        return;
    }
    const uint32_t diff = t > now ? t - now : now - t;
    if (diff > d->cfg.bcast_time_max_s || diff == 0u) {
        return;
    }
    if (md->hooks.monotonic_ms == NULL) {
        return; /* without a monotonic clock "once a day" cannot be kept: not at all */
    }
    const uint32_t ms = md->hooks.monotonic_ms(md->hooks.ctx);
    if (d->bcast_done && ms - d->bcast_at_ms < MC_DLT645_BCAST_INTERVAL_S * 1000u) {
        return;
    }
    mc_write_item_t it[6];
    for (unsigned k = 0; k < 6u; k++) {
        item_u(&it[k], MC_QTY_CLOCK, k, k == 0u ? (unsigned)dt.year : (unsigned)f[5u - k]);
    }
    if (mc_model_write(md, it, 6, MC_SRC_BUS) == MC_OK) {
        d->bcast_done = 1;
        d->bcast_at_ms = ms;
    }
}

/* Address match: every byte ours, except high bytes given as AAH (abbreviated address). 1 all AA. */
static int address_match(const mc_dlt645_t *d, const uint8_t *a)
{
    unsigned k = 6;
    while (k > 0u && a[k - 1u] == 0xAAu) {
        k--;
    }
    return memcmp(a, d->cfg.address, k) == 0;
}

int mc_dlt645_handle_frame(mc_dlt645_t *d, const uint8_t *frame, size_t len, uint8_t *reply)
{
    if (d == NULL || d->model == NULL || frame == NULL || reply == NULL) {
        return MC_ERR_INVAL;
    }
    if (len < 12u || len > MC_DLT645_FRAME_MAX || frame[0] != 0x68u || frame[7] != 0x68u ||
        frame[9] > MC_DLT645_DATA_MAX || len != 12u + frame[9] || frame[len - 1u] != 0x16u ||
        checksum(frame, len - 2u) != frame[len - 2u]) {
        d->stats.bad_frames++;
        return 0;
    }
    const uint8_t *a = frame + 1;
    const uint8_t c = frame[8];
    const uint8_t code = (uint8_t)(c & 0x1Fu);
    const int bcast = all_bytes(a, 0x99u);
    const int wild = all_bytes(a, 0xAAu);
    if ((c & 0x80u) != 0u || (!bcast && !address_match(d, a)) ||
        (bcast && code != MC_DLT645_BCAST_TIME && code != MC_DLT645_FREEZE) ||
        (wild && code != MC_DLT645_READ && code != MC_DLT645_READ_NEXT && code != MC_DLT645_READ_ADDR &&
         code != MC_DLT645_WRITE_ADDR)) {
        d->stats.foreign++;
        return 0;
    }
    d->stats.frames++;
    uint8_t data[MC_DLT645_DATA_MAX];
    const size_t n = frame[9];
    for (size_t k = 0; k < n; k++) {
        data[k] = (uint8_t)(frame[10u + k] - 0x33u);
    }
    /* every frame checks the session: one idle past its timeout ends now */
    (void)mc_session_level(d->model, &d->session);
    if (code != MC_DLT645_READ_NEXT) {
        d->follow_active = 0;
    }
    int r;
    switch (code) {
    case MC_DLT645_BCAST_TIME:
        if (bcast) {
            do_bcast_time(d, data, n);
        }
        return 0; /* never answered */
    case MC_DLT645_READ:
        if (n != 4u) {
            return error_reply(d, code, MC_DLT645_ERR_NO_DATA, reply); /* load profile reads (N, time): none */
        }
        return read_items(d, get_di(data), 0, code, 0, 0, reply);
    case MC_DLT645_READ_NEXT:
        if (n != 5u || !d->follow_active || get_di(data) != d->follow_di || data[4] != d->follow_seq) {
            d->follow_active = 0;
            return error_reply(d, code, MC_DLT645_ERR_NO_DATA, reply);
        }
        return read_items(d, d->follow_di, d->follow_item, code, 1, data[4], reply);
    case MC_DLT645_READ_ADDR:
        if (n != 0u) {
            return error_reply(d, code, MC_DLT645_ERR_OTHER, reply);
        }
        return reply_frame(d->cfg.address, 0x93u, d->cfg.address, 6, reply);
    case MC_DLT645_WRITE:
        r = do_write(d, data, n, reply);
        break;
    case MC_DLT645_WRITE_ADDR:
        if (n != 6u || !address_valid(data) || all_bytes(data, 0xAAu)) {
            r = error_reply(d, code, MC_DLT645_ERR_OTHER, reply);
        } else if (!session_param(d)) {
            r = error_reply(d, code, MC_DLT645_ERR_PASSWORD, reply);
        } else {
            memcpy(d->cfg.address, data, 6);
            if (d->port.address_changed != NULL) {
                d->port.address_changed(d->port.ctx, d->cfg.address);
            }
            r = reply_frame(d->cfg.address, 0x95u, NULL, 0, reply);
        }
        break;
    case MC_DLT645_FREEZE: {
        /* mm hh DD MM: 99 DD hh 00 (MM = 99) sets the monthly freeze (settlement) day and hour;
         * daily, hourly and instant freezes have no store in the data model. */
        const int dd = n == 4u ? from_bcd(data[2]) : -1, hh = n == 4u ? from_bcd(data[1]) : -1;
        if (n != 4u || data[3] != 0x99u || data[0] != 0x00u || dd < 0 || hh < 0 || data[2] == 0x99u ||
            data[1] == 0x99u) {
            r = error_reply(d, code, MC_DLT645_ERR_OTHER, reply);
        } else if (!session_param(d)) {
            r = error_reply(d, code, MC_DLT645_ERR_PASSWORD, reply);
        } else {
            mc_write_item_t it[2];
            item_u(&it[0], MC_QTY_SETTLE_DAY, 0, (unsigned)dd);
            item_u(&it[1], MC_QTY_SETTLE_HOUR, 0, (unsigned)hh);
            const int err = write_session(d, it, 2);
            r = err < 0 ? error_reply(d, code, err_bits(err), reply)
                        : reply_frame(d->cfg.address, 0x96u, NULL, 0, reply);
        }
        break;
    }
    case MC_DLT645_BAUD: {
        const uint8_t z = n == 1u ? data[0] : 0u;
        const uint32_t baud = z == 0x04u ? 1200u : z == 0x08u ? 2400u : z == 0x10u ? 4800u : z == 0x20u ? 9600u : 0u;
        if (baud == 0u) {
            r = error_reply(d, code, MC_DLT645_ERR_BAUD, reply);
        } else if (!session_param(d)) {
            r = error_reply(d, code, MC_DLT645_ERR_PASSWORD, reply);
        } else {
            d->next_baud_pending = 1;
            d->next_baud = baud;
            r = reply_frame(d->cfg.address, 0x97u, &z, 1, reply);
        }
        break;
    }
    case MC_DLT645_PASSWORD:
        r = do_password(d, data, n, reply);
        break;
    case MC_DLT645_DEMAND_CLEAR:
    case MC_DLT645_METER_CLEAR:
    case MC_DLT645_EVENT_CLEAR:
        r = do_clear(d, code, data, n, reply);
        break;
    default:
        r = error_reply(d, code, MC_DLT645_ERR_OTHER, reply);
        break;
    }
    if (d->session.one_request) {
        mc_session_end(&d->session);
    }
    if (bcast) {
        return 0; /* a broadcast freeze is executed, never answered */
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* Framer                                                                   */

/*
 * Judge the bytes in buf (each append, and after a broken frame was dropped). The buffer
 * always starts with 68H, and holds less than a whole frame until one is complete: once
 * a frame's length (12 + L) is there, it is either served (ready; bytes after it, possible
 * only after a resync, are dropped) or broken, and then the search goes on from the next
 * 68H after its first byte, judging what is left at once. So len never passes the frame
 * length, which is at most MC_DLT645_FRAME_MAX.
 */
static void scan(mc_dlt645_t *d)
{
    for (;;) {
        const uint8_t *b = d->buf;
        const size_t n = d->len;
        int broken = 0;
        if (n == 0u) {
            return;
        }
        if (b[0] != 0x68u || (n >= 8u && b[7] != 0x68u) || (n >= 10u && b[9] > MC_DLT645_DATA_MAX)) {
            broken = 1;
        } else if (n >= 10u && n >= 12u + (size_t)b[9]) {
            const size_t full = 12u + (size_t)b[9];
            if (b[full - 1u] == 0x16u && checksum(b, full - 2u) == b[full - 2u]) {
                d->stats.overruns += (uint32_t)(n - full);
                d->len = (uint16_t)full;
                d->ready = 1;
                return;
            }
            broken = 1;
        }
        if (!broken) {
            return; /* a frame under way */
        }
        d->stats.bad_frames++;
        size_t k = 1;
        while (k < n && d->buf[k] != 0x68u) {
            if (d->buf[k] != 0xFEu) {
                d->stats.garbage++;
            }
            k++;
        }
        memmove(d->buf, d->buf + k, n - k);
        d->len = (uint16_t)(n - k);
    }
}

void mc_dlt645_rx_byte(mc_dlt645_t *d, uint8_t byte, uint32_t now_us)
{
    if (d == NULL || d->model == NULL) {
        return;
    }
    if (d->ready) {
        d->stats.overruns++;
        return;
    }
    if (d->len > 0u && now_us - d->last_us > d->cfg.byte_timeout_ms * 1000u) {
        d->stats.timeouts++;
        d->len = 0;
    }
    d->last_us = now_us;
    if (d->len == 0u) {
        if (byte != 0x68u) {
            if (byte != 0xFEu) {
                d->stats.garbage++;
            }
            return;
        }
    }
    d->buf[d->len++] = byte; /* (len < MC_DLT645_FRAME_MAX here: see scan()) */
    scan(d);
}

int mc_dlt645_poll(mc_dlt645_t *d, uint32_t now_us)
{
    if (d == NULL || d->model == NULL) {
        return MC_ERR_INVAL;
    }
    int ret = 0;
    if (d->ready) {
        uint8_t reply[MC_DLT645_REPLY_MAX];
        const int n = mc_dlt645_handle_frame(d, d->buf, d->len, reply);
        d->ready = 0;
        d->len = 0;
        ret = 1;
        if (n > 0 && d->port.send != NULL) {
            d->stats.replies++;
            const int rc = d->port.send(d->port.ctx, reply, (size_t)n);
            if (rc < 0) {
                ret = rc;
            }
        }
        if (d->next_baud_pending) {
            d->next_baud_pending = 0;
            d->cfg.baud = d->next_baud;
            if (d->port.line != NULL) {
                d->port.line(d->port.ctx, d->next_baud);
            }
        }
    } else if (d->len > 0u && now_us - d->last_us > d->cfg.byte_timeout_ms * 1000u) {
        d->stats.timeouts++;
        d->len = 0;
        ret = 2;
    }
    return ret;
}
