//! The emails, rendered with askama: HTML (escaped: a customer name or SKU containing
//! markup cannot inject it) and plain text.

use askama::Template;
use platform_contracts::{OrderConfirmed, money::format_minor};

pub struct Line {
    pub sku: String,
    pub quantity: i32,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "confirmed.html")]
pub struct ConfirmedHtml<'a> {
    pub subject: &'a str,
    pub customer: &'a str,
    pub order_id: &'a str,
    pub correlation_id: &'a str,
    pub lines: &'a [Line],
    pub total: &'a str,
}

#[derive(Template)]
#[template(path = "confirmed.txt")]
pub struct ConfirmedText<'a> {
    pub customer: &'a str,
    pub order_id: &'a str,
    pub correlation_id: &'a str,
    pub lines: &'a [Line],
    pub total: &'a str,
}

#[derive(Template)]
#[template(path = "not_completed.html")]
pub struct NotCompletedHtml<'a> {
    pub subject: &'a str,
    pub customer: &'a str,
    pub order_id: &'a str,
    pub correlation_id: &'a str,
    pub reason: &'a str,
    /// Cancelled by the customer after it was confirmed: the money is refunded.
    pub by_you: bool,
}

#[derive(Template)]
#[template(path = "not_completed.txt")]
pub struct NotCompletedText<'a> {
    pub customer: &'a str,
    pub order_id: &'a str,
    pub correlation_id: &'a str,
    pub reason: &'a str,
    /// Cancelled by the customer after it was confirmed: the money is refunded.
    pub by_you: bool,
}

/// The order's lines, each with its amount (unit price times quantity).
pub fn lines(order: &OrderConfirmed) -> Vec<Line> {
    order
        .lines
        .iter()
        .map(|l| {
            let price = &l.unit_price;
            Line {
                sku: l.sku.clone(),
                quantity: l.quantity,
                amount: format_minor(price.amount_minor * l.quantity as i64, &price.currency),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped_in_html_and_kept_in_text() {
        let lines = [Line {
            sku: "<b>mug</b>".into(),
            quantity: 1,
            amount: format_minor(1800, "EUR"),
        }];
        let html = ConfirmedHtml {
            subject: "s",
            customer: "<script>alert(1)</script>",
            order_id: "o",
            correlation_id: "c",
            lines: &lines,
            total: "18.00 EUR",
        }
        .render()
        .unwrap();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
        assert!(!html.contains("<b>mug"));
        let text = ConfirmedText {
            customer: "<script>",
            order_id: "o",
            correlation_id: "c",
            lines: &lines,
            total: "18.00 EUR",
        }
        .render()
        .unwrap();
        assert!(text.contains("1 x <b>mug</b>  18.00 EUR"));
    }
}
