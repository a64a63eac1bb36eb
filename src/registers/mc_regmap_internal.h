/*
 * metercore registers: the built-in register maps (private to src/registers).
 * SPDX-License-Identifier: MIT
 */
#ifndef METERCORE_MC_REGMAP_INTERNAL_H
#define METERCORE_MC_REGMAP_INTERNAL_H

#include "metercore/mc_registers.h"

/* The KPM31 native map (mc_registers.c). */
extern const mc_regmap_t mc_regmap_kpm31;

#endif
