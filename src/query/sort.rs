//! Sort specs: the fields a query orders by, their directions, and the
//! order itself.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::field::{Field, FieldError};
use crate::value::Value;

/// A field to sort by, with its direction.
///
/// Any field but `tags` sorts (see [`Field`] for how names are written:
/// `hparams.optim.lr` is the hparam named `optim.lr`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SortSpec {
    /// What to sort by.
    pub key: Field,
    /// Largest first when `true`.
    pub descending: bool,
}

impl SortSpec {
    /// Largest first.
    pub fn desc(key: Field) -> SortSpec {
        SortSpec {
            key,
            descending: true,
        }
    }

    /// Smallest first.
    pub fn asc(key: Field) -> SortSpec {
        SortSpec {
            key,
            descending: false,
        }
    }
}

impl FromStr for SortSpec {
    type Err = Error;

    /// `FIELD`, `FIELD:desc` or `FIELD:asc`; descending when no direction
    /// is given.
    ///
    /// ```
    /// use runreg::{Field, SortSpec};
    ///
    /// let spec: SortSpec = "summary.val_acc:asc".parse()?;
    /// assert_eq!(spec, SortSpec::asc(Field::Summary("val_acc".into())));
    /// let list = SortSpec::parse_list("summary.val_acc:desc, created_at:asc")?;
    /// assert_eq!(list[1], SortSpec::asc(Field::CreatedAt));
    /// assert!("tags".parse::<SortSpec>().is_err());
    /// # Ok::<(), runreg::Error>(())
    /// ```
    fn from_str(text: &str) -> Result<SortSpec, Error> {
        let text = text.trim();
        let (name, descending) = if let Some(name) = text.strip_suffix(":asc") {
            (name, false)
        } else if let Some(name) = text.strip_suffix(":desc") {
            (name, true)
        } else {
            (text, true)
        };
        let key: Field = name.parse()?;
        if !key.is_sortable() {
            return Err(FieldError {
                field: name.to_owned(),
                reason: "runs are not sorted by their tags; sort by another column or a summary, hparams or config key".to_owned(),
            }
            .into());
        }
        Ok(SortSpec { key, descending })
    }
}

impl SortSpec {
    /// A comma-separated list of sort specs, most significant first.
    pub fn parse_list(text: &str) -> Result<Vec<SortSpec>, Error> {
        text.split(',').map(str::parse).collect()
    }
}

impl fmt::Display for SortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.key,
            if self.descending { "desc" } else { "asc" }
        )
    }
}

/// Orders two runs' values for one sort spec: missing values (absent,
/// `null`, `NaN`) last in both directions, present ones by
/// [`Value::sort_cmp`], reversed when descending.
pub(crate) fn compare(a: Option<&Value>, b: Option<&Value>, descending: bool) -> Ordering {
    let a = a.filter(|v| !v.is_missing());
    let b = b.filter(|v| !v.is_missing());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) if descending => b.sort_cmp(a),
        (Some(a), Some(b)) => a.sort_cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_parse_and_print_back() {
        for text in ["summary.val.acc:desc", "created_at:asc", "config.a.b:asc"] {
            let spec: SortSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!(
            " hparams.optim.lr ".parse::<SortSpec>().unwrap(),
            SortSpec::desc(Field::Hparam("optim.lr".into()))
        );
    }

    #[test]
    fn tags_and_unknown_fields_are_refused_with_a_reason() {
        let err = "tags:asc".parse::<SortSpec>().unwrap_err().to_string();
        assert!(err.contains("not sorted by their tags"), "{err}");
        let err = "metrics.acc".parse::<SortSpec>().unwrap_err().to_string();
        assert!(err.contains("not one of summary, hparams, config"), "{err}");
    }

    #[test]
    fn missing_and_nan_sort_last_in_both_directions() {
        let one = Value::Float(1.0);
        let nan = Value::Float(f64::NAN);
        for descending in [true, false] {
            assert_eq!(compare(Some(&one), None, descending), Ordering::Less);
            assert_eq!(compare(Some(&one), Some(&nan), descending), Ordering::Less);
            assert_eq!(
                compare(Some(&Value::Null), Some(&one), descending),
                Ordering::Greater
            );
            assert_eq!(compare(None, Some(&nan), descending), Ordering::Equal);
        }
        assert_eq!(
            compare(Some(&one), Some(&Value::Int(2)), true),
            Ordering::Greater
        );
        assert_eq!(
            compare(Some(&one), Some(&Value::Int(2)), false),
            Ordering::Less
        );
    }
}
