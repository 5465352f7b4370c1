/* PNG files (folders of samples for FID).  The harness first rewrites every chunk's CRC-32 to match
 * its contents, so that mutations reach libpng's decoding and the reader's conversions instead of
 * stopping at a checksum.  An image that reads has a plausible size, 1 or 3 channels and every
 * pixel byte present. */
#include "runner/io/png_image.h"
#include "tests/fuzz/harness.h"

#include <string.h>
#include <zlib.h>

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Chunks follow the 8-byte signature: length, type, data, CRC of type and data. */
static void fix_crcs(uint8_t *png, size_t size)
{
    for (size_t at = 8; at + 12 <= size;) {
        uint32_t len = be32(png + at);
        if (len > size - at - 12) return;
        uint32_t crc = (uint32_t)crc32(0, png + at + 4, len + 4);
        uint8_t *out = png + at + 8 + len;
        for (int k = 0; k < 4; k++) out[k] = (uint8_t)(crc >> (24 - 8 * k));
        at += 12 + (size_t)len;
    }
}

FUZZ_TARGET(png)
{
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    fix_crcs(copy, size);
    char path[1024];
    fuzz_write(path, sizeof path, "input.png", copy, size);
    free(copy);
    Image img;
    Error err = {0};
    if (png_read(path, &img, &err) != 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3) && img.pixels);
    size_t n = (size_t)img.width * (size_t)img.height * (size_t)img.channels;
    size_t sum = 0; /* reads every byte: ASan sees a buffer shorter than the image */
    for (size_t i = 0; i < n; i++) sum += img.pixels[i];
    FUZZ_CHECK(sum <= 255 * n);
    image_free(&img);
    return 0;
}
