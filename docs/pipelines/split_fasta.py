#!/usr/bin/env python3
"""Split a FASTA file into N contiguous shards at record boundaries.

    split_fasta.py INPUT SHARD_1 SHARD_2 ... SHARD_N

Record order is kept: concatenating SHARD_1 .. SHARD_N gives back the (decompressed)
input, byte for byte. Shards are balanced by bytes, not by record count: a record goes to
shard floor(offset * N / total), where offset is the byte at which it starts, so each
shard holds about total/N bytes. A shard can be empty (more shards than records); protmask
masks an empty file to an empty FASTA and a header-only table.

INPUT may be plain, gzip (BGZF and multi-member included), bzip2 or xz, detected from its
first bytes like protmask does; zstd needs the `zstandard` Python module. Shards are
written uncompressed. Python standard library only, so it runs wherever python3 >= 3.8 does.
"""
import bz2
import gzip
import lzma
import os
import sys

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


def sniff(path):
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return "plain"


def open_input(path):
    kind = sniff(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "bzip2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "zstd":
        try:
            import zstandard
        except ImportError:
            sys.exit(f"split_fasta.py: {path}: zstd input needs the Python module 'zstandard' "
                     "(pip install zstandard), or decompress it first")
        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))
    return open(path, "rb")


def total_bytes(path):
    if sniff(path) == "plain":
        return os.path.getsize(path)
    n = 0
    with open_input(path) as fh:
        while True:
            block = fh.read(1 << 20)
            if not block:
                return n
            n += len(block)


def split(path, shards):
    n = len(shards)
    if n < 1:
        sys.exit("split_fasta.py: need at least one shard path")
    total = max(total_bytes(path), 1)
    outs = [open(s, "wb") for s in shards]
    records = [0] * n
    current, offset = 0, 0
    with open_input(path) as fh:
        for line in fh:
            if line.startswith(b">"):
                # A record starts here: it goes to the shard its first byte falls in.
                # Never go back, so shards stay contiguous and in order.
                current = max(current, min(n - 1, offset * n // total))
                records[current] += 1
            outs[current].write(line)
            offset += len(line)
    for out in outs:
        out.close()
    for shard, count in zip(shards, records):
        print(f"split_fasta.py: {shard}: {count} records", file=sys.stderr)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    split(argv[1], argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
