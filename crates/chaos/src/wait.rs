//! Bounded waits: poll a condition until it gives a value or a time limit passes.
//!
//! The suite never waits without a bound (a paused or wedged node must not hang a run), and it
//! never panics on a timeout either: the caller gets `None` and decides (report the node as not
//! ready, SIGKILL a process that did not exit, give up a teardown). These two functions are the
//! one place that loop is written, async for code on the runtime and blocking for the process
//! and namespace helpers.

use std::future::Future;
use std::time::{Duration, Instant};

/// Call `check` every `pause` until it returns `Some`, for at most `limit` (it is called at
/// least once); `None` if the limit passed first.
pub async fn poll_until<T, F, Fut>(limit: Duration, pause: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(pause).await;
    }
}

/// [`poll_until`] for blocking code: sleeps the thread between calls.
pub fn poll_until_sync<T>(
    limit: Duration,
    pause: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_the_first_value_or_none_after_the_limit() {
        let mut calls = 0;
        let got = poll_until_sync(Duration::from_secs(5), Duration::ZERO, || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, Some(3));
        let never: Option<()> = poll_until_sync(Duration::from_millis(20), Duration::ZERO, || None);
        assert_eq!(never, None);
    }

    #[tokio::test]
    async fn the_async_form_waits_the_same_way() {
        let mut calls = 0;
        let got = poll_until(Duration::from_secs(5), Duration::ZERO, || {
            calls += 1;
            let c = calls;
            async move { (c == 2).then_some(c) }
        })
        .await;
        assert_eq!(got, Some(2));
        let never: Option<()> =
            poll_until(Duration::from_millis(20), Duration::ZERO, || async { None }).await;
        assert_eq!(never, None);
    }
}
