//! Rendering answers: tables for people, JSON for scripts.

use std::fmt::Write as _;
use std::io;
use std::process::ExitCode;

use runreg::{RunRecord, SortKey, Value};
use serde::Serialize;

use super::write_stdout;

/// Prints `text`; a closed pipe ends quietly with success.
pub fn emit(text: &str) -> ExitCode {
    match write_stdout(text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runreg: cannot write output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Pretty JSON (RFC 8259: non-finite floats are strings) and a newline.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("\"unserializable: {e}\""));
    text.push('\n');
    text
}

/// Seconds since `then`, as people say it: `42s ago`, `3h ago`.
pub fn age(then: f64, now: f64) -> String {
    let secs = now - then;
    if !secs.is_finite() {
        return "-".to_owned();
    }
    if secs < 0.0 {
        return "in the future".to_owned();
    }
    let secs = secs as u64;
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A table of runs: run_id, status, alive, age, tags, and the sort value
/// when sorting by a metric, hparam or config entry.
pub fn run_table(runs: &[RunRecord], sort: Option<&SortKey>) -> String {
    let now = now();
    let extra = sort.filter(|k| !matches!(k, SortKey::Column(_)));
    let mut header = vec![
        "RUN_ID".to_owned(),
        "STATUS".to_owned(),
        "ALIVE".to_owned(),
        "CREATED".to_owned(),
        "TAGS".to_owned(),
    ];
    if let Some(key) = extra {
        header.push(key.to_string().to_uppercase());
    }
    let mut rows = vec![header];
    for run in runs {
        let mut row = vec![
            run.run_id.clone(),
            run.status.to_string(),
            if run.alive { "yes" } else { "no" }.to_owned(),
            age(run.created_at, now),
            run.tags.join(","),
        ];
        if let Some(key) = extra {
            row.push(sort_cell(run, key));
        }
        rows.push(row);
    }
    let mut text = align(&rows);
    let _ = writeln!(
        text,
        "{} run{}",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    );
    text
}

fn sort_cell(run: &RunRecord, key: &SortKey) -> String {
    let value = match key {
        SortKey::Summary(k) => run.summary.get(k),
        SortKey::Hparam(k) => run.hparams.get(k),
        SortKey::Config(k) => run.config.get(k),
        SortKey::Column(_) => None,
    };
    value.map_or_else(|| "-".to_owned(), Value::to_string)
}

/// Left-aligned columns separated by two spaces.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// One run, field by field.
pub fn run_details(run: &RunRecord) -> String {
    let now = now();
    let mut rows: Vec<Vec<String>> = vec![
        vec!["run_id".into(), run.run_id.clone()],
        vec!["status".into(), run.status.to_string()],
        vec![
            "alive".into(),
            match run.heartbeat_at {
                Some(beat) => format!(
                    "{} (heartbeat {})",
                    if run.alive { "yes" } else { "no" },
                    age(beat, now)
                ),
                None => format!("{} (no heartbeat)", if run.alive { "yes" } else { "no" }),
            },
        ],
        vec![
            "created_at".into(),
            format!(
                "{} ({})",
                Value::Float(run.created_at),
                age(run.created_at, now)
            ),
        ],
        vec![
            "updated_at".into(),
            format!(
                "{} ({})",
                Value::Float(run.updated_at),
                age(run.updated_at, now)
            ),
        ],
        vec![
            "ended_at".into(),
            run.ended_at.map_or("-".into(), |t| {
                format!("{} ({})", Value::Float(t), age(t, now))
            }),
        ],
        vec!["run_dir".into(), run.run_dir.clone()],
        vec![
            "checkpoint".into(),
            run.checkpoint_path.clone().unwrap_or_else(|| "-".into()),
        ],
        vec!["tags".into(), run.tags.join(", ")],
        vec!["notes".into(), run.notes.clone()],
    ];
    for (section, map) in [
        ("summary", &run.summary),
        ("hparams", &run.hparams),
        ("config", &run.config),
    ] {
        for (k, v) in map {
            rows.push(vec![format!("{section}.{k}"), v.to_string()]);
        }
    }
    align(&rows)
}
