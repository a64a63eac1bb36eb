#include "metersim.h"
int ms_cmd_dump(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    ms_error("dump: not implemented yet");
    return MS_EXIT_FAIL;
}
