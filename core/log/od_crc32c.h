/* od_crc32c.h - CRC-32C (Castagnoli), the checksum of a Kafka RecordBatch.
 *
 * The CRC is chainable in the zlib style: start with 0 and feed the result
 * back in, so od_crc32c(od_crc32c(0, a, n), b, m) equals the CRC of a||b.
 * The pre- and post-inversion are done inside. */
#ifndef OD_CRC32C_H
#define OD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * run time), else a slicing-by-8 table. Also declared in odradek-module.h. */
uint32_t od_crc32c(uint32_t crc, const void *data, size_t len);

/* The two implementations, exposed for tests and benchmarks. */
uint32_t od_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* 1 if od_crc32c_hw may be called on this CPU. */
int od_crc32c_hw_available(void);
/* Only valid when od_crc32c_hw_available(); otherwise falls back to sw. */
uint32_t od_crc32c_hw(uint32_t crc, const void *data, size_t len);

#endif
