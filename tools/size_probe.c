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

/*
 * The state a wiring adds to mc_meter_t, per wiring (symbols *_wiring_probe: not
 * counted in "ram" above; tools/size.sh prints them per wiring). The arrays'
 * lengths are what mc_meter_channels(), mc_meter_pairs() and mc_meter_elements()
 * return for the wiring.
 */
#define MC_WIRING_STATE(ch, pr, el) \
    (sizeof(mc_meter_channel_t) * (ch) + sizeof(mc_meter_pair_t) * (pr) + sizeof(mc_meter_element_t) * (el))
char mc_1p3w_wiring_probe[MC_WIRING_STATE(4, 4, 2)];
char mc_3p4w_wiring_probe[MC_WIRING_STATE(6, 9, 3)];
char mc_3p4wn_wiring_probe[MC_WIRING_STATE(7, 12, 3)];
char mc_3p3w_wiring_probe[MC_WIRING_STATE(4, 3, 2)];
char mc_multi16_wiring_probe[MC_WIRING_STATE(17, 16, 16)];
char mc_multi16x3_wiring_probe[MC_WIRING_STATE(19, 19, 16)];
