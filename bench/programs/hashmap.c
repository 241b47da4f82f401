/*
 * hashmap.c - a string-keyed hash map: open addressing with linear probing.
 *
 * Builds keys like "user:4711/item-93" in an arena, inserts them (updating
 * the value of keys already present), then looks up a mix of present and
 * absent keys. Measures hashing of short strings, memcmp, and the
 * pointer-chasing of a table larger than the L1 cache.
 */
#include "rt.h"

#define NKEYS 150000
#define NLOOKUPS 300000
#define ROUNDS 3

typedef struct entry {
    const char *key; /* NULL: empty slot */
    uint32_t len;
    uint32_t hash;
    int64_t value;
} entry;

typedef struct map {
    entry *slots;
    uint32_t mask, count;
} map;

static uint32_t hash_str(const char *s, uint32_t len) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h ^ h >> 15;
}

static entry *map_find(map *m, const char *key, uint32_t len, uint32_t h) {
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        entry *e = &m->slots[i];
        if (!e->key || (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)) return e;
    }
}

/* Adds `delta` to the key's value, inserting it with value `delta` if new.
 * The table is sized up front for NKEYS at a load factor below 1/2. */
static void map_add(map *m, const char *key, uint32_t len, int64_t delta) {
    uint32_t h = hash_str(key, len);
    entry *e = map_find(m, key, len, h);
    if (!e->key) {
        e->key = key;
        e->len = len;
        e->hash = h;
        e->value = 0;
        m->count++;
    }
    e->value += delta;
}

static int64_t map_get(map *m, const char *key, uint32_t len, int64_t missing) {
    entry *e = map_find(m, key, len, hash_str(key, len));
    return e->key ? e->value : missing;
}

static char *put_u32(char *p, uint32_t v) {
    char tmp[10];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Writes the key for number k into the arena; returns it and its length. */
static const char *make_key(uint32_t k, uint32_t *len) {
    static const char *const kinds[4] = {"user:", "item:", "session:", "order-line:"};
    char buf[64], *p = buf;
    const char *kind = kinds[k & 3];
    while (*kind)
        *p++ = *kind++;
    p = put_u32(p, k * 2654435761u >> 8);
    *p++ = '/';
    p = put_u32(p, k % 1000);
    *len = (uint32_t)(p - buf);
    char *key = rt_alloc(*len);
    memcpy(key, buf, *len);
    return key;
}

int main(void) {
    int64_t found_sum = 0, missing = 0, count = 0;
    for (int r = 0; r < ROUNDS; r++) {
        rt_reset();
        map m = {rt_alloc(sizeof(entry) * 524288), 524288 - 1, 0};
        memset(m.slots, 0, sizeof(entry) * 524288);
        rt_rng rng = {0xBADC0DE + (uint64_t)r};
        for (uint32_t i = 0; i < NKEYS; i++) {
            uint32_t len;
            /* keys repeat: about 1 in 4 inserts updates an existing key */
            const char *key = make_key((uint32_t)(rt_next(&rng) % (NKEYS * 3 / 2)), &len);
            map_add(&m, key, len, (int64_t)i);
        }
        count += m.count;
        for (uint32_t i = 0; i < NLOOKUPS; i++) {
            uint32_t len;
            const char *key = make_key((uint32_t)(rt_next(&rng) % (NKEYS * 2)), &len);
            int64_t v = map_get(&m, key, len, -1);
            if (v < 0)
                missing++;
            else
                found_sum += v;
        }
    }
    printf("distinct keys: %" PRId64 "\n", count);
    printf("lookups missed: %" PRId64 "\n", missing);
    printf("sum of found values: %" PRId64 "\n", found_sum);
    return 0;
}
