//! Printing filters back as text that parses to the same filter.

use std::fmt;

use super::lexer::is_path_char;
use super::{CmpOp, Filter, Literal, TimeLiteral};
use crate::field::Field;
use crate::value::Value;

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `or` and `and` group to the left: a right operand of the same
            // kind needs parentheses to print back the same tree.
            Filter::Or(a, b) => {
                write!(f, "{a} or ")?;
                wrap(f, b, matches!(**b, Filter::Or(..)))
            }
            Filter::And(a, b) => {
                wrap(f, a, matches!(**a, Filter::Or(..)))?;
                f.write_str(" and ")?;
                wrap(f, b, matches!(**b, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Not(inner) => {
                f.write_str("not ")?;
                wrap(
                    f,
                    inner,
                    matches!(**inner, Filter::Or(..) | Filter::And(..)),
                )
            }
            Filter::Compare { field, op, literal } => {
                write!(f, "{} {op} {literal}", Quoted(field))
            }
            Filter::In {
                field,
                literals,
                negated,
            } => {
                write!(
                    f,
                    "{} {}in (",
                    Quoted(field),
                    if *negated { "not " } else { "" }
                )?;
                for (i, literal) in literals.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{literal}")?;
                }
                f.write_str(")")
            }
            Filter::Glob { field, pattern } => {
                write!(f, "{} ~ ", Quoted(field))?;
                quoted(f, pattern)
            }
            Filter::HasTag(tag) => {
                f.write_str("tags has ")?;
                quoted(f, tag)
            }
            Filter::Exists(field) => write!(f, "exists {}", Quoted(field)),
        }
    }
}

fn wrap(f: &mut fmt::Formatter<'_>, filter: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

fn quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("'")
}

/// A field as the filter language writes it: a key with characters outside
/// the plain ones in backticks.
struct Quoted<'a>(&'a Field);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.key() {
            Some(key) if !key.chars().all(is_path_char) => {
                write!(f, "{}.`{key}`", self.0.root())
            }
            _ => self.0.fmt(f),
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Time(TimeLiteral::Relative { amount, unit }) => write!(f, "-{amount}{unit}"),
            Literal::Time(TimeLiteral::Absolute { text, .. }) => f.write_str(text),
            Literal::Value(Value::Str(s)) => quoted(f, s),
            Literal::Value(Value::Float(x)) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "1e999" } else { "-1e999" })
            }
            // Debug keeps the `.0` of whole floats and round-trips exactly.
            Literal::Value(Value::Float(x)) => write!(f, "{x:?}"),
            Literal::Value(v) => write!(f, "{v}"),
        }
    }
}
