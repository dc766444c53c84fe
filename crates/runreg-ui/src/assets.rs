//! The page's files, built into the binary: nothing is fetched, nothing is
//! read from disk.

use crate::token::Token;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// Where `index.html` names the token: the script and the stylesheet are
/// requested with it, as every request must be.
const TOKEN_SLOT: &str = "__RUNREG_TOKEN__";

/// The asset at `path` (`/`, `/app.js`, `/style.css`) and its content type.
/// The page gets the token written into its links.
pub fn find(path: &str, token: &Token) -> Option<(&'static str, Vec<u8>)> {
    Some(match path {
        "/" | "/index.html" => (
            "text/html; charset=utf-8",
            INDEX_HTML.replace(TOKEN_SLOT, token.as_str()).into_bytes(),
        ),
        "/app.js" => ("text/javascript; charset=utf-8", APP_JS.as_bytes().to_vec()),
        "/style.css" => ("text/css; charset=utf-8", STYLE_CSS.as_bytes().to_vec()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_its_assets_with_the_token_and_holds_no_inline_script() {
        let token = Token::random().unwrap();
        let (kind, page) = find("/", &token).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(kind.starts_with("text/html"));
        assert!(page.contains(&format!("app.js?token={}", token.as_str())));
        assert!(page.contains(&format!("style.css?token={}", token.as_str())));
        assert!(!page.contains(TOKEN_SLOT));
        // Every <script> loads a file (the CSP forbids inline scripts).
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').unwrap()];
            assert!(tag.contains("src="), "inline script: {tag}");
        }
        assert!(find("/../Cargo.toml", &token).is_none());
        assert!(find("/assets/app.js", &token).is_none());
    }
}
