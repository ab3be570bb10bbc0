#!/usr/bin/env python3
"""protmask.Masker.mask_many against a per-record numpy loop of the kind a collator does,
and Masker.collate against EsmTokenizer + DataCollatorForLanguageModeling.

The numpy loop is what a DataLoader collator typically does per record: draw a rate r
(betalinear30: 0.8*Beta(3,9) + 0.2*U(0,1)), select positions with `random(L) < r`,
replace them with the mask token, decode back to a string, and keep the positions, t and
r. mask_many does the same job (ESM3 preset: betalinear30, bernoulli, '_') and returns
objects with the masked string, positions (numpy int32), t, rate, count and length.

The batch rows (issue 24): `collate` (esm2 preset, ESM tokens) in batches of 32, as a
DataLoader's collate_fn gets them, against `mask_many` with the same tokens in the same
batches (target: collate at most 2x its time per record), and against what training code
did without protmask: transformers' EsmTokenizer (a local 33-token vocabulary) and
DataCollatorForLanguageModeling (15%, 80/10/10) on the same batches (target: collate at
least 50x faster; that path is timed on --hf-records records, it is slow).

    python benches/python_mask_many.py                  # 20,000 records, 5 runs each
    python benches/python_mask_many.py --records 20000 --repeats 7

Needs numpy and the installed package (pip install ./python); the last row needs
transformers and torch (skipped without). Not a timed test: it prints medians and the
ratios (docs/performance.md, "Python: mask_many against a numpy collator").
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


def batches(ids, seqs, a):
    """Rows of the batch table: (name, records, median seconds)."""
    size = a.batch
    chunks = [(ids[i:i + size], seqs[i:i + size]) for i in range(0, len(ids), size)]
    out = []
    for threads in (None, 1):
        m = protmask.Masker(preset="esm2", tokens="esm", threads=threads)
        label = threads or "all"
        for name, f in [
            (f"collate, threads={label}", lambda m=m: [m.collate(i, s) for i, s in chunks]),
            (f"mask_many with tokens, threads={label}",
             lambda m=m: [m.mask_many(i, s) for i, s in chunks]),
        ]:
            f()
            out.append((name, len(ids), timed(f, a.repeats)[0]))
    try:
        import torch  # noqa: F401
        from transformers import DataCollatorForLanguageModeling, EsmTokenizer
    except ImportError as e:
        print(f"(no EsmTokenizer row: {e})")
        return out
    import tempfile

    vocab = Path(tempfile.mkdtemp()) / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    tok = EsmTokenizer(vocab_file=str(vocab))
    hf = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, return_tensors="pt")
    few = chunks[: max(1, a.hf_records // size)]

    def hf_path():
        for i, s in few:
            enc = tok(list(s))
            hf([{"input_ids": x} for x in enc["input_ids"]])

    hf_path()
    out.append(("EsmTokenizer + DataCollatorForLanguageModeling", sum(len(i) for i, _ in few),
                timed(hf_path, max(1, a.repeats // 2))[0]))
    return out


# The 33-token ESM vocabulary, ids 0..32 (fair-esm Alphabet.from_architecture("ESM-1b")).
ESM_VOCAB = ("<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - "
             "<null_1> <mask>").split()


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
    ap.add_argument("--batch", type=int, default=32, help="records per collate batch")
    ap.add_argument("--hf-records", type=int, default=640,
                    help="records the EsmTokenizer path is timed on")
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

    batch_rows = batches(ids, seqs, a)
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
    print()
    print(f"| what (esm2, ESM tokens, batches of {a.batch}) | records | median s | "
          "µs per record | this / collate |")
    print("|---|---:|---:|---:|---:|")
    us = {}
    for name, count, med in batch_rows:
        us[name] = med / count * 1e6
        print(f"| {name} | {count} | {med:.3f} | {us[name]:.2f} | "
              f"{us[name] / us['collate, threads=all']:.2f} |")


if __name__ == "__main__":
    main()
