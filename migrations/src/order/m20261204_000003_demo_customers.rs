crate::sql_migration!(
    "m20261204_000003_demo_customers",
    r#"
-- Three demo customers to sign in as (docs/security.md), each with the password
-- 'demo-shopper', stored as the order service's identity module stores every password:
-- an Argon2id hash with its own salt (computed by POST /customers, copied here).
INSERT INTO customers (id, password_hash) VALUES
 ('ada',   '$argon2id$v=19$m=19456,t=2,p=1$LsMC1zg+6qG3o5mwVaA3zw$3N5SoleuAtCgK3G8VpUrGF/g3EbFYH3lhNIGzdIU8HU'),
 ('grace', '$argon2id$v=19$m=19456,t=2,p=1$OboCV33cjUH1mv3WPUU9MA$bbR5frYrmA6RNAJ5Clmj1um6BuNZv5UbrjSF4KLqmU0'),
 ('alan',  '$argon2id$v=19$m=19456,t=2,p=1$J3y/4DTPvUkqW3wP+w3J/A$Y/mdpbxL4z+bPPojGBG9WrFdyFiNDGjm2YGORYsnNg0')
ON CONFLICT (id) DO NOTHING;
"#,
    "DELETE FROM customers WHERE id IN ('ada', 'grace', 'alan');"
);
