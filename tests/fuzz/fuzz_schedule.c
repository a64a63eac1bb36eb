/*
 * libFuzzer target: the tariff schedule write path (1100H..121FH) through the
 * Modbus PDU handler (FC 06, FC 10, read back with FC 03), the bus write path
 * (mc_model_write_session) and the trusted path (mc_model_write), on a meter
 * whose storage is mounted on an emulated NVM (tests/nvm_emu.h) with the
 * model's hooks wired to it (on_change, commit, on_auth).
 *
 * Input: a flags byte, then operations.
 *   flags bit 0  log in first (FC 10 of the password 6666 to 0000H)
 *         bit 1  no commit hook (changes are saved at the next poll)
 *         bit 2  start from a richer schedule (4 day and week profiles, seasons, holidays)
 *         bit 3  the Modbus requests carry no session (NULL: public)
 *         bit 4  require_unlock 0 (a product that chose writes without a password)
 *   op byte: bits 0-2 kind, bits 3-4 time passing before it (none; 1 s; 600 s, a
 *   write budget unit; 301 s, past the session timeout), bits 5-7 a mode.
 *     0 FC 10, raw words     addr u16, count u8, then count words (missing bytes 0)
 *     1 FC 10, edits         addr u16, count u8, then 1 + mode % 4 edits (index u8, value u16;
 *                            mode bit 2: value = current word + (int8) low byte)
 *     2 FC 06                addr u16, value u16 (mode bit 2: current word + (int8) low byte)
 *     3 mc_model_write       1 + mode items (trusted path): addr u16 (an unmapped one is
 *                            TOU_PROFILE with the low byte as argument), value as for FC 06
 *     4 mc_model_write_session  the same items from the session (the bus path without Modbus)
 *     5 login                FC 10 of a password to 0000H: 6666 (mode bit 0 clear) or a wrong one
 *     6 FC 10, malformed     as 1, then broken by mode % 4: byte count, length, quantity 0, 124
 *     7 a poll, then the persistence check
 *   Addresses are 1100H + u16 % 120H, counts 1 + u8 % 123 cut at 121FH.
 *
 * Checked besides ASan/UBSan, after every operation:
 * - responses are the echo (5 bytes) or a 2-byte exception;
 * - all or nothing: a refused write leaves the schedule byte-identical (and every
 *   word as it was); an accepted one leaves a schedule that passes
 *   mc_tariff_schedule_check() and every schedule word as before with exactly the
 *   written words in place (read through FC 03 for Modbus writes, mc_model_read
 *   otherwise); a range with an unmapped register is refused (02); a malformed
 *   request is refused (03);
 * - access: without a successful login (and require_unlock 1) every bus write is refused;
 * - persistence: with the commit hook, right after every accepted write (no poll,
 *   no power-fail warning: the power could go now), a mount of a copy of the NVM
 *   image has the same schedule; without it, after the next poll; at the end after
 *   a poll and after a power-fail warning.
 * Seeds: tests/fuzz/corpus/schedule/, made by tests/fuzz/gen_corpus.py.
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_app.h"
#include "metercore/mc_modbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK FZ_CHECK

#define NVM_SECTORS 16u
#define NVM_SECTOR_SIZE 1024u
#define NVM_PROG 4u
#define IMAGE_SIZE (NVM_SECTORS * NVM_SECTOR_SIZE)

#define FL_LOGIN 0x01u
#define FL_NO_COMMIT 0x02u
#define FL_RICH 0x04u
#define FL_NULL_SESSION 0x08u
#define FL_NO_UNLOCK 0x10u

static mc_time_t g_t0; /* 2024-03-01 12:00 */

/* The fresh meter of each (no commit, rich, no unlock) combination, mounted once and
 * restored by copy for every input: the app and the NVM image. */
typedef struct snapshot {
    int ready;
    fz_app_t app;
    uint8_t image[IMAGE_SIZE];
} snapshot_t;

static snapshot_t g_snap[8];
static nvm_emu_t g_emu, g_emu2;
static fz_app_t g_app, g_app2;

/* Input reader: bytes past the end read 0. */
typedef struct reader {
    const uint8_t *p;
    size_t n, pos;
} reader_t;

static unsigned u8(reader_t *r)
{
    return r->pos < r->n ? r->p[r->pos++] : 0u;
}

static unsigned u16(reader_t *r)
{
    const unsigned hi = u8(r);
    return hi << 8 | u8(r);
}

/* Storage configuration: defaults, with the smallest event log (every mount reads it all). */
static const mc_storage_config_t *storage_config(void)
{
    static mc_storage_config_t cfg;
    mc_storage_config_default(&cfg);
    cfg.event_sectors = 2;
    return &cfg;
}

static unsigned app_flags(unsigned fl)
{
    return ((fl & FL_NO_COMMIT) ? FZ_NO_COMMIT : 0u) | ((fl & FL_NO_UNLOCK) ? FZ_NO_UNLOCK : 0u);
}

static void restore(unsigned fl)
{
    const unsigned k = ((fl & FL_NO_COMMIT) ? 1u : 0u) | ((fl & FL_RICH) ? 2u : 0u) | ((fl & FL_NO_UNLOCK) ? 4u : 0u);
    snapshot_t *s = &g_snap[k];
    if (g_emu.mem == NULL) {
        g_t0 = fz_time(2024, 3, 1, 12, 0, 0);
        CHECK(nvm_emu_init(&g_emu, NVM_SECTORS, NVM_SECTOR_SIZE, NVM_PROG, 0xFF) == 0);
        CHECK(nvm_emu_init(&g_emu2, NVM_SECTORS, NVM_SECTOR_SIZE, NVM_PROG, 0xFF) == 0);
    }
    if (!s->ready) {
        memset(g_emu.mem, 0xFF, IMAGE_SIZE);
        fz_app_init(&g_app, &g_emu, g_t0, storage_config(), app_flags(fl));
        CHECK(fz_app_mount(&g_app) == MC_OK);
        if (fl & FL_RICH) {
            fz_write_rich_schedule(&g_app);
            if (fl & FL_NO_COMMIT) {
                CHECK(mc_storage_poll(&g_app.st, g_app.now) == MC_OK);
            }
        }
        s->app = g_app;
        memcpy(s->image, g_emu.mem, IMAGE_SIZE);
        s->ready = 1;
    }
    g_app = s->app; /* every pointer in it is to g_app's members and g_emu: still valid */
    memcpy(g_emu.mem, s->image, IMAGE_SIZE);
    nvm_emu_reset_stats(&g_emu);
}

static void words_now(const fz_app_t *a, uint16_t w[FZ_SCHED_WORDS], uint8_t m[FZ_SCHED_WORDS])
{
    fz_schedule_words(&a->model, w, m);
}

/* A mount of a copy of the image (as after a cut now) has the schedule in force. */
static void check_persisted(const fz_app_t *a, unsigned fl)
{
    nvm_emu_copy(&g_emu2, &g_emu);
    nvm_emu_reset_stats(&g_emu2);
    fz_app_init(&g_app2, &g_emu2, a->now + 1u, storage_config(), app_flags(fl));
    CHECK(fz_app_mount(&g_app2) == MC_OK);
    CHECK(mc_tariff_schedule_check(&g_app2.tariff.schedule) == MC_OK);
    uint16_t wa[FZ_SCHED_WORDS], wb[FZ_SCHED_WORDS];
    uint8_t ma[FZ_SCHED_WORDS], mb[FZ_SCHED_WORDS];
    words_now(a, wa, ma);
    words_now(&g_app2, wb, mb);
    CHECK(memcmp(wa, wb, sizeof(wa)) == 0);
    CHECK(g_emu2.st.violations == 0u);
}

static int handle(fz_app_t *a, mc_session_t *s, const uint8_t *req, size_t len, uint8_t *resp)
{
    memset(resp, 0xA5, MC_MODBUS_PDU_MAX);
    const int rc = mc_modbus_handle_pdu(&a->model, s, req, len, resp, 0);
    CHECK(rc == 2 || rc == 5);
    if (rc == 2) {
        CHECK(resp[0] == (req[0] | 0x80u));
        CHECK(resp[1] >= MC_MB_EX_ILLEGAL_FUNCTION && resp[1] <= MC_MB_EX_DEVICE_FAILURE);
    } else {
        CHECK(memcmp(resp, req, 5) == 0); /* FC 06 echoes, FC 10 echoes address and count */
    }
    return rc;
}

/* FC 03 of [off, off + n) of the schedule registers. */
static void read_back(fz_app_t *a, mc_session_t *s, unsigned off, unsigned n, uint16_t *out)
{
    for (unsigned done = 0; done < n;) {
        const unsigned k = n - done > 125u ? 125u : n - done;
        const unsigned addr = FZ_SCHED_FIRST + off + done;
        const uint8_t req[5] = {MC_MB_FC_READ_HOLDING, (uint8_t)(addr >> 8), (uint8_t)addr, 0, (uint8_t)k};
        uint8_t resp[MC_MODBUS_PDU_MAX];
        const int rc = mc_modbus_handle_pdu(&a->model, s, req, sizeof(req), resp, 0);
        CHECK(rc == (int)(2u + 2u * k));
        CHECK(resp[0] == MC_MB_FC_READ_HOLDING && resp[1] == 2u * k);
        for (unsigned j = 0; j < k; j++) {
            out[done + j] = (uint16_t)(resp[2 + 2 * j] << 8 | resp[3 + 2 * j]);
        }
        done += k;
    }
}

static void fc16(uint8_t *req, unsigned addr, unsigned n, const uint16_t *w)
{
    req[0] = MC_MB_FC_WRITE_MULTIPLE;
    req[1] = (uint8_t)(addr >> 8);
    req[2] = (uint8_t)addr;
    req[3] = (uint8_t)(n >> 8);
    req[4] = (uint8_t)n;
    req[5] = (uint8_t)(2u * n);
    for (unsigned k = 0; k < n; k++) {
        req[6 + 2 * k] = (uint8_t)(w[k] >> 8);
        req[7 + 2 * k] = (uint8_t)w[k];
    }
}

/* A value: raw, or the current word plus a small signed delta. */
static uint16_t value(reader_t *r, unsigned mode, uint16_t current)
{
    const unsigned v = u16(r);
    if (mode & 4u) {
        return (uint16_t)(current + (int8_t)(uint8_t)v);
    }
    return (uint16_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1u) {
        return 0;
    }
    reader_t r = {data, size, 0};
    const unsigned fl = u8(&r);
    restore(fl);
    fz_app_t *a = &g_app;

    mc_auth_guard_t guard;
    mc_session_t session;
    mc_auth_guard_init(&guard, MC_IFACE_TCP);
    mc_session_init(&session, &guard);
    mc_session_t *s = (fl & FL_NULL_SESSION) ? NULL : &session;
    int may_write = (fl & FL_NO_UNLOCK) != 0u; /* a bus write may be accepted */
    uint8_t req[MC_MODBUS_PDU_MAX], resp[MC_MODBUS_PDU_MAX];

    if (fl & FL_LOGIN) {
        const uint16_t pw = 6666u;
        fc16(req, 0x0000u, 1u, &pw);
        if (handle(a, s, req, 8u, resp) == 5) {
            may_write = 1;
        } else {
            CHECK(s == NULL);
        }
    }

    for (unsigned ops = 0; r.pos < r.n && ops < 64u; ops++) {
        const unsigned op = u8(&r);
        const unsigned kind = op & 7u, mode = op >> 5;
        static const uint32_t advance_s[4] = {0u, 1u, 600u, 301u};
        a->now += advance_s[(op >> 3) & 3u];
        a->mono_ms += advance_s[(op >> 3) & 3u] * 1000u;

        uint16_t before[FZ_SCHED_WORDS], after[FZ_SCHED_WORDS], expect[FZ_SCHED_WORDS];
        uint8_t mapped[FZ_SCHED_WORDS], m2[FZ_SCHED_WORDS];
        words_now(a, before, mapped);
        mc_tariff_schedule_t sched_before = a->tariff.schedule;
        memcpy(expect, before, sizeof(expect));
        int accepted = 0, bus = 1, must_refuse = 0, modbus = 0;
        unsigned off = 0, n = 0;

        if (kind <= 2u || kind == 6u) {
            modbus = 1;
            off = u16(&r) % FZ_SCHED_WORDS;
            n = kind == 2u ? 1u : 1u + u8(&r) % 123u;
            if (off + n > FZ_SCHED_WORDS) {
                n = FZ_SCHED_WORDS - off;
            }
            uint16_t w[123];
            memcpy(w, before + off, n * sizeof(uint16_t));
            if (kind == 0u) {
                for (unsigned k = 0; k < n; k++) {
                    w[k] = (uint16_t)u16(&r);
                }
            } else if (kind == 2u) {
                w[0] = value(&r, mode, w[0]);
            } else {
                const unsigned edits = 1u + mode % 4u;
                for (unsigned e = 0; e < edits; e++) {
                    const unsigned i = u8(&r) % n;
                    w[i] = value(&r, mode, w[i]);
                }
            }
            const unsigned addr = FZ_SCHED_FIRST + off;
            size_t len;
            if (kind == 2u) {
                req[0] = MC_MB_FC_WRITE_SINGLE_REGISTER;
                req[1] = (uint8_t)(addr >> 8);
                req[2] = (uint8_t)addr;
                req[3] = (uint8_t)(w[0] >> 8);
                req[4] = (uint8_t)w[0];
                len = 5u;
            } else {
                fc16(req, addr, n, w);
                len = 6u + 2u * n;
            }
            if (kind == 6u) {
                must_refuse = 1;
                switch (mode % 4u) {
                case 0:
                    req[5] = (uint8_t)(req[5] + 1u);
                    break;
                case 1:
                    len--;
                    break;
                case 2:
                    req[3] = 0;
                    req[4] = 0;
                    break;
                default:
                    req[3] = 0;
                    req[4] = 124;
                    break;
                }
            }
            const int rc = handle(a, s, req, len, resp);
            accepted = rc == 5;
            if (kind == 6u) {
                CHECK(rc == 2 && resp[1] == MC_MB_EX_ILLEGAL_VALUE);
            }
            for (unsigned k = 0; k < n; k++) {
                if (!mapped[off + k]) {
                    must_refuse = 1;
                    CHECK(!accepted);
                    CHECK(kind == 6u || resp[1] == MC_MB_EX_ILLEGAL_ADDRESS);
                }
            }
            memcpy(expect + off, w, n * sizeof(uint16_t));
        } else if (kind == 3u || kind == 4u) {
            bus = kind == 4u;
            const unsigned count = 1u + mode;
            mc_write_item_t items[8];
            unsigned item_off[8];
            int item_mapped[8];
            for (unsigned k = 0; k < count; k++) {
                const unsigned raw = u16(&r);
                const unsigned o = raw % FZ_SCHED_WORDS;
                mc_qty qty = MC_QTY_TOU_PROFILE;
                unsigned arg = raw & 0xFFu, format = MC_FMT_U16;
                item_mapped[k] = fz_reg_lookup(FZ_SCHED_FIRST + o, &qty, &arg, &format);
                if (!item_mapped[k]) {
                    qty = MC_QTY_TOU_PROFILE;
                    arg = raw & 0xFFu;
                }
                item_off[k] = o;
                memset(&items[k], 0, sizeof(items[k]));
                items[k].qty = (uint8_t)qty;
                items[k].arg = (uint8_t)arg;
                items[k].u = value(&r, mode, item_mapped[k] ? before[o] : 0u);
            }
            const int rc = bus ? mc_model_write_session(&a->model, s, items, count, MC_SRC_BUS)
                               : mc_model_write(&a->model, items, count, MC_SRC_LOCAL);
            CHECK(rc <= 0);
            accepted = rc == MC_OK;
            for (unsigned k = 0; k < count; k++) {
                if (item_mapped[k]) {
                    expect[item_off[k]] = items[k].u; /* the last of the same register wins */
                } else {
                    /* A TOU_PROFILE argument the map does not have (word > 16 of a profile, or profile > 3). */
                    const unsigned p = items[k].arg / 32u, wd = items[k].arg % 32u;
                    if (p >= MC_TARIFF_MAX_DAY_PROFILES || wd > 2u * MC_TARIFF_MAX_SEGMENTS) {
                        must_refuse = 1;
                    } else {
                        expect[0x10u + p * 0x20u + wd] = items[k].u;
                    }
                }
            }
        } else if (kind == 5u) {
            const uint16_t pw = (mode & 1u) ? (uint16_t)(1000u + u16(&r) % 9000u) : 6666u;
            fc16(req, 0x0000u, 1u, &pw);
            const int rc = handle(a, s, req, 8u, resp);
            if (rc == 5) {
                may_write = 1; /* a login, or a password change on a logged-in session */
            }
            continue;
        } else {
            CHECK(mc_storage_poll(&a->st, a->now) == MC_OK);
            check_persisted(a, fl);
            continue;
        }

        if (bus && !may_write) {
            must_refuse = 1;
        }
        if (must_refuse) {
            CHECK(!accepted);
        }
        words_now(a, after, m2);
        if (!accepted) {
            CHECK(memcmp(&sched_before, &a->tariff.schedule, sizeof(sched_before)) == 0);
            CHECK(memcmp(before, after, sizeof(before)) == 0);
            continue;
        }
        CHECK(mc_tariff_schedule_check(&a->tariff.schedule) == MC_OK);
        CHECK(memcmp(expect, after, sizeof(after)) == 0);
        if (modbus) {
            uint16_t back[FZ_SCHED_WORDS];
            read_back(a, s, off, n, back);
            CHECK(memcmp(back, expect + off, n * sizeof(uint16_t)) == 0);
        }
        if (!(fl & FL_NO_COMMIT)) {
            check_persisted(a, fl); /* acknowledged means durable */
        }
    }
    CHECK(mc_storage_poll(&a->st, a->now) == MC_OK);
    check_persisted(a, fl);
    CHECK(mc_storage_power_fail(&a->st, a->now) == MC_OK);
    check_persisted(a, fl);
    CHECK(g_emu.st.violations == 0u);
    return 0;
}
