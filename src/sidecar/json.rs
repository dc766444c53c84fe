//! The JSON dialect of Python's `json` module: a parser into [`Value`] and a
//! writer that reproduces `json.dump(obj, f, indent=2)` byte for byte.
//!
//! Python reads and writes more than RFC 8259: the bare tokens `NaN`,
//! `Infinity` and `-Infinity` for non-finite floats, integers of any size,
//! and lone UTF-16 surrogates in `\u` escapes. Real sidecars hold all of
//! them (a diverged run's loss is `NaN`), so runreg parses the dialect itself
//! instead of going through serde_json, which rejects those tokens.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::value::Value;
use crate::value_map::shared_str;

/// Deepest nesting of arrays and objects accepted. Sidecars are shallow
/// (config objects a few levels deep); the bound turns hostile input into an
/// error instead of a stack overflow.
pub(crate) const MAX_DEPTH: usize = 128;

/// Why a text is not JSON as Python reads it, and where.
///
/// The message names what was expected and the 1-based line and column
/// (columns count characters, as Python's `JSONDecodeError` does).
///
/// # Examples
///
/// ```
/// use runreg::sidecar::parse_value;
///
/// let err = parse_value("{\"a\": 1\n \"b\": 2}").unwrap_err();
/// assert_eq!(err.to_string(), "expected ',' or '}' at line 2 column 2");
/// assert_eq!((err.line(), err.column(), err.offset()), (2, 2, 9));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} at line {line} column {column}")]
pub struct JsonError {
    what: &'static str,
    offset: usize,
    line: usize,
    column: usize,
}

impl JsonError {
    /// Builds the error for byte `offset` of `bytes`, computing the line and
    /// column only now: errors are rare and parsing should not track them.
    fn at(bytes: &[u8], offset: usize, what: &'static str) -> JsonError {
        let before = bytes.get(..offset).unwrap_or(bytes);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        // Count characters, not bytes: UTF-8 continuation bytes are 0b10xxxxxx.
        let column = 1 + before[line_start..]
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        JsonError {
            what,
            offset,
            line,
            column,
        }
    }

    /// What was expected (or what was wrong), without the position.
    pub fn reason(&self) -> &str {
        self.what
    }

    /// Byte offset of the error in the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// 1-based line of the error.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column of the error, in characters.
    pub fn column(&self) -> usize {
        self.column
    }
}

/// Parses one JSON value as Python's `json.loads` reads it.
///
/// For values given on the command line, such as `--hparam lr=0.01`.
///
/// # Errors
///
/// A [`JsonError`] naming what was expected and where.
///
/// # Examples
///
/// ```
/// use runreg::Value;
/// use runreg::sidecar::parse_value;
///
/// assert_eq!(parse_value("0.01").unwrap(), Value::Float(0.01));
/// assert!(matches!(parse_value("3").unwrap(), Value::Int(3)));
/// assert!(matches!(parse_value("NaN").unwrap(), Value::Float(f) if f.is_nan()));
/// assert_eq!(parse_value("[1, \"a\"]").unwrap(), Value::List(vec![1.into(), "a".into()]));
/// assert!(parse_value("lr").is_err());
/// ```
pub fn parse_value(text: &str) -> Result<Value, JsonError> {
    parse(text.as_bytes())
}

/// Parses `bytes` as one JSON value in Python's dialect.
///
/// - `NaN`, `Infinity`, `-Infinity` are floats (outside strings only).
/// - Integers that fit an `i64` are [`Value::Int`]; larger ones, and every
///   number with a fraction or exponent, are [`Value::Float`] (nearest f64;
///   `1e400` is infinity, as Python reads it).
/// - A lone surrogate in a `\u` escape becomes U+FFFD: Python keeps it, but a
///   Rust string cannot hold it.
/// - Raw control characters in strings are errors (Python's strict mode).
/// - A repeated object key keeps its first position and its last value
///   (Python's dict assignment).
/// - A leading UTF-8 byte order mark is skipped. Python refuses it
///   ("Unexpected UTF-8 BOM"); being lenient costs nothing and a hand-edited
///   sidecar saved by a Windows editor is still the run's metadata.
/// - Nesting deeper than [`MAX_DEPTH`] is an error.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    document(bytes, Parser::value)
}

/// The entries of an object in input order (a repeated name resolved as
/// [`parse`] does), names borrowed from the input where they hold no escape.
pub(crate) type Entries<'a, V = Value> = Vec<(Cow<'a, str>, V)>;

/// A member of the top-level object read by [`parse_members`].
pub(crate) enum Member<'a> {
    /// An object: its entries, names borrowed.
    Object(Entries<'a>),
    /// Anything else.
    Value(Value),
}

impl Member<'_> {
    /// The member as [`parse`] would have read it.
    pub fn into_value(self) -> Value {
        match self {
            Member::Object(entries) => owned_map(entries),
            Member::Value(value) => value,
        }
    }
}

fn owned_map(entries: Entries<'_>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v))
            .collect(),
    )
}

/// Parses `bytes` as [`parse`] does (same dialect, same errors). When the
/// document is an object, returns its members, with the objects directly
/// inside it as entries whose names are borrowed: a sidecar's ~60 hparam
/// names then cost no allocation each. Otherwise returns the value read as
/// `Err`.
pub(crate) fn parse_members(
    bytes: &[u8],
) -> Result<Result<Entries<'_, Member<'_>>, Value>, JsonError> {
    document(bytes, |parser| {
        if parser.peek() == Some(b'{') {
            parser.entries(Parser::member).map(Ok)
        } else {
            parser.value().map(Err)
        }
    })
}

/// Reads one document: `read` takes the value, after an optional byte order
/// mark and whitespace; only whitespace may follow it.
fn document<'a, T>(
    bytes: &'a [u8],
    read: impl FnOnce(&mut Parser<'a>) -> Result<T, JsonError>,
) -> Result<T, JsonError> {
    // One validation pass over the whole input (Python, too, decodes the file
    // before parsing it) is cheaper than validating string by string.
    let text = std::str::from_utf8(bytes)
        .map_err(|e| JsonError::at(bytes, e.valid_up_to(), "invalid UTF-8"))?;
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut parser = Parser {
        text,
        bytes,
        pos: start,
        depth: 0,
    };
    parser.skip_whitespace();
    let value = read(&mut parser)?;
    parser.skip_whitespace();
    if parser.pos != bytes.len() {
        return Err(parser.error("expected end of input after the value"));
    }
    Ok(value)
}

/// A recursive-descent parser over the bytes of `text`.
/// Invariant: `pos <= bytes.len()`.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, what: &'static str) -> JsonError {
        JsonError::at(self.bytes, self.pos, what)
    }

    fn error_at(&self, offset: usize, what: &'static str) -> JsonError {
        JsonError::at(self.bytes, offset, what)
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(|s| Value::Str(shared_str(&s))),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'N') => self.literal(b"NaN", Value::Float(f64::NAN)),
            Some(b'I') => self.literal(b"Infinity", Value::Float(f64::INFINITY)),
            Some(b'-') if self.bytes[self.pos..].starts_with(b"-Infinity") => {
                self.literal(b"-Infinity", Value::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected value")),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, JsonError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected value"))
        }
    }

    /// Enters an array or object, refusing to go deeper than [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), JsonError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("nesting deeper than 128 levels"));
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                items.push(self.value()?);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ']'")),
                }
            }
        }
        self.depth -= 1;
        Ok(Value::List(items))
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.entries(Parser::value).map(owned_map)
    }

    /// A member of the top-level object (see [`parse_members`]).
    fn member(&mut self) -> Result<Member<'a>, JsonError> {
        if self.peek() == Some(b'{') {
            self.entries(Parser::value).map(Member::Object)
        } else {
            self.value().map(Member::Value)
        }
    }

    /// An object's entries, each value read by `read`.
    fn entries<V>(
        &mut self,
        mut read: impl FnMut(&mut Self) -> Result<V, JsonError>,
    ) -> Result<Entries<'a, V>, JsonError> {
        self.enter()?;
        let mut entries = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a string key"));
                }
                let key = self.string()?;
                self.skip_whitespace();
                if self.peek() != Some(b':') {
                    return Err(self.error("expected ':'"));
                }
                self.pos += 1;
                self.skip_whitespace();
                let value = read(self)?;
                entries.push((key, value));
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or '}'")),
                }
            }
        }
        keep_last_of_duplicates(&mut entries);
        self.depth -= 1;
        Ok(entries)
    }

    /// A number per the JSON grammar (`-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`,
    /// ASCII digits only, as Python's C scanner).
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected digit")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        // ASCII by construction, so `get` always succeeds.
        let text = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.error_at(start, "expected number"))?;
        if integral && let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        // Integers beyond i64 become the nearest float; overflowing exponents
        // parse to +-infinity, as Python reads `1e400`.
        text.parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.error_at(start, "expected number"))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("expected digit"));
        }
        self.digits();
        Ok(())
    }

    /// A string starting at the opening quote. Runs without escapes are
    /// validated and copied in one go; the result is allocated once unless
    /// escapes split it.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let open = self.pos;
        self.pos += 1;
        let mut escaped: Option<String> = None;
        loop {
            let run_start = self.pos;
            let rest = &self.bytes[run_start..];
            let Some(len) = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            else {
                return Err(self.error_at(open, "unterminated string starting"));
            };
            self.pos += len;
            // Runs start and end at ASCII bytes, so they are char boundaries
            // and `get` always succeeds.
            let text: &'a str = self.text;
            let run = text
                .get(run_start..self.pos)
                .ok_or_else(|| self.error_at(run_start, "invalid UTF-8"))?;
            match rest[len] {
                b'"' => {
                    self.pos += 1;
                    return Ok(match escaped {
                        None => Cow::Borrowed(run),
                        Some(mut s) => {
                            s.push_str(run);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = escaped.get_or_insert_with(String::new);
                    s.push_str(run);
                    self.escape(open, s)?;
                }
                _ => return Err(self.error("control character in string (must be escaped)")),
            }
        }
    }

    /// One escape sequence at `self.pos` (the backslash), appended to `out`.
    fn escape(&mut self, open: usize, out: &mut String) -> Result<(), JsonError> {
        let at = self.pos;
        let Some(&kind) = self.bytes.get(at + 1) else {
            return Err(self.error_at(open, "unterminated string starting"));
        };
        self.pos += 2;
        let c = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self
                    .hex4()
                    .ok_or_else(|| self.error_at(at, "invalid \\uXXXX escape"))?;
                self.code_point(unit)
            }
            _ => return Err(self.error_at(at, "invalid escape")),
        };
        out.push(c);
        Ok(())
    }

    /// The character for UTF-16 unit `unit`, consuming a following `\uXXXX`
    /// when the two form a surrogate pair. A surrogate without its partner is
    /// U+FFFD; the next escape is then parsed on its own.
    fn code_point(&mut self, unit: u32) -> char {
        if (0xD800..0xDC00).contains(&unit) && self.bytes[self.pos..].starts_with(b"\\u") {
            let resume = self.pos;
            self.pos += 2;
            match self.hex4() {
                Some(low @ 0xDC00..0xE000) => {
                    let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    return char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                }
                _ => self.pos = resume,
            }
        }
        char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER)
    }

    /// Four hex digits at `self.pos`, consumed only when all four are there.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut unit = 0;
        for &d in digits {
            unit = unit * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(unit)
    }
}

/// Python's dict keeps a repeated key at its first position with its last
/// value. Objects rarely repeat keys, so the common case only checks.
fn keep_last_of_duplicates<V>(entries: &mut Entries<'_, V>) {
    let n = entries.len();
    if n < 2 {
        return;
    }
    let repeated = if n <= 8 {
        (1..n).any(|i| entries[..i].iter().any(|(k, _)| *k == entries[i].0))
    } else {
        // Sorting fingerprints is several times cheaper than sorting keys
        // that share long prefixes (`optim.`, `val/`); equal fingerprints
        // only send the object down the exact path below.
        let mut prints: Vec<u64> = entries.iter().map(|(k, _)| fingerprint(k)).collect();
        prints.sort_unstable();
        prints.windows(2).any(|w| w[0] == w[1])
    };
    if !repeated {
        return;
    }
    // Indices sorted by key, then by position: each run of equal keys lists
    // the first occurrence first and the last one last. O(n log n), so a
    // hostile object with a million keys stays cheap.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(a.cmp(&b)));
    let mut drop = vec![false; n];
    let mut run_start = 0;
    for i in 1..=n {
        if i < n && entries[order[i]].0 == entries[order[run_start]].0 {
            continue;
        }
        if i - run_start > 1 {
            // The first occurrence takes the last value; the others go.
            let (first, last) = (order[run_start], order[i - 1]);
            let (before, from_last) = entries.split_at_mut(last);
            std::mem::swap(&mut before[first].1, &mut from_last[0].1);
            for &later in &order[run_start + 1..i] {
                drop[later] = true;
            }
        }
        run_start = i;
    }
    let mut index = 0;
    entries.retain(|_| {
        let keep = !drop[index];
        index += 1;
        keep
    });
}

/// A fast, non-cryptographic 64-bit hash of `key` (FxHash's mixing, eight
/// bytes at a time). Collisions cost time, never correctness.
fn fingerprint(key: &str) -> u64 {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(SEED);
    let mut chunks = key.as_bytes().chunks_exact(8);
    let mut h = key.len() as u64;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = mix(h, u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    let mut word = [0u8; 8];
    word[..rest.len()].copy_from_slice(rest);
    mix(h, u64::from_le_bytes(word))
}

/// Appends `value` as Python's `json.dump(value, f, indent=2)` writes it
/// (default `ensure_ascii=True`): two-space indentation, `": "` between key
/// and value, `[]` and `{}` for empty containers, floats as `repr(float)`,
/// non-finite floats as `NaN`, `Infinity`, `-Infinity`, and every non-ASCII
/// character as `\uXXXX` (surrogate pairs beyond the BMP).
pub(crate) fn write_python_json(value: &Value, out: &mut String) {
    write_value(value, 0, out);
}

fn write_value(value: &Value, level: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_python_float(*f, out),
        Value::Str(s) => write_python_str(s, out),
        Value::List(items) if items.is_empty() => out.push_str("[]"),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(level + 1, out);
                write_value(item, level + 1, out);
            }
            newline_indent(level, out);
            out.push(']');
        }
        Value::Map(entries) if entries.is_empty() => out.push_str("{}"),
        Value::Map(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(level + 1, out);
                write_python_str(key, out);
                out.push_str(": ");
                write_value(item, level + 1, out);
            }
            newline_indent(level, out);
            out.push('}');
        }
    }
}

fn newline_indent(level: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// A string literal with Python's `ensure_ascii` escaping: only printable
/// ASCII (space to `~`) is written as is; `\u007f` and everything beyond
/// ASCII is escaped with lowercase hex.
fn write_python_str(s: &str, out: &mut String) {
    out.push('"');
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        let short = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            ' '..='~' => continue,
            _ => "",
        };
        out.push_str(&s[run_start..i]);
        run_start = i + c.len_utf8();
        if short.is_empty() {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

/// Appends `f` as Python's `repr(float)`: the shortest digits that read back
/// as `f`, in positional notation when the decimal exponent is in
/// `-4..16` (`0.0001`, `1234567890123456.0`) and scientific otherwise
/// (`1e-05`, `1e+16`, `1.5e+300`).
pub(crate) fn write_python_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let sci = shortest_scientific(f.abs());
    let Some((mantissa, exponent)) = sci.split_once('e') else {
        out.push_str(&sci);
        return;
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        out.push_str(&sci);
        return;
    };
    write_python_layout(f < 0.0, mantissa, exponent, out);
}

/// Lays out a finite, non-zero float given as `mantissa` (`d` or `d.ddd`,
/// the shortest digits) and decimal `exponent` the way Python's `repr`
/// does: plain between 1e-4 and 1e16 (`0.0001`, `2.0`, `123.5`), else
/// `1.5e+300`, `1e-05`. Where the digits come from is the caller's choice.
pub(crate) fn write_python_layout(negative: bool, mantissa: &str, exponent: i32, out: &mut String) {
    if negative {
        out.push('-');
    }
    if !(-4..16).contains(&exponent) {
        out.push_str(mantissa);
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exponent.unsigned_abs());
        return;
    }
    let (lead, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if exponent < 0 {
        out.push_str("0.");
        for _ in 1..-exponent {
            out.push('0');
        }
        out.push_str(lead);
        out.push_str(rest);
        return;
    }
    // `exponent` digits of `rest` go before the point.
    let before = exponent.unsigned_abs() as usize;
    out.push_str(lead);
    if rest.len() <= before {
        out.push_str(rest);
        for _ in rest.len()..before {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&rest[..before]);
        out.push('.');
        out.push_str(&rest[before..]);
    }
}

/// `x` (finite, positive) as `d.ddde<exp>` with Python's digits.
///
/// Rust's `{:e}` gives the shortest round-trip digits, but when two
/// candidates of that length are equally near the exact binary value it
/// rounds the tie up, where Python's repr rounds it to even
/// (`111659285584252.125` is `...252.12` in Python, `...252.13` from `{:e}`).
/// Re-rounding to the same number of digits in exact mode, which rounds ties
/// to even, gives Python's choice; checked against Python on 1.2 million
/// values.
fn shortest_scientific(x: f64) -> String {
    let shortest = format!("{x:e}");
    let digits = shortest
        .split_once('e')
        .map_or(0, |(m, _)| m.bytes().filter(u8::is_ascii_digit).count());
    if digits < 2 {
        return shortest;
    }
    let exact = format!("{:.*e}", digits - 1, x);
    if exact.parse::<f64>() == Ok(x) {
        exact
    } else {
        shortest
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(text: &str) -> Value {
        match parse(text.as_bytes()) {
            Ok(v) => v,
            Err(e) => panic!("{text:?} failed: {e}"),
        }
    }

    fn err(text: &[u8]) -> JsonError {
        match parse(text) {
            Ok(v) => panic!("{:?} parsed as {v:?}", String::from_utf8_lossy(text)),
            Err(e) => e,
        }
    }

    /// Strict equality for round-trip checks: same kinds (`Int(1)` is not
    /// `Float(1.0)`), floats bit for bit, any NaN equal to any NaN.
    pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => same_f64(*x, *y),
            (Value::List(x), Value::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
            }
            (Value::Map(x), Value::Map(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
            }
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(_) | Value::Int(_), _) | (_, Value::Float(_) | Value::Int(_)) => false,
            _ => a == b,
        }
    }

    pub(crate) fn same_f64(x: f64, y: f64) -> bool {
        (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
    }

    fn assert_float(v: &Value, want: f64) {
        match v {
            Value::Float(f) if same_f64(*f, want) => {}
            other => panic!("expected Float({want:?}), got {other:?}"),
        }
    }

    /// Any value, with unique keys in objects (duplicates would not survive
    /// a round trip, by design).
    pub(crate) fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(-0.0),
                Just(5e-324),
                Just(1e16)
            ]
            .prop_map(Value::Float),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Map(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn python_non_finite_tokens_are_floats_outside_strings() {
        let v = ok(r#"[NaN, Infinity, -Infinity, {"a": NaN, "b": -Infinity}, "NaN", "Infinity"]"#);
        let Value::List(items) = v else {
            panic!("not a list")
        };
        assert_float(&items[0], f64::NAN);
        assert_float(&items[1], f64::INFINITY);
        assert_float(&items[2], f64::NEG_INFINITY);
        let Value::Map(entries) = &items[3] else {
            panic!("not a map")
        };
        assert_float(&entries[0].1, f64::NAN);
        assert_float(&entries[1].1, f64::NEG_INFINITY);
        assert!(matches!(&items[4], Value::Str(s) if &**s == "NaN"));
        assert!(matches!(&items[5], Value::Str(s) if &**s == "Infinity"));
        assert_float(&ok("NaN"), f64::NAN);
        assert_float(&ok(" -Infinity "), f64::NEG_INFINITY);
    }

    #[test]
    fn near_miss_tokens_are_errors() {
        for text in [
            "nan", "-NaN", "+NaN", "Inf", "-Inf", "infinity", "NaNa", "True", "nul", "-",
        ] {
            parse(text.as_bytes()).expect_err(text);
        }
    }

    #[test]
    fn integers_that_fit_i64_are_ints() {
        assert!(matches!(ok("0"), Value::Int(0)));
        assert!(matches!(ok("-0"), Value::Int(0)));
        assert!(matches!(ok("42"), Value::Int(42)));
        assert!(matches!(ok("9223372036854775807"), Value::Int(i64::MAX)));
        assert!(matches!(ok("-9223372036854775808"), Value::Int(i64::MIN)));
    }

    #[test]
    fn integers_beyond_i64_are_nearest_floats() {
        assert_float(&ok("9223372036854775808"), 9_223_372_036_854_775_808.0);
        assert_float(&ok("-9223372036854775809"), -9_223_372_036_854_775_808.0);
        // 2^64 + 1
        assert_float(&ok("18446744073709551617"), 18_446_744_073_709_551_616.0);
        assert_float(&ok(&format!("1{}", "0".repeat(400))), f64::INFINITY);
    }

    #[test]
    fn fractions_and_exponents_are_floats() {
        assert_float(&ok("1.0"), 1.0);
        assert_float(&ok("-2.5"), -2.5);
        assert_float(&ok("1E5"), 1e5);
        assert_float(&ok("1e+5"), 1e5);
        assert_float(&ok("1e-05"), 1e-5);
        assert_float(&ok("0.1"), 0.1);
        assert_float(&ok("-0.0"), -0.0);
        assert_float(&ok("2.2250738585072011e-308"), 2.225_073_858_507_201e-308);
    }

    #[test]
    fn overflowing_exponents_are_infinite_as_python_reads_them() {
        assert_float(&ok("1e400"), f64::INFINITY);
        assert_float(&ok("-1e400"), f64::NEG_INFINITY);
        assert_float(&ok("1e-400"), 0.0);
        let Value::List(items) = ok("[1.5E+99999]") else {
            panic!("not a list")
        };
        assert_float(&items[0], f64::INFINITY);
    }

    #[test]
    fn malformed_numbers_are_errors() {
        for text in [
            "01", "-01", "1.", ".5", "+1", "1e", "1e+", "1.e5", "0x10", "1_000", "--1",
        ] {
            parse(text.as_bytes()).expect_err(text);
        }
        assert_eq!(err(b"1.").to_string(), "expected digit at line 1 column 3");
        assert_eq!(
            err(b"01").to_string(),
            "expected end of input after the value at line 1 column 2"
        );
    }

    #[test]
    fn string_escapes_decode() {
        assert_eq!(
            ok(r#""\"\\\/\b\f\n\r\t""#),
            Value::Str("\"\\/\u{8}\u{c}\n\r\t".into())
        );
        assert_eq!(
            ok(r#""\u0041\u00e9\u4e60\uFFFF""#),
            Value::Str("Aé习\u{ffff}".into())
        );
        assert_eq!(ok(r#""a\u0000b""#), Value::Str("a\0b".into()));
    }

    #[test]
    fn surrogate_pairs_combine_and_lone_surrogates_become_replacement() {
        assert_eq!(ok(r#""\ud83d\ude00""#), Value::Str("😀".into()));
        assert_eq!(ok(r#""\uD83D\uDE00x""#), Value::Str("😀x".into()));
        assert_eq!(ok(r#""\ud800""#), Value::Str("\u{fffd}".into()));
        assert_eq!(ok(r#""\udc00""#), Value::Str("\u{fffd}".into()));
        assert_eq!(ok(r#""\ud800\u0041""#), Value::Str("\u{fffd}A".into()));
        assert_eq!(
            ok(r#""\udc00\ud800""#),
            Value::Str("\u{fffd}\u{fffd}".into())
        );
        assert_eq!(
            ok(r#""\ud800\ud800\udc00""#),
            Value::Str("\u{fffd}\u{10000}".into())
        );
        assert_eq!(ok(r#""\ud800\n""#), Value::Str("\u{fffd}\n".into()));
        // The partner escape is still checked.
        err(br#""\ud800\u00zz""#);
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert_eq!(
            err(br#""\x""#).to_string(),
            "invalid escape at line 1 column 2"
        );
        assert_eq!(
            err(br#""\u12""#).to_string(),
            "invalid \\uXXXX escape at line 1 column 2"
        );
        err(br#""\u00g0""#);
        err(br#""\U0041""#);
        err(br#""\"#);
        err(br#""\u"#);
    }

    #[test]
    fn raw_control_characters_in_strings_are_errors() {
        for c in (0u8..0x20).chain([b'\n', b'\t']) {
            let text = [b'"', b'a', c, b'"'];
            let e = err(&text);
            assert_eq!(e.offset(), 2);
            assert!(e.reason().starts_with("control character"), "{e}");
        }
        // DEL is not a control character for JSON.
        assert_eq!(ok("\"a\u{7f}\""), Value::Str("a\u{7f}".into()));
    }

    #[test]
    fn raw_utf8_is_kept_and_invalid_utf8_is_an_error() {
        assert_eq!(ok("\"café 🔥\""), Value::Str("café 🔥".into()));
        let e = err(b"[\"ab\xff\"]");
        assert_eq!((e.reason(), e.offset()), ("invalid UTF-8", 4));
        err(b"\"\xe9\"");
        err(b"\"\xed\xa0\x80\""); // a UTF-8 encoded surrogate
        err(b"[1, \xc3\xa9]");
    }

    #[test]
    fn unterminated_strings_point_at_their_start() {
        let e = err(b"{\"a\": \"abc");
        assert_eq!(
            e.to_string(),
            "unterminated string starting at line 1 column 7"
        );
    }

    #[test]
    fn leading_bom_is_skipped_elsewhere_refused() {
        assert_eq!(
            ok("\u{feff}{\"a\": 1}"),
            Value::Map(vec![("a".into(), Value::Int(1))])
        );
        err("\u{feff}".as_bytes());
        err(" \u{feff}{}".as_bytes());
        err("\u{feff}\u{feff}{}".as_bytes());
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        assert_eq!(
            ok(r#"{"a": 1, "b": 2, "a": 3, "c": 4, "a": 5}"#),
            Value::Map(vec![
                ("a".into(), Value::Int(5)),
                ("b".into(), Value::Int(2)),
                ("c".into(), Value::Int(4)),
            ])
        );
        // More than 8 keys takes the fingerprint path.
        let mut text = String::from("{");
        for i in 0..40 {
            let _ = write!(text, "\"k{}\": {i},", i % 25);
        }
        text.push_str("\"k3\": \"last\"}");
        let Value::Map(entries) = ok(&text) else {
            panic!("not a map")
        };
        let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
        let want: Vec<String> = (0..25).map(|i| format!("k{i}")).collect();
        assert_eq!(keys, want);
        assert_eq!(entries[3].1, Value::Str("last".into()));
        assert_eq!(entries[10].1, Value::Int(35));
        assert_eq!(entries[20].1, Value::Int(20));
    }

    #[test]
    fn whitespace_is_json_whitespace_only() {
        assert_eq!(
            ok(" \t\r\n[ 1 ,\n\t2 ] \r\n"),
            Value::List(vec![1.into(), 2.into()])
        );
        err(b"\x0c1");
        err("\u{a0}1".as_bytes());
        err(b"[1\x0b]");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        ok(&deep_ok);
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = err(too_deep.as_bytes());
        assert_eq!(e.offset(), MAX_DEPTH);
        assert!(e.reason().contains(&MAX_DEPTH.to_string()), "{e}");
        // Never a stack overflow, whatever the input.
        err("[".repeat(100_000).as_bytes());
        err("{\"a\":".repeat(100_000).as_bytes());
        err("[{\"a\":".repeat(50_000).as_bytes());
    }

    #[test]
    fn trailing_data_is_an_error() {
        assert_eq!(
            err(b"{} x").to_string(),
            "expected end of input after the value at line 1 column 4"
        );
        err(b"1 2");
        err(b"[] []");
        err(b"truex");
        err(b"{}\0");
        ok("{} \n");
    }

    #[test]
    fn structural_errors_say_what_was_expected_and_where() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "expected value at line 1 column 1"),
            (b"   ", "expected value at line 1 column 4"),
            (b"[1,]", "expected value at line 1 column 4"),
            (b"[1 2]", "expected ',' or ']' at line 1 column 4"),
            (b"{\"a\" 1}", "expected ':' at line 1 column 6"),
            (b"{\"a\": 1,}", "expected a string key at line 1 column 9"),
            (b"{a: 1}", "expected a string key at line 1 column 2"),
            (
                b"{\n  \"a\": 1\n  \"b\": 2\n}",
                "expected ',' or '}' at line 3 column 3",
            ),
            (
                "[\"é€\", x]".as_bytes(),
                "expected value at line 1 column 8",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                err(text).to_string(),
                want,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn parse_value_reads_command_line_values() {
        assert_eq!(parse_value("0.01").unwrap(), Value::Float(0.01));
        assert!(matches!(parse_value(" 7 ").unwrap(), Value::Int(7)));
        assert_eq!(parse_value("true").unwrap(), Value::Bool(true));
        assert_eq!(parse_value("\"adam\"").unwrap(), Value::Str("adam".into()));
        assert!(matches!(parse_value("null").unwrap(), Value::Null));
        assert!(parse_value("adam").is_err());
    }

    #[test]
    fn truncation_and_garbage_never_panic() {
        let text = PYTHON_VALUE_FIXTURE.as_bytes();
        for end in 0..text.len() {
            assert!(parse(&text[..end]).is_err(), "prefix of {end} bytes parsed");
        }
        let raw = "{\"é\": [\"😀\", {\"x\": \"€\"}]}".as_bytes();
        for end in 0..raw.len() {
            assert!(parse(&raw[..end]).is_err());
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn mutated_documents_never_panic(at in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
            let mut bytes = PYTHON_VALUE_FIXTURE.as_bytes().to_vec();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(bytes.len() - cut % bytes.len());
            let _ = parse(&bytes);
        }

        #[test]
        fn written_values_parse_back_identical(value in arb_value()) {
            let mut text = String::new();
            write_python_json(&value, &mut text);
            prop_assert!(text.is_ascii());
            let back = parse(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert!(same_value(&value, &back), "{value:?}\n{text}\n{back:?}");
        }

        /// `parse_members` reads what `parse` reads: the same members, in
        /// the same order, and the same errors, for any document (objects
        /// of any value, and the mutations of one).
        #[test]
        fn members_are_what_parse_reads(
            entries in prop::collection::vec(("[a-c\\\\\"]{0,3}", arb_value()), 0..6),
            at in 0usize..200,
            byte in any::<u8>(),
        ) {
            let mut text = String::new();
            write_python_json(&Value::Map(entries), &mut text);
            let mut mutated = text.clone().into_bytes();
            if let Some(b) = mutated.get_mut(at) {
                *b = byte;
            }
            for bytes in [text.as_bytes(), &mutated] {
                let via_members = parse_members(bytes).map(|read| match read {
                    Ok(members) => owned_map(
                        members.into_iter().map(|(k, m)| (k, m.into_value())).collect(),
                    ),
                    Err(other) => other,
                });
                match (parse(bytes), via_members) {
                    (Ok(want), Ok(got)) => prop_assert!(same_value(&want, &got), "{want:?}\n{got:?}"),
                    (want, got) => prop_assert_eq!(want.err(), got.err()),
                }
            }
        }

        #[test]
        fn written_floats_read_back_exactly(f in any::<f64>()) {
            let mut text = String::new();
            write_python_float(f, &mut text);
            assert_float(&ok(&text), f);
        }
    }

    /// `json.dumps(v, indent=2)` by Python 3.11 for the value built in
    /// [`python_value`].
    const PYTHON_VALUE_FIXTURE: &str = r#"{
  "a": [],
  "b": {},
  "c": [
    1,
    {
      "d": [
        []
      ]
    },
    -9223372036854775808,
    9223372036854775807
  ],
  "s": "\u0000\u001f\u007f\b\f/\u00e9\ud83d\ude00\uffff",
  "f": [
    0.1,
    -0.0,
    1e-07,
    1.5e+300,
    NaN,
    -Infinity
  ],
  "t": true,
  "n": null,
  "nested": {
    "x": {
      "y": {
        "z": "deep"
      }
    }
  },
  "": "empty key"
}"#;

    fn python_value() -> Value {
        let map = |entries: Vec<(&str, Value)>| {
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            )
        };
        map(vec![
            ("a", Value::List(vec![])),
            ("b", Value::Map(vec![])),
            (
                "c",
                Value::List(vec![
                    Value::Int(1),
                    map(vec![("d", Value::List(vec![Value::List(vec![])]))]),
                    Value::Int(i64::MIN),
                    Value::Int(i64::MAX),
                ]),
            ),
            (
                "s",
                Value::Str("\0\u{1f}\u{7f}\u{8}\u{c}/é😀\u{ffff}".into()),
            ),
            (
                "f",
                Value::List(
                    [0.1, -0.0, 1e-7, 1.5e300, f64::NAN, f64::NEG_INFINITY]
                        .map(Value::Float)
                        .to_vec(),
                ),
            ),
            ("t", Value::Bool(true)),
            ("n", Value::Null),
            (
                "nested",
                map(vec![(
                    "x",
                    map(vec![("y", map(vec![("z", "deep".into())]))]),
                )]),
            ),
            ("", "empty key".into()),
        ])
    }

    #[test]
    fn writer_matches_python_byte_for_byte() {
        let mut text = String::new();
        write_python_json(&python_value(), &mut text);
        assert_eq!(text, PYTHON_VALUE_FIXTURE);
    }

    #[test]
    fn parser_reads_python_output() {
        assert!(same_value(&ok(PYTHON_VALUE_FIXTURE), &python_value()));
    }

    #[test]
    fn scalars_and_empty_containers_are_written_inline() {
        let cases = [
            (Value::List(vec![]), "[]"),
            (Value::Map(vec![]), "{}"),
            (Value::Null, "null"),
            (Value::Bool(false), "false"),
            (Value::Int(-12), "-12"),
            (
                Value::Str("a\"b\\c\u{1}\u{10ffff}".into()),
                r#""a\"b\\c\u0001\udbff\udfff""#,
            ),
            (Value::List(vec![Value::Int(1)]), "[\n  1\n]"),
        ];
        for (value, want) in cases {
            let mut text = String::new();
            write_python_json(&value, &mut text);
            assert_eq!(text, want);
        }
    }

    /// (value, Python's `repr(value)`), generated with Python 3.11.
    const PYTHON_FLOAT_REPRS: &[(f64, &str)] = &[
        (0.1, "0.1"),
        (1.0, "1.0"),
        (1e-05, "1e-05"),
        (0.0001, "0.0001"),
        (1e16, "1e+16"),
        (1.234_567_890_123_456_7e300, "1.2345678901234567e+300"),
        (5e-324, "5e-324"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (123_456_789_012_345.0, "123456789012345.0"),
        (1_234_567_890_123_456.0, "1234567890123456.0"),
        (12_345_678_901_234_567.0, "1.2345678901234568e+16"),
        (2.5, "2.5"),
        (1.0 / 3.0, "0.3333333333333333"),
        (1e15, "1000000000000000.0"),
        (9_999_999_999_999_998.0, "9999999999999998.0"),
        (1e22, "1e+22"),
        (0.000_123_45, "0.00012345"),
        (1.5e300, "1.5e+300"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (-1.5, "-1.5"),
        (100.0, "100.0"),
        (1e-7, "1e-07"),
        (123.456, "123.456"),
        (0.1 + 0.2, "0.30000000000000004"),
        (9_007_199_254_740_992.0, "9007199254740992.0"),
        (9_223_372_036_854_775_808.0, "9.223372036854776e+18"),
        (18_446_744_073_709_551_616.0, "1.8446744073709552e+19"),
        (1.5e-10, "1.5e-10"),
        (6.022_140_76e23, "6.02214076e+23"),
        (-2.5e-05, "-2.5e-05"),
        (1e100, "1e+100"),
        (1_762_266_612.481_742_1, "1762266612.4817421"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        // Exact decimal ties: Python rounds to even, Rust's `{:e}` up.
        (-1_113_178_120_592_002.2, "-1113178120592002.2"),
        (111_659_285_584_252.12, "111659285584252.12"),
        (-233_891_771_783_429.62, "-233891771783429.62"),
    ];

    /// Random bit patterns and Python's repr of them.
    const PYTHON_FLOAT_BITS: &[(u64, &str)] = &[
        (0xf2a7_4de4_52e6_b438, "-1.989032661366619e+244"),
        (0x6513_270e_269e_0d37, "7.761117632285041e+178"),
        (0x0c5c_7fd0_a6a3_a450, "3.980498358697587e-249"),
        (0xd23f_0824_128b_2f33, "-1.5432835417340557e+88"),
        (0x1818_e811_892f_902b, "1.3647584518757569e-192"),
        (0x9531_985d_5d9d_c9f8, "-1.3701135617873088e-206"),
        (0xe8e2_5d94_0ed9_0475, "-1.7160537630466207e+197"),
        (0x36f6_75cc_81e7_4ef5, "6.294675241195386e-44"),
        (0x1600_a35a_0999_50d8, "1.0613447212142254e-202"),
        (0x6b0d_549b_6f03_675a, "4.708325160387546e+207"),
        (0x3d9c_1724_11e2_0b8f, "6.387016158513563e-12"),
        (0x8d11_6ece_1738_f7d9, "-9.973130378568733e-246"),
        (0x0f21_ddb6_6cad_4a26, "8.779753225680271e-236"),
        (0x90c1_92cf_d3ac_94af, "-5.795503248498993e-228"),
        (0xc30f_a36f_d398_d412, "-1113178120592002.2"),
        (0x42d9_636d_0366_5f08, "111659285584252.12"),
    ];

    #[test]
    fn floats_are_written_as_python_repr() {
        let bits = PYTHON_FLOAT_BITS
            .iter()
            .map(|&(b, s)| (f64::from_bits(b), s));
        for (f, want) in PYTHON_FLOAT_REPRS.iter().copied().chain(bits) {
            let mut text = String::new();
            write_python_float(f, &mut text);
            assert_eq!(text, want, "bits {:#018x}", f.to_bits());
        }
    }
}
