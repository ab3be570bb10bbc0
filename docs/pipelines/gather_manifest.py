#!/usr/bin/env python3
"""Write the manifest of a set masked in parts: the one a direct run would have written.

    gather_manifest.py OUTPUT [--as NAME] [--working-directory DIR]
        --fasta FILE [--as NAME] [--rates FILE [--as NAME]] [--regions FILE [--as NAME]]
        --input FILE [--as NAME] PART_MANIFEST... [--input FILE [--as NAME] PART_MANIFEST...]...

Each part of a scatter-gather run was masked by its own `protmask mask PART ...
--manifest PART_MANIFEST` (with `--regions-partial` when it had regions); FASTA and rates
were concatenated into FILE. OUTPUT becomes the manifest (version 2) of

    protmask mask INPUT_1 ... INPUT_N --output=FASTA --rates=RATES --manifest=OUTPUT OPTIONS

which `protmask verify --manifest OUTPUT` checks and regenerates. One `--input` per input
of that run, in its order (an input given twice is two --input), followed by the
manifests of its parts in order. `--as NAME` after a file is the path the manifest
records for it (its name as the direct run is given it: the input as the user wrote it,
an output where it is published); without it, FILE as written. Checked: the parts were
masked alike (tool, manifest version, protmask version, RNG scheme, options and option
tokens, all but regions.partial), each read one input, wrote the outputs given and used
the regions file given. Computed here: every file's size and SHA-256 as stored and
decompressed (gzip and BGZF, bzip2 and xz with the standard library; zstd with the
`zstandard` module or the `zstd` command). Record counts are the parts' sums. Nothing is
left at OUTPUT on an error.
"""
import bz2
import gzip
import hashlib
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile

PROG = "gather_manifest.py"
MANIFEST_VERSION = 2
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
# The output tokens of a canonical command line, which the gathered run's replace, and
# the one option that differs between a part and the whole.
OUTPUT_TOKENS = ("--output=", "--outdir=", "--rates=", "--dataset=", "--manifest=")
PARTIAL = "--regions-partial"
BLOCK = 1 << 20


class GatherError(Exception):
    pass


class File:
    """A file to digest, and the path the manifest records for it."""

    def __init__(self, path):
        self.path = path
        self.name = path


def sniff(path):
    with open(path, "rb") as fh:
        head = fh.read(6)
    return next((kind for magic, kind in MAGIC.items() if head.startswith(magic)), "plain")


def zstd_blocks(path):
    """The decompressed bytes of a zstd file: with the `zstandard` module, else `zstd -dc`."""
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        with open(path, "rb") as raw:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            yield from iter(lambda: reader.read(BLOCK), b"")
        return
    if shutil.which("zstd") is None:
        raise GatherError(f"{path}: zstd needs the Python module 'zstandard' (pip install "
                          "zstandard) or the zstd command")
    with subprocess.Popen(["zstd", "-dc", "--", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        yield from iter(lambda: proc.stdout.read(BLOCK), b"")
        err = proc.stderr.read().decode(errors="replace").strip()
    if proc.returncode != 0:
        raise GatherError(f"{path}: zstd -dc failed: {err}")


def content_blocks(path):
    """The file's bytes as protmask reads them: decompressed by its first bytes."""
    kind = sniff(path)
    if kind == "zstd":
        yield from zstd_blocks(path)
        return
    opener = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open, "plain": open}[kind]
    with opener(path, "rb") as fh:
        yield from iter(lambda: fh.read(BLOCK), b"")


def digest(blocks):
    h, n = hashlib.sha256(), 0
    for block in blocks:
        h.update(block)
        n += len(block)
    return n, h.hexdigest()


def entry(f, records, role=None):
    """A manifest file entry, keys in the order protmask writes them."""
    try:
        with open(f.path, "rb") as fh:
            size, sha = digest(iter(lambda: fh.read(BLOCK), b""))
        if sniff(f.path) == "plain":
            content_size, content_sha = size, sha
        else:
            content_size, content_sha = digest(content_blocks(f.path))
    except GatherError:
        raise
    except OSError as e:
        raise GatherError(f"{f.path}: cannot read: {e.strerror or e}") from None
    except Exception as e:  # a corrupt or truncated stream
        raise GatherError(f"{f.path}: cannot decompress: {e}") from None
    e = {} if role is None else {"role": role}
    e.update(path=f.name, bytes=size, records=records, sha256=sha,
             content_bytes=content_size, content_sha256=content_sha)
    return e


def read_part(path):
    try:
        with open(path, encoding="utf-8") as fh:
            m = json.load(fh)
    except OSError as e:
        raise GatherError(f"{path}: cannot read: {e.strerror or e}") from None
    except ValueError as e:
        raise GatherError(f"{path}: not a JSON manifest: {e}") from None
    if not isinstance(m, dict) or m.get("tool") != "protmask":
        raise GatherError(f"{path}: not a protmask manifest")
    if m.get("manifest_version") != MANIFEST_VERSION:
        raise GatherError(
            f"{path}: manifest version {m.get('manifest_version', 1)} (protmask "
            f"{m.get('version', '?')}); {PROG} reads version {MANIFEST_VERSION}, which "
            "protmask 0.3.0 and later write")
    missing = [k for k in ("version", "rng_scheme", "command_line", "options", "inputs",
                           "outputs") if k not in m]
    if missing or "--" not in m["command_line"]:
        raise GatherError(f"{path}: not a complete protmask manifest (no "
                          f"{missing[0] if missing else 'command_line --'})")
    if len(m["inputs"]) != 1:
        raise GatherError(f"{path}: a part's manifest records {len(m['inputs'])} inputs, "
                          "expected one")
    tokens = m["command_line"][2:m["command_line"].index("--")]
    options = json.loads(json.dumps(m["options"]))
    if isinstance(options.get("regions"), dict):
        options["regions"]["partial"] = False
    return {
        "path": path,
        "manifest": m,
        "options": options,
        "tokens": [t for t in tokens if t != PARTIAL and not t.startswith(PARTIAL + "=")
                   and not t.startswith(OUTPUT_TOKENS)],
    }


def check_alike(parts):
    """Every part was masked as the first was: else an error naming the difference."""
    first = parts[0]
    for p in parts[1:]:
        for key in ("version", "rng_scheme"):
            if p["manifest"][key] != first["manifest"][key]:
                raise GatherError(f"{p['path']}: {key} {p['manifest'][key]!r}, but "
                                  f"{first['path']} has {first['manifest'][key]!r}")
        if p["options"] != first["options"]:
            a, b = first["options"], p["options"]
            key = next(k for k in list(a) + list(b) if a.get(k) != b.get(k))
            raise GatherError(f"{p['path']}: options.{key} is {json.dumps(b.get(key))}, but "
                              f"{first['path']} has {json.dumps(a.get(key))}: the parts "
                              "were not masked alike")
        if p["tokens"] != first["tokens"]:
            raise GatherError(f"{p['path']}: its command line's options differ from "
                              f"{first['path']}'s: the parts were not masked alike")


def gather(output, args):
    by_input = [[read_part(p) for p in group] for _, group in args["inputs"]]
    parts = [p for group in by_input for p in group]
    check_alike(parts)
    first = parts[0]["manifest"]
    roles = [(role, f) for role, f in (("fasta", args["fasta"]), ("rates", args["rates"])) if f]
    for p in parts:
        written = [o.get("role") for o in p["manifest"]["outputs"]]
        if written != [role for role, _ in roles]:
            raise GatherError(f"{p['path']}: the part wrote {', '.join(map(str, written))}; "
                              f"given: {', '.join(role for role, _ in roles)}")

    options = parts[0]["options"]
    regions, recorded_regions = args["regions"], first.get("regions")
    if (regions is None) != (recorded_regions is None):
        raise GatherError(
            f"{parts[0]['path']}: the parts were masked with regions: give --regions FILE"
            if regions is None else
            f"--regions {regions.path}: the parts were masked without regions")
    tokens = list(parts[0]["tokens"])
    regions_entry = None
    if regions is not None:
        for p in parts:
            if p["manifest"].get("regions", {}).get("sha256") != recorded_regions["sha256"]:
                raise GatherError(f"{p['path']}: another regions file than "
                                  f"{parts[0]['path']}'s")
        regions_entry = entry(regions, recorded_regions["records"])
        if regions_entry["sha256"] != recorded_regions["sha256"]:
            raise GatherError(f"regions file '{regions.path}' is not the one the parts were "
                              f"masked with (SHA-256 {regions_entry['sha256']}, recorded "
                              f"{recorded_regions['sha256']})")
        if "path" in options["regions"]:
            options["regions"]["path"] = regions.name
        tokens = [f"--regions={regions.name}" if t.startswith("--regions=") else t
                  for t in tokens]

    inputs = []
    for (f, _), group in zip(args["inputs"], by_input):
        records = sum(p["manifest"]["inputs"][0]["records"] for p in group)
        inputs.append(entry(f, records))
    outputs = []
    for role, f in roles:
        records = sum(o["records"] for p in parts for o in p["manifest"]["outputs"]
                      if o.get("role") == role)
        outputs.append(entry(f, records, role))
    outputs_tokens = [f"--output={args['fasta'].name}"]
    if args["rates"]:
        outputs_tokens.append(f"--rates={args['rates'].name}")
    outputs_tokens.append(f"--manifest={output.name}")

    manifest = {
        "tool": "protmask",
        "manifest_version": MANIFEST_VERSION,
        "version": first["version"],
        "rng_scheme": first["rng_scheme"],
        "command_line": ["protmask", "mask"] + tokens + outputs_tokens + ["--"]
        + [f.name for f, _ in args["inputs"]],
        "working_directory": args["working_directory"] or os.getcwd(),
        "options": options,
        "inputs": inputs,
        "outputs": outputs,
    }
    if regions_entry is not None:
        manifest["regions"] = regions_entry
    write(output.path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def write(path, text):
    """Write `text` to `path` whole or not at all."""
    fd, tmp = tempfile.mkstemp(prefix=".gather_manifest-", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def parse(argv):
    """The command line, read by hand: `--as` names the file just before it, and bare
    words after `--input FILE` are that input's part manifests."""
    args = {"fasta": None, "rates": None, "regions": None, "inputs": [],
            "working_directory": None}
    output, last, parts, words = None, None, None, list(argv)
    while words:
        w = words.pop(0)
        if w in ("--fasta", "--rates", "--regions", "--input", "--as", "--working-directory"):
            if not words:
                raise GatherError(f"{w} needs a value")
            value = words.pop(0)
            if w == "--as":
                if last is None:
                    raise GatherError(f"--as {value}: must follow OUTPUT or a file option")
                last.name, last = value, None
                continue
            last, parts = None, None
            if w == "--working-directory":
                args["working_directory"] = value
            elif w == "--input":
                last, parts = File(value), []
                args["inputs"].append((last, parts))
            elif args[w[2:]] is not None:
                raise GatherError(f"{w} given twice")
            else:
                last = args[w[2:]] = File(value)
        elif w.startswith("-") and w != "-":
            raise GatherError(f"unknown option {w}")
        elif output is None:
            output = last = File(w)
        elif parts is not None:
            parts.append(w)
            last = None
        else:
            raise GatherError(f"{w}: a part manifest must follow --input FILE")
    if output is None or args["fasta"] is None or not args["inputs"]:
        raise GatherError("need OUTPUT, --fasta FILE and at least one --input FILE PART...")
    for f, group in args["inputs"]:
        if not group:
            raise GatherError(f"--input {f.path}: no part manifests follow it")
    return output, args


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        output, args = parse(argv[1:])
    except GatherError as e:
        print(f"{PROG}: {e} (see {PROG} --help)", file=sys.stderr)
        return 2
    try:
        gather(output, args)
    except GatherError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{PROG}: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
