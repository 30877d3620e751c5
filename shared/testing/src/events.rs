//! Events as the order service would publish them, for tests of a consumer on its own.

use platform_contracts::{Envelope, Money, OrderConfirmed, PricedLine};
use uuid::Uuid;

/// `order.confirmed` for one line of `quantity` notebooks at 14.00.
pub fn order_confirmed(order_id: Uuid, customer_id: &str, quantity: i32, correlation_id: &str) -> Envelope {
    let unit_price_minor = 1400;
    let event = OrderConfirmed {
        order_id,
        customer_id: customer_id.to_string(),
        lines: vec![PricedLine {
            sku: "notebook".into(),
            quantity,
            unit_price: eur(unit_price_minor),
        }],
        total: eur(unit_price_minor * quantity as i64),
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
