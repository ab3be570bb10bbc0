#!/usr/bin/env bash
# End to end: a published evaluation set survives ordinary handling (issue 20). One set
# (masked FASTA gzipped, rates table, Parquet dataset with tokens, manifest) is made, then
# handled as people handle published files, and after each step `protmask verify
# --manifest` (or `protmask regenerate`) must still accept it:
#   moving the set; renaming the input; gzipping it; gunzipping it again; recompressing
#   the masked FASTA (gzip -9, zstd) and decompressing it; renaming the Parquet dataset;
#   regenerating into a fresh folder with the input found by content.
# And one negative control per kind of step: a changed input, a changed output, an edited
# manifest are refused.
#
#   bash tests/publication.sh [PROTMASK]   (default: target/ci/protmask, else `protmask`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${PROTMASK:-$root/target/ci/protmask}}
[ -x "$bin" ] || bin=$(command -v protmask)
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
passed=0
check() { # check NAME CMD...: CMD must succeed
  local name=$1
  shift
  if "$@" > "$work/out" 2>&1; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    echo "FAILED: $name"
    sed 's/^/    /' "$work/out"
    exit 1
  fi
}
refused() { # refused NAME CMD...: CMD must exit 1
  local name=$1 rc=0
  shift
  "$@" > "$work/out" 2>&1 || rc=$?
  if [ "$rc" = 1 ]; then
    passed=$((passed + 1))
    echo "ok: $name (refused: $(tail -1 "$work/out" | cut -c1-100))"
  else
    echo "FAILED: $name: exit $rc, expected 1"
    sed 's/^/    /' "$work/out"
    exit 1
  fi
}

cp "$root/data/NC_000932.faa" orig.fa
mkdir set
"$bin" mask orig.fa -q --preset esm2 --replicates 2 --positions --tokens esm \
  -o set/masked.fa.gz -r set/rates.csv --dataset set/masked.parquet --manifest set/m.json
check "as made" "$bin" verify orig.fa set/masked.fa.gz -r set/rates.csv --manifest set/m.json
check "the dataset as made" "$bin" verify orig.fa set/masked.parquet --manifest set/m.json

# Moving the set, and the input, elsewhere.
mkdir -p archive/2026
mv set archive/2026/evalset
mv orig.fa archive/2026/proteins.fa
S=archive/2026/evalset
check "moved; input renamed" "$bin" verify archive/2026/proteins.fa $S/masked.fa.gz -r $S/rates.csv --manifest $S/m.json

# The input gzipped, then gunzipped again.
gzip -9 archive/2026/proteins.fa
check "input gzipped" "$bin" verify archive/2026/proteins.fa.gz $S/masked.fa.gz --manifest $S/m.json
gunzip -c archive/2026/proteins.fa.gz > plain.fa
check "input gunzipped" "$bin" verify plain.fa $S/masked.fa.gz --manifest $S/m.json

# The masked FASTA decompressed, recompressed with gzip -9 and with zstd.
gunzip -c $S/masked.fa.gz > masked.fa
check "output decompressed" "$bin" verify plain.fa masked.fa --manifest $S/m.json
gzip -9 -c masked.fa > masked9.fa.gz
check "output recompressed (gzip -9)" "$bin" verify plain.fa masked9.fa.gz --manifest $S/m.json
if command -v zstd > /dev/null; then
  zstd -q -19 masked.fa -o masked.fa.zst
  check "output recompressed (zstd)" "$bin" verify plain.fa masked.fa.zst --manifest $S/m.json
fi

# The Parquet dataset renamed (read by its bytes, not its name), with and without a manifest.
cp $S/masked.parquet renamed.pq
check "Parquet renamed .pq" "$bin" verify plain.fa renamed.pq --manifest $S/m.json
check "Parquet renamed, no manifest, no flags" "$bin" verify plain.fa renamed.pq

# Regenerating into a fresh folder: the input found by content among other files.
mkdir downloads
cp archive/2026/proteins.fa.gz downloads/uniref-subset.fa.gz
printf '>other\nMKV\n' > downloads/other.fa
check "regenerate into a fresh folder" "$bin" regenerate $S/m.json --input downloads -C fresh/rebuilt
for f in masked.fa.gz rates.csv masked.parquet; do
  check "regenerated $f is byte-identical" cmp fresh/rebuilt/$f $S/$f
done

# Negative controls: another content, a changed output, an edited manifest.
sed '2s/^./W/' plain.fa > changed.fa
refused "a changed input" "$bin" verify changed.fa $S/masked.fa.gz --manifest $S/m.json
gunzip -c $S/masked.fa.gz | sed '2s/^\(.\)./\1W/' > tampered.fa
refused "a changed output" "$bin" verify plain.fa tampered.fa --manifest $S/m.json
sed 's/"--seed=42"/"--seed=43"/' $S/m.json > edited.json
refused "an edited command line" "$bin" verify plain.fa $S/masked.fa.gz --manifest edited.json
refused "regenerate without the input" "$bin" regenerate $S/m.json --input downloads/other.fa -C x
echo "publication: $passed checks passed"
