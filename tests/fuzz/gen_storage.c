/*
 * Seed generator of tests/fuzz/fuzz_storage.c: real flash images made by the
 * library on the emulated NVM, each written as the fuzz target's input (header
 * bytes, see fuzz_storage.c, then the image with its trailing erased bytes
 * left out). Usage: gen_storage DIR (make fuzz writes fresh ones into
 * build/fuzz/storage/seeds; the committed ones are in tests/fuzz/corpus/storage/).
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_app.h"
#include "fuzz_storage.h"

#define CHECK FZ_CHECK

static const char *g_dir;
static unsigned g_written;

static void write_seed(const char *name, const uint8_t hdr[FZ_STORAGE_HEADER], const nvm_emu_t *e)
{
    size_t len = (size_t)e->sector_count * e->sector_size;
    while (len > 0u && e->mem[len - 1u] == e->erase_value) {
        len--;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    if (fwrite(hdr, 1, FZ_STORAGE_HEADER, f) != FZ_STORAGE_HEADER || fwrite(e->mem, 1, len, f) != len ||
        fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    g_written++;
}

/* Header byte 0 and 1 of a geometry (see fuzz_storage.c). */
static void header(uint8_t hdr[FZ_STORAGE_HEADER], uint32_t sector_size, uint32_t prog, uint8_t erase_value,
                   uint32_t sectors, uint8_t flags, uint8_t ops)
{
    const unsigned ss = sector_size == 2048u ? 1u : (sector_size == 4096u ? 2u : 0u);
    const unsigned ps = prog == 4u ? 1u : (prog == 8u ? 2u : (prog == 16u ? 3u : 0u));
    hdr[0] = (uint8_t)(ss | ps << 2 | (erase_value == 0x00u ? 0x10u : 0u) | flags);
    hdr[1] = (uint8_t)(sectors - 8u);
    hdr[2] = 0;
    hdr[3] = ops;
}

static void write_u16(fz_app_t *a, mc_qty qty, unsigned arg, unsigned v)
{
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = (uint8_t)qty;
    it.arg = (uint8_t)arg;
    it.u = (uint16_t)v;
    CHECK(mc_model_write(&a->model, &it, 1, MC_SRC_LOCAL) == MC_OK);
}

static void write_cal(fz_app_t *a, unsigned field, float v)
{
    mc_write_item_t it;
    memset(&it, 0, sizeof(it));
    it.qty = MC_QTY_CAL;
    it.arg = (uint8_t)field;
    it.f = v;
    it.is_float = 1;
    CHECK(mc_model_write(&a->model, &it, 1, MC_SRC_LOCAL) == MC_OK);
}

static void windows(fz_app_t *a, unsigned n, uint32_t dt)
{
    for (unsigned w = 0; w < n; w++) {
        mc_energy_t d;
        memset(&d, 0, sizeof(d));
        if (w % 7u == 3u) {
            d.q[MC_E_ACTIVE_EXPORT] = MC_ENERGY_QUANTA_PER_WH * (2u + w % 5u);
            d.q[MC_E_REACTIVE_Q3] = MC_ENERGY_QUANTA_PER_WH / 2u;
        } else {
            d.q[MC_E_ACTIVE_IMPORT] = MC_ENERGY_QUANTA_PER_WH * (3u + w % 11u);
            d.q[w % 2u ? MC_E_REACTIVE_Q1 : MC_E_REACTIVE_Q4] = MC_ENERGY_QUANTA_PER_WH * (1u + w % 3u);
        }
        CHECK(fz_app_window(a, &d, dt) >= 0);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_storage DIR\n");
        return 2;
    }
    g_dir = argv[1];
    static fz_app_t a;
    nvm_emu_t e;
    uint8_t hdr[FZ_STORAGE_HEADER];
    const mc_time_t t0 = fz_time(2024, 3, 1, 12, 0, 0);

    /* A blank memory (a first start) and a fresh meter right after it. */
    CHECK(nvm_emu_init(&e, 16, 1024, 4, 0xFF) == 0);
    header(hdr, 1024, 4, 0xFF, 16, 0, 0x8C);
    write_seed("blank_1k_p4", hdr, &e);
    fz_app_init(&a, &e, t0, NULL, 0);
    CHECK(fz_app_mount(&a) == MC_OK);
    write_seed("fresh_1k_p4", hdr, &e);

    /* After windows, parameter changes and a richer schedule. */
    windows(&a, 40, 97);
    write_u16(&a, MC_QTY_ADDRESS, 0, 17);
    write_u16(&a, MC_QTY_SETTLE_DAY, 0, 15);
    write_u16(&a, MC_QTY_PULSE_CONSTANT, 0, 3200);
    fz_write_rich_schedule(&a);
    windows(&a, 20, 311);
    CHECK(mc_storage_poll(&a.st, a.now) == MC_OK);
    header(hdr, 1024, 4, 0xFF, 16, 0, 0x54);
    write_seed("windows_params_1k_p4", hdr, &e);
    /* The same with the records of sector starts in another major format (the CRC
     * fix-up of header bit 6 makes them valid): refused, nothing written. */
    {
        nvm_emu_t v;
        CHECK(nvm_emu_init(&v, e.sector_count, e.sector_size, e.prog_size, e.erase_value) == 0);
        nvm_emu_copy(&v, &e);
        for (uint32_t sec = 0; sec < v.sector_count; sec++) {
            uint8_t *p = nvm_emu_at(&v, sec, 0);
            if (p[0] == 0x43u && p[1] == 0x4Du) {
                p[3] = (uint8_t)(MC_STORAGE_FORMAT_MAJOR - 1u);
            }
        }
        header(hdr, 1024, 4, 0xFF, 16, 0x40, 0x54);
        write_seed("older_major_fixup_1k_p4", hdr, &v);
        nvm_emu_free(&v);
    }

    /* Then a freeze (the 15th at 00:00 passes), calibration, seal and an energy clear. */
    windows(&a, 3, 20u * 86400u);
    write_cal(&a, 0, 1.0125f);
    write_cal(&a, 3, 0.25f);
    write_u16(&a, MC_QTY_SEAL, 0, 1);
    write_u16(&a, MC_QTY_CLEAR_ENERGY, 0, MC_CLEAR_ENERGY_COMMAND);
    a.now += 2u;
    CHECK(mc_storage_poll(&a.st, a.now) == MC_OK);
    windows(&a, 5, 600);
    CHECK(mc_storage_power_fail(&a.st, a.now) == MC_OK);
    header(hdr, 1024, 4, 0xFF, 16, 0, 0xFC);
    write_seed("freeze_seal_clear_1k_p4", hdr, &e);
    /* The same image with the CRC fix-ups on, so that mutations behind the CRCs stay valid. */
    header(hdr, 1024, 4, 0xFF, 16, 0xC0, 0xFC);
    write_seed("freeze_seal_clear_1k_p4_fixup", hdr, &e);
    nvm_emu_free(&e);

    /* Other geometries: 2 KiB sectors programmed by 8, 3 history/config sectors; 4 KiB by 16;
     * EEPROM-like (1-byte units, erase 0x00); 8 x 4 KiB, where history and config share one area. */
    static const struct {
        const char *name;
        uint32_t sector_size, prog, sectors;
        uint8_t erase_value;
        unsigned writes;
    } geo[] = {
        {"freeze_2k_p8_16s", 2048, 8, 16, 0xFF, 30},
        {"events_wrapped_4k_p16", 4096, 16, 10, 0xFF, 400},
        {"eeprom_1k_p1_erase00", 1024, 1, 14, 0x00, 10},
        {"small_8x4k_p8", 4096, 8, 8, 0xFF, 20},
    };
    for (unsigned g = 0; g < sizeof(geo) / sizeof(geo[0]); g++) {
        CHECK(nvm_emu_init(&e, geo[g].sectors, geo[g].sector_size, geo[g].prog, geo[g].erase_value) == 0);
        fz_app_init(&a, &e, t0, NULL, 0);
        CHECK(fz_app_mount(&a) == MC_OK);
        windows(&a, 30, 1200);
        for (unsigned k = 0; k < geo[g].writes; k++) {
            write_u16(&a, MC_QTY_ADDRESS, 0, 1u + k % 200u);
        }
        windows(&a, 4, 10u * 86400u); /* a freeze */
        write_cal(&a, 1, 0.9975f);
        CHECK(mc_storage_power_fail(&a.st, a.now) == MC_OK);
        header(hdr, geo[g].sector_size, geo[g].prog, geo[g].erase_value, geo[g].sectors, 0, 0xA8);
        write_seed(geo[g].name, hdr, &e);
        nvm_emu_free(&e);
    }

    /* A memory that holds no meter of ours (refused unless a new meter is asked for). */
    CHECK(nvm_emu_init(&e, 16, 1024, 4, 0xFF) == 0);
    for (size_t k = 0; k < 3000u; k++) {
        e.mem[k] = (uint8_t)(nvm_emu_mix(k) >> 17);
    }
    header(hdr, 1024, 4, 0xFF, 16, 0, 0x84);
    write_seed("foreign_1k_p4", hdr, &e);
    header(hdr, 1024, 4, 0xFF, 16, 0x20, 0x84);
    write_seed("foreign_1k_p4_new_meter", hdr, &e);
    nvm_emu_free(&e);

    printf("gen_storage: %u seeds in %s\n", g_written, g_dir);
    return 0;
}
