#!/usr/bin/env python3
"""Writes the hand-made seed corpus (corpus/<target>/seed-*). Run from fuzz/:
python3 make_seeds.py. The masked seeds of verify_pair come from corpus-src/, made by the
protmask binary (see README.md)."""
import gzip, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "NC_000932.faa")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


specs = [
    "betalinear30", "0.8*beta(3,9) + 0.2*uniform", "beta30", "beta(3,7)", "cosine",
    "linear", "cubic", "square", "sqrt", "square_root", "square_root_schedule", "uniform",
    "uniform(0.000999,0.999)", "fixed(0.15)", "0.15", "0", "1", "discrete(500)",
    "0.5*cosine + 0.5*beta(2,6)", "0.3*fixed(0.1) + 0.7*discrete(7)",
    "0.25*linear+0.25*cubic+0.5*uniform(0.2,0.4)", "beta(0.01,0.01)", "beta(1e-3,200)",
    "beta(1,1)", "BETA( 3 , 9 )",
    # bad ones
    "", "beta(", "beta(0,1)", "beta(-1,2)", "0.5*cosine", "1.5", "uniform(0.9,0.1)",
    "discrete(0)", "0.5*(0.5*cosine+0.5*linear)+0.5*uniform", "nan", "inf", "1e309",
    "fixed(0.5", "0.5*cosine + 0.6*linear", "cosine+linear", "*", "beta(3,9)x",
]
for i, s in enumerate(specs):
    put("schedule_parse", f"{i:02}", s)

text = open(DATA).read()
records = [">" + r for r in text.split(">")[1:]]
small = "".join(records[:3])
put("mask_bytes", "three-records", b"\x00\x00" + small.encode())
put("mask_bytes", "three-records-exact-corrupt", b"\x23\x25" + small.encode())
put("mask_bytes", "gzip-blocks", b"\x5c\x3a" + "".join(records[3:6]).encode())
put("mask_bytes", "mixed", b"\xff\x07" +
    b"\n\n>a desc\r\nAC-*.acgt\r\n\r\n>b\n>c\tx\nWWW\nKKK\n>sp|P1|Q.1 y\nXBZJOU\n")
put("mask_bytes", "bare-header", b"\x01\x01>a\nAC\n>\n>b\nAC\n")
put("mask_bytes", "fastq", b"\x02\x02@q\nACGT\n+\nIIII\n")
put("mask_bytes", "no-id", b"\x00\x00> desc\nAC\n")
put("mask_bytes", "bad-utf8", b"\x00\x00>a\nA\xc3\x28C\n>b\xff\nK\n")
put("mask_bytes", "empty", b"\x00\x00")


def pair(sel, original, masked, table):
    return (bytes([sel]) + struct.pack("<H", len(original)) + original
            + struct.pack("<H", len(masked)) + masked + table)


src = os.path.join(HERE, "corpus-src")
if os.path.isdir(src):
    orig = open(os.path.join(src, "original.fa"), "rb").read()
    for name, sel in [("esm3", 0b0100_0000), ("esm2", 0b1110_0101), ("evodiff", 0b0100_0010)]:
        masked = open(os.path.join(src, name + ".fa"), "rb").read()
        table = open(os.path.join(src, name + ".csv"), "rb").read()
        if sel >> 5 >= 6:
            table = table.replace(b",", b"\t")
        put("verify_pair", name, pair(sel, orig, masked, table))
put("verify_pair", "tiny", pair(0x40, b">a\nACDE\n", b">a\nA_DE\n",
                                b"file,id,replicate,length,t,rate,masked\nx,a,1,4,0.5,0.25,1\n"))
put("verify_pair", "replicates", pair(0x48, b">a d\nACDE\n>b\nK\n",
                                      b">a_r1 d\nA_DE\n>a_r2 d\n____\n>b_r1\nK\n>b_r2\n_\n", b""))
put("verify_pair", "bad", pair(0xff, b">a\n", b">\n", b"file\n\"\n"))
