#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine.
#
# Installs what the tests need when it is missing (redis-server, from
# Debian's packages; each Redis test starts its own server on a free port in
# a temporary directory; schemathesis, from PyPI, into target/). After the
# cargo tests, scripts/schemathesis.sh fuzzes the built binary through its
# OpenAPI document (STUMMEL_SKIP_SCHEMATHESIS=1 skips that). The MongoDB tests are #[ignore]d unless
# STUMMEL_TEST_MONGO_URI names a MongoDB-compatible server: then they run
# too, each against a fresh database that is dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "test.sh: installing redis-server from Debian's packages"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

extra=()
if [ -n "${STUMMEL_TEST_MONGO_URI:-}" ]; then
  echo "test.sh: STUMMEL_TEST_MONGO_URI is set: running the MongoDB tests as well"
  extra=(-- --include-ignored)
else
  echo "test.sh: skipped: STUMMEL_TEST_MONGO_URI not set (the MongoDB tests show as ignored)"
fi

cargo test --workspace --locked "$@" "${extra[@]}"

# The binary the tests just built, fuzzed through its OpenAPI document.
if [ "${STUMMEL_SKIP_SCHEMATHESIS:-}" != 1 ]; then
  SCHEMATHESIS_EXAMPLES=${SCHEMATHESIS_EXAMPLES:-50} scripts/schemathesis.sh
fi
