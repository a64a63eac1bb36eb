/*
 * libFuzzer target: storage mount and reads on arbitrary flash images
 * (mc_storage.h), then a little running and a second mount.
 *
 * Input: 4 header bytes, then the flash image from sector 0 on (bytes past the
 * input are erased, bytes past the image ignored).
 *   byte 0  bits 0-1  sector size 1024, 2048, 4096, 1024
 *           bits 2-3  programming unit 1, 4, 8, 16
 *           bit 4     erase value 0x00 (else 0xFF)
 *           bit 5     cfg.new_meter = 1 (the user asked for a new meter)
 *           bit 6     before mounting, give every record header found in the image
 *                     ('MC' magic at any offset) the CRC of its bytes, so that the
 *                     mutations reach the values behind the CRC
 *           bit 7     the same for event slots: in every sector that does not start
 *                     with a record header, every non-erased event-sized slot gets
 *                     the CRC of its first 20 bytes (done before bit 6's pass)
 *   byte 1  sector count 8 + byte % 25 (8..32)
 *   byte 2  low nibble cfg.event_sectors, high nibble cfg.audit_sectors (0: derived)
 *   byte 3  bits 0-1  clock at mount: 2024-03-01 12:00, 2024-02-01 00:00 (before the
 *                     seeds' saves), 2024-04-01 00:30 (a settlement due), 2031-07-15 08:00
 *           bits 2-4  windows to book after the mount (0..7, about 1.2 Wh each)
 *           bit 5     an energy clear (trusted path), then a poll
 *           bit 6     a parameter change (settlement day) and a schedule change
 *           bit 7     mc_storage_power_fail() before the second mount (else a poll and
 *                     a commit, and the power goes without warning)
 *
 * Checked besides ASan/UBSan:
 * - mount returns MC_OK or a documented error (INVAL, VERSION, BLANK, IO, NOSPACE),
 *   never BLANK for a blank memory or with new_meter; a refused mount (INVAL,
 *   VERSION, BLANK) changes nothing in the image nor in the meter, tariff and model;
 * - the storage never breaks the port contract's alignment and range, nor programs a
 *   byte that is not erased (FUZZ_STORAGE_STRICT=0 in the environment skips the latter);
 * - after a mount: the parameters pass mc_params_check(), sealed is 0 or 1, the
 *   calibration in force passes mc_calibration_check(), the schedule passes
 *   mc_tariff_schedule_check(), the settlement day and hour are valid, every
 *   register of the map reads MC_OK and every float there is finite; the event
 *   log (merged) and the audit log read newest first (sequence numbers never
 *   rise), the newest event being the mount's power-up; every audit counter reads;
 *   the event registers show the selected event's fields;
 * - windows, polls, a commit and a power-fail warning work (MC_OK / events >= 0);
 * - a second mount on the image left returns MC_OK with the same parameters,
 *   seal, calibration and schedule, and after a power-fail warning the same energy.
 * Seeds: tests/fuzz/corpus/storage/, real images made by tests/fuzz/gen_storage.c.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_app.h"
#include "fuzz_storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK FZ_CHECK

/* The image's geometry and configuration from the header bytes. */
typedef struct geometry {
    uint32_t sector_size, sector_count, prog_size;
    uint8_t erase_value;
    mc_storage_config_t cfg;
    mc_time_t now;
    uint8_t ops;
} geometry_t;

static void geometry_of(const uint8_t h[FZ_STORAGE_HEADER], geometry_t *g)
{
    static const uint32_t sector_sizes[4] = {1024u, 2048u, 4096u, 1024u};
    static const uint32_t prog_sizes[4] = {1u, 4u, 8u, 16u};
    memset(g, 0, sizeof(*g));
    g->sector_size = sector_sizes[h[0] & 3u];
    g->prog_size = prog_sizes[(h[0] >> 2) & 3u];
    g->erase_value = (h[0] & 0x10u) ? 0x00u : 0xFFu;
    g->sector_count = 8u + h[1] % 25u;
    mc_storage_config_default(&g->cfg);
    g->cfg.new_meter = (h[0] & 0x20u) ? 1u : 0u;
    g->cfg.event_sectors = (uint8_t)(h[2] & 0x0Fu);
    g->cfg.audit_sectors = (uint8_t)(h[2] >> 4);
    switch (h[3] & 3u) {
    case 0:
        g->now = fz_time(2024, 3, 1, 12, 0, 0);
        break;
    case 1:
        g->now = fz_time(2024, 2, 1, 0, 0, 0);
        break;
    case 2:
        g->now = fz_time(2024, 4, 1, 0, 30, 0);
        break;
    default:
        g->now = fz_time(2031, 7, 15, 8, 0, 0);
        break;
    }
    g->ops = h[3];
}

/* Bit 7: event slots get the CRC of their first 20 bytes (sectors without a record header). */
static void fixup_events(nvm_emu_t *e)
{
    /* An event slot: the event, then the commit marker unit (4 bytes), each rounded up to prog_size. */
    const uint32_t slot = (MC_EVENT_SLOT_SIZE + e->prog_size - 1u) / e->prog_size * e->prog_size +
                          (4u + e->prog_size - 1u) / e->prog_size * e->prog_size;
    for (uint32_t s = 0; s < e->sector_count; s++) {
        uint8_t *p = nvm_emu_at(e, s, 0);
        if (p[0] == 0x43u && p[1] == 0x4Du) {
            continue;
        }
        for (uint32_t off = 0; off + slot <= e->sector_size; off += slot) {
            int blank = 1;
            for (uint32_t k = 0; k < MC_EVENT_SLOT_SIZE; k++) {
                blank &= p[off + k] == e->erase_value;
            }
            if (!blank) {
                const uint32_t crc = mc_crc32(0, p + off, 20);
                memcpy(p + off + 20, &crc, 4);
            }
        }
    }
}

/* Bit 6: every record header ('MC', length fitting the sector) gets the CRC of its header and payload. */
static void fixup_records(nvm_emu_t *e)
{
    for (uint32_t s = 0; s < e->sector_count; s++) {
        uint8_t *p = nvm_emu_at(e, s, 0);
        for (uint32_t off = 0; off + FZ_RECORD_HEADER <= e->sector_size; off++) {
            if (p[off] != 0x43u || p[off + 1u] != 0x4Du) {
                continue;
            }
            const uint32_t len = (uint32_t)p[off + 6u] | (uint32_t)p[off + 7u] << 8;
            if (len > e->sector_size - off - FZ_RECORD_HEADER) {
                continue;
            }
            uint32_t crc = mc_crc32(0, p + off, 12);
            crc = mc_crc32(crc, p + off + FZ_RECORD_HEADER, len);
            memcpy(p + off + 12u, &crc, 4);
        }
    }
}

/* Every register of the map reads, and floats are finite. */
static void read_registers(const mc_model_t *md)
{
    size_t n = 0;
    const mc_reg_entry_t *t = mc_regmap_table(&n);
    for (size_t i = 0; i < n; i++) {
        for (unsigned k = 0; k < t[i].count; k++) {
            mc_value_t v;
            memset(&v, 0, sizeof(v));
            CHECK(mc_model_read(md, (mc_qty)t[i].qty, (unsigned)t[i].arg + k * t[i].arg_step, &v) == MC_OK);
            if (v.is_float) {
                CHECK(isfinite(v.f));
            }
        }
    }
}

/* What a mount left must be within the documented ranges. */
static void check_state(fz_app_t *a)
{
    CHECK(mc_params_check(&a->model.params) == MC_OK);
    CHECK(a->model.sealed == 0u || a->model.sealed == 1u);
    mc_calibration_t cal;
    CHECK(mc_meter_get_calibration(&a->meter, &cal) == MC_OK);
    CHECK(mc_calibration_check(&cal) == MC_OK);
    CHECK(mc_tariff_schedule_check(&a->tariff.schedule) == MC_OK);
    CHECK(a->tariff.cfg.settle_day >= 1u && a->tariff.cfg.settle_day <= 28u);
    CHECK(a->tariff.cfg.settle_hour <= 23u);
    CHECK(a->meter.cfg.pulse_constant >= 1u);
    read_registers(&a->model);
}

/* Print a log (merged or audit) to stderr, for a finding's report. */
static void dump_log(const fz_app_t *a, int audit)
{
    const unsigned count = audit ? mc_storage_audit_count(&a->st) : mc_storage_event_count(&a->st);
    fprintf(stderr, "fuzz_storage: %s log, %u events (newest first):\n", audit ? "audit" : "merged", count);
    for (unsigned i = 0; i < count; i++) {
        mc_event_t ev;
        memset(&ev, 0, sizeof(ev));
        const int rc = audit ? mc_storage_audit_read(&a->st, i, &ev) : mc_storage_event_read(&a->st, i, &ev);
        fprintf(stderr, "  %3u %-15s seq %10u time %10u type %3u source %u qty %3u arg %3u old %10u new %10u\n", i,
                mc_strerror(rc), (unsigned)ev.seq, (unsigned)ev.time, ev.type, ev.source, ev.qty, ev.arg,
                (unsigned)ev.old_value, (unsigned)ev.new_value);
    }
}

/* A log (merged, or the audit log alone) reads newest first: sequence numbers never rise. */
static void check_log(const fz_app_t *a, int audit)
{
    const unsigned count = audit ? mc_storage_audit_count(&a->st) : mc_storage_event_count(&a->st);
    uint32_t last_seq = 0;
    int have_last = 0, power_up_newest = audit, before_power_up = 1, seq_never_rises = 1;
    for (unsigned i = 0; i < count + 2u; i++) {
        mc_event_t ev;
        const int rc = audit ? mc_storage_audit_read(&a->st, i, &ev) : mc_storage_event_read(&a->st, i, &ev);
        CHECK(rc == MC_OK || rc == MC_ERR_CORRUPT || rc == MC_ERR_NODATA);
        CHECK(i < count || rc == MC_ERR_NODATA);
        if (!audit && before_power_up) {
            /* The newest event is the power-up, or storage trouble met while logging it
             * (a slot of a damaged image that did not program: MC_EV_STORAGE). */
            if (rc == MC_OK && ev.type == MC_EV_POWER_UP) {
                power_up_newest = 1;
                before_power_up = 0;
            } else if (!(rc == MC_OK && ev.type == MC_EV_STORAGE)) {
                before_power_up = 0;
            }
        }
        if (rc == MC_OK) {
            /* equal only in a forged image (copied slots) */
            seq_never_rises &= !have_last || ev.seq <= last_seq;
            last_seq = ev.seq;
            have_last = 1;
        }
    }
    if (!power_up_newest || !seq_never_rises) {
        dump_log(a, 0);
        dump_log(a, 1);
    }
    CHECK(power_up_newest);  /* the mount's MC_EV_POWER_UP is the newest event (but storage trouble) */
    CHECK(seq_never_rises);  /* newest first */
    if (!audit) {
        CHECK(count >= 1u);
        CHECK(mc_storage_audit_count(&a->st) <= count);
    }
}

/* The event registers (selector 1301H, fields 1302H..130DH) at a few selectors, the
 * past-the-end ones included: they read, an event's fields as mc_storage_event_read() gives them. */
static void read_event_registers(fz_app_t *a)
{
    const unsigned count = mc_storage_event_count(&a->st);
    const unsigned sel[6] = {0u, 1u, 2u, count - 1u, count, count + 5u};
    for (unsigned k = 0; k < 6u; k++) {
        if (sel[k] > 0xFFFFu) {
            continue;
        }
        mc_write_item_t it;
        memset(&it, 0, sizeof(it));
        it.qty = MC_QTY_EVENT_SELECT;
        it.u = (uint16_t)sel[k];
        CHECK(mc_model_write(&a->model, &it, 1, MC_SRC_LOCAL) == MC_OK);
        mc_event_t ev;
        const int rc = mc_storage_event_read(&a->st, sel[k], &ev);
        uint16_t w[12];
        for (unsigned f = 0; f < 12u; f++) {
            mc_value_t v;
            CHECK(mc_model_read(&a->model, MC_QTY_EVENT, f, &v) == MC_OK);
            CHECK(!v.is_float);
            w[f] = v.u;
        }
        if (rc == MC_OK) {
            CHECK(((uint32_t)w[0] << 16 | w[1]) == ev.seq);
            CHECK(((uint32_t)w[2] << 16 | w[3]) == ev.time);
            CHECK(w[4] == ev.type && w[5] == ev.source && w[6] == ev.qty && w[7] == ev.arg);
            CHECK(((uint32_t)w[8] << 16 | w[9]) == ev.old_value);
            CHECK(((uint32_t)w[10] << 16 | w[11]) == ev.new_value);
        }
    }
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_EVENT_SELECT;
    CHECK(mc_model_write(&a->model, &it, 1, MC_SRC_LOCAL) == MC_OK);
}

static void check_events(fz_app_t *a)
{
    check_log(a, 0);
    check_log(a, 1);
    read_event_registers(a);
    for (unsigned k = 0; k < MC_AUDIT_COUNTERS; k++) {
        uint32_t c;
        CHECK(mc_storage_audit_counter(&a->st, k, &c) == MC_OK);
    }
    uint32_t c;
    CHECK(mc_storage_audit_counter(&a->st, MC_AUDIT_COUNTERS, &c) == MC_ERR_INVAL);
}

/* Day profile 0 becomes two segments: 00:00 rate 3, 12:00 rate 1 (the trusted path). */
static void schedule_change(fz_app_t *a)
{
    static const uint16_t words[5] = {2u, 0u, 3u, 12u * 256u, 1u};
    mc_write_item_t it[5];
    memset(it, 0, sizeof(it));
    for (unsigned k = 0; k < 5u; k++) {
        it[k].qty = MC_QTY_TOU_PROFILE;
        it[k].arg = (uint8_t)k;
        it[k].u = words[k];
    }
    CHECK(mc_model_write(&a->model, it, 5, MC_SRC_LOCAL) == MC_OK);
}

static void same_config(const fz_app_t *a, const fz_app_t *b)
{
    CHECK(memcmp(&a->model.params, &b->model.params, sizeof(mc_params_t)) == 0);
    CHECK(a->model.sealed == b->model.sealed);
    CHECK(memcmp(&a->meter.cal, &b->meter.cal, sizeof(mc_calibration_t)) == 0);
    uint16_t wa[FZ_SCHED_WORDS], wb[FZ_SCHED_WORDS];
    uint8_t ma[FZ_SCHED_WORDS], mb[FZ_SCHED_WORDS];
    fz_schedule_words(&a->model, wa, ma);
    fz_schedule_words(&b->model, wb, mb);
    CHECK(memcmp(wa, wb, sizeof(wa)) == 0);
    CHECK(a->tariff.cfg.settle_day == b->tariff.cfg.settle_day);
    CHECK(a->tariff.cfg.settle_hour == b->tariff.cfg.settle_hour);
}

static fz_app_t g_app, g_app2; /* large: kept off the stack */
static mc_meter_t g_meter0;     /* the instances before the first mount */
static mc_tariff_t g_tariff0;
static mc_model_t g_model0;

/* Before every prog, the bytes it programs must be erased (or already hold the data), and a
 * finding stops right at the program call that breaks the flash contract ("a byte is
 * programmed once between erases"). On by default since the storage skips slots that are
 * not blank (open/storage/prog_over_programmed_slot, now in the corpus);
 * FUZZ_STORAGE_STRICT=0 in the environment turns it off. */
static int g_strict = -1;

static void before_op(void *ctx, nvm_emu_t *e, uint64_t op, int is_erase, uint32_t sector, uint32_t offset,
                      const uint8_t *buf, uint32_t size)
{
    (void)ctx;
    (void)op;
    if (g_strict < 0) {
        const char *v = getenv("FUZZ_STORAGE_STRICT");
        g_strict = !(v != NULL && v[0] == '0');
    }
    if (is_erase || !g_strict) {
        return;
    }
    const uint8_t *p = nvm_emu_at(e, sector, offset);
    for (uint32_t k = 0; k < size; k++) {
        if (p[k] != e->erase_value && p[k] != buf[k]) {
            fprintf(stderr, "fuzz_storage: prog over programmed bytes: sector %u offset %u (+%u of %u): 0x%02x by 0x%02x\n",
                    (unsigned)sector, (unsigned)offset, (unsigned)k, (unsigned)size, p[k], buf[k]);
            CHECK(!"a prog over bytes that are not erased");
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FZ_STORAGE_HEADER) {
        return 0;
    }
    geometry_t g;
    geometry_of(data, &g);
    nvm_emu_t emu;
    CHECK(nvm_emu_init(&emu, g.sector_count, g.sector_size, g.prog_size, g.erase_value) == 0);
    const size_t image = (size_t)g.sector_count * g.sector_size;
    const size_t given = size - FZ_STORAGE_HEADER < image ? size - FZ_STORAGE_HEADER : image;
    memcpy(emu.mem, data + FZ_STORAGE_HEADER, given);
    emu.before_op = before_op;
    if (data[0] & 0x80u) {
        fixup_events(&emu);
    }
    if (data[0] & 0x40u) {
        fixup_records(&emu);
    }
    uint8_t *before = malloc(image);
    CHECK(before != NULL);
    memcpy(before, emu.mem, image);

    int blank = 1;
    for (size_t k = 0; k < image; k++) {
        blank &= emu.mem[k] == g.erase_value;
    }

    fz_app_t *a = &g_app;
    fz_app_init(a, &emu, g.now, &g.cfg, 0);
    g_meter0 = a->meter;
    g_tariff0 = a->tariff;
    g_model0 = a->model;
    const int rc = fz_app_mount(a);
    CHECK(rc == MC_OK || rc == MC_ERR_INVAL || rc == MC_ERR_VERSION || rc == MC_ERR_BLANK || rc == MC_ERR_IO ||
          rc == MC_ERR_NOSPACE);
    CHECK(emu.st.violations == 0u);
    CHECK(!(rc == MC_ERR_BLANK && (g.cfg.new_meter || blank))); /* a blank memory is a first start */
    if (rc != MC_OK) {
        if (rc == MC_ERR_INVAL || rc == MC_ERR_VERSION || rc == MC_ERR_BLANK) {
            /* Refused: nothing written, the instances untouched. */
            CHECK(memcmp(before, emu.mem, image) == 0);
            CHECK(memcmp(&g_meter0, &a->meter, sizeof(g_meter0)) == 0);
            CHECK(memcmp(&g_tariff0, &a->tariff, sizeof(g_tariff0)) == 0);
            CHECK(memcmp(&g_model0, &a->model, sizeof(g_model0)) == 0);
        }
        free(before);
        nvm_emu_free(&emu);
        return 0;
    }
    check_state(a);
    check_events(a);

    /* A little running. */
    if (g.ops & 0x40u) {
        mc_write_item_t it;
        memset(&it, 0, sizeof(it));
        it.qty = MC_QTY_SETTLE_DAY;
        it.u = (uint16_t)(a->tariff.cfg.settle_day % 28u + 1u);
        CHECK(mc_model_write(&a->model, &it, 1, MC_SRC_LOCAL) == MC_OK);
        schedule_change(a);
    }
    const unsigned windows = (g.ops >> 2) & 7u;
    for (unsigned w = 0; w < windows; w++) {
        mc_energy_t d;
        memset(&d, 0, sizeof(d));
        d.q[MC_E_ACTIVE_IMPORT] = MC_ENERGY_QUANTA_PER_WH + w * 977u;
        d.q[MC_E_REACTIVE_Q1] = MC_ENERGY_QUANTA_PER_WH / 3u;
        const int ev = fz_app_window(a, &d, 1u + w * 400u); /* crosses an hour: a save by time */
        CHECK(ev >= 0);
    }
    if (g.ops & 0x20u) {
        mc_write_item_t it;
        memset(&it, 0, sizeof(it));
        it.qty = MC_QTY_CLEAR_ENERGY;
        it.u = MC_CLEAR_ENERGY_COMMAND;
        CHECK(mc_model_write(&a->model, &it, 1, MC_SRC_LOCAL) == MC_OK);
        a->now += 1u;
        CHECK(mc_storage_poll(&a->st, a->now) == MC_OK);
    }
    check_state(a);
    CHECK(mc_storage_poll(&a->st, a->now) == MC_OK);
    const int power_fail = (g.ops & 0x80u) != 0u;
    if (power_fail) {
        CHECK(mc_storage_power_fail(&a->st, a->now) == MC_OK);
    } else {
        CHECK(mc_storage_commit(&a->st) == MC_OK);
    }
    CHECK(emu.st.violations == 0u);

    /* The second mount sees what the first one left. */
    fz_app_t *b = &g_app2;
    mc_storage_config_t cfg2 = g.cfg;
    fz_app_init(b, &emu, a->now + 5u, &cfg2, 0);
    CHECK(fz_app_mount(b) == MC_OK);
    CHECK(emu.st.violations == 0u);
    check_state(b);
    check_events(b);
    same_config(a, b);
    if (power_fail) {
        CHECK(memcmp(a->meter.energy.q, b->meter.energy.q, sizeof(a->meter.energy.q)) == 0);
        CHECK(memcmp(a->tariff.total, b->tariff.total, sizeof(a->tariff.total)) == 0);
        CHECK(memcmp(a->tariff.month, b->tariff.month, sizeof(a->tariff.month)) == 0);
    }

    free(before);
    nvm_emu_free(&emu);
    return 0;
}
