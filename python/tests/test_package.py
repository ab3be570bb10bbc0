"""The Python package against the real binary: every field, every preset.

Run after `pip install ./python`, with PROTMASK naming the CLI (else `protmask` on PATH):
    PROTMASK=target/release/protmask pytest python/tests/test_package.py
"""

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import protmask

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "NC_000932.faa"
PRESETS = ["esm3", "esm2", "dplm", "evodiff", "mdlm"]


def binary():
    exe = os.environ.get("PROTMASK") or shutil.which("protmask")
    if not exe:
        pytest.fail("set PROTMASK to the protmask binary (or put it on PATH)")
    return exe


def run(args, check=True):
    p = subprocess.run([binary(), *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"protmask {args} failed: {p.stderr}")
    return p


@pytest.fixture(scope="session")
def odd_fasta(tmp_path_factory):
    """Empty sequences, lowercase, X/U/O/B/Z and gap characters, very long IDs, a long
    record, one residue, a duplicate ID, descriptions."""
    rng = np.random.default_rng(7)
    aa = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)
    recs = [
        ("empty1", "an empty sequence", ""),
        ("lower", "", "acdefghiklmnpqrstvwy" * 3),
        ("mixedCase", "desc", "AcDeFgHiKlMnPqRsTvWy" * 2),
        ("xuo", "X U O B Z", "XXUUOOBBZZ" + "MKV" * 10 + "xuo"),
        ("gaps", "", "MK-V.L*" * 5),
        ("L" * 5000, "a very long ID", "MKTAYIAKQR" * 4),
        ("I" + "d" * 20000, "", "ACD"),
        ("one", "", "M"),
        ("two", "", "MK"),
        ("long", "30,000 residues", bytes(rng.choice(aa, 30000)).decode()),
        ("empty2", "", ""),
        ("dup", "first", "MKVLAAGIVG"),
        ("dup", "second, same ID", "MKVLAAGIVGAAA"),
    ]
    for i in range(60):
        n = int(rng.integers(0, 400))
        recs.append((f"r{i}|x", f"random {i}", bytes(rng.choice(aa, n)).decode()))
    path = tmp_path_factory.mktemp("odd") / "odd.faa"
    with open(path, "w") as f:
        for rid, desc, seq in recs:
            f.write(f">{rid} {desc}\n" if desc else f">{rid}\n")
            for i in range(0, len(seq), 61):
                f.write(seq[i : i + 61] + "\n")
    return path


def cli_rows(tmp_path, fasta, flags, replicates=1, tokens=False):
    """The CLI's dataset rows, each with its rates-table row's t and rate as printed."""
    ds = tmp_path / "out.parquet"
    rates = tmp_path / "rates.csv"
    extra = ["--tokens", "esm"] if tokens else []
    run(["mask", fasta, "-q", "--replicates", replicates, "--dataset", ds, "-r", rates,
         "-o", tmp_path / "out.fa", *extra, *flags])
    rows = pq.read_table(ds).to_pylist()
    table = [line.split(",") for line in rates.read_text().splitlines()[1:]]
    assert len(table) == len(rows)
    for row, line in zip(rows, table):
        row["t_text"], row["rate_text"] = line[4], line[5]
    return rows


def assert_same(m, row, tokens=False):
    assert m.masked == row["masked_sequence"], row["id"]
    assert m.positions.dtype == np.int32
    assert m.positions.tolist() == row["positions"]
    assert m.count == row["masked"] and m.length == row["length"]
    # Bit-identical floats, and the table's text reads back as them.
    assert m.t == row["t"] and m.rate == row["rate"]
    assert m.t == float(row["t_text"]) and m.rate == float(row["rate_text"])
    if tokens:
        assert m.input_ids.dtype == np.int32 and m.labels.dtype == np.int32
        assert m.input_ids.tolist() == row["input_ids"]
        assert m.labels.tolist() == row["labels"]
    else:
        assert m.input_ids is None and m.labels is None


def by_replicate(rows, k):
    return [r for r in rows if r["replicate"] == k]


CASES = [(p, None) for p in PRESETS] + [("mdlm", "iid")]


@pytest.mark.parametrize("replicates", [1, 3])
@pytest.mark.parametrize("preset,timesteps", CASES)
@pytest.mark.parametrize("which", ["data", "odd"])
def test_parity_with_the_binary(tmp_path, odd_fasta, which, preset, timesteps, replicates):
    fasta = DATA if which == "data" else odd_fasta
    flags = ["--preset", preset] + (["--timesteps", timesteps] if timesteps else [])
    rows = cli_rows(tmp_path, fasta, flags, replicates)
    m = protmask.Masker(preset=preset, timesteps=timesteps)
    stratified = preset == "mdlm" and timesteps is None
    for k in range(1, replicates + 1):
        rk = by_replicate(rows, k)
        ids = [r["id"] for r in rk]
        seqs = [r["sequence"] for r in rk]
        # The whole file as one batch: equal to the CLI, stratified or not.
        for got, row in zip(m.mask_many(ids, seqs, replicate=k), rk, strict=True):
            assert_same(got, row)
        if stratified:
            with pytest.raises(ValueError, match="stratified"):
                m.mask(ids[0], seqs[0], replicate=k)
        else:
            for row in rk:
                assert_same(m.mask(row["id"], row["sequence"], replicate=k), row)


@pytest.mark.parametrize("preset", PRESETS)
def test_tokens_equal_the_dataset_tokens(tmp_path, odd_fasta, preset):
    rows = cli_rows(tmp_path, odd_fasta, ["--preset", preset], replicates=2, tokens=True)
    m = protmask.Masker(preset=preset, tokens="esm")
    for k in (1, 2):
        rk = by_replicate(rows, k)
        got = m.mask_many([r["id"] for r in rk], [r["sequence"] for r in rk], replicate=k)
        for g, row in zip(got, rk, strict=True):
            assert_same(g, row, tokens=True)


def test_explicit_options_equal_the_cli(tmp_path):
    flags = ["--preset", "esm2", "--schedule", "0.5*cosine + 0.5*beta(2,6)", "--mode",
             "bernoulli", "--mask-token", "<mask>", "--corrupt", "0.7,0.2,0.1",
             "--maskable", "ACDEFGHIKLMNPQRSTVWY", "--seed", "123456789012345"]
    rows = cli_rows(tmp_path, DATA, flags, tokens=True)
    m = protmask.Masker(preset="esm2", seed=123456789012345,
                        schedule="0.5*cosine + 0.5*beta(2,6)", mode="bernoulli",
                        mask_token="<mask>", corrupt=(0.7, 0.2, 0.1),
                        maskable="ACDEFGHIKLMNPQRSTVWY", tokens="esm")
    for row in rows:
        assert_same(m.mask(row["id"], row["sequence"]), row, tokens=True)


def cli_message(flags):
    """The CLI's error for these flags: the first paragraph, on one line, no 'error: '."""
    p = run(["mask", "-q", "--dataset", "/nonexistent/x.parquet", *flags, DATA], check=False)
    assert p.returncode == 2, p.stderr
    text = p.stderr.removeprefix("error: ").split("\n\n")[0]
    return " ".join(text.split())


BAD = [
    (dict(schedule="foo"), "--schedule=foo"),
    (dict(schedule="0.5*cosine+0.6*linear"), "--schedule=0.5*cosine+0.6*linear"),
    (dict(schedule="beta(0,1)"), "--schedule=beta(0,1)"),
    (dict(preset="esm4"), "--preset=esm4"),
    (dict(mode="random"), "--mode=random"),
    (dict(mask_token="a;b"), "--mask-token=a;b"),
    (dict(mask_token=""), "--mask-token="),
    (dict(mask_token="a b"), "--mask-token=a b"),
    (dict(corrupt=(0.5, 0.5, 0.5)), "--corrupt=0.5,0.5,0.5"),
    (dict(corrupt=(1.0, 0.0)), "--corrupt=1,0"),
    (dict(corrupt=(1.5, -0.5, 0.0)), "--corrupt=1.5,-0.5,0"),
    (dict(maskable=""), "--maskable="),
    (dict(maskable="ACé"), "--maskable=ACé"),
    (dict(timesteps="sobol"), "--timesteps=sobol"),
    (dict(tokens="bpe"), "--tokens=bpe"),
    (dict(seed=-1), "--seed=-1"),
    (dict(seed=2**64), f"--seed={2**64}"),
]


@pytest.mark.parametrize("kwargs,flag", BAD, ids=[f for _, f in BAD])
def test_bad_options_raise_the_cli_message(kwargs, flag):
    expected = cli_message([flag])
    with pytest.raises(ValueError) as e:
        protmask.Masker(**kwargs)
    assert str(e.value) == expected
    assert "invalid value" in expected


def test_bad_records_raise_the_record_layers_message(tmp_path):
    f = tmp_path / "bad.faa"
    f.write_text(">ok\nMKV\n>bad desc\nMK1V\n")
    p = run(["mask", "-q", f], check=False)
    assert p.returncode == 1
    cli = p.stderr.strip().split(f"{f}: ", 1)[1]
    assert cli == "record 2 (bad): invalid residue '1' at sequence position 2 (0-based)"
    m = protmask.Masker()
    with pytest.raises(ValueError) as e:
        m.mask_many(["ok", "bad"], ["MKV", "MK1V"])
    assert str(e.value) == cli
    with pytest.raises(ValueError, match=r"^record 1 \(bad\): invalid residue '1' at"):
        m.mask("bad", "MK1V")
    for bad_id in ["", "a b", "a\tb"]:
        with pytest.raises(ValueError, match="ID"):
            m.mask(bad_id, "MKV")
    with pytest.raises(ValueError, match="count from 1"):
        m.mask("a", "MKV", replicate=0)
    with pytest.raises(ValueError, match="2 IDs but 1 sequences"):
        m.mask_many(["a", "b"], ["MKV"])
    with pytest.raises(TypeError):
        protmask.Masker(seed="42")


def test_mask_many_equals_mask_for_any_thread_count(odd_fasta, tmp_path):
    rows = cli_rows(tmp_path, odd_fasta, [])
    ids = [r["id"] for r in rows] * 20
    seqs = [r["sequence"] for r in rows] * 20
    one = protmask.Masker(tokens="esm")
    expected = [one.mask(i, s, replicate=2) for i, s in zip(ids, seqs)]
    for threads in (1, 2, 3, 8):
        m = protmask.Masker(tokens="esm", threads=threads)
        got = m.mask_many(ids, seqs, replicate=2)
        for g, e in zip(got, expected, strict=True):
            assert (g.masked, g.t, g.rate, g.count, g.length) == (
                e.masked, e.t, e.rate, e.count, e.length)
            assert np.array_equal(g.positions, e.positions)
            assert np.array_equal(g.input_ids, e.input_ids)
            assert np.array_equal(g.labels, e.labels)


def test_two_python_threads_share_one_masker(odd_fasta, tmp_path):
    rows = cli_rows(tmp_path, DATA, ["--preset", "esm2"], replicates=4)
    m = protmask.Masker(preset="esm2")
    results, errors = {}, []

    def work(k):
        try:
            rk = by_replicate(rows, k)
            for _ in range(20):
                got = m.mask_many([r["id"] for r in rk], [r["sequence"] for r in rk], k)
                got += [m.mask(r["id"], r["sequence"], k) for r in rk[:10]]
                results.setdefault(k, []).append([g.masked for g in got])
            for g, row in zip(got, rk + rk[:10]):
                assert_same(g, row)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, runs in results.items():
        assert all(r == runs[0] for r in runs), k


def test_version_is_the_cli_version():
    assert run(["--version"]).stdout.strip() == f"protmask {protmask.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", protmask.__version__)


def test_signatures_and_docs():
    assert "preset" in protmask.Masker.__doc__
    assert protmask.Masker.mask.__doc__ and protmask.Masker.mask_many.__doc__
    stub = Path(protmask.__file__).with_name("__init__.pyi")
    assert stub.exists() and stub.with_name("py.typed").exists()
    assert "def mask_many" in stub.read_text()


def test_docs_examples_run(tmp_path, monkeypatch):
    """The code blocks of docs/python.md marked `<!-- tested`, in order, in one namespace
    (the torch ones are not marked: torch is not a dependency)."""
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"<!-- tested([^>]*)-->\n```python\n(.*?)```", text, re.S)
    assert len(blocks) == 4
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    exe = Path(binary()).resolve()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "protmask").symlink_to(exe)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    namespace = {}
    for note, code in blocks:
        if "datasets" in note:
            pytest.importorskip("datasets")
        exec(compile(code, "docs/python.md", "exec"), namespace)
    assert namespace["batch"]["input_ids"].shape[0] == 8


def test_masker_and_results_pickle():
    import pickle

    m = protmask.Masker(preset="esm2", seed=7, corrupt=(0.5, 0.25, 0.25), tokens="esm",
                        threads=2)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.options == m.options
    a, b = m.mask("P1", "MKTAYIAKQRQISFVK" * 4), m2.mask("P1", "MKTAYIAKQRQISFVK" * 4)
    c = pickle.loads(pickle.dumps(a))
    for x in (b, c):
        assert (x.masked, x.t, x.rate, x.count, x.length) == (a.masked, a.t, a.rate, a.count,
                                                              a.length)
        assert np.array_equal(x.positions, a.positions)
        assert np.array_equal(x.input_ids, a.input_ids)
        assert np.array_equal(x.labels, a.labels)


def _mask_in_child(args):
    masker, ids, seqs = args
    return [(m.masked, m.t) for m in masker.mask_many(ids, seqs)]


def test_mask_many_works_in_a_forked_child():
    """A child forked after the parent used mask_many (DataLoader workers, datasets.map
    with num_proc) must not wait on the parent's threads."""
    import multiprocessing

    m = protmask.Masker(preset="esm2")
    ids, seqs = ["a", "b", "c"], ["MKV" * 30, "ACDEF" * 9, "W"]
    expected = [(r.masked, r.t) for r in m.mask_many(ids, seqs)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        got = pool.map_async(_mask_in_child, [(m, ids, seqs)] * 4).get(timeout=60)
    assert got == [expected] * 4
    global _FORK_MASKER
    _FORK_MASKER = m
    p = ctx.Process(target=_child_uses_inherited_masker)
    p.start()
    p.join(60)
    assert p.exitcode == 0


_FORK_MASKER = None


def _child_uses_inherited_masker():
    _FORK_MASKER.mask_many(["a"] * 100, ["MKV"] * 100)
