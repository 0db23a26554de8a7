//! Static analysis of templates, for load-time checks: which top-level variables a template reads, whether
//! each read tolerates the variable being undefined, and whether it happens every time the template is
//! evaluated.
//!
//! minijinja's `undeclared_variables(false)` gives the free names (its own scoping: `{% set %}`,
//! `{% for %}` targets, macro arguments); names that a `{% set %}` or loop assigns anywhere are dropped
//! too, since Jinja's `{% if %}` does not scope a `{% set %}` inside it. The rest is read from minijinja's
//! AST (the `unstable_machinery` feature):
//! - a use is guarded where it is the subject of a test (`x is defined`, `x.y is not none`) or of
//!   `default`/`d`/`mandatory` (`x | default(1)`, `x['k'].y | d`), the forms the run-time evaluation
//!   accepts on an undefined value (see `errors::unguarded_missing`);
//! - a use is certain unless control flow may skip it: the bodies of `{% if %}`, `{% for %}` and macros,
//!   the branches of `a if c else b`, the right side of `and`/`or`, and the arguments of filters, tests and
//!   calls (`ternary(a, b)` reads one of them; `default(b)` only when needed).

use super::{header, Templar};
use minijinja::machinery::{ast, parse, parse_expr};
use minijinja::syntax::SyntaxConfig;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// A top-level variable a template reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreeName {
    pub name: String,
    /// Some use of it is guarded, so the template is written to cope with it being undefined.
    pub guarded: bool,
    /// Some unguarded use is evaluated whenever the template is (see the module documentation).
    pub certain: bool,
    /// 1-based line and column of its first use in the source (the first certain unguarded one if any).
    pub line: usize,
    pub column: usize,
}

/// Filters that take an undefined value on purpose.
const GUARD_FILTERS: &[&str] = &["default", "d", "mandatory"];

impl Templar {
    /// The variables `source` reads (a template, or a bare expression such as `when:` when `bare`), from one
    /// parse of its AST: names it assigns anywhere are left out, but minijinja's finer scoping is not
    /// applied, so confirm a name with [`Templar::is_free`] before reporting it. That keeps the common case,
    /// where nothing is reported, at one parse per string. Sources that do not parse give nothing: their
    /// syntax error is reported elsewhere.
    pub fn variable_uses(&self, source: &str, bare: bool) -> Vec<FreeName> {
        let Some((walk, line_offset)) = walk(source, bare) else {
            return Vec::new();
        };
        let mut names: Vec<FreeName> = walk
            .uses
            .into_iter()
            .filter(|(name, _)| !walk.assigned.contains(name))
            .map(|(name, found)| FreeName {
                guarded: found.guarded,
                certain: found.certain,
                line: found.line + line_offset,
                column: found.column,
                name,
            })
            .collect();
        names.sort_by(|a, b| (a.line, a.column, &a.name).cmp(&(b.line, b.column, &b.name)));
        names
    }

    /// Whether `name` is a free variable of `source` by minijinja's own analysis
    /// (`undeclared_variables(false)`: its scoping of `{% set %}`, loop targets and macro arguments).
    pub fn is_free(&self, source: &str, bare: bool, name: &str) -> bool {
        self.undeclared(source, bare)
            .is_some_and(|free| free.contains(name))
    }

    /// [`Templar::variable_uses`] narrowed to the names minijinja also finds free.
    pub fn free_names(&self, source: &str, bare: bool) -> Vec<FreeName> {
        let Some(free) = self.undeclared(source, bare) else {
            return Vec::new();
        };
        let mut names = self.variable_uses(source, bare);
        names.retain(|n| free.contains(&n.name));
        names
    }

    /// The names the template environment itself provides (`range`, `lookup`, `omit`, ...).
    pub fn global_names(&self) -> Vec<String> {
        self.core
            .env
            .globals()
            .map(|(name, _)| name.to_string())
            .collect()
    }

    fn undeclared(&self, source: &str, bare: bool) -> Option<HashSet<String>> {
        if bare {
            let compiled = self.core.env.compile_expression(source).ok()?;
            return Some(compiled.undeclared_variables(false));
        }
        let (overrides, body) = header::parse(source).ok()?;
        if overrides.is_default() {
            let compiled = self.core.env.template_from_str(body).ok()?;
            Some(compiled.undeclared_variables(false))
        } else {
            let env = self.header_env(&overrides).ok()?;
            let compiled = env.template_from_str(body).ok()?;
            Some(compiled.undeclared_variables(false))
        }
    }
}

/// The uses of every variable in `source`, and how many lines a `#jinja2:` header took off it.
fn walk(source: &str, bare: bool) -> Option<(Walk, usize)> {
    static DEFAULT_SYNTAX: OnceLock<Option<SyntaxConfig>> = OnceLock::new();
    let mut walk = Walk::default();
    if bare {
        walk.expr(&parse_expr(source).ok()?, false, false);
        return Some((walk, 0));
    }
    let (overrides, body) = header::parse(source).ok()?;
    let syntax = if overrides.is_default() {
        DEFAULT_SYNTAX
            .get_or_init(|| super::env::syntax_config(&overrides).ok())
            .clone()?
    } else {
        super::env::syntax_config(&overrides).ok()?
    };
    walk.stmt(&parse(body, "<template>", syntax).ok()?, false);
    let line_offset = source[..source.len() - body.len()].matches('\n').count();
    Some((walk, line_offset))
}

/// What the uses of one name add up to.
#[derive(Debug)]
struct Uses {
    guarded: bool,
    certain: bool,
    line: usize,
    column: usize,
}

/// The walk over a template's AST: every use of each variable, and every name the template assigns.
#[derive(Debug, Default)]
struct Walk {
    uses: HashMap<String, Uses>,
    assigned: HashSet<String>,
}

impl Walk {
    fn record(&mut self, var: &ast::Spanned<ast::Var<'_>>, guarded: bool, maybe: bool) {
        let span = var.span();
        let (line, column) = (
            usize::from(span.start_line),
            usize::from(span.start_col) + 1,
        );
        let entry = self.uses.entry(var.id.to_string()).or_insert(Uses {
            guarded: false,
            certain: false,
            line,
            column,
        });
        if guarded {
            entry.guarded = true;
        } else if !maybe && !entry.certain {
            // Point at the first use that would fail, not at an earlier guarded or skippable one.
            entry.certain = true;
            (entry.line, entry.column) = (line, column);
        }
    }

    fn assign(&mut self, target: &ast::Expr<'_>) {
        match target {
            ast::Expr::Var(var) => {
                self.assigned.insert(var.id.to_string());
            }
            ast::Expr::List(list) => list.items.iter().for_each(|t| self.assign(t)),
            ast::Expr::Tuple(tuple) => tuple.items.iter().for_each(|t| self.assign(t)),
            // `{% set ns.x = 1 %}` reads `ns`.
            other => self.expr(other, false, false),
        }
    }

    /// `guarded`: the value of `expr` may be undefined without an error (it is the subject of a test or of
    /// `default`); attribute and item lookups pass that on to the object they read from, as chained
    /// undefined values do at run time. `maybe`: the expression is not always evaluated.
    fn expr(&mut self, expr: &ast::Expr<'_>, guarded: bool, maybe: bool) {
        use ast::Expr;
        match expr {
            Expr::Var(var) => self.record(var, guarded, maybe),
            Expr::Const(_) => {}
            Expr::GetAttr(e) => self.expr(&e.expr, guarded, maybe),
            Expr::GetItem(e) => {
                self.expr(&e.expr, guarded, maybe);
                self.expr(&e.subscript_expr, false, maybe);
            }
            Expr::Test(e) => {
                self.expr(&e.expr, true, maybe);
                self.args(&e.args);
            }
            Expr::Filter(e) => {
                if let Some(inner) = &e.expr {
                    self.expr(inner, GUARD_FILTERS.contains(&e.name), maybe);
                }
                self.args(&e.args);
            }
            Expr::Slice(e) => {
                self.expr(&e.expr, false, maybe);
                for part in [&e.start, &e.stop, &e.step].into_iter().flatten() {
                    self.expr(part, false, maybe);
                }
            }
            Expr::UnaryOp(e) => self.expr(&e.expr, false, maybe),
            Expr::BinOp(e) => {
                let short_circuit = matches!(e.op, ast::BinOpKind::ScAnd | ast::BinOpKind::ScOr);
                self.expr(&e.left, false, maybe);
                self.expr(&e.right, false, maybe || short_circuit);
            }
            Expr::Compare(e) => {
                self.expr(&e.expr, false, maybe);
                for op in &e.ops {
                    self.expr(&op.expr, false, maybe);
                }
            }
            Expr::IfExpr(e) => {
                self.expr(&e.test_expr, false, maybe);
                self.expr(&e.true_expr, false, true);
                if let Some(other) = &e.false_expr {
                    self.expr(other, false, true);
                }
            }
            Expr::Call(e) => {
                self.expr(&e.expr, false, maybe);
                self.args(&e.args);
            }
            Expr::List(e) => e.items.iter().for_each(|i| self.expr(i, false, maybe)),
            Expr::Tuple(e) => e.items.iter().for_each(|i| self.expr(i, false, maybe)),
            Expr::Map(e) => {
                for item in e.keys.iter().chain(&e.values) {
                    self.expr(item, false, maybe);
                }
            }
        }
    }

    fn args(&mut self, args: &[ast::CallArg<'_>]) {
        for arg in args {
            match arg {
                ast::CallArg::Pos(e)
                | ast::CallArg::Kwarg(_, e)
                | ast::CallArg::PosSplat(e)
                | ast::CallArg::KwargSplat(e) => self.expr(e, false, true),
            }
        }
    }

    fn body(&mut self, body: &[ast::Stmt<'_>], maybe: bool) {
        body.iter().for_each(|s| self.stmt(s, maybe));
    }

    /// Every expression a statement reads, and the names it assigns.
    fn stmt(&mut self, stmt: &ast::Stmt<'_>, maybe: bool) {
        use ast::Stmt;
        match stmt {
            Stmt::Template(s) => self.body(&s.children, maybe),
            Stmt::EmitExpr(s) => self.expr(&s.expr, false, maybe),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(s) => {
                self.expr(&s.iter, false, maybe);
                self.assign(&s.target);
                if let Some(filter) = &s.filter_expr {
                    self.expr(filter, false, true);
                }
                self.body(&s.body, true);
                self.body(&s.else_body, true);
            }
            Stmt::IfCond(s) => {
                self.expr(&s.expr, false, maybe);
                self.body(&s.true_body, true);
                self.body(&s.false_body, true);
            }
            Stmt::WithBlock(s) => {
                for (target, value) in &s.assignments {
                    self.expr(value, false, maybe);
                    self.assign(target);
                }
                self.body(&s.body, maybe);
            }
            Stmt::Set(s) => {
                self.expr(&s.expr, false, maybe);
                self.assign(&s.target);
            }
            Stmt::SetBlock(s) => {
                self.assign(&s.target);
                if let Some(filter) = &s.filter {
                    self.expr(filter, false, maybe);
                }
                self.body(&s.body, maybe);
            }
            Stmt::AutoEscape(s) => {
                self.expr(&s.enabled, false, maybe);
                self.body(&s.body, maybe);
            }
            Stmt::FilterBlock(s) => {
                self.expr(&s.filter, false, maybe);
                self.body(&s.body, maybe);
            }
            Stmt::Block(s) => self.body(&s.body, maybe),
            Stmt::Import(s) => {
                self.expr(&s.expr, false, maybe);
                self.assign(&s.name);
            }
            Stmt::FromImport(s) => {
                self.expr(&s.expr, false, maybe);
                for (name, alias) in &s.names {
                    self.assign(alias.as_ref().unwrap_or(name));
                }
            }
            Stmt::Extends(s) => self.expr(&s.name, false, maybe),
            Stmt::Include(s) => self.expr(&s.name, false, maybe),
            Stmt::Macro(s) => {
                self.assigned.insert(s.name.to_string());
                self.macro_decl(s);
            }
            Stmt::CallBlock(s) => {
                self.expr(&s.call.expr, false, maybe);
                self.args(&s.call.args);
                self.macro_decl(&s.macro_decl);
            }
            Stmt::Do(s) => {
                self.expr(&s.call.expr, false, maybe);
                self.args(&s.call.args);
            }
        }
    }

    /// A macro's body runs only when it is called, with its arguments bound.
    fn macro_decl(&mut self, m: &ast::Macro<'_>) {
        m.defaults.iter().for_each(|d| self.expr(d, false, true));
        self.body(&m.body, true);
    }
}

/// Variables a template file rendered by the template module has besides the task's (Ansible's
/// `generate_ansible_template_vars`).
pub const TEMPLATE_MODULE_VARS: &[&str] = &[
    "template_host",
    "template_path",
    "template_fullpath",
    "template_mtime",
    "template_uid",
    "template_run_date",
    "template_destpath",
    "ansible_managed",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::TemplarOptions;

    fn names(source: &str, bare: bool) -> Vec<(String, bool, bool, usize, usize)> {
        Templar::new(TemplarOptions::default())
            .free_names(source, bare)
            .into_iter()
            .map(|n| (n.name, n.guarded, n.certain, n.line, n.column))
            .collect()
    }

    /// The names whose undefinedness would surely fail the template.
    fn failing(source: &str, bare: bool) -> Vec<String> {
        names(source, bare)
            .into_iter()
            .filter(|(_, guarded, certain, ..)| !guarded && *certain)
            .map(|(name, ..)| name)
            .collect()
    }

    #[test]
    fn finds_free_names_and_their_first_use() {
        assert_eq!(
            names("a {{ x }} {{ y.z }}\n{{ x }}", false),
            [
                ("x".to_string(), false, true, 1, 6),
                ("y".to_string(), false, true, 1, 14)
            ]
        );
        assert_eq!(
            names("pg_port | int > 1", true),
            [("pg_port".to_string(), false, true, 1, 1)]
        );
    }

    #[test]
    fn jinja_locals_are_not_free() {
        let cases = [
            "{% set a = 1 %}{{ a }}",
            "{% if c is defined %}{% set a = 1 %}{% else %}{% set a = 2 %}{% endif %}{{ a }}",
            "{% for k, v in {}.items() %}{{ k }}{{ v }}{{ loop.index }}{% endfor %}",
            "{% macro m(p, q=2) %}{{ p }}{{ q }}{% endmacro %}{{ m(1) }}",
            "{{ [1, 2] | map('string') | join(',') }}",
            "{{ true and false or none }}{{ True }}",
            "{% raw %}{{ not_a_var }}{% endraw %}",
            "{# {{ commented }} #}",
        ];
        for source in cases {
            assert_eq!(failing(source, false), Vec::<String>::new(), "{source}");
        }
        // Globals are free names; telling them from variables is the caller's business.
        assert_eq!(
            failing(
                "{% set ns = namespace(n=0) %}{% set ns.n = 1 %}{{ ns.n }}",
                false
            ),
            ["namespace"]
        );
    }

    #[test]
    fn tests_and_default_guard_a_name_and_its_attributes() {
        let guarded = [
            "x is defined",
            "x is not defined and y",
            "x.y.z is defined",
            "x['k'].y is undefined",
            "x is none",
            "(x | default({})).y",
            "x.y | d('z')",
            "x | mandatory",
        ];
        for source in guarded {
            let found = names(source, true);
            assert!(
                found.iter().any(|(n, g, ..)| n == "x" && *g),
                "{source}: {found:?}"
            );
        }
        // Only what the guard applies to: the subscript is read for real.
        assert_eq!(failing("x[k] is defined", true), ["k"]);
        assert_eq!(failing("x | string | default('')", true), ["x"]);
        assert_eq!(
            failing("{% if x is defined %}{{ x }}{% endif %}{{ y }}", false),
            ["y"]
        );
    }

    #[test]
    fn uses_that_control_flow_may_skip_are_not_certain() {
        let skippable = [
            "{% if c %}{{ x }}{% endif %}",
            "{% if c %}{% else %}{{ x }}{% endif %}",
            "{% for i in c %}{{ x }}{% endfor %}",
            "{% macro m() %}{{ x }}{% endmacro %}{{ c }}",
            "{{ x if c else 1 }}",
            "{{ 1 if c else x }}",
            "{{ c and x }}",
            "{{ c or x }}",
            "{{ c | ternary(x, 1) }}",
            "{{ c | replace(x, y) }}",
            "{{ c(x) }}",
        ];
        for source in skippable {
            assert_eq!(failing(source, false), ["c"], "{source}");
        }
        assert_eq!(failing("{% if c %}1{% endif %}{{ x }}", false), ["c", "x"]);
    }

    #[test]
    fn a_jinja2_header_keeps_line_numbers() {
        let source =
            "#jinja2: variable_start_string: '[%', variable_end_string: '%]'\nport [% pg_port %]\n";
        assert_eq!(
            names(source, false),
            [("pg_port".to_string(), false, true, 2, 9)]
        );
    }

    #[test]
    fn broken_templates_give_nothing() {
        assert!(names("{{ x", false).is_empty());
        assert!(names("x ==", true).is_empty());
    }
}
