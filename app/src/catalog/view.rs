//! The catalog list's state, kept in the URL so a view can be shared: `?kind=component&q=pet
//! &lifecycle=production&sort=name&page=2`.

use serde::{Deserialize, Serialize};

use super::model::{EntitySummary, FacetCount};

pub const PAGE_SIZE: i64 = 25;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogView {
    pub kind: Option<String>,
    pub q: Option<String>,
    pub owner: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tag: Option<String>,
    pub namespace: Option<String>,
    pub sort: Option<String>,
    pub desc: bool,
    pub page: i64,
    /// Only entities with a deployment that failed in the last 24 hours (`deploys=failed`).
    #[serde(default)]
    pub failed_deploys: bool,
}

/// The facets the list offers: (query parameter, entity path, label).
pub const FACETS: [(&str, &str, &str); 5] = [
    ("owner", "relations.ownedBy", "Owner"),
    ("type", "spec.type", "Type"),
    ("lifecycle", "spec.lifecycle", "Lifecycle"),
    ("tag", "metadata.tags", "Tags"),
    ("namespace", "metadata.namespace", "Namespace"),
];

impl CatalogView {
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            kind: text("kind"),
            q: text("q"),
            owner: text("owner"),
            spec_type: text("type"),
            lifecycle: text("lifecycle"),
            tag: text("tag"),
            namespace: text("namespace"),
            sort: text("sort"),
            desc: get("desc").is_some_and(|v| v == "1"),
            page: text("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1),
            failed_deploys: get("deploys").is_some_and(|v| v == "failed"),
        }
    }

    pub fn facet(&self, param: &str) -> Option<&String> {
        match param {
            "owner" => self.owner.as_ref(),
            "type" => self.spec_type.as_ref(),
            "lifecycle" => self.lifecycle.as_ref(),
            "tag" => self.tag.as_ref(),
            "namespace" => self.namespace.as_ref(),
            _ => None,
        }
    }

    /// This view with one facet toggled (set, or cleared if already set to `value`), back on page 1.
    pub fn toggled(&self, param: &str, value: &str) -> Self {
        let mut next = Self { page: 1, ..self.clone() };
        let slot = match param {
            "owner" => &mut next.owner,
            "type" => &mut next.spec_type,
            "lifecycle" => &mut next.lifecycle,
            "tag" => &mut next.tag,
            "namespace" => &mut next.namespace,
            _ => return next,
        };
        *slot = if slot.as_deref() == Some(value) { None } else { Some(value.to_owned()) };
        next
    }

    /// This view with the failed-deployments filter toggled, back on page 1.
    pub fn toggled_failed_deploys(&self) -> Self {
        Self { page: 1, failed_deploys: !self.failed_deploys, ..self.clone() }
    }

    pub fn with_kind(&self, kind: Option<&str>) -> Self {
        Self {
            kind: kind.map(str::to_owned),
            page: 1,
            owner: None,
            spec_type: None,
            lifecycle: None,
            tag: None,
            ..self.clone()
        }
    }

    pub fn sorted_by(&self, column: &str) -> Self {
        let desc = self.sort.as_deref() == Some(column) && !self.desc;
        Self { sort: Some(column.to_owned()), desc, page: 1, ..self.clone() }
    }

    pub fn at_page(&self, page: i64) -> Self {
        Self { page, ..self.clone() }
    }

    /// The list URL for this view.
    pub fn href(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let mut add = |k, v: &Option<String>| {
            if let Some(v) = v {
                pairs.push((k, v.clone()));
            }
        };
        add("kind", &self.kind);
        add("q", &self.q);
        add("owner", &self.owner);
        add("type", &self.spec_type);
        add("lifecycle", &self.lifecycle);
        add("tag", &self.tag);
        add("namespace", &self.namespace);
        add("sort", &self.sort);
        if self.failed_deploys {
            pairs.push(("deploys", "failed".into()));
        }
        if self.desc {
            pairs.push(("desc", "1".into()));
        }
        if self.page > 1 {
            pairs.push(("page", self.page.to_string()));
        }
        if pairs.is_empty() {
            return "/catalog".into();
        }
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        format!("/catalog?{}", query.join("&"))
    }
}

/// Entity refs keep their `:` readable in the address bar.
fn encode(value: &str) -> String {
    crate::escape::percent(value, b":")
}

/// One page of the catalog list with its kind tabs and facet counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub items: Vec<EntitySummary>,
    pub total: i64,
    /// More than `total` match: a search is counted up to `service::SEARCH_COUNT_LIMIT`.
    pub total_capped: bool,
    pub kinds: Vec<FacetCount>,
    /// (query parameter, label, counts) per facet.
    pub facets: Vec<(String, String, Vec<FacetCount>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_round_trip_through_the_url() {
        let view = CatalogView {
            kind: Some("component".into()),
            q: Some("pet store".into()),
            lifecycle: Some("production".into()),
            page: 2,
            ..Default::default()
        };
        assert_eq!(view.href(), "/catalog?kind=component&q=pet%20store&lifecycle=production&page=2");
        let toggled = view.toggled("lifecycle", "production");
        assert_eq!(toggled.lifecycle, None);
        assert_eq!(toggled.page, 1);
        assert!(view.sorted_by("name").sorted_by("name").desc);
    }
}
