#!/usr/bin/env bash
# exec.sh: run a command inside one node of a lab.
#
#   exec.sh NAME NODE CMD [ARG...]     e.g.  exec.sh lab client1 ip -br addr
#
# Runs CMD in namespace NAME-NODE (`ip netns exec`) and exits with CMD's status.
# exec.sh's own errors (no such lab or node, bad usage) exit 125, like env(1), so they
# stand apart from CMD's statuses; not root exits 4 (SKIP).
set -euo pipefail

LBLAB_PROG=exec.sh
LBLAB_DIE_STATUS=125
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if (($# < 3)); then
	echo "usage: exec.sh NAME NODE CMD [ARG...]" >&2
	exit 125
fi
lab=$1 node=$2
shift 2
validate_lab_name "$lab"
[[ $node =~ ^[A-Za-z0-9][A-Za-z0-9-]*$ ]] || die "invalid node name '$node'"
require_root
[[ -d $(lab_state_dir "$lab") ]] || die "no lab $lab (no $(lab_state_dir "$lab"))"
netns_exists "$lab-$node" || die "lab $lab has no node $node (no namespace $lab-$node)"
exec ip netns exec "$lab-$node" "$@"
