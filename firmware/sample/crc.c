/*
 * Table-driven CRC-32 and CRC-16, bitwise CRC-8 (1-Wire style).
 */
#include "crc.h"

#include "tables.h"

uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len--) {
        crc = crc32_table[(crc ^ *p++) & 0xFFu] ^ (crc >> 8);
    }
    return crc;
}

uint32_t crc32_final(uint32_t crc)
{
    return crc ^ 0xFFFFFFFFu;
}

uint32_t crc32(const void *data, size_t len)
{
    return crc32_final(crc32_update(CRC32_INIT, data, len));
}

uint16_t crc16_ccitt(uint16_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len--) {
        crc = (uint16_t)((crc << 8) ^ crc16_ccitt_table[((crc >> 8) ^ *p++) & 0xFFu]);
    }
    return crc;
}

uint8_t crc8_maxim(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint8_t crc = 0;
    while (len--) {
        crc ^= *p++;
        for (int i = 0; i < 8; i++) {
            crc = (crc & 1u) ? (uint8_t)((crc >> 1) ^ 0x8Cu) : (uint8_t)(crc >> 1);
        }
    }
    return crc;
}
