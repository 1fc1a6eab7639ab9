#!/usr/bin/env python3
"""Checks the PNGs `python -m analysis.plots` wrote.

Usage: check_pngs.py PLOTS_STDOUT.txt RESULTS.h5

PLOTS_STDOUT.txt holds the paths analysis.plots printed, one a line. Each must be a valid,
non-empty image: the PNG signature, an IHDR chunk first with width and height > 0,
and, decoded with matplotlib.image.imread, not a single flat colour (variance > 0).
The set must hold accuracy_vs_p.png and, for every cell whose status is "done"
(read from the HDF5 file with h5py directly), frozen_/delta_loss_/singular_values_
<cell>.png, and methods_<cell>.png for those with comparisons; error cells get none. Exit status 1 on any failure.
"""

import os
import re
import struct
import sys

import h5py
attr_text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # format 2 strings are fixed-length (bytes)
import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path):
    """'' when fine, else what is wrong."""
    if not os.path.isfile(path):
        return "missing"
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != SIGNATURE:
        return "no PNG signature"
    length, kind = struct.unpack(">I4s", head[8:16])
    if kind != b"IHDR" or length != 13:
        return f"first chunk is {kind!r} of {length} bytes, not IHDR"
    width, height = struct.unpack(">II", head[16:24])
    if width == 0 or height == 0:
        return f"IHDR says {width} x {height}"
    img = mpimg.imread(path)
    if img.shape[0] != height or img.shape[1] != width:
        return f"decoded {img.shape} but IHDR says {width} x {height}"
    if float(img.reshape(-1, img.shape[-1] if img.ndim == 3 else 1).var(axis=0).max()) <= 0:
        return "a single flat colour"
    return ""


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    bad = 0
    for p in paths:
        why = check_png(p)
        if why:
            print(f"FAIL {p}: {why}")
            bad += 1
    if paths and not bad:
        print(f"ok   {len(paths)} PNGs: signature, IHDR size > 0, decodable, not flat")
    names = {os.path.basename(p) for p in paths}
    with h5py.File(sys.argv[2], "r") as f:
        cells = [(str(attr_text(g.attrs["name"])), str(attr_text(g.attrs["status"])), "methods" in g)
                 for g in f["cells"].values()]
    safe = lambda s: re.sub(r"[^A-Za-z0-9._-]+", "_", s)  # noqa: E731
    want = {"accuracy_vs_p.png"} if any(st == "done" for _, st, _ in cells) else set()
    for name, status, has_methods in cells:
        kinds = ["frozen", "delta_loss", "singular_values"] + (["methods"] if has_methods else [])
        for k in kinds:
            file = f"{k}_{safe(name)}.png"
            if status == "done":
                want.add(file)
            elif file in names:
                print(f"FAIL {file}: written for a cell whose status is {status}")
                bad += 1
    for file in sorted(want - names):
        print(f"FAIL {file}: expected but not written")
        bad += 1
    if not want - names:
        print(f"ok   every expected figure is there ({len(want)} for {len(cells)} cells)")
    print(f"check_pngs: {'FAILED' if bad else 'all checks passed'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
