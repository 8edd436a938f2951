/* od_crc32c.c - CRC-32C with the SSE4.2 instruction or slicing-by-8.
 *
 * The polynomial is 0x1EDC6F41, used bit-reflected (0x82F63B78), as in
 * iSCSI and Kafka. The hardware path is compiled with a target attribute so
 * the build needs no -msse4.2; which path runs is decided once, at load
 * time, from __builtin_cpu_supports. */
#include "od_crc32c.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define OD_CRC_X86 1
#include <nmmintrin.h>
#else
#define OD_CRC_X86 0
#endif

#define POLY 0x82F63B78u

/* table[k][b]: CRC contribution of byte b followed by k zero bytes. */
static uint32_t table[8][256];
static int table_ready;
static int use_hw;

static void crc_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xFF];
#if OD_CRC_X86
    /* Needed because this may run from a constructor, before the CPU model
     * is initialised by the runtime. */
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
    table_ready = 1;
}

/* Runs single-threaded at load time, so the tables are ready before any
 * thread can ask for a CRC. The lazy check in od_crc32c only matters for a
 * caller in another constructor that runs before this one. */
__attribute__((constructor)) static void crc_ctor(void)
{
    if (!table_ready)
        crc_init();
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t od_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    uint32_t c = ~crc;

    if (!table_ready)
        crc_init();
    while (len >= 8) {
        uint64_t v = load_le64(p) ^ c;
        c = table[7][v & 0xFF] ^ table[6][(v >> 8) & 0xFF] ^ table[5][(v >> 16) & 0xFF] ^
            table[4][(v >> 24) & 0xFF] ^ table[3][(v >> 32) & 0xFF] ^ table[2][(v >> 40) & 0xFF] ^
            table[1][(v >> 48) & 0xFF] ^ table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
    return ~c;
}

#if OD_CRC_X86
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint32_t c = ~crc;

    /* Bytes until the pointer is 8-aligned, so the wide loads are aligned. */
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
#if defined(__x86_64__)
    {
        uint64_t c64 = c;
        while (len >= 8) {
            uint64_t v;
            memcpy(&v, p, 8);
            c64 = _mm_crc32_u64(c64, v);
            p += 8;
            len -= 8;
        }
        c = (uint32_t)c64;
    }
#endif
    while (len >= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        c = _mm_crc32_u32(c, v);
        p += 4;
        len -= 4;
    }
    while (len--)
        c = _mm_crc32_u8(c, *p++);
    return ~c;
}
#endif

int od_crc32c_hw_available(void)
{
    if (!table_ready)
        crc_init();
    return use_hw;
}

uint32_t od_crc32c_hw(uint32_t crc, const void *data, size_t len)
{
#if OD_CRC_X86
    if (od_crc32c_hw_available())
        return crc_hw(crc, (const uint8_t *)data, len);
#endif
    return od_crc32c_sw(crc, data, len);
}

uint32_t od_crc32c(uint32_t crc, const void *data, size_t len)
{
    if (!table_ready)
        crc_init();
#if OD_CRC_X86
    if (use_hw)
        return crc_hw(crc, (const uint8_t *)data, len);
#endif
    return od_crc32c_sw(crc, data, len);
}
