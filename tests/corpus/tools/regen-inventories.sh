#!/usr/bin/env bash
# Regenerates inventories/**/<name>.list.json and <name>.graph.txt with a real ansible-inventory
# (ansible-core 2.17), and patterns.txt with tools/patterns.py.
# Usage: ANSIBLE_INVENTORY_BIN=/path/to/ansible-inventory tools/regen-inventories.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ai=${ANSIBLE_INVENTORY_BIN:-ansible-inventory}
py=${ANSIBLE_PYTHON:-$(dirname "$(command -v "$ai")")/python3}
export ANSIBLE_NOCOLOR=1 ANSIBLE_CONFIG=/nonexistent/ansible.cfg
cd "$here/inventories"
for f in *.ini *.yml */*.ini */*.yml; do
  [ -f "$f" ] || continue
  b=${f%.*}
  "$ai" -i "$f" --list > "$b.list.json"
  "$ai" -i "$f" --graph > "$b.graph.txt"
  echo "ok $f"
done
"$py" "$here/tools/patterns.py"
