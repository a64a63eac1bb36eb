/**
 * @file mc_common.h
 * @ingroup grp_core
 * @brief Version numbers and error codes shared by every metercore module.
 *
 * Every function of the library that can fail returns an `int`: zero or a
 * positive value on success, a negative ::mc_err code on failure. Nothing in the
 * library fails silently and nothing allocates memory.
 *
 * The version follows semantic versioning (docs/RELEASING.md). The macros
 * below are the version of the headers a program was compiled with;
 * mc_version() and mc_version_number() return the version of the library it
 * is linked with. The build (CMake's project version, the package files) reads
 * its version from the three MC_VERSION_MAJOR/MINOR/PATCH lines of this file.
 */
#ifndef METERCORE_MC_COMMON_H
#define METERCORE_MC_COMMON_H

#include <stdint.h>

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

/** Turns a macro's value into a string literal (helper of ::MC_VERSION_STRING). */
#define MC_STRINGIFY(x) MC_STRINGIFY_(x)
/** Second step of ::MC_STRINGIFY, so that its argument is expanded first. */
#define MC_STRINGIFY_(x) #x

/** The library version as a string literal, "MAJOR.MINOR.PATCH" (e.g. "0.1.0"). */
#define MC_VERSION_STRING \
    MC_STRINGIFY(MC_VERSION_MAJOR) "." MC_STRINGIFY(MC_VERSION_MINOR) "." MC_STRINGIFY(MC_VERSION_PATCH)

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
    MC_ERR_DENIED = -8,     /**< Not authorised: the access level is not reached (no password, sealed). */
    MC_ERR_BUSY = -9,       /**< Refused for now: locked out after wrong passwords, or the write budget is spent. */
    MC_ERR_AUTH = -10,      /**< Wrong password. */
    MC_ERR_BLANK = -11,     /**< The memory holds no meter of ours but is not blank either (foreign or damaged). */
} mc_err;

/**
 * @brief A short constant name for an error code, for logs.
 * @param err  a value returned by a metercore function.
 * @return a static string such as "MC_ERR_INVAL"; "MC_OK" for values >= 0.
 */
const char *mc_strerror(int err);

/**
 * @brief The version of the linked library, as text.
 *
 * Compare it with ::MC_VERSION_STRING to detect a program compiled against
 * other headers than the library it runs with, or print it in a log or an
 * identification screen.
 * @return a static string "MAJOR.MINOR.PATCH", the ::MC_VERSION_STRING the
 *         library was built with; never NULL.
 */
const char *mc_version(void);

/**
 * @brief The version of the linked library, as one number.
 * @return ::MC_VERSION as the library was built: 0xMMmmpp (major in bits
 *         16..23, minor in bits 8..15, patch in bits 0..7), so that versions
 *         compare with the integer operators.
 */
uint32_t mc_version_number(void);

/**
 * @brief atan2(y, x) in degrees, in (-180, 180], without libm (a polynomial: error below
 *        0.0006 degrees). atan2(0, 0) is 0.
 * @param y  the ordinate (e.g. a reactive power, a phasor's imaginary part).
 * @param x  the abscissa.
 * @return the angle in degrees.
 */
float mc_atan2_deg(float y, float x);

/**
 * @brief An angle in degrees wrapped into (-180, 180] (by whole turns; exact for the angles a
 *        difference of two mc_atan2_deg() results gives).
 * @param a  the angle, degrees (finite).
 * @return the same direction in (-180, 180].
 */
float mc_wrap_deg(float a);


#ifdef __cplusplus
}
#endif

#endif /* METERCORE_MC_COMMON_H */
