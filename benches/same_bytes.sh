#!/usr/bin/env bash
# Do two protmask binaries write the same bytes? Runs both on the same inputs with a
# matrix of options (presets, --tokens esm/evodiff, --max-length, --parquet-compression,
# replicates, spans, -j1/-j2; split, sharded folders) and compares every output file
# (Parquet, JSON Lines, FASTA, a folder's shards and card) byte for byte. For changes
# meant to be invisible in the output: an encoder made faster must not move a byte
# (issue 22's dataset speed work checked itself with this; its merge checked folders too).
#
#   bash benches/same_bytes.sh OLD_BINARY NEW_BINARY        # ~2-3 min
#
# Inputs are made in $DATA (default benches/data/same_bytes, gitignored): a 5 MB
# UniRef50-shaped FASTA from ../shared/tools/gen_fasta.py (needs numpy; PYTHON picks the
# interpreter), the same unwrapped, and a small FASTA of edge cases (an empty sequence,
# lowercase, every ESM letter, '*', one residue, a 120,000-residue record). Exit 0 when
# every output matches, 1 with the list of those that differ.
set -euo pipefail

OLD=$(realpath "${1:?usage: same_bytes.sh OLD_BINARY NEW_BINARY}")
NEW=$(realpath "${2:?usage: same_bytes.sh OLD_BINARY NEW_BINARY}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${DATA:-$ROOT/benches/data/same_bytes}
SHARED=${SHARED:-$ROOT/../shared}
PYTHON=${PYTHON:-python3}
mkdir -p "$DATA"
cd "$DATA"

[ -s uniref_5mb.fa ] || "$PYTHON" "$SHARED/tools/gen_fasta.py" --mb 5 --seed 3 -o uniref_5mb.fa
[ -s uniref_5mb_w0.fa ] || "$PYTHON" "$SHARED/tools/gen_fasta.py" --mb 5 --seed 4 --width 0 -o uniref_5mb_w0.fa
if [ ! -s edges.fa ]; then
  {
    printf '>empty nothing here\n\n'
    printf '>lower mixed case\nmkvLAGvsertIDPKQNFYMHWCXBUZO\n'
    printf '>alphabet every ESM letter\nLAGVSERTIDPKQNFYMHWCXBUZO.-*J\n'
    printf '>one\nM\n'
    printf '>two\nMK\n'
    printf '>giant a long record\n'
    "$PYTHON" -c "import random; r=random.Random(5); s=''.join(r.choice('ACDEFGHIKLMNPQRSTVWY') for _ in range(120000)); print('\n'.join(s[i:i+60] for i in range(0, len(s), 60)))"
    printf '>last\nMKVLAAGIVGLLLA\n'
  } > edges.fa
fi

# name|options (the output file's name is appended by the loop)
CASES=(
  "esm3|"
  "esm3-tokens|--tokens esm"
  "esm3-tokens-j1|--tokens esm -j1"
  "esm2-tokens|--preset esm2 --tokens esm"
  "evodiff-tokens|--preset evodiff --tokens evodiff"
  "dplm-rep3|--preset dplm --tokens esm --replicates 3"
  "mdlm|--preset mdlm --tokens esm"
  "carp|--preset carp --tokens evodiff"
  "d3pm-blosum|--preset evodiff-d3pm-blosum --tokens evodiff"
  "bionemo|--preset bionemo-esm2 --tokens esm"
  "crop-200|--max-length 200 --tokens esm"
  "crop-center|--max-length 50 --crop center --tokens evodiff"
  "zstd|--parquet-compression zstd --tokens esm"
  "zstd-9|--parquet-compression zstd:9"
  "none|--parquet-compression none --tokens esm"
  "nothing-selected|--schedule 0 --tokens esm"
  "all-selected|--schedule 1 --mode exact --tokens esm"
  "maskable|--maskable ACD --tokens esm"
  "spans|--span-mean 4 --span-max 6 --tokens esm"
)
INPUTS=(uniref_5mb.fa uniref_5mb_w0.fa edges.fa)

differ=()
compared=0
for input in "${INPUTS[@]}"; do
  for case in "${CASES[@]}"; do
    name=${case%%|*}
    opts=${case#*|}
    for ext in parquet jsonl; do
      # --parquet-compression is for .parquet only.
      [[ $ext == jsonl && $opts == *parquet-compression* ]] && continue
      for bin in OLD NEW; do
        out="$DATA/out/$bin"
        rm -rf "$out"
        mkdir -p "$out"
        # shellcheck disable=SC2086  # options are words
        "${!bin}" mask -q $opts "$input" --dataset "x.$ext" -o "x.fa" >/dev/null 2>"$out.err" ||
          { echo "FAILED: $bin $name $input $ext: $(head -c 300 "$out.err")"; exit 1; }
        mv "x.$ext" x.fa "$out/"
      done
      for f in "x.$ext" x.fa; do
        compared=$((compared + 1))
        cmp -s "$DATA/out/OLD/$f" "$DATA/out/NEW/$f" || differ+=("$input $name $f")
      done
    done
  done
done
# Dataset folders: split, sharded, each shard and the card compared.
FOLDER_CASES=(
  "split|--split train=0.8,validation=0.1,test=0.1 --shard-rows 700"
  "split-tokens|--split train=0.8,validation=0.1,test=0.1 --shard-rows 700 --tokens esm"
  "shards-crop-zstd|--shard-rows 500 --max-length 100 --parquet-compression zstd --tokens evodiff --preset evodiff"
)
folders=0
for input in "${INPUTS[@]}"; do
  for case in "${FOLDER_CASES[@]}"; do
    name=${case%%|*}
    opts=${case#*|}
    for bin in OLD NEW; do
      out="$DATA/out/$bin"
      rm -rf "$out" dir
      mkdir -p "$out"
      # shellcheck disable=SC2086  # options are words
      "${!bin}" mask -q $opts "$input" --dataset dir/ >/dev/null 2>"$out.err" ||
        { echo "FAILED: $bin $name $input folder: $(head -c 300 "$out.err")"; exit 1; }
      mv dir "$out/"
    done
    folders=$((folders + 1))
    diff -r -q "$DATA/out/OLD/dir" "$DATA/out/NEW/dir" >/dev/null || differ+=("$input $name dir/")
  done
done
echo "$compared outputs compared: ${#CASES[@]} option sets x ${#INPUTS[@]} inputs, each a Parquet run and (without --parquet-compression) a JSONL run, each the dataset and the FASTA"
echo "$folders dataset folders compared (every shard and the card): ${#FOLDER_CASES[@]} option sets x ${#INPUTS[@]} inputs"
if [ ${#differ[@]} -gt 0 ]; then
  printf 'DIFFER: %s\n' "${differ[@]}"
  exit 1
fi
echo "all identical"
