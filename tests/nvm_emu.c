/*
 * Emulated NVM for the storage tests. See nvm_emu.h.
 * SPDX-License-Identifier: MIT
 */
#include "nvm_emu.h"

#include <stdlib.h>
#include <string.h>

uint64_t nvm_emu_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* What programming @p data over @p old leaves: only bits that are in their
 * erased state can change (erase_value 0xFF: old AND data). */
static uint8_t prog_byte(uint8_t ev, uint8_t old, uint8_t data)
{
    return (uint8_t)((old & data & ev) | ((old | data) & (uint8_t)~ev));
}

int nvm_emu_init(nvm_emu_t *e, uint32_t sector_count, uint32_t sector_size, uint32_t prog_size,
                 uint8_t erase_value)
{
    memset(e, 0, sizeof(*e));
    e->mem = malloc((size_t)sector_count * sector_size);
    e->erase_count = calloc(sector_count, sizeof(uint32_t));
    if (e->mem == NULL || e->erase_count == NULL) {
        free(e->mem);
        free(e->erase_count);
        memset(e, 0, sizeof(*e));
        return -1;
    }
    memset(e->mem, erase_value, (size_t)sector_count * sector_size);
    e->sector_count = sector_count;
    e->sector_size = sector_size;
    e->prog_size = prog_size;
    e->erase_value = erase_value;
    e->fail_sector = -1;
    return 0;
}

void nvm_emu_free(nvm_emu_t *e)
{
    free(e->mem);
    free(e->erase_count);
    memset(e, 0, sizeof(*e));
}

void nvm_emu_reset_stats(nvm_emu_t *e)
{
    memset(&e->st, 0, sizeof(e->st));
    memset(e->erase_count, 0, sizeof(uint32_t) * e->sector_count);
    e->cut_at = 0;
}

void nvm_emu_copy(nvm_emu_t *dst, const nvm_emu_t *src)
{
    memcpy(dst->mem, src->mem, (size_t)src->sector_count * src->sector_size);
}

int nvm_emu_same(const nvm_emu_t *a, const nvm_emu_t *b)
{
    return a->sector_count == b->sector_count && a->sector_size == b->sector_size &&
           memcmp(a->mem, b->mem, (size_t)a->sector_count * a->sector_size) == 0;
}

uint8_t *nvm_emu_at(nvm_emu_t *e, uint32_t sector, uint32_t offset)
{
    return e->mem + (size_t)sector * e->sector_size + offset;
}

void nvm_emu_arm_cut(nvm_emu_t *e, uint64_t k, uint64_t seed)
{
    e->cut_at = e->st.ops + k;
    e->cut_seed = seed;
}

void nvm_emu_disarm(nvm_emu_t *e)
{
    e->cut_at = 0;
}

void nvm_emu_repower(nvm_emu_t *e)
{
    e->off = 0;
    e->cut_done = 0;
    e->cut_at = 0;
}

void nvm_emu_flip(nvm_emu_t *e, uint32_t sector, uint32_t offset, unsigned bit)
{
    *nvm_emu_at(e, sector, offset) ^= (uint8_t)(1u << (bit & 7u));
}

void nvm_emu_fail_sector(nvm_emu_t *e, int32_t sector, nvm_fail_mode mode)
{
    e->fail_sector = mode == NVM_FAIL_NONE ? -1 : sector;
    e->fail_count = 1;
    e->fail_mode = sector < 0 ? NVM_FAIL_NONE : mode;
}

void nvm_emu_fail_range(nvm_emu_t *e, uint32_t first, uint32_t count, nvm_fail_mode mode)
{
    nvm_emu_fail_sector(e, count == 0u ? -1 : (int32_t)first, mode);
    e->fail_count = count;
}

void nvm_emu_wear(const nvm_emu_t *e, uint32_t first, uint32_t n, uint32_t *min, uint32_t *max)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t s = first; s < first + n && s < e->sector_count; s++) {
        lo = e->erase_count[s] < lo ? e->erase_count[s] : lo;
        hi = e->erase_count[s] > hi ? e->erase_count[s] : hi;
    }
    *min = lo == UINT32_MAX ? 0 : lo;
    *max = hi;
}

/* Program with flash semantics, counting reprogrammed and conflicting bytes. */
static void do_prog(nvm_emu_t *e, uint32_t sector, uint32_t offset, const uint8_t *buf, uint32_t size)
{
    uint8_t *p = nvm_emu_at(e, sector, offset);
    for (uint32_t k = 0; k < size; k++) {
        if (p[k] != e->erase_value) {
            e->st.reprogrammed++;
        }
        p[k] = prog_byte(e->erase_value, p[k], buf[k]);
        if (p[k] != buf[k]) {
            e->st.conflicts++;
        }
    }
}

const char *nvm_emu_apply_partial(nvm_emu_t *e, int is_erase, uint32_t sector, uint32_t offset,
                                  const uint8_t *buf, uint32_t size, uint64_t seed)
{
    uint64_t r = nvm_emu_mix(seed ^ 0x5EEDull);
    const unsigned mode = (unsigned)(r % 4u);
    r = nvm_emu_mix(r);
    if (mode == 0u) {
        return "none";
    }
    if (!is_erase) {
        /* A prefix of n bytes is programmed (n = size: the cut came just after). */
        const uint32_t n = (uint32_t)(r % ((uint64_t)size + 1u));
        uint8_t *p = nvm_emu_at(e, sector, offset);
        for (uint32_t k = 0; k < n; k++) {
            p[k] = prog_byte(e->erase_value, p[k], buf[k]);
        }
        if (mode >= 2u && n < size) {
            /* The next byte half-programmed: some of the bits that were to change did. */
            const uint8_t target = prog_byte(e->erase_value, p[n], buf[n]);
            const uint8_t changing = (uint8_t)(p[n] ^ target);
            const uint8_t done = (uint8_t)(changing & (uint8_t)(nvm_emu_mix(r) >> 7));
            p[n] = (uint8_t)(p[n] ^ done);
            return "half";
        }
        return "prefix";
    }
    uint8_t *p = nvm_emu_at(e, sector, 0);
    const uint32_t n = (uint32_t)(r % ((uint64_t)e->sector_size + 1u));
    if (mode == 3u) {
        /* Scattered: each byte erased, left, or half-erased (some bits back to erased). */
        uint64_t x = r;
        for (uint32_t k = 0; k < e->sector_size; k++) {
            x = nvm_emu_mix(x);
            const unsigned c = (unsigned)(x % 3u);
            if (c == 0u) {
                p[k] = e->erase_value;
            } else if (c == 1u) {
                const uint8_t changing = (uint8_t)(p[k] ^ e->erase_value);
                p[k] = (uint8_t)(p[k] ^ (changing & (uint8_t)(x >> 13)));
            }
        }
        return "erase-scatter";
    }
    memset(p, e->erase_value, n);
    if (mode == 2u && n < e->sector_size) {
        const uint8_t changing = (uint8_t)(p[n] ^ e->erase_value);
        p[n] = (uint8_t)(p[n] ^ (changing & (uint8_t)(nvm_emu_mix(r) >> 7)));
    }
    return "erase-part";
}

/* Common checks of prog/erase: power, range, alignment; the power-cut counter. */
static int begin_op(nvm_emu_t *e, int is_erase, uint32_t sector, uint32_t offset, const uint8_t *buf,
                    uint32_t size)
{
    if (e->off) {
        e->st.io_errors++;
        return MC_ERR_IO;
    }
    if (sector >= e->sector_count) {
        e->st.violations++;
        return MC_ERR_INVAL;
    }
    if (!is_erase && (buf == NULL || offset % e->prog_size != 0u || size % e->prog_size != 0u ||
                      offset > e->sector_size || size > e->sector_size - offset)) {
        e->st.violations++;
        return MC_ERR_INVAL;
    }
    e->st.ops++;
    if (is_erase) {
        e->st.erases++;
    } else {
        e->st.progs++;
    }
    if (e->cut_at != 0u && e->st.ops == e->cut_at) {
        (void)nvm_emu_apply_partial(e, is_erase, sector, offset, buf, size, e->cut_seed);
        e->off = 1;
        e->cut_done = 1;
        e->cut_op = e->st.ops;
        e->cut_at = 0;
        e->st.io_errors++;
        return MC_ERR_IO;
    }
    if (e->before_op != NULL) {
        e->before_op(e->before_op_ctx, e, e->st.ops, is_erase, sector, offset, buf, size);
    }
    return MC_OK;
}

static int emu_read(void *context, uint32_t sector, uint32_t offset, void *buf, uint32_t size)
{
    nvm_emu_t *e = context;
    if (e->off) {
        e->st.io_errors++;
        return MC_ERR_IO;
    }
    if (buf == NULL || sector >= e->sector_count || offset > e->sector_size || size > e->sector_size - offset) {
        e->st.violations++;
        return MC_ERR_INVAL;
    }
    e->st.reads++;
    e->st.bytes_read += size;
    memcpy(buf, nvm_emu_at(e, sector, offset), size);
    return MC_OK;
}

static int emu_prog(void *context, uint32_t sector, uint32_t offset, const void *buf, uint32_t size)
{
    nvm_emu_t *e = context;
    int err = begin_op(e, 0, sector, offset, buf, size);
    if (err != MC_OK) {
        return err;
    }
    if (e->fail_sector >= 0 && sector >= (uint32_t)e->fail_sector && sector - (uint32_t)e->fail_sector < e->fail_count) {
        switch (e->fail_mode) {
        case NVM_FAIL_IO:
            e->st.io_errors++;
            return MC_ERR_IO;
        case NVM_FAIL_SILENT:
            return MC_OK;
        case NVM_FAIL_STUCK: {
            const uint8_t *b = buf;
            uint8_t *p = nvm_emu_at(e, sector, offset);
            for (uint32_t k = 0; k < size; k++) {
                const uint8_t want = prog_byte(e->erase_value, p[k], b[k]);
                p[k] = (uint8_t)((want & 0xFEu) | (e->erase_value & 1u));
            }
            e->st.bytes_programmed += size;
            return MC_OK;
        }
        default:
            break;
        }
    }
    do_prog(e, sector, offset, buf, size);
    e->st.bytes_programmed += size;
    return MC_OK;
}

static int emu_erase(void *context, uint32_t sector)
{
    nvm_emu_t *e = context;
    int err = begin_op(e, 1, sector, 0, NULL, 0);
    if (err != MC_OK) {
        return err;
    }
    memset(nvm_emu_at(e, sector, 0), e->erase_value, e->sector_size);
    e->erase_count[sector]++;
    return MC_OK;
}

void nvm_emu_port(nvm_emu_t *e, mc_nvm_t *out)
{
    memset(out, 0, sizeof(*out));
    out->read = emu_read;
    out->prog = emu_prog;
    out->erase = emu_erase;
    out->context = e;
    out->sector_size = e->sector_size;
    out->sector_count = e->sector_count;
    out->prog_size = e->prog_size;
    out->erase_value = e->erase_value;
}
