/* PNG files (folders of samples for FID).  An image that reads has a plausible size, 1 or 3
 * channels and every pixel byte present. */
#include "runner/png_image.h"
#include "tests/fuzz/harness.h"

FUZZ_TARGET(png)
{
    char path[1024];
    fuzz_write(path, sizeof path, "input.png", data, size);
    Image img;
    Error err = {{0}};
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
