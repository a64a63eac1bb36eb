/*
 * Plain driver for libFuzzer targets: feeds every file of the directories (or
 * the files) named on the command line to LLVMFuzzerTestOneInput(), each from
 * an exactly sized heap copy so that AddressSanitizer sees reads past its end.
 * Used to replay the seed corpus where libFuzzer is not available (GCC builds).
 * Exits 1 if an input cannot be read or no input was found.
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        uint8_t *nb = realloc(buf, len + got);
        if (nb == NULL) {
            free(buf);
            fclose(f);
            return -1;
        }
        buf = nb;
        memcpy(buf + len, chunk, got);
        len += got;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        perror(path);
        return -1;
    }
    if (len == 0) {
        buf = malloc(1); /* a valid pointer for an empty input */
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned runs = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            perror(argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[a]) != 0) {
                return 1;
            }
            runs++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (d == NULL) {
            perror(argv[a]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.') {
                continue;
            }
            snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                continue;
            }
            if (run_file(path) != 0) {
                closedir(d);
                return 1;
            }
            runs++;
        }
        closedir(d);
    }
    printf("fuzz_driver: %u inputs replayed\n", runs);
    return runs > 0 ? 0 : 1;
}
