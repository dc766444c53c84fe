//! [`Gate`]: who may ask what. Every request passes it before anything is
//! read: the Host header must name this server (DNS rebinding), the token
//! must be right, and only GET and HEAD are answered (nothing writes).

use std::net::{IpAddr, SocketAddr};

use crate::target::Target;
use crate::token::Token;

/// The header the page sends the token in (the `token` query parameter
/// works too: the first page load, `curl`).
pub const TOKEN_HEADER: &str = "X-Runreg-Token";

/// The checks every request passes, for a server bound to one address.
#[derive(Debug)]
pub struct Gate {
    token: Token,
    /// `host:port` values the Host header may hold, lowercase.
    hosts: Vec<String>,
    port: u16,
    /// Bound to every interface (`0.0.0.0`, `::`): any IP literal with our
    /// port is a Host of ours. A DNS name is not: rebinding needs one.
    any_ip: bool,
}

/// Why a request is refused: its status and a one-line reason.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// 403 or 405.
    pub status: u16,
    /// Said in the answer's body.
    pub reason: &'static str,
}

impl Gate {
    /// The gate of a server listening on `addr`, with `token`.
    pub fn new(token: Token, addr: SocketAddr) -> Gate {
        let port = addr.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        match addr.ip() {
            IpAddr::V4(ip) => hosts.push(format!("{ip}:{port}")),
            IpAddr::V6(ip) => hosts.push(format!("[{ip}]:{port}")),
        }
        Gate {
            token,
            hosts,
            port,
            any_ip: addr.ip().is_unspecified(),
        }
    }

    /// The token requests must carry.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Lets a request through or says why not. `host` and `header_token`
    /// are its `Host` and [`TOKEN_HEADER`] headers.
    pub fn check(
        &self,
        method: &str,
        host: Option<&str>,
        header_token: Option<&str>,
        target: &Target,
    ) -> Result<(), Refusal> {
        if !host.is_some_and(|h| self.is_our_host(h)) {
            return Err(Refusal {
                status: 403,
                reason: "the Host header does not name this server",
            });
        }
        let given = header_token.or_else(|| target.get("token"));
        if !given.is_some_and(|t| self.token.matches(t)) {
            return Err(Refusal {
                status: 403,
                reason: "a missing or wrong token: open the URL runreg ui printed",
            });
        }
        if method != "GET" && method != "HEAD" {
            return Err(Refusal {
                status: 405,
                reason: "only GET and HEAD: the page reads and never writes",
            });
        }
        Ok(())
    }

    fn is_our_host(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        if self.hosts.contains(&host) {
            return true;
        }
        self.any_ip
            && host
                .parse::<SocketAddr>()
                .is_ok_and(|addr| addr.port() == self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(addr: &str) -> (Gate, String) {
        let token = Token::random().unwrap();
        let text = token.as_str().to_owned();
        (Gate::new(token, addr.parse().unwrap()), text)
    }

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    #[test]
    fn the_host_must_name_this_server_and_port() {
        let (gate, token) = gate("127.0.0.1:8765");
        let t = target(&format!("/?token={token}"));
        for ok in [
            "127.0.0.1:8765",
            "localhost:8765",
            "LOCALHOST:8765",
            "[::1]:8765",
        ] {
            assert_eq!(gate.check("GET", Some(ok), None, &t), Ok(()), "{ok}");
        }
        for bad in [
            None,
            Some("evil.example:8765"),
            Some("127.0.0.1:8766"),
            Some("127.0.0.1"),
            Some("localhost"),
            Some("10.0.0.1:8765"),
        ] {
            assert_eq!(
                gate.check("GET", bad, None, &t).unwrap_err().status,
                403,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bound_to_every_interface_ip_literals_pass_and_names_do_not() {
        let (gate, token) = gate("0.0.0.0:9000");
        let t = target(&format!("/?token={token}"));
        assert!(
            gate.check("GET", Some("192.168.1.7:9000"), None, &t)
                .is_ok()
        );
        assert!(
            gate.check("GET", Some("192.168.1.7:9001"), None, &t)
                .is_err()
        );
        assert!(
            gate.check("GET", Some("rebind.example:9000"), None, &t)
                .is_err()
        );
    }

    #[test]
    fn the_token_comes_in_the_header_or_the_query_and_only_reads_pass() {
        let (gate, token) = gate("127.0.0.1:1");
        let host = Some("127.0.0.1:1");
        assert!(gate.check("GET", host, Some(&token), &target("/")).is_ok());
        assert!(
            gate.check("HEAD", host, None, &target(&format!("/?token={token}")))
                .is_ok()
        );
        assert_eq!(
            gate.check("GET", host, None, &target("/"))
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            gate.check("GET", host, Some("x"), &target("/"))
                .unwrap_err()
                .status,
            403
        );
        // A wrong header is not rescued by a right parameter.
        let both = target(&format!("/?token={token}"));
        assert_eq!(
            gate.check("GET", host, Some("x"), &both)
                .unwrap_err()
                .status,
            403
        );
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            assert_eq!(
                gate.check(method, host, Some(&token), &both)
                    .unwrap_err()
                    .status,
                405
            );
        }
    }
}
