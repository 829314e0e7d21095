//! Waiting for something that becomes true, instead of a poll loop per test.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// What one look returns: done with a value, or not yet (with what was seen, for the failure
/// message).
pub trait Attempt<T> {
    fn attempt(self) -> Result<T, String>;
}

impl<T> Attempt<T> for Option<T> {
    fn attempt(self) -> Result<T, String> {
        self.ok_or_else(|| "still not there".to_string())
    }
}

impl<T, E: Debug> Attempt<T> for Result<T, E> {
    fn attempt(self) -> Result<T, String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

impl Attempt<()> for bool {
    fn attempt(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("still false".into())
        }
    }
}

/// Looks with `f` until it succeeds and returns its value; panics after `limit` with the last
/// thing it saw. Looks often at first and back off to every 500 ms, so a fast answer is seen
/// fast and a slow one costs little. Limits should be generous: the machine may be loaded.
///
/// `f` returns an `Option`, a `bool`, or a `Result` whose error says what it saw, e.g.
/// `eventually(secs(60), || if j["status"] == "running" { Ok(j) } else { Err(j) })`.
#[track_caller]
pub fn eventually<T, A: Attempt<T>>(limit: Duration, f: impl FnMut() -> A) -> T {
    look(limit, Duration::from_millis(500), f)
}

/// [`eventually`] looking at least every `every`: for a state that lasts only a moment (a peer
/// that connects, checks and leaves), which the back-off could step over.
#[track_caller]
pub fn eventually_every<T, A: Attempt<T>>(
    limit: Duration,
    every: Duration,
    f: impl FnMut() -> A,
) -> T {
    look(limit, every, f)
}

#[track_caller]
fn look<T, A: Attempt<T>>(limit: Duration, longest: Duration, mut f: impl FnMut() -> A) -> T {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(50).min(longest);
    loop {
        match f().attempt() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    Instant::now() < deadline,
                    "not true within {limit:?}; last seen: {last}"
                );
            }
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(longest);
    }
}

/// [`eventually`] for async tests: `f` gives a future per look.
pub async fn eventually_async<T, A, F, Fut>(limit: Duration, mut f: F) -> T
where
    A: Attempt<T>,
    F: FnMut() -> Fut,
    Fut: Future<Output = A>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut pause = Duration::from_millis(20);
    loop {
        match f().await.attempt() {
            Ok(v) => return v,
            Err(last) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "not true within {limit:?}; last seen: {last}"
                );
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_success() {
        let mut n = 0;
        let got = eventually(Duration::from_secs(5), || {
            n += 1;
            (n >= 3).then_some(n)
        });
        assert_eq!(got, 3);
    }

    #[test]
    #[should_panic(expected = "last seen: \"status running\"")]
    fn panics_with_what_it_saw_last() {
        eventually(Duration::from_millis(200), || {
            Err::<(), _>("status running")
        });
    }
}
