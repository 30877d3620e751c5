//! The order database: orders, their timelines, idempotency keys and compensations.
/// The trigger function of the expand migration (the dual write): after any insert or update
/// of an order, both columns hold the same total. Also used by the contract migration's
/// `down`, which puts it back. Defined before the modules, which see it by textual scope.
macro_rules! orders_total_sync_sql {
    () => {
        r#"
-- On INSERT the column the writer set wins (the new one if it set both). On UPDATE, a
-- writer that changed total_amount_minor (the new version, the backfill) wins; otherwise
-- total_amount_minor follows total_minor: a write by the old version, or any other update
-- of a row the backfill has not reached yet (which fills it in passing).
CREATE FUNCTION orders_total_amount_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.total_amount_minor := COALESCE(NEW.total_amount_minor, NEW.total_minor);
    ELSIF NEW.total_amount_minor IS NOT DISTINCT FROM OLD.total_amount_minor THEN
        NEW.total_amount_minor := NEW.total_minor;
    END IF;
    NEW.total_minor := NEW.total_amount_minor;
    RETURN NEW;
END $$;
CREATE TRIGGER orders_total_amount_sync BEFORE INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_total_amount_sync();
"#
    };
}

crate::migrator!(
    m20261122_000001_orders;
    crate::messaging::Outbox, crate::messaging::OutboxTraceContext;
    m20261124_000001_orders_total_amount_minor_expand,
    m20261124_000002_orders_total_amount_minor_contract,
    m20261204_000001_cancellations,
    m20261204_000002_customers,
    m20261204_000003_demo_customers,
    m20261204_000004_relay_switch,
    m20261205_100007_replica_switch
);

pub mod backfill;

/// The expand step of the `total_minor` -> `total_amount_minor` rename (docs/online-migration.md).
pub use m20261124_000001_orders_total_amount_minor_expand::Migration as TotalAmountExpand;
/// The contract step of the same rename.
pub use m20261124_000002_orders_total_amount_minor_contract::Migration as TotalAmountContract;
