//! [`Target`]: a request's path and query parameters, percent-decoded.

/// The request target (`/api/runs?where=...&limit=50`), split. The path is
/// kept raw (still percent-encoded) so that a `%2F` inside a run id is not
/// mistaken for a separator; [`Target::segments`] decodes each segment.
#[derive(Debug)]
pub struct Target {
    path: String,
    params: Vec<(String, String)>,
}

impl Target {
    /// Splits `url`, which must be in origin form (`/path?query`); `None`
    /// for another form or a parameter that does not decode to UTF-8.
    pub fn parse(url: &str) -> Option<Target> {
        if !url.starts_with('/') {
            return None;
        }
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let mut params = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((decode(name, true)?, decode(value, true)?));
        }
        Some(Target {
            path: path.to_owned(),
            params,
        })
    }

    /// The raw path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path's segments after `prefix`, each percent-decoded; `None`
    /// when the path does not start with `prefix` or a segment does not
    /// decode.
    pub fn segments(&self, prefix: &str) -> Option<Vec<String>> {
        let rest = self.path.strip_prefix(prefix)?;
        rest.split('/').map(|s| decode(s, false)).collect()
    }

    /// The first value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of parameter `name`, in order (`run=a&run=b`).
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-decodes `text` (and `+` as a space in a query); `None` for a
/// broken escape or bytes that are not UTF-8.
fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_segments_are_decoded_after_splitting() {
        let t =
            Target::parse("/api/run/a%2Fb/metrics?metric=val%2Floss&metric=x+y&token=t").unwrap();
        assert_eq!(t.segments("/api/").unwrap(), ["run", "a/b", "metrics"]);
        assert_eq!(t.all("metric").collect::<Vec<_>>(), ["val/loss", "x y"]);
        assert_eq!(t.get("token"), Some("t"));
        assert_eq!(t.get("nope"), None);
        assert!(Target::parse("http://evil/api").is_none());
        assert!(Target::parse("/a?x=%zz").is_none());
        assert!(Target::parse("/a?x=%ff").is_none());
        assert!(Target::parse("/a?x=%4").is_none());
        assert!(Target::parse("/a%ff").unwrap().segments("/").is_none());
    }
}
