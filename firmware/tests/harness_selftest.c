/*
 * qemu_harness_selftest: proves that the QEMU test harness gives a test a
 * big zero-initialised static array in SRAM, working newlib stdio over
 * semihosting, a heap, and that main()'s return value becomes the exit status.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLASH_SIZE (2u * 1024u * 1024u)
#define SCRATCH_SIZE (512u * 1024u)

/* 2 MiB "flash" plus 512 KiB scratch: the size class the dfota tests use. */
static uint8_t sim_flash[FLASH_SIZE];
static uint32_t scratch[SCRATCH_SIZE / 4];
static uint32_t initialised = 0x12345678u; /* .data copy check */

static uint8_t pattern(uint32_t i)
{
    return (uint8_t)((i * 2654435761u) >> 24);
}

int main(void)
{
    int errors = 0;

    if (initialised != 0x12345678u) {
        printf("FAIL: .data not copied (%08lx)\n", (unsigned long)initialised);
        errors++;
    }
    for (uint32_t i = 0; i < FLASH_SIZE; i += 4093u) {
        if (sim_flash[i] != 0) {
            printf("FAIL: .bss not zero at %lu\n", (unsigned long)i);
            errors++;
            break;
        }
    }

    memset(sim_flash, 0xFF, sizeof sim_flash);
    for (uint32_t i = 0; i < FLASH_SIZE; i++) {
        sim_flash[i] = pattern(i);
    }
    for (uint32_t i = 0; i < SCRATCH_SIZE / 4; i++) {
        scratch[i] = ~i;
    }
    for (uint32_t i = 0; i < FLASH_SIZE; i++) {
        if (sim_flash[i] != pattern(i)) {
            printf("FAIL: flash readback at %lu\n", (unsigned long)i);
            errors++;
            break;
        }
    }
    for (uint32_t i = 0; i < SCRATCH_SIZE / 4; i++) {
        if (scratch[i] != ~i) {
            printf("FAIL: scratch readback at %lu\n", (unsigned long)i);
            errors++;
            break;
        }
    }

    void *heap = malloc(32u * 1024u);
    if (heap == NULL) {
        printf("FAIL: malloc\n");
        errors++;
    }
    free(heap);

    printf("harness: flash %p..%p, scratch %p, %d error(s)\n", (void *)sim_flash,
           (void *)(sim_flash + FLASH_SIZE), (void *)scratch, errors);
    return errors == 0 ? 0 : 1;
}
