#!/usr/bin/env bash
# Builds the browser widget into static/pkg/ (git-ignored), where the gateway serves it as
# /static/pkg/c2c_widget.js + c2c_widget_bg.wasm for static/widget.js to import.
#
# Needs: rustup target wasm32-unknown-unknown, and wasm-bindgen-cli at exactly the version of
# the wasm-bindgen crate in Cargo.lock:
#   cargo install wasm-bindgen-cli --version <that version>
# Optional: wasm-opt (binaryen >= 116) on PATH shrinks the wasm a little further.
# Honours CARGO_TARGET_DIR (default: target/).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out_dir="$root/static/pkg"

die() { echo "build-widget: $*" >&2; exit 1; }

command -v wasm-bindgen >/dev/null ||
  die "wasm-bindgen not found; install it with: cargo install wasm-bindgen-cli --version <version of wasm-bindgen in Cargo.lock>"

# [profile.widget] keeps strip off (it would drop the section wasm-bindgen reads); wasm-bindgen
# strips names below instead.
cargo build -p c2c-widget --profile widget --target wasm32-unknown-unknown

# The CLI and the crate must agree exactly, or the generated glue does not match the module.
locked="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[ -n "$locked" ] || die "no wasm-bindgen entry in Cargo.lock"
cli="$(wasm-bindgen --version | awk '{ print $2 }')"
[ "$cli" = "$locked" ] ||
  die "wasm-bindgen CLI is $cli but Cargo.lock has wasm-bindgen $locked; run: cargo install wasm-bindgen-cli --version $locked"

wasm="$target_dir/wasm32-unknown-unknown/widget/c2c_widget.wasm"
[ -f "$wasm" ] || die "build produced no $wasm"
rm -rf "$out_dir"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$out_dir" "$wasm"

# Binaryen before 116 (Debian 12 ships 108) miscompiles this module: it loads, then traps
# `unreachable` in mount(). Only a recent wasm-opt is used.
wasm_opt_version="$(wasm-opt --version 2>/dev/null | awk '{ print $3 }' || true)"
if [ -n "$wasm_opt_version" ] && [ "${wasm_opt_version%%.*}" -ge 116 ] 2>/dev/null; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$out_dir/c2c_widget_bg.wasm" "$out_dir/c2c_widget_bg.wasm"
else
  echo "build-widget: no wasm-opt >= 116 on PATH${wasm_opt_version:+ (found $wasm_opt_version)}, skipping (optional)"
fi

gz() { gzip -9 -c "$1" | wc -c; }
wasm_gz="$(gz "$out_dir/c2c_widget_bg.wasm")"
js_gz="$(gz "$out_dir/c2c_widget.js")"
echo "build-widget: $out_dir"
echo "  c2c_widget_bg.wasm $(wc -c <"$out_dir/c2c_widget_bg.wasm") B, gzip $wasm_gz B"
echo "  c2c_widget.js      $(wc -c <"$out_dir/c2c_widget.js") B, gzip $js_gz B"
echo "  total gzip $(( (wasm_gz + js_gz + 1023) / 1024 )) KiB"
