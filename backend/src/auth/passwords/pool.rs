//! Argon2 on dedicated threads, each owning one memory block that it reuses for every hash.
//!
//! Allocating 19 MiB per hash on tokio's blocking threads let glibc's heuristics keep hundreds of
//! megabytes after a login storm (its mmap threshold rises past the block size, and arenas keep what
//! they get). Reusing one block per worker makes the peak workers × 19 MiB, whatever arrives.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::Block;

use super::PasswordError;

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// A queue served in order by `workers` threads.
#[derive(Debug, Clone)]
pub(super) struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl HashPool {
    /// Starts `workers` threads named `name-N`, each with `blocks` argon2 blocks of memory.
    pub(super) fn new(name: &str, workers: usize, blocks: usize) -> Result<Self, PasswordError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for worker in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("{name}-{worker}"))
                .spawn(move || {
                    let mut memory = vec![Block::default(); blocks];
                    // Ends when every sender is gone (the pool was dropped).
                    while let Ok(job) = queue.lock().map_err(drop).and_then(|q| q.recv().map_err(drop)) {
                        job(&mut memory);
                    }
                })
                .map_err(PasswordError::Thread)?;
        }
        Ok(Self { jobs })
    }

    /// Runs `work` on the next free worker and waits for its result without blocking the runtime.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = done.send(work(memory));
        });
        self.jobs.send(job).map_err(|_| PasswordError::Closed)?;
        result.await.map_err(|_| PasswordError::Closed)
    }
}
