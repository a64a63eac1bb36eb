/*
 * metersim dump --state FILE [--json] [--events]: every register of the map with
 * its value from a state file, or its event log. The file is read into RAM and
 * storage is mounted on that copy, so the file is never modified; values are
 * read through mc_modbus_handle_pdu() FC03 requests (a public session, as any
 * Modbus client reads them). A file that is not a metersim state (empty, of
 * another size, foreign, another storage format) is refused as run refuses it.
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
            "usage: metersim dump --state FILE [--json] [--events]\n"
            "  Every register of the map with its value from a metersim state file (the file is\n"
            "  not modified): lines '0x0080 <value>', or with --json one object mapping \"0x0080\"\n"
            "  to its value (floats as numbers, 16-bit registers as integers).\n"
            "  --state FILE  the NVM state file of metersim run (read under a shared lock: while a\n"
            "                metersim run holds the file, dump exits 2 naming it and the run's pid).\n"
            "                A file that is not a metersim state (empty, of another size, foreign,\n"
            "                another storage format) is refused with exit 2, as run refuses it\n"
            "  --json        one JSON object\n"
            "  --events      the event log instead, newest first: lines 'event INDEX seq N time\n"
            "                YYYY-MM-DDTHH:MM:SS type T source S qty Q arg A old O new N' (the\n"
            "                fields of 1302H..130DH), or with --json {\"events\":[{...}, ...]}\n"
            "  --help        this text\n");
}

/* The event log, newest first. The power-up event that this dump's own mount logged (in RAM,
 * never saved) is the newest one: it is left out, so the list is what the file holds. */
static void print_events(const ms_app_t *app, int json)
{
    const unsigned n = mc_storage_event_count(&app->st);
    unsigned first = 0;
    mc_event_t ev;
    if (n > 0u && mc_storage_event_read(&app->st, 0, &ev) == MC_OK && ev.type == MC_EV_POWER_UP) {
        first = 1;
    }
    if (json) {
        printf("{\"events\":[");
    }
    for (unsigned k = first; k < n; k++) {
        const unsigned index = k - first;
        char ts[32];
        const int rc = mc_storage_event_read(&app->st, k, &ev);
        if (rc != MC_OK) {
            if (json) {
                printf("%s{\"index\":%u,\"error\":\"%s\"}", index ? "," : "", index, mc_strerror(rc));
            } else {
                printf("event %u unreadable (%s)\n", index, mc_strerror(rc));
            }
            continue;
        }
        ms_format_time(ev.time, ts, sizeof(ts));
        if (json) {
            printf("%s{\"index\":%u,\"seq\":%lu,\"time\":\"%s\",\"type\":%u,\"source\":%u,\"qty\":%u,"
                   "\"arg\":%u,\"old\":%lu,\"new\":%lu}",
                   index ? "," : "", index, (unsigned long)ev.seq, ts, (unsigned)ev.type, (unsigned)ev.source,
                   (unsigned)ev.qty, (unsigned)ev.arg, (unsigned long)ev.old_value, (unsigned long)ev.new_value);
        } else {
            printf("event %u seq %lu time %s type %u source %u qty %u arg %u old %lu new %lu\n", index,
                   (unsigned long)ev.seq, ts, (unsigned)ev.type, (unsigned)ev.source, (unsigned)ev.qty,
                   (unsigned)ev.arg, (unsigned long)ev.old_value, (unsigned long)ev.new_value);
        }
    }
    if (json) {
        printf("]}\n");
    }
}

int ms_cmd_dump(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, events = 0;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            dump_help(stdout);
            return MS_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--events") == 0) {
            events = 1;
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
    int rc = ms_app_start(&app, 0, &nvm, 0);
    if (rc != MC_OK) {
        ms_ram_nvm_free(&ram);
        if (rc == MC_ERR_BLANK || rc == MC_ERR_VERSION) { /* not ours: refused, as run refuses it */
            char why[200];
            ms_state_reason(MS_NVM_SECTORS * MS_NVM_SECTOR_SIZE, 1, rc, why, sizeof(why));
            ms_error("dump: state file %s %s; refused and left as it is", path, why);
            return MS_EXIT_USAGE;
        }
        ms_error("dump: %s: cannot mount the state (%s)", path, mc_strerror(rc));
        return MS_EXIT_FAIL;
    }
    /* the meter's clock: where the state stopped (the mount's power-up event says) */
    mc_event_t ev;
    if (mc_storage_event_read(&app.st, 0, &ev) == MC_OK && ev.type == MC_EV_POWER_UP && ev.old_value != 0) {
        app.base_time = ev.old_value;
    }
    if (events) {
        print_events(&app, json);
        ms_ram_nvm_free(&ram);
        return MS_EXIT_OK;
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
            const int len = mc_modbus_handle_pdu(&app.model, NULL, req, sizeof(req), resp, 0);
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
