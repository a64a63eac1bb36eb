/*
 * Size probe for tools/size.sh: the size of this zero-initialised object, read
 * back with arm-none-eabi-nm -S, is sizeof(mc_meter_t) (and of mc_tariff_t) on the target ABI.
 * SPDX-License-Identifier: MIT
 */
#include "metercore/metercore.h"

char mc_meter_size_probe[sizeof(mc_meter_t)];
char mc_tariff_size_probe[sizeof(mc_tariff_t)];
