//! BERT's uncased WordPiece tokenizer, as `all-MiniLM-L6-v2` was trained with: control
//! characters dropped, CJK ideographs split apart, lower case without accents, words split at
//! whitespace and punctuation, then each word cut into the longest pieces the vocabulary has.

use std::collections::HashMap;

use unicode_general_category::{get_general_category, GeneralCategory};
use unicode_normalization::UnicodeNormalization;

/// A word longer than this is one unknown token, as in BERT.
const MAX_WORD_CHARS: usize = 100;

pub struct Tokenizer {
    vocabulary: HashMap<String, u32>,
    unknown: u32,
    start: u32,
    end: u32,
}

impl Tokenizer {
    /// Reads `vocab.txt`: one token per line, its id the line number.
    pub fn from_vocabulary(text: &str) -> Result<Self, String> {
        let vocabulary: HashMap<String, u32> =
            text.lines().enumerate().map(|(id, token)| (token.to_owned(), id as u32)).collect();
        let id = |token: &str| vocabulary.get(token).copied().ok_or_else(|| format!("the vocabulary has no {token}"));
        Ok(Self { unknown: id("[UNK]")?, start: id("[CLS]")?, end: id("[SEP]")?, vocabulary })
    }

    /// The token ids of `text` between `[CLS]` and `[SEP]`, at most `max_tokens` in all (the
    /// rest of a long text is cut, as the model's own truncation does).
    pub fn encode(&self, text: &str, max_tokens: usize) -> Vec<u32> {
        let mut ids = vec![self.start];
        let normalized = normalize(text);
        for word in words(&normalized) {
            self.add_pieces(word, &mut ids);
            if ids.len() >= max_tokens - 1 {
                break;
            }
        }
        ids.truncate(max_tokens - 1);
        ids.push(self.end);
        ids
    }

    /// Greedy longest-match WordPiece; a word with a part the vocabulary lacks is unknown.
    fn add_pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            ids.push(self.unknown);
            return;
        }
        let first = ids.len();
        let mut piece = String::with_capacity(word.len() + 2);
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let found = loop {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocabulary.get(&piece) {
                    break Some(id);
                }
                match word[start..end].char_indices().next_back() {
                    Some((last, _)) if last > 0 => end = start + last,
                    _ => break None,
                }
            };
            let Some(id) = found else {
                ids.truncate(first);
                ids.push(self.unknown);
                return;
            };
            ids.push(id);
            start = end;
        }
    }
}

/// BERT's normaliser for an uncased model.
fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_cjk(c) {
            cleaned.extend([' ', c, ' ']);
        } else {
            cleaned.push(c);
        }
    }
    cleaned
        .nfd()
        .filter(|&c| get_general_category(c) != GeneralCategory::NonspacingMark)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words and punctuation marks of a normalised text, in order.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(char::is_whitespace).flat_map(|chunk| {
        let mut parts = Vec::new();
        let mut start = 0;
        for (at, c) in chunk.char_indices() {
            if is_punctuation(c) {
                if start < at {
                    parts.push(&chunk[start..at]);
                }
                parts.push(&chunk[at..at + c.len_utf8()]);
                start = at + c.len_utf8();
            }
        }
        if start < chunk.len() {
            parts.push(&chunk[start..]);
        }
        parts
    })
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r')
        && matches!(
            get_general_category(c),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::Unassigned
                | GeneralCategory::PrivateUse
        )
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            get_general_category(c),
            GeneralCategory::ConnectorPunctuation
                | GeneralCategory::DashPunctuation
                | GeneralCategory::OpenPunctuation
                | GeneralCategory::ClosePunctuation
                | GeneralCategory::InitialPunctuation
                | GeneralCategory::FinalPunctuation
                | GeneralCategory::OtherPunctuation
        )
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}
