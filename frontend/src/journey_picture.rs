//! The order's journey as a picture: one lane per service, every step in time order as a
//! box in its service's lane, the critical path above the line where the shopper got the
//! answer and the fan-out below it, and what is still pending drawn dashed in the lane of
//! whoever owns it. The same data as the table under it (the order service's journey); an
//! SVG drawn on the server, so it needs no script and reads on a phone.

use std::fmt::Write;

use crate::{charts::escape, shop::StepView};

const LANES: [&str; 5] = ["order", "inventory", "payment", "email", "analytics"];
const LANE_W: f64 = 150.0;
const HEAD: f64 = 44.0;
const ROW: f64 = 34.0;
const BOX_H: f64 = 26.0;

fn lane(service: &str) -> usize {
    LANES.iter().position(|l| service.starts_with(l)).unwrap_or(0)
}

fn centre(lane: usize) -> f64 {
    lane as f64 * LANE_W + LANE_W / 2.0
}

/// The time part of "YYYY-MM-DD HH:MM:SS.mmm".
fn clock(at: &str) -> &str {
    at.get(11..).unwrap_or(at)
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

pub fn draw(steps: &[StepView], pending: &[(String, String)], correlation_consistent: bool) -> String {
    let rows = steps.len() + pending.len();
    let width = LANE_W * LANES.len() as f64;
    let height = HEAD + ROW * rows.max(1) as f64 + 30.0;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="journey-picture" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="the order's journey across the services" xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">"#
    );
    for (i, name) in LANES.iter().enumerate() {
        let x = i as f64 * LANE_W;
        let _ = write!(
            out,
            r##"<rect x="{x}" y="0" width="{LANE_W}" height="{height}" fill="{}"/><text x="{}" y="18" text-anchor="middle" font-weight="bold">{name}</text><line x1="{}" y1="26" x2="{}" y2="{height}" stroke="#ddd"/>"##,
            if i % 2 == 0 { "#fafafa" } else { "#f3f4f6" },
            centre(i),
            centre(i),
            centre(i),
        );
    }
    let _ = write!(
        out,
        r##"<text x="4" y="38" fill="{}">{}</text>"##,
        if correlation_consistent { "#555" } else { "#b91c1c" },
        if correlation_consistent {
            "one correlation id on every step (hover a step for it)"
        } else {
            "correlation ids differ between services!"
        }
    );
    let mut previous: Option<(f64, f64)> = None;
    let mut answered = false;
    for (row, step) in steps.iter().enumerate() {
        let (l, y) = (lane(&step.service), HEAD + ROW * row as f64);
        let (x, cx) = (l as f64 * LANE_W + 6.0, centre(l));
        if let Some((px, py)) = previous {
            let _ = write!(
                out,
                r##"<line x1="{px}" y1="{py}" x2="{cx}" y2="{y}" stroke="#9ca3af" stroke-width="1"/>"##
            );
        }
        let (fill, stroke) = match step.status.as_str() {
            "done" => ("#dcfce7", "#16a34a"),
            "pending" => ("#fef9c3", "#ca8a04"),
            _ => ("#fee2e2", "#dc2626"),
        };
        let _ = write!(
            out,
            r##"<g class="journey-step" data-service="{}" data-step="{}"><title>{} {} at {} · {} · correlation {}</title><rect x="{x}" y="{y}" width="{}" height="{BOX_H}" rx="4" fill="{fill}" stroke="{stroke}"/><text x="{}" y="{}">{}</text><text x="{}" y="{}" fill="#555" font-size="9">{}</text></g>"##,
            escape(&step.service),
            escape(&step.step),
            escape(&step.service),
            escape(&step.step),
            escape(&step.at),
            escape(&step.detail),
            escape(&step.correlation_id),
            LANE_W - 12.0,
            x + 4.0,
            y + 11.0,
            escape(&short(&step.step, 24)),
            x + 4.0,
            y + 22.0,
            escape(&short(&format!("{} {}", clock(&step.at), step.detail), 30)),
        );
        previous = Some((cx, y + BOX_H));
        // The line where the shopper got the answer: above it the critical path, below
        // it the fan-out that happens after.
        if !answered && step.service == "order" && step.step == "confirm" {
            answered = true;
            let ly = y + BOX_H + 4.0;
            let _ = write!(
                out,
                r##"<line x1="0" y1="{ly}" x2="{width}" y2="{ly}" stroke="#2563eb" stroke-dasharray="6 3"/><text x="{}" y="{}" text-anchor="end" fill="#2563eb" font-size="10">the shopper is answered · below: the fan-out</text>"##,
                width - 4.0,
                ly - 2.0
            );
        }
    }
    for (i, (what, owner)) in pending.iter().enumerate() {
        let l = lane(owner);
        let y = HEAD + ROW * (steps.len() + i) as f64;
        let _ = write!(
            out,
            r##"<g class="journey-pending" data-owner="{}"><rect x="{}" y="{y}" width="{}" height="{BOX_H}" rx="4" fill="#fff" stroke="#ca8a04" stroke-dasharray="4 3"/><text x="{}" y="{}">{}</text><text x="{}" y="{}" fill="#92400e" font-size="9">pending · owner: {}</text></g>"##,
            escape(owner),
            l as f64 * LANE_W + 6.0,
            LANE_W - 12.0,
            l as f64 * LANE_W + 10.0,
            y + 11.0,
            escape(&short(what, 24)),
            l as f64 * LANE_W + 10.0,
            y + 22.0,
            escape(&short(owner, 22)),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(service: &str, step: &str, status: &str) -> StepView {
        StepView {
            service: service.into(),
            step: step.into(),
            status: status.into(),
            at: "2026-12-04 10:00:00.123".into(),
            correlation_id: "c-1".into(),
            detail: "<b>x</b>".into(),
        }
    }

    #[test]
    fn each_step_is_a_box_in_its_services_lane_and_pending_work_is_drawn_dashed() {
        let steps = [
            step("order", "reserve", "done"),
            step("order", "confirm", "done"),
            step("email", "email order_confirmed", "pending"),
        ];
        let svg = draw(&steps, &[("send the email".into(), "email".into())], true);
        assert_eq!(svg.matches(r#"class="journey-step""#).count(), 3);
        assert!(svg.contains(r#"data-service="email" data-step="email order_confirmed""#));
        assert!(
            svg.contains("the shopper is answered"),
            "the critical path's end is marked"
        );
        assert!(svg.contains(r#"class="journey-pending" data-owner="email""#));
        assert!(
            svg.contains("&lt;b&gt;x&lt;/b&gt;") && !svg.contains("<b>x</b>"),
            "details are escaped"
        );
    }
}
