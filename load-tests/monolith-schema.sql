-- The tables the one-database checkout (../shared/bench/monolith-*.sql) writes: the platform's
-- business rows reduced to what a checkout changes, all in one database (load-tests/slo.sh,
-- monolith_ceiling). 12 products and 1,000 customers, as the scripts draw them.
CREATE TABLE products (sku int PRIMARY KEY, available int NOT NULL, reserved int NOT NULL DEFAULT 0, sold int NOT NULL DEFAULT 0);
CREATE TABLE accounts (customer int PRIMARY KEY, balance bigint NOT NULL, held bigint NOT NULL DEFAULT 0, captured bigint NOT NULL DEFAULT 0);
CREATE TABLE orders (id uuid PRIMARY KEY, customer int NOT NULL, status text NOT NULL, total bigint NOT NULL DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_lines (order_id uuid NOT NULL REFERENCES orders, sku int NOT NULL, quantity int NOT NULL, price bigint NOT NULL, PRIMARY KEY (order_id, sku));
-- The checkout's idempotency key, stored with the order (its answer filled in later).
CREATE TABLE idem (customer int NOT NULL, key uuid NOT NULL, status int, response jsonb, PRIMARY KEY (customer, key));
CREATE TABLE outbox (id bigserial PRIMARY KEY, aggregate uuid NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
CREATE TABLE emails (id uuid PRIMARY KEY, kind text NOT NULL, body text NOT NULL);
CREATE TABLE counted (id uuid PRIMARY KEY, total bigint NOT NULL);
INSERT INTO products SELECT g, 1000000000 FROM generate_series(1, 12) g;
INSERT INTO accounts SELECT g, 1000000000000 FROM generate_series(1, 1000) g;
