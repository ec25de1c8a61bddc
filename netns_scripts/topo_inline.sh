#!/usr/bin/env bash
# topo_inline.sh: the inline (two-arm) lab; kept for callers that predate topo.sh.
#
#   topo_inline.sh up NAME [SERVERS]   the same as topo.sh up NAME inline [SERVERS]
#   topo_inline.sh down NAME           the same as down.sh NAME
#
# The topology, its drawing and everything it writes are topo.sh's (mode inline).
set -euo pipefail

here=$(dirname "${BASH_SOURCE[0]}")

usage() {
	cat <<USAGE
usage: topo_inline.sh up NAME [SERVERS]   build the inline lab NAME (SERVERS 1..9, default 3)
       topo_inline.sh down NAME           remove lab NAME (same as down.sh NAME)
USAGE
}

case ${1-} in
up)
	shift
	(($# >= 1 && $# <= 2)) || { usage >&2; exit 2; }
	lab=$1
	shift
	LBLAB_PROG=topo_inline.sh exec bash "$here/topo.sh" up "$lab" inline "$@"
	;;
down)
	shift
	exec bash "$here/down.sh" "$@"
	;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
