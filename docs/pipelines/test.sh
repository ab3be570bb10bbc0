#!/usr/bin/env bash
# Tests of docs/pipelines and docs/packaging. CI runs, from the repository root:
#     bash docs/pipelines/test.sh
# with protmask already on PATH (installed by `cargo install --locked --path .`; CI puts
# the binary of its one build there). Snakemake (from PyPI) goes into its own virtual
# environment, target/pipelines-venv by default (PIPELINES_VENV overrides: CI passes the
# one venv it makes for every Python step, with the pins below); it is reused when the
# pinned versions are there.
# Temporary files go to a mktemp directory, removed at exit (KEEP_TMP=1 keeps it).
# Nextflow cannot be installed here: the Nextflow module's script blocks are rendered
# from main.nf by nextflow/render_script.py and run by hand.
set -uo pipefail

SNAKEMAKE_VERSION=9.27.1
NUMPY_VERSION=2.4.6
ZSTANDARD_VERSION=0.25.0 # gather_rates.py reads and writes .zst tables with it

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
P=$ROOT/docs/pipelines
VENV=${PIPELINES_VENV:-$ROOT/target/pipelines-venv}
START=$SECONDS

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; }
# check NAME COMMAND...: one check, passes when COMMAND exits 0.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
die() { echo "pipelines: $*" >&2; echo "pipelines: $PASSED passed, $((FAILED + 1)) failed"; exit 1; }

# --- prerequisites ----------------------------------------------------------------------
command -v protmask >/dev/null 2>&1 ||
  die "protmask is not on PATH: install it first (cargo install --locked --path . --root DIR; PATH=DIR/bin:\$PATH)"
PROTMASK=$(command -v protmask)
VERSION=$(protmask --version) || die "protmask --version failed"
echo "== using $PROTMASK ($VERSION)"

if ! "$VENV/bin/snakemake" --version 2>/dev/null | grep -qx "$SNAKEMAKE_VERSION" ||
  ! "$VENV/bin/python" -c "import numpy, zstandard" 2>/dev/null; then
  echo "== installing snakemake $SNAKEMAKE_VERSION into $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "snakemake==$SNAKEMAKE_VERSION" "numpy==$NUMPY_VERSION" "zstandard==$ZSTANDARD_VERSION" ||
    die "pip install snakemake failed"
fi
SNAKEMAKE=$VENV/bin/snakemake
PY=$VENV/bin/python
check "snakemake $SNAKEMAKE_VERSION installed in $VENV" test "$("$SNAKEMAKE" --version)" = "$SNAKEMAKE_VERSION"

T=$(mktemp -d "${TMPDIR:-/tmp}/protmask-pipelines.XXXXXX")
if [ "${KEEP_TMP:-0}" = 1 ]; then echo "== keeping $T"; else trap 'rm -rf "$T"' EXIT; fi
cd "$T" || die "cd $T"

# protmask, but every run leaves a line in $T/protmask-calls: proves no job ran (the
# Snakefile itself asks `protmask schedule --list` which presets are stratified; only a
# `protmask mask` line is a job).
mkdir -p shim
printf '#!/bin/sh\necho "$@" >> %q/protmask-calls\nexec %q "$@"\n' "$T" "$PROTMASK" > shim/protmask
chmod +x shim/protmask
export PATH="$T/shim:$PATH"

# snakemake_run LOG ARGS...: the Snakefile, run from $T (so .snakemake/ lands there).
snakemake_run() {
  local log=$1
  shift
  "$SNAKEMAKE" -s "$P/snakemake/Snakefile" --cores 2 "$@" > "$log" 2>&1
}
show() { echo "---- $1"; tail -n 25 "$1"; echo "----"; }
same() { cmp -s "$1" "$2" || { echo "     $1 and $2 differ"; return 1; }; }
rates_body_same() { # the tables with the file column cut (no commas in these IDs)
  test -s "$1" && test -s "$2" && same <(cut -d, -f2- "$1") <(cut -d, -f2- "$2")
}

# --- inputs -------------------------------------------------------------------------------
DATA=$ROOT/data/NC_000932.faa
GEN=$ROOT/../shared/tools/gen_fasta.py
if [ -f "$GEN" ]; then
  "$PY" "$GEN" --records 20000 --seed 3 -o gen.fa || die "gen_fasta.py failed"
else # a fresh clone without ../shared: a stdlib stand-in of the same shape
  "$PY" - <<'EOF' || die "generating gen.fa failed"
import random
rng = random.Random(3)
with open("gen.fa", "w") as out:
    for n in range(20000):
        seq = "".join(rng.choices("ACDEFGHIKLMNPQRSTVWY", k=int(rng.lognormvariate(5.6, 0.65)) + 10))
        out.write(f">UniRef50_S03{n:09d} Cluster: Synthetic protein {n}\n")
        out.write("".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60)))
EOF
fi
gzip -c gen.fa > gen.fa.gz
# Awkward records: comma and quote in IDs, CRLF lines, blank lines, empty and lowercase
# sequences, a long single line.
printf '\n>a,b first\r\nMKV\r\nLLA\r\n\n>"q"x second\nmkvlla\n>empty\n>long one line\n%s\n>last\nAC\n' \
  "$(printf 'ACDEFGHIKLMNPQRSTVWY%.0s' $(seq 1 40))" > odd.fa

# --- 1. the Snakemake scatter-gather workflow -------------------------------------------------
echo "== snakemake workflow"
# workflow_case NAME INPUT SHARDS EXTRA: workflow output equals the direct run, byte for byte.
workflow_case() {
  local name=$1 input=$2 shards=$3 extra=$4 out=$T/wf-$1
  if snakemake_run "wf-$name.log" --config input="$input" shards="$shards" outdir="$out" extra="$extra"; then
    pass "workflow $name: input=$(basename "$input") shards=$shards extra='$extra' runs"
  else
    fail "workflow $name runs"; show "wf-$name.log"; return
  fi
  # shellcheck disable=SC2086  # extra is a list of flags, as in the Snakefile
  protmask mask "$input" -o "direct-$name.fa" -r "direct-$name.csv" $extra 2> /dev/null
  check "workflow $name: masked.fa byte-identical to protmask mask" same "$out/masked.fa" "direct-$name.fa"
  check "workflow $name: rates.csv byte-identical (file column = input as given)" \
    same "$out/rates.csv" "direct-$name.csv"
}
workflow_case data "$DATA" 3 ""
rates_body_same "$T/wf-data/rates.csv" direct-data.csv && pass "workflow data: rates.csv equal without the file column" ||
  fail "workflow data: rates.csv equal without the file column"
check "workflow data: a log per job, the mask logs with protmask's summary line" \
  bash -c "test -s '$T/wf-data/logs/split/001.log' && test -e '$T/wf-data/logs/gather.log' &&
           test \$(grep -l '^protmask: ' '$T'/wf-data/logs/mask/*.log | wc -l) -eq 3"
check "workflow data: a benchmark per job (split, 3 mask, gather)" \
  test "$(find "$T/wf-data/benchmarks" -name '*.tsv' | wc -l)" -eq 5
check "workflow data: the 3 shards hold all 85 records, split by bytes" \
  bash -c "grep -ho '[0-9]* records\\?' '$T'/wf-data/logs/mask/*.log | awk '{s+=\$1; n++} END {exit !(s==85 && n==3)}'"
workflow_case gz-esm2 "$T/gen.fa.gz" 4 "--preset esm2 --seed 7"
check "workflow gz-esm2: extra reached protmask (ESM-2's <mask> token)" grep -q '<mask>' "$T/wf-gz-esm2/masked.fa"
workflow_case replicates "$T/gen.fa" 5 "--replicates 2 --positions -w 0"
workflow_case odd "$T/odd.fa" 3 "--seed 11"
workflow_case empty-shards "$P/snakemake/wrapper/test/proteins.fa" 6 ""

# --- 2. bad input -------------------------------------------------------------------------
echo "== bad configs stop before any job runs"
rm -f protmask-calls
snakemake_run bad-noinput.log --config shards=3 outdir="$T/bad1"
rc=$?
check "missing 'input': non-zero exit" test $rc -ne 0
check "missing 'input': Snakemake's validation error names it" \
  grep -q "'input' is a required property" bad-noinput.log
snakemake_run bad-nofile.log --config input="$T/no-such.fa" shards=3 outdir="$T/bad2"
rc=$?
check "missing input file: non-zero exit" test $rc -ne 0
check "missing input file: Snakemake's MissingInputException names it" \
  bash -c "grep -q 'Missing input files' bad-nofile.log && grep -q 'no-such.fa' bad-nofile.log"
snakemake_run bad-mdlm.log --config input="$DATA" shards=3 outdir="$T/bad3" extra="--preset mdlm"
rc=$?
check "stratified timesteps with shards>1: refused (exit $rc) with the reason" \
  bash -c "test $rc -ne 0 && grep -q 'stratified timesteps' bad-mdlm.log"
check "bad configs: no protmask job ran, no output directory made" \
  bash -c "! grep -qs '^mask ' protmask-calls && test ! -e '$T/bad1' && test ! -e '$T/bad2' && test ! -e '$T/bad3'"
printf '>ok\nMKV\n>bad thing\nMK1V\n' > broken.fa
snakemake_run bad-record.log --config input="$T/broken.fa" shards=1 outdir="$T/bad4"
rc=$?
check "protmask's error inside a job: non-zero exit, the message in that job's log" \
  bash -c "test $rc -ne 0 && grep -q 'bad' '$T/bad4/logs/mask/001.log' && grep -qi 'error' '$T/bad4/logs/mask/001.log'"
check "protmask's error inside a job: no masked.fa left" test ! -e "$T/bad4/masked.fa"

# --- 2b. issue 12: many files, compressed tables, the threads default ----------------------
echo "== issue 12: many input files"
# A folder of inputs as users have them: plain, gzipped (large enough to be split), an
# awkward name (comma and quote: the file column must be quoted as protmask quotes it),
# one given as ./x (the file column is the path as given, not a normalised one) and twice.
mkdir -p many
cp "$DATA" many/a.fa
head -n 40000 gen.fa | gzip -c > many/b.fa.gz
cp odd.fa 'many/c,"d".fa'
cp "$P/snakemake/wrapper/test/proteins.fa" many/e.fa
B_MB=$("$PY" -c 'import os; print(os.path.getsize("many/b.fa.gz") / 2e6)') # half of b's size
cat > many.yaml <<YAML
input: [./many/a.fa, many/b.fa.gz, 'many/c,"d".fa', many/e.fa, ./many/a.fa]
shards: 3
split_min_mb: $B_MB
outdir: $T/wf-many
extra: "--seed 5 --replicates 2"
YAML
rm -f protmask-calls
if snakemake_run wf-many.log --configfile many.yaml; then
  pass "issue12 many-files: a list of 5 inputs (one compressed, one given twice) runs"
else
  fail "issue12 many-files: a list of 5 inputs runs"; show wf-many.log
fi
protmask mask ./many/a.fa many/b.fa.gz 'many/c,"d".fa' many/e.fa ./many/a.fa --seed 5 --replicates 2 \
  -o direct-many.fa -r direct-many.csv 2> /dev/null
check "issue12 many-files: gathered FASTA equals one direct run over all the files" \
  same "$T/wf-many/masked.fa" direct-many.fa
check "issue12 many-files: gathered rates equal the direct run's, file column included" \
  same "$T/wf-many/rates.csv" direct-many.csv
check "issue12 many-files: the file column names each input as given (./many/a.fa; \"many/c,\"\"d\"\".fa\" quoted)" \
  bash -c "grep -q '^\./many/a\.fa,' '$T/wf-many/rates.csv' && grep -q '^\"many/c,\"\"d\"\"\.fa\",' '$T/wf-many/rates.csv'"
# The large input is split into 3 shards; the small ones are masked whole, from where they are.
check "issue12 many-files: only the large input is split (1 split job; 3 + 4 mask jobs)" \
  bash -c "test \$(ls '$T'/wf-many/logs/split/*.log | wc -l) -eq 1 && test -s '$T/wf-many/logs/split/002.log' &&
           test \$(ls '$T'/wf-many/logs/mask/*.log | wc -l) -eq 7"
check "issue12 many-files: small inputs are read by protmask where they are, not copied" \
  grep -q -- '^mask many/e.fa ' protmask-calls

echo "== issue 12: a glob as input"
snakemake_run wf-glob.log --config 'input=many/*.fa*' shards=2 outdir="$T/wf-glob" extra="--preset esm2"
rc=$?
(export LC_ALL=C; protmask mask many/*.fa* --preset esm2 -o direct-glob.fa -r direct-glob.csv 2> /dev/null)
check "issue12 many-files glob: input='many/*.fa*' runs (exit $rc)" test $rc -eq 0
check "issue12 many-files glob: FASTA and rates equal protmask mask many/*.fa* (LC_ALL=C order), 4 files" \
  bash -c "cmp -s '$T/wf-glob/masked.fa' direct-glob.fa && cmp -s '$T/wf-glob/rates.csv' direct-glob.csv &&
           test \$(tail -n +2 direct-glob.csv | cut -c1-6 | sort -u | wc -l) -eq 4"
rm -f protmask-calls
snakemake_run wf-noglob.log --config 'input=[many/a.fa, "nothing/*.fa"]' outdir="$T/wf-noglob"
rc=$?
check "issue12 many-files glob: a pattern matching nothing is refused before any job, naming it" \
  bash -c "test $rc -ne 0 && grep -q \"the pattern 'nothing/\*.fa' matches no file\" wf-noglob.log &&
           ! grep -qs '^mask ' protmask-calls && test ! -e '$T/wf-noglob'"

echo "== issue 12: stratified timesteps with many files"
snakemake_run wf-mdlm.log --config 'input=[many/a.fa, many/e.fa]' shards=1 outdir="$T/wf-mdlm" extra="--preset mdlm"
rc=$?
protmask mask many/a.fa many/e.fa --preset mdlm -o direct-mdlm.fa -r direct-mdlm.csv 2> /dev/null
check "issue12 many-files: --preset mdlm with every input masked whole equals the direct run" \
  bash -c "test $rc -eq 0 && cmp -s '$T/wf-mdlm/masked.fa' direct-mdlm.fa && cmp -s '$T/wf-mdlm/rates.csv' direct-mdlm.csv"
snakemake_run wf-mdlm2.log --configfile many.yaml --config outdir="$T/wf-mdlm2" extra="--preset mdlm"
rc=$?
check "issue12 many-files: --preset mdlm refused when an input would be split, naming it" \
  bash -c "test $rc -ne 0 && grep -q \"stratified timesteps.*'many/b.fa.gz' would be split\" wf-mdlm2.log"

echo "== issue 12: gather_rates.py on compressed tables"
GR="$PY $P/gather_rates.py"
protmask mask many/a.fa 'many/c,"d".fa' many/e.fa --seed 9 -o /dev/null -r direct-3.csv 2> /dev/null
protmask mask many/e.fa 'many/c,"d".fa' many/e.fa --seed 9 -o /dev/null -r direct-ece.tsv 2> /dev/null
protmask mask many/a.fa many/a.fa --seed 9 -o /dev/null -r direct-aa.csv 2> /dev/null
ok=1
for ext in gz bz2 xz zst; do
  protmask mask many/a.fa --seed 9 -o /dev/null -r "t-a.csv.$ext" 2> /dev/null || ok=0
  protmask mask many/e.fa --seed 9 -o /dev/null -r "t-e.tsv.$ext" 2> /dev/null || ok=0
done
protmask mask 'many/c,"d".fa' --seed 9 -o /dev/null -r t-c.csv.zst 2> /dev/null || ok=0
protmask mask 'many/c,"d".fa' --seed 9 -o /dev/null -r t-c.tsv.xz 2> /dev/null || ok=0
protmask mask many/e.fa --seed 9 -o /dev/null -r t-e.csv 2> /dev/null || ok=0
check "issue12 gather_rates: protmask wrote the compressed tables" test $ok = 1
check "issue12 gather_rates: .gz, .zst and plain CSV tables, one --file each, give the direct run's table" \
  bash -c "$GR --file many/a.fa --file 'many/c,\"d\".fa' --file many/e.fa g1.csv t-a.csv.gz t-c.csv.zst t-e.csv &&
           cmp -s g1.csv direct-3.csv"
check "issue12 gather_rates: .bz2 and .xz CSV tables, one --file for all" \
  bash -c "$GR --file many/a.fa g2.csv t-a.csv.bz2 t-a.csv.xz && cmp -s g2.csv direct-aa.csv"
check "issue12 gather_rates: .gz, .xz, .zst TSV tables into a .tsv.gz that decompresses to the direct TSV" \
  bash -c "$GR --file many/e.fa --file 'many/c,\"d\".fa' --file many/e.fa g3.tsv.gz t-e.tsv.gz t-c.tsv.xz t-e.tsv.zst &&
           cmp -s <(gzip -dc g3.tsv.gz) direct-ece.tsv"
check "issue12 gather_rates: .xz and .zst outputs decompress to the direct run's table" \
  bash -c "$GR --file many/a.fa --file 'many/c,\"d\".fa' --file many/e.fa g4.csv.xz t-a.csv.bz2 t-c.csv.zst t-e.csv &&
           $GR --file many/a.fa --file 'many/c,\"d\".fa' --file many/e.fa g4.csv.zst t-a.csv.xz t-c.csv.zst t-e.csv &&
           cmp -s <(xz -dc g4.csv.xz) direct-3.csv &&
           cmp -s <($PY -c 'import sys, zstandard; sys.stdout.buffer.write(zstandard.ZstdDecompressor().stream_reader(open(\"g4.csv.zst\", \"rb\")).read())') direct-3.csv"
# Without the zstandard module: one clear line, exit 1, no output left.
"$PY" -c 'import runpy, sys; sys.modules["zstandard"] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' \
  "$P/gather_rates.py" g5.csv t-a.csv.gz t-c.csv.zst > /dev/null 2> g5.err
rc=$?
check "issue12 gather_rates: a .zst table without the zstandard module is one clear error (exit $rc)" \
  bash -c "test $rc -eq 1 && test \$(wc -l < g5.err) -eq 1 && grep -q \"t-c.csv.zst: zstd needs the Python module 'zstandard'\" g5.err && test ! -e g5.csv"
head -c 200 t-a.csv.gz > trunc.csv.gz
$GR g6.csv t-a.csv.gz trunc.csv.gz 2> g6.err
rc=$?
check "issue12 gather_rates: a truncated .gz table is one error naming it (exit $rc), no output left" \
  bash -c "test $rc -eq 1 && test \$(wc -l < g6.err) -eq 1 && grep -q '^gather_rates.py: trunc.csv.gz: ' g6.err && test ! -e g6.csv"
$GR g7.csv t-e.tsv.gz 2> g7.err
rc=$?
check "issue12 gather_rates: TSV tables into a .csv output are refused (exit $rc), not mixed" \
  bash -c "test $rc -eq 1 && grep -q 't-e.tsv.gz: header .* is not that of a CSV rates table' g7.err && test ! -e g7.csv"
$GR --file x --file y g8.csv t-a.csv.gz t-a.csv.gz t-a.csv.gz 2> g8.err
rc=$?
check "issue12 gather_rates: 2 --file names for 3 tables is an error (exit $rc)" \
  bash -c "test $rc -eq 1 && grep -q '2 --file names for 3 tables' g8.err && test ! -e g8.csv"

echo "== issue 12: the threads default agrees with the docs"
SCHEMA_THREADS=$("$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["properties"]["threads"]["default"])' \
  "$P/snakemake/config.schema.yaml")
README_THREADS=$(sed -n 's/^| `threads` |.*| \([0-9]*\) |$/\1/p' "$P/snakemake/README.md")
DOCS_THREADS=$(sed -n 's/.*`threads` in the Snakemake config, default \([0-9]*\).*/\1/p' "$ROOT/docs/pipelines.md")
EXAMPLE_THREADS=$(sed -n 's/^threads: *\([0-9]*\).*/\1/p' "$P/snakemake/config.example.yaml")
check "issue12 threads default: schema ($SCHEMA_THREADS) = snakemake/README.md ($README_THREADS) = pipelines.md ($DOCS_THREADS) = config.example.yaml ($EXAMPLE_THREADS)" \
  bash -c "test -n '$SCHEMA_THREADS' && test '$SCHEMA_THREADS' = '$README_THREADS' &&
           test '$SCHEMA_THREADS' = '$DOCS_THREADS' && test '$SCHEMA_THREADS' = '$EXAMPLE_THREADS'"
rm -f protmask-calls
"$SNAKEMAKE" -s "$P/snakemake/Snakefile" --cores 8 --config input=many/e.fa shards=1 outdir="$T/wf-threads" > wf-threads.log 2>&1
check "issue12 threads default: a run without 'threads' (--cores 8) passes -j $DOCS_THREADS, as documented" \
  bash -c "test -n '$DOCS_THREADS' && test \$(grep -c '^mask ' protmask-calls) -eq 1 && grep -Eq -- ' -j $DOCS_THREADS( |\$)' protmask-calls"

# --- 2c. issue 15: regions in the workflow ---------------------------------------------------
echo "== issue 15: regions"
# A regions file over the many/ inputs: IDs in every input (so in every shard of the split
# one, and in none of some shards), IDs with a comma and a quote, comments, a blank line,
# overlapping intervals. Intervals from the records' lengths, so every one is in range.
"$PY" - <<'EOF' || die "writing regions.bed failed"
import gzip
def records(path):
    opener = gzip.open if path.endswith(".gz") else open
    rid, n = None, 0
    with opener(path, "rt", newline="") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if rid is not None:
                    yield rid, n
                rid, n = line[1:].split()[0], 0
            else:
                n += len(line.strip())
    if rid is not None:
        yield rid, n
out = ["# regions for the workflow test", ""]
only_b = []
for path, every in (("many/a.fa", 9), ("many/b.fa.gz", 37), ('many/c,"d".fa', 1), ("many/e.fa", 2)):
    for k, (rid, n) in enumerate(records(path)):
        if n >= 2 and k % every == 0:
            lines = [f"{rid}\t{n // 4}\t{max(n // 4 + 1, 3 * n // 4)}\tname"]
            if k % (2 * every) == 0:  # an overlapping second interval
                lines.append(f"{rid}\t{n // 8}\t{n // 4 + 1}")
            out += lines
            only_b += lines if path == "many/b.fa.gz" else []
open("regions.bed", "w").write("\n".join(out) + "\n")
open("regions-b.bed", "w").write("\n".join(only_b) + "\n")  # IDs of gen.fa only
EOF
RN=$(grep -vc '^#' regions.bed)
rm -f protmask-calls
RX="--seed 5 --replicates 2 --span-mean 3 --span-max 5"
snakemake_run wf-reg.log --configfile many.yaml --config outdir="$T/wf-reg" extra="$RX" regions=regions.bed
rc=$?
check "issue15 regions: a list of 5 inputs (one split in 3) with regions=regions.bed ($RN lines) runs (exit $rc)" test $rc -eq 0
[ $rc -eq 0 ] || show wf-reg.log
# shellcheck disable=SC2086
protmask mask ./many/a.fa many/b.fa.gz 'many/c,"d".fa' many/e.fa ./many/a.fa $RX --regions regions.bed \
  -o direct-reg.fa -r direct-reg.csv 2> /dev/null
check "issue15 regions: gathered FASTA and rates equal one direct run with --regions (spans too)" \
  bash -c "test -s direct-reg.csv && cmp -s '$T/wf-reg/masked.fa' direct-reg.fa && cmp -s '$T/wf-reg/rates.csv' direct-reg.csv"
check "issue15 regions: the regions took effect (the direct run differs from one without them)" \
  bash -c "protmask mask ./many/a.fa many/b.fa.gz 'many/c,\"d\".fa' many/e.fa ./many/a.fa $RX -o noreg.fa 2> /dev/null &&
           test -s noreg.fa && ! cmp -s noreg.fa direct-reg.fa"
check "issue15 regions: each of the 7 mask jobs got --regions regions.bed --regions-mode only --regions-partial" \
  test "$(grep -c -- ' --regions regions\.bed --regions-mode only --regions-partial ' protmask-calls)" -eq 7
check "issue15 regions: a shard without some IDs counts them in its log, not an error" \
  bash -c "grep -q \"IDs in regions file 'regions.bed' match no input record (--regions-partial)\" '$T'/wf-reg/logs/mask/002.log"

snakemake_run wf-regx.log --config input="$T/gen.fa" shards=4 outdir="$T/wf-regx" extra="--seed 3 --mode exact" \
  regions="$T/regions-b.bed" regions_mode=except
rc=$?
protmask mask "$T/gen.fa" --seed 3 --mode exact --regions "$T/regions-b.bed" --regions-mode except \
  -o direct-regx.fa -r direct-regx.csv 2> /dev/null
check "issue15 regions: regions_mode=except, 4 shards, gathered FASTA and rates equal the direct run (exit $rc)" \
  bash -c "test $rc -eq 0 && test -s direct-regx.csv && cmp -s '$T/wf-regx/masked.fa' direct-regx.fa &&
           cmp -s '$T/wf-regx/rates.csv' direct-regx.csv"

# An ID no input has: every mask job passes (--regions-partial), the gather refuses it.
{ sed -n '1,5p' regions.bed; printf 'no_such_protein\t0\t5\n'; sed -n '6,$p' regions.bed; } > unknown.bed
snakemake_run wf-regu.log --configfile many.yaml --config outdir="$T/wf-regu" extra="$RX" regions=unknown.bed
rc=$?
protmask mask ./many/a.fa many/b.fa.gz 'many/c,"d".fa' many/e.fa ./many/a.fa --regions unknown.bed \
  -o /dev/null 2> direct-regu.err
want=$(sed -n "s/^.*\(regions file 'unknown.bed', line 6: no input record has ID 'no_such_protein'\).*$/\1/p" direct-regu.err)
check "issue15 regions: an unknown ID fails the workflow, named (file, line and ID, as protmask words it) (exit $rc)" \
  bash -c "test $rc -ne 0 && test -n \"$want\" && test \$(wc -l < '$T/wf-regu/logs/gather.log') -eq 1 &&
           grep -qF \"gather_rates.py: $want\" '$T/wf-regu/logs/gather.log'"
check "issue15 regions: an unknown ID leaves no masked.fa or rates.csv" \
  bash -c "test ! -e '$T/wf-regu/masked.fa' && test ! -e '$T/wf-regu/rates.csv'"
printf 'also_missing\t1\t2\n' >> unknown.bed
snakemake_run wf-regu2.log --config input=many/e.fa shards=2 outdir="$T/wf-regu2" regions=unknown.bed
rc=$?
check "issue15 regions: several unknown IDs: the first named, the rest counted (exit $rc)" \
  bash -c "test $rc -ne 0 && grep -Eq \"line [0-9]+: no input record has ID '[^']+' \\([0-9]+ more IDs like it\\)\" '$T/wf-regu2/logs/gather.log'"

# Bad configs stop before any job runs.
rm -f protmask-calls
snakemake_run wf-rege.log --config input=many/e.fa outdir="$T/wf-rege" extra="--seed 1 --regions regions.bed"
rc=$?
check "issue15 regions: --regions in extra is refused before any job, pointing to the regions key (exit $rc)" \
  bash -c "test $rc -ne 0 && grep -q 'has a --regions flag: set the config keys regions=FILE' wf-rege.log &&
           ! grep -qs '^mask ' protmask-calls && test ! -e '$T/wf-rege'"
snakemake_run wf-regm.log --config input=many/e.fa outdir="$T/wf-regm" regions_mode=except
rc=$?
check "issue15 regions: regions_mode without regions is refused before any job (exit $rc)" \
  bash -c "test $rc -ne 0 && grep -q \"regions_mode='except' needs regions=FILE\" wf-regm.log &&
           ! grep -qs '^mask ' protmask-calls && test ! -e '$T/wf-regm'"
snakemake_run wf-regb.log --config input=many/e.fa outdir="$T/wf-regb" regions=regions.bed regions_mode=inside
rc=$?
check "issue15 regions: regions_mode=inside is refused by the schema (exit $rc)" \
  bash -c "test $rc -ne 0 && grep -q 'inside' wf-regb.log && ! grep -qs '^mask ' protmask-calls && test ! -e '$T/wf-regb'"
snakemake_run wf-regn.log --config input=many/e.fa shards=2 outdir="$T/wf-regn" regions=no-such.bed
rc=$?
check "issue15 regions: a missing regions file stops the DAG before any job, named (exit $rc)" \
  bash -c "test $rc -ne 0 && grep -q 'Missing input files' wf-regn.log && grep -q 'no-such.bed' wf-regn.log &&
           ! grep -qs '^mask ' protmask-calls"
# A bad interval is protmask's one-line error in a mask job's log, naming file and line.
{ cat regions.bed; printf '%s\t0\t100000\n' "$(sed -n '1{s/^>\([^ ]*\).*/\1/p;q}' many/e.fa)"; } > long.bed
snakemake_run wf-regl.log --config input=many/e.fa shards=2 outdir="$T/wf-regl" regions=long.bed
rc=$?
check "issue15 regions: an interval past a record's end fails its mask job, naming file and line (exit $rc)" \
  bash -c "test $rc -ne 0 && grep -q \"regions file 'long.bed', line $(wc -l < long.bed)\" '$T'/wf-regl/logs/mask/*.log &&
           test ! -e '$T/wf-regl/masked.fa'"

# --- 2d. issue 20, finding 9: flags in extra that break the gather; the gathered manifest -----
echo "== issue 20 (9): flags in extra that would break the gather are refused"
# refused_case EXTRA SHOWN INSTEAD: refused before any job runs, with `has SHOWN: ` and
# the way instead in the message.
refused_case() {
  rm -f protmask-calls
  snakemake_run wf-refuse.log --config input=many/e.fa shards=2 outdir="$T/wf-refuse" extra="$1"
  local rc=$?
  check "issue20_9 extra='$1' refused before any job (exit $rc), naming $2 and what to do instead" \
    bash -c "test $rc -ne 0 && grep -qF -- \"has $2: \" wf-refuse.log && grep -qF -- '$3' wf-refuse.log &&
             ! grep -qs '^mask ' protmask-calls && test ! -e '$T/wf-refuse'"
}
refused_case "--seed 7 --manifest m.json" --manifest "set the config key manifest=true"
refused_case "--manifest=m.json" --manifest "set the config key manifest=true"
refused_case "-o x.fa" -o "set the config key outdir=DIR"
refused_case "--output=x.fa" --output "set the config key outdir=DIR"
refused_case "-qox.fa" -o "set the config key outdir=DIR"
refused_case "-O out" -O "set the config key outdir=DIR"
refused_case "-r x.csv --seed 3" -r "set the config key outdir=DIR"
refused_case "--rates=x.tsv" --rates "set the config key outdir=DIR"
refused_case "--dataset d.parquet" --dataset "the workflow gathers no dataset"
refused_case "--input-list more.txt" --input-list "list them in the config key input"
refused_case "-j 3" -j "set the config key threads=N"
refused_case "--seed 7 other.fa" "'other.fa', which every mask job would mask as an input of its own" \
  "list inputs in the config key input"
FLAGS="--positions -qw 0 --seed=3 --mask-token '<mask>' --corrupt 0.8,0.1,0.1"
snakemake_run wf-flags.log --config input=many/e.fa shards=2 outdir="$T/wf-flags" extra="$FLAGS"
rc=$?
eval protmask mask many/e.fa "$FLAGS" -o direct-flags.fa -r direct-flags.csv
check "issue20_9 masking flags (switches, a cluster, --flag=value, a quoted value) still pass (exit $rc)" \
  bash -c "test $rc -eq 0 && cmp -s '$T/wf-flags/masked.fa' direct-flags.fa && cmp -s '$T/wf-flags/rates.csv' direct-flags.csv"

echo "== issue 20 (9): manifest=true writes the direct run's manifest"
# manifests_agree.py GATHERED DIRECT [content]: the same manifest (version 2) but for the
# output paths, and with `content` the FASTA's stored bytes (a gathered .gz is other BGZF
# blocks than a direct run's; its content digest must still agree).
cat > manifests_agree.py <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
content = sys.argv[3:] == ["content"]
OUT = ("--output=", "--outdir=", "--rates=", "--dataset=", "--manifest=")
def out(e):
    drop = {"path"} | ({"bytes", "sha256"} if content and e["role"] == "fasta" else set())
    return {k: v for k, v in e.items() if k not in drop}
bad = [k for k in ("tool", "manifest_version", "version", "rng_scheme", "working_directory",
                   "options", "inputs", "regions") if a.get(k) != b.get(k)]
if [out(e) for e in a["outputs"]] != [out(e) for e in b["outputs"]]:
    bad.append("outputs")
if [t for t in a["command_line"] if not t.startswith(OUT)] != \
        [t for t in b["command_line"] if not t.startswith(OUT)]:
    bad.append("command_line")
if a.get("manifest_version") != 2:
    bad.append("manifest_version is not 2")
if bad:
    print(f"     {sys.argv[1]} and {sys.argv[2]} differ in: {', '.join(bad)}")
sys.exit(bool(bad))
EOF
AGREE="$PY $T/manifests_agree.py"
BED=$ROOT/data/regions/accd_idr.bed
rm -f protmask-calls
snakemake_run wf-man.log --config input="$DATA" shards=3 outdir="$T/wf-man" manifest=true \
  regions="$BED" extra="--seed 7 --span-mean 3"
rc=$?
check "issue20_9 manifest=true, 3 shards, regions: runs (exit $rc) and writes OUTDIR/manifest.json" \
  test $rc -eq 0 -a -s "$T/wf-man/manifest.json"
[ $rc -eq 0 ] || { show wf-man.log; show "$T/wf-man/logs/gather.log"; }
check "issue20_9 manifest: each mask job wrote its part's manifest, a temporary file removed after the gather" \
  bash -c "test \$(grep -c -- ' --manifest $T/wf-man/parts/00[1-3]\.json ' protmask-calls) -eq 3 &&
           test ! -e '$T/wf-man/parts/001.json'"
protmask verify --manifest "$T/wf-man/manifest.json" "$DATA" "$T/wf-man/masked.fa" > verify-man.log 2>&1
rc=$?
check "issue20_9 manifest: protmask verify --manifest OUTDIR/manifest.json INPUT OUTDIR/masked.fa accepts it (exit $rc)" \
  test $rc -eq 0
[ $rc -eq 0 ] || cat verify-man.log
protmask mask "$DATA" -o direct-man.fa -r direct-man.csv --manifest direct-man.json --seed 7 --span-mean 3 \
  --regions "$BED" 2> /dev/null
check "issue20_9 manifest: options, inputs, outputs' digests, regions and command line equal the direct run's" \
  $AGREE "$T/wf-man/manifest.json" direct-man.json
check "issue20_9 manifest: its command line names the gathered FASTA" \
  grep -qF "\"--output=$T/wf-man/masked.fa\"," "$T/wf-man/manifest.json"

# Many inputs (one split in 3, one gzipped, one given twice), the key as a path, no regions.
snakemake_run wf-many-man.log --configfile many.yaml --config outdir="$T/wf-many-man" \
  manifest="$T/wf-many-man/set.json"
rc=$?
protmask mask ./many/a.fa many/b.fa.gz 'many/c,"d".fa' many/e.fa ./many/a.fa --seed 5 --replicates 2 \
  -o direct-many-man.fa -r direct-many-man.csv --manifest direct-many-man.json 2> /dev/null
{ cat many/a.fa; gzip -dc many/b.fa.gz; cat 'many/c,"d".fa' many/e.fa many/a.fa; } > many-all.fa
check "issue20_9 manifest=PATH over 5 inputs (one split, one gzipped, one twice): runs, verify accepts it (exit $rc)" \
  bash -c "test $rc -eq 0 && protmask verify --manifest '$T/wf-many-man/set.json' many-all.fa '$T/wf-many-man/masked.fa' 2> verify-many.log"
check "issue20_9 manifest=PATH over 5 inputs: equal to the direct run's (record counts, the gzipped input's digests)" \
  $AGREE "$T/wf-many-man/set.json" direct-many-man.json
snakemake_run wf-man-bad.log --config input=many/e.fa outdir="$T/wf-man-bad" manifest=yes
rc=$?
check "issue20_9 manifest=yes (neither a boolean nor a .json path) refused before any job (exit $rc)" \
  bash -c "test $rc -ne 0 && grep -q \"manifest='yes': give true\" wf-man-bad.log && test ! -e '$T/wf-man-bad'"
snakemake_run wf-man-regu.log --config input=many/e.fa shards=2 outdir="$T/wf-man-regu" regions=unknown.bed \
  manifest=true
rc=$?
check "issue20_9 manifest: a failing gather (an unknown regions ID) leaves no manifest, FASTA or rates (exit $rc)" \
  bash -c "test $rc -ne 0 && test ! -e '$T/wf-man-regu/manifest.json' && test ! -e '$T/wf-man-regu/masked.fa' &&
           test ! -e '$T/wf-man-regu/rates.csv'"

echo "== issue 20 (9): gather_manifest.py on its own"
# Two parts of data/NC_000932.faa masked apart, gathered into a gzipped FASTA named as a
# direct run of the gzipped input names its outputs.
GM="$PY $P/gather_manifest.py"
mkdir -p gm && gzip -c "$DATA" > gm/in.fa.gz
"$PY" -c 'import sys; d = open(sys.argv[1]).read(); s = d.index(">", 19000); open(sys.argv[2], "w").write(d[:s]); open(sys.argv[3], "w").write(d[s:])' \
  "$DATA" gm/p1.fa gm/p2.fa
(
  cd gm || exit 1
  protmask mask p1.fa --seed 4 -o m1.fa -r r1.csv --manifest m1.json
  protmask mask p2.fa --seed 4 -o m2.fa -r r2.csv --manifest m2.json
  protmask mask p2.fa --seed 5 -o m3.fa -r r3.csv --manifest m3.json
  cat m1.fa m2.fa | gzip -c > masked.fa.gz
  "$PY" "$P/gather_rates.py" --file in.fa.gz rates.csv r1.csv r2.csv
  protmask mask in.fa.gz --seed 4 -o direct.fa.gz -r direct.csv --manifest direct.json
) 2> /dev/null
(cd gm && $GM out.json --fasta masked.fa.gz --as direct.fa.gz --rates rates.csv --as direct.csv \
  --input in.fa.gz m1.json m2.json 2> out.err)
rc=$?
check "issue20_9 gather_manifest: gzipped input and FASTA, --as names: the direct run's manifest, verify accepts it (exit $rc)" \
  bash -c "test $rc -eq 0 && cd gm && protmask verify --manifest out.json in.fa.gz masked.fa.gz 2> verify.err &&
           $AGREE out.json direct.json content"
(cd gm && $GM bad.json --fasta masked.fa.gz --rates rates.csv --input in.fa.gz m1.json m3.json 2> bad.err)
rc=$?
check "issue20_9 gather_manifest: parts masked with other options are one error naming the option (exit $rc), no output" \
  bash -c "test $rc -eq 1 && test \$(wc -l < gm/bad.err) -eq 1 &&
           grep -q '^gather_manifest.py: m3.json: options.seed is 5, but m1.json has 4' gm/bad.err && test ! -e gm/bad.json"
"$PY" -c 'import json, sys; m = json.load(open(sys.argv[1])); del m["manifest_version"]; json.dump(m, open(sys.argv[2], "w"))' \
  gm/m2.json gm/old.json
(cd gm && $GM bad.json --fasta masked.fa.gz --rates rates.csv --input in.fa.gz m1.json old.json 2> old.err)
rc=$?
check "issue20_9 gather_manifest: a version 1 part manifest (protmask 0.2) is refused, naming the version it reads (exit $rc)" \
  bash -c "test $rc -eq 1 && grep -q '^gather_manifest.py: old.json: manifest version 1 .* reads version 2' gm/old.err &&
           test ! -e gm/bad.json"
(cd gm && $GM bad.json --fasta masked.fa.gz --rates rates.csv --regions "$BED" --input in.fa.gz m1.json m2.json 2> reg.err)
rc=$?
check "issue20_9 gather_manifest: --regions for parts masked without regions is an error (exit $rc)" \
  bash -c "test $rc -eq 1 && grep -q 'the parts were masked without regions' gm/reg.err && test ! -e gm/bad.json"
"$PY" -c 'import sys, zstandard; sys.stdout.buffer.write(zstandard.ZstdCompressor().compress(open(sys.argv[1], "rb").read()))' \
  "$DATA" > gm/in.fa.zst
# Without the zstandard module: `zstd -dc` if there is one, else one clear error.
no_zstandard() {
  "$PY" -c 'import runpy, sys; sys.modules["zstandard"] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' \
    "$P/gather_manifest.py" "$@"
}
(cd gm && no_zstandard zst.json --fasta masked.fa.gz --rates rates.csv --input in.fa.zst m1.json m2.json 2> zst.err)
rc=$?
if command -v zstd > /dev/null; then
  check "issue20_9 gather_manifest: a .zst input without the zstandard module is read with zstd -dc (exit $rc)" \
    bash -c "test $rc -eq 0 && grep -q \"\\\"content_sha256\\\": \\\"\$(sha256sum < '$DATA' | cut -c1-64)\\\"\" gm/zst.json"
else
  check "issue20_9 gather_manifest: a .zst input without zstandard or zstd is one clear error (exit $rc)" \
    bash -c "test $rc -eq 1 && grep -q \"in.fa.zst: zstd needs the Python module 'zstandard'\" gm/zst.err && test ! -e gm/zst.json"
fi
(cd gm && $GM zst2.json --fasta masked.fa.gz --rates rates.csv --input in.fa.zst m1.json m2.json 2> zst2.err)
rc=$?
check "issue20_9 gather_manifest: a .zst input's content digest is the decompressed input's (exit $rc)" \
  bash -c "test $rc -eq 0 && grep -q \"\\\"content_sha256\\\": \\\"\$(sha256sum < '$DATA' | cut -c1-64)\\\"\" gm/zst2.json"

# --- 3. the Snakemake wrapper ---------------------------------------------------------------
echo "== snakemake wrapper"
mkdir -p wrapper-test && cp -r "$P/snakemake/wrapper/test/." wrapper-test/
if (cd wrapper-test && "$SNAKEMAKE" -s "$P/snakemake/wrapper/test/Snakefile" --cores 2 > ../wrapper.log 2>&1); then
  pass "wrapper test/Snakefile runs"
else
  fail "wrapper test/Snakefile runs"; show wrapper.log
fi
W=$T/wrapper-test
protmask mask "$W/proteins.fa" --seed 7 --preset esm2 -o w7.fa -r w7.csv 2> /dev/null
protmask mask "$W/proteins.fa" -o w-default.fa 2> /dev/null
check "wrapper: params.extra='--seed 7 --preset esm2' equals the direct run" \
  bash -c "cmp -s '$W/out/extra.fa' w7.fa && rates_a=\$(cut -d, -f2- '$W/out/extra.csv') && test \"\$rates_a\" = \"\$(cut -d, -f2- w7.csv)\""
check "wrapper: named params seed=7 preset=esm2 equal the direct run" \
  bash -c "cmp -s '$W/out/named.fa' w7.fa && rates_a=\$(cut -d, -f2- '$W/out/named.csv') && test \"\$rates_a\" = \"\$(cut -d, -f2- w7.csv)\""
check "wrapper: seed=8 gives a different output (the seed is not dropped)" \
  bash -c "! cmp -s '$W/out/seed8.fa' w7.fa"
check "wrapper: no params gives protmask's defaults" same "$W/out/default.fa" w-default.fa
protmask mask "$W/proteins.fa" --regions "$W/regions.bed" --regions-mode except --span-mean 4 --span-max 6 \
  --seed 3 -o w-regions.fa -r w-regions.csv 2> /dev/null
check "issue15 regions: wrapper input.regions + params regions_mode/span_mean/span_max equal the direct run" \
  bash -c "test -s w-regions.fa && cmp -s '$W/out/regions.fa' w-regions.fa &&
           rates_a=\$(cut -d, -f2- '$W/out/regions.csv') && test \"\$rates_a\" = \"\$(cut -d, -f2- w-regions.csv)\""
mkdir -p wrapper-bad && cp "$W/proteins.fa" wrapper-bad/
cat > wrapper-bad/Snakefile <<EOF
rule typo:
    input: "proteins.fa"
    output: "out.fa"
    log: "typo.log"
    params: sede=7
    wrapper: "file:$P/snakemake/wrapper"
EOF
(cd wrapper-bad && "$SNAKEMAKE" --cores 1 > run.log 2>&1)
rc=$?
check "wrapper: an unknown param (sede=7) is protmask's usage error, not dropped" \
  bash -c "test $rc -ne 0 && grep -q -- '--sede' wrapper-bad/typo.log"

# --- 4. the Nextflow module and workflow, rendered from main.nf ------------------------------
echo "== nextflow module (rendered script blocks; Nextflow itself is not installed)"
MOD=$P/nextflow/modules/local/protmask/mask
RENDER="$PY $P/nextflow/render_script.py"
NF_ARGS=$(sed -n "s/^ *ext.args *= *'\(.*\)'.*/\1/p" "$MOD/tests/nextflow.config")
check "module test config pins a seed (ext.args = '$NF_ARGS')" grep -q -- '--seed' <<< "$NF_ARGS"
mkdir -p nf-task nf-stub nf-regions
ln -sf "$DATA" nf-task/NC_000932.faa
ln -sf "$DATA" nf-stub/NC_000932.faa
# regions_args as main.nf computes it: '' without a regions file ([]).
$RENDER "$MOD/main.nf" PROTMASK_MASK script args="$NF_ARGS" task.cpus=2 prefix=test fasta=NC_000932.faa \
  regions_args= > nf-task/.command.sh
if (cd nf-task && bash -euo pipefail .command.sh 2> .command.err); then
  pass "module script block runs: $(tr -s ' \\\n' ' ' < nf-task/.command.sh)"
else
  fail "module script block runs"; cat nf-task/.command.err
fi
check "module: the declared outputs test.fa.gz, test.rates.tsv and test.manifest.json exist" \
  test -s nf-task/test.fa.gz -a -s nf-task/test.rates.tsv -a -s nf-task/test.manifest.json
(cd nf-task && eval protmask mask NC_000932.faa "$NF_ARGS" -o direct.fa -r direct.tsv 2> /dev/null &&
  eval protmask mask NC_000932.faa "$NF_ARGS" -o direct.fa.gz -r direct.rates.tsv --manifest direct.json 2> /dev/null)
check "module: outputs equal a direct run (decompressed FASTA, rates TSV)" \
  bash -c "cmp -s <(gzip -dc nf-task/test.fa.gz) nf-task/direct.fa && cmp -s nf-task/test.rates.tsv nf-task/direct.tsv"
check "issue20_9 module: the manifest output is the direct run's" \
  $AGREE nf-task/test.manifest.json nf-task/direct.json
check "module: the md5 sums pinned in tests/main.nf.test hold" "$PY" - "$MOD/tests/main.nf.test" <<'EOF'
import gzip, hashlib, re, sys
test = open(sys.argv[1]).read()
fa = re.search(r"join\('\\n'\)\.md5\(\) == '([0-9a-f]{32})'", test).group(1)
tsv = re.search(r"rates\[0\]\[1\]\)\.md5 == '([0-9a-f]{32})'", test).group(1)
lines = gzip.open("nf-task/test.fa.gz", "rt").read().splitlines()
got_fa = hashlib.md5("\n".join(lines).encode()).hexdigest()
got_tsv = hashlib.md5(open("nf-task/test.rates.tsv", "rb").read()).hexdigest()
ok = got_fa == fa and got_tsv == tsv and sum(l.startswith(">") for l in lines) == 85
if not ok:
    print(f"     pinned {fa} {tsv}, got {got_fa} {got_tsv}")
sys.exit(not ok)
EOF
$RENDER "$MOD/main.nf" PROTMASK_MASK stub args="$NF_ARGS" prefix=test fasta=NC_000932.faa > nf-stub/.command.sh
check "module stub block makes the declared outputs" \
  bash -c "cd nf-stub && bash -euo pipefail .command.sh > /dev/null && gzip -t test.fa.gz &&
           test \"\$(head -1 test.rates.tsv)\" = \"\$(head -1 ../nf-task/direct.tsv)\" && test -s test.manifest.json"
check "module versions eval prints protmask's version" \
  test "$(bash -c "$($RENDER "$MOD/main.nf" PROTMASK_MASK eval)")" = "${VERSION#protmask }"
check "module: input-equals-output guard present" \
  grep -q 'if ("${fasta}" == "${prefix}.fa.gz") error' "$MOD/main.nf"
# The regions input: main.nf's rule (rendered values below follow it), then a whole file
# with regions (meta.partial unset): the direct run with --regions.
check "issue20_9 module: regions_args is --regions FILE, plus --regions-partial for meta.partial, else ''" \
  grep -qF "def regions_args = regions ? \"--regions \${regions}\" + (meta.partial ? ' --regions-partial' : '') : ''" "$MOD/main.nf"
ln -sf "$DATA" nf-regions/NC_000932.faa
ln -sf "$BED" nf-regions/accd_idr.bed
$RENDER "$MOD/main.nf" PROTMASK_MASK script args="--seed 7 --span-mean 4" task.cpus=2 prefix=test \
  fasta=NC_000932.faa regions_args="--regions accd_idr.bed" > nf-regions/.command.sh
(cd nf-regions && bash -euo pipefail .command.sh 2> .command.err &&
  protmask mask NC_000932.faa --seed 7 --span-mean 4 --regions accd_idr.bed -o direct.fa.gz \
    -r direct.rates.tsv --manifest direct.json 2> /dev/null)
rc=$?
check "issue20_9 module: with a regions file, outputs and manifest equal the direct run with --regions (exit $rc)" \
  bash -c "test $rc -eq 0 && cmp -s <(gzip -dc nf-regions/test.fa.gz) <(gzip -dc nf-regions/direct.fa.gz) &&
           cmp -s nf-regions/test.rates.tsv nf-regions/direct.rates.tsv &&
           $AGREE nf-regions/test.manifest.json nf-regions/direct.json"

# The workflow in nextflow/main.nf: split, one module task per shard, gather; each task in
# its own directory, with its inputs staged under their own names as Nextflow does.
echo "== nextflow workflow (rendered split, mask and gather tasks)"
NF=$P/nextflow/main.nf
SHARDS=3
names=$(for i in $(seq 1 $SHARDS); do printf 'shards/%04d.fa ' "$i"; done)
# nf_workflow DIR ARGS [REGIONS]: the workflow on gen.fa.gz, launched from $T/DIR with
# --outdir results (the gather's outputs copied there, as publishDir does) and --regions
# REGIONS (a path in the launch directory, copied from the file of that name in $T),
# staged as its file name in the mask tasks and under regions/ in the gather. Each mask
# task is a shard, so meta.partial is true. Then the direct run from the launch
# directory: direct.fa, direct.tsv, direct.json.
nf_workflow() {
  local w=$T/$1 args=$2 regions=${3:-} ok=1 fas="" rates="" mans="" i id d rargs="" rcheck="" rman="" staged
  mkdir -p "$w/split" "$w/gather/input" "$w/results"
  ln -sf "$T/gen.fa.gz" "$w/gen.fa.gz"
  ln -sf "$T/gen.fa.gz" "$w/split/gen.fa.gz" && ln -sf "$P/split_fasta.py" "$w/split/split_fasta.py"
  ln -sf "$T/gen.fa.gz" "$w/gather/input/gen.fa.gz"
  if [ -n "$regions" ]; then
    staged=$(basename "$regions")
    mkdir -p "$w/$(dirname "$regions")" "$w/gather/regions" && cp "$T/$staged" "$w/$regions"
    ln -sf "$w/$regions" "$w/gather/regions/$staged"
    rargs="--regions $staged --regions-partial"
    rcheck="--regions regions/$staged" rman="--regions regions/$staged --as $regions"
  fi
  $RENDER "$NF" PROTMASK_SPLIT script splitter=split_fasta.py fasta=gen.fa.gz names="${names% }" > "$w/split/.command.sh"
  (cd "$w/split" && bash -euo pipefail .command.sh 2> .command.err) || ok=0
  for i in $(seq 1 $SHARDS); do
    id=$(printf 'gen.%04d' "$i") d=$w/mask$i
    mkdir -p "$d" && ln -sf "$w/split/shards/$(printf '%04d' "$i").fa" "$d/"
    [ -z "$regions" ] || ln -sf "$w/$regions" "$d/$staged"
    $RENDER "$MOD/main.nf" PROTMASK_MASK script args="$args" task.cpus=1 prefix="$id" \
      fasta="$(printf '%04d' "$i").fa" regions_args="$rargs" > "$d/.command.sh"
    (cd "$d" && bash -euo pipefail .command.sh 2> .command.err) || ok=0
    ln -sf "$d/$id.fa.gz" "$d/$id.rates.tsv" "$d/$id.manifest.json" "$w/gather/"
    fas+="$id.fa.gz " rates+="$id.rates.tsv " mans+="$id.manifest.json "
  done
  ln -sf "$P/gather_rates.py" "$P/gather_manifest.py" "$w/gather/"
  $RENDER "$NF" PROTMASK_GATHER script "fastas.join(' ')=${fas% }" "rates.join(' ')=${rates% }" \
    "manifests.join(' ')=${mans% }" gatherer=gather_rates.py manifest_gatherer=gather_manifest.py \
    meta.input=gen.fa.gz original=input/gen.fa.gz regions_check="$rcheck" regions_manifest="$rman" \
    params.outdir=results workflow.launchDir="$w" > "$w/gather/.command.sh"
  (cd "$w/gather" && bash -euo pipefail .command.sh 2> .command.err) || ok=0
  cp "$w/gather/masked.fa.gz" "$w/gather/rates.tsv" "$w/gather/manifest.json" "$w/results/" 2> /dev/null || ok=0
  # shellcheck disable=SC2086  # args is a list of flags
  (cd "$w" && protmask mask gen.fa.gz $args ${regions:+--regions "$regions"} -o direct.fa -r direct.tsv \
    --manifest direct.json 2> /dev/null)
  [ $ok = 1 ]
}
nf_workflow nfw "--preset esm2 --seed 5"
check "workflow tasks (split, $SHARDS x mask, gather) run" test $? -eq 0
check "workflow: gathered masked.fa.gz decompresses to the direct run's FASTA" \
  bash -c "cmp -s <(gzip -dc nfw/results/masked.fa.gz) nfw/direct.fa"
check "workflow: gathered rates.tsv byte-identical to the direct run's" same nfw/results/rates.tsv nfw/direct.tsv
check "issue20_9 nextflow workflow: manifest.json is the direct run's (the FASTA by its content), verify accepts it" \
  bash -c "$AGREE nfw/results/manifest.json nfw/direct.json content &&
           cd nfw && protmask verify --manifest results/manifest.json gen.fa.gz results/masked.fa.gz 2> verify.err"

# A regions file over 1 MiB, which a manifest records by path and digest (a smaller one's
# intervals are recorded in it), given as bed/big.bed: the gathered manifest names it so.
"$PY" - <<'EOF' || die "writing big.bed failed"
import gzip
lines = []
with gzip.open("gen.fa.gz", "rt") as fh:
    for line in fh:
        if line.startswith(">"):
            rid = line[1:].split()[0]
            lines += [f"{rid}\t0\t6\tfirst interval", f"{rid}\t3\t9\tsecond, overlapping"]
open("big.bed", "w").write("\n".join(lines) + "\n")
EOF
nf_workflow nfr "--seed 3 --mode exact --span-mean 4" bed/big.bed
rc=$?
check "issue20_9 nextflow workflow with --regions: split, $SHARDS x mask, gather run (exit $rc)" test $rc -eq 0
check "issue20_9 nextflow workflow with --regions: every shard ran protmask with --regions big.bed --regions-partial" \
  bash -c "for i in \$(seq 1 $SHARDS); do grep -q -- '--regions big.bed --regions-partial' nfr/mask\$i/.command.sh || exit 1; done"
check "issue20_9 nextflow workflow with --regions: FASTA and rates equal the direct run with --regions" \
  bash -c "test -s nfr/direct.tsv && cmp -s <(gzip -dc nfr/results/masked.fa.gz) nfr/direct.fa && cmp -s nfr/results/rates.tsv nfr/direct.tsv"
check "issue20_9 nextflow workflow with --regions bed/big.bed (1.2 MB): manifest.json is the direct run's, naming bed/big.bed; verify accepts it" \
  bash -c "$AGREE nfr/results/manifest.json nfr/direct.json content &&
           cd nfr && protmask verify --manifest results/manifest.json gen.fa.gz results/masked.fa.gz 2> verify.err"
check "issue20_9 nextflow gather: with regions, the gather checks every regions ID (gather_rates.py --regions)" \
  grep -q -- '--regions regions/big.bed rates.tsv' nfr/gather/.command.sh

# --- 5. packaging ---------------------------------------------------------------------------
echo "== bioconda recipe"
RECIPE=$ROOT/docs/packaging
CARGO_VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
check "recipe version ($CARGO_VERSION) matches Cargo.toml and protmask --version" \
  bash -c "grep -q '{% set version = \"$CARGO_VERSION\" %}' '$RECIPE/meta.yaml' && test '$VERSION' = 'protmask $CARGO_VERSION'"
check "recipe build.sh installs with cargo install --no-track --locked --root \$PREFIX --path ." \
  grep -q 'cargo install --no-track --locked --root "$PREFIX" --path \.' "$RECIPE/build.sh"
check "recipe test command (protmask --version) passes" \
  bash -c "$(sed -n 's/^ *- \(protmask --version.*\)$/\1/p' "$RECIPE/meta.yaml" | head -1 |
    sed "s/{{ version }}/$CARGO_VERSION/")"

echo "== took $((SECONDS - START)) s"
echo "pipelines: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
