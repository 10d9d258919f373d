#!/bin/sh
# The CMD of `hfs-config lock` in tests: logs entering and leaving the critical
# section with the fencing token, sleeps a little in between, exits with CODE.
# Usage: coord-lock-cmd.sh LOGFILE NODE CODE
log=$1 node=$2 code=$3
echo "enter $HFS_FENCING_TOKEN $node $HFS_LOCK_NAME" >>"$log"
sleep 0.05
echo "exit $HFS_FENCING_TOKEN $node" >>"$log"
exit "$code"
