//! Ansible's facts (`setup`), gathered with one POSIX `sh` command per host and parsed here.
//!
//! The script only prints raw data (`key=value` lines and verbatim file sections); every rule that
//! turns it into Ansible's facts (names, os_family, service_mgr, pkg_mgr, default_ipv4, processors)
//! lives in Rust, where it is tested. Hosts need no Python: only `sh` and coreutils or busybox; `ip` is
//! used when present and `/proc/net` otherwise.

use super::{CommandRequest, Connection, ConnectionError};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

const SECTION: &str = "@@ply-section ";

/// The script [`gather_facts`] runs. `ip route get` only asks the kernel which route it would take; it
/// sends nothing. The environment goes last: its values may hold anything.
pub const FACTS_SCRIPT: &str = r#"exec 2>/dev/null
k() { printf '%s=%s\n' "$1" "$2"; }
have() { command -v "$1" >/dev/null 2>&1; }
sec() { printf '\n@@ply-section %s\n' "$1"; }
k nodename "$(uname -n)"
if have timeout; then f=$(timeout 3 hostname -f); else f=$(hostname -f); fi
k fqdn "$f"
k system "$(uname -s)"
k kernel "$(uname -r)"
k kernel_version "$(uname -v)"
k machine "$(uname -m)"
k uid "$(id -u)"
k gid "$(id -g)"
k ruid "$(id -ru)"
k rgid "$(id -rg)"
k user "$(id -un)"
k passwd "$(getent passwd "$(id -un)" || awk -F: -v u="$(id -u)" '$3==u{print; exit}' /etc/passwd)"
k home "$HOME"
k shell "$SHELL"
k date "$(date '+%s|%Y|%m|%d|%H|%M|%S|%Z|%z|%A|%w|%W')"
k debian_version "$(cat /etc/debian_version)"
p1=$(cat /proc/1/comm)
if [ -z "$p1" ]; then p1=$(ps -p 1 -o comm | tail -n 1); fi
k proc1 "$p1"
k init_link "$(readlink /sbin/init)"
k init_real "$(readlink -f /sbin/init)"
for c in systemctl initctl; do have "$c" && k have "$c"; done
for p in /run/systemd/system /dev/.run/systemd /dev/.systemd /etc/init /sbin/openrc /etc/init.d /etc/dinit.d \
  /usr/bin/rpm-ostree /usr/bin/yum /usr/bin/dnf /usr/bin/dnf5 /usr/bin/apt-get /usr/bin/zypper /usr/sbin/urpmi \
  /usr/bin/pacman /bin/opkg /sbin/apk /usr/sbin/pkg /usr/bin/emerge /usr/bin/xbps-install /usr/bin/swupd; do
  [ -e "$p" ] && k exists "$p"
done
k machine_id "$(cat /etc/machine-id)"
k uptime "$(cat /proc/uptime)"
k nproc "$(nproc || getconf _NPROCESSORS_ONLN)"
sec os_release; cat /etc/os-release || cat /usr/lib/os-release
if have lsb_release; then sec lsb_release; lsb_release -a; fi
sec lsb_file; cat /etc/lsb-release
sec cpuinfo; grep -E '^(processor|physical id|core id|cpu cores|siblings)[[:space:]]*:' /proc/cpuinfo
sec meminfo; grep -E '^(MemTotal|MemFree|SwapTotal|SwapFree):' /proc/meminfo
if have ip; then
  sec route_get; ip -4 route get 8.8.8.8
  sec addr4; ip -4 -o addr show
  sec addr6; ip -6 -o addr show
else
  sec proc_route; cat /proc/net/route
  sec fib_trie; cat /proc/net/fib_trie
  sec if_inet6; cat /proc/net/if_inet6
fi
sec ifaces
for i in /sys/class/net/*; do [ -e "$i" ] && echo "${i##*/} $(cat "$i/address") $(cat "$i/mtu") $(cat "$i/type")"; done
sec env
env -0 || env
"#;

/// Gathers the facts of the host behind `conn`, named as Ansible names them without the `ansible_` prefix.
pub async fn gather_facts(conn: &dyn Connection) -> Result<Map<String, Value>, ConnectionError> {
    let out = conn.run(&CommandRequest::shell(FACTS_SCRIPT)).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("system=") {
        return Err(ConnectionError::Other(format!(
            "gathering facts failed (exit code {}): {}",
            out.rc,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse_facts(&text))
}

/// The raw output of [`FACTS_SCRIPT`]: `key=value` lines (keys may repeat) and named sections.
struct Raw<'a> {
    values: Vec<(&'a str, &'a str)>,
    sections: HashMap<&'a str, &'a str>,
}

impl<'a> Raw<'a> {
    fn parse(text: &'a str) -> Self {
        let (head, rest) = match text.find(&format!("\n{SECTION}")) {
            Some(at) => (&text[..at], &text[at + 1..]),
            None => (text, ""),
        };
        let values = head.lines().filter_map(|l| l.split_once('=')).collect();
        let mut sections = HashMap::new();
        let mut rest = rest;
        while let Some(after) = rest.strip_prefix(SECTION) {
            let (name, body_start) = match after.find('\n') {
                Some(at) => (&after[..at], &after[at + 1..]),
                None => (after, ""),
            };
            // The environment is last and verbatim: a value in it could look like a section header.
            if name == "env" {
                sections.insert(name, body_start);
                break;
            }
            match body_start.find(&format!("\n{SECTION}")) {
                Some(at) => {
                    sections.insert(name, &body_start[..at]);
                    rest = &body_start[at + 1..];
                }
                None => {
                    sections.insert(name, body_start);
                    break;
                }
            }
        }
        Raw { values, sections }
    }

    fn get(&self, key: &str) -> &'a str {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    fn all(&self, key: &str) -> Vec<&'a str> {
        self.values
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
            .collect()
    }

    fn section(&self, name: &str) -> &'a str {
        self.sections.get(name).copied().unwrap_or("")
    }
}

/// Turns the output of [`FACTS_SCRIPT`] into facts. Public so that other connections (and tests) can run
/// the script their own way.
pub fn parse_facts(text: &str) -> Map<String, Value> {
    let raw = Raw::parse(text);
    let mut f = Map::new();
    let s = |v: &str| Value::String(v.to_string());

    let nodename = raw.get("nodename");
    let fqdn = match raw.get("fqdn") {
        "" => nodename,
        f => f,
    };
    f.insert("nodename".into(), s(nodename));
    f.insert(
        "hostname".into(),
        s(nodename.split('.').next().unwrap_or("")),
    );
    f.insert("fqdn".into(), s(fqdn));
    f.insert(
        "domain".into(),
        s(fqdn.split_once('.').map(|(_, d)| d).unwrap_or("")),
    );

    let system = raw.get("system");
    let machine = raw.get("machine");
    f.insert("system".into(), s(system));
    f.insert("kernel".into(), s(raw.get("kernel")));
    f.insert("kernel_version".into(), s(raw.get("kernel_version")));
    f.insert("machine".into(), s(machine));
    f.insert("architecture".into(), s(&architecture(machine)));

    let os = distribution(&raw);
    let os_family = os_family(&os.name);
    f.insert("distribution".into(), s(&os.name));
    f.insert("distribution_version".into(), s(&os.version));
    f.insert(
        "distribution_major_version".into(),
        s(os.version.split('.').next().unwrap_or("NA")),
    );
    f.insert("distribution_release".into(), s(&os.release));
    f.insert("os_family".into(), s(&os_family));
    f.insert("lsb".into(), Value::Object(lsb(&raw)));

    let exists = raw.all("exists");
    let have = raw.all("have");
    f.insert(
        "service_mgr".into(),
        s(&service_mgr(&raw, system, &exists, &have)),
    );
    f.insert("pkg_mgr".into(), s(&pkg_mgr(&exists, &os_family)));

    user_facts(&raw, &mut f);
    f.insert(
        "date_time".into(),
        Value::Object(date_time(raw.get("date"))),
    );
    cpu_facts(raw.section("cpuinfo"), raw.get("nproc"), &mut f);
    memory_facts(raw.section("meminfo"), &mut f);
    network_facts(&raw, &mut f);

    if !raw.get("machine_id").is_empty() {
        f.insert("machine_id".into(), s(raw.get("machine_id")));
    }
    if let Some(up) = raw
        .get("uptime")
        .split_whitespace()
        .next()
        .and_then(|u| u.parse::<f64>().ok())
    {
        f.insert("uptime_seconds".into(), json!(up as u64));
    }
    f.insert("env".into(), Value::Object(environment(raw.section("env"))));
    f
}

fn architecture(machine: &str) -> String {
    // Ansible reports 32-bit x86 as i386 whatever the exact model.
    match machine {
        "i486" | "i586" | "i686" => "i386".to_string(),
        m => m.to_string(),
    }
}

struct Os {
    name: String,
    version: String,
    release: String,
}

fn key_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

fn distribution(raw: &Raw) -> Os {
    let rel = key_values(raw.section("os_release"));
    let get = |k: &str| rel.get(k).map(String::as_str).unwrap_or("");
    let id = get("ID");
    let name = match id {
        "debian" => "Debian",
        "ubuntu" => "Ubuntu",
        "raspbian" => "Debian",
        "kali" => "Kali",
        "linuxmint" => "Linux Mint",
        "devuan" => "Devuan",
        "pop" => "Pop!_OS",
        "centos" => "CentOS",
        "rhel" => "RedHat",
        "fedora" => "Fedora",
        "rocky" => "Rocky",
        "almalinux" => "AlmaLinux",
        "ol" => "OracleLinux",
        "amzn" => "Amazon",
        "scientific" => "Scientific",
        "alpine" => "Alpine",
        "arch" => "Archlinux",
        "manjaro" => "ManjaroLinux",
        "opensuse-leap" => "openSUSE Leap",
        "opensuse-tumbleweed" => "openSUSE Tumbleweed",
        "sles" | "sles_sap" => "SLES",
        "gentoo" => "Gentoo",
        "void" => "Void",
        "nixos" => "NixOS",
        _ => "",
    };
    let name = match (name, get("NAME")) {
        ("", "") if raw.get("system").is_empty() => "NA".to_string(),
        ("", "") => raw.get("system").to_string(),
        ("", n) => n.split_whitespace().next().unwrap_or(n).to_string(),
        (n, _) => n.to_string(),
    };
    let debian_version = raw.get("debian_version");
    // Debian's point release ("12.5") is only in /etc/debian_version; os-release has just "12".
    let version = if name == "Debian" && debian_version.starts_with(|c: char| c.is_ascii_digit()) {
        debian_version.to_string()
    } else if !get("VERSION_ID").is_empty() {
        get("VERSION_ID").to_string()
    } else {
        "NA".to_string()
    };
    let release = [get("VERSION_CODENAME"), get("UBUNTU_CODENAME")]
        .into_iter()
        .find(|c| !c.is_empty())
        .map(str::to_string)
        .or_else(|| {
            let v = get("VERSION");
            let open = v.find('(')?;
            let close = v[open..].find(')')? + open;
            Some(v[open + 1..close].trim().to_string())
        })
        .unwrap_or_else(|| "NA".to_string());
    Os {
        name,
        version,
        release,
    }
}

fn os_family(distribution: &str) -> String {
    let family = match distribution {
        "Debian" | "Ubuntu" | "Kali" | "Linux Mint" | "Devuan" | "Pop!_OS" | "Raspbian" => "Debian",
        "RedHat" | "CentOS" | "Fedora" | "Rocky" | "AlmaLinux" | "OracleLinux" | "Amazon"
        | "Scientific" => "RedHat",
        "Alpine" => "Alpine",
        "Archlinux" | "ManjaroLinux" => "Archlinux",
        "SLES" | "openSUSE Leap" | "openSUSE Tumbleweed" => "Suse",
        "Gentoo" => "Gentoo",
        other => other,
    };
    family.to_string()
}

fn lsb(raw: &Raw) -> Map<String, Value> {
    let mut m = Map::new();
    let cmd = raw.section("lsb_release");
    if !cmd.trim().is_empty() {
        for line in cmd.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let key = match k.trim() {
                "Distributor ID" => "id",
                "Description" => "description",
                "Release" => "release",
                "Codename" => "codename",
                _ => continue,
            };
            m.insert(key.into(), Value::String(v.trim().to_string()));
        }
    } else {
        let file = key_values(raw.section("lsb_file"));
        for (k, key) in [
            ("DISTRIB_ID", "id"),
            ("DISTRIB_RELEASE", "release"),
            ("DISTRIB_CODENAME", "codename"),
            ("DISTRIB_DESCRIPTION", "description"),
        ] {
            if let Some(v) = file.get(k) {
                m.insert(key.into(), Value::String(v.clone()));
            }
        }
    }
    if let Some(Value::String(release)) = m.get("release").cloned() {
        let major = release.split('.').next().unwrap_or("").to_string();
        m.insert("major_release".into(), Value::String(major));
    }
    m
}

/// Ansible's service manager detection (module_utils/facts/system/service_mgr.py): a recognisable pid 1
/// wins; `init` and shells (containers) are not; then the Linux canaries in Ansible's order.
fn service_mgr(raw: &Raw, system: &str, exists: &[&str], have: &[&str]) -> String {
    let mut proc1 = raw.get("proc1").to_string();
    if proc1.is_empty() || proc1 == "COMMAND" {
        proc1 = raw.get("init_link").to_string();
    }
    let proc1 = proc1.rsplit('/').next().unwrap_or("").trim().to_string();
    if !proc1.is_empty() && proc1 != "init" && !proc1.ends_with("sh") {
        return match proc1.as_str() {
            "procd" => "openwrt_init",
            "runit-init" => "runit",
            "svscan" => "svc",
            "openrc-init" => "openrc",
            other => other,
        }
        .to_string();
    }
    let is = |p: &str| exists.contains(&p);
    let has = |c: &str| have.contains(&c);
    match system {
        "Darwin" => return "launchd".into(),
        "FreeBSD" | "OpenBSD" | "NetBSD" | "DragonFly" => return "bsdinit".into(),
        "AIX" => return "src".into(),
        "SunOS" => return "smf".into(),
        "Linux" => {}
        _ => return "service".into(),
    }
    let systemd_canary = ["/run/systemd/system", "/dev/.run/systemd", "/dev/.systemd"]
        .iter()
        .any(|p| is(p));
    let init_real = raw.get("init_real");
    if has("systemctl") && systemd_canary {
        "systemd"
    } else if has("initctl") && is("/etc/init") {
        "upstart"
    } else if is("/sbin/openrc") {
        "openrc"
    } else if has("systemctl")
        && !raw.get("init_link").is_empty()
        && init_real.rsplit('/').next() == Some("systemd")
    {
        "systemd"
    } else if is("/etc/init.d") {
        "sysvinit"
    } else if is("/etc/dinit.d") {
        "dinit"
    } else {
        "service"
    }
    .to_string()
}

/// Ansible's package manager detection (module_utils/facts/system/pkg_mgr.py): the last of its list that
/// exists wins, except that the RedHat family prefers dnf5, then dnf, over yum.
fn pkg_mgr(exists: &[&str], os_family: &str) -> String {
    let is = |p: &str| exists.contains(&p);
    if os_family == "RedHat" {
        for (path, name) in [
            ("/usr/bin/dnf5", "dnf5"),
            ("/usr/bin/dnf", "dnf"),
            ("/usr/bin/yum", "yum"),
        ] {
            if is(path) {
                return name.to_string();
            }
        }
    }
    let order = [
        ("/usr/bin/rpm-ostree", "atomic_container"),
        ("/usr/bin/yum", "yum"),
        ("/usr/bin/dnf", "dnf"),
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/zypper", "zypper"),
        ("/usr/sbin/urpmi", "urpmi"),
        ("/usr/bin/pacman", "pacman"),
        ("/bin/opkg", "opkg"),
        ("/sbin/apk", "apk"),
        ("/usr/sbin/pkg", "pkgng"),
        ("/usr/bin/emerge", "portage"),
        ("/usr/bin/xbps-install", "xbps"),
        ("/usr/bin/swupd", "swupd"),
    ];
    order
        .iter()
        .rev()
        .find(|(p, _)| is(p))
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

fn user_facts(raw: &Raw, f: &mut Map<String, Value>) {
    let num = |k: &str| {
        raw.get(k)
            .parse::<u64>()
            .ok()
            .map(Value::from)
            .unwrap_or(Value::Null)
    };
    let passwd: Vec<&str> = raw.get("passwd").split(':').collect();
    let field = |i: usize| passwd.get(i).copied().filter(|_| passwd.len() >= 7);
    f.insert("user_id".into(), json!(raw.get("user")));
    f.insert("user_uid".into(), num("uid"));
    f.insert("user_gid".into(), num("gid"));
    f.insert("effective_user_id".into(), num("uid"));
    f.insert("effective_group_id".into(), num("gid"));
    f.insert("real_user_id".into(), num("ruid"));
    f.insert("real_group_id".into(), num("rgid"));
    f.insert("user_gecos".into(), json!(field(4).unwrap_or("")));
    f.insert(
        "user_dir".into(),
        json!(field(5).unwrap_or(raw.get("home"))),
    );
    f.insert(
        "user_shell".into(),
        json!(field(6).unwrap_or(raw.get("shell"))),
    );
}

/// Ansible's `date_time`: local fields from the host's `date`, ISO 8601 in UTC from the epoch. All strings,
/// as in Ansible.
fn date_time(line: &str) -> Map<String, Value> {
    let p: Vec<&str> = line.split('|').collect();
    let mut m = Map::new();
    if p.len() < 12 {
        return m;
    }
    let Ok(epoch) = p[0].parse::<i64>() else {
        return m;
    };
    let (y, mo, d, h, mi, s) = utc(epoch);
    let iso = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
    let pairs = [
        ("epoch", p[0].to_string()),
        ("epoch_int", p[0].to_string()),
        ("year", p[1].to_string()),
        ("month", p[2].to_string()),
        ("day", p[3].to_string()),
        ("hour", p[4].to_string()),
        ("minute", p[5].to_string()),
        ("second", p[6].to_string()),
        ("tz", p[7].to_string()),
        ("tz_offset", p[8].to_string()),
        ("weekday", p[9].to_string()),
        ("weekday_number", p[10].to_string()),
        ("weeknumber", p[11].to_string()),
        ("date", format!("{}-{}-{}", p[1], p[2], p[3])),
        ("time", format!("{}:{}:{}", p[4], p[5], p[6])),
        ("iso8601", iso),
        (
            "iso8601_micro",
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000000Z"),
        ),
        (
            "iso8601_basic",
            format!("{}{}{}T{}{}{}000000", p[1], p[2], p[3], p[4], p[5], p[6]),
        ),
        (
            "iso8601_basic_short",
            format!("{}{}{}T{}{}{}", p[1], p[2], p[3], p[4], p[5], p[6]),
        ),
    ];
    for (k, v) in pairs {
        m.insert(k.into(), Value::String(v));
    }
    m
}

/// Civil UTC time of a Unix timestamp (Howard Hinnant's days-from-civil inverse).
fn utc(epoch: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

/// Ansible's processor facts (module_utils/facts/hardware/linux.py): sockets from `physical id`, cores
/// per socket from `cpu cores`, threads from `siblings`; without socket data (ARM) every `processor` entry
/// counts as a socket.
fn cpu_facts(cpuinfo: &str, nproc: &str, f: &mut Map<String, Value>) {
    let mut processors = 0u64;
    let mut sockets: Vec<(String, u64)> = Vec::new();
    let mut cores: Vec<(String, u64)> = Vec::new();
    let (mut physid, mut coreid) = (String::new(), String::new());
    for line in cpuinfo.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "processor" => processors += 1,
            "physical id" => {
                physid = v.to_string();
                if !sockets.iter().any(|(id, _)| *id == physid) {
                    sockets.push((physid.clone(), 1));
                }
            }
            "core id" => {
                coreid = v.to_string();
                if !cores.iter().any(|(id, _)| *id == coreid) {
                    cores.push((coreid.clone(), 1));
                }
            }
            "cpu cores" => {
                if let Some(s) = sockets.iter_mut().find(|(id, _)| *id == physid) {
                    s.1 = v.parse().unwrap_or(1);
                }
            }
            "siblings" => {
                if let Some(c) = cores.iter_mut().find(|(id, _)| *id == coreid) {
                    c.1 = v.parse().unwrap_or(1);
                }
            }
            _ => {}
        }
    }
    let count = if sockets.is_empty() {
        processors
    } else {
        sockets.len() as u64
    };
    let per_socket = sockets.first().map(|s| s.1).filter(|c| *c > 0).unwrap_or(1);
    let threads = cores.first().map(|c| c.1 / per_socket).unwrap_or(0).max(1);
    f.insert("processor_count".into(), json!(count));
    f.insert("processor_cores".into(), json!(per_socket));
    f.insert("processor_threads_per_core".into(), json!(threads));
    f.insert(
        "processor_vcpus".into(),
        json!(threads * count * per_socket),
    );
    if let Ok(n) = nproc.parse::<u64>() {
        f.insert("processor_nproc".into(), json!(n));
    }
}

fn memory_facts(meminfo: &str, f: &mut Map<String, Value>) {
    for line in meminfo.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let kb: u64 = v
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let key = match k {
            "MemTotal" => "memtotal_mb",
            "MemFree" => "memfree_mb",
            "SwapTotal" => "swaptotal_mb",
            "SwapFree" => "swapfree_mb",
            _ => continue,
        };
        f.insert(key.into(), json!(kb / 1024));
    }
}

struct Iface<'a> {
    name: &'a str,
    mac: &'a str,
    mtu: Option<u64>,
    kind: &'a str,
}

fn interfaces(text: &str) -> Vec<Iface<'_>> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?;
            Some(Iface {
                name,
                mac: w.next().unwrap_or(""),
                mtu: w.next().and_then(|m| m.parse().ok()),
                kind: match w.next() {
                    Some("1") => "ether",
                    Some("772") => "loopback",
                    Some("65534") => "tunnel",
                    _ => "unknown",
                },
            })
        })
        .collect()
}

/// `(interface, address, prefix, broadcast)` of `ip -o addr show` lines.
fn ip_addresses(text: &str) -> Vec<(String, String, u8, Option<String>)> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let iface = w.get(1)?.trim_end_matches(':').split('@').next()?;
            let (addr, prefix) = w.get(3)?.split_once('/')?;
            let brd = w
                .iter()
                .position(|t| *t == "brd")
                .and_then(|i| w.get(i + 1))
                .map(|b| b.to_string());
            Some((
                iface.to_string(),
                addr.to_string(),
                prefix.parse().ok()?,
                brd,
            ))
        })
        .collect()
}

/// `(interface, destination, gateway, mask)` of `/proc/net/route`.
fn proc_routes(text: &str) -> Vec<(String, Ipv4Addr, Ipv4Addr, Ipv4Addr)> {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|n| Ipv4Addr::from(n.swap_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            Some((
                w.first()?.to_string(),
                hex(w.get(1)?)?,
                hex(w.get(2)?)?,
                hex(w.get(7)?)?,
            ))
        })
        .collect()
}

/// Local addresses of `/proc/net/fib_trie` (`/32 host LOCAL` leaves), once each.
fn fib_local_addresses(text: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut last = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(a) = t.strip_prefix("|-- ") {
            last = a.parse::<Ipv4Addr>().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    out
}

fn if_inet6_addresses(text: &str) -> Vec<(String, String, u8)> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let hex = w.first()?;
            if hex.len() != 32 {
                return None;
            }
            let n = u128::from_str_radix(hex, 16).ok()?;
            let prefix = u8::from_str_radix(w.get(2)?, 16).ok()?;
            Some((w.get(5)?.to_string(), Ipv6Addr::from(n).to_string(), prefix))
        })
        .collect()
}

fn netmask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(
        u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0),
    )
}

fn network_facts(raw: &Raw, f: &mut Map<String, Value>) {
    let ifaces = interfaces(raw.section("ifaces"));
    f.insert(
        "interfaces".into(),
        json!(ifaces.iter().map(|i| i.name).collect::<Vec<_>>()),
    );

    // (interface, address, prefix, broadcast) from `ip` or, without it, /proc.
    let mut v4: Vec<(String, String, u8, Option<String>)>;
    let v6: Vec<(String, String, u8)>;
    let mut default: Option<(String, Option<String>, Option<String>)> = None;
    let route_get = raw.section("route_get");
    if raw.sections.contains_key("addr4") {
        v4 = ip_addresses(raw.section("addr4"));
        v6 = ip_addresses(raw.section("addr6"))
            .into_iter()
            .map(|(i, a, p, _)| (i, a, p))
            .collect();
        let w: Vec<&str> = route_get.split_whitespace().collect();
        let after = |k: &str| {
            w.iter()
                .position(|t| *t == k)
                .and_then(|i| w.get(i + 1))
                .map(|s| s.to_string())
        };
        if let Some(dev) = after("dev") {
            default = Some((dev, after("via"), after("src")));
        }
    } else {
        let routes = proc_routes(raw.section("proc_route"));
        let locals = fib_local_addresses(raw.section("fib_trie"));
        v4 = Vec::new();
        for a in &locals {
            // The interface and prefix of an address are those of the most specific subnet route holding it.
            let best = routes
                .iter()
                .filter(|(_, dest, _, mask)| {
                    !mask.is_unspecified() && u32::from(*a) & u32::from(*mask) == u32::from(*dest)
                })
                .max_by_key(|(_, _, _, mask)| u32::from(*mask).count_ones());
            match best {
                Some((iface, _, _, mask)) => v4.push((
                    iface.clone(),
                    a.to_string(),
                    u32::from(*mask).count_ones() as u8,
                    None,
                )),
                None if a.is_loopback() => v4.push(("lo".into(), a.to_string(), 8, None)),
                None => v4.push((String::new(), a.to_string(), 32, None)),
            }
        }
        v6 = if_inet6_addresses(raw.section("if_inet6"));
        if let Some((iface, _, gw, _)) = routes
            .iter()
            .find(|(_, dest, _, mask)| dest.is_unspecified() && mask.is_unspecified())
        {
            let src = v4
                .iter()
                .find(|(i, _, _, _)| i == iface)
                .map(|(_, a, _, _)| a.clone());
            let gw = (!gw.is_unspecified()).then(|| gw.to_string());
            default = Some((iface.clone(), gw, src));
        }
    }
    v4.retain(|(_, a, _, _)| !a.is_empty());

    f.insert(
        "all_ipv4_addresses".into(),
        json!(v4
            .iter()
            .filter(|(_, a, _, _)| !a.starts_with("127."))
            .map(|(_, a, _, _)| a.clone())
            .collect::<Vec<_>>()),
    );
    f.insert(
        "all_ipv6_addresses".into(),
        json!(v6
            .iter()
            .filter(|(_, a, _)| a != "::1")
            .map(|(_, a, _)| a.clone())
            .collect::<Vec<_>>()),
    );

    let mut d = Map::new();
    if let Some((iface, gateway, src)) = default {
        let entry = v4
            .iter()
            .find(|(i, a, _, _)| *i == iface && src.as_deref().is_none_or(|s| s == a))
            .or_else(|| v4.iter().find(|(i, _, _, _)| *i == iface));
        let address = src.or_else(|| entry.map(|e| e.1.clone()));
        d.insert("interface".into(), json!(iface));
        d.insert("alias".into(), json!(iface));
        if let Some(a) = &address {
            d.insert("address".into(), json!(a));
        }
        if let Some(g) = gateway {
            d.insert("gateway".into(), json!(g));
        }
        if let Some((_, a, prefix, brd)) = entry {
            let mask = netmask(*prefix);
            if let Ok(ip) = a.parse::<Ipv4Addr>() {
                let network = Ipv4Addr::from(u32::from(ip) & u32::from(mask));
                d.insert("network".into(), json!(network.to_string()));
                let broadcast = brd.clone().unwrap_or_else(|| {
                    Ipv4Addr::from(u32::from(network) | !u32::from(mask)).to_string()
                });
                d.insert("broadcast".into(), json!(broadcast));
            }
            d.insert("netmask".into(), json!(mask.to_string()));
            d.insert("prefix".into(), json!(prefix.to_string()));
        }
        if let Some(i) = ifaces.iter().find(|i| i.name == iface) {
            if !i.mac.is_empty() {
                d.insert("macaddress".into(), json!(i.mac));
            }
            if let Some(mtu) = i.mtu {
                d.insert("mtu".into(), json!(mtu));
            }
            d.insert("type".into(), json!(i.kind));
        }
    }
    f.insert("default_ipv4".into(), Value::Object(d));
}

fn environment(text: &str) -> Map<String, Value> {
    let entries: Vec<&str> = if text.contains('\0') {
        text.split('\0').collect()
    } else {
        text.lines().collect()
    };
    let mut m = Map::new();
    for e in entries {
        if let Some((k, v)) = e.split_once('=') {
            if !k.is_empty() && !k.contains(char::is_whitespace) {
                m.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(extra_values: &str, sections: &[(&str, &str)]) -> String {
        let mut s = format!(
            "nodename=web1.example.org\nfqdn=\nsystem=Linux\nmachine=x86_64\n{extra_values}"
        );
        for (name, body) in sections {
            s.push_str(&format!("\n{SECTION}{name}\n{body}"));
        }
        s
    }

    #[test]
    fn names_and_distribution() {
        let text = sample(
            "debian_version=12.5\n",
            &[(
                "os_release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
            )],
        );
        let f = parse_facts(&text);
        assert_eq!(f["hostname"], "web1");
        assert_eq!(f["fqdn"], "web1.example.org");
        assert_eq!(f["domain"], "example.org");
        assert_eq!(f["distribution"], "Debian");
        assert_eq!(f["distribution_version"], "12.5");
        assert_eq!(f["distribution_major_version"], "12");
        assert_eq!(f["distribution_release"], "bookworm");
        assert_eq!(f["os_family"], "Debian");
        assert_eq!(f["lsb"], json!({}));

        let rocky = parse_facts(&sample(
            "",
            &[(
                "os_release",
                "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
            )],
        ));
        assert_eq!(rocky["distribution"], "Rocky");
        assert_eq!(rocky["distribution_release"], "Blue Onyx");
        assert_eq!(rocky["distribution_major_version"], "9");
        assert_eq!(rocky["os_family"], "RedHat");
    }

    #[test]
    fn service_manager_rules() {
        let mgr = |values: &str| parse_facts(&sample(values, &[]))["service_mgr"].clone();
        assert_eq!(mgr("proc1=systemd\n"), "systemd");
        assert_eq!(mgr("proc1=procd\n"), "openwrt_init");
        // A shell or init as pid 1 says nothing: the canaries decide.
        assert_eq!(
            mgr("proc1=bash\nhave=systemctl\nexists=/run/systemd/system\nexists=/etc/init.d\n"),
            "systemd"
        );
        assert_eq!(
            mgr("proc1=init\nexists=/sbin/openrc\nexists=/etc/init.d\n"),
            "openrc"
        );
        assert_eq!(mgr("proc1=sh\nexists=/etc/init.d\n"), "sysvinit");
        assert_eq!(
            mgr("proc1=init\nhave=systemctl\ninit_link=/lib/systemd/systemd\ninit_real=/usr/lib/systemd/systemd\n"),
            "systemd"
        );
        assert_eq!(mgr("proc1=dash\n"), "service");
        // Containers whose pid 1 is a plain program report it, as Ansible does.
        assert_eq!(mgr("proc1=tini\n"), "tini");
    }

    #[test]
    fn package_manager_rules() {
        let pm = |values: &str, os: &str| {
            parse_facts(&sample(values, &[("os_release", os)]))["pkg_mgr"].clone()
        };
        assert_eq!(pm("exists=/usr/bin/apt-get\n", "ID=debian\n"), "apt");
        assert_eq!(pm("exists=/sbin/apk\n", "ID=alpine\n"), "apk");
        assert_eq!(
            pm("exists=/usr/bin/yum\nexists=/usr/bin/dnf\n", "ID=rocky\n"),
            "dnf"
        );
        assert_eq!(pm("", "ID=debian\n"), "unknown");
    }

    #[test]
    fn default_ipv4_from_ip() {
        let f = parse_facts(&sample(
            "",
            &[
                ("route_get", "8.8.8.8 via 172.17.0.1 dev eth0 src 172.17.0.2 uid 0 \n    cache \n"),
                ("addr4", "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n2: eth0@if5    inet 172.17.0.2/16 brd 172.17.255.255 scope global eth0\\       valid_lft forever preferred_lft forever\n"),
                ("addr6", "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n2: eth0    inet6 fe80::42:acff:fe11:2/64 scope link \\ valid_lft forever\n"),
                ("ifaces", "eth0 02:42:ac:11:00:02 1500 1\nlo 00:00:00:00:00:00 65536 772\n"),
            ],
        ));
        assert_eq!(
            f["default_ipv4"],
            json!({"interface": "eth0", "alias": "eth0", "address": "172.17.0.2", "gateway": "172.17.0.1",
                   "network": "172.17.0.0", "broadcast": "172.17.255.255", "netmask": "255.255.0.0",
                   "prefix": "16", "macaddress": "02:42:ac:11:00:02", "mtu": 1500, "type": "ether"})
        );
        assert_eq!(f["all_ipv4_addresses"], json!(["172.17.0.2"]));
        assert_eq!(f["all_ipv6_addresses"], json!(["fe80::42:acff:fe11:2"]));
        assert_eq!(f["interfaces"], json!(["eth0", "lo"]));
    }

    #[test]
    fn default_ipv4_from_proc_without_ip() {
        let route =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n     +-- 172.17.0.0/16 2 0 2\n        |-- 172.17.0.2\n           /32 host LOCAL\n        |-- 172.17.255.255\n           /32 link BROADCAST\nLocal:\n        |-- 172.17.0.2\n           /32 host LOCAL\n";
        let inet6 = "00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000042acfffe110002 02 40 20 80     eth0\n";
        let f = parse_facts(&sample(
            "",
            &[
                ("proc_route", route),
                ("fib_trie", trie),
                ("if_inet6", inet6),
            ],
        ));
        let d = &f["default_ipv4"];
        assert_eq!(d["interface"], "eth0");
        assert_eq!(d["gateway"], "172.17.0.1");
        assert_eq!(d["address"], "172.17.0.2");
        assert_eq!(d["netmask"], "255.255.0.0");
        assert_eq!(f["all_ipv4_addresses"], json!(["172.17.0.2"]));
        assert_eq!(f["all_ipv6_addresses"], json!(["fe80::42:acff:fe11:2"]));
    }

    #[test]
    fn processors_memory_time_env() {
        let cpu =
            "processor\t: 0\nphysical id\t: 0\nsiblings\t: 4\ncore id\t\t: 0\ncpu cores\t: 2\n\
processor\t: 1\nphysical id\t: 0\nsiblings\t: 4\ncore id\t\t: 1\ncpu cores\t: 2\n";
        let f = parse_facts(&sample(
            "nproc=4\ndate=1700000000|2023|11|14|23|13|20|CET|+0100|Tuesday|2|46\n",
            &[
                ("cpuinfo", cpu),
                (
                    "meminfo",
                    "MemTotal:        8048256 kB\nMemFree:  102400 kB\n",
                ),
                ("env", "PATH=/usr/bin:/bin\0MULTI=a\nb\0HOME=/root\0"),
            ],
        ));
        assert_eq!(f["processor_count"], 1);
        assert_eq!(f["processor_cores"], 2);
        assert_eq!(f["processor_threads_per_core"], 2);
        assert_eq!(f["processor_vcpus"], 4);
        assert_eq!(f["processor_nproc"], 4);
        assert_eq!(f["memtotal_mb"], 7859);
        assert_eq!(f["memfree_mb"], 100);
        assert_eq!(f["date_time"]["iso8601"], "2023-11-14T22:13:20Z");
        assert_eq!(f["date_time"]["epoch"], "1700000000");
        assert_eq!(f["date_time"]["date"], "2023-11-14");
        assert_eq!(f["env"]["MULTI"], "a\nb");
        assert_eq!(f["env"]["HOME"], "/root");
        // ARM: no socket data, every processor counts.
        let arm = parse_facts(&sample(
            "",
            &[("cpuinfo", "processor\t: 0\nprocessor\t: 1\n")],
        ));
        assert_eq!(arm["processor_count"], 2);
        assert_eq!(arm["processor_cores"], 1);
        assert_eq!(utc(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc(951_782_400), (2000, 2, 29, 0, 0, 0));
    }
}
