//! How long to wait before the next attempt of durable work (a deferred checkout step, a
//! compensation): exponential, capped, with jitter, and never sooner than the dependency
//! asked for with `Retry-After`.
//!
//! Jitter matters under load: 1,000 compensations that failed together and retry on the
//! same schedule hit the dependency together again, exactly when it is weakest.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

pub fn delay_for(attempt: u32, min: Duration, max: Duration, retry_after: Option<Duration>) -> Duration {
    let backoff = ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
        .nth(attempt as usize)
        .unwrap_or(max);
    backoff
        .max(retry_after.unwrap_or_default())
        .min(max.max(retry_after.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_is_capped_and_honours_retry_after() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        assert!(delay_for(0, min, max, None) >= min);
        assert!(delay_for(0, min, max, None) < Duration::from_millis(250));
        assert!(delay_for(20, min, max, None) <= max);
        assert!(delay_for(0, min, max, Some(Duration::from_secs(1))) >= Duration::from_secs(1));
    }
}
