use serde::{Deserialize, Serialize};

/// What an erasure changed, shown to the admin and recorded in the `user.erased` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureReport {
    /// What the audit log and the tenant's records call the person from now on.
    pub pseudonym: String,
    pub audit_events_pseudonymised: usize,
    /// Archived months of the audit log queued to be written again without the person (the
    /// archiver does it in the background, see `audit::archive_erasure`).
    pub archived_months_queued: usize,
    pub api_keys_deleted: usize,
    pub api_requests_deleted: usize,
    pub sso_identities_deleted: usize,
    /// Locations, import jobs, fetch hosts and OAuth clients now credited to the pseudonym.
    pub records_reattributed: usize,
    pub sessions_ended: usize,
    /// The account itself went too: this was the person's last membership.
    pub account_deleted: bool,
    /// Catalog entities that still carry the person's email (a `User` entity): they come from
    /// the tenant's own sources and come back at the next refresh unless removed there.
    pub catalog_mentions: Vec<String>,
}
