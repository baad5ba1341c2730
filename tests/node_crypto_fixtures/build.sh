#!/usr/bin/env bash
# Regenerates jsonwebtoken.cjs: jsonwebtoken 9.0.2 and its dependencies (jws, jwa,
# ecdsa-sig-formatter, safe-buffer, semver, ms, lodash.*; all MIT / ISC / BSD licensed, see
# their packages) bundled into one CommonJS file whose Node built-ins (crypto, buffer, util,
# stream) stay require() calls, i.e. reach the sandbox's own modules. Test data only: the
# product never loads it. Needs Node and npm (registry access), not at test time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund jsonwebtoken@9.0.2 esbuild@0.24.2
echo "module.exports = require('jsonwebtoken');" > entry.js
npx esbuild entry.js --bundle --platform=node --format=cjs --minify --legal-comments=inline \
  --banner:js="/* jsonwebtoken 9.0.2 and dependencies, bundled by tests/node_crypto_fixtures/build.sh */" \
  --outfile="$here/jsonwebtoken.cjs"
