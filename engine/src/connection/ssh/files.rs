//! File writes over SSH as shell scripts, with the same semantics as `shell_ops::write_file` (temp file
//! beside the target, mode and ownership kept or set, sync, rename) plus one safeguard SSH needs: when a
//! connection drops mid-transfer, sshd closes the command's stdin as if the data were complete, so the
//! script checks that every byte arrived before it renames anything.
//!
//! In-memory content goes in one command whose script knows the size. A stream's size is known only at
//! its end, so it goes in two: the first receives into the temp file, the second checks the size and
//! commits (or the temp file is removed).

use super::super::shell_ops::shell_quote;
use super::super::FileAttributes;

/// Resolves the target (through a symlink, so the link survives), checks its directory and names the
/// temp file `T` from a token chosen by ply.
fn prelude(path: &str, token: &str) -> String {
    format!(
        r#"P={p}
if [ -L "$P" ]; then P=$(readlink -f -- "$P") || exit 1; fi
case "$P" in */*) D=${{P%/*}}; D=${{D:-/}} ;; *) D=. ;; esac
if [ ! -d "$D" ]; then echo "destination directory $D does not exist" >&2; exit 1; fi
TOKEN={token}
{temp}"#,
        p = shell_quote(path),
        temp = super::super::shell_ops::TEMP_FILE_LINES,
    )
}

/// Receives stdin into a new temp file, readable only by its owner until it is complete. `cat` runs in
/// the background and the shell waits for it, because a shell defers its traps until a foreground
/// command ends: a signal (ply interrupted) must remove the temp file at once, not when the stream ends.
/// (A background command's stdin is /dev/null unless given, hence fd 3.)
const RECEIVE: &str = r#"(umask 077; set -C; : > "$T") || exit 1
trap 'rm -f -- "$T"' EXIT
trap 'kill $C 2>/dev/null; exit 143' TERM; trap 'kill $C 2>/dev/null; exit 129' HUP
exec 3<&0
cat <&3 > "$T" & C=$!
wait $C || exit 1
"#;

/// Checks the size, applies mode and ownership (kept from the replaced file when not given), syncs and
/// renames over the target.
fn commit(size: u64, attributes: &FileAttributes) -> String {
    let mut s = format!(
        r#"S=$(stat -c %s -- "$T") || exit 1
if [ "$S" != {size} ]; then echo "transfer incomplete: $S of {size} bytes arrived" >&2; exit 1; fi
if [ -e "$P" ]; then M=$(stat -c %a -- "$P") && O=$(stat -c %u:%g -- "$P") || exit 1; else M=644; O=; fi
"#
    );
    // Ownership before mode: chown clears setuid/setgid bits. Keeping the old owner only works for root;
    // anyone else keeps their own, as Ansible does.
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
    match attributes.mode {
        Some(mode) => s.push_str(&format!("chmod {mode:o} \"$T\" || exit 1\n")),
        None => s.push_str("chmod \"$M\" \"$T\" || exit 1\n"),
    }
    s.push_str(
        r#"sync -- "$T" 2>/dev/null || sync
mv -f -- "$T" "$P" || exit 1
trap - EXIT
sync -- "$D" 2>/dev/null || :
"#,
    );
    s
}

/// One command: receive `size` bytes from stdin and commit them.
pub(crate) fn write_script(
    path: &str,
    token: &str,
    size: u64,
    attributes: &FileAttributes,
) -> String {
    let mut s = prelude(path, token);
    s.push_str(RECEIVE);
    s.push_str(&commit(size, attributes));
    s
}

/// The first of two commands for a stream: receive into the temp file and keep it. Prints the resolved
/// target and the temp file's path, each ended by a NUL, for [`commit_script`].
pub(crate) fn receive_script(path: &str, token: &str) -> String {
    let mut s = prelude(path, token);
    s.push_str(RECEIVE);
    // NUL-terminated: a file name may hold a newline.
    s.push_str("trap - EXIT\nprintf '%s\\0' \"$P\" \"$T\"\n");
    s
}

/// The second command for a stream: check the size and commit, removing the temp file on any failure.
pub(crate) fn commit_script(
    target: &str,
    temp: &str,
    size: u64,
    sha1: &str,
    attributes: &FileAttributes,
) -> String {
    let mut s = format!(
        "P={}\nT={}\ncase \"$P\" in */*) D=${{P%/*}}; D=${{D:-/}} ;; *) D=. ;; esac\ntrap 'exit 143' TERM; trap 'exit 129' HUP; trap 'exit 130' INT\ntrap 'rm -f -- \"$T\"' EXIT\n",
        shell_quote(target),
        shell_quote(temp)
    );
    // The bytes that arrived are the bytes sent, or nothing is replaced.
    s.push_str(&format!(
        "H=$(sha1sum < \"$T\") || exit 1\ncase \"$H\" in {sha1}*) ;; *) echo \"transfer corrupted: the SHA-1 of what arrived is not what was sent\" >&2; exit 1 ;; esac\n"
    ));
    s.push_str(&commit(size, attributes));
    s
}

/// Removes a temp file left by a stream that failed.
pub(crate) fn discard_script(path: &str, token: &str) -> String {
    let mut s = prelude(path, token);
    s.push_str("rm -f -- \"$T\"\n");
    s
}

/// The SHA-1 of a file in one command; exit 66 when nothing is there. The file is read from stdin because
/// `sha1sum` escapes the output line of a name holding a newline or backslash (a leading `\`).
pub(crate) fn checksum_script(path: &str) -> String {
    let p = shell_quote(path);
    format!(
        "[ -e {p} ] || exit 66; if [ -d {p} ]; then echo 'is a directory' >&2; exit 1; fi; exec sha1sum < {p}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn sh(script: &str, stdin: &[u8]) -> (i32, String) {
        use std::io::Write;
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    #[test]
    fn short_transfers_never_replace_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        std::fs::write(&target, "old").unwrap();
        let path = target.to_str().unwrap();
        let attrs = FileAttributes::default();
        let (rc, msg) = sh(&write_script(path, "tok1", 10, &attrs), b"short");
        assert_eq!(rc, 1, "{msg}");
        assert!(msg.contains("transfer incomplete: 5 of 10"), "{msg}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let (rc, msg) = sh(&write_script(path, "tok2", 5, &attrs), b"fresh");
        assert_eq!(rc, 0, "{msg}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "fresh");
    }

    #[test]
    fn streams_commit_in_a_second_step_with_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("g");
        let path = target.to_str().unwrap();
        let (rc, out) = sh(&receive_script(path, "tok3"), b"streamed");
        assert_eq!(rc, 0, "{out}");
        let lines: Vec<&str> = out.split('\0').collect();
        assert_eq!(lines[0], path);
        assert!(!target.exists());
        let attrs = FileAttributes {
            mode: Some(0o640),
            ..Default::default()
        };
        // "streamed"
        let sha1 = "b0c659fe95a68fee99ce1219fb50689c877b2cbd";
        let (rc, msg) = sh(&commit_script(lines[0], lines[1], 8, sha1, &attrs), b"");
        assert_eq!(rc, 0, "{msg}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "streamed");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);

        let (_, out) = sh(&receive_script(path, "tok4"), b"abc");
        let temp = out.split('\0').nth(1).unwrap().to_string();
        let (rc, _) = sh(&commit_script(path, &temp, 4, sha1, &attrs), b"");
        assert_eq!(rc, 1);
        assert!(!std::path::Path::new(&temp).exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "streamed");

        // The right size but other bytes than were sent: nothing is replaced.
        let (_, out) = sh(&receive_script(path, "tok5"), b"STREAMED");
        let temp = out.split('\0').nth(1).unwrap().to_string();
        let (rc, msg) = sh(&commit_script(path, &temp, 8, sha1, &attrs), b"");
        assert_eq!(rc, 1);
        assert!(msg.contains("transfer corrupted"), "{msg}");
        assert!(!std::path::Path::new(&temp).exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "streamed");
    }
}
