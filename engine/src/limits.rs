//! The bounds that keep hostile input from exhausting ply. Every input is refused with a load error (file,
//! line and the limit's name) before it can make ply abort, overflow its stack or run out of memory.
//!
//! Each bound is enforced where the input is read, so the code after loading may recurse over values and
//! allocate per host without checks of its own. Each is far above what a real playbook or inventory
//! reaches; README.md's "Hostile input" lists them for users.

/// How many characters of a source line an error message quotes around the error's column; longer lines
/// (minified JSON, a generated one-line file) are cut with an ellipsis on each side that was cut.
pub const QUOTE_WIDTH: usize = 80;
