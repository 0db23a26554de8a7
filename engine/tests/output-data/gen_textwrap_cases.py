# Generates the expected `[WARNING]: ...` text for warnings, from Python's textwrap as Ansible's Display.warning uses it.
import json, random, textwrap
random.seed(11)
words = ["the", "host", "pattern", "ansible-playbook", "well-known", "x86-64", "a", "--check", "file:/etc/hosts",
         "Could", "not", "match", "supplied", "co-operate", "re-run", "e-mail", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbb",
         "/very/long/path/" + "segment/" * 12, "'quoted'", "end.", "tab\there", "new\nline", "  spaced  "]
cases = []
for i in range(200):
    msg = " ".join(random.choice(words) for _ in range(random.randint(1, 40)))
    new_msg = "[WARNING]: %s" % msg
    cases.append({"message": msg, "expected": "\n".join(textwrap.wrap(new_msg, 79)) + "\n"})
json.dump(cases, open("textwrap-cases.json", "w"), indent=1)
