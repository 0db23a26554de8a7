//! Splits query text into the statements psql sends one by one, with the rules of psql's own lexer
//! (`psqlscan.l`): `;` ends a statement only outside literals, comments, parentheses and the
//! `BEGIN ... END` body of a `CREATE FUNCTION`/`PROCEDURE`; a backslash outside literals starts a psql
//! meta-command. Each statement keeps its unquoted words, so check mode can tell what a statement is
//! without being fooled by comments, line breaks or keywords inside strings.

/// One unquoted word (keyword or identifier), upper-cased, at its parenthesis depth. A string literal
/// is the word `'`, so that `COPY t TO '/file'` can be told from `COPY t TO STDOUT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub depth: u32,
}

/// One statement, without the `;` that ended it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    pub text: String,
    pub words: Vec<Word>,
    /// A backslash outside literals and comments: psql would run a meta-command (`\!`, `\o`, `\copy`,
    /// `\gexec`, ...) rather than send SQL.
    pub meta: bool,
}

impl Piece {
    /// The first keyword, upper-cased (empty for none).
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// The word after the first.
    pub fn second(&self) -> &str {
        self.words.get(1).map_or("", |w| w.text.as_str())
    }
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn ident_cont(c: u8) -> bool {
    ident_start(c) || c.is_ascii_digit() || c == b'$'
}

/// The end of the literal or comment starting at `at`, or `None` when `at` starts none.
fn skip_quoted(b: &[u8], at: usize, prev_ident: bool) -> Option<usize> {
    let rest = &b[at..];
    if rest.starts_with(b"--") {
        return Some(
            rest.iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| at + n + 1),
        );
    }
    if rest.starts_with(b"/*") {
        // Nested, as PostgreSQL's are.
        let mut depth = 0;
        let mut i = at;
        while i < b.len() {
            if b[i..].starts_with(b"/*") {
                depth += 1;
                i += 2;
            } else if b[i..].starts_with(b"*/") {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            } else {
                i += 1;
            }
        }
        return Some(b.len());
    }
    match rest.first() {
        Some(b'\'') => Some(end_of_quoted(b, at + 1, b'\'', false)),
        Some(b'"') => Some(end_of_quoted(b, at + 1, b'"', false)),
        Some(b'$') if !prev_ident => {
            // `$tag$ ... $tag$`; `$1` is a parameter, and a lone `$` is just a character.
            let tag_end = rest[1..]
                .iter()
                .enumerate()
                .find(|&(i, &c)| {
                    !(if i == 0 {
                        ident_start(c)
                    } else {
                        ident_cont(c) && c != b'$'
                    })
                })
                .map(|(i, _)| i + 1)?;
            if rest.get(tag_end) != Some(&b'$') {
                return None;
            }
            let tag = &rest[..=tag_end];
            let body = at + tag.len();
            Some(
                b[body..]
                    .windows(tag.len())
                    .position(|w| w == tag)
                    .map_or(b.len(), |n| body + n + tag.len()),
            )
        }
        _ => None,
    }
}

/// The position after the closing `quote` of a literal whose body starts at `at`; a doubled quote is
/// part of the literal, and so is a backslash-escaped one when `backslash` (E'...' strings).
fn end_of_quoted(b: &[u8], mut at: usize, quote: u8, backslash: bool) -> usize {
    while at < b.len() {
        match b[at] {
            b'\\' if backslash => at += 2,
            c if c == quote => {
                if b.get(at + 1) == Some(&quote) {
                    at += 2;
                } else {
                    return at + 1;
                }
            }
            _ => at += 1,
        }
    }
    b.len()
}

/// The statements of `sql`, in order. Pieces holding nothing but blanks and comments are dropped.
pub fn split(sql: &str) -> Vec<Piece> {
    let b = sql.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut words: Vec<Word> = Vec::new();
    let mut meta = false;
    let mut depth: u32 = 0;
    // psql's heuristic for SQL-standard function bodies: the first letters of the statement's leading
    // words when they are create/or/replace/function/procedure, and the BEGIN ... END depth.
    let mut leading = [0u8; 4];
    let mut ident_count = 0usize;
    let mut begin_depth: u32 = 0;
    let mut i = 0;
    let mut prev_ident = false;
    let mut finish = |from: usize, to: usize, words: &mut Vec<Word>, meta: &mut bool| {
        if !words.is_empty() || *meta {
            pieces.push(Piece {
                text: sql[from..to].trim().to_string(),
                words: std::mem::take(words),
                meta: std::mem::take(meta),
            });
        }
        words.clear();
    };
    while i < b.len() {
        let c = b[i];
        if ident_start(c) && !prev_ident {
            let end = b[i..]
                .iter()
                .position(|&c| !ident_cont(c))
                .map_or(b.len(), |n| i + n);
            let word = &sql[i..end];
            // E'...': backslash escapes (flex takes the longest match, so only a lone e/E starts one).
            if word.eq_ignore_ascii_case("e") && b.get(end) == Some(&b'\'') {
                words.push(Word {
                    text: "'".into(),
                    depth,
                });
                i = end_of_quoted(b, end + 1, b'\'', true);
                prev_ident = false;
                continue;
            }
            let lower = word.to_ascii_lowercase();
            if ident_count < leading.len() {
                if matches!(
                    lower.as_str(),
                    "create" | "function" | "procedure" | "or" | "replace"
                ) {
                    leading[ident_count] = lower.as_bytes()[0];
                } else {
                    leading[ident_count] = 0;
                }
            }
            ident_count += 1;
            let routine = leading[0] == b'c'
                && (leading[1] == b'f'
                    || leading[1] == b'p'
                    || (leading[1] == b'o'
                        && leading[2] == b'r'
                        && (leading[3] == b'f' || leading[3] == b'p')));
            if routine && depth == 0 {
                match lower.as_str() {
                    "begin" => begin_depth += 1,
                    "case" if begin_depth >= 1 => begin_depth += 1,
                    "end" => begin_depth = begin_depth.saturating_sub(1),
                    _ => {}
                }
            }
            words.push(Word {
                text: word.to_ascii_uppercase(),
                depth,
            });
            i = end;
            prev_ident = true;
            continue;
        }
        if let Some(end) = skip_quoted(b, i, prev_ident) {
            if matches!(c, b'\'' | b'$') {
                words.push(Word {
                    text: "'".into(),
                    depth,
                });
            } else if c == b'"' {
                words.push(Word {
                    text: "\"".into(),
                    depth,
                });
            }
            i = end;
            prev_ident = false;
            continue;
        }
        prev_ident = ident_cont(c) && prev_ident;
        match c {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'\\' => meta = true,
            b';' if depth == 0 && begin_depth == 0 => {
                finish(start, i, &mut words, &mut meta);
                start = i + 1;
                leading = [0; 4];
                ident_count = 0;
            }
            _ => {}
        }
        i += 1;
    }
    finish(start, b.len(), &mut words, &mut meta);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        split(sql).into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn splits_where_psql_does() {
        assert_eq!(texts("SELECT 1"), ["SELECT 1"]);
        assert_eq!(texts("SELECT 1;"), ["SELECT 1"]);
        assert_eq!(
            texts("INSERT INTO t VALUES (1); SELECT 2 ;\n"),
            ["INSERT INTO t VALUES (1)", "SELECT 2"]
        );
        assert_eq!(
            texts("SELECT ';' -- ; \n, 1 /* ; /* ; */ ; */"),
            ["SELECT ';' -- ; \n, 1 /* ; /* ; */ ; */"]
        );
        assert_eq!(
            texts("SELECT $$;$$, $x$ $$ ; $x$"),
            ["SELECT $$;$$, $x$ $$ ; $x$"]
        );
        assert_eq!(
            texts("SELECT E'\\';', 'it''s;'"),
            ["SELECT E'\\';', 'it''s;'"]
        );
        assert_eq!(texts("SELECT \"a;\"\"b\""), ["SELECT \"a;\"\"b\""]);
        assert_eq!(texts("SELECT $1; SELECT a$b"), ["SELECT $1", "SELECT a$b"]);
        assert_eq!(
            texts("CREATE RULE r AS ON INSERT TO t DO (NOTIFY a; NOTIFY b)"),
            ["CREATE RULE r AS ON INSERT TO t DO (NOTIFY a; NOTIFY b)"]
        );
        assert_eq!(
            texts("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END; SELECT 3"),
            [
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END",
                "SELECT 3"
            ]
        );
        // BEGIN outside a function body is a statement of its own.
        assert_eq!(texts("BEGIN; SELECT 1; END"), ["BEGIN", "SELECT 1", "END"]);
        assert!(split("  ; -- nothing\n ; /* */").is_empty());
    }

    #[test]
    fn words_and_meta_commands() {
        let p = &split("-- note\n( select 1 ) /* x */")[0];
        assert_eq!(p.keyword(), "SELECT");
        assert_eq!(p.words[0].depth, 1);
        let p = &split("COPY t TO '/tmp/x'")[0];
        let words: Vec<&str> = p.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, ["COPY", "T", "TO", "'"]);
        assert!(split("SELECT 1 \\gexec")[0].meta);
        assert!(split("\\! touch /tmp/x")[0].meta);
        assert!(!split("SELECT '\\!', E'\\\\', $$\\$$ -- \\!")[0].meta);
        let p = &split("create\ndatabase x")[0];
        assert_eq!((p.keyword(), p.second()), ("CREATE", "DATABASE"));
    }
}
