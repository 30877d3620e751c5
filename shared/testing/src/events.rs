//! Events as the order service would publish them, for tests of a consumer on its own.

use platform_contracts::{Envelope, Money, OrderConfirmed, OrderLine};
use uuid::Uuid;

/// `order.confirmed` for one line of `quantity` notebooks at 14.00.
#[allow(deprecated)] // it produces the old money fields too, as the order service does
pub fn order_confirmed(order_id: Uuid, customer_id: &str, quantity: i32, correlation_id: &str) -> Envelope {
    let unit_price_minor = 1400;
    let event = OrderConfirmed {
        order_id,
        customer_id: customer_id.to_string(),
        lines: vec![OrderLine {
            sku: "notebook".into(),
            quantity,
            unit_price_minor,
            unit_price: Some(eur(unit_price_minor)),
        }],
        total_minor: unit_price_minor * quantity as i64,
        currency: "EUR".into(),
        total: Some(eur(unit_price_minor * quantity as i64)),
        confirmed_at: chrono::Utc::now(),
    };
    Envelope::new(&event, "order", correlation_id, None)
}

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency: "EUR".into(),
    }
}
