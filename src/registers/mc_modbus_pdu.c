/*
 * metercore registers: the Modbus PDU handler over the data model and register map.
 * Transport-independent: the RTU framer (mc_rtu.c) and a TCP server both call it.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "metercore/mc_modbus.h"

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
    return e->format == MC_FMT_F32 ? 2u : 1u;
}

/* The entry holding register `addr`, or NULL. The table is sorted: binary search. */
static const mc_reg_entry_t *find(uint32_t addr)
{
    size_t n;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2u;
        const uint32_t start = t[mid].addr;
        const uint32_t end = start + (uint32_t)t[mid].count * width(&t[mid]);
        if (addr < start) {
            hi = mid;
        } else if (addr >= end) {
            lo = mid + 1u;
        } else {
            return &t[mid];
        }
    }
    return NULL;
}

/* Whether any register in [start, start + qty) is served. */
static int any_served(uint32_t start, uint32_t qty)
{
    size_t n;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    for (size_t k = 0; k < n; k++) {
        const uint32_t a = t[k].addr, b = a + (uint32_t)t[k].count * width(&t[k]);
        if (a < start + qty && start < b) {
            return 1;
        }
    }
    return 0;
}

/* The two words of a float in the configured order. */
static void float_words(float f, unsigned order, uint16_t w[2])
{
    uint32_t b;
    memcpy(&b, &f, sizeof(b));
    const uint16_t hi = (uint16_t)(b >> 16), lo = (uint16_t)b;
    w[0] = order ? lo : hi;
    w[1] = order ? hi : lo;
}

/* A float from two big-endian registers in the request, in the configured word order. */
static float words_float(const uint8_t *p, unsigned order)
{
    const uint32_t w0 = get16(p), w1 = get16(p + 2);
    const uint32_t b = order ? (w1 << 16 | w0) : (w0 << 16 | w1);
    float f;
    memcpy(&f, &b, sizeof(f));
    return f;
}

/* Value of one holding register; gaps and write-only registers read 0. */
static uint16_t read_register(const mc_model_t *md, uint32_t addr)
{
    const mc_reg_entry_t *e = find(addr);
    if (e == NULL || !(e->access & MC_ACC_R)) {
        return 0;
    }
    const unsigned off = (unsigned)(addr - e->addr);
    const unsigned item = off / width(e);
    mc_value_t v;
    if (mc_model_read(md, (mc_qty)e->qty, (unsigned)e->arg + item * e->arg_step, &v) != MC_OK) {
        return 0;
    }
    if (e->format == MC_FMT_F32) {
        uint16_t w[2];
        float_words(v.f, md->params.word_order, w);
        return w[off % 2u];
    }
    return v.u;
}

static int fc_read_holding(mc_model_t *md, const uint8_t *req, size_t len, uint8_t *resp)
{
    const uint8_t fc = req[0];
    if (len != 5u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    const uint32_t start = get16(req + 1), qty = get16(req + 3);
    if (qty < 1u || qty > 125u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    if (start + qty > 0x10000u || !any_served(start, qty)) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_ADDRESS);
    }
    resp[0] = fc;
    resp[1] = (uint8_t)(2u * qty);
    for (uint32_t k = 0; k < qty; k++) {
        put16(resp + 2 + 2u * k, read_register(md, start + k));
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
static int write_registers(mc_model_t *md, mc_session_t *session, uint8_t fc, uint32_t start, uint32_t qty,
                           const uint8_t *vals, uint8_t *resp)
{
    if (start + qty > 0x10000u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_ADDRESS);
    }
    mc_write_item_t items[123];
    size_t n = 0;
    for (uint32_t k = 0; k < qty;) {
        const mc_reg_entry_t *e = find(start + k);
        if (e == NULL || !(e->access & MC_ACC_W)) {
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
            it->is_float = 1;
            it->f = words_float(vals + 2u * k, md->params.word_order);
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

static int fc_write_single(mc_model_t *md, mc_session_t *session, const uint8_t *req, size_t len, uint8_t *resp)
{
    const uint8_t fc = req[0];
    if (len != 5u) {
        return exception(resp, fc, MC_MB_EX_ILLEGAL_VALUE);
    }
    uint8_t echo[5];
    memcpy(echo, req, 5);
    int r = write_registers(md, session, fc, get16(echo + 1), 1u, echo + 3, resp);
    if (r != 0) {
        return r;
    }
    memcpy(resp, echo, 5);
    return 5;
}

static int fc_write_multiple(mc_model_t *md, mc_session_t *session, const uint8_t *req, size_t len, uint8_t *resp)
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
    int r = write_registers(md, session, fc, start, qty, req + 6, resp);
    if (r != 0) {
        return r;
    }
    resp[0] = fc;
    put16(resp + 1, start);
    put16(resp + 3, qty);
    return 5;
}

int mc_modbus_handle_pdu(mc_model_t *md, mc_session_t *session, const uint8_t *req, size_t req_len, uint8_t *resp,
                         int broadcast)
{
    if (md == NULL || req == NULL || resp == NULL || req_len < 1u || req_len > MC_MODBUS_PDU_MAX) {
        return MC_ERR_INVAL;
    }
    const uint8_t fc = req[0];
    /* Every request, reads too, checks the session: one idle past its timeout ends now, so
     * that a session cannot outlive the 32-bit monotonic clock's wrap (49.7 days) on a
     * line polled by reads. */
    (void)mc_session_level(md, session);
    int r;
    switch (fc) {
    case MC_MB_FC_READ_COILS:
    case MC_MB_FC_READ_DISCRETE_INPUTS:
    case MC_MB_FC_READ_HOLDING:
        if (broadcast) {
            return 0; /* reads make no sense broadcast: neither executed nor answered */
        }
        if (fc == MC_MB_FC_READ_HOLDING) {
            return fc_read_holding(md, req, req_len, resp);
        }
        if (fc == MC_MB_FC_READ_COILS) {
            return fc_read_bits(md, req, req_len, resp, (md->cfg.features & MC_FEAT_RELAY) != 0,
                                mc_model_relay(md));
        }
        return fc_read_bits(md, req, req_len, resp, (md->cfg.features & MC_FEAT_DI) != 0, mc_model_di(md));
    case MC_MB_FC_WRITE_SINGLE_COIL:
        r = fc_write_coil(md, session, req, req_len, resp);
        break;
    case MC_MB_FC_WRITE_SINGLE_REGISTER:
        r = fc_write_single(md, session, req, req_len, resp);
        break;
    case MC_MB_FC_WRITE_MULTIPLE:
        r = fc_write_multiple(md, session, req, req_len, resp);
        break;
    default:
        r = exception(resp, fc, MC_MB_EX_ILLEGAL_FUNCTION);
        break;
    }
    request_done(session);
    return broadcast ? 0 : r;
}
