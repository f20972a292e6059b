#!/usr/bin/env bash
# Run atauth's fuzz targets, each for a bounded time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     (default: 30 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --version 0.13.2 --locked`).
# Only the stable toolchain exists here, so RUSTC_BOOTSTRAP=1 lets it pass
# its -Z flags. No sanitizer: the targets are safe Rust over aws-lc-rs (the
# crypto atauth ships), and libFuzzer still catches panics, overflows
# (debug assertions are on: -a), timeouts and memory blow-ups; ASan builds
# and runs here too, at about a quarter of the speed (see README, Fuzzing).
#
# Each target's corpus grows in fuzz/corpus/TARGET (not committed), seeded
# from fuzz/seeds/TARGET (committed). A crash leaves its input in
# fuzz/artifacts/TARGET and fails the run.
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-30}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(dpop_proof client_metadata client_id scope form_bodies)
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/atauth-fuzz-target}"
flags=(--sanitizer none --debug-assertions)

cargo fuzz build "${flags[@]}"
for t in "${targets[@]}"; do
    printf '\n--- fuzz %s for %s s\n' "$t" "$secs"
    mkdir -p "corpus/$t"
    cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1
done
