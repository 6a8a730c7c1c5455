//! What the background writers (the API access log, the usage counter) are asked from
//! outside: write what is queued now, or write it and stop. Each request returns once the
//! writer has done it.

use tokio::sync::{mpsc, oneshot};

pub enum Control {
    /// Write everything queued so far, then answer.
    Flush(oneshot::Sender<()>),
    /// Write everything queued so far, answer and stop.
    Close(oneshot::Sender<()>),
}

impl Control {
    /// Tells the asker the writing is done; whether the writer is to stop.
    pub fn answer(self) -> bool {
        let (done, stop) = match self {
            Control::Flush(done) => (done, false),
            Control::Close(done) => (done, true),
        };
        let _ = done.send(());
        stop
    }
}

/// The asking side; cheap to clone.
#[derive(Clone)]
pub struct Controls(mpsc::Sender<Control>);

impl Controls {
    /// The handle and the receiver its writer listens on.
    pub fn channel() -> (Self, mpsc::Receiver<Control>) {
        let (sender, receiver) = mpsc::channel(4);
        (Self(sender), receiver)
    }

    /// Returns once everything queued before it is written (or given up).
    pub async fn flush(&self) {
        self.ask(Control::Flush).await
    }

    /// Writes what is queued and stops the writer: part of a graceful shutdown.
    pub async fn close(&self) {
        self.ask(Control::Close).await
    }

    async fn ask(&self, control: fn(oneshot::Sender<()>) -> Control) {
        let (done, wait) = oneshot::channel();
        if self.0.send(control(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}
