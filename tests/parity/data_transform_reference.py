"""The data section's transforms as torchvision applies them to PIL images
(tests/unit/test_data_transform.c).

torchvision's datasets (MNIST, CIFAR10, ImageFolder) hand PIL images to the transforms, so
`data: {channels, resize, fit, pad}` means: PIL's convert('L') / convert('RGB'), then
transforms.Resize (Pillow's bilinear: antialiased when shrinking) -- Resize([h, w]) for fit
stretch, Resize(side) + CenterCrop(side) for fit crop -- then transforms.Pad(pad) with fill 0.
A crop to a target that is not square has no torchvision one-liner: it is the same two steps with
the shorter side's scale taken from whichever side must cover (torchvision's own rule for the
other side: int(size * long / short)).

make(out_dir) writes two families:
  data_transform/<name>.bin: int32 little-endian c, h, w (the input), channels, height, width,
    crop, pad (the transform, 0 = off), out_c, out_h, out_w, then the input's bytes and the
    expected output's bytes, both planar (C, H, W);
  data_folder/images/: PNG files of every kind (gray 1-16 bits, alpha, palettes, RGB 8/16 bits)
    and sizes, names that sort differently by bytes and by case, and a file that is not .png;
    data_folder/<name>.bin: the same header (c, h, w = 0) and the folder as the loader must
    give it: each .png in sorted() order, opened by PIL, transformed as above, planar.
"""
import io
import os
import random
import struct
import sys
import warnings
import zlib

from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from case_list import write_cases  # noqa: E402
import png_reference as png  # noqa: E402

BILINEAR = InterpolationMode.BILINEAR


def transform(img, channels=0, resize=None, fit="crop", pad=0):
    if channels:
        img = img.convert("L" if channels == 1 else "RGB")
    if resize:
        h, w = resize
        if fit == "stretch":
            img = T.Resize([h, w], interpolation=BILINEAR)(img)
        elif h == w:
            img = T.CenterCrop(h)(T.Resize(h, interpolation=BILINEAR)(img))
        else:
            in_w, in_h = img.size
            if h * in_w >= w * in_h:
                mid = (int(h * in_w / in_h), h)
            else:
                mid = (w, int(w * in_h / in_w))
            img = T.CenterCrop([h, w])(img.resize(mid, Image.BILINEAR))
    if pad:
        img = T.Pad(pad, fill=0)(img)
    return img


def planar(img):
    """A PIL image's bytes as (C, H, W)."""
    data = img.tobytes()
    c = len(img.getbands())
    return bytes(data[i] for k in range(c) for i in range(k, len(data), c)), c


def from_planar(data, c, h, w):
    if c == 1:
        return Image.frombytes("L", (w, h), data)
    plane = h * w
    inter = bytes(data[k * plane + i] for i in range(plane) for k in range(3))
    return Image.frombytes("RGB", (w, h), inter)


def header(c, h, w, opts, out_c, out_h, out_w):
    resize = opts.get("resize") or (0, 0)
    return struct.pack("<11i", c, h, w, opts.get("channels", 0), resize[0], resize[1],
                       int(opts.get("fit", "crop") == "crop"), opts.get("pad", 0), out_c, out_h, out_w)


def pattern(kind, n, rng, h, w, c):
    if kind == "noise":
        return bytes(rng.randrange(256) for _ in range(n))
    # smooth ramps with a bright square: what photographs and digits look like to a filter
    out = bytearray()
    for k in range(c):
        for y in range(h):
            for x in range(w):
                v = (x * 255 // max(w - 1, 1) + y * 97 // max(h - 1, 1) + 60 * k) % 256
                if h // 4 <= y < h // 2 and w // 3 <= x < 2 * w // 3:
                    v = 255 - v // 4
                out.append(v)
    return bytes(out)


# name, input (c, h, w), transform, pixels
CASES = [
    ("up_28_to_32", (1, 28, 28), {"resize": (32, 32)}, "smooth"),
    ("up_28_to_32_noise", (1, 28, 28), {"resize": (32, 32)}, "noise"),
    ("down_28_to_14", (1, 28, 28), {"resize": (14, 14)}, "noise"),
    ("down_odd_stretch", (3, 37, 23), {"resize": (10, 7), "fit": "stretch"}, "noise"),
    ("up_odd_stretch", (3, 5, 9), {"resize": (17, 12), "fit": "stretch"}, "smooth"),
    ("mixed_axes_stretch", (1, 13, 40), {"resize": (29, 11), "fit": "stretch"}, "noise"),
    ("crop_wide", (3, 20, 33), {"resize": (16, 16)}, "smooth"),
    ("crop_tall_odd", (1, 41, 18), {"resize": (11, 11)}, "noise"),
    ("crop_up", (1, 7, 10), {"resize": (24, 24)}, "smooth"),
    ("crop_not_square", (3, 30, 30), {"resize": (12, 20)}, "noise"),
    ("crop_not_square_tall", (1, 16, 40), {"resize": (25, 9)}, "smooth"),
    ("crop_no_resize_needed", (1, 28, 30), {"resize": (28, 28)}, "noise"),
    ("pad_2", (1, 28, 28), {"pad": 2}, "noise"),
    ("gray_resize_pad", (3, 32, 32), {"channels": 1, "resize": (28, 28), "pad": 3}, "noise"),
    ("to_gray", (3, 6, 5), {"channels": 1}, "noise"),
    ("to_rgb_stretch", (1, 9, 9), {"channels": 3, "resize": (12, 12), "fit": "stretch"}, "smooth"),
    ("same_size", (3, 16, 16), {"resize": (16, 16)}, "noise"),
    ("from_one_pixel", (1, 1, 1), {"resize": (3, 5), "fit": "stretch"}, "noise"),
    ("to_one_pixel", (3, 6, 8), {"resize": (1, 1), "fit": "stretch"}, "noise"),
    ("shrink_a_lot", (1, 300, 200), {"resize": (7, 5), "fit": "stretch"}, "smooth"),
]


def write_transform_case(family_dir, name, shape, opts, kind):
    c, h, w = shape
    rng = random.Random(zlib.crc32(name.encode()))
    data = pattern(kind, c * h * w, rng, h, w, c)
    out = transform(from_planar(data, c, h, w), **opts)
    expected, out_c = planar(out)
    with open(os.path.join(family_dir, name + ".bin"), "wb") as f:
        f.write(header(c, h, w, opts, out_c, out.size[1], out.size[0]) + data + expected)


# The folder: (file name, PNG kind from png_reference.CASES, width, height).  Byte order puts
# upper case first and "a10" before "a2"; notes.txt is not read.
FOLDER = [
    ("a2.png", "rgb8", 13, 11),
    ("a10.png", "gray4", 9, 14),
    ("B.png", "palette4_short", 20, 20),
    ("Z.PNG", "rgba16", 17, 12),
    ("c.png", "gray16", 8, 8),
    ("d.png", "gray_alpha8_interlaced", 31, 7),
    ("e.png", "rgb16", 10, 10),
]
KINDS = {case[0]: case for case in png.CASES}

FOLDER_CASES = [
    ("rgb_crop_pad", {"channels": 3, "resize": (8, 8), "pad": 1}),
    ("gray_stretch", {"channels": 1, "resize": (12, 10), "fit": "stretch"}),
    ("rgb_crop_not_square", {"channels": 3, "resize": (9, 14)}),
]


def write_folder(images_dir):
    os.makedirs(images_dir, exist_ok=True)
    for file_name, kind, width, height in FOLDER:
        _, color_type, depth, opts = KINDS[kind]
        n_plte = opts.get("plte", 0)
        plte = png.palette(n_plte, zlib.crc32(file_name.encode()) + 1) if n_plte else None
        pixels = png.draw_pixels(file_name, width, height, color_type, depth, opts.get("indices", n_plte))
        data = png.encode(width, height, color_type, depth, pixels, opts.get("interlaced", False),
                          opts.get("before", b""), plte, opts.get("trns"))
        with open(os.path.join(images_dir, file_name), "wb") as f:
            f.write(data)
    with open(os.path.join(images_dir, "notes.txt"), "w") as f:
        f.write("not an image: the loader reads .png files only\n")


def write_folder_case(family_dir, name, opts):
    images_dir = os.path.join(family_dir, "images")
    names = sorted(n for n in os.listdir(images_dir) if n.lower().endswith(".png"))
    out = b""
    for file_name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(os.path.join(images_dir, file_name))
            img.load()
        done = transform(img, **opts)
        data, out_c = planar(done)
        out += data
    with open(os.path.join(family_dir, name + ".bin"), "wb") as f:
        f.write(header(0, 0, 0, opts, out_c, done.size[1], done.size[0]) + struct.pack("<i", len(names)) + out)


def make(out_dir):
    write_cases(out_dir, "data_transform", CASES, write_transform_case)
    write_folder(os.path.join(out_dir, "data_folder", "images"))
    write_cases(out_dir, "data_folder", FOLDER_CASES, write_folder_case)


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else ".")
