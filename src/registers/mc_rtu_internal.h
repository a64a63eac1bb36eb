/*
 * metercore registers: RTU line timing, shared by the framer and its tests. Not installed.
 * SPDX-License-Identifier: MIT
 */
#ifndef METERCORE_RTU_INTERNAL_H
#define METERCORE_RTU_INTERNAL_H

#include <stdint.h>

/* Bits per character on the wire: start, 8 data, parity or second stop, stop. */
#define MC_RTU_BITS_PER_CHAR 11u
/* Above this rate t1.5 and t3.5 are fixed (Modbus over serial line V1.02, 2.5.1.1). */
#define MC_RTU_FIXED_TIMING_BAUD 19200u
#define MC_RTU_FIXED_T15_US 750u
#define MC_RTU_FIXED_T35_US 1750u

/* One character time, µs, rounded up (1146 at 9600, 287 at 38400). baud > 0. */
static inline uint32_t mc_rtu_char_us(uint32_t baud)
{
    return (MC_RTU_BITS_PER_CHAR * 1000000u + baud - 1u) / baud;
}

/*
 * t1.5, µs: 1.5 * 11 = 16.5 bit times, rounded down, so that "silence > t1.5"
 * in whole µs is the exact condition (1718 at 9600: 1718.75 is the limit);
 * 750 above 19200 baud. baud > 0.
 */
static inline uint32_t mc_rtu_t15_us(uint32_t baud)
{
    return baud > MC_RTU_FIXED_TIMING_BAUD ? MC_RTU_FIXED_T15_US : 16500000u / baud;
}

/*
 * t3.5, µs: 3.5 * 11 = 38.5 bit times, rounded up, so that "silence >= t3.5"
 * in whole µs is the exact condition (4011 at 9600); 1750 above 19200 baud. baud > 0.
 */
static inline uint32_t mc_rtu_t35_us(uint32_t baud)
{
    return baud > MC_RTU_FIXED_TIMING_BAUD ? MC_RTU_FIXED_T35_US : (38500000u + baud - 1u) / baud;
}

#endif /* METERCORE_RTU_INTERNAL_H */
