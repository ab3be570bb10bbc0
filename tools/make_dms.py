#!/usr/bin/env python3
"""Write a small deep-mutational-scan file in ProteinGym's format from one record of a
FASTA file, for examples and tests of `protmask scan --variants`.

THIS IS NOT ASSAY DATA. The mutants are drawn at random (a fixed seed, so the file is the
same on every machine and Python version: only `random.Random` with integer arguments is
used), and `DMS_score` is a made-up number (a hydrophobicity change plus noise), there to
show that the DMS file's other columns are carried into the variants table. Every line
says so in its `source` column.

A multi-mutant's positions lie within `--span` residues of each other (as the mutants of an
assay of one domain do), so that `--variants-mode joint` finds a window for each.

Columns, as in ProteinGym's substitution files: `mutant` (e.g. `A23K`, or `A23K:L45P`,
1-based positions), `mutated_sequence`, `DMS_score`, `DMS_score_bin`, and `source`.

    python3 tools/make_dms.py data/NC_000932.faa 'gi|7525076|ref|NP_051101.1|' > dms.csv
    python3 tools/make_dms.py data/okt3_vh.faa OKT3_VH --singles 30 --doubles 10 --triples 0
"""

import argparse
import csv
import random
import sys

LETTERS = "ACDEFGHIKLMNPQRSTVWY"
# Kyte-Doolittle hydropathy, for the made-up score only.
KD = dict(zip(LETTERS, [1.8, 2.5, -3.5, -3.5, 2.8, -0.4, -3.2, 4.5, -3.9, 3.8, 1.9, -3.5,
                        -1.6, -3.5, -4.5, -0.8, -0.7, 4.2, -0.9, -1.3]))
SOURCE = "synthetic (tools/make_dms.py): not assay data"


def read_record(path, record_id):
    """The sequence of the record whose ID (first word of the header) is `record_id`."""
    seq, found = [], False
    with open(path) as f:
        for line in f:
            if line.startswith(">"):
                if found:
                    break
                found = line[1:].split(None, 1)[0] == record_id
            elif found:
                seq.append(line.strip())
    if not found:
        sys.exit(f"make_dms.py: no record '{record_id}' in {path}")
    return "".join(seq).upper()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("fasta")
    p.add_argument("record_id")
    p.add_argument("--singles", type=int, default=200)
    p.add_argument("--doubles", type=int, default=60)
    p.add_argument("--triples", type=int, default=20)
    p.add_argument("--seed", type=int, default=23)
    p.add_argument("--span", type=int, default=200,
                   help="a multi-mutant's positions lie within this many residues")
    args = p.parse_args()
    seq = read_record(args.fasta, args.record_id)
    rng = random.Random(args.seed)
    positions = [i for i, c in enumerate(seq) if c in LETTERS]

    def mutation(pos):
        wt = seq[pos]
        mt = LETTERS[(LETTERS.index(wt) + 1 + rng.randrange(len(LETTERS) - 1)) % len(LETTERS)]
        return pos, wt, mt

    mutants, seen = [], set()
    for size, count in ((1, args.singles), (2, args.doubles), (3, args.triples)):
        made = 0
        while made < count:
            first = rng.randrange(len(positions))
            near = positions[first:first + args.span] if size > 1 else positions
            if len(near) < size:
                continue
            chosen = sorted(rng.sample(near, size))
            muts = [mutation(pos) for pos in chosen]
            name = ":".join(f"{wt}{pos + 1}{mt}" for pos, wt, mt in muts)
            if name in seen:
                continue
            seen.add(name)
            mutants.append(muts)
            made += 1
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["mutant", "mutated_sequence", "DMS_score", "DMS_score_bin", "source"])
    for muts in mutants:
        mutated = list(seq)
        score = 0.0
        for pos, wt, mt in muts:
            mutated[pos] = mt
            score -= abs(KD[mt] - KD[wt]) / 4
        score += rng.randrange(-1000, 1001) / 2000
        name = ":".join(f"{wt}{pos + 1}{mt}" for pos, wt, mt in muts)
        w.writerow([name, "".join(mutated), f"{score:.4f}", int(score > -1.0), SOURCE])
    print(
        f"make_dms.py: {len(mutants)} synthetic mutants of {args.record_id} "
        f"({len(seq)} residues), seed {args.seed}: NOT assay data",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
