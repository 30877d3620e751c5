//! Amounts as people read them. Every service keeps money in minor units (cents) with a
//! currency code; this is the one place that turns them into text, for the storefront's
//! pages and the emails alike.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money: minor units (cents) and its ISO 4217 currency, travelling as one
/// value so that no consumer ever reads an amount without knowing what it is in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_minor(self.amount_minor, &self.currency))
    }
}

/// Minor units to a display amount: 12900, "EUR" → "129.00 EUR".
pub fn format_minor(minor: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", minor / 100, (minor % 100).abs())
}

#[cfg(test)]
mod tests {
    use super::format_minor;

    #[test]
    fn minor_units_become_units_and_cents() {
        assert_eq!(format_minor(12900, "EUR"), "129.00 EUR");
        assert_eq!(format_minor(12905, "EUR"), "129.05 EUR");
        assert_eq!(format_minor(5, "USD"), "0.05 USD");
        assert_eq!(format_minor(0, "EUR"), "0.00 EUR");
        assert_eq!(format_minor(-12950, "EUR"), "-129.50 EUR");
    }
}
