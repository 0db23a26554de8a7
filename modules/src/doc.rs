//! Module documentation for `ply doc`, generated from the same specs that validate arguments.

use crate::args::{ArgDefault, ArgSpec, Rules, UnknownArgs};
use std::fmt::Write;

/// How far a module supports check or diff mode (Ansible's `attributes.check_mode.support`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Full,
    /// Supported with a limit, which the text explains.
    Partial(&'static str),
    None,
    /// Nothing to predict: the module does not touch the host.
    NotApplicable,
}

/// One value a module returns.
#[derive(Clone, Copy, Debug)]
pub struct ReturnDoc {
    pub name: &'static str,
    pub kind: &'static str,
    /// When it is returned (`always`, `success`, ...).
    pub returned: &'static str,
    pub description: &'static str,
}

impl ReturnDoc {
    pub const fn new(
        name: &'static str,
        kind: &'static str,
        returned: &'static str,
        description: &'static str,
    ) -> Self {
        ReturnDoc {
            name,
            kind,
            returned,
            description,
        }
    }
}

/// Everything about a module's interface: its arguments (which validation enforces), what it returns, and
/// how it behaves in check and diff mode.
#[derive(Debug)]
pub struct ModuleDoc {
    pub name: &'static str,
    pub short_description: &'static str,
    pub description: &'static str,
    /// Describes `_raw_params` when the module takes a free-form string (`command: ls -l`).
    pub free_form: Option<&'static str>,
    pub args: &'static [ArgSpec],
    pub unknown_args: UnknownArgs,
    pub mutually_exclusive: &'static [&'static [&'static str]],
    pub required_one_of: &'static [&'static [&'static str]],
    pub check_mode: Support,
    pub diff_mode: Support,
    pub returns: &'static [ReturnDoc],
    pub notes: &'static [&'static str],
    pub example: &'static str,
}

impl ModuleDoc {
    pub fn rules(&self) -> Rules<'_> {
        Rules {
            module: self.name,
            args: self.args,
            unknown: self.unknown_args,
            mutually_exclusive: self.mutually_exclusive,
            required_one_of: self.required_one_of,
        }
    }
}

fn wrap(out: &mut String, indent: &str, text: &str) {
    const WIDTH: usize = 100;
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
                let _ = writeln!(out, "{indent}{line}");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        let _ = writeln!(out, "{indent}{line}");
    }
}

fn support_text(support: Support) -> String {
    match support {
        Support::Full => "full".into(),
        Support::Partial(how) => format!("partial: {how}"),
        Support::None => "none".into(),
        Support::NotApplicable => "n/a (does not change the host)".into(),
    }
}

/// The page `ply doc MODULE` prints.
pub fn render_doc(doc: &ModuleDoc) -> String {
    let mut out = String::new();
    let collections = crate::registry::REGISTRY
        .iter()
        .find(|m| m.name == doc.name)
        .map(|m| m.collections)
        .unwrap_or(&[]);
    let qualified = collections
        .first()
        .map(|c| format!("  ({c}.{})", doc.name))
        .unwrap_or_default();
    let _ = writeln!(out, "> {}{qualified}\n", doc.name.to_uppercase());
    wrap(&mut out, "  ", doc.description);

    out.push_str("\nARGUMENTS (= is required):\n\n");
    let mut args: Vec<&ArgSpec> = doc.args.iter().collect();
    // Ansible lists the free form first and the rest by name.
    args.sort_by_key(|a| (a.name != "_raw_params", a.name));
    for arg in args {
        let shown = if arg.name == "_raw_params" {
            "free_form"
        } else {
            arg.name
        };
        let marker = if arg.required { '=' } else { '-' };
        let _ = writeln!(out, "{marker} {shown}");
        let description = match (arg.name, doc.free_form) {
            ("_raw_params", Some(text)) => text,
            _ => arg.description,
        };
        wrap(&mut out, "        ", description);
        let kind = match arg.elements {
            Some(elements) => format!("{} of {}", arg.kind.name(), elements.name()),
            None => arg.kind.name().to_string(),
        };
        let _ = writeln!(out, "        type: {kind}");
        if !arg.aliases.is_empty() {
            let _ = writeln!(out, "        aliases: {}", arg.aliases.join(", "));
        }
        match arg.default {
            ArgDefault::None => {}
            ArgDefault::Str(s) => {
                let _ = writeln!(out, "        default: {s:?}");
            }
            ArgDefault::Bool(b) => {
                let _ = writeln!(out, "        default: {b}");
            }
            ArgDefault::Int(i) => {
                let _ = writeln!(out, "        default: {i}");
            }
        }
        if !arg.choices.is_empty() {
            let _ = writeln!(out, "        choices: {}", arg.choices.join(", "));
        }
        out.push('\n');
    }
    if doc.args.is_empty() {
        out.push_str("  Any `key: value` pairs.\n\n");
    }
    for group in doc.mutually_exclusive {
        let _ = writeln!(out, "  Mutually exclusive: {}", group.join(", "));
    }
    for group in doc.required_one_of {
        let _ = writeln!(out, "  One of these is required: {}", group.join(", "));
    }
    if !doc.mutually_exclusive.is_empty() || !doc.required_one_of.is_empty() {
        out.push('\n');
    }

    wrap(
        &mut out,
        "",
        &format!("CHECK MODE: {}", support_text(doc.check_mode)),
    );
    wrap(
        &mut out,
        "",
        &format!("DIFF MODE: {}", support_text(doc.diff_mode)),
    );

    if !doc.notes.is_empty() {
        out.push_str("\nNOTES:\n");
        for note in doc.notes {
            let mut text = String::new();
            wrap(&mut text, "      ", note);
            let _ = write!(out, "    * {}", text.trim_start());
        }
    }

    if !doc.returns.is_empty() {
        out.push_str("\nRETURN VALUES:\n\n");
        for ret in doc.returns {
            let _ = writeln!(out, "- {}", ret.name);
            wrap(&mut out, "        ", ret.description);
            let _ = writeln!(out, "        returned: {}", ret.returned);
            let _ = writeln!(out, "        type: {}\n", ret.kind);
        }
    }

    out.push_str("EXAMPLES:\n\n");
    for line in doc.example.trim_end().lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// The list `ply doc` prints: every module ply knows, with what it does.
pub fn render_list() -> String {
    let width = crate::registry::REGISTRY
        .iter()
        .map(|m| m.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for spec in crate::registry::REGISTRY {
        let text = match crate::driver::doc(spec.name) {
            Some(doc) => doc.short_description,
            None => crate::registry::engine_keyword(spec.name)
                .map(|(line, _)| line)
                .unwrap_or_else(|| crate::registry::unavailable_reason(spec.name)),
        };
        let _ = writeln!(out, "{:width$}  {text}", spec.name);
    }
    out
}
