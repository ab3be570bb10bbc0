#!/usr/bin/env python3
"""protmask.Masker.mask_many against a per-record numpy loop of the kind a collator does.

The numpy loop is what a DataLoader collator typically does per record: draw a rate r
(betalinear30: 0.8*Beta(3,9) + 0.2*U(0,1)), select positions with `random(L) < r`,
replace them with the mask token, decode back to a string, and keep the positions, t and
r. mask_many does the same job (ESM3 preset: betalinear30, bernoulli, '_') and returns
objects with the masked string, positions (numpy int32), t, rate, count and length.

    python benches/python_mask_many.py                  # 20,000 records, 5 runs each
    python benches/python_mask_many.py --records 20000 --repeats 7

Needs numpy and the installed package (pip install ./python). Not a timed test: it prints
medians and the ratio (docs/performance.md, "Python: mask_many against a numpy collator").
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# numpy's OpenBLAS threads spin on the cores mask_many's workers need (5% of its profile);
# a collator in a DataLoader worker runs with one BLAS thread too. Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import protmask  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT.parent / "shared" / "tools" / "gen_fasta.py"


def read_fasta(path):
    ids, seqs, seq = [], [], []
    with open(path) as f:
        for line in f:
            if line.startswith(">"):
                if seq or ids:
                    seqs.append("".join(seq))
                ids.append(line[1:].split()[0])
                seq = []
            else:
                seq.append(line.strip())
    seqs.append("".join(seq))
    return ids, seqs


def numpy_collator(ids, seqs, rng, token=ord("_")):
    out = []
    for _id, s in zip(ids, seqs):
        a = np.frombuffer(s.encode(), dtype=np.uint8)
        t = rng.random()
        r = rng.beta(3, 9) if rng.random() < 0.8 else rng.random()
        sel = rng.random(len(a)) < r
        b = a.copy()
        b[sel] = token
        out.append((b.tobytes().decode(), np.flatnonzero(sel).astype(np.int32), t, r,
                    int(sel.sum()), len(a)))
    return out


def timed(f, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fasta", help="use this file instead of generating one")
    a = ap.parse_args()
    path = Path(a.fasta) if a.fasta else ROOT / "benches" / "data" / f"synthetic{a.records}.fa"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(GEN), "--records", str(a.records), "--seed", "1",
                        "-o", str(path)], check=True)
    ids, seqs = read_fasta(path)
    n, residues = len(ids), sum(map(len, seqs))
    print(f"{n} records, {residues} residues (mean length {residues / n:.0f}), "
          f"{os.cpu_count()} cores, protmask {protmask.__version__}")

    rng = np.random.default_rng(1)
    rows = []
    cases = [("numpy loop (collator)", lambda: numpy_collator(ids, seqs, rng))]
    for threads in (1, None):
        m = protmask.Masker(preset="esm3", threads=threads)
        name = f"mask_many, threads={threads or 'all'}"
        cases.append((name, lambda m=m: m.mask_many(ids, seqs)))
    m1 = protmask.Masker(preset="esm3")
    cases.append(("mask, one by one", lambda: [m1.mask(i, s) for i, s in zip(ids, seqs)]))
    for name, f in cases:
        f()  # warm up
        med, best = timed(f, a.repeats)
        rows.append((name, med, best))
    base = rows[0][1]
    print(f"| what | median s | best s | µs per record | numpy loop / this |")
    print("|---|---:|---:|---:|---:|")
    for name, med, best in rows:
        print(f"| {name} | {med:.3f} | {best:.3f} | {med / n * 1e6:.2f} | {base / med:.1f} |")


if __name__ == "__main__":
    main()
