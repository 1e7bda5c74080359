/* For `make size`: one engine instance linked into each per-configuration
 * build, so that its .bss shows sizeof(struct dfota_engine) on Cortex-M4
 * (the engine's whole RAM besides the stack) for that configuration. */
#include "dfota/engine.h"

struct dfota_engine dfota_engine_ram_instance;
