"""PNG reading as pytorch-fid does it (tests/unit/test_png_read.c).

pytorch-fid opens every image with PIL, `Image.open(path).convert('RGB')`; the runner must read
each PNG kind to the same bytes.  make(out_dir) writes, for each case of CASES below,
out_dir/png/<name>.png and out_dir/png/<name>.rgb: PIL's width and height (two little-endian
uint32) followed by the bytes of its convert('RGB'), and the case names in out_dir/png/cases.txt.

The files come from the small encoder below (zlib only), not from PIL's writer, so that every kind
exists: 1/2/4/16-bit gray, 16-bit colour and gray+alpha, palettes shorter than their indices,
tRNS, gAMA, sBIT and Adam7 interlacing.  Pixel values are drawn from a seed per case, with
16-bit samples both below and above 256 (PIL clips 16-bit gray but takes the high byte of the
other 16-bit kinds).
"""
import io
import os
import random
import struct
import sys
import warnings
import zlib

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from case_list import write_cases  # noqa: E402

GRAY, RGB, PALETTE, GRAY_ALPHA, RGBA = 0, 2, 3, 4, 6
CHANNELS = {GRAY: 1, RGB: 3, PALETTE: 1, GRAY_ALPHA: 2, RGBA: 4}
# Adam7 passes: first column, first row, column step, row step.
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    per_byte = 8 // depth
    out = bytearray()
    for i in range(0, len(samples), per_byte):
        byte = 0
        for j, v in enumerate(samples[i:i + per_byte]):
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


def encode(width, height, color_type, depth, pixels, interlaced=False, before_data=b"", plte=None,
           trns=None):
    """pixels[y][x]: a tuple of samples.  before_data: chunks placed after IHDR."""
    raw = bytearray()
    passes = ADAM7 if interlaced else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs, ys = range(x0, width, dx), range(y0, height, dy)
        if not xs or not ys:
            continue
        for y in ys:
            raw.append(0)  # filter: none
            raw.extend(pack_row([s for x in xs for s in pixels[y][x]], depth))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, int(interlaced))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + before_data
    if plte is not None:
        out += chunk(b"PLTE", bytes(v for rgb in plte for v in rgb))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")


def sample(rng, depth, top):
    """A sample value; 16-bit ones half below 300, half anywhere."""
    if depth == 16 and rng.random() < 0.5:
        return rng.randint(0, 300)
    return rng.randint(0, top)


def draw_pixels(name, width, height, color_type, depth, n_palette):
    rng = random.Random(zlib.crc32(name.encode()))
    top = n_palette - 1 if color_type == PALETTE else (1 << depth) - 1
    pixels = [[tuple(sample(rng, depth, top) for _ in range(CHANNELS[color_type])) for _ in range(width)]
              for _ in range(height)]
    row = pixels[0]  # the extremes are always there (as far as the row holds them)
    row[:2] = [(top,) * CHANNELS[color_type], (0,) * CHANNELS[color_type]][:len(row)]
    return pixels


def palette(n, seed):
    rng = random.Random(seed)
    return [(rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)) for _ in range(n)]


GAMA = chunk(b"gAMA", struct.pack(">I", 45455))
SBIT_RGB = chunk(b"sBIT", bytes([5, 6, 5]))
SBIT_GRAY = chunk(b"sBIT", bytes([12]))

# name, color type, bit depth, options (interlaced, before_data, palette entries, tRNS,
# palette entries the indices may use: more than PLTE holds gives out-of-range indices).
CASES = [
    ("gray1", GRAY, 1, {}),
    ("gray2", GRAY, 2, {}),
    ("gray4", GRAY, 4, {}),
    ("gray8", GRAY, 8, {}),
    ("gray16", GRAY, 16, {}),
    ("gray_alpha8", GRAY_ALPHA, 8, {}),
    ("gray_alpha16", GRAY_ALPHA, 16, {}),
    ("rgb8", RGB, 8, {}),
    ("rgb16", RGB, 16, {}),
    ("rgba8", RGBA, 8, {}),
    ("rgba16", RGBA, 16, {}),
    ("palette1", PALETTE, 1, {"plte": 2}),
    ("palette2", PALETTE, 2, {"plte": 4}),
    ("palette4", PALETTE, 4, {"plte": 16}),
    ("palette8", PALETTE, 8, {"plte": 256}),
    ("palette4_short", PALETTE, 4, {"plte": 5, "indices": 16}),
    ("palette8_trns", PALETTE, 8, {"plte": 40, "trns": bytes(range(0, 200, 10))}),
    ("gray1_trns", GRAY, 1, {"trns": struct.pack(">H", 1)}),
    ("gray8_trns", GRAY, 8, {"trns": struct.pack(">H", 7)}),
    ("gray16_trns", GRAY, 16, {"trns": struct.pack(">H", 300)}),
    ("rgb8_trns", RGB, 8, {"trns": struct.pack(">HHH", 1, 2, 3)}),
    ("rgb16_trns", RGB, 16, {"trns": struct.pack(">HHH", 1, 2, 3)}),
    ("gray8_gama", GRAY, 8, {"before": GAMA}),
    ("rgb8_gama", RGB, 8, {"before": GAMA}),
    ("rgba16_gama", RGBA, 16, {"before": GAMA}),
    ("gray16_gama_sbit", GRAY, 16, {"before": GAMA + SBIT_GRAY}),
    ("rgb8_sbit", RGB, 8, {"before": SBIT_RGB}),
    ("gray1_interlaced", GRAY, 1, {"interlaced": True}),
    ("gray16_interlaced", GRAY, 16, {"interlaced": True}),
    ("gray_alpha8_interlaced", GRAY_ALPHA, 8, {"interlaced": True}),
    ("rgb8_interlaced", RGB, 8, {"interlaced": True}),
    ("rgba16_interlaced", RGBA, 16, {"interlaced": True}),
    ("palette4_interlaced", PALETTE, 4, {"plte": 11, "interlaced": True}),
    ("tiny_interlaced", RGB, 8, {"interlaced": True, "size": (1, 1)}),
]


def write_case(family_dir, name, color_type, depth, opts):
    width, height = opts.get("size", (13, 11))  # odd sizes: partial bytes and partial Adam7 passes
    n_plte = opts.get("plte", 0)
    plte = palette(n_plte, zlib.crc32(name.encode()) + 1) if n_plte else None
    pixels = draw_pixels(name, width, height, color_type, depth, opts.get("indices", n_plte))
    data = encode(width, height, color_type, depth, pixels, opts.get("interlaced", False),
                  opts.get("before", b""), plte, opts.get("trns"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Palette images with Transparency ... RGBA"
        rgb = Image.open(io.BytesIO(data)).convert("RGB")
    with open(os.path.join(family_dir, name + ".png"), "wb") as f:
        f.write(data)
    with open(os.path.join(family_dir, name + ".rgb"), "wb") as f:
        f.write(struct.pack("<II", *rgb.size) + rgb.tobytes())


def make(out_dir):
    write_cases(out_dir, "png", CASES, write_case)


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else ".")
