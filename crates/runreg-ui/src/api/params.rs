//! Query parameters shared by the endpoints: `where`, `sort`, numbers,
//! columns, run ids.

use runreg::{Error, Field, Filter, Query, SortSpec};

use super::Problem;
use crate::target::Target;

/// The runs `where` keeps, in the order `sort` says (`sort=summary.val_acc:desc,hparams.lr:asc`).
pub fn query(target: &Target) -> Result<Query, Problem> {
    let mut query = Query::new();
    if let Some(text) = target.get("where").filter(|w| !w.trim().is_empty()) {
        query = query.filter(Filter::parse(text).map_err(Error::from)?);
    }
    if let Some(text) = target.get("sort").filter(|s| !s.trim().is_empty()) {
        for spec in SortSpec::parse_list(text)? {
            query = query.sort(spec);
        }
    }
    Ok(query)
}

/// Parameter `name` as a count: `default` when absent, at most `max`.
pub fn count(target: &Target, name: &str, default: usize, max: usize) -> Result<usize, Problem> {
    match target.get(name) {
        None | Some("") => Ok(default.min(max)),
        Some(text) => text.parse::<usize>().map(|n| n.min(max)).map_err(|_| {
            Problem::new(
                400,
                format!("{name} must be a whole number >= 0, not {text:?}"),
            )
        }),
    }
}

/// The fields named by `columns=a,b,c` (`default` when absent).
pub fn fields(
    target: &Target,
    name: &str,
    default: &[&str],
    max: usize,
) -> Result<Vec<Field>, Problem> {
    let names: Vec<&str> = match target.get(name) {
        Some(text) if !text.trim().is_empty() => text.split(',').map(str::trim).collect(),
        _ => default.to_vec(),
    };
    if names.len() > max {
        return Err(Problem::new(400, format!("at most {max} {name}")));
    }
    names
        .iter()
        .map(|n| {
            n.parse::<Field>()
                .map_err(|e| Problem::from(Error::from(e)))
        })
        .collect()
}

/// A run id from the path. The id only ever goes to the registry, which
/// looks it up in the cache; still, what could never be a run directory's
/// name (a separator, `..`, a NUL, control characters) is refused outright.
pub fn run_id(id: &str) -> Result<&str, Problem> {
    let bad = id.is_empty()
        || id.len() > 512
        || id == "."
        || id == ".."
        || id.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(Problem::new(400, "not a run id"));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_tricks_are_not_run_ids() {
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "a\0",
            "\n",
            &"x".repeat(513),
        ] {
            assert!(run_id(bad).is_err(), "{bad:?}");
        }
        for good in ["7f3a", "run-2026.11.01", "a..b"] {
            assert_eq!(run_id(good).unwrap(), good);
        }
    }

    #[test]
    fn counts_are_capped_and_checked() {
        let t = Target::parse("/?limit=5000&offset=x").unwrap();
        assert_eq!(count(&t, "limit", 100, 1000).unwrap(), 1000);
        assert_eq!(count(&t, "offset", 0, usize::MAX).unwrap_err().status, 400);
        assert_eq!(count(&t, "points", 500, 5000).unwrap(), 500);
    }
}
