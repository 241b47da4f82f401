/*
 * crc32.c - CRC-32, Adler-32 and FNV-1a over a generated 1 MiB buffer.
 *
 * CRC-32 is table-driven, a byte at a time: byte loads, shifts, xors and
 * table lookups in long dependent chains.
 */
#include "rt.h"

#define LEN (1u << 20)
#define ROUNDS 80

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static uint32_t adler32(const uint8_t *p, size_t n) {
    uint32_t a = 1, b = 0;
    while (n > 0) {
        size_t chunk = n < 5552 ? n : 5552; /* no overflow before the modulo */
        n -= chunk;
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    return b << 16 | a;
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int main(void) {
    uint8_t *buf = rt_alloc(LEN);
    rt_rng rng = {0xC0FFEE};
    for (size_t i = 0; i < LEN; i += 8) {
        uint64_t x = rt_next(&rng);
        memcpy(buf + i, &x, 8);
    }
    crc_init();
    uint32_t crc = 0, adler = 0;
    uint64_t fnv = 0;
    for (int r = 0; r < ROUNDS; r++) {
        buf[(size_t)r * 4099 % LEN] ^= (uint8_t)r; /* each round sees new data */
        crc = crc32(crc, buf, LEN);
        adler ^= adler32(buf, LEN);
        fnv ^= fnv1a(buf, LEN);
    }
    printf("crc32: %" PRIu32 "\n", crc);
    printf("adler32: %" PRIu32 "\n", adler);
    printf("fnv1a: %" PRId64 "\n", (int64_t)fnv);
    return 0;
}
