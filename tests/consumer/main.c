/* A program using an installed or embedded metercore: configure and start a meter. */
#include <stdio.h>

#include "metercore/metercore.h"

int main(void)
{
    mc_meter_config_t cfg;
    mc_meter_t meter;
    mc_meter_config_default(&cfg);
    cfg.u_scale = 400.0f / 8388608.0f;
    cfg.i_scale = 100.0f / 8388608.0f;
    int rc = mc_meter_init(&meter, &cfg);
    printf("metercore %d.%d.%d: mc_meter_init -> %s\n", MC_VERSION_MAJOR, MC_VERSION_MINOR,
           MC_VERSION_PATCH, mc_strerror(rc));
    return rc == MC_OK ? 0 : 1;
}
