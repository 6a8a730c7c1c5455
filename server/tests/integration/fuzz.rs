//! A bounded fuzz test of the catalog's query grammar: filters, fields, sort keys, predicates,
//! cursors, page bounds, facets, refs and full-text terms, well-formed and not, sent through the
//! router like a client. Whatever arrives, the answer is a success or a 4xx in Backstage's
//! envelope, within a few seconds: never a 5xx, a panic or a hang.
//!
//! CI runs `CASES` cases from `SEED`. A longer local run:
//! `BEACON_FUZZ_CASES=20000 BEACON_FUZZ_SEED=7 cargo test -p server --test integration fuzz`.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{TestApp, TestTenant};

const CASES: u64 = 400;
const SEED: u64 = 0x6265_6163_6f6e;
/// Far above what any legal request takes; past it the request counts as a hang.
const PATIENCE: Duration = Duration::from_secs(10);

/// SplitMix64: deterministic, so a failing case is reproduced from its seed and index.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    /// Mostly small counts, now and then one just past a limit, rarely a large one.
    fn count(&mut self) -> usize {
        match self.below(10) {
            0..=6 => self.below(4),
            7 | 8 => 45 + self.below(60),
            _ => self.below(1_200),
        }
    }

    /// A number that is sometimes legal and often at or past an edge.
    fn number(&mut self) -> Value {
        match self.below(8) {
            0 => json!(-1),
            1 => json!(self.below(30)),
            2 => json!(1_000 + self.below(3) as i64 - 1),
            3 => json!(1_000_000 + self.below(3) as i64 - 1),
            4 => json!(i64::MAX),
            5 => json!(1.5),
            6 => json!("12"),
            _ => json!(null),
        }
    }

    /// Text from a vocabulary of real values, odd characters, bytes PostgreSQL refuses, very
    /// long strings and invalid UTF-8 (only reachable through percent-encoding).
    fn bytes(&mut self) -> Vec<u8> {
        match self.below(12) {
            0 => b"component".to_vec(),
            1 => b"artist-web".to_vec(),
            2 => b"team-a".to_vec(),
            3 => vec![b'a', 0, b'b'],
            4 => vec![0xff, 0xfe, b'x'],
            5 => "é☃𝄞".as_bytes().to_vec(),
            6 => b"%_\\'\"; DROP TABLE entities; --".to_vec(),
            7 => vec![b'x'; 150 + self.below(200)],
            8 => b"".to_vec(),
            9 => b"production,experimental=".to_vec(),
            10 => b"user:default/guest".to_vec(),
            _ => (0..self.below(12)).map(|_| self.below(256) as u8).collect(),
        }
    }

    fn text(&mut self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    fn path(&mut self) -> &'static str {
        self.pick(&[
            "kind",
            "metadata.name",
            "metadata.namespace",
            "metadata.tags",
            "metadata.annotations.backstage.io/techdocs-ref",
            "spec.type",
            "spec.lifecycle",
            "spec.owner",
            "relations.ownedBy",
            "relations",
            "metadata",
            "",
            ".",
            "a..b",
            "metadata.labels.x/y",
        ])
    }

    fn sort_field(&mut self) -> &'static str {
        self.pick(&["metadata.name", "kind", "metadata.title", "spec.type", "spec.owner", "spec.lifecycle", "nope", ""])
    }

    fn predicate(&mut self, depth: usize) -> Value {
        let leaf = depth > 9 || self.chance(45);
        if leaf {
            return match self.below(6) {
                0 => json!({ (self.path()): self.text() }),
                1 => json!({ (self.path()): { "$exists": self.chance(50) } }),
                2 => {
                    let values: Vec<String> = (0..self.count()).map(|_| self.text()).collect();
                    json!({ (self.path()): { "$in": values } })
                }
                3 => json!({ (self.path()): { "$regex": ".*" } }),
                4 => json!({ (self.path()): [1, 2] }),
                _ => json!({}),
            };
        }
        let children: Vec<Value> = (0..1 + self.below(4)).map(|_| self.predicate(depth + 1)).collect();
        match self.below(5) {
            0 => json!({ "$all": children }),
            1 => json!({ "$any": children }),
            2 => json!({ "$not": children[0] }),
            3 => json!({ "$not": children }),
            _ => json!({ "$all": "not a list" }),
        }
    }
}

fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (*b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One request, described so a failure can be read and replayed.
struct Case {
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
}

fn filter_param(dice: &mut Dice) -> String {
    let conditions: Vec<String> = (0..dice.count())
        .map(|_| {
            let key = encode(dice.path().as_bytes());
            match dice.chance(70) {
                true => format!("{key}%3D{}", encode(&dice.bytes())),
                false => key,
            }
        })
        .collect();
    format!("filter={}", conditions.join("%2C"))
}

fn query_params(dice: &mut Dice, cursor: &str) -> String {
    let mut params = Vec::new();
    for _ in 0..dice.below(3) {
        params.push(filter_param(dice));
    }
    if dice.chance(30) {
        let fields: Vec<String> = (0..dice.count()).map(|_| encode(dice.path().as_bytes())).collect();
        params.push(format!("fields={}", fields.join("%2C")));
    }
    for _ in 0..dice.count().min(40) {
        let order = ["asc", "desc", "up", ""][dice.below(4)];
        params.push(format!("orderField={}%2C{order}", encode(dice.sort_field().as_bytes())));
        params.push(format!("order={order}%3A{}", encode(dice.sort_field().as_bytes())));
    }
    for name in ["limit", "offset"] {
        if dice.chance(50) {
            params.push(format!("{name}={}", encode(dice.number().to_string().trim_matches('"').as_bytes())));
        }
    }
    if dice.chance(25) {
        params.push(format!("fullTextFilterTerm={}", encode(&dice.bytes())));
    }
    if dice.chance(20) {
        params.push(format!("cursor={cursor}"));
        params.push(format!("after={cursor}"));
    }
    params.join("&")
}

/// A cursor the server issued, mutated: fields changed to edge values or wrong types, or bytes
/// that are not a cursor at all.
fn forged_cursor(dice: &mut Dice, issued: &Value) -> String {
    match dice.below(4) {
        0 => encode(&dice.bytes()),
        1 => URL_SAFE_NO_PAD.encode(dice.bytes()),
        _ => {
            let mut cursor = issued.clone();
            let field = dice.pick(&["offset", "limit", "sort", "filter", "predicate", "full_text", "fullText"]);
            cursor["request"][field] = match dice.below(4) {
                0 => dice.number(),
                1 => json!(dice.text()),
                2 => dice.predicate(0),
                _ => json!([{ "field": dice.sort_field(), "descending": "yes" }]),
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap())
        }
    }
}

/// hyper refuses request lines past 64 KiB before any handler sees them; the generator keeps
/// below that by dropping the end of the query.
const MAX_URI: usize = 32 * 1024;

fn case(dice: &mut Dice, issued: &Value) -> Case {
    let mut case = unbounded_case(dice, issued);
    while case.path.len() > MAX_URI {
        // Before a parameter, or else before an escape (never inside one).
        let head = &case.path[..MAX_URI];
        let cut = head.rfind('&').or_else(|| head.rfind('%')).unwrap_or(MAX_URI);
        case.path.truncate(cut);
    }
    case
}

fn unbounded_case(dice: &mut Dice, issued: &Value) -> Case {
    let cursor = forged_cursor(dice, issued);
    let get = |path: String| Case { method: Method::GET, path, body: None };
    let post = |path: &str, body: Vec<u8>| Case { method: Method::POST, path: path.to_owned(), body: Some(body) };
    match dice.below(9) {
        0 => get(format!("/api/catalog/entities/by-query?{}", query_params(dice, &cursor))),
        1 => get(format!("/api/catalog/entities?{}", query_params(dice, &cursor))),
        2 | 3 => {
            let mut body = json!({});
            if dice.chance(70) {
                body["query"] = dice.predicate(0);
            }
            if dice.chance(40) {
                let order: Vec<Value> = (0..dice.count().min(60))
                    .map(|_| json!({ "field": dice.sort_field(), "order": dice.pick(&["asc", "desc", "sideways"]) }))
                    .collect();
                body["orderBy"] = json!(order);
            }
            for name in ["limit", "offset"] {
                if dice.chance(40) {
                    body[name] = dice.number();
                }
            }
            if dice.chance(20) {
                body["fullTextFilter"] = json!({ "term": dice.text(), "fields": [dice.path()] });
            }
            if dice.chance(20) {
                body["fields"] = json!((0..dice.count()).map(|_| dice.path()).collect::<Vec<_>>());
            }
            if dice.chance(15) {
                body["cursor"] = json!(cursor);
            }
            let mut bytes = body.to_string().into_bytes();
            if dice.chance(10) {
                bytes.truncate(dice.below(bytes.len() + 1));
            }
            if dice.chance(5) {
                bytes.push(0xff);
            }
            post("/api/catalog/entities/by-query", bytes)
        }
        4 => {
            let facets: Vec<String> =
                (0..dice.count()).map(|_| format!("facet={}", encode(dice.path().as_bytes()))).collect();
            let filter = filter_param(dice);
            get(format!("/api/catalog/entity-facets?{}&{filter}", facets.join("&")))
        }
        5 => {
            let facets: Vec<&str> = (0..dice.count()).map(|_| dice.path()).collect();
            let body = json!({ "facets": facets, "query": dice.predicate(0) });
            post("/api/catalog/entity-facets", body.to_string().into_bytes())
        }
        6 => {
            let refs: Vec<String> = (0..dice.count())
                .map(|_| match dice.chance(50) {
                    true => format!("component:default/{}", dice.text()),
                    false => dice.text(),
                })
                .collect();
            let fields: Vec<&str> = (0..dice.below(3)).map(|_| dice.path()).collect();
            post(
                "/api/catalog/entities/by-refs",
                json!({ "entityRefs": refs, "fields": fields }).to_string().into_bytes(),
            )
        }
        7 => {
            let page = encode(dice.number().to_string().as_bytes());
            get(format!("/api/catalog/search?q={}&kind={}&page={page}", encode(&dice.bytes()), encode(&dice.bytes())))
        }
        _ => get(format!(
            "/api/catalog/entities/by-name/{}/{}/{}",
            encode(&dice.bytes()),
            encode(&dice.bytes()),
            encode(&dice.bytes())
        )),
    }
}

fn request(t: &TestTenant, cookie: &str, dice: &mut Dice, case: &Case) -> Request<Body> {
    let mut request = Request::builder()
        .method(case.method.clone())
        .uri(&case.path)
        .header(header::HOST, &t.host)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if dice.chance(10) {
        // obs-text: bytes a header may carry that are not UTF-8.
        request = request.header(header::ACCEPT, HeaderValue::from_bytes(&[b'a', 0xe9, 0xff]).unwrap());
    }
    request.body(case.body.clone().map(Body::from).unwrap_or_else(Body::empty)).unwrap()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_query_grammar_never_answers_5xx_panics_or_hangs() {
    let (app, t, cookie) = TestApp::with_examples().await;
    let (_, page, _) = app.get_json(&t, &cookie, "/api/catalog/entities/by-query?limit=2").await;
    let issued = page["pageInfo"]["nextCursor"].as_str().expect("a next page");
    let issued: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(issued).unwrap()).unwrap();

    let (cases, seed) = (env_number("BEACON_FUZZ_CASES", CASES), env_number("BEACON_FUZZ_SEED", SEED));
    let mut dice = Dice(seed);
    let (mut served, mut refused) = (0, 0);
    for index in 0..cases {
        let case = case(&mut dice, &issued);
        let described = || {
            let body = case.body.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let body: String = body.chars().take(600).collect();
            format!(
                "case {index} of seed {seed}: {} {} {body}",
                case.method,
                case.path.chars().take(600).collect::<String>()
            )
        };
        let request = request(&t, &cookie, &mut dice, &case);
        let response = tokio::time::timeout(PATIENCE, app.send(request))
            .await
            .unwrap_or_else(|_| panic!("no answer within {PATIENCE:?}: {}", described()));
        let status = response.status;
        assert!(!status.is_server_error(), "{status} {}: {}", response.body, described());
        if status.is_client_error() {
            let body: Value = serde_json::from_str(&response.body).unwrap_or_else(|e| {
                panic!("a refusal outside the envelope ({e}): {status} {}: {}", response.body, described())
            });
            assert!(body["error"]["name"].is_string(), "{status} {body}: {}", described());
            assert_eq!(body["response"]["statusCode"], status.as_u16(), "{body}: {}", described());
            refused += 1;
        } else {
            served += 1;
        }
    }
    // The generator reaches both sides of the grammar's bounds.
    assert!(served > cases / 10 && refused > cases / 10, "{served} served, {refused} refused of {cases}");
}
