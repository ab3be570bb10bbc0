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
