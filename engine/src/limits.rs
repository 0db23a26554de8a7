//! The bounds that keep hostile input from exhausting ply. Every input is refused with a load error (file,
//! line and the limit's name) before it can make ply abort, overflow its stack or run out of memory.
//!
//! Each bound is enforced where the input is read, so the code after loading may recurse over values and
//! allocate per host without checks of its own. Each is far above what a real playbook or inventory
//! reaches; README.md's "Hostile input" lists them for users.

/// How deeply YAML collections may nest in one file (a lone `[1]` is one level). Every consumer of the
/// loaded values recurses: `Node::to_json`, dropping the tree, templating, validation, the JSON output and
/// the executor's nested blocks. Real files stay below 30 levels; 128 is also serde_json's and
/// serde_yaml's limit, so JSON inventories, `from_json` and `from_yaml` nest as deep as a YAML file may.
/// It keeps every recursion well inside a 2 MiB thread stack in a debug build.
pub const YAML_MAX_DEPTH: usize = 128;

/// How many nodes anchors and aliases may copy in one file. ply copies an aliased value where PyYAML
/// shares it, so a "billion laughs" document of a few hundred bytes (nine levels of nine aliases) would
/// need 387 million nodes, some 15 GB. A million copies is some 60 MB; real files copy a few hundred.
pub const YAML_ALIAS_MAX_NODES: usize = 1_000_000;

/// How many bytes of scalar text anchors and aliases may copy in one file: a megabyte string aliased a
/// thousand times is a small file, yet a gigabyte loaded.
pub const YAML_ALIAS_MAX_BYTES: usize = 64 << 20;

/// How many hosts one inventory host pattern (`web[1:100]`, several ranges multiplied) may expand to.
/// Each host costs about a kilobyte once its variables are assembled, so this is some 100 MB, and it is
/// ten times the largest inventories Ansible is known to run against.
pub const HOST_RANGE_MAX_HOSTS: usize = 100_000;

/// How many distinct hosts one inventory may hold: with one pattern bounded, a file of a thousand short
/// range lines could still ask for a hundred million hosts. Two patterns at the range limit, some 170 MB
/// (a host costs about 850 bytes); no controller runs a play against that many hosts.
pub const INVENTORY_MAX_HOSTS: usize = 200_000;

/// How deeply inventory groups may nest (`[a:children]` holding `b` holding `c`...). Listing and
/// variable precedence walk the group graph recursively, and a chain of 20,000 groups, a 600 KB INI file,
/// overflowed the stack. Real inventories nest groups a handful of levels deep.
pub const GROUP_MAX_DEPTH: usize = 128;

/// How deeply blocks, imports, roles and includes may nest, across files: checked when a playbook loads
/// (a chain of imports or role dependencies) and at run time, when `include_tasks`/`include_role` reads a
/// file (a file that includes itself). Ansible has no limit, and a file may include itself under a `when`
/// that ends the recursion, so recursion is allowed, but bounded: the loader and the executor recurse once
/// per level, some 20 KB of stack each in a debug build. Real playbooks nest fewer than 15 levels.
pub const TASK_MAX_DEPTH: usize = 64;

/// How many characters of a source line an error message quotes around the error's column; longer lines
/// (minified JSON, a generated one-line file) are cut with an ellipsis on each side that was cut.
pub const QUOTE_WIDTH: usize = 80;
