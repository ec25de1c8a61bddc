#!/usr/bin/env bash
# test_scripts.sh: the netns scripts build, describe and remove an inline lab correctly.
#
# Brings up a uniquely named lab with 2 servers, checks namespaces, addresses, MACs,
# routes, TAPs, offloads and the generated TOML, then checks down.sh: it stops a
# recorded process (and only a process whose start time matches), removes everything,
# is idempotent, and cleans up a lab whose builder was killed with SIGKILL midway.
#
# One line per check; last line `N passed, N failed`. Exit 0 all passed, 1 a check
# failed, 4 (kselftest SKIP) without root or a needed kernel feature.
# Test steps do not stop on error (no set -e): each failure is reported and counted.
set -uo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LBLAB_PROG=test_scripts.sh
# shellcheck source-path=SCRIPTDIR/..
# shellcheck source=lib.sh
source "$SCRIPTS/lib.sh"

LAB="tsc$$"        # the lab every check looks at
KILLED="tsk$$"     # the lab whose builder is killed with SIGKILL midway
PASSED=0 FAILED=0
SLEEP_PID='' DECOY_PID='' BUILDER_PID=''

# check DESCRIPTION CMD...: run CMD, print one ok/FAIL line, count it.
check() {
	local desc=$1
	shift
	if "$@"; then
		printf 'ok   %s\n' "$desc"
		PASSED=$((PASSED + 1))
	else
		printf 'FAIL %s\n' "$desc"
		FAILED=$((FAILED + 1))
	fi
}

# note MSG: explain a failure (expected vs actual) on the line after it.
note() {
	printf '     # %s\n' "$*"
}

cleanup() {
	local pid
	for pid in "$SLEEP_PID" "$DECOY_PID" "$BUILDER_PID"; do
		[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	done
	"$SCRIPTS/down.sh" "$LAB" >/dev/null 2>&1
	"$SCRIPTS/down.sh" "$KILLED" >/dev/null 2>&1
	return 0
}

# --- helpers the checks use ----------------------------------------------------------------

in_node() { # NODE CMD...
	local node=$1
	shift
	ip netns exec "$LAB-$node" "$@"
}

# ping_from NODE ADDR: one ICMP echo answered. Uses ping(8) when installed, else a raw
# socket from python3 (ping is not among the project's packages).
ping_from() { # NODE ADDR
	if command -v ping >/dev/null 2>&1; then
		in_node "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1
		return
	fi
	in_node "$1" python3 - "$2" <<'EOF'
import os, socket, struct, sys, time
dst = sys.argv[1]
ident = os.getpid() & 0xFFFF

def csum(data):
    data += b"\0" * (len(data) % 2)
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for seq in range(1, 4):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"lblab"
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    sock.sendto(body, (dst, 0))
    deadline = time.monotonic() + 1.0
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            pkt, (src, _) = sock.recvfrom(2048)
        except socket.timeout:
            break
        icmp = pkt[(pkt[0] & 0x0F) * 4:]
        kind, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
        if src == dst and kind == 0 and rid == ident and rseq == seq:
            sys.exit(0)
sys.exit(1)
EOF
}

not() { # CMD...: succeeds when CMD fails
	! "$@"
}

path_absent() { # PATH
	[[ ! -e $1 ]] || { note "$1 still exists"; return 1; }
}

# refused_with_hint STATUS OUTPUT HINT: a non-zero exit whose message holds HINT.
refused_with_hint() { # STATUS OUTPUT HINT
	[[ $1 -ne 0 && $2 == *"$3"* ]] || { note "expected a failure mentioning '$3', got status $1: $2"; return 1; }
}

# killed_midway LINES STATE: the builder had recorded >= 3 namespaces, and not finished.
killed_midway() { # LINES STATE
	[[ $1 -ge 3 && ! -e $2/topology.toml ]] || { note "$1 namespaces recorded; topology.toml present: $([[ -e $2/topology.toml ]] && echo yes || echo no)"; return 1; }
}

# Namespaces are read from /run/netns, where `ip netns` keeps them: `ip netns list`
# prints errors while another lab's namespace is being created or deleted.
netns_present() { # NS
	[[ -e /run/netns/$1 ]]
}

no_netns_with_prefix() { # LAB
	local -a left=()
	local path
	for path in /run/netns/"$1"-*; do
		[[ -e $path ]] && left+=("${path##*/}")
	done
	((${#left[@]} == 0)) || { note "left over: ${left[*]}"; return 1; }
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[[ $2 == "$3" ]] || { note "$1: expected '$2', got '$3'"; return 1; }
}

server1_address() {
	expect_eq "server1 eth0 address" "192.0.2.11/24" \
		"$(in_node server1 ip -o -4 addr show dev eth0 | awk '{print $4}')"
}

server1_mac() {
	expect_eq "server1 eth0 MAC" "02:00:00:02:00:0b" \
		"$(in_node server1 cat /sys/class/net/eth0/address)"
}

server1_default_route() {
	expect_eq "server1 default route" "default via 192.0.2.1 dev eth0" \
		"$(in_node server1 ip -4 route show default | sed 's/ *$//')"
}

# tap_ok TAP BRIDGE: a persistent TAP with vnet_hdr in LAB-sw, enslaved to BRIDGE.
tap_ok() { # TAP BRIDGE
	local info
	info=$(ip -n "$LAB-sw" -d link show dev "$1" 2>&1) || { note "$info"; return 1; }
	local want
	for want in "master $2 " "tun type tap" "vnet_hdr on" "persist on"; do
		[[ $info == *"$want"* ]] || { note "$1: expected '$want' in: $(echo "$info" | head -3 | tr -s ' \n' ' ')"; return 1; }
	done
}

tx_csum_off_on() { # NS DEV
	local state
	state=$(ip netns exec "$1" ethtool -k "$2" | awk -F': ' '$1 == "tx-checksumming" {print $2}')
	expect_eq "$1 $2 tx-checksumming" "off" "$state"
}

sysctl_is() { # NODE KEY VALUE
	expect_eq "$1 $2" "$3" "$(in_node "$1" sysctl -n "$2")"
}

# toml_ok: both files parse as TOML and say what this lab is.
toml_ok() {
	local out
	out=$(python3 - "$LBLAB_RUN_DIR/$LAB" "$LAB" 2>&1 <<'EOF'
import sys, tomllib
state, lab = sys.argv[1], sys.argv[2]
with open(f"{state}/topology.toml", "rb") as f:
    topo = tomllib.load(f)
with open(f"{state}/lb-a.toml", "rb") as f:
    eng = tomllib.load(f)
def want(what, expected, actual):
    if expected != actual:
        sys.exit(f"{what}: expected {expected!r}, got {actual!r}")
want("topology lab", lab, topo["lab"])
want("topology servers", 2, topo["servers"])
want("topology nodes", ["client1", "client2", "router", "lb-a", "server1", "server2"],
     [n["name"] for n in topo["nodes"]])
lb = next(n for n in topo["nodes"] if n["name"] == "lb-a")
want("lb-a config", f"{state}/lb-a.toml", lb["config"])
want("lb-a control_socket", f"{state}/lb-a.sock", lb["control_socket"])
want("lb-a ifaces", [("lba-front", f"{lab}-sw"), ("lba-back", f"{lab}-sw")],
     [(i["dev"], i["netns"]) for i in lb["ifaces"]])
s1 = next(n for n in topo["nodes"] if n["name"] == "server1")["ifaces"][0]
want("server1 iface", ("192.0.2.11/24", "02:00:00:02:00:0b", "back"),
     (s1["address"], s1["mac"], s1["segment"]))
want("engine control_socket", f"{state}/lb-a.sock", eng["engine"]["control_socket"])
want("engine port netns", [f"{lab}-sw"] * 2, [p["netns"] for p in eng["ports"]])
want("engine vips", [("tcp", 2), ("udp", 2)],
     [(v["protocol"], len(v["backends"])) for v in eng["vips"]])
want("engine backends", ["192.0.2.11", "192.0.2.12"],
     [b["address"] for b in eng["vips"][0]["backends"]])
EOF
	) || { note "$out"; return 1; }
}

starttime() { # PID
	proc_stat_field "$1" 19
}

process_gone() { # PID
	[[ ! -e /proc/$1 ]] || [[ $(proc_stat_field "$1" 0) == Z ]]
}

# --- the test ------------------------------------------------------------------------------

main() {
	local out status node lines cmd feature

	[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit "$KSFT_SKIP"; }
	for cmd in ip ethtool sysctl python3; do
		command -v "$cmd" >/dev/null || { echo "SKIP: command $cmd not found"; exit "$KSFT_SKIP"; }
	done
	out=$("$SCRIPTS/features.sh")
	for feature in netns veth bridge tun; do
		grep -q "^$feature=yes" <<<"$out" || { echo "SKIP: $(grep "^$feature=" <<<"$out")"; exit "$KSFT_SKIP"; }
	done
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP

	# Build.
	out=$("$SCRIPTS/topo_inline.sh" up "$LAB" 2 2>&1)
	status=$?
	check "topo_inline.sh up $LAB 2 exits 0" expect_eq "exit status" 0 "$status"
	check "up prints exactly one line" expect_eq "lines printed" 1 "$(grep -c '' <<<"$out")"
	[[ $status -eq 0 ]] || note "$out"

	for node in sw client1 client2 router lb-a server1 server2; do
		check "namespace $LAB-$node exists" netns_present "$LAB-$node"
	done
	check "no namespace $LAB-server3 with 2 servers" not netns_present "$LAB-server3"
	check "lb-a has only lo" expect_eq "lb-a links" "lo" "$(in_node lb-a ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"

	check "client1 pings the router's client address 198.51.100.1" ping_from client1 198.51.100.1
	check "client1 pings the router's front address 203.0.113.1" ping_from client1 203.0.113.1
	check "server1 eth0 is 192.0.2.11/24" server1_address
	check "server1 eth0 MAC is 02:00:00:02:00:0b" server1_mac
	check "server1 default route via 192.0.2.1" server1_default_route
	check "TAP lba-front in $LAB-sw on br-front with vnet_hdr" tap_ok lba-front br-front
	check "TAP lba-back in $LAB-sw on br-back with vnet_hdr" tap_ok lba-back br-back
	check "client1 eth0 has TX checksum offload off" tx_csum_off_on "$LAB-client1" eth0
	check "switch end client1-eth0 has TX checksum offload off" tx_csum_off_on "$LAB-sw" client1-eth0
	check "router forwards (ip_forward=1)" sysctl_is router net.ipv4.ip_forward 1
	check "IPv6 is disabled in client1" sysctl_is client1 net.ipv6.conf.eth0.disable_ipv6 1
	check "topology.toml and lb-a.toml parse as TOML with this lab's values" toml_ok

	out=$("$SCRIPTS/topo_inline.sh" up "$LAB" 2 2>&1)
	status=$?
	check "a second up of $LAB is refused, naming lab down" refused_with_hint "$status" "$out" "run \`lab down --name $LAB\` first"
	out=$("$SCRIPTS/topo_inline.sh" up abcdefghijklm 2 2>&1)
	check "a lab name over 12 characters is refused" refused_with_hint $? "$out" "invalid lab name"

	# A recorded process is stopped; one whose start time does not match is left alone.
	ip netns exec "$LAB-server1" sleep 300 &
	SLEEP_PID=$!
	sleep 300 &
	DECOY_PID=$!
	sleep 0.1
	echo "pid $SLEEP_PID $(starttime "$SLEEP_PID") sleep" >>"$LBLAB_RUN_DIR/$LAB/manifest"
	echo "pid $DECOY_PID $(($(starttime "$DECOY_PID") + 1)) decoy" >>"$LBLAB_RUN_DIR/$LAB/manifest"

	out=$("$SCRIPTS/down.sh" "$LAB" 2>&1)
	status=$?
	check "down.sh $LAB exits 0" expect_eq "exit status" 0 "$status"
	check "down.sh prints one line for the lab it removed" expect_eq "output" 1 "$(grep -c "^lab $LAB down" <<<"$out")"
	check "the recorded sleep in server1 was stopped" process_gone "$SLEEP_PID"
	wait "$SLEEP_PID" 2>/dev/null
	status=$?
	check "it was stopped by SIGTERM" expect_eq "wait status" 143 "$status"
	SLEEP_PID=''
	check "a pid line with another start time is left alone" not process_gone "$DECOY_PID"
	kill "$DECOY_PID" 2>/dev/null
	wait "$DECOY_PID" 2>/dev/null
	DECOY_PID=''
	check "no namespace $LAB-* is left" no_netns_with_prefix "$LAB"
	check "no state dir $LBLAB_RUN_DIR/$LAB is left" path_absent "$LBLAB_RUN_DIR/$LAB"

	out=$("$SCRIPTS/down.sh" "$LAB" 2>&1)
	status=$?
	check "down.sh $LAB again exits 0 and prints nothing" expect_eq "status/output" "0/" "$status/$out"

	# A builder killed with SIGKILL midway: down.sh still removes everything it made.
	# setsid makes it a process group leader, so its in-flight `ip` dies with it.
	setsid "$SCRIPTS/topo_inline.sh" up "$KILLED" 2 >/dev/null 2>&1 &
	BUILDER_PID=$!
	lines=0
	for _ in $(seq 100); do
		lines=$(grep -c '^netns ' "$LBLAB_RUN_DIR/$KILLED/manifest" 2>/dev/null)
		((${lines:-0} >= 3)) && break
		sleep 0.01
	done
	kill -KILL -- "-$BUILDER_PID" 2>/dev/null || kill -KILL "$BUILDER_PID" 2>/dev/null
	wait "$BUILDER_PID" 2>/dev/null
	BUILDER_PID=''
	check "the builder was killed midway (no topology.toml yet)" killed_midway "${lines:-0}" "$LBLAB_RUN_DIR/$KILLED"
	out=$("$SCRIPTS/down.sh" "$KILLED" 2>&1)
	status=$?
	check "down.sh $KILLED (half built) exits 0" expect_eq "exit status" 0 "$status"
	[[ $status -eq 0 ]] || note "$out"
	check "no namespace $KILLED-* is left" no_netns_with_prefix "$KILLED"
	check "no state dir $LBLAB_RUN_DIR/$KILLED is left" path_absent "$LBLAB_RUN_DIR/$KILLED"
	out=$("$SCRIPTS/down.sh" "$KILLED" 2>&1)
	status=$?
	check "down.sh $KILLED again exits 0 and prints nothing" expect_eq "status/output" "0/" "$status/$out"

	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

main "$@"
