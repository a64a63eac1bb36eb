/*
 * POSIX port: file-backed NVM with flash semantics. See mc_posix_nvm.h.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include "mc_posix_nvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Record a failed system call's errno and return MC_ERR_IO. */
static int io_fail(mc_posix_nvm_t *f)
{
    f->os_errno = errno != 0 ? errno : EIO;
    return MC_ERR_IO;
}

/* fsync the directory holding path, so that a new name in it survives a power loss. Filesystems
 * that cannot sync a directory (EINVAL) are fine: the rename or link itself is done. */
static int sync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    const char *d = ".";
    if (slash != NULL) {
        const size_t n = slash == path ? 1u : (size_t)(slash - path);
        dir = malloc(n + 1u);
        if (dir == NULL) {
            errno = ENOMEM;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
        d = dir;
    }
    int fd;
    do {
        fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    int rc = 0;
    if (fd < 0) {
        rc = -1;
    } else {
        if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
            rc = -1;
        }
        const int e = errno;
        (void)close(fd);
        errno = e;
    }
    free(dir);
    return rc;
}

/*
 * A new blank memory at path, whole or not at all: a temporary file next to it is filled and
 * synced, then linked to path (never over a file that appeared meanwhile: 1 is returned then,
 * and nothing is left) or, with replace (or without hard links), renamed over it. On success
 * f->fd is the new file. 0 done, 1 path exists (not replace), or MC_ERR_IO (nothing left behind).
 */
static int create_blank(mc_posix_nvm_t *f, const char *path, off_t total, int replace)
{
    const size_t plen = strlen(path);
    char *tmp = malloc(plen + 40u);
    if (tmp == NULL) {
        errno = ENOMEM;
        return io_fail(f);
    }
    int fd = -1;
    for (unsigned k = 0; k < 1000u && fd < 0; k++) {
        snprintf(tmp, plen + 40u, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST && errno != EINTR) {
            break;
        }
    }
    if (fd < 0) {
        const int rc = io_fail(f);
        free(tmp);
        return rc;
    }
    f->fd = fd;
    int rc = MC_OK;
    if (fill(f, 0, (size_t)total) != MC_OK || sync_file(fd) != MC_OK) {
        rc = io_fail(f);
    } else if (replace) {
        if (rename(tmp, path) != 0) {
            rc = io_fail(f);
        }
    } else if (link(tmp, path) == 0) {
        (void)unlink(tmp);
    } else if (errno == EEXIST) {
        rc = 1; /* someone else created it meanwhile: theirs is opened */
    } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS || errno == EMLINK) {
        /* no hard links here (e.g. vfat): rename, which the exclusive start-up check nearly always covers */
        if (rename(tmp, path) != 0) {
            rc = io_fail(f);
        }
    } else {
        rc = io_fail(f);
    }
    if (rc == MC_OK && sync_dir_of(path) != 0) {
        rc = io_fail(f);
        (void)unlink(path); /* not known to be durable: not there at all rather than half there */
    }
    if (rc != MC_OK) {
        const int e = f->os_errno;
        (void)unlink(tmp);
        (void)close(fd);
        f->fd = -1;
        f->os_errno = e;
    }
    free(tmp);
    return rc;
}

int mc_posix_nvm_open_ex(mc_posix_nvm_t *f, const char *path, uint32_t sector_count, uint32_t sector_size,
                         uint32_t prog_size, uint8_t erase_value, unsigned flags, mc_nvm_t *nvm)
{
    if (f == NULL || path == NULL || path[0] == '\0' || nvm == NULL ||
        !geometry_ok(sector_count, sector_size, prog_size) ||
        (flags & ~(MC_POSIX_NVM_NO_EMPTY | MC_POSIX_NVM_REPLACE)) != 0u) {
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
    struct stat sb;
    if (flags & MC_POSIX_NVM_REPLACE) {
        if (stat(path, &sb) == 0) {
            f->file_size = (uint64_t)sb.st_size;
        }
        const int rc = create_blank(f, path, total, 1);
        if (rc != MC_OK) {
            return MC_ERR_IO;
        }
        f->created = 1;
    } else {
        for (unsigned tries = 0; f->fd < 0; tries++) {
            int fd;
            do {
                fd = open(path, O_RDWR | O_CLOEXEC);
            } while (fd < 0 && errno == EINTR);
            if (fd >= 0) {
                f->fd = fd;
                break;
            }
            if (errno != ENOENT || tries >= 3u) {
                return io_fail(f);
            }
            const int rc = create_blank(f, path, total, 0);
            if (rc < 0) {
                return rc;
            }
            if (rc == MC_OK) {
                f->created = 1;
            } /* 1: created by someone else meanwhile: open theirs */
        }
        if (!f->created) {
            if (fstat(f->fd, &sb) != 0) {
                const int rc = io_fail(f);
                (void)close(f->fd);
                f->fd = -1;
                return rc;
            }
            f->file_size = (uint64_t)sb.st_size;
            if (sb.st_size == 0 && !(flags & MC_POSIX_NVM_NO_EMPTY)) {
                /* An existing empty file (e.g. from mkstemp): a new memory, filled in place; emptied
                 * again if that fails, as it was found. */
                if (fill(f, 0, (size_t)total) != MC_OK || sync_file(f->fd) != MC_OK) {
                    const int rc = io_fail(f);
                    (void)ftruncate(f->fd, 0);
                    (void)close(f->fd);
                    f->fd = -1;
                    return rc;
                }
                f->created = 1;
            } else if (sb.st_size != total) {
                (void)close(f->fd);
                f->fd = -1;
                return MC_ERR_INVAL;
            }
        }
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

int mc_posix_nvm_open(mc_posix_nvm_t *f, const char *path, uint32_t sector_count, uint32_t sector_size,
                      uint32_t prog_size, uint8_t erase_value, mc_nvm_t *nvm)
{
    return mc_posix_nvm_open_ex(f, path, sector_count, sector_size, prog_size, erase_value, 0u, nvm);
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
