/*
 * qemu_harness_incbin: checks INCBIN by embedding sample_v1.bin, an image
 * produced by another target at build time, and looking at its contents.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern const unsigned char sample_image[];
extern const unsigned char sample_image_end[];

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int contains(const unsigned char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        if (memcmp(hay + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

int main(void)
{
    size_t size = (size_t)(sample_image_end - sample_image);
    uint32_t sp = le32(sample_image);
    uint32_t reset = le32(sample_image + 4);
    int errors = 0;

    printf("incbin: sample_image %p, %lu bytes, sp=%08lx reset=%08lx\n", (const void *)sample_image,
           (unsigned long)size, (unsigned long)sp, (unsigned long)reset);
    if (((uintptr_t)sample_image & 7u) != 0) {
        printf("FAIL: blob not 8-byte aligned\n");
        errors++;
    }
    if (size < 16u * 1024u || size > 64u * 1024u) {
        printf("FAIL: unexpected size\n");
        errors++;
    }
    if (sp < 0x20000000u || sp > 0x20400000u) {
        printf("FAIL: initial SP not in SRAM\n");
        errors++;
    }
    if ((reset & 1u) == 0 || (reset & ~1u) >= size) {
        printf("FAIL: reset vector not a Thumb address inside the image\n");
        errors++;
    }
    if (!contains(sample_image, size, "1.0.0")) {
        printf("FAIL: version string 1.0.0 not found\n");
        errors++;
    }
    return errors == 0 ? 0 : 1;
}
