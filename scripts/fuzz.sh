#!/usr/bin/env bash
# Runs every request parser's fuzz target (fuzz/) for a bounded time: FUZZ_SECONDS each, 20 by
# default. cargo-fuzz needs a nightly toolchain: a dated one, so that a new nightly cannot break
# the run; it and cargo-fuzz (pinned too) are installed if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
nightly=nightly-2026-05-20
rustup toolchain list | grep -q "^$nightly" || rustup toolchain install "$nightly" --profile minimal
cargo fuzz --version 2>/dev/null | grep -q 0.13.2 || cargo install --locked cargo-fuzz --version 0.13.2
# No sanitizer: the parsers are safe Rust, and what is looked for is a panic, an overflow or a
# hang, which libFuzzer catches without one (and the build is several times faster).
for target in query_string bbox datetime cql2 tile crs; do
  echo "fuzzing $target for ${seconds}s" >&2
  cargo "+$nightly" fuzz run --sanitizer none "$target" -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096
done
