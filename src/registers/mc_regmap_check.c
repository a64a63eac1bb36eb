/*
 * metercore registers: mc_regmap_check(), the check of a register map's tables (a product's
 * own or a built-in one) before the Modbus handler serves it.
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_registers.h"

static int check_table(const mc_regmap_t *map, const mc_reg_entry_t *t, size_t n)
{
    if (n > 0u && t == NULL) {
        return MC_ERR_INVAL;
    }
    uint32_t next = 0; /* first address the next entry may use */
    for (size_t k = 0; k < n; k++) {
        const mc_reg_entry_t *e = &t[k];
        const uint32_t w = (e->format == MC_FMT_F32 || e->format == MC_FMT_U32) ? 2u : 1u;
        const uint32_t end = (uint32_t)e->addr + (uint32_t)e->count * w;
        if (e->count == 0u || e->format > MC_FMT_STR || e->addr < next || end > 0x10000u ||
            (e->access & ~(unsigned)MC_ACC_RW) != 0u || e->access == 0u) {
            return MC_ERR_INVAL;
        }
        if ((e->format == MC_FMT_CONST || e->format == MC_FMT_STR) && (e->access & MC_ACC_W)) {
            return MC_ERR_INVAL;
        }
        if (e->format == MC_FMT_STR && (map->strings == NULL || e->arg >= map->n_strings ||
                                        map->strings[e->arg] == NULL)) {
            return MC_ERR_INVAL;
        }
        if ((e->access & MC_ACC_W) && ((e->format != MC_FMT_U16 && e->format != MC_FMT_F32) || e->scale != 0)) {
            return MC_ERR_INVAL;
        }
        if ((e->flags & ~(unsigned)MC_REGF_ELEMENT_NAN) != 0u ||
            ((e->flags & MC_REGF_ELEMENT_NAN) && e->format != MC_FMT_F32)) {
            return MC_ERR_INVAL;
        }
        if (e->format != MC_FMT_CONST && e->format != MC_FMT_STR &&
            (e->qty >= (unsigned)MC_QTY_COUNT || e->scale < -9 || e->scale > 9)) {
            return MC_ERR_INVAL;
        }
        next = end;
    }
    return MC_OK;
}

int mc_regmap_check(const mc_regmap_t *map)
{
    if (map == NULL || map->name == NULL || map->words > MC_REGMAP_WORDS_CDAB ||
        (map->n_holding == 0u && map->n_input == 0u)) {
        return MC_ERR_INVAL;
    }
    if (check_table(map, map->holding, map->n_holding) != MC_OK ||
        check_table(map, map->input, map->n_input) != MC_OK) {
        return MC_ERR_INVAL;
    }
    return MC_OK;
}
