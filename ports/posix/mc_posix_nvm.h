/**
 * @file mc_posix_nvm.h
 * @ingroup grp_posix
 * @brief POSIX port: a file-backed ::mc_nvm_t for mc_storage on a host.
 *
 * The memory is a file of sector_count * sector_size bytes. A new (empty)
 * file is filled with erase_value; an existing file must have exactly that
 * size (a file of another size is refused, never truncated). The callbacks
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
} mc_posix_nvm_t;

/**
 * @brief Open (or create) the file and describe it as an NVM port.
 * @param f             the instance.
 * @param path          the file; created if missing.
 * @param sector_count  sectors (8..256, see ::mc_nvm_t).
 * @param sector_size   bytes per sector (256..65536, a multiple of prog_size).
 * @param prog_size     programming unit: 1, 4, 8 or 16.
 * @param erase_value   erased byte (0xFF for flash).
 * @param nvm           receives the callbacks (context = @p f) and the geometry.
 * @return ::MC_OK; ::MC_ERR_INVAL (NULL, geometry, an existing file of another
 *         size); ::MC_ERR_IO (open, write, sync).
 */
int mc_posix_nvm_open(mc_posix_nvm_t *f, const char *path, uint32_t sector_count, uint32_t sector_size,
                      uint32_t prog_size, uint8_t erase_value, mc_nvm_t *nvm);

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
