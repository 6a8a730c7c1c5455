//! A brief as a PDF, laid out here and written with krilla: A4 pages, DejaVu Sans embedded
//! (subset) so the file reads the same everywhere, text selectable (`pdftotext` gets every
//! name and number), the positioning chart as vector paths from the same geometry as the page.

use krilla::color::rgb;
use krilla::geom::{Path, PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use skrifa::instance::{LocationRef, Size};
use skrifa::MetadataProvider;

use super::chart::positioning;
use super::model::{BriefContent, Competitor};
use crate::error::{AppError, AppResult};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 48.0;
const BODY: f32 = 9.5;
const INK: (u8, u8, u8) = (15, 23, 42);
const MUTED: (u8, u8, u8) = (100, 116, 139);
const ACCENT: (u8, u8, u8) = (79, 70, 229);

/// A font for drawing and the metrics for measuring.
struct Face {
    font: Font,
    bytes: &'static [u8],
}

impl Face {
    fn load(bytes: &'static [u8]) -> AppResult<Self> {
        let font = Font::new(bytes.into(), 0).ok_or_else(|| AppError::internal("the PDF font does not load"))?;
        Ok(Self { font, bytes })
    }

    /// The advance of `text` at `size`, without kerning (enough to break lines).
    fn width(&self, text: &str, size: f32) -> f32 {
        let Ok(font) = skrifa::FontRef::new(self.bytes) else { return text.len() as f32 * size * 0.6 };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
        text.chars().map(|c| charmap.map(c).and_then(|g| metrics.advance_width(g)).unwrap_or(size * 0.6)).sum()
    }

    /// `text` broken into lines no wider than `width`; a word longer than a line is cut.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if self.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if self.width(&piece, size) > width {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

fn fill(color: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn stroke(color: (u8, u8, u8), width: f32) -> Stroke {
    Stroke { paint: rgb::Color::new(color.0, color.1, color.2).into(), width, ..Stroke::default() }
}

fn rect(x: f32, y: f32, w: f32, h: f32) -> Option<Path> {
    let mut builder = PathBuilder::new();
    builder.push_rect(Rect::from_xywh(x, y, w, h)?);
    builder.finish()
}

fn circle(cx: f32, cy: f32, r: f32) -> Option<Path> {
    // Four cubic arcs; 0.5523 places the control points of a quarter circle.
    let k = 0.5523 * r;
    let mut b = PathBuilder::new();
    b.move_to(cx + r, cy);
    b.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    b.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    b.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    b.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    b.close();
    b.finish()
}

fn line(x1: f32, y1: f32, x2: f32, y2: f32) -> Option<Path> {
    let mut b = PathBuilder::new();
    b.move_to(x1, y1);
    b.line_to(x2, y2);
    b.finish()
}

/// Text drawn line by line down a page, starting new pages as needed.
struct Writer {
    regular: Face,
    bold: Face,
    /// Each page's drawing operations, replayed onto krilla pages at the end.
    pages: Vec<Vec<Op>>,
    y: f32,
}

enum Op {
    Text { x: f32, y: f32, size: f32, bold: bool, color: (u8, u8, u8), text: String },
    Fill { path: Path, color: (u8, u8, u8) },
    Stroke { path: Path, color: (u8, u8, u8), width: f32 },
}

impl Writer {
    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page is always open")
    }

    /// Makes room for `height` more points, on a new page if this one is full.
    fn room(&mut self, height: f32) {
        if self.y + height > HEIGHT - MARGIN {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, bold: bool, color: (u8, u8, u8), text: &str) {
        self.ops().push(Op::Text { x, y, size, bold, color, text: text.to_owned() });
    }

    fn face(&self, bold: bool) -> &Face {
        if bold {
            &self.bold
        } else {
            &self.regular
        }
    }

    /// A wrapped paragraph across the text width.
    fn paragraph(&mut self, text: &str, size: f32, bold: bool, color: (u8, u8, u8)) {
        let leading = size * 1.35;
        for line in self.face(bold).wrap(text, size, WIDTH - 2.0 * MARGIN) {
            self.room(leading);
            self.y += leading;
            let y = self.y;
            self.text_at(MARGIN, y, size, bold, color, &line);
        }
    }

    fn heading(&mut self, text: &str) {
        self.room(40.0);
        self.y += 14.0;
        self.paragraph(text, 12.5, true, INK);
        self.y += 4.0;
    }

    fn shape(&mut self, op: Option<Op>) {
        if let Some(op) = op {
            self.ops().push(op);
        }
    }
}

/// The brief's PDF.
pub fn render(content: &BriefContent, competitors: &[Competitor]) -> AppResult<Vec<u8>> {
    let mut w = Writer { regular: Face::load(REGULAR)?, bold: Face::load(BOLD)?, pages: vec![Vec::new()], y: MARGIN };
    let target = &content.target;

    w.paragraph("Competitive brief", 9.0, false, MUTED);
    w.paragraph(&target.name, 22.0, true, INK);
    let mut facts = target.headline_facts();
    facts.extend(target.domain.clone());
    w.paragraph(&facts.join(" · "), BODY, false, MUTED);
    if let Some(one_liner) = &target.one_liner {
        w.y += 4.0;
        w.paragraph(one_liner, 11.0, false, INK);
    }

    w.heading(&format!("Competitive threat score: {:.0} / 100", content.threat.score));
    w.paragraph("threat = 100 × (1 − Π (1 − score × momentum)) over the five closest competitors", BODY, false, MUTED);
    for term in &content.threat.terms {
        w.paragraph(
            &format!(
                "{}: score {:.2} × momentum {:.2} = pressure {:.2}",
                term.name, term.score, term.momentum, term.pressure
            ),
            BODY,
            false,
            INK,
        );
    }

    w.heading("Summary");
    for sentence in &content.narrative {
        w.paragraph(sentence, BODY + 0.5, false, INK);
        w.y += 2.0;
    }

    w.heading(&format!("Competitors (of {} companies compared)", content.companies_compared));
    table(&mut w, competitors);

    w.heading("Positioning: similarity × momentum (bubble: team size)");
    chart(&mut w, competitors);

    w.heading("Market map: competitors per subindustry");
    for (segment, count) in &content.market_map {
        w.room(14.0);
        w.y += 14.0;
        let y = w.y;
        let bar = 220.0 * *count as f32 / competitors.len().max(1) as f32;
        w.shape(rect(MARGIN + 200.0, y - 8.0, bar.max(2.0), 9.0).map(|path| Op::Fill { path, color: ACCENT }));
        let label = w.regular.wrap(segment, BODY, 190.0).into_iter().next().unwrap_or_default();
        w.text_at(MARGIN, y, BODY, false, INK, &label);
        w.text_at(MARGIN + 206.0 + bar, y, BODY, false, MUTED, &count.to_string());
    }

    let mut document = Document::new();
    document
        .set_metadata(Metadata::new().title(format!("Competitive brief: {}", target.name)).creator("Beacon".into()));
    let pages = std::mem::take(&mut w.pages);
    let count = pages.len();
    for (number, ops) in pages.into_iter().enumerate() {
        let settings = PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| AppError::internal("page size"))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, &w, op);
        }
        let footer = format!("{} · page {} of {count}", target.name, number + 1);
        draw(
            &mut surface,
            &w,
            Op::Text { x: MARGIN, y: HEIGHT - 24.0, size: 8.0, bold: false, color: MUTED, text: footer },
        );
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| AppError::internal(format!("the PDF could not be written: {e:?}")))
}

fn draw(surface: &mut Surface<'_>, w: &Writer, op: Op) {
    match op {
        Op::Text { x, y, size, bold, color, text } => {
            surface.set_fill(Some(fill(color)));
            surface.set_stroke(None);
            surface.draw_text(Point::from_xy(x, y), w.face(bold).font.clone(), size, &text, false, TextDirection::Auto);
        }
        Op::Fill { path, color } => {
            surface.set_fill(Some(fill(color)));
            surface.set_stroke(None);
            surface.draw_path(&path);
        }
        Op::Stroke { path, color, width } => {
            surface.set_fill(None);
            surface.set_stroke(Some(stroke(color, width)));
            surface.draw_path(&path);
        }
    }
}

/// Rank, name, score, momentum, and the why wrapped under each row.
fn table(w: &mut Writer, competitors: &[Competitor]) {
    let columns = [("#", 0.0), ("Company", 18.0), ("Score", 330.0), ("Momentum", 385.0), ("Segment", 445.0)];
    w.room(16.0);
    w.y += 14.0;
    let y = w.y;
    for (title, x) in columns {
        w.text_at(MARGIN + x, y, BODY, true, MUTED, title);
    }
    for competitor in competitors {
        let why = w.regular.wrap(&competitor.why, BODY - 1.0, WIDTH - 2.0 * MARGIN - 18.0);
        w.room(16.0 + why.len() as f32 * 11.0);
        w.shape(line(MARGIN, w.y + 4.0, WIDTH - MARGIN, w.y + 4.0).map(|path| Op::Stroke {
            path,
            color: (226, 232, 240),
            width: 0.5,
        }));
        w.y += 16.0;
        let y = w.y;
        let name = w.bold.wrap(&competitor.company.name, BODY, 300.0).into_iter().next().unwrap_or_default();
        let segment = w.regular.wrap(competitor.company.segment().unwrap_or("—"), BODY, WIDTH - 2.0 * MARGIN - 445.0);
        w.text_at(MARGIN, y, BODY, false, MUTED, &competitor.rank.to_string());
        w.text_at(MARGIN + 18.0, y, BODY, true, INK, &name);
        w.text_at(MARGIN + 330.0, y, BODY, false, INK, &format!("{:.2}", competitor.score));
        w.text_at(MARGIN + 385.0, y, BODY, false, INK, &format!("{:.2}", competitor.momentum));
        w.text_at(MARGIN + 445.0, y, BODY, false, INK, segment.first().map_or("—", String::as_str));
        for line in why {
            w.y += 11.0;
            let y = w.y;
            w.text_at(MARGIN + 18.0, y, BODY - 1.0, false, MUTED, &line);
        }
    }
}

fn chart(w: &mut Writer, competitors: &[Competitor]) {
    let (plot_w, plot_h) = (WIDTH - 2.0 * MARGIN - 40.0, 220.0);
    w.room(plot_h + 40.0);
    let (left, top) = (MARGIN + 30.0, w.y + 12.0);
    let bottom = top + plot_h;
    let chart = positioning(competitors);
    w.shape(line(left, bottom, left + plot_w, bottom).map(|path| Op::Stroke { path, color: MUTED, width: 0.8 }));
    w.shape(line(left, top, left, bottom).map(|path| Op::Stroke { path, color: MUTED, width: 0.8 }));
    for dot in &chart.dots {
        let (cx, cy) = (left + dot.x as f32 * plot_w, bottom - dot.y as f32 * plot_h);
        let r = 4.0 + 14.0 * dot.radius as f32;
        w.shape(circle(cx, cy, r).map(|path| Op::Fill { path, color: (199, 210, 254) }));
        w.shape(circle(cx, cy, r).map(|path| Op::Stroke { path, color: ACCENT, width: 0.8 }));
        w.text_at(cx + r + 2.0, cy + 3.0, 7.5, false, INK, &dot.label);
    }
    w.text_at(left, bottom + 14.0, 8.0, false, MUTED, "0");
    w.text_at(left + plot_w - 70.0, bottom + 14.0, 8.0, false, MUTED, &format!("similarity {:.1}", chart.x_max));
    w.text_at(MARGIN, top + 8.0, 8.0, false, MUTED, "1.0");
    w.text_at(MARGIN - 4.0, top - 4.0, 8.0, false, MUTED, "momentum");
    w.y = bottom + 22.0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::briefs::model::Company;

    #[test]
    fn long_words_and_lines_wrap_within_the_width() {
        let face = Face::load(REGULAR).unwrap();
        let lines = face.wrap("cloud cost management for Kubernetes clusters and serverless workloads", 10.0, 120.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| face.width(l, 10.0) <= 120.0));
        let long = "x".repeat(200);
        assert!(face.wrap(&long, 10.0, 100.0).iter().all(|l| face.width(l, 10.0) <= 100.0));
    }

    #[test]
    fn a_brief_renders_to_a_pdf_with_fonts_embedded() {
        let target = Company { name: "Infracost".into(), ..Company::default() };
        let competitor = Competitor {
            rank: 1,
            company: Company { name: "Vantage".into(), team_size: Some(40), ..Company::default() },
            score: 0.6,
            momentum: 0.8,
            contributions: vec![],
            why: "shared terms: 'cloud cost'".into(),
        };
        let threat = crate::briefs::scoring::threat(std::slice::from_ref(&competitor));
        let content = crate::briefs::content::build(target, threat, std::slice::from_ref(&competitor), 2);
        let pdf = render(&content, &[competitor]).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.windows(9).any(|w| w == b"/FontFile"), "the font is embedded");
    }
}
