/*
 * metercore storage suite: mc_storage.h on an emulated NVM (nvm_emu.h) and the
 * POSIX file-backed NVM (ports/posix/mc_posix_nvm.h).
 *
 * A "meter application" (app_t) is what firmware would have: a meter, a tariff,
 * a data model whose hooks are a simulated clock and mc_storage_param_changed()
 * (context: the storage instance, the app's first member), and the storage
 * mounted on an NVM. Windows are synthetic: the test builds each mc_reading_t
 * (delta quanta, p, s, duration 1 s), adds the delta to the meter's registers
 * (as the core does before its window callback) and calls mc_storage_window().
 *
 * Expected values never come from the code under test: the test keeps its own
 * record of every energy state it fed (a "tracker"), every parameter version it
 * wrote, and checks what a fresh mount restores against that record:
 * restored energy must be one of the states fed (bit for bit), no older than the
 * newest state already durable, and within one save quantum (plus the window
 * being booked at the cut) of the energy at the cut, exact after a power-fail
 * warning; tariff totals must belong to the same state; history plus this
 * month must equal the energy fed; parameters must be one of the versions
 * written. The on-NVM format is read from its description in
 * src/storage/mc_storage.c (16-byte header: magic 'MC', kind, major, minor,
 * 0, length, sequence, CRC-32 over the 12 bytes before it and the payload;
 * a commit marker in the slot's last programming unit).
 *
 * Meters of several elements (3P4W, up to 16 circuits): each element's registers are set by the test
 * (the core's part) and must come back as the test set them; a memory of format 2.0 is frozen here
 * (an image CRC and an energy record written by the 2.0 code) to show that a single-element meter
 * still writes it byte for byte and that a meter of several elements mounts it and upgrades. Wiring
 * changes and back on one memory (3P4W, 1P2W, circuits; records of several sizes then share sectors):
 * every mount restores the sum of every run before it, and the energy area never holds two records of
 * one sequence number, also after a cut at every program and erase across the changes. The per-channel
 * calibration of a meter of several elements: saved with the write that changed it (its events, its
 * audit counter), a damaged copy treated as corrupt, not put in force under another frame layout.
 *
 * The power-cut sweep runs a scripted life (about 2000 saves, a parameter
 * change, an energy clear, freezes by the window path and by a clock set, a
 * clock set backwards, power-fail warnings) once, with a hook before every
 * prog and erase: the image a cut at that op leaves (nvm_emu_apply_partial())
 * is mounted fresh and checked, so every op is a cut point. Replays of the
 * script from a blank memory with a real cut armed (every K of the first few
 * hundred ops, random K beyond) must leave the very same image, mount (also
 * after a second cut during that mount), and go on saving exactly.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metercore/mc_calendar.h"
#include "metercore/mc_meter.h"
#include "metercore/mc_registers.h"
#include "metercore/mc_storage.h"
#include "metercore/mc_tariff.h"
#include "nvm_emu.h"

#ifdef MC_HAVE_POSIX_NVM
#include <unistd.h>

#include "metercore/posix/mc_posix_nvm.h"
#endif

#define Q MC_ENERGY_QUANTA_PER_WH
#define SQRT2_T 1.4142135623730951 /* sqrt(2), for the test's own waveforms */

/* Record kinds and layout (src/storage/mc_storage.c, "On-NVM format"). */
#define KIND_ENERGY 1u
#define KIND_HISTORY 2u
#define KIND_CONFIG 3u
#define KIND_STATE 4u
#define AREA_ENERGY 0u
#define AREA_HISTORY 1u
#define AREA_CONFIG 2u
#define AREA_EVENTS 3u
#define AREA_AUDIT 4u
#define AREA_COUNT_TEST 5u
#define HDR 16u
#define MARKER 0x5Au /* first byte of the commit marker in a slot's last programming unit */
/* Record minors (mc_storage.c, "On-NVM format"): each record carries that of its own layout. 2.1
 * changed the energy record of a meter of several elements only, so a single-element meter's
 * records, config and history records are all of minor 0, and its memory is of format 2.0. */
#define MINOR_BASE 0u
#define MINOR_ELEMENTS 1u
#define FORMAT_1P2W ((MC_STORAGE_FORMAT_MAJOR << 8) | MINOR_BASE)
#define FORMAT_POLY ((MC_STORAGE_FORMAT_MAJOR << 8) | MINOR_ELEMENTS)

static mc_time_t T(unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    mc_datetime_t dt = {(uint16_t)y, (uint8_t)mo, (uint8_t)d, (uint8_t)h, (uint8_t)mi, (uint8_t)s, 0};
    mc_time_t t;
    assert_int_equal(mc_time_from_datetime(&dt, &t), MC_OK);
    return t;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint64_t energy_total(const mc_energy_t *e)
{
    uint64_t s = 0;
    for (int k = 0; k < MC_E_COUNT; k++) {
        s += e->q[k];
    }
    return s;
}

/* ------------------------------------------------------------------------ */
/* The meter application                                                    */

typedef struct app {
    mc_storage_t st; /* first: the model's hook context (the app) is also the storage instance */
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t model;
    mc_storage_config_t scfg;
    nvm_emu_t *emu;
    mc_time_t now; /* the simulated clock */
    /* the state of a meter of several elements (app_init_wired()) */
    mc_meter_channel_t ch[MC_MAX_CHANNELS];
    mc_meter_pair_t pr[MC_MAX_PAIRS];
    mc_meter_element_t el[MC_MAX_CIRCUITS];
} app_t;

static mc_time_t app_now(void *ctx)
{
    return ((app_t *)ctx)->now;
}

static int app_set_clock(void *ctx, mc_time_t t)
{
    ((app_t *)ctx)->now = t;
    return MC_OK;
}

static unsigned app_event_count(void *ctx)
{
    return mc_storage_event_count(&((app_t *)ctx)->st);
}

static int app_event_read(void *ctx, unsigned index, mc_event_t *out)
{
    return mc_storage_event_read(&((app_t *)ctx)->st, index, out);
}

/* Fresh instances at time `now`, storage configured on `nvm` with `cfg` (NULL: defaults), not mounted;
 * the meter wired as `wiring` (MC_WIRING_MULTI: `circuits` circuits on one voltage). */
static void app_init_wired(app_t *a, const mc_nvm_t *nvm, mc_time_t now, const mc_storage_config_t *cfg,
                           mc_wiring wiring, unsigned circuits)
{
    memset(a, 0, sizeof(*a));
    a->now = now;
    mc_meter_config_t mc;
    mc_meter_config_default(&mc);
    mc.u_scale = 400.0f / 8388608.0f;
    mc.i_scale = 100.0f / 8388608.0f;
    if (wiring != MC_WIRING_1P2W) {
        mc.wiring = wiring;
        mc.voltages = 1;
        mc.circuits = (uint8_t)circuits;
        mc.channel_state = a->ch;
        mc.pair_state = a->pr;
        mc.element_state = a->el;
    }
    assert_int_equal(mc_meter_init(&a->meter, &mc), MC_OK);
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    assert_int_equal(mc_tariff_init(&a->tariff, &tc, now), MC_OK);
    mc_model_config_t mdc;
    memset(&mdc, 0, sizeof(mdc));
    mc_model_hooks_t hooks;
    memset(&hooks, 0, sizeof(hooks));
    hooks.on_change = mc_storage_param_changed;
    hooks.now = app_now;
    hooks.set_clock = app_set_clock;
    hooks.event_count = app_event_count;
    hooks.event_read = app_event_read;
    hooks.commit = mc_storage_commit; /* acknowledged = durable */
    hooks.on_auth = mc_storage_auth_event;
    hooks.ctx = a;
    assert_int_equal(mc_model_init(&a->model, &mdc, &hooks, &a->meter, &a->tariff, NULL), MC_OK);
    if (cfg != NULL) {
        a->scfg = *cfg;
    } else {
        mc_storage_config_default(&a->scfg);
    }
    a->scfg.nvm = *nvm;
}

static void app_init_nvm(app_t *a, const mc_nvm_t *nvm, mc_time_t now, const mc_storage_config_t *cfg)
{
    app_init_wired(a, nvm, now, cfg, MC_WIRING_1P2W, 1);
}

static int app_mount(app_t *a)
{
    return mc_storage_mount(&a->st, &a->scfg, &a->meter, &a->tariff, &a->model);
}

static int app_boot_nvm(app_t *a, const mc_nvm_t *nvm, mc_time_t now, const mc_storage_config_t *cfg)
{
    app_init_nvm(a, nvm, now, cfg);
    return app_mount(a);
}

static int app_boot_cfg(app_t *a, nvm_emu_t *emu, mc_time_t now, const mc_storage_config_t *cfg)
{
    mc_nvm_t nvm;
    nvm_emu_port(emu, &nvm);
    int rc = app_boot_nvm(a, &nvm, now, cfg);
    a->emu = emu;
    return rc;
}

static int app_boot(app_t *a, nvm_emu_t *emu, mc_time_t now)
{
    return app_boot_cfg(a, emu, now, NULL);
}

/* An older product: no commit hook (events logged at once, records saved at the next poll). */
static int app_boot_legacy(app_t *a, nvm_emu_t *emu, mc_time_t now)
{
    mc_nvm_t nvm;
    nvm_emu_port(emu, &nvm);
    app_init_nvm(a, &nvm, now, NULL);
    a->model.hooks.commit = NULL;
    a->emu = emu;
    return app_mount(a);
}

/* One synthetic window of dt seconds: the core's registers grow by d, then storage books it. */
static int app_feed(app_t *a, const mc_energy_t *d, uint32_t dt)
{
    mc_energy_t e;
    assert_int_equal(mc_meter_energy(&a->meter, &e), MC_OK);
    for (int k = 0; k < MC_E_COUNT; k++) {
        e.q[k] = (e.q[k] + d->q[k]) & (MC_ENERGY_QUANTA_MODULO - 1u); /* rolls over as the meter's */
    }
    assert_int_equal(mc_meter_set_energy(&a->meter, &e), MC_OK);
    a->now += dt;
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta = *d;
    const double wh = ((double)d->q[MC_E_ACTIVE_IMPORT] - (double)d->q[MC_E_ACTIVE_EXPORT]) / (double)Q;
    r.p = (float)(wh * 3600.0);
    r.s = r.p < 0.0f ? -r.p * 1.1f : r.p * 1.1f;
    r.urms = 230.0f;
    r.freq = 50.0f;
    r.duration_s = 1.0f;
    return mc_storage_window(&a->st, a->now, &r);
}

/* Deterministic, varied window energies (about 1.2 Wh per window in all registers). */
static mc_energy_t window_delta(uint32_t w, int load)
{
    mc_energy_t d;
    memset(&d, 0, sizeof(d));
    if (!load) {
        return d;
    }
    const uint64_t h = nvm_emu_mix((uint64_t)w * 0x9E37u + 17u);
    if (w % 11u == 5u) {
        d.q[MC_E_ACTIVE_EXPORT] = Q / 2u + h % (Q / 4u);
        d.q[MC_E_REACTIVE_Q3] = Q / 10u + (h >> 20) % (Q / 10u);
    } else {
        d.q[MC_E_ACTIVE_IMPORT] = Q * 8u / 10u + h % (Q / 5u);
        if (w % 3u == 0u) {
            d.q[MC_E_REACTIVE_Q4] = (h >> 24) % (Q / 8u);
        } else {
            d.q[MC_E_REACTIVE_Q1] = Q * 3u / 10u + (h >> 16) % (Q / 10u);
        }
    }
    return d;
}

static mc_energy_t wh_delta(uint64_t import_wh)
{
    mc_energy_t d;
    memset(&d, 0, sizeof(d));
    d.q[MC_E_ACTIVE_IMPORT] = import_wh * Q;
    return d;
}

/* Model writes. */
static int write_u16(app_t *a, mc_qty qty, unsigned arg, unsigned v)
{
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = (uint8_t)qty;
    it.arg = (uint8_t)arg;
    it.u = (uint16_t)v;
    return mc_model_write(&a->model, &it, 1, MC_SRC_BUS);
}

static int write_clock(app_t *a, mc_time_t t)
{
    mc_datetime_t dt;
    assert_int_equal(mc_time_to_datetime(t, &dt), MC_OK);
    const unsigned f[6] = {dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second};
    mc_write_item_t it[6];
    memset(it, 0, sizeof(it));
    for (unsigned k = 0; k < 6u; k++) {
        it[k].qty = MC_QTY_CLOCK;
        it[k].arg = (uint8_t)k;
        it[k].u = (uint16_t)f[k];
    }
    return mc_model_write(&a->model, it, 6, MC_SRC_BUS);
}

/* Sum over rates of a tariff kind. */
static uint64_t tariff_kind(const mc_tariff_t *t, unsigned kind)
{
    uint64_t s = 0;
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        s += t->total[r][kind];
    }
    return s;
}

/* History + this month, combined active (import + export) or reactive, in quanta. */
static int64_t booked_combined(const mc_tariff_t *t, int reactive)
{
    int64_t s = 0;
    for (unsigned m = 0; m < MC_TARIFF_HISTORY_MONTHS; m++) {
        for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
            s += (int64_t)(reactive ? t->history[m].reactive_varh[r] : t->history[m].active_wh[r]) * (int64_t)Q;
        }
    }
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        s += (int64_t)(reactive ? t->month[r][MC_TK_REACTIVE_IMPORT] + t->month[r][MC_TK_REACTIVE_EXPORT]
                                : t->month[r][MC_TK_ACTIVE_IMPORT] + t->month[r][MC_TK_ACTIVE_EXPORT]);
    }
    return s;
}

static int64_t total_combined(const mc_tariff_t *t, int reactive)
{
    return reactive ? (int64_t)(tariff_kind(t, MC_TK_REACTIVE_IMPORT) + tariff_kind(t, MC_TK_REACTIVE_EXPORT))
                    : (int64_t)(tariff_kind(t, MC_TK_ACTIVE_IMPORT) + tariff_kind(t, MC_TK_ACTIVE_EXPORT));
}

static int64_t fed_combined(const mc_energy_t *e, int reactive)
{
    return reactive ? (int64_t)(e->q[MC_E_REACTIVE_Q1] + e->q[MC_E_REACTIVE_Q2] + e->q[MC_E_REACTIVE_Q3] +
                                e->q[MC_E_REACTIVE_Q4])
                    : (int64_t)(e->q[MC_E_ACTIVE_IMPORT] + e->q[MC_E_ACTIVE_EXPORT]);
}

/* Find an event of a type among the newest `depth` (index of the newest match, or -1). */
static int find_event(const app_t *a, uint8_t type, unsigned depth, mc_event_t *out)
{
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n && i < depth; i++) {
        mc_event_t ev;
        if (mc_storage_event_read(&a->st, i, &ev) == MC_OK && ev.type == type) {
            if (out != NULL) {
                *out = ev;
            }
            return (int)i;
        }
    }
    return -1;
}

/* Storage format upgrades logged (MC_EV_FORMAT, arg 0, from an older format: old value not 0). */
static unsigned count_upgrades(const app_t *a)
{
    unsigned c = 0;
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        c += mc_storage_event_read(&a->st, i, &ev) == MC_OK && ev.type == MC_EV_FORMAT && ev.arg == 0u &&
             ev.old_value != 0u;
    }
    return c;
}

/* ------------------------------------------------------------------------ */
/* The logs, read from the NVM image independently of the library          */

#define LOG_MAX 4096u

/* Every CRC-valid event slot of both log areas (geometry from the instance), newest first by
 * sequence number; *damaged counts slots that carry the commit marker but fail their CRC. */
typedef struct log_model {
    mc_event_t ev[LOG_MAX];
    unsigned n, damaged, audit_n;
} log_model_t;

static void log_model_read(const nvm_emu_t *e, const mc_storage_t *st, log_model_t *m)
{
    m->n = m->damaged = m->audit_n = 0;
    for (unsigned area = AREA_EVENTS; area <= AREA_AUDIT; area++) {
        const mc_storage_area_t *a = &st->area[area];
        for (uint32_t slot = 0; slot < (uint32_t)a->sectors * a->slots_per_sector; slot++) {
            const uint8_t *p = e->mem + (size_t)(a->first_sector + slot / a->slots_per_sector) * e->sector_size +
                               (slot % a->slots_per_sector) * a->slot_size;
            if (mc_crc32(0, p, 20) != rd32(p + 20)) {
                const uint32_t mark = a->slot_size - (e->prog_size < 4u ? 4u : e->prog_size);
                m->damaged += p[mark] == MARKER && p[mark + 1u] == 0xA5u;
                continue;
            }
            if (m->n >= LOG_MAX) {
                continue;
            }
            mc_event_t *ev = &m->ev[m->n++];
            ev->seq = rd32(p);
            ev->time = rd32(p + 4);
            ev->type = p[8];
            ev->source = p[9];
            ev->qty = p[10];
            ev->arg = p[11];
            ev->old_value = rd32(p + 12);
            ev->new_value = rd32(p + 16);
            m->audit_n += area == AREA_AUDIT;
        }
    }
    /* newest first (insertion sort: a few hundred) */
    for (unsigned i = 1; i < m->n; i++) {
        const mc_event_t x = m->ev[i];
        unsigned j = i;
        while (j > 0u && m->ev[j - 1u].seq < x.seq) {
            m->ev[j] = m->ev[j - 1u];
            j--;
        }
        m->ev[j] = x;
    }
}

/* Whether an event is metrological (issue 14: calibration, seal, energy clear, clock set, tariff,
 * settlement, pulse constant, format). */
static int audit_type(const mc_event_t *ev)
{
    if (ev->type == MC_EV_CALIBRATION || ev->type == MC_EV_ENERGY_CLEAR || ev->type == MC_EV_CLOCK_SET ||
        ev->type == MC_EV_FORMAT) {
        return 1;
    }
    return ev->type == MC_EV_PARAM &&
           (ev->qty == MC_QTY_PULSE_CONSTANT || ev->qty == MC_QTY_SETTLE_DAY || ev->qty == MC_QTY_SETTLE_HOUR ||
            (ev->qty >= MC_QTY_TOU_COUNTS && ev->qty <= MC_QTY_TOU_SPECIAL) ||
            ev->qty == MC_QTY_MAX_DEMAND_P || ev->qty == MC_QTY_EVENT_COUNT); /* DL/T645 demand, event clear */
}

/*
 * The merged log as the library reads it (mc_storage_event_count/read) against the image: the same
 * events newest first, sequence numbers unique and decreasing, valid types and times, every
 * metrological event in the audit area and no other. `depth` bounds the reads (0: all).
 */
static int log_check(const nvm_emu_t *e, const app_t *a, unsigned depth, char *msg, size_t cap)
{
    static log_model_t m;
    log_model_read(e, &a->st, &m);
    const unsigned n = mc_storage_event_count(&a->st);
    if (m.damaged == 0u && n != m.n) {
        snprintf(msg, cap, "the log counts %u events, the image holds %u", n, m.n);
        return -1;
    }
    for (unsigned i = 0; i < m.n; i++) {
        const mc_event_t *x = &m.ev[i];
        if (x->type < MC_EV_POWER_UP || x->type > MC_EV_FORMAT || x->time > MC_TIME_MAX ||
            (i > 0u && x->seq >= m.ev[i - 1u].seq)) {
            snprintf(msg, cap, "image event %u: type %u time %u seq %u", i, x->type, x->time, x->seq);
            return -1;
        }
    }
    unsigned audit = 0;
    for (unsigned i = 0; i < m.n; i++) {
        audit += (unsigned)audit_type(&m.ev[i]);
    }
    if (audit != m.audit_n) {
        snprintf(msg, cap, "%u metrological events, %u in the audit area", audit, m.audit_n);
        return -1;
    }
    if (m.damaged != 0u) {
        return 0; /* positions of damaged slots are the library's estimate: not compared */
    }
    const unsigned upto = depth == 0u || depth > n ? n : depth;
    for (unsigned i = 0; i < upto; i++) {
        mc_event_t ev;
        const int rc = mc_storage_event_read(&a->st, i, &ev);
        if (rc != MC_OK || memcmp(&ev, &m.ev[i], sizeof(ev)) != 0) {
            snprintf(msg, cap, "event %u of %u: %s, seq %u type %u; the image has seq %u type %u", i, n,
                     mc_strerror(rc), ev.seq, ev.type, m.ev[i].seq, m.ev[i].type);
            return -1;
        }
    }
    return 0;
}

/* The whole log reads back newest first as the image holds it (see log_check()). */
static void check_log_sane(const app_t *a, const char *ctx)
{
    char msg[300];
    if (a->emu != NULL && log_check(a->emu, a, 0, msg, sizeof(msg)) != 0) {
        fail_msg("%s: %s", ctx, msg);
    }
    const unsigned n = mc_storage_event_count(&a->st);
    uint32_t prev = 0;
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        int rc = mc_storage_event_read(&a->st, i, &ev);
        if (rc != MC_OK) {
            fail_msg("%s: event %u of %u reads %s", ctx, i, n, mc_strerror(rc));
        }
        if (ev.type < MC_EV_POWER_UP || ev.type > MC_EV_FORMAT || ev.time > MC_TIME_MAX || (i > 0u && ev.seq >= prev)) {
            fail_msg("%s: event %u: type %u time %u seq %u after %u", ctx, i, ev.type, ev.time, ev.seq, prev);
        }
        prev = ev.seq;
    }
}

/* ------------------------------------------------------------------------ */
/* Reading the NVM image independently of the library                      */

typedef struct rec {
    int found;
    uint32_t sector, offset, seq, len;
    uint8_t major, minor;
} rec_t;

static int record_at(nvm_emu_t *e, uint32_t sector, uint32_t off, uint32_t slot_size, uint8_t kind, rec_t *r)
{
    const uint8_t *h = nvm_emu_at(e, sector, off);
    const uint32_t len = (uint32_t)h[6] | (uint32_t)h[7] << 8;
    if (h[0] != 0x43u || h[1] != 0x4Du || h[2] != kind || len + HDR > slot_size) {
        return 0;
    }
    uint32_t crc = mc_crc32(0, h, 12);
    crc = mc_crc32(crc, h + HDR, len);
    if (crc != rd32(h + 12)) {
        return 0;
    }
    r->found = 1;
    r->sector = sector;
    r->offset = off;
    r->seq = rd32(h + 8);
    r->len = len;
    r->major = h[3];
    r->minor = h[4];
    return 1;
}

/* The newest valid record of a kind in an area (geometry from the mounted instance). */
static rec_t newest_record(nvm_emu_t *e, const mc_storage_t *st, unsigned area, uint8_t kind)
{
    const mc_storage_area_t *a = &st->area[area];
    rec_t best;
    memset(&best, 0, sizeof(best));
    for (uint32_t slot = 0; slot < (uint32_t)a->sectors * a->slots_per_sector; slot++) {
        rec_t r;
        memset(&r, 0, sizeof(r));
        if (record_at(e, a->first_sector + slot / a->slots_per_sector, (slot % a->slots_per_sector) * a->slot_size,
                      a->slot_size, kind, &r) &&
            (!best.found || r.seq > best.seq)) {
            best = r;
        }
    }
    return best;
}

/* Recompute a record's CRC after patching its header or payload (a forgery, as a tool would). */
static void reseal(nvm_emu_t *e, const rec_t *r)
{
    uint8_t *h = nvm_emu_at(e, r->sector, r->offset);
    const uint32_t len = (uint32_t)h[6] | (uint32_t)h[7] << 8;
    uint32_t crc = mc_crc32(0, h, 12);
    crc = mc_crc32(crc, h + HDR, len);
    wr32(h + 12, crc);
}

/* The event slot holding sequence `seq` (CRC-valid): 0 and its sector and offset, or -1 and both 0.
 * Both outputs are set on every path, so callers need not initialise them. */
static int event_slot(nvm_emu_t *e, const mc_storage_t *st, uint32_t seq, uint32_t *sector, uint32_t *off)
{
    const mc_storage_area_t *a = &st->area[AREA_EVENTS];
    *sector = 0;
    *off = 0;
    for (uint32_t slot = 0; slot < (uint32_t)a->sectors * a->slots_per_sector; slot++) {
        const uint32_t s = a->first_sector + slot / a->slots_per_sector, o = (slot % a->slots_per_sector) * a->slot_size;
        const uint8_t *p = nvm_emu_at(e, s, o);
        if (mc_crc32(0, p, 20) == rd32(p + 20) && rd32(p) == seq) {
            *sector = s;
            *off = o;
            return 0;
        }
    }
    return -1;
}

static void assert_flash_rules(const nvm_emu_t *e)
{
    if (e->st.violations != 0u || e->st.reprogrammed != 0u || e->st.conflicts != 0u) {
        fail_msg("flash rules broken: %llu refused calls, %llu bytes programmed twice, %llu conflicting",
                 (unsigned long long)e->st.violations, (unsigned long long)e->st.reprogrammed,
                 (unsigned long long)e->st.conflicts);
    }
}

static uint64_t image_hash(const nvm_emu_t *e)
{
    uint64_t h = 1469598103934665603ull;
    const size_t n = (size_t)e->sector_count * e->sector_size;
    for (size_t k = 0; k < n; k++) {
        h = (h ^ e->mem[k]) * 1099511628211ull;
    }
    return h;
}

/* ------------------------------------------------------------------------ */
/* The tracker: every state the test fed, and what a mount may restore      */

#define TRACK_MAX 24000u
#define MAX_PARAM_VERSIONS 8u

typedef struct track {
    uint32_t n;                                     /* states 0..n-1; the current one is n-1 */
    mc_energy_t *fed;                               /* the meter's registers in state k */
    uint64_t (*tot)[MC_TARIFF_RATES][MC_TK_COUNT]; /* the tariff's totals in state k */
    uint32_t *epoch;                                /* energy clears before state k */
    uint64_t max_delta;                             /* largest window, quanta over all registers */
    uint64_t quantum;                               /* save quantum, quanta */
    int clear_pending;                              /* an energy clear that no poll has saved yet */
    int exact;                                      /* a power-fail warning was handled, nothing fed since */
    unsigned nparams;                               /* parameter versions written (the last one maybe in flight) */
    unsigned acked_params;                          /* versions acknowledged: a mount restores one at least this new */
    mc_params_t params[MAX_PARAM_VERSIONS];
    uint32_t windows;                               /* window counter (window_delta) */
    log_model_t *acked;                             /* the live log after the last acknowledged step */
    uint32_t acked_seq;                             /* the live's last sequence number then */
    unsigned clock_sets;                            /* clock sets acknowledged */
} track_t;

static track_t *track_new(void)
{
    track_t *tr = calloc(1, sizeof(*tr));
    assert_non_null(tr);
    tr->fed = calloc(TRACK_MAX, sizeof(*tr->fed));
    tr->tot = calloc(TRACK_MAX, sizeof(*tr->tot));
    tr->epoch = calloc(TRACK_MAX, sizeof(*tr->epoch));
    tr->acked = calloc(1, sizeof(*tr->acked));
    assert_true(tr->fed != NULL && tr->tot != NULL && tr->epoch != NULL && tr->acked != NULL);
    return tr;
}

static void track_free(track_t *tr)
{
    free(tr->fed);
    free(tr->tot);
    free(tr->epoch);
    free(tr->acked);
    free(tr);
}

static void track_reset(track_t *tr, uint32_t quantum_wh)
{
    tr->n = 1;
    memset(&tr->fed[0], 0, sizeof(tr->fed[0]));
    memset(&tr->tot[0], 0, sizeof(tr->tot[0]));
    tr->epoch[0] = 0;
    tr->max_delta = 0;
    tr->quantum = (uint64_t)quantum_wh * Q;
    tr->clear_pending = 0;
    tr->exact = 0;
    tr->nparams = 1;
    tr->acked_params = 0;
    mc_params_default(&tr->params[0]);
    tr->windows = 0;
    tr->acked->n = tr->acked->damaged = tr->acked->audit_n = 0;
    tr->acked_seq = 0;
    tr->clock_sets = 0;
}

static void track_push(track_t *tr, const mc_energy_t *e, const mc_tariff_t *t, uint32_t epoch)
{
    assert_true(tr->n < TRACK_MAX);
    tr->fed[tr->n] = *e;
    memcpy(tr->tot[tr->n], t->total, sizeof(t->total));
    tr->epoch[tr->n] = epoch;
    tr->n++;
}

/* A step was acknowledged: what the live log holds now must survive any later cut. */
static void track_ack(track_t *tr, const app_t *live)
{
    if (live->emu != NULL && live->st.seq != tr->acked_seq) {
        log_model_read(live->emu, &live->st, tr->acked);
        tr->acked_seq = live->st.seq;
    }
}

/* The tariff's totals of the current state, as they are in RAM now. */
static void track_sync_tot(track_t *tr, const mc_tariff_t *t)
{
    memcpy(tr->tot[tr->n - 1], t->total, sizeof(t->total));
}

/* ------------------------------------------------------------------------ */
/* The scripted run                                                         */

typedef struct run {
    app_t *a;
    nvm_emu_t *emu;
    track_t *tr;
} run_t;

#define CUT(r) ((r)->emu->cut_done)

static int run_boot(run_t *r, mc_time_t t0)
{
    const int rc = app_boot(r->a, r->emu, t0);
    if (CUT(r)) {
        return 0;
    }
    assert_int_equal(rc, MC_OK);
    track_ack(r->tr, r->a);
    return 1;
}

static int run_window(run_t *r, uint32_t dt, int load)
{
    track_t *tr = r->tr;
    app_t *a = r->a;
    const mc_energy_t d = window_delta(tr->windows++, load);
    mc_energy_t e = a->meter.energy;
    for (int k = 0; k < MC_E_COUNT; k++) {
        e.q[k] += d.q[k];
    }
    track_push(tr, &e, &a->tariff, tr->epoch[tr->n - 1]);
    if (energy_total(&d) > tr->max_delta) {
        tr->max_delta = energy_total(&d);
    }
    if (energy_total(&d) != 0u) {
        tr->exact = 0;
    }
    const int rc = app_feed(a, &d, dt);
    if (CUT(r)) {
        track_sync_tot(tr, &a->tariff); /* RAM at the cut: what a complete save would have held */
        return 0;
    }
    if (rc < 0) {
        fail_msg("mc_storage_window: %s (window %u)", mc_strerror(rc), tr->windows);
    }
    track_sync_tot(tr, &a->tariff);
    track_ack(tr, a); /* a freeze made by the window is durable with its event */
    /* The fixture itself: the tariff booked exactly what the meter counted. */
    assert_true(tariff_kind(&a->tariff, MC_TK_ACTIVE_IMPORT) == e.q[MC_E_ACTIVE_IMPORT]);
    assert_true(tariff_kind(&a->tariff, MC_TK_REACTIVE_EXPORT) ==
                e.q[MC_E_REACTIVE_Q3] + e.q[MC_E_REACTIVE_Q4]);
    return 1;
}

static int run_windows(run_t *r, unsigned n, uint32_t dt, int load)
{
    for (unsigned i = 0; i < n; i++) {
        if (!run_window(r, dt, load)) {
            return 0;
        }
    }
    return 1;
}

static int run_until(run_t *r, mc_time_t until, uint32_t dt, int load)
{
    while (r->a->now < until) {
        if (!run_window(r, dt, load)) {
            return 0;
        }
    }
    return 1;
}

static int run_poll(run_t *r)
{
    const int rc = mc_storage_poll(&r->a->st, r->a->now);
    if (CUT(r)) {
        return 0;
    }
    assert_int_equal(rc, MC_OK);
    track_ack(r->tr, r->a);
    return 1;
}

/* A write over the bus (trusted path); its reply is the acknowledgement: durable from then on. */
static int run_write(run_t *r, const mc_write_item_t *it, size_t n)
{
    const int rc = mc_model_write(&r->a->model, it, n, MC_SRC_BUS);
    if (CUT(r)) {
        return 0;
    }
    assert_int_equal(rc, MC_OK);
    track_ack(r->tr, r->a);
    return 1;
}

/* A parameter write (one or two items): the version is possible from the moment it is written,
 * and the least a mount may restore once acknowledged. */
static int run_params(run_t *r, mc_qty q1, unsigned v1, mc_qty q2, unsigned v2)
{
    mc_write_item_t it[2];
    memset(it, 0, sizeof(it));
    it[0].qty = (uint8_t)q1;
    it[0].u = (uint16_t)v1;
    it[1].qty = (uint8_t)q2;
    it[1].u = (uint16_t)v2;
    assert_true(r->tr->nparams < MAX_PARAM_VERSIONS);
    mc_params_t p = r->a->model.params;
    const mc_qty q[2] = {q1, q2};
    const unsigned v[2] = {v1, v2};
    for (unsigned k = 0; k < 2u; k++) {
        switch (q[k]) {
        case MC_QTY_ADDRESS: p.address = (uint8_t)v[k]; break;
        case MC_QTY_BAUD: p.baud_code = (uint8_t)v[k]; break;
        case MC_QTY_PARITY: p.parity = (uint8_t)v[k]; break;
        case MC_QTY_WORD_ORDER: p.word_order = (uint8_t)v[k]; break;
        case MC_QTY_PULSE_CONSTANT: p.pulse_constant = (uint16_t)v[k]; break;
        default: break;
        }
    }
    r->tr->params[r->tr->nparams++] = p;
    if (!run_write(r, it, q2 == MC_QTY_NONE ? 1u : 2u)) {
        return 0;
    }
    assert_memory_equal(&r->a->model.params, &p, sizeof(p));
    r->tr->acked_params = r->tr->nparams - 1u;
    return run_poll(r);
}

static int run_cal(run_t *r, unsigned field, float value)
{
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_CAL;
    it.arg = (uint8_t)field;
    it.is_float = 1;
    it.f = value;
    return run_write(r, &it, 1);
}

static int run_u16(run_t *r, mc_qty qty, unsigned arg, unsigned value)
{
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = (uint8_t)qty;
    it.arg = (uint8_t)arg;
    it.u = (uint16_t)value;
    return run_write(r, &it, 1);
}

static int run_clear(run_t *r)
{
    mc_energy_t zero;
    memset(&zero, 0, sizeof(zero));
    /* From the write on, a mount may find the clear done (then its event is there too). */
    track_push(r->tr, &zero, &r->a->tariff, r->tr->epoch[r->tr->n - 1] + 1u);
    r->tr->clear_pending = 1;
    r->tr->exact = 0;
    const int rc = write_u16(r->a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND);
    if (CUT(r)) {
        track_sync_tot(r->tr, &r->a->tariff);
        return 0;
    }
    assert_int_equal(rc, MC_OK);
    track_sync_tot(r->tr, &r->a->tariff);
    r->tr->clear_pending = 0; /* acknowledged: durable */
    track_ack(r->tr, r->a);
    return run_poll(r);
}

static int run_clock(run_t *r, mc_time_t t)
{
    const int rc = write_clock(r->a, t);
    if (CUT(r)) {
        return 0;
    }
    assert_int_equal(rc, MC_OK);
    assert_int_equal(r->a->now, t);
    r->tr->clock_sets++;
    track_ack(r->tr, r->a);
    return run_poll(r);
}

static int run_power_fail(run_t *r)
{
    const int rc = mc_storage_power_fail(&r->a->st, r->a->now);
    if (CUT(r)) {
        return 0;
    }
    assert_int_equal(rc, MC_OK);
    r->tr->exact = 1;
    track_ack(r->tr, r->a);
    return 1;
}

/*
 * The scripted run (about 2000 saves): fresh memory, energy growth, a parameter change
 * (address and pulse constant), a calibration change and a schedule change, an energy clear, a
 * freeze across a month boundary in the window path, a clock set forwards across the next
 * settlement point (a freeze made by the clock set), an hour without load (a save by time), a
 * clock set backwards before that point (no second freeze when it is passed again), a
 * power-fail warning followed by a parameter change and a settlement hour change, more growth,
 * a warning, a parameter change, the seal and a last warning (every cut after a warning and
 * before more energy must restore the energy exactly).
 * Returns 1 when it ran to the end, 0 when the NVM lost power on the way.
 */
static int script(run_t *r)
{
    if (!run_boot(r, T(2024, 1, 31, 21, 0, 0)) || !run_windows(r, 600, 1, 1) ||
        !run_params(r, MC_QTY_ADDRESS, 17, MC_QTY_PULSE_CONSTANT, 3200) || !run_cal(r, 0, 1.01f) ||
        !run_u16(r, MC_QTY_TOU_PROFILE, 2, 2) || !run_windows(r, 400, 1, 1) || !run_clear(r) ||
        !run_until(r, T(2024, 2, 1, 0, 5, 0), 1, 1) || !run_windows(r, 600, 1, 1) ||
        !run_clock(r, T(2024, 3, 1, 0, 10, 0)) || !run_windows(r, 800, 1, 1) || !run_windows(r, 400, 10, 0) ||
        !run_clock(r, T(2024, 2, 29, 23, 50, 0)) || !run_windows(r, 1500, 1, 1) || !run_power_fail(r) ||
        !run_params(r, MC_QTY_BAUD, 3, MC_QTY_NONE, 0) || !run_u16(r, MC_QTY_SETTLE_HOUR, 0, 2) ||
        !run_windows(r, 2500, 1, 1) || !run_power_fail(r) ||
        !run_params(r, MC_QTY_PARITY, 1, MC_QTY_WORD_ORDER, 1) || !run_u16(r, MC_QTY_SEAL, 0, 1) ||
        !run_power_fail(r)) {
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* What a mount after a cut must restore                                    */

typedef struct verdict {
    uint32_t k;  /* energy state restored */
    unsigned j;  /* parameter version restored */
    int alarm;   /* the model reports an error flag */
    int skew;    /* tariff totals of the state before (diagnosis of a failure) */
} verdict_t;

#define VFAIL(...)                                                                                               \
    do {                                                                                                         \
        snprintf(msg, cap, __VA_ARGS__);                                                                         \
        return -1;                                                                                               \
    } while (0)

/* The CRC-32 of the schedule registers (1100H..) as a Modbus client reads them: what a schedule change
 * event carries (mc_registers.h, MC_SCHEDULE_ARG). Read through the model, not the storage. */
static uint32_t schedule_registers_crc(const mc_model_t *md)
{
    static const struct {
        mc_qty qty;
        unsigned words;
    } blocks[] = {{MC_QTY_TOU_COUNTS, 4u},
                  {MC_QTY_TOU_PROFILE, 32u * MC_TARIFF_MAX_DAY_PROFILES},
                  {MC_QTY_TOU_WEEK, 7u * MC_TARIFF_MAX_WEEK_PROFILES},
                  {MC_QTY_TOU_SEASON, 2u * MC_TARIFF_MAX_SEASONS},
                  {MC_QTY_TOU_SPECIAL, 3u * MC_TARIFF_MAX_SPECIAL_DAYS}};
    uint32_t crc = 0;
    for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
        for (unsigned a = 0; a < blocks[b].words; a++) {
            mc_value_t v;
            if (mc_model_read(md, blocks[b].qty, a, &v) == MC_OK) {
                const uint8_t bytes[2] = {(uint8_t)(v.u >> 8), (uint8_t)v.u};
                crc = mc_crc32(crc, bytes, 2);
            }
        }
    }
    return crc;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/*
 * Data and log agree (issue 14, "acknowledged means durable"), read from the image of the mount:
 * each parameter, calibration field and the schedule equal the newest event for them (or the
 * default without one); sealed if and only if a seal event is there; as many energy clears in the
 * log as the restored energy went through; a month frozen in the restored history has its FREEZE
 * event and no FREEZE event is beyond the restored settlement point; the clock sets acknowledged
 * are logged; the audit counters count the audit events; and every event of the log as it was at
 * the last acknowledged step is still there, unchanged. `t` is the restored tariff as mounted.
 */
static int agree(const track_t *tr, const app_t *pr, const mc_tariff_t *t, uint32_t k, char *msg, size_t cap)
{
    static log_model_t m;
    log_model_read(pr->emu, &pr->st, &m);
    mc_params_t dp;
    mc_params_default(&dp);
    const struct {
        mc_qty qty;
        uint32_t have, dflt;
    } params[] = {{MC_QTY_ADDRESS, pr->model.params.address, dp.address},
                  {MC_QTY_BAUD, pr->model.params.baud_code, dp.baud_code},
                  {MC_QTY_PARITY, pr->model.params.parity, dp.parity},
                  {MC_QTY_WORD_ORDER, pr->model.params.word_order, dp.word_order},
                  {MC_QTY_PULSE_CONSTANT, pr->model.params.pulse_constant, dp.pulse_constant},
                  {MC_QTY_SETTLE_HOUR, pr->tariff.cfg.settle_hour, 0u},
                  {MC_QTY_TOU_COUNTS, schedule_registers_crc(&pr->model), 0u}};
    const float cal[5] = {pr->meter.cal.u_gain, pr->meter.cal.i_gain, pr->meter.cal.phase_deg, pr->meter.cal.p_offset,
                          pr->meter.cal.q_offset};
    const float cal0[5] = {1.0f, 1.0f, 0.0f, 0.0f, 0.0f};
    for (size_t q = 0; q < sizeof(params) / sizeof(params[0]); q++) {
        uint32_t want = params[q].dflt;
        int found = 0;
        for (unsigned i = 0; i < m.n && !found; i++) {
            if (m.ev[i].type == MC_EV_PARAM && m.ev[i].qty == params[q].qty) {
                want = m.ev[i].new_value;
                found = 1;
            }
        }
        if (params[q].qty == MC_QTY_TOU_COUNTS && !found) {
            continue; /* the default schedule's CRC: not known here without the model's word layout */
        }
        if (params[q].have != want) {
            snprintf(msg, cap, "quantity %u is %u, its newest event says %u", params[q].qty, params[q].have, want);
            return -1;
        }
    }
    for (unsigned f = 0; f < 5u; f++) {
        uint32_t want = fbits(cal0[f]);
        for (unsigned i = 0; i < m.n; i++) {
            if (m.ev[i].type == MC_EV_CALIBRATION && m.ev[i].qty == MC_QTY_CAL && m.ev[i].arg == f) {
                want = m.ev[i].new_value;
                break;
            }
        }
        if (fbits(cal[f]) != want) {
            snprintf(msg, cap, "calibration field %u is %08x, its newest event says %08x", f, fbits(cal[f]), want);
            return -1;
        }
    }
    unsigned seals = 0, clears = 0, clock_sets = 0, audit[MC_AUDIT_COUNTERS];
    memset(audit, 0, sizeof(audit));
    mc_time_t newest_freeze = 0;
    int frozen_logged = t->history[0].frozen_at == 0u;
    for (unsigned i = 0; i < m.n; i++) {
        const mc_event_t *e = &m.ev[i];
        seals += e->type == MC_EV_CALIBRATION && e->qty == MC_QTY_SEAL && e->new_value == 1u;
        clears += e->type == MC_EV_ENERGY_CLEAR;
        clock_sets += e->type == MC_EV_CLOCK_SET;
        if (e->type == MC_EV_FREEZE) {
            newest_freeze = e->new_value > newest_freeze ? e->new_value : newest_freeze;
            frozen_logged |= e->new_value == t->history[0].frozen_at;
        }
        if (audit_type(e)) {
            audit[MC_AUDIT_ALL]++;
            audit[e->type == MC_EV_CALIBRATION ? (e->qty == MC_QTY_SEAL ? MC_AUDIT_SEAL : MC_AUDIT_CALIBRATION)
                  : e->type == MC_EV_ENERGY_CLEAR ? MC_AUDIT_ENERGY_CLEAR
                  : e->type == MC_EV_CLOCK_SET  ? MC_AUDIT_CLOCK_SET
                  : e->type == MC_EV_FORMAT     ? MC_AUDIT_FORMAT
                  : e->qty == MC_QTY_PULSE_CONSTANT ? MC_AUDIT_PULSE_CONSTANT
                                                    : MC_AUDIT_TARIFF]++;
        }
    }
    if ((pr->model.sealed != 0u) != (seals != 0u)) {
        snprintf(msg, cap, "sealed %u, %u seal events", pr->model.sealed, seals);
        return -1;
    }
    if (clears != tr->epoch[k]) {
        snprintf(msg, cap, "energy of a state after %u clears restored, %u clear events logged", tr->epoch[k], clears);
        return -1;
    }
    if (!frozen_logged || newest_freeze > t->last_settlement) {
        snprintf(msg, cap, "month frozen at %u without its FREEZE event (%d), or a FREEZE at %u beyond the "
                           "settlement point %u",
                 t->history[0].frozen_at, frozen_logged, newest_freeze, t->last_settlement);
        return -1;
    }
    if (clock_sets < tr->clock_sets) {
        snprintf(msg, cap, "%u clock sets acknowledged, %u logged", tr->clock_sets, clock_sets);
        return -1;
    }
    for (unsigned c = 0; c < MC_AUDIT_COUNTERS; c++) {
        uint32_t got = 0;
        if (mc_storage_audit_counter(&pr->st, c, &got) != MC_OK || got != audit[c]) {
            snprintf(msg, cap, "audit counter %u is %u, the audit log holds %u such events", c, got, audit[c]);
            return -1;
        }
    }
    /* Nothing acknowledged lost: both newest first, the acknowledged ones are a subset. */
    unsigned i = 0;
    for (unsigned a = 0; a < tr->acked->n; a++) {
        const mc_event_t *want = &tr->acked->ev[a];
        while (i < m.n && m.ev[i].seq > want->seq) {
            i++;
        }
        if (i == m.n || memcmp(&m.ev[i], want, sizeof(*want)) != 0) {
            snprintf(msg, cap, "acknowledged event seq %u (type %u) is gone", want->seq, want->type);
            return -1;
        }
    }
    return 0;
}

/*
 * Check what the mount of `pr` (after a cut) restored against the tracker and
 * the live application at the cut (its RAM being what was lost).
 */
static int check_restored(const track_t *tr, const app_t *live, app_t *pr, int mount_rc, char *msg, size_t cap,
                          verdict_t *v)
{
    memset(v, 0, sizeof(*v));
    if (mount_rc != MC_OK) {
        VFAIL("mount returned %s", mc_strerror(mount_rc));
    }
    static mc_tariff_t mounted; /* the tariff as mounted, before it is brought to now below */
    mounted = pr->tariff;
    /* Energy: a state that was fed, bit for bit. */
    const mc_energy_t e = pr->meter.energy;
    uint32_t k = tr->n;
    for (uint32_t i = tr->n; i-- > 0u;) {
        if (memcmp(&tr->fed[i], &e, sizeof(e)) == 0) {
            k = i;
            break;
        }
    }
    if (k == tr->n) {
        VFAIL("restored energy (%.6f Wh over all registers) is no state ever fed", (double)energy_total(&e) / Q);
    }
    const uint32_t cur = tr->n - 1u;
    uint32_t ref = cur;
    if (tr->epoch[k] != tr->epoch[cur]) {
        if (!tr->clear_pending || tr->epoch[k] + 1u != tr->epoch[cur]) {
            VFAIL("restored energy of state %u, from before an energy clear already saved (now state %u)", k, cur);
        }
        ref = k;
        while (ref + 1u < tr->n && tr->epoch[ref + 1u] == tr->epoch[k]) {
            ref++;
        }
    }
    const uint64_t lost = energy_total(&tr->fed[ref]) - energy_total(&e);
    const uint64_t tol = tr->quantum + tr->max_delta;
    if (energy_total(&e) > energy_total(&tr->fed[ref])) {
        VFAIL("restored more energy than was fed");
    }
    if (tr->exact && lost != 0u) {
        VFAIL("after a power-fail warning %.6f Wh lost (restored state %u, current %u)", (double)lost / Q, k, cur);
    }
    if (lost > tol) {
        VFAIL("%.3f Wh lost (restored state %u, current %u): more than a save quantum and a window (%.3f Wh)",
              (double)lost / Q, k, ref, (double)tol / Q);
    }
    /* Tariff totals: the same state (a record is one consistent state; the save made just before a
     * freeze leaves out the window the tariff has not booked yet). */
    if (memcmp(pr->tariff.total, tr->tot[k], sizeof(pr->tariff.total)) != 0) {
        v->skew = k > 0u && memcmp(pr->tariff.total, tr->tot[k - 1u], sizeof(pr->tariff.total)) == 0;
        VFAIL("tariff totals (active import %.6f Wh) do not belong to the restored energy state %u "
              "(meter active import %.6f Wh)%s",
              (double)tariff_kind(&pr->tariff, MC_TK_ACTIVE_IMPORT) / Q, k, (double)e.q[MC_E_ACTIVE_IMPORT] / Q,
              v->skew ? ": they are those of the state before (one window apart)" : "");
    }
    /* Parameters: one of the versions written, never a mix. */
    unsigned j = tr->nparams;
    for (unsigned i = 0; i < tr->nparams; i++) {
        if (memcmp(&pr->model.params, &tr->params[i], sizeof(mc_params_t)) == 0) {
            j = i;
        }
    }
    if (j == tr->nparams) {
        VFAIL("parameters are none of the %u versions written (address %u baud %u pulse %u)", tr->nparams,
              pr->model.params.address, pr->model.params.baud_code, pr->model.params.pulse_constant);
    }
    if (mc_calibration_check(&pr->meter.cal) != MC_OK) {
        VFAIL("calibration restored fails its check");
    }
    /* History: after both tariffs are brought to now (made-up freezes included), the same
     * settlement points, each month within a save quantum. */
    mc_tariff_t want = live->tariff;
    if (mc_tariff_update(&want, live->now) < 0 || mc_tariff_update(&pr->tariff, live->now) < 0) {
        VFAIL("tariff update at now refused");
    }
    if (pr->tariff.last_settlement != want.last_settlement) {
        VFAIL("last settlement %u, expected %u", pr->tariff.last_settlement, want.last_settlement);
    }
    const int64_t tol_wh = (int64_t)(tol / Q) + MC_TARIFF_RATES;
    for (unsigned m = 0; m < MC_TARIFF_HISTORY_MONTHS; m++) {
        const mc_tariff_month_t *g = &pr->tariff.history[m], *w = &want.history[m];
        if (g->frozen_at != w->frozen_at) {
            VFAIL("history month -%u frozen at %u, expected %u", m + 1u, g->frozen_at, w->frozen_at);
        }
        int64_t da = 0, dr = 0;
        for (unsigned rt = 0; rt < MC_TARIFF_RATES; rt++) {
            da += llabs((long long)g->active_wh[rt] - w->active_wh[rt]);
            dr += llabs((long long)g->reactive_varh[rt] - w->reactive_varh[rt]);
        }
        if (da > tol_wh || dr > tol_wh) {
            VFAIL("history month -%u differs from the live one by %lld Wh / %lld varh", m + 1u, (long long)da,
                  (long long)dr);
        }
    }
    /* History + this month = energy fed (to a save quantum), = the tariff's totals (to a quantum). */
    for (int reactive = 0; reactive < 2; reactive++) {
        const int64_t booked = booked_combined(&pr->tariff, reactive);
        const int64_t fed = fed_combined(&tr->fed[ref], reactive);
        const int64_t total = total_combined(&pr->tariff, reactive);
        if (booked > fed || fed - booked > (int64_t)tol) {
            VFAIL("%s: history + this month %.6f Wh, fed %.6f Wh", reactive ? "reactive" : "active",
                  (double)booked / Q, (double)fed / Q);
        }
        if (llabs((long long)(total - booked)) > (long long)tol) {
            VFAIL("%s: history + this month %.6f Wh, totals %.6f Wh", reactive ? "reactive" : "active",
                  (double)booked / Q, (double)total / Q);
        }
    }
    if (j < tr->acked_params) {
        VFAIL("parameters of version %u restored, version %u was acknowledged", j, tr->acked_params);
    }
    /* The event log: the mount's POWER_UP newest, the log as the image holds it. */
    mc_event_t ev;
    if (mc_storage_event_read(&pr->st, 0, &ev) != MC_OK || ev.type != MC_EV_POWER_UP || ev.time != live->now) {
        VFAIL("the newest event is not the mount's POWER_UP");
    }
    char lm[300];
    if (log_check(pr->emu, pr, 12, lm, sizeof(lm)) != 0) {
        VFAIL("log: %s", lm);
    }
    if (agree(tr, pr, &mounted, k, lm, sizeof(lm)) != 0) {
        VFAIL("data and log disagree: %s", lm);
    }
    v->k = k;
    v->j = j;
    v->alarm = pr->model.errors != 0u;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Power-cut sweep                                                          */

#define SWEEP_OPS_MAX 40000u

typedef struct sweep {
    app_t live;        /* the one-pass run */
    app_t probe;       /* a fresh mount after a cut */
    app_t after;       /* a mount after the replay's continuation */
    nvm_emu_t emu;     /* the live NVM */
    nvm_emu_t img;     /* the image a cut leaves */
    track_t *tr;
    track_t *tr2;      /* the replay's tracker */
    uint32_t count, size, prog; /* geometry */
    uint64_t seed;
    uint64_t *hash;    /* image left by a cut at op K */
    uint64_t points, failures, alarms, exact_points, replays, second_cuts;
    uint64_t modes[5];
    uint32_t last_k;
    unsigned last_j;
    char first[4][700];
} sweep_t;

static uint64_t cut_seed(uint64_t base, uint64_t k)
{
    return nvm_emu_mix(base ^ (k * 0x100000001B3ull));
}

static void sweep_fail(sweep_t *sw, const char *fmt, ...)
{
    if (sw->failures < 4u) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sw->first[sw->failures], sizeof(sw->first[0]), fmt, ap);
        va_end(ap);
    }
    sw->failures++;
}

static unsigned mode_index(const char *mode)
{
    static const char *const names[5] = {"none", "prefix", "half", "erase-part", "erase-scatter"};
    for (unsigned i = 0; i < 5u; i++) {
        if (strcmp(mode, names[i]) == 0) {
            return i;
        }
    }
    return 0;
}

/* Before every prog/erase of the one-pass run: the image a cut there leaves, mounted fresh. */
static void sweep_hook(void *ctx, nvm_emu_t *e, uint64_t op, int is_erase, uint32_t sector, uint32_t offset,
                       const uint8_t *buf, uint32_t size)
{
    sweep_t *sw = ctx;
    nvm_emu_copy(&sw->img, e);
    const char *mode = nvm_emu_apply_partial(&sw->img, is_erase, sector, offset, buf, size, cut_seed(sw->seed, op));
    sw->modes[mode_index(mode)]++;
    if (op < SWEEP_OPS_MAX) {
        sw->hash[op] = image_hash(&sw->img);
    }
    track_sync_tot(sw->tr, &sw->live.tariff);
    nvm_emu_reset_stats(&sw->img);
    const int rc = app_boot(&sw->probe, &sw->img, sw->live.now);
    char msg[512];
    verdict_t v;
    int bad = check_restored(sw->tr, &sw->live, &sw->probe, rc, msg, sizeof(msg), &v);
    if (!bad && (sw->img.st.violations != 0u || sw->img.st.conflicts != 0u || sw->img.st.reprogrammed != 0u)) {
        snprintf(msg, sizeof(msg), "the mount broke flash rules: %llu violations, %llu bytes programmed twice",
                 (unsigned long long)sw->img.st.violations, (unsigned long long)sw->img.st.reprogrammed);
        bad = 1;
    }
    if (!bad && sw->points > 0u && (v.k < sw->last_k || v.j < sw->last_j)) {
        snprintf(msg, sizeof(msg), "went backwards: energy state %u after %u, parameters v%u after v%u", v.k,
                 sw->last_k, v.j, sw->last_j);
        bad = 1;
    }
    sw->points++;
    if (bad) {
        sweep_fail(sw, "cut at op %llu (%s %s, sector %u offset %u size %u, state %u, t %u): %s",
                   (unsigned long long)op, is_erase ? "erase" : "prog", mode, sector, offset, size, sw->tr->n - 1u,
                   sw->live.now, msg);
        return;
    }
    sw->last_k = v.k;
    sw->last_j = v.j;
    sw->alarms += (uint64_t)v.alarm;
    sw->exact_points += (uint64_t)sw->tr->exact;
}

/*
 * Replay the script from a blank memory with a real cut armed at op K; the
 * image must be the one the one-pass hook computed. Power back on, mount
 * (with a second cut armed early in that mount, which is then repeated), check,
 * go on for 120 windows, warn of a power failure and mount once more: exact.
 */
static void replay(sweep_t *sw, uint64_t K)
{
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, sw->count, sw->size, sw->prog, 0xFF), 0);
    nvm_emu_arm_cut(&e, K, cut_seed(sw->seed, K));
    track_reset(sw->tr2, 10);
    run_t r = {&sw->live, &e, sw->tr2};
    const int done = script(&r);
    sw->replays++;
    if (done || !e.cut_done || e.cut_op != K) {
        sweep_fail(sw, "replay K=%llu: no cut (done %d, cut op %llu)", (unsigned long long)K, done,
                   (unsigned long long)e.cut_op);
        nvm_emu_free(&e);
        return;
    }
    if (K < SWEEP_OPS_MAX && image_hash(&e) != sw->hash[K]) {
        sweep_fail(sw, "replay K=%llu: the image differs from the one-pass image of that cut", (unsigned long long)K);
    }
    nvm_emu_repower(&e);
    /* A second cut during the mount that follows (if it writes that far). */
    nvm_emu_arm_cut(&e, 1u + K % 3u, cut_seed(sw->seed ^ 0xD0u, K));
    int rc = app_boot(&sw->probe, &e, sw->live.now);
    if (e.cut_done) {
        sw->second_cuts++;
        nvm_emu_repower(&e);
        rc = app_boot(&sw->probe, &e, sw->live.now);
    } else {
        nvm_emu_disarm(&e);
    }
    char msg[512];
    verdict_t v;
    if (check_restored(sw->tr2, &sw->live, &sw->probe, rc, msg, sizeof(msg), &v) != 0) {
        sweep_fail(sw, "replay K=%llu: %s", (unsigned long long)K, msg);
        nvm_emu_free(&e);
        return;
    }
    app_t *b = &sw->probe;
    for (uint32_t i = 0; i < 120u; i++) {
        const mc_energy_t d = window_delta(i, 1);
        rc = app_feed(b, &d, 1);
        if (rc < 0) {
            sweep_fail(sw, "replay K=%llu: window after the remount: %s", (unsigned long long)K, mc_strerror(rc));
            nvm_emu_free(&e);
            return;
        }
    }
    rc = mc_storage_power_fail(&b->st, b->now);
    const mc_energy_t before = b->meter.energy;
    uint64_t tot[MC_TARIFF_RATES][MC_TK_COUNT];
    memcpy(tot, b->tariff.total, sizeof(tot));
    const int rc2 = app_boot(&sw->after, &e, b->now + 5u);
    if (rc != MC_OK || rc2 != MC_OK || memcmp(&sw->after.meter.energy, &before, sizeof(before)) != 0 ||
        memcmp(sw->after.tariff.total, tot, sizeof(tot)) != 0) {
        sweep_fail(sw, "replay K=%llu: after a power-fail warning (%s) the next mount (%s) did not restore the "
                       "energy exactly",
                   (unsigned long long)K, mc_strerror(rc), mc_strerror(rc2));
    }
    if (e.st.violations != 0u || e.st.conflicts != 0u || e.st.reprogrammed != 0u) {
        sweep_fail(sw, "replay K=%llu: flash rules broken: %llu violations, %llu bytes programmed twice",
                   (unsigned long long)K, (unsigned long long)e.st.violations,
                   (unsigned long long)e.st.reprogrammed);
    }
    nvm_emu_free(&e);
}

/*
 * The sweep on one geometry: one pass with every op a cut point, then `short_n` replays with a real cut
 * at K = 1..short_n and `random_n` at random K beyond.
 */
static void power_cut_sweep(uint32_t count, uint32_t size, uint32_t prog, uint64_t short_max, unsigned random_n)
{
    const clock_t c0 = clock();
    sweep_t *sw = calloc(1, sizeof(*sw));
    assert_non_null(sw);
    sw->hash = calloc(SWEEP_OPS_MAX, sizeof(uint64_t));
    assert_non_null(sw->hash);
    sw->tr = track_new();
    sw->tr2 = track_new();
    sw->count = count;
    sw->size = size;
    sw->prog = prog;
    sw->seed = 0xC0FFEEu + prog;
    assert_int_equal(nvm_emu_init(&sw->emu, count, size, prog, 0xFF), 0);
    assert_int_equal(nvm_emu_init(&sw->img, count, size, prog, 0xFF), 0);
    sw->emu.before_op = sweep_hook;
    sw->emu.before_op_ctx = sw;
    track_reset(sw->tr, 10);

    /* One pass: every op K = 1..N is a cut point (hook). */
    run_t r = {&sw->live, &sw->emu, sw->tr};
    assert_int_equal(script(&r), 1);
    sw->emu.before_op = NULL;
    const uint64_t N = sw->emu.st.ops;
    assert_true(N < SWEEP_OPS_MAX);
    assert_flash_rules(&sw->emu);
    const double t_pass = (double)(clock() - c0) / CLOCKS_PER_SEC;

    /* Replays with a real cut: every K of the first ops, then random K. */
    const uint64_t short_n = N < short_max ? N : short_max;
    for (uint64_t K = 1; K <= short_n; K++) {
        replay(sw, K);
    }
    uint64_t x = 12345u;
    for (unsigned i = 0; i < random_n && N > short_n; i++) {
        x = nvm_emu_mix(x);
        replay(sw, short_n + 1u + x % (N - short_n));
    }
    const double t_all = (double)(clock() - c0) / CLOCKS_PER_SEC;

    print_message("power-cut sweep on %ux%u B, prog %u: %u windows, %llu NVM ops (%llu progs, %llu erases)\n", count,
                  size, prog, sw->tr->windows, (unsigned long long)N, (unsigned long long)sw->emu.st.progs,
                  (unsigned long long)sw->emu.st.erases);
    print_message("  one pass: %llu cut points (ops 1..N; not done %llu, prefix %llu, half byte %llu, erase part %llu, "
                  "erase scattered %llu), %.1f s\n",
                  (unsigned long long)sw->points, (unsigned long long)sw->modes[0], (unsigned long long)sw->modes[1],
                  (unsigned long long)sw->modes[2], (unsigned long long)sw->modes[3],
                  (unsigned long long)sw->modes[4], t_pass);
    print_message("  replayed with a real cut: %llu (K = 1..%llu and %u random), %llu with a second cut in the "
                  "remount; %.1f s in all\n",
                  (unsigned long long)sw->replays, (unsigned long long)short_n, random_n,
                  (unsigned long long)sw->second_cuts, t_all);
    print_message("  exact after a warning at %llu points; error flags raised by a mount after a plain cut at %llu "
                  "points\n",
                  (unsigned long long)sw->exact_points, (unsigned long long)sw->alarms);
    for (uint64_t i = 0; i < sw->failures && i < 4u; i++) {
        print_message("  FAIL %s\n", sw->first[i]);
    }
    const uint64_t failures = sw->failures, alarms = sw->alarms;
    nvm_emu_free(&sw->emu);
    nvm_emu_free(&sw->img);
    track_free(sw->tr);
    track_free(sw->tr2);
    free(sw->hash);
    free(sw);
    if (failures != 0u) {
        fail_msg("%llu of the cut points failed (first ones above)", (unsigned long long)failures);
    }
    /* A cut is not corruption (mc_storage.h: a slot without its commit marker is ignored). */
    assert_int_equal(alarms, 0);
}

static void test_power_cut_sweep(void **state)
{
    (void)state;
    power_cut_sweep(16, 1024, 4, 400, 40);
}

/* Byte-programmable memory: a prefix cut can stop at any byte. */
static void test_power_cut_sweep_bytewise(void **state)
{
    (void)state;
    power_cut_sweep(16, 1024, 1, 150, 20);
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */

typedef struct fx {
    nvm_emu_t emu;
    app_t a, b, c;
} fx_t;

static int fx_setup(void **state, uint32_t count, uint32_t size, uint32_t prog, uint8_t ev)
{
    fx_t *f = calloc(1, sizeof(*f));
    if (f == NULL || nvm_emu_init(&f->emu, count, size, prog, ev) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* NOR-flash-like: 64 sectors of 1 KiB, programmed in 4-byte words, erased to 0xFF. */
static int setup_flash(void **state)
{
    return fx_setup(state, 64, 1024, 4, 0xFF);
}

/* EEPROM-like: byte-programmable, 32 "sectors" of 1 KiB. */
static int setup_eeprom(void **state)
{
    return fx_setup(state, 32, 1024, 1, 0xFF);
}

/* A memory whose erased state is 0x00 (programming sets bits), 16-byte units. */
static int setup_zero_erased(void **state)
{
    return fx_setup(state, 24, 2048, 16, 0x00);
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    nvm_emu_free(&f->emu);
    free(f);
    return 0;
}

static void feed_n(app_t *a, uint32_t first, uint32_t n, uint32_t dt)
{
    for (uint32_t i = 0; i < n; i++) {
        const mc_energy_t d = window_delta(first + i, 1);
        const int rc = app_feed(a, &d, dt);
        if (rc < 0) {
            fail_msg("window %u: %s", first + i, mc_strerror(rc));
        }
    }
}

static void feed_wh(app_t *a, uint32_t n, uint64_t wh, uint32_t dt)
{
    const mc_energy_t d = wh_delta(wh);
    for (uint32_t i = 0; i < n; i++) {
        const int rc = app_feed(a, &d, dt);
        if (rc < 0) {
            fail_msg("window %u: %s", i, mc_strerror(rc));
        }
    }
}

static void assert_same_energy(const app_t *got, const app_t *want)
{
    if (memcmp(&got->meter.energy, &want->meter.energy, sizeof(mc_energy_t)) != 0) {
        fail_msg("meter energy %.6f Wh over all registers, expected %.6f Wh",
                 (double)energy_total(&got->meter.energy) / Q, (double)energy_total(&want->meter.energy) / Q);
    }
    assert_memory_equal(got->tariff.total, want->tariff.total, sizeof(want->tariff.total));
    assert_memory_equal(got->tariff.month, want->tariff.month, sizeof(want->tariff.month));
}

/* ------------------------------------------------------------------------ */
/* The elements' registers of a meter of several elements (format 2.1)      */

/*
 * Frozen format 2.0: frozen_life() run with the storage code of format 2.0 (src/storage/mc_storage.c
 * of commit 63306c9, the last before the elements' registers) left an image whose CRC-32 is
 * FROZEN_20_IMAGE_CRC and whose newest energy record (header and payload) is frozen_20_energy[].
 * Made by a program of this file's app_init_nvm(), window_delta() and frozen_life() linked with that
 * mc_storage.c and the library (x86-64; the same on any little-endian LP64 ABI: the records are
 * images of fixed-width fields, and the script books energy only, so no float of the state depends
 * on rounding). The image covers the parameters, tariff and events too: a change of what a
 * single-element meter stores (a default, the schedule, an event) shows here, and is a new storage
 * format minor, with frozen data of its own.
 */
#define FROZEN_20_IMAGE_CRC 0xFF62B3F4u
/* energy area: sectors 0..2, slot 496 bytes, newest slot 1, payload 476 bytes */
static const uint8_t frozen_20_energy[492] = {
    0x43, 0x4D, 0x01, 0x02, 0x00, 0x00, 0xDC, 0x01, 0x08, 0x00, 0x00, 0x00, 0x0A, 0x0C, 0xD1, 0x22,
    0x00, 0x00, 0x00, 0x00, 0x75, 0x84, 0x74, 0x2D, 0x00, 0xD7, 0x73, 0x2D, 0x00, 0x00, 0x00, 0x00,
    0x67, 0x94, 0xB0, 0x63, 0x0C, 0x00, 0x00, 0x00, 0x7E, 0x86, 0xA3, 0xCC, 0x00, 0x00, 0x00, 0x00,
    0x9D, 0x49, 0x0C, 0x2C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0xDD, 0x5E, 0x2D, 0x00, 0x00, 0x00, 0x00, 0x47, 0xA6, 0xBF, 0x58, 0x00, 0x00, 0x00, 0x00,
    0x67, 0x94, 0xB0, 0x63, 0x0C, 0x00, 0x00, 0x00, 0x7E, 0x86, 0xA3, 0xCC, 0x00, 0x00, 0x00, 0x00,
    0x9D, 0x49, 0x0C, 0x2C, 0x03, 0x00, 0x00, 0x00, 0x48, 0x83, 0x1E, 0x86, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x67, 0x94, 0xB0, 0x63, 0x0C, 0x00, 0x00, 0x00, 0x7E, 0x86, 0xA3, 0xCC, 0x00, 0x00, 0x00, 0x00,
    0x9D, 0x49, 0x0C, 0x2C, 0x03, 0x00, 0x00, 0x00, 0x48, 0x83, 0x1E, 0x86, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xAC, 0x84, 0x74, 0x2D,
    0x00, 0x00, 0x00, 0x00, 0x0F, 0x05, 0x01, 0x00, 0x0F, 0x00, 0x00, 0x00,
};

static rec_t forge(fx_t *f, const app_t *a, unsigned area, uint8_t kind, uint32_t off, const void *bytes, size_t n);

#define FROZEN_WINDOWS 60u
#define FROZEN_DT 20u
#define ENERGY_LEN_2_0 476u /* payload of an energy record of 2.0 (the frozen record's length) */

/* One window of the frozen script: energy only (P and S 0: the demand state stays all zero). */
static void frozen_feed(app_t *a, uint32_t w)
{
    const mc_energy_t d = window_delta(w, 1);
    mc_energy_t e;
    assert_int_equal(mc_meter_energy(&a->meter, &e), MC_OK);
    for (int k = 0; k < MC_E_COUNT; k++) {
        e.q[k] += d.q[k];
    }
    assert_int_equal(mc_meter_set_energy(&a->meter, &e), MC_OK);
    a->now += FROZEN_DT;
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta = d;
    r.duration_s = (float)FROZEN_DT;
    assert_true(mc_storage_window(&a->st, a->now, &r) >= 0);
}

/* The frozen script on a blank 16 x 1 KiB memory (4-byte units): a first start at 2024-03-01 12:00,
 * 60 windows of 20 s, an address change, a power-fail warning. */
static void frozen_life(app_t *a, nvm_emu_t *e)
{
    assert_int_equal(app_boot(a, e, T(2024, 3, 1, 12, 0, 0)), MC_OK);
    for (uint32_t w = 0; w < FROZEN_WINDOWS; w++) {
        frozen_feed(a, w);
    }
    assert_int_equal(write_u16(a, MC_QTY_ADDRESS, 0, 33), MC_OK);
    a->now += 5u;
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
}

/* The frozen script's energy, from its windows alone. */
static mc_energy_t frozen_energy(void)
{
    mc_energy_t e;
    memset(&e, 0, sizeof(e));
    for (uint32_t w = 0; w < FROZEN_WINDOWS; w++) {
        const mc_energy_t d = window_delta(w, 1);
        for (int k = 0; k < MC_E_COUNT; k++) {
            e.q[k] += d.q[k];
        }
    }
    return e;
}

/* The tariff's lifetime totals over rates, per register kind, as quanta of the meter's registers. */
static void assert_tariff_books(const app_t *a, const mc_energy_t *e)
{
    assert_int_equal(tariff_kind(&a->tariff, MC_TK_ACTIVE_IMPORT), e->q[MC_E_ACTIVE_IMPORT]);
    assert_int_equal(tariff_kind(&a->tariff, MC_TK_ACTIVE_EXPORT), e->q[MC_E_ACTIVE_EXPORT]);
    assert_int_equal(tariff_kind(&a->tariff, MC_TK_REACTIVE_IMPORT), mc_energy_reactive_import(e));
    assert_int_equal(tariff_kind(&a->tariff, MC_TK_REACTIVE_EXPORT), mc_energy_reactive_export(e));
}

/* The newest energy slot's header and payload bytes. */
static const uint8_t *energy_slot_bytes(nvm_emu_t *e, const app_t *a, rec_t *r)
{
    *r = newest_record(e, &a->st, AREA_ENERGY, KIND_ENERGY);
    assert_true(r->found);
    return nvm_emu_at(e, r->sector, r->offset);
}

/* A single-element meter writes exactly what format 2.0 wrote: the whole image of the frozen script,
 * byte for byte, and so its energy record; and it reads the frozen record back. */
static void test_1p2w_image_unchanged(void **state)
{
    (void)state;
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, 16, 1024, 4, 0xFF), 0);
    app_t *a = calloc(2, sizeof(app_t));
    assert_non_null(a);
    frozen_life(&a[0], &e);
    rec_t r;
    const uint8_t *rec = energy_slot_bytes(&e, &a[0], &r);
    assert_int_equal(r.len, ENERGY_LEN_2_0);
    assert_int_equal(r.minor, MINOR_BASE);
    assert_int_equal(a[0].st.area[AREA_ENERGY].slot_size, 496);
    assert_memory_equal(rec, frozen_20_energy, sizeof(frozen_20_energy));
    const uint32_t crc = mc_crc32(0, e.mem, (size_t)e.sector_count * e.sector_size);
    if (crc != FROZEN_20_IMAGE_CRC) {
        fail_msg("the image of a single-element meter is no longer that of format 2.0: CRC %08X, 2.0 wrote %08X "
                 "(see the frozen data's comment)",
                 crc, FROZEN_20_IMAGE_CRC);
    }
    /* The frozen record mounts: the script's energy, booked by the tariff, the address. */
    assert_int_equal(app_boot(&a[1], &e, a[0].now + 60u), MC_OK);
    const mc_energy_t want = frozen_energy();
    assert_memory_equal(&a[1].meter.energy, &want, sizeof(want));
    assert_tariff_books(&a[1], &want);
    assert_int_equal(a[1].model.params.address, 33);
    assert_int_equal(a[1].model.errors, 0);
    assert_int_equal(count_upgrades(&a[1]), 0);
    free(a);
    nvm_emu_free(&e);
}

/* A meter of several elements: its own registers per element, as the test sets them (the core's part). */
static void set_elements(app_t *a, const mc_energy_t *el, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        assert_int_equal(mc_meter_set_phase_energy(&a->meter, k, &el[k]), MC_OK);
    }
}

static void assert_elements(const app_t *a, const mc_energy_t *want, unsigned n, const char *what)
{
    for (unsigned k = 0; k < n; k++) {
        mc_energy_t got;
        assert_int_equal(mc_meter_phase_energy(&a->meter, k, &got), MC_OK);
        if (memcmp(&got, &want[k], sizeof(got)) != 0) {
            fail_msg("%s: element %u: active import %llu quanta, expected %llu", what, k,
                     (unsigned long long)got.q[MC_E_ACTIVE_IMPORT], (unsigned long long)want[k].q[MC_E_ACTIVE_IMPORT]);
        }
    }
}

/* One window of a meter of n elements: element k's registers grow by its own delta (a phase may
 * export while the others import), the totals by their sum (as MC_NETTING_PHASE books them), then
 * storage books the window. el[] and tot are the test's own account, updated alike. */
static mc_energy_t element_delta(uint32_t w, unsigned k)
{
    mc_energy_t d = window_delta(w * 17u + k, 1);
    for (int j = 0; j < MC_E_COUNT; j++) {
        d.q[j] /= 3u;
    }
    return d;
}

static void feed_elements(app_t *a, uint32_t w, unsigned n, mc_energy_t *el, mc_energy_t *tot)
{
    mc_energy_t sum;
    memset(&sum, 0, sizeof(sum));
    for (unsigned k = 0; k < n; k++) {
        const mc_energy_t d = element_delta(w, k);
        for (int j = 0; j < MC_E_COUNT; j++) {
            el[k].q[j] += d.q[j];
            sum.q[j] += d.q[j];
        }
    }
    for (int j = 0; j < MC_E_COUNT; j++) {
        tot->q[j] += sum.q[j];
    }
    set_elements(a, el, n);
    assert_int_equal(mc_meter_set_energy(&a->meter, tot), MC_OK);
    a->now += 10u;
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta = sum;
    r.duration_s = 10.0f;
    const int rc = mc_storage_window(&a->st, a->now, &r);
    if (rc < 0) {
        fail_msg("window %u: %s", w, mc_strerror(rc));
    }
}

/* Boot a meter of `wiring` (multi: `circuits`) on an emulator. */
static int app_boot_wired(app_t *a, nvm_emu_t *e, mc_time_t now, mc_wiring wiring, unsigned circuits)
{
    mc_nvm_t nvm;
    nvm_emu_port(e, &nvm);
    app_init_wired(a, &nvm, now, NULL, wiring, circuits);
    a->emu = e;
    return app_mount(a);
}

/* Round trip of a meter of n elements on a geometry: every energy save holds the elements' registers
 * of its moment (a cut without warning restores those of the last save), a power-fail warning all of
 * them; the record is of minor 1 and as long as the format says. */
static void elements_round_trip(uint32_t count, uint32_t size, uint32_t prog, mc_wiring wiring, unsigned n)
{
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, count, size, prog, 0xFF), 0);
    app_t *a = calloc(3, sizeof(app_t));
    assert_non_null(a);
    const mc_time_t t0 = T(2024, 6, 3, 9, 0, 0);
    assert_int_equal(app_boot_wired(&a[0], &e, t0, wiring, n), MC_OK);
    assert_int_equal(count_upgrades(&a[0]), 0);
    mc_event_t ev;
    assert_true(find_event(&a[0], MC_EV_FORMAT, 4, &ev) >= 0);
    assert_int_equal(ev.new_value, FORMAT_POLY); /* a first start of a meter of several elements: 2.1 */
    mc_energy_t el[MC_MAX_CIRCUITS], tot, saved_el[MC_MAX_CIRCUITS], saved_tot;
    memset(el, 0, sizeof(el));
    memset(&tot, 0, sizeof(tot));
    memcpy(saved_el, el, sizeof(el));
    saved_tot = tot;
    unsigned saves = 0;
    for (uint32_t w = 0; w < 40u; w++) {
        const uint32_t seq = a[0].st.area[AREA_ENERGY].seq;
        feed_elements(&a[0], w, n, el, &tot);
        if (a[0].st.area[AREA_ENERGY].seq != seq) { /* saved in this window */
            memcpy(saved_el, el, sizeof(el));
            saved_tot = tot;
            saves++;
        }
    }
    assert_true(saves >= 2u);
    /* the newest record: minor 1, the 2.0 part and the elements' block */
    rec_t r;
    const uint8_t *rec = energy_slot_bytes(&e, &a[0], &r);
    assert_int_equal(r.minor, MINOR_ELEMENTS);
    assert_int_equal(r.len, ENERGY_LEN_2_0 + 8u + 48u * n);
    assert_int_equal(rd32(rec + HDR + ENERGY_LEN_2_0), n);
    assert_int_equal(rd32(rec + HDR + ENERGY_LEN_2_0 + 4u), (uint32_t)wiring);
    /* a cut without warning: the last save's state, elements and totals of the same moment */
    assert_int_equal(app_boot_wired(&a[1], &e, a[0].now + 1u, wiring, n), MC_OK);
    assert_memory_equal(&a[1].meter.energy, &saved_tot, sizeof(saved_tot));
    assert_elements(&a[1], saved_el, n, "after a cut without warning");
    assert_int_equal(a[1].model.errors, 0);
    /* the warning: everything */
    feed_elements(&a[1], 100, n, saved_el, &saved_tot);
    assert_int_equal(mc_storage_power_fail(&a[1].st, a[1].now), MC_OK);
    assert_int_equal(app_boot_wired(&a[2], &e, a[1].now + 1u, wiring, n), MC_OK);
    assert_memory_equal(&a[2].meter.energy, &saved_tot, sizeof(saved_tot));
    assert_tariff_books(&a[2], &saved_tot);
    assert_elements(&a[2], saved_el, n, "after a power-fail warning");
    assert_int_equal(a[2].model.errors, 0);
    assert_int_equal(count_upgrades(&a[2]), 0);
    assert_flash_rules(&e);
    free(a);
    nvm_emu_free(&e);
}

static void test_elements_round_trip_3p4w(void **state)
{
    (void)state;
    elements_round_trip(64, 1024, 4, MC_WIRING_3P4W, 3);
    elements_round_trip(13, 1024, 1, MC_WIRING_3P4W, 3); /* the smallest memory of 1 KiB sectors */
    elements_round_trip(8, 4096, 8, MC_WIRING_3P4W, 3);   /* the smallest of 4 KiB (history and config combined) */
}

/* 16 circuits: 776 bytes more per energy record, so 2 KiB sectors at least; on 1 KiB sectors at most 10
 * elements, and a mount with more is refused (MC_ERR_INVAL) without a byte written. */
/* Same number of elements, another wiring (3P4W, then a meter of three circuits): the totals are
 * the meter's, the phases' registers are not the circuits' (found by review: they were restored). */
static void test_elements_other_wiring_same_count(void **state)
{
    (void)state;
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, 32, 2048, 4, 0xFF), 0);
    fx_t *f = calloc(1, sizeof(fx_t));
    assert_non_null(f);
    f->emu = e;
    assert_int_equal(app_boot_wired(&f->a, &f->emu, T(2024, 6, 3, 9, 0, 0), MC_WIRING_3P4W, 3), MC_OK);
    mc_energy_t el[MC_MAX_CIRCUITS], tot;
    memset(el, 0, sizeof(el));
    memset(&tot, 0, sizeof(tot));
    for (uint32_t w = 0; w < 20u; w++) {
        feed_elements(&f->a, w, 3, el, &tot);
    }
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(app_boot_wired(&f->b, &f->emu, f->a.now + 5u, MC_WIRING_MULTI, 3), MC_OK);
    assert_memory_equal(&f->b.meter.energy, &tot, sizeof(tot));
    mc_energy_t zero[MC_MAX_CIRCUITS];
    memset(zero, 0, sizeof(zero));
    assert_elements(&f->b, zero, 3, "3P4W phases on a meter of 3 circuits");
    nvm_emu_free(&f->emu);
    free(f);
}

static void test_elements_16_circuits(void **state)
{
    (void)state;
    elements_round_trip(9, 2048, 8, MC_WIRING_MULTI, 16);  /* the smallest memory of 2 KiB sectors */
    elements_round_trip(64, 4096, 4, MC_WIRING_MULTI, 16); /* the metersim geometry */
    elements_round_trip(13, 1024, 4, MC_WIRING_MULTI, 10); /* the most on 1 KiB sectors, the smallest memory */
    elements_round_trip(64, 1024, 16, MC_WIRING_MULTI, 10); /* ... with 16-byte units: 1008 bytes a slot */
    static const uint32_t progs[4] = {1, 4, 8, 16};
    for (unsigned i = 0; i < 4u; i++) {
        nvm_emu_t e;
        assert_int_equal(nvm_emu_init(&e, 64, 1024, progs[i], 0xFF), 0);
        app_t *a = calloc(1, sizeof(app_t));
        assert_non_null(a);
        assert_int_equal(app_boot_wired(a, &e, T(2024, 6, 3, 9, 0, 0), MC_WIRING_MULTI, 11), MC_ERR_INVAL);
        assert_int_equal(app_boot_wired(a, &e, T(2024, 6, 3, 9, 0, 0), MC_WIRING_MULTI, 16), MC_ERR_INVAL);
        assert_int_equal(e.st.progs + e.st.erases, 0);
        assert_int_equal(app_boot_wired(a, &e, T(2024, 6, 3, 9, 0, 0), MC_WIRING_MULTI, 10), MC_OK);
        free(a);
        nvm_emu_free(&e);
    }
}

/* A memory of format 2.0 (the frozen record in an image of the frozen script) under a meter of three
 * elements: the totals, tariff and parameters restored, the elements from 0, the upgrade logged once,
 * the energy saved in the new layout at once; then the elements' registers go on like any energy. */
static void test_elements_old_format_mount(void **state)
{
    (void)state;
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, 16, 1024, 4, 0xFF), 0);
    app_t *a = calloc(4, sizeof(app_t));
    assert_non_null(a);
    frozen_life(&a[0], &e);
    rec_t r;
    uint8_t *rec = (uint8_t *)energy_slot_bytes(&e, &a[0], &r);
    memcpy(rec, frozen_20_energy, sizeof(frozen_20_energy)); /* the bytes format 2.0 wrote, whatever happens above */
    const mc_energy_t frozen = frozen_energy();
    assert_int_equal(app_boot_wired(&a[1], &e, a[0].now + 60u, MC_WIRING_3P4W, 3), MC_OK);
    assert_memory_equal(&a[1].meter.energy, &frozen, sizeof(frozen));
    assert_tariff_books(&a[1], &frozen);
    assert_int_equal(a[1].model.params.address, 33);
    assert_int_equal(a[1].model.errors, 0);
    mc_energy_t el[MC_MAX_CIRCUITS], tot = frozen;
    memset(el, 0, sizeof(el));
    assert_elements(&a[1], el, 3, "a 2.0 record");
    assert_int_equal(count_upgrades(&a[1]), 1);
    mc_event_t ev;
    assert_true(find_event(&a[1], MC_EV_FORMAT, 3, &ev) >= 0);
    assert_int_equal(ev.arg, 0);
    assert_int_equal(ev.old_value, FORMAT_1P2W);
    assert_int_equal(ev.new_value, FORMAT_POLY);
    uint32_t c;
    assert_int_equal(mc_storage_audit_counter(&a[1].st, MC_AUDIT_FORMAT, &c), MC_OK);
    assert_int_equal(c, 2); /* the first start and the upgrade */
    const uint8_t *now_rec = energy_slot_bytes(&e, &a[1], &r);
    assert_int_equal(r.minor, MINOR_ELEMENTS);
    assert_int_equal(r.len, ENERGY_LEN_2_0 + 8u + 3u * 48u);
    /* the registers, totals and this month as 2.0 had them (the meta and the demand state moved on) */
    assert_memory_equal(now_rec + HDR + 16u, frozen_20_energy + HDR + 16u, 48u + 2u * 128u);
    /* The elements' registers from here on, across a warning and a cut without one. */
    for (uint32_t w = 0; w < 30u; w++) {
        feed_elements(&a[1], w, 3, el, &tot);
    }
    assert_int_equal(mc_storage_power_fail(&a[1].st, a[1].now), MC_OK);
    assert_int_equal(app_boot_wired(&a[2], &e, a[1].now + 60u, MC_WIRING_3P4W, 3), MC_OK);
    assert_memory_equal(&a[2].meter.energy, &tot, sizeof(tot));
    assert_tariff_books(&a[2], &tot);
    assert_elements(&a[2], el, 3, "after the upgrade and a warning");
    assert_int_equal(count_upgrades(&a[2]), 1); /* logged once */
    assert_int_equal(a[2].model.errors, 0);
    /* A single-element meter on that memory: the totals (at the 3P4W slots), not the elements. */
    assert_int_equal(app_boot(&a[3], &e, a[2].now + 60u), MC_OK);
    assert_memory_equal(&a[3].meter.energy, &tot, sizeof(tot));
    assert_tariff_books(&a[3], &tot);
    assert_int_equal(a[3].model.errors, 0);
    assert_flash_rules(&e);
    free(a);
    nvm_emu_free(&e);
}

/* A record of another element count (the wiring changed: 3 phases to 4 circuits): the totals, not
 * the elements, and no upgrade; the next save writes the new count. */
static void test_elements_other_count(void **state)
{
    (void)state;
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, 32, 2048, 8, 0xFF), 0);
    app_t *a = calloc(3, sizeof(app_t));
    assert_non_null(a);
    assert_int_equal(app_boot_wired(&a[0], &e, T(2024, 6, 3, 9, 0, 0), MC_WIRING_3P4W, 3), MC_OK);
    mc_energy_t el[MC_MAX_CIRCUITS], tot;
    memset(el, 0, sizeof(el));
    memset(&tot, 0, sizeof(tot));
    for (uint32_t w = 0; w < 25u; w++) {
        feed_elements(&a[0], w, 3, el, &tot);
    }
    assert_int_equal(mc_storage_power_fail(&a[0].st, a[0].now), MC_OK);
    assert_int_equal(app_boot_wired(&a[1], &e, a[0].now + 5u, MC_WIRING_MULTI, 4), MC_OK);
    assert_memory_equal(&a[1].meter.energy, &tot, sizeof(tot));
    assert_tariff_books(&a[1], &tot);
    mc_energy_t zero[MC_MAX_CIRCUITS];
    memset(zero, 0, sizeof(zero));
    assert_elements(&a[1], zero, 4, "a record of three elements under four");
    assert_int_equal(count_upgrades(&a[1]), 0);
    assert_int_equal(a[1].model.errors, 0);
    memset(el, 0, sizeof(el));
    for (uint32_t w = 0; w < 5u; w++) {
        feed_elements(&a[1], w, 4, el, &tot);
    }
    assert_int_equal(mc_storage_power_fail(&a[1].st, a[1].now), MC_OK);
    assert_int_equal(app_boot_wired(&a[2], &e, a[1].now + 5u, MC_WIRING_MULTI, 4), MC_OK);
    assert_memory_equal(&a[2].meter.energy, &tot, sizeof(tot));
    assert_elements(&a[2], el, 4, "four elements saved");
    assert_flash_rules(&e);
    free(a);
    nvm_emu_free(&e);
}

/* An elements' block out of range, with a valid CRC (a forgery or damage behind the CRC): the record is
 * insane, the older copy is used, flagged. */
static void test_elements_insane_block(void **state)
{
    (void)state;
    static const struct {
        uint32_t off;
        uint32_t value;
        const char *what;
    } forged[4] = {
        {0u, 17u, "17 elements"},
        {0u, 1u, "1 element"},
        {4u, 5u, "an unknown wiring"},
        {8u + 48u + 4u, 0x80000000u, "a register above MC_STORAGE_QUANTA_MAX"}, /* element 1, import, high word */
    };
    for (unsigned i = 0; i < 4u; i++) {
        nvm_emu_t e;
        assert_int_equal(nvm_emu_init(&e, 32, 1024, 4, 0xFF), 0);
        fx_t *f = calloc(1, sizeof(fx_t));
        assert_non_null(f);
        f->emu = e;
        assert_int_equal(app_boot_wired(&f->a, &f->emu, T(2024, 6, 3, 9, 0, 0), MC_WIRING_3P4W, 3), MC_OK);
        mc_energy_t el[MC_MAX_CIRCUITS], tot;
        memset(el, 0, sizeof(el));
        memset(&tot, 0, sizeof(tot));
        for (uint32_t w = 0; w < 20u; w++) {
            feed_elements(&f->a, w, 3, el, &tot);
        }
        assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
        const mc_energy_t older_tot = tot;
        mc_energy_t older_el[MC_MAX_CIRCUITS];
        memcpy(older_el, el, sizeof(el));
        feed_elements(&f->a, 50, 3, el, &tot);
        assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
        uint8_t v[4];
        wr32(v, forged[i].value);
        forge(f, &f->a, AREA_ENERGY, KIND_ENERGY, ENERGY_LEN_2_0 + forged[i].off, v, 4);
        assert_int_equal(app_boot_wired(&f->b, &f->emu, f->a.now + 5u, MC_WIRING_3P4W, 3), MC_OK);
        if (memcmp(&f->b.meter.energy, &older_tot, sizeof(older_tot)) != 0) {
            fail_msg("%s: not the older copy", forged[i].what);
        }
        assert_elements(&f->b, older_el, 3, forged[i].what);
        assert_true(f->b.model.errors & MC_ERROR_ENERGY_CRC);
        nvm_emu_free(&f->emu);
        free(f);
    }
}

/* A power cut at every prog and erase of a 3P4W meter's life on a 2.0 memory: the upgrade mount, windows
 * with saves, a warning. Each cut leaves a memory that mounts (MC_OK) with the totals and the elements'
 * registers of one same moment the test fed (or the 2.0 state before it, elements 0), the tariff's books
 * agreeing, the upgrade logged once or twice (a cut between its event and the new energy record logs it
 * again), and that goes on saving exactly. */
#define CUT_WINDOWS 14u

static int cut_script(app_t *a, nvm_emu_t *e, mc_time_t t, mc_energy_t *el, mc_energy_t *tot)
{
    int rc = app_boot_wired(a, e, t, MC_WIRING_3P4W, 3);
    for (uint32_t w = 0; rc == MC_OK && w < CUT_WINDOWS; w++) {
        mc_energy_t sum;
        memset(&sum, 0, sizeof(sum));
        for (unsigned k = 0; k < 3u; k++) {
            const mc_energy_t d = element_delta(w, k);
            for (int j = 0; j < MC_E_COUNT; j++) {
                el[k].q[j] += d.q[j];
                sum.q[j] += d.q[j];
            }
        }
        for (int j = 0; j < MC_E_COUNT; j++) {
            tot->q[j] += sum.q[j];
        }
        set_elements(a, el, 3);
        assert_int_equal(mc_meter_set_energy(&a->meter, tot), MC_OK);
        a->now += 10u;
        mc_reading_t r;
        memset(&r, 0, sizeof(r));
        r.delta = sum;
        r.duration_s = 10.0f;
        const int ev = mc_storage_window(&a->st, a->now, &r);
        rc = ev < 0 ? ev : MC_OK;
    }
    if (rc == MC_OK) {
        rc = mc_storage_power_fail(&a->st, a->now);
    }
    return rc;
}

/* The sweep from a memory of single-element (2.0) records whose meter energy is base_tot. */
static void elements_power_cuts(nvm_emu_t *base, const mc_energy_t *base_tot, mc_time_t t1, const char *name)
{
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, base->sector_count, base->sector_size, base->prog_size, base->erase_value), 0);
    app_t *a = calloc(3, sizeof(app_t));
    assert_non_null(a);
    /* The moments the script passes: 0 the 2.0 state, j after window j. */
    mc_energy_t st_el[CUT_WINDOWS + 1u][3], st_tot[CUT_WINDOWS + 1u];
    memset(st_el, 0, sizeof(st_el));
    st_tot[0] = *base_tot;
    for (uint32_t w = 0; w < CUT_WINDOWS; w++) {
        memcpy(st_el[w + 1u], st_el[w], sizeof(st_el[w]));
        st_tot[w + 1u] = st_tot[w];
        for (unsigned k = 0; k < 3u; k++) {
            const mc_energy_t d = element_delta(w, k);
            for (int j = 0; j < MC_E_COUNT; j++) {
                st_el[w + 1u][k].q[j] += d.q[j];
                st_tot[w + 1u].q[j] += d.q[j];
            }
        }
    }
    /* The run without a cut: its ops are the cut points. */
    nvm_emu_copy(&e, base);
    nvm_emu_reset_stats(&e);
    mc_energy_t el[3], tot = st_tot[0];
    memset(el, 0, sizeof(el));
    assert_int_equal(cut_script(&a[1], &e, t1, el, &tot), MC_OK);
    const uint64_t ops = e.st.ops;
    assert_true(ops > 20u);
    unsigned seen[CUT_WINDOWS + 1u];
    memset(seen, 0, sizeof(seen));
    for (uint64_t k = 1; k <= ops; k++) {
        nvm_emu_copy(&e, base);
        nvm_emu_reset_stats(&e);
        nvm_emu_arm_cut(&e, k, nvm_emu_mix(k * 7919u));
        memset(el, 0, sizeof(el));
        tot = st_tot[0];
        (void)cut_script(&a[1], &e, t1, el, &tot);
        if (!e.cut_done) {
            fail_msg("%s: cut %llu of %llu did not happen", name, (unsigned long long)k, (unsigned long long)ops);
        }
        nvm_emu_repower(&e);
        const int rc = app_boot_wired(&a[2], &e, a[1].now + 30u, MC_WIRING_3P4W, 3);
        if (rc != MC_OK) {
            fail_msg("%s: cut at op %llu: mount %s", name, (unsigned long long)k, mc_strerror(rc));
        }
        unsigned j = 0;
        while (j <= CUT_WINDOWS && memcmp(&a[2].meter.energy, &st_tot[j], sizeof(st_tot[j])) != 0) {
            j++;
        }
        if (j > CUT_WINDOWS) {
            fail_msg("%s: cut at op %llu: the totals are no state fed", name, (unsigned long long)k);
        }
        seen[j]++;
        char what[96];
        snprintf(what, sizeof(what), "%s: cut at op %llu, state %u", name, (unsigned long long)k, j);
        assert_elements(&a[2], st_el[j], 3, what);
        assert_tariff_books(&a[2], &st_tot[j]);
        const unsigned up = count_upgrades(&a[2]);
        if (up < 1u || up > 2u) {
            fail_msg("%s: %u upgrades logged", what, up);
        }
        assert_int_equal(a[2].model.errors, 0);
        assert_flash_rules(&e);
        /* and it goes on: a window, a warning, a mount, that state */
        mc_energy_t el2[3], tot2 = st_tot[j];
        memcpy(el2, st_el[j], sizeof(el2));
        feed_elements(&a[2], 1000u, 3, el2, &tot2);
        assert_int_equal(mc_storage_power_fail(&a[2].st, a[2].now), MC_OK);
        assert_int_equal(app_boot_wired(&a[0], &e, a[2].now + 5u, MC_WIRING_3P4W, 3), MC_OK);
        assert_memory_equal(&a[0].meter.energy, &tot2, sizeof(tot2));
        assert_elements(&a[0], el2, 3, what);
        assert_int_equal(a[0].model.errors, 0);
        assert_flash_rules(&e);
    }
    print_message("%s: power cuts at %llu ops of a 3P4W meter's upgrade and saves; states restored", name,
                  (unsigned long long)ops);
    for (unsigned j = 0; j <= CUT_WINDOWS; j++) {
        if (seen[j] != 0u) {
            print_message(" %u:%u", j, seen[j]);
        }
    }
    print_message("\n");
    assert_true(seen[0] > 0u && seen[CUT_WINDOWS] > 0u);
    free(a);
    nvm_emu_free(&e);
}

static void test_elements_power_cuts(void **state)
{
    (void)state;
    /* The frozen 2.0 record (its newest energy record fills its 1 KiB sector: the ring moves on). */
    nvm_emu_t base;
    assert_int_equal(nvm_emu_init(&base, 16, 1024, 4, 0xFF), 0);
    app_t *a = calloc(1, sizeof(app_t));
    assert_non_null(a);
    frozen_life(a, &base);
    rec_t r;
    memcpy((uint8_t *)energy_slot_bytes(&base, a, &r), frozen_20_energy, sizeof(frozen_20_energy));
    const mc_energy_t frozen = frozen_energy();
    elements_power_cuts(&base, &frozen, a->now + 60u, "frozen 2.0, 1 KiB");
    nvm_emu_free(&base);
    /* 4 KiB sectors, the newest 2.0 record in the middle of one: the new records follow it there. */
    assert_int_equal(nvm_emu_init(&base, 16, 4096, 8, 0xFF), 0);
    assert_int_equal(app_boot(a, &base, T(2024, 3, 1, 12, 0, 0)), MC_OK);
    feed_n(a, 0, 20, 30);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    const rec_t old = newest_record(&base, &a->st, AREA_ENERGY, KIND_ENERGY);
    /* (slots of 504 bytes for 2.0, 656 for 3P4W: room for one after it) */
    assert_true(old.found && old.minor == MINOR_BASE && old.offset > 0u && old.offset + 504u + 656u <= 4096u);
    const mc_energy_t tot = a->meter.energy;
    app_t *b = calloc(1, sizeof(app_t));
    assert_non_null(b);
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, 16, 4096, 8, 0xFF), 0);
    nvm_emu_copy(&e, &base);
    assert_int_equal(app_boot_wired(b, &e, a->now + 60u, MC_WIRING_3P4W, 3), MC_OK);
    const rec_t now_rec = newest_record(&e, &b->st, AREA_ENERGY, KIND_ENERGY);
    assert_true(now_rec.found && now_rec.minor == MINOR_ELEMENTS);
    assert_int_equal(now_rec.sector, old.sector);
    assert_true(now_rec.offset > old.offset);
    free(b);
    nvm_emu_free(&e);
    elements_power_cuts(&base, &tot, a->now + 60u, "2.0 records mid-sector, 4 KiB");
    free(a);
    nvm_emu_free(&base);
}

/* A real 3P4W meter whose window closes across a settlement point: the energy saved just before the
 * freeze leaves that window out, of the totals and of each element alike (the window is the meter's
 * last, so its elements' deltas are known), so the record is one moment of the meter. */
typedef struct live {
    app_t *a;
    mc_reading_t win[4];
    unsigned nwin;
} live_t;

static void live_window(void *ctx, const mc_reading_t *r)
{
    live_t *l = ctx;
    if (l->nwin < 4u) {
        l->win[l->nwin++] = *r;
    }
}

static void test_elements_freeze_leaves_window_out(void **state)
{
    (void)state;
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, 32, 2048, 8, 0xFF), 0);
    app_t *a = calloc(1, sizeof(app_t));
    assert_non_null(a);
    live_t l;
    memset(&l, 0, sizeof(l));
    l.a = a;
    mc_nvm_t nvm;
    nvm_emu_port(&e, &nvm);
    app_init_wired(a, &nvm, T(2024, 3, 31, 23, 59, 50), NULL, MC_WIRING_3P4W, 3);
    a->emu = &e;
    /* the meter again, with the window callback, each phase booked by its own sign */
    mc_meter_config_t mc;
    mc_meter_config_default(&mc);
    mc.u_scale = 400.0f / 8388608.0f;
    mc.i_scale = 100.0f / 8388608.0f;
    mc.wiring = MC_WIRING_3P4W;
    mc.channel_state = a->ch;
    mc.pair_state = a->pr;
    mc.element_state = a->el;
    mc.netting = MC_NETTING_PHASE;
    mc.on_window = live_window;
    mc.context = &l;
    mc.un = 230.0f;
    assert_int_equal(mc_meter_init(&a->meter, &mc), MC_OK);
    assert_int_equal(app_mount(a), MC_OK);
    /* 230 V phases, 10, 6 and 3 A at 20, -30 and 150 degrees (phase 3 exports), 4 kHz, blocks of 100 frames */
    static const double amp_i[3] = {10.0, 6.0, 3.0}, lag[3] = {20.0, -30.0, 150.0};
    static int32_t frames[100 * 6];
    uint64_t n = 0;
    int froze = 0;
    uint32_t gen_before = 0;
    for (unsigned blk = 0; blk < 40u * 20u && !froze; blk++) {
        for (unsigned f = 0; f < 100u; f++, n++) {
            const double t = (double)n / 4000.0;
            for (unsigned k = 0; k < 3u; k++) {
                const double wt = 2.0 * M_PI * 50.0 * t - 2.0 * M_PI * k / 3.0;
                frames[6u * f + k] = (int32_t)lround(SQRT2_T * 230.0 * sin(wt) / (400.0 / 8388608.0));
                frames[6u * f + 3u + k] =
                    (int32_t)lround(SQRT2_T * amp_i[k] * sin(wt - lag[k] * M_PI / 180.0) / (100.0 / 8388608.0));
            }
        }
        assert_true(mc_meter_process_frames(&a->meter, frames, 100) >= 0);
        for (unsigned w = 0; w < l.nwin; w++) {
            a->now += 1u; /* a window of about a second */
            const int due = a->now >= mc_tariff_next_settlement(&a->tariff);
            gen_before = a->st.gen;
            const uint32_t seq_before = a->st.area[AREA_ENERGY].seq;
            /* what the record before the freeze must hold: the meter now, less the window */
            mc_energy_t want_tot, want_el[3];
            assert_int_equal(mc_meter_energy(&a->meter, &want_tot), MC_OK);
            for (int j = 0; j < MC_E_COUNT; j++) {
                want_tot.q[j] -= l.win[w].delta.q[j];
            }
            for (unsigned k = 0; k < 3u; k++) {
                mc_phase_reading_t pr;
                assert_int_equal(mc_meter_phase_reading(&a->meter, k, &pr), MC_OK);
                assert_int_equal(mc_meter_phase_energy(&a->meter, k, &want_el[k]), MC_OK);
                for (int j = 0; j < MC_E_COUNT; j++) {
                    assert_true(pr.delta.q[j] <= want_el[k].q[j]);
                    want_el[k].q[j] -= pr.delta.q[j];
                }
            }
            assert_true(mc_storage_window(&a->st, a->now, &l.win[w]) >= 0);
            if (!due) {
                continue;
            }
            froze = 1;
            assert_int_equal(a->st.gen, gen_before + 1u);
            /* the record of sequence seq_before + 1: the save before the freeze (then history, then energy) */
            const mc_storage_area_t *ar = &a->st.area[AREA_ENERGY];
            int found = 0;
            for (uint32_t slot = 0; slot < (uint32_t)ar->sectors * ar->slots_per_sector && !found; slot++) {
                rec_t r;
                memset(&r, 0, sizeof(r));
                if (!record_at(&e, ar->first_sector + slot / ar->slots_per_sector,
                               (slot % ar->slots_per_sector) * ar->slot_size, ar->slot_size, KIND_ENERGY, &r) ||
                    r.seq != seq_before + 1u) {
                    continue;
                }
                found = 1;
                const uint8_t *p = nvm_emu_at(&e, r.sector, r.offset + HDR);
                assert_int_equal(rd32(p), gen_before); /* meta.gen: before the freeze */
                assert_memory_equal(p + 16u, &want_tot, sizeof(want_tot));
                assert_int_equal(rd32(p + ENERGY_LEN_2_0), 3);
                for (unsigned k = 0; k < 3u; k++) {
                    if (memcmp(p + ENERGY_LEN_2_0 + 8u + 48u * k, &want_el[k], sizeof(want_el[k])) != 0) {
                        fail_msg("element %u in the record before the freeze: not the meter less the window", k);
                    }
                }
            }
            assert_true(found);
            /* and each phase's window was not nothing (phase 3 exports) */
            mc_phase_reading_t pr;
            assert_int_equal(mc_meter_phase_reading(&a->meter, 2, &pr), MC_OK);
            assert_true(pr.delta.q[MC_E_ACTIVE_EXPORT] > 0u);
            break;
        }
        l.nwin = 0;
    }
    assert_true(froze);
    free(a);
    nvm_emu_free(&e);
}

/* ------------------------------------------------------------------------ */
/* Wiring changes and back (review 15, F5)                                  */

/* Slot size of a record of payload length `len` on a memory (the format: header and payload rounded
 * up to the programming unit, then the commit marker's unit). */
static uint32_t slot_of(const nvm_emu_t *e, uint32_t len)
{
    const uint32_t u = e->prog_size;
    return (HDR + len + u - 1u) / u * u + (4u + u - 1u) / u * u;
}

/* Payload length of an energy record with the registers of n elements (0: none, as 1P2W and 2.0 write). */
static uint32_t energy_len_of(unsigned n)
{
    return ENERGY_LEN_2_0 + (n > 0u ? 8u + 48u * n : 0u);
}

/* Every valid record of a kind in an area, at the slots of each payload length of lens[] (a record
 * counts at the slots of its own length only, so each is found once), into recs; returns the count. */
static unsigned records_all_sizes(nvm_emu_t *e, const mc_storage_area_t *a, uint8_t kind, const uint32_t *lens,
                                  unsigned nlens, rec_t *recs, unsigned cap)
{
    unsigned n = 0;
    for (unsigned l = 0; l < nlens; l++) {
        const uint32_t size = slot_of(e, lens[l]);
        for (uint32_t s = 0; size <= e->sector_size && s < a->sectors; s++) {
            for (uint32_t off = 0; off + size <= e->sector_size; off += size) {
                rec_t r;
                memset(&r, 0, sizeof(r));
                if (record_at(e, a->first_sector + s, off, size, kind, &r) && r.len == lens[l]) {
                    assert_true(n < cap);
                    recs[n++] = r;
                }
            }
        }
    }
    return n;
}

/* Sectors of the energy area holding energy records of more than one length (a ring gone on inside a
 * sector at another size). */
static unsigned mixed_energy_sectors(nvm_emu_t *e, const app_t *a)
{
    uint32_t lens[MC_MAX_CIRCUITS];
    unsigned nl = 0, mixed = 0;
    lens[nl++] = energy_len_of(0);
    for (unsigned k = 2; k <= MC_MAX_CIRCUITS; k++) {
        lens[nl++] = energy_len_of(k);
    }
    static rec_t recs[2048];
    const unsigned n = records_all_sizes(e, &a->st.area[AREA_ENERGY], KIND_ENERGY, lens, nl, recs, 2048);
    for (uint32_t s = 0; s < e->sector_count; s++) {
        uint32_t len = 0;
        int two = 0;
        for (unsigned i = 0; i < n; i++) {
            if (recs[i].sector == s) {
                two |= len != 0u && recs[i].len != len;
                len = recs[i].len;
            }
        }
        mixed += (unsigned)two;
    }
    return mixed;
}

static int rec_seq_cmp(const void *x, const void *y)
{
    const rec_t *a = x, *b = y;
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

/* The energy area holds records of any element count: no two of them may share a sequence number
 * (two histories forked from one), and the newest of all must be what the mount restored. */
static void assert_energy_seqs_unique(nvm_emu_t *e, const app_t *a, const char *what)
{
    uint32_t lens[MC_MAX_CIRCUITS];
    unsigned nl = 0;
    lens[nl++] = energy_len_of(0);
    for (unsigned k = 2; k <= MC_MAX_CIRCUITS; k++) {
        lens[nl++] = energy_len_of(k);
    }
    static rec_t recs[2048];
    const unsigned n = records_all_sizes(e, &a->st.area[AREA_ENERGY], KIND_ENERGY, lens, nl, recs, 2048);
    assert_true(n > 0u);
    qsort(recs, n, sizeof(recs[0]), rec_seq_cmp);
    for (unsigned i = 1; i < n; i++) {
        if (recs[i].seq == recs[i - 1u].seq) {
            fail_msg("%s: two energy records of sequence %u (sector %u offset %u length %u, sector %u offset %u "
                     "length %u)",
                     what, recs[i].seq, recs[i - 1u].sector, recs[i - 1u].offset, recs[i - 1u].len, recs[i].sector,
                     recs[i].offset, recs[i].len);
        }
    }
    /* The newest record holds the registers the meter has now (saved at its warning or at its mount). */
    const rec_t *nw = &recs[n - 1u];
    const uint8_t *p = nvm_emu_at(e, nw->sector, nw->offset + HDR);
    if (memcmp(p + 16u, &a->meter.energy, sizeof(mc_energy_t)) != 0) {
        fail_msg("%s: the newest energy record (sequence %u, length %u) is not the meter's registers", what, nw->seq,
                 nw->len);
    }
}

/* One window of a meter of n elements (n 1: a single-element meter, its registers are the totals), as
 * feed_elements() books it; returns what mc_storage_window() returned (for a run with a cut armed). */
static int wc_window(app_t *a, uint32_t w, unsigned n, mc_energy_t *el, mc_energy_t *tot)
{
    mc_energy_t sum;
    memset(&sum, 0, sizeof(sum));
    if (n > 1u) {
        for (unsigned k = 0; k < n; k++) {
            const mc_energy_t d = element_delta(w, k);
            for (int j = 0; j < MC_E_COUNT; j++) {
                el[k].q[j] += d.q[j];
                sum.q[j] += d.q[j];
            }
        }
        set_elements(a, el, n);
    } else {
        sum = window_delta(w, 1);
    }
    for (int j = 0; j < MC_E_COUNT; j++) {
        tot->q[j] += sum.q[j];
    }
    assert_int_equal(mc_meter_set_energy(&a->meter, tot), MC_OK);
    a->now += 10u;
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    r.delta = sum;
    r.duration_s = 10.0f;
    return mc_storage_window(&a->st, a->now, &r);
}

/* Runs of wiring A, B, A, B, A, B, A on one memory, energy in every run (a few saves: a run's records
 * share sectors with the run's before) and a power-fail warning at its end:
 * every mount restores the sum of all the runs before it (the registers never go backwards), the
 * parameters written in the first run, the elements from 0 (the newest record is of the other
 * wiring), and the energy area never holds two records of one sequence number. */
static void wiring_change_and_back(uint32_t count, uint32_t size, uint32_t prog, mc_wiring wa, unsigned na,
                                   mc_wiring wb, unsigned nb, const char *name)
{
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, count, size, prog, 0xFF), 0);
    app_t *a = calloc(1, sizeof(app_t));
    assert_non_null(a);
    static const uint32_t windows[7] = {26u, 9u, 14u, 7u, 11u, 23u, 5u};
    mc_energy_t tot, el[MC_MAX_CIRCUITS], zero[MC_MAX_CIRCUITS];
    memset(&tot, 0, sizeof(tot));
    memset(zero, 0, sizeof(zero));
    mc_time_t t = T(2024, 6, 3, 9, 0, 0);
    uint32_t w = 0;
    char what[128];
    for (unsigned run = 0; run < 7u; run++) {
        const mc_wiring wiring = run % 2u ? wb : wa;
        const unsigned n = run % 2u ? nb : na;
        snprintf(what, sizeof(what), "%s: run %u (%u element%s)", name, run, n, n > 1u ? "s" : "");
        const int rc = app_boot_wired(a, &e, t, wiring, n);
        if (rc != MC_OK) {
            fail_msg("%s: mount %s", what, mc_strerror(rc));
        }
        if (memcmp(&a->meter.energy, &tot, sizeof(tot)) != 0) {
            fail_msg("%s: the mount restored %.6f Wh over all registers, the runs before fed %.6f Wh", what,
                     (double)energy_total(&a->meter.energy) / Q, (double)energy_total(&tot) / Q);
        }
        assert_tariff_books(a, &tot);
        if (n > 1u) {
            assert_elements(a, zero, n, what); /* the newest record is of the other wiring (or none) */
        }
        if (run == 0u) {
            assert_int_equal(write_u16(a, MC_QTY_ADDRESS, 0, 33), MC_OK);
        }
        assert_int_equal(a->model.params.address, 33);
        assert_int_equal(a->model.errors, 0);
        memset(el, 0, sizeof(el));
        for (uint32_t k = 0; k < windows[run]; k++, w++) {
            const int ev = wc_window(a, w, n, el, &tot);
            if (ev < 0) {
                fail_msg("%s: window %u: %s", what, w, mc_strerror(ev));
            }
        }
        assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
        assert_energy_seqs_unique(&e, a, what);
        assert_flash_rules(&e);
        t = a->now + 60u;
    }
    if (size >= 2048u) {
        assert_true(mixed_energy_sectors(&e, a) > 0u); /* the case of review 15, F5: sizes share a sector */
    }
    /* and the last run's own elements come back under its own wiring */
    snprintf(what, sizeof(what), "%s: the last run again", name);
    assert_int_equal(app_boot_wired(a, &e, t, wa, na), MC_OK);
    assert_memory_equal(&a->meter.energy, &tot, sizeof(tot));
    if (na > 1u) {
        assert_elements(a, el, na, what);
    }
    assert_energy_seqs_unique(&e, a, what);
    free(a);
    nvm_emu_free(&e);
}

static void test_wiring_change_and_back(void **state)
{
    (void)state;
    /* the metersim geometry: records of both sizes share sectors */
    wiring_change_and_back(64, 4096, 4, MC_WIRING_3P4W, 3, MC_WIRING_1P2W, 1, "3P4W/1P2W, 64 x 4 KiB");
    wiring_change_and_back(32, 2048, 8, MC_WIRING_3P4W, 3, MC_WIRING_MULTI, 4, "3P4W/4 circuits, 32 x 2 KiB");
    wiring_change_and_back(16, 1024, 4, MC_WIRING_1P2W, 1, MC_WIRING_3P4W, 3, "1P2W/3P4W, 16 x 1 KiB");
    wiring_change_and_back(8, 4096, 8, MC_WIRING_3P4W, 3, MC_WIRING_1P2W, 1, "3P4W/1P2W, 8 x 4 KiB (state record)");
}

/* A power cut at every prog and erase across wiring changes: from a memory of a first A run, the script
 * mounts B, books WC_B1 windows, warns; mounts A, WC_A windows, warns; mounts B, WC_B2 windows, warns.
 * Each cut leaves a memory that mounts under either wiring with the totals of a state the script
 * passed, never older than the last warning before the cut (and never newer than the last window fed),
 * the elements of that state if its record is A's, no two energy records of one sequence number, and
 * that goes on: a window, a warning and a mount under the other wiring restore it exactly. */
#define WC_B1 12u
#define WC_A 12u
#define WC_B2 9u
#define WC_STATES (WC_B1 + WC_A + WC_B2 + 1u)

typedef struct wc_progress {
    unsigned fed;     /* state of the last window fed */
    unsigned durable; /* state of the last warning that completed */
} wc_progress_t;

typedef struct wc_plan {
    mc_wiring wa, wb;
    unsigned na, nb;
    mc_energy_t tot[WC_STATES];             /* totals after window j (0: the first A run's) */
    mc_energy_t el[WC_STATES][MC_MAX_CIRCUITS]; /* A's elements a mount as A restores at state j */
} wc_plan_t;

static int wc_script(app_t *a, nvm_emu_t *e, mc_time_t t, const wc_plan_t *pl, wc_progress_t *pg)
{
    static const unsigned phase_windows[3] = {WC_B1, WC_A, WC_B2};
    unsigned j = 0;
    pg->fed = pg->durable = 0;
    for (unsigned p = 0; p < 3u; p++) {
        const int is_a = p == 1u;
        const unsigned n = is_a ? pl->na : pl->nb;
        int rc = app_boot_wired(a, e, t, is_a ? pl->wa : pl->wb, n);
        if (rc != MC_OK) {
            return rc;
        }
        mc_energy_t el[MC_MAX_CIRCUITS], tot = pl->tot[j];
        memset(el, 0, sizeof(el));
        for (unsigned k = 0; k < phase_windows[p]; k++) {
            j++;
            pg->fed = j;
            const int ev = wc_window(a, 1000u + j, n, el, &tot);
            if (ev < 0) {
                return ev;
            }
        }
        rc = mc_storage_power_fail(&a->st, a->now);
        if (rc != MC_OK) {
            return rc;
        }
        pg->durable = j;
        t = a->now + 30u;
    }
    return MC_OK;
}

static void poly_expect(mc_poly_calibration_t *c, float gain3, float phase4, float p1, float q2);
static unsigned calibration_events(const app_t *a, uint8_t qty, uint8_t arg, mc_event_t *out);
static unsigned all_calibration_events(const app_t *a);
static uint32_t audit_count(const app_t *a, unsigned which);

/* Mount a cut image under one wiring and check it against the plan; then go on under it and mount
 * under the other wiring. The first A run put a per-channel calibration P in force: a mount as A has it
 * if and only if its newest config record is A's first (so B's mount, which drops it and logs that in
 * its config record, had not saved), else unity; a mount as B has unity and the drop logged once; the
 * calibration audit counter counts the calibration events of the log. */
static void wc_check(app_t *a, nvm_emu_t *e, mc_time_t t, const wc_plan_t *pl, const wc_progress_t *pg, int as_a,
                     const char *what)
{
    const unsigned n = as_a ? pl->na : pl->nb;
    const int rc = app_boot_wired(a, e, t, as_a ? pl->wa : pl->wb, n);
    if (rc != MC_OK) {
        fail_msg("%s: mount %s", what, mc_strerror(rc));
    }
    unsigned j = 0;
    while (j < WC_STATES && memcmp(&a->meter.energy, &pl->tot[j], sizeof(pl->tot[j])) != 0) {
        j++;
    }
    if (j == WC_STATES) {
        fail_msg("%s: the totals (%.6f Wh) are no state fed", what, (double)energy_total(&a->meter.energy) / Q);
    }
    if (j < pg->durable || j > pg->fed) {
        fail_msg("%s: state %u restored, the last warning before the cut saved state %u, the last window fed "
                 "was state %u",
                 what, j, pg->durable, pg->fed);
    }
    assert_tariff_books(a, &pl->tot[j]);
    if (n > 1u) {
        assert_elements(a, pl->el[j], n, what);
    }
    assert_int_equal(a->model.errors, 0);
    assert_energy_seqs_unique(e, a, what);
    assert_flash_rules(e);
    mc_poly_calibration_t unity, p, got;
    poly_expect(&unity, 1.0f, 0.0f, 0.0f, 0.0f);
    poly_expect(&p, 1.03f, 0.0f, 0.0f, 0.0f);
    assert_int_equal(mc_meter_get_poly_calibration(&a->meter, &got), MC_OK);
    const int is_p = memcmp(&got, &p, sizeof(got)) == 0, is_unity = memcmp(&got, &unity, sizeof(got)) == 0;
    const unsigned drops = calibration_events(a, MC_QTY_CAL_CH_GAIN, MC_POLY_CAL_ARG, NULL);
    if (as_a ? !(is_p ? drops == 0u : is_unity && drops == 1u) : !(is_unity && drops == 1u)) {
        fail_msg("%s: per-channel calibration %s, %u drops logged", what, is_p ? "P" : (is_unity ? "unity" : "other"),
                 drops);
    }
    assert_int_equal(audit_count(a, MC_AUDIT_CALIBRATION), all_calibration_events(a));
    check_log_sane(a, what);
    /* it goes on */
    mc_energy_t el[MC_MAX_CIRCUITS], tot = pl->tot[j];
    memcpy(el, pl->el[j], sizeof(el));
    assert_true(wc_window(a, 5000u, n, el, &tot) >= 0);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    assert_int_equal(app_boot_wired(a, e, a->now + 5u, as_a ? pl->wb : pl->wa, as_a ? pl->nb : pl->na), MC_OK);
    if (memcmp(&a->meter.energy, &tot, sizeof(tot)) != 0) {
        fail_msg("%s: after a window and a warning, the other wiring restored %.6f Wh, expected %.6f Wh", what,
                 (double)energy_total(&a->meter.energy) / Q, (double)energy_total(&tot) / Q);
    }
    assert_energy_seqs_unique(e, a, what);
    assert_flash_rules(e);
}

static void wiring_change_power_cuts(uint32_t count, uint32_t size, uint32_t prog, const char *name)
{
    static wc_plan_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.wa = MC_WIRING_3P4W;
    pl.na = 3;
    pl.wb = MC_WIRING_1P2W;
    pl.nb = 1;
    nvm_emu_t base, e, e2;
    assert_int_equal(nvm_emu_init(&base, count, size, prog, 0xFF), 0);
    assert_int_equal(nvm_emu_init(&e, count, size, prog, 0xFF), 0);
    assert_int_equal(nvm_emu_init(&e2, count, size, prog, 0xFF), 0);
    app_t *a = calloc(2, sizeof(app_t));
    assert_non_null(a);
    /* The first A run: energy in every element, a warning. */
    assert_int_equal(app_boot_wired(&a[0], &base, T(2024, 6, 3, 9, 0, 0), pl.wa, pl.na), MC_OK);
    mc_write_item_t gain;
    memset(&gain, 0, sizeof(gain));
    gain.qty = MC_QTY_CAL_CH_GAIN;
    gain.arg = 3;
    gain.is_float = 1;
    gain.f = 1.03f;
    assert_int_equal(mc_model_write(&a[0].model, &gain, 1, MC_SRC_BUS), MC_OK);
    for (uint32_t w = 0; w < 30u; w++) {
        assert_true(wc_window(&a[0], w, pl.na, pl.el[0], &pl.tot[0]) >= 0);
    }
    assert_int_equal(mc_storage_power_fail(&a[0].st, a[0].now), MC_OK);
    const mc_time_t t1 = a[0].now + 60u;
    /* The states of the script, from its windows alone; A's elements only where A's record holds them. */
    for (unsigned j = 1; j < WC_STATES; j++) {
        const int in_a = j > WC_B1 && j <= WC_B1 + WC_A;
        const unsigned n = in_a ? pl.na : 1u;
        pl.tot[j] = pl.tot[j - 1u];
        if (in_a) {
            memcpy(pl.el[j], pl.el[j - 1u], sizeof(pl.el[j]));
        }
        mc_energy_t sum;
        memset(&sum, 0, sizeof(sum));
        for (unsigned k = 0; k < n; k++) {
            const mc_energy_t d = in_a ? element_delta(1000u + j, k) : window_delta(1000u + j, 1);
            for (int q = 0; q < MC_E_COUNT; q++) {
                sum.q[q] += d.q[q];
                if (in_a) {
                    pl.el[j][k].q[q] += d.q[q];
                }
            }
        }
        for (int q = 0; q < MC_E_COUNT; q++) {
            pl.tot[j].q[q] += sum.q[q];
        }
    }
    /* (State WC_B1 is also A's mount: its upgrade saves it with the elements at 0, as B's records have none.)
     * The run without a cut: its ops are the cut points. */
    wc_progress_t pg;
    nvm_emu_copy(&e, &base);
    nvm_emu_reset_stats(&e);
    assert_int_equal(wc_script(&a[1], &e, t1, &pl, &pg), MC_OK);
    assert_int_equal(pg.durable, WC_STATES - 1u);
    assert_true(mixed_energy_sectors(&e, &a[1]) > 0u); /* the case of review 15, F5: sizes share a sector */
    const uint64_t ops = e.st.ops;
    assert_true(ops > 30u);
    char what[128];
    for (uint64_t k = 1; k <= ops; k++) {
        nvm_emu_copy(&e, &base);
        nvm_emu_reset_stats(&e);
        nvm_emu_arm_cut(&e, k, nvm_emu_mix(k * 104729u));
        (void)wc_script(&a[1], &e, t1, &pl, &pg);
        if (!e.cut_done) {
            fail_msg("%s: cut %llu of %llu did not happen", name, (unsigned long long)k, (unsigned long long)ops);
        }
        nvm_emu_repower(&e);
        nvm_emu_copy(&e2, &e);
        snprintf(what, sizeof(what), "%s: cut at op %llu, mounted as 3P4W", name, (unsigned long long)k);
        wc_check(&a[1], &e, a[1].now + 30u, &pl, &pg, 1, what);
        snprintf(what, sizeof(what), "%s: cut at op %llu, mounted as 1P2W", name, (unsigned long long)k);
        wc_check(&a[1], &e2, a[1].now + 30u, &pl, &pg, 0, what);
    }
    print_message("%s: power cuts at %llu ops across two wiring changes and back; states restored\n", name,
                  (unsigned long long)ops);
    free(a);
    nvm_emu_free(&base);
    nvm_emu_free(&e);
    nvm_emu_free(&e2);
}

static void test_wiring_change_power_cuts(void **state)
{
    (void)state;
    wiring_change_power_cuts(24, 4096, 8, "24 x 4 KiB");
    wiring_change_power_cuts(8, 4096, 4, "8 x 4 KiB (state record)");
}

/* ------------------------------------------------------------------------ */
/* The per-channel calibration of a meter of several elements (review 15, F8) */

/* Config payload of 2.0 (settings 8, parameters 24, calibration 28, schedule 336, code checksum and
 * reserved 16, tail 236), and the per-channel calibration block a meter of several elements adds after
 * it (minor 1): head 8 (wiring, channels, elements, 0 u8, 0 u32), then mc_poly_calibration_t (version
 * u16, size u16, gain f32[20], phase f32[20], P offset f32[16], Q offset f32[16], CRC-32 u32). */
#define CONFIG_LEN_2_0 648u
#define POLY_BLOCK 304u
#define POLY_CRC_AT (8u + 292u) /* the calibration's CRC field, from the block's start */
#define POLY_GAIN_AT (8u + 4u)  /* gain[0] */

static uint32_t float_bits(float f);
static int has_integrity_event(const app_t *a, int bit);

static int write_f32(app_t *a, mc_qty qty, unsigned arg, float v)
{
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = (uint8_t)qty;
    it.arg = (uint8_t)arg;
    it.is_float = 1;
    it.f = v;
    return mc_model_write(&a->model, &it, 1, MC_SRC_BUS);
}

/* The test's own per-channel calibration: unity but for I1's gain, I2's phase, element 1's P offset and
 * element 2's Q offset, sealed. */
static void poly_expect(mc_poly_calibration_t *c, float gain3, float phase4, float p1, float q2)
{
    mc_poly_calibration_default(c);
    c->gain[3] = gain3;
    c->phase_deg[4] = phase4;
    c->p_offset[1] = p1;
    c->q_offset[2] = q2;
    mc_poly_calibration_seal(c);
}

static void assert_poly(const app_t *a, const mc_poly_calibration_t *want, const char *what)
{
    mc_poly_calibration_t got;
    assert_int_equal(mc_meter_get_poly_calibration(&a->meter, &got), MC_OK);
    if (memcmp(&got, want, sizeof(got)) != 0) {
        fail_msg("%s: per-channel calibration in force: gain[3] %.6f phase[4] %.6f P offset[1] %.6f Q offset[2] "
                 "%.6f, expected %.6f %.6f %.6f %.6f",
                 what, (double)got.gain[3], (double)got.phase_deg[4], (double)got.p_offset[1],
                 (double)got.q_offset[2], (double)want->gain[3], (double)want->phase_deg[4],
                 (double)want->p_offset[1], (double)want->q_offset[2]);
    }
}

/* Calibration events (MC_EV_CALIBRATION, not the seal) in the merged log, and one of them by quantity and
 * argument (oldest first into *out). */
static unsigned calibration_events(const app_t *a, uint8_t qty, uint8_t arg, mc_event_t *out)
{
    unsigned c = 0;
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        if (mc_storage_event_read(&a->st, i, &ev) == MC_OK && ev.type == MC_EV_CALIBRATION && ev.qty == qty &&
            ev.arg == arg) {
            if (out != NULL) {
                *out = ev;
            }
            c++;
        }
    }
    return c;
}

static unsigned all_calibration_events(const app_t *a)
{
    unsigned c = 0;
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        c += mc_storage_event_read(&a->st, i, &ev) == MC_OK && ev.type == MC_EV_CALIBRATION && ev.qty != MC_QTY_SEAL;
    }
    return c;
}

static uint32_t audit_count(const app_t *a, unsigned which)
{
    uint32_t c = 0;
    assert_int_equal(mc_storage_audit_counter(&a->st, which, &c), MC_OK);
    return c;
}

/* The newest config (state) record: its minor, and its payload length less the 2.0 part. */
static rec_t newest_config(nvm_emu_t *e, const app_t *a)
{
    uint32_t lens[4];
    unsigned nl = 0;
    if (a->st.combined) {
        /* the state record: config and history without their tails, then the tail (its length from the
         * newest at the instance's own slots) */
        const rec_t r = newest_record(e, &a->st, AREA_CONFIG, KIND_STATE);
        assert_true(r.found);
        return r;
    }
    lens[nl++] = CONFIG_LEN_2_0;
    lens[nl++] = CONFIG_LEN_2_0 + POLY_BLOCK;
    static rec_t recs[512];
    const unsigned n = records_all_sizes(e, &a->st.area[AREA_CONFIG], KIND_CONFIG, lens, nl, recs, 512);
    assert_true(n > 0u);
    rec_t best = recs[0];
    for (unsigned i = 1; i < n; i++) {
        if (recs[i].seq > best.seq) {
            best = recs[i];
        }
    }
    return best;
}

/* A 3P4W meter's per-channel calibration written through the model: each change a calibration event in
 * the audit log, counted; saved in the config (state) record with the write, behind the meter-wide
 * calibration; a mount (after a cut without warning) puts it in force again. */
static void poly_round_trip(uint32_t count, uint32_t size, uint32_t prog)
{
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, count, size, prog, 0xFF), 0);
    app_t *a = calloc(2, sizeof(app_t));
    assert_non_null(a);
    char what[96];
    snprintf(what, sizeof(what), "%u x %u B, unit %u", count, size, prog);
    assert_int_equal(app_boot_wired(&a[0], &e, T(2024, 6, 3, 9, 0, 0), MC_WIRING_3P4W, 3), MC_OK);
    mc_poly_calibration_t unity, want;
    poly_expect(&unity, 1.0f, 0.0f, 0.0f, 0.0f);
    poly_expect(&want, 1.03f, -0.5f, 2.5f, -1.25f);
    assert_poly(&a[0], &unity, what);
    const uint32_t cal0 = audit_count(&a[0], MC_AUDIT_CALIBRATION), all0 = audit_count(&a[0], MC_AUDIT_ALL);
    assert_int_equal(write_f32(&a[0], MC_QTY_CAL, 0, 1.01f), MC_OK);
    assert_int_equal(write_f32(&a[0], MC_QTY_CAL_CH_GAIN, 3, 1.03f), MC_OK);
    assert_int_equal(write_f32(&a[0], MC_QTY_CAL_CH_PHASE, 4, -0.5f), MC_OK);
    assert_int_equal(write_f32(&a[0], MC_QTY_CAL_EL_P_OFFSET, 1, 2.5f), MC_OK);
    assert_int_equal(write_f32(&a[0], MC_QTY_CAL_EL_Q_OFFSET, 2, -1.25f), MC_OK);
    assert_poly(&a[0], &want, what);
    /* each change one calibration event with its old and new value, in the audit log, counted */
    static const struct {
        uint8_t qty, arg;
        float old_v, new_v;
    } evs[5] = {{MC_QTY_CAL, 0, 1.0f, 1.01f},
                {MC_QTY_CAL_CH_GAIN, 3, 1.0f, 1.03f},
                {MC_QTY_CAL_CH_PHASE, 4, 0.0f, -0.5f},
                {MC_QTY_CAL_EL_P_OFFSET, 1, 0.0f, 2.5f},
                {MC_QTY_CAL_EL_Q_OFFSET, 2, 0.0f, -1.25f}};
    for (unsigned k = 0; k < 5u; k++) {
        mc_event_t ev;
        if (calibration_events(&a[0], evs[k].qty, evs[k].arg, &ev) != 1u) {
            fail_msg("%s: no calibration event of quantity %u argument %u", what, evs[k].qty, evs[k].arg);
        }
        assert_int_equal(ev.source, MC_SRC_BUS);
        assert_int_equal(ev.old_value, float_bits(evs[k].old_v));
        assert_int_equal(ev.new_value, float_bits(evs[k].new_v));
    }
    assert_int_equal(audit_count(&a[0], MC_AUDIT_CALIBRATION), cal0 + 5u);
    assert_int_equal(audit_count(&a[0], MC_AUDIT_ALL), all0 + 5u);
    unsigned in_audit = 0;
    for (unsigned i = 0; i < mc_storage_audit_count(&a[0].st); i++) {
        mc_event_t ev;
        in_audit += mc_storage_audit_read(&a[0].st, i, &ev) == MC_OK && ev.type == MC_EV_CALIBRATION;
    }
    assert_int_equal(in_audit, 5);
    check_log_sane(&a[0], what);
    /* the record: minor 1, the 2.0 part, then the block (3P4W: wiring 2, 6 channels, 3 elements) */
    const rec_t r = newest_config(&e, &a[0]);
    assert_int_equal(r.minor, MINOR_ELEMENTS);
    if (!a[0].st.combined) {
        assert_int_equal(r.len, CONFIG_LEN_2_0 + POLY_BLOCK);
    }
    const uint8_t *blk = nvm_emu_at(&e, r.sector, r.offset + HDR + r.len - POLY_BLOCK);
    static const uint8_t head[8] = {MC_WIRING_3P4W, 6, 3, 0, 0, 0, 0, 0};
    assert_memory_equal(blk, head, sizeof(head));
    assert_memory_equal(blk + 8, &want, sizeof(want));
    /* a cut without warning: acknowledged is durable */
    assert_int_equal(app_boot_wired(&a[1], &e, a[0].now + 60u, MC_WIRING_3P4W, 3), MC_OK);
    assert_poly(&a[1], &want, what);
    assert_true(a[1].meter.cal.u_gain == 1.01f);
    assert_int_equal(mc_calibration_check(&a[1].meter.cal), MC_OK);
    assert_int_equal(a[1].model.errors, 0);
    assert_int_equal(count_upgrades(&a[1]), 0);
    assert_int_equal(audit_count(&a[1], MC_AUDIT_CALIBRATION), cal0 + 5u);
    check_log_sane(&a[1], what);
    assert_flash_rules(&e);
    free(a);
    nvm_emu_free(&e);
}

static void test_poly_calibration_round_trip(void **state)
{
    (void)state;
    poly_round_trip(64, 1024, 4);  /* config slot 972 bytes: one per 1 KiB sector, as 2.0's 668 */
    poly_round_trip(13, 1024, 4);  /* the smallest memory of 1 KiB sectors */
    poly_round_trip(64, 1024, 16); /* 16-byte units: 992 bytes a config slot */
    poly_round_trip(64, 4096, 4);  /* metersim */
    poly_round_trip(9, 2048, 8);   /* the smallest of 2 KiB sectors: history and config one state record */
    poly_round_trip(8, 4096, 1);   /* the smallest of 4 KiB, byte-programmable */
}

/* The config record of a given sequence number (a config area of 2.0 and poly records). */
static rec_t config_seq(nvm_emu_t *e, const app_t *a, uint32_t seq)
{
    const uint32_t lens[2] = {CONFIG_LEN_2_0, CONFIG_LEN_2_0 + POLY_BLOCK};
    static rec_t recs[512];
    const unsigned n = records_all_sizes(e, &a->st.area[AREA_CONFIG], KIND_CONFIG, lens, 2, recs, 512);
    for (unsigned i = 0; i < n; i++) {
        if (recs[i].seq == seq) {
            return recs[i];
        }
    }
    fail_msg("no config record of sequence %u", seq);
    return recs[0];
}

/* A per-channel calibration damaged in the newest config records: treated as the meter calibration is
 * (the record is corrupt: the newest sane older copy, MC_ERROR_PARAMS_CRC, MC_EV_INTEGRITY), the meter
 * calibration of that copy (the same) untouched. */
static void test_poly_calibration_corrupt(void **state)
{
    (void)state;
    enum { POLY_CRC, POLY_RANGE, POLY_HEAD, POLY_FLIP, TWO_NEWEST, CASES };
    static const char *const name[CASES] = {"the calibration's CRC broken (record CRC valid)",
                                            "a gain of 2.5 with a valid CRC", "a head of 17 elements",
                                            "a bit flipped in the block (record CRC failing)",
                                            "the two newest copies' CRCs broken"};
    mc_poly_calibration_t unity, p1, p2;
    poly_expect(&unity, 1.0f, 0.0f, 0.0f, 0.0f);
    poly_expect(&p1, 1.03f, 0.0f, 0.0f, 0.0f);
    poly_expect(&p2, 1.05f, 0.0f, 0.0f, 0.0f);
    for (unsigned c = 0; c < CASES; c++) {
        nvm_emu_t e;
        assert_int_equal(nvm_emu_init(&e, 32, 1024, 4, 0xFF), 0);
        app_t *a = calloc(2, sizeof(app_t));
        assert_non_null(a);
        assert_int_equal(app_boot_wired(&a[0], &e, T(2024, 6, 3, 9, 0, 0), MC_WIRING_3P4W, 3), MC_OK);
        assert_int_equal(write_f32(&a[0], MC_QTY_CAL, 1, 0.99f), MC_OK); /* the meter-wide current gain */
        assert_int_equal(write_f32(&a[0], MC_QTY_CAL_CH_GAIN, 3, 1.03f), MC_OK);
        assert_int_equal(write_f32(&a[0], MC_QTY_CAL_CH_GAIN, 3, 1.05f), MC_OK);
        assert_int_equal(mc_storage_power_fail(&a[0].st, a[0].now), MC_OK);
        const uint32_t newest = a[0].st.area[AREA_CONFIG].seq;
        const rec_t r2 = config_seq(&e, &a[0], newest), r1 = config_seq(&e, &a[0], newest - 1u);
        assert_memory_equal(nvm_emu_at(&e, r2.sector, r2.offset + HDR + CONFIG_LEN_2_0 + 8u), &p2, sizeof(p2));
        assert_memory_equal(nvm_emu_at(&e, r1.sector, r1.offset + HDR + CONFIG_LEN_2_0 + 8u), &p1, sizeof(p1));
        uint8_t *b2 = nvm_emu_at(&e, r2.sector, r2.offset + HDR + CONFIG_LEN_2_0);
        uint8_t *b1 = nvm_emu_at(&e, r1.sector, r1.offset + HDR + CONFIG_LEN_2_0);
        const mc_poly_calibration_t *want = &p1;
        switch (c) {
        case POLY_CRC:
            b2[POLY_CRC_AT] ^= 1u;
            reseal(&e, &r2);
            break;
        case POLY_RANGE: {
            const float g = 2.5f;
            memcpy(b2 + POLY_GAIN_AT + 4u * 3u, &g, 4);
            wr32(b2 + POLY_CRC_AT, mc_crc32(0, b2 + 8u, 292u));
            reseal(&e, &r2);
            break;
        }
        case POLY_HEAD:
            b2[2] = 17u;
            reseal(&e, &r2);
            break;
        case POLY_FLIP:
            nvm_emu_flip(&e, r2.sector, r2.offset + HDR + CONFIG_LEN_2_0 + POLY_GAIN_AT + 4u * 5u + 1u, 3);
            break;
        default:
            b2[POLY_CRC_AT] ^= 1u;
            reseal(&e, &r2);
            b1[POLY_CRC_AT] ^= 1u;
            reseal(&e, &r1);
            want = &unity; /* the copy before both: the meter-wide write's */
            break;
        }
        assert_int_equal(app_boot_wired(&a[1], &e, a[0].now + 60u, MC_WIRING_3P4W, 3), MC_OK);
        assert_poly(&a[1], want, name[c]);
        if (!(a[1].meter.cal.i_gain == 0.99f) || mc_calibration_check(&a[1].meter.cal) != MC_OK) {
            fail_msg("%s: the meter calibration's current gain %.6f, expected 0.99", name[c],
                     (double)a[1].meter.cal.i_gain);
        }
        if (!(a[1].model.errors & MC_ERROR_PARAMS_CRC) || !has_integrity_event(&a[1], 0)) {
            fail_msg("%s: not reported (errors 0x%x)", name[c], a[1].model.errors);
        }
        assert_same_energy(&a[1], &a[0]);
        nvm_emu_free(&e);
        free(a);
    }
}

/* A wiring change: the per-channel calibration of another frame layout is not put in force (a channel
 * number is another signal there), and its replacement by the calibration in force is logged as a
 * calibration event (argument MC_POLY_CAL_ARG, the CRCs of both), counted. A single-element meter writes
 * its config records as 2.0 did; the meter of several elements back on them starts from unity. */
static void test_poly_calibration_wiring_change(void **state)
{
    (void)state;
    nvm_emu_t e;
    assert_int_equal(nvm_emu_init(&e, 32, 2048, 8, 0xFF), 0);
    app_t *a = calloc(1, sizeof(app_t));
    assert_non_null(a);
    mc_poly_calibration_t unity, p, q;
    poly_expect(&unity, 1.0f, 0.0f, 0.0f, 0.0f);
    poly_expect(&p, 1.03f, 0.0f, 0.0f, 0.0f);
    poly_expect(&q, 1.04f, 0.0f, 0.0f, 0.0f);
    mc_event_t ev;
    assert_int_equal(app_boot_wired(a, &e, T(2024, 6, 3, 9, 0, 0), MC_WIRING_3P4W, 3), MC_OK);
    assert_int_equal(write_f32(a, MC_QTY_CAL_CH_GAIN, 3, 1.03f), MC_OK);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    /* 3P4W to 1P2W: not in force (1P2W's calibration is the meter-wide one), the drop logged */
    assert_int_equal(app_boot_wired(a, &e, a->now + 60u, MC_WIRING_1P2W, 1), MC_OK);
    assert_poly(a, &unity, "1P2W after 3P4W");
    assert_int_equal(calibration_events(a, MC_QTY_CAL_CH_GAIN, MC_POLY_CAL_ARG, &ev), 1);
    assert_int_equal(ev.source, MC_SRC_LOCAL);
    assert_int_equal(ev.old_value, p.crc);
    assert_int_equal(ev.new_value, unity.crc);
    assert_int_equal(audit_count(a, MC_AUDIT_CALIBRATION), 2);
    assert_int_equal(a->model.errors, 0);
    rec_t r = newest_config(&e, a);
    assert_int_equal(r.minor, MINOR_BASE);
    assert_int_equal(r.len, CONFIG_LEN_2_0); /* 2.0's record */
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    /* back to 3P4W: the 1P2W records carry none: unity, the upgrade logged, nothing dropped */
    assert_int_equal(app_boot_wired(a, &e, a->now + 60u, MC_WIRING_3P4W, 3), MC_OK);
    assert_poly(a, &unity, "3P4W after 1P2W");
    assert_true(count_upgrades(a) >= 1u);
    assert_int_equal(calibration_events(a, MC_QTY_CAL_CH_GAIN, MC_POLY_CAL_ARG, NULL), 1);
    r = newest_config(&e, a);
    assert_int_equal(r.minor, MINOR_ELEMENTS);
    assert_int_equal(r.len, CONFIG_LEN_2_0 + POLY_BLOCK);
    assert_int_equal(write_f32(a, MC_QTY_CAL_CH_GAIN, 3, 1.04f), MC_OK);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    /* 3P4W to 5 circuits on one voltage: also 6 channels, but another layout: not in force, logged */
    assert_int_equal(app_boot_wired(a, &e, a->now + 60u, MC_WIRING_MULTI, 5), MC_OK);
    assert_poly(a, &unity, "5 circuits after 3P4W");
    assert_int_equal(calibration_events(a, MC_QTY_CAL_CH_GAIN, MC_POLY_CAL_ARG, NULL), 2);
    assert_int_equal(audit_count(a, MC_AUDIT_CALIBRATION), 4);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    /* and the same layout again keeps it */
    assert_int_equal(app_boot_wired(a, &e, a->now + 60u, MC_WIRING_MULTI, 5), MC_OK);
    assert_int_equal(write_f32(a, MC_QTY_CAL_CH_GAIN, 3, 1.04f), MC_OK);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    assert_int_equal(app_boot_wired(a, &e, a->now + 60u, MC_WIRING_MULTI, 5), MC_OK);
    assert_poly(a, &q, "5 circuits again");
    assert_int_equal(calibration_events(a, MC_QTY_CAL_CH_GAIN, MC_POLY_CAL_ARG, NULL), 2);
    assert_int_equal(a->model.errors, 0);
    check_log_sane(a, "wiring changes");
    assert_flash_rules(&e);
    free(a);
    nvm_emu_free(&e);
}

/* ------------------------------------------------------------------------ */
/* The emulator itself                                                      */

static void test_nvm_emu(void **state)
{
    (void)state;
    nvm_emu_t e, g;
    assert_int_equal(nvm_emu_init(&e, 8, 256, 4, 0xFF), 0);
    mc_nvm_t n;
    nvm_emu_port(&e, &n);
    uint8_t buf[8] = {0xF0, 0x0F, 0xAA, 0x55, 1, 2, 3, 4}, out[8];
    /* prog ANDs into erased bytes; a second prog can only clear more bits */
    assert_int_equal(n.prog(n.context, 1, 4, buf, 4), MC_OK);
    const uint8_t again[4] = {0x3C, 0x3C, 0xFF, 0xFF};
    assert_int_equal(n.prog(n.context, 1, 4, again, 4), MC_OK);
    assert_int_equal(n.read(n.context, 1, 4, out, 4), MC_OK);
    const uint8_t anded[4] = {0x30, 0x0C, 0xAA, 0x55};
    assert_memory_equal(out, anded, 4);
    assert_int_equal(e.st.reprogrammed, 4);
    assert_int_equal(e.st.conflicts, 4); /* no byte ended as asked: 0x3C / 0xFF cannot be set over 0xF0 .. 0x55 */
    /* alignment, size and range are refused and counted */
    assert_int_equal(n.prog(n.context, 1, 2, buf, 4), MC_ERR_INVAL);
    assert_int_equal(n.prog(n.context, 1, 8, buf, 3), MC_ERR_INVAL);
    assert_int_equal(n.prog(n.context, 8, 0, buf, 4), MC_ERR_INVAL);
    assert_int_equal(n.prog(n.context, 1, 256, buf, 4), MC_ERR_INVAL);
    assert_int_equal(n.read(n.context, 1, 254, out, 4), MC_ERR_INVAL);
    assert_int_equal(e.st.violations, 5);
    /* erase */
    assert_int_equal(n.erase(n.context, 1), MC_OK);
    assert_int_equal(n.read(n.context, 1, 4, out, 4), MC_OK);
    assert_int_equal(out[0], 0xFF);
    assert_int_equal(e.erase_count[1], 1);
    assert_int_equal(e.st.ops, 3);
    /* a cut at the 2nd op from now: the 1st is done, the 2nd fails, then everything fails */
    nvm_emu_arm_cut(&e, 2, 7);
    assert_int_equal(n.prog(n.context, 2, 0, buf, 8), MC_OK);
    assert_int_equal(n.prog(n.context, 2, 8, buf, 8), MC_ERR_IO);
    assert_true(e.cut_done);
    assert_int_equal(e.cut_op, 5);
    assert_int_equal(n.read(n.context, 2, 0, out, 8), MC_ERR_IO);
    assert_int_equal(n.erase(n.context, 3), MC_ERR_IO);
    nvm_emu_repower(&e);
    assert_int_equal(n.read(n.context, 2, 0, out, 8), MC_OK);
    assert_memory_equal(out, buf, 8); /* the array survives the cut */
    /* the partial effect is what nvm_emu_apply_partial() gives for the same seed, and every kind occurs */
    assert_int_equal(nvm_emu_init(&g, 8, 256, 4, 0xFF), 0);
    unsigned kinds = 0;
    for (uint64_t seed = 0; seed < 64u; seed++) {
        for (int erase = 0; erase < 2; erase++) {
            memset(e.mem, 0xFF, 8u * 256u);
            memset(nvm_emu_at(&e, 4, 0), 0x00, 256);
            nvm_emu_copy(&g, &e);
            const uint8_t data[16] = {0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
            nvm_emu_arm_cut(&e, 1, seed);
            const int rc = erase ? n.erase(n.context, 4) : n.prog(n.context, 3, 16, data, 16);
            assert_int_equal(rc, MC_ERR_IO);
            const char *mode = nvm_emu_apply_partial(&g, erase, erase ? 4u : 3u, 16, data, 16, seed);
            assert_true(nvm_emu_same(&e, &g));
            kinds |= 1u << mode_index(mode);
            /* a prog leaves a prefix: nothing after the first byte not fully programmed */
            if (!erase) {
                const uint8_t *p = nvm_emu_at(&e, 3, 16);
                unsigned k = 0;
                while (k < 16u && p[k] == data[k]) {
                    k++;
                }
                for (unsigned j = k + 1u; j < 16u; j++) {
                    assert_int_equal(p[j], 0xFF);
                }
            }
            nvm_emu_repower(&e);
        }
    }
    assert_int_equal(kinds, 0x1Fu);
    /* failing sector */
    memset(e.mem, 0xFF, 8u * 256u);
    nvm_emu_fail_sector(&e, 5, NVM_FAIL_IO);
    assert_int_equal(n.prog(n.context, 5, 0, buf, 4), MC_ERR_IO);
    nvm_emu_fail_sector(&e, 5, NVM_FAIL_SILENT);
    assert_int_equal(n.prog(n.context, 5, 0, buf, 4), MC_OK);
    assert_int_equal(*nvm_emu_at(&e, 5, 0), 0xFF);
    nvm_emu_fail_sector(&e, 5, NVM_FAIL_STUCK);
    assert_int_equal(n.prog(n.context, 5, 0, buf, 4), MC_OK);
    assert_int_equal(*nvm_emu_at(&e, 5, 0), 0xF1);
    nvm_emu_fail_sector(&e, -1, NVM_FAIL_NONE);
    assert_int_equal(n.prog(n.context, 5, 4, buf, 4), MC_OK);
    assert_int_equal(*nvm_emu_at(&e, 5, 4), 0xF0);
    /* bit flip */
    nvm_emu_flip(&e, 5, 4, 0);
    assert_int_equal(*nvm_emu_at(&e, 5, 4), 0xF1);
    nvm_emu_free(&g);
    nvm_emu_free(&e);
}

/* ------------------------------------------------------------------------ */
/* Restore after a power-fail warning                                       */

static void test_restore_after_warning(void **state)
{
    fx_t *f = *state;
    const mc_time_t t0 = T(2024, 5, 10, 8, 0, 0);
    assert_int_equal(app_boot(&f->a, &f->emu, t0), MC_OK);
    assert_int_equal(energy_total(&f->a.meter.energy), 0);
    assert_int_equal(mc_storage_event_count(&f->a.st), 2); /* FORMAT (first start) and POWER_UP */
    feed_n(&f->a, 0, 500, 1);
    assert_int_equal(write_u16(&f->a, MC_QTY_ADDRESS, 0, 42), MC_OK);
    assert_int_equal(mc_storage_poll(&f->a.st, f->a.now), MC_OK);
    const mc_time_t t_pf = f->a.now;
    assert_int_equal(mc_storage_power_fail(&f->a.st, t_pf), MC_OK);

    assert_int_equal(app_boot(&f->b, &f->emu, t_pf + 60u), MC_OK);
    assert_same_energy(&f->b, &f->a);
    assert_memory_equal(f->b.tariff.history, f->a.tariff.history, sizeof(f->a.tariff.history));
    assert_int_equal(f->b.tariff.last_settlement, f->a.tariff.last_settlement);
    assert_memory_equal(&f->b.model.params, &f->a.model.params, sizeof(mc_params_t));
    assert_int_equal(f->b.model.params.address, 42);
    assert_int_equal(f->b.model.errors, 0);
    mc_event_t ev;
    assert_int_equal(mc_storage_event_read(&f->b.st, 0, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_POWER_UP);
    assert_int_equal(ev.time, t_pf + 60u);
    assert_int_equal(ev.old_value, t_pf); /* the last energy save: the warning's */
    assert_int_equal(mc_storage_event_read(&f->b.st, 1, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_POWER_DOWN);
    assert_int_equal(ev.time, t_pf);
    assert_int_equal(mc_storage_event_read(&f->b.st, 2, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_PARAM);
    assert_int_equal(ev.qty, MC_QTY_ADDRESS);
    assert_int_equal(ev.old_value, 1);
    assert_int_equal(ev.new_value, 42);
    assert_int_equal(ev.source, MC_SRC_BUS);
    check_log_sane(&f->b, "after the remount");
    /* and it goes on from there */
    feed_n(&f->b, 500, 300, 1);
    assert_int_equal(mc_storage_power_fail(&f->b.st, f->b.now), MC_OK);
    assert_int_equal(app_boot(&f->c, &f->emu, f->b.now + 1u), MC_OK);
    assert_same_energy(&f->c, &f->b);
    assert_flash_rules(&f->emu);
}

/* ------------------------------------------------------------------------ */
/* Save policy, cost and wear                                               */

static uint32_t energy_seq(fx_t *f, const app_t *a)
{
    const rec_t r = newest_record(&f->emu, &a->st, AREA_ENERGY, KIND_ENERGY);
    assert_true(r.found);
    return r.seq;
}

static void test_save_policy(void **state)
{
    fx_t *f = *state;
    const mc_time_t t0 = T(2024, 5, 10, 8, 0, 0);
    assert_int_equal(app_boot(&f->a, &f->emu, t0), MC_OK);
    app_t *a = &f->a;
    /* 1 Wh windows: a save exactly when 10 Wh have grown since the last one */
    uint32_t seq = energy_seq(f, a), saves = 0;
    uint64_t grown = 0;
    mc_time_t saved_at = t0;
    for (uint32_t i = 0; i < 95u; i++) {
        feed_wh(a, 1, 1, 1);
        grown += Q;
        const uint32_t s = energy_seq(f, a);
        const int want = grown >= 10u * Q;
        if ((s != seq) != want) {
            fail_msg("window %u: %.1f Wh grown, saved %d, expected %d", i, (double)grown / Q, s != seq, want);
        }
        if (want) {
            grown = 0;
            saved_at = a->now;
            saves++;
        }
        seq = s;
    }
    assert_int_equal(saves, 9);
    /* counted over all registers: 0.5 Wh import + 0.5 varh reactive per window */
    mc_energy_t d;
    memset(&d, 0, sizeof(d));
    d.q[MC_E_ACTIVE_IMPORT] = Q / 2u;
    d.q[MC_E_REACTIVE_Q1] = Q / 2u;
    for (uint32_t i = 0; i < 40u; i++) {
        assert_true(app_feed(a, &d, 1) >= 0);
        grown += Q;
        const uint32_t s = energy_seq(f, a);
        const int want = grown >= 10u * Q;
        if ((s != seq) != want) {
            fail_msg("mixed window %u: %.1f Wh grown, saved %d, expected %d", i, (double)grown / Q, s != seq, want);
        }
        if (want) {
            grown = 0;
            saved_at = a->now;
        }
        seq = s;
    }
    /* little growth: a save when save_period_s (3600 s) has passed since the last one */
    d.q[MC_E_ACTIVE_IMPORT] = Q / 20u;
    d.q[MC_E_REACTIVE_Q1] = 0;
    unsigned by_time = 0;
    for (uint32_t i = 0; i < 300u; i++) {
        assert_true(app_feed(a, &d, 60) >= 0);
        grown += Q / 20u;
        const uint32_t s = energy_seq(f, a);
        const int want = grown >= 10u * Q || a->now >= saved_at + 3600u;
        if ((s != seq) != want) {
            fail_msg("slow window %u: %u s since the last save, saved %d, expected %d", i, a->now - saved_at,
                     s != seq, want);
        }
        if (want) {
            by_time += grown < 10u * Q;
            grown = 0;
            saved_at = a->now;
        }
        seq = s;
    }
    assert_true(by_time >= 4u);
    /* the warning saves at once, and nothing is lost */
    feed_wh(a, 3, 1, 1);
    assert_int_equal(energy_seq(f, a), seq);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    assert_int_equal(energy_seq(f, a), seq + 1u);
    assert_int_equal(app_boot(&f->b, &f->emu, a->now + 1u), MC_OK);
    assert_same_energy(&f->b, a);

    /* save_period_s = 0: never by time; another quantum */
    nvm_emu_free(&f->emu);
    assert_int_equal(nvm_emu_init(&f->emu, 64, 1024, 4, 0xFF), 0);
    mc_storage_config_t cfg;
    mc_storage_config_default(&cfg);
    assert_int_equal(cfg.save_quantum_wh, 10);
    assert_int_equal(cfg.save_period_s, 3600);
    cfg.save_period_s = 0;
    cfg.save_quantum_wh = 3;
    assert_int_equal(app_boot_cfg(&f->c, &f->emu, t0, &cfg), MC_OK);
    seq = energy_seq(f, &f->c);
    feed_wh(&f->c, 20, 0, 3600); /* 20 h without energy: no save */
    assert_int_equal(energy_seq(f, &f->c), seq);
    feed_wh(&f->c, 2, 1, 1);
    assert_int_equal(energy_seq(f, &f->c), seq);
    feed_wh(&f->c, 1, 1, 1); /* 3 Wh */
    assert_int_equal(energy_seq(f, &f->c), seq + 1u);
    assert_flash_rules(&f->emu);
}

static void test_save_cost_and_wear(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 1, 31, 23, 0, 0)), MC_OK);
    const mc_storage_area_t ea = a->st.area[AREA_ENERGY];
    /* 10 Wh windows every 2 s: one energy save per window, a freeze at 1 February 00:00 */
    uint64_t min_ops = UINT64_MAX, max_ops = 0, min_bytes = UINT64_MAX, max_bytes = 0, worst_call = 0;
    uint64_t worst_call_bytes = 0;
    uint32_t saves = 0, mounts = 1;
    for (uint32_t i = 0; i < 21000u; i++) {
        const nvm_emu_stats_t s0 = f->emu.st;
        const uint32_t seq0 = i < 3000u ? energy_seq(f, a) : 0u;
        const int ev = app_feed(a, &(mc_energy_t){{10u * Q, 0, 0, 0, 0, 0}}, 2);
        assert_true(ev >= 0);
        const uint64_t ops = (f->emu.st.progs - s0.progs) + (f->emu.st.erases - s0.erases);
        const uint64_t bytes = f->emu.st.bytes_programmed - s0.bytes_programmed;
        saves++;
        if (ev & MC_TEV_FREEZE) {
            print_message("freeze window (energy, history, energy, FREEZE event): %llu ops, %llu bytes\n",
                          (unsigned long long)ops, (unsigned long long)bytes);
        } else if (i < 3000u) {
            assert_int_equal(energy_seq(f, a), seq0 + 1u); /* one save, no more */
            min_ops = ops < min_ops ? ops : min_ops;
            max_ops = ops > max_ops ? ops : max_ops;
            min_bytes = bytes < min_bytes ? bytes : min_bytes;
            max_bytes = bytes > max_bytes ? bytes : max_bytes;
        }
        if (ops > worst_call) {
            worst_call = ops;
            worst_call_bytes = bytes;
        }
        if (i % 2500u == 2499u) {
            /* a power cycle now and then */
            app_t *next = a == &f->a ? &f->b : &f->a;
            assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
            assert_int_equal(app_boot(next, &f->emu, a->now + 30u), MC_OK);
            assert_same_energy(next, a);
            a = next;
            mounts++;
        }
    }
    assert_int_equal(min_bytes, max_bytes); /* every energy save programs one slot */
    assert_int_equal(min_bytes % 4u, 0);
    uint32_t wmin, wmax;
    nvm_emu_wear(&f->emu, ea.first_sector, ea.sectors, &wmin, &wmax);
    print_message("energy save: %llu bytes programmed (slot %u B, %u slots per 1 KiB sector), %llu..%llu flash ops "
                  "(progs + erases); worst storage call: %llu ops, %llu bytes\n",
                  (unsigned long long)min_bytes, ea.slot_size, ea.slots_per_sector, (unsigned long long)min_ops,
                  (unsigned long long)max_ops, (unsigned long long)worst_call, (unsigned long long)worst_call_bytes);
    print_message("wear after %u energy saves and %u mounts: %u energy sectors erased %u..%u times each "
                  "(history sectors %u, %u; config %u, %u)\n",
                  saves, mounts, ea.sectors, wmin, wmax, f->emu.erase_count[a->st.area[AREA_HISTORY].first_sector],
                  f->emu.erase_count[a->st.area[AREA_HISTORY].first_sector + 1u],
                  f->emu.erase_count[a->st.area[AREA_CONFIG].first_sector],
                  f->emu.erase_count[a->st.area[AREA_CONFIG].first_sector + 1u]);
    /* a ring: even wear over the energy sectors */
    assert_true(wmax - wmin <= 2u);
    assert_true(wmin >= saves / ((uint32_t)ea.sectors * ea.slots_per_sector) - 2u);
    assert_flash_rules(&f->emu);
}

/* The same on the byte-programmable memory: cost per save and restore. */
static void test_eeprom_cost(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 6, 1, 8, 0, 0)), MC_OK);
    uint64_t max_ops = 0, bytes = 0;
    for (uint32_t i = 0; i < 2000u; i++) {
        const nvm_emu_stats_t s0 = f->emu.st;
        assert_true(app_feed(a, &(mc_energy_t){{10u * Q, 0, 0, 0, 0, 0}}, 2) >= 0);
        const uint64_t ops = (f->emu.st.progs - s0.progs) + (f->emu.st.erases - s0.erases);
        max_ops = ops > max_ops ? ops : max_ops;
        bytes = f->emu.st.bytes_programmed - s0.bytes_programmed;
    }
    uint32_t wmin, wmax;
    const mc_storage_area_t ea = a->st.area[AREA_ENERGY];
    nvm_emu_wear(&f->emu, ea.first_sector, ea.sectors, &wmin, &wmax);
    print_message("byte-programmable %ux%u B (erased 0x%02X): energy save %llu bytes, at most %llu ops; wear %u..%u "
                  "over %u sectors\n",
                  f->emu.sector_count, f->emu.sector_size, f->emu.erase_value, (unsigned long long)bytes,
                  (unsigned long long)max_ops, wmin, wmax, ea.sectors);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    assert_int_equal(app_boot(&f->b, &f->emu, a->now + 1u), MC_OK);
    assert_same_energy(&f->b, a);
    assert_true(wmax - wmin <= 2u);
    assert_flash_rules(&f->emu);
}

/* ------------------------------------------------------------------------ */
/* Bit flips                                                                */

static int has_integrity_event(const app_t *a, int bit)
{
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n && i < 16u; i++) {
        mc_event_t ev;
        if (mc_storage_event_read(&a->st, i, &ev) == MC_OK && ev.type == MC_EV_INTEGRITY &&
            (bit < 0 || ev.arg == (uint8_t)bit)) {
            return 1;
        }
    }
    return 0;
}

/* Flip one bit of the newest energy record (payload, sequence or CRC field): the previous copy is used,
 * at most a save quantum (and a window) older, and the flip is reported. */
static void test_flip_energy(void **state)
{
    fx_t *f = *state;
    static const struct {
        uint32_t offset; /* in the slot */
        const char *what;
    } where[] = {
        /* payload: generation and time (8), meter registers (48), tariff totals (128), month (128) */
        {HDR + 8u + 3u, "meter energy"}, {HDR + 8u + 48u + 40u, "tariff totals"},
        {HDR + 8u + 48u + 128u + 50u, "month"}, {8u, "sequence"}, {13u, "CRC field"},
    };
    for (unsigned w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
        nvm_emu_free(&f->emu);
        assert_int_equal(nvm_emu_init(&f->emu, 64, 1024, 4, 0xFF), 0);
        assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
        feed_n(&f->a, 0, 200, 1);
        assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
        const rec_t r = newest_record(&f->emu, &f->a.st, AREA_ENERGY, KIND_ENERGY);
        assert_true(r.found);
        assert_true(where[w].offset < HDR + r.len);
        nvm_emu_flip(&f->emu, r.sector, r.offset + where[w].offset, 5);
        assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 10u), MC_OK);
        const uint64_t got = energy_total(&f->b.meter.energy), had = energy_total(&f->a.meter.energy);
        if (got == had || got == 0u || got > had || had - got > 10u * Q + 2u * Q) {
            fail_msg("flip in the %s: restored %.6f Wh, last saved %.6f Wh", where[w].what, (double)got / Q,
                     (double)had / Q);
        }
        for (int k = 0; k < MC_E_COUNT; k++) {
            assert_true(f->b.meter.energy.q[k] <= f->a.meter.energy.q[k]);
        }
        /* the older copy is whole: the tariff booked exactly what the meter counted */
        assert_true(tariff_kind(&f->b.tariff, MC_TK_ACTIVE_IMPORT) == f->b.meter.energy.q[MC_E_ACTIVE_IMPORT]);
        assert_true(tariff_kind(&f->b.tariff, MC_TK_ACTIVE_EXPORT) == f->b.meter.energy.q[MC_E_ACTIVE_EXPORT]);
        if (!(f->b.model.errors & MC_ERROR_ENERGY_CRC) || !has_integrity_event(&f->b, 2)) {
            fail_msg("flip in the %s of the newest energy record not reported (errors 0x%x)", where[w].what,
                     f->b.model.errors);
        }
    }
}

/* A flip in the magic or kind byte makes the slot not a record at all: the older copy is used; whether
 * it is reported is printed (informational). */
static void test_flip_energy_header_id(void **state)
{
    fx_t *f = *state;
    for (uint32_t off = 0; off < 3u; off += 2u) {
        nvm_emu_free(&f->emu);
        assert_int_equal(nvm_emu_init(&f->emu, 64, 1024, 4, 0xFF), 0);
        assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
        feed_n(&f->a, 0, 100, 1);
        assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
        const rec_t r = newest_record(&f->emu, &f->a.st, AREA_ENERGY, KIND_ENERGY);
        nvm_emu_flip(&f->emu, r.sector, r.offset + off, 1);
        assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 10u), MC_OK);
        const uint64_t got = energy_total(&f->b.meter.energy), had = energy_total(&f->a.meter.energy);
        assert_true(got < had && had - got <= 12u * Q && got > 0u);
        print_message("flip in the %s byte of the newest energy record: older copy used (%.3f Wh back), %s\n",
                      off == 0u ? "magic" : "kind", (double)(had - got) / Q,
                      f->b.model.errors ? "reported" : "NOT reported (the slot no longer looks like a record)");
    }
}

/* Two freezes (1 February by windows, 1 March by a clock set), 600 Wh this month, a warning. */
static void two_freezes_whole(fx_t *f)
{
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 1, 31, 23, 50, 0)), MC_OK);
    feed_wh(&f->a, 900, 2, 1); /* crosses 1 February 00:00: freeze P1 */
    assert_int_equal(f->a.tariff.history[0].frozen_at, T(2024, 2, 1, 0, 0, 0));
    assert_int_equal(write_clock(&f->a, T(2024, 3, 1, 0, 0, 30)), MC_OK); /* freeze P2 */
    assert_int_equal(mc_storage_poll(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(f->a.tariff.history[0].frozen_at, T(2024, 3, 1, 0, 0, 0));
    feed_wh(&f->a, 300, 2, 1); /* 600 Wh this month */
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
}

/* Two freezes, then the newest history record gets a flip. */
static void two_freezes(fx_t *f)
{
    two_freezes_whole(f);
    const rec_t r = newest_record(&f->emu, &f->a.st, AREA_HISTORY, KIND_HISTORY);
    assert_true(r.found);
    /* payload: gen, last settlement, max demand, its time (16), month (128), history[0]: frozen_at, active_wh[0] */
    nvm_emu_flip(&f->emu, r.sector, r.offset + HDR + 16u + 128u + 4u, 3);
}

static void test_flip_history(void **state)
{
    fx_t *f = *state;
    two_freezes(f);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 10u), MC_OK);
    /* energy comes from its own record, untouched */
    assert_memory_equal(&f->b.meter.energy, &f->a.meter.energy, sizeof(mc_energy_t));
    assert_memory_equal(f->b.tariff.total, f->a.tariff.total, sizeof(f->a.tariff.total));
    /* the older history copy: the month frozen at P1 is there, nothing garbled */
    assert_int_equal(f->b.tariff.history[0].frozen_at, T(2024, 2, 1, 0, 0, 0));
    assert_memory_equal(&f->b.tariff.history[0], &f->a.tariff.history[1], sizeof(mc_tariff_month_t));
    if (f->b.model.errors == 0u || !has_integrity_event(&f->b, -1)) {
        fail_msg("flip in the newest history record not reported (errors 0x%x)", f->b.model.errors);
    }
}

/* With the newest history lost, the energy of this month (since P2, saved in the valid energy record)
 * must stay this month's: it must not be frozen into the month that ended at P2. */
static void test_flip_history_keeps_this_month(void **state)
{
    fx_t *f = *state;
    two_freezes(f);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 10u), MC_OK);
    assert_true(mc_tariff_update(&f->b.tariff, f->b.now) >= 0);
    uint64_t want = 0, got = 0;
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        want += f->a.tariff.month[r][MC_TK_ACTIVE_IMPORT];
        got += f->b.tariff.month[r][MC_TK_ACTIVE_IMPORT];
    }
    assert_true(want >= 599u * Q);
    if (got != want) {
        fail_msg("this month's active import after the mount and an update: %.3f Wh, expected %.3f Wh (history[0] "
                 "frozen at %u with %d Wh in rate 1..4 sum)",
                 (double)got / Q, (double)want / Q, f->b.tariff.history[0].frozen_at,
                 f->b.tariff.history[0].active_wh[0] + f->b.tariff.history[0].active_wh[1] +
                     f->b.tariff.history[0].active_wh[2] + f->b.tariff.history[0].active_wh[3]);
    }
}

static void test_flip_config(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    mc_params_t v0 = f->a.model.params;
    feed_n(&f->a, 0, 50, 1);
    assert_int_equal(write_u16(&f->a, MC_QTY_ADDRESS, 0, 17), MC_OK);
    assert_int_equal(mc_storage_poll(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    const rec_t r = newest_record(&f->emu, &f->a.st, AREA_CONFIG, KIND_CONFIG);
    assert_true(r.found);
    /* payload: 8 bytes of settings, then mc_params_t (address at offset 2) */
    nvm_emu_flip(&f->emu, r.sector, r.offset + HDR + 8u + 2u, 6);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 10u), MC_OK);
    assert_memory_equal(&f->b.model.params, &v0, sizeof(v0)); /* the old version, not garbage */
    assert_same_energy(&f->b, &f->a);
    if (!(f->b.model.errors & MC_ERROR_PARAMS_CRC) || !has_integrity_event(&f->b, 0)) {
        fail_msg("flip in the newest config record not reported (errors 0x%x)", f->b.model.errors);
    }
}

/* A flipped event reads as MC_ERR_CORRUPT at its index (mc_storage_event_read()); the others still read. */
static void test_flip_event(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    for (uint32_t i = 0; i < 30u; i++) {
        const mc_event_t ev = {0, 0, MC_EV_RELAY, MC_SRC_LOCAL, MC_QTY_RELAY, 0, i, i + 1u};
        assert_int_equal(mc_storage_log(&f->a.st, &ev), MC_OK);
    }
    const unsigned n = mc_storage_event_count(&f->a.st);
    assert_int_equal(n, 32); /* FORMAT, POWER_UP and 30 */
    mc_event_t ev;
    assert_int_equal(mc_storage_event_read(&f->a.st, 10, &ev), MC_OK);
    assert_int_equal(ev.old_value, 19);
    uint32_t sector, off; /* event_slot() sets both on every path */
    assert_int_equal(event_slot(&f->emu, &f->a.st, ev.seq, &sector, &off), 0);
    nvm_emu_flip(&f->emu, sector, off + 12u, 2);
    const int rc = mc_storage_event_read(&f->a.st, 10, &ev);
    assert_int_equal(mc_storage_event_read(&f->a.st, 9, &ev), MC_OK);
    assert_int_equal(ev.old_value, 20);
    assert_int_equal(mc_storage_event_read(&f->a.st, 11, &ev), MC_OK);
    assert_int_equal(ev.old_value, 18);
    const unsigned n2 = mc_storage_event_count(&f->a.st);
    if (rc != MC_ERR_CORRUPT || n2 != n) {
        fail_msg("a flipped event: read gives %s (documented MC_ERR_CORRUPT), count %u (was %u)", mc_strerror(rc),
                 n2, n);
    }
}

/* ------------------------------------------------------------------------ */
/* Failing sectors                                                          */

static int find_storage_event(const app_t *a, uint8_t area, uint32_t sector)
{
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        if (mc_storage_event_read(&a->st, i, &ev) == MC_OK && ev.type == MC_EV_STORAGE && ev.arg == area &&
            ev.old_value == sector && ev.new_value == (uint32_t)MC_ERR_IO) {
            return 1;
        }
    }
    return 0;
}

static void test_failing_sector_energy(void **state)
{
    fx_t *f = *state;
    static const nvm_fail_mode modes[3] = {NVM_FAIL_IO, NVM_FAIL_SILENT, NVM_FAIL_STUCK};
    static const char *const names[3] = {"returns MC_ERR_IO", "silently programs nothing", "has a stuck bit"};
    for (unsigned m = 0; m < 3u; m++) {
        nvm_emu_free(&f->emu);
        assert_int_equal(nvm_emu_init(&f->emu, 64, 1024, 4, 0xFF), 0);
        assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
        const mc_storage_area_t ea = f->a.st.area[AREA_ENERGY];
        const uint32_t bad = ea.first_sector + 1u; /* the ring enters it at the 4th save */
        nvm_emu_fail_sector(&f->emu, (int32_t)bad, modes[m]);
        const uint32_t seq0 = energy_seq(f, &f->a);
        feed_wh(&f->a, 60, 5, 1); /* 30 saves */
        const rec_t r = newest_record(&f->emu, &f->a.st, AREA_ENERGY, KIND_ENERGY);
        if (r.seq < seq0 + 30u || r.sector == bad) {
            fail_msg("sector %u %s: saves did not go on elsewhere (newest seq %u in sector %u)", bad, names[m], r.seq,
                     r.sector);
        }
        if (!find_storage_event(&f->a, AREA_ENERGY, bad)) {
            fail_msg("sector %u %s: no MC_EV_STORAGE event (errors 0x%x)", bad, names[m], f->a.model.errors);
        }
        assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
        assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 1u), MC_OK);
        assert_same_energy(&f->b, &f->a);
        /* the new instance meets the sector again and goes round it again */
        feed_wh(&f->b, 150, 5, 1);
        assert_int_equal(mc_storage_power_fail(&f->b.st, f->b.now), MC_OK);
        assert_int_equal(app_boot(&f->c, &f->emu, f->b.now + 1u), MC_OK);
        assert_same_energy(&f->c, &f->b);
        assert_int_equal(f->emu.st.violations, 0);
    }
}

/* Config has two sectors: with one failing, the area cannot take a new copy without giving up the one
 * it has. The failure must be reported, and what was saved stays readable (never garbage). */
static void test_failing_sector_config(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    const mc_storage_area_t ca = f->a.st.area[AREA_CONFIG];
    const uint32_t bad = ca.first_sector + 1u;
    nvm_emu_fail_sector(&f->emu, (int32_t)bad, NVM_FAIL_IO);
    int rc[4];
    for (unsigned i = 0; i < 4u; i++) {
        assert_int_equal(write_u16(&f->a, MC_QTY_ADDRESS, 0, 20u + i), MC_OK);
        rc[i] = mc_storage_poll(&f->a.st, f->a.now);
        f->a.now += 10u;
    }
    print_message("config area with sector %u failing: polls after 4 changes return %s %s %s %s\n", bad,
                  mc_strerror(rc[0]), mc_strerror(rc[1]), mc_strerror(rc[2]), mc_strerror(rc[3]));
    if (!find_storage_event(&f->a, AREA_CONFIG, bad)) {
        fail_msg("failing config sector %u not reported (errors 0x%x)", bad, f->a.model.errors);
    }
    (void)mc_storage_power_fail(&f->a.st, f->a.now);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 1u), MC_OK);
    const unsigned addr = f->b.model.params.address;
    if (addr < 20u || addr > 23u) {
        fail_msg("address after the remount %u: none of the versions saved", addr);
    }
    if (addr != 23u) {
        print_message("  (the last change, address 23, was not saved: %u restored)\n", addr);
    }
    assert_same_energy(&f->b, &f->a);
}

/* ------------------------------------------------------------------------ */
/* Format version                                                           */

static void session(fx_t *f)
{
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 1, 31, 23, 59, 0)), MC_OK);
    feed_n(&f->a, 0, 120, 1); /* and a freeze */
    assert_int_equal(write_u16(&f->a, MC_QTY_ADDRESS, 0, 33), MC_OK);
    assert_int_equal(mc_storage_poll(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
}

static void test_newer_major_refused(void **state)
{
    fx_t *f = *state;
    static const unsigned areas[3] = {AREA_ENERGY, AREA_HISTORY, AREA_CONFIG};
    static const uint8_t kinds[3] = {KIND_ENERGY, KIND_HISTORY, KIND_CONFIG};
    nvm_emu_t snap;
    assert_int_equal(nvm_emu_init(&snap, 64, 1024, 4, 0xFF), 0);
    for (unsigned i = 0; i < 3u; i++) {
        memset(f->emu.mem, 0xFF, 64u * 1024u);
        session(f);
        const rec_t r = newest_record(&f->emu, &f->a.st, areas[i], kinds[i]);
        assert_true(r.found);
        assert_int_equal(r.major, MC_STORAGE_FORMAT_MAJOR);
        nvm_emu_at(&f->emu, r.sector, r.offset)[3] = (uint8_t)(MC_STORAGE_FORMAT_MAJOR + 1u);
        reseal(&f->emu, &r);
        nvm_emu_copy(&snap, &f->emu);
        nvm_emu_reset_stats(&f->emu);
        mc_nvm_t nvm;
        nvm_emu_port(&f->emu, &nvm);
        app_init_nvm(&f->b, &nvm, f->a.now + 5u, NULL);
        const mc_meter_t meter0 = f->b.meter;
        const mc_tariff_t tariff0 = f->b.tariff;
        const mc_model_t model0 = f->b.model;
        assert_int_equal(app_mount(&f->b), MC_ERR_VERSION);
        assert_true(nvm_emu_same(&f->emu, &snap)); /* nothing erased or written */
        assert_int_equal(f->emu.st.progs + f->emu.st.erases, 0);
        assert_memory_equal(&f->b.meter, &meter0, sizeof(meter0));
        assert_memory_equal(&f->b.tariff, &tariff0, sizeof(tariff0));
        assert_memory_equal(&f->b.model, &model0, sizeof(model0));
    }
    nvm_emu_free(&snap);
}

/* A shorter payload of an older layout is read: it fills what it has, the rest takes defaults. (The config
 * record's layout is that of minor 0 in 2.1 too: minor 1 changed the energy record of a meter of several
 * elements, test_elements_old_format_mount.) */
static void test_older_minor_accepted(void **state)
{
    fx_t *f = *state;
    session(f);
    rec_t r = newest_record(&f->emu, &f->a.st, AREA_CONFIG, KIND_CONFIG);
    assert_true(r.found);
    assert_int_equal(r.minor, MINOR_BASE);
    const uint32_t full_len = r.len;
    uint8_t *h = nvm_emu_at(&f->emu, r.sector, r.offset);
    h[4] = MINOR_BASE;
    /* a config record of a layout with only the settings and the parameters */
    const uint32_t len = 8u + (uint32_t)sizeof(mc_params_t);
    h[6] = (uint8_t)len;
    h[7] = (uint8_t)(len >> 8);
    reseal(&f->emu, &r);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 5u), MC_OK);
    assert_int_equal(f->b.model.params.address, 33);
    assert_memory_equal(&f->b.model.params, &f->a.model.params, sizeof(mc_params_t));
    mc_calibration_t unity;
    mc_calibration_default(&unity);
    assert_memory_equal(&f->b.meter.cal, &unity, sizeof(unity));
    mc_tariff_schedule_t sched;
    mc_tariff_schedule_default(&sched);
    assert_memory_equal(&f->b.tariff.schedule, &sched, sizeof(sched));
    assert_same_energy(&f->b, &f->a);
    assert_int_equal(f->b.model.errors, 0);
    /* the next save writes the current format */
    assert_int_equal(write_u16(&f->b, MC_QTY_ADDRESS, 0, 34), MC_OK);
    assert_int_equal(mc_storage_poll(&f->b.st, f->b.now), MC_OK);
    r = newest_record(&f->emu, &f->b.st, AREA_CONFIG, KIND_CONFIG);
    assert_int_equal(r.len, full_len);
    assert_int_equal(r.minor, MINOR_BASE);
    /* nothing was upgraded: the records a single-element meter writes are those of 2.0 */
    assert_int_equal(count_upgrades(&f->b), 0);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

static void events_logged(fx_t *f, int legacy)
{
    app_t *a = &f->a;
    const mc_time_t t0 = T(2024, 1, 31, 23, 58, 0);
    assert_int_equal(legacy ? app_boot_legacy(a, &f->emu, t0) : app_boot(a, &f->emu, t0), MC_OK);
    mc_event_t ev;
    assert_int_equal(find_event(a, MC_EV_POWER_UP, 1, &ev), 0);
    assert_int_equal(ev.time, t0);
    /* a parameter change */
    feed_wh(a, 10, 1, 1);
    assert_int_equal(write_u16(a, MC_QTY_ADDRESS, 0, 5), MC_OK);
    assert_int_equal(find_event(a, MC_EV_PARAM, 1, &ev), 0);
    assert_int_equal(ev.qty, MC_QTY_ADDRESS);
    assert_int_equal(ev.arg, 0);
    assert_int_equal(ev.old_value, 1);
    assert_int_equal(ev.new_value, 5);
    assert_int_equal(ev.source, MC_SRC_BUS);
    assert_int_equal(ev.time, t0 + 10u);
    const uint32_t param_seq = ev.seq;
    assert_int_equal(mc_storage_poll(&a->st, a->now), MC_OK);
    /* a freeze at 1 February 00:00 */
    feed_wh(a, 200, 1, 1);
    assert_true(find_event(a, MC_EV_FREEZE, 4, &ev) >= 0);
    assert_int_equal(ev.new_value, T(2024, 2, 1, 0, 0, 0));
    assert_int_equal(ev.time, T(2024, 2, 1, 0, 0, 0)); /* the window that closed at the point */
    /* energy clear: logged, and the log itself is not cleared */
    const unsigned n_before = mc_storage_event_count(&a->st);
    assert_int_equal(write_u16(a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND), MC_OK);
    assert_int_equal(mc_storage_poll(&a->st, a->now), MC_OK);
    assert_int_equal(find_event(a, MC_EV_ENERGY_CLEAR, 1, &ev), 0);
    assert_int_equal(ev.time, a->now);
    assert_int_equal(ev.source, MC_SRC_BUS);
    assert_int_equal(mc_storage_event_count(&a->st), n_before + 1u);
    unsigned found_param = 0;
    for (unsigned i = 0; i < n_before + 1u; i++) {
        assert_int_equal(mc_storage_event_read(&a->st, i, &ev), MC_OK);
        found_param |= ev.seq == param_seq && ev.type == MC_EV_PARAM;
    }
    assert_true(found_param);
    /* a clock set */
    assert_int_equal(write_clock(a, T(2024, 2, 1, 12, 0, 0)), MC_OK);
    assert_true(find_event(a, MC_EV_CLOCK_SET, 6, &ev) >= 0);
    assert_int_equal(ev.time, T(2024, 2, 1, 12, 0, 0));
    /* power down and up */
    feed_wh(a, 3, 1, 1);
    const mc_time_t t_pf = a->now;
    assert_int_equal(mc_storage_power_fail(&a->st, t_pf), MC_OK);
    assert_int_equal(find_event(a, MC_EV_POWER_DOWN, 1, &ev), 0);
    assert_int_equal(ev.time, t_pf);
    assert_int_equal(app_boot(&f->b, &f->emu, t_pf + 3600u), MC_OK);
    assert_int_equal(find_event(&f->b, MC_EV_POWER_UP, 1, &ev), 0);
    assert_int_equal(ev.time, t_pf + 3600u);
    assert_int_equal(ev.old_value, t_pf);
    check_log_sane(&f->b, "after the remount");
}

static void test_events_logged(void **state)
{
    events_logged(*state, 0);
}

/* The same for an older product without the commit hook: events logged at once, saved at the poll. */
static void test_events_logged_legacy(void **state)
{
    events_logged(*state, 1);
}

/* 300 events: the log keeps at least 100, newest first, dropping the oldest. */
static void test_event_log_wraps(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    for (uint32_t i = 0; i < 300u; i++) {
        const mc_event_t ev = {0, 0, MC_EV_RELAY, MC_SRC_LOCAL, MC_QTY_RELAY, 0, i, i + 1u};
        assert_int_equal(mc_storage_log(&a->st, &ev), MC_OK);
        a->now += 7u;
    }
    /* merged with the audit log: the first start's FORMAT stays, the oldest */
    const unsigned n = mc_storage_event_count(&a->st) - 1u;
    print_message("event log after 301 events: %u readable\n", n);
    assert_true(n >= 100u && n <= 301u);
    mc_event_t ev;
    assert_int_equal(mc_storage_event_read(&a->st, n, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_FORMAT);
    assert_int_equal(ev.seq, 1);
    for (unsigned i = 0; i < n && i < 300u; i++) {
        assert_int_equal(mc_storage_event_read(&a->st, i, &ev), MC_OK);
        assert_int_equal(ev.type, MC_EV_RELAY);
        assert_int_equal(ev.old_value, 299u - i);
        assert_int_equal(ev.time, a->now - 7u * (i + 1u));
    }
    assert_int_equal(mc_storage_event_read(&a->st, n + 1u, &ev), MC_ERR_NODATA);
    /* an energy clear is logged on top; the log stays */
    assert_int_equal(write_u16(a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND), MC_OK);
    assert_int_equal(mc_storage_poll(&a->st, a->now), MC_OK);
    assert_true(mc_storage_event_count(&a->st) >= 100u);
    assert_int_equal(mc_storage_event_read(&a->st, 0, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_ENERGY_CLEAR);
    assert_int_equal(mc_storage_event_read(&a->st, 1, &ev), MC_OK);
    assert_int_equal(ev.old_value, 299);
    check_log_sane(a, "after 300 events and a clear");
}

/* The log keeps at least 100 events across power cycles, too (each cycle logs a few). */
static void test_event_log_power_cycles(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a, *next = &f->b;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    uint32_t logged = 1;
    for (uint32_t i = 0; i < 150u; i++) {
        const mc_event_t ev = {0, 0, MC_EV_RELAY, MC_SRC_LOCAL, MC_QTY_RELAY, 0, i, i + 1u};
        assert_int_equal(mc_storage_log(&a->st, &ev), MC_OK);
        logged++;
    }
    for (unsigned cycle = 0; cycle < 12u; cycle++) {
        const mc_event_t ev = {0, 0, MC_EV_RELAY, MC_SRC_LOCAL, MC_QTY_RELAY, 0, 1000u + cycle, 0};
        assert_int_equal(mc_storage_log(&a->st, &ev), MC_OK);
        assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
        logged += 2u;
        assert_int_equal(app_boot(next, &f->emu, a->now + 600u), MC_OK);
        logged++;
        const unsigned n = mc_storage_event_count(&next->st);
        if (n < 100u) {
            fail_msg("after power cycle %u (%u events logged in all) the log holds %u events", cycle + 1u, logged, n);
        }
        check_log_sane(next, "after a power cycle");
        app_t *t = a;
        a = next;
        next = t;
    }
}

/* MC_EV_CLOCK_SET carries the old and the new time (mc_storage.h). */
static void test_clock_set_event_times(void **state)
{
    fx_t *f = *state;
    const mc_time_t t_old = T(2024, 3, 10, 12, 0, 0), t_new = T(2024, 3, 12, 8, 30, 0);
    assert_int_equal(app_boot(&f->a, &f->emu, t_old), MC_OK);
    assert_int_equal(write_clock(&f->a, t_new), MC_OK);
    const unsigned n = mc_storage_event_count(&f->a.st);
    unsigned sets = 0, with_times = 0;
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        assert_int_equal(mc_storage_event_read(&f->a.st, i, &ev), MC_OK);
        if (ev.type == MC_EV_CLOCK_SET) {
            sets++;
            with_times += ev.old_value == t_old && ev.new_value == t_new;
        }
    }
    if (with_times != 1u) {
        mc_event_t ev;
        (void)mc_storage_event_read(&f->a.st, 0, &ev);
        fail_msg("one clock set from %u to %u: %u CLOCK_SET events, %u with old/new time (newest: arg %u old %u "
                 "new %u)",
                 t_old, t_new, sets, with_times, ev.arg, ev.old_value, ev.new_value);
    }
}

/* A settlement day change is a parameter change: no settlement happened, so no FREEZE event. */
static void test_settle_change_no_freeze_event(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 2, 20, 12, 0, 0)), MC_OK);
    feed_wh(&f->a, 30, 2, 1);
    assert_int_equal(write_u16(&f->a, MC_QTY_SETTLE_DAY, 0, 15), MC_OK);
    assert_int_equal(mc_storage_poll(&f->a.st, f->a.now), MC_OK);
    mc_event_t ev;
    assert_true(find_event(&f->a, MC_EV_PARAM, 4, &ev) >= 0);
    assert_int_equal(ev.qty, MC_QTY_SETTLE_DAY);
    assert_int_equal(ev.old_value, 1);
    assert_int_equal(ev.new_value, 15);
    assert_int_equal(f->a.tariff.history[0].frozen_at, 0);
    const int freeze = find_event(&f->a, MC_EV_FREEZE, 10, &ev);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
    assert_int_equal(f->b.tariff.cfg.settle_day, 15);
    assert_true(mc_tariff_update(&f->b.tariff, f->b.now) >= 0);
    assert_int_equal(f->b.tariff.history[0].frozen_at, 0); /* no back-dated freeze on 15 February */
    if (freeze >= 0) {
        fail_msg("a settlement day change logged MC_EV_FREEZE (old %u new %u) though nothing was frozen",
                 ev.old_value, ev.new_value);
    }
}

/* ------------------------------------------------------------------------ */
/* Energy clear, freezes and warnings                                       */

/* An energy clear clears history and maximum demand as well (mc_tariff_clear_energy()): after a
 * remount they must still be clear. */
static void test_clear_energy_clears_history(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 1, 31, 23, 50, 0)), MC_OK);
    feed_wh(&f->a, 900, 2, 1); /* a freeze at 1 February 00:00 */
    assert_true(f->a.tariff.history[0].frozen_at != 0u);
    assert_int_equal(write_u16(&f->a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND), MC_OK);
    assert_int_equal(mc_storage_poll(&f->a.st, f->a.now), MC_OK);
    mc_tariff_month_t zero[MC_TARIFF_HISTORY_MONTHS];
    memset(zero, 0, sizeof(zero));
    assert_memory_equal(f->a.tariff.history, zero, sizeof(zero));
    feed_wh(&f->a, 5, 1, 1);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
    assert_same_energy(&f->b, &f->a);
    /* the maximum demand since the clear (of the window that straddles it) is this month's: the live
     * tariff brought to the mount's time has the same */
    assert_true(mc_tariff_update(&f->a.tariff, f->b.now) >= 0);
    if (memcmp(f->b.tariff.history, zero, sizeof(zero)) != 0 || f->b.tariff.max_demand_p != f->a.tariff.max_demand_p) {
        fail_msg("after a clear and a remount, history month -1 is back: frozen at %u, %d Wh in rate 1, max demand "
                 "%.1f W",
                 f->b.tariff.history[0].frozen_at, f->b.tariff.history[0].active_wh[0],
                 (double)f->b.tariff.max_demand_p);
    }
}

/* A clock set across a settlement point freezes in RAM; a power-fail warning before the next poll
 * must not lose that month. */
static void test_warning_after_clock_set_freeze(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 2, 10, 12, 0, 0)), MC_OK);
    feed_wh(&f->a, 50, 1, 1);
    assert_int_equal(write_clock(&f->a, T(2024, 3, 1, 0, 10, 0)), MC_OK);
    const mc_tariff_month_t frozen = f->a.tariff.history[0];
    assert_int_equal(frozen.frozen_at, T(2024, 3, 1, 0, 0, 0));
    assert_int_equal(frozen.active_wh[0] + frozen.active_wh[1] + frozen.active_wh[2] + frozen.active_wh[3], 50);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK); /* before any poll */
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
    assert_true(mc_tariff_update(&f->b.tariff, f->b.now) >= 0);
    const mc_tariff_month_t *g = &f->b.tariff.history[0];
    const int got = g->active_wh[0] + g->active_wh[1] + g->active_wh[2] + g->active_wh[3];
    if (g->frozen_at != frozen.frozen_at || got != 50 || f->b.tariff.history[1].frozen_at != 0u) {
        fail_msg("month frozen at %u by the clock set: after the warning and a remount, history[0] frozen at %u "
                 "with %d Wh (expected 50), history[1] frozen at %u",
                 frozen.frozen_at, g->frozen_at, got, f->b.tariff.history[1].frozen_at);
    }
    assert_int_equal(booked_combined(&f->b.tariff, 0), total_combined(&f->b.tariff, 0));
}

/* A cut in the middle of an ordinary save leaves a torn slot: expected after a power cut, not
 * corruption of stored data, so it must not raise an integrity error. */
static void test_torn_save_not_reported(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    feed_wh(&f->a, 29, 1, 1); /* saves at 10 and 20 Wh */
    const uint64_t saved = energy_total(&f->a.meter.energy) - 9u * Q;
    nvm_emu_arm_cut(&f->emu, 3, 1); /* the third op of the next save: its header is programmed by then */
    (void)app_feed(&f->a, &(mc_energy_t){{Q, 0, 0, 0, 0, 0}}, 1);
    assert_true(f->emu.cut_done);
    nvm_emu_repower(&f->emu);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 1u), MC_OK);
    assert_int_equal(energy_total(&f->b.meter.energy), saved);
    if (f->b.model.errors != 0u || has_integrity_event(&f->b, -1)) {
        fail_msg("a save cut by a power loss is reported as an integrity error (errors 0x%x)", f->b.model.errors);
    }
}

/* ------------------------------------------------------------------------ */
/* Config contents, RAM integrity, clock and outages                        */

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Everything of the config record comes back: parameters, calibration, schedule, settlement, seal. */
static void test_config_contents(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_CAL;
    it.arg = 0;
    it.is_float = 1;
    it.f = 1.01f;
    assert_int_equal(mc_model_write(&a->model, &it, 1, MC_SRC_BUS), MC_OK);
    assert_int_equal(write_u16(a, MC_QTY_TOU_PROFILE, 2, 2), MC_OK); /* profile 0, segment 0: rate 2 */
    assert_int_equal(write_u16(a, MC_QTY_SETTLE_DAY, 0, 5), MC_OK);
    assert_int_equal(write_u16(a, MC_QTY_SETTLE_HOUR, 0, 3), MC_OK);
    assert_int_equal(write_u16(a, MC_QTY_PARITY, 0, 2), MC_OK);
    assert_int_equal(write_u16(a, MC_QTY_WORD_ORDER, 0, 1), MC_OK);
    assert_int_equal(write_u16(a, MC_QTY_PULSE_CONSTANT, 0, 800), MC_OK);
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_SERIAL;
    it.u = 0x4142;
    assert_int_equal(mc_model_write(&a->model, &it, 1, MC_SRC_LOCAL), MC_OK);
    assert_int_equal(write_u16(a, MC_QTY_SEAL, 0, 1), MC_OK);
    assert_int_equal(mc_storage_poll(&a->st, a->now), MC_OK);
    mc_event_t ev;
    unsigned cal_events = 0;
    for (unsigned i = 0; i < mc_storage_event_count(&a->st); i++) {
        assert_int_equal(mc_storage_event_read(&a->st, i, &ev), MC_OK);
        if (ev.type == MC_EV_CALIBRATION && ev.qty == MC_QTY_CAL) {
            assert_int_equal(ev.arg, 0);
            assert_int_equal(ev.old_value, float_bits(1.0f));
            assert_int_equal(ev.new_value, float_bits(1.01f));
            cal_events++;
        }
    }
    assert_int_equal(cal_events, 1);
    feed_n(a, 0, 50, 1);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    assert_int_equal(app_boot(&f->b, &f->emu, a->now + 60u), MC_OK);
    assert_memory_equal(&f->b.meter.cal, &a->meter.cal, sizeof(mc_calibration_t));
    assert_true(f->b.meter.cal.u_gain == 1.01f);
    assert_memory_equal(&f->b.tariff.schedule, &a->tariff.schedule, sizeof(mc_tariff_schedule_t));
    assert_int_equal(f->b.tariff.schedule.day_profiles[0].seg[0].rate, 2);
    assert_int_equal(f->b.tariff.cfg.settle_day, 5);
    assert_int_equal(f->b.tariff.cfg.settle_hour, 3);
    assert_int_equal(f->b.tariff.last_settlement, a->tariff.last_settlement);
    assert_memory_equal(&f->b.model.params, &a->model.params, sizeof(mc_params_t));
    assert_int_equal(f->b.model.params.serial[0], 'A');
    assert_int_equal(f->b.model.sealed, 1);
    assert_int_equal(f->b.meter.pulse_quanta, a->meter.pulse_quanta);
    assert_same_energy(&f->b, a);
    assert_int_equal(f->b.model.errors, 0);
}

/* RAM integrity: parameters or calibration changed behind the model's back are caught by the periodic
 * check (integrity_period_s, default 60 s), flagged and logged once. */
static void test_ram_integrity_check(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    const mc_time_t t0 = T(2024, 5, 10, 8, 0, 0);
    assert_int_equal(app_boot(a, &f->emu, t0), MC_OK);
    assert_int_equal(mc_storage_poll(&a->st, t0 + 1u), MC_OK);
    assert_int_equal(a->model.errors, 0);
    a->model.params.address = 77; /* a RAM upset */
    assert_int_equal(mc_storage_poll(&a->st, t0 + 30u), MC_OK);
    assert_int_equal(a->model.errors, 0);
    assert_int_equal(mc_storage_poll(&a->st, t0 + 61u), MC_OK);
    assert_true(a->model.errors & MC_ERROR_PARAMS_CRC);
    assert_true(has_integrity_event(a, 0));
    a->meter.cal.u_gain = 1.5f; /* not sealed */
    assert_int_equal(mc_storage_poll(&a->st, t0 + 122u), MC_OK);
    assert_true(a->model.errors & MC_ERROR_CAL_CRC);
    assert_true(has_integrity_event(a, 1));
    const unsigned n = mc_storage_event_count(&a->st);
    assert_int_equal(mc_storage_poll(&a->st, t0 + 183u), MC_OK);
    assert_int_equal(mc_storage_poll(&a->st, t0 + 244u), MC_OK);
    assert_int_equal(mc_storage_event_count(&a->st), n); /* once */
}

/* Time going backwards without a clock set is logged with the old and the new time. */
static void test_clock_backward_event(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    feed_wh(a, 5, 1, 1);
    const mc_time_t before = a->now;
    a->now -= 101u;
    feed_wh(a, 1, 1, 1); /* closes at before - 100 */
    mc_event_t ev;
    assert_int_equal(find_event(a, MC_EV_CLOCK_BACKWARD, 2, &ev), 0);
    assert_int_equal(ev.time, before - 100u);
    if (ev.old_value != before || ev.new_value != before - 100u) {
        fail_msg("CLOCK_BACKWARD from %u to %u logged with old %u, new %u", before, before - 100u, ev.old_value,
                 ev.new_value);
    }
}

/* Power off on 15 January, on again on 20 April: the three settlement points missed are made up once each,
 * the January energy in the first, and it all survives the next power cycle. */
static void test_outage_made_up_freezes(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 1, 15, 12, 0, 0)), MC_OK);
    feed_wh(&f->a, 100, 1, 1);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(app_boot(&f->b, &f->emu, T(2024, 4, 20, 12, 0, 0)), MC_OK);
    feed_wh(&f->b, 1, 1, 1);
    static const unsigned months[3] = {4, 3, 2};
    static const int wh[3] = {0, 0, 100};
    for (unsigned m = 0; m < 3u; m++) {
        const mc_tariff_month_t *h = &f->b.tariff.history[m];
        assert_int_equal(h->frozen_at, T(2024, months[m], 1, 0, 0, 0));
        assert_int_equal(h->active_wh[0] + h->active_wh[1] + h->active_wh[2] + h->active_wh[3], wh[m]);
    }
    assert_int_equal(f->b.tariff.history[3].frozen_at, 0);
    mc_event_t ev;
    assert_true(find_event(&f->b, MC_EV_FREEZE, 3, &ev) >= 0);
    assert_int_equal(ev.new_value, T(2024, 4, 1, 0, 0, 0));
    assert_int_equal(mc_storage_power_fail(&f->b.st, f->b.now), MC_OK);
    assert_int_equal(app_boot(&f->c, &f->emu, f->b.now + 60u), MC_OK);
    assert_true(mc_tariff_update(&f->c.tariff, f->c.now) >= 0);
    assert_memory_equal(f->c.tariff.history, f->b.tariff.history, sizeof(f->b.tariff.history));
    assert_same_energy(&f->c, &f->b);
    assert_int_equal(booked_combined(&f->c.tariff, 0), total_combined(&f->c.tariff, 0));
}

static void test_api_arguments(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    mc_nvm_t nvm;
    nvm_emu_port(&f->emu, &nvm);
    app_init_nvm(a, &nvm, T(2024, 5, 10, 8, 0, 0), NULL);
    mc_reading_t r;
    memset(&r, 0, sizeof(r));
    mc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    /* not mounted */
    assert_int_equal(mc_storage_window(&a->st, a->now, &r), MC_ERR_INVAL);
    assert_int_equal(mc_storage_poll(&a->st, a->now), MC_ERR_INVAL);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_ERR_INVAL);
    assert_int_equal(mc_storage_log(&a->st, &ev), MC_ERR_INVAL);
    mc_storage_param_changed(&a->st, MC_QTY_ADDRESS, 0, 1, 2, MC_SRC_BUS); /* ignored */
    assert_int_equal(mc_storage_mount(NULL, &a->scfg, &a->meter, &a->tariff, &a->model), MC_ERR_INVAL);
    assert_int_equal(mc_storage_mount(&a->st, NULL, &a->meter, &a->tariff, &a->model), MC_ERR_INVAL);
    assert_int_equal(mc_storage_mount(&a->st, &a->scfg, NULL, &a->tariff, &a->model), MC_ERR_INVAL);
    mc_storage_config_t bad = a->scfg;
    bad.nvm.prog = NULL;
    assert_int_equal(mc_storage_mount(&a->st, &bad, &a->meter, &a->tariff, &a->model), MC_ERR_INVAL);
    assert_int_equal(f->emu.st.ops, 0);
    assert_int_equal(app_mount(a), MC_OK);
    assert_int_equal(mc_storage_window(&a->st, a->now, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_storage_window(NULL, a->now, &r), MC_ERR_INVAL);
    assert_int_equal(mc_storage_log(&a->st, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_storage_event_read(&a->st, 0, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_storage_event_read(NULL, 0, &ev), MC_ERR_INVAL);
    assert_int_equal(mc_storage_event_count(NULL), 0);
    assert_int_equal(mc_storage_event_read(&a->st, 2, &ev), MC_ERR_NODATA); /* FORMAT, POWER_UP */
    mc_storage_param_changed(NULL, MC_QTY_ADDRESS, 0, 1, 2, MC_SRC_BUS);
    /* time out of range: refused, nothing saved */
    const uint64_t ops = f->emu.st.ops;
    r.delta.q[MC_E_ACTIVE_IMPORT] = 100u * Q;
    r.duration_s = 1.0f;
    assert_true(mc_storage_window(&a->st, MC_TIME_MAX + 1u, &r) < 0);
    assert_int_equal(f->emu.st.ops, ops);
    assert_int_equal(tariff_kind(&a->tariff, MC_TK_ACTIVE_IMPORT), 0);
}

/* ------------------------------------------------------------------------ */
/* Geometry                                                                 */

/* The documented range (mc_nvm_t): sector_size 1024..65536, sector_count up to 256 and, with the default
 * event and audit capacity, at least 13 for 1 KiB sectors, 9 for 2 KiB, 8 from 4 KiB (history and config in
 * one area below ten), prog_size 1, 4, 8, 16. Outside it: MC_ERR_INVAL. */
static void test_geometry_documented_range(void **state)
{
    (void)state;
    static const struct {
        uint32_t count, size, prog;
    } g[] = {{13, 1024, 4}, {9, 2048, 4}, {8, 4096, 8}, {8, 4096, 4}, {8, 65536, 16}, {256, 1024, 4},
             {16, 2048, 1}, {11, 2048, 16}};
    static const struct {
        uint32_t count, size, prog;
    } out[] = {{64, 512, 1}, {7, 4096, 4}, {257, 1024, 4}, {64, 1028, 8}, {12, 1024, 4}, {8, 2048, 4}};
    unsigned bad = 0;
    app_t *a = calloc(2, sizeof(app_t));
    assert_non_null(a);
    for (unsigned i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        nvm_emu_t e;
        assert_int_equal(nvm_emu_init(&e, g[i].count, g[i].size, g[i].prog, 0xFF), 0);
        int rc = app_boot(&a[0], &e, T(2024, 5, 10, 8, 0, 0));
        if (rc == MC_OK) {
            feed_n(&a[0], 0, 100, 1);
            rc = mc_storage_power_fail(&a[0].st, a[0].now);
            if (rc == MC_OK) {
                rc = app_boot(&a[1], &e, a[0].now + 1u);
            }
            if (rc == MC_OK) {
                assert_same_energy(&a[1], &a[0]);
            }
        }
        print_message("geometry %u x %u B, prog %u: %s\n", g[i].count, g[i].size, g[i].prog, mc_strerror(rc));
        bad += rc != MC_OK;
        nvm_emu_free(&e);
    }
    for (unsigned i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
        nvm_emu_t e;
        assert_int_equal(nvm_emu_init(&e, out[i].count, out[i].size, out[i].prog, 0xFF), 0);
        const int rc = app_boot(&a[0], &e, T(2024, 5, 10, 8, 0, 0));
        if (rc != MC_ERR_INVAL || e.st.progs + e.st.erases != 0u) {
            fail_msg("geometry %u x %u B, prog %u (outside the range): %s", out[i].count, out[i].size, out[i].prog,
                     mc_strerror(rc));
        }
        nvm_emu_free(&e);
    }
    /* the smallest 1 KiB memory works with the event sectors set by hand (five areas of two) */
    {
        nvm_emu_t e;
        assert_int_equal(nvm_emu_init(&e, 10, 1024, 4, 0xFF), 0);
        mc_storage_config_t cfg;
        mc_storage_config_default(&cfg);
        cfg.event_sectors = 2;
        assert_int_equal(app_boot_cfg(&a[0], &e, T(2024, 5, 10, 8, 0, 0), &cfg), MC_OK);
        feed_n(&a[0], 0, 100, 1);
        assert_int_equal(mc_storage_power_fail(&a[0].st, a[0].now), MC_OK);
        assert_int_equal(app_boot_cfg(&a[1], &e, a[0].now + 1u, &cfg), MC_OK);
        assert_same_energy(&a[1], &a[0]);
        nvm_emu_free(&e);
    }
    free(a);
    if (bad != 0u) {
        fail_msg("%u geometries of the documented range refused with the default configuration (above)", bad);
    }
}

/* ------------------------------------------------------------------------ */
/* Issue 14: only our own state, only valid values                         */

/* The instances of an app as they are before a mount (to check that a refused mount leaves them). */
typedef struct before {
    mc_meter_t meter;
    mc_tariff_t tariff;
    mc_model_t model;
} before_t;

/* Mount `a` (initialised) on `e`; it must be refused with `want`, with the image and the instances
 * untouched and not one NVM operation. */
static void expect_refused(app_t *a, nvm_emu_t *e, int want, const char *what)
{
    static nvm_emu_t snap;
    static before_t b;
    assert_int_equal(nvm_emu_init(&snap, e->sector_count, e->sector_size, e->prog_size, e->erase_value), 0);
    nvm_emu_copy(&snap, e);
    b.meter = a->meter;
    b.tariff = a->tariff;
    b.model = a->model;
    nvm_emu_reset_stats(e);
    const int rc = app_mount(a);
    if (rc != want || !nvm_emu_same(e, &snap) || e->st.progs + e->st.erases != 0u ||
        memcmp(&b.meter, &a->meter, sizeof(b.meter)) != 0 || memcmp(&b.tariff, &a->tariff, sizeof(b.tariff)) != 0 ||
        memcmp(&b.model, &a->model, sizeof(b.model)) != 0) {
        fail_msg("%s: mount %s (expected %s), image %s, %llu writes, instances %s", what, mc_strerror(rc),
                 mc_strerror(want), nvm_emu_same(e, &snap) ? "unchanged" : "CHANGED",
                 (unsigned long long)(e->st.progs + e->st.erases),
                 memcmp(&b.model, &a->model, sizeof(b.model)) == 0 ? "untouched" : "CHANGED");
    }
    nvm_emu_free(&snap);
}

static void init_only(app_t *a, nvm_emu_t *e, mc_time_t now, const mc_storage_config_t *cfg)
{
    mc_nvm_t nvm;
    nvm_emu_port(e, &nvm);
    app_init_nvm(a, &nvm, now, cfg);
    a->emu = e;
}

/* A meter with some life: energy, two parameter versions, a clear, events in both logs. */
static void some_life(app_t *a, nvm_emu_t *e)
{
    assert_int_equal(app_boot(a, e, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    feed_n(a, 0, 300, 1);
    assert_int_equal(write_u16(a, MC_QTY_ADDRESS, 0, 17), MC_OK);
    feed_n(a, 300, 100, 1);
    assert_int_equal(write_u16(a, MC_QTY_ADDRESS, 0, 18), MC_OK);
    assert_int_equal(write_u16(a, MC_QTY_PULSE_CONSTANT, 0, 800), MC_OK);
    feed_n(a, 400, 100, 1);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
}

/* A foreign image, all zeros, or a nearly blank one: refused with MC_ERR_BLANK and left as it is;
 * with cfg.new_meter it becomes a new meter. A blank memory is a first start. */
static void test_foreign_image_refused(void **state)
{
    fx_t *f = *state;
    const mc_time_t t0 = T(2024, 5, 10, 8, 0, 0);
    const size_t size = (size_t)f->emu.sector_count * f->emu.sector_size;
    /* random bytes of exactly the memory's size */
    uint64_t x = 99;
    for (size_t k = 0; k < size; k++) {
        x = nvm_emu_mix(x + k);
        f->emu.mem[k] = (uint8_t)x;
    }
    init_only(&f->a, &f->emu, t0, NULL);
    expect_refused(&f->a, &f->emu, MC_ERR_BLANK, "random image");
    /* all zeros (the erased value is 0xFF) */
    memset(f->emu.mem, 0x00, size);
    init_only(&f->a, &f->emu, t0, NULL);
    expect_refused(&f->a, &f->emu, MC_ERR_BLANK, "all-zero image");
    /* blank but for one byte in the middle */
    memset(f->emu.mem, 0xFF, size);
    f->emu.mem[size / 2u + 7u] = 0x42;
    init_only(&f->a, &f->emu, t0, NULL);
    expect_refused(&f->a, &f->emu, MC_ERR_BLANK, "blank image with one foreign byte");
    /* a text file (a state file overwritten by something else) */
    for (size_t k = 0; k < size; k++) {
        f->emu.mem[k] = (uint8_t)"metercore? no, a shopping list\n"[k % 31u];
    }
    init_only(&f->a, &f->emu, t0, NULL);
    expect_refused(&f->a, &f->emu, MC_ERR_BLANK, "text image");
    /* asked for explicitly: a new meter (the whole memory formatted, a FORMAT event) */
    mc_storage_config_t cfg;
    mc_storage_config_default(&cfg);
    cfg.new_meter = 1;
    assert_int_equal(app_boot_cfg(&f->a, &f->emu, t0, &cfg), MC_OK);
    assert_int_equal(energy_total(&f->a.meter.energy), 0);
    assert_int_equal(mc_storage_event_count(&f->a.st), 2);
    mc_event_t ev;
    assert_int_equal(mc_storage_event_read(&f->a.st, 1, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_FORMAT);
    assert_int_equal(ev.new_value, FORMAT_1P2W);
    check_log_sane(&f->a, "new meter on a foreign image");
    feed_n(&f->a, 0, 50, 1);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 1u), MC_OK); /* ours from now on */
    assert_same_energy(&f->b, &f->a);
    assert_int_equal(f->b.model.errors, 0);
    /* a blank memory: a first start, whatever new_meter says */
    memset(f->emu.mem, 0xFF, size);
    assert_int_equal(app_boot(&f->c, &f->emu, t0), MC_OK);
    assert_int_equal(f->c.model.errors, 0);
    assert_int_equal(find_event(&f->c, MC_EV_FORMAT, 2, NULL), 1);
}

/* Blank energy, history and config areas beside an intact event log (the issue's attack), or any one
 * core area blank: refused, untouched. */
static void test_blank_core_areas_refused(void **state)
{
    fx_t *f = *state;
    static const unsigned sets[4][3] = {{1, 1, 1}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    static const char *const names[4] = {"energy, history and config blank", "energy blank", "history blank",
                                         "config blank"};
    for (unsigned s = 0; s < 4u; s++) {
        memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
        some_life(&f->a, &f->emu);
        for (unsigned area = AREA_ENERGY; area <= AREA_CONFIG; area++) {
            if (sets[s][area]) {
                const mc_storage_area_t *ar = &f->a.st.area[area];
                memset(nvm_emu_at(&f->emu, ar->first_sector, 0), 0xFF, (size_t)ar->sectors * f->emu.sector_size);
            }
        }
        init_only(&f->b, &f->emu, f->a.now + 60u, NULL);
        expect_refused(&f->b, &f->emu, MC_ERR_BLANK, names[s]);
    }
    /* the user asks for a new meter: formatted, the old log gone with the rest */
    mc_storage_config_t cfg;
    mc_storage_config_default(&cfg);
    cfg.new_meter = 1;
    assert_int_equal(app_boot_cfg(&f->c, &f->emu, f->a.now + 60u, &cfg), MC_OK);
    assert_int_equal(mc_storage_event_count(&f->c.st), 2);
    assert_int_equal(f->c.model.params.address, 1);
    /* a new meter as a fresh start makes it: nothing of the old one, the settlement point of now */
    mc_tariff_t fresh;
    mc_tariff_config_t tc;
    mc_tariff_config_default(&tc);
    assert_int_equal(mc_tariff_init(&fresh, &tc, f->a.now + 60u), MC_OK);
    assert_int_equal(f->c.tariff.last_settlement, fresh.last_settlement);
    assert_int_equal(energy_total(&f->c.meter.energy), 0);
    assert_int_equal(f->c.model.errors, 0);
    check_log_sane(&f->c, "new meter");
}

/* Forge the newest record of an area: bytes at a payload offset, then a valid CRC (as a tool would). */
static rec_t forge(fx_t *f, const app_t *a, unsigned area, uint8_t kind, uint32_t off, const void *bytes, size_t n)
{
    const rec_t r = newest_record(&f->emu, &a->st, area, kind);
    assert_true(r.found);
    assert_true(off + n <= r.len);
    memcpy(nvm_emu_at(&f->emu, r.sector, r.offset + HDR + off), bytes, n);
    reseal(&f->emu, &r);
    return r;
}

/* Records with a valid CRC and impossible values (the issue's list): each is treated as corrupt, the
 * newest sane older copy is used and the error is flagged and logged. */
static void test_insane_records_fall_back(void **state)
{
    fx_t *f = *state;
    /* config payload: settings 8 (sealed first) | mc_params_t (password u16 at 0, address u8 at 2, pulse
     * constant u16 at 6) | mc_calibration_t | schedule | 16 | tail */
    const uint16_t pw = 65535, pulse0 = 0;
    const uint8_t addr0 = 0, addr255 = 255, sealed255 = 255, day29 = 29;
    const uint8_t no_profiles = 0;
    const float gain = 7.0f;
    static const struct {
        uint32_t off;
        const char *what;
    } cases[] = {{8u + 0u, "password 65535"},      {8u + 2u, "address 0"},           {8u + 2u, "address 255"},
                 {8u + 6u, "pulse constant 0"},    {0u, "sealed 255"},               {1u, "settlement day 29"},
                 {8u + 24u + 4u, "voltage gain 7 (calibration CRC not matching)"},
                 {8u + 24u + 28u, "a schedule without day profiles"}};
    const void *bytes[] = {&pw, &addr0, &addr255, &pulse0, &sealed255, &day29, &gain, &no_profiles};
    const size_t lens[] = {2, 1, 1, 2, 1, 1, 4, 1};
    for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
        some_life(&f->a, &f->emu);
        const mc_params_t newest = f->a.model.params;
        assert_int_equal(newest.address, 18);
        forge(f, &f->a, AREA_CONFIG, KIND_CONFIG, cases[c].off, bytes[c], lens[c]);
        assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
        const mc_params_t *p = &f->b.model.params;
        if (mc_params_check(p) != MC_OK || p->address != 18u || p->pulse_constant != 1600u || f->b.model.sealed > 1u ||
            !(f->b.model.errors & MC_ERROR_PARAMS_CRC) || !has_integrity_event(&f->b, 0) ||
            mc_calibration_check(&f->b.meter.cal) != MC_OK || mc_tariff_schedule_check(&f->b.tariff.schedule) != MC_OK) {
            fail_msg("config with %s: restored password %u address %u pulse %u sealed %u, errors 0x%x (the copy "
                     "before, address 18 and pulse 1600, flagged, expected)",
                     cases[c].what, p->password, p->address, p->pulse_constant, f->b.model.sealed, f->b.model.errors);
        }
        assert_same_energy(&f->b, &f->a);
    }
    /* history: last settlement 0xFFFFFFFF would stop every settlement: the older copy is used, and the
     * next settlement point still freezes */
    memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
    two_freezes_whole(f); /* 1 February, 1 March */
    const uint32_t never = 0xFFFFFFFFu;
    forge(f, &f->a, AREA_HISTORY, KIND_HISTORY, 4u, &never, 4);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
    if (f->b.tariff.last_settlement > MC_TIME_MAX || !(f->b.model.errors & MC_ERROR_ENERGY_CRC) ||
        !has_integrity_event(&f->b, 2)) {
        fail_msg("history with last settlement 0xFFFFFFFF: restored %u, errors 0x%x", f->b.tariff.last_settlement,
                 f->b.model.errors);
    }
    assert_int_equal(f->b.tariff.history[0].frozen_at, T(2024, 2, 1, 0, 0, 0)); /* the copy before */
    assert_int_equal(write_clock(&f->b, T(2024, 4, 1, 1, 0, 0)), MC_OK); /* the next point is made */
    assert_int_equal(f->b.tariff.history[0].frozen_at, T(2024, 4, 1, 0, 0, 0));
    /* energy: a counter beyond 2^62 quanta (sums could overflow), a NaN in the demand window */
    const uint64_t huge = MC_STORAGE_QUANTA_MAX + 1u;
    const uint32_t nan_bits = 0x7FC00000u;
    const struct {
        uint32_t off;
        const void *b;
        size_t n;
        const char *what;
    } ecases[] = {{16u, &huge, 8, "meter register above MC_STORAGE_QUANTA_MAX"},
                  {16u + 48u + 8u, &huge, 8, "tariff total above MC_STORAGE_QUANTA_MAX"},
                  {16u + 48u + 128u + 120u, &huge, 8, "month counter above MC_STORAGE_QUANTA_MAX"},
                  {16u + 48u + 256u + 4u, &nan_bits, 4, "NaN in the demand window"}};
    for (unsigned c = 0; c < sizeof(ecases) / sizeof(ecases[0]); c++) {
        memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
        some_life(&f->a, &f->emu);
        forge(f, &f->a, AREA_ENERGY, KIND_ENERGY, ecases[c].off, ecases[c].b, ecases[c].n);
        assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
        const uint64_t got = energy_total(&f->b.meter.energy), had = energy_total(&f->a.meter.energy);
        if (got >= had || had - got > 12u * Q || !(f->b.model.errors & MC_ERROR_ENERGY_CRC) ||
            !has_integrity_event(&f->b, 2)) {
            fail_msg("energy record with %s: %.3f Wh restored of %.3f, errors 0x%x", ecases[c].what,
                     (double)got / Q, (double)had / Q, f->b.model.errors);
        }
        for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
            for (unsigned k = 0; k < MC_TK_COUNT; k++) {
                assert_true(f->b.tariff.total[r][k] <= MC_STORAGE_QUANTA_MAX);
                assert_true(f->b.tariff.month[r][k] <= MC_STORAGE_QUANTA_MAX);
            }
        }
    }
    /* with no sane copy at all (security review 2c), the area is still ours: the meter mounts with
     * that area's defaults, the error flag and MC_EV_INTEGRITY (MC_ERR_BLANK is for memory that holds
     * no record of ours); the other areas are restored */
    memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    feed_wh(&f->a, 30, 2, 1);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    forge(f, &f->a, AREA_CONFIG, KIND_CONFIG, 8u + 2u, &addr0, 1);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
    mc_params_t defaults;
    mc_params_default(&defaults);
    assert_int_equal(f->b.model.params.address, defaults.address);
    assert_true((f->b.model.errors & MC_ERROR_PARAMS_CRC) != 0u);
    assert_true(has_integrity_event(&f->b, 0));
    assert_same_energy(&f->b, &f->a);
    /* and it stays mountable (the defaults were saved) */
    assert_int_equal(app_boot(&f->c, &f->emu, f->b.now + 60u), MC_OK);
    assert_same_energy(&f->c, &f->a);
}

/* Counters as large as storage accepts (MC_STORAGE_QUANTA_MAX each) do not overflow anywhere: every energy and
 * month register reads (UBSan aborts on a signed overflow), with each combination rule. */
static void test_huge_counters(void **state)
{
    fx_t *f = *state;
    some_life(&f->a, &f->emu);
    uint64_t big[MC_E_COUNT + 2u * MC_TARIFF_RATES * MC_TK_COUNT];
    for (size_t k = 0; k < sizeof(big) / sizeof(big[0]); k++) {
        big[k] = MC_STORAGE_QUANTA_MAX;
    }
    /* A CT-fed meter counts primary energy: 2^62 quanta (4.3 GWh) is an honest register, kept as it
     * is (the bound was 2^61: such a record was taken for forged and the energy came back as 0). */
    const uint64_t ct_fed = (1ull << 62) + 12345u;
    forge(f, &f->a, AREA_ENERGY, KIND_ENERGY, 16u, &ct_fed, sizeof(ct_fed));
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
    assert_int_equal(f->b.model.errors, 0);
    assert_true(f->b.meter.energy.q[0] == ct_fed);
    memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
    some_life(&f->a, &f->emu);
    forge(f, &f->a, AREA_ENERGY, KIND_ENERGY, 16u, big, sizeof(big));
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
    assert_int_equal(f->b.model.errors, 0);
    assert_true(f->b.meter.energy.q[0] == MC_STORAGE_QUANTA_MAX);
    static const mc_qty qs[] = {MC_QTY_E_ACTIVE,          MC_QTY_E_ACTIVE_IMPORT, MC_QTY_E_ACTIVE_EXPORT,
                                MC_QTY_E_REACTIVE,        MC_QTY_E_REACTIVE_IMPORT, MC_QTY_E_REACTIVE_EXPORT,
                                MC_QTY_MONTH_ACTIVE,      MC_QTY_MONTH_REACTIVE};
    unsigned reads = 0;
    for (int comb = 0; comb <= (int)MC_COMBINE_IMPORT_ONLY; comb++) {
        f->b.tariff.cfg.active_combination = (mc_combination)comb;
        f->b.tariff.cfg.reactive_combination = (mc_combination)comb;
        for (size_t q = 0; q < sizeof(qs) / sizeof(qs[0]); q++) {
            for (unsigned rate = 0; rate <= MC_TARIFF_RATES; rate++) {
                const unsigned arg = qs[q] == MC_QTY_MONTH_ACTIVE || qs[q] == MC_QTY_MONTH_REACTIVE ? rate * 16u : rate;
                mc_value_t v;
                assert_int_equal(mc_model_read(&f->b.model, qs[q], arg, &v), MC_OK);
                reads++;
                if (comb != (int)MC_COMBINE_IMPORT_MINUS_EXPORT && !(v.f > 0.0f)) {
                    fail_msg("quantity %u rate %u (rule %d) reads %g with counters of 2^63 - 1", qs[q], rate, comb,
                             (double)v.f);
                }
            }
        }
        float kwh;
        assert_int_equal(mc_tariff_month_kwh(&f->b.tariff, 0, 0, MC_COMBINED_ACTIVE, &kwh), MC_OK);
        assert_true(kwh == kwh);
    }
    /* the tariff alone, beyond what storage accepts (a firmware could still count that far) */
    mc_tariff_t t = f->b.tariff;
    for (unsigned r = 0; r < MC_TARIFF_RATES; r++) {
        for (unsigned k = 0; k < MC_TK_COUNT; k++) {
            t.total[r][k] = UINT64_MAX - r;
            t.month[r][k] = UINT64_MAX - k;
        }
    }
    for (int comb = 0; comb <= (int)MC_COMBINE_IMPORT_ONLY; comb++) {
        t.cfg.active_combination = (mc_combination)comb;
        float kwh;
        assert_int_equal(mc_tariff_month_kwh(&t, 0, 0, MC_COMBINED_ACTIVE, &kwh), MC_OK);
        const float total = mc_tariff_combined_kwh(&t, 0, MC_COMBINED_ACTIVE);
        assert_true(kwh == kwh && total == total);
        if (comb == (int)MC_COMBINE_IMPORT_PLUS_EXPORT) {
            assert_true(kwh > 8e6f && total > 8e6f); /* saturated at 2^63 quanta = 8.6e6 kWh, positive */
        }
    }
    print_message("counters of 2^63 - 1 quanta (8.6 GWh) in every register: %u register reads under UBSan, none "
                  "overflowed\n",
                  reads);
    feed_n(&f->b, 0, 10, 1);
}

/* ------------------------------------------------------------------------ */
/* Issue 14: an audit trail that cannot be flushed                          */

/* The metersim geometry: 64 sectors of 4 KiB, programmed in words. */
static int setup_metersim(void **state)
{
    return fx_setup(state, 64, 4096, 4, 0xFF);
}

static int find_seq(const app_t *a, uint32_t seq, mc_event_t *out)
{
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n; i++) {
        if (mc_storage_event_read(&a->st, i, out) == MC_OK && out->seq == seq) {
            return (int)i;
        }
    }
    return -1;
}

/* An energy clear, then 400 ordinary parameter writes (the issue's attack: 0.11 s over TCP): the
 * clear stays in the audit log, in the merged view and behind the event registers 1301H..130DH;
 * then the audit log's own capacity. */
static void test_audit_not_flushed(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    feed_n(a, 0, 100, 1);
    assert_int_equal(write_u16(a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND), MC_OK);
    mc_event_t clear;
    assert_int_equal(mc_storage_audit_read(&a->st, 0, &clear), MC_OK);
    assert_int_equal(clear.type, MC_EV_ENERGY_CLEAR);
    for (unsigned i = 0; i < 400u; i++) {
        assert_int_equal(write_u16(a, MC_QTY_ADDRESS, 0, 2u + i % 2u), MC_OK);
    }
    const unsigned n = mc_storage_event_count(&a->st), na = mc_storage_audit_count(&a->st);
    mc_event_t ev;
    const int at = find_seq(a, clear.seq, &ev);
    if (at < 0 || memcmp(&ev, &clear, sizeof(ev)) != 0) {
        fail_msg("400 parameter writes pushed the energy clear (seq %u) out of the log (%u events readable)",
                 clear.seq, n);
    }
    /* the ordinary log wrapped: the oldest parameter writes are gone, the clear is not */
    mc_event_t oldest;
    assert_int_equal(mc_storage_event_read(&a->st, n - 1u, &oldest), MC_OK);
    assert_int_equal(oldest.type, MC_EV_FORMAT);
    assert_true(n < 400u);
    assert_int_equal(na, 2); /* FORMAT, ENERGY_CLEAR */
    assert_int_equal(mc_storage_audit_read(&a->st, 0, &ev), MC_OK);
    assert_int_equal(ev.seq, clear.seq);
    uint32_t c;
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_ENERGY_CLEAR, &c), MC_OK);
    assert_int_equal(c, 1);
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_ALL, &c), MC_OK);
    assert_int_equal(c, 2);
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_COUNTERS, &c), MC_ERR_INVAL);
    /* through the event registers, as a Modbus client reads them (selector 1301H, event 1302H..) */
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_EVENT_SELECT;
    it.u = (uint16_t)at;
    assert_int_equal(mc_model_write(&a->model, &it, 1, MC_SRC_BUS), MC_OK);
    mc_value_t v[12];
    for (unsigned k = 0; k < 12u; k++) {
        assert_int_equal(mc_model_read(&a->model, MC_QTY_EVENT, k, &v[k]), MC_OK);
    }
    assert_int_equal(((uint32_t)v[0].u << 16) | v[1].u, clear.seq);
    assert_int_equal(v[4].u, MC_EV_ENERGY_CLEAR);
    assert_int_equal(mc_model_read(&a->model, MC_QTY_EVENT_COUNT, 0, &v[0]), MC_OK);
    assert_int_equal(v[0].u, n);
    check_log_sane(a, "after 400 writes");
    print_message("after a clear and 400 parameter writes: %u events readable (%u in the audit log), the clear "
                  "at index %d\n",
                  n, na, at);
    /* the audit log's capacity: metrological writes (settlement hour) until it wraps */
    const mc_storage_area_t au = a->st.area[AREA_AUDIT];
    for (unsigned i = 0; i < 900u; i++) {
        assert_int_equal(write_u16(a, MC_QTY_SETTLE_HOUR, 0, 1u + i % 2u), MC_OK);
    }
    const unsigned kept = mc_storage_audit_count(&a->st);
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_TARIFF, &c), MC_OK);
    assert_int_equal(c, 900);
    print_message("audit log on 64 x 4 KiB: %u sectors of %u events; after 902 audit events %u are readable "
                  "(counters never reset: %u tariff changes)\n",
                  au.sectors, au.slots_per_sector, kept, c);
    assert_true(kept >= 500u);
    assert_true(kept >= (unsigned)(au.sectors - 1u) * au.slots_per_sector);
    check_log_sane(a, "after 900 audit events");
}


/* DL/T645's maximum demand clear (19H) and event clear (1BH), reported as MC_QTY_MAX_DEMAND_P and
 * MC_QTY_EVENT_COUNT changes, are audit events: in the audit log (where ordinary events cannot push
 * them out), counted in MC_AUDIT_ALL and in no other counter (not as tariff changes). */
static void test_dlt645_clears_audited(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    feed_n(a, 0, 100, 1);
    const unsigned na0 = mc_storage_audit_count(&a->st);
    uint32_t all0, tariff0, c;
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_ALL, &all0), MC_OK);
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_TARIFF, &tariff0), MC_OK);
    a->model.hooks.on_change(a->model.hooks.ctx, MC_QTY_MAX_DEMAND_P, 0, 0x447A0000u, 0u, MC_SRC_BUS);
    assert_int_equal(a->model.hooks.commit(a->model.hooks.ctx), MC_OK);
    a->model.hooks.on_change(a->model.hooks.ctx, MC_QTY_EVENT_COUNT, 0, 0xFFFFFFFFu, 5u, MC_SRC_BUS);
    assert_int_equal(a->model.hooks.commit(a->model.hooks.ctx), MC_OK);
    assert_int_equal(mc_storage_audit_count(&a->st), na0 + 2u);
    mc_event_t ev;
    assert_int_equal(mc_storage_audit_read(&a->st, 0, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_PARAM);
    assert_int_equal(ev.qty, MC_QTY_EVENT_COUNT);
    assert_int_equal(mc_storage_audit_read(&a->st, 1, &ev), MC_OK);
    assert_int_equal(ev.qty, MC_QTY_MAX_DEMAND_P);
    const uint32_t demand_seq = ev.seq;
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_ALL, &c), MC_OK);
    assert_int_equal(c, all0 + 2u);
    assert_int_equal(mc_storage_audit_counter(&a->st, MC_AUDIT_TARIFF, &c), MC_OK);
    assert_int_equal(c, tariff0);
    /* that ordinary writes cannot push the audit area out is test_audit_not_flushed's; here an
     * ordinary write lands in the other area */
    assert_int_equal(write_u16(a, MC_QTY_ADDRESS, 0, 2u), MC_OK);
    assert_int_equal(mc_storage_audit_count(&a->st), na0 + 2u);
    assert_int_equal(mc_storage_audit_read(&a->st, 1, &ev), MC_OK);
    assert_int_equal(ev.seq, demand_seq);
    check_log_sane(a, "after the DL/T645 clears");
}

/* ------------------------------------------------------------------------ */
/* Issue 14: acknowledged means durable                                     */

/* Every kind of write: once its reply is OK, a cut at the very next NVM operation keeps it, with its
 * event (the issue: kill -9 40 ms after an acknowledged write lost 10 of 10). */
static void test_ack_durable(void **state)
{
    fx_t *f = *state;
    for (unsigned kind = 0; kind < 7u; kind++) {
        memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
        app_t *a = &f->a;
        assert_int_equal(app_boot(a, &f->emu, T(2024, 2, 10, 12, 0, 0)), MC_OK);
        feed_wh(a, 40, 1, 1);
        const uint64_t had = energy_total(&a->meter.energy);
        mc_write_item_t it;
        memset(&it, 0, sizeof(it));
        uint8_t type = MC_EV_PARAM;
        int rc;
        switch (kind) {
        case 0:
            rc = write_u16(a, MC_QTY_ADDRESS, 0, 42);
            break;
        case 1:
            it.qty = MC_QTY_CAL;
            it.arg = 1;
            it.is_float = 1;
            it.f = 0.97f;
            rc = mc_model_write(&a->model, &it, 1, MC_SRC_BUS);
            type = MC_EV_CALIBRATION;
            break;
        case 2:
            rc = write_u16(a, MC_QTY_SEAL, 0, 1);
            type = MC_EV_CALIBRATION;
            break;
        case 3:
            rc = write_u16(a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND);
            type = MC_EV_ENERGY_CLEAR;
            break;
        case 4:
            rc = write_u16(a, MC_QTY_TOU_PROFILE, 2, 3);
            break;
        case 5:
            rc = write_clock(a, T(2024, 3, 1, 0, 30, 0)); /* and a freeze */
            type = MC_EV_CLOCK_SET;
            break;
        default:
            rc = write_u16(a, MC_QTY_PULSE_CONSTANT, 0, 1000);
            break;
        }
        assert_int_equal(rc, MC_OK);
        const mc_event_t *want = NULL;
        mc_event_t newest;
        for (unsigned i = 0; i < mc_storage_event_count(&a->st); i++) {
            assert_int_equal(mc_storage_event_read(&a->st, i, &newest), MC_OK);
            if (newest.type == type) {
                want = &newest;
                break;
            }
        }
        assert_non_null(want);
        /* the next operation is cut (a window that saves energy) */
        nvm_emu_arm_cut(&f->emu, 1, 5);
        (void)app_feed(a, &(mc_energy_t){{20u * Q, 0, 0, 0, 0, 0}}, 1);
        assert_true(f->emu.cut_done);
        nvm_emu_repower(&f->emu);
        app_t *b = &f->b;
        assert_int_equal(app_boot(b, &f->emu, a->now + 1u), MC_OK);
        mc_event_t got;
        const int at = find_seq(b, want->seq, &got);
        int kept;
        switch (kind) {
        case 0:
            kept = b->model.params.address == 42u;
            break;
        case 1:
            kept = b->meter.cal.i_gain == 0.97f;
            break;
        case 2:
            kept = b->model.sealed == 1u;
            break;
        case 3:
            kept = energy_total(&b->meter.energy) == 0u && had != 0u;
            break;
        case 4:
            kept = b->tariff.schedule.day_profiles[0].seg[0].rate == 3u;
            break;
        case 5:
            kept = b->tariff.history[0].frozen_at == T(2024, 3, 1, 0, 0, 0) &&
                   find_event(b, MC_EV_FREEZE, 8, NULL) >= 0;
            break;
        default:
            kept = b->model.params.pulse_constant == 1000u;
            break;
        }
        if (!kept || at < 0 || memcmp(&got, want, sizeof(got)) != 0) {
            fail_msg("write kind %u acknowledged, cut one operation later: kept %d, its event %s", kind, kept,
                     at < 0 ? "gone" : "there");
        }
        check_log_sane(b, "after the cut");
    }
}

/* ------------------------------------------------------------------------ */
/* Issue 14: demand survives                                                */

/* An independent model of the sliding demand: 15-minute window of 1-minute sub-intervals, a window's
 * energy in the sub-interval its close time falls in, the maximum over full windows. */
typedef struct dmodel {
    double e[4096]; /* W*s per sub-interval index since t0 */
    mc_time_t t0;
    double max;
    mc_time_t max_at;
} dmodel_t;

static void dm_add(dmodel_t *m, mc_time_t t, double ws)
{
    const uint32_t k = (t - m->t0) / 60u;
    assert_true(k < 4096u);
    m->e[k] += ws;
}

/* Demand of the window that ended at the end of sub-interval k (needs k >= 14). */
static double dm_demand(const dmodel_t *m, uint32_t k)
{
    double s = 0;
    for (uint32_t j = k - 14u; j <= k; j++) {
        s += m->e[j];
    }
    return s / 900.0;
}

/* Maximum over the windows that ended up to time t (sub-intervals closed by then). */
static void dm_max(dmodel_t *m, mc_time_t t)
{
    m->max = 0;
    m->max_at = 0;
    const uint32_t closed = (t - m->t0) / 60u; /* sub-intervals 0..closed-1 have ended */
    for (uint32_t k = 14; k < closed; k++) {
        const double d = dm_demand(m, k);
        if (d > m->max + 1e-6) {
            m->max = d;
            m->max_at = m->t0 + (k + 1u) * 60u; /* the end of the window */
        }
    }
}

static void demand_feed(app_t *a, dmodel_t *m, uint32_t n, double watts)
{
    for (uint32_t i = 0; i < n; i++) {
        const uint64_t q = (uint64_t)(watts / 3600.0 * (double)Q);
        const int rc = app_feed(a, &(mc_energy_t){{q, 0, 0, 0, 0, 0}}, 1);
        assert_true(rc >= 0);
        dm_add(m, a->now, (double)(float)((double)q / (double)Q * 3600.0)); /* as the reading's P */
    }
}

static void demand_agrees(const app_t *a, dmodel_t *m, const char *ctx)
{
    dm_max(m, a->now);
    const uint32_t k = (a->now - m->t0) / 60u - 1u; /* the last sub-interval closed */
    const double want = dm_demand(m, k);
    float p = 0;
    (void)mc_tariff_demand(&a->tariff, &p, NULL);
    if (fabs(p - want) > 1e-3 * want + 1e-3 || fabs(a->tariff.max_demand_p - m->max) > 1e-3 * m->max + 1e-3 ||
        a->tariff.max_demand_p_at != m->max_at) {
        fail_msg("%s: demand %.3f W (model %.3f), maximum %.3f W at %u (model %.3f at %u)", ctx, (double)p, want,
                 (double)a->tariff.max_demand_p, a->tariff.max_demand_p_at, m->max, m->max_at);
    }
}

/* This month's maximum demand and the running window across a power-fail warning, a cut without one,
 * and a long outage (the issue: 1030H read 2300 W, then 0 after a clean restart). */
static void test_demand_survives(void **state)
{
    fx_t *f = *state;
    static dmodel_t m;
    memset(&m, 0, sizeof(m));
    m.t0 = T(2024, 5, 10, 8, 0, 0);
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, m.t0), MC_OK);
    demand_feed(a, &m, 899, 1000.0); /* sub-intervals 0..14 */
    demand_feed(a, &m, 900, 2300.0); /* 15..29: the one window at 2300 W, the maximum */
    demand_feed(a, &m, 300, 800.0);
    demand_agrees(a, &m, "before any restart");
    assert_true(a->tariff.max_demand_p > 2290.0f);
    /* a warning, 10 s off */
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    app_t *b = &f->b;
    assert_int_equal(app_boot(b, &f->emu, a->now + 10u), MC_OK);
    assert_true(b->tariff.max_demand_p == a->tariff.max_demand_p);
    assert_int_equal(b->tariff.max_demand_p_at, a->tariff.max_demand_p_at);
    mc_value_t v;
    assert_int_equal(mc_model_read(&b->model, MC_QTY_MAX_DEMAND_P, 0, &v), MC_OK);
    assert_true(v.f > 2290.0f);
    demand_feed(b, &m, 600, 1500.0);
    demand_agrees(b, &m, "after a warning and 10 s off");
    /* a cut without warning: the state of the last energy save comes back */
    static nvm_emu_t snap;
    assert_int_equal(nvm_emu_init(&snap, f->emu.sector_count, f->emu.sector_size, f->emu.prog_size, 0xFF), 0);
    uint32_t seq = energy_seq(f, b);
    mc_tariff_t at_save;
    for (;;) {
        demand_feed(b, &m, 1, 3000.0);
        if (energy_seq(f, b) != seq) {
            at_save = b->tariff; /* just saved */
            nvm_emu_copy(&snap, &f->emu);
            break;
        }
    }
    demand_feed(b, &m, 5, 3000.0); /* lost with the cut */
    nvm_emu_copy(&f->emu, &snap);
    app_t *c = &f->c;
    assert_int_equal(app_boot(c, &f->emu, b->now + 3u), MC_OK);
    if (c->tariff.max_demand_p != at_save.max_demand_p || c->tariff.max_demand_p_at != at_save.max_demand_p_at ||
        memcmp(c->tariff.slot_p, at_save.slot_p, sizeof(at_save.slot_p)) != 0 || c->tariff.cur_p != at_save.cur_p) {
        fail_msg("after a cut: maximum %.3f W at %u, window under way %.1f W*s (saved: %.3f W at %u, %.1f W*s)",
                 (double)c->tariff.max_demand_p, c->tariff.max_demand_p_at, (double)c->tariff.cur_p,
                 (double)at_save.max_demand_p, at_save.max_demand_p_at, (double)at_save.cur_p);
    }
    nvm_emu_free(&snap);
    /* a long outage (an hour): the window is stale, only zeros, as the tariff would have it; the maximum stays */
    assert_int_equal(mc_storage_power_fail(&c->st, c->now), MC_OK);
    assert_int_equal(app_boot(a, &f->emu, c->now + 3600u), MC_OK);
    float p = 1;
    (void)mc_tariff_demand(&a->tariff, &p, NULL);
    assert_true(p == 0.0f);
    assert_true(a->tariff.max_demand_p == c->tariff.max_demand_p);
    assert_int_equal(a->tariff.max_demand_p_at, c->tariff.max_demand_p_at);
}

/* ------------------------------------------------------------------------ */
/* Issue 14: a failing medium, passwords, format and code changes           */

static unsigned count_type(const app_t *a, uint8_t type)
{
    unsigned k = 0;
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        k += mc_storage_event_read(&a->st, i, &ev) == MC_OK && ev.type == type;
    }
    return k;
}

/* A failing medium is reported once per area and mount, not once per operation (the issue: 56
 * storage events from one failed mount). */
static void test_failing_medium_reported_once(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    const mc_storage_area_t ea = a->st.area[AREA_ENERGY], ca = a->st.area[AREA_CONFIG];
    nvm_emu_fail_range(&f->emu, ea.first_sector, ea.sectors, NVM_FAIL_IO); /* the whole energy area */
    int failed = 0;
    for (unsigned i = 0; i < 300u; i++) {
        failed |= app_feed(a, &(mc_energy_t){{5u * Q, 0, 0, 0, 0, 0}}, 1) < 0;
    }
    assert_true(failed);
    assert_true(a->model.errors & MC_ERROR_ENERGY_CRC);
    const unsigned n1 = count_type(a, MC_EV_STORAGE);
    /* the next mount: once more (the medium is still failing) */
    (void)mc_storage_power_fail(&a->st, a->now);
    assert_int_equal(app_boot(&f->b, &f->emu, a->now + 1u), MC_OK);
    for (unsigned i = 0; i < 300u; i++) {
        (void)app_feed(&f->b, &(mc_energy_t){{5u * Q, 0, 0, 0, 0, 0}}, 1);
    }
    const unsigned n2 = count_type(&f->b, MC_EV_STORAGE);
    /* config failing too: one more, for that area */
    nvm_emu_fail_range(&f->emu, ca.first_sector, ca.sectors, NVM_FAIL_SILENT);
    for (unsigned i = 0; i < 30u; i++) {
        (void)write_u16(&f->b, MC_QTY_ADDRESS, 0, 2u + i % 2u);
    }
    const unsigned n3 = count_type(&f->b, MC_EV_STORAGE);
    print_message("energy area failing: %u storage events after 300 saves, %u after a remount and 300 more; "
                  "config failing too: %u\n",
                  n1, n2, n3);
    if (n1 != 1u || n2 != 2u || n3 != 3u) {
        fail_msg("a failing medium reported %u, %u, %u times (expected 1, 2, 3: once per area and mount)", n1, n2,
                 n3);
    }
    nvm_emu_fail_sector(&f->emu, -1, NVM_FAIL_NONE);
}

/* A wrong password is logged (counted, never with the tried value) in the ordinary log. */
static void test_auth_event(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    mc_auth_guard_t g;
    mc_auth_guard_init(&g, MC_IFACE_TCP);
    mc_session_t s;
    mc_session_init(&s, &g);
    assert_int_equal(mc_session_login(&a->model, &s, 1234), MC_ERR_AUTH);
    assert_int_equal(mc_session_login(&a->model, &s, 4321), MC_ERR_AUTH);
    mc_event_t ev;
    assert_int_equal(mc_storage_event_read(&a->st, 0, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_AUTH);
    assert_int_equal(ev.qty, MC_AUTH_WRONG);
    assert_int_equal(ev.arg, MC_IFACE_TCP);
    assert_int_equal(ev.old_value, 2);
    assert_int_equal(ev.new_value, 0);
    assert_int_equal(ev.source, MC_SRC_BUS);
    const unsigned n = mc_storage_event_count(&a->st);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(mc_storage_event_read(&a->st, i, &ev), MC_OK);
        assert_true(ev.old_value != 1234u && ev.new_value != 1234u && ev.old_value != 4321u && ev.new_value != 4321u);
    }
    mc_storage_auth_event(&a->st, MC_AUTH_LOCKOUT, MC_IFACE_PANEL, 10, 60);
    assert_int_equal(mc_storage_event_read(&a->st, 0, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_AUTH);
    assert_int_equal(ev.source, MC_SRC_PANEL);
    assert_int_equal(ev.new_value, 60);
    assert_int_equal(mc_storage_audit_count(&a->st), 1); /* not metrological: only the FORMAT there */
    mc_storage_auth_event(NULL, MC_AUTH_WRONG, MC_IFACE_TCP, 1, 0);
}

static uint32_t g_checksum;

static uint32_t app_checksum(void *ctx)
{
    (void)ctx;
    return g_checksum;
}

static int boot_with_checksum(app_t *a, nvm_emu_t *e, mc_time_t now, uint32_t checksum)
{
    init_only(a, e, now, NULL);
    g_checksum = checksum;
    a->model.hooks.code_checksum = checksum != 0u ? app_checksum : NULL;
    return app_mount(a);
}

/* MC_EV_FORMAT: a new memory (storage format), and the code checksum each time it changes. */
static void test_format_events(void **state)
{
    fx_t *f = *state;
    const mc_time_t t0 = T(2024, 5, 10, 8, 0, 0);
    assert_int_equal(boot_with_checksum(&f->a, &f->emu, t0, 0xC0DE0001u), MC_OK);
    mc_event_t ev;
    assert_int_equal(mc_storage_audit_count(&f->a.st), 2);
    assert_int_equal(mc_storage_audit_read(&f->a.st, 1, &ev), MC_OK);
    assert_true(ev.type == MC_EV_FORMAT && ev.arg == 0 && ev.old_value == 0u &&
                ev.new_value == FORMAT_1P2W);
    assert_int_equal(mc_storage_audit_read(&f->a.st, 0, &ev), MC_OK);
    assert_true(ev.type == MC_EV_FORMAT && ev.arg == 1 && ev.old_value == 0u && ev.new_value == 0xC0DE0001u);
    assert_int_equal(mc_storage_power_fail(&f->a.st, t0 + 10u), MC_OK);
    /* the same code: nothing */
    assert_int_equal(boot_with_checksum(&f->b, &f->emu, t0 + 20u, 0xC0DE0001u), MC_OK);
    assert_int_equal(mc_storage_audit_count(&f->b.st), 2);
    /* new firmware */
    assert_int_equal(boot_with_checksum(&f->c, &f->emu, t0 + 30u, 0xC0DE0002u), MC_OK);
    assert_int_equal(mc_storage_audit_count(&f->c.st), 3);
    assert_int_equal(mc_storage_audit_read(&f->c.st, 0, &ev), MC_OK);
    assert_true(ev.type == MC_EV_FORMAT && ev.arg == 1 && ev.old_value == 0xC0DE0001u && ev.new_value == 0xC0DE0002u);
    uint32_t c;
    assert_int_equal(mc_storage_audit_counter(&f->c.st, MC_AUDIT_FORMAT, &c), MC_OK);
    assert_int_equal(c, 3);
    /* it survives: a remount with the new code logs nothing more */
    assert_int_equal(boot_with_checksum(&f->a, &f->emu, t0 + 40u, 0xC0DE0002u), MC_OK);
    assert_int_equal(mc_storage_audit_count(&f->a.st), 3);
    assert_int_equal(mc_storage_audit_counter(&f->a.st, MC_AUDIT_FORMAT, &c), MC_OK);
    assert_int_equal(c, 3);
    check_log_sane(&f->a, "format events");
}

/* A memory of the previous major format (1) is refused untouched, new meter or not. */
static void test_major1_refused(void **state)
{
    fx_t *f = *state;
    some_life(&f->a, &f->emu);
    /* every record of every area made major 1 (CRC kept valid) */
    for (unsigned area = AREA_ENERGY; area <= AREA_CONFIG; area++) {
        const mc_storage_area_t *ar = &f->a.st.area[area];
        for (uint32_t slot = 0; slot < (uint32_t)ar->sectors * ar->slots_per_sector; slot++) {
            rec_t r;
            memset(&r, 0, sizeof(r));
            if (record_at(&f->emu, ar->first_sector + slot / ar->slots_per_sector,
                          (slot % ar->slots_per_sector) * ar->slot_size, ar->slot_size, (uint8_t)(area + 1u), &r)) {
                nvm_emu_at(&f->emu, r.sector, r.offset)[3] = 1;
                reseal(&f->emu, &r);
            }
        }
    }
    init_only(&f->b, &f->emu, f->a.now + 5u, NULL);
    expect_refused(&f->b, &f->emu, MC_ERR_VERSION, "format 1 memory");
    mc_storage_config_t cfg;
    mc_storage_config_default(&cfg);
    cfg.new_meter = 1;
    init_only(&f->b, &f->emu, f->a.now + 5u, &cfg);
    expect_refused(&f->b, &f->emu, MC_ERR_VERSION, "format 1 memory, new meter asked for");
    /* a single format-1 energy record at the start of an otherwise blank memory (the old layout) */
    const rec_t r = newest_record(&f->emu, &f->a.st, AREA_ENERGY, KIND_ENERGY);
    uint8_t rec[512];
    assert_true(r.len + HDR <= sizeof(rec));
    memcpy(rec, nvm_emu_at(&f->emu, r.sector, r.offset), HDR + r.len);
    memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
    memcpy(nvm_emu_at(&f->emu, 0, 0), rec, HDR + r.len);
    init_only(&f->b, &f->emu, f->a.now + 5u, NULL);
    expect_refused(&f->b, &f->emu, MC_ERR_VERSION, "one format 1 record");
}

/* The power-cut sweep on the smallest 4 KiB memory (8 sectors: history and config in one record). */
static void test_power_cut_sweep_small(void **state)
{
    (void)state;
    power_cut_sweep(8, 4096, 4, 150, 20);
}

/* What each kind of acknowledged write costs on the metersim geometry (the lifetime arithmetic of
 * docs/DESIGN.md is made of these): bytes programmed and operations per write, measured. */
static void test_commit_cost(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 2, 10, 12, 0, 0)), MC_OK);
    feed_wh(a, 30, 1, 1);
    static const char *const names[] = {"parameter (address)", "calibration field", "schedule", "settlement hour",
                                        "energy clear", "clock set", "clock set with a freeze"};
    for (unsigned kind = 0; kind < 7u; kind++) {
        const nvm_emu_stats_t s0 = f->emu.st;
        int rc;
        mc_write_item_t it;
        memset(&it, 0, sizeof(it));
        switch (kind) {
        case 0:
            rc = write_u16(a, MC_QTY_ADDRESS, 0, 9);
            break;
        case 1:
            it.qty = MC_QTY_CAL;
            it.is_float = 1;
            it.f = 1.002f;
            rc = mc_model_write(&a->model, &it, 1, MC_SRC_BUS);
            break;
        case 2:
            rc = write_u16(a, MC_QTY_TOU_PROFILE, 2, 4);
            break;
        case 3:
            rc = write_u16(a, MC_QTY_SETTLE_HOUR, 0, 5);
            break;
        case 4:
            rc = write_u16(a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND);
            break;
        case 5:
            rc = write_clock(a, a->now + 3600u);
            break;
        default:
            rc = write_clock(a, T(2024, 3, 1, 6, 0, 0)); /* past 1 March 05:00 */
            break;
        }
        assert_int_equal(rc, MC_OK);
        print_message("acknowledged %-24s %5llu bytes programmed, %llu progs, %llu erases\n", names[kind],
                      (unsigned long long)(f->emu.st.bytes_programmed - s0.bytes_programmed),
                      (unsigned long long)(f->emu.st.progs - s0.progs),
                      (unsigned long long)(f->emu.st.erases - s0.erases));
    }
    for (unsigned i = 0; i < AREA_COUNT_TEST; i++) {
        const mc_storage_area_t *ar = &a->st.area[i];
        print_message("area %u: %2u sectors, slot %4u B, %3u slots per sector\n", i, ar->sectors, ar->slot_size,
                      ar->slots_per_sector);
    }
}

/* Found by fuzz_storage (tests/fuzz/open/storage/event_seq_uint32_max): an event whose sequence number
 * was forged to 0xFFFFFFFF (valid CRC) would wrap the counter, and every later event would sort as the
 * oldest. It is damage: read as such, and numbering goes on from the real newest. */
static void test_event_seq_forged_max(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    assert_int_equal(write_u16(&f->a, MC_QTY_ADDRESS, 0, 5), MC_OK);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    mc_event_t ev;
    assert_int_equal(mc_storage_event_read(&f->a.st, 0, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_POWER_DOWN); /* the newest event, which no journal repeats */
    const uint32_t real = ev.seq;
    uint32_t sector, off;
    assert_int_equal(event_slot(&f->emu, &f->a.st, real, &sector, &off), 0);
    uint8_t *p = nvm_emu_at(&f->emu, sector, off);
    wr32(p, 0xFFFFFFFFu);
    wr32(p + 20, mc_crc32(0, p, 20));
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 10u), MC_OK);
    assert_int_equal(mc_storage_event_read(&f->b.st, 0, &ev), MC_OK);
    assert_int_equal(ev.type, MC_EV_POWER_UP);
    assert_int_equal(ev.seq, real); /* the forged one does not count: the next number is the real one's */
    assert_int_equal(mc_storage_event_read(&f->b.st, 1, &ev), MC_ERR_CORRUPT);
    assert_int_equal(write_u16(&f->b, MC_QTY_ADDRESS, 0, 6), MC_OK);
    assert_int_equal(mc_storage_event_read(&f->b.st, 0, &ev), MC_OK);
    assert_int_equal(ev.seq, real + 1u);
    assert_int_equal(ev.new_value, 6);
}

/* Found by fuzz_storage (tests/fuzz/open/storage/prog_over_programmed_slot): a damaged byte in a later
 * slot of the sector a ring continues in. Nothing may be programmed over it (a byte is programmed once
 * between erases; ECC flash refuses it): the ring goes on at the next sector. */
static void test_ring_skips_damaged_slots(void **state)
{
    fx_t *f = *state;
    assert_int_equal(app_boot(&f->a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    feed_wh(&f->a, 3, 1, 1);
    assert_int_equal(mc_storage_power_fail(&f->a.st, f->a.now), MC_OK);
    /* a byte programmed in the last slot of the energy ring's current sector, and in an event slot */
    const rec_t r = newest_record(&f->emu, &f->a.st, AREA_ENERGY, KIND_ENERGY);
    const mc_storage_area_t ea = f->a.st.area[AREA_ENERGY], ev_area = f->a.st.area[AREA_EVENTS];
    assert_true(r.offset / ea.slot_size + 1u < ea.slots_per_sector);
    *nvm_emu_at(&f->emu, r.sector, (ea.slots_per_sector - 1u) * ea.slot_size + 9u) = 0x00;
    *nvm_emu_at(&f->emu, ev_area.first_sector, (ev_area.slots_per_sector - 1u) * ev_area.slot_size + 3u) = 0x12;
    nvm_emu_reset_stats(&f->emu);
    assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 10u), MC_OK);
    feed_wh(&f->b, 200, 1, 1); /* 20 saves */
    for (unsigned i = 0; i < 50u; i++) {
        const mc_event_t e = {0, 0, MC_EV_RELAY, MC_SRC_LOCAL, MC_QTY_RELAY, 0, i, i + 1u};
        assert_int_equal(mc_storage_log(&f->b.st, &e), MC_OK);
    }
    assert_flash_rules(&f->emu);
    assert_int_equal(count_type(&f->b, MC_EV_STORAGE), 0);
    assert_int_equal(f->b.model.errors, 0);
}

/* ------------------------------------------------------------------------ */
/* POSIX file-backed NVM                                                    */

#ifdef MC_HAVE_POSIX_NVM
static void test_posix_nvm(void **state)
{
    (void)state;
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/mc_posix_nvm_XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    app_t *a = calloc(2, sizeof(app_t));
    assert_non_null(a);
    mc_posix_nvm_t file;
    mc_nvm_t nvm;
    assert_int_equal(mc_posix_nvm_open(&file, path, 16, 1024, 4, 0xFF, &nvm), MC_OK);
    /* a new file is 16 KiB of 0xFF */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    assert_int_equal(ftell(fp), 16 * 1024);
    fclose(fp);
    uint8_t buf[8];
    assert_int_equal(nvm.read(nvm.context, 15, 1016, buf, 8), MC_OK);
    for (int k = 0; k < 8; k++) {
        assert_int_equal(buf[k], 0xFF);
    }
    /* flash semantics: prog ANDs; alignment and range are enforced; erase restores */
    const uint8_t p1[4] = {0xF0, 0x0F, 0xFF, 0x00}, p2[4] = {0x3C, 0x3C, 0x0F, 0xFF};
    assert_int_equal(nvm.prog(nvm.context, 15, 8, p1, 4), MC_OK);
    assert_int_equal(nvm.prog(nvm.context, 15, 8, p2, 4), MC_OK);
    assert_int_equal(nvm.read(nvm.context, 15, 8, buf, 4), MC_OK);
    const uint8_t anded[4] = {0x30, 0x0C, 0x0F, 0x00};
    assert_memory_equal(buf, anded, 4);
    assert_int_equal(nvm.prog(nvm.context, 15, 2, p1, 4), MC_ERR_INVAL);
    assert_int_equal(nvm.prog(nvm.context, 15, 8, p1, 3), MC_ERR_INVAL);
    assert_int_equal(nvm.prog(nvm.context, 16, 0, p1, 4), MC_ERR_INVAL);
    assert_int_equal(nvm.erase(nvm.context, 15), MC_OK);
    assert_int_equal(nvm.read(nvm.context, 15, 8, buf, 4), MC_OK);
    assert_int_equal(buf[0], 0xFF);
    /* storage on the file: save, close, reopen, mount */
    assert_int_equal(app_boot_nvm(&a[0], &nvm, T(2024, 5, 10, 8, 0, 0), NULL), MC_OK);
    feed_n(&a[0], 0, 300, 1);
    assert_int_equal(write_u16(&a[0], MC_QTY_ADDRESS, 0, 99), MC_OK);
    assert_int_equal(mc_storage_poll(&a[0].st, a[0].now), MC_OK);
    assert_int_equal(mc_storage_power_fail(&a[0].st, a[0].now), MC_OK);
    assert_int_equal(mc_posix_nvm_close(&file), MC_OK);
    assert_int_equal(mc_posix_nvm_open(&file, path, 16, 1024, 4, 0xFF, &nvm), MC_OK);
    assert_int_equal(app_boot_nvm(&a[1], &nvm, a[0].now + 60u, NULL), MC_OK);
    assert_same_energy(&a[1], &a[0]);
    assert_int_equal(a[1].model.params.address, 99);
    assert_int_equal(a[1].model.errors, 0);
    assert_int_equal(mc_posix_nvm_close(&file), MC_OK);
    /* a file of another geometry is refused, not truncated */
    assert_int_equal(mc_posix_nvm_open(&file, path, 32, 1024, 4, 0xFF, &nvm), MC_ERR_INVAL);
    assert_int_equal(mc_posix_nvm_open(&file, path, 16, 100, 4, 0xFF, &nvm), MC_ERR_INVAL);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    assert_int_equal(ftell(fp), 16 * 1024);
    fclose(fp);
    assert_int_equal(mc_posix_nvm_close(&file), MC_ERR_INVAL);
    unlink(path);
    free(a);
}
#endif

/* Security review 1: reading the event log must not stall metering. The count is kept (no read), an
 * index past the end is refused at once (no read: anyone may write the selector 1301H), and the 12
 * event registers of one selected event cost one walk, not 12. The count stays right across wraps of
 * the ordinary log (checked against what a fresh mount counts on a copy of the image). */
static void test_event_reads_cheap(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    nvm_emu_t scratch;
    assert_int_equal(nvm_emu_init(&scratch, f->emu.sector_count, f->emu.sector_size, f->emu.prog_size,
                                  f->emu.erase_value), 0);
    for (unsigned i = 0; i < 400u; i++) {
        mc_storage_auth_event(&a->st, MC_AUTH_WRONG, MC_IFACE_TCP, i + 1u, 0);
        if (i % 23u == 0u || i == 399u) {
            const unsigned n = mc_storage_event_count(&a->st);
            mc_event_t ev;
            assert_int_equal(mc_storage_event_read(&a->st, n - 1u, &ev), MC_OK);
            assert_int_equal(mc_storage_event_read(&a->st, n, &ev), MC_ERR_NODATA);
            nvm_emu_copy(&scratch, &f->emu);
            app_t *b = &f->b;
            assert_int_equal(app_boot(b, &scratch, a->now), MC_OK);
            const unsigned n2 = mc_storage_event_count(&b->st); /* counted by walking, plus its power-up */
            mc_event_t eb;
            assert_int_equal(mc_storage_event_read(&b->st, n2 - 1u, &eb), MC_OK);
            if (n2 == n + 1u) {
                assert_int_equal(eb.seq, ev.seq); /* the same oldest event */
            } else {
                assert_true(n2 <= n); /* its power-up wrapped the log: a sector fewer */
            }
            assert_int_equal(mc_storage_audit_count(&b->st), mc_storage_audit_count(&a->st));
        }
    }
    nvm_emu_free(&scratch);
    const unsigned n = mc_storage_event_count(&a->st);
    assert_true(n >= 100u);
    mc_event_t ev, ev2;
    uint64_t r0 = f->emu.st.reads;
    assert_int_equal(mc_storage_event_count(&a->st), n);
    assert_int_equal(mc_storage_audit_count(&a->st), 1u);
    assert_int_equal(f->emu.st.reads - r0, 0u);
    r0 = f->emu.st.reads;
    assert_int_equal(mc_storage_event_read(&a->st, n, &ev), MC_ERR_NODATA);
    assert_int_equal(mc_storage_event_read(&a->st, 0xFFFFu, &ev), MC_ERR_NODATA);
    assert_int_equal(mc_storage_audit_read(&a->st, 1, &ev), MC_ERR_NODATA);
    assert_int_equal(f->emu.st.reads - r0, 0u);
    /* The 12 event registers of event 5: one walk (about 5 + 2 slots of one read each), then one read
     * each (was 12 walks). */
    r0 = f->emu.st.reads;
    assert_int_equal(mc_storage_event_read(&a->st, 5, &ev), MC_OK);
    const uint64_t one = f->emu.st.reads - r0;
    assert_true(one >= 1u && one <= 10u);
    for (unsigned k = 1; k < 12u; k++) {
        assert_int_equal(mc_storage_event_read(&a->st, 5, &ev2), MC_OK);
        assert_memory_equal(&ev, &ev2, sizeof(ev));
    }
    assert_int_equal(f->emu.st.reads - r0, one + 11u); /* each later one reads its slot again (damage shows) */
    /* Through the model's registers: selector 5, then the 12 registers of the event. */
    assert_int_equal(write_u16(a, MC_QTY_EVENT_SELECT, 0, 5), MC_OK);
    /* A new event moves every index: the cache does not answer for the old one. */
    mc_storage_auth_event(&a->st, MC_AUTH_WRONG, MC_IFACE_TCP, 999, 0);
    assert_int_equal(mc_storage_event_read(&a->st, 5, &ev2), MC_OK);
    assert_int_equal(ev2.seq, ev.seq + 1u);
    assert_int_equal(mc_storage_event_read(&a->st, 0, &ev2), MC_OK);
    assert_int_equal(ev2.old_value, 999u);
}

/* Security review 2: a clock set near the end of the range. Energy records saved in the last demand
 * subinterval before MC_TIME_MAX carry the demand window's end MC_TIME_MAX + 1; the mount must take
 * them (it refused them, gave up after 8 older copies, and refused the memory with MC_ERR_BLANK). */
static void test_clock_near_end_of_range(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2099, 12, 1, 0, 0, 0)), MC_OK);
    feed_wh(a, 20, 5, 60);
    assert_int_equal(write_clock(a, T(2099, 12, 31, 23, 59, 0)), MC_OK);
    while (a->now < MC_TIME_MAX) {
        feed_wh(a, 1, 20, 1); /* every window saves (20 Wh > 10 Wh) */
    }
    assert_int_equal(a->now, MC_TIME_MAX);
    app_t *b = &f->b;
    assert_int_equal(app_boot(b, &f->emu, MC_TIME_MAX), MC_OK); /* a plain cut: no warning */
    assert_same_energy(b, a);
    assert_int_equal(b->model.errors & (MC_ERROR_ENERGY_CRC | MC_ERROR_PARAMS_CRC), 0);
    assert_int_equal(mc_storage_power_fail(&b->st, MC_TIME_MAX), MC_OK);
    app_t *c = &f->c;
    assert_int_equal(app_boot(c, &f->emu, MC_TIME_MAX), MC_OK);
    assert_same_energy(c, a);
    assert_int_equal(c->model.errors & (MC_ERROR_ENERGY_CRC | MC_ERROR_PARAMS_CRC), 0);
}

/* Security review 2b: the mount tries every older copy for the newest sane one, not only 8. The 12
 * newest energy records are forged (a counter above MC_STORAGE_QUANTA_MAX, valid CRC): the 13th
 * newest is restored, flagged. */
static void test_insane_many_copies(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    assert_int_equal(app_boot(a, &f->emu, T(2024, 5, 10, 8, 0, 0)), MC_OK);
    uint64_t sums[64];
    unsigned saves = 0;
    for (unsigned i = 0; i < 40u; i++) {
        feed_wh(a, 1, 20, 60); /* one energy record each */
        sums[saves++ % 64u] = energy_total(&a->meter.energy);
    }
    const rec_t top = newest_record(&f->emu, &a->st, AREA_ENERGY, KIND_ENERGY);
    assert_true(top.found);
    const mc_storage_area_t *ar = &a->st.area[AREA_ENERGY];
    const uint64_t huge = MC_STORAGE_QUANTA_MAX + 1u;
    unsigned forged = 0;
    for (uint32_t slot = 0; slot < (uint32_t)ar->sectors * ar->slots_per_sector; slot++) {
        rec_t r;
        memset(&r, 0, sizeof(r));
        if (record_at(&f->emu, ar->first_sector + slot / ar->slots_per_sector, (slot % ar->slots_per_sector) * ar->slot_size,
                      ar->slot_size, KIND_ENERGY, &r) &&
            r.seq + 12u > top.seq) {
            memcpy(nvm_emu_at(&f->emu, r.sector, r.offset + HDR + 16u), &huge, 8);
            reseal(&f->emu, &r);
            forged++;
        }
    }
    assert_int_equal(forged, 12);
    assert_int_equal(app_boot(&f->b, &f->emu, a->now + 60u), MC_OK);
    assert_int_equal(energy_total(&f->b.meter.energy), sums[(saves - 13u) % 64u]);
    assert_true((f->b.model.errors & MC_ERROR_ENERGY_CRC) != 0u);
    assert_true(has_integrity_event(&f->b, 2));
}

/* Security review 3: the relay state is durable. Opened through a bus write (commit hook), the power
 * cut right after the acknowledgement: the remount has the relay open and its event; it stays so across
 * many ordinary events (which push the relay event out of the log) and power cycles, and a local close
 * is restored as well. A first start keeps (and saves) the model's state. */
static void test_relay_durable(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    init_only(a, &f->emu, T(2024, 5, 10, 8, 0, 0), NULL);
    a->model.cfg.features |= MC_FEAT_RELAY;
    a->model.relay_closed = 1;
    assert_int_equal(app_mount(a), MC_OK); /* first start: closed, as the model was */
    app_t *b = &f->b;
    init_only(b, &f->emu, a->now + 1u, NULL);
    b->model.cfg.features |= MC_FEAT_RELAY;
    b->model.relay_closed = 0;
    assert_int_equal(app_mount(b), MC_OK);
    assert_int_equal(b->model.relay_closed, 1);
    /* open it from the bus: acknowledged = durable */
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_RELAY;
    it.u = 0;
    assert_int_equal(mc_model_write(&b->model, &it, 1, MC_SRC_BUS), MC_OK);
    assert_int_equal(b->model.relay_closed, 0);
    /* cut: no warning, no poll */
    app_t *c = &f->c;
    init_only(c, &f->emu, b->now + 1u, NULL);
    c->model.cfg.features |= MC_FEAT_RELAY;
    c->model.relay_closed = 1;
    assert_int_equal(app_mount(c), MC_OK);
    assert_int_equal(c->model.relay_closed, 0);
    const unsigned n = mc_storage_event_count(&c->st);
    int seen = 0;
    for (unsigned i = 0; i < n; i++) {
        mc_event_t ev;
        if (mc_storage_event_read(&c->st, i, &ev) == MC_OK && ev.type == MC_EV_RELAY) {
            assert_int_equal(ev.old_value, 1);
            assert_int_equal(ev.new_value, 0);
            assert_int_equal(ev.source, MC_SRC_BUS);
            seen++;
        }
    }
    assert_int_equal(seen, 1);
    /* many ordinary events: the relay event leaves the log, the state stays */
    for (unsigned i = 0; i < 400u; i++) {
        mc_storage_auth_event(&c->st, MC_AUTH_WRONG, MC_IFACE_TCP, 1, 0);
    }
    feed_wh(c, 30, 5, 60);
    for (unsigned cycle = 0; cycle < 3u; cycle++) {
        app_t *d = cycle % 2u == 0u ? a : b;
        init_only(d, &f->emu, c->now + 10u * (cycle + 1u), NULL);
        d->model.cfg.features |= MC_FEAT_RELAY;
        d->model.relay_closed = 1;
        assert_int_equal(app_mount(d), MC_OK);
        assert_int_equal(d->model.relay_closed, 0);
    }
    /* closed locally (mc_model_set_relay, commit inside): restored closed */
    assert_int_equal(mc_model_set_relay(&a->model, 1, MC_SRC_LOCAL), MC_OK);
    init_only(b, &f->emu, a->now + 100u, NULL);
    b->model.cfg.features |= MC_FEAT_RELAY;
    assert_int_equal(app_mount(b), MC_OK);
    assert_int_equal(b->model.relay_closed, 1);
}

/* Security review 4: brute-force state survives restarts. mc_storage_auth_restore() gives an
 * interface's wrong-password count from its newest MC_EV_AUTH event (WRONG or LOCKOUT), less one per
 * whole day since; the guard takes it back (mc_auth_guard_restore()), so a power cycle gives no fresh
 * tries. */
static void test_auth_restore(void **state)
{
    fx_t *f = *state;
    app_t *a = &f->a;
    const mc_time_t t0 = T(2024, 5, 10, 8, 0, 0);
    assert_int_equal(app_boot(a, &f->emu, t0), MC_OK);
    uint32_t w = 77;
    assert_int_equal(mc_storage_auth_restore(&a->st, MC_IFACE_TCP, &w), MC_ERR_NODATA);
    assert_int_equal(w, 77);
    assert_int_equal(mc_storage_auth_restore(NULL, MC_IFACE_TCP, &w), MC_ERR_INVAL);
    assert_int_equal(mc_storage_auth_restore(&a->st, MC_IFACE_TCP, NULL), MC_ERR_INVAL);
    assert_int_equal(mc_storage_auth_restore(&a->st, 256u, &w), MC_ERR_INVAL);
    /* through the model: 12 wrong passwords on TCP (a lockout from the 10th) */
    mc_auth_guard_t g;
    mc_auth_guard_init(&g, MC_IFACE_TCP);
    mc_session_t s;
    mc_session_init(&s, &g);
    for (unsigned i = 0; i < 12u; i++) {
        (void)mc_session_login(&a->model, &s, 1000u + i);
        a->now += 1u;
    }
    const uint32_t had = g.wrong;
    assert_true(had >= 10u);
    mc_storage_auth_event(&a->st, MC_AUTH_WRONG, MC_IFACE_RTU, 3, 0); /* another interface, newer */
    mc_storage_auth_event(&a->st, MC_AUTH_REFUSED, MC_IFACE_TCP, 99, 0); /* not a count */
    /* power cycle, the same day: the count is back, and the guard locks again */
    app_t *b = &f->b;
    assert_int_equal(app_boot(b, &f->emu, a->now + 60u), MC_OK);
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_TCP, &w), MC_OK);
    assert_int_equal(w, had);
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_RTU, &w), MC_OK);
    assert_int_equal(w, 3);
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_DLT645, &w), MC_ERR_NODATA);
    mc_auth_guard_t g2;
    mc_auth_guard_init(&g2, MC_IFACE_TCP);
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_TCP, &w), MC_OK);
    mc_auth_guard_restore(&b->model, &g2, w);
    assert_int_equal(g2.wrong, had);
    assert_true(g2.lockout_s > 0u);
    /* one per whole day without a wrong try; saturating at 0 */
    b->now = a->now + 2u * 86400u + 3600u;
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_TCP, &w), MC_OK);
    assert_int_equal(w, had - 2u);
    b->now = a->now + 400u * 86400u;
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_TCP, &w), MC_OK);
    assert_int_equal(w, 0);
    b->now = a->now - 86400u; /* the clock set back: no decay */
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_RTU, &w), MC_OK);
    assert_int_equal(w, 3);
    /* a lockout event counts too, and the newest one wins */
    b->now = a->now + 120u;
    mc_storage_auth_event(&b->st, MC_AUTH_LOCKOUT, MC_IFACE_RTU, 11, 120);
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_RTU, &w), MC_OK);
    assert_int_equal(w, 11);
    /* the walk is bounded by the log: 400 other events later, still at most the whole log */
    for (unsigned i = 0; i < 400u; i++) {
        mc_storage_auth_event(&b->st, MC_AUTH_WRONG, MC_IFACE_DLT645, i, 0);
    }
    const uint64_t r0 = f->emu.st.reads;
    assert_int_equal(mc_storage_auth_restore(&b->st, MC_IFACE_RTU, &w), MC_ERR_NODATA);
    const mc_storage_area_t *ev = &b->st.area[AREA_EVENTS];
    assert_true(f->emu.st.reads - r0 <= 2u * (uint64_t)ev->sectors * ev->slots_per_sector);
}

/* Security review 5: a record with a valid CRC whose settlement point is in 2099 (the clock now in
 * 2024) would stop every settlement: the point goes back to the newest one by the times the memory
 * has seen, flagged; the next point freezes. A clock set back (the point then legitimately ahead of
 * the clock) is not mistaken for it. */
static void test_settlement_forged_future(void **state)
{
    fx_t *f = *state;
    const uint32_t y2099 = T(2099, 1, 1, 0, 0, 0);
    for (unsigned which = 0; which < 2u; which++) {
        memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
        two_freezes_whole(f); /* 1 February, 1 March */
        const mc_time_t before = f->a.tariff.last_settlement;
        assert_int_equal(before, T(2024, 3, 1, 0, 0, 0));
        if (which == 0u) {
            forge(f, &f->a, AREA_HISTORY, KIND_HISTORY, 4u, &y2099, 4); /* history_meta.last_settlement */
        } else {
            forge(f, &f->a, AREA_ENERGY, KIND_ENERGY, 8u, &y2099, 4); /* energy_meta.last_settlement */
        }
        assert_int_equal(app_boot(&f->b, &f->emu, f->a.now + 60u), MC_OK);
        if (f->b.tariff.last_settlement != before || !(f->b.model.errors & MC_ERROR_ENERGY_CRC) ||
            !has_integrity_event(&f->b, 2)) {
            fail_msg("%s record with last settlement 2099: restored %u (expected %u), errors 0x%x",
                     which == 0u ? "history" : "energy", f->b.tariff.last_settlement, before, f->b.model.errors);
        }
        assert_int_equal(write_clock(&f->b, T(2024, 4, 1, 1, 0, 0)), MC_OK); /* the next point is made */
        assert_int_equal(f->b.tariff.history[0].frozen_at, T(2024, 4, 1, 0, 0, 0));
    }
    /* a clock set back two months, then many ordinary events and saves: not flagged, the point stays */
    memset(f->emu.mem, 0xFF, (size_t)f->emu.sector_count * f->emu.sector_size);
    two_freezes_whole(f);
    app_t *a = &f->a;
    const mc_time_t point = a->tariff.last_settlement;
    assert_int_equal(write_clock(a, T(2024, 1, 5, 0, 0, 0)), MC_OK);
    for (unsigned i = 0; i < 300u; i++) {
        mc_storage_auth_event(&a->st, MC_AUTH_WRONG, MC_IFACE_TCP, 1, 0);
    }
    feed_wh(a, 30, 20, 60);
    assert_int_equal(mc_storage_power_fail(&a->st, a->now), MC_OK);
    assert_true(a->tariff.last_settlement > a->now);
    assert_int_equal(app_boot(&f->b, &f->emu, a->now + 60u), MC_OK);
    assert_int_equal(f->b.tariff.last_settlement, point);
    assert_int_equal(f->b.model.errors & MC_ERROR_ENERGY_CRC, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nvm_emu),
        cmocka_unit_test_setup_teardown(test_restore_after_warning, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restore_after_warning, setup_eeprom, fx_teardown),
        cmocka_unit_test_setup_teardown(test_restore_after_warning, setup_zero_erased, fx_teardown),
        cmocka_unit_test_setup_teardown(test_save_policy, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_save_cost_and_wear, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_eeprom_cost, setup_eeprom, fx_teardown),
        cmocka_unit_test_setup_teardown(test_eeprom_cost, setup_zero_erased, fx_teardown),
        cmocka_unit_test(test_power_cut_sweep),
        cmocka_unit_test(test_power_cut_sweep_bytewise),
        cmocka_unit_test_setup_teardown(test_flip_energy, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_energy_header_id, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_history, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_history_keeps_this_month, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_config, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_event, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failing_sector_energy, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failing_sector_config, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_newer_major_refused, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_older_minor_accepted, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_events_logged, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_events_logged_legacy, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_event_log_wraps, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_event_log_power_cycles, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clock_set_event_times, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_settle_change_no_freeze_event, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clear_energy_clears_history, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_warning_after_clock_set_freeze, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_torn_save_not_reported, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_config_contents, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ram_integrity_check, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clock_backward_event, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outage_made_up_freezes, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_api_arguments, setup_flash, fx_teardown),
        cmocka_unit_test(test_geometry_documented_range),
        cmocka_unit_test_setup_teardown(test_foreign_image_refused, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_blank_core_areas_refused, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_insane_records_fall_back, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_huge_counters, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_not_flushed, setup_metersim, fx_teardown),
        cmocka_unit_test_setup_teardown(test_dlt645_clears_audited, setup_metersim, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ack_durable, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_demand_survives, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_failing_medium_reported_once, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_auth_event, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_format_events, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_major1_refused, setup_flash, fx_teardown),
        cmocka_unit_test(test_power_cut_sweep_small),
        cmocka_unit_test_setup_teardown(test_commit_cost, setup_metersim, fx_teardown),
        cmocka_unit_test_setup_teardown(test_event_seq_forged_max, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ring_skips_damaged_slots, setup_metersim, fx_teardown),
        cmocka_unit_test_setup_teardown(test_event_reads_cheap, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_clock_near_end_of_range, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_insane_many_copies, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_relay_durable, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_auth_restore, setup_flash, fx_teardown),
        cmocka_unit_test_setup_teardown(test_settlement_forged_future, setup_flash, fx_teardown),
        cmocka_unit_test(test_1p2w_image_unchanged),
        cmocka_unit_test(test_elements_round_trip_3p4w),
        cmocka_unit_test(test_elements_16_circuits),
        cmocka_unit_test(test_elements_other_wiring_same_count),
        cmocka_unit_test(test_elements_old_format_mount),
        cmocka_unit_test(test_elements_other_count),
        cmocka_unit_test(test_elements_insane_block),
        cmocka_unit_test(test_elements_power_cuts),
        cmocka_unit_test(test_elements_freeze_leaves_window_out),
        cmocka_unit_test(test_wiring_change_and_back),
        cmocka_unit_test(test_wiring_change_power_cuts),
        cmocka_unit_test(test_poly_calibration_round_trip),
        cmocka_unit_test(test_poly_calibration_corrupt),
        cmocka_unit_test(test_poly_calibration_wiring_change),
#ifdef MC_HAVE_POSIX_NVM
        cmocka_unit_test(test_posix_nvm),
#endif
    };
    /* MC_TEST_FILTER=<glob> runs only the matching tests. */
    const char *filter = getenv("MC_TEST_FILTER");
    if (filter != NULL && filter[0] != '\0') {
        cmocka_set_test_filter(filter);
    }
    return cmocka_run_group_tests_name("storage", tests, NULL, NULL);
}
