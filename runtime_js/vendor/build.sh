#!/usr/bin/env bash
# Regenerates runtime_js/vendor/dist/ from the exact versions in package-lock.json: `npm ci` in a
# temporary directory, then esbuild (pinned in package.json) bundles each module (build.mjs).
# Needs Node and npm (tooling only: the product never runs Node). Commit the result.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/build.mjs" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
rm -f "$here"/dist/*.js "$here"/dist/modules.json
mkdir -p "$here/dist"
(cd "$work" && node build.mjs "$work/node_modules" "$here/dist" "$here/own" "$here/licenses" "$here/VERSIONS")
