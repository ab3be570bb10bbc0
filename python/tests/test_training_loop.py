"""Issue 24: the package in a training loop. numpy loaded at import (no hang on fork, no
panic on Ctrl-C or without numpy), integer types and errors, epochs and threads, the
batch API (`collate`), `read_fasta`, `Masker.from_manifest`, and a Dask recipe.

Run after the package is installed, with PROTMASK naming the CLI (else `protmask` on
PATH):
    PROTMASK=target/ci/protmask pytest python/tests/test_training_loop.py
"""

import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import protmask

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "NC_000932.faa"
OKT3 = ROOT / "data" / "okt3_vh.faa"


def binary():
    exe = os.environ.get("PROTMASK") or shutil.which("protmask")
    if not exe:
        pytest.fail("set PROTMASK to the protmask binary (or put it on PATH)")
    return exe


def run(args, cwd=None):
    p = subprocess.run([binary(), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert p.returncode == 0, f"protmask {args} failed: {p.stderr}"
    return p


def records(path=DATA):
    return [(rid, seq) for rid, _, seq in protmask.read_fasta(path)]


def python(code, timeout=120, **kw):
    """Run `code` in a fresh interpreter of this venv (nothing imported beforehand)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, **kw)


# ---- 1. numpy's API is loaded when the module is imported --------------------------------

FORK_DURING_FIRST_USE = """
    import os, signal, sys, threading, time
    import protmask  # numpy is not imported by this script: the first use used to do it

    def one():
        m = protmask.Masker(preset="esm2", threads=1)
        t = threading.Thread(target=lambda: m.mask_many(["a"] * 4, ["MKV"] * 4))
        t.start()
        end = time.perf_counter() + 0.02  # hold the GIL while the thread starts its call
        while time.perf_counter() < end:
            pass
        pid = os.fork()
        if pid == 0:
            m.mask_many(["b"], ["MKVL"])
            os._exit(0)
        t.join()
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return True
            time.sleep(0.005)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return False

    for i in range(100):
        # Each iteration in a fresh fork of this process, where protmask is imported but
        # was never used.
        pid = os.fork()
        if pid == 0:
            os._exit(0 if one() else 3)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if code != 0:
            print(f"iteration {i}: the forked child hung (exit {code})")
            sys.exit(1)
    print("100 forks during a first use, no hang")
"""


def test_issue24_fork_during_first_use_never_hangs():
    """A process forked while another thread makes its first mask_many call: 0.2.0 loaded
    numpy's API on that call, behind a lock the child waited on forever (75% of these
    iterations hung)."""
    p = python(FORK_DURING_FIRST_USE, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no hang" in p.stdout


SIGINT_DURING_FIRST_CALL = """
    import os, signal, threading, time
    import protmask

    ids = [f"r{i}" for i in range(200_000)]
    seqs = ["MKTAYIAKQRQISFVKSHFSRQ" * 5] * len(ids)
    m = protmask.Masker(threads=1)
    threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    try:
        m.mask_many(ids, seqs)
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
    except BaseException as e:
        print("raised", type(e).__name__, e)
"""


def test_issue24_ctrl_c_during_the_first_call_is_a_keyboard_interrupt():
    """SIGINT while the first mask_many runs: 0.2.0 imported numpy on the way out of that
    call, the import raised KeyboardInterrupt inside Rust and it became a PanicException."""
    p = python(SIGINT_DURING_FIRST_CALL)
    assert p.stdout.strip() == "KeyboardInterrupt", p.stdout + p.stderr
    assert "panicked" not in p.stderr


def test_issue24_without_numpy_the_import_error_names_the_fix(tmp_path):
    """A venv with the package and no numpy: ImportError saying how to get numpy (0.2.0
    imported, then raised a PanicException on the first array)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    shutil.copytree(Path(protmask.__file__).parent, site / "protmask")
    p = subprocess.run([venv / "bin" / "python", "-c", "import numpy"], capture_output=True)
    assert p.returncode != 0, "this venv must have no numpy"
    p = subprocess.run([venv / "bin" / "python", "-c", "import protmask"], capture_output=True,
                       text=True)
    assert p.returncode == 1
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: protmask needs numpy (pip install numpy"), p.stderr
    assert "Panic" not in p.stderr


# ---- 6. types and errors -----------------------------------------------------------------

INTS = [7, np.int64(7), np.int32(7), np.uint64(7), np.uint8(7)]


@pytest.mark.parametrize("seven", INTS, ids=lambda v: type(v).__name__)
def test_issue24_any_integer_type_for_seed_replicate_epoch_threads(seven):
    """0.2.0: seed=np.int64(7) was a TypeError (replicate=np.int64(2) worked)."""
    base = protmask.Masker(preset="esm2", seed=7, threads=2)
    m = protmask.Masker(preset="esm2", seed=seven, threads=seven)
    assert m.options == base.options
    seq = "MKTAYIAKQRQISFVKSHFSRQ" * 4
    expected = base.mask("P1", seq, replicate=7)
    assert m.mask("P1", seq, replicate=seven) == expected
    assert m.mask("P1", seq, epoch=seven - 1) == expected
    assert m.mask_many(["P1"], [seq], replicate=seven)[0] == expected
    assert protmask.Masker(preset="esm2", min_masked=seven, max_length=np.int64(50)) is not None


def cli_error(flags):
    """The CLI's usage error for these flags, as one line without 'error: '."""
    p = subprocess.run([binary(), "mask", "-q", *flags, DATA], capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    return " ".join(p.stderr.removeprefix("error: ").split("\n\n")[0].split())


def test_issue24_range_errors_are_option_errors_in_the_clis_words():
    """0.2.0: seed=-1 said 'invalid digit found in string', replicate=-1 and threads=-2
    raised OverflowError, replicate=0 was a RecordError about 'record 1'."""
    for kwargs, flag in [(dict(seed=-1), "--seed=-1"), (dict(seed=2**64), f"--seed={2**64}"),
                         (dict(threads=0), "--threads=0"), (dict(threads=-2), "--threads=-2")]:
        with pytest.raises(protmask.OptionError) as e:
            protmask.Masker(**kwargs)
        assert str(e.value) == cli_error([flag])
        assert isinstance(e.value, ValueError)
    assert "is not in 0..=18446744073709551615" in cli_error(["--seed=-1"])
    m = protmask.Masker()
    for kwargs, message in [
        (dict(replicate=0), "invalid value '0' for 'replicate': 0 is not in 1..=4294967295"),
        (dict(replicate=-1), "invalid value '-1' for 'replicate': -1 is not in 1..=4294967295"),
        (dict(replicate=2**32), "invalid value '4294967296' for 'replicate'"),
        (dict(epoch=-1), "invalid value '-1' for 'epoch': -1 is not in 0..=4294967294"),
        (dict(epoch=2**32 - 1), "invalid value '4294967295' for 'epoch': 4294967295 is not in "
                                "0..=4294967294"),
        (dict(replicate=2, epoch=1), "give replicate= (counted from 1) or epoch= (counted "
                                     "from 0), not both"),
    ]:
        for call in (lambda: m.mask("a", "MKV", **kwargs),
                     lambda: m.mask_many(["a"], ["MKV"], **kwargs)):
            with pytest.raises(protmask.OptionError) as e:
                call()
            assert str(e.value).startswith(message), str(e.value)
    for bad in (dict(replicate=1.0), dict(replicate=True), dict(epoch="1")):
        with pytest.raises(TypeError, match="takes an int"):
            m.mask("a", "MKV", **bad)
    with pytest.raises(TypeError, match="threads takes an int, not float"):
        protmask.Masker(threads=2.0)
    assert issubclass(protmask.OptionError, ValueError)
    assert issubclass(protmask.RecordError, ValueError)
    assert issubclass(protmask.VerifyError, ValueError)


def test_issue24_mask_errors_name_the_id_given():
    """0.2.0: every mask() error said 'record 1', whatever the ID."""
    m = protmask.Masker()
    with pytest.raises(protmask.RecordError) as e:
        m.mask("sp|P1|X", "MK1V")
    assert str(e.value) == ("record sp|P1|X: invalid residue '1' at sequence position 2 "
                            "(0-based)")
    with pytest.raises(protmask.RecordError, match=r"^record a: .*past the end"):
        protmask.Masker(regions={"a": [(0, 9)]}).mask("a", "MKV")
    with pytest.raises(protmask.RecordError, match=r"^the ID is empty"):
        m.mask("", "MKV")
    # In a batch the number is the record's place in it, as in a file.
    with pytest.raises(protmask.RecordError, match=r"^record 2 \(b\): invalid residue"):
        m.mask_many(["a", "b"], ["MKV", "MK1V"])


def test_issue24_masked_compares_by_value_and_has_a_short_repr():
    m = protmask.Masker(preset="esm2", tokens="esm")
    seq = "MVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHFDLSHGSAQVKGHGKKVADALTNA" * 3
    a, b = m.mask("HBA", seq, replicate=2), m.mask("HBA", seq, replicate=2)
    assert a == b and not (a != b)
    assert a == pickle.loads(pickle.dumps(a))
    assert a != m.mask("HBA", seq, replicate=3)
    assert a != m.mask("HBB", seq, replicate=2)  # another ID, another mask (and another id)
    assert a != protmask.Masker(preset="esm2").mask("HBA", seq, replicate=2)  # no tokens
    assert (a == "HBA") is False
    r = repr(a)
    assert r.startswith(f"Masked(id='HBA', length={len(seq)}, count={a.count}, t={a.t}, ")
    assert r.endswith("...)") and len(r) < 140 and seq not in r
    short = m.mask("s", "MKV")
    assert repr(short).endswith(f"masked={short.masked!r})")
    assert a.id == "HBA" and m.mask_many(["x"], ["MKV"])[0].id == "x"


# ---- 5. epochs and threads ---------------------------------------------------------------

def test_issue24_epoch_counts_from_0_everywhere_replicate_is_taken(tmp_path):
    """epoch=e is replicate e + 1, in mask, mask_many and collate (0.2.0 refused
    replicate=0 and had no epoch)."""
    recs = records()[:20]
    ids, seqs = [r[0] for r in recs], [r[1] for r in recs]
    m = protmask.Masker(preset="esm2", tokens="esm")
    for epoch in (0, 1, 4):
        by_replicate = m.mask_many(ids, seqs, replicate=epoch + 1)
        assert m.mask_many(ids, seqs, epoch=epoch) == by_replicate
        assert [m.mask(i, s, epoch=epoch) for i, s in zip(ids, seqs)] == by_replicate
        a = m.collate(ids, seqs, epoch=epoch)
        b = m.collate(ids, seqs, replicate=epoch + 1)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert m.mask_many(ids, seqs, epoch=0) != m.mask_many(ids, seqs, epoch=1)


THREADS_SEEN = """
    import multiprocessing as mp, os, sys
    import protmask

    def tasks():
        return len(os.listdir("/proc/self/task"))

    def pool_threads(m):
        before = tasks()
        m.mask_many(["a"] * 64, ["MKV" * 40] * 64)
        return tasks() - before

    def in_child(q):
        q.put(pool_threads(protmask.Masker()))

    if __name__ == "__main__":
        main = pool_threads(protmask.Masker())
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # forked after the import, never used before
            os.write(w, str(pool_threads(protmask.Masker())).encode())
            os._exit(0)
        os.waitpid(pid, 0)
        forked = int(os.read(r, 100))
        ctx = mp.get_context("spawn")  # a multiprocessing child that imported protmask itself
        q = ctx.Queue()
        p = ctx.Process(target=in_child, args=(q,))
        p.start()
        spawned = q.get(timeout=60)
        p.join()
        explicit = pool_threads(protmask.Masker(threads=3))
        print(forked, spawned, main, explicit, os.cpu_count())
"""


def test_issue24_threads_default_to_1_in_a_forked_or_multiprocessing_child(tmp_path):
    """The pool has 1 thread in a forked child and a multiprocessing child, all cores in
    the main process, `threads` threads when given (0.2.0: all cores in every worker)."""
    script = tmp_path / "threads_seen.py"
    script.write_text(textwrap.dedent(THREADS_SEEN))
    p = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    forked, spawned, main, explicit, cores = map(int, p.stdout.split())
    assert (forked, spawned, explicit) == (1, 1, 3), p.stdout
    assert main == cores, p.stdout


# ---- 2. collate: a padded batch --------------------------------------------------------------

def cli_dataset(tmp_path, flags, name="cli.parquet", fasta=DATA):
    out = tmp_path / name
    run(["mask", fasta, "-q", "--dataset", out, *flags])
    return pq.read_table(out).to_pylist()


def assert_batch_is_rows(batch, rows, pad_id, width=None):
    """Row i of the batch is dataset row i's input_ids and labels, then padding."""
    n = max(len(r["input_ids"]) for r in rows)
    width = width or n
    for key in ("input_ids", "attention_mask", "labels"):
        assert batch[key].dtype == np.int64 and batch[key].shape == (len(rows), width), key
    for i, row in enumerate(rows):
        k = len(row["input_ids"])
        assert batch["input_ids"][i, :k].tolist() == row["input_ids"]
        assert batch["labels"][i, :k].tolist() == row["labels"]
        assert (batch["input_ids"][i, k:] == pad_id).all()
        assert (batch["labels"][i, k:] == -100).all()
        assert batch["attention_mask"][i].tolist() == [1] * k + [0] * (width - k)


@pytest.mark.parametrize("tokens,pad_id,preset", [("esm", 1, "esm2"), ("evodiff", 30, "evodiff"),
                                                  ("esm", 1, "mdlm")])
def test_issue24_collate_is_the_datasets_rows_padded(tmp_path, tokens, pad_id, preset):
    """collate's rows are `protmask mask --dataset --tokens` rows, padded with the
    vocabulary's pad id and -100; replicate 2 is the dataset's replicate 2 (stratified
    mdlm included: the whole file is one batch, as one input)."""
    rows = cli_dataset(tmp_path, ["--preset", preset, "--tokens", tokens, "--replicates", "2"])
    m = protmask.Masker(preset=preset, tokens=tokens)
    for k in (1, 2):
        rk = [r for r in rows if r["replicate"] == k]
        batch = m.collate([r["id"] for r in rk], [r["sequence"] for r in rk], replicate=k)
        assert_batch_is_rows(batch, rk, pad_id)
        assert (batch["input_ids"] == (32 if tokens == "esm" else 28)).sum() > 0  # masks
        multiple = m.collate([r["id"] for r in rk], [r["sequence"] for r in rk],
                             replicate=k, pad_to_multiple_of=64)
        longest = max(len(r["input_ids"]) for r in rk)
        assert_batch_is_rows(multiple, rk, pad_id, width=-(-longest // 64) * 64)


@pytest.mark.parametrize("crop", [None, "start", "center"])
def test_issue24_collate_max_length_crops_as_the_cli(tmp_path, crop):
    """collate(max_length=N) gives the rows of `--max-length N` (and the Masker's crop)."""
    flags = ["--preset", "esm2", "--tokens", "esm", "--max-length", "100"]
    kwargs = dict(preset="esm2", tokens="esm")
    if crop:
        flags += ["--crop", crop]
        kwargs["crop"] = crop
    rows = cli_dataset(tmp_path, flags)
    originals = records()
    assert any(len(s) > 100 for _, s in originals)
    if crop:  # crop without max_length is the CLI's error; the Masker takes it with collate's
        with pytest.raises(protmask.OptionError, match="--max-length"):
            protmask.Masker(**kwargs)
        m = protmask.Masker(max_length=100_000, **kwargs)
    else:
        m = protmask.Masker(**kwargs)
    batch = m.collate([r[0] for r in originals], [r[1] for r in originals], max_length=100)
    assert_batch_is_rows(batch, rows, 1)
    assert batch["input_ids"].shape[1] == 102
    with pytest.raises(protmask.OptionError, match="invalid value '0' for '--max-length <N>'"):
        m.collate(["a"], ["MKV"], max_length=0)


def test_issue24_collate_refusals():
    m = protmask.Masker(tokens="esm")
    with pytest.raises(protmask.OptionError, match='tokens="esm"'):
        protmask.Masker().collate(["a"], ["MKV"])
    with pytest.raises(protmask.OptionError, match="'return_tensors'"):
        m.collate(["a"], ["MKV"], return_tensors="tf")
    with pytest.raises(protmask.OptionError, match="'pad_to_multiple_of': 0 is not in 1"):
        m.collate(["a"], ["MKV"], pad_to_multiple_of=0)
    with pytest.raises(protmask.RecordError, match=r"^record 2 \(b\): invalid residue"):
        m.collate(["a", "b"], ["MKV", "M1"])
    with pytest.raises(protmask.RecordError, match="2 IDs but 1 sequences"):
        m.collate(["a", "b"], ["MKV"])
    empty = m.collate([], [])
    assert empty["input_ids"].shape == (0, 0) and empty["labels"].dtype == np.int64


def test_issue24_collate_pt_without_torch_is_a_clear_import_error():
    p = python("""
        import sys
        sys.modules["torch"] = None  # as if torch were not installed
        import protmask
        m = protmask.Masker(tokens="esm")
        assert m.collate(["a"], ["MKV"])["input_ids"].shape == (1, 5)
        try:
            m.collate(["a"], ["MKV"], return_tensors="pt")
        except ImportError as e:
            print(e)
    """)
    assert p.stdout.startswith('return_tensors="pt" needs torch (pip install torch)'), p


def test_issue24_collate_pt_gives_int64_tensors_for_esm_for_masked_lm():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    m = protmask.Masker(preset="esm2", tokens="esm")
    recs = records()[:8]
    batch = m.collate([r[0] for r in recs], [r[1] for r in recs], max_length=60,
                      return_tensors="pt")
    np_batch = m.collate([r[0] for r in recs], [r[1] for r in recs], max_length=60)
    for k, v in batch.items():
        assert isinstance(v, torch.Tensor) and v.dtype == torch.int64, k
        assert np.array_equal(v.numpy(), np_batch[k])
    config = transformers.EsmConfig(vocab_size=33, hidden_size=16, num_hidden_layers=1,
                                    num_attention_heads=2, intermediate_size=32,
                                    pad_token_id=1, mask_token_id=32,
                                    max_position_embeddings=128)
    torch.manual_seed(0)
    model = transformers.EsmForMaskedLM(config)
    loss = model(**batch).loss  # int32 labels raised "expected target dtype to be Long"
    assert torch.isfinite(loss)


def test_issue24_collate_releases_the_gil():
    """Another thread runs while collate works (a GIL-holding builtin, the negative
    control, lets it run not at all)."""
    import threading

    m = protmask.Masker(preset="esm2", tokens="esm", threads=1)
    ids = [f"r{i}" for i in range(60_000)]
    seqs = ["MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ" * 6] * len(ids)

    def ticks_during(call):
        window, ticks = [], []

        def work():
            window.append(time.perf_counter())
            call()
            window.append(time.perf_counter())

        t = threading.Thread(target=work)
        t.start()
        while t.is_alive():
            ticks.append(time.perf_counter())
            time.sleep(0)  # let the other thread in when it wants the GIL
        t.join()
        start, end = window
        margin = (end - start) * 0.2
        return sum(start + margin < x < end - margin for x in ticks), end - start

    inside, took = ticks_during(lambda: m.collate(ids, seqs))
    held, held_took = ticks_during(lambda: sum(range(40_000_000)))
    print(f"collate {took:.2f} s: {inside} ticks of another thread; "
          f"sum(range) {held_took:.2f} s holding the GIL: {held} ticks")
    assert held == 0 and took > 0.05
    assert inside > 100


# ---- 3. read_fasta ------------------------------------------------------------------------

def test_issue24_read_fasta_is_the_clis_record_layer(tmp_path):
    """Every input the CLI reads (plain, gzip, bzip2, xz, zstd, stdin), the CLI's IDs,
    descriptions and sequences (its dataset's columns)."""
    import bz2
    import gzip
    import lzma

    rows = cli_dataset(tmp_path, [])
    expected = [(r["id"], r["description"], r["sequence"]) for r in rows]
    raw = DATA.read_bytes()
    files = {"plain.faa": raw, "x.gz": gzip.compress(raw), "x.bz2": bz2.compress(raw),
             "x.xz": lzma.compress(raw)}
    try:
        import zstandard

        files["x.zst"] = zstandard.ZstdCompressor().compress(raw)
    except ImportError:
        pass
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        assert list(protmask.read_fasta(tmp_path / name)) == expected, name
        assert list(protmask.read_fasta(str(tmp_path / name))) == expected, name
    p = subprocess.run([sys.executable, "-c",
                        "import protmask, json; print(json.dumps(list(protmask.read_fasta('-'))))"],
                       input=gzip.compress(raw), capture_output=True)
    import json

    assert [tuple(r) for r in json.loads(p.stdout)] == expected, p.stderr
    # Wrapped lines, lowercase, CRLF, an empty sequence: as the CLI reads them.
    odd = tmp_path / "odd.fa"
    odd.write_bytes(b">a first one\r\nmkv\r\nLL\r\n>empty\n>c\tx y\nM*-.\n")
    assert list(protmask.read_fasta(odd)) == [("a", "first one", "mkvLL"), ("empty", "", ""),
                                             ("c", "x y", "M*-.")]
    m = protmask.Masker()
    assert [m.mask(i, s) for i, _, s in protmask.read_fasta(odd)] == \
        m.mask_many(["a", "empty", "c"], ["mkvLL", "", "M*-."])


def test_issue24_read_fasta_errors_are_the_clis(tmp_path, monkeypatch):
    import gzip

    monkeypatch.chdir(tmp_path)
    for name, content in [
        ("bad.fa", b">ok\nMKV\n>bad desc\nMK1V\n>c\nMM\n"),
        ("fastq.fa", b"@r1\nACGT\n+\nIIII\n"),
        ("text.fa", b"hello\n>a\nMKV\n"),
        ("cut.fa.gz", gzip.compress(DATA.read_bytes())[:3000]),
    ]:
        Path(name).write_bytes(content)
        p = subprocess.run([binary(), "mask", "-q", name, "-o", "/dev/null"],
                           capture_output=True, text=True)
        assert p.returncode == 1
        cli = p.stderr.strip().removeprefix("protmask: error: ")
        got = []
        with pytest.raises(protmask.RecordError) as e:
            for r in protmask.read_fasta(name):
                got.append(r[0])
        assert str(e.value) == cli, name
        assert isinstance(e.value, ValueError)
        if name == "bad.fa":
            # The record layer checks a block (4 MiB) before it hands out its records.
            assert got == [] and cli.startswith("bad.fa: record 2 (bad): invalid residue")
    with pytest.raises(FileNotFoundError, match="missing.fa"):
        protmask.read_fasta("missing.fa")
    it = protmask.read_fasta("bad.fa")
    with pytest.raises(protmask.RecordError):
        next(it)
    with pytest.raises(StopIteration):  # an iterator that failed is over
        next(it)


# ---- 4. from_manifest --------------------------------------------------------------------

def test_issue24_from_manifest_reproduces_a_set_made_with_regions_and_spans(tmp_path):
    """A set made by the CLI with --regions and --span-mean: Masker.from_manifest of its
    manifest, and of its self-described Parquet, gives its rows; the regions recorded as
    intervals (a small file) or by path (a file over 1 MiB, found beside the manifest)."""
    recs = records()
    lines = [f"{rid}\t5\t{min(60, len(s))}" for rid, s in recs[::2] if len(s) > 10]
    small = "\n".join(lines) + "\n"
    big = "# padding\n" * 110_000 + small  # over 1 MiB: recorded by path and digest
    for name, text in [("small.bed", small), ("big.bed", big)]:
        d = tmp_path / name.split(".")[0]
        d.mkdir()
        (d / name).write_text(text)
        (d / "in.fa").write_bytes(DATA.read_bytes())
        run(["mask", "-q", "in.fa", "--preset", "esm2", "--regions", name, "--span-mean", "3",
             "--span-max", "5", "--replicates", "2", "--tokens", "esm", "--split",
             "train=0.8,test=0.2", "--dataset", "set.parquet", "--manifest", "set.json"], cwd=d)
        rows = pq.read_table(d / "set.parquet").to_pylist()
        plain = protmask.Masker(preset="esm2", tokens="esm")
        for source in (d / "set.json", d / "set.parquet"):
            m = protmask.Masker.from_manifest(source)
            again = pickle.loads(pickle.dumps(m))
            for k in (1, 2):
                rk = [r for r in rows if r["replicate"] == k]
                ids, seqs = [r["id"] for r in rk], [r["sequence"] for r in rk]
                for masker in (m, again):
                    for got, row in zip(masker.mask_many(ids, seqs, replicate=k), rk):
                        assert got.masked == row["masked_sequence"], (source, row["id"])
                        assert got.positions.tolist() == row["positions"]
                        assert (got.t, got.rate) == (row["t"], row["rate"])
                        assert got.input_ids.tolist() == row["input_ids"]
                # The recorded options matter: without them the masks differ.
                assert [g.masked for g in plain.mask_many(ids, seqs, replicate=k)] != \
                    [r["masked_sequence"] for r in rk]
        if name == "big.bed":
            assert '"path"' in (d / "set.json").read_text()
            moved = tmp_path / "moved"
            moved.mkdir()
            for f in ("set.json", "big.bed"):
                (d / f).rename(moved / f)
            m = protmask.Masker.from_manifest(moved / "set.json")
            assert '"found_at"' not in m.options and str(moved / "big.bed") in m.options
            (moved / "big.bed").write_text(big + "x\t0\t1\n")
            with pytest.raises(protmask.VerifyError, match="big.bed"):
                protmask.Masker.from_manifest(moved / "set.json")


def test_issue24_from_manifest_refuses_what_records_no_options(tmp_path):
    run(["mask", "-q", DATA, "--dataset", tmp_path / "d.jsonl"])
    with pytest.raises(protmask.VerifyError, match="d.jsonl"):
        protmask.Masker.from_manifest(tmp_path / "d.jsonl")
    with pytest.raises(protmask.VerifyError, match="cannot read manifest"):
        protmask.Masker.from_manifest(tmp_path / "none.json")


# ---- 5. the persistent-workers pattern ----------------------------------------------------

class _Records:
    """A Dataset of (ID, sequence, epoch): the epoch comes with the index, from the
    sampler, which runs in the main process (docs/python.md)."""

    def __init__(self, path):
        self.records = records(path)

    def __len__(self):
        return len(self.records)

    def __getitem__(self, item):
        i, epoch = item
        rid, seq = self.records[i]
        return rid, seq, epoch


class _EpochSampler:
    """Yields (index, epoch), shuffled per epoch; `set_epoch` as DistributedSampler has."""

    def __init__(self, n, seed=0):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.n

    def __iter__(self):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        return iter([(int(i), self.epoch) for i in order])


class _Collate:
    def __init__(self, masker):
        self.masker = masker

    def __call__(self, items):
        ids, seqs, epochs = zip(*items)
        return self.masker.collate(list(ids), list(seqs), epoch=epochs[0],
                                   return_tensors="pt")


class _SetEpochDataset(_Records):
    """The pattern that fails with persistent workers: the epoch set on the dataset."""

    def __init__(self, path):
        super().__init__(path)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __getitem__(self, i):
        rid, seq = self.records[i]
        return rid, seq, self.epoch


def test_issue24_persistent_workers_see_each_epoch_through_the_sampler():
    """DataLoader(persistent_workers=True): with the epoch passed by the sampler each epoch
    gets its own masks, those of collate(epoch=e) in the main process; the dataset's
    set_epoch (the negative control) leaves the workers' copies at epoch 0."""
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    masker = protmask.Masker(preset="esm2", tokens="esm")
    dataset = _Records(DATA)
    sampler = _EpochSampler(len(dataset))
    loader = DataLoader(dataset, sampler=sampler, batch_size=16, num_workers=2,
                        persistent_workers=True, collate_fn=_Collate(masker))
    seen = {}
    for epoch in range(3):
        sampler.set_epoch(epoch)
        order = [i for i, _ in sampler]
        batches = list(loader)
        ids = [dataset.records[i][0] for i in order]
        seqs = [dataset.records[i][1] for i in order]
        labels = torch.cat([b["labels"].flatten() for b in batches])
        expected = [masker.collate(ids[j:j + 16], seqs[j:j + 16], epoch=epoch)["labels"]
                    for j in range(0, len(ids), 16)]
        assert np.array_equal(labels.numpy(), np.concatenate([e.ravel() for e in expected]))
        seen[epoch] = {ids[j]: m.labels.tolist()
                       for j, m in enumerate(masker.mask_many(ids, seqs, epoch=epoch))}
    assert seen[0] != seen[1] != seen[2]

    trap = _SetEpochDataset(DATA)
    loader = DataLoader(trap, batch_size=85, num_workers=2, persistent_workers=True,
                        collate_fn=_Collate(masker))
    got = []
    for epoch in range(3):
        trap.set_epoch(epoch)  # the workers' copies never see it
        got.append(next(iter(loader))["labels"])
    assert torch.equal(got[0], got[1]) and torch.equal(got[1], got[2])


def test_issue24_threads_default_to_1_in_a_dataloader_worker():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    loader = DataLoader(_ThreadsSeen(), batch_size=None, num_workers=1,
                        multiprocessing_context="spawn")
    assert list(loader) == [1]


class _ThreadsSeen:
    """One item: how many threads a first mask_many added in this worker."""

    def __len__(self):
        return 1

    def __getitem__(self, i):
        before = len(os.listdir("/proc/self/task"))
        protmask.Masker().mask_many(["a"] * 64, ["MKV" * 40] * 64)
        return len(os.listdir("/proc/self/task")) - before


# ---- 8. Dask's distributed scheduler ------------------------------------------------------

def _mask_partition(df, masker):
    """Mask a pandas partition: the dataset's columns, in the rows' order."""
    out = masker.mask_many(list(df["id"]), list(df["sequence"]))
    return df.assign(
        masked_sequence=[m.masked for m in out],
        positions=[m.positions.tolist() for m in out],
        t=[m.t for m in out],
        rate=[m.rate for m in out],
        masked=[m.count for m in out],
        length=[m.length for m in out],
    )


def test_issue24_dask_local_cluster_gives_the_clis_rows(tmp_path):
    """The docs/python.md recipe: a Parquet of sequences masked by 2 worker processes of
    Dask's distributed scheduler equals `protmask mask --dataset` row for row."""
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("dask.distributed")
    import pandas as pd
    import pyarrow as pa

    recs = records()
    pq.write_table(pa.table({"id": [r[0] for r in recs], "sequence": [r[1] for r in recs]}),
                   tmp_path / "seqs.parquet", row_group_size=20)
    masker = protmask.Masker(preset="esm2")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        df = dd.read_parquet(tmp_path / "seqs.parquet", split_row_groups=True)
        assert df.npartitions > 1
        meta = _mask_partition(df._meta, masker)
        masked = df.map_partitions(_mask_partition, masker, meta=meta).compute()
    cli = pd.DataFrame(cli_dataset(tmp_path, ["--preset", "esm2"]))
    assert list(masked["id"]) == list(cli["id"])
    for column in ["masked_sequence", "t", "rate", "masked", "length"]:
        assert list(masked[column]) == list(cli[column]), column
    assert [list(p) for p in masked["positions"]] == [list(p) for p in cli["positions"]]
