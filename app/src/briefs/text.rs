//! Turning company descriptions into the terms discovery compares: lower-cased words without
//! stop words, lightly stemmed, and the pairs of neighbouring words ("cloud cost"), which
//! carry most of a niche's vocabulary and read well in an explanation.

use std::collections::HashMap;

/// Words that say nothing about a market: function words and the generic vocabulary of
/// company descriptions ("platform", "companies", "help").
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "across",
    "all",
    "also",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "being",
    "best",
    "both",
    "build",
    "built",
    "but",
    "by",
    "can",
    "companies",
    "company",
    "customer",
    "customers",
    "do",
    "does",
    "each",
    "easily",
    "easy",
    "every",
    "first",
    "for",
    "from",
    "get",
    "has",
    "have",
    "help",
    "helps",
    "how",
    "i",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "leading",
    "like",
    "make",
    "makes",
    "making",
    "more",
    "most",
    "new",
    "no",
    "not",
    "of",
    "on",
    "one",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "people",
    "platform",
    "product",
    "products",
    "provide",
    "provides",
    "service",
    "services",
    "simple",
    "so",
    "solution",
    "solutions",
    "such",
    "team",
    "teams",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "today",
    "tool",
    "tools",
    "up",
    "us",
    "use",
    "used",
    "uses",
    "using",
    "via",
    "was",
    "way",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whose",
    "will",
    "with",
    "without",
    "world",
    "you",
    "your",
];

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// Calls `each(stem, written)` for every word of `text` that can describe a market, in order:
/// lower-cased, without stop words, numbers or one-letter words, plurals made singular
/// ("policies" → "policy", "clusters" → "cluster"). Reuses two buffers: no allocation per word.
fn scan(text: &str, mut each: impl FnMut(&str, &str)) {
    let (mut written, mut stem) = (String::new(), String::new());
    for raw in text.split(|c: char| !c.is_alphanumeric() && c != '\'') {
        let raw = raw.trim_matches('\'');
        let raw = raw.strip_suffix("'s").unwrap_or(raw);
        written.clear();
        written.extend(raw.chars().flat_map(char::to_lowercase));
        let short = written.chars().nth(1).is_none();
        if short || written.bytes().all(|b| b.is_ascii_digit()) || is_stop_word(&written) {
            continue;
        }
        stem.clear();
        let keeps_s = ["ss", "us", "is", "os"].iter().any(|end| written.ends_with(end));
        if written.len() > 4 && written.ends_with("ies") {
            stem.push_str(&written[..written.len() - 3]);
            stem.push('y');
        } else if written.len() > 3 && written.ends_with('s') && !keeps_s {
            stem.push_str(&written[..written.len() - 1]);
        } else {
            stem.push_str(&written);
        }
        each(&stem, &written);
    }
}

/// The stems of the words of `text` that can describe a market, in order.
pub fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    scan(text, |stem, _| words.push(stem.to_owned()));
    words
}

/// How each term of `text` (word or pair) was written, for explanations: stems such as
/// `kubernete` read back as `kubernetes`.
pub fn surfaces(text: &str, into: &mut HashMap<String, String>) {
    let mut previous: Option<(String, String)> = None;
    scan(text, |stem, written| {
        into.entry(stem.to_owned()).or_insert_with(|| written.to_owned());
        if let Some((before, before_written)) = &previous {
            into.entry(format!("{before} {stem}")).or_insert_with(|| format!("{before_written} {written}"));
        }
        previous = Some((stem.to_owned(), written.to_owned()));
    });
}

/// Counts of terms (words and neighbouring pairs) of `text`, each counting `weight`.
pub fn add_terms(terms: &mut HashMap<String, f32>, text: &str, weight: f32) {
    let words = words(text);
    for word in &words {
        *terms.entry(word.clone()).or_default() += weight;
    }
    for pair in words.windows(2) {
        *terms.entry(format!("{} {}", pair[0], pair[1])).or_default() += weight;
    }
}

/// A term's 64-bit key in the discovery index: a word's hash, or for a pair a mix of its two
/// words' hashes, so the index can key millions of terms without keeping their text. (A
/// collision among a tenant's few million terms has odds below one in a million.)
pub fn word_key(stem: &str) -> u64 {
    use std::hash::Hasher;
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(stem.as_bytes());
    hasher.write_u8(0xff);
    hasher.finish()
}

pub fn pair_key(first: u64, second: u64) -> u64 {
    (first.rotate_left(23) ^ second).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995
}

/// The key of a term as [`add_terms`] writes it ("cloud" or "cloud cost").
pub fn term_key(term: &str) -> u64 {
    match term.split_once(' ') {
        Some((first, second)) => pair_key(word_key(first), word_key(second)),
        None => word_key(term),
    }
}

/// The keys of the terms of `text` with `weight` each, pushed onto `into` (repeats included).
pub fn add_term_keys(into: &mut Vec<(u64, f32)>, text: &str, weight: f32) {
    let mut previous = None;
    scan(text, |stem, _| {
        let key = word_key(stem);
        into.push((key, weight));
        if let Some(before) = previous {
            into.push((pair_key(before, key), weight));
        }
        previous = Some(key);
    });
}

/// The folded form of a company name, for deduplication: letters and digits only, lower case,
/// without a trailing legal form.
pub fn name_key(name: &str) -> String {
    let lower = name.to_lowercase();
    let trimmed = [", inc.", " inc.", " inc", " ltd", " llc", " gmbh", " corp.", " corp"]
        .iter()
        .find_map(|suffix| lower.strip_suffix(suffix))
        .unwrap_or(&lower);
    trimmed.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The host of a website without `www.` and a port, lower case; `None` for what is not a host.
pub fn domain_of(website: &str) -> Option<String> {
    let rest = website.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?.rsplit('@').next()?.split(':').next()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).trim_end_matches('.').to_owned();
    let valid = host.contains('.')
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn words_drop_function_words_and_plurals() {
        assert_eq!(
            words("Cloud costs for Kubernetes clusters, the 2nd platform!"),
            ["cloud", "cost", "kubernete", "cluster", "2nd"]
        );
        assert_eq!(words("Infracost's policies"), ["infracost", "policy"]);
        let mut written = HashMap::new();
        surfaces("Kubernetes clusters", &mut written);
        assert_eq!(written["kubernete cluster"], "kubernetes clusters");
    }

    #[test]
    fn term_keys_are_the_keys_of_the_terms_written() {
        let text = "Cloud costs for Kubernetes clusters, the policies' owners";
        let mut written = HashMap::new();
        add_terms(&mut written, text, 2.0);
        let mut keys = Vec::new();
        add_term_keys(&mut keys, text, 2.0);
        let mut expected: Vec<u64> = written.keys().map(|t| term_key(t)).collect();
        let mut found: Vec<u64> = keys.iter().map(|(k, _)| *k).collect();
        expected.sort_unstable();
        found.sort_unstable();
        found.dedup();
        assert_eq!(found, expected);
        assert_ne!(term_key("cloud cost"), term_key("cost cloud"));
    }

    #[test]
    fn terms_include_neighbouring_pairs_with_their_weight() {
        let mut terms = HashMap::new();
        add_terms(&mut terms, "Cloud cost management", 2.0);
        add_terms(&mut terms, "cloud cost", 1.0);
        assert_eq!(terms["cloud cost"], 3.0);
        assert_eq!(terms["cost management"], 2.0);
    }

    #[test]
    fn names_and_domains_fold_for_deduplication() {
        assert_eq!(name_key("Acme, Inc."), "acme");
        assert_eq!(name_key("Deel "), "deel");
        assert_eq!(domain_of("https://www.Infracost.io/pricing"), Some("infracost.io".into()));
        assert_eq!(domain_of("infracost.io:443"), Some("infracost.io".into()));
        assert_eq!(domain_of("not a site"), None);
    }
}
