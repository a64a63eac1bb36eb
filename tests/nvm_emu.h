/*
 * An emulated NVM for the storage tests: mc_nvm_t over a RAM array with flash
 * semantics, operation counters, power cuts, bit flips and failing sectors.
 * SPDX-License-Identifier: MIT
 *
 * Semantics (what a NOR flash does, and what mc_storage.h assumes):
 * - erase sets every byte of a sector to erase_value;
 * - prog can only move bits away from their erased state (with erase_value
 *   0xFF: AND into the bytes already there), at offsets and sizes that are
 *   multiples of prog_size; anything else (or out of range) returns
 *   MC_ERR_INVAL and counts as a contract violation (stats.violations);
 * - read copies.
 *
 * Power cuts: nvm_emu_arm_cut(e, k, seed) makes the k-th prog or erase call
 * from then on the one during which power is lost. That call is not done at
 * all or done partially (see nvm_emu_apply_partial(): a prog writes a prefix,
 * maybe with the last byte half-programmed; an erase erases part of the
 * sector), as the seed decides; it and every later call (reads too) fail with
 * MC_ERR_IO until nvm_emu_repower(). The array survives, as NVM does.
 *
 * For sweeps that try every cut point in one pass, a before_op hook sees each
 * prog and erase before it is done: nvm_emu_copy() the image to a second
 * emulator and nvm_emu_apply_partial() the operation to it with the same seed
 * gives exactly the image a cut at that operation leaves.
 */
#ifndef METERCORE_TESTS_NVM_EMU_H
#define METERCORE_TESTS_NVM_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "metercore/mc_storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a failing sector fails its programming. */
typedef enum nvm_fail_mode {
    NVM_FAIL_NONE = 0,   /**< Works. */
    NVM_FAIL_IO,         /**< prog returns MC_ERR_IO and changes nothing. */
    NVM_FAIL_SILENT,     /**< prog returns 0 and changes nothing (only a read-back finds it). */
    NVM_FAIL_STUCK       /**< prog returns 0 but bit 0 of every byte stays erased (a stuck bit). */
} nvm_fail_mode;

/** Operation counters. */
typedef struct nvm_emu_stats {
    uint64_t reads;            /**< read calls. */
    uint64_t progs;            /**< prog calls. */
    uint64_t erases;           /**< erase calls. */
    uint64_t bytes_read;       /**< Bytes read. */
    uint64_t bytes_programmed; /**< Bytes programmed. */
    uint64_t ops;              /**< prog + erase calls (the power-cut counter). */
    uint64_t violations;       /**< Calls refused with MC_ERR_INVAL (alignment, range, NULL). */
    uint64_t reprogrammed;     /**< Bytes programmed that were not erased before (programmed twice). */
    uint64_t conflicts;        /**< Bytes whose content after prog differs from the data (a bit could not be set). */
    uint64_t io_errors;        /**< Calls that returned MC_ERR_IO. */
} nvm_emu_stats_t;

struct nvm_emu;

/** Hook called before every prog (is_erase 0) or erase (1) that is going to be carried out. */
typedef void (*nvm_emu_op_hook)(void *ctx, struct nvm_emu *e, uint64_t op, int is_erase, uint32_t sector,
                                uint32_t offset, const uint8_t *buf, uint32_t size);

/** The emulator. */
typedef struct nvm_emu {
    uint8_t *mem;              /**< sector_count * sector_size bytes. */
    uint32_t sector_size;      /**< Bytes per sector. */
    uint32_t sector_count;     /**< Sectors. */
    uint32_t prog_size;        /**< Programming unit. */
    uint8_t erase_value;       /**< Erased byte. */
    uint32_t *erase_count;     /**< Erases per sector (wear). */
    nvm_emu_stats_t st;        /**< Counters. */
    /* power */
    uint64_t cut_at;           /**< Absolute op number of the cut (st.ops + k at arming); 0 = not armed. */
    uint64_t cut_seed;         /**< How the cut operation is left. */
    int off;                   /**< Power is off (after a cut): every call fails with MC_ERR_IO. */
    int cut_done;              /**< A cut happened (stays set until nvm_emu_repower()). */
    uint64_t cut_op;           /**< Op number that was cut. */
    /* failing sector */
    int32_t fail_sector;       /**< First sector whose prog fails, or -1. */
    uint32_t fail_count;       /**< Sectors failing from fail_sector on (1 for nvm_emu_fail_sector()). */
    nvm_fail_mode fail_mode;   /**< How it fails. */
    /* hook */
    nvm_emu_op_hook before_op; /**< Called before each prog/erase is carried out (may be NULL). */
    void *before_op_ctx;       /**< Its context. */
} nvm_emu_t;

/**
 * Create an erased memory. Returns 0, or -1 (allocation).
 */
int nvm_emu_init(nvm_emu_t *e, uint32_t sector_count, uint32_t sector_size, uint32_t prog_size,
                 uint8_t erase_value);

/** Free the memory. */
void nvm_emu_free(nvm_emu_t *e);

/** Fill an mc_nvm_t with the emulator's callbacks and geometry. */
void nvm_emu_port(nvm_emu_t *e, mc_nvm_t *out);

/** Zero the counters and the wear counts. */
void nvm_emu_reset_stats(nvm_emu_t *e);

/** Copy the image (same geometry) from @p src into @p dst; counters, cut and faults of dst stay. */
void nvm_emu_copy(nvm_emu_t *dst, const nvm_emu_t *src);

/** Whether two emulators hold the same image. */
int nvm_emu_same(const nvm_emu_t *a, const nvm_emu_t *b);

/** Arm a power cut at the k-th (k >= 1) prog or erase call from now, left as @p seed decides. */
void nvm_emu_arm_cut(nvm_emu_t *e, uint64_t k, uint64_t seed);

/** Disarm a cut that has not happened. */
void nvm_emu_disarm(nvm_emu_t *e);

/** Power back on after a cut (the image stays as the cut left it). */
void nvm_emu_repower(nvm_emu_t *e);

/**
 * Apply an operation as a power cut during it leaves it (deterministic in @p seed):
 * not done at all, or a prog's prefix (the next byte maybe half-programmed), or
 * part of an erase. Returns a short description ("none", "prefix", "half", "erase-part").
 */
const char *nvm_emu_apply_partial(nvm_emu_t *e, int is_erase, uint32_t sector, uint32_t offset,
                                  const uint8_t *buf, uint32_t size, uint64_t seed);

/** Flip bit @p bit (0..7) of the byte at @p sector / @p offset. */
void nvm_emu_flip(nvm_emu_t *e, uint32_t sector, uint32_t offset, unsigned bit);

/** Make @p sector's prog fail as @p mode says (sector -1 or NVM_FAIL_NONE: none). */
void nvm_emu_fail_sector(nvm_emu_t *e, int32_t sector, nvm_fail_mode mode);

/** Make sectors [first, first + count) fail their prog as @p mode says (a failing medium). */
void nvm_emu_fail_range(nvm_emu_t *e, uint32_t first, uint32_t count, nvm_fail_mode mode);

/** Pointer to a byte of the image. */
uint8_t *nvm_emu_at(nvm_emu_t *e, uint32_t sector, uint32_t offset);

/** Largest and smallest erase count over sectors [first, first + n). */
void nvm_emu_wear(const nvm_emu_t *e, uint32_t first, uint32_t n, uint32_t *min, uint32_t *max);

/** A 64-bit mixer (splitmix64), for seeds. */
uint64_t nvm_emu_mix(uint64_t x);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_TESTS_NVM_EMU_H */
