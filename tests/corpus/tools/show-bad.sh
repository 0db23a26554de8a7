#!/usr/bin/env bash
# For each bad case: prints the expect-* headers, the line they point at with a caret, and what
# ansible-playbook --syntax-check says (ANSIBLE_PLAYBOOK=/path/to/ansible-playbook).
here=$(cd "$(dirname "$0")/.." && pwd)
ap=${ANSIBLE_PLAYBOOK:-ansible-playbook}
export ANSIBLE_NOCOLOR=1 ANSIBLE_CONFIG=/nonexistent/ansible.cfg
cd "$here/bad"
[ $# -eq 0 ] && set -- *
for f in "$@"; do
  [ -d "$f" ] && pb="$f/site.yml" || pb="$f"
  case "$pb" in *.yml) ;; *) continue ;; esac
  line=$(sed -n 's/^# expect-line: //p' "$pb"); col=$(sed -n 's/^# expect-column: //p' "$pb")
  file=$(sed -n 's/^# expect-file: //p' "$pb"); target=$pb; [ -n "$file" ] && target=$(dirname "$pb")/$file
  echo "=== $pb -> $target:$line:$col"; grep '^# expect-m\|^# expect-h' "$pb"
  sed -n "${line}p" "$target" | cat -A | sed 's/\$$//'
  [ -n "$col" ] && printf "%$((col))s\n" "^"
  (cd "$(dirname "$pb")" && "$ap" -i "$here/good/inventory.ini" "$(basename "$pb")" --syntax-check 2>&1 | grep -E 'ERROR|^  [a-zA-Z]|line [0-9]+, column|^playbook' | grep -v 'JSON:' | head -4 | cut -c1-220 | sed 's/^/  ansible> /')
done
