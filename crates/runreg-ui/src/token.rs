//! [`Token`]: the secret in the page's URL that every request must carry.

use std::fmt;
use std::io;

/// 128 random bits, as 32 lowercase hex digits, drawn from the operating
/// system's random source. Compared in constant time, so the time a
/// refusal takes says nothing about how much of a guess was right.
///
/// ```
/// use runreg_ui::Token;
///
/// let token = Token::random()?;
/// assert_eq!(token.as_str().len(), 32);
/// assert!(token.matches(token.as_str()));
/// assert!(!token.matches("0123"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A new random token.
    ///
    /// # Errors
    ///
    /// When the operating system's random source cannot be read.
    pub fn random() -> io::Result<Token> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| io::Error::other(format!("no random source: {e}")))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token's text, as it goes into the URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token. Every byte of both is looked at,
    /// whatever they hold.
    pub fn matches(&self, given: &str) -> bool {
        let (ours, theirs) = (self.0.as_bytes(), given.as_bytes());
        let mut differ = u8::from(ours.len() != theirs.len());
        for (i, &b) in ours.iter().enumerate() {
            differ |= b ^ theirs.get(i).copied().unwrap_or(!b);
        }
        differ == 0
    }
}

/// Never printed by accident (a `{:?}` in a log).
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_and_only_the_whole_token_matches() {
        let a = Token::random().unwrap();
        let b = Token::random().unwrap();
        assert_ne!(a, b);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(&a.as_str()[..31]));
        assert!(!a.matches(&format!("{}0", a.as_str())));
        assert!(!a.matches(""));
        assert!(!a.matches(&a.as_str().to_uppercase()));
    }
}
