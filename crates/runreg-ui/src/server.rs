//! [`Server`]: the HTTP server: a listener, a few worker threads, and for
//! each request the gate, then an asset or an API answer.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use tiny_http::Request;

use crate::api;
use crate::assets;
use crate::gate::{Gate, TOKEN_HEADER};
use crate::live::Live;
use crate::reply::Reply;
use crate::target::Target;
use crate::token::Token;

/// Requests answered at once: a slow one (a long `metrics.csv`, a sweep of
/// 20,000 runs) does not hold up the table's pages.
pub const DEFAULT_THREADS: usize = 4;

/// The page's server, listening; [`Server::serve`] answers requests.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # std::fs::create_dir(dir.path().join("runs"))?;
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use std::time::Duration;
///
/// use runreg::Registry;
/// use runreg_ui::{Live, Server};
///
/// let live = Live::open(Registry::builder(dir.path()), true, Duration::from_secs(3))?;
/// let server = Server::new(TcpListener::bind("127.0.0.1:0")?, live, 2)?;
/// let (addr, token) = (server.addr(), server.token().as_str().to_owned());
/// assert!(server.url().starts_with(&format!("http://127.0.0.1:{}/?token=", addr.port())));
/// std::thread::spawn(move || server.serve());
///
/// let mut stream = TcpStream::connect(addr)?;
/// write!(stream, "GET /api/status?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", addr.port())?;
/// let mut answer = String::new();
/// stream.read_to_string(&mut answer)?;
/// assert!(answer.starts_with("HTTP/1.1 200"));
/// assert!(answer.contains(r#""total":0"#));
/// # Ok(())
/// # }
/// ```
pub struct Server {
    http: Arc<tiny_http::Server>,
    live: Arc<Live>,
    gate: Arc<Gate>,
    addr: SocketAddr,
    threads: usize,
}

impl Server {
    /// A server answering on `listener` from `live`, with a new random
    /// token, on `threads` threads.
    ///
    /// # Errors
    ///
    /// When the listener's address cannot be read or no token can be
    /// drawn.
    pub fn new(listener: TcpListener, live: Live, threads: usize) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let http = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Server {
            http: Arc::new(http),
            live: Arc::new(live),
            gate: Arc::new(Gate::new(Token::random()?, addr)),
            addr,
            threads: threads.max(1),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token every request must carry.
    pub fn token(&self) -> &Token {
        self.gate.token()
    }

    /// The page's URL, token included: what `runreg ui` prints.
    pub fn url(&self) -> String {
        let host = match self.addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
            SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
            addr => addr.to_string(),
        };
        format!("http://{host}/?token={}", self.token().as_str())
    }

    /// Answers requests until the process ends.
    pub fn serve(self) {
        let workers: Vec<_> = (0..self.threads)
            .map(|_| {
                let (http, live, gate) = (
                    Arc::clone(&self.http),
                    Arc::clone(&self.live),
                    Arc::clone(&self.gate),
                );
                thread::spawn(move || {
                    while let Ok(request) = http.recv() {
                        respond(request, &live, &gate);
                    }
                })
            })
            .collect();
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn header<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn respond(request: Request, live: &Live, gate: &Gate) {
    let started = Instant::now();
    let reply = catch_unwind(AssertUnwindSafe(|| answer(&request, live, gate)))
        .unwrap_or_else(|_| Reply::error(500, "internal error"));
    // The client may have gone; nothing to do about it.
    let _ = request.respond(reply.into_response(started.elapsed()));
}

fn answer(request: &Request, live: &Live, gate: &Gate) -> Reply {
    let Some(target) = Target::parse(request.url()) else {
        return Reply::error(400, "not a request target of this server");
    };
    let method = request.method().as_str();
    if let Err(refusal) = gate.check(
        method,
        header(request, "Host"),
        header(request, TOKEN_HEADER),
        &target,
    ) {
        let mut reply = Reply::error(refusal.status, refusal.reason);
        if refusal.status == 405 {
            reply.allow = Some("GET, HEAD");
        }
        return reply;
    }
    if target.path().starts_with("/api/") {
        return api::answer(live, &target);
    }
    match assets::find(target.path(), gate.token()) {
        Some((content_type, body)) => Reply::new(200, content_type, body),
        None => Reply::error(404, "no such page"),
    }
}
