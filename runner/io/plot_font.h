/* Text for plots: a 5x7 bitmap font (2 more rows for descenders) covering printable ASCII, drawn at
 * integer scales, horizontally or rotated to read upwards (vertical axis labels). */
#ifndef RUNNER_PLOT_FONT_H
#define RUNNER_PLOT_FONT_H

#include "runner/io/png_image.h"

#include <stdbool.h>
#include <stdint.h>

#define FONT_ADVANCE 6 /* pixels per character at scale 1, spacing included */
#define FONT_HEIGHT 9  /* cell height at scale 1, descenders included */
#define FONT_CAP 7     /* height of capitals and digits */

/* Width in pixels of `s` drawn at `scale` (its height is FONT_HEIGHT * scale). */
int font_text_width(const char *s, int scale);
/* Draws `s` into an RGB image with the top-left corner of its box at (x, y), clipped to the image.
 * Upright text's box is font_text_width wide and FONT_HEIGHT * scale high; `upward` text is rotated
 * a quarter turn counter-clockwise, so its box is FONT_HEIGHT * scale wide and font_text_width high.
 * Characters outside printable ASCII are drawn as '?'. */
void font_draw(Image *img, int x, int y, const char *s, int scale, bool upward, const uint8_t rgb[3]);

#endif
