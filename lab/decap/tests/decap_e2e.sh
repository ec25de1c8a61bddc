#!/usr/bin/env bash
# decap_e2e.sh [LAB_DECAP]: lab_decap end to end in two throwaway namespaces.
#
#   dcp<pid>a  "client" (also plays the LB)       dcp<pid>b  "server"
#   ┌───────────────────────────┐                 ┌──────────────────────────────────┐
#   │ eth0 198.18.0.1/24        │── veth pair ────│ eth0 198.18.0.2/24 (RIP)         │
#   │ python3: raw IPPROTO_IPIP │                 │ lo   203.0.113.10/32 (VIP)       │
#   │   socket sends IPIP to    │                 │ decap0 (TUN) <- lab_decap <- raw │
#   │   the RIP; UDP socket     │                 │ python3 UDP listener VIP:9000    │
#   │   gets the reply          │                 └──────────────────────────────────┘
#   │ tcpdump on eth0           │
#   └───────────────────────────┘
#
# The client sends IPIP (outer 198.18.0.1 -> 198.18.0.2, protocol 4) whose inner packet
# is a UDP datagram 198.18.0.1:port -> VIP:9000. Checks, in order:
#   - without lab_decap: the listener gets nothing, and the server answers ICMP protocol
#     unreachable (no protocol-4 handler in this kernel, no raw socket either);
#   - with lab_decap: the listener gets the inner datagram from the client's address,
#     the reply leaves from the VIP (client-side capture), and no protocol unreachable
#     comes back (a raw socket took the packet); a bad inner checksum and a non-VIP
#     destination are dropped and counted; a datagram larger than the MTU (the outer
#     packet fragmented on the way) arrives whole; SIGUSR1 prints the counters;
#     SIGTERM ends it within 1 s and its TUN device disappears;
#   - after lab_decap: protocol unreachable again.
#
# The veth is created with both ends already inside the namespaces; nothing is made in
# the root namespace. Everything (the pids this script started, both namespaces, the
# temp dir) is removed on every exit path. One line per check; last line
# `N passed, N failed`. Exit 0 all passed, 1 a check failed, 4 (SKIP) without root or a
# needed command. KEEP=1 keeps the temp dir (pcap, logs) for a look.
# Test steps do not stop on error (no set -e): each failure is reported and counted.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
LBLAB_PROG=decap_e2e.sh
# shellcheck source=../../../netns_scripts/lib.sh
source "$REPO/netns_scripts/lib.sh"

DECAP_BIN=${1:-${LAB_DECAP:-$REPO/build/bin/lab_decap}}
CLI="dcp$$a" SRV="dcp$$b"
CLI_IP=198.18.0.1 RIP=198.18.0.2 VIP=203.0.113.10 OTHER=203.0.113.99 PORT=9000
TUN=decap0
PASSED=0 FAILED=0
PIDS=() NETNS=() TMP=''
DECAP_PID='' LISTEN_PID='' DUMP_PID=''

# check DESCRIPTION CMD...: run CMD, print one ok/FAIL line, count it; returns CMD's
# success, so `check ... || note ...` explains a failure.
check() {
	local desc=$1
	shift
	if "$@"; then
		printf 'ok   %s\n' "$desc"
		PASSED=$((PASSED + 1))
	else
		printf 'FAIL %s\n' "$desc"
		FAILED=$((FAILED + 1))
		return 1
	fi
}

# note MSG: explain a failure (expected vs actual) on the line after it.
note() {
	printf '     # %s\n' "$*"
}

cleanup() {
	local pid ns
	# Only the pids this script started, each by its id.
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			[[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${NETNS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	if [[ -n $TMP ]]; then
		if [[ ${KEEP:-0} == 1 ]]; then inform "kept $TMP"; else rm -rf "$TMP"; fi
	fi
	return 0
}

# forget_pid PID: PID was reaped here; cleanup must not signal it (the number may be reused).
forget_pid() {
	local keep=() pid
	for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
	PIDS=("${keep[@]}")
}

# Background programs are started with `ip netns exec NS PROG &` directly, never through
# these functions: ip execs PROG, so $! is PROG's own pid (through a function it would be
# a subshell's, and a signal to it would miss PROG).
in_cli() { ip netns exec "$CLI" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }

# wait_for TENTHS CMD...: poll CMD every 0.1 s, at most TENTHS times.
wait_for() {
	local n=$1
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# --- python3 helpers, written to the temp dir ------------------------------------------------

write_helpers() {
	cat >"$TMP/ipip_send.py" <<'EOF'
# Sends one IPIP packet from a raw IPPROTO_IPIP socket (the kernel adds the outer header,
# protocol 4) whose inner packet is a UDP datagram SRC:SPORT -> DST:DPORT carrying TAG
# padded to SIZE bytes; with --reply, waits for the answer on a UDP socket bound to
# SRC:SPORT and prints "reply from IP:PORT: DATA" (exit 1 when none comes).
import argparse, os, socket, struct, sys

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

p = argparse.ArgumentParser()
p.add_argument("--rip", required=True)
p.add_argument("--src", required=True)
p.add_argument("--dst", required=True)
p.add_argument("--sport", type=int, required=True)
p.add_argument("--dport", type=int, required=True)
p.add_argument("--tag", required=True)
p.add_argument("--size", type=int, default=0)
p.add_argument("--bad-inner-checksum", action="store_true")
p.add_argument("--reply", type=float, default=0)
a = p.parse_args()

data = a.tag.encode()
data += b"." * max(0, a.size - len(data))
src, dst = socket.inet_aton(a.src), socket.inet_aton(a.dst)
ulen = 8 + len(data)
udp = struct.pack("!HHHH", a.sport, a.dport, ulen, 0) + data
ucsum = csum(src + dst + struct.pack("!BBH", 0, 17, ulen) + udp) or 0xFFFF
udp = udp[:6] + struct.pack("!H", ucsum) + udp[8:]
hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, os.getpid() & 0xFFFF, 0, 64, 17, 0, src, dst)
hcsum = csum(hdr)
if a.bad_inner_checksum:
    hcsum ^= 0x0101
inner = hdr[:10] + struct.pack("!H", hcsum) + hdr[12:] + udp

rx = None
if a.reply:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind((a.src, a.sport))
    rx.settimeout(a.reply)
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IPIP)
# Let the kernel fragment an outer packet larger than the MTU (IP_PMTUDISC_DONT).
tx.setsockopt(socket.IPPROTO_IP, 10, 0)
tx.sendto(inner, (a.rip, 0))
if rx is None:
    sys.exit(0)
try:
    answer, peer = rx.recvfrom(65535)
except socket.timeout:
    print("no reply")
    sys.exit(1)
print("reply from %s:%d: %s" % (peer[0], peer[1], answer.decode(errors="replace")))
EOF
	cat >"$TMP/udp_listen.py" <<'EOF'
# UDP listener on ADDR:PORT: one log line "PEER_IP:PEER_PORT LEN TAG" per datagram
# (TAG = the data up to the first '.'), answers "reply:TAG"; touches READY once bound.
import socket, sys
addr, port, log, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
open(ready, "w").close()
with open(log, "a") as out:
    while True:
        data, peer = s.recvfrom(65535)
        tag = data.split(b".", 1)[0].decode(errors="replace")
        out.write("%s:%d %d %s\n" % (peer[0], peer[1], len(data), tag))
        out.flush()
        s.sendto(b"reply:" + tag.encode(), peer)
EOF
}

# send_ipip TAG SPORT [ARGS...]: one IPIP packet from the client to the RIP, inner UDP to
# the VIP unless ARGS says otherwise (--dst, --size, --bad-inner-checksum, --reply SEC).
send_ipip() { # TAG SPORT [ARGS...]
	local tag=$1 sport=$2
	shift 2
	in_cli python3 "$TMP/ipip_send.py" --rip "$RIP" --src "$CLI_IP" --dst "$VIP" \
		--sport "$sport" --dport "$PORT" --tag "$tag" "$@"
}

# heard TAG: the listener logged a datagram with TAG (prints the line).
heard() { grep -E " $1\$" "$TMP/listen.log" 2>/dev/null; }

# capture [-v]: the client-side capture so far, one line per packet (-v: with the IP
# header fields; an encapsulated packet then takes two lines).
capture() { tcpdump -r "$TMP/client.pcap" -n "$@" 2>/dev/null; }
count_unreach() { capture | grep -c "^.* $RIP > $CLI_IP: ICMP $RIP protocol 4 unreachable"; }

# stats_count: how many counter lines lab_decap has printed so far.
stats_count() { grep -cs '^received=' "$TMP/decap.log"; }
more_stats_than() { (($(stats_count) > $1)); }

# stats_line: ask lab_decap for its counters (SIGUSR1) and print the newest line.
stats_line() {
	local before
	before=$(stats_count)
	kill -USR1 "$DECAP_PID"
	wait_for 20 more_stats_than "$before" || return 1
	grep '^received=' "$TMP/decap.log" | tail -n 1
}

# counter LINE NAME: the value of NAME=... in a stats line.
counter() { sed -nE "s/.*(^| )$2=([0-9]+).*/\\2/p" <<<"$1"; }

proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }
exited() { [[ -z $(proc_state "$1") || $(proc_state "$1") == Z ]]; }
not() { ! "$@"; }
tun_exists() { ip -n "$SRV" link show "$TUN" >/dev/null 2>&1; }
# up_tun LINK: `ip -d link show` output of an up TUN device.
up_tun() { [[ $1 == *"<"*UP*">"* && $1 == *"tun type tun"* ]]; }

# build_link: the veth, addresses, offloads and sysctls; returns 1 at the first failure.
build_link() {
	# Both ends are created inside the namespaces: eth0 in CLI, its peer eth0 straight in SRV.
	ip -n "$CLI" link add eth0 type veth peer name eth0 netns "$SRV" || return 1
	ip -n "$CLI" addr add "$CLI_IP/24" dev eth0 || return 1
	ip -n "$SRV" addr add "$RIP/24" dev eth0 || return 1
	ip -n "$SRV" addr add "$VIP/32" dev lo || return 1
	ip -n "$CLI" link set eth0 up || return 1
	ip -n "$SRV" link set eth0 up || return 1
	# No TX checksum offload: every captured checksum is final.
	tx_csum_off "$CLI" eth0 || return 1
	tx_csum_off "$SRV" eth0 || return 1
	# The DSR server's sysctls (docs/lab.md): no reverse-path filter on all and default;
	# the kernel applies max(all, interface), and lab_decap zeroes its own interface.
	in_srv sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.conf.eth0.rp_filter=0
}

# --- setup -----------------------------------------------------------------------------------

require_root
require_cmd ip python3 tcpdump ethtool awk
[[ -x $DECAP_BIN ]] || die "lab_decap not found at $DECAP_BIN (pass its path as \$1 or LAB_DECAP)"
[[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

TMP=$(mktemp -d /tmp/decap_e2e.XXXXXX) || die "mktemp failed"
write_helpers

for ns in "$CLI" "$SRV"; do
	netns_exists "$ns" && die "namespace $ns already exists; it is not ours"
	ip netns add "$ns" || die "ip netns add $ns failed"
	NETNS+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
done
build_link || die "building the link between $CLI and $SRV failed"

ip netns exec "$CLI" tcpdump -i eth0 -n -U --immediate-mode -s 0 -w "$TMP/client.pcap" 2>"$TMP/tcpdump.log" &
DUMP_PID=$!
PIDS+=("$DUMP_PID")
wait_for 50 grep -qs 'listening on' "$TMP/tcpdump.log" || die "tcpdump did not start: $(cat "$TMP/tcpdump.log")"

ip netns exec "$SRV" python3 "$TMP/udp_listen.py" "$VIP" "$PORT" "$TMP/listen.log" "$TMP/listen.ready" \
	2>"$TMP/listen.err" &
LISTEN_PID=$!
PIDS+=("$LISTEN_PID")
wait_for 50 test -e "$TMP/listen.ready" || die "UDP listener did not start: $(cat "$TMP/listen.err")"

# With a protocol-4 handler in the kernel the "no handler" claim cannot be observed here.
KERNEL_IPIP=0
[[ -d /sys/module/ipip || -d /sys/module/tunnel4 ]] && KERNEL_IPIP=1

# --- without lab_decap -------------------------------------------------------------------------

send_ipip nodecap 40001
sleep 1
check "without lab_decap the VIP listener receives nothing" test -z "$(heard nodecap)"
if ((KERNEL_IPIP)); then
	inform "SKIP protocol-unreachable checks: the kernel has a protocol-4 handler (ipip/tunnel4)"
else
	UNREACH=$(count_unreach)
	check "without lab_decap the server answers ICMP protocol 4 unreachable (no ipip handler)" \
		test "$UNREACH" -eq 1 ||
		note "expected 1 ICMP protocol-unreachable from $RIP in the capture, saw $UNREACH"
fi

# --- with lab_decap ------------------------------------------------------------------------------

ip netns exec "$SRV" "$DECAP_BIN" --tun "$TUN" --vip "$VIP" 2>"$TMP/decap.log" &
DECAP_PID=$!
PIDS+=("$DECAP_PID")
check "lab_decap starts and reports ready" wait_for 50 grep -qs '^lab_decap: ready' "$TMP/decap.log" ||
	note "log: $(tr '\n' ' ' <"$TMP/decap.log")"
LINK=$(ip -n "$SRV" -d link show "$TUN" 2>&1)
check "$TUN is a TUN device and up" up_tun "$LINK" ||
	note "ip -d link show $TUN: $(tr '\n' ' ' <<<"$LINK")"
SYS="$(in_srv sysctl -n "net.ipv4.conf.$TUN.rp_filter" "net.ipv4.conf.$TUN.accept_local" 2>&1 | tr '\n' ' ')"
check "$TUN has rp_filter=0 and accept_local=1" test "$SYS" = "0 1 " ||
	note "expected '0 1', got '$SYS'"

BEFORE=$(count_unreach)
REPLY=$(send_ipip good 40002 --reply 3)
HEARD=$(heard good)
check "the listener on the VIP receives the inner datagram from the client's address" \
	test "${HEARD%% *}" = "$CLI_IP:40002" || note "expected '$CLI_IP:40002 4 good', got '$HEARD'"
check "the client gets the reply from the VIP" \
	test "$REPLY" = "reply from $VIP:$PORT: reply:good" || note "got '$REPLY'"
sleep 0.3
CAP=$(capture)
check "capture: the reply leaves the server with source = VIP" \
	grep -qE "$VIP\\.$PORT > $CLI_IP\\.40002: UDP" <<<"$CAP" ||
	note "no '$VIP.$PORT > $CLI_IP.40002: UDP' in: $(grep -F UDP <<<"$CAP" | tr '\n' ' ')"
check "capture: nothing UDP comes from the RIP" not grep -qE "$RIP\\.[0-9]+ > " <<<"$CAP"
if ((!KERNEL_IPIP)); then
	AFTER=$(count_unreach)
	check "with lab_decap no ICMP protocol unreachable (a raw socket took the packet)" \
		test "$AFTER" -eq "$BEFORE" || note "protocol-unreachable count went from $BEFORE to $AFTER"
fi

send_ipip badcsum 40003 --bad-inner-checksum
send_ipip novip 40004 --dst "$OTHER"
send_ipip big 40005 --size 3000 --reply 3 >/dev/null
sleep 0.3
check "a bad inner header checksum is not injected" test -z "$(heard badcsum)"
check "an inner destination outside --vip is not injected" test -z "$(heard novip)"
HEARD=$(heard big)
check "a 3000-byte datagram (outer packet fragmented on the way) arrives whole" \
	test "$HEARD" = "$CLI_IP:40005 3000 big" || note "expected '$CLI_IP:40005 3000 big', got '$HEARD'"
FRAGS=$(capture -v | grep -cE "flags \[\+\], proto IPIP \(4\)")
check "capture: the client really sent that outer packet in fragments" test "$FRAGS" -ge 1 ||
	note "no outer fragment with MF set in the capture"

STATS=$(stats_line)
check "SIGUSR1 prints one counters line" test -n "$STATS"
want="received=4 injected=2 drop_inner_checksum=1 drop_not_vip=1 drop_outer_fragment=0"
got="received=$(counter "$STATS" received) injected=$(counter "$STATS" injected)"
got+=" drop_inner_checksum=$(counter "$STATS" drop_inner_checksum)"
got+=" drop_not_vip=$(counter "$STATS" drop_not_vip) drop_outer_fragment=$(counter "$STATS" drop_outer_fragment)"
check "counters: 4 received, 2 injected, 1 bad inner checksum, 1 not a VIP, 0 fragments" \
	test "$got" = "$want" || note "expected $want, got $got; line: $STATS"
check "lab_decap is still running after the bad packets" not exited "$DECAP_PID"

LINES=$(stats_count)
START=$(date +%s%N)
kill -TERM "$DECAP_PID"
wait_for 15 exited "$DECAP_PID"
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
wait "$DECAP_PID"
RC=$?
forget_pid "$DECAP_PID"
check "SIGTERM: lab_decap exits within 1 s" test "$ELAPSED_MS" -le 1000 || note "took ${ELAPSED_MS} ms"
check "SIGTERM: exit status 0" test "$RC" -eq 0 || note "status $RC"
check "SIGTERM: lab_decap prints its final counters" more_stats_than "$LINES"
check "$TUN disappears with the process" not tun_exists

# --- after lab_decap -----------------------------------------------------------------------------

if ((!KERNEL_IPIP)); then
	BEFORE=$(count_unreach)
	send_ipip after 40006
	sleep 0.5
	AFTER=$(count_unreach)
	check "after lab_decap exits, ICMP protocol unreachable again" test "$AFTER" -eq $((BEFORE + 1)) ||
		note "protocol-unreachable count went from $BEFORE to $AFTER"
fi

printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
((FAILED == 0))
