//! A table cell: a run's value as a table shows it (numbers compact and
//! right-aligned, control characters made spaces, missing values dim).

use anstyle::Style;
use runreg::Value;

use super::color::DIM;

/// One table cell: its text (control characters made spaces, so a cell
/// stays on its line and cannot drive the terminal), how to colour it, and
/// whether it is a number (numbers are right-aligned).
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub style: Style,
    pub kind: CellKind,
}

/// What a cell holds, for alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    Text,
    Number,
    /// Shown as a dim `-`.
    Missing,
}

impl Cell {
    pub fn text(text: &str) -> Cell {
        Cell::styled(text.to_owned(), Style::new())
    }

    pub fn styled(text: String, style: Style) -> Cell {
        Cell {
            text: sanitize(&text),
            style,
            kind: CellKind::Text,
        }
    }

    pub fn number(text: String) -> Cell {
        Cell {
            text,
            style: Style::new(),
            kind: CellKind::Number,
        }
    }

    pub fn missing() -> Cell {
        Cell {
            text: "-".to_owned(),
            style: DIM,
            kind: CellKind::Missing,
        }
    }

    /// A value as a table shows it: numbers compact (6 significant
    /// digits), `null` and `NaN` as they are.
    pub fn value(value: &Value) -> Cell {
        match value {
            Value::Int(i) => Cell::number(i.to_string()),
            Value::Float(f) if f.is_nan() => Cell {
                style: DIM,
                ..Cell::number("NaN".into())
            },
            Value::Float(f) => Cell::number(compact(*f)),
            Value::Null => Cell {
                text: "null".into(),
                ..Cell::missing()
            },
            other => Cell::text(&other.to_string()),
        }
    }
}

/// Text safe to put in a table row: control characters become spaces.
pub fn sanitize(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    } else {
        text.to_owned()
    }
}

/// A float in at most 6 significant digits, trailing zeros dropped:
/// `0.912346`, `1234.57`, `12`, `1.5e-7`, `Infinity`.
pub fn compact(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let magnitude = x.abs().log10().floor() as i32;
    if (-4..6).contains(&magnitude) {
        let decimals = (5 - magnitude).max(0) as usize;
        let text = format!("{x:.decimals$}");
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.')
        } else {
            &text
        };
        // Rounding can reach the next power of ten (999999.7 -> 1000000),
        // which is still exact to 6 digits.
        text.to_owned()
    } else {
        let text = format!("{x:.5e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if mantissa.contains('.') => {
                let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
                format!("{mantissa}e{exp}")
            }
            _ => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers_keep_six_significant_digits() {
        assert_eq!(compact(0.912_345_678), "0.912346");
        assert_eq!(compact(1234.5678), "1234.57");
        assert_eq!(compact(12.0), "12");
        assert_eq!(compact(-0.5), "-0.5");
        assert_eq!(compact(0.000_123_4), "0.0001234");
        assert_eq!(compact(1.5e-7), "1.5e-7");
        assert_eq!(compact(123_456_789.0), "1.23457e8");
        assert_eq!(compact(1e20), "1e20");
        assert_eq!(compact(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(compact(0.0), "0");
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(sanitize("a\nb\u{1b}[2J"), "a b [2J");
    }
}
