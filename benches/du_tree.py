#!/usr/bin/env python3
"""Builds the tree benches/du.sh measures: >= 200,000 files in >= 20,000
directories, sized like a source checkout with caches (mostly small files,
a few large, some sparse), plus hard links, symlinks and one wide directory
of blobs. Deterministic (fixed seed), so figures compare across runs.

usage: du_tree.py DIR   (DIR must not exist)
"""
import os
import random
import sys

TOP, MID, LEAF = 20, 20, 50          # 20 + 400 + 20,000 directories
WIDE_DIR_FILES = 5_000               # one blob-cache-like directory
TARGET_FILES = 200_000

def size(rng):
    r = rng.random()
    if r < 0.70:
        return rng.randrange(0, 1024)
    if r < 0.95:
        return rng.randrange(1024, 8192)
    return rng.randrange(8192, 128 * 1024)

def main():
    root = sys.argv[1]
    rng = random.Random(20240601)
    data = os.urandom(128 * 1024)
    os.makedirs(root)
    files = 0
    leaves = []
    for t in range(TOP):
        for m in range(MID):
            for l in range(LEAF):
                d = os.path.join(root, f"t{t:02}", f"m{m:02}", f"leaf{l:02}")
                os.makedirs(d)
                leaves.append(d)
    wide = os.path.join(root, "blobs", "sha256")
    os.makedirs(wide)
    for i in range(WIDE_DIR_FILES):
        with open(os.path.join(wide, f"{rng.getrandbits(128):032x}"), "wb") as f:
            f.write(data[: size(rng)])
        files += 1
    per_leaf = []
    remaining = TARGET_FILES - files
    for i, _ in enumerate(leaves):
        per_leaf.append(1 + (i * 7919) % 19)   # 1..19, mean 10
    short = remaining - sum(per_leaf)
    for i in range(max(short, 0)):
        per_leaf[i % len(per_leaf)] += 1
    for d, n in zip(leaves, per_leaf):
        for k in range(n):
            p = os.path.join(d, f"file{k:02}.dat")
            kind = rng.random()
            if kind < 0.002 and k > 0:
                os.link(os.path.join(d, "file00.dat"), p)
            elif kind < 0.010:
                os.symlink("file00.dat", p)
            elif kind < 0.0102:
                with open(p, "wb") as f:      # sparse: 16 MiB apparent, 4 KiB data
                    f.write(data[:4096])
                    f.truncate(16 << 20)
            else:
                with open(p, "wb") as f:
                    f.write(data[: size(rng)])
            files += 1
    print(f"{files} files, {len(leaves) + TOP + TOP * MID + 3} directories in {root}")

main()
