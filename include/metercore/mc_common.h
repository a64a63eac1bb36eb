/**
 * @file mc_common.h
 * @brief Version numbers and error codes shared by every metercore module.
 *
 * Every function of the library that can fail returns an `int`: zero or a
 * positive value on success, a negative ::mc_err code on failure. Nothing in the
 * library fails silently and nothing allocates memory.
 */
#ifndef METERCORE_MC_COMMON_H
#define METERCORE_MC_COMMON_H

#ifdef __cplusplus
extern "C" {
#endif

/** Library major version: incremented on incompatible API changes. */
#define MC_VERSION_MAJOR 0
/** Library minor version: incremented on compatible additions. */
#define MC_VERSION_MINOR 1
/** Library patch version: incremented on fixes. */
#define MC_VERSION_PATCH 0
/** The library version as one number, 0xMMmmpp. */
#define MC_VERSION ((MC_VERSION_MAJOR << 16) | (MC_VERSION_MINOR << 8) | MC_VERSION_PATCH)

/** Error codes. Always negative; success is ::MC_OK (0). */
typedef enum mc_err {
    MC_OK = 0,              /**< Success. */
    MC_ERR_INVAL = -1,      /**< A pointer is NULL or a parameter is out of its documented range. */
    MC_ERR_NODATA = -2,     /**< The value asked for does not exist yet (e.g. no window has closed). */
    MC_ERR_CORRUPT = -3,    /**< Stored data failed its integrity check (CRC mismatch). */
    MC_ERR_VERSION = -4,    /**< Stored data has a format version this library cannot read. */
    MC_ERR_RANGE = -5,      /**< A date, time or clock value outside what the library handles (2000..2099). */
    MC_ERR_IO = -6,         /**< A port operation failed (NVM read, program or erase). */
    MC_ERR_NOSPACE = -7,    /**< No usable storage left (every sector of an area bad). */
} mc_err;

/**
 * @brief A short constant name for an error code, for logs.
 * @param err  a value returned by a metercore function.
 * @return a static string such as "MC_ERR_INVAL"; "MC_OK" for values >= 0.
 */
const char *mc_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_COMMON_H */
