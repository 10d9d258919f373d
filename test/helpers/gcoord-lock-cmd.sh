#!/bin/sh
# The CMD of `hfs-config lock` in the GlusterFS coordination tests: records its pid
# (so the test can kill it by pid whatever happens), logs entering and leaving the
# critical section with the fencing token into a LOCAL file (appends: O_APPEND),
# sleeps a little in between, exits with CODE.
# Usage: gcoord-lock-cmd.sh LOGFILE NODE CODE PIDFILE
log=$1 node=$2 code=$3 pids=$4
echo "$$" >>"$pids"
echo "enter $HFS_FENCING_TOKEN $node $HFS_LOCK_NAME" >>"$log"
sleep 0.05
echo "exit $HFS_FENCING_TOKEN $node" >>"$log"
exit "$code"
