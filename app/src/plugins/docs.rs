//! Plugin documentation from Markdown to HTML that is safe to put in a page: the directory's
//! text comes from third parties, so raw HTML is shown as text, links keep only http(s),
//! mailto and relative targets, and images become links (no requests on a reader's behalf).

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// The longest documentation rendered; the rest is cut (directory entries are a few KB).
const MAX_CHARS: usize = 100_000;

pub fn render(markdown: &str) -> String {
    let text: String = markdown.chars().take(MAX_CHARS).collect();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(&text, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe(dest_url), title, id })
        }
        Event::Start(Tag::Image { dest_url, title, id, .. }) => {
            Event::Start(Tag::Link { link_type: LinkType::Inline, dest_url: safe(dest_url), title, id })
        }
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The URL when a reader can follow it safely, else `#`.
fn safe(url: CowStr<'_>) -> CowStr<'_> {
    if safe_url(&url) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// Whether a third-party URL may be a link: http(s), mailto or relative (no `javascript:`,
/// `data:` and the like).
pub fn safe_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s).filter(|s| !s.contains(['/', '?', '#']));
    matches!(scheme, None | Some("http" | "https" | "mailto"))
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_raw_html_is_text() {
        let html = render("# Tech Radar\n\n**Adopt** [docs](https://backstage.io)\n\n<script>alert(1)</script>");
        assert!(html.contains("<h1>Tech Radar</h1>"));
        assert!(html.contains("<strong>Adopt</strong>"));
        assert!(html.contains(r#"<a href="https://backstage.io">docs</a>"#));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn dangerous_links_and_images_are_defused() {
        let html =
            render("[x](javascript:alert(1)) [y]( JAVASCRIPT:alert(1)) ![pixel](https://t.example/p.gif) [rel](./a)");
        assert!(!html.to_lowercase().contains("javascript:"));
        assert!(!html.contains("<img"));
        assert!(html.contains(r#"href="https://t.example/p.gif""#));
        assert!(html.contains(r#"href="./a""#));
    }
}
