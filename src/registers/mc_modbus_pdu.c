/*
 * metercore registers: the Modbus PDU handler over the data model and register map.
 * Transport-independent: the RTU framer (mc_rtu.c) and a TCP server both call it.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "metercore/mc_modbus.h"

#include "mc_regmap_internal.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static int exception(uint8_t *resp, uint8_t fc, mc_modbus_exception ex)
{
    resp[0] = (uint8_t)(fc | 0x80u);
    resp[1] = (uint8_t)ex;
    return 2;
}

/* Register width of an entry's items. */
static unsigned width(const mc_reg_entry_t *e)
{
    return (e->format == MC_FMT_F32 || e->format == MC_FMT_U32) ? 2u : 1u;
}

/* A table of a map: holding (FC 03/06/10) or input (FC 04). */
typedef struct table {
    const mc_reg_entry_t *t;
    size_t n;
} table_t;

static table_t holding_of(const mc_regmap_t *map)
{
    table_t r = { map->holding, map->holding != NULL ? map->n_holding : 0u };
    return r;
}

static table_t input_of(const mc_regmap_t *map)
{
    table_t r = { map->input, map->input != NULL ? map->n_input : 0u };
    return r;
}

/* The entry holding register `addr`, or NULL. The table is sorted: binary search. */
static const mc_reg_entry_t *find(table_t tb, uint32_t addr)
{
    size_t lo = 0, hi = tb.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2u;
        const uint32_t start = tb.t[mid].addr;
        const uint32_t end = start + (uint32_t)tb.t[mid].count * width(&tb.t[mid]);
        if (addr < start) {
            hi = mid;
        } else if (addr >= end) {
            lo = mid + 1u;
        } else {
            return &tb.t[mid];
        }
    }
    return NULL;
}

/* Whether any register in [start, start + qty) is defined (a write-only one reads 0). */
static int any_served(table_t tb, uint32_t start, uint32_t qty)
{
    for (size_t k = 0; k < tb.n; k++) {
        const uint32_t a = tb.t[k].addr, b = a + (uint32_t)tb.t[k].count * width(&tb.t[k]);
        if (a < start + qty && start < b) {
            return 1;
        }
    }
    return 0;
}

/* Whether a map's two-register floats go low word first. */
static unsigned low_first(const mc_model_t *md, const mc_regmap_t *map)
{
    if (map->words == MC_REGMAP_WORDS_PARAM) {
        return md->params.word_order;
    }
    return map->words == MC_REGMAP_WORDS_CDAB ? 1u : 0u;
}

/* The two words of a float in the given order. */
static void float_words(float f, unsigned order, uint16_t w[2])
{
    uint32_t b;
    memcpy(&b, &f, sizeof(b));
    const uint16_t hi = (uint16_t)(b >> 16), lo = (uint16_t)b;
    w[0] = order ? lo : hi;
    w[1] = order ? hi : lo;
}

/* A float from two big-endian registers in the request, in the given word order. */
static float words_float(const uint8_t *p, unsigned order)
{
    const uint32_t w0 = get16(p), w1 = get16(p + 2);
    const uint32_t b = order ? (w1 << 16 | w0) : (w0 << 16 | w1);
    float f;
    memcpy(&f, &b, sizeof(f));
    return f;
}

/* value × 10^-scale, in float (the model's values are floats or 16-bit words, both exact in
 * float; each step by 10 rounds once, a relative 6e-8, below the readings' own resolution). */
static float scale10(float x, int scale)
{
    for (int k = 0; k < scale; k++) {
        x /= 10.0f;
    }
    for (int k = 0; k > scale; k--) {
        x *= 10.0f;
    }
    return x;
}

/* x rounded half away from zero and clamped to [lo, hi] (|lo|, |hi| < 2^31); NaN reads lo. */
static int32_t round_clamped(float x, int32_t lo, int32_t hi)
{
    if (!(x > (float)lo)) {
        return lo;
    }
    if (x >= (float)hi) {
        return hi;
    }
    const int32_t r = (int32_t)(x < 0.0f ? x - 0.5f : x + 0.5f);
    return r < lo ? lo : (r > hi ? hi : r);
}

/* x rounded to nearest and clamped to [0, 2^32 - 1]; NaN reads 0. */
static uint32_t round_clamped_u32(float x)
{
    if (!(x > 0.0f)) {
        return 0u;
    }
    if (x >= 4294967040.0f) { /* the largest float below 2^32: anything from here on is the limit */
        return 0xFFFFFFFFu;
    }
    return (uint32_t)(x + 0.5f);
}

/* Value of one register of a table; gaps, write-only registers and unreadable quantities read 0. */
static uint16_t read_register(const mc_model_t *md, const mc_regmap_t *map, table_t tb, uint32_t addr)
{
    const mc_reg_entry_t *e = find(tb, addr);
    if (e == NULL || !(e->access & MC_ACC_R)) {
        return 0;
    }
    const unsigned off = (unsigned)(addr - e->addr);
    const unsigned item = off / width(e);
    if (e->format == MC_FMT_CONST) {
        return e->konst;
    }
    if (e->format == MC_FMT_STR) {
        const char *str = (map->strings != NULL && e->arg < map->n_strings) ? map->strings[e->arg] : NULL;
        uint16_t w = 0;
        for (unsigned c = 0; str != NULL && c < 2u; c++) {
            /* characters 2*off and 2*off + 1, NUL once the string has ended */
            const size_t at = 2u * off + c;
            size_t len = 0;
            while (len <= at && str[len] != '\0') {
                len++;
            }
            w = (uint16_t)((w << 8) | (len > at ? (uint8_t)str[at] : 0u));
        }
        return w;
    }
    mc_value_t v;
    const unsigned arg = (unsigned)e->arg + item * e->arg_step;
    if ((e->flags & MC_REGF_ELEMENT_NAN) && arg >= mc_meter_elements(&md->meter->cfg)) {
        (void)mc_model_read(md, MC_QTY_NAN, 0u, &v);
    } else if (mc_model_read(md, (mc_qty)e->qty, arg, &v) != MC_OK) {
        return 0;
    }
    const float x = scale10(v.is_float ? v.f : (float)v.u, e->scale);
    switch (e->format) {
    case MC_FMT_F32: {
        uint16_t w[2];
        float_words(x, low_first(md, map), w);
        return w[off % 2u];
    }
    case MC_FMT_I16:
        return (uint16_t)(int16_t)round_clamped(x, -32767, 32767);
    case MC_FMT_U32: {
        const uint32_t u = round_clamped_u32(x);
        return (uint16_t)(off % 2u == 0u ? u >> 16 : u);
    }
    default: /* MC_FMT_U16 */
        if (!v.is_float && e->scale == 0) {
            return v.u;
        }
        return (uint16_t)round_clamped(x, 0, 65535);
    }
}

/* FC 03 / 04: a block of registers of one table. */
static int fc_read_registers(const mc_model_t *md, const mc_regmap_t *map, table_t tb, const uint8_t *req,
                             size_t len, uint8_t *resp)
{
    const uint8_t fc = req[0];
    if (len != 5u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    const uint32_t start = get16(req + 1), qty = get16(req + 3);
    if (qty < 1u || qty > 125u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    if (start + qty > 0x10000u || !any_served(tb, start, qty)) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_ADDRESS);
    }
    resp[0] = fc;
    resp[1] = (uint8_t)(2u * qty);
    for (uint32_t k = 0; k < qty; k++) {
        put16(resp + 2 + 2u * k, read_register(md, map, tb, start + k));
    }
    return (int)(2u + 2u * qty);
}

/* FC 01 / 02: one bit at MC_MB_RELAY_COIL, if the product has it. */
static int fc_read_bits(mc_model_t *md, const uint8_t *req, size_t len, uint8_t *resp, int have, int state)
{
    const uint8_t fc = req[0];
    if (len != 5u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    const uint32_t start = get16(req + 1), qty = get16(req + 3);
    if (qty < 1u || qty > 2000u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    if (!have || start != MC_MB_RELAY_COIL || qty != 1u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_ADDRESS);
    }
    (void)md;
    resp[0] = fc;
    resp[1] = 1;
    resp[2] = state ? 1u : 0u;
    return 3;
}

/* A library error of a write as the Modbus exception that reports it: 03 for a value
 * out of range, 04 for everything refused or failed (access, lockout, budget, save). */
static int write_error(uint8_t *resp, uint8_t fc, int err)
{
    return exception(resp, fc, err == MC_ERR_INVAL ? MC_MB_EX_ILLEGAL_VALUE : MC_MB_EX_DEVICE_FAILURE);
}

/* After a request: a login without a monotonic clock opened this request only. */
static void request_done(mc_session_t *session)
{
    if (session != NULL && session->one_request) {
        mc_session_end(session);
    }
}

static int fc_write_coil(mc_model_t *md, mc_session_t *session, const uint8_t *req, size_t len, uint8_t *resp)
{
    const uint8_t fc = req[0];
    if (len != 5u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    const uint16_t addr = get16(req + 1), value = get16(req + 3);
    if (value != 0xFF00u && value != 0x0000u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    if (!(md->cfg.features & MC_FEAT_RELAY) || addr != MC_MB_RELAY_COIL) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_ADDRESS);
    }
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_RELAY;
    it.u = value == 0xFF00u ? 1u : 0u;
    uint8_t echo[5];
    memcpy(echo, req, 5);
    const int err = mc_model_write_session(md, session, &it, 1, MC_SRC_BUS);
    if (err != MC_OK) {
        /* the value was checked above: whatever fails here is refused or failed */
        return exception(resp, fc, MC_MB_EX_DEVICE_FAILURE);
    }
    memcpy(resp, echo, 5);
    return 5;
}

/*
 * Registers start..start+qty-1 with their values: check every one is
 * writable and floats are complete, collect them into write items, handle
 * the password (unlock or change), check protection, write all or nothing.
 */
static int write_registers(mc_model_t *md, const mc_regmap_t *map, mc_session_t *session, uint8_t fc,
                           uint32_t start, uint32_t qty, const uint8_t *vals, uint8_t *resp)
{
    const table_t tb = holding_of(map);
    if (start + qty > 0x10000u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_ADDRESS);
    }
    mc_write_item_t items[123];
    size_t n = 0;
    for (uint32_t k = 0; k < qty;) {
        const mc_reg_entry_t *e = find(tb, start + k);
        if (e == NULL || !(e->access & MC_ACC_W) || (e->format != MC_FMT_U16 && e->format != MC_FMT_F32)) {
            return exception(resp, fc, MC_MB_EX_ILLEGAL_ADDRESS);
        }
        const unsigned off = (unsigned)(start + k - e->addr);
        const unsigned item = off / width(e);
        mc_write_item_t *it = &items[n];
        memset(it, 0, sizeof(*it));
        it->qty = e->qty;
        it->arg = (uint8_t)(e->arg + item * e->arg_step);
        if (e->format == MC_FMT_F32) {
            if (off % 2u != 0u || k + 1u >= qty) {
                return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE); /* half a float */
            }
            const float f = words_float(vals + 2u * k, low_first(md, map));
            mc_value_t now;
            if (mc_model_read(md, (mc_qty)it->qty, it->arg, &now) == MC_OK && !now.is_float) {
                /* a word quantity written as a float (Eastron maps): whole numbers 0..65535 only */
                if (!(f >= 0.0f && f <= 65535.0f) || (float)(uint16_t)f != f) {
                    return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
                }
                it->u = (uint16_t)f;
            } else {
                it->is_float = 1;
                it->f = f;
            }
            k += 2u;
        } else {
            it->u = get16(vals + 2u * k);
            k += 1u;
        }
        n++;
    }
    /* The password register on a session that has not logged in: a login. The
     * rest of the request is then judged as logged in. A wrong password, or any
     * try while the interface is locked out: exception 04, nothing written. */
    if (n == 0u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE); /* (qty >= 1 makes n >= 1; said for the compiler) */
    }
    size_t first = 0; /* (a session past its timeout was ended when the request came in) */
    if (items[0].qty == MC_QTY_PASSWORD && (session == NULL || !session->authorised)) {
        if (session == NULL || mc_session_login(md, session, items[0].u) != MC_OK) {
            return exception(resp, fc, MC_MB_EX_DEVICE_FAILURE);
        }
        first = 1;
    }
    if (n > first) {
        const int err = mc_model_write_session(md, session, &items[first], n - first, MC_SRC_BUS);
        if (err < 0) {
            return write_error(resp, fc, err);
        }
    }
    return 0;
}

static int fc_write_single(mc_model_t *md, const mc_regmap_t *map, mc_session_t *session, const uint8_t *req,
                           size_t len, uint8_t *resp)
{
    const uint8_t fc = req[0];
    if (len != 5u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    uint8_t echo[5];
    memcpy(echo, req, 5);
    int r = write_registers(md, map, session, fc, get16(echo + 1), 1u, echo + 3, resp);
    if (r != 0) {
        return r;
    }
    memcpy(resp, echo, 5);
    return 5;
}

static int fc_write_multiple(mc_model_t *md, const mc_regmap_t *map, mc_session_t *session, const uint8_t *req,
                             size_t len, uint8_t *resp)
{
    const uint8_t fc = req[0];
    if (len < 6u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    const uint32_t start = get16(req + 1), qty = get16(req + 3);
    const unsigned bytes = req[5];
    if (qty < 1u || qty > 123u || bytes != 2u * qty || len != 6u + bytes) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    /* The values stay in the request: write_registers reads them all before it
     * writes into resp, which may be the same buffer. */
    int r = write_registers(md, map, session, fc, start, qty, req + 6, resp);
    if (r != 0) {
        return r;
    }
    resp[0] = fc;
    put16(resp + 1, start);
    put16(resp + 3, qty);
    return 5;
}

int mc_modbus_handle_pdu_map(const mc_regmap_t *map, mc_model_t *md, mc_session_t *session, const uint8_t *req,
                             size_t req_len, uint8_t *resp, int broadcast)
{
    if (map == NULL || md == NULL || req == NULL || resp == NULL || req_len < 1u || req_len > MC_MODBUS_PDU_MAX) {
        return MC_ERR_INVAL;
    }
    const uint8_t fc = req[0];
    /* Every request, reads too, checks the session: one idle past its timeout ends now, so
     * that a session cannot outlive the 32-bit monotonic clock's wrap (49.7 days) on a
     * line polled by reads. */
    (void)mc_session_level(md, session);
    const int bits = (map->flags & MC_REGMAP_BITS) != 0;
    const int holding = holding_of(map).n > 0u;
    int r;
    switch (fc) {
    case MC_MB_FC_READ_COILS:
    case MC_MB_FC_READ_DISCRETE_INPUTS:
    case MC_MB_FC_READ_HOLDING:
    case MC_MB_FC_READ_INPUT:
        if (broadcast) {
            return 0; /* reads make no sense broadcast: neither executed nor answered */
        }
        if (fc == MC_MB_FC_READ_HOLDING || fc == MC_MB_FC_READ_INPUT) {
            const table_t tb = fc == MC_MB_FC_READ_HOLDING ? holding_of(map) : input_of(map);
            if (tb.n == 0u) {
                return exception(resp, fc, MC_MB_EX_ILLEGAL_FUNCTION);
            }
            return fc_read_registers(md, map, tb, req, req_len, resp);
        }
        if (!bits) {
            return exception(resp, fc, MC_MB_EX_ILLEGAL_FUNCTION);
        }
        if (fc == MC_MB_FC_READ_COILS) {
            return fc_read_bits(md, req, req_len, resp, (md->cfg.features & MC_FEAT_RELAY) != 0,
                                mc_model_relay(md));
        }
        return fc_read_bits(md, req, req_len, resp, (md->cfg.features & MC_FEAT_DI) != 0, mc_model_di(md));
    case MC_MB_FC_WRITE_SINGLE_COIL:
        r = bits ? fc_write_coil(md, session, req, req_len, resp) : exception(resp, fc, MC_MB_EX_ILLEGAL_FUNCTION);
        break;
    case MC_MB_FC_WRITE_SINGLE_REGISTER:
        r = holding ? fc_write_single(md, map, session, req, req_len, resp)
                    : exception(resp, fc, MC_MB_EX_ILLEGAL_FUNCTION);
        break;
    case MC_MB_FC_WRITE_MULTIPLE:
        r = holding ? fc_write_multiple(md, map, session, req, req_len, resp)
                    : exception(resp, fc, MC_MB_EX_ILLEGAL_FUNCTION);
        break;
    default:
        r = exception(resp, fc, MC_MB_EX_ILLEGAL_FUNCTION);
        break;
    }
    request_done(session);
    return broadcast ? 0 : r;
}

int mc_modbus_handle_pdu(mc_model_t *md, mc_session_t *session, const uint8_t *req, size_t req_len, uint8_t *resp,
                         int broadcast)
{
    return mc_modbus_handle_pdu_map(&mc_regmap_kpm31, md, session, req, req_len, resp, broadcast);
}
