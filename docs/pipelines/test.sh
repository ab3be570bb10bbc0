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
mkdir -p nf-task nf-stub
ln -sf "$DATA" nf-task/NC_000932.faa
ln -sf "$DATA" nf-stub/NC_000932.faa
$RENDER "$MOD/main.nf" PROTMASK_MASK script args="$NF_ARGS" task.cpus=2 prefix=test fasta=NC_000932.faa > nf-task/.command.sh
if (cd nf-task && bash -euo pipefail .command.sh 2> .command.err); then
  pass "module script block runs: $(tr -s ' \\\n' ' ' < nf-task/.command.sh)"
else
  fail "module script block runs"; cat nf-task/.command.err
fi
check "module: the declared outputs test.fa.gz and test.rates.tsv exist" \
  test -s nf-task/test.fa.gz -a -s nf-task/test.rates.tsv
(cd nf-task && eval protmask mask NC_000932.faa "$NF_ARGS" -o direct.fa -r direct.tsv 2> /dev/null)
check "module: outputs equal a direct run (decompressed FASTA, rates TSV)" \
  bash -c "cmp -s <(gzip -dc nf-task/test.fa.gz) nf-task/direct.fa && cmp -s nf-task/test.rates.tsv nf-task/direct.tsv"
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
           test \"\$(head -1 test.rates.tsv)\" = \"\$(head -1 ../nf-task/direct.tsv)\""
check "module versions eval prints protmask's version" \
  test "$(bash -c "$($RENDER "$MOD/main.nf" PROTMASK_MASK eval)")" = "${VERSION#protmask }"
check "module: input-equals-output guard present" \
  grep -q 'if ("${fasta}" == "${prefix}.fa.gz") error' "$MOD/main.nf"

# The workflow in nextflow/main.nf: split, one module task per shard, gather; each task in
# its own directory, with its inputs staged under their own names as Nextflow does.
echo "== nextflow workflow (rendered split, mask and gather tasks)"
NF=$P/nextflow/main.nf
SHARDS=3
names=$(for i in $(seq 1 $SHARDS); do printf 'shards/%04d.fa ' "$i"; done)
mkdir -p nfw/split && ln -sf "$T/gen.fa.gz" nfw/split/gen.fa.gz && ln -sf "$P/split_fasta.py" nfw/split/split_fasta.py
$RENDER "$NF" PROTMASK_SPLIT script splitter=split_fasta.py fasta=gen.fa.gz names="${names% }" > nfw/split/.command.sh
ok=1
(cd nfw/split && bash -euo pipefail .command.sh 2> .command.err) || ok=0
fas="" rates=""
for i in $(seq 1 $SHARDS); do
  id=$(printf 'gen.%04d' "$i") d=nfw/mask$i
  mkdir -p "$d" && ln -sf "$T/nfw/split/shards/$(printf '%04d' "$i").fa" "$d/"
  $RENDER "$MOD/main.nf" PROTMASK_MASK script args="--preset esm2 --seed 5" task.cpus=1 \
    prefix="$id" fasta="$(printf '%04d' "$i").fa" > "$d/.command.sh"
  (cd "$d" && bash -euo pipefail .command.sh 2> .command.err) || ok=0
  mkdir -p nfw/gather && ln -sf "$T/$d/$id.fa.gz" "$T/$d/$id.rates.tsv" nfw/gather/
  fas+="$id.fa.gz " rates+="$id.rates.tsv "
done
ln -sf "$P/gather_rates.py" nfw/gather/gather_rates.py
$RENDER "$NF" PROTMASK_GATHER script "fastas.join(' ')=${fas% }" "rates.join(' ')=${rates% }" \
  gatherer=gather_rates.py meta.input=gen.fa.gz > nfw/gather/.command.sh
(cd nfw/gather && bash -euo pipefail .command.sh 2> .command.err) || ok=0
check "workflow tasks (split, $SHARDS x mask, gather) run" test $ok = 1
(cd nfw && ln -sf "$T/gen.fa.gz" . && protmask mask gen.fa.gz --preset esm2 --seed 5 -o direct.fa -r direct.tsv 2> /dev/null)
check "workflow: gathered masked.fa.gz decompresses to the direct run's FASTA" \
  bash -c "cmp -s <(gzip -dc nfw/gather/masked.fa.gz) nfw/direct.fa"
check "workflow: gathered rates.tsv byte-identical to the direct run's" same nfw/gather/rates.tsv nfw/direct.tsv

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
