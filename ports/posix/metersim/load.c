/* placeholder */ typedef int ms_load_placeholder_t;
