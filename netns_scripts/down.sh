#!/usr/bin/env bash
# down.sh: remove a lab, exactly what its manifest lists (docs/lab.md, "State directory").
#
#   down.sh NAME     remove lab NAME
#   down.sh --all    remove every lab that has a state dir under /run/lblab
#
# For each lab: stop every `pid` line whose /proc/PID/stat start time still matches
# (SIGTERM, SIGKILL after 2 s), delete every `netns` line (its veths, bridges and TAPs
# go with it), remove `file` and `dir` lines, then the state dir /run/lblab/NAME.
# Missing objects are fine: it is idempotent and works on a half-built lab whose builder
# was killed with SIGKILL. Nothing that no manifest lists is ever touched.
#
# Prints one line per lab removed; prints nothing if there was nothing to remove.
# Exit 0 when everything listed is gone (or nothing was there), 1 if something could not
# be removed (the state dir is then kept, so it can be run again), 2 usage, 4 not root.
set -euo pipefail

LBLAB_PROG=down.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	echo "usage: down.sh NAME | down.sh --all"
}

# down_one LAB: remove LAB; returns 1 if something it lists is still there.
down_one() { # LAB
	local lab=$1
	[[ -d $(lab_state_dir "$lab") ]] || return 0
	if lab_teardown "$lab"; then
		echo "lab $lab down: $TEARDOWN_SUMMARY"
	else
		warn "lab $lab: not everything could be removed ($TEARDOWN_SUMMARY)"
		return 1
	fi
}

main() {
	local status=0 dir lab
	case ${1-} in
	-h | --help)
		usage
		exit 0
		;;
	--all)
		(($# == 1)) || { usage >&2; exit 2; }
		require_root
		[[ -d $LBLAB_RUN_DIR ]] || exit 0
		for dir in "$LBLAB_RUN_DIR"/*/; do
			[[ -d $dir ]] || continue
			lab=$(basename "$dir")
			if [[ ! $lab =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,11}$ ]]; then
				warn "skipping $dir: '$lab' is not a lab name"
				continue
			fi
			down_one "$lab" || status=1
		done
		;;
	'' | -*)
		usage >&2
		exit 2
		;;
	*)
		(($# == 1)) || { usage >&2; exit 2; }
		validate_lab_name "$1"
		require_root
		down_one "$1" || status=1
		;;
	esac
	exit "$status"
}

main "$@"
