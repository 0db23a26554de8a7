#!/usr/bin/env python3
"""Rewrites an `ansible-playbook --list-hosts` output so each play's hosts are in inventory order.

ansible-playbook (cli/playbook.py) puts the play's hosts in a Python set before printing them, so
their order changes from run to run (string hashing is randomised). The corpus stores the order
InventoryManager.get_hosts(pattern) returns, which is what a deterministic engine should print.
Usage: order_list_hosts.py INVENTORY FILE  (FILE is rewritten in place)
"""
import ast
import sys

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

inv = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
lines = open(sys.argv[2]).read().split("\n")
out = []
i = 0
pattern = None
while i < len(lines):
    line = lines[i]
    if line.startswith("    pattern: "):
        pattern = ast.literal_eval(line[len("    pattern: "):])
    out.append(line)
    i += 1
    if line.startswith("    hosts (") and pattern is not None:
        block = []
        while i < len(lines) and lines[i].startswith("      "):
            block.append(lines[i].strip())
            i += 1
        order = [h.name for h in inv.get_hosts(pattern)]
        block.sort(key=lambda h: order.index(h) if h in order else len(order))
        out.extend("      " + h for h in block)
open(sys.argv[2], "w").write("\n".join(out))
