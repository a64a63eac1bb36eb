/*
 * A product's own Modbus register map, in the product's own source file: the library is not
 * touched. The map is a const table (in flash) of mc_reg_entry_t; the library keeps the data
 * model, the write path, the access levels and the all-or-nothing writes, so the product only
 * says where each quantity sits and how it is encoded.
 *
 * This product (a made-up "ACME-1" DIN-rail meter) keeps the integer registers its older
 * firmware had, read with FC 04, and its settings as holding registers (FC 03/06/10):
 *
 *   input 0000H  voltage, 0.1 V      u16   (scale -1: register = V x 10^1)
 *   input 0001H  current, mA         u32   (scale -3: register = A x 10^3, two registers)
 *   input 0003H  active power, W     i16   (signed: export is negative)
 *   input 0004H  power factor, 0.001 i16
 *   input 0005H  frequency, 0.01 Hz  u16
 *   input 0010H  import energy, Wh   u32   (scale -3: kWh x 10^3)
 *   input 0012H  export energy, Wh   u32
 *   input 0020H  model "ACME-1"      4 registers of ASCII
 *   input 0024H  map version 1       constant
 *   hold  0000H  password (writing it logs the client in)
 *   hold  0001H  slave address 1..247
 *   hold  0002H  pulse constant, imp/kWh (calibration level)
 *
 * The program checks the map (mc_regmap_check()), feeds a meter 2 s of a 230 V, 5 A, PF 0.8
 * inductive, 50 Hz signal and reads the map as a client would, against the signal's values;
 * then writes the address without and with the password. CI runs it (ctest product_map):
 * exit 0 only if everything reads and refuses as described.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metercore/metercore.h"

/* ---- the product's map: data, nothing else ------------------------------------------------ */

static const mc_reg_entry_t acme_input[] = {
    MC_REG_INT(0x0000, 1, MC_FMT_U16, MC_QTY_VOLTAGE, 0, 0, MC_UNIT_V, -1),
    MC_REG_INT(0x0001, 1, MC_FMT_U32, MC_QTY_CURRENT, 0, 0, MC_UNIT_A, -3),
    MC_REG_INT(0x0003, 1, MC_FMT_I16, MC_QTY_P, 0, 0, MC_UNIT_W, 0),
    MC_REG_INT(0x0004, 1, MC_FMT_I16, MC_QTY_PF, 0, 0, MC_UNIT_NONE, -3),
    MC_REG_INT(0x0005, 1, MC_FMT_U16, MC_QTY_FREQ, 0, 0, MC_UNIT_HZ, -2),
    MC_REG_INT(0x0010, 1, MC_FMT_U32, MC_QTY_E_ACTIVE_IMPORT, 0, 0, MC_UNIT_KWH, -3),
    MC_REG_INT(0x0012, 1, MC_FMT_U32, MC_QTY_E_ACTIVE_EXPORT, 0, 0, MC_UNIT_KWH, -3),
    MC_REG_STR(0x0020, 4, 0),
    MC_REG_CONST(0x0024, 1, 1),
};

static const mc_reg_entry_t acme_holding[] = {
    MC_REG_U16(0x0000, 1, MC_QTY_PASSWORD, 0, 0, MC_ACC_RW),
    MC_REG_U16(0x0001, 1, MC_QTY_ADDRESS, 0, 0, MC_ACC_RW),
    MC_REG_U16(0x0002, 1, MC_QTY_PULSE_CONSTANT, 0, 0, MC_ACC_RW),
};

static const char *const acme_strings[] = {"ACME-1"};

static const mc_regmap_t acme_map = {
    .name = "acme1",
    .title = "ACME-1 legacy integer map",
    .holding = acme_holding,
    .n_holding = sizeof(acme_holding) / sizeof(acme_holding[0]),
    .input = acme_input,
    .n_input = sizeof(acme_input) / sizeof(acme_input[0]),
    .strings = acme_strings,
    .n_strings = 1,
    .words = MC_REGMAP_WORDS_ABCD,
};

/* ---- a client of the map, for the check --------------------------------------------------- */

static mc_meter_t meter;
static mc_model_t model;
static int failures;
static uint32_t clock_ms = 1000u; /* the product's monotonic clock (SysTick) */

static uint32_t monotonic_ms(void *ctx)
{
    (void)ctx;
    return clock_ms;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

/* One request: the response length; resp gets the response PDU. */
static int request(mc_session_t *s, const uint8_t *req, size_t len, uint8_t *resp)
{
    return mc_modbus_handle_pdu_map(&acme_map, &model, s, req, len, resp, 0);
}

/* FC 03/04 of n registers from addr into regs; 0, or the exception code. */
static int read_regs(uint8_t fc, unsigned addr, unsigned n, uint16_t *regs)
{
    const uint8_t req[5] = {fc, (uint8_t)(addr >> 8), (uint8_t)addr, 0, (uint8_t)n};
    uint8_t resp[MC_MODBUS_PDU_MAX];
    const int len = request(NULL, req, sizeof(req), resp);
    if (len == 2 && resp[0] == (uint8_t)(fc | 0x80u)) {
        return resp[1];
    }
    if (len != 2 + 2 * (int)n) {
        return -1;
    }
    for (unsigned k = 0; k < n; k++) {
        regs[k] = (uint16_t)(resp[2 + 2 * k] << 8 | resp[3 + 2 * k]);
    }
    return 0;
}

/* FC 06; 0, or the exception code. */
static int write_reg(mc_session_t *s, unsigned addr, unsigned value)
{
    const uint8_t req[5] = {MC_MB_FC_WRITE_SINGLE_REGISTER, (uint8_t)(addr >> 8), (uint8_t)addr,
                            (uint8_t)(value >> 8), (uint8_t)value};
    uint8_t resp[MC_MODBUS_PDU_MAX];
    const int len = request(s, req, sizeof(req), resp);
    return (len == 2 && (resp[0] & 0x80u)) ? resp[1] : (len == 5 ? 0 : -1);
}

static int near(double got, double want, double tol)
{
    return fabs(got - want) <= tol;
}

int main(void)
{
    check(mc_regmap_check(&acme_map) == MC_OK, "the map is well formed");

    /* A meter fed 2 s of 230 V, 5 A, 36.87 degrees lagging (PF 0.8), 50 Hz at 4 kHz. */
    mc_meter_config_t cfg;
    mc_meter_config_default(&cfg);
    cfg.sample_rate_hz = 4000;
    cfg.u_scale = 400.0f / 8388608.0f;
    cfg.i_scale = 100.0f / 8388608.0f;
    check(mc_meter_init(&meter, &cfg) == MC_OK, "meter");
    const double pi = 3.14159265358979323846, phi = acos(0.8);
    int32_t v[400], i[400];
    for (unsigned n = 0, blk = 0; blk < 200u; blk++) { /* 20 s */
        for (unsigned k = 0; k < 400u; k++, n++) {
            const double wt = 2.0 * pi * 50.0 * n / 4000.0;
            v[k] = (int32_t)lround(230.0 * sqrt(2.0) * sin(wt) / (400.0 / 8388608.0));
            i[k] = (int32_t)lround(5.0 * sqrt(2.0) * sin(wt - phi) / (100.0 / 8388608.0));
        }
        (void)mc_meter_process(&meter, v, i, 400);
    }
    mc_model_config_t mcfg;
    mc_model_config_default(&mcfg); /* secure defaults: writes need the password */
    mc_model_hooks_t hooks;
    memset(&hooks, 0, sizeof(hooks));
    hooks.monotonic_ms = monotonic_ms; /* sessions: a login holds for the following requests */
    check(mc_model_init(&model, &mcfg, &hooks, &meter, NULL, NULL) == MC_OK, "model");

    /* Reading is public. */
    uint16_t r[0x25];
    check(read_regs(MC_MB_FC_READ_INPUT, 0x0000, 0x25, r) == 0, "FC 04 0000H x 37");
    check(near(r[0], 2300.0, 2.0), "voltage 0.1 V");
    check(near((double)((uint32_t)r[1] << 16 | r[2]), 5000.0, 5.0), "current mA");
    check(near((int16_t)r[3], 920.0, 1.0), "active power W");
    check(near((int16_t)r[4], 800.0, 1.0), "PF 0.001");
    check(near(r[5], 5000.0, 1.0), "frequency 0.01 Hz");
    const double wh = (double)((uint32_t)r[0x10] << 16 | r[0x11]);
    mc_energy_t e;
    mc_meter_energy(&meter, &e);
    check(near(wh, 1000.0 * mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT]), 0.5), "import energy Wh, rounded");
    check(wh >= 4.0 && wh <= 920.0 * 20.0 / 3600.0 + 0.5, "import energy: at most 20 s of 920 W");
    check(memcmp((const char[]){(char)(r[0x20] >> 8), (char)r[0x20], (char)(r[0x21] >> 8), (char)r[0x21],
                                (char)(r[0x22] >> 8), (char)r[0x22]},
                 "ACME-1", 6) == 0 && r[0x23] == 0u,
          "model string");
    check(r[0x24] == 1u, "map version");
    check(r[0x06] == 0u && r[0x0F] == 0u, "gaps read 0");
    check(read_regs(MC_MB_FC_READ_INPUT, 0x0100, 2, r) == MC_MB_EX_ILLEGAL_ADDRESS, "nothing there: 02");
    check(read_regs(MC_MB_FC_READ_COILS, 0x0001, 1, r) == MC_MB_EX_ILLEGAL_FUNCTION, "no coils in this map: 01");

    /* Changing needs the password, on the client's session. */
    mc_auth_guard_t guard;
    mc_session_t s;
    mc_auth_guard_init(&guard, MC_IFACE_RTU);
    mc_session_init(&s, &guard);
    check(write_reg(&s, 0x0001, 7) == MC_MB_EX_DEVICE_FAILURE && model.params.address == 1u,
          "address without the password: 04, unchanged");
    check(write_reg(&s, 0x0000, 6666) == 0, "password");
    clock_ms += 50u;
    check(write_reg(&s, 0x0001, 7) == 0 && model.params.address == 7u, "address with the password");
    check(write_reg(&s, 0x0001, 0) == MC_MB_EX_ILLEGAL_VALUE, "address 0: 03");
    check(write_reg(&s, 0x0000 + 0x0010, 1) == MC_MB_EX_ILLEGAL_ADDRESS, "not a holding register: 02");

    printf("product_map: %s (%d failure%s)\n", failures ? "FAIL" : "ok", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
