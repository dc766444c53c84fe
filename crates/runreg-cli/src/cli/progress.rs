//! The scan progress bar: on stderr, only when stderr is a terminal and not
//! `--quiet`, and only once a scan has taken longer than a second (quick
//! scans show nothing).

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use runreg::ScanProgress;

/// How long a scan runs before its progress shows.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress bar for the scans of one command; armed before each registry
/// call that may scan, finished (cleared) after it.
pub struct ScanBar {
    enabled: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    armed_at: Option<Instant>,
    bar: Option<ProgressBar>,
    walking: Option<bool>,
}

impl ScanBar {
    pub fn new(enabled: bool) -> ScanBar {
        ScanBar {
            enabled,
            state: Mutex::new(State::default()),
        }
    }

    /// A registry call that may scan starts now.
    pub fn arm(&self) {
        *self.state.lock() = State {
            armed_at: Some(Instant::now()),
            ..State::default()
        };
    }

    /// The scan reports progress (called from the scanning thread).
    pub fn update(&self, p: ScanProgress) {
        if !self.enabled {
            return;
        }
        let mut state = self.state.lock();
        let Some(armed_at) = state.armed_at else {
            return;
        };
        if state.bar.is_none() {
            if armed_at.elapsed() < SHOW_AFTER {
                return;
            }
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            state.bar = Some(bar);
        }
        let Some(bar) = state.bar.clone() else {
            return;
        };
        if state.walking != Some(p.walking) {
            state.walking = Some(p.walking);
            let template = if p.walking {
                "{spinner} scanning the run tree: {msg}"
            } else {
                "{spinner} reading sidecars {wide_bar} {pos}/{len} ({eta} left)"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
        }
        if p.walking {
            bar.set_message(format!(
                "{} sidecars found, {} checked",
                p.found, p.processed
            ));
        } else {
            bar.set_length(p.found as u64);
            bar.set_position(p.processed as u64);
        }
    }

    /// The call is over: clear the bar.
    pub fn finish(&self) {
        let mut state = self.state.lock();
        if let Some(bar) = state.bar.take() {
            bar.finish_and_clear();
        }
        state.armed_at = None;
    }
}
