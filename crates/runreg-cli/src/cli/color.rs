//! Colour on stdout: only on a terminal, never with `NO_COLOR`, unless
//! `--color always` says otherwise.

use anstyle::{AnsiColor, Effects, Style};
use runreg::Status;

use super::arg_groups::ColorChoice;

/// Whether to colour, and the styles used.
#[derive(Clone, Copy, Debug)]
pub struct Palette {
    enabled: bool,
}

/// Table headers and section titles.
pub const HEADER: Style = Style::new().effects(Effects::BOLD);
/// Keys in `show`.
pub const KEY: Style = Style::new().effects(Effects::BOLD);
/// Missing values (`-`) and secondary text.
pub const DIM: Style = Style::new().effects(Effects::DIMMED);
/// A live run.
pub const ALIVE: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));

impl Palette {
    /// `--color auto` colours when stdout is a terminal and `NO_COLOR` is
    /// unset or empty (no-color.org); `always` and `never` are obeyed as said.
    pub fn new(choice: ColorChoice, stdout_is_terminal: bool) -> Palette {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let enabled = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_is_terminal && !no_color && !dumb,
        };
        Palette { enabled }
    }

    /// `text` in `style`, or as it is when colour is off.
    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.enabled && style != Style::new() && !text.is_empty() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }
}

/// The colour of a status.
pub fn status_style(status: &Status) -> Style {
    let color = match status {
        Status::Running => AnsiColor::Cyan,
        Status::Completed => AnsiColor::Green,
        Status::Failed => AnsiColor::Red,
        Status::Interrupted => AnsiColor::Yellow,
        Status::Orphaned => return DIM,
        _ => AnsiColor::Magenta,
    };
    Style::new().fg_color(Some(anstyle::Color::Ansi(color)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn painting_is_a_no_op_when_disabled() {
        let off = Palette { enabled: false };
        assert_eq!(off.paint("x", HEADER), "x");
        let on = Palette { enabled: true };
        assert_eq!(on.paint("x", HEADER), "\u{1b}[1mx\u{1b}[0m");
        assert_eq!(on.paint("", HEADER), "");
    }
}
