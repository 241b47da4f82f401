/*
 * simd.c - SIMD kernels: Mandelbrot in f32x4, an 8-bit 3x3 box blur in i16x8.
 *
 * Built for wasm32 with -msimd128, the kernels use wasm_simd128.h
 * intrinsics; natively they are the plain scalar loops below. Every lane
 * does exactly the scalar operations in the scalar order (no horizontal
 * float sums), so both paths give identical results.
 */
#include "rt.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define MW 256
#define MH 192
#define MAXIT 200
#define IW 512
#define IH 512
#define BLURS 96
#define FRAMES 14

/* Escape-time iteration count for each pixel of a MW x MH window. */
static void mandel(uint8_t *iters, float x0, float y0, float step) {
#ifdef __wasm_simd128__
    const v128_t four = wasm_f32x4_splat(4.0f), two = wasm_f32x4_splat(2.0f);
    const v128_t lane = wasm_f32x4_make(0.0f, 1.0f, 2.0f, 3.0f);
    for (int py = 0; py < MH; py++) {
        v128_t cy = wasm_f32x4_splat(y0 + (float)py * step);
        for (int px = 0; px < MW; px += 4) {
            v128_t cx =
                wasm_f32x4_add(wasm_f32x4_splat(x0),
                               wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_splat((float)px), lane),
                                              wasm_f32x4_splat(step)));
            v128_t x = wasm_f32x4_splat(0.0f), y = x, count = wasm_i32x4_splat(0);
            v128_t active = wasm_i32x4_splat(-1);
            for (int i = 0; i < MAXIT; i++) {
                v128_t x2 = wasm_f32x4_mul(x, x), y2 = wasm_f32x4_mul(y, y);
                active = wasm_v128_and(active, wasm_f32x4_le(wasm_f32x4_add(x2, y2), four));
                if (!wasm_v128_any_true(active)) break;
                count = wasm_i32x4_sub(count, active); /* active lanes are -1 */
                y = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(two, x), y), cy);
                x = wasm_f32x4_add(wasm_f32x4_sub(x2, y2), cx);
            }
            uint8_t *row = iters + py * MW + px;
            row[0] = (uint8_t)wasm_i32x4_extract_lane(count, 0);
            row[1] = (uint8_t)wasm_i32x4_extract_lane(count, 1);
            row[2] = (uint8_t)wasm_i32x4_extract_lane(count, 2);
            row[3] = (uint8_t)wasm_i32x4_extract_lane(count, 3);
        }
    }
#else
    for (int py = 0; py < MH; py++) {
        float cy = y0 + (float)py * step;
        for (int px = 0; px < MW; px++) {
            float cx = x0 + (float)px * step;
            float x = 0.0f, y = 0.0f;
            int count = 0;
            for (int i = 0; i < MAXIT; i++) {
                float x2 = x * x, y2 = y * y;
                if (!(x2 + y2 <= 4.0f)) break;
                count++;
                y = 2.0f * x * y + cy;
                x = x2 - y2 + cx;
            }
            iters[py * MW + px] = (uint8_t)count;
        }
    }
#endif
}

/* dst = 3x3 box blur of src (interior pixels; borders copied), computed as
 * (sum of 9) * 7282 >> 16, i.e. a division by 9 close enough. */
static void blur(uint8_t *dst, const uint8_t *src) {
    memcpy(dst, src, IW);
    memcpy(dst + (IH - 1) * IW, src + (IH - 1) * IW, IW);
    for (int y = 1; y < IH - 1; y++) {
        const uint8_t *a = src + (y - 1) * IW, *b = src + y * IW, *c = src + (y + 1) * IW;
        uint8_t *d = dst + y * IW;
        d[0] = b[0];
        d[IW - 1] = b[IW - 1];
        int x = 1;
#ifdef __wasm_simd128__
        const v128_t k = wasm_i16x8_splat(7282);
        for (; x + 8 <= IW - 1; x += 8) {
            v128_t s = wasm_i16x8_splat(0);
            for (int dx = -1; dx <= 1; dx++) {
                s = wasm_i16x8_add(s, wasm_u16x8_load8x8(a + x + dx));
                s = wasm_i16x8_add(s, wasm_u16x8_load8x8(b + x + dx));
                s = wasm_i16x8_add(s, wasm_u16x8_load8x8(c + x + dx));
            }
            /* (s * 7282) >> 16 = high half of the 32-bit products */
            v128_t lo = wasm_u32x4_extmul_low_u16x8(s, k);
            v128_t hi = wasm_u32x4_extmul_high_u16x8(s, k);
            v128_t q = wasm_u16x8_narrow_i32x4(wasm_u32x4_shr(lo, 16), wasm_u32x4_shr(hi, 16));
            wasm_v128_store64_lane(d + x, wasm_u8x16_narrow_i16x8(q, q), 0);
        }
#endif
        for (; x < IW - 1; x++) {
            uint32_t s = 0;
            for (int dx = -1; dx <= 1; dx++)
                s += (uint32_t)a[x + dx] + b[x + dx] + c[x + dx];
            d[x] = (uint8_t)(s * 7282 >> 16);
        }
    }
}

int main(void) {
    uint8_t *iters = rt_alloc(MW * MH);
    uint64_t mhash = 0;
    int64_t total = 0;
    for (int f = 0; f < FRAMES; f++) { /* zoom in a little each frame */
        float step = 3.0f / (float)MW / (float)(1 << f);
        mandel(iters, -0.743643f - step * (MW / 2), 0.131825f - step * (MH / 2), step);
        for (int i = 0; i < MW * MH; i++) {
            total += iters[i];
            mhash = (mhash ^ iters[i]) * 0x100000001b3ULL;
        }
    }
    printf("mandelbrot iterations: %" PRId64 "\n", total);
    printf("mandelbrot hash: %" PRId64 "\n", (int64_t)mhash);

    uint8_t *img = rt_alloc(IW * IH), *tmp = rt_alloc(IW * IH);
    rt_rng rng = {77};
    for (int i = 0; i < IW * IH; i++)
        img[i] = (uint8_t)(rt_next(&rng) >> 56);
    for (int i = 0; i < BLURS; i++) {
        blur(tmp, img);
        blur(img, tmp);
        img[(i * 9973) % (IW * IH)] ^= 0xFF; /* keep the image from going flat */
    }
    uint64_t ihash = 0xcbf29ce484222325ULL;
    for (int i = 0; i < IW * IH; i++)
        ihash = (ihash ^ img[i]) * 0x100000001b3ULL;
    printf("blur hash: %" PRId64 "\n", (int64_t)ihash);
    return 0;
}
