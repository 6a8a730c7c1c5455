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

/// A plural's singular, for the common English endings; short words stay as they are.
fn stem(word: &str) -> String {
    if word.len() > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    let keeps_s = ["ss", "us", "is", "os"].iter().any(|end| word.ends_with(end));
    if word.len() > 3 && word.ends_with('s') && !keeps_s {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

/// The words of `text` that can describe a market, in order: (stem, the word as written in
/// lower case).
fn tokens(text: &str) -> Vec<(String, String)> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|raw| raw.trim_matches('\'').trim_end_matches("'s").to_lowercase())
        .filter(|w| w.chars().count() >= 2 && !w.chars().all(|c| c.is_ascii_digit()) && !is_stop_word(w))
        .map(|w| (stem(&w), w))
        .collect()
}

/// The stems of the words of `text` that can describe a market, in order.
pub fn words(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|(stem, _)| stem).collect()
}

/// How each term of `text` (word or pair) was written, for explanations: stems such as
/// `kubernete` read back as `kubernetes`.
pub fn surfaces(text: &str, into: &mut HashMap<String, String>) {
    let tokens = tokens(text);
    for (stem, surface) in &tokens {
        into.entry(stem.clone()).or_insert_with(|| surface.clone());
    }
    for pair in tokens.windows(2) {
        let term = format!("{} {}", pair[0].0, pair[1].0);
        into.entry(term).or_insert_with(|| format!("{} {}", pair[0].1, pair[1].1));
    }
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
