//! Filter expressions: ask any question of the runs.
//!
//! The language is described on [`Filter`].

mod eval;
mod lexer;
mod parser;
mod print;
mod time;

use std::fmt;

pub(crate) use eval::RunView;

use crate::field::Field;
use crate::value::Value;

/// A parsed filter expression: ask any question of the runs.
///
/// ```text
/// (tags has 'dino' or tags has 'byol') and hparams.optim.lr in (0.1, 0.01)
///     and summary.val_acc > 0.8 and created_at > -7d and not tags has 'debug'
/// ```
///
/// # Language
///
/// - Fields: `run_id`, `status`, `alive`, `tags`, `notes`, `run_dir`,
///   `checkpoint_path`, `created_at`, `updated_at`, `ended_at`, and
///   `summary.<k>`, `hparams.<k>`, `config.<k>`, where `<k>` is the whole
///   flattened key after the first dot. A key with characters outside
///   `[A-Za-z0-9_.:/-]` is written in backticks: ``summary.`top-1 acc` ``.
/// - Literals: numbers (`0.01`, `1e-4`, `-3`), strings in single or double
///   quotes, `true`, `false`, `null`. For the time fields also dates and
///   date-times in UTC (`2026-11-01`, `2026-11-01T12:00`, `...T12:00:30Z`)
///   and times relative to now (`-7d`, `-12h`, `-30m`, `-45s`, `-2w`).
/// - Comparisons: `= != < <= > >=`; `in (a, b, ...)`, `not in (...)`; glob
///   match `~` with `*` and `?`; `tags has 'x'`; `exists f`, `not exists f`.
/// - Logic: `and`, `or`, `not` and parentheses; `not` binds tighter than
///   `and`, which binds tighter than `or`. Keywords are case-insensitive.
///
/// # Semantics
///
/// Numbers compare numerically across ints and floats; strings compare
/// bytewise; booleans and `null` only with `=` and `!=`. **A comparison whose
/// field is missing, `NaN`, or of another type than the literal is false**,
/// never an error: so `summary.x != 1` is false for runs without `x`, and
/// `not (summary.x > 1)` holds for them. `exists f` is true when `f` is
/// present with a value other than `null`. On `tags`, `has`, `=`, `~` and
/// `in` hold when any tag matches; `exists tags` when there is at least one.
///
/// # Examples
///
/// ```
/// use runreg::Filter;
///
/// let f = Filter::parse("status = 'completed' and summary.val_acc > 0.8")?;
/// assert_eq!(f.to_string(), "status = 'completed' and summary.val_acc > 0.8");
///
/// let err = Filter::parse("sumary.acc > 1").unwrap_err();
/// assert!(err.to_string().contains("did you mean `summary.`?"));
/// # Ok::<(), runreg::FilterError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// `field op literal`.
    Compare {
        /// The field compared.
        field: Field,
        /// The comparison.
        op: CmpOp,
        /// What it is compared with.
        literal: Literal,
    },
    /// `field in (...)`, or `field not in (...)` when `negated`.
    In {
        /// The field tested.
        field: Field,
        /// The values accepted.
        literals: Vec<Literal>,
        /// `not in`.
        negated: bool,
    },
    /// `field ~ 'glob'`.
    Glob {
        /// The field matched.
        field: Field,
        /// The pattern: `*` any run of characters, `?` one character.
        pattern: String,
    },
    /// `tags has 'x'`.
    HasTag(String),
    /// `exists field`.
    Exists(Field),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal in a filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A number, string, boolean or `null`.
    Value(Value),
    /// A time for the time fields.
    Time(TimeLiteral),
}

/// A time literal, kept as written so that it prints back the same.
#[derive(Clone, Debug, PartialEq)]
pub enum TimeLiteral {
    /// `-7d`: `amount` units before now (`unit` one of `s m h d w`).
    Relative {
        /// How many units.
        amount: u64,
        /// `s`, `m`, `h`, `d` or `w`.
        unit: char,
    },
    /// A UTC date or date-time.
    Absolute {
        /// As written.
        text: String,
        /// Epoch seconds.
        epoch: f64,
    },
}

impl TimeLiteral {
    /// Epoch seconds, relative ones counted back from `now`.
    pub fn resolve(&self, now: f64) -> f64 {
        match self {
            TimeLiteral::Absolute { epoch, .. } => *epoch,
            TimeLiteral::Relative { amount, unit } => {
                now - *amount as f64 * time::unit_seconds(*unit)
            }
        }
    }
}

impl Filter {
    /// Parses an expression.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] saying what was expected and where, with the
    /// expression and a caret under the column.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        parser::parse(text)
    }

    /// The fields the filter names, in order of appearance.
    pub fn fields(&self) -> Vec<&Field> {
        let mut out = Vec::new();
        self.visit_fields(&mut |f| out.push(f));
        out
    }

    fn visit_fields<'a>(&'a self, visit: &mut impl FnMut(&'a Field)) {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.visit_fields(visit);
                b.visit_fields(visit);
            }
            Filter::Not(inner) => inner.visit_fields(visit),
            Filter::Compare { field, .. }
            | Filter::In { field, .. }
            | Filter::Glob { field, .. }
            | Filter::Exists(field) => visit(field),
            Filter::HasTag(_) => visit(&Field::Tags),
        }
    }

    /// The top-level conjuncts: `a and b and c` gives `[a, b, c]`.
    pub(crate) fn conjuncts(&self) -> Vec<&Filter> {
        match self {
            Filter::And(a, b) => {
                let mut out = a.conjuncts();
                out.extend(b.conjuncts());
                out
            }
            other => vec![other],
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Filter, FilterError> {
        Filter::parse(text)
    }
}

/// Why an expression could not be parsed: the message, then the expression
/// with a caret under the column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    expression: String,
    /// Byte offset of the problem.
    offset: usize,
    message: String,
}

impl FilterError {
    pub(crate) fn new(expression: &str, offset: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            expression: expression.to_owned(),
            offset: offset.min(expression.len()),
            message: message.into(),
        }
    }

    /// What went wrong, without the expression.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The column (1-based, in characters) where it went wrong.
    pub fn column(&self) -> usize {
        self.expression
            .get(..self.offset)
            .map_or(self.offset, |before| before.chars().count())
            + 1
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Control characters would break the caret's alignment.
        let shown: String = self
            .expression
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        write!(
            f,
            "{} at column {}\n  {}\n  {}^",
            self.message,
            self.column(),
            shown,
            " ".repeat(self.column() - 1)
        )
    }
}

impl std::error::Error for FilterError {}

#[cfg(test)]
pub(crate) mod tests;
