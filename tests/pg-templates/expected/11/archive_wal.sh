#!/bin/sh
# Managed by ply (postgresql_replication); local edits are overwritten
# archive_command for PostgreSQL 11 cluster "main":
#   archive_command = '/usr/local/bin/ply-pg-archive-wal "%p" "%f"'
# Ships one WAL file to /var/lib/postgresql/wal_archive on every archive host over ssh (as postgres).
# On each host the file is written to a temporary name, synced, then hard-linked to its final name:
# the link fails if the name exists, so a file is never overwritten and never seen half written.
# A file that is already archived with identical content counts as success (a retry after a crash
# between copy and PostgreSQL's bookkeeping); different content is an error.
# Exit 0 only when every host holds the file. Failures exit 1-3, never >125 (PostgreSQL would
# restart the archiver), so ssh's 255 is mapped to 1.
set -u

hosts='10.0.0.12'
dir='/var/lib/postgresql/wal_archive'

if [ $# -ne 2 ]; then
    echo "usage: $0 WAL_PATH WAL_NAME" >&2
    exit 2
fi
src=$1
name=$2
# WAL, history, backup and partial file names only; this keeps the remote command free of quoting.
case $name in
    '' | .* | *[!0-9A-Za-z._-]*)
        echo "$0: refusing WAL file name '$name'" >&2
        exit 2
        ;;
esac
if [ ! -f "$src" ]; then
    echo "$0: $src does not exist" >&2
    exit 2
fi
if [ -z "$hosts" ]; then
    # never report success without a copy: PostgreSQL would recycle the segment
    echo "$0: no archive host configured" >&2
    exit 1
fi
sum=$(sha256sum < "$src" | cut -d' ' -f1) || exit 1

rc=0
for host in $hosts; do
    ssh -F /var/lib/postgresql/.ssh/config -o BatchMode=yes "$host" "umask 077
f=$dir/$name
t=$dir/.$name.tmp.\$\$
if test -f \"\$f\"; then
    test \"\$(sha256sum < \"\$f\" | cut -d' ' -f1)\" = $sum && exit 0
    echo \"\$f already archived with different content\" >&2
    exit 3
fi
trap 'rm -f \"\$t\"' EXIT
cat > \"\$t\" && sync \"\$t\" && ln \"\$t\" \"\$f\" && sync \"$dir\" || exit 1" < "$src"
    status=$?
    if [ "$status" -ne 0 ]; then
        echo "$0: archiving $name to $host:$dir failed (exit $status)" >&2
        if [ "$status" -gt 3 ]; then
            status=1
        fi
        rc=$status
    fi
done
exit $rc
