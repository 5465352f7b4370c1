#include "runner/io/png_image.h"
#include "runner/io/atomic_file.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Reading follows what pytorch-fid sees: PIL's Image.open(path).convert('RGB') (Pillow 9.4).  No
 * gamma, sBIT or colour management is applied, alpha and tRNS are dropped without blending,
 * 16-bit samples keep their high byte, except 16-bit gray without alpha, which PIL opens as
 * 32-bit integers and clips to 0..255.  Palette indices past the PLTE entries fall on PIL's
 * default palette, the gray ramp (i, i, i).  Gray kinds come back as one channel (PIL's RGB of
 * them has three equal channels); palette and colour kinds as RGB. */

/* Larger images are refused before allocating: no image set for FID comes near it. */
#define PNG_MAX_PIXELS ((size_t)1 << 26)

typedef struct PngReader {
    const char *path;
    FILE *f;
    png_structp png;
    png_infop info;
    uint8_t *rows_data;
    png_bytep *rows;
    char why[200]; /* libpng's message when it gave up */
} PngReader;

static void on_png_error(png_structp png, png_const_charp msg)
{
    PngReader *r = png_get_error_ptr(png);
    snprintf(r->why, sizeof r->why, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* ancillary trouble that PIL ignores as well */
}

/* The samples of one decoded row into 8-bit pixels (1 or 3 channels). */
static void convert_row(int color_type, int depth, const uint8_t palette[256][3],
                        const uint8_t *src, uint8_t *dst, uint32_t width)
{
    if (color_type == PNG_COLOR_TYPE_GRAY && depth == 16) {
        for (uint32_t x = 0; x < width; x++) /* PIL: mode I, then clipped to 255 */
            dst[x] = src[2 * x] ? 255 : src[2 * x + 1];
    } else if (color_type == PNG_COLOR_TYPE_PALETTE) {
        for (uint32_t x = 0; x < width; x++) memcpy(dst + 3 * x, palette[src[x]], 3);
    } else {
        int channels = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
        memcpy(dst, src, (size_t)width * (size_t)channels);
    }
}

/* Everything that may longjmp; r lives in the caller's frame, so it survives the jump. */
static int decode(PngReader *r, Image *img, Error *err)
{
    if (setjmp(png_jmpbuf(r->png))) return err_set(err, "%s: corrupt PNG: %s", r->path, r->why);
    png_init_io(r->png, r->f);
    png_set_sig_bytes(r->png, 8);
    png_read_info(r->png, r->info);
    png_uint_32 width, height;
    int depth, color_type, interlace;
    png_get_IHDR(r->png, r->info, &width, &height, &depth, &color_type, &interlace, NULL, NULL);
    if ((size_t)width * height > PNG_MAX_PIXELS)
        return err_set(err, "%s: %ux%u pixels is larger than the %zu this reader accepts", r->path,
                       (unsigned)width, (unsigned)height, PNG_MAX_PIXELS);
    uint8_t palette[256][3];
    for (int i = 0; i < 256; i++) palette[i][0] = palette[i][1] = palette[i][2] = (uint8_t)i;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = NULL;
        int n = 0;
        if (png_get_PLTE(r->png, r->info, &plte, &n) != PNG_INFO_PLTE)
            return err_set(err, "%s: corrupt PNG: a palette image without a PLTE chunk", r->path);
        for (int i = 0; i < n && i < 256; i++)
            palette[i][0] = plte[i].red, palette[i][1] = plte[i].green, palette[i][2] = plte[i].blue;
        png_set_packing(r->png); /* indices, one a byte */
    } else if (depth < 8) {
        png_set_expand_gray_1_2_4_to_8(r->png); /* 1 -> 255, 2 bits x 85, 4 bits x 17: as PIL */
    }
    if (depth == 16 && color_type != PNG_COLOR_TYPE_GRAY) png_set_strip_16(r->png);
    if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    size_t row_bytes = png_get_rowbytes(r->png, r->info);
    r->rows_data = malloc(row_bytes * height);
    r->rows = malloc(height * sizeof *r->rows);
    img->channels = (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    img->pixels = malloc((size_t)width * height * (size_t)img->channels);
    if (!r->rows_data || !r->rows || !img->pixels)
        return err_set(err, "%s: out of memory for %ux%u pixels", r->path, (unsigned)width, (unsigned)height);
    for (png_uint_32 y = 0; y < height; y++) r->rows[y] = r->rows_data + y * row_bytes;
    png_read_image(r->png, r->rows);
    size_t out_row = (size_t)width * (size_t)img->channels;
    for (png_uint_32 y = 0; y < height; y++)
        convert_row(color_type, depth, (const uint8_t(*)[3])palette, r->rows[y], img->pixels + y * out_row, width);
    img->width = (int)width;
    img->height = (int)height;
    return 0;
}

int png_read(const char *path, Image *img, Error *err)
{
    memset(img, 0, sizeof *img);
    PngReader r = {.path = path};
    r.f = fopen(path, "rb");
    if (!r.f) return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    png_byte sig[8];
    int rc = -1;
    if (fstat(fileno(r.f), &st) != 0)
        err_set(err, "%s: cannot read: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        err_set(err, "%s: is a directory, not a PNG file", path);
    else if (st.st_size == 0)
        err_set(err, "%s: is empty, not a PNG file", path);
    else if (fread(sig, 1, 8, r.f) != 8 || png_sig_cmp(sig, 0, 8))
        err_set(err, "%s: not a PNG file (no PNG signature)", path);
    else if (!(r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_png_error, on_png_warning)) ||
             !(r.info = png_create_info_struct(r.png)))
        err_set(err, "%s: out of memory", path);
    else
        rc = decode(&r, img, err);
    png_destroy_read_struct(&r.png, &r.info, NULL);
    free(r.rows);
    free(r.rows_data);
    fclose(r.f);
    if (rc) image_free(img);
    return rc;
}

void image_free(Image *img)
{
    free(img->pixels);
    memset(img, 0, sizeof *img);
}
