"""Writes a z-stack the way a Python acquisition script would, for the writer benchmark.

Usage: tifffile_write.py <path> <slices> <height> <width>
Streams the planes from a few preallocated frames (constant memory, like the
writer), fsyncs the file, and prints {"seconds", "cpu_seconds", "bytes"} as
JSON. Only the write and the fsync are timed.
"""
import json
import os
import sys
import time

import numpy
import tifffile

path, slices, height, width = sys.argv[1], *map(int, sys.argv[2:5])
rng = numpy.random.default_rng(0)
frames = [rng.integers(0, 65535, size=(height, width), dtype=numpy.uint16) for _ in range(4)]


def planes():
    for z in range(slices):
        yield frames[z % len(frames)]


start = time.perf_counter()
cpu_start = time.process_time()
bigtiff = slices * height * width * 2 > 2**32 - 2**25
with tifffile.TiffWriter(path, bigtiff=bigtiff, ome=True) as tif:
    tif.write(planes(), shape=(slices, height, width), dtype=numpy.uint16, metadata={"axes": "ZYX", "PhysicalSizeX": 0.1625, "PhysicalSizeY": 0.1625, "PhysicalSizeZ": 1.0})
fd = os.open(path, os.O_RDONLY)
os.fsync(fd)
os.close(fd)
seconds = time.perf_counter() - start
cpu_seconds = time.process_time() - cpu_start
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "bytes": os.path.getsize(path)}))
