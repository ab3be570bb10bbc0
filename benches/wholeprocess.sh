#!/usr/bin/env bash
# Whole-process benchmarks of protmask, measured as ratios within one run.
#
#   bash benches/wholeprocess.sh                 # from the repository root
#   MB=100 REPEATS=5 KEEP=1 bash benches/wholeprocess.sh
#
# See benches/README.md for what each row means. Environment variables:
#   MB=400          size of the main synthetic input (megabytes, 10^6 bytes)
#   PY_MB=50        size of the input for the Python reference comparison
#   REPEATS=3       timed runs per command (median wall time reported, max RSS)
#   OUT=benches/results.md   where the markdown report goes (also printed)
#   KEEP=0          1 = keep generated inputs and outputs in benches/data (and reuse
#                   inputs next time); 0 = delete them at the end (the .venv is kept)
#   DATA=benches/data        working directory (gitignored)
#   SHARED=../shared         folder holding tools/gen_fasta.py (relative to the repo root)
#   SEED=1          gen_fasta.py seed
#   PROTMASK=path   use this binary instead of building with `cargo build --release`
#   INSTALL=1       0 = never install anything (apt-get / pip); missing tools are reported
#   PYTHON=python3  interpreter for gen_fasta.py and the reference (a venv is made from
#                   it under $DATA/.venv when numpy or biopython is missing)
#   SYNC=1          run `sync` (untimed) before every timed run, after deleting old outputs
#   SHARD_MB=60     text of the sharded-input rows: one compressed file of it against two
#                   compressed shards of the same text (xz, gzip, zstd), at -j2
#   BASELINE_REV=45c71a1   an older revision (0.1.0 by default) built in a worktree under
#                   $DATA and timed side by side with this binary on the main input
#                   (-j1/-j2, to a file and to /dev/null); "none" = skip
#   BASELINE_ONLY=0 1 = time only the protmask plain rows and the baseline's (about 1 min
#                   with REPEATS=7 after the builds)
# A command that fails is reported in the table and the script carries on.

set -uo pipefail

MB=${MB:-400}
PY_MB=${PY_MB:-50}
REPEATS=${REPEATS:-3}
OUT=${OUT:-benches/results.md}
KEEP=${KEEP:-0}
DATA=${DATA:-benches/data}
SHARED=${SHARED:-../shared}
SEED=${SEED:-1}
INSTALL=${INSTALL:-1}
PYTHON=${PYTHON:-python3}
SYNC=${SYNC:-1}
PROTMASK=${PROTMASK:-}
SHARD_MB=${SHARD_MB:-60}
BASELINE_REV=${BASELINE_REV-45c71a1}
BASELINE_ONLY=${BASELINE_ONLY:-0}
[ "$BASELINE_REV" = none ] && BASELINE_REV=""
PROTMASK_GIVEN=0; [ -n "$PROTMASK" ] && PROTMASK_GIVEN=1

say() { printf '[wholeprocess] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ -f Cargo.toml ] && [ -d benches ] || die "run from the repository root: bash benches/wholeprocess.sh"
GEN="$SHARED/tools/gen_fasta.py"
[ -f "$GEN" ] || die "$GEN not found (set SHARED=/path/to/shared)"
[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || die "REPEATS must be a positive integer"
[ "$BASELINE_ONLY" = 1 ] && [ -z "$BASELINE_REV" ] && die "BASELINE_ONLY=1 needs a BASELINE_REV"
T_START=$(date +%s)

mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
OUTDIR="$DATA/out"
LOGDIR="$DATA/logs"
mkdir -p "$OUTDIR" "$LOGDIR"

# ---------------------------------------------------------------- tools
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
    else return 1
    fi
}

APT_UPDATED=0
apt_install() { # package...
    [ "$INSTALL" = 1 ] || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$APT_UPDATED" = 0 ]; then
        as_root apt-get update -qq >"$LOGDIR/apt.log" 2>&1 || return 1
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$LOGDIR/apt.log" 2>&1
}

need=()
[ -x /usr/bin/time ] || need+=(time)
if [ "$BASELINE_ONLY" != 1 ]; then
    command -v seqkit >/dev/null 2>&1 || need+=(seqkit)
    command -v pigz >/dev/null 2>&1 || need+=(pigz)
    command -v bgzip >/dev/null 2>&1 || need+=(tabix)
fi
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]} with apt-get"
    apt_install "${need[@]}" || say "warning: could not install ${need[*]} (see $LOGDIR/apt.log); rows needing them will fail"
fi
HAVE_TIME=0; [ -x /usr/bin/time ] && HAVE_TIME=1
[ "$HAVE_TIME" = 1 ] || say "warning: /usr/bin/time missing: no peak RSS"

# Python with numpy + biopython: the given interpreter if it has them, else a venv.
py_ok() { "$1" -c 'import numpy, Bio' >/dev/null 2>&1; }
PY=""
if py_ok "$PYTHON"; then PY=$(command -v "$PYTHON")
elif [ -x "$DATA/.venv/bin/python" ] && py_ok "$DATA/.venv/bin/python"; then PY="$DATA/.venv/bin/python"
elif [ "$INSTALL" = 1 ]; then
    say "making $DATA/.venv with numpy and biopython"
    if ! "$PYTHON" -m venv "$DATA/.venv" >"$LOGDIR/venv.log" 2>&1; then
        apt_install python3-venv && "$PYTHON" -m venv "$DATA/.venv" >>"$LOGDIR/venv.log" 2>&1
    fi
    if [ -x "$DATA/.venv/bin/pip" ] && "$DATA/.venv/bin/pip" install -q numpy biopython >>"$LOGDIR/venv.log" 2>&1 \
        && py_ok "$DATA/.venv/bin/python"; then
        PY="$DATA/.venv/bin/python"
    elif "$PYTHON" -m pip install -q --user numpy biopython >>"$LOGDIR/venv.log" 2>&1 && py_ok "$PYTHON"; then
        PY=$(command -v "$PYTHON")
    fi
fi
[ -n "$PY" ] || die "no Python with numpy and biopython (see $LOGDIR/venv.log); gen_fasta.py needs numpy"

# ---------------------------------------------------------------- protmask
if [ -z "$PROTMASK" ]; then
    say "cargo build --release"
    cargo build --release >"$LOGDIR/build.log" 2>&1 || die "cargo build failed: see $LOGDIR/build.log"
    TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])') || TARGET_DIR=target
    PROTMASK="$TARGET_DIR/release/protmask"
fi
[ -x "$PROTMASK" ] || die "protmask binary $PROTMASK not found"
PROTMASK=$(cd "$(dirname "$PROTMASK")" && pwd)/$(basename "$PROTMASK")
say "protmask: $PROTMASK"

# The baseline: an older revision, built once in its own worktree and target directory
# under $DATA (reused while the revision resolves to the same commit).
BASE_BIN=""; BASE_COMMIT=""; BASE_VERSION=""
if [ -n "$BASELINE_REV" ]; then
    BASE_COMMIT=$(git rev-parse --verify --quiet "$BASELINE_REV^{commit}") ||
        die "BASELINE_REV=$BASELINE_REV is not a commit of this repository"
    BASE_TREE="$DATA/baseline/${BASE_COMMIT:0:12}"
    BASE_BIN="$BASE_TREE/target/release/protmask"
    if [ ! -x "$BASE_BIN" ]; then
        if [ ! -d "$BASE_TREE" ]; then
            git worktree prune
            git worktree add --detach "$BASE_TREE" "$BASE_COMMIT" >"$LOGDIR/baseline-worktree.log" 2>&1 ||
                die "git worktree add failed: see $LOGDIR/baseline-worktree.log"
        fi
        # The worktree lies inside this repository's workspace: make it a workspace of its
        # own (a local, uncommitted edit) or cargo refuses to build it.
        grep -q '^\[workspace\]' "$BASE_TREE/Cargo.toml" || printf '\n[workspace]\n' >>"$BASE_TREE/Cargo.toml"
        say "cargo build --release of $BASELINE_REV (${BASE_COMMIT:0:12}) in $BASE_TREE"
        (cd "$BASE_TREE" && CARGO_TARGET_DIR="$BASE_TREE/target" cargo build --release) \
            >"$LOGDIR/baseline-build.log" 2>&1 || die "building $BASELINE_REV failed: see $LOGDIR/baseline-build.log"
    fi
    BASE_VERSION=$("$BASE_BIN" --version 2>/dev/null || echo '?')
    say "baseline: $BASE_BIN ($BASE_VERSION)"
fi

# ---------------------------------------------------------------- data
IN="$DATA/synth_${MB}MB_s${SEED}.fa"
INGZ="$IN.gz"
INPY="$DATA/synth_${PY_MB}MB_s${SEED}.fa"
GZIP_TOOL="gzip -6"; command -v pigz >/dev/null 2>&1 && GZIP_TOOL="pigz -6"
make_fasta() { # mb path
    [ -s "$2" ] && return 0
    say "generating $2 ($1 MB)"
    "$PY" "$GEN" --mb "$1" --seed "$SEED" -o "$2.part" && mv "$2.part" "$2"
}
make_fasta "$MB" "$IN" || die "gen_fasta.py failed"
INBGZF="$IN.bgzf.gz"
INSH="$DATA/synth_${SHARD_MB}MB_s${SEED}.fa"
size_of() { # a file, or a dataset folder (its files)
    if [ -d "$1" ]; then du -sb "$1" | cut -f1; else stat -c %s "$1" 2>/dev/null || echo 0; fi
}
count_records() { # file (plain or gzip)
    if [ "$(head -c2 "$1" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then gzip -dc "$1" | grep -c '^>'
    else grep -c '^>' "$1"; fi
}
if [ "$BASELINE_ONLY" != 1 ]; then
make_fasta "$PY_MB" "$INPY" || die "gen_fasta.py failed"
if [ ! -s "$INGZ" ]; then
    say "compressing with $GZIP_TOOL (ordinary gzip, not BGZF)"
    $GZIP_TOOL -c "$IN" >"$INGZ.part" && mv "$INGZ.part" "$INGZ" || die "compressing the input failed"
fi
# BGZF (what bgzip and protmask write), which protmask inflates on its worker pool.
if [ ! -s "$INBGZF" ]; then
    if command -v bgzip >/dev/null 2>&1; then
        say "compressing with bgzip (BGZF)"
        bgzip -c "$IN" >"$INBGZF.part" && mv "$INBGZF.part" "$INBGZF" || die "bgzip failed"
    else
        say "no bgzip: BGZF input made by protmask --schedule 0 (masks nothing)"
        "$PROTMASK" mask -q --schedule 0 "$IN" -o "$INBGZF.part.gz" && mv "$INBGZF.part.gz" "$INBGZF" ||
            die "making the BGZF input failed"
    fi
fi

# Sharded input: the same text as one compressed file and as two compressed shards (cut
# at a record boundary), for each of xz, gzip and zstd: do inputs decompress in parallel?
make_fasta "$SHARD_MB" "$INSH" || die "gen_fasta.py failed"
INSH_RECORDS=$(count_records "$INSH")
if [ ! -s "$INSH.b" ]; then
    half=$((INSH_RECORDS / 2))
    awk -v half="$half" -v a="$INSH.a" -v b="$INSH.b" \
        '/^>/ { n++ } { if (n <= half) print > a; else print > b }' "$INSH" || die "splitting failed"
fi
declare -A SHARD_TOOL=([xz]="xz -6 -T1 -c" [gz]="$GZIP_TOOL -c" [zst]="zstd -q -3 -c")
for ext in xz gz zst; do
    for part in "" .a .b; do
        f="$INSH$part.$ext"
        if [ ! -s "$f" ]; then
            ${SHARD_TOOL[$ext]} "$INSH$part" >"$f.part" && mv "$f.part" "$f" || die "compressing $f failed"
        fi
    done
done
fi
IN_BYTES=$(size_of "$IN"); INPY_BYTES=$(size_of "$INPY"); INGZ_BYTES=$(size_of "$INGZ")
INBGZF_BYTES=$(size_of "$INBGZF"); INSH_BYTES=$(size_of "$INSH")
IN_RECORDS=$(count_records "$IN")
INPY_RECORDS=0; [ -s "$INPY" ] && INPY_RECORDS=$(count_records "$INPY")
INSH_RECORDS=0; [ -s "$INSH" ] && INSH_RECORDS=$(count_records "$INSH")

# ---------------------------------------------------------------- cases
# Every command writes a fresh file under $OUTDIR (all outputs are deleted, untimed,
# before every run: overwriting an existing file costs extra on ext4). Nothing goes to
# /dev/null, so cat, seqkit and protmask get the same treatment; only the baseline
# comparison adds /dev/null rows, for both of its binaries.
SEQKIT_DEFAULT_J=$(seqkit seq --help 2>/dev/null | sed -n 's/.*--threads.*(default \([0-9]*\)).*/\1/p' | head -1)
SEQKIT_DEFAULT_J=${SEQKIT_DEFAULT_J:-?}

IDS=(); declare -A LABEL CMD STDOUT OUTFILE INBYTES INREC
add_case() { # id label stdout-file(or -) output-file input-bytes input-records cmd...
    # ONLY (a grep -E pattern): time only the rows whose id matches.
    if [ -n "${ONLY:-}" ] && ! printf '%s\n' "$1" | grep -Eq "$ONLY"; then return 0; fi
    local id=$1; IDS+=("$id"); LABEL[$id]=$2; STDOUT[$id]=$3; OUTFILE[$id]=$4
    INBYTES[$id]=$5; INREC[$id]=$6; shift 6
    CMD[$id]=$(printf '%q ' "$@")
}
O="$OUTDIR"
if [ "$BASELINE_ONLY" != 1 ]; then
add_case cat        "cat IN > out.fa"                          "$O/cat.fa" "$O/cat.fa" "$IN_BYTES" "$IN_RECORDS" cat "$IN"
add_case seqkit_j1  "seqkit seq -w 60 -j 1 IN -o out.fa"       - "$O/seqkit_j1.fa" "$IN_BYTES" "$IN_RECORDS" env -u SEQKIT_THREADS seqkit seq -w 60 -j 1 "$IN" -o "$O/seqkit_j1.fa"
add_case seqkit     "seqkit seq -w 60 IN -o out.fa (default -j $SEQKIT_DEFAULT_J)" - "$O/seqkit.fa" "$IN_BYTES" "$IN_RECORDS" env -u SEQKIT_THREADS seqkit seq -w 60 "$IN" -o "$O/seqkit.fa"
if [ "$SEQKIT_DEFAULT_J" != 2 ]; then
add_case seqkit_j2  "seqkit seq -w 60 -j 2 IN -o out.fa"       - "$O/seqkit_j2.fa" "$IN_BYTES" "$IN_RECORDS" env -u SEQKIT_THREADS seqkit seq -w 60 -j 2 "$IN" -o "$O/seqkit_j2.fa"
fi
fi
add_case pm_j1      "protmask mask -q -j1 IN -o out.fa"        - "$O/pm_j1.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j1 "$IN" -o "$O/pm_j1.fa"
add_case pm_j2      "protmask mask -q -j2 IN -o out.fa"        - "$O/pm_j2.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j2 "$IN" -o "$O/pm_j2.fa"
if [ -n "$BASE_BIN" ]; then
# Each next to its counterpart, so the two binaries alternate within every round.
add_case base_j1    "baseline mask -q -j1 IN -o out.fa"        - "$O/base_j1.fa" "$IN_BYTES" "$IN_RECORDS" "$BASE_BIN" mask -q -j1 "$IN" -o "$O/base_j1.fa"
add_case base_j2    "baseline mask -q -j2 IN -o out.fa"        - "$O/base_j2.fa" "$IN_BYTES" "$IN_RECORDS" "$BASE_BIN" mask -q -j2 "$IN" -o "$O/base_j2.fa"
add_case pm_j1_null "protmask mask -q -j1 IN -o /dev/null"     - /dev/null "$IN_BYTES" - "$PROTMASK" mask -q -j1 "$IN" -o /dev/null
add_case base_j1_null "baseline mask -q -j1 IN -o /dev/null"   - /dev/null "$IN_BYTES" - "$BASE_BIN" mask -q -j1 "$IN" -o /dev/null
add_case pm_j2_null "protmask mask -q -j2 IN -o /dev/null"     - /dev/null "$IN_BYTES" - "$PROTMASK" mask -q -j2 "$IN" -o /dev/null
add_case base_j2_null "baseline mask -q -j2 IN -o /dev/null"   - /dev/null "$IN_BYTES" - "$BASE_BIN" mask -q -j2 "$IN" -o /dev/null
fi
if [ "$BASELINE_ONLY" != 1 ]; then
add_case seqkit_gz  "seqkit seq -w 60 IN.gz -o out.fa.gz (default -j $SEQKIT_DEFAULT_J)" - "$O/seqkit.fa.gz" "$IN_BYTES" "$IN_RECORDS" env -u SEQKIT_THREADS seqkit seq -w 60 "$INGZ" -o "$O/seqkit.fa.gz"
add_case pm_gz_j1   "protmask mask -q -j1 IN.gz -o out.fa.gz"  - "$O/pm_gz_j1.fa.gz" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j1 "$INGZ" -o "$O/pm_gz_j1.fa.gz"
add_case pm_gz_j2   "protmask mask -q -j2 IN.gz -o out.fa.gz"  - "$O/pm_gz_j2.fa.gz" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j2 "$INGZ" -o "$O/pm_gz_j2.fa.gz"
add_case pm_gzp_j1  "protmask mask -q -j1 IN.gz -o out.fa"     - "$O/pm_gzp_j1.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j1 "$INGZ" -o "$O/pm_gzp_j1.fa"
add_case pm_gzp_j2  "protmask mask -q -j2 IN.gz -o out.fa"     - "$O/pm_gzp_j2.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j2 "$INGZ" -o "$O/pm_gzp_j2.fa"
add_case pm_bgzf_j1 "protmask mask -q -j1 IN.bgzf.gz -o out.fa" - "$O/pm_bgzf_j1.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j1 "$INBGZF" -o "$O/pm_bgzf_j1.fa"
add_case pm_bgzf_j2 "protmask mask -q -j2 IN.bgzf.gz -o out.fa" - "$O/pm_bgzf_j2.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j2 "$INBGZF" -o "$O/pm_bgzf_j2.fa"
add_case pm_ds_pq   "protmask mask -q -j2 IN --dataset out.parquet" - "$O/pm_ds.parquet" "$IN_BYTES" - "$PROTMASK" mask -q -j2 "$IN" --dataset "$O/pm_ds.parquet"
# Issue 22: a training set: split, sharded folder, without and with token ids; zstd.
add_case pm_ds_split "protmask mask -q -j2 IN --split train=0.98,validation=0.01,test=0.01 --dataset DIR/" - "$O/pm_split" "$IN_BYTES" - "$PROTMASK" mask -q -j2 "$IN" --split train=0.98,validation=0.01,test=0.01 --dataset "$O/pm_split/"
add_case pm_ds_split_tok "protmask mask -q -j2 IN --split ... --tokens esm --dataset DIR/" - "$O/pm_split_tok" "$IN_BYTES" - "$PROTMASK" mask -q -j2 "$IN" --split train=0.98,validation=0.01,test=0.01 --tokens esm --dataset "$O/pm_split_tok/"
add_case pm_ds_zstd "protmask mask -q -j2 IN --parquet-compression zstd --dataset out.parquet" - "$O/pm_ds_zstd.parquet" "$IN_BYTES" - "$PROTMASK" mask -q -j2 "$IN" --parquet-compression zstd --dataset "$O/pm_ds_zstd.parquet"
add_case pm_ds_tok  "protmask mask -q -j2 IN --dataset out.parquet --tokens esm" - "$O/pm_ds_tok.parquet" "$IN_BYTES" - "$PROTMASK" mask -q -j2 "$IN" --dataset "$O/pm_ds_tok.parquet" --tokens esm
# D3PM redraws every residue (a draw each): against pm_j2, the esm3 preset, same input.
add_case pm_d3pmu_j2 "protmask mask -q -j2 --preset evodiff-d3pm-uniform IN -o out.fa" - "$O/pm_d3pmu.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j2 --preset evodiff-d3pm-uniform "$IN" -o "$O/pm_d3pmu.fa"
add_case pm_d3pmb_j2 "protmask mask -q -j2 --preset evodiff-d3pm-blosum IN -o out.fa" - "$O/pm_d3pmb.fa" "$IN_BYTES" "$IN_RECORDS" "$PROTMASK" mask -q -j2 --preset evodiff-d3pm-blosum "$IN" -o "$O/pm_d3pmb.fa"
for ext in xz gz zst; do
add_case "pm_${ext}_one" "protmask mask -q -j2 IN$SHARD_MB.$ext -o out.fa" - "$O/pm_${ext}_one.fa" "$INSH_BYTES" "$INSH_RECORDS" "$PROTMASK" mask -q -j2 "$INSH.$ext" -o "$O/pm_${ext}_one.fa"
add_case "pm_${ext}_two" "protmask mask -q -j2 IN$SHARD_MB.a.$ext IN$SHARD_MB.b.$ext -o out.fa" - "$O/pm_${ext}_two.fa" "$INSH_BYTES" "$INSH_RECORDS" "$PROTMASK" mask -q -j2 "$INSH.a.$ext" "$INSH.b.$ext" -o "$O/pm_${ext}_two.fa"
done
add_case py_ref     "reference_mask.py IN$PY_MB -o out.fa -r rates.csv" - "$O/py_ref.fa" "$INPY_BYTES" "$INPY_RECORDS" "$PY" benches/reference_mask.py "$INPY" -o "$O/py_ref.fa" -r "$O/py_ref.csv"
add_case pm_py_j2   "protmask mask -q -j2 IN$PY_MB -o out.fa -r rates.csv" - "$O/pm_py_j2.fa" "$INPY_BYTES" "$INPY_RECORDS" "$PROTMASK" mask -q -j2 "$INPY" -o "$O/pm_py_j2.fa" -r "$O/pm_py_j2.csv"
fi

# ---------------------------------------------------------------- timing
RAW="$DATA/raw.tsv"   # id  repeat  wall_s  maxrss_kb  exit  out_bytes  records_ok  cpu_s
: >"$RAW"
clean_outputs() { find "$OUTDIR" -mindepth 1 -delete 2>/dev/null; [ "$SYNC" = 1 ] && sync; return 0; }

run_once() { # id repeat
    local id=$1 rep=$2 tf="$LOGDIR/$1.time" t0 t1 rc rss cpu out bytes ok=-
    clean_outputs
    out=${STDOUT[$id]}; [ "$out" = - ] && out="$LOGDIR/$id.stdout"
    t0=$(date +%s%N)
    if [ "$HAVE_TIME" = 1 ]; then
        eval "/usr/bin/time -v -o \"\$tf\" ${CMD[$id]}" >"$out" 2>"$LOGDIR/$id.stderr"
    else
        eval "${CMD[$id]}" >"$out" 2>"$LOGDIR/$id.stderr"
    fi
    rc=$?
    t1=$(date +%s%N)
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tf" 2>/dev/null | head -1)
    cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {s += $2; n++} END {if (n) printf "%.2f", s; else print "NA"}' "$tf" 2>/dev/null)
    bytes=$(size_of "${OUTFILE[$id]}")
    if [ "$rep" = 1 ] && [ "$rc" = 0 ]; then # untimed check: same number of records out as in
        if [ "${INREC[$id]}" = - ]; then ok=n/a # a dataset (tests/python checks its rows) or /dev/null
        elif [ "$(count_records "${OUTFILE[$id]}" 2>/dev/null)" = "${INREC[$id]}" ]; then ok=yes; else ok=NO; fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$rep" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", (b-a)/1e9}')" "${rss:-NA}" "$rc" "$bytes" "$ok" "${cpu:-NA}" >>"$RAW"
    say "  $id run $rep: $(tail -1 "$RAW" | cut -f3)s cpu ${cpu:-?}s rss ${rss:-?}kB exit $rc"
    [ "$rc" = 0 ] || say "  $id FAILED (exit $rc): $(tail -3 "$LOGDIR/$id.stderr" | tr '\n' ' ')"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "warming the page cache"
for f in "$IN" "$INGZ" "$INPY"; do [ -s "$f" ] && cat "$f" >/dev/null; done
T_BENCH=$(date +%s)
# Round-robin: every repeat runs every command once, so slow drifts in the machine's
# load hit all commands alike.
for rep in $(seq 1 "$REPEATS"); do
    say "round $rep/$REPEATS"
    for id in "${IDS[@]}"; do run_once "$id" "$rep"; done
done
clean_outputs
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
T_END=$(date +%s)

# Untimed: do the baseline and this binary write the same bytes (-j2, default preset)?
BASE_SAME=""
if [ -n "$BASE_BIN" ]; then
    "$PROTMASK" mask -q -j2 "$IN" -o "$O/same_cur.fa" 2>/dev/null &&
        "$BASE_BIN" mask -q -j2 "$IN" -o "$O/same_base.fa" 2>/dev/null &&
        { cmp -s "$O/same_cur.fa" "$O/same_base.fa" && BASE_SAME=identical || BASE_SAME=DIFFERENT; }
    BASE_SAME=${BASE_SAME:-"not compared (a run failed)"}
    clean_outputs
fi
export BASELINE_DESC=""
[ -n "$BASE_BIN" ] && BASELINE_DESC="$BASELINE_REV (${BASE_COMMIT:0:12}, $BASE_VERSION); output bytes against this binary: $BASE_SAME"

# ---------------------------------------------------------------- report
export_case_table() {
    for id in "${IDS[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$id" "${LABEL[$id]}" "${INBYTES[$id]}" "${INREC[$id]}"
    done
}
CASES="$DATA/cases.tsv"; export_case_table >"$CASES"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ {printf "%.1f GB", $2*1024/1e9}' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo '?')
dirty=$(git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' (uncommitted changes)')
if [ "$PROTMASK_GIVEN" = 1 ]; then built="prebuilt $PROTMASK (PROTMASK=; may not match the checkout)"
else built="built here by cargo build --release"; fi
MACHINE=$(cat <<EOF
| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| nproc | $(nproc) |
| CPU | ${cpu:-?} |
| memory | $mem |
| kernel | $(uname -sr) |
| rustc | $(rustc -V 2>/dev/null || echo '?') |
| protmask | $("$PROTMASK" --version 2>/dev/null || echo '?'), $built; checkout at commit $commit${dirty:-} |
| baseline | ${BASELINE_DESC:-none (BASELINE_REV=none)} |
| seqkit | $(seqkit version 2>/dev/null || echo missing) (default threads here: $SEQKIT_DEFAULT_J) |
| python | $("$PY" -c 'import sys,numpy,Bio; print(sys.version.split()[0], "numpy", numpy.__version__, "biopython", Bio.__version__)') |
| inputs | $IN_BYTES B plain ($IN_RECORDS records, gen_fasta.py --mb $MB --seed $SEED), $INGZ_BYTES B gzip ($GZIP_TOOL), $INBGZF_BYTES B BGZF, $INPY_BYTES B for Python ($INPY_RECORDS records) |
| runs | $REPEATS per command, round-robin; load average before $LOAD_BEFORE, after $LOAD_AFTER; timed part $((T_END - T_BENCH)) s, whole script $((T_END - T_START)) s |
EOF
)

export MACHINE BASELINE_ONLY
"$PY" - "$RAW" "$CASES" "$OUT" "$LOGDIR" <<'PYEOF'
import os, statistics, sys
raw, cases_path, out_path, logdir = sys.argv[1:5]
cases = []
for line in open(cases_path):
    cid, label, inbytes, inrec = line.rstrip("\n").split("\t")
    cases.append((cid, label, int(inbytes)))
runs = {}
for line in open(raw):
    cid, rep, wall, rss, rc, outb, ok, cpu = line.rstrip("\n").split("\t")
    runs.setdefault(cid, []).append(dict(wall=float(wall), rss=None if rss == "NA" else int(rss),
                                         rc=int(rc), out=int(outb), ok=ok,
                                         cpu=None if cpu == "NA" else float(cpu)))
med, rssmb, outmb = {}, {}, {}
rows = []
for cid, label, inbytes in cases:
    rs = runs.get(cid, [])
    good = [r for r in rs if r["rc"] == 0]
    failed = [r for r in rs if r["rc"] != 0]
    ok = next((r["ok"] for r in rs if r["ok"] != "-"), "-")
    if good and not failed:
        m = statistics.median(r["wall"] for r in good)
        med[cid] = m
        rss = [r["rss"] for r in good if r["rss"] is not None]
        if rss:
            rssmb[cid] = max(rss) * 1024 / 1e6
        outmb[cid] = good[-1]["out"] / 1e6
        runs_s = " ".join(f"{r['wall']:.2f}" for r in good)
        rss_s = f"{rssmb[cid]:.1f}" if cid in rssmb else "n/a"
        cpus = [r["cpu"] for r in good if r["cpu"] is not None]
        cpu_s = f"{statistics.median(cpus):.2f}" if cpus else "n/a"
        rows.append(f"| `{label}` | {m:.3f} | {inbytes / 1e6 / m:.0f} | {cpu_s} | {rss_s} | "
                    f"{good[-1]['out'] / 1e6:.1f} | {ok} | {runs_s} |")
    else:
        codes = ",".join(str(r["rc"]) for r in failed) or "not run"
        rows.append(f"| `{label}` | FAILED (exit {codes}; see {logdir}/{cid}.stderr) | | | | | | |")

def ratio(a, b):
    return med[a] / med[b] if a in med and b in med else None

targets = []
def target(name, value, ok, fmt):
    if value is None:
        targets.append(f"| {name} | not measured (a command failed) | MISSED |")
    else:
        targets.append(f"| {name} | {fmt.format(value)} | {'met' if ok(value) else 'MISSED'} |")

target("protmask -j2 / seqkit seq -w 60, plain to plain (<= 1.15)", ratio("pm_j2", "seqkit"), lambda v: v <= 1.15, "{:.2f}x")
target("protmask -j1 / -j2, plain (>= 1.7)", ratio("pm_j1", "pm_j2"), lambda v: v >= 1.7, "{:.2f}x")
target("protmask -j1 / -j2, gzip to gzip (>= 1.8)", ratio("pm_gz_j1", "pm_gz_j2"), lambda v: v >= 1.8, "{:.2f}x")
target("Python reference / protmask -j2, PY_MB input (>= 30)", ratio("py_ref", "pm_py_j2"), lambda v: v >= 30, "{:.1f}x")
target("--dataset x.parquet alone / -o x.fa alone, -j2 (<= 3)", ratio("pm_ds_pq", "pm_j2"), lambda v: v <= 3, "{:.2f}x")
target("--dataset x.parquet --tokens esm / -o x.fa alone, -j2 (<= 5)", ratio("pm_ds_tok", "pm_j2"), lambda v: v <= 5, "{:.2f}x")
ds = [rssmb[c] for c in ("pm_ds_pq", "pm_ds_tok") if c in rssmb]
target("--dataset x.parquet peak RSS, with and without tokens (<= 256 MB)", max(ds) if len(ds) == 2 else None, lambda v: v <= 256, "{:.1f} MB")
target("split, sharded --dataset DIR/ / -o x.fa, -j2 (<= 3)", ratio("pm_ds_split", "pm_j2"), lambda v: v <= 3, "{:.2f}x")
target("split, sharded, --tokens esm / -o x.fa, -j2 (<= 5)", ratio("pm_ds_split_tok", "pm_j2"), lambda v: v <= 5, "{:.2f}x")
target("split, sharded peak RSS, max of both (<= 256 MB)", max((rssmb[c] for c in ("pm_ds_split", "pm_ds_split_tok") if c in rssmb), default=None), lambda v: v <= 256, "{:.1f} MB")
target("zstd dataset / snappy dataset, size (<= 0.60)", (outmb["pm_ds_zstd"] / outmb["pm_ds_pq"]) if "pm_ds_zstd" in outmb and "pm_ds_pq" in outmb else None, lambda v: v <= 0.60, "{:.3f}")
target("zstd dataset / snappy dataset, time", ratio("pm_ds_zstd", "pm_ds_pq"), lambda v: True, "{:.2f}x")
target("evodiff-d3pm-uniform / esm3, -j2, plain (<= 2)", ratio("pm_d3pmu_j2", "pm_j2"), lambda v: v <= 2, "{:.2f}x")
target("evodiff-d3pm-blosum / esm3, -j2, plain (<= 2)", ratio("pm_d3pmb_j2", "pm_j2"), lambda v: v <= 2, "{:.2f}x")
target("one xz file / two xz shards of its text, -j2 (>= 1.6)", ratio("pm_xz_one", "pm_xz_two"), lambda v: v >= 1.6, "{:.2f}x")
target("one gzip file / two gzip shards, -j2 (> 1)", ratio("pm_gz_one", "pm_gz_two"), lambda v: v > 1.0, "{:.2f}x")
target("one zstd file / two zstd shards, -j2 (> 1)", ratio("pm_zst_one", "pm_zst_two"), lambda v: v > 1.0, "{:.2f}x")
pm = [c for c in ("pm_j1", "pm_j2", "pm_gz_j1", "pm_gz_j2") if c in rssmb]
peak = max((rssmb[c] for c in pm), default=None)
if peak is not None and len(pm) < 4:
    peak = None
target("protmask peak RSS on the main input, max over j1/j2 plain/gzip (<= 100 MB)", peak, lambda v: v <= 100, "{:.1f} MB")
if "base_j2" in {c for c, _, _ in cases}:
    for dest, suffix in (("a file", ""), ("/dev/null", "_null")):
        target(f"protmask -j2 / baseline -j2, plain to {dest} (<= 1.03)", ratio("pm_j2" + suffix, "base_j2" + suffix),
               lambda v: v <= 1.03, "{:.3f}x")
if os.environ.get("BASELINE_ONLY") == "1":
    targets = [t for t in targets if "baseline" in t]

baseline = []
if "base_j2" in {c for c, _, _ in cases}:
    def cpu_med(cid):
        cpus = [r["cpu"] for r in runs.get(cid, []) if r["rc"] == 0 and r["cpu"] is not None]
        return statistics.median(cpus) if cpus else None
    baseline += ["## Against the baseline (side by side)", "",
                 os.environ.get("BASELINE_DESC", ""), "",
                 "| run | baseline wall s | this wall s | wall ratio | baseline CPU s | this CPU s | CPU ratio |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
    for j in ("j1", "j2"):
        for dest, suffix in (("a file", ""), ("/dev/null", "_null")):
            a, b = f"pm_{j}{suffix}", f"base_{j}{suffix}"
            if a in med and b in med:
                ca, cb = cpu_med(a), cpu_med(b)
                cr = f"{ca / cb:.3f}" if ca and cb else "n/a"
                fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
                baseline.append(f"| `mask -q -{j} IN -o {dest}` | {med[b]:.3f} | {med[a]:.3f} | "
                                f"**{med[a] / med[b]:.3f}** | {fmt(cb)} | {fmt(ca)} | {cr} |")
            else:
                baseline.append(f"| `mask -q -{j} IN -o {dest}` | not measured (a command failed) | | | | | |")
    baseline.append("")

info = []
for name, a, b in (("protmask -j2 / cat", "pm_j2", "cat"),
                   ("protmask -j1 / seqkit -j 1", "pm_j1", "seqkit_j1"),
                   ("protmask -j2 / seqkit, gzip to gzip", "pm_gz_j2", "seqkit_gz"),
                   ("protmask -j1 / -j2, gzip (pigz) to plain", "pm_gzp_j1", "pm_gzp_j2"),
                   ("protmask -j1 / -j2, BGZF to plain", "pm_bgzf_j1", "pm_bgzf_j2"),
                   ("protmask -j2, gzip (pigz) / BGZF input, to plain", "pm_gzp_j2", "pm_bgzf_j2"),
                   ("seqkit -j 1 / seqkit default", "seqkit_j1", "seqkit")):
    v = ratio(a, b)
    if v is None and os.environ.get("BASELINE_ONLY") == "1":
        continue
    info.append(f"| {name} | {'n/a' if v is None else f'{v:.2f}x'} |")

md = "\n".join([
    "# protmask whole-process benchmarks", "",
    "Generated by `bash benches/wholeprocess.sh`. Wall time is the median of the runs; MB = 10^6 bytes;",
    "MB/s is of the uncompressed input; peak RSS is the maximum over the runs (`/usr/bin/time -v`);",
    "every command writes a fresh file (old outputs deleted and `sync`ed, untimed, before each run).",
    "CPU s = user + system time (median); `records ok`: the output has as many records as the",
    "input (checked after the first run). The machine may be shared: see the load average below.", "",
    "## Targets", "", "| target | measured | |", "|---|---|---|", *targets, "",
    "## Commands", "",
    "| command | median wall s | MB/s | CPU s | peak RSS MB | output MB | records ok | runs (s) |",
    "|---|---:|---:|---:|---:|---:|---|---|", *rows, "",
    *baseline,
    *(["## Other ratios (informative)", "", "| ratio | measured |", "|---|---|", *info, ""] if info else []),
    "## Machine", "", os.environ["MACHINE"], "",
])
with open(out_path, "w") as f:
    f.write(md)
print(md)
PYEOF
say "report written to $OUT"

if [ "$KEEP" != 1 ]; then
    rm -rf "$OUTDIR" "$RAW" "$CASES" "$IN" "$INGZ" "$INBGZF" "$INPY" "$INSH"*   # logs/ and .venv stay
else
    say "kept inputs, logs and raw timings in $DATA"
fi
say "done in $(( $(date +%s) - T_START )) s"
