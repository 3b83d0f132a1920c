//! The per-request counter and latency histogram, which every answer updates. Each is split into
//! shards on cache lines of their own, and a thread updates its own shard with plain atomic adds:
//! prometheus-client's histogram takes a lock for every observation, and one counter shared by all
//! workers moved its cache line between cores on every request, which on a cheap route cost more than
//! the route. A scrape adds the shards up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Shards per series; workers beyond it share.
const SHARDS: usize = 8;

/// The histogram's upper bounds in nanoseconds: 0.5 ms doubling to about 4 s, then `+Inf`.
const BOUNDS_NS: [u64; 14] = {
    let mut bounds = [0; 14];
    let mut i = 0;
    while i < bounds.len() {
        bounds[i] = 500_000 << i;
        i += 1;
    }
    bounds
};

/// This thread's shard, given out in turn to threads as they first count something.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.try_with(|shard| *shard).unwrap_or(0)
}

/// A counter on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// A monotonic counter.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShardedCounter(Arc<[Padded; SHARDS]>);

impl ShardedCounter {
    pub(crate) fn inc(&self) {
        self.0[shard_index()].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.iter().map(|shard| shard.0.load(Ordering::Relaxed)).sum()
    }
}

impl TypedMetric for ShardedCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for ShardedCounter {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_counter::<NoLabelSet, _, u64>(&self.get(), None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// One thread's share of a histogram: observations, their sum, and how many fell in each bucket
/// (not cumulative; the last is `+Inf`).
#[derive(Debug, Default)]
#[repr(align(128))]
struct HistogramShard {
    sum_ns: AtomicU64,
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
}

/// A latency histogram with the buckets of [`BOUNDS_NS`].
#[derive(Debug, Clone, Default)]
pub(crate) struct ShardedHistogram(Arc<[HistogramShard; SHARDS]>);

impl ShardedHistogram {
    pub(crate) fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NS.iter().position(|&bound| ns <= bound).unwrap_or(BOUNDS_NS.len());
        let shard = &self.0[shard_index()];
        shard.sum_ns.fetch_add(ns, Ordering::Relaxed);
        shard.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The sum in seconds, the count, and each bucket's own count with its upper bound in seconds.
    fn totals(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let sum_ns: u64 = self.0.iter().map(|shard| shard.sum_ns.load(Ordering::Relaxed)).sum();
        let mut buckets: Vec<(f64, u64)> =
            BOUNDS_NS.iter().map(|&bound| bound as f64 / 1e9).chain([f64::MAX]).map(|bound| (bound, 0)).collect();
        for shard in self.0.iter() {
            for (total, count) in buckets.iter_mut().zip(&shard.buckets) {
                total.1 += count.load(Ordering::Relaxed);
            }
        }
        let count = buckets.iter().map(|(_, count)| count).sum();
        (sum_ns as f64 / 1e9, count, buckets)
    }
}

impl TypedMetric for ShardedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for ShardedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.totals();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_from_many_threads_are_all_counted_in_their_buckets() {
        let (counter, histogram) = (ShardedCounter::default(), ShardedHistogram::default());
        std::thread::scope(|scope| {
            for _ in 0..SHARDS + 3 {
                scope.spawn(|| {
                    for micros in [100, 500, 501, 3_000, 10_000_000] {
                        counter.inc();
                        histogram.observe(Duration::from_micros(micros));
                    }
                });
            }
        });
        let threads = (SHARDS + 3) as u64;
        assert_eq!(counter.get(), 5 * threads);
        let (sum, count, buckets) = histogram.totals();
        assert_eq!(count, 5 * threads);
        assert!((sum - 10.004_101 * threads as f64).abs() < 1e-6, "{sum}");
        // ≤ 0.5 ms: 100 µs and 500 µs; ≤ 1 ms: 501 µs; ≤ 4 ms: 3 ms; 10 s is past every bound.
        assert_eq!(buckets[0], (0.0005, 2 * threads));
        assert_eq!(buckets[1], (0.001, threads));
        assert_eq!(buckets[3], (0.004, threads));
        assert_eq!(buckets[BOUNDS_NS.len()], (f64::MAX, threads));
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), count);
    }
}
