#!/usr/bin/env bash
# topo_inline.sh: the inline (two-arm) lab of docs/lab.md.
#
#   topo_inline.sh up NAME [SERVERS]   build lab NAME with SERVERS servers (1..9, default 3)
#   topo_inline.sh down NAME           the same as down.sh NAME
#
# Every box is a network namespace; NAME-sw is the "switch" that holds the bridges, the
# switch-side end of every veth (<node>-<if>) and the engine's two persistent TAPs.
#
#   NAME-client1     NAME-client2     NAME-router            NAME-lb-a: only lo; lbd runs
#   eth0 .11         eth0 .12         eth0 .1      eth1 .1    there and opens its two data
#     |                |                |            |        ports, the TAPs in NAME-sw
#  ===|================|================|============|=============================== NAME-sw ===
#     client1-eth0     client2-eth0     router-eth0  router-eth1
#     |                |                |            |
#     +---- br-cli ----+----------------+            +---- br-front ----+ lba-front (TAP)
#           198.51.100.0/24                                203.0.113.0/24      .2, VIP .10
#                                                                                 |
#                                                                               [lbd]
#                                                                                 |
#                                                    +---- br-back -----+ lba-back (TAP)
#                                                    |     192.0.2.0/24        .1
#                                                    +-- server1-eth0 ... serverN-eth0
#  ==================================================|=================|========================
#                                                    eth0 .11          eth0 .(10+N)
#                                                    NAME-server1      NAME-serverN
#
# Default routes: clients via 198.51.100.1 (router), servers via 192.0.2.1 (lba-back);
# the router forwards. MACs are 02:00:00:<net>:00:<host> (docs/lab.md). Writes
# /run/lblab/NAME/{manifest,topology.toml,lb-a.toml}. Prints one summary line on
# success; on failure removes what it built and exits non-zero with the reason.
# Exit 4 (SKIP) when not root or a needed command or kernel feature is missing.
set -euo pipefail

LBLAB_PROG=topo_inline.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly VIP=203.0.113.10
readonly ROUTER_CLI=198.51.100.1 ROUTER_FRONT=203.0.113.1 LB_BACK=192.0.2.1

usage() {
	cat <<EOF
usage: topo_inline.sh up NAME [SERVERS]   build the inline lab NAME (SERVERS 1..9, default 3)
       topo_inline.sh down NAME           remove lab NAME (same as down.sh NAME)
EOF
}

# plan_veths SERVERS: one line per veth plug, in build order:
#   node role if bridge segment address mac
plan_veths() { # SERVERS
	local i
	echo "client1 client eth0 br-cli clients 198.51.100.11/24 02:00:00:64:00:0b"
	echo "client2 client eth0 br-cli clients 198.51.100.12/24 02:00:00:64:00:0c"
	echo "router router eth0 br-cli clients $ROUTER_CLI/24 02:00:00:64:00:01"
	echo "router router eth1 br-front front $ROUTER_FRONT/24 02:00:00:71:00:01"
	for ((i = 1; i <= $1; i++)); do
		printf 'server%d server eth0 br-back back 192.0.2.%d/24 02:00:00:02:00:%02x\n' \
			"$i" $((10 + i)) $((10 + i))
	done
}

# The engine's ports: name tap bridge segment address mac
plan_taps() {
	echo "front lba-front br-front front 203.0.113.2/24 02:00:00:71:00:02"
	echo "back lba-back br-back back $LB_BACK/24 02:00:00:02:00:01"
}

# toml_iface NAME DEV NETNS SEGMENT ADDRESS MAC
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

# write_topology LAB SERVERS: topology.toml, in the format of docs/lab.md.
write_topology() { # LAB SERVERS
	local lab=$1 servers=$2 state node role ifname bridge segment addr mac last=
	local t_name t_dev t_segment t_addr t_mac
	state=$(lab_state_dir "$lab")
	{
		cat <<EOF
# Written by netns_scripts/topo_inline.sh; format: docs/lab.md (topology.toml).
lab = "$lab"
mode = "inline"
state_dir = "$state"
switch_netns = "$lab-sw"
vip = "$VIP"
servers = $servers
EOF
		# Nodes in the order client1, client2, router, lb-a, server1..N.
		while read -r node role ifname bridge segment addr mac; do
			if [[ $node == server1 ]]; then
				printf '\n[[nodes]]\nname = "lb-a"\nrole = "lb"\nnetns = "%s"\n' "$lab-lb-a"
				printf 'config = "%s"\ncontrol_socket = "%s"\n' "$state/lb-a.toml" "$state/lb-a.sock"
				while read -r t_name t_dev _ t_segment t_addr t_mac; do
					toml_iface "$t_name" "$t_dev" "$lab-sw" "$t_segment" "$t_addr" "$t_mac"
				done < <(plan_taps)
			fi
			if [[ $node != "$last" ]]; then
				printf '\n[[nodes]]\nname = "%s"\nrole = "%s"\nnetns = "%s"\n' "$node" "$role" "$lab-$node"
				last=$node
			fi
			toml_iface "$ifname" "$ifname" "$lab-$node" "$segment" "$addr" "$mac"
		done < <(plan_veths "$servers")
	} >"$state/topology.toml.tmp"
	mv "$state/topology.toml.tmp" "$state/topology.toml"
}

# toml_backends SERVERS WEIGHTED: the backends array of one VIP.
toml_backends() { # SERVERS WEIGHTED(0|1)
	local i
	echo "backends = ["
	for ((i = 1; i <= $1; i++)); do
		if (($2)); then
			printf '  { address = "192.0.2.%d", port = 80, weight = 1 },\n' $((10 + i))
		else
			printf '  { address = "192.0.2.%d", port = 80 },\n' $((10 + i))
		fi
	done
	echo "]"
}

# write_engine_config LAB SERVERS: lb-a.toml, in the format of
# lb_engine/examples/inline.toml, for this lab's names and servers.
write_engine_config() { # LAB SERVERS
	local lab=$1 servers=$2 state tap_name tap bridge segment addr mac
	state=$(lab_state_dir "$lab")
	{
		cat <<EOF
# lbd: inline (two-arm) load balancing for lab $lab.
# Written by netns_scripts/topo_inline.sh; format: lb_engine/examples/inline.toml.

[engine]
name = "lb-a"
control_socket = "$state/lb-a.sock"
max_flows = 262144

[timeouts]
tcp_syn = 30
tcp_established = 900
tcp_fin = 60
tcp_close = 10
udp = 60
EOF
		while read -r tap_name tap bridge segment addr mac; do
			cat <<EOF

[[ports]]
name = "$tap_name"
tap = "$tap"
netns = "$lab-sw"
mac = "$mac"
address = "$addr"
EOF
		done < <(plan_taps)
		cat <<EOF

[[routes]]
destination = "0.0.0.0/0"
via = "$ROUTER_FRONT"

[[vips]]
name = "web"
address = "$VIP"
port = 80
protocol = "tcp"
mode = "inline"
algorithm = "rr"
$(toml_backends "$servers" 1)

[[vips]]
name = "echo"
address = "$VIP"
port = 80
protocol = "udp"
mode = "inline"
algorithm = "rr"
$(toml_backends "$servers" 0)
EOF
	} >"$state/lb-a.toml.tmp"
	mv "$state/lb-a.toml.tmp" "$state/lb-a.toml"
}

# --- failure handling: one reason, then remove what was built -------------------------------

UP_LAB='' UP_DONE=0 STEP='starting'

# step WHAT: name what is being built, for the failure message and LBLAB_VERBOSE=1.
step() {
	STEP=$*
	log "$STEP"
}

on_err() { # WHERE STATUS COMMAND
	trap - ERR
	die "up $UP_LAB failed while $STEP: '$3' exited with $2 ($1)"
}

on_exit() {
	local status=$?
	trap - EXIT ERR
	trap '' INT TERM HUP # finish the cleanup even if asked to stop again
	probe_netns_del "lblab-probe-$$"
	if [[ -n $UP_LAB && $UP_DONE -ne 1 ]]; then
		if lab_teardown "$UP_LAB"; then
			inform "removed the partly built lab $UP_LAB"
		else
			warn "could not remove all of lab $UP_LAB: run down.sh $UP_LAB"
		fi
		((status != 0)) || status=1
	fi
	exit "$status"
}

cmd_up() { # NAME [SERVERS]
	(($# >= 1 && $# <= 2)) || { usage >&2; exit 2; }
	local lab=$1 servers=${2:-3} state node role ifname bridge segment addr mac ns i
	local -a nodes
	validate_lab_name "$lab"
	[[ $servers =~ ^[1-9]$ ]] || die "SERVERS must be 1 to 9, not '$servers'"
	require_root
	require_cmd ip ethtool sysctl
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	require_features netns veth bridge tun

	state=$(lab_state_dir "$lab")
	nodes=(sw client1 client2 router lb-a)
	for ((i = 1; i <= servers; i++)); do nodes+=("server$i"); done
	[[ ! -e $state ]] || die "lab $lab already exists ($state): run \`lab down --name $lab\` first"
	for node in "${nodes[@]}"; do
		! netns_exists "$lab-$node" ||
			die "namespace $lab-$node already exists but lab $lab has no state dir; it is not ours, remove it by hand"
	done
	lab_claim "$lab" || die "lab $lab already exists ($state): run \`lab down --name $lab\` first"
	UP_LAB=$lab
	set -E
	trap 'on_err "${BASH_SOURCE[0]##*/}:$LINENO" "$?" "$BASH_COMMAND"' ERR

	for node in "${nodes[@]}"; do
		step "creating namespace $lab-$node"
		lab_netns_add "$lab" "$node"
	done

	for bridge in br-cli br-front br-back; do
		step "creating bridge $bridge in $lab-sw"
		bridge_add "$lab" "$bridge"
	done

	while read -r node role ifname bridge segment addr mac; do
		step "plugging $node $ifname into $bridge"
		veth_plug "$lab" "$node" "$ifname" "$bridge" "$addr" "$mac"
	done < <(plan_veths "$servers")

	while read -r _ ifname bridge _; do
		step "creating TAP $ifname on $bridge"
		tap_plug "$lab" "$ifname" "$bridge"
	done < <(plan_taps)

	step "adding routes and sysctls"
	for node in client1 client2; do
		ip -n "$lab-$node" route add default via "$ROUTER_CLI"
	done
	for ((i = 1; i <= servers; i++)); do
		ip -n "$lab-server$i" route add default via "$LB_BACK"
	done
	node_sysctl "$lab" router net.ipv4.ip_forward=1

	step "writing $state/topology.toml and $state/lb-a.toml"
	write_topology "$lab" "$servers"
	write_engine_config "$lab" "$servers"

	UP_DONE=1
	ns=${#nodes[@]}
	echo "lab $lab up: inline, $(plural "$servers" server servers), $ns namespaces ($lab-*), VIP $VIP, state $state"
}

main() {
	local cmd=${1-}
	(($# > 0)) && shift
	case $cmd in
	up) cmd_up "$@" ;;
	down) exec "$(dirname "${BASH_SOURCE[0]}")/down.sh" "$@" ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
