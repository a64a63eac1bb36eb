/*
 * libFuzzer target: the Modbus-RTU framer and the PDU handler (mc_modbus.h)
 * over a real data model (meter, tariff, relay and DI, hooks).
 *
 * Input: data[0] is a flags byte, the rest depends on its bit 7.
 *   flags bit 7 = 1  PDU mode: data[1..] is a request PDU for mc_modbus_handle_pdu(),
 *                    served on a client session (not logged in; a request that
 *                    writes the password register first logs in) from a separate
 *                    buffer and in place (same result required, from the same
 *                    model state), broadcast (no response), and without a
 *                    session (NULL, the public path); then through every other
 *                    built-in map (SDM120, SDM630, SunSpec), with and without the session.
 *   flags bit 7 = 0  framer mode: data[1..] is pairs (timing, byte); the byte is
 *                    fed to mc_rtu_rx_byte() at a time derived from the timing
 *                    byte (see next_time()), with polls in between, so that
 *                    back-to-back bytes, gaps around t1.5 and t3.5, unpolled
 *                    frames, bursts and counter wrap-around all occur. Unit 2
 *                    answers with the SDM630 map besides the meter's address.
 *   bits 0-1  baud code - 1 the model starts with (1200..9600)
 *   bit 2     require_unlock (password protection)
 *   bit 3     CDAB word order
 *   bit 4     framer mode: start the µs clock 3 ms before it wraps;
 *             PDU mode: a model without tariff
 *   bit 5     the relay hook and the port's send fail
 *   bit 6     the DI reads closed
 *
 * Checked besides ASan/UBSan: PDU responses are at most 253 bytes, start with
 * the function code (| 0x80 for a 2-byte exception with code 1..4), and are 0
 * bytes when broadcast; ADUs sent are 5..256 bytes with a valid CRC and a
 * unicast address; line settings are valid; poll returns 0, 1, 2 or the port's error.
 * Seeds: tests/fuzz/corpus/, made by tests/fuzz/gen_corpus.py.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metercore/mc_modbus.h"
#include "metercore/mc_registers.h"
#include "metercore/metercore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEND_ERROR MC_ERR_NODATA

static struct {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t md;
    mc_rtu_t rtu;
    mc_auth_guard_t guard;   /* PDU mode: the client's interface guard */
    mc_session_t session;    /* and its session (not logged in at the start) */
    uint8_t flags;
    mc_time_t clock;
} g;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_modbus: check failed: %s (line %d)\n", #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Hooks and port                                                           */

static void on_change(void *ctx, mc_qty qty, unsigned arg, uint32_t old_value, uint32_t new_value,
                      mc_source source)
{
    (void)ctx;
    (void)arg;
    (void)old_value;
    (void)new_value;
    CHECK(qty > MC_QTY_NONE && qty < MC_QTY_COUNT);
    CHECK(source == MC_SRC_BUS);
}

static int relay(void *ctx, int close)
{
    (void)ctx;
    CHECK(close == 0 || close == 1);
    return (g.flags & 0x20u) ? MC_ERR_INVAL : MC_OK;
}

static int di(void *ctx)
{
    (void)ctx;
    return (g.flags & 0x40u) != 0;
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

static uint32_t code_checksum(void *ctx)
{
    (void)ctx;
    return 0x12345678u;
}

static int port_send(void *ctx, const uint8_t *adu, size_t len)
{
    (void)ctx;
    CHECK(len >= 5u && len <= MC_RTU_ADU_MAX);
    CHECK(adu[0] >= 1u && adu[0] <= 247u);   /* never a reply to a broadcast */
    CHECK(mc_modbus_crc16(adu, len) == 0u);  /* CRC residue of a valid ADU */
    CHECK((adu[1] & 0x80u) == 0u || len == 5u);
    return (g.flags & 0x20u) ? SEND_ERROR : MC_OK;
}

static void port_line(void *ctx, uint32_t baud, uint8_t parity)
{
    (void)ctx;
    CHECK(baud == 1200u || baud == 2400u || baud == 4800u || baud == 9600u);
    CHECK(parity <= 2u);
}

/* A fresh model: KPM31 meter (no reading yet), tariff at 2024-03-01 12:00, relay and DI. */
static void model_init(uint8_t flags)
{
    memset(&g, 0, sizeof(g));
    g.flags = flags;
    mc_meter_config_t mcfg;
    mc_meter_config_default(&mcfg);
    mcfg.u_scale = 400.0f / 8388608.0f;
    mcfg.i_scale = 100.0f / 8388608.0f;
    CHECK(mc_meter_init(&g.meter, &mcfg) == MC_OK);

    mc_tariff_config_t tcfg;
    mc_tariff_config_default(&tcfg);
    mc_datetime_t dt = { .year = 2024, .month = 3, .day = 1, .hour = 12 };
    CHECK(mc_time_from_datetime(&dt, &g.clock) == MC_OK);
    CHECK(mc_tariff_init(&g.tariff, &tcfg, g.clock) == MC_OK);

    mc_model_config_t cfg = {
        .features = MC_FEAT_RELAY | MC_FEAT_DI,
        .require_unlock = (flags & 0x04u) ? 1u : 0u,
        .unlock_seconds = 300,
    };
    mc_model_hooks_t hooks = {
        .on_change = on_change, .relay = relay, .di = di, .now = now,
        .set_clock = set_clock, .code_checksum = code_checksum, .ctx = NULL,
    };
    mc_params_t params;
    mc_params_default(&params);
    params.baud_code = (uint8_t)(1u + (flags & 0x03u));
    params.word_order = (flags & 0x08u) ? 1u : 0u;
    mc_tariff_t *tariff = (flags & 0x90u) == 0x90u ? NULL : &g.tariff;
    CHECK(mc_model_init(&g.md, &cfg, &hooks, &g.meter, tariff, &params) == MC_OK);
    mc_auth_guard_init(&g.guard, MC_IFACE_TCP);
    mc_session_init(&g.session, &g.guard);
}

/* ------------------------------------------------------------------------ */
/* PDU mode                                                                 */

static void check_response(const uint8_t *req, const uint8_t *resp, int rc)
{
    CHECK(rc >= 2 && rc <= (int)MC_MODBUS_PDU_MAX);
    if (resp[0] & 0x80u) {
        CHECK(resp[0] == (req[0] | 0x80u));
        CHECK(rc == 2);
        CHECK(resp[1] >= MC_MB_EX_ILLEGAL_FUNCTION && resp[1] <= MC_MB_EX_DEVICE_FAILURE);
    } else {
        CHECK(resp[0] == req[0]);
    }
}

static void fuzz_pdu(uint8_t flags, const uint8_t *req, size_t len)
{
    uint8_t dummy[MC_MODBUS_PDU_MAX];
    if (len == 0u || len > MC_MODBUS_PDU_MAX) {
        model_init(flags);
        CHECK(mc_modbus_handle_pdu(&g.md, &g.session, req != NULL ? req : dummy, len, dummy, 0) == MC_ERR_INVAL);
        CHECK(mc_modbus_handle_pdu(&g.md, NULL, req != NULL ? req : dummy, len, dummy, 0) == MC_ERR_INVAL);
        if (len == 0u) {
            return;
        }
        len = MC_MODBUS_PDU_MAX;
    }
    /* Exactly sized heap buffers, so that ASan sees any access past them. */
    uint8_t *resp = malloc(MC_MODBUS_PDU_MAX);
    uint8_t *inplace = malloc(MC_MODBUS_PDU_MAX);
    uint8_t *req_copy = malloc(len);
    CHECK(resp != NULL && inplace != NULL && req_copy != NULL);
    memcpy(req_copy, req, len);

    model_init(flags);
    int rc = mc_modbus_handle_pdu(&g.md, &g.session, req_copy, len, resp, 0);
    check_response(req, resp, rc);
    CHECK(memcmp(req_copy, req, len) == 0); /* the request is const */

    /* The same request in place, from the same state, gives the same response. */
    model_init(flags);
    memset(inplace, 0xA5, MC_MODBUS_PDU_MAX);
    memcpy(inplace, req, len);
    int rc2 = mc_modbus_handle_pdu(&g.md, &g.session, inplace, len, inplace, 0);
    CHECK(rc2 == rc);
    CHECK(memcmp(inplace, resp, (size_t)rc) == 0);

    /* Broadcast: executed or refused, never answered. */
    model_init(flags);
    CHECK(mc_modbus_handle_pdu(&g.md, &g.session, req_copy, len, resp, 1) == 0);

    /* Without a session (public: reads only), from the same state. */
    model_init(flags);
    rc = mc_modbus_handle_pdu(&g.md, NULL, req_copy, len, resp, 0);
    check_response(req, resp, rc);

    /* Every other built-in map (SDM120, SDM630, SunSpec: input tables, scaled and constant formats,
     * floats written to word settings), on the session and without one. */
    for (size_t k = 1; mc_regmap_builtin_at(k) != NULL; k++) {
        const mc_regmap_t *map = mc_regmap_builtin_at(k);
        model_init(flags);
        rc = mc_modbus_handle_pdu_map(map, &g.md, &g.session, req_copy, len, resp, 0);
        check_response(req, resp, rc);
        rc = mc_modbus_handle_pdu_map(map, &g.md, NULL, req_copy, len, resp, 0);
        check_response(req, resp, rc);
    }

    free(req_copy);
    free(inplace);
    free(resp);
}

/* ------------------------------------------------------------------------ */
/* Framer mode                                                              */

static void poll_at(uint32_t t)
{
    int rc = mc_rtu_poll(&g.rtu, t);
    CHECK(rc == 0 || rc == 1 || rc == 2 || rc == SEND_ERROR);
    CHECK(g.rtu.len <= MC_RTU_ADU_MAX);
}

/*
 * Arrival time of the next byte after one at `last`, from a timing byte: low 3
 * bits choose the kind of gap, the high 5 bits (k) a parameter. Some kinds poll
 * before the byte arrives.
 */
static uint32_t next_time(uint32_t last, uint8_t timing)
{
    const uint32_t k = timing >> 3;
    const uint32_t baud = g.rtu.baud != 0u ? g.rtu.baud : 9600u;
    const uint32_t tc = (11000000u + baud - 1u) / baud;
    const uint32_t t15 = g.rtu.t15_us, t35 = g.rtu.t35_us;
    switch (timing & 7u) {
    case 0: /* back to back */
        return last + tc;
    case 1: /* a silence within t1.5 */
        return last + tc + k * t15 / 31u;
    case 2: /* just over t1.5 */
        return last + tc + t15 + k / 4u;
    case 3: /* around t3.5, never polled */
        return last + tc + t35 - 16u + k;
    case 4: /* poll mid-frame or just as the frame is due, then a byte right after */
        poll_at(last + k * t35 / 16u);
        return last + k * t35 / 16u + tc;
    case 5: /* bursts and odd spacings, including several bytes with one timestamp */
        return last + k * 37u;
    case 6: /* a jump of about half the counter range (and across its wrap) */
        poll_at(last + 0x7FFFFFF0u + k);
        return last + 0x7FFFFFF0u + k;
    default: /* poll when due, then a new frame; sometimes poll "before" the last byte */
        if (k & 1u) {
            poll_at(last - 1u);
        }
        poll_at(last + t35 + k);
        return last + t35 + tc + k * 100u;
    }
}

static void fuzz_framer(uint8_t flags, const uint8_t *d, size_t n)
{
    model_init(flags);
    mc_rtu_port_t port = { .send = port_send, .line = port_line, .ctx = NULL };
    CHECK(mc_rtu_init(&g.rtu, &g.md, &port) == MC_OK);
    CHECK(mc_rtu_add_unit(&g.rtu, 2, mc_regmap_builtin("sdm630")) == MC_OK); /* frames for unit 2 too */
    uint32_t t = (flags & 0x10u) ? UINT32_MAX - 3000u : 1000u;
    for (size_t i = 0; i + 1u < n; i += 2u) {
        t = next_time(t, d[i]);
        mc_rtu_rx_byte(&g.rtu, d[i + 1u], t);
        CHECK(g.rtu.len <= MC_RTU_ADU_MAX);
    }
    /* Not yet due, then due: the last frame is served or dropped. */
    poll_at(t + g.rtu.t35_us - 1u);
    poll_at(t + g.rtu.t35_us);
    CHECK(!g.rtu.have_frame);
    poll_at(t + 2u * g.rtu.t35_us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1u) {
        return 0;
    }
    const uint8_t flags = data[0];
    if (flags & 0x80u) {
        fuzz_pdu(flags, data + 1, size - 1u);
    } else {
        fuzz_framer(flags, data + 1, size - 1u);
    }
    return 0;
}
