"""`protmask mask --dataset DIR/` (issue 22, item 3) read by the clients ML code uses: the
dataset card's YAML header parses and its features are exactly the types pyarrow reads
from the shards; `load_dataset(DIR)` and `load_dataset("parquet", data_dir=DIR)` return
the `train` split with the card's types and every row in order (and fail when the card's
row count is wrong, so the count is checked); polars and DuckDB read the shards by glob; a
shard changed by pyarrow (metadata kept) fails `verify`. Runs the real binary
(`PROTMASK`, else `protmask` on PATH), offline.
"""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "NC_000932.faa"
PROTMASK = os.environ.get("PROTMASK", "protmask")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def run(*args, check=True):
    return subprocess.run([PROTMASK, *map(str, args)], capture_output=True, text=True, check=check)


def card_header(folder):
    """The YAML header of DIR/README.md, parsed."""
    import yaml

    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    header = text[4 : text.index("\n---\n", 4)]
    return yaml.safe_load(header)


def shards(folder):
    return sorted((folder / "data").glob("*.parquet"))


# Without tokens; with ESM ids; with ids and the crop columns (int64), 3 replicates.
VARIANTS = {
    "plain": ["--shard-rows", "30"],
    "tokens": ["--shard-rows", "40", "--tokens", "esm"],
    "crop": ["--shard-rows", "100", "--tokens", "evodiff", "--max-length", "500", "--replicates", "3"],
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def folder(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    out = tmp / "set"
    run("mask", DATA, "-q", "--dataset", f"{out}/", *VARIANTS[request.param])
    return out


def test_card_features_are_the_shards_types(folder):
    import datasets
    import pyarrow.parquet as pq

    header = card_header(folder)
    assert header["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
    ]
    files = shards(folder)
    n = len(files)
    assert [f.name for f in files] == [f"train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    card = datasets.Features._from_yaml_list(header["dataset_info"]["features"])
    for f in files:
        assert datasets.Features.from_arrow_schema(pq.read_schema(f)) == card
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    assert header["dataset_info"]["splits"] == [{"name": "train", "num_examples": rows}]
    # Negative control: a card with one type changed is not what the shards hold.
    changed = [dict(f) for f in header["dataset_info"]["features"]]
    changed[2]["dtype"] = "int64"  # replicate
    assert datasets.Features._from_yaml_list(changed) != card


def test_load_dataset_returns_the_split_with_the_cards_types(folder, tmp_path):
    import datasets
    import pyarrow.parquet as pq

    header = card_header(folder)
    card = datasets.Features._from_yaml_list(header["dataset_info"]["features"])
    want = [row for f in shards(folder) for row in pq.read_table(f).to_pylist()]
    assert len(want) == header["dataset_info"]["splits"][0]["num_examples"]
    got = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "a"))
    assert list(got) == ["train"]
    assert got["train"].features == card
    assert got["train"].num_rows == len(want)
    assert got["train"].to_list() == want
    by_dir = datasets.load_dataset("parquet", data_dir=str(folder), cache_dir=str(tmp_path / "b"))
    assert list(by_dir) == ["train"]
    assert by_dir["train"]["id"] == [r["id"] for r in want]


def test_load_dataset_checks_the_cards_row_count(tmp_path):
    """Negative control: the card's num_examples is checked, so a wrong one fails."""
    import datasets

    out = tmp_path / "set"
    run("mask", DATA, "-q", "--dataset", f"{out}/", "--shard-rows", "50")
    ok = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "ok"))
    assert ok["train"].num_rows == 85
    card = (out / "README.md").read_text()
    (out / "README.md").write_text(card.replace("num_examples: 85", "num_examples: 84"))
    with pytest.raises(Exception, match="NonMatchingSplitsSizes|expected|recorded"):
        datasets.load_dataset(str(out), cache_dir=str(tmp_path / "bad"))


def test_polars_and_duckdb_read_the_shards_by_glob(folder):
    import duckdb
    import polars as pl
    import pyarrow.parquet as pq

    total = sum(pq.read_metadata(f).num_rows for f in shards(folder))
    glob = str(folder / "data" / "*.parquet")
    assert pl.scan_parquet(glob).select(pl.len()).collect().item() == total
    assert duckdb.sql(f"SELECT count(*) FROM '{glob}'").fetchall() == [(total,)]


def test_a_shard_changed_by_pyarrow_fails_verify(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "set"
    run("mask", DATA, "-q", "--dataset", f"{out}/", "--shard-rows", "30")
    assert run("verify", DATA, f"{out}/", check=False).returncode == 0
    shard = shards(out)[1]
    table = pq.read_table(shard)
    assert b"protmask.options" in table.schema.metadata
    masked = table.column("masked_sequence").to_pylist()
    # Row 4 of the second shard (row 34 of the folder): a masked position shown unmasked.
    i = masked[3].index("_")
    original = table.column("sequence").to_pylist()[3]
    masked[3] = masked[3][:i] + original[i] + masked[3][i + 1 :]
    changed = table.set_column(
        table.schema.get_field_index("masked_sequence"), "masked_sequence", pa.array(masked)
    )
    pq.write_table(changed.replace_schema_metadata(table.schema.metadata), shard)
    res = run("verify", DATA, f"{out}/", check=False)
    assert res.returncode == 1, res.stderr
    assert "row 34" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_load_dataset_returns_every_split_disjoint_by_id_and_cluster(tmp_path):
    """`--split` with `--split-groups` into a folder: `load_dataset(DIR)` gives every split
    with the card's types and row counts; no ID and no cluster is in two splits."""
    import random

    import datasets

    rng = random.Random(22)
    ids = [f"P{i:05d}" for i in range(3000)]
    with open(tmp_path / "in.fa", "w") as f:
        for i in ids:
            f.write(f">{i}\n{''.join(rng.choice('ACDEFGHIKLMNPQRSTVWY') for _ in range(40))}\n")
    # Clusters of 1 to 6 consecutive IDs (the last 100 IDs in no line: their own groups).
    cluster_of, k = {}, 0
    with open(tmp_path / "clu.tsv", "w") as f:
        while k < len(ids) - 100:
            size = rng.randint(1, 6)
            rep = ids[k]
            for m in ids[k : min(k + size, len(ids) - 100)]:
                f.write(f"{rep}\t{m}\n")
                cluster_of[m] = rep
            k += size
    out = tmp_path / "set"
    run("mask", tmp_path / "in.fa", "-q", "--tokens", "esm", "--shard-rows", "700",
        "--split", "train=0.8,validation=0.1,test=0.1", "--split-groups", tmp_path / "clu.tsv",
        "--dataset", f"{out}/")
    header = card_header(out)
    counts = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert sorted(counts) == ["test", "train", "validation"]
    assert sum(counts.values()) == len(ids)
    loaded = datasets.load_dataset(str(out))
    assert sorted(loaded) == ["test", "train", "validation"]
    card_features = datasets.Features._from_yaml_list(header["dataset_info"]["features"])
    seen = {}
    for name, split in loaded.items():
        assert split.features == card_features, name
        assert split.num_rows == counts[name]
        assert set(split["split"]) == {name}
        for i in split["id"]:
            assert i not in seen, f"{i} in {seen.get(i)} and {name}"
            seen[i] = name
    assert len(seen) == len(ids)
    by_cluster = {}
    for i, name in seen.items():
        by_cluster.setdefault(cluster_of.get(i, i), set()).add(name)
    assert all(len(s) == 1 for s in by_cluster.values())
    # Negative control: split by ID alone (no groups), clusters straddle splits.
    alone = tmp_path / "alone"
    run("mask", tmp_path / "in.fa", "-q", "--split", "train=0.8,validation=0.1,test=0.1",
        "--dataset", f"{alone}/")
    loose = datasets.load_dataset(str(alone))
    where = {i: name for name, s in loose.items() for i in s["id"]}
    straddling = {}
    for i, name in where.items():
        straddling.setdefault(cluster_of.get(i, i), set()).add(name)
    assert sum(len(s) > 1 for s in straddling.values()) > 50
    assert run("verify", tmp_path / "in.fa", f"{out}/").returncode == 0


def test_a_split_without_records_has_no_shard_and_loads(tmp_path):
    """A split no record fell in gets no shard and is not in the card, so `load_dataset`
    loads the others (it refuses a split without data); verify still passes."""
    import datasets

    out = tmp_path / "set"
    r = run("mask", DATA, "--split", "train=0.9999,rare=0.0001", "--dataset", f"{out}/")
    assert "rare 0" in r.stderr, r.stderr
    assert [p.name for p in shards(out)] == ["train-00000-of-00001.parquet"]
    header = card_header(out)
    assert [s["split"] for s in header["configs"][0]["data_files"]] == ["train"]
    assert list(datasets.load_dataset(str(out))) == ["train"]
    assert run("verify", DATA, f"{out}/").returncode == 0
