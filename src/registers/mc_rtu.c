/*
 * metercore registers: Modbus-RTU framer (bytes with timestamps in, ADUs out)
 * and CRC-16/MODBUS. The PDU handler is mc_modbus_pdu.c.
 * SPDX-License-Identifier: MIT
 *
 * Timing. A byte's timestamp is its arrival time, i.e. the end of its stop bit
 * (the UART receive interrupt). Two bytes sent back to back therefore arrive
 * one character time apart, and the silence between them (what t1.5 and t3.5
 * limit, Modbus over serial line V1.02 section 2.5.1.1) is the difference of
 * their timestamps minus one character time. The silence after the last byte
 * of a frame is simply now - last_us.
 *
 * Concurrency. mc_rtu_rx_byte() and mc_rtu_poll() share the instance and the
 * buffer (the response is built in it), so they must not run at the same time:
 * a port that calls mc_rtu_rx_byte() from the receive interrupt masks that
 * interrupt around mc_rtu_poll(), or queues bytes with their timestamps and
 * feeds them from the main loop.
 */
#include "metercore/mc_modbus.h"

#include "mc_regmap_internal.h"
#include "mc_rtu_internal.h"

/* mc_rtu_t.bad bits: why the frame under way will be dropped. */
#define RTU_BAD_GAP 1u
#define RTU_BAD_OVERRUN 2u

/*
 * CRC-16/MODBUS four bits at a time: entry n is the CRC register after shifting
 * the nibble n through four rounds of the reflected polynomial 0xA001. 32 bytes
 * of flash instead of the usual 512-byte byte table, two lookups per byte.
 */
static const uint16_t crc_nibble[16] = {
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
};

uint16_t mc_modbus_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    if (data == NULL) {
        return crc;
    }
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (uint16_t)((crc >> 4) ^ crc_nibble[crc & 0x0Fu]); /* low nibble first (reflected) */
        crc = (uint16_t)((crc >> 4) ^ crc_nibble[crc & 0x0Fu]);
    }
    return crc;
}

uint32_t mc_modbus_baud(unsigned code)
{
    return (code >= 1u && code <= 4u) ? 1200u << (code - 1u) : 0u;
}

/* Put line settings in force with their t1.5 and t3.5 (mc_rtu_internal.h). baud > 0. */
static void rtu_set_line(mc_rtu_t *r, uint32_t baud, uint8_t parity)
{
    r->baud = baud;
    r->parity = parity;
    r->t15_us = mc_rtu_t15_us(baud);
    r->t35_us = mc_rtu_t35_us(baud);
}

int mc_rtu_init(mc_rtu_t *r, mc_model_t *model, const mc_rtu_port_t *port)
{
    if (r == NULL || model == NULL || port == NULL) {
        return MC_ERR_INVAL;
    }
    uint32_t baud = mc_modbus_baud(model->params.baud_code);
    if (baud == 0u || model->params.parity > 2u) {
        return MC_ERR_INVAL;
    }
    *r = (mc_rtu_t){ .model = model, .port = *port, .map = &mc_regmap_kpm31 };
    mc_auth_guard_init(&r->guard, MC_IFACE_RTU);
    mc_session_init(&r->session, &r->guard);
    rtu_set_line(r, baud, model->params.parity);
    return MC_OK;
}

void mc_rtu_rx_byte(mc_rtu_t *r, uint8_t byte, uint32_t now_us)
{
    if (r == NULL || r->model == NULL) { /* not started: no line timing to go by */
        return;
    }
    if (r->have_frame) {
        /* Silence before this byte; 0 when it came back to back (or the port stamped a burst alike). */
        uint32_t diff = now_us - r->last_us;
        uint32_t tc = mc_rtu_char_us(r->baud);
        uint32_t silence = diff > tc ? diff - tc : 0u;
        if (silence >= r->t35_us) {
            /* The previous frame ended and was never polled: it is lost. */
            r->stats.overruns++;
            r->len = 0;
            r->bad = 0;
        } else if (silence > r->t15_us) {
            r->bad |= RTU_BAD_GAP;
        }
    }
    r->have_frame = 1;
    r->last_us = now_us;
    if (r->len < MC_RTU_ADU_MAX) {
        r->buf[r->len++] = byte;
    } else {
        r->bad |= RTU_BAD_OVERRUN; /* keep receiving (and timing) until the silence ends it */
    }
}

/* Serve the complete frame in r->buf (r->len bytes). Returns as mc_rtu_poll(). */
static int rtu_serve(mc_rtu_t *r, size_t len, unsigned bad)
{
    if (bad & RTU_BAD_OVERRUN) {
        r->stats.overruns++;
        return 2;
    }
    if (bad & RTU_BAD_GAP) {
        r->stats.gap_errors++;
        return 2;
    }
    /*
     * Address, function, CRC at least. The CRC of a frame including its own CRC
     * (low byte first) is 0 for CRC-16/MODBUS (reflected, no final XOR). A frame
     * too short to carry a PDU is counted with the CRC errors: it is no ADU.
     */
    if (len < 4u || mc_modbus_crc16(r->buf, len) != 0u) {
        r->stats.crc_errors++;
        return 2;
    }
    uint8_t addr = r->buf[0];
    int broadcast = addr == 0u;
    const mc_regmap_t *map = r->map;
    if (!broadcast && addr != r->model->params.address) {
        map = mc_modbus_unit_map(r->units, addr);
        if (map == NULL) {
            r->stats.foreign++;
            return 2;
        }
    }
    r->stats.frames++;
    /* The response PDU is built over the request, after buf[0]: 255 bytes available. */
    int n = mc_modbus_handle_pdu_map(map, r->model, &r->session, r->buf + 1, len - 3u, r->buf + 1, broadcast);
    if (n < 0) {
        return n;
    }
    if (n == 0 || broadcast || r->port.send == NULL) {
        return 1;
    }
    if ((unsigned)n > MC_MODBUS_PDU_MAX) {
        return MC_ERR_INVAL; /* cannot happen with a conforming handler; never send past buf */
    }
    /* buf[0] still holds the request's address: the reply carries the address
     * the request was sent to, even when the request changed it. */
    size_t alen = (size_t)n + 1u;
    uint16_t crc = mc_modbus_crc16(r->buf, alen);
    r->buf[alen] = (uint8_t)(crc & 0xFFu);
    r->buf[alen + 1u] = (uint8_t)(crc >> 8);
    int rc = r->port.send(r->port.ctx, r->buf, alen + 2u);
    return rc < 0 ? rc : 1;
}

int mc_rtu_poll(mc_rtu_t *r, uint32_t now_us)
{
    if (r == NULL || r->model == NULL) {
        return MC_ERR_INVAL;
    }
    int ret = 0;
    if (r->have_frame) {
        /*
         * Silence since the last byte. A difference of 2^31 or more means now_us
         * was read before that byte's timestamp was taken (the interrupt came in
         * between): nothing is due yet.
         */
        uint32_t silence = now_us - r->last_us;
        if (silence < r->t35_us || silence >= 0x80000000u) {
            return 0; /* a frame under way: the line must not change under it */
        }
        size_t len = r->len;
        unsigned bad = r->bad;
        r->len = 0;
        r->bad = 0;
        r->have_frame = 0;
        ret = rtu_serve(r, len, bad);
    }
    /*
     * Follow the model's line settings, whoever changed them (a write just
     * served, the front panel): only between frames, and after any reply, so
     * the reply went out at the settings the request came in with.
     */
    uint32_t baud = mc_modbus_baud(r->model->params.baud_code);
    uint8_t parity = r->model->params.parity;
    if (baud != 0u && parity <= 2u && (baud != r->baud || parity != r->parity)) {
        rtu_set_line(r, baud, parity);
        if (r->port.line != NULL) {
            r->port.line(r->port.ctx, baud, parity);
        }
    }
    return ret;
}

int mc_rtu_set_map(mc_rtu_t *r, const mc_regmap_t *map)
{
    if (r == NULL || map == NULL || mc_regmap_check(map) != MC_OK) {
        return MC_ERR_INVAL;
    }
    r->map = map;
    return MC_OK;
}

int mc_rtu_add_unit(mc_rtu_t *r, uint8_t unit, const mc_regmap_t *map)
{
    if (r == NULL || r->model == NULL) {
        return MC_ERR_INVAL;
    }
    return mc_modbus_unit_set(r->units, r->model->params.address, unit, map);
}

const mc_regmap_t *mc_modbus_unit_map(const mc_rtu_unit_t units[MC_RTU_MAX_UNITS], uint8_t unit)
{
    for (unsigned k = 0; units != NULL && unit != 0u && k < MC_RTU_MAX_UNITS; k++) {
        if (units[k].id == unit) {
            return units[k].map;
        }
    }
    return NULL;
}

int mc_modbus_unit_set(mc_rtu_unit_t units[MC_RTU_MAX_UNITS], uint8_t own_address, uint8_t unit,
                       const mc_regmap_t *map)
{
    if (units == NULL || unit < 1u || unit > 247u || unit == own_address ||
        (map != NULL && mc_regmap_check(map) != MC_OK)) {
        return MC_ERR_INVAL;
    }
    mc_rtu_unit_t *slot = NULL;
    for (unsigned k = 0; k < MC_RTU_MAX_UNITS; k++) {
        if (units[k].id == unit) {
            slot = &units[k]; /* replace (or, with NULL, remove) */
            break;
        }
        if (slot == NULL && units[k].id == 0u) {
            slot = &units[k];
        }
    }
    if (map == NULL) {
        if (slot != NULL && slot->id == unit) {
            *slot = (mc_rtu_unit_t){ 0u, NULL };
        }
        return MC_OK;
    }
    if (slot == NULL) {
        return MC_ERR_NOSPACE;
    }
    slot->id = unit;
    slot->map = map;
    return MC_OK;
}
