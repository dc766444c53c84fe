//! Recursive descent over the tokens, with bounded nesting.

use super::lexer::{Kind, Token, tokenize};
use super::time;
use super::{CmpOp, Filter, FilterError, Literal, TimeLiteral};
use crate::field::Field;
use crate::value::Value;

/// Deepest nesting of parentheses and `not`s accepted: deep enough for any
/// question, shallow enough that no input can exhaust the stack.
pub(super) const MAX_DEPTH: usize = 128;

pub(super) fn parse(text: &str) -> Result<Filter, FilterError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        depth: 0,
    };
    if parser.tokens.is_empty() {
        return Err(FilterError::new(
            text,
            0,
            "expected an expression, found nothing",
        ));
    }
    let filter = parser.or()?;
    if let Some(token) = parser.peek() {
        let found = token.kind.describe();
        return Err(parser.error_here(format!("expected `and`, `or` or the end, found {found}")));
    }
    Ok(filter)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn at(&self) -> usize {
        self.peek().map_or(self.text.len(), |t| t.at)
    }

    fn error_here(&self, message: impl Into<String>) -> FilterError {
        FilterError::new(self.text, self.at(), message)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end".to_owned(), |t| t.kind.describe())
    }

    /// Whether the next token is the keyword `kw` (case-insensitive).
    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let yes = self.is_keyword(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn descend(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error_here(format!(
                "expression nested too deeply (more than {MAX_DEPTH} levels)"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.eat_keyword("and") {
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        if self.eat_keyword("not") {
            self.descend()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Filter, FilterError> {
        if matches!(
            self.peek(),
            Some(Token {
                kind: Kind::LParen,
                ..
            })
        ) {
            self.pos += 1;
            self.descend()?;
            let inner = self.or()?;
            self.depth -= 1;
            if !matches!(
                self.peek(),
                Some(Token {
                    kind: Kind::RParen,
                    ..
                })
            ) {
                return Err(self.error_here(format!("expected `)`, found {}", self.found())));
            }
            self.pos += 1;
            return Ok(inner);
        }
        if self.eat_keyword("exists") {
            return Ok(Filter::Exists(self.field()?));
        }
        let field_at = self.at();
        let field = self.field()?;
        self.predicate(field, field_at)
    }

    fn field(&mut self) -> Result<Field, FilterError> {
        let at = self.at();
        let Some(Token {
            kind: Kind::Word(word),
            ..
        }) = self.peek().cloned()
        else {
            return Err(self.error_here(format!(
                "expected a field such as summary.val_acc, found {}",
                self.found()
            )));
        };
        self.pos += 1;
        Field::parse_literal(&word).map_err(|_| {
            let mut message = format!("unknown field `{word}`");
            match suggest(&word) {
                Some(root) => message.push_str(&format!(": did you mean `{root}`?")),
                None => message.push_str(&format!(
                    ": fields are {}",
                    Field::roots().collect::<Vec<_>>().join(", ")
                )),
            }
            FilterError::new(self.text, at, message)
        })
    }

    fn predicate(&mut self, field: Field, field_at: usize) -> Result<Filter, FilterError> {
        if self.eat_keyword("has") {
            if field != Field::Tags {
                return Err(FilterError::new(
                    self.text,
                    field_at,
                    "`has` applies to `tags` only, as in tags has 'x'",
                ));
            }
            return Ok(Filter::HasTag(self.string("a tag in quotes after `has`")?));
        }
        if self.eat_keyword("in") {
            return self.list(field, false);
        }
        if self.is_keyword("not") {
            self.pos += 1;
            if !self.eat_keyword("in") {
                return Err(
                    self.error_here(format!("expected `in` after `not`, found {}", self.found()))
                );
            }
            return self.list(field, true);
        }
        let op = match self.peek() {
            Some(Token {
                kind: Kind::Op(op), ..
            }) => *op,
            _ => {
                return Err(self.error_here(format!(
                    "expected an operator (= != < <= > >= ~ in has) after the field, found {}",
                    self.found()
                )));
            }
        };
        self.pos += 1;
        if op == "~" {
            let pattern = self.string("a glob pattern in quotes after `~`")?;
            return Ok(Filter::Glob { field, pattern });
        }
        let op = match op {
            "=" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            _ => CmpOp::Ge,
        };
        let literal = self.literal(&field)?;
        Ok(Filter::Compare { field, op, literal })
    }

    fn list(&mut self, field: Field, negated: bool) -> Result<Filter, FilterError> {
        if !matches!(
            self.peek(),
            Some(Token {
                kind: Kind::LParen,
                ..
            })
        ) {
            return Err(self.error_here(format!(
                "expected `(` to open the list, found {}",
                self.found()
            )));
        }
        self.pos += 1;
        let mut literals = vec![self.literal(&field)?];
        loop {
            match self.next().map(|t| t.kind) {
                Some(Kind::Comma) => literals.push(self.literal(&field)?),
                Some(Kind::RParen) => break,
                _ => {
                    self.pos -= 1;
                    return Err(self.error_here(format!(
                        "expected `,` or `)` in the list, found {}",
                        self.found()
                    )));
                }
            }
        }
        Ok(Filter::In {
            field,
            literals,
            negated,
        })
    }

    fn string(&mut self, what: &str) -> Result<String, FilterError> {
        match self.peek().cloned() {
            Some(Token {
                kind: Kind::Str(s), ..
            }) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error_here(format!("expected {what}, found {}", self.found()))),
        }
    }

    fn literal(&mut self, field: &Field) -> Result<Literal, FilterError> {
        let at = self.at();
        let token = self.peek().cloned();
        let literal = match token.map(|t| t.kind) {
            Some(Kind::Str(s)) => Literal::Value(Value::from(s)),
            Some(Kind::Word(w)) if w.eq_ignore_ascii_case("true") => {
                Literal::Value(Value::Bool(true))
            }
            Some(Kind::Word(w)) if w.eq_ignore_ascii_case("false") => {
                Literal::Value(Value::Bool(false))
            }
            Some(Kind::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Value(Value::Null),
            Some(Kind::Number(raw)) => self.number(&raw, field, at)?,
            _ => {
                return Err(self.error_here(format!(
                    "expected a value (a number, a 'string', true, false, null{}), found {}",
                    if field.is_time() {
                        ", a date or a time like -7d"
                    } else {
                        ""
                    },
                    self.found()
                )));
            }
        };
        self.pos += 1;
        Ok(literal)
    }

    fn number(&self, raw: &str, field: &Field, at: usize) -> Result<Literal, FilterError> {
        if let Some(value) = parse_number(raw) {
            return Ok(Literal::Value(value));
        }
        let time = time::parse_relative(raw).or_else(|| {
            time::parse_absolute(raw).map(|epoch| TimeLiteral::Absolute {
                text: raw.to_owned(),
                epoch,
            })
        });
        match time {
            Some(_) if !field.is_time() => Err(FilterError::new(
                self.text,
                at,
                format!("`{raw}` is a time: only created_at, updated_at and ended_at take times"),
            )),
            Some(time) => Ok(Literal::Time(time)),
            None => Err(FilterError::new(
                self.text,
                at,
                format!(
                    "`{raw}` is not a number{}",
                    if field.is_time() {
                        ", a date (2026-11-01, 2026-11-01T12:00) or a relative time (-7d, -12h, -30m)"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }
}

/// A JSON-style number: an int when it fits in i64, else a float.
fn parse_number(raw: &str) -> Option<Value> {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || digits.contains(['i', 'I', 'n', 'N'])
    {
        return None;
    }
    if let Ok(i) = raw.parse::<i64>() {
        return Some(Value::Int(i));
    }
    raw.parse::<f64>().ok().map(Value::Float)
}

/// The field root nearest to what was written, when it is near enough.
fn suggest(word: &str) -> Option<&'static str> {
    let head = match word.split_once('.') {
        Some((root, _)) => format!("{root}."),
        None => word.to_owned(),
    };
    if let Some(root) = Field::roots().find(|r| *r == head) {
        // A right root with nothing after the dot.
        return Some(root);
    }
    Field::roots()
        .map(|root| (edit_distance(&head.to_ascii_lowercase(), root), root))
        .filter(|(d, root)| *d <= 2.max(root.len() / 4))
        .min()
        .map(|(_, root)| root)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (prev + cost).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
