/*
 * metercore storage: records in rings of slots on a littlefs-style NVM port,
 * two event logs (ordinary and metrological audit) sharing one sequence number,
 * journals that make a change and its event durable together, and the
 * integrity checks. See mc_storage.h for the contract and docs/DESIGN.md for
 * the layout, the power-loss argument and the wear arithmetic.
 *
 * On-NVM format (version MC_STORAGE_FORMAT_MAJOR.MINOR = 2.1), little-endian,
 * the payloads being the in-memory images of fixed-width fields (the format is
 * that of one firmware build on one ABI; it is not an interchange format):
 *   record slot  = header (16 bytes) + payload, padded to prog_size, + commit marker unit
 *   header       = magic u16 'MC' | kind u8 | major u8 | minor u8 | 0 u8 |
 *                  payload length u16 | sequence u32 | CRC-32 u32
 *   minor        = that of the record's own layout: 1 for an energy record with the
 *                  elements' block and for a config or state record with the per-channel
 *                  calibration (both only for a meter of several elements), else 0 (so a
 *                  single-element meter writes exactly the records of 2.0, and 2.0 code
 *                  reads them)
 *   CRC-32       = over the 12 header bytes before it, then the payload
 *   kinds        = 1 energy: energy_meta | meter registers u64[6] | tariff totals u64[4][4] |
 *                           this month u64[4][4] | demand_rec
 *                           [| elements_head: count u32 | wiring u32 | count x element registers u64[6]]
 *                           (the elements' block, minor 1: a meter of 2..16 elements, each
 *                           element's own registers, mc_meter_phase_energy(); the energy
 *                           area's slot size follows, so that a 2.0 record of such a meter
 *                           sits at the slots of the size without the block: see
 *                           scan_sized())
 *                  2 history: history_meta | month after the freeze u64[4][4] | history month[12] | tail
 *                  3 config: config_meta (its last byte the relay: 1 open, 2 closed, 0 not recorded) | mc_params_t | mc_calibration_t | mc_tariff_schedule_t |
 *                           config_ext | tail [| poly_head | mc_poly_calibration_t]
 *                           (the per-channel calibration, minor 1: a meter of 2..16 elements;
 *                           poly_head: wiring u8 | channels u8 | elements u8 | 0 u8 | 0 u32, the
 *                           frame layout it was taken under; the config slot size follows)
 *                  4 state (history and config in one, small memories): kind 3 without its tail,
 *                           then kind 2 without its tail, then the tail [| poly_head |
 *                           mc_poly_calibration_t]
 *   tail         = audit counters u32[8] | journal: first sequence u32 | time u32 | count u32 |
 *                  16 entries of type u8 | source u8 | qty u8 | arg u8 | old u32 | new u32
 *   event slot   = seq u32 | time u32 | type u8 | source u8 | qty u8 | arg u8 |
 *                  old u32 | new u32 | CRC-32 of the 20 bytes before it, padded, + commit marker unit
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_storage.h"

#include <string.h>

#define MAGIC 0x4D43u
#define HEADER_SIZE 16u
#define CHUNK 64u /* streaming unit for CRC, program and verify; a multiple of every prog_size */
#define NONE UINT32_MAX
/* Sequence numbers (events, records) run from 1 to SEQ_MAX: 2^31 saves or events are over
 * 30 years at one every half second. A larger one is damage (it would wrap the counter). */
#define SEQ_MAX 0x7FFFFFFFu
/* Commit marker, programmed into the last unit of a slot after the body
 * verified: a body that fails its CRC without a marker is a save cut short
 * (silently ignored), with a marker it is corruption (reported). */
static const uint8_t commit_pattern[4] = {0x5A, 0xA5, 0x43, 0x4D};

enum { AREA_ENERGY = 0, AREA_HISTORY = 1, AREA_CONFIG = 2, AREA_EVENTS = 3, AREA_AUDIT = 4, AREA_COUNT = 5 };
enum { KIND_ENERGY = 1, KIND_HISTORY = 2, KIND_CONFIG = 3, KIND_STATE = 4 };
enum { REC_CONFIG = 0, REC_HISTORY = 1 };

#define QUEUE_MAX (MC_STORAGE_JOURNAL - 1u) /* one journal place is kept for a freeze */
#define AUDIT_EVENTS_WANTED 512u            /* derived audit area: at least this many events */
#define ORDINARY_EVENTS_WANTED 128u         /* derived event area */
/* Record minors (the layout of each record, see the format above). */
#define MINOR_BASE 0u     /* every record of 2.0 */
#define MINOR_ELEMENTS 1u /* a meter of several elements: an energy record with the elements' block, a config
                             or state record with the per-channel calibration */

/* A payload is a list of pieces of memory, streamed in order (a NULL piece is zeros, when saving;
 * a piece with a fill function is made by it, when saving, from ptr as its context). */
typedef void (*piece_fill_fn)(const void *ctx, uint32_t off, uint8_t *out, uint32_t n);

typedef struct piece {
    void *ptr;
    uint32_t len;
    piece_fill_fn fill;
} piece_t;

#define MAX_PIECES 14

typedef struct payload {
    piece_t p[MAX_PIECES];
    unsigned n;
    uint32_t len;
} payload_t;

static void add(payload_t *pl, void *ptr, uint32_t len)
{
    pl->p[pl->n].ptr = ptr;
    pl->p[pl->n].len = len;
    pl->p[pl->n].fill = NULL;
    pl->n++;
    pl->len += len;
}

/* A piece made while it is streamed (saving only). */
static void add_fill(payload_t *pl, void *ctx, uint32_t len, piece_fill_fn fill)
{
    add(pl, ctx, len);
    pl->p[pl->n - 1u].fill = fill;
}

/* Bytes [off, off + n) of a piece (saving). */
static void piece_bytes(const piece_t *p, uint32_t off, uint8_t *out, uint32_t n)
{
    if (p->fill != NULL) {
        p->fill(p->ptr, off, out, n);
    } else if (p->ptr != NULL) {
        memcpy(out, (const uint8_t *)p->ptr + off, n);
    } else {
        memset(out, 0, n);
    }
}

/* Fixed parts of the records that are not instance fields. */
typedef struct energy_meta {
    uint32_t gen;             /* freeze generation this energy belongs to */
    uint32_t time;            /* when it was saved */
    uint32_t last_settlement; /* the tariff's last settlement point then */
    uint32_t flags;           /* 0 */
} energy_meta_t;

/* The head of the elements' block of an energy record (minor 1): count, then count x mc_energy_t. */
typedef struct elements_head {
    uint32_t count;    /* elements, 2..MC_MAX_CIRCUITS */
    uint32_t wiring;   /* the meter's mc_wiring: elements of another wiring are not these */
} elements_head_t;

/* The head of the per-channel calibration block of a config or state record (minor 1): the frame layout
 * the calibration was taken under (a channel index is another signal under another wiring). */
typedef struct poly_head {
    uint8_t wiring;     /* mc_wiring */
    uint8_t channels;   /* mc_meter_channels(), 2..MC_MAX_CHANNELS */
    uint8_t elements;   /* mc_meter_elements(), 2..MC_MAX_CIRCUITS */
    uint8_t reserved;   /* 0 */
    uint32_t reserved2; /* 0 */
} poly_head_t;

/* The per-channel calibration block: its head, then the calibration. */
#define POLY_BLOCK_LEN ((uint32_t)(sizeof(poly_head_t) + sizeof(mc_poly_calibration_t)))

/* The demand state of the tariff (maximum of the month and the running window). */
typedef struct demand_rec {
    float slot_p[MC_DEMAND_MAX_SLOTS];
    float slot_s[MC_DEMAND_MAX_SLOTS];
    float cur_p, cur_s, demand_p, demand_s, max_p;
    uint32_t slot_end, max_p_at;
    uint8_t slots_used, slot_index, valid, partial, slots, pad[3];
} demand_rec_t;

typedef struct history_meta {
    uint32_t gen;
    uint32_t last_settlement;
    float max_demand_p;
    uint32_t max_demand_at;
    uint32_t flags; /* HISTORY_CLEARED: this generation began with an energy clear */
    uint32_t pad;
} history_meta_t;

#define HISTORY_CLEARED 1u

typedef struct config_meta {
    uint8_t sealed;
    uint8_t settle_day;
    uint8_t settle_hour;
    uint8_t active_combination;
    uint8_t reactive_combination;
    uint8_t demand_window_min;
    uint8_t demand_subinterval_min;
    uint8_t relay; /* RELAY_OPEN, RELAY_CLOSED, or 0: not recorded (a record of an earlier 2.0 build) */
} config_meta_t;

#define RELAY_OPEN 1u
#define RELAY_CLOSED 2u

typedef struct config_ext {
    uint32_t code_checksum; /* hooks.code_checksum when saved (0: none) */
    uint32_t reserved[3];   /* 0 */
} config_ext_t;

/* Audit counters and the journal: the end of every history, config and state record. */
typedef struct tail {
    uint32_t counters[MC_AUDIT_COUNTERS];
    uint32_t jseq;   /* sequence number of the first journal entry */
    uint32_t jtime;  /* time of the entries */
    uint32_t jcount; /* entries */
    mc_storage_jentry_t j[MC_STORAGE_JOURNAL];
} tail_t;

/* The tail is saved as pieces (counters, header, entries): the same bytes. */
_Static_assert(sizeof(tail_t) == sizeof(uint32_t) * (MC_AUDIT_COUNTERS + 3u) +
                                     sizeof(mc_storage_jentry_t) * MC_STORAGE_JOURNAL,
               "the tail has no padding");

/* A journal being built (events waiting for the record that makes them durable). */
typedef struct journal {
    mc_storage_jentry_t e[MC_STORAGE_JOURNAL];
    unsigned n;
} journal_t;

static void jr_add(journal_t *jr, uint8_t type, uint8_t source, uint8_t qty, uint8_t arg, uint32_t old_value,
                   uint32_t new_value)
{
    if (jr->n < MC_STORAGE_JOURNAL) {
        mc_storage_jentry_t *e = &jr->e[jr->n++];
        e->type = type;
        e->source = source;
        e->qty = qty;
        e->arg = arg;
        e->old_value = old_value;
        e->new_value = new_value;
    }
}

/* ------------------------------------------------------------------------ */
/* NVM helpers                                                              */

static int nvm_read(const mc_storage_t *st, uint32_t sector, uint32_t off, void *buf, uint32_t len)
{
    return st->cfg.nvm.read(st->cfg.nvm.context, sector, off, buf, len) < 0 ? MC_ERR_IO : MC_OK;
}

static int is_bad(const mc_storage_t *st, uint32_t sector)
{
    return (st->bad[sector / 32u] >> (sector % 32u)) & 1u;
}

static void set_bad(mc_storage_t *st, uint32_t sector)
{
    st->bad[sector / 32u] |= 1u << (sector % 32u);
}

static uint32_t slots_total(const mc_storage_area_t *a)
{
    return (uint32_t)a->sectors * a->slots_per_sector;
}

static uint32_t slot_sector(const mc_storage_area_t *a, uint32_t slot)
{
    return a->first_sector + slot / a->slots_per_sector;
}

static uint32_t slot_offset(const mc_storage_area_t *a, uint32_t slot)
{
    return (slot % a->slots_per_sector) * a->slot_size;
}

/* The byte stream of a slot: header (if any) then the payload pieces, padded. */
typedef struct stream {
    const uint8_t *head;
    uint32_t head_len;
    const payload_t *pl;
    uint32_t total; /* padded length */
    uint8_t pad;
} stream_t;

/* Copy stream bytes [pos, pos + len) into out, a span of the header or of one piece at a time. */
static void stream_bytes(const stream_t *s, uint32_t pos, uint8_t *out, uint32_t len)
{
    while (len > 0u) {
        uint32_t n = len;
        if (pos < s->head_len) {
            n = s->head_len - pos < n ? s->head_len - pos : n;
            memcpy(out, s->head + pos, n);
        } else {
            uint32_t off = pos - s->head_len;
            const piece_t *p = NULL;
            for (unsigned i = 0; s->pl != NULL && i < s->pl->n; i++) {
                if (off < s->pl->p[i].len) {
                    p = &s->pl->p[i];
                    break;
                }
                off -= s->pl->p[i].len;
            }
            if (p == NULL) {
                memset(out, s->pad, n); /* past the payload: padding to the end */
            } else {
                n = p->len - off < n ? p->len - off : n;
                piece_bytes(p, off, out, n);
            }
        }
        out += n;
        pos += n;
        len -= n;
    }
}

/* Program a stream into a slot and read it back. */
static int program_slot(mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot, const stream_t *s)
{
    const uint32_t sector = slot_sector(a, slot), base = slot_offset(a, slot);
    uint8_t buf[CHUNK], back[CHUNK];
    for (uint32_t pos = 0; pos < s->total; pos += CHUNK) {
        const uint32_t n = s->total - pos < CHUNK ? s->total - pos : CHUNK;
        stream_bytes(s, pos, buf, n);
        if (st->cfg.nvm.prog(st->cfg.nvm.context, sector, base + pos, buf, n) < 0) {
            return MC_ERR_IO;
        }
    }
    for (uint32_t pos = 0; pos < s->total; pos += CHUNK) {
        const uint32_t n = s->total - pos < CHUNK ? s->total - pos : CHUNK;
        stream_bytes(s, pos, buf, n);
        if (nvm_read(st, sector, base + pos, back, n) != MC_OK || memcmp(buf, back, n) != 0) {
            return MC_ERR_IO; /* did not program as asked: a worn or failing sector */
        }
    }
    return MC_OK;
}

/* Size of the commit marker unit: 4 bytes rounded up to the programming unit. */
static uint32_t marker_size(const mc_storage_t *st)
{
    const uint32_t u = st->cfg.nvm.prog_size;
    return (4u + u - 1u) / u * u;
}

static void marker_bytes(const mc_storage_t *st, uint8_t *buf)
{
    for (uint32_t k = 0; k < marker_size(st); k++) {
        buf[k] = commit_pattern[k % 4u];
    }
}

/* Program and verify the commit marker at the end of a slot. */
static int program_marker(mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot)
{
    uint8_t m[CHUNK], back[CHUNK];
    const uint32_t n = marker_size(st);
    const uint32_t off = slot_offset(a, slot) + a->slot_size - n;
    marker_bytes(st, m);
    if (st->cfg.nvm.prog(st->cfg.nvm.context, slot_sector(a, slot), off, m, n) < 0 ||
        nvm_read(st, slot_sector(a, slot), off, back, n) != MC_OK || memcmp(m, back, n) != 0) {
        return MC_ERR_IO;
    }
    return MC_OK;
}

/* Whether a slot was never programmed since its sector's erase. */
static int slot_blank(const mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot)
{
    uint8_t buf[CHUNK];
    for (uint32_t pos = 0; pos < a->slot_size; pos += CHUNK) {
        const uint32_t n = a->slot_size - pos < CHUNK ? a->slot_size - pos : CHUNK;
        if (nvm_read(st, slot_sector(a, slot), slot_offset(a, slot) + pos, buf, n) != MC_OK) {
            return 0;
        }
        for (uint32_t k = 0; k < n; k++) {
            if (buf[k] != st->cfg.nvm.erase_value) {
                return 0;
            }
        }
    }
    return 1;
}

/* Whether a slot carries its commit marker. */
static int has_marker(const mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot)
{
    uint8_t m[CHUNK], back[CHUNK];
    const uint32_t n = marker_size(st);
    marker_bytes(st, m);
    return nvm_read(st, slot_sector(a, slot), slot_offset(a, slot) + a->slot_size - n, back, n) == MC_OK &&
           memcmp(m, back, n) == 0;
}

/* A failing sector: flagged for one MC_EV_STORAGE per area and mount (flush_reports()). */
static void note_failure(mc_storage_t *st, unsigned ai, uint32_t sector)
{
    const uint8_t bit = (uint8_t)(1u << ai);
    if (!(st->failed & bit) && !(st->reported & bit)) {
        st->failed |= bit;
        st->failed_sector[ai] = (uint16_t)sector;
    }
    if (st->model != NULL && ai != AREA_EVENTS && ai != AREA_AUDIT) {
        st->model->errors |= MC_ERROR_ENERGY_CRC;
    }
}

/*
 * Write a stream into the next usable slot of an area, then its commit marker.
 * A sector is erased when the ring enters it, unless it is bad or holds the
 * area's newest valid record (then it is skipped). A failing program or erase
 * marks the sector bad, notes it for the report and moves on to the next sector.
 */
static int area_write(mc_storage_t *st, unsigned ai, const stream_t *s)
{
    mc_storage_area_t *a = &st->area[ai];
    const uint32_t total = slots_total(a);
    if (total == 0u) {
        return MC_ERR_NOSPACE;
    }
    for (uint32_t tries = 0; tries < total + a->slots_per_sector; tries++) {
        uint32_t slot = a->next_slot % total;
        const uint32_t sector = slot_sector(a, slot);
        const int holds_newest = a->newest_slot != NONE && slot_sector(a, a->newest_slot) == sector;
        if (slot % a->slots_per_sector == 0u) {
            if (is_bad(st, sector) || holds_newest) {
                a->next_slot = slot + a->slots_per_sector;
                continue;
            }
            if (st->cfg.nvm.erase(st->cfg.nvm.context, sector) < 0) {
                set_bad(st, sector);
                note_failure(st, ai, sector);
                a->next_slot = slot + a->slots_per_sector;
                continue;
            }
        } else if (is_bad(st, sector)) {
            a->next_slot = (slot / a->slots_per_sector + 1u) * a->slots_per_sector;
            continue;
        }
        if (program_slot(st, a, slot, s) != MC_OK || program_marker(st, a, slot) != MC_OK) {
            set_bad(st, sector);
            note_failure(st, ai, sector);
            a->next_slot = (slot / a->slots_per_sector + 1u) * a->slots_per_sector;
            continue;
        }
        a->newest_slot = slot;
        a->next_slot = slot + 1u;
        return MC_OK;
    }
    return MC_ERR_NOSPACE;
}

/* Write a record (header + payload, of layout @p minor) into an area. */
static int write_record(mc_storage_t *st, unsigned ai, uint8_t kind, uint8_t minor, const payload_t *pl)
{
    mc_storage_area_t *a = &st->area[ai];
    uint8_t h[HEADER_SIZE];
    const uint32_t seq = a->seq + 1u;
    h[0] = (uint8_t)(MAGIC & 0xFFu);
    h[1] = (uint8_t)(MAGIC >> 8);
    h[2] = kind;
    h[3] = MC_STORAGE_FORMAT_MAJOR;
    h[4] = minor;
    h[5] = 0;
    h[6] = (uint8_t)(pl->len & 0xFFu);
    h[7] = (uint8_t)(pl->len >> 8);
    memcpy(h + 8, &seq, 4);
    uint32_t crc = mc_crc32(0, h, 12);
    for (unsigned i = 0; i < pl->n; i++) {
        if (pl->p[i].ptr != NULL && pl->p[i].fill == NULL) {
            crc = mc_crc32(crc, pl->p[i].ptr, pl->p[i].len);
            continue;
        }
        uint8_t buf[CHUNK];
        for (uint32_t off = 0; off < pl->p[i].len;) {
            const uint32_t n = pl->p[i].len - off < CHUNK ? pl->p[i].len - off : CHUNK;
            piece_bytes(&pl->p[i], off, buf, n);
            crc = mc_crc32(crc, buf, n);
            off += n;
        }
    }
    memcpy(h + 12, &crc, 4);
    stream_t s = {h, HEADER_SIZE, pl, a->slot_size - marker_size(st), st->cfg.nvm.erase_value};
    int err = area_write(st, ai, &s);
    if (err == MC_OK) {
        a->seq = seq;
    }
    return err;
}

/* ------------------------------------------------------------------------ */
/* Events: which log, which counters                                        */

static int is_tariff_qty(unsigned qty)
{
    return qty == MC_QTY_TOU_COUNTS || qty == MC_QTY_TOU_PROFILE || qty == MC_QTY_TOU_WEEK ||
           qty == MC_QTY_TOU_SEASON || qty == MC_QTY_TOU_SPECIAL || qty == MC_QTY_SETTLE_DAY ||
           qty == MC_QTY_SETTLE_HOUR;
}

/* Metrological events go to the audit log. */
static int is_audit(unsigned type, unsigned qty)
{
    switch (type) {
    case MC_EV_CALIBRATION:
    case MC_EV_ENERGY_CLEAR:
    case MC_EV_CLOCK_SET:
    case MC_EV_FORMAT:
        return 1;
    case MC_EV_PARAM:
        /* the demand clear and the (refused) event clear of DL/T645 are audit events too:
         * they touch billing data or ask to erase the trail */
        return is_tariff_qty(qty) || qty == MC_QTY_PULSE_CONSTANT || qty == MC_QTY_MAX_DEMAND_P ||
               qty == MC_QTY_EVENT_COUNT;
    default:
        return 0;
    }
}

static void count_event(uint32_t *c, unsigned type, unsigned qty)
{
    if (!is_audit(type, qty)) {
        return;
    }
    c[MC_AUDIT_ALL]++;
    switch (type) {
    case MC_EV_CALIBRATION:
        c[qty == MC_QTY_SEAL ? MC_AUDIT_SEAL : MC_AUDIT_CALIBRATION]++;
        break;
    case MC_EV_ENERGY_CLEAR:
        c[MC_AUDIT_ENERGY_CLEAR]++;
        break;
    case MC_EV_CLOCK_SET:
        c[MC_AUDIT_CLOCK_SET]++;
        break;
    case MC_EV_FORMAT:
        c[MC_AUDIT_FORMAT]++;
        break;
    default:
        if (qty == MC_QTY_PULSE_CONSTANT) {
            c[MC_AUDIT_PULSE_CONSTANT]++;
        } else if (is_tariff_qty(qty)) {
            c[MC_AUDIT_TARIFF]++;
        } /* a demand or event clear: counted in MC_AUDIT_ALL only */
        break;
    }
}

static void event_image(const mc_event_t *ev, uint8_t img[MC_EVENT_SLOT_SIZE])
{
    memcpy(img, &ev->seq, 4);
    memcpy(img + 4, &ev->time, 4);
    img[8] = ev->type;
    img[9] = ev->source;
    img[10] = ev->qty;
    img[11] = ev->arg;
    memcpy(img + 12, &ev->old_value, 4);
    memcpy(img + 16, &ev->new_value, 4);
    const uint32_t crc = mc_crc32(0, img, 20);
    memcpy(img + 20, &crc, 4);
}

static int event_from_image(const uint8_t img[MC_EVENT_SLOT_SIZE], mc_event_t *ev)
{
    uint32_t crc;
    memcpy(&crc, img + 20, 4);
    uint32_t seq;
    memcpy(&seq, img, 4);
    if (mc_crc32(0, img, 20) != crc || seq == 0u || seq > SEQ_MAX) {
        return MC_ERR_CORRUPT;
    }
    memcpy(&ev->seq, img, 4);
    memcpy(&ev->time, img + 4, 4);
    ev->type = img[8];
    ev->source = img[9];
    ev->qty = img[10];
    ev->arg = img[11];
    memcpy(&ev->old_value, img + 12, 4);
    memcpy(&ev->new_value, img + 16, 4);
    return MC_OK;
}

static mc_time_t now_of(const mc_storage_t *st)
{
    const mc_model_t *md = st->model;
    if (md->hooks.now != NULL) {
        return md->hooks.now(md->hooks.ctx);
    }
    return st->tariff->last_time;
}

static uint32_t count_log(const mc_storage_t *st, unsigned ai);
static int walk_slots(const mc_storage_t *st, int audit_only, uint32_t index, mc_event_t *out, unsigned *count,
                      uint32_t *where);

/* Append an event (sequence and time given) to its log. The log's count goes up by one when the
 * event went into the slot after the newest one in the same sector (nothing erased or skipped);
 * else (a wrap erased a sector, a bad sector was skipped) the log is counted again: once per
 * sector of events. */
static int append_event(mc_storage_t *st, const mc_event_t *e)
{
    const unsigned ai = is_audit(e->type, e->qty) ? AREA_AUDIT : AREA_EVENTS;
    mc_storage_area_t *a = &st->area[ai];
    const uint32_t before = a->newest_slot;
    uint8_t img[MC_EVENT_SLOT_SIZE];
    event_image(e, img);
    payload_t pl;
    memset(&pl, 0, sizeof(pl));
    add(&pl, img, sizeof(img));
    stream_t s = {NULL, 0, &pl, a->slot_size - marker_size(st), st->cfg.nvm.erase_value};
    const int err = area_write(st, ai, &s);
    st->appends++;
    if (err == MC_OK) {
        a->seq = e->seq;
    }
    const unsigned li = ai == AREA_AUDIT ? 1u : 0u;
    if (err == MC_OK && before != NONE && a->newest_slot == before + 1u &&
        a->newest_slot % a->slots_per_sector != 0u) {
        st->log_count[li]++;
    } else {
        st->log_count[li] = count_log(st, ai);
    }
    return err;
}

/* Log an event at once, with the next sequence number. An audit event also counts, and the
 * config record (which keeps the counters) is saved at the next poll. */
static int log_now(mc_storage_t *st, uint8_t type, uint8_t source, uint8_t qty, uint8_t arg, uint32_t old_value,
                   uint32_t new_value)
{
    const mc_event_t e = {st->seq + 1u, now_of(st), type, source, qty, arg, old_value, new_value};
    const int err = append_event(st, &e);
    if (err == MC_OK) {
        st->seq = e.seq;
        if (is_audit(type, qty)) {
            count_event(st->counters, type, qty);
            st->config_dirty = 1;
        }
    }
    return err;
}

/* One MC_EV_STORAGE per failing area and mount, logged where no journal is open. */
static void flush_reports(mc_storage_t *st)
{
    for (unsigned ai = 0; ai < AREA_COUNT; ai++) {
        const uint8_t bit = (uint8_t)(1u << ai);
        if (st->failed & bit) {
            st->failed &= (uint8_t)~bit;
            st->reported |= bit;
            (void)log_now(st, MC_EV_STORAGE, MC_SRC_LOCAL, 0, (uint8_t)ai, st->failed_sector[ai],
                          (uint32_t)MC_ERR_IO);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                 */

static void demand_from_tariff(const mc_tariff_t *t, demand_rec_t *d)
{
    memset(d, 0, sizeof(*d));
    memcpy(d->slot_p, t->slot_p, sizeof(d->slot_p));
    memcpy(d->slot_s, t->slot_s, sizeof(d->slot_s));
    d->cur_p = t->cur_p;
    d->cur_s = t->cur_s;
    d->demand_p = t->demand_p;
    d->demand_s = t->demand_s;
    d->max_p = t->max_demand_p;
    d->slot_end = t->slot_end;
    d->max_p_at = t->max_demand_p_at;
    d->slots_used = t->slots_used;
    d->slot_index = t->slot_index;
    d->valid = t->demand_valid;
    d->partial = t->slot_partial;
    d->slots = (uint8_t)(t->cfg.demand_window_min / t->cfg.demand_subinterval_min);
}

/* Elements whose registers an energy record carries: every element of a meter of more than one.
 * 0 for a single-element meter (its element is the meter: its record is that of 2.0). */
static unsigned record_elements(const mc_meter_t *m)
{
    const size_t n = mc_meter_elements(&m->cfg);
    return n > 1u && n <= MC_MAX_CIRCUITS ? (unsigned)n : 0u;
}

/* The minor of the energy records a meter writes, and the format of its memory (major * 256 + minor). */
static uint8_t energy_minor(const mc_meter_t *m)
{
    return record_elements(m) > 0u ? MINOR_ELEMENTS : MINOR_BASE;
}

static uint32_t memory_format(const mc_meter_t *m)
{
    return (MC_STORAGE_FORMAT_MAJOR << 8) | energy_minor(m);
}

/* The per-channel calibration block a meter's config (state) records carry: a meter of several elements
 * only (a single-element meter's calibration is the meter-wide one, and its records are those of 2.0). */
static uint32_t poly_len(const mc_meter_t *m)
{
    return record_elements(m) > 0u ? POLY_BLOCK_LEN : 0u;
}

/* The frame layout of a meter, as the per-channel calibration block records it. */
static poly_head_t poly_head_of(const mc_meter_t *m)
{
    poly_head_t h;
    memset(&h, 0, sizeof(h));
    h.wiring = (uint8_t)m->cfg.wiring;
    h.channels = (uint8_t)mc_meter_channels(&m->cfg);
    h.elements = (uint8_t)mc_meter_elements(&m->cfg);
    return h;
}

/* Payload length of an energy record with the registers of @p elements elements (0: without the block). */
static uint32_t energy_len(unsigned elements)
{
    uint32_t len = (uint32_t)(sizeof(energy_meta_t) + sizeof(mc_energy_t) +
                              2u * sizeof(uint64_t) * MC_TARIFF_RATES * MC_TK_COUNT + sizeof(demand_rec_t));
    if (elements > 0u) {
        len += (uint32_t)(sizeof(elements_head_t) + elements * sizeof(mc_energy_t));
    }
    return len;
}

/* Where the elements' registers of a save come from: the meter, read as the record is streamed
 * (every storage call runs with the meter at rest: mc_storage.h), less the meter's last window
 * when the save leaves that window out (a freeze's save before it). */
typedef struct elements_src {
    const mc_meter_t *m;
    int less_window;
} elements_src_t;

static void elements_fill(const void *ctx, uint32_t off, uint8_t *out, uint32_t n)
{
    const elements_src_t *src = ctx;
    while (n > 0u) {
        const unsigned k = (unsigned)(off / sizeof(mc_energy_t));
        const uint32_t at = off % (uint32_t)sizeof(mc_energy_t);
        const uint32_t c = (uint32_t)sizeof(mc_energy_t) - at < n ? (uint32_t)sizeof(mc_energy_t) - at : n;
        mc_energy_t e;
        if (mc_meter_phase_energy(src->m, k, &e) != MC_OK) {
            memset(&e, 0, sizeof(e));
        }
        mc_phase_reading_t r;
        if (src->less_window && mc_meter_phase_reading(src->m, k, &r) == MC_OK) {
            for (int j = 0; j < MC_E_COUNT; j++) {
                e.q[j] -= r.delta.q[j] <= e.q[j] ? r.delta.q[j] : e.q[j];
            }
        }
        memcpy(out, (const uint8_t *)&e + at, c);
        out += c;
        off += c;
        n -= c;
    }
}

/* The per-channel calibration in force, streamed into a config (state) record: the 296-byte copy exists
 * only while a chunk of it is made, deep in the stream, not in the frame of every config and history save
 * (the meter is at rest during every storage call, so each chunk comes from the same calibration). */
static void poly_fill(const void *ctx, uint32_t off, uint8_t *out, uint32_t n)
{
    mc_poly_calibration_t c;
    if (mc_meter_get_poly_calibration((const mc_meter_t *)ctx, &c) != MC_OK) {
        mc_poly_calibration_default(&c);
    }
    memcpy(out, (const uint8_t *)&c + off, n);
}

/* Whether a reading is the meter's last window (then its elements' deltas are the window's). */
static int is_last_window(const mc_meter_t *m, const mc_reading_t *r)
{
    mc_reading_t last;
    return mc_meter_reading(m, &last) == MC_OK && last.start_sample == r->start_sample &&
           last.samples == r->samples && memcmp(&last.delta, &r->delta, sizeof(r->delta)) == 0;
}

/* The pieces of an energy record: with @p eh (count > 0) and @p src the elements' block (saving);
 * without, the part every energy record has (saving a single-element meter, or loading). */
static void energy_payload(mc_storage_t *st, payload_t *pl, energy_meta_t *meta, uint64_t *meter_q,
                           demand_rec_t *d, elements_head_t *eh, elements_src_t *src)
{
    memset(pl, 0, sizeof(*pl));
    add(pl, meta, sizeof(*meta));
    add(pl, meter_q, sizeof(st->meter->energy.q));
    add(pl, st->tariff->total, sizeof(st->tariff->total));
    add(pl, st->tariff->month, sizeof(st->tariff->month));
    add(pl, d, sizeof(*d));
    if (eh != NULL && eh->count > 0u) {
        add(pl, eh, sizeof(*eh));
        add_fill(pl, src, (uint32_t)(eh->count * sizeof(mc_energy_t)), elements_fill);
    }
}

/* The parts of config and history records, each filled by its caller. */
typedef struct conf_parts {
    config_meta_t meta;
    mc_params_t *params;
    mc_calibration_t *cal;
    mc_tariff_schedule_t *sched;
    config_ext_t ext;
} conf_parts_t;

typedef struct hist_parts {
    history_meta_t meta;
    uint64_t (*month)[MC_TK_COUNT];
    mc_tariff_month_t *history;
} hist_parts_t;

static void add_conf(payload_t *pl, conf_parts_t *c)
{
    add(pl, &c->meta, sizeof(c->meta));
    add(pl, c->params, sizeof(mc_params_t));
    add(pl, c->cal, sizeof(mc_calibration_t));
    add(pl, c->sched, sizeof(mc_tariff_schedule_t));
    add(pl, &c->ext, sizeof(c->ext));
}

static void add_hist(payload_t *pl, hist_parts_t *h)
{
    add(pl, &h->meta, sizeof(h->meta));
    add(pl, h->month, sizeof(uint64_t) * MC_TARIFF_RATES * MC_TK_COUNT);
    add(pl, h->history, sizeof(mc_tariff_month_t) * MC_TARIFF_HISTORY_MONTHS);
}

static uint32_t conf_len(void)
{
    return (uint32_t)(sizeof(config_meta_t) + sizeof(mc_params_t) + sizeof(mc_calibration_t) +
                      sizeof(mc_tariff_schedule_t) + sizeof(config_ext_t));
}

static uint32_t hist_len(void)
{
    return (uint32_t)(sizeof(history_meta_t) + sizeof(uint64_t) * MC_TARIFF_RATES * MC_TK_COUNT +
                      sizeof(mc_tariff_month_t) * MC_TARIFF_HISTORY_MONTHS);
}

/* Payload length of a config record (state record: @p state 1) without the per-channel calibration. */
static uint32_t conf_record_len(int state)
{
    return conf_len() + (state ? hist_len() : 0u) + (uint32_t)sizeof(tail_t);
}

/* Slot size of a record of payload length @p len: header and payload rounded up to the programming
 * unit, then the commit marker's unit. */
static uint32_t slot_of_len(const mc_storage_t *st, uint32_t len)
{
    const uint32_t prog = st->cfg.nvm.prog_size;
    return (HEADER_SIZE + len + prog - 1u) / prog * prog + marker_size(st);
}

/* The payload lengths a record of ours of @p kind can have (into lens, at most MC_MAX_CIRCUITS; returns
 * how many): energy without the elements' block or with that of 2..16 elements; config and state
 * without or with the per-channel calibration; history one. */
static unsigned record_lens(uint8_t kind, uint32_t *lens)
{
    unsigned n = 0;
    switch (kind) {
    case KIND_ENERGY:
        lens[n++] = energy_len(0);
        for (unsigned k = 2; k <= MC_MAX_CIRCUITS; k++) {
            lens[n++] = energy_len(k);
        }
        break;
    case KIND_HISTORY:
        lens[n++] = hist_len() + (uint32_t)sizeof(tail_t);
        break;
    default:
        lens[n++] = conf_record_len(kind == KIND_STATE);
        lens[n++] = conf_record_len(kind == KIND_STATE) + POLY_BLOCK_LEN;
        break;
    }
    return n;
}

/* The slot size of a record of ours of @p kind and payload length @p len, or 0 if none of ours has it. */
static uint32_t record_slot(const mc_storage_t *st, uint8_t kind, uint32_t len)
{
    uint32_t lens[MC_MAX_CIRCUITS];
    const unsigned n = record_lens(kind, lens);
    for (unsigned i = 0; i < n; i++) {
        if (lens[i] == len) {
            return slot_of_len(st, len);
        }
    }
    return 0;
}

/* The config and history parts as they are in RAM now. */
static void conf_now(mc_storage_t *st, conf_parts_t *c)
{
    const mc_tariff_config_t *tc = &st->tariff->cfg;
    memset(c, 0, sizeof(*c));
    c->meta.sealed = st->model->sealed;
    c->meta.settle_day = tc->settle_day;
    c->meta.settle_hour = tc->settle_hour;
    c->meta.active_combination = (uint8_t)tc->active_combination;
    c->meta.reactive_combination = (uint8_t)tc->reactive_combination;
    c->meta.demand_window_min = tc->demand_window_min;
    c->meta.demand_subinterval_min = tc->demand_subinterval_min;
    c->meta.relay = (uint8_t)(st->model->relay_closed ? RELAY_CLOSED : RELAY_OPEN);
    c->params = &st->model->params;
    c->cal = &st->meter->cal;
    c->sched = &st->tariff->schedule;
    c->ext.code_checksum = st->code_checksum;
}

static void hist_now(mc_storage_t *st, hist_parts_t *h, uint32_t flags)
{
    memset(h, 0, sizeof(*h));
    h->meta.gen = st->gen;
    h->meta.last_settlement = st->tariff->last_settlement;
    h->meta.max_demand_p = st->tariff->max_demand_p;
    h->meta.max_demand_at = st->tariff->max_demand_p_at;
    h->meta.flags = flags;
    h->month = st->tariff->month;
    h->history = st->tariff->history;
}

static uint64_t energy_sum(const mc_storage_t *st)
{
    uint64_t sum = 0;
    for (int k = 0; k < MC_E_COUNT; k++) {
        sum += st->meter->energy.q[k];
    }
    return sum;
}

/*
 * Save energy. With @p pending (a window the meter has counted but the tariff
 * has not booked yet), the meter's registers are saved without it, so that the
 * record is one consistent state; the elements' registers too, when the window
 * is the meter's last (else they are saved as they stand).
 */
static int save_energy_state(mc_storage_t *st, mc_time_t now, const mc_reading_t *pending)
{
    energy_meta_t meta = {st->gen, now, st->tariff->last_settlement, 0};
    mc_energy_t e = st->meter->energy;
    if (pending != NULL) {
        for (int k = 0; k < MC_E_COUNT; k++) {
            e.q[k] -= pending->delta.q[k] <= e.q[k] ? pending->delta.q[k] : e.q[k];
        }
    }
    demand_rec_t d;
    demand_from_tariff(st->tariff, &d);
    elements_head_t eh = {record_elements(st->meter), (uint32_t)st->meter->cfg.wiring};
    elements_src_t src = {st->meter, pending != NULL && is_last_window(st->meter, pending)};
    payload_t pl;
    energy_payload(st, &pl, &meta, e.q, &d, &eh, &src);
    int err = write_record(st, AREA_ENERGY, KIND_ENERGY, energy_minor(st->meter), &pl);
    if (err == MC_OK) {
        st->saved_energy_q = energy_sum(st);
        st->saved_at = now;
        st->energy_dirty = 0;
    }
    return err;
}

static int save_energy(mc_storage_t *st, mc_time_t now)
{
    return save_energy_state(st, now, NULL);
}

/*
 * Save a config record (REC_CONFIG) or a history record (REC_HISTORY, with its
 * generation flags) carrying the events of @p jr in its journal: they get their
 * sequence numbers and count in the record; once the record is durable they
 * are appended to their logs (should a cut come first, the mount appends them).
 * In a combined layout both are the one state record. With @p defer, the
 * events are left for the mount's replay (a first start writes every record
 * before any event). On success jr is emptied.
 */
static int save_journaled(mc_storage_t *st, unsigned rec, uint32_t flags, journal_t *jr, int defer, int *written)
{
    *written = 0;
    /* The tail as pieces: counters, journal header, the entries, zeros for the unused ones. */
    uint32_t counters[MC_AUDIT_COUNTERS];
    uint32_t jhead[3] = {jr->n > 0u ? st->seq + 1u : 0u, jr->n > 0u ? now_of(st) : 0u, jr->n};
    memcpy(counters, st->counters, sizeof(counters));
    for (unsigned i = 0; i < jr->n; i++) {
        count_event(counters, jr->e[i].type, jr->e[i].qty);
    }
    const int with_conf = rec == REC_CONFIG || st->combined;
    const int with_hist = rec == REC_HISTORY || st->combined;
    const uint32_t hflags = rec == REC_HISTORY ? flags : st->gen_flags;
    conf_parts_t c;
    hist_parts_t h;
    payload_t pl;
    memset(&pl, 0, sizeof(pl));
    if (with_conf) {
        conf_now(st, &c);
        add_conf(&pl, &c);
    }
    if (with_hist) {
        hist_now(st, &h, hflags);
        add_hist(&pl, &h);
    }
    add(&pl, counters, sizeof(counters));
    add(&pl, jhead, sizeof(jhead));
    add(&pl, jr->e, (uint32_t)(jr->n * sizeof(mc_storage_jentry_t)));
    add(&pl, NULL, (uint32_t)((MC_STORAGE_JOURNAL - jr->n) * sizeof(mc_storage_jentry_t)));
    /* A meter of several elements: its per-channel calibration in force, after the tail (minor 1). */
    const int with_poly = with_conf && poly_len(st->meter) != 0u;
    poly_head_t ph = poly_head_of(st->meter);
    if (with_poly) {
        add(&pl, &ph, sizeof(ph));
        add_fill(&pl, st->meter, (uint32_t)sizeof(mc_poly_calibration_t), poly_fill);
    }
    const unsigned ai = with_conf ? AREA_CONFIG : AREA_HISTORY;
    const uint8_t kind = st->combined ? KIND_STATE : (with_conf ? KIND_CONFIG : KIND_HISTORY);
    const int err = write_record(st, ai, kind, with_poly ? MINOR_ELEMENTS : MINOR_BASE, &pl);
    if (err != MC_OK) {
        return err;
    }
    *written = 1;
    if (with_conf) {
        st->params_crc = mc_crc32(0, &st->model->params, sizeof(st->model->params));
        st->config_dirty = 0;
    }
    if (with_hist) {
        st->saved_settlement = st->tariff->last_settlement;
        st->saved_frozen_at = st->tariff->history[0].frozen_at;
        st->gen_flags = hflags;
    }
    memcpy(st->counters, counters, sizeof(st->counters));
    st->seq += jr->n;
    int aerr = MC_OK;
    for (unsigned i = 0; i < jr->n && !defer; i++) {
        const mc_storage_jentry_t *j = &jr->e[i];
        const mc_event_t e = {jhead[0] + i, jhead[1], j->type, j->source, j->qty, j->arg, j->old_value,
                              j->new_value};
        const int e2 = append_event(st, &e);
        aerr = aerr == MC_OK ? e2 : aerr; /* the record holds it: the next mount appends it */
    }
    jr->n = 0;
    return aerr;
}

/*
 * Freezes made since the last history save (by mc_tariff_add, or by a clock set
 * through the model) and an energy clear: save history, then energy, one
 * generation on, with the FREEZE event and the events of @p jr in the history
 * record's journal. *wrote tells whether a history record was written.
 */
static int save_freezes(mc_storage_t *st, mc_time_t now, journal_t *jr, int *wrote)
{
    const int moved = st->tariff->last_settlement != st->saved_settlement;
    const mc_time_t frozen_at = st->tariff->history[0].frozen_at;
    const int froze = frozen_at != st->saved_frozen_at && frozen_at != 0u; /* a clear zeroes it */
    const int cleared = st->history_dirty;
    *wrote = 0;
    if (!moved && !froze && !cleared) {
        return MC_OK;
    }
    if (!froze && !cleared) {
        /* Only the settlement bookkeeping moved (new settlement day): no month changed. */
        return save_journaled(st, REC_HISTORY, st->gen_flags, jr, 0, wrote);
    }
    /* A new generation: history first, then energy. A clear is marked in the
     * history record so that a cut before the energy save still clears at mount. */
    const unsigned n0 = jr->n;
    if (froze) {
        jr_add(jr, MC_EV_FREEZE, MC_SRC_LOCAL, 0, 0, st->saved_settlement, st->tariff->last_settlement);
    }
    st->gen++;
    const int err = save_journaled(st, REC_HISTORY, cleared ? HISTORY_CLEARED : 0u, jr, 0, wrote);
    if (!*wrote) {
        st->gen--; /* not written: nothing of it happened on the NVM */
        jr->n = n0;
        return err;
    }
    st->history_dirty = 0;
    const int e2 = save_energy(st, now);
    return err != MC_OK ? err : e2;
}

/* Save the config record with the events of @p jr. In a combined layout a freeze or a
 * clear not saved yet goes first (it writes the state record, one generation on). */
static int save_config(mc_storage_t *st, journal_t *jr, int defer, int *written)
{
    if (st->combined) {
        const int err = save_freezes(st, now_of(st), jr, written);
        if (*written || err != MC_OK) {
            return err;
        }
    }
    return save_journaled(st, REC_CONFIG, 0, jr, defer, written);
}

/* ------------------------------------------------------------------------ */
/* Reading the logs                                                         */

/* Walks one log from its newest slot back: valid events in decreasing sequence,
 * and damaged ones (commit marker, CRC failing); torn and blank slots are skipped. */
typedef struct logit {
    const mc_storage_t *st;
    const mc_storage_area_t *a;
    uint32_t back;  /* slots visited */
    uint32_t prev;  /* sequence of the last valid event returned */
    int have_prev;
    int kind;       /* 0 end, 1 valid, 2 damaged */
    uint32_t key;   /* where it stands in the merged order */
    mc_event_t ev;
} logit_t;

static void logit_next(logit_t *it)
{
    const mc_storage_area_t *a = it->a;
    const uint32_t total = slots_total(a);
    it->kind = 0;
    if (a->newest_slot == NONE || total == 0u) {
        return;
    }
    while (it->back < total) {
        const uint32_t slot = (a->newest_slot + total - it->back) % total;
        it->back++;
        uint8_t img[MC_EVENT_SLOT_SIZE];
        if (nvm_read(it->st, slot_sector(a, slot), slot_offset(a, slot), img, sizeof(img)) != MC_OK) {
            continue;
        }
        mc_event_t ev;
        if (event_from_image(img, &ev) == MC_OK) {
            if (it->have_prev && ev.seq >= it->prev) {
                continue; /* not in order: not part of this log */
            }
            it->kind = 1;
            it->ev = ev;
            it->key = ev.seq;
            it->prev = ev.seq;
            it->have_prev = 1;
            return;
        }
        if (has_marker(it->st, a, slot)) {
            /* A damaged event: it was older than the last one returned. */
            it->kind = 2;
            it->key = it->have_prev ? it->prev - 1u : 0u;
            return;
        }
    }
}

static void logit_init(logit_t *it, const mc_storage_t *st, unsigned ai)
{
    memset(it, 0, sizeof(*it));
    it->st = st;
    it->a = &st->area[ai];
    logit_next(it);
}

/* Entries (valid and damaged) of one log as the walk gives them: at mount and when a wrap erased a sector. */
static uint32_t count_log(const mc_storage_t *st, unsigned ai)
{
    logit_t it;
    uint32_t n = 0;
    for (logit_init(&it, st, ai); it.kind != 0; logit_next(&it)) {
        n++;
    }
    return n;
}

/*
 * The index-th event (0 newest) of the merged logs (audit_only 0) or of the
 * audit log. An index past the end costs no read (the counts are kept); the
 * last event read is cached, so that the event registers' 12 reads of one
 * selected event cost one walk.
 */
static int walk(const mc_storage_t *st, int audit_only, uint32_t index, mc_event_t *out, unsigned *count)
{
    const uint32_t n = st->log_count[1] + (audit_only ? 0u : st->log_count[0]);
    if (index >= n) {
        return MC_ERR_NODATA;
    }
    mc_storage_evcache_t *c = st->cache_rw == &st->cache ? st->cache_rw : NULL;
    if (c != NULL && c->valid && c->appends == st->appends && c->index == index &&
        c->audit_only == (uint8_t)audit_only) {
        /* The same slot, read again (one read): a hit only if it still says the same. */
        const mc_storage_area_t *ar = &st->area[c->area];
        uint8_t img[MC_EVENT_SLOT_SIZE];
        mc_event_t ev;
        if (nvm_read(st, slot_sector(ar, c->slot), slot_offset(ar, c->slot), img, sizeof(img)) == MC_OK) {
            const int now_rc = event_from_image(img, &ev);
            if (now_rc == c->rc && (now_rc != MC_OK || memcmp(&ev, &c->ev, sizeof(ev)) == 0)) {
                if (c->rc == MC_OK) {
                    *out = c->ev;
                }
                return c->rc;
            }
        }
        c->valid = 0;
    }
    uint32_t where = 0;
    const int rc = walk_slots(st, audit_only, index, out, count, &where);
    if (c != NULL && (rc == MC_OK || rc == MC_ERR_CORRUPT)) {
        c->valid = 1;
        c->appends = st->appends;
        c->index = index;
        c->audit_only = (uint8_t)audit_only;
        c->area = (uint8_t)(where >> 24);
        c->slot = where & 0xFFFFFFu;
        c->rc = rc;
        if (rc == MC_OK) {
            c->ev = *out;
        }
    }
    return rc;
}

/* The walk itself: the index-th entry, or with index UINT32_MAX the count into *count. */
static int walk_slots(const mc_storage_t *st, int audit_only, uint32_t index, mc_event_t *out, unsigned *count,
                      uint32_t *where)
{
    logit_t o, a;
    logit_init(&a, st, AREA_AUDIT);
    if (audit_only) {
        memset(&o, 0, sizeof(o));
    } else {
        logit_init(&o, st, AREA_EVENTS);
    }
    uint32_t i = 0;
    for (;;) {
        logit_t *x;
        if (o.kind == 0 && a.kind == 0) {
            break;
        }
        if (o.kind == 0) {
            x = &a;
        } else if (a.kind == 0) {
            x = &o;
        } else if (o.key != a.key) {
            x = o.key > a.key ? &o : &a;
        } else {
            x = o.kind == 1 ? &o : &a; /* a damaged one after the valid one of the same key */
        }
        if (i == index) {
            const uint32_t total = slots_total(x->a);
            *where = (uint32_t)(x->a - st->area) << 24 | (x->a->newest_slot + total - (x->back - 1u)) % total;
            if (x->kind == 1) {
                *out = x->ev;
                return MC_OK;
            }
            return MC_ERR_CORRUPT;
        }
        i++;
        logit_next(x);
    }
    if (count != NULL) {
        *count = i;
    }
    return MC_ERR_NODATA;
}

int mc_storage_event_read(const mc_storage_t *st, unsigned index, mc_event_t *out)
{
    if (st == NULL || out == NULL || !st->mounted || index == UINT32_MAX) {
        return MC_ERR_INVAL;
    }
    return walk(st, 0, index, out, NULL);
}

unsigned mc_storage_event_count(const mc_storage_t *st)
{
    return st != NULL && st->mounted ? st->log_count[0] + st->log_count[1] : 0u;
}

int mc_storage_audit_read(const mc_storage_t *st, unsigned index, mc_event_t *out)
{
    if (st == NULL || out == NULL || !st->mounted || index == UINT32_MAX) {
        return MC_ERR_INVAL;
    }
    return walk(st, 1, index, out, NULL);
}

unsigned mc_storage_audit_count(const mc_storage_t *st)
{
    return st != NULL && st->mounted ? st->log_count[1] : 0u;
}

int mc_storage_audit_counter(const mc_storage_t *st, unsigned which, uint32_t *out)
{
    if (st == NULL || out == NULL || !st->mounted || which >= MC_AUDIT_COUNTERS) {
        return MC_ERR_INVAL;
    }
    *out = st->counters[which];
    return MC_OK;
}

/* ------------------------------------------------------------------------ */
/* Changes, commit and the main loop                                        */

int mc_storage_log(mc_storage_t *st, const mc_event_t *ev)
{
    if (st == NULL || ev == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    return log_now(st, ev->type, ev->source, ev->qty, ev->arg, ev->old_value, ev->new_value);
}

void mc_storage_auth_event(void *ctx, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s)
{
    mc_storage_t *st = (mc_storage_t *)ctx;
    if (st == NULL || !st->mounted) {
        return;
    }
    const uint8_t source = iface == MC_IFACE_PANEL ? MC_SRC_PANEL : (iface == MC_IFACE_LOCAL ? MC_SRC_LOCAL : MC_SRC_BUS);
    (void)log_now(st, MC_EV_AUTH, source, (uint8_t)what, (uint8_t)iface, count, lockout_s);
}

int mc_storage_auth_restore(const mc_storage_t *st, unsigned iface, uint32_t *wrong)
{
    if (st == NULL || wrong == NULL || !st->mounted || iface > 255u) {
        return MC_ERR_INVAL;
    }
    /* The ordinary log, newest first, at most once over (the walk stops at its end). */
    logit_t it;
    for (logit_init(&it, st, AREA_EVENTS); it.kind != 0; logit_next(&it)) {
        const mc_event_t *ev = &it.ev;
        if (it.kind == 1 && ev->type == MC_EV_AUTH && ev->arg == iface &&
            (ev->qty == MC_AUTH_WRONG || ev->qty == MC_AUTH_LOCKOUT)) {
            const mc_time_t now = now_of(st);
            const uint32_t days = now > ev->time ? (now - ev->time) / 86400u : 0u;
            *wrong = ev->old_value > days ? ev->old_value - days : 0u;
            return MC_OK;
        }
    }
    return MC_ERR_NODATA;
}

/* Which record makes a change durable. */
enum { BIND_CONFIG = 0, BIND_HISTORY = 1, BIND_NONE = 2 };

static unsigned binding(const mc_storage_jentry_t *e)
{
    if (e->type == MC_EV_ENERGY_CLEAR) {
        return BIND_HISTORY;
    }
    if (e->type == MC_EV_CLOCK_SET) {
        return BIND_NONE; /* the clock is not kept here: the event rides along */
    }
    return BIND_CONFIG;
}

void mc_storage_param_changed(void *ctx, mc_qty qty, unsigned arg, uint32_t old_value, uint32_t new_value,
                              mc_source source)
{
    mc_storage_t *st = (mc_storage_t *)ctx;
    if (st == NULL || !st->mounted) {
        return;
    }
    uint8_t type = MC_EV_PARAM;
    switch (qty) {
    case MC_QTY_CLEAR_ENERGY:
        type = MC_EV_ENERGY_CLEAR;
        st->energy_dirty = 1;
        st->history_dirty = 1; /* the clear empties the history too */
        break;
    case MC_QTY_CLOCK:
        type = MC_EV_CLOCK_SET;
        break;
    case MC_QTY_CAL:
    case MC_QTY_SEAL:
    case MC_QTY_CAL_CH_GAIN:
    case MC_QTY_CAL_CH_PHASE:
    case MC_QTY_CAL_EL_P_OFFSET:
    case MC_QTY_CAL_EL_Q_OFFSET:
        type = MC_EV_CALIBRATION;
        st->config_dirty = 1;
        break;
    case MC_QTY_RELAY:
        type = MC_EV_RELAY;
        st->config_dirty = 1; /* the config record keeps the relay state, with the event in its journal */
        break;
    default:
        st->config_dirty = 1;
        break;
    }
    if (st->model->hooks.commit == NULL || st->queued >= QUEUE_MAX) {
        /* No commit will come (or too many changes at once): logged now, saved at the next poll. */
        (void)log_now(st, type, (uint8_t)source, (uint8_t)qty, (uint8_t)arg, old_value, new_value);
        return;
    }
    mc_storage_jentry_t *e = &st->queue[st->queued++];
    e->type = type;
    e->source = (uint8_t)source;
    e->qty = (uint8_t)qty;
    e->arg = (uint8_t)arg;
    e->old_value = old_value;
    e->new_value = new_value;
}

/* Whether a freeze, a settlement move or an energy clear waits for its history record. */
static int history_pending(const mc_storage_t *st)
{
    const mc_time_t frozen_at = st->tariff->history[0].frozen_at;
    return st->history_dirty || st->tariff->last_settlement != st->saved_settlement ||
           (frozen_at != st->saved_frozen_at && frozen_at != 0u);
}

/* The queued events of the bindings in @p mask (bits of BIND_*) not done yet, into a journal. */
static uint32_t pick(const mc_storage_t *st, unsigned mask, uint32_t done, journal_t *jr)
{
    uint32_t picked = 0;
    jr->n = 0;
    for (unsigned i = 0; i < st->queued; i++) {
        if (!(done & (1u << i)) && (mask & (1u << binding(&st->queue[i])))) {
            jr->e[jr->n++] = st->queue[i];
            picked |= 1u << i;
        }
    }
    return picked;
}

/*
 * The queued changes, durable: first a freeze or an energy clear (history record
 * with their events, then energy), then the config record with the events of
 * the changes it holds (the relay state too). Events without a record of their own (clock set)
 * ride on the first record written; an audit one (clock set) always gets one,
 * so that its counter is saved with it. History goes first so that a cut
 * between the two never leaves a settlement rule or a clock set ahead of the
 * freeze it made. In a combined layout it is all one record. Events that did
 * not become durable stay queued.
 */
static int commit_now(mc_storage_t *st)
{
    const mc_time_t now = now_of(st);
    journal_t jr;
    uint32_t done = 0, picked;
    int err = MC_OK, wrote = 0;
    if (st->combined) {
        picked = pick(st, 7u, done, &jr);
        if (st->config_dirty || jr.n != 0u || history_pending(st)) {
            err = save_config(st, &jr, 0, &wrote);
            done |= wrote ? picked : 0u;
        }
    } else {
        uint32_t clears = pick(st, 1u << BIND_HISTORY, done, &jr);
        if (history_pending(st) || clears != 0u) {
            picked = pick(st, (1u << BIND_HISTORY) | (1u << BIND_NONE), done, &jr);
            if (history_pending(st)) {
                err = save_freezes(st, now, &jr, &wrote);
            } else {
                /* A clear of a commit that failed, saved since by a window: its event still needs a record. */
                err = save_journaled(st, REC_HISTORY, st->gen_flags, &jr, 0, &wrote);
            }
            done |= wrote ? picked : 0u;
        }
        int need_config = st->config_dirty;
        for (unsigned i = 0; i < st->queued; i++) {
            const unsigned b = binding(&st->queue[i]);
            need_config |= !(done & (1u << i)) &&
                           (b == BIND_CONFIG || (b == BIND_NONE && is_audit(st->queue[i].type, st->queue[i].qty)));
        }
        if (err == MC_OK && need_config) {
            picked = pick(st, (1u << BIND_CONFIG) | (1u << BIND_NONE), done, &jr);
            err = save_journaled(st, REC_CONFIG, 0, &jr, 0, &wrote);
            done |= wrote ? picked : 0u;
        }
        for (unsigned i = 0; i < st->queued && err == MC_OK; i++) {
            const mc_storage_jentry_t *j = &st->queue[i];
            if (!(done & (1u << i)) && binding(j) == BIND_NONE) {
                /* No record to carry it: appended as it is. */
                err = log_now(st, j->type, j->source, j->qty, j->arg, j->old_value, j->new_value);
                done |= err == MC_OK ? 1u << i : 0u;
            }
        }
    }
    unsigned keep = 0;
    for (unsigned i = 0; i < st->queued; i++) {
        if (!(done & (1u << i))) {
            st->queue[keep++] = st->queue[i];
        }
    }
    st->queued = (uint8_t)keep;
    if (err == MC_OK && keep != 0u) {
        err = MC_ERR_IO; /* an energy clear whose history record could not be written */
    }
    if (st->energy_dirty) {
        const int e4 = save_energy(st, now);
        err = err != MC_OK ? err : e4;
    }
    return err;
}

int mc_storage_commit(void *ctx)
{
    mc_storage_t *st = (mc_storage_t *)ctx;
    if (st == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    const int err = commit_now(st);
    flush_reports(st);
    return err;
}

int mc_storage_window(mc_storage_t *st, mc_time_t now, const mc_reading_t *reading)
{
    if (st == NULL || reading == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    int err;
    const mc_time_t next = mc_tariff_next_settlement(st->tariff);
    const int freeze_due = next != 0u && now >= next && now <= MC_TIME_MAX;
    if (freeze_due && (err = save_energy_state(st, now, reading)) != MC_OK) {
        flush_reports(st);
        return err; /* the month as it stands before the freeze (and before this window) */
    }
    const mc_time_t before = st->tariff->last_time;
    const int events = mc_tariff_add(st->tariff, now, reading);
    if (events < 0) {
        return events;
    }
    journal_t jr;
    jr.n = 0;
    int wrote;
    if ((err = save_freezes(st, now, &jr, &wrote)) != MC_OK) {
        flush_reports(st);
        return err;
    }
    if (events & MC_TEV_CLOCK_BACKWARD) {
        (void)log_now(st, MC_EV_CLOCK_BACKWARD, MC_SRC_LOCAL, 0, 0, before, now);
    }
    const uint64_t quantum = (uint64_t)st->cfg.save_quantum_wh * MC_ENERGY_QUANTA_PER_WH;
    const uint64_t grown = energy_sum(st) - st->saved_energy_q;
    const int by_time = st->cfg.save_period_s != 0u && now >= st->saved_at + st->cfg.save_period_s;
    if (grown >= quantum || by_time || st->energy_dirty) {
        err = save_energy(st, now);
    }
    flush_reports(st);
    return err != MC_OK ? err : events;
}

static void check_integrity(mc_storage_t *st)
{
    mc_model_t *md = st->model;
    const uint32_t crc = mc_crc32(0, &md->params, sizeof(md->params));
    if (crc != st->params_crc && !(md->errors & MC_ERROR_PARAMS_CRC)) {
        md->errors |= MC_ERROR_PARAMS_CRC;
        (void)log_now(st, MC_EV_INTEGRITY, MC_SRC_LOCAL, 0, 0, st->params_crc, crc);
    }
    if (mc_calibration_check(&st->meter->cal) != MC_OK && !(md->errors & MC_ERROR_CAL_CRC)) {
        md->errors |= MC_ERROR_CAL_CRC;
        (void)log_now(st, MC_EV_INTEGRITY, MC_SRC_LOCAL, 0, 1, st->meter->cal.crc,
                      mc_crc32(0, &st->meter->cal, offsetof(mc_calibration_t, crc)));
    }
}

/* Everything pending: changes not committed, freezes, config, energy after a clear. */
static int save_pending(mc_storage_t *st, mc_time_t now)
{
    int err = MC_OK, wrote;
    if (st->queued != 0u && (err = commit_now(st)) != MC_OK) {
        return err;
    }
    journal_t jr;
    jr.n = 0;
    if ((err = save_freezes(st, now, &jr, &wrote)) != MC_OK) {
        return err;
    }
    if (st->config_dirty && (err = save_config(st, &jr, 0, &wrote)) != MC_OK) {
        return err;
    }
    if (st->energy_dirty && (err = save_energy(st, now)) != MC_OK) {
        return err;
    }
    return MC_OK;
}

int mc_storage_poll(mc_storage_t *st, mc_time_t now)
{
    if (st == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    const int err = save_pending(st, now);
    if (now < st->last_check || now >= st->last_check + st->cfg.integrity_period_s) {
        st->last_check = now;
        check_integrity(st);
    }
    flush_reports(st);
    return err;
}

int mc_storage_power_fail(mc_storage_t *st, mc_time_t now)
{
    if (st == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    /* Energy first (what matters most if the power runs out mid-way), then anything
     * pending: changes, a freeze or clear not saved yet (it saves energy again), parameters. */
    int err = save_energy(st, now);
    if (err == MC_OK) {
        err = save_pending(st, now);
    }
    (void)log_now(st, MC_EV_POWER_DOWN, MC_SRC_LOCAL, 0, 0, 0, now);
    flush_reports(st);
    return err;
}

/* ------------------------------------------------------------------------ */
/* Mount: finding the newest valid and sane record of each area             */

typedef struct found {
    uint32_t slot;       /* newest valid and sane slot or NONE */
    uint32_t seq;        /* its sequence */
    uint32_t bad_seq;    /* the highest sequence a damaged slot or an insane record claims (0: none) */
    uint16_t len;        /* its payload length */
    uint8_t minor;       /* its format minor */
    uint8_t kind;        /* its kind */
    uint8_t newer_bad;   /* a damaged slot (or an insane record) claims a later sequence */
    uint8_t wrong_major; /* a valid record of another major format exists */
    uint8_t insane;      /* a record of ours (valid CRC) failed the range checks */
} found_t;

/* Sequential reads of a record's payload. */
typedef struct rd {
    const mc_storage_t *st;
    uint32_t sector, base, len, pos;
    int err;
} rd_t;

/* The next n bytes: 1 read, 0 beyond a shorter (older minor) payload (buf untouched). */
static int rd_next(rd_t *r, void *buf, uint32_t n)
{
    const uint32_t pos = r->pos;
    r->pos += n;
    if (pos + n > r->len) {
        return 0;
    }
    if (nvm_read(r->st, r->sector, r->base + pos, buf, n) != MC_OK) {
        r->err = 1;
        return 0;
    }
    return 1;
}

static int time_ok(uint32_t t)
{
    return t <= MC_TIME_MAX;
}

/* A power in W (VA), or energy in W*s: finite, not negative, below 10^12. */
static int power_ok(float f)
{
    return f >= 0.0f && f <= 1e12f;
}

/* Energy counters: none so large that a sum of them could overflow. */
static int quanta_ok(rd_t *r, unsigned n)
{
    uint64_t v[8];
    while (n > 0u) {
        const unsigned k = n < 8u ? n : 8u;
        if (rd_next(r, v, (uint32_t)(k * sizeof(uint64_t)))) {
            for (unsigned i = 0; i < k; i++) {
                if (v[i] > MC_STORAGE_QUANTA_MAX) {
                    return 0;
                }
            }
        }
        n -= k;
    }
    return 1;
}

/* The longest demand sub-interval (the window is at most 60 min): the running one, under way at
 * MC_TIME_MAX at the latest, ends at most this much after it (the tariff saves MC_TIME_MAX + 1 there). */
#define DEMAND_SUB_MAX_S 3600u

static int demand_ok(const demand_rec_t *d)
{
    if (d->slots < 1u || d->slots > MC_DEMAND_MAX_SLOTS || d->slots_used > d->slots || d->slot_index >= d->slots ||
        d->valid > 1u || d->partial > 1u || d->slot_end > MC_TIME_MAX + DEMAND_SUB_MAX_S || !time_ok(d->max_p_at) ||
        !power_ok(d->cur_p) || !power_ok(d->cur_s) || !power_ok(d->demand_p) || !power_ok(d->demand_s) ||
        !power_ok(d->max_p)) {
        return 0;
    }
    for (unsigned k = 0; k < MC_DEMAND_MAX_SLOTS; k++) {
        if (!power_ok(d->slot_p[k]) || !power_ok(d->slot_s[k])) {
            return 0;
        }
    }
    return 1;
}

static int energy_sane(rd_t *r)
{
    energy_meta_t m;
    if (rd_next(r, &m, sizeof(m)) && (!time_ok(m.time) || !time_ok(m.last_settlement) || m.flags != 0u)) {
        return 0;
    }
    if (!quanta_ok(r, MC_E_COUNT + 2u * MC_TARIFF_RATES * MC_TK_COUNT)) {
        return 0;
    }
    demand_rec_t d;
    if (rd_next(r, &d, sizeof(d)) && !demand_ok(&d)) {
        return 0;
    }
    /* The elements' block (minor 1), whole: it is written whole or not at all. */
    elements_head_t eh = {0u, 0u};
    if (rd_next(r, &eh, sizeof(eh))) {
        if (eh.count < 2u || eh.count > MC_MAX_CIRCUITS || eh.wiring > (uint32_t)MC_WIRING_MULTI ||
            r->len - r->pos < eh.count * (uint32_t)sizeof(mc_energy_t)) {
            return 0;
        }
        if (!quanta_ok(r, eh.count * MC_E_COUNT)) {
            return 0;
        }
    }
    return 1;
}

static int conf_sane(rd_t *r)
{
    config_meta_t m;
    if (rd_next(r, &m, sizeof(m)) &&
        (m.sealed > 1u || m.settle_day < 1u || m.settle_day > 28u || m.settle_hour > 23u ||
         m.active_combination > (uint8_t)MC_COMBINE_IMPORT_ONLY ||
         m.reactive_combination > (uint8_t)MC_COMBINE_IMPORT_ONLY || m.demand_window_min < 1u ||
         m.demand_window_min > 60u || m.demand_subinterval_min < 1u ||
         m.demand_window_min % m.demand_subinterval_min != 0u ||
         m.demand_window_min / m.demand_subinterval_min > MC_DEMAND_MAX_SLOTS || m.relay > RELAY_CLOSED)) {
        return 0;
    }
    mc_params_t p;
    if (rd_next(r, &p, sizeof(p)) && mc_params_check(&p) != MC_OK) {
        return 0;
    }
    mc_calibration_t c;
    if (rd_next(r, &c, sizeof(c)) && mc_calibration_check(&c) != MC_OK) {
        return 0;
    }
    mc_tariff_schedule_t s;
    if (rd_next(r, &s, sizeof(s)) && mc_tariff_schedule_check(&s) != MC_OK) {
        return 0;
    }
    config_ext_t x;
    if (rd_next(r, &x, sizeof(x)) && (x.reserved[0] | x.reserved[1] | x.reserved[2]) != 0u) {
        return 0;
    }
    return 1;
}

static int hist_sane(rd_t *r)
{
    history_meta_t m;
    const int have_meta = rd_next(r, &m, sizeof(m));
    if (have_meta && (!time_ok(m.last_settlement) || !power_ok(m.max_demand_p) || !time_ok(m.max_demand_at) ||
                      (m.flags & ~HISTORY_CLEARED) != 0u)) {
        return 0;
    }
    if (!quanta_ok(r, MC_TARIFF_RATES * MC_TK_COUNT)) {
        return 0;
    }
    /* Frozen months newest first, strictly older each, none after the last settlement
     * point; then empty months, all zero. */
    mc_time_t prev = have_meta ? m.last_settlement : MC_TIME_MAX;
    int empty = 0;
    for (unsigned k = 0; k < MC_TARIFF_HISTORY_MONTHS; k++) {
        mc_tariff_month_t h;
        if (!rd_next(r, &h, sizeof(h))) {
            continue;
        }
        if (h.frozen_at == 0u) {
            mc_tariff_month_t zero;
            memset(&zero, 0, sizeof(zero));
            if (memcmp(&h, &zero, sizeof(h)) != 0) {
                return 0;
            }
            empty = 1;
            continue;
        }
        if (empty || !time_ok(h.frozen_at) || h.frozen_at > prev || (k > 0u && h.frozen_at == prev) ||
            !power_ok(h.max_demand_w) || !time_ok(h.max_demand_at)) {
            return 0;
        }
        prev = h.frozen_at;
    }
    return 1;
}

static int tail_sane(rd_t *r)
{
    tail_t t;
    if (!rd_next(r, &t, sizeof(t))) {
        return 1;
    }
    if (t.jcount > MC_STORAGE_JOURNAL) {
        return 0;
    }
    if (t.jcount > 0u && (!time_ok(t.jtime) || t.jseq == 0u || t.jseq > SEQ_MAX - (t.jcount - 1u))) {
        return 0;
    }
    for (unsigned i = 0; i < t.jcount; i++) {
        if (t.j[i].type < MC_EV_POWER_UP || t.j[i].type > MC_EV_FORMAT) {
            return 0;
        }
    }
    return 1;
}

/* The per-channel calibration block after the tail (minor 1), if the record has one: whole, the head a
 * frame layout of several elements, the calibration passing mc_poly_calibration_check(). */
static int poly_sane(rd_t *r)
{
    if (r->pos >= r->len) {
        return 1; /* none: a record of 2.0, or of a single-element meter */
    }
    poly_head_t h;
    mc_poly_calibration_t c;
    if (r->len - r->pos < POLY_BLOCK_LEN || !rd_next(r, &h, sizeof(h)) || !rd_next(r, &c, sizeof(c))) {
        return 0;
    }
    return h.wiring <= (uint8_t)MC_WIRING_MULTI && h.channels >= 2u && h.channels <= MC_MAX_CHANNELS &&
           h.elements >= 2u && h.elements <= MC_MAX_CIRCUITS && h.reserved == 0u && h.reserved2 == 0u &&
           mc_poly_calibration_check(&c) == MC_OK;
}

/* Range checks of a record's values, as a bus write would make them. */
static int record_sane(const mc_storage_t *st, const mc_storage_area_t *a, const found_t *f)
{
    rd_t r = {st, slot_sector(a, f->slot), slot_offset(a, f->slot) + HEADER_SIZE, f->len, 0, 0};
    int ok;
    switch (f->kind) {
    case KIND_ENERGY:
        ok = energy_sane(&r);
        break;
    case KIND_HISTORY:
        ok = hist_sane(&r) && tail_sane(&r);
        break;
    case KIND_CONFIG:
        ok = conf_sane(&r) && tail_sane(&r) && poly_sane(&r);
        break;
    default:
        ok = conf_sane(&r) && hist_sane(&r) && tail_sane(&r) && poly_sane(&r);
        break;
    }
    return ok && !r.err;
}

/* Whether a record of @p kind and payload length @p len is taken at the slots of @p a: a record of ours is
 * taken at the slots of its own size only, so that it is found once whatever sizes the area holds
 * (scan_sized()); a length none of ours has (damage, an earlier build) at the area's own slots only
 * (@p exact 0), as it always was. */
static int at_own_size(const mc_storage_t *st, const mc_storage_area_t *a, uint8_t kind, uint32_t len, int exact)
{
    const uint32_t size = record_slot(st, kind, len);
    return size == a->slot_size || (size == 0u && !exact);
}

/* Check one record slot's header and CRC; returns 1 valid (and keeps it if newest below limit). With
 * @p exact, only records of ours whose length gives @p a's slot size (see at_own_size()). */
static int check_slot(const mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot, uint8_t kind,
                      uint32_t limit, int exact, found_t *f, uint32_t *bad_seq)
{
    uint8_t h[HEADER_SIZE];
    const uint32_t sector = slot_sector(a, slot), base = slot_offset(a, slot);
    if (nvm_read(st, sector, base, h, HEADER_SIZE) != MC_OK) {
        return 0;
    }
    const uint32_t magic = (uint32_t)h[0] | (uint32_t)h[1] << 8;
    const uint32_t len = (uint32_t)h[6] | (uint32_t)h[7] << 8;
    uint32_t seq, crc;
    memcpy(&seq, h + 8, 4);
    memcpy(&crc, h + 12, 4);
    if (magic != MAGIC || h[2] != kind || len + HEADER_SIZE + marker_size(st) > a->slot_size || seq == 0u ||
        seq > SEQ_MAX) {
        return 0;
    }
    const int here = at_own_size(st, a, kind, len, exact);
    if (!here && h[3] == MC_STORAGE_FORMAT_MAJOR) {
        return 0; /* (of ours, but of another slot size: taken, or reported, at the slots of its own) */
    }
    uint32_t c = mc_crc32(0, h, 12);
    uint8_t buf[CHUNK];
    for (uint32_t pos = 0; pos < len; pos += CHUNK) {
        const uint32_t n = len - pos < CHUNK ? len - pos : CHUNK;
        if (nvm_read(st, sector, base + HEADER_SIZE + pos, buf, n) != MC_OK) {
            return 0;
        }
        c = mc_crc32(c, buf, n);
    }
    if (c != crc) {
        /* With its commit marker the record was once complete: corruption, which
         * counts if it claims to be newer; without, a save cut short: nothing to report. */
        if (here && has_marker(st, a, slot) && seq > *bad_seq) {
            *bad_seq = seq;
        }
        return 0;
    }
    if (h[3] != MC_STORAGE_FORMAT_MAJOR) {
        f->wrong_major = 1;
        return 0;
    }
    if (seq < limit && (f->slot == NONE || seq > f->seq)) {
        f->slot = slot;
        f->seq = seq;
        f->len = (uint16_t)len;
        f->minor = h[4];
        f->kind = kind;
    }
    return 1;
}

/* A slot's header, if it could be a record of ours of this kind and major at these slots: its sequence
 * (else 0). */
static uint32_t header_seq(const mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot, uint8_t kind,
                           int exact)
{
    uint8_t h[HEADER_SIZE];
    if (nvm_read(st, slot_sector(a, slot), slot_offset(a, slot), h, HEADER_SIZE) != MC_OK) {
        return 0;
    }
    const uint32_t magic = (uint32_t)h[0] | (uint32_t)h[1] << 8;
    const uint32_t len = (uint32_t)h[6] | (uint32_t)h[7] << 8;
    uint32_t seq;
    memcpy(&seq, h + 8, 4);
    if (magic != MAGIC || h[2] != kind || h[3] != MC_STORAGE_FORMAT_MAJOR ||
        len + HEADER_SIZE + marker_size(st) > a->slot_size || seq > SEQ_MAX || !at_own_size(st, a, kind, len, exact)) {
        return 0;
    }
    return seq;
}

/*
 * The newest valid and sane record of an area. An insane one (valid CRC, values
 * out of range) is treated as corrupt: every older copy is tried, newest first
 * (by sequence, then slot), until one is sane. The common case (the newest is
 * sane) costs one pass; each older candidate one pass over the headers.
 */
static void scan_area(const mc_storage_t *st, const mc_storage_area_t *a, uint8_t kind, int exact, found_t *f)
{
    memset(f, 0, sizeof(*f));
    f->slot = NONE;
    uint32_t bad_seq = 0, insane_seq = 0;
    const uint32_t total = slots_total(a);
    for (uint32_t slot = 0; slot < total; slot++) {
        (void)check_slot(st, a, slot, kind, UINT32_MAX, exact, f, &bad_seq);
    }
    if (f->slot != NONE && !f->wrong_major && !record_sane(st, a, f)) {
        /* Older copies, newest first, below the last candidate. */
        uint32_t lim_seq = f->seq, lim_slot = f->slot;
        insane_seq = f->seq;
        f->insane = 1;
        for (;;) {
            uint32_t c_seq = 0, c_slot = NONE;
            for (uint32_t slot = 0; slot < total; slot++) {
                const uint32_t seq = header_seq(st, a, slot, kind, exact);
                /* (Equal sequences: the lower slot first, as check_slot() keeps the first it finds.) */
                const int below = seq < lim_seq || (seq == lim_seq && slot > lim_slot);
                if (seq != 0u && below && (c_slot == NONE || seq > c_seq || (seq == c_seq && slot < c_slot))) {
                    c_seq = seq;
                    c_slot = slot;
                }
            }
            if (c_slot == NONE) {
                f->slot = NONE;
                break;
            }
            found_t g;
            uint32_t ignored = 0;
            memset(&g, 0, sizeof(g));
            g.slot = NONE;
            if (check_slot(st, a, c_slot, kind, UINT32_MAX, exact, &g, &ignored) && g.slot == c_slot &&
                record_sane(st, a, &g)) {
                f->slot = g.slot;
                f->seq = g.seq;
                f->len = g.len;
                f->minor = g.minor;
                f->kind = g.kind;
                break;
            }
            lim_seq = c_seq;
            lim_slot = c_slot;
        }
    }
    if (insane_seq > bad_seq) {
        bad_seq = insane_seq;
    }
    /* Damage only counts if it claims to be newer than the newest good copy. */
    f->bad_seq = bad_seq;
    f->newer_bad = bad_seq != 0u && (f->slot == NONE || bad_seq > f->seq);
}

/*
 * The newest record of an area whose records have several slot sizes: energy (the slot size follows the
 * number of elements whose registers the record carries: none for a single-element meter and in format
 * 2.0, 2..16 for a meter of several elements) and config or state (with or without the per-channel
 * calibration of a meter of several elements). A memory written under another wiring holds records of
 * another size; after a change the ring goes on in the newest record's sector at the new size (in the
 * slots blank to the sector's end: ring_positions()), so records of several sizes share sectors. The
 * area is scanned at every slot size a record of ours of this kind can have (energy: 16 sizes at most,
 * one header read per slot each, at mount only), each record counting at the slots of its own length
 * only (at_own_size()), and the newest record of any size wins. Sequence numbers go on from that one,
 * so they stay unique across sizes and the newest is the last one written, whatever wiring wrote it.
 *
 * Going on inside a sector of another size is as safe as the ring itself: no byte is programmed twice
 * (only slots blank to the sector's end are used), the sector holding the newest record is not erased
 * while it does (area_write()), and a cut leaves the previous record or the new one, each found here
 * whatever its size. (Trying only the sizes of records at sectors' starts, as an earlier version did,
 * missed the records a changed wiring wrote inside a sector and restored a stale copy after a change
 * and back: review 15, F5.) *at describes the area at the winner's size, *other is 1 if that is not
 * this meter's.
 */
static void scan_sized(const mc_storage_t *st, unsigned ai, uint8_t kind, found_t *f, mc_storage_area_t *at,
                       int *other)
{
    const mc_storage_area_t *a = &st->area[ai];
    scan_area(st, a, kind, 0, f);
    *at = *a;
    *other = 0;
    uint32_t lens[MC_MAX_CIRCUITS], tried[MC_MAX_CIRCUITS];
    unsigned ntried = 0;
    const unsigned nlens = record_lens(kind, lens);
    for (unsigned i = 0; i < nlens; i++) {
        const uint32_t size = slot_of_len(st, lens[i]);
        int seen = size == a->slot_size || size > st->cfg.nvm.sector_size;
        for (unsigned k = 0; k < ntried && !seen; k++) {
            seen = tried[k] == size;
        }
        if (seen) {
            continue;
        }
        tried[ntried++] = size;
        mc_storage_area_t view = *a;
        view.slot_size = (uint16_t)size;
        view.slots_per_sector = (uint16_t)(st->cfg.nvm.sector_size / size);
        view.newest_slot = NONE;
        found_t g;
        scan_area(st, &view, kind, 1, &g);
        const uint32_t bad_seq = f->bad_seq > g.bad_seq ? f->bad_seq : g.bad_seq;
        const uint8_t wrong_major = (uint8_t)(f->wrong_major | g.wrong_major);
        const uint8_t insane = (uint8_t)(f->insane | g.insane);
        if (g.slot != NONE && (f->slot == NONE || g.seq > f->seq)) {
            *f = g;
            *at = view;
            *other = 1;
        }
        f->bad_seq = bad_seq;
        f->wrong_major = wrong_major;
        f->insane = insane;
        f->newer_bad = bad_seq != 0u && (f->slot == NONE || bad_seq > f->seq);
    }
}

/* Read a found record's payload into the pieces (a shorter, older-minor payload fills a prefix). */
static int load_payload(const mc_storage_t *st, const mc_storage_area_t *a, const found_t *f, const payload_t *pl)
{
    uint32_t pos = 0;
    const uint32_t sector = slot_sector(a, f->slot), base = slot_offset(a, f->slot) + HEADER_SIZE;
    for (unsigned i = 0; i < pl->n && pos < f->len; i++) {
        uint32_t n = pl->p[i].len;
        if (pos + n > f->len) {
            n = f->len - pos;
        }
        if (nvm_read(st, sector, base + pos, pl->p[i].ptr, n) != MC_OK) {
            return MC_ERR_IO;
        }
        pos += pl->p[i].len;
    }
    return MC_OK;
}

void mc_storage_config_default(mc_storage_config_t *cfg)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof(*cfg));
    cfg->save_quantum_wh = 10;
    cfg->save_period_s = 3600;
    cfg->integrity_period_s = 60;
    cfg->event_sectors = 0; /* derived from the geometry */
    cfg->audit_sectors = 0; /* derived from the geometry */
    cfg->new_meter = 0;     /* a memory that is not ours is refused */
}

static uint16_t round_up(uint32_t n, uint32_t unit)
{
    return (uint16_t)((n + unit - 1u) / unit * unit);
}

static int layout(mc_storage_t *st)
{
    const mc_nvm_t *nv = &st->cfg.nvm;
    if (nv->read == NULL || nv->prog == NULL || nv->erase == NULL || nv->sector_size < 1024u ||
        nv->sector_size > 65536u || nv->sector_count < 8u || nv->sector_count > 256u || nv->prog_size < 1u ||
        nv->prog_size > CHUNK || CHUNK % nv->prog_size != 0u || nv->sector_size % nv->prog_size != 0u ||
        (st->cfg.audit_sectors != 0u && st->cfg.audit_sectors < 2u)) {
        return MC_ERR_INVAL;
    }
    const uint32_t ms = marker_size(st);
    const uint32_t ev_slot = round_up(MC_EVENT_SLOT_SIZE, nv->prog_size) + ms;
    const uint32_t per = nv->sector_size / ev_slot;
    unsigned ev = st->cfg.event_sectors;
    if (ev == 0u) {
        /* 128 events, plus one sector that the ring erases when it wraps. */
        ev = (ORDINARY_EVENTS_WANTED + per - 1u) / per + 1u;
        ev = ev < 2u ? 2u : ev;
    }
    const unsigned want_audit = (AUDIT_EVENTS_WANTED + per - 1u) / per + 1u;
    /* (A meter of several elements: its energy records carry the elements' registers, its config and
     * state records the per-channel calibration; the areas' sectors do not depend on it.) */
    const uint32_t slot_len[5] = {
        slot_of_len(st, energy_len(record_elements(st->meter))),
        slot_of_len(st, hist_len() + (uint32_t)sizeof(tail_t)),
        slot_of_len(st, conf_record_len(0) + poly_len(st->meter)),
        slot_of_len(st, conf_record_len(1) + poly_len(st->meter)), /* state */
        ev_slot,
    };
    /* History and config get a third sector when there is room, so that one
     * failing sector does not stop them. Five areas of two sectors at least; on a
     * smaller memory history and config are one record in one area. */
    const unsigned small = nv->sector_count >= 16u ? 3u : 2u;
    unsigned combined = 0, left = 0;
    if (ev < 2u || ev > nv->sector_count) {
        return MC_ERR_INVAL;
    }
    if (2u * small + ev + 4u <= nv->sector_count) {
        left = nv->sector_count - 2u * small - ev;
    } else if (small + ev + 4u <= nv->sector_count && slot_len[3] <= nv->sector_size) {
        combined = 1;
        left = nv->sector_count - small - ev;
    } else {
        return MC_ERR_INVAL;
    }
    unsigned audit = st->cfg.audit_sectors;
    if (audit == 0u) {
        audit = want_audit < left / 2u ? want_audit : left / 2u;
        audit = audit < 2u ? 2u : audit;
    }
    if (audit + 2u > left) {
        return MC_ERR_INVAL;
    }
    st->combined = (uint8_t)combined;
    const unsigned sectors[AREA_COUNT] = {left - audit, combined ? 0u : small, small, ev, audit};
    const uint32_t sizes[AREA_COUNT] = {slot_len[0], slot_len[1], combined ? slot_len[3] : slot_len[2], ev_slot,
                                        ev_slot};
    unsigned first = 0;
    for (unsigned i = 0; i < AREA_COUNT; i++) {
        mc_storage_area_t *a = &st->area[i];
        a->first_sector = (uint16_t)first;
        a->sectors = (uint16_t)sectors[i];
        a->slot_size = (uint16_t)sizes[i];
        if (a->slot_size > nv->sector_size) {
            return MC_ERR_INVAL;
        }
        a->slots_per_sector = (uint16_t)(nv->sector_size / a->slot_size);
        a->newest_slot = NONE;
        first += sectors[i];
    }
    return MC_OK;
}

/* Whether the memory is blank: every byte erased, but for a first record cut short
 * (no commit marker) at the start of a core area (a first start cut by a power loss). */
static int memory_blank(const mc_storage_t *st)
{
    const mc_nvm_t *nv = &st->cfg.nvm;
    uint8_t buf[CHUNK];
    for (uint32_t sector = 0; sector < nv->sector_count; sector++) {
        uint32_t skip = 0;
        for (unsigned ai = AREA_ENERGY; ai <= AREA_CONFIG; ai++) {
            const mc_storage_area_t *a = &st->area[ai];
            if (a->sectors != 0u && a->first_sector == sector && !has_marker(st, a, 0)) {
                skip = a->slot_size;
            }
        }
        for (uint32_t pos = skip; pos < nv->sector_size; pos += CHUNK) {
            const uint32_t n = nv->sector_size - pos < CHUNK ? nv->sector_size - pos : CHUNK;
            if (nvm_read(st, sector, pos, buf, n) != MC_OK) {
                return 0;
            }
            for (uint32_t k = 0; k < n; k++) {
                if (buf[k] != nv->erase_value) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

/* Whether a sector begins with a record of ours of another major format (an older layout). */
static int other_major_anywhere(const mc_storage_t *st)
{
    for (uint32_t sector = 0; sector < st->cfg.nvm.sector_count; sector++) {
        mc_storage_area_t probe;
        memset(&probe, 0, sizeof(probe));
        probe.first_sector = (uint16_t)sector;
        probe.sectors = 1;
        probe.slots_per_sector = 1;
        probe.slot_size = (uint16_t)(st->cfg.nvm.sector_size > 65535u ? 65535u : st->cfg.nvm.sector_size);
        for (uint8_t kind = KIND_ENERGY; kind <= KIND_STATE; kind++) {
            found_t f;
            uint32_t bad = 0;
            memset(&f, 0, sizeof(f));
            f.slot = NONE;
            (void)check_slot(st, &probe, 0, kind, UINT32_MAX, 0, &f, &bad);
            if (f.wrong_major) {
                return 1;
            }
        }
    }
    return 0;
}

/* The newest valid event of a log area. */
static void scan_log(mc_storage_t *st, unsigned ai)
{
    mc_storage_area_t *a = &st->area[ai];
    for (uint32_t slot = 0; slot < slots_total(a); slot++) {
        uint8_t img[MC_EVENT_SLOT_SIZE];
        mc_event_t ev;
        if (nvm_read(st, slot_sector(a, slot), slot_offset(a, slot), img, sizeof(img)) == MC_OK &&
            event_from_image(img, &ev) == MC_OK && (a->newest_slot == NONE || ev.seq > a->seq)) {
            a->newest_slot = slot;
            a->seq = ev.seq;
        }
    }
}

/* Rings continue after the newest record: in the same sector if the slots after
 * it up to the sector's end are all blank (erased, never programmed: a byte is
 * never programmed twice), else at the next sector boundary, which is erased
 * before use. */
static void ring_positions(mc_storage_t *st)
{
    for (unsigned i = 0; i < AREA_COUNT; i++) {
        mc_storage_area_t *a = &st->area[i];
        if (a->sectors == 0u) {
            continue;
        }
        a->next_slot = a->newest_slot == NONE ? 0u
                                              : (a->newest_slot / a->slots_per_sector + 1u) * a->slots_per_sector;
        if (a->newest_slot != NONE) {
            const uint32_t end = a->next_slot;
            for (uint32_t slot = end; slot-- > a->newest_slot + 1u && slot_blank(st, a, slot);) {
                a->next_slot = slot;
            }
        }
    }
}

/* Journal entries of the newest records that are not in their logs yet: appended, in order. */
static int replay(mc_storage_t *st, const tail_t *t1, const tail_t *t2)
{
    unsigned i1 = 0, i2 = 0;
    int err = MC_OK;
    for (;;) {
        const tail_t *t;
        unsigned *pi;
        const int has1 = t1 != NULL && i1 < t1->jcount, has2 = t2 != NULL && i2 < t2->jcount;
        if (!has1 && !has2) {
            break;
        }
        if (has1 && (!has2 || t1->jseq + i1 <= t2->jseq + i2)) {
            t = t1;
            pi = &i1;
        } else {
            t = t2;
            pi = &i2;
        }
        const mc_storage_jentry_t *j = &t->j[*pi];
        const uint32_t seq = t->jseq + *pi;
        (*pi)++;
        const mc_storage_area_t *a = &st->area[is_audit(j->type, j->qty) ? AREA_AUDIT : AREA_EVENTS];
        if (a->newest_slot != NONE && a->seq >= seq) {
            continue; /* appended before the cut */
        }
        const mc_event_t e = {seq, t->jtime, j->type, j->source, j->qty, j->arg, j->old_value, j->new_value};
        const int e2 = append_event(st, &e);
        err = err == MC_OK ? e2 : err;
    }
    return err;
}

static uint32_t tail_last_seq(const tail_t *t)
{
    return t->jcount > 0u ? t->jseq + t->jcount - 1u : 0u;
}

/* The tail (counters, journal) of an area's newest record. */
static int load_tail(const mc_storage_t *st, unsigned ai, tail_t *t)
{
    const mc_storage_area_t *a = &st->area[ai];
    const uint32_t off = ai == AREA_HISTORY ? hist_len() : conf_len() + (st->combined ? hist_len() : 0u);
    if (a->newest_slot == NONE) {
        memset(t, 0, sizeof(*t));
        return MC_OK;
    }
    return nvm_read(st, slot_sector(a, a->newest_slot), slot_offset(a, a->newest_slot) + HEADER_SIZE + off, t,
                    sizeof(*t));
}

static mc_time_t later(mc_time_t a, mc_time_t b)
{
    return a > b ? a : b;
}

/* The time of a log's newest event (0: none). */
static mc_time_t newest_event_time(const mc_storage_t *st, unsigned ai)
{
    const mc_storage_area_t *a = &st->area[ai];
    uint8_t img[MC_EVENT_SLOT_SIZE];
    mc_event_t ev;
    if (a->newest_slot == NONE ||
        nvm_read(st, slot_sector(a, a->newest_slot), slot_offset(a, a->newest_slot), img, sizeof(img)) != MC_OK ||
        event_from_image(img, &ev) != MC_OK || !time_ok(ev.time)) {
        return 0;
    }
    return ev.time;
}

/* The latest time a clock set left (its old value) in the audit log or a journal not yet appended. */
static mc_time_t clock_set_from(const mc_storage_t *st, const tail_t *t1, const tail_t *t2)
{
    mc_time_t m = 0;
    logit_t it;
    for (logit_init(&it, st, AREA_AUDIT); it.kind != 0; logit_next(&it)) {
        if (it.kind == 1 && it.ev.type == MC_EV_CLOCK_SET && time_ok(it.ev.old_value)) {
            m = later(m, it.ev.old_value);
        }
    }
    const tail_t *t[2] = {t1, t2};
    for (unsigned k = 0; k < 2u; k++) {
        for (unsigned i = 0; i < t[k]->jcount && i < MC_STORAGE_JOURNAL; i++) {
            if (t[k]->j[i].type == MC_EV_CLOCK_SET && time_ok(t[k]->j[i].old_value)) {
                m = later(m, t[k]->j[i].old_value);
            }
        }
    }
    return m;
}

/*
 * The restored settlement point must not lie after every time the memory has seen: the clock now,
 * the energy record's time, the journals' and the logs' newest times, and (a clock set back leaves
 * the point ahead of the clock) the times clock sets came from. A record with a valid CRC and a
 * point up to 2099 (a forgery) would stop every settlement: the point goes back to the newest one
 * by those times; returns 0 then (flagged by the caller).
 */
static int settlement_plausible(mc_storage_t *st, mc_time_t energy_time, const tail_t *tc, const tail_t *th)
{
    mc_tariff_t *t = st->tariff;
    const mc_time_t now = now_of(st);
    mc_time_t bound = later(time_ok(now) ? now : MC_TIME_MAX, time_ok(energy_time) ? energy_time : 0u);
    bound = later(bound, later(tc->jcount != 0u ? tc->jtime : 0u, th->jcount != 0u ? th->jtime : 0u));
    bound = later(bound, later(newest_event_time(st, AREA_EVENTS), newest_event_time(st, AREA_AUDIT)));
    if (t->last_settlement <= bound) {
        return 1;
    }
    bound = later(bound, clock_set_from(st, tc, th)); /* only now: a walk of the audit log */
    if (t->last_settlement <= bound) {
        return 1;
    }
    t->last_settlement = mc_tariff_settlement_at_or_before(t, bound);
    return 0;
}

/* Erase every sector (a new meter asked for on a memory that is not ours). */
static int format_all(mc_storage_t *st)
{
    for (uint32_t sector = 0; sector < st->cfg.nvm.sector_count; sector++) {
        if (st->cfg.nvm.erase(st->cfg.nvm.context, sector) < 0) {
            return MC_ERR_IO;
        }
    }
    return MC_OK;
}

int mc_storage_mount(mc_storage_t *st, const mc_storage_config_t *cfg, mc_meter_t *meter, mc_tariff_t *tariff,
                     mc_model_t *model)
{
    if (st == NULL || cfg == NULL || meter == NULL || tariff == NULL || model == NULL) {
        return MC_ERR_INVAL;
    }
    memset(st, 0, sizeof(*st));
    st->cfg = *cfg;
    st->meter = meter;
    st->tariff = tariff;
    st->model = model;
    int err = layout(st);
    if (err != MC_OK) {
        return err;
    }
    /* 1. Find, without changing anything. */
    const uint8_t ckind = st->combined ? KIND_STATE : KIND_CONFIG;
    found_t f[3];
    mc_storage_area_t energy_at; /* the energy area at the slot size of the newest energy record */
    int energy_other;            /* that is not this meter's size (a 2.0 memory, another element count) */
    mc_storage_area_t config_at; /* the config area at the slot size of the newest config (state) record */
    int config_other;            /* that is not this meter's (with or without the per-channel calibration) */
    scan_sized(st, AREA_ENERGY, KIND_ENERGY, &f[AREA_ENERGY], &energy_at, &energy_other);
    if (!st->combined) {
        scan_area(st, &st->area[AREA_HISTORY], KIND_HISTORY, 0, &f[AREA_HISTORY]);
    } else {
        memset(&f[AREA_HISTORY], 0, sizeof(f[AREA_HISTORY]));
        f[AREA_HISTORY].slot = NONE;
    }
    scan_sized(st, AREA_CONFIG, ckind, &f[AREA_CONFIG], &config_at, &config_other);
    for (unsigned i = 0; i < 3u; i++) {
        if (f[i].wrong_major) {
            return MC_ERR_VERSION; /* nothing changed, nothing erased */
        }
    }
    scan_log(st, AREA_EVENTS);
    scan_log(st, AREA_AUDIT);
    const found_t *fh = st->combined ? &f[AREA_CONFIG] : &f[AREA_HISTORY];
    int have_e = f[AREA_ENERGY].slot != NONE, have_h = fh->slot != NONE, have_c = f[AREA_CONFIG].slot != NONE;
    int fresh = 0;
    /* An area that holds records of ours (valid CRC) of which none passes the range checks is
     * ours, damaged: it starts from its defaults, with the error flag and MC_EV_INTEGRITY
     * (newer_bad is set), rather than refusing the meter. */
    const int ours_e = have_e || f[AREA_ENERGY].insane, ours_h = have_h || fh->insane,
              ours_c = have_c || f[AREA_CONFIG].insane;
    if (!(have_e && have_h && have_c) && !(ours_e && ours_h && ours_c)) {
        /* Not a whole meter of ours: a first start (perhaps cut short), or refused. */
        const int logs_empty = st->area[AREA_EVENTS].newest_slot == NONE && st->area[AREA_AUDIT].newest_slot == NONE;
        int unfinished = (have_e || have_h || have_c) && logs_empty;
        for (unsigned i = 0; i < 3u; i++) {
            if (f[i].slot != NONE && f[i].seq != 1u) {
                unfinished = 0;
            }
            if (f[i].newer_bad) {
                unfinished = 0;
            }
        }
        if (other_major_anywhere(st)) {
            return MC_ERR_VERSION;
        }
        if (!unfinished) {
            if (!(have_e || have_h || have_c) && memory_blank(st)) {
                fresh = 1;
            } else if (cfg->new_meter) {
                if ((err = format_all(st)) != MC_OK) {
                    return err;
                }
                for (unsigned i = 0; i < 3u; i++) {
                    f[i].slot = NONE;
                    f[i].newer_bad = 0;
                }
                energy_other = 0;
                config_other = 0;
                st->area[AREA_EVENTS].newest_slot = st->area[AREA_AUDIT].newest_slot = NONE;
                st->area[AREA_EVENTS].seq = st->area[AREA_AUDIT].seq = 0;
                have_e = have_h = have_c = 0;
                fresh = 1;
            } else {
                return MC_ERR_BLANK; /* foreign or damaged: nothing changed, nothing written */
            }
        }
    }

    st->log_count[0] = count_log(st, AREA_EVENTS);
    st->log_count[1] = count_log(st, AREA_AUDIT);
    st->cache_rw = &st->cache;

    /* 2. Apply. */
    uint16_t errors = 0;
    tail_t tc, th;
    memset(&tc, 0, sizeof(tc));
    memset(&th, 0, sizeof(th));
    history_meta_t hmeta;
    memset(&hmeta, 0, sizeof(hmeta));
    uint64_t month_after[MC_TARIFF_RATES][MC_TK_COUNT];
    memset(month_after, 0, sizeof(month_after));
    config_ext_t cext;
    memset(&cext, 0, sizeof(cext));
    /* A per-channel calibration the record holds for another frame layout (the wiring changed), or a
     * single-element meter's calibration has none: not put in force, and its replacement by what is in
     * force is logged (a calibration event, arg MC_POLY_CAL_ARG, the two CRCs) when they differ. */
    int poly_dropped = 0;
    uint32_t poly_old_crc = 0, poly_new_crc = 0;
    if (f[AREA_CONFIG].slot != NONE) {
        conf_parts_t c;
        mc_params_t params;
        mc_calibration_t cal;
        mc_tariff_schedule_t sched;
        poly_head_t ph;
        mc_poly_calibration_t pc;
        memset(&ph, 0, sizeof(ph));
        mc_poly_calibration_default(&pc);
        memset(&c, 0, sizeof(c));
        mc_params_default(&params);
        mc_calibration_default(&cal);
        mc_tariff_schedule_default(&sched);
        c.params = &params;
        c.cal = &cal;
        c.sched = &sched;
        c.meta.sealed = model->sealed;
        c.meta.settle_day = tariff->cfg.settle_day;
        c.meta.settle_hour = tariff->cfg.settle_hour;
        hist_parts_t h;
        memset(&h, 0, sizeof(h));
        h.month = month_after;
        h.history = tariff->history;
        payload_t pl;
        memset(&pl, 0, sizeof(pl));
        add_conf(&pl, &c);
        if (st->combined) {
            add_hist(&pl, &h);
        }
        add(&pl, &tc, sizeof(tc));
        add(&pl, &ph, sizeof(ph));
        add(&pl, &pc, sizeof(pc));
        if (load_payload(st, &config_at, &f[AREA_CONFIG], &pl) != MC_OK) {
            return MC_ERR_IO;
        }
        if (f[AREA_CONFIG].len >= conf_record_len(st->combined) + POLY_BLOCK_LEN) {
            const poly_head_t mine = poly_head_of(meter);
            if (poly_len(meter) != 0u && memcmp(&ph, &mine, sizeof(ph)) == 0) {
                (void)mc_meter_set_poly_calibration(meter, &pc); /* checked with the record (poly_sane()) */
            } else {
                poly_old_crc = pc.crc;
                if (mc_meter_get_poly_calibration(meter, &pc) == MC_OK && pc.crc != poly_old_crc) {
                    poly_dropped = 1; /* (pc now the one in force) */
                    poly_new_crc = pc.crc;
                }
            }
        }
        if (st->combined) {
            hmeta = h.meta;
        }
        cext = c.ext;
        model->params = params;
        model->sealed = c.meta.sealed;
        if (c.meta.relay != 0u) {
            model->relay_closed = c.meta.relay == RELAY_CLOSED; /* (0: not recorded, the model's state stays) */
        }
        (void)mc_meter_set_calibration(meter, &cal);
        (void)mc_meter_set_pulse_constant(meter, params.pulse_constant);
        (void)mc_tariff_set_schedule(tariff, &sched);
        tariff->cfg.settle_day = c.meta.settle_day;
        tariff->cfg.settle_hour = c.meta.settle_hour;
        st->code_checksum = cext.code_checksum;
    }
    if (f[AREA_CONFIG].newer_bad) {
        errors |= MC_ERROR_PARAMS_CRC;
    }
    /* History, then energy; an energy record of an older freeze generation takes
     * its month from the history record (the cut fell between the two saves of a freeze). */
    if (!st->combined && f[AREA_HISTORY].slot != NONE) {
        hist_parts_t h;
        memset(&h, 0, sizeof(h));
        h.month = month_after;
        h.history = tariff->history;
        payload_t pl;
        memset(&pl, 0, sizeof(pl));
        add_hist(&pl, &h);
        add(&pl, &th, sizeof(th));
        if (load_payload(st, &st->area[AREA_HISTORY], &f[AREA_HISTORY], &pl) != MC_OK) {
            return MC_ERR_IO;
        }
        hmeta = h.meta;
    }
    if (have_h) {
        tariff->last_settlement = hmeta.last_settlement;
        tariff->max_demand_p = hmeta.max_demand_p;
        tariff->max_demand_p_at = hmeta.max_demand_at;
        st->gen = hmeta.gen;
        st->gen_flags = hmeta.flags;
    }
    mc_time_t saved_time = 0;
    if (f[AREA_ENERGY].slot != NONE) {
        energy_meta_t emeta;
        demand_rec_t d;
        payload_t pl;
        /* A record shorter than the whole payload (its length is only bounded by the slot) fills
         * a prefix: what it leaves out keeps the state as it is, never stack garbage. */
        memset(&emeta, 0, sizeof(emeta));
        demand_from_tariff(tariff, &d);
        energy_payload(st, &pl, &emeta, meter->energy.q, &d, NULL, NULL);
        if (load_payload(st, &energy_at, &f[AREA_ENERGY], &pl) != MC_OK) {
            return MC_ERR_IO;
        }
        /* The elements' registers, if the record has them for as many elements as the meter has
         * (a record without them, of 2.0, or of another wiring, leaves the meter's as they are). */
        const unsigned ne = record_elements(meter);
        const uint32_t eoff = energy_len(0);
        elements_head_t eh = {0u, 0u};
        const uint32_t esector = slot_sector(&energy_at, f[AREA_ENERGY].slot);
        const uint32_t ebase = slot_offset(&energy_at, f[AREA_ENERGY].slot) + HEADER_SIZE;
        if (ne > 0u && f[AREA_ENERGY].len >= energy_len(ne) &&
            nvm_read(st, esector, ebase + eoff, &eh, sizeof(eh)) != MC_OK) {
            return MC_ERR_IO;
        }
        /* Same count and same wiring: a 3P4W meter's phases are not a 3-circuit meter's circuits. */
        const int same = ne > 0u && eh.count == ne && eh.wiring == (uint32_t)meter->cfg.wiring;
        for (unsigned k = 0; same && k < ne; k++) {
            mc_energy_t e;
            if (nvm_read(st, esector, ebase + eoff + (uint32_t)(sizeof(eh) + k * sizeof(e)), &e, sizeof(e)) != MC_OK) {
                return MC_ERR_IO;
            }
            (void)mc_meter_set_phase_energy(meter, k, &e);
        }
        const int older_gen = have_h && emeta.gen < hmeta.gen;
        /* The demand window goes on where it was (if the tariff's window is the same). */
        if (d.slots == tariff->cfg.demand_window_min / tariff->cfg.demand_subinterval_min) {
            memcpy(tariff->slot_p, d.slot_p, sizeof(d.slot_p));
            memcpy(tariff->slot_s, d.slot_s, sizeof(d.slot_s));
            tariff->cur_p = d.cur_p;
            tariff->cur_s = d.cur_s;
            tariff->demand_p = d.demand_p;
            tariff->demand_s = d.demand_s;
            tariff->slot_end = d.slot_end;
            tariff->slots_used = d.slots_used;
            tariff->slot_index = d.slot_index;
            tariff->demand_valid = d.valid;
            tariff->slot_partial = d.partial;
        }
        if (!older_gen) {
            tariff->max_demand_p = d.max_p;
            tariff->max_demand_p_at = d.max_p_at;
        } else {
            memcpy(tariff->month, month_after, sizeof(month_after));
            if (hmeta.flags & HISTORY_CLEARED) {
                /* The cut fell inside an energy clear: finish it (the elements' registers too). */
                memset(meter->energy.q, 0, sizeof(meter->energy.q));
                memset(tariff->total, 0, sizeof(tariff->total));
                mc_energy_t zero;
                memset(&zero, 0, sizeof(zero));
                for (unsigned k = 0; k < ne; k++) {
                    (void)mc_meter_set_phase_energy(meter, k, &zero);
                }
            }
        }
        if (emeta.last_settlement > tariff->last_settlement) {
            /* The history record of a later freeze was lost (damaged): this energy
             * record is after that freeze, so the freeze must not be made again. */
            tariff->last_settlement = emeta.last_settlement;
        }
        saved_time = emeta.time;
    }
    if (f[AREA_ENERGY].newer_bad || f[AREA_HISTORY].newer_bad) {
        errors |= MC_ERROR_ENERGY_CRC;
    }
    if ((have_h || have_e) && !settlement_plausible(st, saved_time, &tc, &th)) {
        errors |= MC_ERROR_ENERGY_CRC;
    }
    model->errors |= errors;
    /* Audit counters: the highest of the records (each record carries them as they were). */
    for (unsigned k = 0; k < MC_AUDIT_COUNTERS; k++) {
        st->counters[k] = tc.counters[k] > th.counters[k] ? tc.counters[k] : th.counters[k];
    }
    st->area[AREA_ENERGY].newest_slot = f[AREA_ENERGY].slot;
    if (energy_other && f[AREA_ENERGY].slot != NONE) {
        /* The newest sits at slots of another size: the ring goes on in its sector only where
         * that is blank at this size, and never erases the sector while it holds the newest. */
        st->area[AREA_ENERGY].newest_slot =
            (slot_sector(&energy_at, f[AREA_ENERGY].slot) - st->area[AREA_ENERGY].first_sector) *
            st->area[AREA_ENERGY].slots_per_sector;
    }
    st->area[AREA_ENERGY].seq = f[AREA_ENERGY].slot != NONE ? f[AREA_ENERGY].seq : 0u;
    st->area[AREA_HISTORY].newest_slot = f[AREA_HISTORY].slot;
    st->area[AREA_HISTORY].seq = f[AREA_HISTORY].slot != NONE ? f[AREA_HISTORY].seq : 0u;
    st->area[AREA_CONFIG].newest_slot = f[AREA_CONFIG].slot;
    if (config_other && f[AREA_CONFIG].slot != NONE) {
        /* As for energy: a record with (or without) the per-channel calibration of another wiring. */
        st->area[AREA_CONFIG].newest_slot =
            (slot_sector(&config_at, f[AREA_CONFIG].slot) - st->area[AREA_CONFIG].first_sector) *
            st->area[AREA_CONFIG].slots_per_sector;
    }
    st->area[AREA_CONFIG].seq = f[AREA_CONFIG].slot != NONE ? f[AREA_CONFIG].seq : 0u;
    st->seq = st->area[AREA_EVENTS].seq > st->area[AREA_AUDIT].seq ? st->area[AREA_EVENTS].seq
                                                                    : st->area[AREA_AUDIT].seq;
    st->seq = tail_last_seq(&tc) > st->seq ? tail_last_seq(&tc) : st->seq;
    st->seq = tail_last_seq(&th) > st->seq ? tail_last_seq(&th) : st->seq;
    ring_positions(st);
    st->saved_energy_q = energy_sum(st);
    st->saved_settlement = tariff->last_settlement;
    st->saved_frozen_at = tariff->history[0].frozen_at;
    const mc_time_t now = now_of(st);
    st->saved_at = now;
    st->last_check = now;
    st->params_crc = mc_crc32(0, &model->params, sizeof(model->params));
    st->mounted = 1;
    (void)mc_tariff_demand_resume(tariff, now <= MC_TIME_MAX ? now : MC_TIME_MAX);

    /* 3. Write: a first start's records (their events after all of them), the journals'
     * events not in the logs yet, the integrity events, a format or code change. */
    const uint32_t checksum = model->hooks.code_checksum != NULL ? model->hooks.code_checksum(model->hooks.ctx) : 0u;
    journal_t jr;
    jr.n = 0;
    if (f[AREA_CONFIG].slot == NONE) {
        if (fresh) {
            jr_add(&jr, MC_EV_FORMAT, MC_SRC_LOCAL, 0, 0, 0, memory_format(meter));
            if (checksum != 0u) {
                jr_add(&jr, MC_EV_FORMAT, MC_SRC_LOCAL, 0, 1, 0, checksum);
            }
            st->code_checksum = checksum;
        }
        int wrote;
        if ((err = save_config(st, &jr, 1, &wrote)) != MC_OK) {
            flush_reports(st);
            return err;
        }
    }
    if (!st->combined && f[AREA_HISTORY].slot == NONE) {
        int wrote;
        if ((err = save_journaled(st, REC_HISTORY, st->gen_flags, &jr, 1, &wrote)) != MC_OK) {
            flush_reports(st);
            return err;
        }
    }
    if (f[AREA_ENERGY].slot == NONE && (err = save_energy(st, now)) != MC_OK) {
        flush_reports(st);
        return err;
    }
    if (f[AREA_CONFIG].slot == NONE && load_tail(st, AREA_CONFIG, &tc) != MC_OK) {
        return MC_ERR_IO; /* the first start's events, from the record just written */
    }
    (void)replay(st, &tc, st->combined ? NULL : &th);
    for (unsigned b = 0; b < 16u; b++) {
        if (errors & (1u << b)) {
            (void)log_now(st, MC_EV_INTEGRITY, MC_SRC_LOCAL, 0, (uint8_t)b, 0, 0);
        }
    }
    int upgraded = 0;
    if (f[AREA_CONFIG].slot != NONE) {
        /* Records of an older layout than the meter writes (a meter of several elements on a 2.0
         * memory, or on one a single-element meter wrote last: energy records without the elements'
         * block, config records without the per-channel calibration): upgraded. (History records have
         * the layout of 2.0.) */
        uint8_t old_minor = f[AREA_CONFIG].minor;
        if (f[AREA_ENERGY].slot != NONE && f[AREA_ENERGY].minor < old_minor) {
            old_minor = f[AREA_ENERGY].minor;
        }
        if (old_minor < energy_minor(meter)) {
            jr_add(&jr, MC_EV_FORMAT, MC_SRC_LOCAL, 0, 0, (MC_STORAGE_FORMAT_MAJOR << 8) | old_minor,
                   memory_format(meter));
            upgraded = 1;
        }
        if (poly_dropped) {
            jr_add(&jr, MC_EV_CALIBRATION, MC_SRC_LOCAL, MC_QTY_CAL_CH_GAIN, MC_POLY_CAL_ARG, poly_old_crc,
                   poly_new_crc);
        }
        if (checksum != 0u && checksum != st->code_checksum) {
            jr_add(&jr, MC_EV_FORMAT, MC_SRC_LOCAL, 0, 1, st->code_checksum, checksum);
            st->code_checksum = checksum;
        }
        int wrote;
        if (jr.n != 0u && (err = save_config(st, &jr, 0, &wrote)) != MC_OK) {
            flush_reports(st);
            return err;
        }
        /* The upgrade logged, the energy record of the new layout at once (a mount cut before
         * it logs the upgrade again, never leaves it unlogged). */
        if (upgraded && (err = save_energy(st, now)) != MC_OK) {
            flush_reports(st);
            return err;
        }
    }
    err = log_now(st, MC_EV_POWER_UP, MC_SRC_LOCAL, 0, 0, saved_time, now);
    flush_reports(st);
    return err;
}
