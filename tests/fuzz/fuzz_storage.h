/*
 * Input format of tests/fuzz/fuzz_storage.c, shared with its seed generator
 * (tests/fuzz/gen_storage.c): header bytes, then the flash image.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERCORE_TESTS_FUZZ_STORAGE_H
#define METERCORE_TESTS_FUZZ_STORAGE_H

/** Header bytes before the image (geometry, configuration, what to run). */
#define FZ_STORAGE_HEADER 4u
/** Size of a record header on the NVM (src/storage/mc_storage.c, "On-NVM format"). */
#define FZ_RECORD_HEADER 16u

#endif /* METERCORE_TESTS_FUZZ_STORAGE_H */
