# Generates expected unified diffs from Python's difflib, the library Ansible renders --diff with.
import difflib, json, random
random.seed(7)
def ansible_diff(before, after, bh, ah):
    before_header = "before: %s" % bh if bh else "before"
    after_header = "after: %s" % ah if ah else "after"
    bl = before.splitlines(True); al = after.splitlines(True)
    if bl and not bl[-1].endswith('\n'): bl[-1] += '\n\\ No newline at end of file\n'
    if al and not al[-1].endswith('\n'): al[-1] += '\n\\ No newline at end of file\n'
    lines = list(difflib.unified_diff(bl, al, fromfile=before_header, tofile=after_header, fromfiledate='', tofiledate='', n=3))
    return ''.join(lines) + ('\n' if lines else '')
def rand_text(n, alphabet):
    lines = [random.choice(alphabet) for _ in range(n)]
    t = '\n'.join(lines)
    if random.random() < 0.8: t += '\n'
    return t
cases = []
for i in range(150):
    alphabet = ['a','b','c','d','x = 1','}','', 'line %d' % random.randint(0,5)][:random.randint(2,8)]
    n = random.choice([0,1,3,8,20,60,250])
    before = rand_text(n, alphabet)
    lines = before.splitlines(True)
    for _ in range(random.randint(0, 6)):
        op = random.random()
        pos = random.randint(0, len(lines))
        if op < 0.4: lines.insert(pos, random.choice(alphabet + ['new']) + '\n')
        elif op < 0.8 and lines: del lines[min(pos, len(lines)-1)]
        elif lines: lines[min(pos, len(lines)-1)] = 'changed\n'
    after = ''.join(lines)
    if random.random() < 0.1: after = after.rstrip('\n')
    if random.random() < 0.05: before = before.replace('\n', '\r\n')
    hdr = random.choice(['/etc/motd', '', 'dest.conf'])
    cases.append({"before": before, "after": after, "header": hdr, "expected": ansible_diff(before, after, hdr, hdr)})
json.dump(cases, open('difflib-cases.json', 'w'), indent=1)
print(len(cases), sum(1 for c in cases if c['expected']))
