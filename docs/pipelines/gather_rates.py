#!/usr/bin/env python3
"""Concatenate the rates tables of shards masked apart into one table.

    gather_rates.py [--file NAME] OUTPUT SHARD_TABLE_1 ... SHARD_TABLE_N

Writes one header row (the first table's), then every shard's rows in the order given.
The tables must be plain (uncompressed) CSV, or TSV when named .tsv. With --file NAME,
the first column (`file`, which names each shard) is set to NAME, the original input, so
the result is byte for byte what `protmask mask NAME -r OUTPUT` writes. Every other byte
of every row is copied unchanged. Python standard library only.
"""
import sys


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


def gather(output, tables, file_name=None):
    delim = "\t" if output.endswith(".tsv") else ","
    header = None
    with open(output, "w", newline="", encoding="utf-8") as out:
        for path in tables:
            with open(path, newline="", encoding="utf-8") as fh:
                first = fh.readline()
                if not first:
                    sys.exit(f"gather_rates.py: {path}: empty file, expected a header row")
                if header is None:
                    header = first
                    out.write(header)
                elif first != header:
                    sys.exit(f"gather_rates.py: {path}: header differs from the first table's")
                for line in fh:
                    if file_name is not None:
                        line = quote(file_name, delim) + rest_after_first_field(line, delim)
                    out.write(line)


def main(argv):
    args = argv[1:]
    file_name = None
    if args[:1] == ["--file"] and len(args) >= 2:
        file_name, args = args[1], args[2:]
    if len(args) < 2 or args[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    gather(args[0], args[1:], file_name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
