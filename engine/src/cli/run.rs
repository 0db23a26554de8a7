//! `ply run`: load and validate playbooks, and answer the listing options.

use super::args::RunArgs;
use super::listing::{self, ListRequest};
use crate::connection::ssh::known_hosts::HostKeyPolicy;
use crate::error::{Error, Result};
use crate::executor::{ConnectionDefaults, Run, RunOptions};
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::vars::{parse_extra_vars, VarMap};

pub fn run(args: &RunArgs) -> Result<u8> {
    let mut extra_vars = VarMap::new();
    for arg in &args.extra_vars {
        extra_vars.extend(parse_extra_vars(arg)?);
    }
    if args.forks == 0 {
        return Err(Error::options("--forks must be at least 1"));
    }
    let mut playbooks = Vec::new();
    for path in &args.playbooks {
        if !path.is_file() {
            return Err(Error::options(format!(
                "the playbook: {} could not be found",
                path.display()
            ))
            .with_hint("check the path; ply run takes playbook files, then options"));
        }
        playbooks.push(Playbook::load(path)?);
    }
    let mut inventory = Inventory::load(&inventory_sources(args))?;
    // Listing and --syntax-check print them here; a run reports them through its output (human or JSON).
    let listing_or_check =
        args.syntax_check || args.list_hosts || args.list_tasks || args.list_tags;
    if listing_or_check {
        super::reporting::print_warnings(inventory.warnings());
    }
    for playbook in &playbooks {
        inventory.add_playbook_vars_dirs(&playbook.dir())?;
    }
    let templar = crate::template::Templar::new(crate::template::TemplarOptions::default());
    for playbook in &playbooks {
        for play in &playbook.plays {
            crate::playbook::validate_templates(play, &templar)?;
        }
        // Before --syntax-check answers: a task ply cannot run is refused, never accepted.
        check_modules_available(playbook)?;
    }
    // Every mode, so that a run never starts on a name no scope defines; it only reads what is loaded.
    let (only_tags, skip_tags) = (args.selected_tags(), args.skipped_tags());
    let tags = crate::playbook::TagSelection {
        only: &only_tags,
        skip: &skip_tags,
    };
    crate::playbook::check_undefined(&playbooks, &inventory, &extra_vars, &templar, &tags)?;
    let listing = args.list_hosts || args.list_tasks || args.list_tags;
    if args.syntax_check && !listing {
        for playbook in &playbooks {
            println!("\nplaybook: {}", playbook.path.display());
        }
        return Ok(0);
    }
    if listing {
        let only_tags = args.selected_tags();
        let skip_tags = args.skipped_tags();
        let request = ListRequest {
            hosts: args.list_hosts,
            tasks: args.list_tasks,
            tags: args.list_tags,
            only_tags: &only_tags,
            skip_tags: &skip_tags,
        };
        for playbook in &playbooks {
            let mut hosts_of = |play: &crate::playbook::Play| {
                // `hosts: "{{ target | default('all') }}"` is templated with extra vars, as Ansible does.
                let pattern = if crate::template::is_templated(&play.hosts) {
                    templar
                        .render_str(
                            &play.hosts,
                            &crate::vars::play_pattern_vars(
                                &inventory,
                                &play.keywords.vars,
                                &extra_vars,
                            ),
                        )
                        .map_err(|e| e.at(&play.loc))?
                } else {
                    play.hosts.clone()
                };
                play_hosts(&inventory, &pattern, args.limit.as_deref())
            };
            print!(
                "{}",
                listing::render(
                    playbook,
                    &playbook.path.display().to_string(),
                    &request,
                    &mut hosts_of
                )?
            );
        }
        return Ok(0);
    }
    // Only a run would prompt (a syntax check or a listing never does), so only a run is refused.
    crate::playbook::unsupported::check_prompts(&playbooks, &extra_vars)?;
    execute(args, &playbooks, &inventory, extra_vars)
}

/// How to reach hosts whose inventory does not say: -u, --private-key, -k, -T and host key checking.
fn connection_defaults(args: &RunArgs) -> Result<ConnectionDefaults> {
    let password = if args.ask_pass {
        let password = rpassword::prompt_password("SSH password: ")
            .map_err(|e| Error::options(format!("could not read the SSH password: {e}")))?;
        Some(modules::Secret::new(password))
    } else {
        None
    };
    let env_policy = std::env::var("ANSIBLE_HOST_KEY_CHECKING")
        .ok()
        .and_then(|v| crate::playbook::parse_bool_str(&v));
    let host_key_policy = match (args.host_key_checking.as_deref(), env_policy) {
        (Some("strict"), _) => Some(HostKeyPolicy::Strict),
        (Some("off"), _) | (None, Some(false)) => Some(HostKeyPolicy::Off),
        (Some(_), _) => Some(HostKeyPolicy::AcceptNew),
        (None, _) => None,
    };
    Ok(ConnectionDefaults {
        remote_user: args.user.clone(),
        private_key: args.private_key.clone(),
        password,
        key_passphrase: key_passphrase(args.private_key.as_deref())?,
        host_key_policy,
        timeout: args.timeout.map(std::time::Duration::from_secs),
    })
}

/// The passphrase for an encrypted `--private-key`: from `PLY_KEY_PASSPHRASE`, else asked for on the
/// terminal (like ssh does), only when the key really is encrypted.
fn key_passphrase(key: Option<&std::path::Path>) -> Result<Option<modules::Secret>> {
    if let Ok(passphrase) = std::env::var("PLY_KEY_PASSPHRASE") {
        return Ok(Some(modules::Secret::new(passphrase)));
    }
    let Some(key) = key else {
        return Ok(None);
    };
    match russh::keys::load_secret_key(key, None) {
        Err(russh::keys::Error::KeyIsEncrypted)
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) =>
        {
            let prompt = format!("Enter passphrase for key '{}': ", key.display());
            let passphrase = rpassword::prompt_password(prompt)
                .map_err(|e| Error::options(format!("could not read the key passphrase: {e}")))?;
            Ok(Some(modules::Secret::new(passphrase)))
        }
        _ => Ok(None),
    }
}

/// Every module a playbook uses exists in this build, checked before any host is touched.
fn check_modules_available(playbook: &Playbook) -> Result<()> {
    let mut missing: Option<Error> = None;
    for play in &playbook.plays {
        let mut visit = |task: &crate::playbook::Task| {
            let module = task.action.module;
            let engine_handled = modules::engine_keyword(module).is_some();
            if missing.is_none() && !engine_handled && !modules::is_implemented(module) {
                missing = Some(
                    Error::parse(
                        task.action.loc.clone(),
                        format!("module '{module}' is not available in this version of ply yet"),
                    )
                    .with_hint(match module {
                        "setup" | "gather_facts" => {
                            "set `gather_facts: true` on the play to gather facts"
                        }
                        _ => "`ply doc` lists the modules this version provides",
                    }),
                );
            }
        };
        for (_, section) in play.sections() {
            crate::playbook::each_task(section, &mut visit);
        }
        crate::playbook::each_task(&play.handlers, &mut visit);
    }
    missing.map_or(Ok(()), Err)
}

/// Runs the playbooks for real (or as a check), reporting as asked, and returns Ansible's exit code.
fn execute(
    args: &RunArgs,
    playbooks: &[Playbook],
    inventory: &Inventory,
    extra_vars: VarMap,
) -> Result<u8> {
    let become_password = if args.ask_become_pass {
        let password = rpassword::prompt_password("BECOME password: ")
            .map_err(|e| Error::options(format!("could not read the become password: {e}")))?;
        Some(modules::Secret::new(password))
    } else {
        None
    };
    let options = RunOptions {
        check: args.check,
        diff: args.diff,
        forks: args.forks,
        limit: args.limit.clone(),
        only_tags: args.selected_tags(),
        skip_tags: args.skipped_tags(),
        extra_vars,
        start_at_task: args.start_at_task.clone(),
        verbosity: args.verbose,
        become_: args.become_,
        become_user: args.become_user.clone(),
        become_password,
        connection: connection_defaults(args)?,
    };
    let mut reporter = super::reporting::reporter(args.output, args.verbose);
    for warning in inventory.warnings() {
        reporter.report(&crate::output::Event::Warning {
            message: warning.clone(),
        });
    }
    // One thread: the controller mostly waits on hosts, and a multi-thread runtime spent about a third
    // of ply's CPU handing wake-ups between threads (perf, ply-bench W1: 1.5 -> 0.9 ms per host-task).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::options(format!("could not start the async runtime: {e}")))?;
    runtime.block_on(async {
        let interrupt = crate::executor::Interrupt::new();
        interrupt
            .install()
            .map_err(|e| Error::options(format!("could not listen for signals: {e}")))?;
        let run = Run::new(inventory, &options, reporter, interrupt);
        for playbook in playbooks {
            run.run_playbook(playbook).await?;
        }
        run.clean_up_after_interrupt().await;
        let code = run.finish().1;
        // Stopped commands are ended on their hosts by tasks of this runtime: let them finish first.
        crate::connection::wait_for_cleanups(std::time::Duration::from_secs(3)).await;
        Ok(code)
    })
}

/// `-i` sources, or Ansible's default inventory.
pub(super) fn inventory_sources(args: &RunArgs) -> Vec<String> {
    if args.inventory.is_empty() {
        let from_env = std::env::var("ANSIBLE_INVENTORY")
            .ok()
            .filter(|v| !v.is_empty());
        vec![from_env.unwrap_or_else(|| crate::inventory::DEFAULT_SOURCE.into())]
    } else {
        args.inventory.clone()
    }
}

/// The hosts a play runs on: its pattern, narrowed by `--limit` (`@retry-file` names are relative to where
/// ply runs), in inventory order.
fn play_hosts(inventory: &Inventory, pattern: &str, limit: Option<&str>) -> Result<Vec<String>> {
    let matched = inventory.hosts_matching_limited(pattern, limit, std::path::Path::new("."))?;
    for warning in &matched.warnings {
        eprintln!("[WARNING]: {warning}");
    }
    Ok(matched.hosts)
}
