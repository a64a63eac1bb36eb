/*
 * metercore firmware example: a KPM31BK-style meter on an STM32F4 board, single
 * phase or three phase four wire. It composes the library exactly as a product would:
 *
 *   board samples --> mc_meter_process() --> windows --> mc_storage_window()
 *   (3P4W: board frames --> mc_meter_process_frames(), the same from there on)
 *                                         \-> pulses  --> board pulse output
 *   RS485 bytes (ISR, timestamped) --> mc_rtu_rx_byte() / mc_rtu_poll() --> data model
 *   keys (debounced by the board) --> mc_panel_key() --> display
 *   parameter changes --> mc_storage_param_changed() (saved and logged)
 *   power-fail warning --> mc_storage_power_fail()
 *
 * The board (ports/stm32/boards/<name>) is chosen at build time; this file
 * knows no register and no pin. The product is chosen by FW_FEATURES
 * (MC_FEAT_RELAY | MC_FEAT_DI: a KPM31BK; MC_FEAT_RELAY: KPM31B; 0: KPM31A)
 * and by MC_FW_3P4W (0: single phase, samples in pairs from mc_board_samples();
 * 1: three phase four wire, frames U1 U2 U3 I1 I2 I3 [IN] from mc_board_frames(),
 * the board's sequence delays removed by a per-channel calibration), and by its register
 * map: MC_FW_REGMAP names the built-in map served at the meter's address (default the
 * KPM31 map), MC_FW_UNIT2 and MC_FW_UNIT2_MAP a second unit id and its map, and by the line's
 * protocol: MC_FW_DLT645 1 runs DL/T645-2007 on the RS485 line instead of Modbus-RTU. The totals
 * (m->energy, mc_meter_reading()) feed tariff, storage, data model and panel alike
 * in both; the 3P4W log adds a line per phase and one of the poly-phase values.
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "mc_board.h"
#include "metercore/metercore.h"

/* The RS485 line's protocol, a product's configuration (cmake -DMC_STM32_PROTOCOL=dlt645):
 * 0 Modbus-RTU (the default), 1 DL/T645-2007 (2400 baud 8E1, address MC_FW_DLT645_ADDRESS). */
#ifndef MC_FW_DLT645
#define MC_FW_DLT645 0
#endif
#ifndef MC_FW_DLT645_ADDRESS
#define MC_FW_DLT645_ADDRESS "000000000001"
#endif

#ifndef FW_FEATURES
#define FW_FEATURES (MC_FEAT_RELAY | MC_FEAT_DI)
#endif
#define FW_MAX_PENDING 4u        /* closed windows waiting to be booked */
#define FW_STATUS_PERIOD_MS 5000u
#define FW_BLOCK_MAX 128u
#if MC_FW_3P4W
#define FW_CHANNELS 7u  /* U1 U2 U3 I1 I2 I3 IN */
#define FW_PAIRS 12u    /* 3 elements, 3 line-to-line, 3 current cross products, 3 with IN */
#define FW_ELEMENTS 3u
#endif
#define FW_STR2(x) #x
#define FW_STR(x) FW_STR2(x)
#define FW_VERSION FW_STR(MC_VERSION_MAJOR) "." FW_STR(MC_VERSION_MINOR) "." FW_STR(MC_VERSION_PATCH)

typedef struct fw {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t model;
    mc_storage_t storage;
    mc_rtu_t rtu;
#if MC_FW_DLT645
    mc_dlt645_t dlt;
#endif
    mc_panel_t panel;
    mc_storage_config_t scfg;
    int storage_ok;
    mc_reading_t pending[FW_MAX_PENDING];
    unsigned npending;
    uint32_t windows_lost;
    uint32_t pulses;           /* pulses put on the output */
    uint32_t pulses_lost;      /* pulses refused by a full edge queue */
    uint32_t pulse_latency_us;
    uint32_t code_crc;
    uint32_t last_us;          /* µs clock at the previous loop */
    uint32_t clock_backsteps;  /* times the µs clock went backwards (a board bug: Modbus timing needs it monotonic) */
    unsigned keys;
#if MC_FW_3P4W
    unsigned log_next;         /* status lines still to write, one per loop (a block between) */
    mc_meter_channel_t ch[FW_CHANNELS];
    mc_meter_pair_t pr[FW_PAIRS];
    mc_meter_element_t el[FW_ELEMENTS];
    int32_t frames[FW_BLOCK_MAX * FW_CHANNELS];
#else
    int32_t v[FW_BLOCK_MAX];
    int32_t i[FW_BLOCK_MAX];
#endif
} fw_t;

static fw_t g_fw;

/* ---- small formatting for the log (keeps printf and its float support out of the image) ---- */

static char *put_str(char *p, const char *s)
{
    while (*s != '\0') {
        *p++ = *s++;
    }
    return p;
}

static char *put_u32(char *p, uint32_t v)
{
    char tmp[10];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0u) {
        *p++ = tmp[--n];
    }
    return p;
}

/* A value with a fixed number of decimals (0..6), rounded half away from zero. */
static char *put_fixed(char *p, float x, unsigned decimals)
{
    static const uint32_t scale[7] = {1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u};
    if (x < 0.0f) {
        *p++ = '-';
        x = -x;
    }
    if (x > 4.0e9f / (float)scale[decimals]) {
        return put_str(p, "ovf");
    }
    const uint32_t v = (uint32_t)(x * (float)scale[decimals] + 0.5f);
    p = put_u32(p, v / scale[decimals]);
    if (decimals > 0u) {
        *p++ = '.';
        uint32_t frac = v % scale[decimals];
        for (unsigned d = decimals; d > 0u; d--) {
            p[d - 1u] = (char)('0' + frac % 10u);
            frac /= 10u;
        }
        p += decimals;
    }
    return p;
}

/* ---- hooks of the data model ------------------------------------------------------------- */

static void hook_on_change(void *ctx, mc_qty qty, unsigned arg, uint32_t old_value, uint32_t new_value,
                           mc_source source)
{
    fw_t *f = ctx;
    if (f->storage_ok) {
        mc_storage_param_changed(&f->storage, qty, arg, old_value, new_value, source);
    }
}

static int hook_relay(void *ctx, int close)
{
    (void)ctx;
    return mc_board_relay(close);
}

static int hook_di(void *ctx)
{
    (void)ctx;
    return mc_board_di();
}

static uint32_t hook_monotonic_ms(void *ctx)
{
    (void)ctx;
    return mc_board_ms(); /* SysTick: never the RTC, which a client can set */
}

static int hook_cal_switch(void *ctx)
{
    (void)ctx;
    return mc_board_cal_switch();
}

/* Acknowledged = durable: a write's reply waits until its change and event are saved. */
static int hook_commit(void *ctx)
{
    fw_t *f = ctx;
    return f->storage_ok ? mc_storage_commit(&f->storage) : MC_ERR_IO;
}

static void hook_on_auth(void *ctx, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s)
{
    fw_t *f = ctx;
    if (f->storage_ok) {
        mc_storage_auth_event(&f->storage, what, iface, count, lockout_s);
    }
}

static int hook_audit_counter(void *ctx, unsigned which, uint32_t *out)
{
    fw_t *f = ctx;
    return f->storage_ok ? mc_storage_audit_counter(&f->storage, which, out) : MC_ERR_IO;
}

static mc_time_t hook_now(void *ctx)
{
    (void)ctx;
    return mc_board_now();
}

static int hook_set_clock(void *ctx, mc_time_t t)
{
    fw_t *f = ctx;
    const int rc = mc_board_set_clock(t);
    if (rc == MC_OK) {
        f->model.errors &= (uint16_t)~MC_ERROR_CLOCK; /* a set clock is valid again */
    }
    return rc;
}

static uint32_t hook_code_checksum(void *ctx)
{
    return ((const fw_t *)ctx)->code_crc;
}

static unsigned hook_event_count(void *ctx)
{
    const fw_t *f = ctx;
    return f->storage_ok ? mc_storage_event_count(&f->storage) : 0u;
}

static int hook_event_read(void *ctx, unsigned index, mc_event_t *out)
{
    const fw_t *f = ctx;
    return f->storage_ok ? mc_storage_event_read(&f->storage, index, out) : MC_ERR_NODATA;
}

/* ---- meter callbacks (called from mc_meter_process in the main loop) --------------------- */

static void on_window(void *ctx, const mc_reading_t *r)
{
    fw_t *f = ctx;
    if (f->npending < FW_MAX_PENDING) {
        f->pending[f->npending++] = *r;
    } else {
        f->windows_lost++; /* cannot happen with one block per loop: a window is >= 20 ms */
    }
}

static void on_pulse(void *ctx, const mc_pulse_t *p)
{
    fw_t *f = ctx;
    if (mc_board_pulse(p, f->pulse_latency_us)) {
        f->pulses++;
    } else {
        f->pulses_lost++;
    }
}

/* ---- Modbus-RTU and panel ports ------------------------------------------------------------ */

static int rtu_send(void *ctx, const uint8_t *adu, size_t len)
{
    (void)ctx;
    return mc_board_rs485_send(adu, len);
}

static void rtu_line(void *ctx, uint32_t baud, uint8_t parity)
{
    (void)ctx;
    mc_board_rs485_line(baud, parity);
}

#if MC_FW_DLT645
static int dlt_send(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    return mc_board_rs485_send(frame, len);
}

static void dlt_line(void *ctx, uint32_t baud)
{
    (void)ctx;
    mc_board_rs485_line(baud, 1u); /* 8E1: the standard's 11-bit character */
}
#endif

static void panel_show(void *ctx, const mc_panel_screen_t *s)
{
    (void)ctx;
    mc_board_display(s);
}

/* Lockouts go to the event log (the record mc_panel_event_record() defines, as in metersim). */
static void panel_event(void *ctx, mc_panel_event type)
{
    fw_t *f = ctx;
    if (type == MC_PANEL_EV_WRONG_PASSWORD || !f->storage_ok) {
        return;
    }
    mc_event_t ev;
    if (mc_panel_event_record(type, &ev) == MC_OK) {
        (void)mc_storage_log(&f->storage, &ev);
    }
}

/* ---- start-up ------------------------------------------------------------------------------ */

#if MC_FW_3P4W
/* Three phase four wire: the frame layout, the state arrays, and nothing else differs. */
static void config_wiring(fw_t *f, const mc_board_info_t *info, mc_meter_config_t *mc)
{
    if (info->wiring != MC_WIRING_3P4W) {
        mc_board_fatal("board is not a 3P4W front end");
    }
    mc->wiring = MC_WIRING_3P4W;
    mc->neutral = info->neutral;
    mc->netting = MC_NETTING_SUM; /* billing: the phases' powers summed each window */
    mc->channel_state = f->ch;
    mc->pair_state = f->pr;
    mc->element_state = f->el;
    if (mc_meter_channels(mc) > FW_CHANNELS || mc_meter_pairs(mc) > FW_PAIRS ||
        mc_meter_elements(mc) > FW_ELEMENTS) {
        mc_board_fatal("3P4W state arrays");
    }
}

/* A scanning front end samples the channels of a frame one after the other: a channel
 * sampled t later than the frame's first reads the signal t ahead, which the core takes
 * as a negative delay of 360 f t degrees at the fundamental (per-channel calibration).
 * Set before the mount as the factory value: a new meter's storage saves it with the
 * configuration; once a per-channel calibration is stored (a calibration bench refines
 * it through 1700H..17DFH), the mount puts the stored one in force instead. */
static void remove_channel_delays(fw_t *f, const mc_board_info_t *info, const mc_meter_config_t *mc)
{
    if (info->channel_delay_us == NULL) {
        return;
    }
    mc_poly_calibration_t pc;
    mc_poly_calibration_default(&pc);
    const size_t n = mc_meter_channels(mc);
    for (size_t k = 0; k < n; k++) {
        pc.phase_deg[k] = -360.0f * mc->nominal_freq_hz * info->channel_delay_us[k] * 1e-6f;
    }
    mc_poly_calibration_seal(&pc);
    if (mc_meter_set_poly_calibration(&f->meter, &pc) != MC_OK) {
        mc_board_fatal("channel delays");
    }
}
#endif

/* A latching relay keeps its contact through a power cut, but nothing tells the MCU which
 * way it lies: take the state last commanded, which the storage saved with the parameters
 * (the model's relay_closed after the mount; closed, supply on, for a new meter or without
 * storage), and drive the coil that way again (harmless if it already lies so). Not from the
 * event log: events anyone can cause (wrong passwords) would push the relay event out. */
static void restore_relay(fw_t *f)
{
    if ((FW_FEATURES & MC_FEAT_RELAY) == 0) {
        return;
    }
    const int closed = f->storage_ok ? f->model.relay_closed != 0u : 1;
    (void)mc_board_relay(closed);
    f->model.relay_closed = (uint8_t)closed;
}

static void fw_start(fw_t *f)
{
    const mc_board_info_t *info = mc_board_info();
    if (info->block > FW_BLOCK_MAX) {
        mc_board_fatal("board block larger than FW_BLOCK_MAX");
    }
    const uint8_t *image;
    size_t image_size;
    mc_board_image(&image, &image_size);
    f->code_crc = mc_crc32(0u, image, image_size);

    mc_meter_config_t mc;
    mc_meter_config_default(&mc);
    mc.sample_rate_hz = info->sample_hz;
    mc.u_scale = info->u_scale;
    mc.i_scale = info->i_scale;
    mc.on_window = on_window;
    mc.on_pulse = on_pulse;
    mc.context = f;
    /* Pulses come with the window that holds them: place them one window, a cycle and a
     * block (plus margin) after their sample time, so that their spacing is exact. */
    f->pulse_latency_us = (uint32_t)mc.window_ms * 1000u + 200000u;
#if MC_FW_3P4W
    config_wiring(f, info, &mc);
#else
    if (info->wiring != MC_WIRING_1P2W) {
        mc_board_fatal("board is not a 1P2W front end");
    }
#endif
    if (mc_meter_init(&f->meter, &mc) != MC_OK) {
        mc_board_fatal("meter config");
    }
#if MC_FW_3P4W
    remove_channel_delays(f, info, &mc);
#endif
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    if (mc_tariff_init(&f->tariff, &tc, mc_board_now()) != MC_OK) {
        mc_board_fatal("tariff config");
    }
    mc_model_config_t mdc;
    mc_model_config_default(&mdc); /* secure: every bus change needs the password */
    mdc.features = FW_FEATURES;
    mc_model_hooks_t hooks;
    memset(&hooks, 0, sizeof(hooks));
    hooks.on_change = hook_on_change;
    hooks.relay = hook_relay;
    hooks.di = hook_di;
    hooks.now = hook_now;
    hooks.set_clock = hook_set_clock;
    hooks.code_checksum = hook_code_checksum;
    hooks.event_count = hook_event_count;
    hooks.event_read = hook_event_read;
    hooks.monotonic_ms = hook_monotonic_ms;
    hooks.cal_switch = hook_cal_switch;
    hooks.commit = hook_commit;
    hooks.on_auth = hook_on_auth;
    hooks.audit_counter = hook_audit_counter;
    hooks.ctx = f;
    if (mc_model_init(&f->model, &mdc, &hooks, &f->meter, &f->tariff, NULL) != MC_OK) {
        mc_board_fatal("model config");
    }
    f->model.relay_closed = 1u; /* a new meter's latching relay: closed (the mount restores the saved state) */
    mc_storage_config_default(&f->scfg);
    mc_board_nvm(&f->scfg.nvm);
    if (info->has_flash_nvm) {
        f->scfg.save_quantum_wh = 1000u; /* MCU flash: save every kWh (or hour, or power fail) */
    }
    const int rc = mc_storage_mount(&f->storage, &f->scfg, &f->meter, &f->tariff, &f->model);
    if (rc == MC_OK) {
        f->storage_ok = 1;
    } else {
        /* Keep metering (and billing from the registers in RAM) rather than stop the meter;
         * nothing stored is touched. The status register shows the storage error. */
        char line[64];
        char *p = put_str(line, "storage: mount failed ");
        p = put_str(p, mc_strerror(rc));
        *p = '\0';
        mc_board_log(line);
    }
    if (!mc_board_clock_valid()) {
        f->model.errors |= MC_ERROR_CLOCK; /* status 1021H bit 3 until the clock is set */
    }
    restore_relay(f);
    mc_rtu_port_t rp = {rtu_send, rtu_line, f};
    if (mc_rtu_init(&f->rtu, &f->model, &rp) != MC_OK) {
        mc_board_fatal("rtu");
    }
#ifdef MC_FW_REGMAP
    /* The map the line serves at the meter's address, a built-in one by name (the product's
     * configuration: cmake -DMC_STM32_REGMAP=sdm120; without it the KPM31 map). */
    if (mc_rtu_set_map(&f->rtu, mc_regmap_builtin(MC_FW_REGMAP)) != MC_OK) {
        mc_board_fatal("regmap");
    }
#endif
#if defined(MC_FW_UNIT2_MAP) && defined(MC_FW_UNIT2)
    /* One meter seen as two devices on the line: a second unit id with another map
     * (cmake -DMC_STM32_UNIT2=2 -DMC_STM32_UNIT2_MAP=sunspec). */
    if (mc_rtu_add_unit(&f->rtu, MC_FW_UNIT2, mc_regmap_builtin(MC_FW_UNIT2_MAP)) != MC_OK) {
        mc_board_fatal("unit2");
    }
#endif
    /* A power cycle gives a password guesser no fresh tries: the line's count from the log. */
    uint32_t wrong;
    if (f->storage_ok && mc_storage_auth_restore(&f->storage, MC_IFACE_RTU, &wrong) == MC_OK) {
        mc_auth_guard_restore(&f->model, &f->rtu.guard, wrong);
    }
#if MC_FW_DLT645
    /* DL/T645 on the line instead of Modbus: the same model, sessions and guards (its own, restored
     * like the RTU line's); 2400 baud 8E1 */
    mc_dlt645_config_t dc;
    mc_dlt645_config_default(&dc);
    if (mc_dlt645_parse_address(MC_FW_DLT645_ADDRESS, dc.address) != MC_OK) {
        mc_board_fatal("dlt645 address");
    }
    const mc_dlt645_port_t dp = {dlt_send, dlt_line, NULL, f};
    if (mc_dlt645_init(&f->dlt, &f->model, &dc, &dp) != MC_OK) {
        mc_board_fatal("dlt645");
    }
    if (f->storage_ok && mc_storage_auth_restore(&f->storage, MC_IFACE_DLT645, &wrong) == MC_OK) {
        mc_auth_guard_restore(&f->model, &f->dlt.guard, wrong);
    }
    mc_board_rs485_line(dc.baud, 1u);
#else
    /* the line settings that were stored */
    mc_board_rs485_line(f->rtu.baud, f->rtu.parity);
#endif
    mc_panel_port_t pp;
    memset(&pp, 0, sizeof(pp));
    pp.show = panel_show;
    pp.event = panel_event;
    pp.ctx = f;
    if (mc_panel_init(&f->panel, &f->model, &pp, mc_board_ms()) != MC_OK) {
        mc_board_fatal("panel");
    }
}

static void log_status(fw_t *f)
{
    mc_reading_t r;
    if (mc_meter_reading(&f->meter, &r) != MC_OK) {
        mc_board_log("status: no window yet");
        return;
    }
    mc_energy_t e;
    (void)mc_meter_energy(&f->meter, &e);
    char line[160];
    char *p = put_str(line, "status: U=");
    p = put_fixed(p, r.urms, 2);
    p = put_str(p, " V I=");
    p = put_fixed(p, r.irms, 3);
    p = put_str(p, " A P=");
    p = put_fixed(p, r.p, 1);
    p = put_str(p, " W PF=");
    p = put_fixed(p, r.pf, 3);
    p = put_str(p, " F=");
    p = put_fixed(p, r.freq, 3);
    p = put_str(p, " Hz E+=");
    p = put_fixed(p, mc_energy_kwh(e.q[MC_E_ACTIVE_IMPORT]), 5);
    p = put_str(p, " kWh pulses=");
    p = put_u32(p, f->pulses);
    p = put_str(p, " pulses_lost=");
    p = put_u32(p, f->pulses_lost);
    p = put_str(p, " frames=");
#if MC_FW_DLT645
    p = put_u32(p, f->dlt.stats.frames);
#else
    p = put_u32(p, f->rtu.stats.frames);
#endif
    p = put_str(p, " lost=");
    p = put_u32(p, mc_board_sample_overruns());
    p = put_str(p, " windows_lost=");
    p = put_u32(p, f->windows_lost);
    p = put_str(p, " clock_back=");
    p = put_u32(p, f->clock_backsteps);
    *p = '\0';
    mc_board_log(line);
#if MC_FW_3P4W
    f->log_next = 1u; /* the phases and the poly-phase line follow, one per loop */
#endif
}

#if MC_FW_3P4W
/* Line k (1..3: phase k, 4: poly-phase values) of the 3P4W status; each under 9 ms at
 * 115200 baud, so that one line between two blocks leaves the board's 20 ms of slack. */
static void log_status_poly(fw_t *f, unsigned k)
{
    char line[128];
    char *p = line;
    if (k <= FW_ELEMENTS) {
        mc_phase_reading_t r;
        if (mc_meter_phase_reading(&f->meter, k - 1u, &r) != MC_OK) {
            return;
        }
        *p++ = 'L';
        p = put_u32(p, k);
        p = put_str(p, ": U=");
        p = put_fixed(p, r.urms, 2);
        p = put_str(p, " I=");
        p = put_fixed(p, r.irms, 3);
        p = put_str(p, " P=");
        p = put_fixed(p, r.p, 1);
        p = put_str(p, " Q=");
        p = put_fixed(p, r.q, 1);
        p = put_str(p, " PF=");
        p = put_fixed(p, r.pf, 3);
        p = put_str(p, " Ua=");
        p = put_fixed(p, r.u_angle_deg, 2);
        p = put_str(p, " Ia=");
        p = put_fixed(p, r.i_angle_deg, 2);
    } else {
        mc_poly_reading_t pp;
        if (mc_meter_poly_reading(&f->meter, &pp) != MC_OK) {
            return;
        }
        p = put_str(p, "poly: U12=");
        p = put_fixed(p, pp.u_ll[0], 2);
        p = put_str(p, " U23=");
        p = put_fixed(p, pp.u_ll[1], 2);
        p = put_str(p, " U31=");
        p = put_fixed(p, pp.u_ll[2], 2);
        p = put_str(p, " IN=");
        p = put_fixed(p, pp.i_neutral, 3);
        p = put_str(p, " Ir=");
        p = put_fixed(p, pp.i_residual, 3);
        p = put_str(p, " Uu=");
        p = put_fixed(p, pp.u_unbalance_pct, 2);
        p = put_str(p, " Iu=");
        p = put_fixed(p, pp.i_unbalance_pct, 2);
        p = put_str(p, " seq=");
        p = put_u32(p, pp.sequence);
        p = put_str(p, " flags=");
        p = put_u32(p, pp.flags);
    }
    *p = '\0';
    mc_board_log(line);
}
#endif

/* One block of samples (pairs or frames) into the meter, if one is complete. */
static size_t fw_measure(fw_t *f)
{
#if MC_FW_3P4W
    const size_t n = mc_board_frames(f->frames);
    if (n > 0u) {
        (void)mc_meter_process_frames(&f->meter, f->frames, n);
    }
#else
    const size_t n = mc_board_samples(f->v, f->i);
    if (n > 0u) {
        (void)mc_meter_process(&f->meter, f->v, f->i, n);
    }
#endif
    return n;
}

int main(void)
{
    fw_t *f = &g_fw;
    mc_board_init();
    {
        char line[64];
        char *p = put_str(line, "metercore ");
        p = put_str(p, FW_VERSION);
        p = put_str(p, " on ");
        p = put_str(p, mc_board_info()->name);
        *p = '\0';
        mc_board_log(line);
    }
    fw_start(f);
    mc_board_log(MC_FW_DLT645 ? "ready: DL/T645-2007 on USART2" : "ready: Modbus-RTU on USART2");

    f->last_us = mc_board_us();
    uint32_t last_status = mc_board_ms();
    uint32_t last_tick = last_status;
    mc_time_t last_poll = mc_board_now();
    for (;;) {
        mc_board_watchdog();

        /* Modbus: bytes the receive interrupt stamped, then the frame end (t3.5). */
        uint8_t byte;
        uint32_t t_us;
        while (mc_board_rs485_rx(&byte, &t_us)) {
#if MC_FW_DLT645
            mc_dlt645_rx_byte(&f->dlt, byte, t_us);
#else
            mc_rtu_rx_byte(&f->rtu, byte, t_us);
#endif
        }
        const uint32_t now_us = mc_board_us();
        if ((int32_t)(now_us - f->last_us) < 0) {
            f->clock_backsteps++;
        }
        f->last_us = now_us;
#if MC_FW_DLT645
        (void)mc_dlt645_poll(&f->dlt, now_us);
#else
        (void)mc_rtu_poll(&f->rtu, now_us);
#endif

        /* Metering: one block at a time, then book the windows it closed. */
        if (fw_measure(f) > 0u) {
            for (unsigned k = 0; k < f->npending; k++) {
                if (f->storage_ok) {
                    (void)mc_storage_window(&f->storage, mc_board_now(), &f->pending[k]);
                } else {
                    (void)mc_tariff_add(&f->tariff, mc_board_now(), &f->pending[k]);
                }
            }
            f->npending = 0u;
        }

        if (mc_board_power_failing() && f->storage_ok) {
            (void)mc_storage_power_fail(&f->storage, mc_board_now());
        }

        /* Front panel: key edges as they come, time every 100 ms. */
        const uint32_t ms = mc_board_ms();
        const unsigned keys = mc_board_keys();
        if (keys != f->keys) {
            f->keys = keys;
            (void)mc_panel_key(&f->panel, keys, ms);
        }
        if ((uint32_t)(ms - last_tick) >= 100u) {
            last_tick = ms;
            (void)mc_panel_tick(&f->panel, ms);
            mc_board_display_tick(ms);
        }

        const mc_time_t now = mc_board_now();
        if (now != last_poll) {
            last_poll = now;
            if (f->storage_ok) {
                (void)mc_storage_poll(&f->storage, now);
            }
        }
        if ((uint32_t)(ms - last_status) >= FW_STATUS_PERIOD_MS) {
            last_status = ms;
            log_status(f);
        }
#if MC_FW_3P4W
        else if (f->log_next > 0u && f->log_next <= FW_ELEMENTS + 1u) {
            log_status_poly(f, f->log_next++);
        }
#endif
    }
}
