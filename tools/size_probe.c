/*
 * Size probe for tools/size.sh: each zero-initialised object below is the size
 * of one instance a firmware allocates (sizeof on the target ABI), read back
 * with arm-none-eabi-nm -S. Every symbol ending in _size_probe counts in "ram".
 * SPDX-License-Identifier: MIT
 */
#include "metercore/metercore.h"

char mc_meter_size_probe[sizeof(mc_meter_t)];
char mc_tariff_size_probe[sizeof(mc_tariff_t)];
char mc_model_size_probe[sizeof(mc_model_t)];
char mc_rtu_size_probe[sizeof(mc_rtu_t)];
char mc_storage_size_probe[sizeof(mc_storage_t)];
char mc_panel_size_probe[sizeof(mc_panel_t)];
