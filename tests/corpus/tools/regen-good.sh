#!/usr/bin/env bash
# Regenerates good/<case>/expected-*.txt with a real ansible-playbook (ansible-core 2.17 plus the
# community.postgresql and ansible.posix collections, e.g. `pip install 'ansible==10.*'`).
# Usage: ANSIBLE_PLAYBOOK=/path/to/ansible-playbook tools/regen-good.sh [case...]
# Cases holding a PLY_ONLY file use ply-native modules and are not valid Ansible: they are skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ap=${ANSIBLE_PLAYBOOK:-ansible-playbook}
py=${ANSIBLE_PYTHON:-$(dirname "$(command -v "$ap")")/python3}
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_CONFIG=/nonexistent/ansible.cfg
cd "$here/good"
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=($(ls -d */ | tr -d /))
for c in "${cases[@]}"; do
  [ -f "$c/site.yml" ] || continue
  [ -f "$c/PLY_ONLY" ] && { echo "skip $c (PLY_ONLY)"; continue; }
  ( cd "$c"
    "$ap" -i ../inventory.ini site.yml --syntax-check >/dev/null || exit 1
    "$ap" -i ../inventory.ini site.yml --list-tasks > expected-list-tasks.txt || exit 1
    "$ap" -i ../inventory.ini site.yml --list-tags > expected-list-tags.txt || exit 1
    "$ap" -i ../inventory.ini site.yml --list-hosts > expected-list-hosts.txt || exit 1
    "$py" "$here/tools/order_list_hosts.py" ../inventory.ini expected-list-hosts.txt || exit 1
  ) && echo "ok $c" || echo "FAIL $c" >&2
done
