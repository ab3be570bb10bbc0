"""The Python package against the real binary: every field, every preset.

Run after `pip install ./python`, with PROTMASK naming the CLI (else `protmask` on PATH):
    PROTMASK=target/release/protmask pytest python/tests/test_package.py
"""

import json
import pickle
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


def cli_presets():
    """The presets as the CLI lists them (`schedule --list --format json`)."""
    return json.loads(run(["schedule", "--list", "--format", "json"]).stdout)["presets"]


PRESETS = [p["name"] for p in cli_presets()]
STRATIFIED = [p["name"] for p in cli_presets() if p["timesteps"] == "stratified"]
D3PM = [p["name"] for p in cli_presets() if p["mode"].startswith("d3pm-")]


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


CASES = [(p, None) for p in PRESETS] + [(p, "iid") for p in STRATIFIED]


@pytest.mark.parametrize("replicates", [1, 3])
@pytest.mark.parametrize("preset,timesteps", CASES)
@pytest.mark.parametrize("which", ["data", "odd"])
def test_parity_with_the_binary(tmp_path, odd_fasta, which, preset, timesteps, replicates):
    fasta = DATA if which == "data" else odd_fasta
    flags = ["--preset", preset] + (["--timesteps", timesteps] if timesteps else [])
    rows = cli_rows(tmp_path, fasta, flags, replicates)
    m = protmask.Masker(preset=preset, timesteps=timesteps)
    stratified = preset in STRATIFIED and timesteps is None
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


def test_evodiff_tokens_equal_the_dataset_tokens(tmp_path, odd_fasta):
    flags = ["--preset", "evodiff", "--tokens", "evodiff"]
    rows = cli_rows(tmp_path, odd_fasta, flags, replicates=2)
    m = protmask.Masker(preset="evodiff", tokens="evodiff")
    for k in (1, 2):
        rk = by_replicate(rows, k)
        got = m.mask_many([r["id"] for r in rk], [r["sequence"] for r in rk], replicate=k)
        for g, row in zip(got, rk, strict=True):
            assert_same(g, row, tokens=True)
            assert g.input_ids[0] == 29 and g.input_ids[-1] == 27  # '@' ... '*'
            assert (g.input_ids[1:-1][g.positions] == 28).all()  # '#'


@pytest.mark.parametrize("mode", ["d3pm-uniform", "d3pm-blosum"])
def test_issue21_d3pm_equals_the_cli(tmp_path, odd_fasta, mode):
    """A D3PM Masker (by preset, or by mode over another preset) gives the CLI's letters,
    rows and EvoDiff token ids; the options D3PM does not use are refused."""
    assert f"evodiff-{mode}" in D3PM
    for flags, kwargs in [(["--preset", f"evodiff-{mode}"], dict(preset=f"evodiff-{mode}")),
                          (["--preset", "esm2", "--mode", mode], dict(preset="esm2", mode=mode))]:
        rows = cli_rows(tmp_path, odd_fasta, [*flags, "--tokens", "evodiff"], replicates=2)
        m = protmask.Masker(tokens="evodiff", **kwargs)
        for k in (1, 2):
            rk = by_replicate(rows, k)
            got = m.mask_many([r["id"] for r in rk], [r["sequence"] for r in rk], replicate=k)
            for g, row in zip(got, rk, strict=True):
                assert_same(g, row, tokens=True)
                # Changed residues carry EvoDiff ids of letters, never the mask '#' (28).
                assert (g.input_ids[1:-1][g.positions] < 26).all()
        assert any(r["masked"] for r in rows)
    for bad in (dict(mask_token="#"), dict(span_mean=3.0), dict(corrupt=(0.8, 0.1, 0.1)),
                dict(min_masked=1)):
        with pytest.raises(protmask.OptionError, match=f"cannot be used with '--mode {mode}'"):
            protmask.Masker(f"evodiff-{mode}", **bad)


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
    (dict(random_pool="all"), "--random-pool=all"),
    (dict(min_masked=-1), "--min-masked=-1"),
]


@pytest.mark.parametrize("kwargs,flag", BAD, ids=[f for _, f in BAD])
def test_bad_options_raise_the_cli_message(kwargs, flag):
    expected = cli_message([flag])
    with pytest.raises(protmask.OptionError) as e:
        protmask.Masker(**kwargs)
    assert str(e.value) == expected
    assert isinstance(e.value, ValueError)
    assert "invalid value" in expected


def test_issue21_random_differs_takes_a_bool():
    assert protmask.Masker("carp", random_differs=False) is not None
    with pytest.raises(TypeError, match="random_differs takes a bool, not an int"):
        protmask.Masker(random_differs=1)
    with pytest.raises(TypeError, match="seed takes an int, not a bool"):
        protmask.Masker(seed=True)


@pytest.mark.parametrize("preset", ["carp", "bionemo-esm2"])
@pytest.mark.parametrize("tokens", ["esm", "evodiff"])
def test_issue21_carp_and_bionemo_esm2_equal_the_cli(tmp_path, odd_fasta, preset, tokens):
    """`Masker("carp")` (and bionemo-esm2) gives what `protmask mask --preset carp`
    writes, token ids included, and the same knobs given one by one give it too."""
    rows = cli_rows(tmp_path, odd_fasta, ["--preset", preset, "--tokens", tokens],
                    replicates=2)
    facts = next(p for p in protmask.presets() if p["name"] == preset)
    spelled = dict(preset="esm2", schedule=facts["schedule"], mode=facts["mode"],
                   mask_token=facts["mask_token"], corrupt=tuple(facts["corrupt"]),
                   random_pool=facts["random_pool"], random_differs=facts["random_differs"],
                   min_masked=facts["min_masked"])
    by_name = protmask.Masker(preset, tokens=tokens)
    for m in (by_name, protmask.Masker(tokens=tokens, **spelled)):
        for k in (1, 2):
            rk = by_replicate(rows, k)
            got = m.mask_many([r["id"] for r in rk], [r["sequence"] for r in rk], replicate=k)
            for g, row in zip(got, rk, strict=True):
                assert_same(g, row, tokens=True)
    if preset == "carp":
        masked = "".join(r["masked_sequence"] for r in rows)
        assert set(masked) & set("BZXJOU"), "no extended letter replaced in"
        assert "#" in masked


def test_bad_records_raise_the_record_layers_message(tmp_path):
    f = tmp_path / "bad.faa"
    f.write_text(">ok\nMKV\n>bad desc\nMK1V\n")
    p = run(["mask", "-q", f], check=False)
    assert p.returncode == 1
    cli = p.stderr.strip().split(f"{f}: ", 1)[1]
    assert cli == "record 2 (bad): invalid residue '1' at sequence position 2 (0-based)"
    m = protmask.Masker()
    with pytest.raises(protmask.RecordError) as e:
        m.mask_many(["ok", "bad"], ["MKV", "MK1V"])
    assert str(e.value) == cli
    assert isinstance(e.value, ValueError)
    # One record alone has no number: the ID given names it (issue 24).
    with pytest.raises(ValueError, match=r"^record bad: invalid residue '1' at"):
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


CHECKED = re.compile(r"^(?P<indent>[ \t]*)(?P<expr>[^#\s][^#\n]*?)[ \t]*# -> (?P<want>.*)$", re.M)


def _check_shown(value, want, line):
    """A `# -> ...` comment of docs/python.md: what the line shows (its repr, whitespace
    runs as one space)."""
    got = " ".join(repr(value).split())
    assert got == " ".join(want.split()), f"docs/python.md: {line!r} shows {got}"


def test_docs_examples_run(tmp_path, monkeypatch):
    """Every Python block of docs/python.md, in order, in one namespace, as a script
    (`__name__ == "__main__"`): Python 3.9 syntax, and each `# -> value` comment true
    (issue 24: a block used to fail after the torch block, and one used zip(strict=))."""
    import ast

    pytest.importorskip("torch")
    pytest.importorskip("datasets")
    pytest.importorskip("dask.distributed")
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 12
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    exe = Path(binary()).resolve()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "protmask").symlink_to(exe)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    # The blocks run as a script does: in a module `__main__` (pickling by dill, for
    # datasets.map, and by cloudpickle, for Dask, treats its functions as a script's).
    import sys
    import types

    main = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", main)
    namespace = main.__dict__
    namespace["_check_shown"] = _check_shown
    checked = 0
    for code in blocks:
        ast.parse(code, feature_version=(3, 9))
        assert "strict=" not in code, "zip(strict=...) is Python 3.10+"

        def checking(m):
            return (f"{m['indent']}_check_shown(({m['expr']}), {m['want']!r}, "
                    f"{m['expr']!r})")

        checked += len(CHECKED.findall(code))
        exec(compile(CHECKED.sub(checking, code), "docs/python.md", "exec"), namespace)
    assert checked >= 12
    assert namespace["batch"]["input_ids"].shape[0] == 85


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


# ---- every option of `protmask mask` reaches the Masker (issue 19) -------------------------

# Flags of `protmask mask` that shape files or the run, not one record's mask: the only
# ones Python does not take (docs/python.md lists them and what Python has instead).
CLI_ONLY = {
    "help", "version", "input-list", "output", "outdir", "rates", "dataset", "manifest",
    "positions", "line-width", "compress", "replicates", "threads", "quiet",
    "regions-partial", "parquet-compression", "split", "split-seed", "split-groups",
    "shard-rows", "force",
}

REGIONS = ROOT / "data" / "regions" / "okt3_cdrh3.bed"
OKT3 = ROOT / "data" / "okt3_vh.faa"

# For each option: the CLI flags and the Masker keywords that test it, on data/ (chosen so
# that ignoring the option would change the masks).
OPTION_CASES = {
    "preset": (["--preset", "esm2"], dict(preset="esm2")),
    "seed": (["--seed", "7"], dict(seed=7)),
    "schedule": (["--schedule", "cosine"], dict(schedule="cosine")),
    "mode": (["--mode", "exact"], dict(mode="exact")),
    "mask-token": (["--mask-token", "<mask>"], dict(mask_token="<mask>")),
    "corrupt": (["--corrupt", "0.5,0.3,0.2"], dict(corrupt=(0.5, 0.3, 0.2))),
    "maskable": (["--maskable", "ACDEFG"], dict(maskable="ACDEFG")),
    "timesteps": (["--timesteps", "stratified"], dict(timesteps="stratified")),
    "tokens": ([], dict(tokens="esm")),  # cli_rows adds --tokens esm
    "regions": (["--regions", REGIONS, "--regions-partial"], dict(regions=REGIONS)),
    "regions-mode": (["--regions", REGIONS, "--regions-partial", "--regions-mode", "except"],
                     dict(regions=str(REGIONS), regions_mode="except")),
    "span-mean": (["--span-mean", "4"], dict(span_mean=4)),
    "span-max": (["--span-mean", "4", "--span-max", "2"], dict(span_mean=4.0, span_max=2)),
    "random-pool": (["--corrupt", "0.2,0.8,0", "--random-pool", "extended"],
                    dict(corrupt=(0.2, 0.8, 0.0), random_pool="extended")),
    "random-differs": (["--corrupt", "0.2,0.8,0", "--random-differs"],
                       dict(corrupt=(0.2, 0.8, 0.0), random_differs=True)),
    "min-masked": (["--min-masked", "60"], dict(min_masked=60)),
    # The rows' `sequence` is the window: masked whole by Python, it gets the CLI's masks
    # (a cropped record masks its window from its usual stream).
    "max-length": (["--max-length", "300"], dict(max_length=300)),
    "crop": (["--max-length", "300", "--crop", "center"], dict(max_length=300, crop="center")),
}


def mask_options():
    """The long flags of `protmask mask --help`, without the CLI-only ones."""
    text = run(["mask", "--help"]).stdout
    flags = set(re.findall(r"^\s+(?:-\w, )?--([a-z][a-z-]*)", text, re.M))
    assert {"schedule", "output", "span-max"} <= flags, "could not read --help"
    return sorted(flags - CLI_ONLY)


def test_every_mask_option_reaches_the_masker(tmp_path):
    """Fails when `protmask mask` gains an option that the Masker does not take (or takes
    and ignores): every option but the CLI-only ones must give Python the CLI's masks."""
    options = mask_options()
    untested = [o for o in options if o not in OPTION_CASES]
    assert not untested, f"options without a Python case (add the keyword, then a case): {untested}"
    fasta = tmp_path / "in.faa"
    fasta.write_text(DATA.read_text() + OKT3.read_text())
    plain = cli_rows(tmp_path, fasta, [])
    for option in options:
        flags, kwargs = OPTION_CASES[option]
        tokens = "tokens" in kwargs
        rows = cli_rows(tmp_path, fasta, [*flags], tokens=tokens)
        assert [r["masked_sequence"] for r in rows] != [r["masked_sequence"] for r in plain] \
            or tokens, f"--{option}: the case does not change the masks"
        got = protmask.Masker(**kwargs).mask_many([r["id"] for r in rows],
                                                  [r["sequence"] for r in rows])
        for g, row in zip(got, rows, strict=True):
            assert_same(g, row, tokens=tokens)


def test_the_stub_lists_every_option():
    """protmask.pyi's Masker takes every option as a keyword (type checkers read it)."""
    import ast

    stub = Path(protmask.__file__).with_name("__init__.pyi").read_text()
    tree = ast.parse(stub)
    init = next(f for c in tree.body if isinstance(c, ast.ClassDef) and c.name == "Masker"
                for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    names = {a.arg for a in init.args.args + init.args.kwonlyargs} - {"self", "threads"}
    assert names == {o.replace("-", "_") for o in mask_options()}


def write_bed(path, intervals):
    with open(path, "w") as f:
        f.write("# id start end\n")
        for rid, pairs in intervals.items():
            for start, end in pairs:
                f.write(f"{rid}\t{start}\t{end}\n")


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("regions_mode", ["only", "except"])
def test_regions_and_spans_equal_the_cli_for_every_preset(tmp_path, preset, regions_mode):
    """`Masker(regions=..., span_mean=..., span_max=...)`, the regions as a file or as a
    mapping in memory, against `protmask mask --regions ... --span-mean ...`."""
    records = [(r["id"], r["sequence"]) for r in cli_rows(tmp_path, DATA, [])]
    intervals = {}
    for i, (rid, seq) in enumerate(records):
        if i % 3 == 0 and len(seq) > 40:
            intervals[rid] = [(5, 25), (20, 40), (len(seq) - 10, len(seq))]
    bed = tmp_path / "r.bed"
    write_bed(bed, intervals)
    flags = ["--preset", preset, "--regions", bed, "--regions-mode", regions_mode]
    kwargs = dict(preset=preset, regions_mode=regions_mode, tokens="esm")
    if preset not in D3PM:  # D3PM redraws residues: no spans
        flags += ["--span-mean", "3.5", "--span-max", "6"]
        kwargs.update(span_mean=3.5, span_max=6)
    rows = cli_rows(tmp_path, DATA, flags, replicates=2, tokens=True)
    for regions in (bed, str(bed), intervals):
        m = protmask.Masker(regions=regions, **kwargs)
        for k in (1, 2):
            rk = by_replicate(rows, k)
            got = m.mask_many([r["id"] for r in rk], [r["sequence"] for r in rk], replicate=k)
            for g, row in zip(got, rk, strict=True):
                assert_same(g, row, tokens=True)
            if preset not in STRATIFIED:
                for row in rk[:10]:
                    assert_same(m.mask(row["id"], row["sequence"], replicate=k), row, tokens=True)


def test_bad_regions_and_spans_are_option_errors(tmp_path):
    bad = tmp_path / "bad.bed"
    bad.write_text("a\t5\t5\n")
    with pytest.raises(protmask.OptionError, match=r"line 1: end 5 is not after start 5"):
        protmask.Masker(regions=bad)
    with pytest.raises(protmask.OptionError, match="ID 'a', interval \\(9, 3\\)"):
        protmask.Masker(regions={"a": [(9, 3)]})
    with pytest.raises(protmask.OptionError, match="cannot read regions file"):
        protmask.Masker(regions=tmp_path / "missing.bed")
    with pytest.raises(protmask.OptionError, match="required arguments were not provided: --span-mean"):
        protmask.Masker(span_max=3)
    with pytest.raises(protmask.OptionError, match="at least 1"):
        protmask.Masker(span_mean=0.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        protmask.Masker(colour="red")
    with pytest.raises(TypeError):
        protmask.Masker(regions={"a": "not pairs"})
    m = protmask.Masker(regions={"a": [(0, 50)]}, schedule="1")
    with pytest.raises(protmask.RecordError, match=r"record a: .*past the end of this record"):
        m.mask("a", "MKV")


def test_presets_are_the_cli_presets():
    assert protmask.presets() == cli_presets()



SUMMARY = re.compile(
    r"^protmask: verified (\d+) records?(?: x (\d+) replicates)?, "
    r"(?:(\d+) selected positions? \((?:(\d+) to )?(\d+) changed\)"
    r"|(?:(\d+) to )?(\d+) changed positions?)"
    r"(?:, (\d+) rates rows?)?(?:; manifest checksums match and (\d+) outputs? regenerates? "
    r"byte-identical(?:, (\d+) more with identical content[^;]*)?)?$"
)


def cli_verify(args, cwd):
    """`protmask verify ARGS` in `cwd`: the summary line's numbers as `protmask.verify`
    names them, or the error line without its `protmask: error: ` prefix."""
    p = subprocess.run([binary(), "verify", *args], cwd=cwd, capture_output=True, text=True)
    line = p.stderr.strip()
    if p.returncode != 0:
        assert p.returncode == 1 and "\n" not in line, p.stderr
        return line.removeprefix("protmask: error: ")
    # A Parquet dataset's metadata gave the options: one line says so, first.
    first, _, rest = line.partition("\n")
    from_metadata = first.startswith("protmask: options from the metadata of ")
    if from_metadata:
        line = rest
    m = SUMMARY.match(line)
    assert m, line
    records, reps, selected, certain, changed, certain2, changed2, rows, identical, same = (
        m.groups())
    certain, changed = (certain, changed) if selected else (certain2, changed2)
    manifest = identical is not None
    return {
        "records": int(records),
        "replicates": int(reps or 1),
        "changed": int(changed),
        "uncertain": int(changed) - int(certain) if certain else 0,
        "selected": int(selected) if selected else None,
        "rows": None if rows is None else int(rows),
        "identical": int(identical) if manifest else None,
        "same_content": int(same or 0) if manifest else None,
        "from_metadata": from_metadata,
    }


def make_sets(d):
    """In `d`, made there: in.fa; an esm2 FASTA set with 2 replicates, rates with
    positions and a manifest; a carp set with rates with positions; a gzipped set of xs.fa (X residues) with the token X; a
    dataset with its manifest."""
    shutil.copy(DATA, d / "in.fa")
    (d / "xs.fa").write_text(">a\nMXXKVLAXAXA\n>b\nXXXXMKVLLL\n" * 3)
    for args in [
        ["in.fa", "-o", "m.fa", "-r", "r.csv", "--positions", "--replicates", "2",
         "--manifest", "m.json", "--preset", "esm2"],
        ["in.fa", "-o", "c.fa", "-r", "c.csv", "--positions", "--preset", "carp"],
        ["xs.fa", "-o", "x.fa.gz", "-r", "x.tsv", "--mask-token", "X", "--schedule", "0.5",
         "--replicates", "2"],
        ["in.fa", "--dataset", "d.jsonl", "--tokens", "esm", "--manifest", "d.json"],
        ["in.fa", "--dataset", "p.parquet", "--preset", "esm2", "--replicates", "2"],
    ]:
        subprocess.run([binary(), "mask", "-q", *args], cwd=d, check=True)


# What esm2 did, for a check without its manifest.
ESM2 = ["--mask-token", "<mask>", "--corrupt", "0.8,0.1,0.1"]
ESM2_KW = dict(mask_token="<mask>", corrupt=(0.8, 0.1, 0.1))

# (CLI arguments, protmask.verify keywords): each a set that verifies.
GOOD = [
    (["in.fa", "m.fa", *ESM2], ESM2_KW),
    (["in.fa", "m.fa", "-r", "r.csv", *ESM2], dict(rates="r.csv", **ESM2_KW)),
    (["in.fa", "m.fa", "-r", "r.csv", "--manifest", "m.json"],
     dict(rates="r.csv", manifest="m.json")),
    (["xs.fa", "x.fa.gz", "--mask-token", "X"], dict(mask_token="X")),
    (["xs.fa", "x.fa.gz", "-r", "x.tsv", "--mask-token", "X"],
     dict(rates=Path("x.tsv"), mask_token="X")),
    (["in.fa", "d.jsonl", "--manifest", "d.json"], dict(manifest="d.json")),
    (["in.fa", "m.fa", "--preset", "esm2"], dict(preset="esm2")),
    (["in.fa", "c.fa", "-r", "c.csv", "--preset", "carp"], dict(rates="c.csv", preset="carp")),
    (["in.fa", "c.fa", "--mask-token", "#", "--corrupt", "0.8,0.1,0.1", "--random-pool",
      "extended"], dict(mask_token="#", corrupt=(0.8, 0.1, 0.1), random_pool="extended")),
    # No flag: the Parquet dataset's metadata says how it was made.
    (["in.fa", "p.parquet"], {}),
]


def test_verify_reports_the_clis_numbers(tmp_path, monkeypatch):
    make_sets(tmp_path)
    monkeypatch.chdir(tmp_path)
    for args, kwargs in GOOD:
        expected = cli_verify(args, tmp_path)
        assert isinstance(expected, dict), f"{args}: {expected}"
        got = protmask.verify(args[0], Path(args[1]), **kwargs)
        if args[1] in ("d.jsonl", "p.parquet"):
            # The CLI counts a dataset's rows, but not aloud.
            assert got["rows"] == 85 * got["replicates"]
            expected["rows"] = got["rows"]
        assert got == expected, args
    assert protmask.verify("xs.fa", "x.fa.gz", mask_token="X")["uncertain"] > 0
    assert protmask.verify("in.fa", "m.fa", manifest="m.json")["replicates"] == 2
    assert protmask.verify("in.fa", "p.parquet")["from_metadata"]
    assert not protmask.verify("in.fa", "m.fa", preset="esm2")["from_metadata"]


def test_verify_raises_the_clis_message(tmp_path, monkeypatch):
    make_sets(tmp_path)
    monkeypatch.chdir(tmp_path)

    def residue(t):  # the first unmasked residue of record 1 becomes another one
        lines = t.split("\n")
        i = next(i for i, c in enumerate(lines[1]) if c.isalpha())
        lines[1] = lines[1][:i] + ("W" if lines[1][i] != "W" else "Y") + lines[1][i + 1:]
        return "\n".join(lines)

    with_table = ["in.fa", "m.fa", "-r", "r.csv", *ESM2]
    with_manifest = ["in.fa", "m.fa", "--manifest", "m.json"]
    cases = [
        ("m.fa", residue, with_table, dict(rates="r.csv", **ESM2_KW)),
        ("m.fa", lambda t: t.replace("_r2", "_r3", 1), ["in.fa", "m.fa", *ESM2], ESM2_KW),
        ("m.fa", lambda t: t + ">extra\nMKV\n", ["in.fa", "m.fa", *ESM2], ESM2_KW),
        ("r.csv", lambda t: t.replace(",1,", ",2,", 1), with_table,
         dict(rates="r.csv", **ESM2_KW)),
        ("in.fa", lambda t: t.replace("MPTIKQ", "MPTIKA", 1), with_manifest,
         dict(manifest="m.json")),
        ("m.json", lambda t: t.replace('"rng_scheme": 1', '"rng_scheme": 2'), with_manifest,
         dict(manifest="m.json")),
        ("d.jsonl", lambda t: t.replace('"replicate":1', '"replicate":3', 1),
         ["in.fa", "d.jsonl"], {}),
        (None, None, ["in.fa", "m.fa", "--mask-token", "#"], dict(mask_token="#")),
        (None, None, ["in.fa", "missing.fa"], {}),
    ]
    originals = {n: (tmp_path / n).read_text() for n in ["in.fa", "m.fa", "r.csv", "m.json",
                                                         "d.jsonl"]}
    for name, tamper, args, kwargs in cases:
        for n, text in originals.items():
            (tmp_path / n).write_text(text)
        if name:
            (tmp_path / name).write_text(tamper(originals[name]))
            assert (tmp_path / name).read_text() != originals[name], args
        expected = cli_verify(args, tmp_path)
        assert isinstance(expected, str), f"{args}: passed"
        with pytest.raises(protmask.VerifyError) as e:
            protmask.verify(args[0], args[1], **kwargs)
        assert str(e.value) == expected
        assert isinstance(e.value, ValueError)


def test_verify_checks_its_options_as_the_cli_does(tmp_path, monkeypatch):
    make_sets(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(protmask.OptionError, match="cannot be a mask token"):
        protmask.verify("in.fa", "m.fa", mask_token="a b")
    with pytest.raises(protmask.OptionError, match="expected three fractions"):
        protmask.verify("in.fa", "m.fa", corrupt=(1.0, 0.0))
    with pytest.raises(protmask.OptionError, match="possible values: only, except"):
        protmask.verify("in.fa", "m.fa", regions="r.bed", regions_mode="sometimes")
    with pytest.raises(protmask.OptionError, match="not provided: --regions <FILE>"):
        protmask.verify("in.fa", "m.fa", regions_mode="except")
    # A request that cannot work is no finding about the set: ValueError, not VerifyError.
    with pytest.raises(ValueError, match="a dataset is checked against ORIGINAL alone") as e:
        protmask.verify("in.fa", "d.jsonl", rates="r.csv")
    assert not isinstance(e.value, protmask.VerifyError)
    # A keyword that disagrees with what the dataset records: ValueError naming both.
    with pytest.raises(ValueError, match="--mask-token '_' disagrees with the metadata of "
                       "'p.parquet', which records '<mask>'") as e:
        protmask.verify("in.fa", "p.parquet", mask_token="_")
    assert not isinstance(e.value, protmask.VerifyError)
    with pytest.raises(protmask.OptionError, match="possible values"):
        protmask.verify("in.fa", "m.fa", preset="nope")
    ok = protmask.verify("in.fa", "m.fa", manifest="m.json", mask_token=None, corrupt=None,
                         maskable=None, regions=None, regions_mode=None)
    assert ok["records"] == 85 and ok["identical"] == 2 and ok["same_content"] == 0


def test_issue22_masker_crops_as_the_cli_does():
    """A record longer than max_length is masked as its window: with crop="start" the
    window's masks are those of the first N residues masked whole; a random window is N
    long; a record not longer is masked exactly as without max_length."""
    seq = "ACDEFGHIKLMNPQRSTVWY" * 30
    cropped = protmask.Masker("esm2", max_length=100, crop="start").mask("P1", seq)
    whole = protmask.Masker("esm2").mask("P1", seq[:100])
    assert cropped.masked == whole.masked
    assert cropped.positions.tolist() == whole.positions.tolist()
    assert (cropped.length, cropped.crop_start) == (100, 0)
    assert protmask.Masker(max_length=100, crop="center").mask("P1", seq).crop_start == 250
    again = pickle.loads(pickle.dumps(cropped))
    assert again.crop_start == 0
    rand = protmask.Masker("esm2", max_length=100).mask("P1", seq)
    assert rand.length == 100 and 0 <= rand.crop_start <= 500
    assert rand.masked.replace("<mask>", "").isalpha()
    short = protmask.Masker("esm2", max_length=1000).mask("P1", seq)
    plain = protmask.Masker("esm2").mask("P1", seq)
    assert (short.masked, short.t, short.length) == (plain.masked, plain.t, plain.length)
    assert short.crop_start is None
    with pytest.raises(protmask.OptionError, match="--max-length"):
        protmask.Masker(crop="start")
    with pytest.raises(protmask.OptionError, match="'0'"):
        protmask.Masker(max_length=0)


def test_issue22_the_masker_refuses_splits():
    """A record's split is not part of its mask: the split flags are the CLI's (CLI_ONLY),
    and a Masker given one says so rather than ignoring it."""
    with pytest.raises(protmask.OptionError, match="records masked one by one have no split"):
        protmask.Masker(split="train=0.9,test=0.1")
    with pytest.raises(protmask.OptionError, match="required arguments were not provided: --split"):
        protmask.Masker(split_seed=3)
    with pytest.raises(protmask.OptionError, match="fractions sum to 0.5"):
        protmask.Masker(split="train=0.5")
