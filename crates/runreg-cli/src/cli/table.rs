//! Aligned tables that fit the terminal.
//!
//! Width policy: when stdout is a terminal, a table fits its width (or
//! `$COLUMNS` when set): first optional columns are left out, then free-text
//! cells (tags, paths, notes, hparams) are cut with `…`. When stdout is not
//! a terminal nothing is cut (unless `$COLUMNS` is set), so scripts and
//! pagers get whole values.

use std::io::IsTerminal as _;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::cell::{Cell, CellKind};
use super::color::{self, Palette};

/// The width to fit tables in: `$COLUMNS`, else the terminal's when stdout
/// is one, else none (no truncation).
pub fn output_width(stdout_is_terminal: bool) -> Option<usize> {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&w| w > 0);
    from_env.or_else(|| {
        stdout_is_terminal
            .then(terminal_size)
            .flatten()
            .map(|(w, _)| w)
    })
}

/// The terminal's (width, height) when stdout is one.
pub fn terminal_size() -> Option<(usize, usize)> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(out).map(|(w, h)| (usize::from(w.0), usize::from(h.0)))
}

/// How a column gives way when the table is too wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Never cut (ids, numbers, times).
    Keep,
    /// Cells may be cut to fit, with `…`.
    Shrink,
    /// Left out entirely when the table does not fit (columns runreg chose,
    /// not ones the user asked for).
    Optional,
}

/// A column's header and how it fits.
#[derive(Clone, Debug)]
pub struct Header {
    pub title: String,
    pub fit: Fit,
}

/// A table: headers and rows of cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<Header>,
    rows: Vec<Vec<Cell>>,
}

/// Columns are separated by this many spaces.
const GAP: usize = 2;
/// A shrinkable column keeps at least this many characters (or its header's).
const MIN_SHRUNK: usize = 8;
/// Optional columns are left out before a shrinkable one is cut below this.
const COMFORTABLE: usize = 24;

impl Table {
    pub fn new(headers: Vec<Header>) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.headers.len());
        self.rows.push(row);
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        self.rows.truncate(n);
    }

    /// The table as text, one line per row after the header line, fitted
    /// to `width` when given.
    pub fn render(&self, width: Option<usize>, palette: Palette) -> String {
        let natural: Vec<usize> = (0..self.headers.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].text.width())
                    .chain([self.headers[c].title.width()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let (shown, widths) = self.layout(&natural, width);
        let right: Vec<bool> = (0..self.headers.len())
            .map(|c| {
                let mut kinds = self.rows.iter().map(|r| r[c].kind);
                kinds.clone().any(|k| k == CellKind::Number) && kinds.all(|k| k != CellKind::Text)
            })
            .collect();

        let mut text = String::new();
        let header_cells: Vec<Cell> = self
            .headers
            .iter()
            .map(|h| Cell::styled(h.title.clone(), color::HEADER))
            .collect();
        for row in std::iter::once(&header_cells).chain(&self.rows) {
            let last = shown.len().saturating_sub(1);
            let mut line = String::new();
            for (i, &c) in shown.iter().enumerate() {
                let cell = &row[c];
                let cut = truncate(&cell.text, widths[c]);
                let pad = widths[c].saturating_sub(cut.width());
                let painted = palette.paint(&cut, cell.style);
                if right[c] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&painted);
                } else {
                    line.push_str(&painted);
                    if i != last {
                        line.push_str(&" ".repeat(pad));
                    }
                }
                if i != last {
                    line.push_str(&" ".repeat(GAP));
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// Which columns to show and how wide each is, to fit in `width`.
    fn layout(&self, natural: &[usize], width: Option<usize>) -> (Vec<usize>, Vec<usize>) {
        let mut shown: Vec<usize> = (0..natural.len()).collect();
        let mut widths = natural.to_vec();
        let Some(width) = width else {
            return (shown, widths);
        };
        let total = |shown: &[usize], widths: &[usize]| {
            shown.iter().map(|&c| widths[c]).sum::<usize>() + GAP * shown.len().saturating_sub(1)
        };
        // A shrinkable column is cut to `comfortable` before an optional
        // column is left out, and to `min` only after.
        let floor = |c: usize, least: usize| match self.headers[c].fit {
            Fit::Shrink => natural[c].min(least.max(self.headers[c].title.width())),
            _ => natural[c],
        };
        let min = |c: usize| floor(c, MIN_SHRUNK);
        let comfortable = |c: usize| floor(c, COMFORTABLE);
        // Leave out optional columns, rightmost first, while cutting the
        // rest to a comfortable width would not make the table fit.
        loop {
            let smallest: usize = shown.iter().map(|&c| comfortable(c)).sum::<usize>()
                + GAP * shown.len().saturating_sub(1);
            if smallest <= width {
                break;
            }
            match shown
                .iter()
                .rposition(|&c| self.headers[c].fit == Fit::Optional)
            {
                Some(i) => {
                    shown.remove(i);
                }
                None => break,
            }
        }
        // Then cut the widest shrinkable columns, a character at a time.
        let mut excess = total(&shown, &widths).saturating_sub(width);
        while excess > 0 {
            let widest = shown
                .iter()
                .copied()
                .filter(|&c| self.headers[c].fit == Fit::Shrink && widths[c] > min(c))
                .max_by_key(|&c| (widths[c], std::cmp::Reverse(c)));
            let Some(c) = widest else { break };
            widths[c] -= 1;
            excess -= 1;
        }
        (shown, widths)
    }
}

/// `text` cut to `width` display columns, ending in `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::arg_groups::ColorChoice;

    fn table() -> Table {
        let mut t = Table::new(vec![
            Header {
                title: "run_id".into(),
                fit: Fit::Keep,
            },
            Header {
                title: "tags".into(),
                fit: Fit::Shrink,
            },
            Header {
                title: "acc".into(),
                fit: Fit::Optional,
            },
        ]);
        t.push(vec![
            Cell::text("r1"),
            Cell::text("resnet50,sweep:12345,baseline"),
            Cell::number("0.9".into()),
        ]);
        t.push(vec![Cell::text("r22"), Cell::missing(), Cell::missing()]);
        t
    }

    fn plain() -> Palette {
        Palette::new(ColorChoice::Never, false)
    }

    #[test]
    fn unlimited_tables_keep_every_value_and_align_numbers_right() {
        assert_eq!(
            table().render(None, plain()),
            "run_id  tags                           acc\n\
             r1      resnet50,sweep:12345,baseline  0.9\n\
             r22     -                                -\n"
        );
    }

    #[test]
    fn narrow_tables_cut_free_text_then_leave_out_optional_columns() {
        assert_eq!(
            table().render(Some(40), plain()),
            "run_id  tags                         acc\n\
             r1      resnet50,sweep:12345,basel…  0.9\n\
             r22     -                              -\n"
        );
        // Tags would have to go below 24 characters: acc goes first.
        assert_eq!(
            table().render(Some(30), plain()),
            "run_id  tags\n\
             r1      resnet50,sweep:12345,…\n\
             r22     -\n"
        );
        assert_eq!(
            table().render(Some(18), plain()),
            "run_id  tags\n\
             r1      resnet50,…\n\
             r22     -\n"
        );
    }

    #[test]
    fn truncation_counts_display_width() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("数据集合", 5), "数据…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
