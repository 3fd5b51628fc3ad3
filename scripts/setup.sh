#!/usr/bin/env bash
# Installs what c2c needs to build and test, idempotently: fast when everything is present.
#   apt: chromium, chromium-driver (browser tests), sip-tester (SIPp, the SIP peer),
#        baresip (softphones as agents in the e2e tests)
#   rustup: the wasm32-unknown-unknown target (the widget)
#   cargo: wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
say() { echo "setup: $*"; }

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi

# Debian packages, by the command each provides.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v baresip >/dev/null || missing+=(baresip)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt)"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must match the crate exactly, or the generated glue does not fit the module.
locked="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$have" != "$locked" ]; then
  say "installing wasm-bindgen-cli $locked (once per machine, a few minutes)"
  # Not --locked: the CLI's own lock file pins a crate version the registry no longer serves.
  cargo install -q wasm-bindgen-cli --version "$locked"
fi
# wasm-opt shrinks the widget by a few KiB (it must stay under 60 KiB gzipped). Debian's
# binaryen (108) miscompiles it; the npm package ships a current build as JavaScript.
wasm_opt_version="$(wasm-opt --version 2>/dev/null | awk '{ print $3 }' || true)"
if [ -z "$wasm_opt_version" ] || [ "$wasm_opt_version" -lt 116 ] 2>/dev/null; then
  if command -v npm >/dev/null; then
    say "installing wasm-opt (npm binaryen@132)"
    npm install -g --silent binaryen@132 >/dev/null 2>&1 || say "wasm-opt unavailable; the widget builds without it"
  else
    say "npm not found: the widget builds without wasm-opt"
  fi
fi
say "ok"
