#!/usr/bin/env bash
# test_scripts.sh: the netns scripts build, describe and remove every mode's lab correctly.
#
# Brings up a uniquely named inline lab with 2 servers (topo_inline.sh, the wrapper),
# checks namespaces, addresses, MACs, routes, TAPs, offloads and the generated TOML, then
# checks down.sh: it stops a recorded process (and only a process whose start time
# matches), removes everything, is idempotent, and cleans up a lab whose builder was
# killed with SIGKILL midway. Then builds each other mode once with topo.sh (proxy,
# dsr-l2, dsr-l3-dscp, dsr-l3-tunnel; 2 servers) and checks its topology (docs/lab.md,
# "Topologies per mode"): server addresses and routes, the router's third arm, the LB's
# TAPs, the DSR servers' VIP and sysctls, the DSCP nftables rule, both TOML files, that
# client1 reaches a server's own address through the router, and that down.sh removes it.
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

INLINE="tsc$$"     # the inline lab
LAB=$INLINE        # the lab the checks look at (one per mode, in turn)
KILLED="tsk$$"     # the lab whose builder is killed with SIGKILL midway
# One lab per other mode, each built once: mode=name.
MODE_LABS=("proxy=tpx$$" "dsr-l2=tl2$$" "dsr-l3-dscp=tds$$" "dsr-l3-tunnel=ttu$$")
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
	local entry
	"$SCRIPTS/down.sh" "$INLINE" >/dev/null 2>&1
	"$SCRIPTS/down.sh" "$KILLED" >/dev/null 2>&1
	for entry in "${MODE_LABS[@]}"; do
		"$SCRIPTS/down.sh" "${entry#*=}" >/dev/null 2>&1
	done
	return 0
}

# --- helpers the checks use ----------------------------------------------------------------

in_node() { # NODE CMD...
	local node=$1
	shift
	ip netns exec "$LAB-$node" "$@"
}

# ping_from NODE ADDR [TOS FROM]: one ICMP echo answered. Uses ping(8) when installed
# and no TOS is given, else a raw socket from python3 (ping is not among the project's
# packages). With TOS, the echo carries that TOS byte and the answer must come from
# FROM (a DSR server answers from the VIP, not from the address asked).
ping_from() { # NODE ADDR [TOS FROM]
	if [[ -z ${3-} ]] && command -v ping >/dev/null 2>&1; then
		in_node "$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1
		return
	fi
	in_node "$1" python3 - "$2" "${3:-0}" "${4:-$2}" <<'EOF'
import os, socket, struct, sys, time
dst, tos, expect = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ident = os.getpid() & 0xFFFF

def csum(data):
    data += b"\0" * (len(data) % 2)
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
seen = set()
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
        if kind == 0 and rid == ident and rseq == seq:
            if src == expect:
                sys.exit(0)
            seen.add(src)
sys.exit(f"no echo reply from {expect}" + (f"; replies came from {sorted(seen)}" if seen else ""))
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

# toml_ok MODE [DECAP]: both files parse as TOML and say what this lab is, for MODE
# (docs/lab.md: topology.toml, "Topologies per mode", "Engine config keys per mode").
# DECAP is what dsr-l3-tunnel servers must say (kernel | user).
toml_ok() { # MODE [DECAP]
	local out
	out=$(python3 - "$LBLAB_RUN_DIR/$LAB" "$LAB" "$1" "${2-}" 2>&1 <<'EOF'
import sys, tomllib
state, lab, mode, decap = sys.argv[1:5]
with open(f"{state}/topology.toml", "rb") as f:
    topo = tomllib.load(f)
with open(f"{state}/lb-a.toml", "rb") as f:
    eng = tomllib.load(f)
def want(what, expected, actual):
    if expected != actual:
        sys.exit(f"{what}: expected {expected!r}, got {actual!r}")
# mode: (server net, MAC net, segment), router ifaces, engine ports
plan = {
    "inline": (("192.0.2", "02", "back"), ["eth0", "eth1"], ["front", "back"]),
    "proxy": (("198.18.0", "12", "remote"), ["eth0", "eth1", "eth2"], ["front"]),
    "dsr-l2": (("203.0.113", "71", "front"), ["eth0", "eth1"], ["front"]),
    "dsr-l3-dscp": (("198.18.0", "12", "remote"), ["eth0", "eth1", "eth2"], ["front"]),
    "dsr-l3-tunnel": (("198.18.0", "12", "remote"), ["eth0", "eth1", "eth2"], ["front"]),
}
(net, macnet, segment), router_ifaces, ports = plan[mode]
taps = {"front": "lba-front", "back": "lba-back"}
want("topology lab", lab, topo["lab"])
want("topology mode", mode, topo.get("mode"))
want("topology vip", "203.0.113.10", topo["vip"])
want("topology servers", 2, topo["servers"])
want("topology proxy_ip", "203.0.113.20" if mode == "proxy" else None, topo.get("proxy_ip"))
want("topology dscp", 10 if mode == "dsr-l3-dscp" else None, topo.get("dscp"))
want("topology nodes", ["client1", "client2", "router", "lb-a", "server1", "server2"],
     [n["name"] for n in topo["nodes"]])
nodes = {n["name"]: n for n in topo["nodes"]}
lb = nodes["lb-a"]
want("lb-a config", f"{state}/lb-a.toml", lb["config"])
want("lb-a control_socket", f"{state}/lb-a.sock", lb["control_socket"])
want("lb-a ifaces", [(taps[p], f"{lab}-sw") for p in ports],
     [(i["dev"], i["netns"]) for i in lb["ifaces"]])
want("router ifaces", router_ifaces, [i["name"] for i in nodes["router"]["ifaces"]])
if "eth2" in router_ifaces:
    eth2 = nodes["router"]["ifaces"][2]
    want("router eth2", ("198.18.0.1/24", "02:00:00:12:00:01", "remote"),
         (eth2["address"], eth2["mac"], eth2["segment"]))
for n in (1, 2):
    srv = nodes[f"server{n}"]
    want(f"server{n} decap", decap if mode == "dsr-l3-tunnel" else "", srv.get("decap"))
    i = srv["ifaces"][0]
    want(f"server{n} iface", (f"{net}.{10 + n}/24", f"02:00:00:{macnet}:00:{10 + n:02x}", segment),
         (i["address"], i["mac"], i["segment"]))
want("engine control_socket", f"{state}/lb-a.sock", eng["engine"]["control_socket"])
want("engine ports", [(p, taps[p], f"{lab}-sw") for p in ports],
     [(p["name"], p["tap"], p["netns"]) for p in eng["ports"]])
want("engine routes", [("0.0.0.0/0", "203.0.113.1")],
     [(r["destination"], r["via"]) for r in eng["routes"]])
closed = [("udp", 2)] if mode in ("inline", "proxy") else []
want("engine vips", [("tcp", 2), ("udp", 2)] + closed,
     [(v["protocol"], len(v["backends"])) for v in eng["vips"]])
for v in eng["vips"]:
    what = f"engine vip {v['name']}"
    vport = 9 if v["name"] == "closed" else 80
    want(f"{what} address:port", ("203.0.113.10", vport), (v["address"], v["port"]))
    want(f"{what} mode", mode, v.get("mode"))
    want(f"{what} proxy_ip", "203.0.113.20" if mode == "proxy" else None, v.get("proxy_ip"))
    want(f"{what} dscp", 10 if mode == "dsr-l3-dscp" else None, v.get("dscp"))
    want(f"{what} backends", [(f"{net}.11", vport), (f"{net}.12", vport)],
         [(b["address"], b["port"]) for b in v["backends"]])
EOF
	) || { note "$out"; return 1; }
}

starttime() { # PID
	proc_stat_field "$1" 19
}

process_gone() { # PID
	[[ ! -e /proc/$1 ]] || [[ $(proc_stat_field "$1" 0) == Z ]]
}

# --- helpers for the per-mode labs ----------------------------------------------------------

# ipv4_addrs NODE DEV: the IPv4 addresses of DEV in NODE, space separated.
ipv4_addrs() { # NODE DEV
	in_node "$1" ip -o -4 addr show dev "$2" | awk '{print $4}' | tr '\n' ' ' | sed 's/ $//'
}

# iface_is NODE DEV ADDR/PFX MAC: DEV holds exactly ADDR/PFX and has MAC.
iface_is() { # NODE DEV ADDR MAC
	expect_eq "$1 $2 address" "$3" "$(ipv4_addrs "$1" "$2")" &&
		expect_eq "$1 $2 MAC" "$4" "$(in_node "$1" cat "/sys/class/net/$2/address")"
}

default_route_is() { # NODE GATEWAY
	expect_eq "$1 default route" "default via $2 dev eth0" \
		"$(in_node "$1" ip -4 route show default | sed 's/ *$//')"
}

link_present() { # NS DEV
	ip -n "$1" link show dev "$2" >/dev/null 2>&1 || { note "no $2 in $1"; return 1; }
}

link_absent() { # NS DEV
	! ip -n "$1" link show dev "$2" >/dev/null 2>&1 || { note "$2 exists in $1"; return 1; }
}

# lo_is NODE ADDRS: lo holds exactly ADDRS ("127.0.0.1/8 203.0.113.10/32").
lo_is() { # NODE ADDRS
	expect_eq "$1 lo addresses" "$2" "$(ipv4_addrs "$1" lo)"
}

# sysctls_are NODE VALUE KEY...: every KEY is VALUE in NODE.
sysctls_are() { # NODE VALUE KEY...
	local node=$1 value=$2 key
	shift 2
	for key in "$@"; do
		sysctl_is "$node" "$key" "$value" || return 1
	done
}

# nft_rule_ok NODE RIP: NODE's table ip lblab maps DSCP 10 to RIP back to the VIP,
# untracked, in a prerouting chain at raw priority (-300).
nft_rule_ok() { # NODE RIP
	local listed want
	want="ip dscp 0x0a ip daddr $2 ip daddr set 203.0.113.10 notrack"
	listed=$(in_node "$1" nft -n list chain ip lblab prerouting 2>&1) || { note "$listed"; return 1; }
	[[ $listed == *"$want"* && $listed == *"hook prerouting priority -300;"* ]] ||
		{ note "expected '$want' at priority -300 in: $(tr -s '\t\n' '  ' <<<"$listed")"; return 1; }
}

# answered_from NODE ADDR TOS FROM: an echo to ADDR with TOS is answered from FROM.
answered_from() { # NODE ADDR TOS FROM
	local out
	out=$(ping_from "$@" 2>&1) || { note "${out:-no answer}"; return 1; }
}

# no_arp_answer NODE ADDR: NODE asked who has ADDR and nobody answered (a DSR server
# with arp_ignore=1 must not answer for the VIP on its lo).
no_arp_answer() { # NODE ADDR
	local neigh
	if command -v ping >/dev/null 2>&1; then
		in_node "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && { note "$2 answered a ping"; return 1; }
	else
		ping_from "$1" "$2" >/dev/null 2>&1 && { note "$2 answered a ping"; return 1; }
	fi
	neigh=$(in_node "$1" ip -4 neigh show "$2")
	[[ -n $neigh && $neigh != *lladdr* ]] || { note "$1 neighbour entry for $2: '${neigh:-none}'"; return 1; }
}

# mode_lab MODE NAME: build MODE's lab NAME with 2 servers with topo.sh, check it
# against docs/lab.md ("Topologies per mode"), then remove it with down.sh.
mode_lab() { # MODE NAME
	local mode=$1 out status node n net macnet gw decap='' remote=0 dsr=1
	LAB=$2
	case $mode in
	proxy) net=198.18.0 macnet=12 gw=198.18.0.1 remote=1 dsr=0 ;;
	dsr-l2) net=203.0.113 macnet=71 gw=203.0.113.1 ;;
	dsr-l3-dscp) net=198.18.0 macnet=12 gw=198.18.0.1 remote=1 ;;
	dsr-l3-tunnel)
		net=198.18.0 macnet=12 gw=198.18.0.1 remote=1 decap=user
		[[ -d /sys/module/ipip ]] && decap=kernel
		;;
	esac

	out=$("$SCRIPTS/topo.sh" up "$LAB" "$mode" 2 2>&1)
	status=$?
	check "topo.sh up $LAB $mode 2 exits 0" expect_eq "exit status" 0 "$status"
	check "$mode: up prints exactly one line" expect_eq "lines printed" 1 "$(grep -c '' <<<"$out")"
	[[ $status -eq 0 ]] || note "$out"

	for node in sw client1 client2 router lb-a server1 server2; do
		check "$mode: namespace $LAB-$node exists" netns_present "$LAB-$node"
	done
	check "$mode: no namespace $LAB-server3 with 2 servers" not netns_present "$LAB-server3"
	check "$mode: lb-a has only lo" expect_eq "lb-a links" "lo" "$(in_node lb-a ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')"

	for n in 1 2; do
		check "$mode: server$n eth0 is $net.$((10 + n))/24 with MAC 02:00:00:$macnet:00:$(printf %02x $((10 + n)))" \
			iface_is "server$n" eth0 "$net.$((10 + n))/24" "02:00:00:$macnet:00:$(printf %02x $((10 + n)))"
		check "$mode: server$n default route via $gw" default_route_is "server$n" "$gw"
	done

	check "$mode: TAP lba-front in $LAB-sw on br-front with vnet_hdr" tap_ok lba-front br-front
	check "$mode: no TAP lba-back (one arm)" link_absent "$LAB-sw" lba-back
	check "$mode: no bridge br-back" link_absent "$LAB-sw" br-back
	if ((remote)); then
		check "$mode: bridge br-remote in $LAB-sw" link_present "$LAB-sw" br-remote
		check "$mode: router eth2 is 198.18.0.1/24 with MAC 02:00:00:12:00:01" \
			iface_is router eth2 198.18.0.1/24 02:00:00:12:00:01
		check "$mode: router-eth2 is a port of br-remote" expect_eq "router-eth2 master" br-remote \
			"$(ip netns exec "$LAB-sw" readlink /sys/class/net/router-eth2/master | xargs basename)"
		check "$mode: router rp_filter=0 (all, default, eth0, eth1, eth2)" sysctls_are router 0 \
			net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter net.ipv4.conf.eth0.rp_filter \
			net.ipv4.conf.eth1.rp_filter net.ipv4.conf.eth2.rp_filter
		check "$mode: client1 pings server1's own address 198.18.0.11 through the router" ping_from client1 198.18.0.11
		check "$mode: client1 pings server2's own address 198.18.0.12 through the router" ping_from client1 198.18.0.12
	else
		check "$mode: router has no eth2" link_absent "$LAB-router" eth2
		check "$mode: no bridge br-remote" link_absent "$LAB-sw" br-remote
		check "$mode: client1 pings server1's own address $net.11 through the router" ping_from client1 "$net.11"
	fi
	check "$mode: router forwards (ip_forward=1)" sysctl_is router net.ipv4.ip_forward 1

	for n in 1 2; do
		if ((dsr)); then
			check "$mode: server$n has the VIP 203.0.113.10/32 on lo" lo_is "server$n" "127.0.0.1/8 203.0.113.10/32"
			check "$mode: server$n rp_filter=0 (all, default, eth0)" sysctls_are "server$n" 0 \
				net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter net.ipv4.conf.eth0.rp_filter
		else
			check "$mode: server$n has no VIP on lo" lo_is "server$n" "127.0.0.1/8"
		fi
		case $mode in
		dsr-l2)
			check "$mode: server$n arp_ignore=1 (all, eth0)" sysctls_are "server$n" 1 \
				net.ipv4.conf.all.arp_ignore net.ipv4.conf.eth0.arp_ignore
			check "$mode: server$n arp_announce=2 (all, eth0)" sysctls_are "server$n" 2 \
				net.ipv4.conf.all.arp_announce net.ipv4.conf.eth0.arp_announce
			;;
		dsr-l3-dscp)
			check "$mode: server$n nft: raw prerouting 'ip dscp 10 ip daddr $net.$((10 + n)) ip daddr set VIP notrack'" \
				nft_rule_ok "server$n" "$net.$((10 + n))"
			;;
		dsr-l3-tunnel)
			if ((n == 1)); then
				check "$mode: every server says decap = \"$decap\" in topology.toml (ipip in the kernel: $([[ $decap == kernel ]] && echo yes || echo no))" \
					expect_eq "servers with decap = \"$decap\"" 2 "$(grep -c "^decap = \"$decap\"$" "$LBLAB_RUN_DIR/$LAB/topology.toml")"
			fi
			if [[ $decap == kernel ]]; then
				check "$mode: server$n tunl0 (or decap0) is up for kernel decapsulation" \
					expect_eq "server$n ipip device up" yes \
					"$(in_node "server$n" ip -o link show up type ipip | grep -qE ' (tunl0|decap0)[@:]' && echo yes || echo no)"
			fi
			;;
		esac
	done
	case $mode in
	dsr-l2)
		check "$mode: nobody answers the router's ARP for the VIP (no engine, servers ignore it)" \
			no_arp_answer router 203.0.113.10
		;;
	dsr-l3-dscp)
		# The echo to server1's address, marked DSCP 10 (TOS 0x28), is rewritten to the VIP
		# by nftables, answered from the VIP, and that answer crosses the router from eth2.
		check "$mode: a DSCP 10 echo to 198.18.0.11 is answered from the VIP 203.0.113.10" \
			answered_from client1 198.18.0.11 40 203.0.113.10
		check "$mode: an unmarked echo to 198.18.0.11 is answered from 198.18.0.11" \
			answered_from client1 198.18.0.11 0 198.18.0.11
		;;
	esac
	check "$mode: topology.toml and lb-a.toml parse as TOML with this lab's values" toml_ok "$mode" "$decap"

	out=$("$SCRIPTS/down.sh" "$LAB" 2>&1)
	status=$?
	check "$mode: down.sh $LAB exits 0" expect_eq "exit status" 0 "$status"
	[[ $status -eq 0 ]] || note "$out"
	check "$mode: no namespace $LAB-* is left" no_netns_with_prefix "$LAB"
	check "$mode: no state dir $LBLAB_RUN_DIR/$LAB is left" path_absent "$LBLAB_RUN_DIR/$LAB"
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
	check "topology.toml and lb-a.toml parse as TOML with this lab's values" toml_ok inline

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

	# Every other mode, once, with topo.sh.
	local entry
	for entry in "${MODE_LABS[@]}"; do
		mode_lab "${entry%%=*}" "${entry#*=}"
	done
	LAB=$INLINE

	out=$("$SCRIPTS/topo.sh" up "tbm$$" bogus 2 2>&1)
	status=$?
	check "topo.sh refuses an unknown mode (exit 2, naming it)" refused_with_hint "$status" "$out" "unknown mode 'bogus'"
	check "an unknown mode leaves no state dir" path_absent "$LBLAB_RUN_DIR/tbm$$"
	check "topo_inline.sh without NAME is a usage error (exit 2)" expect_eq "exit status" 2 \
		"$("$SCRIPTS/topo_inline.sh" up >/dev/null 2>&1; echo $?)"

	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

main "$@"
