#!/usr/bin/env python3
"""A straightforward Python reference for `protmask mask` (ESM3 preset), for benchmarks.

What it does, per record, the way a training-loop re-implementation would:
  t ~ U(0,1) (numpy Generator), r = Q(1 - t) with Q the quantile of betalinear30
  (0.8 Beta(3,9) + 0.2 U(0,1), so r has exactly that mixture's distribution), each
  residue masked independently with probability r (rng.random(L) < r), masked
  positions written as '_', sequences wrapped at 60, headers copied unchanged.
  With -r, a rates CSV: file,id,replicate,length,t,rate,masked (as protmask writes).

It is a reference for speed and shape, not for identical bytes: the random streams
differ from protmask's per-record ChaCha8 streams.

  reference_mask.py IN.fa -o OUT.fa [-r RATES.csv] [--seed N]

Needs numpy and biopython (Bio.SeqIO.FastaIO.SimpleFastaParser). IN may be gzip.
"""
import argparse
import bisect
import gzip
import sys
from math import comb

import numpy as np
from Bio.SeqIO.FastaIO import SimpleFastaParser

WIDTH = 60
TOKEN = ord("_")


def betalinear30_quantile_table(n=1 << 16):
    """(cdf values, r grid) of 0.8*Beta(3,9) + 0.2*U(0,1) on a uniform grid of [0,1].

    For integer a, b the Beta CDF is a binomial tail:
    I_r(a, b) = P(Binomial(a+b-1, r) >= a), so it is exact without scipy.
    """
    r = np.linspace(0.0, 1.0, n + 1)
    a, b = 3, 9
    m = a + b - 1
    beta_cdf = sum(comb(m, j) * r**j * (1.0 - r) ** (m - j) for j in range(a, m + 1))
    cdf = 0.8 * beta_cdf + 0.2 * r
    cdf[0], cdf[-1] = 0.0, 1.0
    return cdf.tolist(), r.tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="FASTA (plain or gzip); '-' = stdin")
    ap.add_argument("-o", "--output", required=True, help="masked FASTA ('-' = stdout)")
    ap.add_argument("-r", "--rates", help="rates CSV: file,id,replicate,length,t,rate,masked")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    cdf, grid = betalinear30_quantile_table()
    last = len(cdf) - 1

    def rate_of(t):
        # r = Q(1 - t): linear interpolation of the inverse CDF.
        u = 1.0 - t
        i = min(max(bisect.bisect_left(cdf, u), 1), last)
        c0, c1 = cdf[i - 1], cdf[i]
        g0, g1 = grid[i - 1], grid[i]
        return g0 if c1 == c0 else g0 + (g1 - g0) * (u - c0) / (c1 - c0)

    rng = np.random.default_rng(a.seed)
    if a.input == "-":
        fin = sys.stdin
    else:
        with open(a.input, "rb") as probe:
            magic = probe.read(2)
        fin = gzip.open(a.input, "rt") if magic == b"\x1f\x8b" else open(a.input, "r")
    fout = sys.stdout.buffer if a.output == "-" else open(a.output, "wb", buffering=1 << 20)
    frates = None
    if a.rates:
        frates = open(a.rates, "w", buffering=1 << 20)
        frates.write("file,id,replicate,length,t,rate,masked\n")
    fname = a.input

    write = fout.write
    for title, seq in SimpleFastaParser(fin):
        arr = np.frombuffer(seq.encode("ascii"), dtype=np.uint8).copy()
        length = arr.size
        t = rng.random()
        r = rate_of(t)
        mask = rng.random(length) < r
        arr[mask] = TOKEN
        out = arr.tobytes()
        write(b">" + title.encode() + b"\n")
        write(b"".join(out[i:i + WIDTH] + b"\n" for i in range(0, length, WIDTH)))
        if frates is not None:
            rid = title.split(None, 1)[0] if title else ""
            frates.write(f"{fname},{rid},1,{length},{t!r},{r!r},{int(mask.sum())}\n")

    fout.flush()
    if fout is not sys.stdout.buffer:
        fout.close()
    if frates is not None:
        frates.close()


if __name__ == "__main__":
    main()
