//! [`Reply`]: an answer before it is written, and the headers every answer
//! carries.

use std::io::Cursor;
use std::time::Duration;

use serde::Serialize;
use tiny_http::{Header, Response};

/// The page may load only its own scripts, styles and API answers: no
/// inline script, no other origin, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// An answer: status, content type, body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// Set on a 405: the `Allow` header.
    pub allow: Option<&'static str>,
}

impl Reply {
    /// `value` as JSON, status 200.
    pub fn json(value: &impl Serialize) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply::new(200, "application/json", body),
            Err(e) => Reply::error(500, &format!("cannot write the answer as JSON: {e}")),
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::error_with(status, message, None)
    }

    /// `{"error": message, "column": column}` with `status`: a filter's
    /// error, its caret under `column`.
    pub fn error_with(status: u16, message: &str, column: Option<usize>) -> Reply {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            column: Option<usize>,
        }
        let body = serde_json::to_vec(&Body {
            error: message,
            column,
        })
        .unwrap_or_default();
        Reply::new(status, "application/json", body)
    }

    /// A body of `content_type`, with `status`.
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            body,
            allow: None,
        }
    }

    /// The response to write, with the headers every answer carries. Nothing
    /// is cached: API answers change with every scan, and the page holds the
    /// token. `took` is how long the answer took to make, said in a
    /// `Server-Timing` header (what the benchmarks read).
    pub fn into_response(self, took: Duration) -> Response<Cursor<Vec<u8>>> {
        let timing = format!("answer;dur={:.3}", took.as_secs_f64() * 1e3);
        let mut headers = vec![
            ("Content-Type", self.content_type),
            ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Cache-Control", "no-store"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
        ];
        if let Some(allow) = self.allow {
            headers.push(("Allow", allow));
        }
        headers.push(("Server-Timing", &timing));
        // The length is known: say it (no chunked encoding, whatever the size).
        let mut response = Response::from_data(self.body)
            .with_status_code(self.status)
            .with_chunked_threshold(usize::MAX);
        for (name, value) in headers {
            if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        response
    }
}
