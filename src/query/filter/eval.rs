//! Evaluating a filter against one run.

use std::cmp::Ordering;

use super::{CmpOp, Filter, Literal};
use crate::field::{Field, Part, lookup_nested};
use crate::store::{Cold, HotRef, ValueRef, lookup};
use crate::value::Value;

/// The parts of a run a filter reads. `hparams` and `cold` are only
/// decoded when the filter names them (see [`Filter::needs`]).
pub(crate) struct RunView<'a> {
    pub run_id: &'a str,
    pub hot: &'a HotRef<'a>,
    pub alive: bool,
    /// The hparams section's entries, in key order (empty when not decoded).
    pub hparams: &'a [(&'a [u8], ValueRef<'a>)],
    pub cold: Option<&'a Cold>,
    /// Epoch seconds, for relative times.
    pub now: f64,
}

/// A field's value, borrowed.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Value(&'a Value),
    Ref(ValueRef<'a>),
    Str(&'a str),
    Num(f64),
    Bool(bool),
}

/// What a filter needs decoded beyond the hot section.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// Tags or summary.
    pub hot: bool,
    pub hparams: bool,
    pub cold: bool,
}

impl Filter {
    /// Which sections of a record the filter reads.
    pub(crate) fn needs(&self) -> Needs {
        let mut needs = Needs::default();
        for field in self.fields() {
            match field.part() {
                Part::Hparams => needs.hparams = true,
                Part::Cold => needs.cold = true,
                Part::Hot => needs.hot = true,
                Part::Head => {}
            }
        }
        needs
    }

    /// Whether the run satisfies the filter.
    pub(crate) fn matches(&self, run: &RunView<'_>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(run) && b.matches(run),
            Filter::Or(a, b) => a.matches(run) || b.matches(run),
            Filter::Not(inner) => !inner.matches(run),
            Filter::HasTag(tag) => run.hot.tags.iter().any(|t| t == tag),
            Filter::Exists(Field::Tags) => !run.hot.tags.is_empty(),
            Filter::Exists(field) => scalar(field, run).is_some_and(|s| {
                !matches!(s, Scalar::Value(Value::Null) | Scalar::Ref(ValueRef::Null))
            }),
            Filter::Compare {
                field: Field::Tags,
                op,
                literal,
            } => {
                let has = run.hot.tags.iter().any(|t| literal_is_str(literal, t));
                match op {
                    CmpOp::Eq => has,
                    CmpOp::Ne => !has,
                    _ => false,
                }
            }
            Filter::Compare { field, op, literal } => {
                scalar(field, run).is_some_and(|s| compare(s, *op, literal, run.now))
            }
            Filter::In {
                field: Field::Tags,
                literals,
                negated,
            } => {
                let any = run
                    .hot
                    .tags
                    .iter()
                    .any(|t| literals.iter().any(|l| literal_is_str(l, t)));
                any != *negated
            }
            Filter::In {
                field,
                literals,
                negated,
            } => match scalar(field, run) {
                Some(s) if !is_nan(s) => {
                    literals.iter().any(|l| compare(s, CmpOp::Eq, l, run.now)) != *negated
                }
                _ => false,
            },
            Filter::Glob {
                field: Field::Tags,
                pattern,
            } => run.hot.tags.iter().any(|t| glob(pattern, t)),
            Filter::Glob { field, pattern } => match scalar(field, run) {
                Some(Scalar::Str(s)) => glob(pattern, s),
                Some(Scalar::Value(Value::Str(s))) => glob(pattern, s),
                Some(Scalar::Ref(ValueRef::Str(s))) => glob(pattern, s),
                _ => false,
            },
        }
    }
}

fn literal_is_str(literal: &Literal, s: &str) -> bool {
    matches!(literal, Literal::Value(Value::Str(l)) if **l == *s)
}

fn is_nan(s: Scalar<'_>) -> bool {
    match s {
        Scalar::Num(x) => x.is_nan(),
        Scalar::Value(Value::Float(x)) => x.is_nan(),
        Scalar::Ref(ValueRef::Float(x)) => x.is_nan(),
        _ => false,
    }
}

/// A field's value in a stored run, borrowed from its decoded parts; `None`
/// when the run lacks it or its part was not decoded. Tags are not a
/// scalar: filters test them one by one. (A [`RunRecord`](crate::RunRecord)
/// is read by [`Field::get`].)
fn scalar<'a>(field: &Field, run: &RunView<'a>) -> Option<Scalar<'a>> {
    let hot = run.hot;
    Some(match field {
        Field::Summary(k) => Scalar::Ref(hot.metric(k)?),
        Field::Hparam(k) => Scalar::Ref(lookup(run.hparams, k)?),
        Field::Config(k) => Scalar::Value(lookup_nested(&run.cold?.config, k)?),
        Field::Tags => return None,
        Field::RunId => Scalar::Str(run.run_id),
        Field::Status => Scalar::Str(hot.status.as_str()),
        Field::Alive => Scalar::Bool(run.alive),
        Field::CreatedAt => Scalar::Num(hot.created_at),
        Field::UpdatedAt => Scalar::Num(hot.updated_at),
        Field::EndedAt => Scalar::Num(hot.ended_at?),
        Field::RunDir => Scalar::Str(&run.cold?.run_dir),
        Field::CheckpointPath => Scalar::Str(run.cold?.checkpoint_path.as_deref()?),
        Field::Notes => Scalar::Str(&run.cold?.notes),
    })
}

impl RunView<'_> {
    /// The run's value of `field`, owned (a sort key's value); `None` when
    /// missing, and for `tags`.
    pub(crate) fn value(&self, field: &Field) -> Option<Value> {
        match scalar(field, self)? {
            Scalar::Value(v) => Some(v.clone()),
            Scalar::Ref(v) => v.to_value(),
            Scalar::Str(s) => Some(Value::from(s)),
            Scalar::Num(x) => Some(Value::Float(x)),
            Scalar::Bool(b) => Some(Value::Bool(b)),
        }
    }
}

/// `value op literal`; false across types, for NaN, and for orderings of
/// booleans and nulls.
fn compare(value: Scalar<'_>, op: CmpOp, literal: &Literal, now: f64) -> bool {
    let resolved;
    let literal = match literal {
        Literal::Time(t) => {
            resolved = Value::Float(t.resolve(now));
            &resolved
        }
        Literal::Value(v) => v,
    };
    let value = match value {
        Scalar::Value(v) => v.clone_scalar(),
        Scalar::Ref(v) => match v {
            ValueRef::Int(i) => Plain::Num(Value::Int(i)),
            ValueRef::Float(x) => Plain::Num(Value::Float(x)),
            ValueRef::Str(s) => Plain::Str(s),
            ValueRef::Bool(b) => Plain::Bool(b),
            ValueRef::Null => Plain::Null,
            ValueRef::Nested => Plain::Other,
        },
        Scalar::Str(s) => Plain::Str(s),
        Scalar::Num(x) => Plain::Num(Value::Float(x)),
        Scalar::Bool(b) => Plain::Bool(b),
    };
    let ordering = match (value, literal) {
        (Plain::Num(a), Value::Int(_) | Value::Float(_)) => {
            if a.is_missing() || literal.is_missing() {
                return false;
            }
            a.sort_cmp(literal)
        }
        (Plain::Str(a), Value::Str(b)) => a.cmp(&**b),
        (Plain::Bool(a), Value::Bool(b)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => a.cmp(b),
        (Plain::Null, Value::Null) if matches!(op, CmpOp::Eq | CmpOp::Ne) => Ordering::Equal,
        _ => return false,
    };
    match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
    }
}

/// A stored value reduced to what comparisons use (no allocation).
enum Plain<'a> {
    Num(Value),
    Str(&'a str),
    Bool(bool),
    Null,
    Other,
}

impl Value {
    fn clone_scalar(&self) -> Plain<'_> {
        match self {
            Value::Int(i) => Plain::Num(Value::Int(*i)),
            Value::Float(x) => Plain::Num(Value::Float(*x)),
            Value::Str(s) => Plain::Str(s),
            Value::Bool(b) => Plain::Bool(*b),
            Value::Null => Plain::Null,
            Value::List(_) | Value::Map(_) => Plain::Other,
        }
    }
}

/// Glob match: `*` any run of characters (even none), `?` exactly one.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) && p[pi] != '*' {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}
