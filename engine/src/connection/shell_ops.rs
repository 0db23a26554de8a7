//! What every connection builds from commands: shell quoting, privilege escalation (sudo/su) and file
//! operations done with POSIX tools (`cat`, `stat`, `mktemp`, `mv`).
//!
//! The local connection uses these when a file operation needs another user; SSH uses them for everything,
//! so the code works through any [`Connection::run`] and assumes only a POSIX `sh` plus coreutils or
//! busybox on the host.

use super::{
    Become, BecomeMethod, CommandRequest, Connection, ConnectionError, FileAttributes, FileKind,
    FileStat, Program,
};

pub use modules::{command_line, shell_quote};

/// The argument vector a program runs as (a shell script becomes `sh -c script`).
pub fn program_argv(program: &Program) -> Vec<String> {
    match program {
        Program::Argv(argv) => argv.clone(),
        Program::Shell { script, executable } => vec![
            executable.clone().unwrap_or_else(|| "/bin/sh".to_string()),
            "-c".to_string(),
            script.clone(),
        ],
    }
}

/// A random token for markers and temp names: unguessable, so a command's own output cannot fake it.
pub fn random_token(len: usize) -> String {
    let mut rng = fastrand::Rng::new();
    (0..len).map(|_| rng.alphanumeric()).collect()
}

/// A command wrapped for privilege escalation, and the markers that tell how the escalation went.
#[derive(Clone, Debug)]
pub struct Escalation {
    pub argv: Vec<String>,
    /// Printed on stderr by the wrapper once the become program has let it run: before it, stderr is the
    /// become program's; its absence means escalation failed.
    pub success_marker: String,
    /// sudo's prompt (`-p`): when it shows on stderr, the password goes to stdin.
    pub prompt_marker: Option<String>,
}

/// Wraps a command for `become_`. The wrapper (`sh -c`) prints the success marker, changes directory and
/// sets the environment after escalation, because sudo resets the environment and the caller may not be
/// able to enter a directory the target user can.
pub fn escalate(
    program: &Program,
    env: &[(String, String)],
    cwd: Option<&str>,
    become_: &Become,
    connected_as_root: bool,
) -> Result<Escalation, ConnectionError> {
    let success_marker = format!("PLY-BECOME-SUCCESS-{}", random_token(24));
    let mut script = format!("echo {success_marker} >&2; ");
    if let Some(dir) = cwd {
        script.push_str(&format!("cd -- {} || exit 1; ", shell_quote(dir)));
    }
    script.push_str("exec ");
    if !env.is_empty() {
        script.push_str("env ");
        for (k, v) in env {
            if k.is_empty() || k.contains('=') {
                return Err(ConnectionError::Other(format!(
                    "invalid environment variable name {k:?}"
                )));
            }
            script.push_str(&shell_quote(&format!("{k}={v}")));
            script.push(' ');
        }
    }
    script.push_str(&command_line(&program_argv(program)));
    let user = &become_.user;
    match become_.method {
        BecomeMethod::Sudo => {
            let mut argv = vec![become_.exe.clone().unwrap_or_else(|| "sudo".to_string())];
            let flags = become_.flags.as_deref().unwrap_or("-H -S -n");
            let mut prompt_marker = None;
            for flag in flags.split_whitespace() {
                // With a password sudo must read it from stdin (-S) and must be allowed to ask (no -n).
                if become_.password.is_some() && (flag == "-n" || flag == "--non-interactive") {
                    continue;
                }
                argv.push(flag.to_string());
            }
            if become_.password.is_some() {
                if !argv.iter().any(|a| a == "-S" || a == "--stdin") {
                    argv.push("-S".to_string());
                }
                let marker = format!("[ply-sudo-{}]", random_token(20));
                argv.push("-p".to_string());
                argv.push(marker.clone());
                prompt_marker = Some(marker);
            }
            argv.extend([
                "-u".to_string(),
                user.clone(),
                "--".to_string(),
                "/bin/sh".to_string(),
                "-c".to_string(),
                script,
            ]);
            Ok(Escalation {
                argv,
                success_marker,
                prompt_marker,
            })
        }
        BecomeMethod::Su => {
            // su reads a password from a terminal only; without one the only safe case is root, which su
            // lets through without asking.
            if become_.password.is_some() || !connected_as_root {
                return Err(ConnectionError::Become(
                    "su is supported only when connected as root without a password; use become_method: sudo"
                        .to_string(),
                ));
            }
            let mut argv = vec![become_.exe.clone().unwrap_or_else(|| "su".to_string())];
            if let Some(flags) = &become_.flags {
                argv.extend(flags.split_whitespace().map(str::to_string));
            }
            argv.extend([
                "-s".to_string(),
                "/bin/sh".to_string(),
                "-c".to_string(),
                script,
                user.clone(),
            ]);
            Ok(Escalation {
                argv,
                success_marker,
                prompt_marker: None,
            })
        }
    }
}

/// What the become program's stderr has shown so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BecomeEvent {
    /// sudo asks for the password (again, when it is the second one: the password was wrong).
    Prompt,
    /// The command runs; what follows on stderr is the command's.
    Success,
}

/// Scans the stderr of an escalated command for the prompt and success markers.
#[derive(Debug)]
pub struct BecomeScanner {
    prompt: Option<Vec<u8>>,
    success: Vec<u8>,
    before: Vec<u8>,
    prompts: usize,
    succeeded: bool,
}

impl BecomeScanner {
    pub fn new(escalation: &Escalation) -> Self {
        BecomeScanner {
            prompt: escalation
                .prompt_marker
                .as_ref()
                .map(|p| p.as_bytes().to_vec()),
            success: format!("{}\n", escalation.success_marker).into_bytes(),
            before: Vec::new(),
            prompts: 0,
            succeeded: false,
        }
    }

    /// Takes a chunk of stderr; returns the new events and the bytes that belong to the command itself.
    pub fn feed(&mut self, chunk: &[u8]) -> (Vec<BecomeEvent>, Vec<u8>) {
        if self.succeeded {
            return (Vec::new(), chunk.to_vec());
        }
        self.before.extend_from_slice(chunk);
        let mut events = Vec::new();
        if let Some(prompt) = &self.prompt {
            let seen = count(&self.before, prompt);
            for _ in self.prompts..seen {
                events.push(BecomeEvent::Prompt);
            }
            self.prompts = seen;
        }
        if let Some(at) = find(&self.before, &self.success) {
            self.succeeded = true;
            events.push(BecomeEvent::Success);
            let rest = self.before.split_off(at + self.success.len());
            self.before.truncate(at);
            return (events, rest);
        }
        (events, Vec::new())
    }

    pub fn succeeded(&self) -> bool {
        self.succeeded
    }

    /// What the become program said before the command ran, without the prompts: the reason it refused.
    pub fn message(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.before).into_owned();
        if let Some(prompt) = &self.prompt {
            text = text.replace(&*String::from_utf8_lossy(prompt), "");
        }
        text.trim().to_string()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = haystack;
    while let Some(at) = find(rest, needle) {
        n += 1;
        rest = &rest[at + needle.len()..];
    }
    n
}

/// An exit code the file scripts use for "nothing there", distinct from the tools' own failures.
const ABSENT_RC: i32 = 66;

async fn run_script(
    conn: &dyn Connection,
    script: String,
    stdin: Option<Vec<u8>>,
    become_: Option<&Become>,
) -> Result<super::CommandOutput, ConnectionError> {
    let mut request = CommandRequest::shell(script);
    request.stdin = stdin;
    request.become_ = become_.cloned();
    conn.run(&request).await
}

fn file_error(path: &str, stderr: &[u8], rc: i32) -> ConnectionError {
    let message = String::from_utf8_lossy(stderr).trim().to_string();
    ConnectionError::File {
        path: path.to_string(),
        message: if message.is_empty() {
            format!("failed with exit code {rc}")
        } else {
            message
        },
    }
}

/// [`Connection::read_file`] through `cat`.
pub async fn read_file(
    conn: &dyn Connection,
    path: &str,
    become_: Option<&Become>,
) -> Result<Option<Vec<u8>>, ConnectionError> {
    let p = shell_quote(path);
    let script = format!("[ -e {p} ] || exit {ABSENT_RC}; exec cat -- {p}");
    let out = run_script(conn, script, None, become_).await?;
    match out.rc {
        0 => Ok(Some(out.stdout)),
        ABSENT_RC => Ok(None),
        rc => Err(file_error(path, &out.stderr, rc)),
    }
}

/// [`Connection::stat`] through `stat -c`. Times are whole seconds (busybox's `stat` has no fractions).
pub async fn stat(
    conn: &dyn Connection,
    path: &str,
    follow: bool,
    become_: Option<&Become>,
) -> Result<Option<FileStat>, ConnectionError> {
    let p = shell_quote(path);
    let script = if follow {
        format!("[ -e {p} ] || exit {ABSENT_RC}; stat -L -c '%f %u %g %s %Y %U %G' -- {p}")
    } else {
        format!(
            "[ -e {p} ] || [ -L {p} ] || exit {ABSENT_RC}; stat -c '%f %u %g %s %Y %U %G' -- {p} || exit 1; \
             if [ -L {p} ]; then readlink -- {p}; fi"
        )
    };
    let out = run_script(conn, script, None, become_).await?;
    match out.rc {
        0 => parse_stat_output(&String::from_utf8_lossy(&out.stdout))
            .map(Some)
            .ok_or_else(|| ConnectionError::File {
                path: path.to_string(),
                message: format!(
                    "unexpected stat output {:?}",
                    String::from_utf8_lossy(&out.stdout)
                ),
            }),
        ABSENT_RC => Ok(None),
        rc => Err(file_error(path, &out.stderr, rc)),
    }
}

/// Parses `stat -c '%f %u %g %s %Y %U %G'` plus an optional second line with the link target.
pub fn parse_stat_output(text: &str) -> Option<FileStat> {
    let mut lines = text.splitn(2, '\n');
    let fields: Vec<&str> = lines.next()?.split_whitespace().collect();
    if fields.len() < 7 {
        return None;
    }
    let raw = u32::from_str_radix(fields[0], 16).ok()?;
    let kind = file_kind(raw);
    let link_target = match kind {
        FileKind::Symlink => lines
            .next()
            .map(|t| t.strip_suffix('\n').unwrap_or(t).to_string()),
        _ => None,
    };
    let name = |s: &str, id: &str| {
        if s == "UNKNOWN" {
            id.to_string()
        } else {
            s.to_string()
        }
    };
    Some(FileStat {
        kind,
        mode: raw & 0o7777,
        uid: fields[1].parse().ok()?,
        gid: fields[2].parse().ok()?,
        owner: name(fields[5], fields[1]),
        group: name(fields[6], fields[2]),
        size: fields[3].parse().ok()?,
        mtime: fields[4].parse().ok()?,
        link_target,
    })
}

/// The kind of a file from the type bits of `st_mode`.
pub fn file_kind(mode: u32) -> FileKind {
    match mode & 0o170000 {
        0o100000 => FileKind::File,
        0o040000 => FileKind::Directory,
        0o120000 => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

/// [`Connection::write_file`] through a script: `mktemp` beside the target (mode 0600 until the content is
/// complete), `cat` from stdin, mode and ownership (kept from the old file when not given), `sync`, then
/// `mv` over the target. A symlink at the target is followed so that the link survives.
pub async fn write_file(
    conn: &dyn Connection,
    path: &str,
    content: &[u8],
    attributes: &FileAttributes,
    become_: Option<&Become>,
) -> Result<(), ConnectionError> {
    let script = write_script(path, attributes);
    let out = run_script(conn, script, Some(content.to_vec()), become_).await?;
    if out.rc == 0 {
        Ok(())
    } else {
        Err(file_error(path, &out.stderr, out.rc))
    }
}

/// Shell lines that name the temp file `T` for the target `$P` in `$D`: `.ply-tmp-<name>.<token>`,
/// where `<name>` is the first 64 bytes of the target's name, and remove the temp files an earlier
/// writer of the same target left behind (a run killed outright cannot clean up after itself; a
/// concurrent writer of the same file would lose its rename either way). `$TOKEN` must be set. The
/// traps make a signal (ply interrupted, sshd ending the session) run the EXIT trap that removes `T`.
pub const TEMP_FILE_LINES: &str = r#"B=${P##*/}; B=$(printf '%.64s' "$B")
rm -f -- "$D/.ply-tmp-$B."* 2>/dev/null
T="$D/.ply-tmp-$B.$TOKEN"
trap 'exit 143' TERM; trap 'exit 129' HUP; trap 'exit 130' INT
"#;

/// The prefix of the temp files [`TEMP_FILE_LINES`] names for a target file name.
pub fn temp_file_prefix(file_name: &[u8]) -> Vec<u8> {
    let mut prefix = b".ply-tmp-".to_vec();
    prefix.extend_from_slice(&file_name[..file_name.len().min(64)]);
    prefix.push(b'.');
    prefix
}

fn write_script(path: &str, attributes: &FileAttributes) -> String {
    let mut s = String::new();
    s.push_str(&format!("P={}\n", shell_quote(path)));
    s.push_str(
        r#"if [ -L "$P" ]; then P=$(readlink -f -- "$P") || exit 1; fi
case "$P" in */*) D=${P%/*}; D=${D:-/} ;; *) D=. ;; esac
if [ ! -d "$D" ]; then echo "destination directory $D does not exist" >&2; exit 1; fi
"#,
    );
    s.push_str(&format!("TOKEN={}\n", random_token(16)));
    s.push_str(TEMP_FILE_LINES);
    s.push_str(
        r#"(umask 077; set -C; : > "$T") || exit 1
trap 'rm -f -- "$T"' EXIT
cat > "$T" || exit 1
if [ -e "$P" ]; then M=$(stat -c %a -- "$P") && O=$(stat -c %u:%g -- "$P") || exit 1; else M=644; O=; fi
"#,
    );
    match attributes.mode {
        Some(mode) => s.push_str(&format!("chmod {mode:o} \"$T\" || exit 1\n")),
        None => s.push_str("chmod \"$M\" \"$T\" || exit 1\n"),
    }
    // Keeping the old owner only works for root; anyone else keeps their own, as Ansible does.
    s.push_str("if [ -n \"$O\" ]; then chown \"$O\" \"$T\" 2>/dev/null || :; fi\n");
    if let Some(owner) = &attributes.owner {
        s.push_str(&format!(
            "chown -- {} \"$T\" || exit 1\n",
            shell_quote(owner)
        ));
    }
    if let Some(group) = &attributes.group {
        s.push_str(&format!(
            "chgrp -- {} \"$T\" || exit 1\n",
            shell_quote(group)
        ));
    }
    s.push_str(
        r#"sync -- "$T" 2>/dev/null || sync
mv -f -- "$T" "$P" || exit 1
sync -- "$D" 2>/dev/null || :
"#,
    );
    s
}

/// Who would own a file written now: the writing user's ids and names (the become user, else the connected
/// one), or those of the owner and group given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    pub uid: u32,
    pub owner: String,
    pub gid: u32,
    pub group: String,
}

/// Resolves [`Ownership`] on the host with one command: `id` for users, `getent` (or `/etc/group`) for groups.
pub async fn resolve_ownership(
    conn: &dyn Connection,
    owner: Option<&str>,
    group: Option<&str>,
    become_: Option<&Become>,
) -> Result<Ownership, ConnectionError> {
    let u = shell_quote(owner.unwrap_or(""));
    let g = shell_quote(group.unwrap_or(""));
    let script = format!(
        r#"u={u}; g={g}
if [ -n "$u" ]; then id -u -- "$u" && id -un -- "$u" || {{ echo "unknown user $u" >&2; exit 1; }}; else id -u; id -un; fi
if [ -n "$g" ]; then
  e=$(getent group "$g" 2>/dev/null) || e=$(awk -F: -v g="$g" '$1==g||$3==g{{print; exit}}' /etc/group)
  [ -n "$e" ] || {{ echo "unknown group $g" >&2; exit 1; }}
  echo "$e" | cut -d: -f3; echo "$e" | cut -d: -f1
else id -g; id -gn; fi"#
    );
    let out = run_script(conn, script, None, become_).await?;
    let what = owner.or(group).unwrap_or("current user");
    if out.rc != 0 {
        return Err(file_error(what, &out.stderr, out.rc));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let parsed = (|| {
        Some(Ownership {
            uid: lines.first()?.parse().ok()?,
            owner: lines.get(1)?.to_string(),
            gid: lines.get(2)?.parse().ok()?,
            group: lines.get(3)?.to_string(),
        })
    })();
    parsed.ok_or_else(|| ConnectionError::Other(format!("unexpected id output {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("/etc/passwd"), "/etc/passwd");
        assert_eq!(shell_quote("a-b_c.d:e,f=g@h%i+j"), "a-b_c.d:e,f=g@h%i+j");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
        assert_eq!(command_line(&["echo", "a b", "c"]), "echo 'a b' c");
    }

    #[test]
    fn quoted_words_survive_a_real_shell() {
        let words = [
            "plain",
            "",
            "sp ace",
            "it's",
            "\"dq\"",
            "$HOME",
            "`id`",
            "a\\b",
            "new\nline",
            "*",
            "~",
            "-n",
            "ünï",
            "'",
            "''",
        ];
        let script = format!("printf '%s\\0' {}", command_line(&words));
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        let got: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .map(|w| String::from_utf8(w.to_vec()).unwrap())
            .collect();
        let mut expected: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        expected.push(String::new());
        assert_eq!(got, expected);
    }

    #[test]
    fn stat_output_parses() {
        let s = parse_stat_output("81a4 0 0 1234 1700000000 root root\n").unwrap();
        assert_eq!(s.kind, FileKind::File);
        assert_eq!(s.mode, 0o644);
        assert_eq!(s.size, 1234);
        assert_eq!(s.mtime, 1700000000.0);
        let l = parse_stat_output("a1ff 1000 1000 7 1 UNKNOWN UNKNOWN\n/tmp/x y\n").unwrap();
        assert_eq!(l.kind, FileKind::Symlink);
        assert_eq!(l.owner, "1000");
        assert_eq!(l.link_target.as_deref(), Some("/tmp/x y"));
        assert_eq!(
            parse_stat_output("41ed 0 0 4096 1 root root").unwrap().kind,
            FileKind::Directory
        );
        assert!(parse_stat_output("garbage").is_none());
    }

    #[test]
    fn scanner_finds_prompts_and_success_across_chunks() {
        let esc = Escalation {
            argv: vec![],
            success_marker: "OK-123".into(),
            prompt_marker: Some("[p-9]".into()),
        };
        let mut s = BecomeScanner::new(&esc);
        assert_eq!(s.feed(b"[p-").0, vec![]);
        assert_eq!(s.feed(b"9]").0, vec![BecomeEvent::Prompt]);
        let (ev, rest) = s.feed(b"OK-1");
        assert!(ev.is_empty() && rest.is_empty());
        let (ev, rest) = s.feed(b"23\ncommand err");
        assert_eq!(ev, vec![BecomeEvent::Success]);
        assert_eq!(rest, b"command err");
        assert_eq!(s.feed(b" more").1, b" more");
        assert!(s.succeeded());

        let mut s = BecomeScanner::new(&esc);
        s.feed(b"[p-9]Sorry, try again.\n[p-9]");
        assert_eq!(s.prompts, 2);
        assert_eq!(s.message(), "Sorry, try again.");
    }

    #[test]
    fn sudo_without_password_is_non_interactive_and_with_one_prompts() {
        let mut b = Become {
            user: "postgres".into(),
            method: BecomeMethod::Sudo,
            password: None,
            flags: None,
            exe: None,
        };
        let e = escalate(
            &Program::Argv(vec!["id".into()]),
            &[("A".into(), "x y".into())],
            Some("/tmp"),
            &b,
            false,
        )
        .unwrap();
        assert_eq!(&e.argv[..5], ["sudo", "-H", "-S", "-n", "-u"]);
        assert!(e.prompt_marker.is_none());
        let script = e.argv.last().unwrap();
        assert!(script.contains("cd -- /tmp"), "{script}");
        assert!(script.contains("exec env 'A=x y' id"), "{script}");

        b.password = Some(super::super::Secret::new("hunter2"));
        let e = escalate(&Program::Argv(vec!["id".into()]), &[], None, &b, false).unwrap();
        assert!(!e.argv.iter().any(|a| a == "-n"));
        assert!(!e.argv.iter().any(|a| a.contains("hunter2")));
        let marker = e.prompt_marker.clone().unwrap();
        let at = e.argv.iter().position(|a| a == "-p").unwrap();
        assert_eq!(e.argv[at + 1], marker);
    }
}
