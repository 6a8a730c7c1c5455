//! CPU-heavy steps — parsing large YAML, unpacking archives — run here, on tokio's blocking
//! threads instead of the async workers, so one big import cannot stall the requests that
//! share a worker with it. At most `SLOTS` run at once (the machine's cores are few); more wait.

use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

const SLOTS: usize = 2;

static RUNNING: Semaphore = Semaphore::const_new(SLOTS);

/// Runs `work` off the async workers and waits for its result.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let _slot = RUNNING.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(work).await.map_err(AppError::internal)
}
