/*
 * POSIX port: file-backed NVM with flash semantics. See mc_posix_nvm.h.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include "mc_posix_nvm.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Bytes handled per pread/pwrite when filling or programming (stack buffer). */
#define CHUNK 256u

static int geometry_ok(uint32_t count, uint32_t size, uint32_t prog)
{
    return (prog == 1u || prog == 4u || prog == 8u || prog == 16u) && size >= 256u && size <= 65536u &&
           size % prog == 0u && count >= 8u && count <= 256u;
}

static int in_range(const mc_posix_nvm_t *f, uint32_t sector, uint32_t offset, uint32_t size)
{
    return f->fd >= 0 && sector < f->sector_count && offset <= f->sector_size && size <= f->sector_size - offset;
}

static off_t position(const mc_posix_nvm_t *f, uint32_t sector, uint32_t offset)
{
    return (off_t)sector * (off_t)f->sector_size + (off_t)offset;
}

/* Whole pread/pwrite, retrying on EINTR and short transfers. */
static int read_all(int fd, void *buf, size_t n, off_t at)
{
    uint8_t *p = buf;
    while (n > 0u) {
        ssize_t r = pread(fd, p, n, at);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return MC_ERR_IO;
        }
        p += r;
        n -= (size_t)r;
        at += r;
    }
    return MC_OK;
}

static int write_all(int fd, const void *buf, size_t n, off_t at)
{
    const uint8_t *p = buf;
    while (n > 0u) {
        ssize_t r = pwrite(fd, p, n, at);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return MC_ERR_IO;
        }
        p += r;
        n -= (size_t)r;
        at += r;
    }
    return MC_OK;
}

static int sync_file(int fd)
{
    while (fsync(fd) != 0) {
        if (errno != EINTR) {
            return MC_ERR_IO;
        }
    }
    return MC_OK;
}

/* Fill [at, at + n) with the erased value. */
static int fill(const mc_posix_nvm_t *f, off_t at, size_t n)
{
    uint8_t chunk[CHUNK];
    memset(chunk, f->erase_value, sizeof(chunk));
    while (n > 0u) {
        const size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
        if (write_all(f->fd, chunk, k, at) != MC_OK) {
            return MC_ERR_IO;
        }
        at += (off_t)k;
        n -= k;
    }
    return MC_OK;
}

static int nvm_read(void *context, uint32_t sector, uint32_t offset, void *buf, uint32_t size)
{
    mc_posix_nvm_t *f = context;
    if (f == NULL || buf == NULL || !in_range(f, sector, offset, size)) {
        return MC_ERR_INVAL;
    }
    return read_all(f->fd, buf, size, position(f, sector, offset));
}

static int nvm_prog(void *context, uint32_t sector, uint32_t offset, const void *buf, uint32_t size)
{
    mc_posix_nvm_t *f = context;
    if (f == NULL || buf == NULL || !in_range(f, sector, offset, size) || offset % f->prog_size != 0u ||
        size % f->prog_size != 0u) {
        return MC_ERR_INVAL;
    }
    const uint8_t *src = buf;
    const uint8_t ev = f->erase_value;
    uint8_t chunk[CHUNK];
    off_t at = position(f, sector, offset);
    uint32_t left = size;
    while (left > 0u) {
        const uint32_t k = left < CHUNK ? left : CHUNK;
        if (read_all(f->fd, chunk, k, at) != MC_OK) {
            return MC_ERR_IO;
        }
        /* Flash: only bits still in their erased state change (0xFF: AND). */
        for (uint32_t j = 0; j < k; j++) {
            chunk[j] = (uint8_t)((chunk[j] & src[j] & ev) | ((chunk[j] | src[j]) & (uint8_t)~ev));
        }
        if (write_all(f->fd, chunk, k, at) != MC_OK) {
            return MC_ERR_IO;
        }
        src += k;
        at += (off_t)k;
        left -= k;
    }
    return f->sync_each ? sync_file(f->fd) : MC_OK;
}

static int nvm_erase(void *context, uint32_t sector)
{
    mc_posix_nvm_t *f = context;
    if (f == NULL || !in_range(f, sector, 0, 0)) {
        return MC_ERR_INVAL;
    }
    if (fill(f, position(f, sector, 0), f->sector_size) != MC_OK) {
        return MC_ERR_IO;
    }
    return f->sync_each ? sync_file(f->fd) : MC_OK;
}

void mc_posix_nvm_set_sync(mc_posix_nvm_t *f, int each)
{
    if (f != NULL) {
        f->sync_each = each ? 1u : 0u;
    }
}

int mc_posix_nvm_open(mc_posix_nvm_t *f, const char *path, uint32_t sector_count, uint32_t sector_size,
                      uint32_t prog_size, uint8_t erase_value, mc_nvm_t *nvm)
{
    if (f == NULL || path == NULL || nvm == NULL || !geometry_ok(sector_count, sector_size, prog_size)) {
        return MC_ERR_INVAL;
    }
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->sector_count = sector_count;
    f->sector_size = sector_size;
    f->prog_size = prog_size;
    f->erase_value = erase_value;
    f->sync_each = 1;
    const off_t total = (off_t)sector_count * (off_t)sector_size;
    int fd;
    do {
        fd = open(path, O_RDWR | O_CREAT, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return MC_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        (void)close(fd);
        return MC_ERR_IO;
    }
    f->fd = fd;
    if (sb.st_size == 0) {
        /* A new memory: every byte erased. */
        if (fill(f, 0, (size_t)total) != MC_OK || sync_file(fd) != MC_OK) {
            (void)close(fd);
            f->fd = -1;
            return MC_ERR_IO;
        }
    } else if (sb.st_size != total) {
        (void)close(fd);
        f->fd = -1;
        return MC_ERR_INVAL;
    }
    memset(nvm, 0, sizeof(*nvm));
    nvm->read = nvm_read;
    nvm->prog = nvm_prog;
    nvm->erase = nvm_erase;
    nvm->context = f;
    nvm->sector_size = sector_size;
    nvm->sector_count = sector_count;
    nvm->prog_size = prog_size;
    nvm->erase_value = erase_value;
    return MC_OK;
}

int mc_posix_nvm_close(mc_posix_nvm_t *f)
{
    if (f == NULL || f->fd < 0) {
        return MC_ERR_INVAL;
    }
    int err = sync_file(f->fd) == MC_OK ? 0 : -1;
    err |= close(f->fd);
    f->fd = -1;
    return err == 0 ? MC_OK : MC_ERR_IO;
}
