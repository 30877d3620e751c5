//! A simulated card provider, driven by test card numbers like a real gateway's sandbox.
//!
//! | card number          | outcome                                                        |
//! |----------------------|----------------------------------------------------------------|
//! | 4242 4242 4242 4242  | approved                                                       |
//! | 4000 0000 0000 0002  | declined: `card_declined`                                      |
//! | 4000 0000 0000 9995  | declined: `insufficient_funds`                                 |
//! | 4000 0000 0000 0429  | rate limited: 429 with `Retry-After`, nothing charged          |
//! | 4000 0000 0000 0408  | approved, but only after `PROVIDER_SLOW_MS` (past the caller's |
//! |                      | deadline: the caller sees a timeout, an *unknown* outcome)     |
//! | 4000 0000 0000 0500  | provider error: 502, nothing charged                           |
//! | anything else        | declined: `card_not_supported`                                 |

use std::time::Duration;

pub const CARD_SUCCESS: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";
pub const CARD_RATE_LIMITED: &str = "4000000000000429";
pub const CARD_TIMEOUT: &str = "4000000000000408";
pub const CARD_PROVIDER_ERROR: &str = "4000000000000500";

/// The test cards, for documentation, the storefront's card picker and load tests.
pub const TEST_CARDS: &[(&str, &str)] = &[
    (CARD_SUCCESS, "success"),
    (CARD_DECLINED, "declined"),
    (CARD_INSUFFICIENT_FUNDS, "insufficient funds"),
    (CARD_RATE_LIMITED, "rate limited (429)"),
    (CARD_TIMEOUT, "timeout (answers after the caller's deadline)"),
    (CARD_PROVIDER_ERROR, "provider error (5xx)"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Approved { reference: String },
    Declined { code: &'static str },
    RateLimited { retry_after_secs: u64 },
    Failed,
}

#[derive(Debug, Clone)]
pub struct Provider {
    slow: Duration,
}

impl Provider {
    pub fn new(slow: Duration) -> Self {
        Self { slow }
    }

    pub async fn authorize(&self, card_number: &str, amount_minor: i64) -> Outcome {
        let approved = || Outcome::Approved {
            reference: format!("sim_{}", uuid::Uuid::new_v4().simple()),
        };
        match card_number {
            CARD_SUCCESS => approved(),
            CARD_DECLINED => Outcome::Declined {
                code: "card_declined",
            },
            CARD_INSUFFICIENT_FUNDS => Outcome::Declined {
                code: "insufficient_funds",
            },
            CARD_RATE_LIMITED => Outcome::RateLimited { retry_after_secs: 1 },
            CARD_TIMEOUT => {
                tracing::info!(
                    amount_minor,
                    delay_ms = self.slow.as_millis() as u64,
                    "provider is slow"
                );
                tokio::time::sleep(self.slow).await;
                approved()
            }
            CARD_PROVIDER_ERROR => Outcome::Failed,
            _ => Outcome::Declined {
                code: "card_not_supported",
            },
        }
    }
}
