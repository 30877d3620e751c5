//! Contract tests: the wire format is pinned by fixture files. A producer change that
//! would break a consumer (a renamed or removed field, a changed type) fails here.

use platform_contracts::{
    Envelope, EnvelopeError, Event, OrderCancelled, OrderConfirmed, OrderEvent, OrderRejected,
};
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
    round_trip::<OrderConfirmed>("order.confirmed.v2.json");
    round_trip::<OrderRejected>("order.rejected.v1.json");
    round_trip::<OrderCancelled>("order.cancelled.v1.json");
}

#[test]
fn readers_tolerate_unknown_fields_and_missing_optional_ones() {
    let mut v = fixture("order.confirmed.v2.json");
    v["payload"]["loyalty_points"] = 42.into();
    v["added_later"] = "ignored".into();
    let envelope: Envelope = serde_json::from_value(v).unwrap();
    let event: OrderConfirmed = envelope.decode().unwrap();
    assert_eq!(event.total.amount_minor, 3600);

    // The rejected fixture has no `lines` and no `causation_id`: both default.
    let envelope: Envelope = serde_json::from_value(fixture("order.rejected.v1.json")).unwrap();
    assert!(envelope.causation_id.is_none());
    assert!(envelope.decode::<OrderRejected>().unwrap().lines.is_empty());
}

#[test]
fn an_unknown_version_or_a_broken_payload_is_refused_with_the_reason() {
    let mut v = fixture("order.confirmed.v2.json");
    v["schema_version"] = 3.into();
    let envelope: Envelope = serde_json::from_value(v.clone()).unwrap();
    assert!(matches!(
        OrderEvent::decode(&envelope),
        Err(EnvelopeError::UnsupportedVersion { found: 3, .. })
    ));

    v["schema_version"] = 2.into();
    v["payload"]["total"]["amount_minor"] = "a lot".into();
    let envelope: Envelope = serde_json::from_value(v).unwrap();
    let err = OrderEvent::decode(&envelope).unwrap_err().to_string();
    assert!(err.contains("total.amount_minor"), "{err}");

    // A v1 event without its old fields is refused by the v1 reader, naming the field.
    let mut v = fixture("order.confirmed.v1-before-expand.json");
    v["payload"].as_object_mut().unwrap().remove("total_minor");
    let envelope: Envelope = serde_json::from_value(v).unwrap();
    let err = OrderEvent::decode(&envelope).unwrap_err().to_string();
    assert!(err.contains("total_minor"), "{err}");
    assert!(matches!(
        Envelope::from_bytes(b"{not json"),
        Err(EnvelopeError::Malformed(_))
    ));
}

/// Every event type a consumer reads has a pinned fixture of the version produced today,
/// and it satisfies what its consumers declare (`platform_contracts::consumers`).
#[test]
fn every_consumed_event_has_a_fixture_that_satisfies_its_consumers() {
    use platform_contracts::{consumers, events::PRODUCED};
    for event_type in consumers::read_types() {
        let (_, version) = PRODUCED.iter().find(|(t, _)| *t == event_type).unwrap();
        let pinned = fixture(&format!("{event_type}.v{version}.json"));
        let broken = consumers::broken_expectations(&pinned);
        assert!(broken.is_empty(), "{event_type} fixture: {broken:#?}");
    }
}

/// The contract step: v1 events still in a queue, an outbox or a dead-letter queue when v2
/// is deployed are upcast to v2, whichever v1 shape they have (from before the expand step,
/// or with both shapes); each upcast is counted, and each read of an old field.
/// (The only test in this binary that upcasts: the counts are per process.)
#[test]
fn v1_events_of_either_shape_are_upcast_to_v2() {
    use platform_contracts::{
        Money,
        evolution::{old_field_reads, upcasts},
    };
    let reads_of = |field: &str| {
        old_field_reads()
            .into_iter()
            .find(|r| r.field == field)
            .map_or(0, |r| r.count)
    };
    let upcast_count = || upcasts().iter().map(|u| u.count).sum::<u64>();
    let eur = |amount_minor| Money {
        amount_minor,
        currency: "EUR".into(),
    };
    let confirmed = |name: &str| {
        let envelope: Envelope = serde_json::from_value(fixture(name)).unwrap();
        match OrderEvent::decode(&envelope).unwrap() {
            OrderEvent::Confirmed(e) => e,
            other => panic!("{name} decoded as {other:?}"),
        }
    };

    let expanded = confirmed("order.confirmed.v1.json");
    assert_eq!(
        (expanded.total.clone(), expanded.lines[0].unit_price.clone()),
        (eur(3600), eur(1800))
    );
    assert_eq!(upcast_count(), 1);
    assert_eq!(
        reads_of("total_minor"),
        0,
        "the expanded v1 has the new shape: no old field read"
    );

    let old = confirmed("order.confirmed.v1-before-expand.json");
    assert_eq!(
        (old.total.clone(), old.lines[0].unit_price.clone()),
        (eur(3600), eur(1800))
    );
    assert_eq!(upcast_count(), 2);
    assert_eq!(reads_of("total_minor"), 1);
    assert_eq!(reads_of("lines[].unit_price_minor"), 1);

    let current = confirmed("order.confirmed.v2.json");
    assert_eq!(current.total, eur(3600));
    assert_eq!(upcast_count(), 2, "v2 is read as it is");

    // Every version a consumer declares it reads has a fixture that decodes.
    for e in platform_contracts::consumers::ALL.iter().flat_map(|c| c.iter()) {
        for version in e.versions {
            let envelope: Envelope =
                serde_json::from_value(fixture(&format!("{}.v{version}.json", e.event_type))).unwrap();
            OrderEvent::decode(&envelope).unwrap_or_else(|err| {
                panic!(
                    "{} declares it reads {} v{version}: {err}",
                    e.consumer, e.event_type
                )
            });
        }
    }
}
