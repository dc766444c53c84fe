//! `runreg ui`: serves the page (the `runreg-ui` package) and prints its
//! URL, token included.

use std::io::{ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::Duration;

use clap::Args;
use runreg_ui::{DEFAULT_THREADS, Live, Server};

use super::{Context, Failure};

/// The port tried first when none is given; a free one when it is taken.
const DEFAULT_PORT: u16 = 8765;

#[derive(Debug, Args)]
#[command(after_help = "\
The page shows the runs table (--where filters, sorting, columns), the \
sweep view (parallel coordinates and a scatter of a metric against an \
hparam) and each run's metric curves; it rescans the tree every few \
seconds while it is open (not with the global --no-scan, which serves the \
cache as it is). It only reads: nothing on the page writes.

The URL carries a random token; requests without it are refused, as are \
requests naming another host (DNS rebinding). The page listens on \
127.0.0.1 unless --host says otherwise.

Examples:
  runreg ui
  runreg ui --port 0 --open
  runreg --cache-dir examples/cache ui")]
pub struct UiArgs {
    /// Port to listen on; 0 picks a free one [default: 8765, or a free one when it is taken]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Address to listen on [default: 127.0.0.1]; any other exposes the page
    /// to that network, guarded by the token alone
    #[arg(long, value_name = "ADDR")]
    pub host: Option<IpAddr>,

    /// Open the page in the default browser
    #[arg(long)]
    pub open: bool,

    /// Seconds between rescans of the tree while the page is viewed
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    pub scan_interval: f64,
}

pub fn run(ctx: &Context, args: UiArgs) -> Result<(), Failure> {
    if !(args.scan_interval.is_finite() && (0.0..=86_400.0).contains(&args.scan_interval)) {
        return Err(Failure::usage(
            "--scan-interval must be a number of seconds between 0 and 86400",
        ));
    }
    let host = args.host.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if !host.is_loopback() {
        eprintln!(
            "runreg: warning: listening on {host}, not on loopback: anyone who can reach it and \
             has the URL's token can read every run"
        );
    }
    let listener = listen(host, args.port)?;
    let interval = Duration::from_secs_f64(args.scan_interval);
    let builder = ctx.builder()?;
    let live = ctx
        .with_bar(|| Live::open(builder, ctx.scans(), interval))
        .map_err(|e| ctx.explain(e))?;
    let server = Server::new(listener, live, DEFAULT_THREADS)
        .map_err(|e| Failure::failed(format!("cannot serve the page: {e}")))?;
    let url = server.url();
    // The URL alone on stdout, for scripts; the rest on stderr.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{url}")
        .and_then(|()| out.flush())
        .map_err(super::output::write_failure)?;
    drop(out);
    ctx.note("serving the page at the URL above; Ctrl-C stops it");
    if args.open {
        open_browser(&url, ctx);
    }
    server.serve();
    Ok(())
}

/// A listener on `host:port`; without a port, on [`DEFAULT_PORT`] or,
/// when that is taken, on a free port.
fn listen(host: IpAddr, port: Option<u16>) -> Result<TcpListener, Failure> {
    let bind = |port: u16| TcpListener::bind((host, port));
    let bound = match port {
        Some(port) => bind(port),
        None => match bind(DEFAULT_PORT) {
            Err(e) if e.kind() == ErrorKind::AddrInUse => bind(0),
            other => other,
        },
    };
    bound.map_err(|e| {
        let port = port.map_or_else(|| DEFAULT_PORT.to_string(), |p| p.to_string());
        Failure::failed(format!("cannot listen on {host}:{port}: {e}"))
    })
}

/// Hands `url` to the desktop's opener; a failure is only a note (the URL
/// is printed anyway).
fn open_browser(url: &str, ctx: &Context) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        ctx.note(&format!(
            "cannot open a browser ({opener}: {e}); open the URL above"
        ));
    }
}
