#include "runner/png_image.h"
#include "runner/atomic_file.h"

#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int png_write(const char *path, const Image *img, Error *err)
{
    if (img->channels != 1 && img->channels != 3)
        return err_set(err, "%s: cannot write an image with %d channels", path, img->channels);
    AtomicFile af;
    if (atomic_open(&af, path, err)) return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc((size_t)img->height * sizeof *rows);
    if (!png || !info || !rows) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        atomic_abort(&af);
        return err_set(err, "%s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        atomic_abort(&af);
        return err_set(err, "%s: libpng failed to write the image", path);
    }
    png_init_io(png, af.f);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->height; y++)
        rows[y] = img->pixels + (size_t)y * (size_t)img->width * (size_t)img->channels;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return atomic_commit(&af, err);
}

int png_read(const char *path, Image *img, Error *err)
{
    memset(img, 0, sizeof *img);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path))
        return err_set(err, "%s: not a readable PNG: %s", path, pi.message);
    bool gray = (pi.format & PNG_FORMAT_FLAG_COLOR) == 0;
    pi.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    size_t size = PNG_IMAGE_SIZE(pi);
    img->pixels = malloc(size);
    if (!img->pixels) {
        png_image_free(&pi);
        return err_set(err, "%s: out of memory", path);
    }
    if (!png_image_finish_read(&pi, NULL, img->pixels, 0, NULL)) {
        free(img->pixels);
        img->pixels = NULL;
        return err_set(err, "%s: corrupt PNG: %s", path, pi.message);
    }
    img->width = (int)pi.width;
    img->height = (int)pi.height;
    img->channels = gray ? 1 : 3;
    return 0;
}

void image_free(Image *img)
{
    free(img->pixels);
    memset(img, 0, sizeof *img);
}
