//! Where the event recorder's write loop runs: an OS thread of its own on
//! a multi-threaded runtime, a task otherwise (see `Writer`).

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where the write loop runs.
///
/// On a multi-threaded runtime it runs on an OS thread of its own
/// (`Handle::block_on`: the runtime's timers and sockets, polled by this
/// thread alone). As one task among the connections' it waited behind
/// hundreds of them at every await, once per statement of a batch, and at
/// saturation the writer spent most of each batch waiting to be polled,
/// not writing (docs/performance.md, "The writer on a thread of its own").
/// A current-thread runtime has no other thread to drive its timers, so
/// there the loop stays a task.
pub(super) enum Writer {
    Task(JoinHandle<()>),
    Thread(oneshot::Receiver<()>),
}

impl Writer {
    pub(super) fn spawn<F>(write: F) -> Self
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::runtime::Handle::current();
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Self::Task(tokio::spawn(write));
        }
        let (done, finished) = oneshot::channel();
        // The loop is handed over once the thread runs, so that it is
        // still ours to spawn as a task if the thread cannot start.
        let (hand_over, receive) = std::sync::mpsc::sync_channel::<F>(1);
        let started = std::thread::Builder::new()
            .name("kurz-events".to_owned())
            .spawn(move || {
                if let Ok(write) = receive.recv() {
                    handle.block_on(write);
                }
                let _ = done.send(());
            });
        if let Err(error) = started {
            tracing::warn!(error = %error, "no thread for the event writer; it runs as a task");
            return Self::Task(tokio::spawn(write));
        }
        match hand_over.send(write) {
            Ok(()) => Self::Thread(finished),
            Err(std::sync::mpsc::SendError(write)) => Self::Task(tokio::spawn(write)),
        }
    }

    pub(super) async fn finished(self) {
        match self {
            Self::Task(task) => {
                let _ = task.await;
            }
            Self::Thread(finished) => {
                let _ = finished.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Writer;
    use std::time::Duration;
    use tokio::sync::oneshot;

    /// Runs a loop that sleeps on the runtime's timer, then reports the
    /// name of the thread that polled it.
    async fn thread_of_a_loop() -> Option<String> {
        let (name, named) = oneshot::channel();
        let writer = Writer::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = name.send(std::thread::current().name().map(str::to_owned));
        });
        writer.finished().await;
        named.await.ok().flatten()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn on_a_multi_threaded_runtime_the_loop_has_a_thread_of_its_own() {
        assert_eq!(thread_of_a_loop().await.as_deref(), Some("kurz-events"));
    }

    #[tokio::test]
    async fn on_a_current_thread_runtime_the_loop_is_a_task() {
        assert_ne!(thread_of_a_loop().await.as_deref(), Some("kurz-events"));
    }
}
