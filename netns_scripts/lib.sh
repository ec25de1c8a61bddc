# shellcheck shell=bash
# lib.sh: shared helpers for every lblab network script. Source it, do not run it:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# The contract these helpers implement is docs/lab.md: every lab NAME keeps its state
# in $LBLAB_RUN_DIR/NAME/ (default /run/lblab/NAME), and every object it creates is
# appended to NAME's manifest BEFORE it is created, so down.sh (lab_teardown) can remove
# exactly what the lab made, even after whoever was building it died with SIGKILL.
#
# Nothing here touches the root network namespace: namespaces are created with
# `ip netns add`, and every link is created with both ends already inside lab
# namespaces (`ip -n A link add X type veth peer name Y netns B`).
#
# Exit codes used by the scripts: 0 success, 1 failure (one message on stderr),
# 2 usage, 4 SKIP (kselftest's code: not root, or a command or kernel feature is missing).

[[ -n ${LBLAB_LIB_SOURCED:-} ]] && return 0
LBLAB_LIB_SOURCED=1

readonly KSFT_SKIP=4
LBLAB_RUN_DIR=${LBLAB_RUN_DIR:-/run/lblab}
LBLAB_PROG=${LBLAB_PROG:-$(basename "$0")}
# Status `die` exits with; exec.sh sets 125 so its own errors stand apart from CMD's.
LBLAB_DIE_STATUS=${LBLAB_DIE_STATUS:-1}

# --- logging ---------------------------------------------------------------------------

# log MSG...: progress, on stderr, only when LBLAB_VERBOSE is set (scripts stay quiet).
log() {
	if [[ -n ${LBLAB_VERBOSE:-} && ${LBLAB_VERBOSE} != 0 ]]; then
		printf '%s: %s\n' "$LBLAB_PROG" "$*" >&2
	fi
}

# warn MSG...: always on stderr; the script goes on.
warn() {
	printf '%s: warning: %s\n' "$LBLAB_PROG" "$*" >&2
}

# die MSG...: one clear message on stderr, then exit $LBLAB_DIE_STATUS (1).
die() {
	printf '%s: error: %s\n' "$LBLAB_PROG" "$*" >&2
	exit "$LBLAB_DIE_STATUS"
}

# inform MSG...: a fact the user should see, on stderr, even when not verbose.
inform() {
	printf '%s: %s\n' "$LBLAB_PROG" "$*" >&2
}

# skip MSG...: the environment cannot run this (not root, missing command or kernel
# feature); exit 4, kselftest's SKIP.
skip() {
	printf '%s: SKIP: %s\n' "$LBLAB_PROG" "$*" >&2
	exit "$KSFT_SKIP"
}

# --- requirements ------------------------------------------------------------------------

require_root() {
	[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, veths, bridges, TAPs)"
}

# require_cmd CMD...: every CMD is on PATH, or SKIP naming the first missing one.
require_cmd() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || skip "command '$cmd' not found"
	done
}

# Kernel feature probes. Each runs inside the throwaway namespace $1 (already made by
# probe_netns_add), prints a one-line reason on stdout, and returns 0 if the feature
# works. features.sh prints them; require_features turns a failure into a SKIP.

probe_netns_add() { # NS
	local err
	if err=$(ip netns add "$1" 2>&1); then
		echo "ip netns add works"
	else
		echo "ip netns add failed: ${err//$'\n'/ }"
		return 1
	fi
}

probe_netns_del() { # NS
	[[ -e /run/netns/$1 ]] && ip netns del "$1" 2>/dev/null
	return 0
}

probe_veth() { # NS
	local err
	if err=$(ip -n "$1" link add lblabp0 type veth peer name lblabp1 2>&1); then
		echo "veth pair created in a throwaway namespace"
	else
		echo "cannot create a veth pair: ${err//$'\n'/ }"
		return 1
	fi
}

probe_bridge() { # NS
	local err
	if err=$(ip -n "$1" link add lblabpbr type bridge forward_delay 0 2>&1); then
		echo "bridge created in a throwaway namespace"
	else
		echo "cannot create a bridge: ${err//$'\n'/ }"
		return 1
	fi
}

probe_tun() { # NS
	local err
	if [[ ! -c /dev/net/tun ]]; then
		echo "/dev/net/tun is missing"
		return 1
	fi
	if err=$(ip -n "$1" tuntap add dev lblabptap mode tap vnet_hdr 2>&1); then
		echo "/dev/net/tun present; persistent vnet_hdr TAP created in a throwaway namespace"
	else
		echo "cannot create a persistent TAP: ${err//$'\n'/ }"
		return 1
	fi
}

probe_nftables() { # NS
	local err
	if ! command -v nft >/dev/null 2>&1; then
		echo "command 'nft' not found"
		return 1
	fi
	if err=$(ip netns exec "$1" nft add table inet lblab_probe 2>&1); then
		echo "nft created a table in a throwaway namespace"
	else
		echo "nft cannot create a table: ${err//$'\n'/ }"
		return 1
	fi
}

probe_ipip() { # NS
	local err
	# Creating an ipip link while the module is absent makes the kernel load it, and
	# loading it adds a tunl0 device to EVERY namespace, the root one included. So the
	# probe only runs when ipip is already loaded or built in.
	if [[ ! -d /sys/module/ipip ]]; then
		echo "kernel module ipip is not loaded nor built in (not autoloaded here: loading it adds tunl0 to the root namespace)"
		return 1
	fi
	if err=$(ip -n "$1" link add lblabpip type ipip local 192.0.2.1 remote 192.0.2.2 2>&1); then
		echo "ipip link created in a throwaway namespace"
	else
		echo "cannot create an ipip link: ${err//$'\n'/ }"
		return 1
	fi
}

# require_features FEATURE...: probe each of netns veth bridge tun nftables ipip in a
# throwaway namespace (always removed); SKIP with the reason of the first that fails.
require_features() {
	local ns="lblab-probe-$$" feature reason status=0
	reason=$(probe_netns_add "$ns") || skip "kernel feature netns: $reason"
	for feature in "$@"; do
		[[ $feature == netns ]] && continue
		reason=$("probe_$feature" "$ns") || { status=1; break; }
	done
	probe_netns_del "$ns"
	[[ $status -eq 0 ]] || skip "kernel feature $feature: $reason"
}

# --- names and state -----------------------------------------------------------------------

# validate_lab_name NAME: letters, digits and dashes, starting with a letter or digit,
# at most 12 characters, so NAME-server9 and the like stay short and NAME is safe in a path.
validate_lab_name() {
	local name=${1-}
	[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,11}$ ]] ||
		die "invalid lab name '$name': use 1 to 12 letters, digits or dashes, not starting with a dash"
}

lab_state_dir() { # LAB
	printf '%s/%s\n' "$LBLAB_RUN_DIR" "$1"
}

lab_manifest() { # LAB
	printf '%s/%s/manifest\n' "$LBLAB_RUN_DIR" "$1"
}

# lab_claim LAB: create LAB's state dir and an empty manifest. mkdir is atomic, so two
# builders racing for one name cannot both win; returns 1 if the state dir exists.
lab_claim() { # LAB
	local dir
	dir=$(lab_state_dir "$1")
	mkdir -p "$LBLAB_RUN_DIR"
	mkdir "$dir" 2>/dev/null || return 1
	: >"$dir/manifest"
}

# manifest_add LAB WORD...: append one line to LAB's manifest. Call it BEFORE creating
# the object it names; it fails (and so stops a set -e script) if the lab was removed.
manifest_add() { # LAB WORD...
	local lab=$1 manifest
	shift
	manifest=$(lab_manifest "$lab")
	[[ -f $manifest ]] || die "lab $lab has no manifest ($manifest): was it removed meanwhile?"
	printf '%s\n' "$*" >>"$manifest"
}

# --- building blocks -----------------------------------------------------------------------

netns_exists() { # NS
	[[ -e /run/netns/$1 ]]
}

# lab_netns_add LAB NODE: record and create namespace LAB-NODE, bring lo up and disable
# IPv6 in it (before any other link exists, so every later link inherits it).
lab_netns_add() { # LAB NODE
	local lab=$1 node=$2 ns="$1-$2"
	# Never record a namespace we did not make: down.sh would delete it.
	netns_exists "$ns" && die "namespace $ns already exists and is not part of lab $lab"
	manifest_add "$lab" netns "$ns"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	if [[ -d /proc/sys/net/ipv6 ]]; then
		ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	fi
}

# node_sysctl LAB NODE KEY=VALUE...: set sysctls inside LAB-NODE.
node_sysctl() { # LAB NODE KEY=VALUE...
	local ns="$1-$2"
	shift 2
	ip netns exec "$ns" sysctl -q -w "$@" >/dev/null
}

# bridge_add LAB BRIDGE: a bridge in LAB-sw with forward_delay 0 (ports forward at once)
# and STP off; no address, so the switch namespace never answers anything itself.
# A plain switch: no STP delay, and no multicast snooping, which parses every IPv4
# multicast frame and drops those with a bad header checksum (the lab sends such VRRP
# adverts on purpose; the engine must be the one that counts them). Where br_netfilter is
# loaded on the host, its per-namespace sysctls are set to 0 in LAB-sw, so that bridged
# frames never go through netfilter (it, too, drops bad IPv4 headers).
bridge_add() { # LAB BRIDGE
	local sw="$1-sw" key
	ip -n "$sw" link add "$2" type bridge forward_delay 0 stp_state 0 mcast_snooping 0
	ip -n "$sw" link set "$2" up
	for key in iptables ip6tables arptables; do
		[[ ! -e /proc/sys/net/bridge/bridge-nf-call-$key ]] ||
			ip netns exec "$sw" sysctl -q -w "net.bridge.bridge-nf-call-$key=0" >/dev/null 2>&1 || true
	done
}

# tx_csum_off NS DEV: no TX checksum offload, so every captured checksum is final.
tx_csum_off() { # NS DEV
	# ethtool reports the features it changed as a side effect on stdout.
	ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
}

# veth_plug LAB NODE IF BRIDGE ADDR/PFX MAC: a veth whose end IF sits in LAB-NODE (with
# ADDR/PFX, MAC) and whose end <NODE>-<IF> sits in LAB-sw, enslaved to BRIDGE. ADDR may
# be "-" for no address. Both ends are up with TX checksum offload off (unless
# LBLAB_OFFLOAD=1).
veth_plug() { # LAB NODE IF BRIDGE ADDR MAC
	local lab=$1 node=$2 ifname=$3 bridge=$4 addr=$5 mac=$6
	local sw="$lab-sw" ns="$lab-$node" port="$node-$ifname"
	((${#port} <= 15)) || die "switch port name '$port' is longer than 15 characters"
	# Created inside LAB-sw with its peer moved straight into LAB-NODE: never in root.
	ip -n "$sw" link add "$port" type veth peer name "$ifname" netns "$ns"
	ip -n "$ns" link set "$ifname" address "$mac"
	ip -n "$sw" link set "$port" master "$bridge"
	# LBLAB_OFFLOAD=1 (topo.sh --offload, for benchmarks) keeps the veths' offloads: TCP
	# then crosses the lab as GSO super-frames, but captured checksums are not final.
	if [[ ${LBLAB_OFFLOAD:-0} != 1 ]]; then
		tx_csum_off "$sw" "$port"
		tx_csum_off "$ns" "$ifname"
	fi
	if [[ $addr != - ]]; then
		ip -n "$ns" addr add "$addr" dev "$ifname"
	fi
	ip -n "$sw" link set "$port" up
	ip -n "$ns" link set "$ifname" up
}

# tap_plug LAB NAME BRIDGE: a persistent TAP NAME (vnet_hdr) in LAB-sw, enslaved to
# BRIDGE and up. Its carrier comes when the engine opens it. Its kernel-side MAC is left
# random on purpose: the bridge treats its ports' own MACs as local, so giving the TAP
# the engine's MAC would make the bridge swallow the frames meant for the engine.
tap_plug() { # LAB NAME BRIDGE
	local sw="$1-sw"
	ip -n "$sw" tuntap add dev "$2" mode tap vnet_hdr
	ip -n "$sw" link set "$2" master "$3"
	ip -n "$sw" link set "$2" up
}

# rp_filter_off LAB NODE [IF...]: no reverse-path filter in LAB-NODE: `all` and
# `default` (links made later) and each IF given. The kernel applies max(all, IF), so
# both must be 0. DSR replies leave a server from the VIP and reach the router on the
# "wrong" interface; decapsulated packets enter a server on a tunnel device.
rp_filter_off() { # LAB NODE [IF...]
	local lab=$1 node=$2 ifname
	local -a keys=(net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0)
	shift 2
	for ifname in "$@"; do keys+=("net.ipv4.conf.$ifname.rp_filter=0"); done
	node_sysctl "$lab" "$node" "${keys[@]}"
}

# arp_dsr LAB NODE IF: the classic DSR ARP settings, on `all` and IF: answer ARP only
# for addresses on the interface asked (arp_ignore=1, so never for a VIP on lo) and
# source ARP requests from the interface's own address (arp_announce=2).
arp_dsr() { # LAB NODE IF
	node_sysctl "$1" "$2" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		"net.ipv4.conf.$3.arp_ignore=1" "net.ipv4.conf.$3.arp_announce=2"
}

# addr_on_lo LAB NODE ADDR: ADDR/32 on lo of LAB-NODE (a DSR server's VIP).
addr_on_lo() { # LAB NODE ADDR
	ip -n "$1-$2" addr add "$3/32" dev lo
}

# nft_dscp_to_vip LAB NODE DSCP RIP VIP: a stateless nftables table `ip lblab` in
# LAB-NODE whose raw-priority prerouting chain rewrites the destination of packets
# marked DSCP and addressed to RIP back to VIP, untracked (no conntrack anywhere).
# The rewrite runs before the routing decision, so the packet is then delivered to the
# VIP on lo; nft fixes the IP and the L4 pseudo-header checksums. Fails unless nft
# accepted the table and lists the rule back.
nft_dscp_to_vip() { # LAB NODE DSCP RIP VIP
	local ns="$1-$2" dscp=$3 rip=$4 vip=$5 listed want err
	if ! err=$(ip netns exec "$ns" nft -f - 2>&1 <<EOF
table ip lblab {
	chain prerouting {
		type filter hook prerouting priority raw; policy accept;
		ip dscp $dscp ip daddr $rip ip daddr set $vip notrack
	}
}
EOF
	); then
		die "nft in $ns refused the table ip lblab (dscp $dscp, $rip -> $vip): ${err//$'\n'/ }"
	fi
	# -n prints the code numerically (0x0a) rather than by name (af11).
	listed=$(ip netns exec "$ns" nft -n list chain ip lblab prerouting)
	want=$(printf 'ip dscp 0x%02x ip daddr %s ip daddr set %s notrack' "$dscp" "$rip" "$vip")
	[[ $listed == *"$want"* && $listed == *"hook prerouting priority -300;"* ]] ||
		die "nft in $ns does not list the rule '$want' at priority raw (-300): ${listed//$'\n'/ }"
}

# ipip_in_kernel: the kernel's ipip is loaded or built in. Never load it to find out:
# loading it adds tunl0 to every namespace, the root one included (see probe_ipip).
ipip_in_kernel() {
	[[ -d /sys/module/ipip ]]
}

# ipip_decap_kernel LAB NODE RIP: make LAB-NODE decapsulate IPIP sent to RIP with the
# kernel's ipip (call only when ipip_in_kernel). The fallback device tunl0, which the
# module puts in every namespace, receives IPIP addressed to any local address once it
# is up; the inner packet, addressed to the VIP on lo, is then delivered locally.
# Without tunl0 (net.core.fb_tunnels_only_for_init_net set) a tunnel `decap0` with
# local RIP and any remote does the same. rp_filter is off on the tunnel: the inner
# source (the client) is routed via eth0, not via the tunnel.
ipip_decap_kernel() { # LAB NODE RIP
	local ns="$1-$2" dev=tunl0
	ipip_in_kernel || die "ipip_decap_kernel: the kernel has no ipip loaded"
	if ! ip -n "$ns" link show dev tunl0 >/dev/null 2>&1; then
		dev=decap0
		ip -n "$ns" link add "$dev" type ipip local "$3"
	fi
	ip -n "$ns" link set "$dev" up
	node_sysctl "$1" "$2" "net.ipv4.conf.$dev.rp_filter=0"
}

# toml_iface NAME DEV NETNS SEGMENT ADDRESS MAC: one [[nodes.ifaces]] of topology.toml.
toml_iface() {
	cat <<EOF
[[nodes.ifaces]]
name = "$1"
dev = "$2"
netns = "$3"
segment = "$4"
address = "$5"
mac = "$6"
EOF
}

# --- teardown ------------------------------------------------------------------------------

# proc_stat_field PID INDEX: a field of /proc/PID/stat counted from field 3 (state) as 0,
# read after the last ')' because the command name may hold spaces and parentheses.
proc_stat_field() { # PID INDEX
	local stat rest fields
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	rest=${stat##*) }
	read -r -a fields <<<"$rest"
	[[ -n ${fields[$2]:-} ]] || return 1
	printf '%s\n' "${fields[$2]}"
}

# pid_is_ours PID STARTTIME: PID is alive (not a zombie) and still the process the
# manifest recorded (field 22 of /proc/PID/stat unchanged).
pid_is_ours() { # PID STARTTIME
	local state start
	state=$(proc_stat_field "$1" 0) || return 1
	start=$(proc_stat_field "$1" 19) || return 1
	[[ $start == "$2" && $state != Z && $state != X ]]
}

# stop_pids PID:START...: SIGTERM every process still ours, wait up to 2 s, then
# SIGKILL the ones left; prints how many were signalled.
stop_pids() {
	local entry n=0 tries
	local -a live=() left=()
	for entry in "$@"; do
		if pid_is_ours "${entry%%:*}" "${entry#*:}" && kill -TERM "${entry%%:*}" 2>/dev/null; then
			live+=("$entry")
			n=$((n + 1))
		fi
	done
	for ((tries = 0; tries < 20 && ${#live[@]} > 0; tries++)); do
		sleep 0.1
		left=()
		for entry in "${live[@]}"; do
			if pid_is_ours "${entry%%:*}" "${entry#*:}"; then
				left+=("$entry")
			fi
		done
		live=("${left[@]}")
	done
	for entry in "${live[@]}"; do
		if pid_is_ours "${entry%%:*}" "${entry#*:}"; then
			warn "process ${entry%%:*} did not stop within 2 s of SIGTERM: sending SIGKILL"
			kill -KILL "${entry%%:*}" 2>/dev/null || true
		fi
	done
	echo "$n"
}

# plural N ONE MANY: "1 process", "2 processes".
plural() { # N ONE MANY
	if (($1 == 1)); then printf '%s %s' "$1" "$2"; else printf '%s %s' "$1" "$3"; fi
}

# safe_abs_path PATH: absolute, no '.' or '..' component, at least two levels deep.
safe_abs_path() { # PATH
	local path=$1
	[[ $path == /* && $path != *//* ]] || return 1
	[[ /$path/ != */../* && /$path/ != */./* ]] || return 1
	[[ ${path%/} =~ ^/[^/]+/.+ ]]
}

# lab_teardown LAB: remove everything LAB's manifest lists, then LAB's state dir:
# processes whose start time still matches, namespaces (their veths, bridges and TAPs
# go with them), files and dirs (newest first). Missing objects are fine. Sets
# TEARDOWN_SUMMARY; returns 1 if something the manifest lists could not be removed.
TEARDOWN_SUMMARY=
lab_teardown() { # LAB
	local lab=$1 dir manifest line kind rest ns path status=0 stopped=0 n_ns=0 n_paths=0
	local -a lines=() pids=() netns=() paths=()
	dir=$(lab_state_dir "$lab")
	manifest="$dir/manifest"
	TEARDOWN_SUMMARY=
	[[ -d $dir ]] || return 0
	if [[ -f $manifest ]]; then
		mapfile -t lines <"$manifest"
	fi
	for line in "${lines[@]}"; do
		read -r kind rest <<<"$line"
		case $kind in
		pid)
			local pid start
			read -r pid start _ <<<"$rest"
			if [[ $pid =~ ^[0-9]+$ && $start =~ ^[0-9]+$ ]]; then
				pids+=("$pid:$start")
			else
				warn "lab $lab: ignoring malformed manifest line '$line'"
			fi
			;;
		netns) netns+=("$rest") ;;
		file | dir) paths=("$kind $rest" "${paths[@]}") ;; # newest first
		'' | '#'*) ;;
		*) warn "lab $lab: ignoring unknown manifest line '$line'" ;;
		esac
	done

	if ((${#pids[@]} > 0)); then
		stopped=$(stop_pids "${pids[@]}")
	fi

	for ns in "${netns[@]}"; do
		if [[ $ns != "$lab"-* || $ns == */* ]]; then
			warn "lab $lab: not deleting namespace '$ns': it is not named $lab-<node>"
			continue
		fi
		netns_exists "$ns" || continue
		local others
		others=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		[[ -z $others ]] || warn "namespace $ns still holds processes lblab did not record: ${others% } (left alone)"
		if ip netns del "$ns" 2>/dev/null || ! netns_exists "$ns"; then
			n_ns=$((n_ns + 1))
		else
			warn "lab $lab: cannot delete namespace $ns"
			status=1
		fi
	done

	for line in "${paths[@]}"; do
		kind=${line%% *} path=${line#* }
		if ! safe_abs_path "$path"; then
			warn "lab $lab: not removing $kind '$path': not a plain absolute path"
			continue
		fi
		if [[ $kind == file ]]; then
			if [[ -d $path && ! -L $path ]]; then
				warn "lab $lab: not removing file '$path': it is a directory"
				continue
			fi
			[[ -e $path || -L $path ]] || continue
			rm -f -- "$path" || status=1
		else
			[[ -e $path || -L $path ]] || continue
			rm -rf --one-file-system -- "$path" || status=1
		fi
		n_paths=$((n_paths + 1))
	done

	if ((status == 0)); then
		rm -rf --one-file-system -- "$dir" || status=1
	else
		warn "lab $lab: keeping $dir so down.sh can be run again"
	fi
	# shellcheck disable=SC2034 # read by the scripts that source this file
	TEARDOWN_SUMMARY="stopped $(plural "$stopped" process processes), deleted $(plural "$n_ns" namespace namespaces), removed $(plural "$n_paths" file/dir files/dirs)"
	return "$status"
}
