#include "metersim.h"
int ms_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ms_error("run: not implemented yet");
    return MS_EXIT_FAIL;
}
