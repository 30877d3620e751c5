//! Contract tests: the wire format is pinned by fixture files. A producer change that
//! would break a consumer (a renamed or removed field, a changed type) fails here.

use platform_contracts::{Envelope, EnvelopeError, Event, OrderCancelled, OrderConfirmed, OrderRejected};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every field a consumer of the fixture relies on is still produced, with the same JSON type.
fn assert_produces_superset(produced: &Value, pinned: &Value, path: &str) {
    match (produced, pinned) {
        (Value::Object(p), Value::Object(f)) => {
            for (k, v) in f {
                let child = p
                    .get(k)
                    .unwrap_or_else(|| panic!("producer no longer emits {path}.{k}"));
                assert_produces_superset(child, v, &format!("{path}.{k}"));
            }
        }
        (Value::Array(p), Value::Array(f)) if !f.is_empty() => {
            assert!(!p.is_empty(), "{path} is empty");
            assert_produces_superset(&p[0], &f[0], &format!("{path}[0]"));
        }
        (p, f) => assert!(
            std::mem::discriminant(p) == std::mem::discriminant(f) || f.is_null(),
            "{path} changed type: {f} -> {p}"
        ),
    }
}

fn round_trip<E: Event + DeserializeOwned>(name: &str) {
    let pinned = fixture(name);
    let envelope: Envelope = serde_json::from_value(pinned.clone()).unwrap();
    assert_eq!(envelope.event_type, E::TYPE);
    let event: E = envelope.decode().expect("consumers read the pinned fixture");
    let produced = Envelope::new(&event, "order", &envelope.correlation_id, None);
    assert_produces_superset(&serde_json::to_value(produced).unwrap(), &pinned, "$");
}

#[test]
fn order_events_match_their_pinned_fixtures() {
    round_trip::<OrderConfirmed>("order.confirmed.v1.json");
    round_trip::<OrderConfirmed>("order.confirmed.v1-before-expand.json");
    round_trip::<OrderRejected>("order.rejected.v1.json");
    round_trip::<OrderCancelled>("order.cancelled.v1.json");
}

#[test]
fn readers_tolerate_unknown_fields_and_missing_optional_ones() {
    let mut v = fixture("order.confirmed.v1.json");
    v["payload"]["loyalty_points"] = 42.into();
    v["added_later"] = "ignored".into();
    let envelope: Envelope = serde_json::from_value(v).unwrap();
    let event: OrderConfirmed = envelope.decode().unwrap();
    assert_eq!(event.total().amount_minor, 3600);

    // The rejected fixture has no `lines` and no `causation_id`: both default.
    let envelope: Envelope = serde_json::from_value(fixture("order.rejected.v1.json")).unwrap();
    assert!(envelope.causation_id.is_none());
    assert!(envelope.decode::<OrderRejected>().unwrap().lines.is_empty());
}

#[test]
fn an_unknown_version_or_a_broken_payload_is_refused_with_the_reason() {
    let mut v = fixture("order.confirmed.v1.json");
    v["schema_version"] = 2.into();
    let envelope: Envelope = serde_json::from_value(v.clone()).unwrap();
    assert!(matches!(
        envelope.decode::<OrderConfirmed>(),
        Err(EnvelopeError::UnsupportedVersion { found: 2, .. })
    ));

    v["schema_version"] = 1.into();
    v["payload"]["total_minor"] = "a lot".into();
    let envelope: Envelope = serde_json::from_value(v).unwrap();
    let err = envelope.decode::<OrderConfirmed>().unwrap_err().to_string();
    assert!(err.contains("total_minor"), "{err}");
    assert!(matches!(
        Envelope::from_bytes(b"{not json"),
        Err(EnvelopeError::Malformed(_))
    ));
}

/// Every event type a consumer reads has a pinned fixture, and every fixture satisfies what
/// its consumers declare (`platform_contracts::consumers`).
#[test]
fn every_consumed_event_has_a_fixture_that_satisfies_its_consumers() {
    for event_type in platform_contracts::consumers::read_types() {
        let pinned = fixture(&format!("{event_type}.v1.json"));
        let broken = platform_contracts::consumers::broken_expectations(&pinned);
        assert!(broken.is_empty(), "{event_type} fixture: {broken:#?}");
    }
    let envelope: Envelope = serde_json::from_value(fixture("order.heartbeat.v1.json")).unwrap();
    envelope
        .decode::<platform_contracts::Heartbeat>()
        .expect("the heartbeat fixture reads");
}

/// The migrate step: a consumer reads money in the new shape, and an event produced before
/// the expand step (only `total_minor`, `currency`, `unit_price_minor`) still reads, through
/// the old fields, each such read counted so the old fields' last readers are known.
/// (The only test in this binary that reads an old field: the counts are per process.)
#[test]
fn money_reads_the_new_shape_and_counts_each_fallback_to_the_old_fields() {
    use platform_contracts::{Money, evolution::old_field_reads};
    let reads_of = |field: &str| {
        old_field_reads()
            .into_iter()
            .find(|r| r.field == field)
            .map_or(0, |r| r.count)
    };
    let eur = |amount_minor| Money {
        amount_minor,
        currency: "EUR".into(),
    };

    let envelope: Envelope = serde_json::from_value(fixture("order.confirmed.v1.json")).unwrap();
    let expanded: OrderConfirmed = envelope.decode().unwrap();
    assert_eq!(expanded.total(), eur(3600));
    assert_eq!(expanded.unit_price(&expanded.lines[0]), eur(1800));
    assert_eq!(
        reads_of("total_minor"),
        0,
        "the new shape is read without the old fields"
    );

    let envelope: Envelope =
        serde_json::from_value(fixture("order.confirmed.v1-before-expand.json")).unwrap();
    let old: OrderConfirmed = envelope.decode().unwrap();
    assert_eq!(old.total(), eur(3600));
    assert_eq!(old.unit_price(&old.lines[0]), eur(1800));
    assert_eq!(reads_of("total_minor"), 1);
    assert_eq!(reads_of("lines[].unit_price_minor"), 1);
}
