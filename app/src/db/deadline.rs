//! The time a request may still spend. The edge gives every request a deadline; each
//! transaction begun under it waits for a connection no longer than the time left and tells
//! PostgreSQL the same (`SET LOCAL statement_timeout`), so no query outlives its request.
//! Work outside a request (the CLI, background refreshes) has no deadline and keeps the
//! connection's own budgets.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::AppError;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as the budget of the database work it does on this task.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The time left before the current request's deadline, if there is one.
pub fn remaining() -> Option<Duration> {
    current().map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

/// The current request's deadline, if there is one.
fn current() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// Runs `work` on a task of its own, so that it can use another core, under the current
/// task's deadline. Dropping the returned future aborts the task: a transaction it had begun
/// is dropped half-way, and so rolled back and its connection closed, as when a request's own
/// future is dropped.
pub fn spawn<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Spawned<T> {
    let task = match current() {
        Some(deadline) => tokio::spawn(within(deadline, work)),
        None => tokio::spawn(work),
    };
    Spawned(task)
}

/// A task started by `spawn`, aborted if it is no longer awaited. A panic in it is an
/// internal error, as in `cpu::run`.
pub struct Spawned<T>(tokio::task::JoinHandle<T>);

impl<T> Future for Spawned<T> {
    type Output = Result<T, AppError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|joined| joined.map_err(AppError::internal))
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_spawned_task_keeps_the_deadline_and_ends_when_dropped() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let left = within(deadline, async { spawn(async { remaining() }).await }).await.unwrap();
        let left = left.expect("the spawned task has the request's deadline");
        assert!(left > Duration::from_secs(59) && left <= Duration::from_secs(60), "{left:?}");
        assert_eq!(spawn(async { remaining() }).await.unwrap(), None, "and none outside a request");

        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        drop(spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            flag.store(true, Ordering::SeqCst);
        }));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!finished.load(Ordering::SeqCst), "dropping it aborted the task");

        let panicked = spawn(async { panic!("a batch panicked") }).await;
        assert!(matches!(panicked, Err(AppError::Internal(_))));
    }
}
