#!/usr/bin/env bash
# Tests of docs/pipelines and docs/packaging. CI runs, from the repository root:
#     bash docs/pipelines/test.sh
# with protmask already on PATH (installed by `cargo install --locked --path .`).
# Snakemake (from PyPI) goes into its own virtual environment, target/pipelines-venv by
# default (PIPELINES_VENV overrides); it is reused when the pinned version is there.
# Temporary files go to a mktemp directory, removed at exit (KEEP_TMP=1 keeps it).
# Nextflow cannot be installed here: the Nextflow module's script blocks are rendered
# from main.nf by nextflow/render_script.py and run by hand.
set -uo pipefail

SNAKEMAKE_VERSION=9.27.1
NUMPY_VERSION=2.4.6

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
  ! "$VENV/bin/python" -c "import numpy" 2>/dev/null; then
  echo "== installing snakemake $SNAKEMAKE_VERSION into $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "snakemake==$SNAKEMAKE_VERSION" "numpy==$NUMPY_VERSION" || die "pip install snakemake failed"
fi
SNAKEMAKE=$VENV/bin/snakemake
PY=$VENV/bin/python
check "snakemake $SNAKEMAKE_VERSION installed in $VENV" test "$("$SNAKEMAKE" --version)" = "$SNAKEMAKE_VERSION"

T=$(mktemp -d "${TMPDIR:-/tmp}/protmask-pipelines.XXXXXX")
if [ "${KEEP_TMP:-0}" = 1 ]; then echo "== keeping $T"; else trap 'rm -rf "$T"' EXIT; fi
cd "$T" || die "cd $T"

# protmask, but every run leaves a line in $T/protmask-calls: proves no job ran.
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
  bash -c "test -s '$T/wf-data/logs/split.log' && test -e '$T/wf-data/logs/gather.log' &&
           test \$(grep -l '^protmask: ' '$T'/wf-data/logs/mask/*.log | wc -l) -eq 3"
check "workflow data: a benchmark per job (split, 3 mask, gather)" \
  test "$(find "$T/wf-data/benchmarks" -name '*.tsv' | wc -l)" -eq 5
check "workflow data: the 3 shards hold all 85 records, split by bytes" \
  bash -c "grep -ho '[0-9]* records' '$T'/wf-data/logs/mask/*.log | awk '{s+=\$1; n++} END {exit !(s==85 && n==3)}'"
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
  bash -c "test ! -e protmask-calls && test ! -e '$T/bad1' && test ! -e '$T/bad2' && test ! -e '$T/bad3'"
printf '>ok\nMKV\n>bad thing\nMK1V\n' > broken.fa
snakemake_run bad-record.log --config input="$T/broken.fa" shards=1 outdir="$T/bad4"
rc=$?
check "protmask's error inside a job: non-zero exit, the message in that job's log" \
  bash -c "test $rc -ne 0 && grep -q 'bad' '$T/bad4/logs/mask/001.log' && grep -qi 'error' '$T/bad4/logs/mask/001.log'"
check "protmask's error inside a job: no masked.fa left" test ! -e "$T/bad4/masked.fa"

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
