#!/usr/bin/env python3
"""Concatenate the rates tables of parts masked apart into one table.

    gather_rates.py [--file NAME]... [--regions FILE] OUTPUT TABLE_1 ... TABLE_N

Writes one header row (the first table's), then every table's rows in the order given.
The tables are CSV or TSV (all the same), plain or compressed: gzip (BGZF included),
bzip2, xz or zstd, detected from their first bytes as protmask does (zstd needs the
Python module `zstandard`). OUTPUT is CSV, or TSV when named .tsv, compressed when its
name ends in .gz, .bz2, .xz or .zst (before which .csv or .tsv gives the format).

--file sets the first column (`file`, which names each part's input) so that the result is
byte for byte what `protmask mask NAME_1 ... -r OUTPUT` writes: given once, NAME is the
file of every table's rows; given N times, the k-th NAME is that of TABLE_k's rows (one
input per table, or the same name for the shards of one input). Every other byte of every
row is copied unchanged. Python standard library only (zstandard for zstd).

--regions FILE is the check a direct `protmask mask --regions FILE` makes and that parts
masked with `--regions-partial` each skip: every ID in the regions file (BED-style, `#`
lines and blank lines skipped, the ID the text before the first tab) must be the `id` of
some gathered row. If one is not, it is one error naming the regions file, the line of the
first such ID and the ID, as protmask words it, and no output is left.
"""
import bz2
import csv
import gzip
import io
import lzma
import os
import sys

PROG = "gather_rates.py"
MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
SUFFIX = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}


class GatherError(Exception):
    pass


def zstandard_module(what):
    try:
        import zstandard
    except ImportError:
        raise GatherError(f"{what}: zstd needs the Python module 'zstandard' "
                          "(pip install zstandard), or decompress it first") from None
    return zstandard


def open_table(path):
    """A text stream of the table, decompressed whatever its name says."""
    raw = open(path, "rb")
    head = raw.peek(6)[:6] if hasattr(raw, "peek") else b""
    kind = next((name for magic, name in MAGIC.items() if head.startswith(magic)), "plain")
    if kind == "gzip":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    elif kind == "bzip2":
        stream = bz2.BZ2File(raw, "rb")
    elif kind == "xz":
        stream = lzma.LZMAFile(raw, "rb")
    elif kind == "zstd":
        try:
            zstandard = zstandard_module(path)
        except GatherError:
            raw.close()
            raise
        stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    else:
        stream = raw
    return io.TextIOWrapper(io.BufferedReader(stream) if kind == "zstd" else stream,
                            encoding="utf-8", newline="")


def output_kind(path):
    for suffix, kind in SUFFIX.items():
        if path.endswith(suffix):
            return kind, path[: -len(suffix)]
    return "plain", path


def create_output(path):
    kind, base = output_kind(path)
    if kind == "zstd":
        zstandard = zstandard_module(path)  # before anything is read or written
    raw = open(path, "wb")
    if kind == "gzip":
        stream = gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0)
    elif kind == "bzip2":
        stream = bz2.BZ2File(raw, "wb")
    elif kind == "xz":
        stream = lzma.LZMAFile(raw, "wb")
    elif kind == "zstd":
        stream = zstandard.ZstdCompressor().stream_writer(raw, closefd=True)
    else:
        stream = raw
    out = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    return out, raw, ("\t" if base.endswith(".tsv") else ",")


def quote(field, delim):
    # What the Rust csv crate writes (QuoteStyle::Necessary).
    if any(c in field for c in (delim, '"', "\n", "\r")):
        return '"' + field.replace('"', '""') + '"'
    return field


def rest_after_first_field(line, delim):
    """The line from the delimiter that ends its first field (CSV quoting aware)."""
    if line.startswith('"'):
        i = 1
        while True:
            j = line.index('"', i)
            if line.startswith('""', j):
                i = j + 2
                continue
            return line[j + 1:]
    return line[line.index(delim):]


def regions_ids(path):
    """The IDs of a regions file, each with the 1-based line it first appears on, in file
    order. Lines are read as protmask reads them (protmask has already refused a malformed
    file in the mask jobs, so only the ID is taken here)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise GatherError(f"cannot read regions file '{path}': {e.strerror or e}") from None
    if data.endswith(b"\n"):
        data = data[:-1]
    ids = {}
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip(b" \t\n\r\f\v") or line.startswith(b"#"):
            continue
        try:
            rid = line.split(b"\t", 1)[0].decode("utf-8")
        except UnicodeDecodeError:
            raise GatherError(f"regions file '{path}', line {number}: not UTF-8 text") from None
        ids.setdefault(rid, number)
    return ids


def row_id(line, delim):
    """The second field (`id`) of a rates row."""
    fields = next(csv.reader([line], delimiter=delim), [])
    return fields[1] if len(fields) > 1 else None


def copy_table(out, path, k, names, delim, header, seen=None):
    """Write TABLE_k's rows (and, for the first, its header); return the header. With
    `seen` (a set), add each row's `id` to it."""
    with open_table(path) as fh:
        first = fh.readline()
        if not first:
            raise GatherError(f"{path}: empty file, expected a header row")
        if header is None:
            if not first.startswith("file" + delim):
                fmt = "TSV" if delim == "\t" else "CSV"
                raise GatherError(f"{path}: header {first.rstrip()!r} is not that of a {fmt} "
                                  f"rates table (the output's name asks for {fmt})")
            header = first
            out.write(header)
        elif first != header:
            raise GatherError(f"{path}: header differs from the first table's")
        for n, line in enumerate(fh, start=2):
            if names:
                try:
                    line = quote(names[k], delim) + rest_after_first_field(line, delim)
                except ValueError:
                    raise GatherError(f"{path}: line {n}: a row with one column") from None
            if seen is not None:
                seen.add(row_id(line, delim))
            out.write(line)
    return header


def gather(output, tables, file_names=(), regions=None):
    if len(file_names) not in (0, 1, len(tables)):
        raise GatherError(f"{len(file_names)} --file names for {len(tables)} tables: "
                          "give one for all, or one per table")
    names = list(file_names) * len(tables) if len(file_names) == 1 else list(file_names)
    wanted = regions_ids(regions) if regions is not None else None  # before any output
    seen = set() if regions is not None else None
    out, raw, delim = create_output(output)
    try:
        header = None
        for k, path in enumerate(tables):
            try:
                header = copy_table(out, path, k, names, delim, header, seen)
            except GatherError:
                raise
            except FileNotFoundError:
                raise GatherError(f"{path}: no such file") from None
            except Exception as e:  # a corrupt or truncated stream, bad UTF-8, ...
                raise GatherError(f"{path}: cannot read: {e}") from None
        if wanted is not None:
            unmatched = [(rid, line) for rid, line in wanted.items() if rid not in seen]
            if unmatched:
                rid, line = unmatched[0]
                more = f" ({len(unmatched) - 1} more IDs like it)" if len(unmatched) > 1 else ""
                raise GatherError(f"regions file '{regions}', line {line}: no input record "
                                  f"has ID '{rid}'{more}")
        out.close()
    except BaseException:
        try:
            out.close()
        except Exception:
            raw.close()
        os.unlink(output)  # nothing half-written is left at OUTPUT
        raise


def main(argv):
    args = argv[1:]
    file_names = []
    regions = None
    while args[:1] in (["--file"], ["--regions"]) and len(args) >= 2:
        if args[0] == "--file":
            file_names.append(args[1])
        elif regions is None:
            regions = args[1]
        else:
            print(f"{PROG}: --regions given twice", file=sys.stderr)
            return 2
        args = args[2:]
    if len(args) < 2 or args[0] in ("-h", "--help") or args[0].startswith("--"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        gather(args[0], args[1:], file_names, regions)
    except GatherError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{PROG}: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
