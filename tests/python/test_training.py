"""The training recipe of docs/ml.md, run with the real clients (issue 22, point 6): a token
dataset made by the binary (`PROTMASK`), batched by transformers' collators without torch
(`return_tensors="np"`), and the rows where nothing is selected.

- `DataCollatorForTokenClassification` pads `input_ids` with `<pad>` (1), `labels` with
  -100 and sets `attention_mask`: the batch equals each row padded by hand.
- `DataCollatorWithPadding` pads `input_ids` only and leaves `labels` ragged (an object
  array), which is why docs/ml.md names the first one.
- A row with no label (every value -100) makes a mean cross-entropy over no positions, NaN:
  such rows exist for short records at low rates without `--min-masked`, and none with
  `--min-masked 1`.
"""

import os
import pathlib
import random
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "NC_000932.faa"
PROTMASK = os.environ.get("PROTMASK", "protmask")
ESM_VOCAB = (
    "<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - "
    "<null_1> <mask>"
).split()
PAD, IGNORE = 1, -100

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def run(*args):
    return subprocess.run([PROTMASK, *map(str, args)], capture_output=True, text=True, check=True)


def tokenizer(tmp):
    from transformers import EsmTokenizer

    vocab = tmp / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    return EsmTokenizer(vocab_file=str(vocab))


def token_dataset(tmp, fasta, *flags):
    import datasets

    path = tmp / "train.parquet"
    run("mask", fasta, "-q", "--tokens", "esm", "--dataset", path, *flags)
    return datasets.load_dataset("parquet", data_files=str(path), split="train")


def test_token_classification_collator_pads_ids_and_labels(tmp_path):
    from transformers import DataCollatorForTokenClassification

    ds = token_dataset(tmp_path, DATA, "--preset", "esm2", "--max-length", "300")
    rows = [ds[i] for i in range(8)]
    lengths = [len(r["input_ids"]) for r in rows]
    assert len(set(lengths)) > 1, "the batch must need padding to test it"
    assert max(lengths) <= 302  # <cls> + 300 residues + <eos>

    collate = DataCollatorForTokenClassification(tokenizer(tmp_path), return_tensors="np")
    batch = collate([{k: r[k] for k in ("input_ids", "labels")} for r in rows])
    width = max(lengths)
    for key in ("input_ids", "attention_mask", "labels"):
        assert batch[key].shape == (len(rows), width), key
        assert batch[key].dtype == np.int64, key  # EsmForMaskedLM's loss needs int64 labels
    for i, r in enumerate(rows):
        n = lengths[i]
        pad = width - n
        assert batch["input_ids"][i].tolist() == r["input_ids"] + [PAD] * pad
        assert batch["labels"][i].tolist() == r["labels"] + [IGNORE] * pad
        assert batch["attention_mask"][i].tolist() == [1] * n + [0] * pad


def test_padding_collator_leaves_labels_ragged(tmp_path):
    from transformers import DataCollatorWithPadding

    ds = token_dataset(tmp_path, DATA, "--preset", "esm2", "--max-length", "300")
    rows = [{k: ds[i][k] for k in ("input_ids", "labels")} for i in range(8)]
    assert len({len(r["labels"]) for r in rows}) > 1
    batch = DataCollatorWithPadding(tokenizer(tmp_path), return_tensors="np")(rows)
    assert batch["input_ids"].shape == (8, max(len(r["input_ids"]) for r in rows))
    # The labels are not padded: not a 2-D integer array a loss could take.
    assert batch["labels"].shape != batch["input_ids"].shape


def short_records(path, n=2000, length=12, seed=3):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            f.write(f">s{i}\n{''.join(rng.choice('ACDEFGHIKLMNPQRSTVWY') for _ in range(length))}\n")
    return path


@pytest.mark.parametrize("preset", ["esm3", "esm2"])
def test_min_masked_leaves_no_row_without_a_label(tmp_path, preset):
    fasta = short_records(tmp_path / "short.fa")
    ds = token_dataset(tmp_path, fasta, "--preset", preset)
    empty = sum(all(x == IGNORE for x in r) for r in ds["labels"])
    # esm2 at 15% selects k = int(0.15 * 12 + U) of 12: 1 or 2, never 0; esm3's rates reach 0.
    if preset == "esm3":
        assert empty > 50, empty
    else:
        assert empty == 0
    (tmp_path / "train.parquet").unlink()
    raised = token_dataset(tmp_path, fasta, "--preset", preset, "--min-masked", "1")
    assert sum(all(x == IGNORE for x in r) for r in raised["labels"]) == 0
    # Only the rows that had none change: the others keep their labels.
    same = sum(a == b for a, b in zip(ds["labels"], raised["labels"]))
    assert same == len(ds) - empty
