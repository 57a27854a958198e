#!/usr/bin/env bash
# Runs the smoke program (smoke/: Node.js with config, a secret, a ComponentResource, a dynamic
# provider and outputs) through the real CLI: login, stack init, config set [--secret], up,
# stack output --show-secrets, destroy, stack rm.
#
#   scripts/pulumi/smoke.sh                                    # Pulumi's file backend in a temp dir
#   PULUMI_BACKEND_URL=http://127.0.0.1:8080 PULUMI_ACCESS_TOKEN=… scripts/pulumi/smoke.sh
#
# Environment: PULUMI_BACKEND_URL (default file://<temp dir>), PULUMI_ACCESS_TOKEN (for http(s)
# backends), SMOKE_STACK (stack name, default "dev"; an http backend accepts org/dev too),
# ITL_PULUMI_BIN (directory with pulumi; default: what
# ensure.sh prints). Exits non-zero, naming the step, when anything fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin="${ITL_PULUMI_BIN:-$("$here/ensure.sh")}"
work=$(mktemp -d "${TMPDIR:-/tmp}/itl-pulumi-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

export PATH="$bin:$PATH"
export PULUMI_HOME="$work/home"
export PULUMI_SKIP_UPDATE_CHECK=true
# Fail instead of downloading a plugin: the programs must run with what ensure.sh built.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$work/state}"
case "$PULUMI_BACKEND_URL" in
  file://*)
    mkdir -p "${PULUMI_BACKEND_URL#file://}"
    # The file backend's default secrets provider is a passphrase.
    export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-smoke-passphrase}"
    ;;
esac
stack="${SMOKE_STACK:-dev}"
secret="smoke-secret-$RANDOM$RANDOM"

step() { echo "smoke: $*" >&2; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

expect_output() { # name expected (from `stack output --json --show-secrets`)
  local got
  got=$(node -e 'const o = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(JSON.stringify(o[process.argv[1]]))' "$1" <"$work/outputs.json")
  [ "$got" = "$2" ] || fail "output $1 is $got, expected $2"
}

run_program() { # name
  local name=$1 dir="$work/$1"
  step "[$name] program in $dir, backend $PULUMI_BACKEND_URL, pulumi $(pulumi version)"
  case "$name" in
    nodejs)
      cp -r "$here/smoke" "$dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "[$name] npm ci"
      ;;
    *) fail "unknown program $name" ;;
  esac
  cd "$dir"
  pulumi login "$PULUMI_BACKEND_URL" >/dev/null || fail "[$name] pulumi login"
  pulumi stack init "$stack" --non-interactive || fail "[$name] stack init"
  pulumi config set greeting smoke || fail "[$name] config set"
  pulumi config set --secret apiKey "$secret" || fail "[$name] config set --secret"
  if grep -q -- "$secret" Pulumi.*.yaml; then fail "[$name] the secret is in the stack config file in clear"; fi
  pulumi up --yes --non-interactive || fail "[$name] up"
  pulumi stack output --json --show-secrets >"$work/outputs.json" || fail "[$name] stack output"
  expect_output greeting '"smoke"'
  expect_output apiKey "\"$secret\""
  if [ "$name" = nodejs ]; then
    expect_output itemIds '["item-smoke-0"]'
    expect_output keyLength "${#secret}"
  fi
  pulumi stack output --json >"$work/hidden.json" || fail "[$name] stack output without secrets"
  if grep -q -- "$secret" "$work/hidden.json"; then fail "[$name] stack output shows the secret without --show-secrets"; fi
  pulumi destroy --yes --non-interactive || fail "[$name] destroy"
  pulumi stack rm --yes --non-interactive || fail "[$name] stack rm"
  cd "$work"
  step "[$name] ok"
}

run_program nodejs
step "all ok"
