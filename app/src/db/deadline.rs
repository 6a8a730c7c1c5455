//! The time a request may still spend. The edge gives every request a deadline; each
//! transaction begun under it waits for a connection no longer than the time left and tells
//! PostgreSQL the same (`SET LOCAL statement_timeout`), so no query outlives its request.
//! Work outside a request (the CLI, background refreshes) has no deadline and keeps the
//! connection's own budgets.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as the budget of the database work it does on this task.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The time left before the current request's deadline, if there is one.
pub fn remaining() -> Option<Duration> {
    DEADLINE.try_with(|deadline| deadline.saturating_duration_since(Instant::now())).ok()
}
