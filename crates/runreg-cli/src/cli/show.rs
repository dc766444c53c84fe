//! `runreg show RUN_ID`: one run, readable; a unique prefix of its id will do.

use std::time::Duration;

use clap::Args;
use runreg::{Registry, RunRecord, Value};
use unicode_width::UnicodeWidthStr;

use super::cell::sanitize;
use super::color::{self, DIM, HEADER, KEY};
use super::{Context, Failure, output, time};

/// Candidates an ambiguous prefix lists.
const MAX_CANDIDATES: usize = 10;

#[derive(Debug, Args)]
#[command(after_help = "\
RUN_ID may be cut short to any prefix that only one run has; an ambiguous \
prefix lists the runs it matches. Times are local (TZ).

Examples:
  runreg show 7f3a9c2e
  runreg show 7f3a
  runreg show 7f3a9c2e --json | jq .summary")]
pub struct ShowArgs {
    /// The run's id, or a prefix of it that only this run has
    pub run_id: String,

    /// Print the run as JSON (the same object as one element of 'ls --json')
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: ShowArgs) -> Result<(), Failure> {
    if args.run_id.is_empty() {
        return Err(Failure::usage(
            "give a run id (or a prefix of one); 'runreg ls' lists them",
        ));
    }
    let registry = ctx.open()?;
    let run = find(&registry, &args.run_id)?;
    drop(registry);
    let text = if args.json {
        output::to_json(&run)
    } else {
        details(&run, ctx, time::now())
    };
    output::print(&text)
}

/// The run `id`, or the one run whose id starts with `id`.
pub fn find(registry: &Registry, id: &str) -> Result<RunRecord, Failure> {
    let not_found = || {
        Failure::failed(format!(
            "run {id:?} not found in {}; 'runreg ls' lists the runs",
            registry.cache_dir().display()
        ))
    };
    if let Some(run) = registry.get(id)? {
        return Ok(run);
    }
    let ids = registry.run_ids_starting_with(id, MAX_CANDIDATES + 1)?;
    match ids.as_slice() {
        [] => Err(not_found()),
        [only] => registry.get(only)?.ok_or_else(not_found),
        many => {
            let shown = &many[..many.len().min(MAX_CANDIDATES)];
            let more = if many.len() > MAX_CANDIDATES {
                " and more"
            } else {
                ""
            };
            Err(Failure::failed(format!(
                "{id:?} is the start of several run ids: {}{more}; give more of the id",
                shown.join(", ")
            )))
        }
    }
}

/// The readable view: identity, status and liveness, times, paths, tags,
/// notes; then summary, hparams and config, each sorted by key and aligned.
fn details(run: &RunRecord, ctx: &Context, now: f64) -> String {
    let p = ctx.palette;
    let when = |t: f64| format!("{} ({})", time::datetime(t), time::age(t, now));
    let or_dash = |s: &str| {
        if s.is_empty() {
            p.paint("-", DIM)
        } else {
            sanitize(s)
        }
    };
    // Why the run is or is not alive: a final status, else the heartbeat.
    let alive = match run.heartbeat_at {
        Some(beat) if run.alive => format!(
            "{} (heartbeat {})",
            p.paint("yes", color::ALIVE),
            time::age(beat, now)
        ),
        Some(beat) if run.status.is_terminal() => format!(
            "no ({}; heartbeat {})",
            sanitize(run.status.as_str()),
            time::age(beat, now)
        ),
        None if run.status.is_terminal() => format!("no ({})", sanitize(run.status.as_str())),
        Some(beat) => format!(
            "no (heartbeat {}, older than the {} timeout)",
            time::age(beat, now),
            seconds(ctx.heartbeat_timeout())
        ),
        None => "no (no heartbeat file)".to_owned(),
    };
    let top: Vec<(&str, String)> = vec![
        ("run_id", sanitize(&run.run_id)),
        (
            "status",
            p.paint(run.status.as_str(), color::status_style(&run.status)),
        ),
        ("alive", alive),
        ("created", when(run.created_at)),
        ("updated", when(run.updated_at)),
        (
            "ended",
            run.ended_at.map_or_else(|| p.paint("-", DIM), when),
        ),
        ("run_dir", sanitize(&run.run_dir)),
        (
            "checkpoint",
            or_dash(run.checkpoint_path.as_deref().unwrap_or("")),
        ),
        ("tags", or_dash(&run.tags.join(", "))),
    ];
    let mut text = String::new();
    let width = top
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .max("notes".len());
    for (key, value) in &top {
        push_line(&mut text, "", key, value, width, ctx);
    }
    // Notes keep their lines, each indented under the first.
    let mut notes = run.notes.lines();
    let first = notes.next().map_or_else(|| p.paint("-", DIM), sanitize);
    push_line(&mut text, "", "notes", &first, width, ctx);
    for line in notes {
        text.push_str(&" ".repeat(width + 2));
        text.push_str(&sanitize(line));
        text.push('\n');
    }

    let mut config = run.config.flattened();
    config.sort_by(|a, b| a.0.cmp(&b.0));
    let sections: [(&str, Vec<(String, &Value)>); 3] = [
        (
            "summary",
            run.summary.iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ),
        (
            "hparams",
            run.hparams.iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ),
        ("config", config),
    ];
    for (title, entries) in sections {
        if title == "config" && entries.is_empty() {
            continue;
        }
        text.push('\n');
        text.push_str(&p.paint(title, HEADER));
        if entries.is_empty() {
            text.push_str(&format!(" {}", p.paint("(none)", DIM)));
        }
        text.push('\n');
        let width = entries
            .iter()
            .map(|(k, _)| sanitize(k).width())
            .max()
            .unwrap_or(0);
        for (key, value) in &entries {
            push_line(
                &mut text,
                "  ",
                &sanitize(key),
                &sanitize(&value.to_string()),
                width,
                ctx,
            );
        }
    }
    text
}

/// `key` padded to `width`, then `value`; keys of the top block are bold,
/// those inside a section (indented) plain.
fn push_line(text: &mut String, indent: &str, key: &str, value: &str, width: usize, ctx: &Context) {
    let pad = width.saturating_sub(key.width());
    text.push_str(indent);
    let style = if indent.is_empty() {
        KEY
    } else {
        anstyle::Style::new()
    };
    text.push_str(&ctx.palette.paint(key, style));
    text.push_str(&" ".repeat(pad + 2));
    text.push_str(value);
    text.push('\n');
}

/// `180s`, `2.5s`.
fn seconds(d: Duration) -> String {
    format!("{}s", super::cell::compact(d.as_secs_f64()))
}
