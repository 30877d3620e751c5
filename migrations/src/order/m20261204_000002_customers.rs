crate::sql_migration!(
    "m20261204_000002_customers",
    r#"
-- Shopper identity (services/order/src/identity.rs): who may sign in, with what password.
-- Only an Argon2id hash of the password is kept (PHC string: algorithm, parameters, salt,
-- hash), so a copy of this table does not give anyone's password away.
CREATE TABLE customers (
    id            TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
"#,
    "DROP TABLE customers;"
);
