//! One writer for SQLite. Write transactions queue in this process, in order, instead of racing for
//! SQLite's lock (whose busy handler sleeps and polls, turning queueing into sleeping). The writer takes
//! everything waiting and runs it as one transaction, each job inside a savepoint, so one `fsync`
//! covers the whole batch while one job's failure rolls back that job alone. Nobody hears "done" before
//! the commit is on disk, so every acknowledged write is durable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Jobs in one transaction at most; more wait for the next.
const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;

type Completion = Box<dyn FnOnce(Result<(), Arc<sqlx::Error>>) + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, (Completion, bool)> + Send>;

enum Message {
    Job(Job),
    /// Finish everything queued before this, then stop.
    Close(oneshot::Sender<()>),
}

#[derive(Debug, Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    /// Transactions committed so far, for the tests' batching checks.
    #[cfg(test)]
    commits: Arc<AtomicU64>,
}

impl Writer {
    /// Takes one connection out of `pool` for good and starts the writer task on it.
    pub(super) async fn start(pool: &AnyPool) -> Result<Self, sqlx::Error> {
        let connection = pool.acquire().await?;
        let (queue, jobs) = mpsc::channel(QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        tokio::spawn(serve(connection, jobs, Arc::clone(&commits)));
        Ok(Self {
            queue,
            #[cfg(test)]
            commits,
        })
    }

    /// Runs `work` in the next batch and returns its result once the batch has committed.
    pub(super) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, sqlx::Error>> + Send + 'static,
    {
        let (done, result) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |connection| {
            Box::pin(async move {
                let outcome = work(connection).await;
                let succeeded = outcome.is_ok();
                let completion: Completion = Box::new(move |committed| {
                    let _ = done.send(match (outcome, committed) {
                        (Err(error), _) => Err(StoreError::Database(error)),
                        (Ok(_), Err(error)) => Err(StoreError::Commit(error)),
                        (Ok(value), Ok(())) => Ok(value),
                    });
                });
                (completion, succeeded)
            })
        });
        self.queue.send(Message::Job(job)).await.map_err(|_| StoreError::Closed)?;
        result.await.map_err(|_| StoreError::WriteAborted)?
    }

    /// Lets everything already queued commit, then stops the writer.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    #[cfg(test)]
    pub(super) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

async fn serve(mut connection: PoolConnection<Any>, mut queue: mpsc::Receiver<Message>, commits: Arc<AtomicU64>) {
    while let Some(first) = queue.recv().await {
        let mut batch = Vec::new();
        let mut closing = None;
        match first {
            Message::Job(job) => batch.push(job),
            Message::Close(done) => closing = Some(done),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let jobs = batch.len();
            commit(&mut connection, batch).await;
            let committed = commits.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::trace!(jobs, committed, "write batch done");
        }
        if let Some(done) = closing {
            let _ = done.send(());
            return;
        }
    }
}

/// One transaction for the whole batch; a job that fails is rolled back to its savepoint alone. If
/// the transaction itself cannot begin or commit, every job hears so.
async fn commit(connection: &mut AnyConnection, batch: Vec<Job>) {
    if let Err(error) = execute(connection, "BEGIN IMMEDIATE").await {
        tracing::error!(error = %crate::telemetry::error_chain(&error), "cannot begin a write batch");
        return; // dropping the jobs tells their callers the write was aborted
    }
    let mut completions = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(error) = execute(connection, "SAVEPOINT job").await {
            tracing::error!(error = %crate::telemetry::error_chain(&error), "cannot open a savepoint");
            let _ = execute(connection, "ROLLBACK").await;
            return;
        }
        let (completion, succeeded) = job(connection).await;
        let closed = if succeeded {
            execute(connection, "RELEASE job").await
        } else {
            match execute(connection, "ROLLBACK TO job").await {
                Ok(()) => execute(connection, "RELEASE job").await,
                failed => failed,
            }
        };
        if let Err(error) = closed {
            tracing::error!(error = %crate::telemetry::error_chain(&error), "cannot close a savepoint");
            let _ = execute(connection, "ROLLBACK").await;
            return;
        }
        completions.push(completion);
    }
    let committed = execute(connection, "COMMIT").await.map_err(Arc::new);
    if committed.is_err() {
        let _ = execute(connection, "ROLLBACK").await;
    }
    for completion in completions {
        completion(committed.clone());
    }
}

async fn execute(connection: &mut AnyConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(&mut *connection, sql).await.map(drop)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::future::join_all;

    use super::super::{PoolSettings, Store};
    use super::*;
    use crate::config::DatabaseTarget;

    async fn store(dir: &std::path::Path) -> Store {
        let path = dir.join("writer.db");
        let target = DatabaseTarget::Sqlite { url: format!("sqlite://{}?mode=rwc", path.display()), path };
        let settings = PoolSettings {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
            session_cache_ttl: Duration::ZERO,
        };
        let store = Store::connect(&target, settings).await.unwrap();
        store
            .write(|conn| {
                Box::pin(async move {
                    sqlx::query(
                        "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER UNIQUE)",
                    )
                    .execute(&mut *conn)
                    .await
                    .map(drop)
                })
            })
            .await
            .unwrap();
        store
    }

    /// Appends `n`, after pausing `pause_ms` inside the transaction.
    async fn append(store: &Store, n: i64, pause_ms: u64) -> Result<(), StoreError> {
        store
            .write(move |conn| {
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                    sqlx::query("INSERT INTO log (n) VALUES ($1)").bind(n).execute(&mut *conn).await.map(drop)
                })
            })
            .await
    }

    async fn logged(store: &Store) -> Vec<i64> {
        sqlx::query_as::<_, (i64,)>("SELECT n FROM log ORDER BY seq")
            .fetch_all(&store.pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }

    fn commits(store: &Store) -> u64 {
        store.writer.as_ref().unwrap().commits()
    }

    #[tokio::test]
    async fn queued_writes_apply_in_order_and_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let before = commits(&store);
        // The first write holds its transaction a moment, so the other 99 queue up behind it.
        let writes = (0..100).map(|n| append(&store, n, if n == 0 { 100 } else { 0 }));
        let results = join_all(writes).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(logged(&store).await, (0..100).collect::<Vec<_>>());
        let used = commits(&store) - before;
        assert!(used <= 3, "100 writes took {used} commits");
    }

    #[tokio::test]
    async fn one_failing_write_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let failing = |store: Store| async move {
            store
                .write(|conn| {
                    Box::pin(async move {
                        // Half done, then a unique violation: the half must not survive.
                        sqlx::query("INSERT INTO log (n) VALUES (1000)").execute(&mut *conn).await?;
                        sqlx::query("INSERT INTO log (n) VALUES (1)").execute(&mut *conn).await.map(drop)
                    })
                })
                .await
        };
        let before = commits(&store);
        // While the first write holds its transaction, three more queue up and share the next one.
        let (first, (one, failed, two)) = tokio::join!(append(&store, 0, 100), async {
            tokio::task::yield_now().await;
            tokio::join!(append(&store, 1, 0), failing(store.clone()), append(&store, 2, 0))
        });
        assert!(first.is_ok() && one.is_ok() && two.is_ok(), "the others in the batch commit");
        assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
        assert_eq!(logged(&store).await, [0, 1, 2], "nothing of the failed write survives");
        assert_eq!(commits(&store) - before, 2);
    }

    #[tokio::test]
    async fn closing_lets_every_queued_write_commit_durably() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let writes = join_all((0..50).map(|n| append(&store, n, u64::from(n == 0) * 50)));
        let close = async {
            tokio::task::yield_now().await;
            store.close().await;
        };
        let (results, ()) = tokio::join!(writes, close);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert!(matches!(append(&store, 99, 0).await, Err(StoreError::Closed)));
        let reopened = super::tests::store(dir.path()).await;
        assert_eq!(logged(&reopened).await.len(), 50);
    }
}
