/* For `make size`: one module core instance, so that its .bss shows
 * sizeof(struct dfota_mod) on Cortex-M4 (the core's whole RAM besides the
 * stack, libdfota's engine included). */
#include "dfota/module.h"

struct dfota_mod dfota_mod_ram_instance;
