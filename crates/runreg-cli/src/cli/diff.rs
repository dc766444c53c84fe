//! `runreg diff RUN RUN...`: the hparams, config and summary values that
//! differ across runs, side by side, and how many are equal.

use clap::Args;
use runreg::{RunDiff, RunRecord};

use super::cell::Cell;
use super::color::HEADER;
use super::table::{Fit, Header, Table};
use super::{Context, Failure, output, show};

#[derive(Debug, Args)]
#[command(after_help = "\
Each RUN may be cut short to a prefix only one run has. The config is \
compared flattened (optim.lr). A key one run lacks shows '-' (null in JSON). \
Numbers compare as numbers (1 equals 1.0) and NaN equals NaN: a value is \
reported only when the runs hold different values.

Examples:
  runreg diff 7f3a 9c2e
  runreg diff 7f3a 9c2e b001 --json | jq .differ.hparams")]
pub struct DiffArgs {
    /// Two or more runs: ids, or prefixes that only one run has
    #[arg(value_name = "RUN", required = true, num_args = 2..)]
    pub runs: Vec<String>,

    /// Print {"runs", "differ": {section: {key: [value per run]}}, "equal": {section: count}}
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: DiffArgs) -> Result<(), Failure> {
    if args.runs.len() < 2 {
        return Err(Failure::usage("give two runs or more to compare"));
    }
    let registry = ctx.open()?;
    let runs = args
        .runs
        .iter()
        .map(|id| show::find(&registry, id))
        .collect::<Result<Vec<RunRecord>, Failure>>()?;
    drop(registry);
    let diff = RunDiff::of(&runs);
    let text = if args.json {
        output::to_json(&diff)
    } else {
        render(&diff, ctx)
    };
    output::print(&text)
}

fn render(diff: &RunDiff<'_>, ctx: &Context) -> String {
    let mut headers = vec![Header {
        title: String::new(),
        fit: Fit::Shrink,
    }];
    headers.extend(diff.runs.iter().map(|id| Header {
        title: (*id).to_owned(),
        fit: Fit::Shrink,
    }));
    let mut table = Table::new(headers);
    let mut any = false;
    for (title, keys) in diff.differ.each() {
        if keys.is_empty() {
            continue;
        }
        any = true;
        let mut row = vec![Cell::styled(title.to_owned(), HEADER)];
        row.extend(diff.runs.iter().map(|_| Cell::text("")));
        table.push(row);
        for (key, values) in keys {
            let mut row = vec![Cell::text(&format!("  {key}"))];
            row.extend(values.iter().map(|v| match v {
                Some(v) => Cell::text(&v.to_string()),
                None => Cell::missing(),
            }));
            table.push(row);
        }
    }
    let mut text = if any {
        table.render(ctx.width, ctx.palette)
    } else {
        "no differences\n".to_owned()
    };
    let equal: Vec<String> = diff
        .equal
        .each()
        .iter()
        .map(|(title, n)| format!("{n} {title} equal"))
        .collect();
    text.push('\n');
    text.push_str(&equal.join(", "));
    text.push('\n');
    text
}
