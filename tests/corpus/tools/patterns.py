#!/usr/bin/env python3
"""Regenerates inventories/patterns.txt with ansible-core's InventoryManager.

Usage: python3 tools/patterns.py  (with ansible-core 2.17 importable). Each line is evaluated on a fresh inventory. Reads the PATTERN column of the
existing patterns.txt and rewrites the host lists; `#` lines and blank lines are kept.
"""
import os
import sys
import warnings

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "inventories")
path = os.path.join(here, "patterns.txt")
out = []
for line in open(path).read().split("\n"):
    if not line.strip() or line.startswith("#"):
        out.append(line)
        continue
    pattern = line.split(" =>")[0]
    # a fresh inventory per line: the implicit localhost is cached under the first name asked for
    inv = InventoryManager(loader=DataLoader(), sources=[os.path.join(here, "patterns.ini")])
    hosts = [h.name for h in inv.get_hosts(pattern)]
    out.append(f"{pattern} => {','.join(hosts)}".rstrip())
open(path, "w").write("\n".join(out))
