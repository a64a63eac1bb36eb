/*
 * metercore storage: records in rings of slots on a littlefs-style NVM port,
 * the event log and the integrity checks. See mc_storage.h for the contract
 * and docs/DESIGN.md for the layout, the power-loss argument and the wear
 * arithmetic.
 *
 * On-NVM format (version MC_STORAGE_FORMAT_MAJOR.MINOR), little-endian, the
 * payloads being the in-memory images of fixed-width fields (the format is
 * that of one firmware build on one ABI; it is not an interchange format):
 *   record slot  = header (16 bytes) + payload, padded to prog_size
 *   header       = magic u16 'MC' | kind u8 | major u8 | minor u8 | 0 u8 |
 *                  payload length u16 | sequence u32 | CRC-32 u32
 *   CRC-32       = over the 12 header bytes before it, then the payload
 *   event slot   = seq u32 | time u32 | type u8 | source u8 | qty u8 | arg u8 |
 *                  old u32 | new u32 | CRC-32 of the 20 bytes before it
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_storage.h"

#include <string.h>

#define MAGIC 0x4D43u
#define HEADER_SIZE 16u
#define CHUNK 64u /* streaming unit for CRC, program and verify; a multiple of every prog_size */
/* Commit marker, programmed into the last unit of a record slot after the body
 * verified: a body that fails its CRC without a marker is a save cut short
 * (silently ignored), with a marker it is corruption (reported). */
static const uint8_t commit_pattern[4] = {0x5A, 0xA5, 0x43, 0x4D};

enum { AREA_ENERGY = 0, AREA_HISTORY = 1, AREA_CONFIG = 2, AREA_EVENTS = 3, AREA_COUNT = 4 };

/* A payload is a list of pieces of memory, streamed in order. */
typedef struct piece {
    void *ptr;
    uint32_t len;
} piece_t;

#define MAX_PIECES 8

typedef struct payload {
    piece_t p[MAX_PIECES];
    unsigned n;
    uint32_t len;
} payload_t;

static void add(payload_t *pl, void *ptr, uint32_t len)
{
    pl->p[pl->n].ptr = ptr;
    pl->p[pl->n].len = len;
    pl->n++;
    pl->len += len;
}

/* Fixed parts of the records that are not instance fields. */
typedef struct energy_meta {
    uint32_t gen;             /* freeze generation this energy belongs to */
    uint32_t time;            /* when it was saved */
    uint32_t last_settlement; /* the tariff's last settlement point then */
    uint32_t pad;
} energy_meta_t;

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
    uint8_t pad;
} config_meta_t;

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

/* Copy stream bytes [pos, pos + len) into out. */
static void stream_bytes(const stream_t *s, uint32_t pos, uint8_t *out, uint32_t len)
{
    for (uint32_t k = 0; k < len; k++, pos++) {
        if (pos < s->head_len) {
            out[k] = s->head[pos];
            continue;
        }
        uint32_t off = pos - s->head_len;
        uint8_t b = s->pad;
        for (unsigned i = 0; s->pl != NULL && i < s->pl->n; i++) {
            if (off < s->pl->p[i].len) {
                b = ((const uint8_t *)s->pl->p[i].ptr)[off];
                break;
            }
            off -= s->pl->p[i].len;
        }
        out[k] = b;
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

/* Program and verify the commit marker at the end of a record slot. */
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

/* Whether a record slot carries its commit marker. */
static int has_marker(const mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot)
{
    uint8_t m[CHUNK], back[CHUNK];
    const uint32_t n = marker_size(st);
    marker_bytes(st, m);
    return nvm_read(st, slot_sector(a, slot), slot_offset(a, slot) + a->slot_size - n, back, n) == MC_OK &&
           memcmp(m, back, n) == 0;
}

static int log_event(mc_storage_t *st, uint8_t type, uint8_t source, uint8_t qty, uint8_t arg, uint32_t old_value,
                     uint32_t new_value);

/*
 * Write a stream into the next usable slot of an area. A sector is erased when
 * the ring enters it, unless it is bad or holds the area's newest valid record
 * (then it is skipped). A failing program or erase marks the sector bad,
 * reports it and moves on to the next sector.
 */
static int area_write(mc_storage_t *st, unsigned ai, const stream_t *s)
{
    mc_storage_area_t *a = &st->area[ai];
    const uint32_t total = slots_total(a);
    for (uint32_t tries = 0; tries < total + a->slots_per_sector; tries++) {
        uint32_t slot = a->next_slot % total;
        const uint32_t sector = slot_sector(a, slot);
        const int holds_newest = a->newest_slot != UINT32_MAX && slot_sector(a, a->newest_slot) == sector;
        if (slot % a->slots_per_sector == 0u) {
            if (is_bad(st, sector) || holds_newest) {
                a->next_slot = slot + a->slots_per_sector;
                continue;
            }
            if (st->cfg.nvm.erase(st->cfg.nvm.context, sector) < 0) {
                set_bad(st, sector);
                if (ai != AREA_EVENTS) {
                    (void)log_event(st, MC_EV_STORAGE, 0, 0, (uint8_t)ai, sector, (uint32_t)MC_ERR_IO);
                }
                a->next_slot = slot + a->slots_per_sector;
                continue;
            }
        } else if (is_bad(st, sector)) {
            a->next_slot = (slot / a->slots_per_sector + 1u) * a->slots_per_sector;
            continue;
        }
        if (program_slot(st, a, slot, s) != MC_OK || (ai != AREA_EVENTS && program_marker(st, a, slot) != MC_OK)) {
            set_bad(st, sector);
            if (st->model != NULL && ai != AREA_EVENTS) {
                st->model->errors |= MC_ERROR_ENERGY_CRC;
            }
            if (ai != AREA_EVENTS) {
                (void)log_event(st, MC_EV_STORAGE, 0, 0, (uint8_t)ai, sector, (uint32_t)MC_ERR_IO);
            }
            a->next_slot = (slot / a->slots_per_sector + 1u) * a->slots_per_sector;
            continue;
        }
        a->newest_slot = slot;
        a->next_slot = slot + 1u;
        return MC_OK;
    }
    return MC_ERR_NOSPACE;
}

/* Write a record (header + payload) into an area. */
static int write_record(mc_storage_t *st, unsigned ai, uint8_t kind, const payload_t *pl)
{
    mc_storage_area_t *a = &st->area[ai];
    uint8_t h[HEADER_SIZE];
    const uint32_t seq = a->seq + 1u;
    h[0] = (uint8_t)(MAGIC & 0xFFu);
    h[1] = (uint8_t)(MAGIC >> 8);
    h[2] = kind;
    h[3] = MC_STORAGE_FORMAT_MAJOR;
    h[4] = MC_STORAGE_FORMAT_MINOR;
    h[5] = 0;
    h[6] = (uint8_t)(pl->len & 0xFFu);
    h[7] = (uint8_t)(pl->len >> 8);
    memcpy(h + 8, &seq, 4);
    uint32_t crc = mc_crc32(0, h, 12);
    for (unsigned i = 0; i < pl->n; i++) {
        crc = mc_crc32(crc, pl->p[i].ptr, pl->p[i].len);
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
/* Payloads                                                                 */

static void energy_payload(mc_storage_t *st, payload_t *pl, energy_meta_t *meta, uint64_t *meter_q)
{
    memset(pl, 0, sizeof(*pl));
    add(pl, meta, sizeof(*meta));
    add(pl, meter_q, sizeof(st->meter->energy.q));
    add(pl, st->tariff->total, sizeof(st->tariff->total));
    add(pl, st->tariff->month, sizeof(st->tariff->month));
}

static void history_payload(mc_storage_t *st, payload_t *pl, history_meta_t *meta)
{
    memset(pl, 0, sizeof(*pl));
    add(pl, meta, sizeof(*meta));
    add(pl, st->tariff->month, sizeof(st->tariff->month));
    add(pl, st->tariff->history, sizeof(st->tariff->history));
}

static void config_payload(mc_storage_t *st, payload_t *pl, config_meta_t *meta)
{
    memset(pl, 0, sizeof(*pl));
    add(pl, meta, sizeof(*meta));
    add(pl, &st->model->params, sizeof(st->model->params));
    add(pl, &st->meter->cal, sizeof(st->meter->cal));
    add(pl, &st->tariff->schedule, sizeof(st->tariff->schedule));
}

static uint64_t energy_sum(const mc_storage_t *st)
{
    uint64_t sum = 0;
    for (int k = 0; k < MC_E_COUNT; k++) {
        sum += st->meter->energy.q[k];
    }
    return sum;
}

static mc_time_t now_of(const mc_storage_t *st)
{
    const mc_model_t *md = st->model;
    if (md->hooks.now != NULL) {
        return md->hooks.now(md->hooks.ctx);
    }
    return st->tariff->last_time;
}

/*
 * Save energy. With @p pending (a window the meter has counted but the tariff
 * has not booked yet), the meter's registers are saved without it, so that the
 * record is one consistent state.
 */
static int save_energy_state(mc_storage_t *st, mc_time_t now, const mc_energy_t *pending)
{
    energy_meta_t meta = {st->gen, now, st->tariff->last_settlement, 0};
    mc_energy_t e = st->meter->energy;
    if (pending != NULL) {
        for (int k = 0; k < MC_E_COUNT; k++) {
            e.q[k] -= pending->q[k] <= e.q[k] ? pending->q[k] : e.q[k];
        }
    }
    payload_t pl;
    energy_payload(st, &pl, &meta, e.q);
    int err = write_record(st, AREA_ENERGY, 1, &pl);
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

static int save_history_flags(mc_storage_t *st, uint32_t flags)
{
    st->saved_settlement = st->tariff->last_settlement;
    st->saved_frozen_at = st->tariff->history[0].frozen_at;
    history_meta_t meta = {st->gen, st->tariff->last_settlement, st->tariff->max_demand_p,
                           st->tariff->max_demand_p_at, flags, 0};
    payload_t pl;
    history_payload(st, &pl, &meta);
    return write_record(st, AREA_HISTORY, 2, &pl);
}

static int save_history(mc_storage_t *st)
{
    return save_history_flags(st, 0);
}

static int save_config(mc_storage_t *st)
{
    const mc_tariff_config_t *tc = &st->tariff->cfg;
    config_meta_t meta = {st->model->sealed, tc->settle_day, tc->settle_hour, (uint8_t)tc->active_combination,
                          (uint8_t)tc->reactive_combination, tc->demand_window_min, tc->demand_subinterval_min, 0};
    payload_t pl;
    config_payload(st, &pl, &meta);
    int err = write_record(st, AREA_CONFIG, 3, &pl);
    if (err == MC_OK) {
        st->params_crc = mc_crc32(0, &st->model->params, sizeof(st->model->params));
        st->config_dirty = 0;
    }
    return err;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

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
    if (mc_crc32(0, img, 20) != crc) {
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

static int log_event(mc_storage_t *st, uint8_t type, uint8_t source, uint8_t qty, uint8_t arg, uint32_t old_value,
                     uint32_t new_value)
{
    mc_event_t ev = {0, 0, type, source, qty, arg, old_value, new_value};
    return mc_storage_log(st, &ev);
}

int mc_storage_log(mc_storage_t *st, const mc_event_t *ev)
{
    if (st == NULL || ev == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    mc_event_t e = *ev;
    e.seq = st->area[AREA_EVENTS].seq + 1u;
    e.time = now_of(st);
    uint8_t img[MC_EVENT_SLOT_SIZE];
    event_image(&e, img);
    payload_t pl;
    memset(&pl, 0, sizeof(pl));
    add(&pl, img, sizeof(img));
    stream_t s = {NULL, 0, &pl, st->area[AREA_EVENTS].slot_size, st->cfg.nvm.erase_value};
    int err = area_write(st, AREA_EVENTS, &s);
    if (err == MC_OK) {
        st->area[AREA_EVENTS].seq = e.seq;
    }
    return err;
}

/* Walk back from the newest event slot; calls per valid event in order newest first. */
int mc_storage_event_read(const mc_storage_t *st, unsigned index, mc_event_t *out)
{
    if (st == NULL || out == NULL) {
        return MC_ERR_INVAL;
    }
    const mc_storage_area_t *a = &st->area[AREA_EVENTS];
    if (a->newest_slot == UINT32_MAX) {
        return MC_ERR_NODATA;
    }
    const uint32_t total = slots_total(a);
    uint32_t want = a->seq - index;
    if (index >= a->seq) {
        return MC_ERR_NODATA;
    }
    /* Events are written in sequence; bad sectors and torn writes only add gaps. */
    int saw_corrupt = 0;
    for (uint32_t back = index; back < total; back++) {
        const uint32_t slot = (a->newest_slot + total - back) % total;
        uint8_t img[MC_EVENT_SLOT_SIZE];
        mc_event_t ev;
        if (nvm_read(st, slot_sector(a, slot), slot_offset(a, slot), img, sizeof(img)) != MC_OK) {
            continue;
        }
        if (event_from_image(img, &ev) != MC_OK) {
            unsigned blank = 1;
            for (unsigned k = 0; k < sizeof(img); k++) {
                blank &= img[k] == st->cfg.nvm.erase_value;
            }
            saw_corrupt |= !blank;
            continue;
        }
        if (ev.seq == want) {
            *out = ev;
            return MC_OK;
        }
        if (ev.seq < want) {
            /* Passed it: overwritten, or the damaged slot just seen was it. */
            return saw_corrupt ? MC_ERR_CORRUPT : MC_ERR_NODATA;
        }
        saw_corrupt = 0;
    }
    return saw_corrupt ? MC_ERR_CORRUPT : MC_ERR_NODATA;
}

unsigned mc_storage_event_count(const mc_storage_t *st)
{
    if (st == NULL) {
        return 0;
    }
    /* Binary search for the oldest event still readable. */
    unsigned lo = 0, hi = st->area[AREA_EVENTS].seq; /* events 0..lo-1 readable; hi not */
    mc_event_t ev;
    if (hi == 0u) {
        return 0;
    }
    while (lo < hi) {
        unsigned mid = lo + (hi - lo + 1u) / 2u;
        if (mc_storage_event_read(st, mid - 1u, &ev) != MC_ERR_NODATA) { /* a damaged event still counts */
            lo = mid;
        } else {
            hi = mid - 1u;
        }
    }
    return lo;
}

/* ------------------------------------------------------------------------ */
/* Mount                                                                    */

typedef struct found {
    uint32_t slot;      /* newest valid slot or UINT32_MAX */
    uint32_t seq;       /* its sequence */
    uint16_t len;       /* its payload length */
    uint8_t minor;      /* its format minor */
    uint8_t newer_bad;  /* a damaged slot claims a later sequence */
    uint8_t wrong_major; /* a valid record of another major format exists */
} found_t;

/* Check one record slot; returns 1 valid, 0 empty or damaged. */
static int check_slot(const mc_storage_t *st, const mc_storage_area_t *a, uint32_t slot, uint8_t kind, found_t *f)
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
    if (magic != MAGIC || h[2] != kind || len + HEADER_SIZE > a->slot_size) {
        return 0;
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
         * scan_area weighs; without, a save cut short: nothing to report. */
        f->newer_bad = (uint8_t)has_marker(st, a, slot);
        return 0;
    }
    if (h[3] != MC_STORAGE_FORMAT_MAJOR) {
        f->wrong_major = 1;
        return 0;
    }
    if (f->slot == UINT32_MAX || seq > f->seq) {
        f->slot = slot;
        f->seq = seq;
        f->len = (uint16_t)len;
        f->minor = h[4];
    }
    return 1;
}

static void scan_area(const mc_storage_t *st, const mc_storage_area_t *a, uint8_t kind, found_t *f)
{
    memset(f, 0, sizeof(*f));
    f->slot = UINT32_MAX;
    uint32_t bad_seq_max = 0;
    const uint32_t total = slots_total(a);
    for (uint32_t slot = 0; slot < total; slot++) {
        found_t probe = *f;
        if (!check_slot(st, a, slot, kind, &probe)) {
            if (probe.newer_bad) {
                /* A slot with our header whose CRC fails: remember the sequence it claims. */
                uint8_t h[HEADER_SIZE];
                uint32_t seq = 0;
                if (nvm_read(st, slot_sector(a, slot), slot_offset(a, slot), h, HEADER_SIZE) == MC_OK) {
                    memcpy(&seq, h + 8, 4);
                }
                bad_seq_max = seq > bad_seq_max ? seq : bad_seq_max;
            }
            f->wrong_major |= probe.wrong_major;
            continue;
        }
        *f = probe;
    }
    /* Damage only counts if it claims to be newer than the newest valid copy. */
    f->newer_bad = bad_seq_max != 0u && (f->slot == UINT32_MAX || bad_seq_max > f->seq);
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
        nv->prog_size > CHUNK || CHUNK % nv->prog_size != 0u || nv->sector_size % nv->prog_size != 0u) {
        return MC_ERR_INVAL;
    }
    unsigned ev = st->cfg.event_sectors;
    if (ev == 0u) {
        /* 128 events, plus one sector that the ring erases when it wraps. */
        ev = (128u * MC_EVENT_SLOT_SIZE + nv->sector_size - 1u) / nv->sector_size + 1u;
        ev = ev < 2u ? 2u : ev;
    }
    /* History and config get a third sector when there is room, so that one
     * failing sector does not stop them. */
    const unsigned small = nv->sector_count >= 16u ? 3u : 2u;
    if (ev < 2u || ev + 2u * small + 2u > nv->sector_count) {
        return MC_ERR_INVAL;
    }
    const uint32_t payload_len[AREA_COUNT] = {
        sizeof(energy_meta_t) + sizeof(st->meter->energy.q) + sizeof(st->tariff->total) + sizeof(st->tariff->month),
        sizeof(history_meta_t) + sizeof(st->tariff->month) + sizeof(st->tariff->history),
        sizeof(config_meta_t) + sizeof(mc_params_t) + sizeof(mc_calibration_t) + sizeof(mc_tariff_schedule_t),
        MC_EVENT_SLOT_SIZE - HEADER_SIZE,
    };
    const unsigned sectors[AREA_COUNT] = {nv->sector_count - 2u * small - ev, small, small, ev};
    unsigned first = 0;
    for (unsigned i = 0; i < AREA_COUNT; i++) {
        mc_storage_area_t *a = &st->area[i];
        a->first_sector = (uint16_t)first;
        a->sectors = (uint16_t)sectors[i];
        a->slot_size = round_up(HEADER_SIZE + payload_len[i], nv->prog_size);
        if (i != AREA_EVENTS) {
            a->slot_size = (uint16_t)(a->slot_size + marker_size(st));
        }
        if (a->slot_size > nv->sector_size) {
            return MC_ERR_INVAL;
        }
        a->slots_per_sector = (uint16_t)(nv->sector_size / a->slot_size);
        a->newest_slot = UINT32_MAX;
        first += sectors[i];
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
    static const uint8_t kinds[3] = {1, 2, 3};
    found_t f[AREA_COUNT];
    for (unsigned i = 0; i < 3u; i++) {
        scan_area(st, &st->area[i], kinds[i], &f[i]);
        if (f[i].wrong_major) {
            return MC_ERR_VERSION; /* nothing changed, nothing erased */
        }
    }
    /* Events: the newest valid slot by sequence. */
    {
        mc_storage_area_t *a = &st->area[AREA_EVENTS];
        for (uint32_t slot = 0; slot < slots_total(a); slot++) {
            uint8_t img[MC_EVENT_SLOT_SIZE];
            mc_event_t ev;
            if (nvm_read(st, slot_sector(a, slot), slot_offset(a, slot), img, sizeof(img)) == MC_OK &&
                event_from_image(img, &ev) == MC_OK && (a->newest_slot == UINT32_MAX || ev.seq > a->seq)) {
                a->newest_slot = slot;
                a->seq = ev.seq;
            }
        }
    }
    /* Apply config. */
    uint8_t fresh[3] = {0, 0, 0};
    uint16_t errors = 0;
    if (f[AREA_CONFIG].slot != UINT32_MAX) {
        config_meta_t meta;
        mc_params_t params;
        mc_calibration_t cal;
        mc_tariff_schedule_t sched;
        payload_t pl;
        memset(&pl, 0, sizeof(pl));
        add(&pl, &meta, sizeof(meta));
        add(&pl, &params, sizeof(params));
        add(&pl, &cal, sizeof(cal));
        add(&pl, &sched, sizeof(sched));
        mc_params_default(&params);
        mc_calibration_default(&cal);
        mc_tariff_schedule_default(&sched);
        if (load_payload(st, &st->area[AREA_CONFIG], &f[AREA_CONFIG], &pl) != MC_OK) {
            return MC_ERR_IO;
        }
        model->params = params;
        model->sealed = meta.sealed;
        if (mc_meter_set_calibration(meter, &cal) != MC_OK) {
            errors |= MC_ERROR_CAL_CRC;
        }
        (void)mc_meter_set_pulse_constant(meter, params.pulse_constant);
        (void)mc_tariff_set_schedule(tariff, &sched);
        if (meta.settle_day >= 1u && meta.settle_day <= 28u && meta.settle_hour <= 23u) {
            tariff->cfg.settle_day = meta.settle_day;
            tariff->cfg.settle_hour = meta.settle_hour;
        }
    } else {
        fresh[AREA_CONFIG] = 1;
    }
    if (f[AREA_CONFIG].newer_bad) {
        errors |= MC_ERROR_PARAMS_CRC;
    }
    /* Apply history, then energy; an energy record of an older freeze generation takes
     * its month from the history record (the cut fell between the two saves of a freeze). */
    history_meta_t hmeta = {0, 0, 0.0f, 0, 0, 0};
    uint64_t month_after[MC_TARIFF_RATES][MC_TK_COUNT];
    if (f[AREA_HISTORY].slot != UINT32_MAX) {
        payload_t pl;
        memset(&pl, 0, sizeof(pl));
        add(&pl, &hmeta, sizeof(hmeta));
        add(&pl, month_after, sizeof(month_after));
        add(&pl, tariff->history, sizeof(tariff->history));
        if (load_payload(st, &st->area[AREA_HISTORY], &f[AREA_HISTORY], &pl) != MC_OK) {
            return MC_ERR_IO;
        }
        tariff->last_settlement = hmeta.last_settlement;
        tariff->max_demand_p = hmeta.max_demand_p;
        tariff->max_demand_p_at = hmeta.max_demand_at;
        st->gen = hmeta.gen;
    } else {
        fresh[AREA_HISTORY] = 1;
    }
    mc_time_t saved_time = 0;
    if (f[AREA_ENERGY].slot != UINT32_MAX) {
        energy_meta_t emeta;
        payload_t pl;
        energy_payload(st, &pl, &emeta, meter->energy.q);
        if (load_payload(st, &st->area[AREA_ENERGY], &f[AREA_ENERGY], &pl) != MC_OK) {
            return MC_ERR_IO;
        }
        if (f[AREA_HISTORY].slot != UINT32_MAX && emeta.gen < hmeta.gen) {
            memcpy(tariff->month, month_after, sizeof(month_after));
            if (hmeta.flags & HISTORY_CLEARED) {
                /* The cut fell inside an energy clear: finish it. */
                memset(meter->energy.q, 0, sizeof(meter->energy.q));
                memset(tariff->total, 0, sizeof(tariff->total));
            }
        }
        if (emeta.last_settlement > tariff->last_settlement) {
            /* The history record of a later freeze was lost (damaged): this energy
             * record is after that freeze, so the freeze must not be made again. */
            tariff->last_settlement = emeta.last_settlement;
        }
        saved_time = emeta.time;
    } else {
        fresh[AREA_ENERGY] = 1;
    }
    if (f[AREA_ENERGY].newer_bad || f[AREA_HISTORY].newer_bad) {
        errors |= MC_ERROR_ENERGY_CRC;
    }
    model->errors |= errors;
    st->mounted = 1;

    /* Rings continue after the newest record: in the same sector if the slots
     * after it are still blank (erased, never programmed), else at the next
     * sector boundary, which is erased before use. */
    for (unsigned i = 0; i < AREA_COUNT; i++) {
        mc_storage_area_t *a = &st->area[i];
        if (i < 3u) {
            a->newest_slot = f[i].slot;
            a->seq = f[i].slot != UINT32_MAX ? f[i].seq : 0u;
        }
        a->next_slot = a->newest_slot == UINT32_MAX ? 0u
                                                    : (a->newest_slot / a->slots_per_sector + 1u) * a->slots_per_sector;
        if (a->newest_slot != UINT32_MAX) {
            for (uint32_t slot = a->newest_slot + 1u; slot < a->next_slot; slot++) {
                if (slot_blank(st, a, slot)) {
                    a->next_slot = slot;
                    break;
                }
            }
        }
    }
    st->saved_energy_q = energy_sum(st);
    st->saved_settlement = tariff->last_settlement;
    st->saved_frozen_at = tariff->history[0].frozen_at;
    const mc_time_t now = now_of(st);
    st->saved_at = now;
    st->last_check = now;
    st->params_crc = mc_crc32(0, &model->params, sizeof(model->params));
    for (unsigned b = 0; b < 16u; b++) {
        if (errors & (1u << b)) {
            (void)log_event(st, MC_EV_INTEGRITY, MC_SRC_LOCAL, 0, (uint8_t)b, 0, 0);
        }
    }
    if (fresh[AREA_CONFIG] && (err = save_config(st)) != MC_OK) {
        return err;
    }
    if (fresh[AREA_HISTORY] && (err = save_history(st)) != MC_OK) {
        return err;
    }
    if (fresh[AREA_ENERGY] && (err = save_energy(st, now)) != MC_OK) {
        return err;
    }
    return log_event(st, MC_EV_POWER_UP, MC_SRC_LOCAL, 0, 0, saved_time, now);
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */

/*
 * Freezes made since the last history save (by mc_tariff_add here, or by a
 * clock set through the model): save history, then energy, one generation on.
 */
static int save_freezes(mc_storage_t *st, mc_time_t now)
{
    const int moved = st->tariff->last_settlement != st->saved_settlement;
    const mc_time_t frozen_at = st->tariff->history[0].frozen_at;
    const int froze = frozen_at != st->saved_frozen_at && frozen_at != 0u; /* a clear zeroes it */
    const int cleared = st->history_dirty;
    if (!moved && !froze && !cleared) {
        return MC_OK;
    }
    if (!froze && !cleared) {
        /* Only the settlement bookkeeping moved (new settlement day): no month changed. */
        return save_history(st);
    }
    /* A new generation: history first, then energy. A clear is marked in the
     * history record so that a cut before the energy save still clears at mount. */
    const mc_time_t before = st->saved_settlement;
    st->gen++;
    int err = save_history_flags(st, cleared ? HISTORY_CLEARED : 0u);
    if (err == MC_OK) {
        err = save_energy(st, now);
    }
    if (err == MC_OK) {
        if (froze) {
            (void)log_event(st, MC_EV_FREEZE, MC_SRC_LOCAL, 0, 0, before, st->tariff->last_settlement);
        }
        st->history_dirty = 0;
        st->energy_dirty = 0;
    }
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
    if (freeze_due && (err = save_energy_state(st, now, &reading->delta)) != MC_OK) {
        return err; /* the month as it stands before the freeze (and before this window) */
    }
    const mc_time_t before = st->tariff->last_time;
    const int events = mc_tariff_add(st->tariff, now, reading);
    if (events < 0) {
        return events;
    }
    if ((err = save_freezes(st, now)) != MC_OK) {
        return err;
    }
    if (events & MC_TEV_CLOCK_BACKWARD) {
        (void)log_event(st, MC_EV_CLOCK_BACKWARD, MC_SRC_LOCAL, 0, 0, before, now);
    }
    const uint64_t quantum = (uint64_t)st->cfg.save_quantum_wh * MC_ENERGY_QUANTA_PER_WH;
    const uint64_t grown = energy_sum(st) - st->saved_energy_q;
    const int by_time = st->cfg.save_period_s != 0u && now >= st->saved_at + st->cfg.save_period_s;
    if (grown >= quantum || by_time || st->energy_dirty) {
        if ((err = save_energy(st, now)) != MC_OK) {
            return err;
        }
    }
    return events;
}

static void check_integrity(mc_storage_t *st)
{
    mc_model_t *md = st->model;
    const uint32_t crc = mc_crc32(0, &md->params, sizeof(md->params));
    if (crc != st->params_crc && !(md->errors & MC_ERROR_PARAMS_CRC)) {
        md->errors |= MC_ERROR_PARAMS_CRC;
        (void)log_event(st, MC_EV_INTEGRITY, MC_SRC_LOCAL, 0, 0, st->params_crc, crc);
    }
    if (mc_calibration_check(&st->meter->cal) != MC_OK && !(md->errors & MC_ERROR_CAL_CRC)) {
        md->errors |= MC_ERROR_CAL_CRC;
        (void)log_event(st, MC_EV_INTEGRITY, MC_SRC_LOCAL, 0, 1, st->meter->cal.crc,
                        mc_crc32(0, &st->meter->cal, offsetof(mc_calibration_t, crc)));
    }
}

int mc_storage_poll(mc_storage_t *st, mc_time_t now)
{
    if (st == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    int err;
    if ((err = save_freezes(st, now)) != MC_OK) {
        return err;
    }
    if (st->config_dirty && (err = save_config(st)) != MC_OK) {
        return err;
    }
    if (st->energy_dirty && (err = save_energy(st, now)) != MC_OK) {
        return err;
    }
    if (now < st->last_check || now >= st->last_check + st->cfg.integrity_period_s) {
        st->last_check = now;
        check_integrity(st);
    }
    return MC_OK;
}

int mc_storage_power_fail(mc_storage_t *st, mc_time_t now)
{
    if (st == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    /* Energy first (what matters most if the power runs out mid-way), then any
     * freeze or clear not saved yet (it saves energy again), then parameters. */
    int err = save_energy(st, now);
    if (err == MC_OK) {
        err = save_freezes(st, now);
    }
    if (err == MC_OK && st->config_dirty) {
        err = save_config(st);
    }
    (void)log_event(st, MC_EV_POWER_DOWN, MC_SRC_LOCAL, 0, 0, 0, now);
    return err;
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
        type = MC_EV_CALIBRATION;
        st->config_dirty = 1;
        break;
    case MC_QTY_RELAY:
        type = MC_EV_RELAY;
        break;
    default:
        st->config_dirty = 1;
        break;
    }
    (void)log_event(st, type, (uint8_t)source, (uint8_t)qty, (uint8_t)arg, old_value, new_value);
}

int mc_storage_commit(void *ctx)
{
    mc_storage_t *st = (mc_storage_t *)ctx;
    if (st == NULL || !st->mounted) {
        return MC_ERR_INVAL;
    }
    return mc_storage_poll(st, now_of(st));
}

void mc_storage_auth_event(void *ctx, unsigned what, unsigned iface, uint32_t count, uint32_t lockout_s)
{
    mc_storage_t *st = (mc_storage_t *)ctx;
    if (st == NULL || !st->mounted) {
        return;
    }
    (void)log_event(st, MC_EV_AUTH, iface == MC_IFACE_PANEL ? MC_SRC_PANEL : MC_SRC_BUS, (uint8_t)what,
                    (uint8_t)iface, count, lockout_s);
}
