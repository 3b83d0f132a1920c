//! When each signing key signs: the rule every instance and `backend keys` share for which key signs
//! at an instant, and the check that some key signs at every instant from now on, whatever sequence
//! of rotations, revocations and reloads led here.

use crate::clock::Millis;
use crate::store::KeyRow;

/// A stored key's activation, end and `kid`, as [`signer`] and [`first_gap`] read them.
pub(crate) fn row_times(row: &KeyRow) -> (Millis, Option<Millis>, &String) {
    (row.activates_at, row.retires_at, &row.kid)
}

/// How far back a key that must sign at once is dated. Instances judge "active" by their own clocks, and
/// a request may take its `now` before a reload swaps the ring: a key activated exactly at the
/// command's `now` would leave such an instance with no signing key for a moment (or for its clock's
/// lag). `activates_at` only picks the signer, so dating it back costs nothing.
const AT_ONCE_BACKDATE_MS: Millis = 60_000;

/// The activation time of a key that signs at once: see [`AT_ONCE_BACKDATE_MS`].
pub(crate) fn at_once(now: Millis) -> Millis {
    now - AT_ONCE_BACKDATE_MS
}

/// The key that signs at `now`, given each key's activation, end and `kid`: the one that activated
/// last, ties broken by `kid`, so every instance and `backend keys` pick the same.
pub(crate) fn signer<'a, K>(
    keys: impl IntoIterator<Item = &'a K>,
    now: Millis,
    times: impl Fn(&K) -> (Millis, Option<Millis>, &String),
) -> Option<&'a K> {
    keys.into_iter()
        .filter(|k| {
            let (activates_at, retires_at, _) = times(k);
            activates_at <= now && retires_at.is_none_or(|end| end > now)
        })
        .max_by(|a, b| {
            let ((a_at, _, a_kid), (b_at, _, b_kid)) = (times(a), times(b));
            (a_at, a_kid).cmp(&(b_at, b_kid))
        })
}

/// The first instant at or after `now` at which no key signs, given each key's activation, end and
/// `kid`; `None` when some key signs at every instant from `now` on. Which keys sign can only change
/// where a key starts or ends, so those instants (and `now`) are the only ones to check.
pub(crate) fn first_gap<K>(
    keys: &[K],
    now: Millis,
    times: impl Fn(&K) -> (Millis, Option<Millis>, &String) + Copy,
) -> Option<Millis> {
    let mut instants: Vec<Millis> = keys
        .iter()
        .flat_map(|k| {
            let (activates_at, retires_at, _) = times(k);
            [Some(activates_at), retires_at]
        })
        .flatten()
        .filter(|at| *at > now)
        .collect();
    instants.push(now);
    instants.sort_unstable();
    instants.into_iter().find(|at| signer(keys, *at, times).is_none())
}

/// When a key added to close a gap starting at `gap` should start signing: at once when the gap is
/// here already, else after the usual activation delay (so verifiers fetch it first) but never after
/// the gap opens.
pub(crate) fn activation_before(gap: Millis, now: Millis, activation_delay_ms: Millis) -> Millis {
    if gap <= now { at_once(now) } else { gap.min(now.saturating_add(activation_delay_ms)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, activates_at: Millis, retires_at: Option<Millis>) -> (Millis, Option<Millis>, String) {
        (activates_at, retires_at, kid.to_owned())
    }

    fn gap(keys: &[(Millis, Option<Millis>, String)], now: Millis) -> Option<Millis> {
        first_gap(keys, now, |k| (k.0, k.1, &k.2))
    }

    #[test]
    fn an_open_ended_signer_covers_the_future() {
        assert_eq!(gap(&[key("a", 0, None)], 10), None);
        assert_eq!(gap(&[key("a", 0, Some(50)), key("b", 40, None)], 10), None, "a rotation");
    }

    #[test]
    fn a_ring_of_retiring_keys_has_a_gap_when_the_last_ends() {
        // The standby key of a rotation was revoked: the retiring key is the last signer.
        assert_eq!(gap(&[key("a", 0, Some(50))], 10), Some(50));
        assert_eq!(gap(&[key("a", 0, Some(50)), key("b", 20, Some(70))], 10), Some(70));
        assert_eq!(gap(&[], 10), Some(10));
        assert_eq!(gap(&[key("a", 30, None)], 10), Some(10), "nothing signs until a standby key starts");
    }

    #[test]
    fn a_gap_between_keys_is_found() {
        assert_eq!(gap(&[key("a", 0, Some(50)), key("b", 60, None)], 10), Some(50));
    }

    #[test]
    fn a_key_closing_a_gap_signs_before_it_opens() {
        assert_eq!(activation_before(10, 10, 600), at_once(10));
        assert_eq!(activation_before(5_000, 10, 600), 610);
        assert_eq!(activation_before(300, 10, 600), 300);
    }
}
