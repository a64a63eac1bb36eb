/*
 * libFuzzer target: the DL/T 645-2007 slave (mc_dlt645.h), framer and frame handler,
 * over a real data model (meter, tariff, clock, monotonic clock, event log hooks).
 *
 * Input: data[0] is a flags byte, the rest depends on its bit 7.
 *   flags bit 7 = 1  frame mode: data[1..] is one frame for mc_dlt645_handle_frame().
 *                    With bit 6 the frame is repaired first (L set to the data that
 *                    follows, checksum and 16H written; bit 5 also writes our address),
 *                    so that the fuzzer reaches every control code; without it the frame
 *                    goes as it is, and one that is not a valid frame must get no reply
 *                    and change nothing.
 *   flags bit 7 = 0  framer mode: data[1..] is pairs (timing, byte) fed to
 *                    mc_dlt645_rx_byte() at times derived from the timing byte (back to
 *                    back, slow, past the inter-byte timeout), with mc_dlt645_poll() in between.
 *   bit 0  the model's require_unlock
 *   bit 1  the line's session logged in (password 6666) before the input
 *   bit 2  a model without tariff
 *   bit 3  no monotonic clock hook
 *
 * Checked besides ASan/UBSan: every reply is 16..216 bytes, 4 FEH, 68H, the slave's
 * address, 68H, C with D7 set (an error reply: D6 set, L = 1), L <= 200, data, a right
 * checksum, 16H; the framer serves only frames with a right checksum and 16H; a frame
 * with a wrong checksum or structure gets no reply and leaves parameters, clock and
 * energy as they were; the baud rate is always one the standard offers.
 * Seeds: tests/fuzz/corpus/dlt645/.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metercore/mc_dlt645.h"
#include "metercore/metercore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t md;
    mc_dlt645_t d;
    mc_time_t clock;
    uint32_t mono;
    unsigned events;
} g;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_dlt645: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void on_change(void *ctx, mc_qty qty, unsigned arg, uint32_t o, uint32_t n, mc_source source)
{
    (void)ctx;
    (void)arg;
    (void)o;
    (void)n;
    CHECK(qty > MC_QTY_NONE && qty < MC_QTY_COUNT);
    CHECK(source == MC_SRC_BUS);
    g.events++;
}

static mc_time_t now(void *ctx)
{
    (void)ctx;
    return g.clock;
}

static int set_clock(void *ctx, mc_time_t t)
{
    (void)ctx;
    CHECK(t <= MC_TIME_MAX);
    g.clock = t;
    return MC_OK;
}

static uint32_t mono(void *ctx)
{
    (void)ctx;
    return g.mono;
}

static unsigned ev_count(void *ctx)
{
    (void)ctx;
    return g.events > 3u ? 3u : g.events;
}

static int ev_read(void *ctx, unsigned i, mc_event_t *out)
{
    (void)ctx;
    if (i >= ev_count(NULL)) {
        return MC_ERR_NODATA;
    }
    memset(out, 0, sizeof(*out));
    out->seq = g.events - i;
    out->time = g.clock;
    out->type = (uint8_t)(MC_EV_ENERGY_CLEAR + i);
    out->qty = (uint8_t)(i == 2u ? MC_QTY_MAX_DEMAND_P : 0u);
    out->old_value = 0xFFFFFFFFu;
    out->new_value = g.clock;
    return MC_OK;
}

static void check_reply(const uint8_t *r, size_t n)
{
    CHECK(n >= 16u && n <= MC_DLT645_REPLY_MAX);
    for (unsigned k = 0; k < 4u; k++) {
        CHECK(r[k] == 0xFEu);
    }
    const uint8_t *f = r + 4;
    CHECK(f[0] == 0x68u && f[7] == 0x68u);
    CHECK(memcmp(f + 1, g.d.cfg.address, 6) == 0);
    CHECK((f[8] & 0x80u) != 0u);
    CHECK(f[9] <= MC_DLT645_DATA_MAX && n == 16u + f[9]);
    if (f[8] & 0x40u) {
        CHECK(f[9] == 1u);
    }
    unsigned s = 0;
    for (size_t k = 0; k < 10u + f[9]; k++) {
        s += f[k];
    }
    CHECK(f[10u + f[9]] == (uint8_t)s);
    CHECK(f[11u + f[9]] == 0x16u);
}

static int port_send(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    check_reply(frame, len);
    return MC_OK;
}

static void port_line(void *ctx, uint32_t baud)
{
    (void)ctx;
    CHECK(baud == 1200u || baud == 2400u || baud == 4800u || baud == 9600u);
}

static void model_init(uint8_t flags)
{
    memset(&g, 0, sizeof(g));
    mc_meter_config_t mcfg;
    mc_meter_config_default(&mcfg);
    mcfg.u_scale = 400.0f / 8388608.0f;
    mcfg.i_scale = 100.0f / 8388608.0f;
    CHECK(mc_meter_init(&g.meter, &mcfg) == MC_OK);
    mc_tariff_config_t tcfg;
    mc_tariff_config_default(&tcfg);
    mc_datetime_t dt = {.year = 2024, .month = 3, .day = 1, .hour = 12};
    CHECK(mc_time_from_datetime(&dt, &g.clock) == MC_OK);
    CHECK(mc_tariff_init(&g.tariff, &tcfg, g.clock) == MC_OK);
    g.tariff.max_demand_p = 1234.5f;
    g.mono = 1000;
    mc_model_config_t cfg;
    mc_model_config_default(&cfg);
    cfg.require_unlock = (flags & 0x01u) ? 1u : 0u;
    mc_model_hooks_t h = {0};
    h.on_change = on_change;
    h.now = now;
    h.set_clock = set_clock;
    h.monotonic_ms = (flags & 0x08u) ? NULL : mono;
    h.event_count = ev_count;
    h.event_read = ev_read;
    CHECK(mc_model_init(&g.md, &cfg, &h, &g.meter, (flags & 0x04u) ? NULL : &g.tariff, NULL) == MC_OK);
    mc_dlt645_config_t dc;
    mc_dlt645_config_default(&dc);
    mc_dlt645_port_t port = {port_send, port_line, NULL, NULL};
    CHECK(mc_dlt645_init(&g.d, &g.md, &dc, &port) == MC_OK);
    if (flags & 0x02u) {
        CHECK(mc_session_login(&g.md, &g.d.session, 6666) == MC_OK);
    }
}

/* Whether f[0..n) is a frame by the standard's rules (written here, not the slave's). */
static int valid_frame(const uint8_t *f, size_t n)
{
    if (n < 12u || f[0] != 0x68u || f[7] != 0x68u || f[9] > 200u || n != 12u + f[9] || f[n - 1u] != 0x16u) {
        return 0;
    }
    unsigned s = 0;
    for (size_t k = 0; k + 2u < n; k++) {
        s += f[k];
    }
    return (uint8_t)s == f[n - 2u];
}

typedef struct snapshot {
    mc_params_t params;
    mc_time_t clock;
    float e, md;
    uint8_t address[6];
    uint32_t baud;
} snapshot_t;

static snapshot_t snap(void)
{
    snapshot_t s;
    memset(&s, 0, sizeof(s));
    s.params = g.md.params;
    s.clock = g.clock;
    mc_value_t v;
    (void)mc_model_read(&g.md, MC_QTY_E_ACTIVE, 0, &v);
    s.e = v.f;
    s.md = g.tariff.max_demand_p;
    memcpy(s.address, g.d.cfg.address, 6);
    s.baud = g.d.cfg.baud;
    return s;
}

static void fuzz_frame(uint8_t flags, const uint8_t *in, size_t len)
{
    uint8_t *f = malloc(len > 0u ? len : 1u);
    uint8_t *reply = malloc(MC_DLT645_REPLY_MAX);
    CHECK(f != NULL && reply != NULL);
    memcpy(f, in, len);
    if ((flags & 0x40u) && len >= 12u && len <= MC_DLT645_FRAME_MAX) {
        f[0] = 0x68;
        f[7] = 0x68;
        if (flags & 0x20u) {
            memcpy(f + 1, g.d.cfg.address, 6);
        }
        f[9] = (uint8_t)(len - 12u);
        unsigned s = 0;
        for (size_t k = 0; k + 2u < len; k++) {
            s += f[k];
        }
        f[len - 2u] = (uint8_t)s;
        f[len - 1u] = 0x16;
    }
    const int valid = valid_frame(f, len);
    const snapshot_t before = snap();
    const unsigned events = g.events;
    const int n = mc_dlt645_handle_frame(&g.d, f, len, reply);
    CHECK(n >= 0);
    if (n > 0) {
        CHECK(valid);
        check_reply(reply, (size_t)n);
        /* the reply answers the request's code */
        CHECK((reply[4 + 8] & 0x1Fu) == (f[8] & 0x1Fu));
    }
    if (!valid) {
        const snapshot_t after = snap();
        CHECK(memcmp(&before.params, &after.params, sizeof(before.params)) == 0);
        CHECK(before.clock == after.clock && before.e == after.e && before.md == after.md);
        CHECK(memcmp(before.address, after.address, 6) == 0 && before.baud == after.baud);
        CHECK(events == g.events);
    }
    free(f);
    free(reply);
}

static void fuzz_framer(const uint8_t *in, size_t len)
{
    uint32_t t = 0xFFFF0000u; /* wraps during the input */
    for (size_t k = 0; k + 1u < len; k += 2u) {
        const uint8_t timing = in[k];
        switch (timing >> 6) {
        case 0:
            t += 4583u; /* back to back at 2400 baud */
            break;
        case 1:
            t += (uint32_t)timing * 8000u; /* up to ~500 ms */
            break;
        case 2:
            t += 490000u + (uint32_t)(timing & 0x3Fu) * 1000u; /* around the 500 ms timeout */
            break;
        default:
            t += 2000000u;
            g.mono += 90000000u; /* and a day passes now and then */
            break;
        }
        mc_dlt645_rx_byte(&g.d, in[k + 1u], t);
        if (g.d.ready) {
            CHECK(valid_frame(g.d.buf, g.d.len));
        }
        if (timing & 0x01u) {
            const int r = mc_dlt645_poll(&g.d, t);
            CHECK(r >= 0 && r <= 2);
        }
    }
    const int r = mc_dlt645_poll(&g.d, t + 600000u);
    CHECK(r >= 0 && r <= 2);
    CHECK(g.d.cfg.baud == 1200u || g.d.cfg.baud == 2400u || g.d.cfg.baud == 4800u || g.d.cfg.baud == 9600u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1u) {
        return 0;
    }
    const uint8_t flags = data[0];
    model_init(flags);
    if (flags & 0x80u) {
        fuzz_frame(flags, data + 1, size - 1u);
    } else {
        fuzz_framer(data + 1, size - 1u);
    }
    return 0;
}
