/**
 * @file mc_posix_nvm.h
 * @ingroup grp_posix
 * @brief POSIX port: a file-backed ::mc_nvm_t for mc_storage on a host.
 *
 * The memory is a file of sector_count * sector_size bytes. A missing file
 * is created whole or not at all: a temporary file in the same directory is
 * filled with erase_value and synced, then linked (or renamed) into place
 * and the directory synced, so a failure (a full filesystem, a file size
 * limit) leaves no partial file behind. An existing file must have exactly
 * that size (a file of another size is refused, never truncated or
 * reformatted); mc_posix_nvm_open() still fills an existing empty file
 * (emptied again if that fails), mc_posix_nvm_open_ex() can refuse it or
 * replace whatever is there. The callbacks
 * keep flash semantics, so the storage behaves as on a device: erase fills a
 * sector with erase_value, prog only moves bits away from their erased state
 * (erase_value 0xFF: AND into what is there) at prog_size-aligned offsets and
 * sizes, read copies. Every prog and erase is followed by fsync(), so a
 * process killed with SIGKILL (or a host that loses power) keeps what was
 * programmed before, like NVM.
 *
 * @code
 * mc_posix_nvm_t file;
 * mc_storage_config_t cfg;
 * mc_storage_config_default(&cfg);
 * if (mc_posix_nvm_open(&file, "meter.nvm", 64, 1024, 4, 0xFF, &cfg.nvm) == MC_OK) {
 *     mc_storage_mount(&st, &cfg, &meter, &tariff, &model);
 *     ...
 *     mc_posix_nvm_close(&file);
 * }
 * @endcode
 */
#ifndef METERCORE_MC_POSIX_NVM_H
#define METERCORE_MC_POSIX_NVM_H

#include <stdint.h>

#include "metercore/mc_storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A file-backed NVM. Caller-allocated; valid from mc_posix_nvm_open() to mc_posix_nvm_close(). */
typedef struct mc_posix_nvm {
    int fd;                 /**< The file, or -1. */
    uint32_t sector_size;   /**< Bytes per sector. */
    uint32_t sector_count;  /**< Sectors. */
    uint32_t prog_size;     /**< Programming unit. */
    uint8_t erase_value;    /**< Erased byte. */
    uint8_t sync_each;      /**< fsync() after every program and erase (default 1; see mc_posix_nvm_set_sync()). */
    uint8_t created;        /**< The open made a new blank memory (created, replaced, or an empty file filled). */
    uint64_t file_size;     /**< Size of the file found at the path when opening (0 if there was none). */
    int os_errno;           /**< errno of the last failed system call (open, write, sync, rename), else 0. */
} mc_posix_nvm_t;

/**
 * @name Flags of mc_posix_nvm_open_ex()
 * @{
 */
/** Refuse an existing empty file (::MC_ERR_INVAL, file_size 0) instead of filling it: an empty
 *  file is something else's (a truncated copy, a `touch`), not a memory. */
#define MC_POSIX_NVM_NO_EMPTY 1u
/** Replace whatever the path holds (nothing, a file of any size or content) by a new blank
 *  memory, atomically: the old file stays whole until the new one is complete. It destroys
 *  the old contents: only on the user's explicit request. */
#define MC_POSIX_NVM_REPLACE 2u
/** @} */

/**
 * @brief Open (or create) the file and describe it as an NVM port.
 *
 * The same as mc_posix_nvm_open_ex() with flags 0: a missing file is created
 * (whole or not at all), an existing empty one is filled.
 * @param f             the instance.
 * @param path          the file; created if missing.
 * @param sector_count  sectors (8..256, see ::mc_nvm_t).
 * @param sector_size   bytes per sector (256..65536, a multiple of prog_size).
 * @param prog_size     programming unit: 1, 4, 8 or 16.
 * @param erase_value   erased byte (0xFF for flash).
 * @param nvm           receives the callbacks (context = @p f) and the geometry.
 * @return ::MC_OK; ::MC_ERR_INVAL (NULL, geometry, an existing file of another
 *         size); ::MC_ERR_IO (open, write, sync; errno in f->os_errno).
 */
int mc_posix_nvm_open(mc_posix_nvm_t *f, const char *path, uint32_t sector_count, uint32_t sector_size,
                      uint32_t prog_size, uint8_t erase_value, mc_nvm_t *nvm);

/**
 * @brief Open, create or replace the file, as @p flags say, and describe it as an NVM port.
 *
 * A missing file is created: a temporary file next to it (`PATH.tmp.PID.N`) is
 * filled with @p erase_value and synced, then linked to @p path (so a file
 * created meanwhile by someone else is never overwritten: that one is opened
 * instead) or, where the filesystem has no hard links, renamed; the directory
 * is synced. On any failure the temporary file is removed: no partial file is
 * left. With ::MC_POSIX_NVM_REPLACE the new file is renamed over whatever is at
 * @p path. An existing file is opened as it is (nothing is written to it here);
 * its size must be the geometry's, and an empty one is filled in place (unless
 * ::MC_POSIX_NVM_NO_EMPTY) and emptied again if that fails.
 * f->created says whether the memory is new, f->file_size what was found.
 * @param f             the instance.
 * @param path          the file.
 * @param sector_count  sectors (8..256, see ::mc_nvm_t).
 * @param sector_size   bytes per sector (256..65536, a multiple of prog_size).
 * @param prog_size     programming unit: 1, 4, 8 or 16.
 * @param erase_value   erased byte (0xFF for flash).
 * @param flags         0, ::MC_POSIX_NVM_NO_EMPTY, ::MC_POSIX_NVM_REPLACE.
 * @param nvm           receives the callbacks (context = @p f) and the geometry.
 * @return ::MC_OK; ::MC_ERR_INVAL (NULL, geometry, unknown flags, an existing
 *         file of another size, or empty with ::MC_POSIX_NVM_NO_EMPTY: f->file_size
 *         tells which); ::MC_ERR_IO (a system call failed, errno in f->os_errno:
 *         e.g. ENOSPC, EFBIG, EACCES).
 */
int mc_posix_nvm_open_ex(mc_posix_nvm_t *f, const char *path, uint32_t sector_count, uint32_t sector_size,
                         uint32_t prog_size, uint8_t erase_value, unsigned flags, mc_nvm_t *nvm);

/**
 * @brief Choose whether every program and erase is followed by fsync().
 *
 * With 1 (the default) what was programmed survives a host power loss. With 0
 * it still survives the process being killed (the kernel keeps the written
 * pages), which is what a simulator run as fast as possible needs: per-operation
 * fsync() costs more than the metering itself. mc_posix_nvm_close() syncs either way.
 * @param f     the instance.
 * @param each  1 or 0.
 */
void mc_posix_nvm_set_sync(mc_posix_nvm_t *f, int each);

/**
 * @brief Close the file (after an fsync()).
 * @param f  the instance (fd becomes -1).
 * @return ::MC_OK or ::MC_ERR_IO.
 */
int mc_posix_nvm_close(mc_posix_nvm_t *f);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_POSIX_NVM_H */
