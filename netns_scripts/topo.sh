#!/usr/bin/env bash
# topo.sh: the lab of docs/lab.md, in the topology of one forwarding mode.
#
#   topo.sh up NAME MODE [SERVERS] [--ha [--no-sync]] [--algorithm ALG] [--bench] [--kernel]
#                                    build lab NAME for MODE with SERVERS servers (1..9, default 3);
#                                    --ha adds lb-b (see "HA" below); --no-sync leaves [sync] out;
#                                    --algorithm sets the VIPs' algorithm (default rr);
#                                    --bench adds the iperf3 VIP port 5201 (see "Benchmarks");
#                                    --kernel: lb-a is the Linux kernel, not lbd (inline, proxy)
#                                    --wire: lb-a's TAPs joined by lab_tapwire, no VIP (inline)
#                                    --offload: veths keep TX checksum offload and TSO (benchmarks;
#                                    captured checksums are then not final)
#   topo.sh down NAME                the same as down.sh NAME
#
# MODE is inline, proxy, dsr-l2, dsr-l3-dscp or dsr-l3-tunnel. Every box below is a
# network namespace; NAME-sw is the "switch" that holds the bridges, the switch-side end
# of every veth (<node>-<if>) and the engine's persistent TAPs. NAME-lb-a has only lo:
# lbd runs there and opens its data ports, the TAPs in NAME-sw. Clients, router and the
# front segment are the same in every mode; the modes differ in where the servers sit
# and in how many arms the LB has.
#
# 1. inline (two-arm): servers behind the LB, default route via the LB's back port.
#
#   NAME-client1     NAME-client2     NAME-router
#   eth0 .11         eth0 .12         eth0 .1      eth1 .1
#     |                |                |            |
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
#                                                    default via 192.0.2.1 (the LB)
#
# 2. dsr-l2 (one arm): servers on the front segment, next to the LB; replies go
#    straight to the router.
#
#   NAME-client1     NAME-client2     NAME-router
#   eth0 .11         eth0 .12         eth0 .1      eth1 .1
#     |                |                |            |
#  ===|================|================|============|=============================== NAME-sw ===
#     client1-eth0     client2-eth0     router-eth0  router-eth1
#     |                |                |            |
#     +---- br-cli ----+----------------+            +---- br-front ----+ lba-front (TAP) [lbd]
#           198.51.100.0/24                          |     203.0.113.0/24      .2, VIP .10
#                                                    +-- server1-eth0 ... serverN-eth0
#  ==================================================|=================|========================
#                                                    eth0 .11          eth0 .(10+N)
#                                                    lo VIP .10/32     lo VIP .10/32
#                                                    NAME-server1      NAME-serverN
#                                                    default via 203.0.113.1 (the router)
#
# 3. proxy, dsr-l3-dscp, dsr-l3-tunnel (one arm): servers on a remote segment behind
#    the router's third arm; the LB reaches them through the router (its default route).
#
#   NAME-client1     NAME-client2     NAME-router
#   eth0 .11         eth0 .12         eth0 .1        eth2 .1        eth1 .1
#     |                |                |              |              |
#  ===|================|================|==============|==============|============== NAME-sw ===
#     client1-eth0     client2-eth0     router-eth0    router-eth2    router-eth1
#     |                |                |              |              |
#     +---- br-cli ----+----------------+              |              +- br-front -+ lba-front (TAP)
#           198.51.100.0/24                            |             203.0.113.0/24   .2, VIP .10
#                                                      |                              PIP .20 (proxy)
#                                                      |                              [lbd]
#                                                      +---- br-remote
#                                                      |     198.18.0.0/24
#                                                      +-- server1-eth0 ... serverN-eth0
#  ====================================================|=================|======================
#                                                      eth0 .11          eth0 .(10+N)
#                                                      NAME-server1      NAME-serverN
#                                                      default via 198.18.0.1 (the router)
#
# Per mode, on each server (docs/lab.md, "Topologies per mode"):
#   proxy          nothing: the server sees the PIP 203.0.113.20 and answers it
#   dsr-l2         VIP/32 on lo, arp_ignore=1 and arp_announce=2 (all, eth0), rp_filter=0
#   dsr-l3-dscp    VIP/32 on lo, rp_filter=0, nftables table `ip lblab`: raw-priority
#                  prerouting, `ip dscp 10 ip daddr RIP ip daddr set VIP notrack`
#   dsr-l3-tunnel  VIP/32 on lo, rp_filter=0; IPIP decap by the kernel (tunl0 up) when
#                  ipip is loaded or built in, else by lab_decap, which `lab up` starts
#                  (topology.toml says which: decap = "kernel" | "user")
# In modes 3 the router has rp_filter=0 (all, default, each interface): DSR replies
# come from the VIP but enter the router on eth2.
#
# HA (--ha): a second engine, lb-b, in its own namespace NAME-lb-b, with its own TAP
# lbb-front on br-front (203.0.113.3, MAC 02:00:00:71:00:03). Both engines get [vrrp] on
# `front` (vrid 51, lb-a priority 200, lb-b 100, preempt, adverts every 100 ms) and,
# unless --no-sync, [sync] to the other's front address; whichever is master answers ARP
# for the VIP (and the PIP) and forwards.
#
#     router eth1 .1 --+-- br-front --+ lba-front (TAP) .2  [lbd lb-a, VRRP 200, master]
#                      |              + lbb-front (TAP) .3  [lbd lb-b, VRRP 100, backup]
#                      |                  VIP .10 (+ PIP .20) on the master only
#
# Inline with --ha: each engine also has a back TAP on br-back, lba-back 192.0.2.2
# (02:00:00:02:00:02) and lbb-back 192.0.2.3 (02:00:00:02:00:03); the servers' gateway
# 192.0.2.1 is a [vrrp] address (`addresses`) on `back`, held by the master like the VIP,
# so the servers' replies follow the VIP to the new master after its GARPs.
#
#     br-back --+ lba-back (TAP) .2 [lb-a]   gateway .1 on the master only
#               + lbb-back (TAP) .3 [lb-b]
#               +-- server1-eth0 ... serverN-eth0 (default via 192.0.2.1)
#
# Benchmarks (--bench): the engine config gains VIP port 5201 over TCP and UDP to server1
# only (one path to measure), without health checks (a check's bare connect would upset
# iperf3 -s). --kernel builds the same topology with the kernel as the load balancer, the
# reference lbd is measured against: lb-a gets veths (front, back) instead of TAPs, with
# the same addresses and MACs, the VIP (and the PIP) on front, ip_forward, and nftables
# `table ip lblab`: DNAT of VIP:80 to the servers in turn (numgen inc), of VIP:5201 to
# server1, and in proxy SNAT to the PIP toward the servers. No lbd runs; topology.toml
# says engine = "kernel" on the lb node. --wire (inline) keeps lb-a's TAPs but joins them
# with lab_tapwire (frames copied, nothing else: the ceiling of any TAP-based engine): the
# router gets 192.0.2.1/24 on eth1 too, so the two segments are one wire apart and the
# servers' gateway is the router; there is no VIP (engine = "wire").
#
# MACs are 02:00:00:<net>:00:<host> (docs/lab.md). Writes /run/lblab/NAME/{manifest,
# topology.toml,lb-a.toml[,lb-b.toml]}. Prints one summary line on success; on failure removes what
# it built and exits non-zero with the reason. Exit 4 (SKIP) when not root or a needed
# command or kernel feature is missing. LBLAB_DECAP=user makes dsr-l3-tunnel use
# lab_decap even where the kernel has ipip.
set -euo pipefail

LBLAB_PROG=${LBLAB_PROG:-topo.sh}
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly MODES="inline proxy dsr-l2 dsr-l3-dscp dsr-l3-tunnel"
readonly VIP=203.0.113.10 PROXY_IP=203.0.113.20 DSCP=10
readonly ROUTER_CLI=198.51.100.1 ROUTER_FRONT=203.0.113.1 ROUTER_REMOTE=198.18.0.1
readonly LB_FRONT=203.0.113.2 LB_BACK=192.0.2.1 LBB_FRONT=203.0.113.3
readonly LBA_BACK_HA=192.0.2.2 LBB_BACK_HA=192.0.2.3
readonly VRRP_VRID=51 SYNC_UDP_PORT=8848
readonly ALGORITHMS="rr wrr lc wlc rtt priority sh maglev"
HA=0 SYNC=1 ALGORITHM=rr BENCH=0 KERNEL=0 WIRE=0
readonly BENCH_PORT=5201

usage() {
	cat <<EOF
usage: topo.sh up NAME MODE [SERVERS] [--ha [--no-sync]] [--algorithm ALG]
                                      build lab NAME for MODE (SERVERS 1..9, default 3);
                                      --ha: a second engine lb-b with VRRP and sync;
                                      --no-sync: HA without connection sync;
                                      --algorithm: the VIPs' algorithm (default rr)
                                      --bench: VIP port 5201 (TCP, UDP) to server1, for iperf3
                                      --kernel: the kernel (nftables DNAT/SNAT) as lb-a (inline, proxy)
                                      --wire: lb-a's TAPs joined by lab_tapwire, no VIP (inline)
                                      --offload: keep the veths' offloads (GSO through the lab)
       topo.sh down NAME                remove lab NAME (same as down.sh NAME)
MODE: ${MODES// /, }
EOF
}

# --- the plan of one mode -------------------------------------------------------------------

# mode_plan MODE: set the globals that say where MODE's servers sit and what they need:
#   SRV_BRIDGE SRV_SEGMENT SRV_NET (first three bytes) SRV_MACNET SRV_GW
#   ROUTER_ARMS (2 or 3)  LB_ARMS (1 or 2)  DSR (0 or 1)
mode_plan() { # MODE
	DSR=1 ROUTER_ARMS=3 LB_ARMS=1
	SRV_BRIDGE=br-remote SRV_SEGMENT=remote SRV_NET=198.18.0 SRV_MACNET=12 SRV_GW=$ROUTER_REMOTE
	case $1 in
	inline)
		DSR=0 ROUTER_ARMS=2 LB_ARMS=2
		SRV_BRIDGE=br-back SRV_SEGMENT=back SRV_NET=192.0.2 SRV_MACNET=02 SRV_GW=$LB_BACK
		;;
	proxy) DSR=0 ;;
	dsr-l2)
		ROUTER_ARMS=2
		SRV_BRIDGE=br-front SRV_SEGMENT=front SRV_NET=203.0.113 SRV_MACNET=71 SRV_GW=$ROUTER_FRONT
		;;
	dsr-l3-dscp | dsr-l3-tunnel) ;;
	*) return 1 ;;
	esac
}

# plan_bridges: the bridges of the current plan, in build order.
plan_bridges() {
	echo br-cli br-front
	[[ $SRV_BRIDGE == br-front ]] || echo "$SRV_BRIDGE"
}

# plan_veths SERVERS: one line per veth plug, in build order:
#   node role if bridge segment address mac
plan_veths() { # SERVERS
	local i
	echo "client1 client eth0 br-cli clients 198.51.100.11/24 02:00:00:64:00:0b"
	echo "client2 client eth0 br-cli clients 198.51.100.12/24 02:00:00:64:00:0c"
	echo "router router eth0 br-cli clients $ROUTER_CLI/24 02:00:00:64:00:01"
	echo "router router eth1 br-front front $ROUTER_FRONT/24 02:00:00:71:00:01"
	if ((ROUTER_ARMS == 3)); then
		echo "router router eth2 br-remote remote $ROUTER_REMOTE/24 02:00:00:12:00:01"
	fi
	for ((i = 1; i <= $1; i++)); do
		printf 'server%d server eth0 %s %s %s.%d/24 02:00:00:%s:00:%02x\n' \
			"$i" "$SRV_BRIDGE" "$SRV_SEGMENT" "$SRV_NET" $((10 + i)) "$SRV_MACNET" $((10 + i))
	done
}

# plan_lbs: the engine nodes: lb-a, and lb-b with --ha.
plan_lbs() {
	echo lb-a
	((HA == 0)) || echo lb-b
}

# plan_taps [LB]: the ports of engine LB (default lb-a): name tap bridge segment address mac.
plan_taps() { # [LB]
	case ${1:-lb-a} in
	lb-a)
		echo "front lba-front br-front front $LB_FRONT/24 02:00:00:71:00:02"
		if ((LB_ARMS == 2 && HA == 0)); then
			echo "back lba-back br-back back $LB_BACK/24 02:00:00:02:00:01"
		elif ((LB_ARMS == 2)); then # the gateway .1 is the pair's [vrrp] address
			echo "back lba-back br-back back $LBA_BACK_HA/24 02:00:00:02:00:02"
		fi
		;;
	lb-b)
		echo "front lbb-front br-front front $LBB_FRONT/24 02:00:00:71:00:03"
		((LB_ARMS == 1)) || echo "back lbb-back br-back back $LBB_BACK_HA/24 02:00:00:02:00:03"
		;;
	esac
}

# all_taps: the ports of every engine, in build order.
all_taps() {
	local lb
	for lb in $(plan_lbs); do plan_taps "$lb"; done
}

# server_rip N: server N's own address.
server_rip() { # N
	printf '%s.%d\n' "$SRV_NET" $((10 + $1))
}

# server_decap MODE: what decapsulates IPIP on the servers: kernel | user | "" (none).
server_decap() { # MODE
	[[ $1 == dsr-l3-tunnel ]] || return 0
	if ipip_in_kernel && [[ ${LBLAB_DECAP:-auto} != user ]]; then
		echo kernel
	else
		echo user
	fi
}

# --- the files it writes ----------------------------------------------------------------------

# write_topology LAB MODE SERVERS: topology.toml, in the format of docs/lab.md.
write_topology() { # LAB MODE SERVERS
	local lab=$1 mode=$2 servers=$3 state decap node role ifname bridge segment addr mac last='' lb
	local t_name t_dev t_segment t_addr t_mac
	state=$(lab_state_dir "$lab")
	decap=$(server_decap "$mode")
	{
		cat <<EOF
# Written by netns_scripts/topo.sh; format: docs/lab.md (topology.toml).
lab = "$lab"
mode = "$mode"
state_dir = "$state"
switch_netns = "$lab-sw"
vip = "$VIP"
servers = $servers
EOF
		[[ $mode != proxy ]] || echo "proxy_ip = \"$PROXY_IP\""
		[[ $mode != dsr-l3-dscp ]] || echo "dscp = $DSCP"
		((HA == 0)) || echo "ha = true"
		# Nodes in the order client1, client2, router, lb-a[, lb-b], server1..N.
		while read -r node role ifname bridge segment addr mac; do
			if [[ $node == server1 ]]; then
				for lb in $(plan_lbs); do
					printf '\n[[nodes]]\nname = "%s"\nrole = "lb"\nnetns = "%s"\n' "$lb" "$lab-$lb"
					if ((WIRE)); then
						printf 'engine = "wire"\n'
						while read -r t_name t_dev _ t_segment _ t_mac; do
							toml_iface "$t_name" "$t_dev" "$lab-sw" "$t_segment" "" "$t_mac"
						done < <(plan_taps "$lb")
					elif ((KERNEL)); then
						printf 'engine = "kernel"\n'
						while read -r t_name t_dev _ t_segment t_addr t_mac; do
							toml_iface "$t_name" "$t_name" "$lab-$lb" "$t_segment" "$t_addr" "$t_mac"
						done < <(plan_taps "$lb")
					else
						printf 'config = "%s"\ncontrol_socket = "%s"\n' "$state/$lb.toml" "$state/$lb.sock"
						while read -r t_name t_dev _ t_segment t_addr t_mac; do
							toml_iface "$t_name" "$t_dev" "$lab-sw" "$t_segment" "$t_addr" "$t_mac"
						done < <(plan_taps "$lb")
					fi
				done
			fi
			if [[ $node != "$last" ]]; then
				printf '\n[[nodes]]\nname = "%s"\nrole = "%s"\nnetns = "%s"\n' "$node" "$role" "$lab-$node"
				[[ $role != server ]] || printf 'decap = "%s"\n' "$decap"
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
			printf '  { address = "%s", port = 80, weight = 1 },\n' "$(server_rip "$i")"
		else
			printf '  { address = "%s", port = 80 },\n' "$(server_rip "$i")"
		fi
	done
	echo "]"
}

# toml_vip_head NAME PORT PROTOCOL MODE ALGORITHM: a [[vips]] table up to its backends,
# with the keys MODE needs (proxy_ip, dscp).
toml_vip_head() { # NAME PORT PROTOCOL MODE ALGORITHM
	cat <<EOF

[[vips]]
name = "$1"
address = "$VIP"
port = $2
protocol = "$3"
mode = "$4"
algorithm = "$5"
EOF
	[[ $4 != proxy ]] || echo "proxy_ip = \"$PROXY_IP\""
	[[ $4 != dsr-l3-dscp ]] || echo "dscp = $DSCP"
}

# toml_vip NAME PROTOCOL MODE SERVERS WEIGHTED: one [[vips]] on VIP port 80, with the
# keys MODE needs (docs/lab.md, "Engine config keys per mode").
toml_vip() { # NAME PROTOCOL MODE SERVERS WEIGHTED
	toml_vip_head "$1" 80 "$2" "$3" "$ALGORITHM"
	# Health: HTTP GET /health for the web VIP, a TCP connect to port 80 for the UDP
	# echo (the same lab_server): down after 2 failures, up after 2 passes, 1 s apart.
	if [[ $2 == tcp ]]; then
		echo 'health = { type = "http", path = "/health", status = 200, interval_ms = 1000, timeout_ms = 500, rise = 2, fall = 2 }'
	else
		echo 'health = { type = "tcp", port = 80, interval_ms = 1000, timeout_ms = 500, rise = 2, fall = 2 }'
	fi
	toml_backends "$4" "$5"
}

# toml_closed_vip MODE SERVERS: UDP port 9 of the VIP to port 9 of the servers, where
# nothing listens: the lab's ICMP error scenarios (inline and proxy translate errors).
toml_closed_vip() { # MODE SERVERS
	local i
	toml_vip_head closed 9 udp "$1" rr
	echo "backends = ["
	for ((i = 1; i <= $2; i++)); do
		printf '  { address = "%s", port = 9 },\n' "$(server_rip "$i")"
	done
	echo "]"
}

# toml_bench_vips MODE: VIP port 5201 over TCP and UDP to server1:5201, no health check.
toml_bench_vips() { # MODE
	local proto
	for proto in tcp udp; do
		toml_vip_head "iperf-$proto" "$BENCH_PORT" "$proto" "$1" rr
		echo "backends = [{ address = \"$(server_rip 1)\", port = $BENCH_PORT }]"
	done
}

# kernel_lb LAB MODE SERVERS: lb-a as the kernel's load balancer (see "Benchmarks").
kernel_lb() { # LAB MODE SERVERS
	local lab=$1 mode=$2 servers=$3 ns="$1-lb-a" i map='' snat='' err
	for ((i = 1; i <= servers; i++)); do map+="${map:+, }$((i - 1)) : $(server_rip "$i")"; done
	ip -n "$ns" addr add "$VIP/32" dev front
	if [[ $mode == proxy ]]; then
		ip -n "$ns" addr add "$PROXY_IP/32" dev front
		snat="ip daddr $SRV_NET.0/24 snat to $PROXY_IP"
	fi
	ip -n "$ns" route add default via "$ROUTER_FRONT"
	node_sysctl "$lab" lb-a net.ipv4.ip_forward=1
	if ! err=$(ip netns exec "$ns" nft -f - 2>&1 <<EOF
table ip lblab {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr $VIP tcp dport 80 dnat to numgen inc mod $servers map { $map }
		ip daddr $VIP udp dport 80 dnat to numgen inc mod $servers map { $map }
		ip daddr $VIP tcp dport $BENCH_PORT dnat to $(server_rip 1)
		ip daddr $VIP udp dport $BENCH_PORT dnat to $(server_rip 1)
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		$snat
	}
}
EOF
	); then
		die "nft in $ns refused the kernel load balancer's table ip lblab: ${err//$'\n'/ }"
	fi
}

# toml_ha LB: [vrrp] and [sync] of engine LB (lb-a or lb-b), in the format of
# lb_engine/examples/ha-proxy.toml: lb-a priority 200, lb-b 100, preempt; each syncs
# to the other's front address (not with --no-sync). Two-arm: the servers' gateway is a
# [vrrp] address on `back` (lb_engine/examples/ha-inline.toml).
toml_ha() { # LB
	local priority=200 peer=$LBB_FRONT
	if [[ $1 == lb-b ]]; then priority=100 peer=$LB_FRONT; fi
	cat <<EOF

[vrrp]
port = "front"
vrid = $VRRP_VRID
priority = $priority
advert_interval_ms = 100
preempt = true
preempt_delay_ms = 0
garp_count = 5
garp_interval_ms = 100
EOF
	if ((LB_ARMS == 2)); then
		echo "addresses = [{ port = \"back\", address = \"$LB_BACK\" }]"
	fi
	((SYNC)) || return 0
	cat <<EOF

[sync]
port = "front"
peer = "$peer"
udp_port = $SYNC_UDP_PORT
EOF
}

# write_engine_config LAB MODE SERVERS [LB]: LB.toml (default lb-a), in the format of
# lb_engine/examples/inline.toml, for this lab's names, mode and servers; with --ha
# also [vrrp] and [sync] (toml_ha).
write_engine_config() { # LAB MODE SERVERS [LB]
	local lab=$1 mode=$2 servers=$3 lb=${4:-lb-a} state tap_name tap bridge segment addr mac arms what
	state=$(lab_state_dir "$lab")
	arms="one-arm"
	((LB_ARMS == 1)) || arms="two-arm"
	what="lab $lab"
	((HA == 0)) || what+=", engine $lb of an HA pair"
	{
		cat <<EOF
# lbd: $mode ($arms) load balancing for $what.
# Written by netns_scripts/topo.sh; format: lb_engine/examples/inline.toml and
# docs/lab.md ("Engine config keys per mode").

[engine]
name = "$lb"
control_socket = "$state/$lb.sock"
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
		done < <(plan_taps "$lb")
		cat <<EOF

[[routes]]
destination = "0.0.0.0/0"
via = "$ROUTER_FRONT"
EOF
		toml_vip web tcp "$mode" "$servers" 1
		toml_vip echo udp "$mode" "$servers" 0
		[[ $mode != inline && $mode != proxy ]] || toml_closed_vip "$mode" "$servers"
		((BENCH == 0)) || toml_bench_vips "$mode"
		((HA == 0)) || toml_ha "$lb"
	} >"$state/$lb.toml.tmp"
	mv "$state/$lb.toml.tmp" "$state/$lb.toml"
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

# setup_servers LAB MODE SERVERS: routes, sysctls, VIP, nftables and decap per mode.
setup_servers() { # LAB MODE SERVERS
	local lab=$1 mode=$2 servers=$3 i node rip
	for ((i = 1; i <= servers; i++)); do
		node=server$i rip=$(server_rip "$i")
		step "setting up $node for $mode"
		ip -n "$lab-$node" route add default via "$SRV_GW"
		((DSR)) || continue
		rp_filter_off "$lab" "$node" lo eth0
		[[ $mode != dsr-l2 ]] || arp_dsr "$lab" "$node" eth0
		addr_on_lo "$lab" "$node" "$VIP"
		case $mode in
		dsr-l3-dscp) nft_dscp_to_vip "$lab" "$node" "$DSCP" "$rip" "$VIP" ;;
		dsr-l3-tunnel)
			# decap "user": lab up starts lab_decap here; nothing to configure.
			[[ $(server_decap "$mode") != kernel ]] || ipip_decap_kernel "$lab" "$node" "$rip"
			;;
		esac
	done
}

cmd_up() { # NAME MODE [SERVERS] [--ha]
	local -a args=()
	while (($# > 0)); do
		case $1 in
		--ha) HA=1 ;;
		--no-sync) SYNC=0 ;;
		--bench) BENCH=1 ;;
		--kernel) KERNEL=1 ;;
		--wire) WIRE=1 ;;
		--offload) export LBLAB_OFFLOAD=1 ;;
		--algorithm)
			(($# >= 2)) || die "--algorithm needs a value (${ALGORITHMS// /, })"
			ALGORITHM=$2
			shift
			;;
		*) args+=("$1") ;;
		esac
		shift
	done
	set -- "${args[@]}"
	[[ " $ALGORITHMS " == *" $ALGORITHM "* ]] || die "unknown algorithm '$ALGORITHM' (${ALGORITHMS// /, })"
	((SYNC || HA)) || die "--no-sync needs --ha (only an HA pair syncs)"
	((KERNEL == 0 || HA == 0)) || die "--kernel and --ha do not go together"
	(($# >= 2 && $# <= 3)) || { usage >&2; exit 2; }
	local lab=$1 mode=$2 servers=${3:-3} state node role ifname bridge segment addr mac i lb
	local -a nodes bridges features=(netns veth bridge tun) cmds=(ip ethtool sysctl)
	validate_lab_name "$lab"
	if ! mode_plan "$mode"; then
		printf '%s: error: unknown mode %s\n' "$LBLAB_PROG" "'$mode'" >&2
		usage >&2
		exit 2
	fi
	[[ $servers =~ ^[1-9]$ ]] || die "SERVERS must be 1 to 9, not '$servers'"
	((WIRE == 0 || (KERNEL == 0 && HA == 0))) || die "--wire goes with neither --kernel nor --ha"
	if ((WIRE)) && [[ $mode != inline ]]; then
		die "--wire builds inline only (two TAPs to join), not $mode"
	fi
	if ((KERNEL)) && [[ $mode != inline && $mode != proxy ]]; then
		die "--kernel builds inline and proxy only (nftables DNAT, DNAT+SNAT), not $mode"
	fi
	require_root
	if ((KERNEL)); then
		cmds+=(nft)
		features+=(nftables)
	fi
	if [[ $mode == dsr-l3-dscp ]]; then
		cmds+=(nft)
		features+=(nftables)
	fi
	require_cmd "${cmds[@]}"
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	require_features "${features[@]}"

	state=$(lab_state_dir "$lab")
	read -r -a nodes <<<"sw client1 client2 router $(plan_lbs | tr '\n' ' ')"
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

	read -r -a bridges <<<"$(plan_bridges | tr '\n' ' ')"
	for bridge in "${bridges[@]}"; do
		step "creating bridge $bridge in $lab-sw"
		bridge_add "$lab" "$bridge"
	done

	while read -r node role ifname bridge segment addr mac; do
		step "plugging $node $ifname into $bridge"
		veth_plug "$lab" "$node" "$ifname" "$bridge" "$addr" "$mac"
	done < <(plan_veths "$servers")

	if ((KERNEL)); then
		while read -r name _ bridge _ addr mac; do
			step "plugging lb-a $name into $bridge (kernel load balancer)"
			veth_plug "$lab" lb-a "$name" "$bridge" "$addr" "$mac"
		done < <(all_taps)
	else
		while read -r _ ifname bridge _; do
			step "creating TAP $ifname on $bridge"
			tap_plug "$lab" "$ifname" "$bridge"
		done < <(all_taps)
	fi

	step "adding the clients' routes and the router's sysctls"
	for node in client1 client2; do
		ip -n "$lab-$node" route add default via "$ROUTER_CLI"
	done
	node_sysctl "$lab" router net.ipv4.ip_forward=1
	if ((ROUTER_ARMS == 3)); then
		rp_filter_off "$lab" router eth0 eth1 eth2
	fi
	setup_servers "$lab" "$mode" "$servers"
	if ((KERNEL)); then
		step "making lb-a the kernel's load balancer (nftables)"
		kernel_lb "$lab" "$mode" "$servers"
	fi
	if ((WIRE)); then
		step "giving the router the servers' gateway $LB_BACK (the wire joins the segments)"
		ip -n "$lab-router" addr add "$LB_BACK/24" dev eth1
	fi

	step "writing $state/topology.toml and the engine configs"
	write_topology "$lab" "$mode" "$servers"
	if ((KERNEL == 0 && WIRE == 0)); then
		for lb in $(plan_lbs); do write_engine_config "$lab" "$mode" "$servers" "$lb"; done
	fi

	UP_DONE=1
	local extra=''
	case $mode in
	proxy) extra=", PIP $PROXY_IP" ;;
	dsr-l3-dscp) extra=", DSCP $DSCP" ;;
	dsr-l3-tunnel) extra=", decap $(server_decap "$mode")" ;;
	esac
	if ((HA)); then
		extra+=", HA lb-a $LB_FRONT + lb-b $LBB_FRONT (VRRP vrid $VRRP_VRID"
		((SYNC)) || extra+=", no sync"
		extra+=")"
	fi
	[[ $ALGORITHM == rr ]] || extra+=", algorithm $ALGORITHM"
	((BENCH == 0)) || extra+=", iperf3 VIP port $BENCH_PORT"
	((KERNEL == 0)) || extra+=", lb-a is the kernel (nftables)"
	((WIRE == 0)) || extra+=", lb-a is a wire (lab_tapwire), no VIP"
	echo "lab $lab up: $mode, $(plural "$servers" server servers), ${#nodes[@]} namespaces ($lab-*), VIP $VIP$extra, state $state"
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
