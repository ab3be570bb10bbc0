#!/usr/bin/env bash
# Run every fuzz target of protmask for a while and say what it found.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, all targets)
#
# By default it builds without a sanitizer (cargo fuzz --sanitizer none): libFuzzer's
# coverage instrumentation takes only stable -C flags, so this works with the stable
# toolchain alone, on a fresh machine. Panics, overflow checks and the checks' assertions
# still stop the fuzzer; what needs a sanitizer (out-of-bounds reads in C code, leaks) is
# not seen. SANITIZER=address (or leak, memory, thread) opts into a sanitizer: that takes
# -Zsanitizer, a nightly-only flag, so it uses the nightly toolchain when rustup has one
# (rustup toolchain install nightly) and otherwise tries the stable compiler with
# RUSTC_BOOTSTRAP=1, which cargo-fuzz 0.13.2 does not get past on every machine.
# Each target resumes from its corpus in fuzz/corpus/<target>/ (the seed-* files are kept
# in git, what the fuzzer adds is not); crashes land in fuzz/artifacts/<target>/ and logs
# in fuzz/logs/<target>.log. Exits 1 if any target crashed.
set -uo pipefail

secs=${1:-60}
shift || true
cd "$(dirname "$0")"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(schedule_parse mask_bytes verify_pair)
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io..." >&2
    cargo install cargo-fuzz --locked || exit 2
fi
sanitizer=${SANITIZER:-none}
toolchain=() # cargo's +toolchain argument, if any
if [ "$sanitizer" != none ]; then
    if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        toolchain=(+nightly)
    else
        echo "run.sh: SANITIZER=$sanitizer needs nightly Rust and none is installed; trying stable with RUSTC_BOOTSTRAP=1" >&2
        export RUSTC_BOOTSTRAP=1
    fi
fi
fuzz() { cargo "${toolchain[@]}" fuzz "$@"; }

echo "building the fuzz targets (release, sanitizer: $sanitizer${toolchain:+, ${toolchain[*]}})..." >&2
if ! fuzz build -O --sanitizer "$sanitizer"; then
    if [ "$sanitizer" != none ]; then
        echo "run.sh: the $sanitizer build failed: install nightly (rustup toolchain install nightly), or run without SANITIZER (the default, no sanitizer, stable Rust)" >&2
    fi
    exit 2
fi

# Per-target options: the longest input worth trying and a dictionary of useful tokens.
opts_for() {
    case "$1" in
        schedule_parse) echo "-max_len=256 -dict=dict/schedule_parse.dict" ;;
        mask_bytes) echo "-max_len=4096 -dict=dict/fasta.dict" ;;
        verify_pair) echo "-max_len=8192 -dict=dict/fasta.dict" ;;
        *) echo "" ;;
    esac
}

mkdir -p logs
summary=()
crashed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    echo "== $t: ${secs}s" >&2
    # shellcheck disable=SC2046
    fuzz run -O --sanitizer "$sanitizer" "$t" -- \
        -max_total_time="$secs" -timeout=20 -print_final_stats=1 $(opts_for "$t") \
        >"logs/$t.log" 2>&1
    status=$?
    after=$(find "artifacts/$t" -type f | wc -l)
    last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
    runs=$(sed -nE 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1 runs in \2 s/p' "logs/$t.log")
    cov=$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*exec\/s: ([0-9]+).*/cov \1, features \2, corpus \3, \4 exec\/s/p' <<<"$last")
    if [ "$status" -ne 0 ] || [ "$after" -gt "$before" ]; then
        crashed=1
        found="CRASH (exit $status): $(ls -t "artifacts/$t" | head -1)"
        grep -m1 -A1 "panicked at" "logs/$t.log" >&2 || grep -m1 "ERROR:" "logs/$t.log" >&2 || true
    else
        found="no crash"
    fi
    summary+=("$t: ${runs:-?}; ${cov:-?}; $found")
done

echo
echo "fuzzing summary ($(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per target, sanitizer $sanitizer):"
printf '  %s\n' "${summary[@]}"
echo "logs: fuzz/logs/; crashing inputs: fuzz/artifacts/<target>/ (reproduce, in fuzz/:"
echo "  ${RUSTC_BOOTSTRAP:+RUSTC_BOOTSTRAP=1 }cargo ${toolchain[*]:+${toolchain[*]} }fuzz run -O --sanitizer $sanitizer <target> artifacts/<target>/<file>)"
exit $crashed
