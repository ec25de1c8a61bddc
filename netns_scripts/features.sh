#!/usr/bin/env bash
# features.sh: what this machine offers the lab, one `key=yes|no reason` line per feature:
#
#   root netns veth bridge tun nftables ipip tcpdump ethtool
#
# Kernel features are probed for real inside a throwaway namespace, which is always
# removed. Without root those probes cannot run and say so. Always exits 0: the lines
# are the answer (lab and the tests decide what a `no` means for them).
set -uo pipefail

LBLAB_PROG=features.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROBE_NS="lblab-probe-$$"
HAVE_NS=0

cleanup() {
	((HAVE_NS)) && probe_netns_del "$PROBE_NS"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# report KEY STATUS REASON
report() {
	if (($2 == 0)); then
		printf '%s=yes %s\n' "$1" "$3"
	else
		printf '%s=no %s\n' "$1" "$3"
	fi
}

# report_cmd KEY CMD
report_cmd() {
	local path
	if path=$(command -v "$2" 2>/dev/null); then
		report "$1" 0 "$path"
	else
		report "$1" 1 "command '$2' not found"
	fi
}

main() {
	local feature reason status
	if [[ $(id -u) -eq 0 ]]; then
		report root 0 "running as uid 0"
		# Mark the namespace for cleanup before it exists, like a manifest line.
		HAVE_NS=1
		reason=$(probe_netns_add "$PROBE_NS")
		status=$?
		report netns "$status" "$reason"
		for feature in veth bridge tun nftables ipip; do
			if ((status == 0)); then
				reason=$("probe_$feature" "$PROBE_NS")
				report "$feature" $? "$reason"
			else
				report "$feature" 1 "not probed: no namespace to probe in"
			fi
		done
	else
		report root 1 "running as uid $(id -u); namespaces, veths, bridges and TAPs need root"
		for feature in netns veth bridge tun nftables ipip; do
			report "$feature" 1 "not probed: needs root"
		done
	fi
	report_cmd tcpdump tcpdump
	report_cmd ethtool ethtool
}

main "$@"
