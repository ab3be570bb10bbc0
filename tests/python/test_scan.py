"""`protmask scan` (issue 23) read by the clients ML code uses: Hugging Face `datasets`,
pyarrow, polars and transformers' EsmTokenizer, on data/ and on a DMS file made by
tools/make_dms.py (synthetic, not assay data). Runs the real binary (`PROTMASK`, else
`protmask` on PATH).

No model weights exist here, so the pipeline is tested up to the model call (the
tokenizer's ids are the dataset's), and the scoring formulas are run against a
deterministic STAND-IN SCORER (`stand_in_log_probs`: a fixed function of the token ids, not
a language model) so that their arithmetic is tested: the kit's masked-marginal scores and
pseudo-perplexity equal a direct computation written apart from protmask (ProteinGym's
window rule and label_row transcribed), and differ from ProteinGym's `compute_pppl`
off-by-one (the negative control).
"""

import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "NC_000932.faa"
OKT3 = ROOT / "data" / "okt3_vh.faa"
LONG = "gi|7525076|ref|NP_051101.1|"  # 2,294 residues: windows of 1,022 matter
PROTMASK = os.environ.get("PROTMASK", "protmask")
ESM_VOCAB = (
    "<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - "
    "<null_1> <mask>"
).split()

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def run(*args):
    return subprocess.run([PROTMASK, *map(str, args)], capture_output=True, text=True, check=True)


def read_fasta(path):
    """{id: sequence}."""
    out, name = {}, None
    for line in open(path):
        line = line.strip()
        if line.startswith(">"):
            name = line[1:].split()[0]
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out


def tokenizer(tmp):
    from transformers import EsmTokenizer

    vocab = tmp / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    return EsmTokenizer(vocab_file=str(vocab))


def stand_in_log_probs(input_ids):
    """STAND-IN SCORER, not a model: log-softmax over the 33 ids of logits that are a fixed
    function of the whole input (its ids and each token's index), so that a score read at
    the wrong token, from the wrong row or with the wrong window differs."""
    ids = np.asarray(input_ids, dtype=np.float64)
    n = len(ids)
    context = float(np.sum(ids * np.arange(1, n + 1)) % 9973)
    i = np.arange(n, dtype=np.float64)[:, None]
    v = np.arange(33, dtype=np.float64)[None, :]
    logits = np.sin(0.37 * i + 0.11 * v * (1 + ids[:, None] % 7) + 0.001 * context) * 3
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def proteingym_window(pos, length, window):
    """ProteinGym's get_optimal_window, transcribed (residue coordinates)."""
    half = window // 2
    if length <= window:
        return 0, length
    if pos < half:
        return 0, window
    if pos >= length - half:
        return length - window, length
    return max(0, pos - half), min(length, pos + half)


def make_dms(tmp, record=LONG, *flags):
    out = tmp / "dms.csv"
    with open(out, "w") as f:
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "make_dms.py"), str(DATA), record, *flags],
            stdout=f, check=True, capture_output=False, stderr=subprocess.DEVNULL,
        )
    return out


def variants_set(tmp, mode="marginal"):
    dms = make_dms(tmp)
    run("scan", "-q", "--preset", "esm2", "--variants", dms, "--reference", DATA,
        "--reference-id", LONG, "--variants-mode", mode, "--max-length", 1022,
        "--variants-table", tmp / "vt.parquet", "--dataset", tmp / "mm.parquet",
        "--tokens", "esm")
    return dms, tmp / "vt.parquet", tmp / "mm.parquet"


def test_variants_dataset_and_table_load_and_agree(tmp_path):
    import datasets
    import polars as pl
    import pyarrow.parquet as pq

    dms, vt, mm = variants_set(tmp_path)
    cache = tmp_path / "hf"
    rows = datasets.load_dataset("parquet", data_files=str(mm), split="train", cache_dir=str(cache))
    table = pq.read_table(vt).to_pylist()
    import pyarrow as pa

    schema = pq.read_schema(vt)
    assert schema.field("DMS_score").type == pa.float64()
    assert schema.field("DMS_score_bin").type == pa.int64()
    for column in ("rows", "wt_ids", "mt_ids"):
        assert schema.field(column).type.value_type == pa.int32()
    assert schema.field("mutations").type.value_type == pa.string()
    source = pl.read_csv(dms)
    assert [t["mutant"] for t in table] == source["mutant"].to_list()
    assert all(t["source"].startswith("synthetic") for t in table)
    reference = read_fasta(DATA)[LONG]
    for t in table:
        for text, row, wt, mt in zip(t["mutations"], t["rows"], t["wt_ids"], t["mt_ids"]):
            pos = int(text[1:-1]) - 1
            r = rows[row]
            start = r["crop_start"]
            assert r["positions"] == [pos - start]
            assert r["sequence"] == reference[start:start + len(r["sequence"])]
            assert (start, start + len(r["sequence"])) == proteingym_window(pos, len(reference), 1022)
            tok = pos - start + 1
            assert r["input_ids"][tok] == 32 and r["labels"][tok] == wt
            assert ESM_VOCAB[wt] == text[0] and ESM_VOCAB[mt] == text[-1]
    print(f"{len(table)} mutants, {len(rows)} rows, every mutation's row checked")


def test_pipeline_up_to_the_model_call_with_esm_tokenizer(tmp_path):
    tok = tokenizer(tmp_path)
    import pyarrow.parquet as pq

    _, _, mm = variants_set(tmp_path)
    rows = pq.read_table(mm).to_pylist()
    batch = tok([r["masked_sequence"] for r in rows], padding=True, return_tensors="np")
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        assert batch["input_ids"][i][:n].tolist() == r["input_ids"]
        assert batch["attention_mask"][i].sum() == n
        assert n <= 1024  # a window of 1,022 residues and <cls>, <eos>: what ESM-2 takes
    # What an EsmForMaskedLM would take: input_ids, attention_mask (labels for a loss).
    assert batch["input_ids"].shape[0] == len(rows)


def kit_scores(vt_rows, dataset_rows, log_probs):
    """The docs' few lines (docs/evaluation-kits.md): one model call per scan row, then per
    mutant the sum over its mutations of logp[row][mt] - logp[row][wt] at the mutated
    position's token."""
    lp = [log_probs(r["input_ids"]) for r in dataset_rows]
    scores = []
    for t in vt_rows:
        s = 0.0
        for text, row, wt, mt in zip(t["mutations"], t["rows"], t["wt_ids"], t["mt_ids"]):
            tok = int(text[1:-1]) - 1 - dataset_rows[row]["crop_start"] + 1
            s += lp[row][tok][mt] - lp[row][tok][wt]
        scores.append(s)
    return scores


def direct_scores(dms_rows, reference, tok, log_probs, window=1022, token_offset=1):
    """Masked marginals computed apart from protmask: for each mutation, the reference
    windowed by ProteinGym's rule, that position masked, tokenized by EsmTokenizer, scored;
    `token_offset` 1 reads the mutated residue's token (0 is the off-by-one)."""
    scores = []
    for mutant in dms_rows:
        s = 0.0
        for m in mutant.split(":"):
            wt, pos, mt = m[0], int(m[1:-1]) - 1, m[-1]
            assert reference[pos] == wt
            a, b = proteingym_window(pos, len(reference), window)
            masked = reference[a:pos] + "<mask>" + reference[pos + 1:b]
            ids = tok(masked)["input_ids"]
            lp = log_probs(ids)
            t = pos - a + token_offset
            s += lp[t][tok.convert_tokens_to_ids(mt)] - lp[t][tok.convert_tokens_to_ids(wt)]
        scores.append(s)
    return scores


@pytest.mark.parametrize("mode", ["marginal", "joint"])
def test_masked_marginal_scores_on_a_stand_in_scorer_equal_a_direct_computation(tmp_path, mode):
    import polars as pl
    import pyarrow.parquet as pq

    tok = tokenizer(tmp_path)
    dms, vt, mm = variants_set(tmp_path, mode)
    vt_rows = pq.read_table(vt).to_pylist()
    rows = pq.read_table(mm).to_pylist()
    kit = kit_scores(vt_rows, rows, stand_in_log_probs)
    mutants = pl.read_csv(dms)["mutant"].to_list()
    reference = read_fasta(DATA)[LONG]
    if mode == "marginal":
        direct = direct_scores(mutants, reference, tok, stand_in_log_probs)
        assert np.allclose(kit, direct, rtol=0, atol=1e-12), max(abs(np.subtract(kit, direct)))
        # Negative control: the same computation one token off does not agree.
        off = direct_scores(mutants, reference, tok, stand_in_log_probs, token_offset=0)
        assert not np.allclose(kit, off, atol=1e-3)
        print(f"marginal: {len(kit)} mutants, max |kit - direct| "
              f"{max(abs(np.subtract(kit, direct))):.1e}, off-by-one differs by up to "
              f"{max(abs(np.subtract(kit, off))):.2f}")
    else:
        # Joint: each mutant's positions masked together in one window at their midpoint.
        direct = []
        for mutant in mutants:
            muts = [(m[0], int(m[1:-1]) - 1, m[-1]) for m in mutant.split(":")]
            ps = sorted(p for _, p, _ in muts)
            a, b = proteingym_window((ps[0] + ps[-1]) // 2, len(reference), 1022)
            seq = list(reference[a:b])
            for _, p, _ in muts:
                seq[p - a] = "<mask>"
            lp = stand_in_log_probs(tok("".join(seq))["input_ids"])
            direct.append(sum(
                lp[p - a + 1][tok.convert_tokens_to_ids(mt)] - lp[p - a + 1][tok.convert_tokens_to_ids(wt)]
                for wt, p, mt in muts))
        assert np.allclose(kit, direct, rtol=0, atol=1e-12)
        singles = [i for i, m in enumerate(mutants) if ":" not in m]
        multis = [i for i, m in enumerate(mutants) if ":" in m]
        assert singles and multis
        # Joint and marginal agree on singles and not on multi-mutants (another context).
        marginal = direct_scores(mutants, reference, tok, stand_in_log_probs)
        assert np.allclose([kit[i] for i in singles], [marginal[i] for i in singles], atol=1e-12)
        assert not np.allclose([kit[i] for i in multis], [marginal[i] for i in multis], atol=1e-3)


def test_pseudo_perplexity_on_a_stand_in_scorer_and_proteingyms_off_by_one(tmp_path):
    import pyarrow.parquet as pq

    tok = tokenizer(tmp_path)
    run("scan", "-q", "--preset", "esm2", OKT3, "--dataset", tmp_path / "pppl.parquet",
        "--tokens", "esm")
    rows = pq.read_table(tmp_path / "pppl.parquet").to_pylist()
    seq = read_fasta(OKT3)["OKT3_VH"]
    assert len(rows) == len(seq)
    # The kit: one row per position; log p of the true residue at the masked token.
    total = 0.0
    for r in rows:
        lp = stand_in_log_probs(r["input_ids"])
        t = r["positions"][0] + 1
        total += lp[t][r["labels"][t]]
    kit = math.exp(-total / len(rows))
    # Direct: mask each position of the sequence in turn.
    direct_total = 0.0
    for i in range(len(seq)):
        ids = tok(seq[:i] + "<mask>" + seq[i + 1:])["input_ids"]
        direct_total += stand_in_log_probs(ids)[i + 1][tok.convert_tokens_to_ids(seq[i])]
    direct = math.exp(-direct_total / len(seq))
    assert math.isclose(kit, direct, rel_tol=1e-12)
    # ProteinGym's compute_pppl: token positions 1..len-2 masked, the probability of
    # sequence[i] read at token i (which holds residue i - 1); the last two residues never
    # masked. A different number: the negative control.
    pg_total = 0.0
    ids = tok(seq)["input_ids"]
    for i in range(1, len(seq) - 1):
        masked = list(ids)
        masked[i] = 32
        pg_total += stand_in_log_probs(masked)[i][tok.convert_tokens_to_ids(seq[i])]
    proteingym = math.exp(-pg_total / (len(seq) - 2))
    assert not math.isclose(kit, proteingym, rel_tol=1e-3)
    print(f"pseudo-perplexity (stand-in scorer): kit {kit:.6f} = direct {direct:.6f}; "
          f"ProteinGym's compute_pppl reading {proteingym:.6f}")
