#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine.
#
# Installs what the tests need when it is missing (redis-server, from
# Debian's packages; each Redis test starts its own server on a free port in
# a temporary directory; schemathesis, from PyPI, into target/). After the
# cargo tests, scripts/schemathesis.sh fuzzes the built binary through its
# OpenAPI document (STUMMEL_SKIP_SCHEMATHESIS=1 skips that). The MongoDB
# tests are #[ignore]d unless
# STUMMEL_TEST_MONGO_URI names a MongoDB-compatible server: then they run
# too, each against a fresh database that is dropped afterwards. The MongoDB
# outage test also needs STUMMEL_TEST_MONGO_STOP and STUMMEL_TEST_MONGO_START
# (shell commands that stop and start that server); it runs last, alone.
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
  # The MongoDB outage test stops the server under test: it runs alone, below.
  extra=(-- --include-ignored --skip mongodb_outage)
else
  echo "test.sh: skipped: STUMMEL_TEST_MONGO_URI not set (the MongoDB tests show as ignored)"
fi

cargo test --workspace --locked "$@" "${extra[@]}"

if [ -n "${STUMMEL_TEST_MONGO_URI:-}" ]; then
  if [ -n "${STUMMEL_TEST_MONGO_STOP:-}" ] && [ -n "${STUMMEL_TEST_MONGO_START:-}" ]; then
    echo "test.sh: running the MongoDB outage test alone (it stops and restarts the server)"
    cargo test --locked "$@" --test service -- --include-ignored --exact \
      outages::mongodb_outage_fails_fast_keeps_the_rest_working_and_recovers
  else
    echo "test.sh: skipped: the MongoDB outage test (STUMMEL_TEST_MONGO_STOP/STUMMEL_TEST_MONGO_START not set)"
  fi
fi

# The binary the tests just built, fuzzed through its OpenAPI document.
if [ "${STUMMEL_SKIP_SCHEMATHESIS:-}" != 1 ]; then
  SCHEMATHESIS_EXAMPLES=${SCHEMATHESIS_EXAMPLES:-50} scripts/schemathesis.sh
fi
