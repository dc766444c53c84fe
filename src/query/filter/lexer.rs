//! Tokens of the filter language.

use super::FilterError;

/// One token and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub kind: Kind,
    pub at: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind {
    /// A field path (backtick segments already unquoted) or a keyword.
    Word(String),
    /// A quoted string.
    Str(String),
    /// A number, a date or a relative time, as written.
    Number(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

impl Kind {
    pub fn describe(&self) -> String {
        match self {
            Kind::Word(w) => format!("`{w}`"),
            Kind::Str(s) => format!("string {s:?}"),
            Kind::Number(n) => format!("`{n}`"),
            Kind::Op(op) => format!("`{op}`"),
            Kind::LParen => "`(`".to_owned(),
            Kind::RParen => "`)`".to_owned(),
            Kind::Comma => "`,`".to_owned(),
        }
    }
}

/// Characters a field path may hold without backticks.
pub(super) fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-')
}

fn is_number_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-')
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        let kind = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '(' => single(&mut chars, Kind::LParen),
            ')' => single(&mut chars, Kind::RParen),
            ',' => single(&mut chars, Kind::Comma),
            '~' => single(&mut chars, Kind::Op("~")),
            '=' => {
                chars.next();
                if chars.next_if(|&(_, c)| c == '=').is_some() {
                    // `==` is read as `=`.
                }
                Kind::Op("=")
            }
            '!' => {
                chars.next();
                if chars.next_if(|&(_, c)| c == '=').is_none() {
                    return Err(FilterError::new(text, at, "expected `!=`"));
                }
                Kind::Op("!=")
            }
            '<' | '>' => {
                chars.next();
                let eq = chars.next_if(|&(_, c)| c == '=').is_some();
                Kind::Op(match (c, eq) {
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    (_, false) => ">",
                    (_, true) => ">=",
                })
            }
            '\'' | '"' => Kind::Str(string(text, &mut chars)?),
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let mut raw = String::new();
                while let Some((_, c)) = chars.next_if(|&(_, c)| is_number_char(c)) {
                    raw.push(c);
                }
                Kind::Number(raw)
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '`' => {
                Kind::Word(word(text, &mut chars)?)
            }
            other => {
                return Err(FilterError::new(
                    text,
                    at,
                    format!("unexpected character `{other}`"),
                ));
            }
        };
        tokens.push(Token { kind, at });
    }
    Ok(tokens)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn single(chars: &mut Chars<'_>, kind: Kind) -> Kind {
    chars.next();
    kind
}

fn string(text: &str, chars: &mut Chars<'_>) -> Result<String, FilterError> {
    let Some((start, quote)) = chars.next() else {
        return Err(FilterError::new(text, text.len(), "expected a string"));
    };
    let mut out = String::new();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Ok(out),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, c)) => out.push(c),
                None => return Err(FilterError::new(text, at, "unfinished escape")),
            },
            c => out.push(c),
        }
    }
    Err(FilterError::new(
        text,
        start,
        format!("unclosed string: missing `{quote}`"),
    ))
}

/// A field path or keyword; backticked segments may hold any character.
fn word(text: &str, chars: &mut Chars<'_>) -> Result<String, FilterError> {
    let mut out = String::new();
    while let Some(&(at, c)) = chars.peek() {
        if c == '`' {
            chars.next();
            let mut closed = false;
            for (_, c) in chars.by_ref() {
                if c == '`' {
                    closed = true;
                    break;
                }
                out.push(c);
            }
            if !closed {
                return Err(FilterError::new(text, at, "unclosed backtick: missing '`'"));
            }
        } else if is_path_char(c) {
            out.push(c);
            chars.next();
        } else {
            break;
        }
    }
    Ok(out)
}
