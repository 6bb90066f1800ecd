#!/usr/bin/env bash
# Fuzzes every operation of the running binary's OpenAPI document with
# schemathesis (from PyPI): once anonymously, once with a Kippenstummel ident
# token and the KMC admin JWT, once with a Devmarkt `Self` token of the admin.
# Checks: no 5xx, declared status codes and content types, and responses
# that match their schemas. Fails on the first failing run.
#
# Starts its own redis-server and `stummel serve` (embedded store) on free
# ports in a temporary directory; touches nothing else.
#
#   scripts/schemathesis.sh                    # uses target/debug/stummel
#   STUMMEL_BIN=target/release/stummel SCHEMATHESIS_EXAMPLES=200 scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${STUMMEL_BIN:-target/debug/stummel}
examples=${SCHEMATHESIS_EXAMPLES:-25}
seed=${SCHEMATHESIS_SEED:-20261202}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
version=4.32.5

[ -x "$bin" ] || cargo build --locked --bin stummel
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$version"; then
  echo "schemathesis.sh: installing schemathesis $version from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

jwt_secret=fuzz-admin-secret-0123456789
devmarkt_secret=fuzz-devmarkt-secret-0123456789
: >"$work/stummel.out"
NODE_ENV=test PORT=0 DATA_DIR="$work/data" CONFIG_DIR="$work/none" REDIS_URI="redis://127.0.0.1:$redis_port" \
  JWT_SECRET=$jwt_secret IDENT_SECRET=fuzz-ident-secret-0123456789 DEVMARKT_JWT_SECRET=$devmarkt_secret \
  DEVMARKT_QA=true LOGIN_LIMIT_PER_MINUTE=1000000 CAPTCHA_LIMIT_PER_MINUTE=1000000 \
  "$bin" serve >"$work/stummel.out" 2>"$work/stummel.err" &
pids+=($!)
base=""
for _ in $(seq 200); do
  base=$(sed -n 's/^stummel listening on //p' "$work/stummel.out" | head -1)
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { cat "$work/stummel.err"; echo "schemathesis.sh: stummel did not start"; exit 1; }

eval "$(python3 scripts/fuzz_credentials.py "$base" "$redis_port" "$jwt_secret" "$devmarkt_secret")"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# One worker: with two, Hypothesis describes its lambdas by ast-parsing
# sources in two threads at once, which CPython 3.11 sometimes aborts with
# "AST constructor recursion depth mismatch" (a tool error, not a finding;
# seen here once in two runs).
run() {
  local name=$1
  shift
  echo "schemathesis.sh: $name"
  "$venv/bin/schemathesis" run "$base/openapi.json" --checks "$checks" --max-examples "$examples" \
    --seed "$seed" --workers 1 --no-color --generation-database none --request-timeout 20 \
    --report junit --report-junit-path "$work/$name.xml" "$@"
}
run anonymous
run kippenstummel --include-path-regex '^/api/v1' \
  -H "x-ident: $IDENT_TOKEN" -H "Authorization: Bearer $ADMIN_JWT"
run devmarkt --include-path-regex '^/api/devmarkt' -H "Authorization: Self $DEVMARKT_JWT"
echo "schemathesis.sh: the fuzzed machine was $MACHINE_ID; no failures"
kill -0 "${pids[1]}" || { echo "schemathesis.sh: stummel died"; exit 1; }
