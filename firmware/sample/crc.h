/* Checksums: CRC-32 (IEEE), CRC-16/CCITT-FALSE, CRC-8/MAXIM. */
#ifndef SAMPLE_CRC_H
#define SAMPLE_CRC_H

#include <stddef.h>
#include <stdint.h>

#define CRC32_INIT 0xFFFFFFFFu

uint32_t crc32_update(uint32_t crc, const void *data, size_t len);
uint32_t crc32_final(uint32_t crc);
uint32_t crc32(const void *data, size_t len);
uint16_t crc16_ccitt(uint16_t crc, const void *data, size_t len);
uint8_t crc8_maxim(const void *data, size_t len);

#endif
