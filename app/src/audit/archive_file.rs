//! The archive of one month of a tenant's audit log, and how it verifies on its own.
//!
//! Two objects per month: `events.ndjson.gz`, one event per line (every stored field, so its
//! hashes can be recomputed), the events outside the chain first (by id), then the chained
//! ones in chain order with their position and chain hash; and `manifest.json`, signed with
//! the server key: the counts, the positions the month spans (`first_seq` to `last_seq`, except
//! `other_seqs`, which belong to neighbouring months that committed in between), the chain
//! hash before the first and at the last position, and the size and SHA-256 of the events
//! object. A line after a gap in the positions carries `prev_hash`, the chain hash it links
//! from, so every link is recomputed from the file alone.

use std::io::Write;

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chain::{self, hex_bytes, Hash};
use super::repo::StoredEvent;
use super::verify;
use crate::keyring::{Keyring, Purpose};

pub const FORMAT: &str = "beacon-audit-archive-v1";

/// Lines longer than this are refused when an archive is read (an event's details are far
/// smaller; this bounds what a damaged or hostile file can make the reader buffer).
const MAX_LINE: usize = 16 << 20;

#[derive(Serialize, Deserialize)]
pub struct ArchivedLine {
    #[serde(flatten)]
    pub event: StoredEvent,
    pub seq: Option<i64>,
    #[serde(with = "hex_bytes", default)]
    pub chain_hash: Option<Vec<u8>>,
    #[serde(with = "hex_bytes", default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub tenant_id: i64,
    pub month: NaiveDate,
    /// Every event in the file; `unchained` of them are outside the chain.
    pub events: i64,
    pub unchained: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub other_seqs: Vec<i64>,
    #[serde(with = "hex_bytes")]
    pub first_prev_hash: Option<Vec<u8>>,
    #[serde(with = "hex_bytes")]
    pub last_hash: Option<Vec<u8>>,
    pub object: String,
    pub object_bytes: i64,
    #[serde(with = "hex_bytes")]
    pub object_sha256: Option<Vec<u8>>,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    #[serde(with = "hex_bytes", default)]
    pub signature: Option<Vec<u8>>,
}

impl Manifest {
    /// The canonical JSON of everything but the signature: what is signed.
    fn signed_content(&self) -> String {
        let mut value = serde_json::to_value(self).expect("a manifest is plain data");
        if let Some(fields) = value.as_object_mut() {
            fields.remove("signature");
        }
        chain::canonical_json(&value)
    }

    pub fn sign(&mut self, keyring: &Keyring) {
        let (key_id, key) = keyring.current(Purpose::AuditCheckpoint);
        self.key_id = key_id.to_owned();
        self.signature = Some(chain::archive_signature(&key, &self.signed_content()).to_vec());
    }

    /// Whether the signature is the server's over exactly this content.
    pub fn check_signature(&self, keyring: &Keyring) -> Result<(), String> {
        let Some(key) = keyring.get(&self.key_id, Purpose::AuditCheckpoint) else {
            return Err(format!(
                "The archive of {} is signed with key `{}`, which is not in BEACON_SECRET_KEYS: it cannot be checked.",
                self.month_label(),
                self.key_id
            ));
        };
        let expected = chain::archive_signature(&key, &self.signed_content());
        match self.signature.as_deref().is_some_and(|stored| chain::signature_matches(&expected, stored)) {
            true => Ok(()),
            false => {
                Err(format!("The manifest of {} has a wrong signature: it was forged or altered.", self.month_label()))
            }
        }
    }

    pub fn month_label(&self) -> String {
        self.month.format("%Y-%m").to_string()
    }

    /// Whether chain position `seq` is one of this month's events.
    pub fn holds(&self, seq: i64) -> bool {
        matches!((self.first_seq, self.last_seq), (Some(first), Some(last)) if (first..=last).contains(&seq))
            && self.other_seqs.binary_search(&seq).is_err()
    }
}

/// `[start, end)` of a month, in UTC.
pub fn month_bounds(month: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = month.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    (start, start + Months::new(1))
}

/// What reading an archive back found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArchiveCheck {
    pub events: i64,
    pub unchained: i64,
    pub erased: i64,
    pub problem: Option<String>,
}

/// Checks the events object line by line as it is decompressed (feed it with `write`, then
/// `finish`): every hash recomputed, every link followed, and the totals compared with the
/// manifest. Memory stays at one line plus, when `keep` is set, the lines not yet taken.
pub struct Reader<'m> {
    manifest: &'m Manifest,
    inflate: flate2::write::GzDecoder<Lines<'m>>,
    digest: Sha256,
    bytes: i64,
}

struct Lines<'m> {
    manifest: &'m Manifest,
    bounds: (DateTime<Utc>, DateTime<Utc>),
    partial: Vec<u8>,
    line_no: i64,
    check: ArchiveCheck,
    chained_yet: bool,
    last: Option<(i64, Hash)>,
    gaps: Vec<i64>,
    keep: bool,
    kept: Vec<ArchivedLine>,
}

impl<'m> Reader<'m> {
    pub fn new(manifest: &'m Manifest, keep: bool) -> Self {
        let lines = Lines {
            manifest,
            bounds: month_bounds(manifest.month),
            partial: Vec::new(),
            line_no: 0,
            check: ArchiveCheck::default(),
            chained_yet: false,
            last: None,
            gaps: Vec::new(),
            keep,
            kept: Vec::new(),
        };
        Reader { manifest, inflate: flate2::write::GzDecoder::new(lines), digest: Sha256::new(), bytes: 0 }
    }

    /// Feeds the next compressed bytes; an error names the first problem found.
    pub fn write(&mut self, compressed: &[u8]) -> Result<(), String> {
        self.digest.update(compressed);
        self.bytes += compressed.len() as i64;
        if let Err(e) = self.inflate.write_all(compressed) {
            return Err(self
                .inflate
                .get_ref()
                .check
                .problem
                .clone()
                .unwrap_or_else(|| format!("The archive is damaged: {e}.")));
        }
        Ok(())
    }

    /// The lines checked since the last call (only with `keep`).
    pub fn take(&mut self) -> Vec<ArchivedLine> {
        std::mem::take(&mut self.inflate.get_mut().kept)
    }

    pub fn finish(mut self) -> Result<(ArchiveCheck, Vec<ArchivedLine>), String> {
        self.inflate.try_finish().map_err(|e| format!("The archive is damaged: {e}."))?;
        let digest: Hash = self.digest.finalize().into();
        let mut lines = self.inflate.finish().map_err(|e| format!("The archive is damaged: {e}."))?;
        let label = self.manifest.month_label();
        if !lines.partial.is_empty() {
            let tail = std::mem::take(&mut lines.partial);
            lines.line(&tail).map_err(|e| e.to_string())?;
        }
        if self.manifest.object_sha256.as_deref() != Some(digest.as_slice()) || self.manifest.object_bytes != self.bytes
        {
            return Err(format!("The events of {label} are not the file the manifest was signed for."));
        }
        let check = lines.check.clone();
        let m = self.manifest;
        if (check.events, check.unchained) != (m.events, m.unchained) {
            return Err(format!(
                "The archive of {label} holds {} events ({} outside the chain), its manifest says {} ({}).",
                check.events, check.unchained, m.events, m.unchained
            ));
        }
        if lines.last.map(|(seq, hash)| (seq, hash.to_vec())) != m.last_seq.zip(m.last_hash.clone()) {
            return Err(format!("The chain in the archive of {label} does not end where its manifest says."));
        }
        if lines.gaps != m.other_seqs {
            return Err(format!("The archive of {label} skips other chain positions than its manifest says."));
        }
        Ok((check, lines.kept))
    }
}

impl Lines<'_> {
    fn line(&mut self, raw: &[u8]) -> std::io::Result<()> {
        self.line_no += 1;
        let line_no = self.line_no;
        let fail = |lines: &mut Self, message: String| {
            let message = format!("Line {line_no} of the archive of {}: {message}", lines.manifest.month_label());
            lines.check.problem = Some(message.clone());
            Err(std::io::Error::other(message))
        };
        let line: ArchivedLine = match serde_json::from_slice(raw) {
            Ok(line) => line,
            Err(e) => return fail(self, format!("not an archived event ({e}).")),
        };
        let id = line.event.id;
        if line.event.occurred_at < self.bounds.0 || line.event.occurred_at >= self.bounds.1 {
            return fail(self, format!("event #{id} is not from this month."));
        }
        self.check.events += 1;
        match line.seq {
            None if self.chained_yet => {
                return fail(self, format!("event #{id} outside the chain after chained events."))
            }
            None => self.check.unchained += 1,
            Some(seq) => {
                if let Err(message) = self.link(&line, seq) {
                    return fail(self, message);
                }
            }
        }
        if self.keep {
            self.kept.push(line);
        }
        Ok(())
    }

    fn link(&mut self, line: &ArchivedLine, seq: i64) -> Result<(), String> {
        let id = line.event.id;
        let (content, erased) =
            verify::recompute(&line.event).map_err(|what| format!("event #{id} was changed: {what}."))?;
        if line.event.content_hash.as_deref() != Some(content.as_slice()) {
            return Err(format!("event #{id} was changed: its fields no longer match its hash."));
        }
        self.check.erased += i64::from(erased);
        let given_prev = line.prev_hash.as_deref().map(Hash::try_from).transpose().map_err(|_| "a malformed hash.")?;
        let previous = match (self.last, given_prev) {
            (Some((last, hash)), given) if seq == last + 1 => {
                if given.is_some_and(|g| g != hash) {
                    return Err(format!("event #{id} links from another hash than the line before it."));
                }
                hash
            }
            (Some((last, _)), Some(given)) if seq > last + 1 => {
                self.gaps.extend(last + 1..seq);
                given
            }
            (None, Some(given)) => {
                if Some(seq) != self.manifest.first_seq || self.manifest.first_prev_hash.as_deref() != Some(&given[..])
                {
                    return Err(format!("the chain does not start where the manifest says (event #{id})."));
                }
                given
            }
            _ => return Err(format!("event #{id} is out of chain order.")),
        };
        let linked = chain::link(&previous, seq, id, &content);
        if line.chain_hash.as_deref() != Some(linked.as_slice()) {
            return Err(format!("the chain entry of event #{id} was rewritten."));
        }
        self.chained_yet = true;
        self.last = Some((seq, linked));
        Ok(())
    }
}

impl Write for Lines<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let line = if self.partial.is_empty() {
                rest[..end].to_vec()
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..end]);
                line
            };
            self.line(&line)?;
            rest = &rest[end + 1..];
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            let message = format!("The archive of {} has a line over 16 MiB.", self.manifest.month_label());
            self.check.problem = Some(message.clone());
            return Err(std::io::Error::other(message));
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
