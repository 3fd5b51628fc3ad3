#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser fed by the network or by storage (FUZZING.md).
#
#   scripts/fuzz.sh                          every target, 60 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="sdp stun" scripts/fuzz.sh
#
# Installs what it needs (nightly toolchain, cargo-fuzz) only when missing. The corpus grows
# in fuzz/corpus/<target>/ (seeded from fuzz/seeds/<target>/), crashes land in
# fuzz/artifacts/<target>/; both are git-ignored. Exits non-zero when any target crashed.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-60}
all="sip_datagram sip_stream sdp stun rtp_rtcp signalling_json call_token interrupted_dialog http_json"
targets=${FUZZ_TARGETS:-$all}
targets=${targets//,/ }

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Largest input per target: a little above what the product accepts, so the refusals run too.
max_len() {
    case $1 in
        sip_datagram | sip_stream) echo 17000 ;; # the ingress limit is 16 KiB
        interrupted_dialog) echo 16384 ;;
        sdp) echo 8192 ;;
        call_token) echo 4200 ;; # tokens over 4096 bytes are refused unparsed
        stun | rtp_rtcp | signalling_json | http_json) echo 4096 ;;
        *) echo 4096 ;;
    esac
}

# Read-only corpora that live elsewhere in the repository (nothing is duplicated).
extra_corpora() {
    case $1 in
        sip_datagram | sip_stream)
            echo "$root/sbc/tests/data/sip-torture/rfc4475 $root/sbc/tests/data/sip-torture/rfc5118" ;;
        sdp) echo "$root/media/tests/fixtures" ;;
    esac
}

# Crash, timeout, OOM and leak inputs libFuzzer saved (slow units are not failures).
findings() {
    find "$1" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l
}

for t in $targets; do
    if [[ " $all " != *" $t "* ]]; then
        echo "unknown fuzz target: $t (known: $all)" >&2
        exit 2
    fi
done

cd fuzz
cargo +nightly fuzz build
bin_dir="$root/fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
failed=0
summary=()
for t in $targets; do
    corpus="$root/fuzz/corpus/$t"
    artifacts="$root/fuzz/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    cp -n "$root/fuzz/seeds/$t"/* "$corpus/" 2>/dev/null || true
    dirs=()
    for d in $(extra_corpora "$t"); do
        [[ -d $d ]] && dirs+=("$d")
    done
    before=$(findings "$artifacts")
    log="$artifacts/last-run.log"
    echo "== $t: ${seconds}s"
    set +e
    # The binary `cargo fuzz build` made, run directly: `cargo fuzz run` would rebuild
    # whenever a source file was touched since, and time each target differently.
    "$bin_dir/$t" "$corpus" "${dirs[@]}" \
        -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1
    rc=$?
    set -e
    crashes=$(($(findings "$artifacts") - before))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
    if [[ $rc -ne 0 ]]; then
        failed=1
        tail -40 "$log"
    fi
    summary+=("$(printf '%-17s rc=%-3s execs=%-10s exec/s=%-7s %-22s crashes=%s' \
        "$t" "$rc" "${execs:-?}" "${speed:-?}" "${cov:-cov: ? ft: ?}" "$crashes")")
done

echo
echo "fuzz summary (${seconds}s per target; logs in fuzz/artifacts/<target>/last-run.log)"
printf '%s\n' "${summary[@]}"
exit "$failed"
