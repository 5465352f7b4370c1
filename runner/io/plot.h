/* Line plots (loss curves against steps) rendered by our own small rasteriser into a PNG: axes with
 * round-numbered ticks, axis labels, a title and a legend.  The same input gives the same bytes. */
#ifndef RUNNER_PLOT_H
#define RUNNER_PLOT_H

#include "graph/error.h"
#include "runner/io/png_image.h"

#define PLOT_WIDTH 800
#define PLOT_HEIGHT 500

typedef struct PlotSeries {
    const char *name;       /* shown in the legend */
    const double *xs, *ys;  /* n points; a point with a non-finite coordinate breaks the line */
    int n;
} PlotSeries;

/* Renders the plot into `img` (RGB, PLOT_WIDTH x PLOT_HEIGHT).  title and labels may be NULL. */
int plot_render(const char *title, const char *x_label, const char *y_label, const PlotSeries *series,
                int n_series, Image *img, Error *err);
/* plot_render, then a PNG at `path` (written atomically). */
int plot_lines(const char *path, const char *title, const char *x_label, const char *y_label,
               const PlotSeries *series, int n_series, Error *err);

#endif
