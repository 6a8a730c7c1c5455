//! The inline subset of Markdown that entity descriptions use in one-line places (the catalog
//! list): links, `**strong**`, `*emphasis*` and `` `code` ``. Everything else is text: the
//! result is escaped HTML whose only markup is what this module writes, so it is safe for
//! `inner_html`. Line breaks become spaces (a list row has one line). Only the first
//! [`SHOWN_CHARS`] characters are rendered: the cell shows one truncated line anyway, and the
//! work per description stays small whatever an entity holds.

use crate::escape;

/// More than a list cell can show; bounds the link search, which looks ahead from each `[`.
pub const SHOWN_CHARS: usize = 400;

pub fn inline_html(markdown: &str) -> String {
    let shown: String = markdown.chars().take(SHOWN_CHARS).collect();
    let text = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        if let Some((html, used)) =
            code(rest).or_else(|| link(rest)).or_else(|| strong(rest)).or_else(|| emphasis(rest))
        {
            out.push_str(&html);
            rest = &rest[used..];
        } else {
            // Plain text up to the next character that may start markup, escaped in one go.
            let end = rest[c.len_utf8()..].find(['`', '[', '*']).map_or(rest.len(), |i| i + c.len_utf8());
            out.push_str(&escape::html(&rest[..end]));
            rest = &rest[end..];
        }
    }
    out
}

/// Text between two markers at the start of `rest`, and the bytes the span takes.
fn delimited<'a>(rest: &'a str, marker: &str) -> Option<(&'a str, usize)> {
    let inner = rest.strip_prefix(marker)?;
    let end = inner.find(marker)?;
    let content = &inner[..end];
    (!content.trim().is_empty()).then_some((content, marker.len() * 2 + end))
}

fn code(rest: &str) -> Option<(String, usize)> {
    delimited(rest, "`").map(|(content, used)| (format!("<code>{}</code>", escape::html(content)), used))
}

/// Like Markdown, `* text *` (spaces inside the markers) is not emphasis: `2 * 3 * 4` stays.
fn flanked(content: &str) -> bool {
    !content.starts_with(char::is_whitespace) && !content.ends_with(char::is_whitespace)
}

fn strong(rest: &str) -> Option<(String, usize)> {
    delimited(rest, "**")
        .filter(|(content, _)| flanked(content))
        .map(|(content, used)| (format!("<strong>{}</strong>", escape::html(content)), used))
}

fn emphasis(rest: &str) -> Option<(String, usize)> {
    if rest.starts_with("**") {
        return None;
    }
    delimited(rest, "*")
        .filter(|(content, _)| flanked(content))
        .map(|(content, used)| (format!("<em>{}</em>", escape::html(content)), used))
}

/// `[label](url)`; a URL that is not http(s), mailto or a path on this site leaves the label
/// as plain text (no `javascript:` or `data:` links).
fn link(rest: &str) -> Option<(String, usize)> {
    let inner = rest.strip_prefix('[')?;
    let label_end = inner.find("](")?;
    let label = &inner[..label_end];
    let after = &inner[label_end + 2..];
    let url_end = after.find(')')?;
    let url = &after[..url_end];
    if label.is_empty() || label.contains('[') || url.contains(char::is_whitespace) {
        return None;
    }
    let used = 1 + label_end + 2 + url_end + 1;
    let safe = ["https://", "http://", "mailto:"].iter().any(|scheme| url.to_ascii_lowercase().starts_with(scheme))
        || (url.starts_with('/') && !url.starts_with("//") && !url.contains('\\'));
    let html = if safe {
        format!(
            r#"<a href="{}" rel="noopener noreferrer nofollow" class="underline hover:text-amber-700">{}</a>"#,
            escape::html(url),
            escape::html(label)
        )
    } else {
        escape::html(label)
    };
    Some((html, used))
}

#[cfg(test)]
mod tests {
    use super::inline_html;

    #[test]
    fn links_render_and_unsafe_schemes_stay_text() {
        assert_eq!(
            inline_html("[The Petstore](http://petstore.example.com) is an example"),
            r#"<a href="http://petstore.example.com" rel="noopener noreferrer nofollow" class="underline hover:text-amber-700">The Petstore</a> is an example"#
        );
        assert_eq!(inline_html("[click](javascript:alert(1))"), "click)");
        assert_eq!(inline_html("[x](data:text/html,hi) y"), "x y");
        assert_eq!(inline_html("[x](//evil.example) y"), "x y");
        assert_eq!(inline_html(r"[x](/\evil.example) y"), "x y", "browsers read /\\ as //");
        assert_eq!(
            inline_html("[x](/catalog?kind=api) y"),
            r#"<a href="/catalog?kind=api" rel="noopener noreferrer nofollow" class="underline hover:text-amber-700">x</a> y"#
        );
    }

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            inline_html("<script>alert(1)</script> & \"q\""),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            inline_html("[<b>](https://x.example/\"onmouseover=)"),
            r#"<a href="https://x.example/&quot;onmouseover=" rel="noopener noreferrer nofollow" class="underline hover:text-amber-700">&lt;b&gt;</a>"#
        );
    }

    #[test]
    fn only_what_a_row_shows_is_rendered() {
        // Unclosed links make the search look ahead: the input is cut before it starts.
        let hostile = "[a](".repeat(200_000);
        assert_eq!(inline_html(&hostile), "[a](".repeat(100));
    }

    #[test]
    fn emphasis_code_and_line_breaks() {
        assert_eq!(inline_html("a **b** *c* `<d>`"), "a <strong>b</strong> <em>c</em> <code>&lt;d&gt;</code>");
        assert_eq!(inline_html("first line\n- item\n- item"), "first line - item - item");
        assert_eq!(inline_html("2 * 3 * 4 and a_b_c"), "2 * 3 * 4 and a_b_c");
        assert_eq!(inline_html("unclosed **bold and [label]( x )"), "unclosed **bold and [label]( x )");
    }
}
