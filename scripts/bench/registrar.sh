#!/usr/bin/env bash
# Registrar benchmark (BENCHMARKS.md, "Registrar: REGISTER with digest through SIPp"):
# the release gateway pinned to one core, SIPp on the other, agents' phones signing in with
# digest (REGISTER -> 401 -> REGISTER with Authorization -> 200, e2e/scenarios/bench_register.xml)
# and refreshing (bench_refresh.xml), at rising rates until a sign-in fails, counting the
# retransmissions on the way; then the memory each registered agent costs; and the same load
# against Kamailio's registrar (Debian `kamailio`) when it is installed.
#
#   cargo build --release --bin c2c          # once
#   scripts/bench/registrar.sh               # all parts, 3 runs each (~25 min)
#   PARTS="register memory" RUNS=1 scripts/bench/registrar.sh
#
# Settings (environment):
#   C2C_BIN        the gateway binary (target/release/c2c)
#   RUNS           runs of each part (3); the summary gives medians over runs
#   PARTS          any of: cap register refresh memory kamailio
#   AGENTS         agents in the database for the rate parts (5000)
#   SOURCES        phones' source addresses 127.0.1.1... (100); the gateway limits messages
#                  per source address (200/s, burst 1000), so one address caps the rate
#   STEP_S         seconds per rate step (10)
#   RATES          sign-ins per second tried, in order, until a sign-in fails or the rate is
#                  not reached (retransmissions are counted, and reported, on the way)
#   REFRESH_RATES  phones per second in the refresh part; each answers one challenge then
#                  refreshes 20 times back to back (so refreshes/s = 20 x the rate)
#   CAP_RATES      sign-ins per second from ONE source address (the per-source cap)
#   MEM_NS         agents registered in the memory part (a fresh gateway for each)
#   MEM_RATE       sign-ins per second in the memory part (1000)
#   MAX_MINUTES    the whole run is abandoned past this (75)
#   KEEP=1         keep the scratch directory (logs, SIPp statistics, results.tsv)
#   SUMMARY_ONLY=F reprint the summary of a kept results.tsv and exit
#
# Pinning: this script and SIPp run on core SIPP_CORE (1), the server on GW_CORE (0).
# CPU is utime+stime from /proc/<pid>/stat (all processes of the server's process group,
# threads included) over the SIPp run plus a 1 s drain, divided by the SIPp run's wall time;
# RSS is VmRSS from /proc/<pid>/status (for Kamailio, Pss summed over its processes, and its
# shared-memory pool's real_used from `kamcmd core.shmmem`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GW_BIN=${C2C_BIN:-$ROOT/target/release/c2c}
# The gateway reads every C2C_* variable as a configuration override (C2C_BIN would be a key
# `bin`, C2C_DATABASE_URL another database): none reaches it from here.
for v in $(compgen -e | grep '^C2C_' || true); do unset "$v"; done
RUNS=${RUNS:-3}
PARTS=${PARTS:-"cap register refresh memory kamailio"}
AGENTS=${AGENTS:-5000}
SOURCES=${SOURCES:-100}
STEP_S=${STEP_S:-10}
RATES=${RATES:-"500 1000 1500 2000 3000 4000 5000 6000 8000"}
REFRESH_RATES=${REFRESH_RATES:-"25 50 100 150 200 300 400 500"}
CAP_RATES=${CAP_RATES:-"100 200 400"}
MEM_NS=${MEM_NS:-"0 1000 5000 10000"}
MEM_RATE=${MEM_RATE:-1000}
MAX_MINUTES=${MAX_MINUTES:-75}
GW_CORE=${GW_CORE:-0}
SIPP_CORE=${SIPP_CORE:-1}
REALM=c2c.test
REFRESHES=20 # per call in bench_refresh.xml
SCENARIOS=$ROOT/e2e/scenarios
START=$(date +%s)
HZ=$(getconf CLK_TCK)

for tool in sipp taskset python3 setsid; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install sip-tester util-linux python3)" >&2; exit 2; }
done
[[ -n ${SUMMARY_ONLY:-} || -x $GW_BIN ]] || { echo "no gateway binary at $GW_BIN: cargo build --release --bin c2c" >&2; exit 2; }

WORK=$(mktemp -d /tmp/c2c-registrar-bench.XXXXXX)
RESULTS=$WORK/results.tsv
: >"$RESULTS"
declare -a GROUPS_STARTED=() # process group ids of servers this script started
SIPP_PID=

cleanup() {
    local rc=$?
    [[ -n $SIPP_PID ]] && kill -- "-$SIPP_PID" 2>/dev/null || true
    for g in "${GROUPS_STARTED[@]}"; do
        kill -TERM -- "-$g" 2>/dev/null || true
    done
    for g in "${GROUPS_STARTED[@]}"; do
        for _ in $(seq 50); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$g" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 ]]; then echo "scratch kept: $WORK" >&2; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The harness itself stays off the server's core.
taskset -cp "$SIPP_CORE" $$ >/dev/null

say() { printf '%s\n' "$*" >&2; }
deadline() {
    if (($(date +%s) - START > MAX_MINUTES * 60)); then
        say "MAX_MINUTES=$MAX_MINUTES passed: stopping"
        exit 3
    fi
}
now() { date +%s.%N; }

# A port free for UDP (and TCP with "tcp") on every local address right now.
free_port() {
    python3 - "${1:-udp}" <<'EOF'
import socket, sys
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("", 0))
print(s.getsockname()[1])
EOF
}

# utime+stime (clock ticks) of every process in process group $1.
group_ticks() {
    local g=$1 total=0 f rest
    for f in /proc/[0-9]*/stat; do
        rest=$(cat "$f" 2>/dev/null) || continue
        rest=${rest##*) }
        # shellcheck disable=SC2086
        set -- $rest
        # after "pid (comm) ": 1 state, 2 ppid, 3 pgrp, ... 12 utime, 13 stime
        if [[ ${3:-} == "$g" ]]; then total=$((total + ${12} + ${13})); fi
    done
    echo "$total"
}
pid_ticks() {
    local rest
    rest=$(cat "/proc/$1/stat" 2>/dev/null) || { echo ""; return; }
    rest=${rest##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo $((${12} + ${13}))
}
# Datagrams the kernel dropped for want of receive buffer on the UDP sockets bound to port
# $1 (the `drops` column of /proc/net/udp).
udp_drops() {
    awk -v port="$(printf '%04X' "$1")" \
        'NR > 1 { split($2, a, ":"); if (a[2] == port) d += $NF } END { print d + 0 }' /proc/net/udp
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# Pss of the whole process group (Kamailio: workers share its memory pools).
group_pss_kb() {
    local g=$1 total=0 f pid pg
    for f in /proc/[0-9]*/stat; do
        pid=${f#/proc/}; pid=${pid%/stat}
        pg=$(awk '{sub(/.*\) /, ""); print $3}' "$f" 2>/dev/null) || continue
        [[ $pg == "$g" ]] || continue
        total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# ---------------------------------------------------------------- accounts

# $1 count, $2 dir: writes $2/accounts.tsv (user password ha1_md5 ha1_sha256), and the SIPp
# injection files: $2/agents.csv (user $i from source 127.0.1.(i % SOURCES + 1)) and
# $2/one_source.csv (all from 127.0.1.1); $3 is SIPp's port (field3).
make_accounts() {
    python3 - "$1" "$2" "$3" "$SOURCES" "$REALM" <<'EOF'
import hashlib, sys
n, d, port, sources, realm = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
with open(f"{d}/accounts.tsv", "w") as acc, open(f"{d}/agents.csv", "w") as csv, \
        open(f"{d}/one_source.csv", "w") as one:
    csv.write("SEQUENTIAL\n")
    one.write("SEQUENTIAL\n")
    for i in range(n):
        user, pw = f"agent{i:05d}", f"bench-pw-{i:05d}-x"
        a1 = f"{user}:{realm}:{pw}".encode()
        acc.write(f"{user}\t{pw}\t{hashlib.md5(a1).hexdigest()}\t{hashlib.sha256(a1).hexdigest()}\n")
        auth = f"[authentication username={user} password={pw}]"
        csv.write(f"{user};{auth};127.0.1.{i % sources + 1};{port}\n")
        one.write(f"{user};{auth};127.0.1.1;{port}\n")
EOF
}

# $1 database file, $2 accounts.tsv: the agents as `c2c agent add` stores them (agents,
# agent_contacts, agent_credentials; store/migrations/0011_agents.sql), in one transaction.
seed_c2c_db() {
    python3 - "$1" "$2" "$REALM" <<'EOF'
import sqlite3, sys, time
db, accounts, realm = sys.argv[1:4]
now = int(time.time())
con = sqlite3.connect(db)
with con:
    for line in open(accounts):
        user, _pw, md5, sha = line.rstrip("\n").split("\t")
        agent = f"ag_bench_{user}"
        con.execute("INSERT INTO agents (id, org, display_name, max_calls, away, created_at, "
                    "updated_at) VALUES (?, 'bench', ?, 1, 0, ?, ?)", (agent, f"Agent {user}", now, now))
        con.execute("INSERT INTO agent_contacts (agent, position, kind, target, trunk, "
                    "confirm_digit) VALUES (?, 0, 'sip', ?, '', '')", (agent, user))
        con.execute("INSERT INTO agent_credentials (username, agent, org, realm, ha1_md5, "
                    "ha1_sha256, updated_at) VALUES (?, ?, 'bench', ?, ?, ?, ?)",
                    (user, agent, realm, md5, sha, now))
con.close()
EOF
}

db_count() {
    python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
print(con.execute(f"SELECT count(*) FROM {sys.argv[2]}").fetchone()[0])
EOF
}

# ---------------------------------------------------------------- servers

GW_PID= GW_DIR= SIP_PORT= SIPP_PORT=

c2c_config() { # $1 dir, $2 http port, $3 sip port
    cat <<EOF
data_dir = "$1/data"
static_dir = "$ROOT/static"

[http]
listen = "127.0.0.1:$2"

[sip]
listen = "127.0.0.1:$3"

[registrar]
networks = ["127.0.0.0/8"]
realm = "$REALM"
# SIPp 3.6 answers only the first challenge, and only MD5.
algorithms = ["MD5", "SHA-256"]
EOF
}

# Once: an agent added by `c2c agent add` gets the HA1 values this script computes.
check_ha1() {
    local d=$WORK/ha1check pw=bench-check-password-0001
    mkdir -p "$d"
    c2c_config "$d" "$(free_port tcp)" "$(free_port)" >"$d/c2c.toml"
    printf '%s\n' "$pw" | "$GW_BIN" agent add --config "$d/c2c.toml" --org bench --name Check \
        --username hcheck --password-stdin >/dev/null
    python3 - "$d/data/c2c.db" "$REALM" "$pw" <<'EOF'
import hashlib, sqlite3, sys
db, realm, pw = sys.argv[1:4]
md5, sha = sqlite3.connect(db).execute(
    "SELECT ha1_md5, ha1_sha256 FROM agent_credentials WHERE username = 'hcheck'").fetchone()
a1 = f"hcheck:{realm}:{pw}".encode()
assert (md5, sha) == (hashlib.md5(a1).hexdigest(), hashlib.sha256(a1).hexdigest()), "HA1 differs"
EOF
    say "HA1 check: the script's HA1 values equal what 'c2c agent add' stores"
}

# $1 agents: a fresh data dir, migrated (`c2c migrate`), seeded, the gateway started on
# GW_CORE; returns once its registrar holds the accounts.
start_c2c() {
    local n=$1 http
    GW_DIR=$WORK/c2c-$(date +%s%N)
    mkdir -p "$GW_DIR"
    http=$(free_port tcp)
    SIP_PORT=$(free_port)
    SIPP_PORT=$(free_port)
    c2c_config "$GW_DIR" "$http" "$SIP_PORT" >"$GW_DIR/c2c.toml"
    "$GW_BIN" migrate --config "$GW_DIR/c2c.toml" >"$GW_DIR/migrate.log" 2>&1
    make_accounts "$n" "$GW_DIR" "$SIPP_PORT"
    seed_c2c_db "$GW_DIR/data/c2c.db" "$GW_DIR/accounts.tsv"
    NO_COLOR=1 setsid taskset -c "$GW_CORE" "$GW_BIN" serve --config "$GW_DIR/c2c.toml" \
        >"$GW_DIR/gateway.log" 2>&1 </dev/null &
    GW_PID=$!
    GROUPS_STARTED+=("$GW_PID")
    local i
    for i in $(seq 300); do
        if sed 's/\x1b\[[0-9;]*m//g' "$GW_DIR/gateway.log" |
            grep -q "SIP accounts loaded into the registrar.*accounts=$n\b"; then
            sleep 2 # let start-up settle before any reading
            return 0
        fi
        kill -0 "$GW_PID" 2>/dev/null || { cat "$GW_DIR/gateway.log" >&2; say "gateway exited"; exit 1; }
        sleep 0.1
    done
    tail -20 "$GW_DIR/gateway.log" >&2
    say "the registrar did not load $n accounts in 30 s"
    exit 1
}

stop_group() { # $1 pgid
    local g=$1 keep=() x
    kill -TERM -- "-$g" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$g" 2>/dev/null || true
    for x in "${GROUPS_STARTED[@]}"; do [[ $x == "$g" ]] || keep+=("$x"); done
    GROUPS_STARTED=("${keep[@]}")
}

KAM_DIR=
# $1 agents: Kamailio 5.6 with registrar + usrloc (memory only, db_mode 0) + auth, the HA1
# (MD5) per user in an htable loaded from a db_text file at start; 4 UDP workers, all on
# GW_CORE.
start_kamailio() {
    local n=$1
    KAM_DIR=$WORK/kam-$(date +%s%N)
    mkdir -p "$KAM_DIR/db"
    SIP_PORT=$(free_port)
    SIPP_PORT=$(free_port)
    make_accounts "$n" "$KAM_DIR" "$SIPP_PORT"
    {
        echo "id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int)"
        awk -F'\t' '{printf "%d:%s:0:0:%s:0\n", NR, $1, $3}' "$KAM_DIR/accounts.tsv"
    } >"$KAM_DIR/db/creds"
    printf 'table_name(string) table_version(int)\nhtable:2\n' >"$KAM_DIR/db/version"
    cat >"$KAM_DIR/kamailio.cfg" <<EOF
#!KAMAILIO
debug=1
log_stderror=yes
children=4
auto_aliases=no
listen=udp:127.0.0.1:$SIP_PORT
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "kex.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "db_text.so"
loadmodule "htable.so"
loadmodule "auth.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "ctl.so"
modparam("ctl", "binrpc", "unix:$KAM_DIR/ctl.sock")
modparam("htable", "db_url", "text://$KAM_DIR/db")
modparam("htable", "htable", "creds=>size=14;dbtable=creds;")
modparam("auth", "secret", "registrar-bench-secret-0123456789")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
request_route {
    if (!is_method("REGISTER")) { sl_send_reply("405", "Method Not Allowed"); exit; }
    if (!is_present_hf("Authorization")) { auth_challenge("$REALM", "1"); exit; }
    \$var(ha1) = \$sht(creds=>\$au);
    if (\$var(ha1) == \$null || \$au != \$tU) { auth_challenge("$REALM", "1"); exit; }
    if (!pv_www_authenticate("$REALM", "\$var(ha1)", "1")) { auth_challenge("$REALM", "1"); exit; }
    if (!save("location")) { sl_reply_error(); }
    exit;
}
EOF
    setsid taskset -c "$GW_CORE" kamailio -DD -E -f "$KAM_DIR/kamailio.cfg" -m 256 -M 16 \
        -w "$KAM_DIR" >"$KAM_DIR/kamailio.log" 2>&1 </dev/null &
    GW_PID=$!
    GROUPS_STARTED+=("$GW_PID")
    local i
    for i in $(seq 100); do
        if kamcmd -s "unix:$KAM_DIR/ctl.sock" core.uptime >/dev/null 2>&1; then
            sleep 2
            return 0
        fi
        kill -0 "$GW_PID" 2>/dev/null || { cat "$KAM_DIR/kamailio.log" >&2; exit 1; }
        sleep 0.1
    done
    say "Kamailio did not start"
    exit 1
}
kam_shm_used() { kamcmd -s "unix:$KAM_DIR/ctl.sock" core.shmmem | awk '/real_used:/ {print $2}'; }
kam_contacts() {
    kamcmd -s "unix:$KAM_DIR/ctl.sock" stats.get_statistics usrloc: |
        awk -F' = ' '/location_contacts/ {print $2}'
}

# ---------------------------------------------------------------- SIPp

# One SIPp run against the server: $1 scenario, $2 injection file, $3 rate (calls/s), $4 calls.
# Prints: achieved_calls_per_s successful failed retransmissions server_cpu_s_per_s
#         sipp_cpu_s_per_s mean_response_ms
sipp_step() {
    local scen=$1 inf=$2 rate=$3 calls=$4 stat t0 t1 g0 g1 s_ticks=0 x rc=0
    stat=$WORK/stat-$(date +%s%N).csv
    local ud0 us0 ud1 us1
    ud0=$(udp_drops "$SIP_PORT"); us0=$(udp_drops "$SIPP_PORT")
    g0=$(group_ticks "$GW_PID")
    t0=$(now)
    setsid taskset -c "$SIPP_CORE" timeout $((calls / rate + STEP_S + 60)) \
        sipp "127.0.0.1:$SIP_PORT" -sf "$SCENARIOS/$scen" -inf "$inf" \
        -t ui -ip_field 2 -p "$SIPP_PORT" -max_socket 1000 -oocsf "$SCENARIOS/bench_ooc_options.xml" \
        -r "$rate" -rp 1000 -m "$calls" -l $((rate * 5 < 15000 ? rate * 5 + 100 : 15000)) \
        -nostdin -nd -timeout $((calls / rate + 30))s -timeout_error \
        -trace_stat -stf "$stat" -fd 1 -trace_err -error_file "$stat.err" \
        >/dev/null 2>&1 </dev/null &
    SIPP_PID=$!
    # `timeout` runs SIPp as its child: read the child's CPU.
    local child=
    for _ in $(seq 50); do
        child=$(cat "/proc/$SIPP_PID/task/$SIPP_PID/children" 2>/dev/null || true)
        child=${child%% *}
        [[ -n $child ]] && break
        kill -0 "$SIPP_PID" 2>/dev/null || break
        sleep 0.02
    done
    while kill -0 "$SIPP_PID" 2>/dev/null; do
        if [[ -n $child ]]; then
            x=$(pid_ticks "$child")
            [[ -n $x ]] && s_ticks=$x
        fi
        sleep 0.2
    done
    wait "$SIPP_PID" || rc=$?
    SIPP_PID=
    t1=$(now)
    sleep 1 # the registration writer drains
    g1=$(group_ticks "$GW_PID")
    ud1=$(udp_drops "$SIP_PORT"); us1=$(udp_drops "$SIPP_PORT")
    python3 - "$stat" "$t0" "$t1" "$g0" "$g1" "$s_ticks" "$HZ" "$rc" $((ud1 - ud0)) $((us1 - us0)) <<'EOF'
import csv, sys
stat, t0, t1, g0, g1, s, hz, rc, udrop, sdrop = sys.argv[1:11]
wall = float(t1) - float(t0)
try:
    rows = list(csv.reader(open(stat), delimiter=";"))
    last = dict(zip(rows[0], rows[-1]))
except (OSError, IndexError):
    last = {}
def n(k):
    try: return int(last.get(k, "0") or 0)
    except ValueError: return 0
ok, failed, retrans = n("SuccessfulCall(C)"), n("FailedCall(C)"), n("Retransmissions(C)")
if not last or rc not in ("0", "1"):
    failed = max(failed, 1)  # SIPp did not finish: count the step as failed
rt = last.get("ResponseTime1(C)", "00:00:00:000000").split(":")
rt_ms = (int(rt[0]) * 3600 + int(rt[1]) * 60 + int(rt[2])) * 1000 + int(rt[3]) / 1000 if len(rt) == 4 else 0
load = open("/proc/loadavg").read().split()[0]
print(f"{ok / wall:.1f} {ok} {failed} {retrans} {(int(g1) - int(g0)) / int(hz) / wall:.3f} "
      f"{int(s) / int(hz) / wall:.3f} {rt_ms:.2f} {udrop} {sdrop} {load}")
EOF
}

record() { printf '%s\n' "$(IFS=$'\t'; echo "$*")" >>"$RESULTS"; }

# A rate ramp: $1 server, $2 part, $3 run, $4 scenario, $5 injection file, $6 rates,
# $7 messages counted per call (for the print). Stops after the first step with a failed
# sign-in, a dropped registration write (c2c) or less than 90 % of the asked rate done.
ramp() {
    local server=$1 part=$2 run=$3 scen=$4 inf=$5 rates=$6 per_call=$7 rate out drops0 drops1 drops
    for rate in $rates; do
        deadline
        drops0=$(log_drops)
        out=$(sipp_step "$scen" "$inf" "$rate" $((rate * STEP_S)))
        drops1=$(log_drops)
        drops=$((drops1 - drops0))
        # shellcheck disable=SC2086
        set -- $out
        record "$server" "$part" "$run" "$rate" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$drops" "$8" "$9" "${10}"
        say "$(printf '%-8s %-8s run %d  asked %5d/s  got %7.1f/s  ok %6d  failed %4d  retrans %5d  dropped writes %4d  server %.3f s/s  sipp %.3f s/s  rt %.2f ms  kernel drops server %d sipp %d  load %s' \
            "$server" "$part" "$run" "$rate" "$1" "$2" "$3" "$4" "$drops" "$5" "$6" "$7" "$8" "$9" "${10}")"
        # Go on through retransmissions (SIPp resends after 500 ms; the sign-in still
        # succeeds) until a sign-in fails, a write is dropped, or the rate is not reached.
        if (($3 > 0 || drops > 0)) || python3 -c "import sys; sys.exit(0 if $1 < 0.9 * $rate else 1)"; then
            break
        fi
    done
}
log_drops() {
    if [[ -n $GW_DIR && -f $GW_DIR/gateway.log && $CURRENT == c2c ]]; then
        grep -c "registration change dropped" "$GW_DIR/gateway.log" || true
    else
        echo 0
    fi
}

idle_cpu() { # the server's CPU over 5 s with no load
    local g0 g1 t0 t1
    g0=$(group_ticks "$GW_PID"); t0=$(now)
    sleep 5
    g1=$(group_ticks "$GW_PID"); t1=$(now)
    python3 -c "print(f'{($g1 - $g0) / $HZ / ($t1 - $t0):.4f}')"
}

# ---------------------------------------------------------------- parts

CURRENT=c2c
rate_parts() { # $1 server (c2c|kamailio), $2 run
    local server=$1 run=$2
    CURRENT=$server
    if [[ $server == c2c ]]; then start_c2c "$AGENTS"; else start_kamailio "$AGENTS"; fi
    local dir=${GW_DIR}
    [[ $server == kamailio ]] && dir=$KAM_DIR
    record "$server" idle "$run" 0 0 0 0 0 "$(idle_cpu)" 0 0 0 0 0 0
    if [[ " $PARTS " == *" cap "* && $server == c2c ]]; then
        ramp "$server" cap "$run" bench_register.xml "$dir/one_source.csv" "$CAP_RATES" 2
        sleep 6 # the one source's allowance refills (burst 1000 at 200/s)
    fi
    if [[ " $PARTS " == *" register "* ]]; then
        ramp "$server" register "$run" bench_register.xml "$dir/agents.csv" "$RATES" 2
    fi
    if [[ " $PARTS " == *" refresh "* ]]; then
        ramp "$server" refresh "$run" bench_refresh.xml "$dir/agents.csv" "$REFRESH_RATES" $((REFRESHES + 1))
    fi
    if [[ $server == c2c ]] && grep -q "panicked" "$GW_DIR/gateway.log"; then
        say "the gateway panicked: see $GW_DIR/gateway.log"; KEEP=1; exit 1
    fi
    stop_group "$GW_PID"
}

memory_part() { # $1 server, $2 run
    local server=$1 run=$2 n rss0 rss1 rows out shm0=0 shm1=0
    CURRENT=$server
    for n in $MEM_NS; do
        deadline
        if [[ $server == c2c ]]; then start_c2c "$n"; else start_kamailio "$n"; fi
        if [[ $server == c2c ]]; then rss0=$(rss_kb "$GW_PID"); else rss0=$(group_pss_kb "$GW_PID"); shm0=$(kam_shm_used); fi
        rows=0
        if ((n > 0)); then
            local dir=$GW_DIR
            [[ $server == kamailio ]] && dir=$KAM_DIR
            out=$(sipp_step bench_register.xml "$dir/agents.csv" "$MEM_RATE" "$n")
            # shellcheck disable=SC2086
            set -- $out
            (($3 == 0)) || say "memory run: $3 registrations failed"
            if [[ $server == c2c ]]; then
                for _ in $(seq 100); do
                    rows=$(db_count "$GW_DIR/data/c2c.db" agent_registrations)
                    ((rows >= n)) && break
                    sleep 0.3
                done
            else
                rows=$(kam_contacts)
            fi
            sleep 3
        fi
        if [[ $server == c2c ]]; then rss1=$(rss_kb "$GW_PID"); else rss1=$(group_pss_kb "$GW_PID"); shm1=$(kam_shm_used); fi
        record "$server" memory "$run" "$n" "$rss0" "$rss1" "$rows" "$shm0" "$shm1" 0 0 0 0 0 0
        say "$(printf '%-8s memory   run %d  agents %5d  RSS %6d -> %6d KiB  bindings %5d' \
            "$server" "$run" "$n" "$rss0" "$rss1" "$rows")"
        stop_group "$GW_PID"
    done
}

summary() {
    python3 - "$RESULTS" "$REFRESHES" <<'EOF'
import statistics as st, sys
from collections import defaultdict
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
refreshes = int(sys.argv[2])
per_call = {"cap": 2, "register": 2, "refresh": refreshes + 1}
def med(xs):
    xs = [x for x in xs if x == x]  # without NaN (a results file from before the load column)
    return st.median(xs) if xs else float("nan")
def med_step(xs):  # a rate step: the lower median, a step that was run
    return st.median_low(xs) if xs else float("nan")
steps = defaultdict(list)   # (server, part, rate) -> [(run, got, ok, failed, retrans, cpu, sipp, rt, drops)]
best = defaultdict(dict)    # (server, part) -> run -> (rate, got, cpu, rt): below the first retransmission
best_nofail = defaultdict(dict)  # the same, highest step with no failed sign-in
first_bad = defaultdict(dict)
idle = defaultdict(list)
mem = defaultdict(list)     # (server, n) -> [(rss0, rss1, rows, shm0, shm1)]
for r in rows:
    server, part, run = r[0], r[1], int(r[2])
    if part == "idle":
        idle[server].append(float(r[8])); continue
    if part == "memory":
        mem[(server, int(r[3]))].append(tuple(int(x) for x in r[4:9])); continue
    rate, got, ok, failed, retrans = int(r[3]), float(r[4]), int(r[5]), int(r[6]), int(r[7])
    cpu, sipp, rt, drops = float(r[8]), float(r[9]), float(r[10]), int(r[11])
    kdrop_server, kdrop_sipp = int(r[12]), int(r[13])
    load = float(r[14]) if len(r) > 14 else float("nan")
    steps[(server, part, rate)].append((run, got, ok, failed, retrans, cpu, sipp, rt, drops,
                                        kdrop_server, kdrop_sipp, load))
    if failed == 0 and drops == 0 and got >= 0.9 * rate:
        best_nofail[(server, part)][run] = (rate, got, cpu, rt)
    clean = failed == 0 and retrans == 0 and drops == 0
    if clean and run not in first_bad[(server, part)]:
        best[(server, part)][run] = (rate, got, cpu, rt)
    elif not clean and run not in first_bad[(server, part)]:
        first_bad[(server, part)][run] = (rate, got, failed, retrans, drops, kdrop_server, kdrop_sipp)
print("\n== per step (medians over the runs that reached the step) ==")
print("(dropped = registration writes the gateway dropped; kdrop = datagrams the kernel dropped, "
      "receive buffer full, at the server's socket / SIPp's)")
print("(got = sign-ins, or refreshing phones, done per second; REG/s = REGISTER transactions per second, "
      "2 per sign-in, 1 + 20 per refreshing phone; per_CPU_s = REGISTER transactions per CPU-second "
      "of the server, the median over runs of REG/s / server_s/s; load = 1-minute load average after the step)")
print("server   part      asked/s  runs  got/s    REG/s   failed  retrans  dropped  kdrop_srv  kdrop_sipp  server_s/s  sipp_s/s  rt_ms  per_CPU_s  load")
for (server, part, rate), v in sorted(steps.items()):
    k = per_call[part]
    got, cpu = med([x[1] for x in v]), med([x[5] for x in v])
    per = med([x[1] * k / x[5] for x in v if x[5] > 0])
    print(f"{server:8} {part:9} {rate:7d}  {len(v):4d}  {got:7.1f}  {got * k:6.0f}  {med([x[3] for x in v]):6.0f}  "
          f"{med([x[4] for x in v]):7.0f}  {med([x[8] for x in v]):7.0f}  {med([x[9] for x in v]):9.0f}  "
          f"{med([x[10] for x in v]):10.0f}  {cpu:10.3f}  "
          f"{med([x[6] for x in v]):8.3f}  {med([x[7] for x in v]):5.2f}  {per:9.0f}  {med([x[11] for x in v]):4.1f}")
print("\n== highest rate below the first retransmission (0 failed, 0 retransmissions, 0 dropped writes), per run and median "
      "(rates: the lower median, a step that was run; a run clean at no step counts as 0) ==")
for key in sorted(set(best) | set(first_bad)):
    server, part = key
    runs = best.get(key, {})
    unit = "sign-ins" if part != "refresh" else "phones"
    for run in sorted(set(runs) | set(first_bad.get(key, {}))):
        b, f = runs.get(run), first_bad.get(key, {}).get(run)
        print(f"{server} {part} run {run}: clean up to {b[0] if b else '-'} {unit}/s"
              + (f" (got {b[1]:.1f}/s, server {b[2]:.3f} s/s)" if b else "")
              + (f"; first failing step {f[0]}/s: got {f[1]:.1f}/s, failed {f[2]}, retrans {f[3]}, dropped writes {f[4]}, kernel drops {f[5]} at the server / {f[6]} at SIPp" if f else "; no step failed"))
    if runs:
        every = sorted(set(runs) | set(first_bad.get(key, {})))
        rate = med_step([runs[r][0] if r in runs else 0 for r in every])
        at = [b for b in runs.values() if b[0] == rate]  # the runs whose last clean step it is
        got = med([b[1] for b in at])
        cpu = med([b[2] for b in at])
        per = med([b[1] / b[2] for b in at if b[2] > 0])
        extra = ""
        if part == "refresh":
            extra = f" = {got * refreshes:.0f} refreshes/s + {got:.0f} challenges/s"
        print(f"  MEDIAN {server} {part} over {len(every)} runs: {rate:.0f} {unit}/s asked; at that step "
              f"(median of the {len(at)} runs it was the last clean one of): {got:.1f}/s done{extra}, "
              f"server {cpu:.3f} CPU-s/s, {per:.0f} {unit} per CPU-second"
              + (f" ({per * refreshes:.0f} refreshes per CPU-second)" if part == "refresh" else ""))
print("\n== highest rate with 0 failed sign-ins (retransmissions allowed), per run and median ==")
for key in sorted(best_nofail):
    server, part = key
    runs = best_nofail[key]
    rate = med_step([b[0] for b in runs.values()])
    at = [b for b in runs.values() if b[0] == rate]
    print(f"{server} {part}: " + ", ".join(f"run {r}: {b[0]}/s (got {b[1]:.1f}/s, {b[2]:.3f} s/s)" for r, b in sorted(runs.items()))
          + f"; MEDIAN {rate:.0f}/s asked; at that step {med([b[1] for b in at]):.1f}/s done, "
          f"{med([b[2] for b in at]):.3f} CPU-s/s")
for server, v in idle.items():
    print(f"idle {server}: {med(v):.4f} CPU-s/s (median of {len(v)})")
if mem:
    print("\n== memory (medians) ==")
    print("server   agents  runs  before_KiB  after_KiB  bindings  bytes_per_binding  shm_bytes_per_binding")
    for (server, n), v in sorted(mem.items()):
        r0, r1 = med([x[0] for x in v]), med([x[1] for x in v])
        per = med([(x[1] - x[0]) * 1024 / n for x in v]) if n else 0
        shm = med([(x[4] - x[3]) / n for x in v]) if n and server == "kamailio" else 0
        print(f"{server:8} {n:6d}  {len(v):4d}  {r0:10.0f}  {r1:9.0f}  {med([x[2] for x in v]):8.0f}  "
              f"{per:17.0f}  {shm:21.0f}")
    for server in sorted({s for s, _ in mem}):
        base = mem.get((server, 0))
        if not base: continue
        for (s, n), v in sorted(mem.items()):
            if s == server and n:
                per = med([x[0] for x in v]) - med([x[0] for x in base])
                print(f"{server}: {n} accounts loaded, nothing registered: +{per * 1024 / n:.0f} bytes per account over 0 accounts")
EOF
}

# ---------------------------------------------------------------- main

if [[ -n ${SUMMARY_ONLY:-} ]]; then # reprint the summary of a kept results.tsv
    RESULTS=$SUMMARY_ONLY
    summary
    exit 0
fi

say "registrar bench: $(sipp -v 2>/dev/null | grep -o 'SIPp v[0-9.]*' | head -1), gateway $GW_BIN"
say "$(nproc --all) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
check_ha1
kam=0
if [[ " $PARTS " == *" kamailio "* ]]; then
    if command -v kamailio >/dev/null && command -v kamcmd >/dev/null; then kam=1
    else say "kamailio not installed (apt-get install kamailio): skipping it"; fi
fi
for run in $(seq "$RUNS"); do
    if [[ " $PARTS " == *" register "* || " $PARTS " == *" refresh "* || " $PARTS " == *" cap "* ]]; then
        rate_parts c2c "$run"
        ((kam)) && rate_parts kamailio "$run"
    fi
    if [[ " $PARTS " == *" memory "* ]]; then
        memory_part c2c "$run"
        ((kam)) && memory_part kamailio "$run"
    fi
done
summary
say "took $(( $(date +%s) - START )) s; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
