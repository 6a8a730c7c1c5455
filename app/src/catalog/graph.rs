//! The relations graph of an entity page: the entity in the middle, its related entities in
//! two columns around it (no overlaps however many), as a server-rendered SVG whose nodes
//! link to their pages (so it works without JavaScript).

use super::model::RelationView;
use crate::escape;

const WIDTH: f64 = 760.0;
const COLUMN_X: [f64; 2] = [130.0, 630.0];
const ROW: f64 = 34.0;
/// More neighbours than this would be unreadable; the list below the graph has them all.
pub const MAX_NODES: usize = 24;

pub fn relations_svg(center: &str, relations: &[RelationView]) -> String {
    let shown = &relations[..relations.len().min(MAX_NODES)];
    let rows = shown.len().div_ceil(2).max(1);
    let height = rows as f64 * ROW + 30.0;
    let (cx, cy) = (WIDTH / 2.0, height / 2.0);
    let mut edges = String::new();
    let mut nodes = String::new();
    for (i, relation) in shown.iter().enumerate() {
        // Left column first, then right; each column centred vertically.
        let (column, row) = if i < rows { (0, i) } else { (1, i - rows) };
        let in_column = if column == 0 { rows } else { shown.len() - rows };
        let top = cy - (in_column as f64 - 1.0) * ROW / 2.0;
        let (x, y) = (COLUMN_X[column], top + row as f64 * ROW);
        let (mx, my) = ((cx + x) / 2.0, (cy + y) / 2.0);
        edges.push_str(&format!(
            r##"<line x1="{cx:.0}" y1="{cy:.0}" x2="{x:.0}" y2="{y:.0}" stroke="#cbd5e1" stroke-width="1.5"/><text x="{mx:.0}" y="{my:.0}" font-size="10" fill="#64748b" text-anchor="middle" dy="-3">{}</text>"##,
            escape::html(&relation.relation)
        ));
        let label = escape::html(&short(&relation.target_ref));
        let box_ = node_box(x, y, &label, relation.target_path.is_some());
        nodes.push_str(&match &relation.target_path {
            Some(path) => format!(
                r#"<a href="{}" data-testid="graph-node"><title>{}</title>{box_}</a>"#,
                escape::html(path),
                escape::html(&relation.target_ref)
            ),
            None => {
                format!(r#"<g><title>{} (not in the catalog)</title>{box_}</g>"#, escape::html(&relation.target_ref))
            }
        });
    }
    let center_box = node_box(cx, cy, &escape::html(&short(center)), true)
        .replace("#ffffff", "#fef3c7")
        .replace("#94a3b8", "#f59e0b");
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="Relations of {}" class="w-full">{edges}{nodes}{center_box}</svg>"#,
        escape::html(center)
    )
}

fn node_box(x: f64, y: f64, label: &str, present: bool) -> String {
    let width = (label.chars().count() as f64 * 6.6 + 20.0).clamp(60.0, 240.0);
    let dash = if present { "" } else { r#" stroke-dasharray="4 3""# };
    let fill = if present { "#ffffff" } else { "#f8fafc" };
    let text = if present { "#0f172a" } else { "#94a3b8" };
    format!(
        r##"<rect x="{:.0}" y="{:.0}" width="{width:.0}" height="26" rx="6" fill="{fill}" stroke="#94a3b8"{dash}/><text x="{x:.0}" y="{:.0}" font-size="11" fill="{text}" text-anchor="middle">{label}</text>"##,
        x - width / 2.0,
        y - 13.0,
        y + 4.0
    )
}

/// `component:default/petstore` → `component:petstore`; other namespaces stay visible.
fn short(entity_ref: &str) -> String {
    entity_ref.replacen(":default/", ":", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_targets_link_and_missing_ones_do_not() {
        let relations = vec![
            RelationView {
                relation: "ownedBy".into(),
                target_ref: "group:default/team-a".into(),
                target_path: Some("/catalog/default/group/team-a".into()),
            },
            RelationView {
                relation: "dependsOn".into(),
                target_ref: "resource:default/<db>".into(),
                target_path: None,
            },
        ];
        let svg = relations_svg("component:default/petstore", &relations);
        assert!(svg.contains(r#"<a href="/catalog/default/group/team-a""#));
        assert!(svg.contains("group:team-a"));
        assert!(svg.contains("resource:&lt;db&gt;"), "labels are escaped");
        assert_eq!(svg.matches("<a ").count(), 1);
        assert!(svg.contains("stroke-dasharray"), "missing targets are dashed");
    }
}
