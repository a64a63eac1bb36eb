/*
 * metercore: the version, error names and the CRC-32 shared by every module.
 * SPDX-License-Identifier: MIT
 */
#include "metercore/mc_common.h"

#include <math.h>
#include "metercore/mc_meter.h"

const char *mc_version(void)
{
    return MC_VERSION_STRING;
}

uint32_t mc_version_number(void)
{
    return (uint32_t)MC_VERSION;
}

const char *mc_strerror(int err)
{
    switch (err) {
    case MC_ERR_INVAL:
        return "MC_ERR_INVAL";
    case MC_ERR_NODATA:
        return "MC_ERR_NODATA";
    case MC_ERR_CORRUPT:
        return "MC_ERR_CORRUPT";
    case MC_ERR_VERSION:
        return "MC_ERR_VERSION";
    case MC_ERR_RANGE:
        return "MC_ERR_RANGE";
    case MC_ERR_IO:
        return "MC_ERR_IO";
    case MC_ERR_NOSPACE:
        return "MC_ERR_NOSPACE";
    case MC_ERR_DENIED:
        return "MC_ERR_DENIED";
    case MC_ERR_BUSY:
        return "MC_ERR_BUSY";
    case MC_ERR_AUTH:
        return "MC_ERR_AUTH";
    case MC_ERR_BLANK:
        return "MC_ERR_BLANK";
    default:
        return err >= 0 ? "MC_OK" : "MC_ERR_UNKNOWN";
    }
}

/* Bitwise CRC-32 (reflected polynomial 0xEDB88320): no table, so no flash or RAM
 * cost; it runs over a few dozen bytes of calibration or a storage record. */
uint32_t mc_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

/*
 * Hastings' odd polynomial for atan on [-1, 1] (C. Hastings, Approximations for Digital
 * Computers, 1955; error below 1e-5 rad, 0.0006 degrees), extended by octant symmetry. No libm.
 */
float mc_atan2_deg(float y, float x)
{
    const float ax = fabsf(x), ay = fabsf(y);
    if (!(ax > 0.0f) && !(ay > 0.0f)) {
        return 0.0f;
    }
    const int swap = ay > ax;
    const float z = swap ? ax / ay : ay / ax;
    const float z2 = z * z;
    float a = z * (0.9998660f + z2 * (-0.3302995f + z2 * (0.1801410f + z2 * (-0.0851330f + z2 * 0.0208351f))));
    a *= 57.29577951f;
    if (swap) {
        a = 90.0f - a;
    }
    if (x < 0.0f) {
        a = 180.0f - a;
    }
    return y < 0.0f ? -a : a;
}

float mc_wrap_deg(float a)
{
    while (a > 180.0f) {
        a -= 360.0f;
    }
    while (a <= -180.0f) {
        a += 360.0f;
    }
    return a;
}
