//! Looking after the cache: `runreg scan`, `runreg gc`, and
//! `runreg completions`.

use clap::Args;
use clap_complete::Shell;
use runreg::ScanMode;

use super::{Context, Failure, output};

#[derive(Debug, Args)]
#[command(after_help = "\
Every other command rescans what changed before answering; scan does only \
that and reports it: sidecars found, runs written, unchanged, invalid (with \
the reason), newly orphaned, duplicated run ids.

Examples:
  runreg scan
  runreg scan --full
  runreg scan --json | jq .invalid")]
pub struct ScanArgs {
    /// Re-read every sidecar, not only those that changed
    #[arg(long)]
    pub full: bool,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn scan(ctx: &Context, args: ScanArgs) -> Result<(), Failure> {
    let mode = if args.full {
        ScanMode::Full
    } else {
        ScanMode::Incremental
    };
    let mut registry = ctx.open_with(false, std::time::Duration::ZERO)?;
    let report = ctx.with_bar(|| registry.scan(mode))?;
    drop(registry);
    ctx.warn_rebuilt(&report);
    let text = if args.json {
        output::to_json(&report)
    } else {
        format!("{report}\n")
    };
    output::print(&text)
}

#[derive(Debug, Args)]
#[command(after_help = "\
A run becomes orphaned when its sidecar.json disappears from the tree; it \
stays listed until gc removes it from the cache. Run directories are never \
touched: only the cache changes.

Examples:
  runreg gc --dry-run
  runreg gc
  runreg gc --json")]
pub struct GcArgs {
    /// List the orphaned runs without removing them
    #[arg(long)]
    pub dry_run: bool,

    /// Print {"dry_run": BOOL, "orphans": [RUN_ID...]} as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct GcReport<'a> {
    dry_run: bool,
    orphans: &'a [String],
}

pub fn gc(ctx: &Context, args: GcArgs) -> Result<(), Failure> {
    let orphans = ctx.open()?.remove_orphans(args.dry_run)?;
    let text = if args.json {
        output::to_json(&GcReport {
            dry_run: args.dry_run,
            orphans: &orphans,
        })
    } else if orphans.is_empty() {
        "no orphaned runs\n".to_owned()
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let mut text: String = orphans
            .iter()
            .map(|id| format!("{verb} {}\n", super::cell::sanitize(id)))
            .collect();
        let count = output::plural(orphans.len(), "orphaned run");
        text.push_str(&if args.dry_run {
            let them = if orphans.len() == 1 { "it" } else { "them" };
            format!("{count} to remove; run 'runreg gc' to remove {them} from the cache\n")
        } else {
            format!("removed {count} from the cache (run directories are never touched)\n")
        });
        text
    };
    output::print(&text)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runreg completions bash > ~/.local/share/bash-completion/completions/runreg
  runreg completions zsh > ~/.zfunc/_runreg
  runreg completions fish > ~/.config/fish/completions/runreg.fish")]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

/// The completion script of `cli` (the whole command line, which `mod.rs`
/// hands in). Needs no cache directory.
pub fn completions(args: CompletionsArgs, mut cli: clap::Command) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "runreg", &mut script);
    output::print(&String::from_utf8_lossy(&script))
}
