"""protmask's D3PM noise (`--preset evodiff-d3pm-uniform`, `evodiff-d3pm-blosum`, issue 21)
tested against numpy's law, independently of protmask's code: the only things shared are
the file formats. EvoDiff's D3PMCollater draws t = np.random.randint(1, 500) per sequence,
then each residue x0 from row x0 of Q̄[t] (normalised, as torch.multinomial does);
d3pm_reference.py recomputes Q̄ from EvoDiff's code.

Runs the real binary (`PROTMASK`, else `protmask` on PATH) on a synthetic FASTA made from a
fixed numpy seed (~4 million residues, all 26 letters, some records with lowercase letters,
`*`, `-` and `.`, one empty, one with no eligible residue) and checks, from the FASTA and the
rates table only:
1. t_k = 500·(1 − t) is uniform on {1..499} (chi-square), never 0 or 500;
2. the (from, to) counts follow Q̄[t_k]: likelihood-ratio z-scores against Q̄[t_k ± 1] and
   the other kind's Q̄[t_k], and a pooled chi-square; the same statistics reject, as
   negative controls, Q̄[t_k + 1], Q̄[t_k − 1] and the other kind's tables;
3. each row's rate, length, masked and positions against the FASTA and numpy's Q̄;
4. the same bytes at -j1 and -j2.
Every statistic is printed (run pytest with -s to see them).
"""

import csv
import os
import subprocess

import numpy as np
import pytest

from d3pm_reference import K, T, blosum, uniform

PROTMASK = os.environ.get("PROTMASK", "protmask")
ALPHABET = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWYBZXJOU", dtype=np.uint8)
assert ALPHABET.size == K
KINDS = ("uniform", "blosum")
SEED = 21
RECORDS = 16_000
# A statistic passes while |z| < BOUND: a true law exceeds it with probability ~6e-7 per
# test; the off-by-one controls sit near |z| = 11 at this many residues.
BOUND = 5.0
# Letters by index, 0..K-1; anything else is K.
INDEX = np.full(256, K, dtype=np.int64)
INDEX[ALPHABET] = np.arange(K)


def synthetic_fasta(path):
    """Writes the input; returns (sequence bytes concatenated, start of each record)."""
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(20, 481, RECORDS)
    lengths[5] = 0  # an empty sequence
    weights = np.r_[np.ones(20), np.full(K - 20, 0.5)]  # BZXJOU rarer
    seq = rng.choice(ALPHABET, size=lengths.sum(), p=weights / weights.sum())
    starts = np.r_[0, np.cumsum(lengths)]
    rec = np.repeat(np.arange(RECORDS), lengths)
    # Every tenth record (from the fourth) has a fifth of its residues in lowercase; record
    # 6 all of them. Every tenth (from the eighth) has 3% of `*`, `-`, `.` and ends in `*`.
    lower = ((rec % 10 == 3) & (rng.random(seq.size) < 0.2)) | (rec == 6)
    seq[lower] += 32
    special = (rec % 10 == 7) & (rng.random(seq.size) < 0.03)
    seq[special] = rng.choice(np.frombuffer(b"*-.", dtype=np.uint8), size=special.sum())
    ends = starts[1:][7::10] - 1
    seq[ends[lengths[7::10] > 0]] = ord("*")
    raw = seq.tobytes()
    with open(path, "wb") as f:
        for i in range(RECORDS):
            f.write(b">r%d synthetic\n" % i)
            if lengths[i]:
                f.write(raw[starts[i] : starts[i + 1]] + b"\n")
    return seq, starts


def read_fasta(path, starts):
    """The sequences of a one-line-per-sequence FASTA with the input's records, joined."""
    lines = path.read_bytes().split(b"\n")
    seqs, i = [], 0
    for r in range(RECORDS):
        assert lines[i] == b">r%d synthetic" % r, (r, lines[i][:40])
        i += 1
        if starts[r + 1] > starts[r]:
            seqs.append(lines[i])
            i += 1
    assert lines[i:] == [b""]
    return np.frombuffer(b"".join(seqs), dtype=np.uint8)


def read_rates(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == RECORDS
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(RECORDS)]
    assert {r["replicate"] for r in rows} == {"1"}
    t = np.array([float(r["t"]) for r in rows])
    return {
        "t": t,
        "t_k": np.rint(T * (1 - t)).astype(np.int64),
        "rate": np.array([float(r["rate"]) for r in rows]),
        "length": np.array([int(r["length"]) for r in rows]),
        "masked": np.array([int(r["masked"]) for r in rows]),
        "positions": [r["positions"] for r in rows],
    }


def mask(kind, src, out_dir, threads):
    fasta, rates = out_dir / f"{kind}-j{threads}.fa", out_dir / f"{kind}-j{threads}.csv"
    subprocess.run(
        [PROTMASK, "mask", "-q", "--preset", f"evodiff-d3pm-{kind}", "-s", "7",
         "-j", str(threads), "-w", "0", "--positions", "-r", rates, "-o", fasta, src],
        check=True,
    )
    return fasta, rates


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Per kind: the input, protmask's output at -j2 and its rates rows; the paths."""
    tmp = tmp_path_factory.mktemp("d3pm_law")
    src = tmp / "in.fa"
    seq, starts = synthetic_fasta(src)
    out = {}
    for kind in KINDS:
        fasta, rates = mask(kind, src, tmp, 2)
        out[kind] = {"seq": seq, "starts": starts, "new": read_fasta(fasta, starts),
                     "rows": read_rates(rates), "src": src, "tmp": tmp,
                     "fasta": fasta, "rates": rates}
    return out


@pytest.fixture(scope="module")
def tables():
    """Q̄[t] as EvoDiff's code makes it (raw: the rates), and its rows normalised (the law)."""
    raw = {"uniform": uniform(), "blosum": blosum()}
    return raw, {k: q / q.sum(axis=-1, keepdims=True) for k, q in raw.items()}


def wilson_hilferty(x, df):
    """A chi-square statistic with df degrees of freedom as a standard normal z."""
    return ((x / df) ** (1 / 3) - (1 - 2 / (9 * df))) / np.sqrt(2 / (9 * df))


def chi_square_z(observed, expected):
    """Pearson's chi-square of counts against expected counts (one category per cell)."""
    return wilson_hilferty(((observed - expected) ** 2 / expected).sum(), observed.size - 1)


# ---- 1. t ------------------------------------------------------------------------------


def t_uniform_z(t_k):
    counts = np.bincount(t_k, minlength=T)[1:T]
    return chi_square_z(counts, np.full(T - 1, t_k.size / (T - 1)))


@pytest.mark.parametrize("kind", KINDS)
def test_t_uniform_on_1_to_499(runs, kind):
    rows = runs[kind]["rows"]
    t, t_k = rows["t"], rows["t_k"]
    assert ((t_k >= 1) & (t_k <= T - 1)).all(), (t_k.min(), t_k.max())
    assert ((t > 0) & (t < 1)).all()
    # t is written as (500 − t_k)/500, one rounding, read back exactly.
    assert (t == (T - t_k) / T).all()
    z = t_uniform_z(t_k)
    # Negative controls at the same n: iid but only odd t_k (a lost low bit), and t_k
    # stratified (van der Corput with a shift: far too even for iid draws).
    rng = np.random.default_rng(SEED)
    odd = 1 + 2 * rng.integers(0, (T - 1) // 2, t_k.size)
    i = np.arange(t_k.size)
    vdc = np.zeros(t_k.size)
    for bit in range(20):
        vdc += ((i >> bit) & 1) / 2.0 ** (bit + 1)
    stratified = 1 + np.floor((T - 1) * ((vdc + rng.random()) % 1)).astype(np.int64)
    controls = {"odd t_k only": t_uniform_z(odd), "stratified t_k": t_uniform_z(stratified)}
    print(f"\n{kind}: t_k chi-square over 1..499, {t_k.size} records: z = {z:.2f}; controls: "
          + ", ".join(f"{n} z = {v:.1f}" for n, v in controls.items()) + f"; bound |z| < {BOUND}")
    assert abs(z) < BOUND
    for name, zc in controls.items():
        assert abs(zc) >= BOUND, name


# ---- 2. the transition law -------------------------------------------------------------


def transition_counts(run):
    """C[t_k, from, to] over the eligible residues."""
    seq, new, starts = run["seq"], run["new"], run["starts"]
    eligible = INDEX[seq] < K
    t_res = np.repeat(run["rows"]["t_k"], np.diff(starts))[eligible]
    x, y = INDEX[seq[eligible]], INDEX[new[eligible]]
    assert (y < K).all(), "an eligible residue became a letter outside the 26"
    return np.bincount((t_res * K + x) * K + y, minlength=T * K * K).reshape(T, K, K)


def shifted(law, d):
    """law[t + d] for every t (the ends clipped: t + d is 0..499)."""
    return law[np.clip(np.arange(T) + d, 0, T - 1)]


def lr_z(counts, h, a):
    """log L(h) − log L(a) of the counts, standardised by its mean and variance under h (a
    sum over residues of independent terms, each row's given by h's row)."""
    n = counts.sum(axis=-1)
    ratio = np.log(h) - np.log(a)
    mean = (h * ratio).sum(axis=-1)
    var = (h * (ratio - mean[..., None]) ** 2).sum(axis=-1)
    return ((counts * ratio).sum() - (n * mean).sum()) / np.sqrt((n * var).sum())


def pooled_chi_square_z(counts, h, width=25):
    """Pearson's chi-square of the counts against h, t_k in buckets of `width` (expected
    counts summed per record's t_k), per (bucket, from) row the cells expected below 5
    pooled into one (folded into the row's largest cell if that is below 5 too)."""
    n = counts.sum(axis=-1, keepdims=True)
    obs = counts.reshape(T // width, width, K, K).sum(axis=1).astype(float)
    exp = (n * h).reshape(T // width, width, K, K).sum(axis=1)
    obs, exp = obs.reshape(-1, K), exp.reshape(-1, K)
    live = exp.sum(axis=1) > 0
    obs, exp = obs[live], exp[live]
    low = exp < 5
    pool_obs, pool_exp = (obs * low).sum(axis=1), (exp * low).sum(axis=1)
    obs, exp = np.where(low, 0, obs), np.where(low, 0, exp)
    fold = pool_exp < 5
    rows = np.flatnonzero(fold)
    big = exp[rows].argmax(axis=1)
    obs[rows, big] += pool_obs[rows]
    exp[rows, big] += pool_exp[rows]
    keep = exp > 0
    x = ((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum()
    pool = ~fold
    x += ((pool_obs[pool] - pool_exp[pool]) ** 2 / pool_exp[pool]).sum()
    df = keep.sum() + pool.sum() - len(obs)
    return wilson_hilferty(x, df)


def law_statistics(counts, laws, kind, d, relabel=None):
    """For the candidate law `kind`'s Q̄[t_k + d] (its letters permuted by `relabel`): the
    likelihood-ratio z against its neighbours in t and against the other kind's at the
    same t, and the pooled chi-square z."""
    other = "blosum" if kind == "uniform" else "uniform"
    if relabel is not None:
        laws = {**laws, kind: laws[kind][:, relabel][:, :, relabel]}
    h = shifted(laws[kind], d)
    return {
        "LR vs t-1": lr_z(counts, h, shifted(laws[kind], d - 1)),
        "LR vs t+1": lr_z(counts, h, shifted(laws[kind], d + 1)),
        f"LR vs {other}": lr_z(counts, h, shifted(laws[other], d)),
        "chi2 pooled": pooled_chi_square_z(counts, h),
    }


def passes(stats):
    return all(abs(z) < BOUND for z in stats.values())


@pytest.mark.parametrize("kind", KINDS)
def test_transitions_follow_q_bar_t(runs, tables, kind):
    _, laws = tables
    counts = transition_counts(runs[kind])
    other = "blosum" if kind == "uniform" else "uniform"
    candidates = {
        "Q̄[t_k] (the law)": (kind, 0),
        "Q̄[t_k + 1]": (kind, 1),
        "Q̄[t_k - 1]": (kind, -1),
        f"{other}'s Q̄[t_k]": (other, 0),
    }
    if kind == "blosum":
        # A letter-order slip between the tables and the alphabet: D and E (similar
        # letters, +2 in BLOSUM62) swapped. The uniform law is the same under any swap.
        swap = np.arange(K)
        d, e = INDEX[ord("D")], INDEX[ord("E")]
        swap[d], swap[e] = e, d
        candidates["Q̄[t_k], D and E swapped"] = (kind, 0, swap)
    stats = {name: law_statistics(counts, laws, *c) for name, c in candidates.items()}
    print(f"\n{kind}: {counts.sum()} residues; z-scores, bound |z| < {BOUND}")
    for name, s in stats.items():
        print(f"  {name:26} " + "  ".join(f"{n} {z:9.2f}" for n, z in s.items()))
    truth, *controls = stats
    assert passes(stats[truth]), stats[truth]
    for name in controls:
        assert not passes(stats[name]), f"{name} passes: {stats[name]}"


# ---- 3. the rates rows against the FASTA -----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_rows_agree_with_fasta_and_q_bar(runs, tables, kind):
    raw, _ = tables
    run = runs[kind]
    seq, new, starts, rows = run["seq"], run["new"], run["starts"], run["rows"]
    assert np.isin(ALPHABET, seq).all(), "the input lacks a letter"
    assert new.size == seq.size
    eligible = INDEX[seq] < K
    rec = np.repeat(np.arange(RECORDS), np.diff(starts))
    # Only the 26 uppercase letters change, and into one of them.
    changed = np.flatnonzero(new != seq)
    assert eligible[changed].all()
    assert (INDEX[new[changed]] < K).all()
    assert (new[~eligible] == seq[~eligible]).all()
    assert (~eligible).sum() > 50_000  # lowercase letters, `*`, `-`, `.`
    length = np.bincount(rec[eligible], minlength=RECORDS)
    assert (rows["length"] == length).all()
    assert length[5] == 0 and length[6] == 0
    # masked and positions: the changed positions, per record, ascending.
    per_record = np.bincount(rec[changed], minlength=RECORDS)
    assert (rows["masked"] == per_record).all()
    listed = [p for p in rows["positions"] if p]
    positions = np.array(";".join(listed).split(";") if listed else [], dtype=np.int64)
    assert [len(p.split(";")) if p else 0 for p in rows["positions"]] == list(per_record)
    assert (positions == changed - starts[rec[changed]]).all()
    # rate: the mean over eligible residues of 1 − Q̄[t_k][x][x] (0 for no residue).
    x = INDEX[seq[eligible]]
    t_res = rows["t_k"][rec[eligible]]
    change = np.bincount(rec[eligible], weights=1 - raw[kind][t_res, x, x], minlength=RECORDS)
    expected = np.divide(change, length, out=np.zeros(RECORDS), where=length > 0)
    worst = np.abs(rows["rate"] - expected).max()
    print(f"\n{kind}: rate vs numpy's mean of 1 − Q̄[t_k][x][x]: max difference {worst:.1e}")
    assert worst <= 1e-12


# ---- 4. determinism --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_same_bytes_at_j1_and_j2(runs, kind):
    run = runs[kind]
    fasta, rates = mask(kind, run["src"], run["tmp"], 1)
    assert fasta.read_bytes() == run["fasta"].read_bytes()
    assert rates.read_bytes() == run["rates"].read_bytes()
