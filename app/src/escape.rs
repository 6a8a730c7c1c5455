//! Escaping for the places that build HTML, SVG or URLs as text (error pages outside the app,
//! the relations graph, search snippets, Markdown in lists, SAML documents, query strings,
//! `otpauth://` URIs, HTTP Basic client credentials). Used by services and pages alike, so it
//! lives at the top of the crate, not under `ui`.

/// Makes text safe inside HTML/SVG elements and double-quoted attributes.
pub fn html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Percent-encodes everything but RFC 3986 unreserved characters and the bytes in `keep`.
pub fn percent(text: &str, keep: &[u8]) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b if keep.contains(&b) => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Text matched literally inside a LIKE pattern: its own `%`, `_` and `\` escaped.
pub fn like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The longest start of `text` that fits in `max` bytes, never splitting a character.
pub fn cut(text: &str, max: usize) -> &str {
    &text[..fitting(text, max)]
}

/// [`cut`] in place: no copy of a text that already fits.
pub fn cut_owned(mut text: String, max: usize) -> String {
    text.truncate(fitting(&text, max));
    text
}

fn fitting(text: &str, max: usize) -> usize {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// A CSV cell: RFC 4180 quoting, and a leading `'` before what a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, CR). For text people typed (actors, tags, names); numbers
/// the server formats go into a file as they are.
pub fn csv_cell(value: &str) -> String {
    let defused = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_keep_only_unreserved_and_chosen_bytes() {
        assert_eq!(super::percent("a b&c:d@é", b":"), "a%20b%26c:d%40%C3%A9");
    }

    #[test]
    fn cuts_never_split_a_character() {
        assert_eq!(super::cut("héllo", 2), "h");
        assert_eq!(super::cut("héllo", 3), "hé");
        assert_eq!(super::cut("abc", 10), "abc");
        assert_eq!(super::cut_owned("/api/é".to_owned(), 6), "/api/");
        assert_eq!(super::cut_owned("a".repeat(600), 512).len(), 512);
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        use super::csv_cell;
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn markup_and_quotes_are_neutralised() {
        assert_eq!(super::html(r#"<a href="x">&</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
    }
}
