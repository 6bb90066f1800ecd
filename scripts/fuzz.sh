#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ (the request parsers) for a while.
#
#   scripts/fuzz.sh                 # 60 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh rsql viewport
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`, from crates.io; installed
# here when missing). libFuzzer's instrumentation needs nightly flags; the
# machine has one stable toolchain, so RUSTC_BOOTSTRAP=1 lets it accept them.
# Crashes land in fuzz/artifacts/<target>/ and fail the script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for target in "${targets[@]}"; do
  echo "fuzz.sh: $target for ${seconds}s"
  mkdir -p "corpus/$target"
  cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -timeout=2
done
echo "fuzz.sh: no crash in ${#targets[@]} targets × ${seconds}s"
