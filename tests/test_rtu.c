/*
 * metercore RTU suite: CRC-16/MODBUS, baud codes, and the Modbus-RTU framer of
 * mc_modbus.h (frame assembly from timestamped bytes, t1.5 / t3.5, drops,
 * broadcast, overrun, wrap-around, line changes after the reply) over a real
 * data model, with a fake port that records what is sent.
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "metercore/mc_modbus.h"
#include "metercore/mc_registers.h"
#include "metercore/metercore.h"
#include "waveform.h"

/* Line timing helpers of the framer (white box: 19200 and above are not reachable by baud code). */
#include "../src/registers/mc_rtu_internal.h"

/* ------------------------------------------------------------------------ */
/* Reference CRC and ADU building                                           */

/* Straightforward bitwise CRC-16/MODBUS, written from the definition: the
 * framer's nibble-table CRC is checked against it. */
static uint16_t ref_crc16(const uint8_t *d, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= d[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
        }
    }
    return crc;
}

/* ADU = address, PDU, CRC low byte first. Returns its length. */
static size_t make_adu(uint8_t *out, uint8_t addr, const uint8_t *pdu, size_t n)
{
    out[0] = addr;
    memcpy(out + 1, pdu, n);
    uint16_t crc = ref_crc16(out, n + 1);
    out[n + 1] = (uint8_t)(crc & 0xFF);
    out[n + 2] = (uint8_t)(crc >> 8);
    return n + 3;
}

/* ------------------------------------------------------------------------ */
/* Fake port                                                                */

#define MAX_EVENTS 16

typedef struct event {
    char kind;           /* 'S' send, 'L' line */
    uint8_t adu[MC_RTU_ADU_MAX + 8];
    size_t len;
    uint32_t baud;
    uint8_t parity;
} event_t;

typedef struct fake_port {
    event_t ev[MAX_EVENTS];
    size_t n;
    size_t sends;
    size_t lines;
    int send_rc;
} fake_port_t;

static int fake_send(void *ctx, const uint8_t *adu, size_t len)
{
    fake_port_t *p = ctx;
    assert_true(p->n < MAX_EVENTS);
    assert_true(len <= MC_RTU_ADU_MAX);
    event_t *e = &p->ev[p->n++];
    e->kind = 'S';
    memcpy(e->adu, adu, len);
    e->len = len;
    p->sends++;
    return p->send_rc;
}

static void fake_line(void *ctx, uint32_t baud, uint8_t parity)
{
    fake_port_t *p = ctx;
    assert_true(p->n < MAX_EVENTS);
    event_t *e = &p->ev[p->n++];
    e->kind = 'L';
    e->baud = baud;
    e->parity = parity;
    p->lines++;
}

/* ------------------------------------------------------------------------ */
/* Fixture: a meter, a tariff, a model and a framer at 9600 8N2, address 1  */

typedef struct fixture {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t md;
    mc_rtu_t rtu;
    fake_port_t port;
} fixture_t;

static fixture_t g_fx;

static void model_init(fixture_t *f)
{
    mc_meter_config_t mcfg;
    mc_meter_config_default(&mcfg);
    mcfg.u_scale = 400.0f / 8388608.0f;
    mcfg.i_scale = 100.0f / 8388608.0f;
    assert_int_equal(mc_meter_init(&f->meter, &mcfg), MC_OK);

    mc_tariff_config_t tcfg;
    mc_tariff_config_default(&tcfg);
    mc_datetime_t dt = { .year = 2024, .month = 3, .day = 1, .hour = 12 };
    mc_time_t now;
    assert_int_equal(mc_time_from_datetime(&dt, &now), MC_OK);
    assert_int_equal(mc_tariff_init(&f->tariff, &tcfg, now), MC_OK);

    mc_model_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.unlock_seconds = 300;
    assert_int_equal(mc_model_init(&f->md, &cfg, NULL, &f->meter, &f->tariff, NULL), MC_OK);
}

/* (Re)start the framer over the model with the fake port. */
static void rtu_start(fixture_t *f)
{
    mc_rtu_port_t port = { .send = fake_send, .line = fake_line, .ctx = &f->port };
    assert_int_equal(mc_rtu_init(&f->rtu, &f->md, &port), MC_OK);
}

static int setup(void **state)
{
    fixture_t *f = &g_fx;
    memset(f, 0, sizeof(*f));
    model_init(f);
    rtu_start(f);
    *state = f;
    return 0;
}

/*
 * Feed bytes sent back to back at @p baud: each arrives one character time
 * (11 bits, exact to the µs) after the previous, plus @p extra_us of silence.
 * The first byte arrives at @p t0. Returns the last byte's timestamp.
 */
static uint32_t feed(mc_rtu_t *r, const uint8_t *b, size_t n, uint32_t t0, uint32_t baud, uint32_t extra_us)
{
    uint64_t bits = 0;
    uint32_t t = t0;
    for (size_t i = 0; i < n; i++) {
        /* arrival of byte i: t0 + i * 11 bits, rounded to the µs, plus the extra silences */
        t = t0 + (uint32_t)((bits * 1000000u + baud / 2u) / baud) + (uint32_t)i * extra_us;
        mc_rtu_rx_byte(r, b[i], t);
        bits += 11u;
    }
    return t;
}

/* Expect exactly one send so far, equal to @p adu. */
static void expect_sent(const fake_port_t *p, size_t idx, const uint8_t *adu, size_t len)
{
    assert_true(idx < p->n);
    assert_int_equal(p->ev[idx].kind, 'S');
    assert_int_equal(p->ev[idx].len, len);
    assert_memory_equal(p->ev[idx].adu, adu, len);
}

/* The sent ADU at @p idx carries a valid CRC (checked with the reference). */
static void expect_valid_crc(const fake_port_t *p, size_t idx)
{
    const event_t *e = &p->ev[idx];
    assert_true(e->len >= 4);
    uint16_t crc = ref_crc16(e->adu, e->len - 2);
    assert_int_equal(e->adu[e->len - 2], crc & 0xFF);
    assert_int_equal(e->adu[e->len - 1], crc >> 8);
}

/* Standard requests. */
static const uint8_t PDU_READ_ADDR[] = { 0x03, 0x00, 0x01, 0x00, 0x01 };  /* read 0x0001 x1 */
static const uint8_t PDU_READ_VOLT[] = { 0x03, 0x00, 0x30, 0x00, 0x02 };  /* read 0x0030 x2 */
static const uint8_t PDU_READ_HOLE[] = { 0x03, 0x05, 0x00, 0x00, 0x01 };  /* read 0x0500 x1 */

/* ------------------------------------------------------------------------ */
/* CRC and baud codes                                                       */

static void test_crc_vectors(void **state)
{
    (void)state;
    /* The header's example: on the wire C5 CD. */
    static const uint8_t req[] = { 0x01, 0x03, 0x00, 0x00, 0x00, 0x0A };
    assert_int_equal(mc_modbus_crc16(req, sizeof(req)), 0xCDC5);
    assert_int_equal(ref_crc16(req, sizeof(req)), 0xCDC5);
    /* Modbus over serial line V1.02, 6.2.2 example: "02 07" is sent with CRC 41 12. */
    static const uint8_t exc[] = { 0x02, 0x07 };
    assert_int_equal(mc_modbus_crc16(exc, sizeof(exc)), 0x1241);
    /* The catalogue check value of CRC-16/MODBUS over "123456789". */
    assert_int_equal(mc_modbus_crc16((const uint8_t *)"123456789", 9), 0x4B37);
    assert_int_equal(ref_crc16((const uint8_t *)"123456789", 9), 0x4B37);
    /* Empty input (and NULL with it) is the initial value. */
    assert_int_equal(mc_modbus_crc16(req, 0), 0xFFFF);
    assert_int_equal(mc_modbus_crc16(NULL, 0), 0xFFFF);
    /* Every single byte, and a 256-byte ramp, against the bitwise reference. */
    for (unsigned v = 0; v < 256; v++) {
        uint8_t b = (uint8_t)v;
        assert_int_equal(mc_modbus_crc16(&b, 1), ref_crc16(&b, 1));
    }
    uint8_t ramp[256];
    for (unsigned i = 0; i < sizeof(ramp); i++) {
        ramp[i] = (uint8_t)(i * 37u + 11u);
    }
    for (size_t n = 0; n <= sizeof(ramp); n += 17) {
        assert_int_equal(mc_modbus_crc16(ramp, n), ref_crc16(ramp, n));
    }
    /* A frame followed by its CRC (low byte first) has CRC 0: the residue the framer checks. */
    uint8_t adu[8];
    size_t n = make_adu(adu, 0x01, req + 1, sizeof(req) - 1);
    assert_int_equal(adu[6], 0xC5);
    assert_int_equal(adu[7], 0xCD);
    assert_int_equal(mc_modbus_crc16(adu, n), 0);
}

static void test_baud_codes(void **state)
{
    (void)state;
    assert_int_equal(mc_modbus_baud(0), 0);
    assert_int_equal(mc_modbus_baud(1), 1200);
    assert_int_equal(mc_modbus_baud(2), 2400);
    assert_int_equal(mc_modbus_baud(3), 4800);
    assert_int_equal(mc_modbus_baud(4), 9600);
    assert_int_equal(mc_modbus_baud(5), 0);
    assert_int_equal(mc_modbus_baud(UINT_MAX), 0);
}

static void test_line_timing(void **state)
{
    (void)state;
    /* 11-bit characters: t1.5 = 16.5 bit times (rounded down), t3.5 = 38.5 (rounded up). */
    assert_int_equal(mc_rtu_t15_us(1200), 13750);
    assert_int_equal(mc_rtu_t35_us(1200), 32084);  /* 32083.3 */
    assert_int_equal(mc_rtu_t15_us(9600), 1718);   /* 1718.75 */
    assert_int_equal(mc_rtu_t35_us(9600), 4011);   /* 4010.4 */
    assert_int_equal(mc_rtu_t15_us(19200), 859);   /* 859.4: still computed at 19200 */
    assert_int_equal(mc_rtu_t35_us(19200), 2006);  /* 2005.2 */
    assert_int_equal(mc_rtu_t15_us(19201), 750);   /* fixed above 19200 */
    assert_int_equal(mc_rtu_t35_us(38400), 1750);
    assert_int_equal(mc_rtu_t15_us(115200), 750);
    assert_int_equal(mc_rtu_t35_us(115200), 1750);
    assert_int_equal(mc_rtu_char_us(9600), 1146);
}

static void test_init_args(void **state)
{
    fixture_t *f = *state;
    mc_rtu_port_t port = { 0 };
    assert_int_equal(mc_rtu_init(NULL, &f->md, &port), MC_ERR_INVAL);
    assert_int_equal(mc_rtu_init(&f->rtu, NULL, &port), MC_ERR_INVAL);
    assert_int_equal(mc_rtu_init(&f->rtu, &f->md, NULL), MC_ERR_INVAL);
    f->md.params.baud_code = 0;
    assert_int_equal(mc_rtu_init(&f->rtu, &f->md, &port), MC_ERR_INVAL);
    f->md.params.baud_code = 4;
    f->md.params.parity = 3;
    assert_int_equal(mc_rtu_init(&f->rtu, &f->md, &port), MC_ERR_INVAL);
    f->md.params.parity = 0;
    assert_int_equal(mc_rtu_init(&f->rtu, &f->md, &port), MC_OK);
    assert_int_equal(f->rtu.baud, 9600);
    assert_int_equal(f->rtu.t15_us, 1718);
    assert_int_equal(f->rtu.t35_us, 4011);
    /* A port without send: frames are served, nothing is sent, nothing breaks. */
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    uint32_t t = feed(&f->rtu, adu, n, 1000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->rtu.stats.frames, 1);
    assert_int_equal(mc_rtu_poll(NULL, 0), MC_ERR_INVAL);
    mc_rtu_rx_byte(NULL, 0, 0); /* ignored */
    /* A framer never started (zeroed) ignores bytes instead of dividing by its zero baud rate. */
    mc_rtu_t z;
    memset(&z, 0, sizeof(z));
    mc_rtu_rx_byte(&z, 0x01, 0);
    mc_rtu_rx_byte(&z, 0x03, 10);
    assert_int_equal(z.len, 0);
    assert_int_equal(mc_rtu_poll(&z, 100000), MC_ERR_INVAL);
}

/* ------------------------------------------------------------------------ */
/* Frame assembly and timing                                                */

/* A frame closes after exactly t3.5 of silence, not a µs before; returns the reply. */
static void frame_at(fixture_t *f, uint32_t t0, uint32_t t35)
{
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    uint32_t t = feed(&f->rtu, adu, n, t0, f->rtu.baud, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + t35 / 2), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + t35 - 1), 0);
    assert_int_equal(f->port.sends, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + t35), 1);
    assert_int_equal(f->port.sends, 1);
    /* 01 03 02 00 01 + CRC: address register holds 1 */
    uint8_t want[16];
    static const uint8_t resp[] = { 0x03, 0x02, 0x00, 0x01 };
    size_t wn = make_adu(want, 1, resp, sizeof(resp));
    expect_sent(&f->port, 0, want, wn);
    /* Nothing more is due. */
    assert_int_equal(mc_rtu_poll(&f->rtu, t + t35 + 10000), 0);
    assert_int_equal(f->rtu.stats.frames, 1);
}

static void test_frame_9600(void **state)
{
    fixture_t *f = *state;
    frame_at(f, 5000, 4011);
    assert_int_equal(f->port.lines, 0);
}

static void test_frame_4800_and_1200(void **state)
{
    fixture_t *f = *state;
    f->md.params.baud_code = 3;
    rtu_start(f);
    assert_int_equal(f->rtu.baud, 4800);
    frame_at(f, 0, 8021); /* 8020.8 */
    memset(&f->port, 0, sizeof(f->port));
    f->md.params.baud_code = 1;
    rtu_start(f);
    frame_at(f, 123456, 32084);
    assert_int_equal(f->port.lines, 0);
}

/* 19200 and 38400 are not baud codes of the model: put them in force by hand. */
static void force_line(fixture_t *f, uint32_t baud)
{
    f->rtu.baud = baud;
    f->rtu.t15_us = mc_rtu_t15_us(baud);
    f->rtu.t35_us = mc_rtu_t35_us(baud);
}

static void test_frame_19200(void **state)
{
    fixture_t *f = *state;
    force_line(f, 19200);
    frame_at(f, 777, 2006);
    /* The model still says 9600: after the reply the framer follows it. */
    assert_int_equal(f->port.lines, 1);
    assert_int_equal(f->port.ev[1].kind, 'L');
    assert_int_equal(f->port.ev[1].baud, 9600);
    assert_int_equal(f->rtu.t35_us, 4011);
}

static void test_frame_38400(void **state)
{
    fixture_t *f = *state;
    force_line(f, 38400);
    assert_int_equal(f->rtu.t35_us, 1750);
    frame_at(f, 0, 1750);
    assert_int_equal(f->port.ev[1].kind, 'L');
    assert_int_equal(f->port.ev[1].baud, 9600);
}

static void test_gap_limit(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    /*
     * 9600 baud, 11-bit characters: a byte arrives 1145.8 µs after the previous
     * when sent back to back. A silence up to t1.5 = 1718.75 µs between two
     * characters keeps the frame: byte 4 arrives 2864 µs after byte 3 (silence
     * 1718.2 µs).
     */
    uint32_t t = feed(&f->rtu, adu, 4, 1000, 9600, 0);
    t += 2864;
    t = feed(&f->rtu, adu + 4, n - 4, t, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 1);
    assert_int_equal(f->rtu.stats.gap_errors, 0);

    /* One µs more (silence 1719.2 µs > t1.5): the frame is dropped, no reply. */
    t = feed(&f->rtu, adu, 4, t + 50000, 9600, 0);
    t += 2865;
    t = feed(&f->rtu, adu + 4, n - 4, t, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4010), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->port.sends, 1);
    assert_int_equal(f->rtu.stats.gap_errors, 1);
    assert_int_equal(f->rtu.stats.frames, 1);

    /* A gap between t1.5 and t3.5 after the last byte, then more bytes: one frame, dropped. */
    t = feed(&f->rtu, adu, n, t + 50000, 9600, 0);
    t = feed(&f->rtu, adu, n, t + 1146 + 3000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.gap_errors, 2);
    assert_int_equal(f->port.sends, 1);

    /* The next good frame is served. */
    t = feed(&f->rtu, adu, n, t + 50000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 2);
}

static void test_gap_limit_38400(void **state)
{
    fixture_t *f = *state;
    force_line(f, 38400);
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    /* Characters 286.5 µs apart; t1.5 fixed at 750 µs: 700 µs of silence is fine... */
    uint32_t t = feed(&f->rtu, adu, n, 0, 38400, 700);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 1750), 1);
    assert_int_equal(f->port.sends, 1);
    force_line(f, 38400);
    /* ... 800 µs is not. */
    t = feed(&f->rtu, adu, n, t + 10000, 38400, 800);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 1750), 2);
    assert_int_equal(f->rtu.stats.gap_errors, 1);
    assert_int_equal(f->port.sends, 1);
}

static void test_bad_crc(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    adu[n - 1] ^= 0x01; /* CRC high byte */
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    adu[n - 1] ^= 0x01;
    adu[2] ^= 0x80; /* a data bit */
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    /* CRC bytes swapped (high byte first): wrong. */
    adu[2] ^= 0x80;
    uint8_t tmp = adu[n - 1];
    adu[n - 1] = adu[n - 2];
    adu[n - 2] = tmp;
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.crc_errors, 3);
    assert_int_equal(f->rtu.stats.frames, 0);
    assert_int_equal(f->port.sends, 0);
}

static void test_short_frames(void **state)
{
    fixture_t *f = *state;
    /* 1, 2 and 3 bytes: no room for address, function and CRC. "01" + CRC is 3 bytes with a valid CRC. */
    uint8_t adu[8];
    size_t n = make_adu(adu, 1, (const uint8_t *)"", 0);
    assert_int_equal(n, 3);
    uint32_t t = 0;
    for (size_t len = 1; len <= 3; len++) {
        t = feed(&f->rtu, adu, len, t + 10000, 9600, 0);
        assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    }
    assert_int_equal(f->rtu.stats.crc_errors, 3);
    assert_int_equal(f->rtu.stats.frames, 0);
    assert_int_equal(f->port.sends, 0);
}

static void test_foreign_address(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    for (unsigned a = 2; a <= 255; a += 41) {
        size_t n = make_adu(adu, (uint8_t)a, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
        uint32_t t = feed(&f->rtu, adu, n, a * 100000u, 9600, 0);
        assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    }
    assert_int_equal(f->rtu.stats.foreign, 7);
    assert_int_equal(f->rtu.stats.frames, 0);
    assert_int_equal(f->port.sends, 0);
    /* Our own address is served. */
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 1);
}

static void test_exception_reply(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_HOLE, sizeof(PDU_READ_HOLE));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    uint8_t want[8];
    static const uint8_t ex[] = { 0x83, 0x02 };
    size_t wn = make_adu(want, 1, ex, sizeof(ex));
    expect_sent(&f->port, 0, want, wn);
    /* An unsupported function code: exception 01. */
    static const uint8_t fc07[] = { 0x07 };
    n = make_adu(adu, 1, fc07, sizeof(fc07));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    static const uint8_t ex1[] = { 0x87, 0x01 };
    wn = make_adu(want, 1, ex1, sizeof(ex1));
    expect_sent(&f->port, 1, want, wn);
}

/* Run the meter on 2 s of a clean 230 V / 5 A, 50 Hz signal so it has a window reading. */
static void measure(fixture_t *f)
{
    static int32_t v[400], i[400];
    wf_params_t p;
    wf_params_sine(&p, 4000.0, 50.0, 230.0, 5.0, 0.0, 230.0 * 1.4142 * 1.6, 60.0 * 1.4142 * 1.5, 24);
    mc_meter_config_t mcfg;
    mc_meter_config_default(&mcfg);
    mcfg.sample_rate_hz = 4000;
    mcfg.u_scale = (float)wf_scale(&p.u);
    mcfg.i_scale = (float)wf_scale(&p.i);
    assert_int_equal(mc_meter_init(&f->meter, &mcfg), MC_OK);
    wf_gen_t g;
    wf_init(&g, &p);
    for (int k = 0; k < 20; k++) {
        wf_fill(&g, v, i, 400);
        assert_true(mc_meter_process(&f->meter, v, i, 400) >= 0);
    }
    mc_reading_t r;
    assert_int_equal(mc_meter_reading(&f->meter, &r), MC_OK);
    assert_true(r.urms > 229.0f && r.urms < 231.0f);
}

/* Read 0x0030 (voltage, float) through the framer; returns the float's bits as sent, words in bus order. */
static uint32_t read_voltage_words(fixture_t *f, uint32_t t0)
{
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_VOLT, sizeof(PDU_READ_VOLT));
    size_t before = f->port.sends;
    uint32_t t = feed(&f->rtu, adu, n, t0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, before + 1);
    const event_t *e = &f->port.ev[f->port.n - 1];
    /* 01 03 04 <two registers> CRC */
    assert_int_equal(e->len, 9);
    assert_int_equal(e->adu[0], 0x01);
    assert_int_equal(e->adu[1], 0x03);
    assert_int_equal(e->adu[2], 0x04);
    expect_valid_crc(&f->port, f->port.n - 1);
    return (uint32_t)e->adu[3] << 24 | (uint32_t)e->adu[4] << 16 | (uint32_t)e->adu[5] << 8 | e->adu[6];
}

static void test_read_float(void **state)
{
    fixture_t *f = *state;
    measure(f);
    mc_value_t v;
    assert_int_equal(mc_model_read(&f->md, MC_QTY_VOLTAGE, 0, &v), MC_OK);
    assert_true(v.f > 229.0f && v.f < 231.0f);
    uint32_t bits;
    memcpy(&bits, &v.f, sizeof(bits));
    /* ABCD (default): IEEE-754 big-endian, high word first. */
    assert_int_equal(read_voltage_words(f, 0), bits);
    /* CDAB: low word first. */
    f->md.params.word_order = 1;
    assert_int_equal(read_voltage_words(f, 100000), (bits << 16) | (bits >> 16));
}

static void test_broadcast_write(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    /* Broadcast FC06: address := 9. Executed, no reply. */
    static const uint8_t wr[] = { 0x06, 0x00, 0x01, 0x00, 0x09 };
    size_t n = make_adu(adu, 0, wr, sizeof(wr));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 0);
    assert_int_equal(f->rtu.stats.frames, 1);
    assert_int_equal(f->md.params.address, 9);
    /* A broadcast read: refused silently. */
    n = make_adu(adu, 0, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 0);
    /* The new address answers; the old one is foreign now. */
    n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.foreign, 1);
    n = make_adu(adu, 9, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    uint8_t want[16];
    static const uint8_t resp[] = { 0x03, 0x02, 0x00, 0x09 };
    size_t wn = make_adu(want, 9, resp, sizeof(resp));
    expect_sent(&f->port, 0, want, wn);
}

static void test_oversized_frame(void **state)
{
    fixture_t *f = *state;
    /* 300 bytes back to back, starting like a request to us with a CRC-valid 256-byte prefix. */
    uint8_t big[300];
    memset(big, 0, sizeof(big));
    big[0] = 0x01;
    big[1] = 0x10;
    uint16_t crc = ref_crc16(big, 254);
    big[254] = (uint8_t)(crc & 0xFF);
    big[255] = (uint8_t)(crc >> 8);
    uint32_t t = feed(&f->rtu, big, sizeof(big), 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.overruns, 1);
    assert_int_equal(f->port.sends, 0);
    /* Exactly 257 bytes: dropped too. */
    t = feed(&f->rtu, big, 257, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.overruns, 2);
    /* The next good frame is served. */
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 1);
    assert_int_equal(f->rtu.stats.frames, 1);
}

static void test_max_size_frame(void **state)
{
    fixture_t *f = *state;
    /* FC10 of 123 registers (the most one request may write) at unmapped 0x0500: exception 02. */
    uint8_t pdu[253];
    memset(pdu, 0, sizeof(pdu));
    pdu[0] = 0x10;
    pdu[1] = 0x05;
    pdu[2] = 0x00;
    pdu[3] = 0x00;
    pdu[4] = 123;
    pdu[5] = 246;
    uint8_t adu[256];
    size_t n = make_adu(adu, 1, pdu, 252);
    assert_int_equal(n, 255);
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    uint8_t want[8];
    static const uint8_t ex[] = { 0x90, 0x02 };
    size_t wn = make_adu(want, 1, ex, sizeof(ex));
    expect_sent(&f->port, 0, want, wn);
    /* A 256-byte ADU (253-byte PDU) is still a frame, not an overrun: it is handed to the PDU handler. */
    memset(pdu, 0, sizeof(pdu));
    memcpy(pdu, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    n = make_adu(adu, 1, pdu, sizeof(pdu));
    assert_int_equal(n, 256);
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->rtu.stats.overruns, 0);
    assert_int_equal(f->rtu.stats.frames, 2);
    assert_int_equal(f->port.sends, 2);
    assert_int_equal(f->port.ev[1].adu[0], 0x01);
    assert_int_equal(f->port.ev[1].adu[1] & 0x7F, 0x03);
    expect_valid_crc(&f->port, 1);
}

static void test_partial_frames(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    /* Polls while a frame is under way (silence under t3.5) change nothing. */
    uint32_t t = feed(&f->rtu, adu, 3, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 500), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 1146 + 1000), 0);
    t = feed(&f->rtu, adu + 3, n - 3, t + 1146 + 1500, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 1);
    /* A frame cut short: closed by the silence and dropped (CRC). */
    t = feed(&f->rtu, adu, n - 2, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.crc_errors, 1);
    /* Its remainder after the silence is a frame of its own: 2 bytes, dropped. */
    t = feed(&f->rtu, adu + n - 2, 2, t + 4011 + 1146, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.crc_errors, 2);
    assert_int_equal(f->port.sends, 1);
    /* Then a whole frame again. */
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 2);
}

static void test_unpolled_frame(void **state)
{
    fixture_t *f = *state;
    uint8_t a1[16], a2[16];
    size_t n1 = make_adu(a1, 1, PDU_READ_HOLE, sizeof(PDU_READ_HOLE));
    size_t n2 = make_adu(a2, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    /* Frame 1 complete, never polled; frame 2 starts 3.5 characters later. */
    uint32_t t = feed(&f->rtu, a1, n1, 0, 9600, 0);
    t = feed(&f->rtu, a2, n2, t + 1146 + 4011, 9600, 0);
    assert_int_equal(f->rtu.stats.overruns, 1);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    /* Only frame 2 was answered. */
    uint8_t want[16];
    static const uint8_t resp[] = { 0x03, 0x02, 0x00, 0x01 };
    size_t wn = make_adu(want, 1, resp, sizeof(resp));
    assert_int_equal(f->port.sends, 1);
    expect_sent(&f->port, 0, want, wn);
    assert_int_equal(f->rtu.stats.frames, 1);
}

static void test_wraparound(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    /* The frame spans the wrap of the µs counter. */
    uint32_t t0 = UINT32_MAX - 3000u;
    uint32_t t = feed(&f->rtu, adu, n, t0, 9600, 0);
    assert_true(t < t0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4010), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 1);
    /* Frame ends just before the wrap, silence runs across it. */
    t0 = UINT32_MAX - 9170u;
    t = feed(&f->rtu, adu, n, t0, 9600, 0);
    assert_true(t > UINT32_MAX - 4011u);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4010), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 2);
    /* A gap across the wrap is still a gap. */
    t = feed(&f->rtu, adu, 4, UINT32_MAX - 4000u, 9600, 0);
    t = feed(&f->rtu, adu + 4, n - 4, t + 1146 + 2000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    assert_int_equal(f->rtu.stats.gap_errors, 1);
    /* "now" read just before the last byte's timestamp (the interrupt came in
     * between): the difference is negative, nothing is due. */
    t = feed(&f->rtu, adu, n, 5, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t - 3), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 3);
}

static void test_send_error(void **state)
{
    fixture_t *f = *state;
    f->port.send_rc = MC_ERR_NODATA;
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), MC_ERR_NODATA);
    assert_int_equal(f->port.sends, 1);
    /* The framer goes on. */
    f->port.send_rc = 0;
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
}

/* ------------------------------------------------------------------------ */
/* Line changes: applied after the reply                                    */

static void test_change_address_fc06(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    static const uint8_t wr[] = { 0x06, 0x00, 0x01, 0x00, 0x05 };
    size_t n = make_adu(adu, 1, wr, sizeof(wr));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    /* The echo goes out from the OLD address 1. */
    expect_sent(&f->port, 0, adu, n);
    assert_int_equal(f->md.params.address, 5);
    assert_int_equal(f->port.lines, 0); /* the address is no line setting */
    /* Address 1 is foreign now, 5 is served. */
    n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    n = make_adu(adu, 5, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    uint8_t want[16];
    static const uint8_t resp[] = { 0x03, 0x02, 0x00, 0x05 };
    size_t wn = make_adu(want, 5, resp, sizeof(resp));
    expect_sent(&f->port, 1, want, wn);
}

/* The line's master has one session; without the password nothing is written (the issue:
 * anyone on the bus changed the address, baud, clear...), a broadcast gets no further,
 * and wrong passwords lock the line out. The model here has no monotonic clock: a login
 * opens only the request that carries it, and a lockout lasts until restart. */
static uint32_t g_rtu_mono;
static uint32_t rtu_mono(void *ctx)
{
    (void)ctx;
    return g_rtu_mono;
}

static int rtu_write(fixture_t *f, uint8_t addr, const uint8_t *pdu, size_t len, uint32_t *t)
{
    uint8_t adu[64];
    const size_t n = make_adu(adu, addr, pdu, len);
    *t = feed(&f->rtu, adu, n, *t + 10000u, 9600, 0);
    const size_t before = f->port.sends;
    assert_int_equal(mc_rtu_poll(&f->rtu, *t + 4011u), 1);
    if (addr == 0u) {
        assert_int_equal(f->port.sends, before); /* broadcast: no reply */
        return -1;
    }
    assert_int_equal(f->port.sends, before + 1u);
    const event_t *e = &f->port.ev[f->port.n - 1u];
    return (e->adu[1] & 0x80u) ? e->adu[2] : 0;
}

static void test_access_rtu(void **state)
{
    fixture_t *f = *state;
    f->md.cfg.require_unlock = 1;
    uint32_t t = 0;
    static const uint8_t set_addr[] = { 0x06, 0x00, 0x01, 0x00, 0x05 };
    static const uint8_t clear[] = { 0x06, 0x00, 0x0C, 0x55, 0xAA };
    static const uint8_t baud[] = { 0x06, 0x00, 0x02, 0x00, 0x01 };
    assert_int_equal(rtu_write(f, 1, set_addr, sizeof(set_addr), &t), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(rtu_write(f, 1, clear, sizeof(clear), &t), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(rtu_write(f, 1, baud, sizeof(baud), &t), MC_MB_EX_DEVICE_FAILURE);
    assert_int_equal(rtu_write(f, 0, set_addr, sizeof(set_addr), &t), -1);
    assert_int_equal(f->md.params.address, 1);
    assert_int_equal(f->md.params.baud_code, 4);
    assert_int_equal(f->port.lines, 0);
    /* Password and value in one FC 10: written; the next request is locked again. */
    static const uint8_t login_addr[] = { 0x10, 0x00, 0x00, 0x00, 0x02, 0x04, 0x1A, 0x0A, 0x00, 0x07 };
    assert_int_equal(rtu_write(f, 1, login_addr, sizeof(login_addr), &t), 0);
    assert_int_equal(f->md.params.address, 7);
    static const uint8_t set_addr8[] = { 0x06, 0x00, 0x01, 0x00, 0x08 };
    assert_int_equal(rtu_write(f, 7, set_addr8, sizeof(set_addr8), &t), MC_MB_EX_DEVICE_FAILURE);
    /* With a monotonic clock the login lasts (unlock_seconds on it). */
    g_rtu_mono = 5000u;
    f->md.hooks.monotonic_ms = rtu_mono;
    static const uint8_t login[] = { 0x06, 0x00, 0x00, 0x1A, 0x0A };
    assert_int_equal(rtu_write(f, 7, login, sizeof(login), &t), 0);
    assert_int_equal(rtu_write(f, 7, set_addr8, sizeof(set_addr8), &t), 0);
    assert_int_equal(f->md.params.address, 8);
    g_rtu_mono += (uint32_t)f->md.cfg.unlock_seconds * 1000u;
    assert_int_equal(rtu_write(f, 8, set_addr, sizeof(set_addr), &t), MC_MB_EX_DEVICE_FAILURE);
    /* Ten wrong passwords (also as broadcasts: counted alike) lock the line out: the right one is refused. */
    static const uint8_t wrong[] = { 0x06, 0x00, 0x00, 0x00, 0x01 };
    for (unsigned k = 0; k < MC_AUTH_FREE_TRIES; k++) {
        if (k % 2u) {
            assert_int_equal(rtu_write(f, 0, wrong, sizeof(wrong), &t), -1);
        } else {
            assert_int_equal(rtu_write(f, 8, wrong, sizeof(wrong), &t), MC_MB_EX_DEVICE_FAILURE);
        }
    }
    assert_int_equal(f->rtu.guard.wrong, MC_AUTH_FREE_TRIES);
    assert_int_equal(mc_auth_lockout_left(&f->md, &f->rtu.guard), MC_AUTH_LOCKOUT_FIRST_S);
    assert_int_equal(rtu_write(f, 8, login, sizeof(login), &t), MC_MB_EX_DEVICE_FAILURE);
    g_rtu_mono += MC_AUTH_LOCKOUT_FIRST_S * 1000u;
    assert_int_equal(rtu_write(f, 8, login, sizeof(login), &t), 0);
    assert_int_equal(f->rtu.guard.wrong, MC_AUTH_FREE_TRIES); /* a right login forgives nothing */
}

static void test_change_address_fc10(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    static const uint8_t wr[] = { 0x10, 0x00, 0x01, 0x00, 0x01, 0x02, 0x00, 0xF7 };
    size_t n = make_adu(adu, 1, wr, sizeof(wr));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    uint8_t want[16];
    static const uint8_t resp[] = { 0x10, 0x00, 0x01, 0x00, 0x01 };
    size_t wn = make_adu(want, 1, resp, sizeof(resp));
    expect_sent(&f->port, 0, want, wn);
    assert_int_equal(f->md.params.address, 247);
    /* Out of range (248): exception 03, nothing changes. */
    static const uint8_t bad[] = { 0x06, 0x00, 0x01, 0x00, 0xF8 };
    n = make_adu(adu, 247, bad, sizeof(bad));
    t = feed(&f->rtu, adu, n, t + 10000, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    static const uint8_t ex[] = { 0x86, 0x03 };
    wn = make_adu(want, 247, ex, sizeof(ex));
    expect_sent(&f->port, 1, want, wn);
    assert_int_equal(f->md.params.address, 247);
}

static void test_change_baud(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    /* Baud code 3 (4800): the echo at 9600, then line(4800, none). */
    static const uint8_t wr[] = { 0x06, 0x00, 0x02, 0x00, 0x03 };
    size_t n = make_adu(adu, 1, wr, sizeof(wr));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.n, 2);
    expect_sent(&f->port, 0, adu, n);
    assert_int_equal(f->port.ev[1].kind, 'L');
    assert_int_equal(f->port.ev[1].baud, 4800);
    assert_int_equal(f->port.ev[1].parity, 0);
    assert_int_equal(f->rtu.baud, 4800);
    assert_int_equal(f->rtu.t15_us, 3437);
    assert_int_equal(f->rtu.t35_us, 8021);
    /* The next frame is timed at 4800: not due at 4011 µs of silence any more. */
    n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    t = feed(&f->rtu, adu, n, t + 20000, 4800, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 8020), 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 8021), 1);
    assert_int_equal(f->port.sends, 2);
    assert_int_equal(f->port.lines, 1); /* no change, no call */
}

static void test_change_parity(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[16];
    /* Parity (0x1000) := 1 even: echo first, then line(9600, even). */
    static const uint8_t wr[] = { 0x06, 0x10, 0x00, 0x00, 0x01 };
    size_t n = make_adu(adu, 1, wr, sizeof(wr));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.n, 2);
    expect_sent(&f->port, 0, adu, n);
    assert_int_equal(f->port.ev[1].kind, 'L');
    assert_int_equal(f->port.ev[1].baud, 9600);
    assert_int_equal(f->port.ev[1].parity, 1);
    assert_int_equal(f->md.params.parity, 1);
    assert_int_equal(f->rtu.parity, 1);
    assert_int_equal(f->rtu.t35_us, 4011);
}

static void test_change_all_fc10(void **state)
{
    fixture_t *f = *state;
    uint8_t adu[32];
    /* Address 0x0001..0x0002: address 17, baud code 2 (2400) in one write. */
    static const uint8_t wr[] = { 0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x11, 0x00, 0x02 };
    size_t n = make_adu(adu, 1, wr, sizeof(wr));
    uint32_t t = feed(&f->rtu, adu, n, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.n, 2);
    uint8_t want[16];
    static const uint8_t resp[] = { 0x10, 0x00, 0x01, 0x00, 0x02 };
    size_t wn = make_adu(want, 1, resp, sizeof(resp));
    expect_sent(&f->port, 0, want, wn);
    assert_int_equal(f->port.ev[1].kind, 'L');
    assert_int_equal(f->port.ev[1].baud, 2400);
    /* Broadcast parity change: no reply, but the line follows. */
    static const uint8_t par[] = { 0x06, 0x10, 0x00, 0x00, 0x02 };
    n = make_adu(adu, 0, par, sizeof(par));
    t = feed(&f->rtu, adu, n, t + 50000, 2400, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 16042), 1);
    assert_int_equal(f->port.n, 3);
    assert_int_equal(f->port.ev[2].kind, 'L');
    assert_int_equal(f->port.ev[2].baud, 2400);
    assert_int_equal(f->port.ev[2].parity, 2);
    assert_int_equal(f->port.sends, 1);
}

static void test_change_outside_bus(void **state)
{
    fixture_t *f = *state;
    /* A change made elsewhere (front panel) is applied at the next poll between frames. */
    f->md.params.baud_code = 2;
    uint8_t adu[16];
    size_t n = make_adu(adu, 1, PDU_READ_ADDR, sizeof(PDU_READ_ADDR));
    uint32_t t = feed(&f->rtu, adu, 3, 0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 10), 0); /* mid-frame: not now */
    assert_int_equal(f->port.lines, 0);
    t = feed(&f->rtu, adu + 3, n - 3, t + 1146, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.n, 2);
    assert_int_equal(f->port.ev[0].kind, 'S');
    assert_int_equal(f->port.ev[1].kind, 'L');
    assert_int_equal(f->port.ev[1].baud, 2400);
    f->md.params.parity = 2;
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 50000), 0);
    assert_int_equal(f->port.lines, 2);
    assert_int_equal(f->port.ev[2].parity, 2);
}


/* One line, several maps: the meter's address with its map, further unit ids with theirs; other
 * ids stay foreign. */
static void test_units_and_maps(void **state)
{
    fixture_t *f = *state;
    const mc_regmap_t *sdm = mc_regmap_builtin("sdm120");
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 2, sdm), MC_OK);
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 1, sdm), MC_ERR_INVAL);   /* the meter's own address */
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 0, sdm), MC_ERR_INVAL);   /* broadcast */
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 248, sdm), MC_ERR_INVAL);
    mc_regmap_t bad = *sdm;
    bad.n_input = 0;
    bad.n_holding = 0;
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 3, &bad), MC_ERR_INVAL);
    assert_int_equal(mc_rtu_set_map(&f->rtu, &bad), MC_ERR_INVAL);
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 3, sdm), MC_OK);
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 4, sdm), MC_OK);
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 5, sdm), MC_ERR_NOSPACE);
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 4, NULL), MC_OK); /* unit 4 no more */
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 5, sdm), MC_OK);
    assert_int_equal(mc_rtu_add_unit(&f->rtu, 5, NULL), MC_OK);

    static const uint8_t fc04_volt[] = {0x04, 0x00, 0x00, 0x00, 0x02};
    uint8_t adu[16];
    uint32_t t0 = 0;
    /* Unit 2 (SDM120): FC 04 at 0000H answers two registers, with unit 2 in the reply. */
    size_t n = make_adu(adu, 2, fc04_volt, sizeof(fc04_volt));
    uint32_t t = feed(&f->rtu, adu, n, t0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    assert_int_equal(f->port.sends, 1);
    const event_t *e = &f->port.ev[f->port.n - 1u];
    assert_int_equal(e->len, 9);
    assert_int_equal(e->adu[0], 2);
    assert_int_equal(e->adu[1], 0x04);
    assert_int_equal(e->adu[2], 4);
    expect_valid_crc(&f->port, f->port.n - 1u);
    /* The meter's own address (KPM31 map): FC 04 is not in that map, exception 01. */
    t0 = t + 100000u;
    n = make_adu(adu, 1, fc04_volt, sizeof(fc04_volt));
    t = feed(&f->rtu, adu, n, t0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    e = &f->port.ev[f->port.n - 1u];
    assert_int_equal(e->adu[0], 1);
    assert_int_equal(e->adu[1], 0x84);
    assert_int_equal(e->adu[2], 0x01);
    /* Unit 4 was removed, 5 too: foreign, no reply. */
    const uint32_t foreign = f->rtu.stats.foreign;
    for (uint8_t u = 4; u <= 5; u++) {
        t0 = t + 100000u;
        n = make_adu(adu, u, fc04_volt, sizeof(fc04_volt));
        t = feed(&f->rtu, adu, n, t0, 9600, 0);
        assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 2);
    }
    assert_int_equal(f->rtu.stats.foreign, foreign + 2u);
    assert_int_equal(f->port.sends, 2);
    /* The meter's own map changed to the SDM120's: FC 04 answers at address 1 too. */
    assert_int_equal(mc_rtu_set_map(&f->rtu, sdm), MC_OK);
    t0 = t + 100000u;
    n = make_adu(adu, 1, fc04_volt, sizeof(fc04_volt));
    t = feed(&f->rtu, adu, n, t0, 9600, 0);
    assert_int_equal(mc_rtu_poll(&f->rtu, t + 4011), 1);
    e = &f->port.ev[f->port.n - 1u];
    assert_int_equal(e->adu[1], 0x04);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        cmocka_unit_test(test_baud_codes),
        cmocka_unit_test(test_line_timing),
        cmocka_unit_test_setup(test_init_args, setup),
        cmocka_unit_test_setup(test_frame_9600, setup),
        cmocka_unit_test_setup(test_frame_4800_and_1200, setup),
        cmocka_unit_test_setup(test_frame_19200, setup),
        cmocka_unit_test_setup(test_frame_38400, setup),
        cmocka_unit_test_setup(test_gap_limit, setup),
        cmocka_unit_test_setup(test_gap_limit_38400, setup),
        cmocka_unit_test_setup(test_bad_crc, setup),
        cmocka_unit_test_setup(test_short_frames, setup),
        cmocka_unit_test_setup(test_foreign_address, setup),
        cmocka_unit_test_setup(test_exception_reply, setup),
        cmocka_unit_test_setup(test_read_float, setup),
        cmocka_unit_test_setup(test_broadcast_write, setup),
        cmocka_unit_test_setup(test_oversized_frame, setup),
        cmocka_unit_test_setup(test_max_size_frame, setup),
        cmocka_unit_test_setup(test_partial_frames, setup),
        cmocka_unit_test_setup(test_unpolled_frame, setup),
        cmocka_unit_test_setup(test_wraparound, setup),
        cmocka_unit_test_setup(test_send_error, setup),
        cmocka_unit_test_setup(test_change_address_fc06, setup),
        cmocka_unit_test_setup(test_change_address_fc10, setup),
        cmocka_unit_test_setup(test_access_rtu, setup),
        cmocka_unit_test_setup(test_change_baud, setup),
        cmocka_unit_test_setup(test_change_parity, setup),
        cmocka_unit_test_setup(test_change_all_fc10, setup),
        cmocka_unit_test_setup(test_change_outside_bus, setup),
        cmocka_unit_test_setup(test_units_and_maps, setup),
    };
    return cmocka_run_group_tests_name("rtu", tests, NULL, NULL);
}
