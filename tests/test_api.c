/*
 * The API a newcomer meets first, used as the headers describe it: the model's
 * default configuration (secure: bus writes need the password), the tariff's rate
 * in force against the KPM31 manual's example schedule (the version: test_version.c).
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metercore/metercore.h"

static mc_time_t at(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi)
{
    mc_datetime_t dt;
    memset(&dt, 0, sizeof(dt));
    dt.year = (uint16_t)y;
    dt.month = (uint8_t)mo;
    dt.day = (uint8_t)d;
    dt.hour = (uint8_t)h;
    dt.minute = (uint8_t)mi;
    mc_time_t t;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_OK);
    return t;
}

static void meter_start(mc_meter_t *m)
{
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.u_scale = 400.0f / 8388608.0f;
    cfg.i_scale = 100.0f / 8388608.0f;
    assert_int_equal(mc_meter_init(m, &cfg), MC_OK);
}

/* FC06 write of one holding register on a session; returns the function code of the reply. */
static int write_reg(mc_model_t *md, mc_session_t *s, uint16_t addr, uint16_t value)
{
    const uint8_t req[5] = {0x06, (uint8_t)(addr >> 8), (uint8_t)addr, (uint8_t)(value >> 8), (uint8_t)value};
    uint8_t resp[256];
    const int n = mc_modbus_handle_pdu(md, s, req, sizeof(req), resp, 0);
    assert_true(n >= 2);
    return resp[0];
}

static void test_model_config_default(void **state)
{
    (void)state;
    mc_model_config_t cfg;
    memset(&cfg, 0xA5, sizeof(cfg));
    mc_model_config_default(&cfg);
    assert_int_equal(cfg.features, 0);
    assert_int_equal(cfg.require_unlock, 1);
    assert_int_equal(cfg.unlock_seconds, 300);
    mc_model_config_default(NULL); /* harmless */

    /* A model on the defaults, with no hooks at all: reading is public, a write is not. */
    mc_meter_t meter;
    meter_start(&meter);
    mc_tariff_t tariff;
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    assert_int_equal(mc_tariff_init(&tariff, &tc, at(2026, 12, 3, 11, 0)), MC_OK);
    mc_model_t md;
    assert_int_equal(mc_model_init(&md, &cfg, NULL, &meter, &tariff, NULL), MC_OK);
    const uint8_t read[5] = {0x03, 0x10, 0x02, 0x00, 0x01}; /* pulse constant, 1002H */
    uint8_t resp[256];
    assert_int_equal(mc_modbus_handle_pdu(&md, NULL, read, sizeof(read), resp, 0), 4);
    assert_int_equal(resp[0], 0x03);
    assert_int_equal((resp[2] << 8) | resp[3], 1600);
    assert_int_equal(cfg.write_burst, MC_WRITE_BURST_DEFAULT);
    assert_int_equal(cfg.write_refill_s, MC_WRITE_REFILL_S_DEFAULT);
    /* without the password: refused with exception 04, nothing changed */
    mc_auth_guard_t guard;
    mc_auth_guard_init(&guard, MC_IFACE_TCP);
    mc_session_t s;
    mc_session_init(&s, &guard);
    assert_int_equal(write_reg(&md, &s, 0x1002, 3200), 0x86);
    assert_int_equal(write_reg(&md, NULL, 0x1002, 3200), 0x86);
    assert_int_equal(md.params.pulse_constant, 1600);
    /* the password (6666 on a new meter) opens the request that carries it: without a
     * monotonic clock hook there is no session timeout to go by, so no longer */
    const uint8_t login_write[11] = {0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 6666 >> 8, 6666 & 0xFF};
    assert_int_equal(mc_modbus_handle_pdu(&md, &s, login_write, 8, resp, 0), 5);
    assert_int_equal(write_reg(&md, &s, 0x1002, 3200), 0x86);
    assert_int_equal(mc_session_login(&md, &s, 6666), MC_OK);
    assert_int_equal(write_reg(&md, &s, 0x1002, 3200), 0x06);
    assert_int_equal(md.params.pulse_constant, 3200);
    assert_int_equal(write_reg(&md, &s, 0x1002, 1600), 0x86);
}

/*
 * The rate in force follows the clock through the KPM31 manual's example day
 * (06:00 rate 1, 10:00 rate 2, 12:00 rate 1, 15:00 rate 3, 23:00 rate 4), the
 * expectations typed from the manual's table, not from the code.
 */
static void test_tariff_rate_in_force(void **state)
{
    (void)state;
    assert_int_equal(mc_tariff_rate(NULL), MC_ERR_INVAL);
    static const struct {
        unsigned h, mi, rate;
    } day[] = {
        {0, 0, 4},  {5, 59, 4}, {6, 0, 1},   {9, 59, 1},  {10, 0, 2}, {11, 30, 2},
        {12, 0, 1}, {14, 59, 1}, {15, 0, 3}, {22, 59, 3}, {23, 0, 4}, {23, 59, 4},
    };
    mc_tariff_t t;
    mc_tariff_config_t cfg;
    mc_tariff_config_default(&cfg);
    assert_int_equal(mc_tariff_init(&t, &cfg, at(2026, 12, 3, 0, 0)), MC_OK);
    for (size_t k = 0; k < sizeof(day) / sizeof(day[0]); k++) {
        const mc_time_t now = at(2026, 12, 3, day[k].h, day[k].mi);
        assert_true(mc_tariff_update(&t, now) >= 0);
        assert_int_equal(mc_tariff_rate(&t), (int)day[k].rate);
        assert_int_equal(mc_tariff_rate_at(&t.schedule, now), (int)day[k].rate);
    }
    /* a fresh instance knows its rate from the start */
    assert_int_equal(mc_tariff_init(&t, &cfg, at(2026, 12, 4, 10, 15)), MC_OK);
    assert_int_equal(mc_tariff_rate(&t), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_config_default),
        cmocka_unit_test(test_tariff_rate_in_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
