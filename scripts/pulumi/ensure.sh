#!/usr/bin/env bash
# Makes sure a pinned `pulumi` CLI and its language hosts exist in a cache directory outside the
# repository, building them from the Go module proxy when they are missing, and prints the directory
# that holds them (put it first on PATH). Idempotent: when the binaries are there and were built from
# the current inputs, it prints the directory at once.
#
#   dir=$(scripts/pulumi/ensure.sh) && PATH="$dir:$PATH" pulumi version
#
# Environment: ITL_PULUMI_CACHE overrides the cache directory. Needs Go (see go.mod for the
# version) and network access to the Go module proxy on the first run only.
set -euo pipefail

# One Pulumi version for the CLI, the SDK the Node.js host is built against, and the version both
# report. Pulumi's YAML host (github.com/pulumi/pulumi-yaml v1.25.0, the newest the proxy serves)
# does not compile against this SDK, so it is not built.
PULUMI_VERSION=v3.274.1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src="$here/build"
cache="${ITL_PULUMI_CACHE:-$HOME/.cache/itl-attestation/pulumi-$PULUMI_VERSION}"
bin="$cache/bin"

log() { echo "pulumi/ensure: $*" >&2; }

# What the binaries are built from; a change in any of it (our language host, the pinned module
# graph, this script) rebuilds.
inputs_hash() {
  (cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z |
    xargs -0 sha256sum; sha256sum <"$here/ensure.sh") | sha256sum | cut -d' ' -f1
}

is_ready() {
  local dir=$1
  [ -x "$dir/pulumi" ] && [ -x "$dir/pulumi-language-nodejs" ] && [ -x "$dir/pulumi-resource-pulumi-nodejs" ] &&
    [ "$(cat "$dir/.inputs" 2>/dev/null)" = "$(inputs_hash)" ] &&
    [ "$(PULUMI_SKIP_UPDATE_CHECK=true PULUMI_HOME="$cache/home" "$dir/pulumi" version 2>/dev/null)" = "$PULUMI_VERSION" ]
}

if is_ready "$bin"; then
  echo "$bin"
  exit 0
fi

# The official Go tarball installs into /usr/local/go, which a non-login shell may not have on its PATH.
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"; }
command -v go >/dev/null || { log "Go is needed to build pulumi $PULUMI_VERSION (see $src/go.mod)"; exit 1; }
mkdir -p "$cache"

# Two callers at once (parallel test files, CI and a developer): one builds, the other waits and
# then finds the binaries ready.
exec 9>"$cache/.lock"
flock 9
if is_ready "$bin"; then
  echo "$bin"
  exit 0
fi

# Modules and compiled packages live in the cache too: nothing is written to the repository or to
# the user's own Go directories, a rebuild after a change to the language host takes seconds, and
# `rm -rf` of the cache directory removes everything.
export GOPATH="$cache/go"
export GOMODCACHE="$cache/go/pkg/mod"
export GOCACHE="$cache/go-build"
# -mod=readonly: the module graph is exactly go.mod/go.sum of the repository (checked against the
# checksum database on download); -modcacherw: the module cache can be removed with rm -rf.
export GOFLAGS="-mod=readonly -modcacherw -buildvcs=false"
# Build with the local Go; never fetch a toolchain behind the caller's back.
export GOTOOLCHAIN=local
export CGO_ENABLED=0

stage="$cache/stage"
rm -rf "$stage"
mkdir -p "$stage"
started=$(date +%s)
log "building pulumi $PULUMI_VERSION and its Node.js language host into $cache (first run: several minutes)"

cd "$src"
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
nice -n 19 go build -trimpath -ldflags "$ldflags" -o "$stage/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
nice -n 19 go build -trimpath -ldflags "-s -w -X main.version=$PULUMI_VERSION" \
  -o "$stage/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs

# Dynamic providers of Node.js programs run through this script from the SDK module; the CLI looks
# for it next to its own binary, as in Pulumi's release archives.
sdk_dir=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$stage/pulumi-resource-pulumi-nodejs"

inputs_hash >"$stage/.inputs"
if ! is_ready "$stage"; then
  log "the built pulumi does not report $PULUMI_VERSION: $("$stage/pulumi" version 2>&1 || true)"
  exit 1
fi
rm -rf "$bin"
mv "$stage" "$bin"
log "built in $(($(date +%s) - started)) s"
echo "$bin"
