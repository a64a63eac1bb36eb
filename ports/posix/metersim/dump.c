/*
 * metersim dump --state FILE [--json]: every register of the map with its value
 * from a state file. The file is read into RAM and storage is mounted on that
 * copy, so the file is never modified; values are read through
 * mc_modbus_handle_pdu() FC03 requests, exactly as a Modbus client reads them.
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "metercore/mc_modbus.h"
#include "metersim.h"

static void dump_help(FILE *f)
{
    fprintf(f,
            "usage: metersim dump --state FILE [--json]\n"
            "  Every register of the map with its value from a metersim state file (the file is\n"
            "  not modified): lines '0x0080 <value>', or with --json one object mapping \"0x0080\"\n"
            "  to its value (floats as numbers, 16-bit registers as integers).\n"
            "  --state FILE  the NVM state file of metersim run (read under a shared lock: while a\n"
            "                metersim run holds the file, dump exits 2 naming it and the run's pid)\n"
            "  --json        one JSON object\n"
            "  --help        this text\n");
}

int ms_cmd_dump(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            dump_help(stdout);
            return MS_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--state") == 0) {
            if (k + 1 >= argc || argv[k + 1][0] == '\0') {
                ms_error("dump: --state needs a file");
                return MS_EXIT_USAGE;
            }
            path = argv[++k];
        } else if (strncmp(a, "--state=", 8) == 0 && a[8] != '\0') {
            path = a + 8;
        } else {
            ms_error("dump: unknown %s '%s' (try metersim dump --help)", a[0] == '-' ? "option" : "argument", a);
            return MS_EXIT_USAGE;
        }
    }
    if (path == NULL) {
        ms_error("dump: --state FILE is required");
        return MS_EXIT_USAGE;
    }
    static ms_ram_nvm_t ram;
    mc_nvm_t nvm;
    char err[600];
    if (ms_ram_nvm_load(&ram, path, &nvm, err, sizeof(err)) != 0) {
        ms_error("dump: %s", err);
        return MS_EXIT_USAGE;
    }
    static ms_app_t app;
    int rc = ms_app_start(&app, 0, &nvm);
    if (rc != MC_OK) {
        ms_ram_nvm_free(&ram);
        ms_error("dump: %s: cannot mount the state (%s)", path, mc_strerror(rc));
        return MS_EXIT_FAIL;
    }
    /* the meter's clock: where the state stopped (the mount's power-up event says) */
    mc_event_t ev;
    if (mc_storage_event_read(&app.st, 0, &ev) == MC_OK && ev.type == MC_EV_POWER_UP && ev.old_value != 0) {
        app.base_time = ev.old_value;
    }
    size_t n = 0;
    const mc_reg_entry_t *tab = mc_regmap_table(&n);
    const int cdab = app.model.params.word_order == 1;
    int first = 1;
    if (json) {
        printf("{");
    }
    for (size_t e = 0; e < n; e++) {
        const mc_reg_entry_t *en = &tab[e];
        if (!(en->access & MC_ACC_R)) {
            continue;
        }
        const unsigned width = en->format == MC_FMT_F32 ? 2u : 1u;
        for (unsigned k = 0; k < en->count; k++) {
            const unsigned addr = en->addr + k * width;
            uint8_t req[5] = { MC_MB_FC_READ_HOLDING, (uint8_t)(addr >> 8), (uint8_t)addr, 0, (uint8_t)width };
            uint8_t resp[MC_MODBUS_PDU_MAX];
            const int len = mc_modbus_handle_pdu(&app.model, req, sizeof(req), resp, 0);
            char val[64];
            if (len == (int)(2u + 2u * width) && resp[0] == MC_MB_FC_READ_HOLDING) {
                if (width == 1) {
                    snprintf(val, sizeof(val), "%u", (unsigned)((resp[2] << 8) | resp[3]));
                } else {
                    uint16_t w0 = (uint16_t)((resp[2] << 8) | resp[3]), w1 = (uint16_t)((resp[4] << 8) | resp[5]);
                    uint32_t bits = cdab ? ((uint32_t)w1 << 16 | w0) : ((uint32_t)w0 << 16 | w1);
                    float f;
                    memcpy(&f, &bits, 4);
                    if (isfinite(f)) {
                        snprintf(val, sizeof(val), "%.9g", (double)f);
                    } else {
                        snprintf(val, sizeof(val), json ? "null" : "nan");
                    }
                }
            } else if (len == 2) {
                snprintf(val, sizeof(val), json ? "null" : "exception-%02x", resp[1]);
            } else {
                snprintf(val, sizeof(val), json ? "null" : "error");
            }
            if (json) {
                printf("%s\"0x%04X\":%s", first ? "" : ",", addr, val);
            } else {
                printf("0x%04X %s\n", addr, val);
            }
            first = 0;
        }
    }
    if (json) {
        printf("}\n");
    }
    ms_ram_nvm_free(&ram);
    return MS_EXIT_OK;
}
