crate::sql_migration!(
    "m20261123_000001_counter_slots",
    r#"
-- Hot rows. Every order event used to add to the same counter row (this minute's count,
-- the product's sales, the projection's status), so concurrent consumer transactions
-- queued behind one row lock, each holding it until its commit was flushed: the fan-out
-- slowed to one event per commit. Each counter is now spread over a few slots (chosen
-- from the event id); readers add the slots up.
ALTER TABLE orders_per_minute ADD COLUMN slot SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE orders_per_minute DROP CONSTRAINT orders_per_minute_pkey, ADD PRIMARY KEY (minute, outcome, slot);
ALTER TABLE product_sales ADD COLUMN slot SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE product_sales DROP CONSTRAINT product_sales_pkey, ADD PRIMARY KEY (sku, slot);
ALTER TABLE rejection_reasons ADD COLUMN slot SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE rejection_reasons DROP CONSTRAINT rejection_reasons_pkey, ADD PRIMARY KEY (reason_code, slot);
ALTER TABLE projection_status ADD COLUMN slot SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE projection_status DROP CONSTRAINT projection_status_pkey, ADD PRIMARY KEY (name, slot);
"#,
    r#"
CREATE TEMP TABLE s AS SELECT minute, outcome, sum(orders) AS orders, sum(revenue_minor) AS revenue_minor FROM orders_per_minute GROUP BY 1, 2;
TRUNCATE orders_per_minute;
ALTER TABLE orders_per_minute DROP CONSTRAINT orders_per_minute_pkey, DROP COLUMN slot, ADD PRIMARY KEY (minute, outcome);
INSERT INTO orders_per_minute SELECT * FROM s; DROP TABLE s;
CREATE TEMP TABLE s AS SELECT sku, sum(units) AS units, sum(revenue_minor) AS revenue_minor FROM product_sales GROUP BY 1;
TRUNCATE product_sales;
ALTER TABLE product_sales DROP CONSTRAINT product_sales_pkey, DROP COLUMN slot, ADD PRIMARY KEY (sku);
INSERT INTO product_sales SELECT * FROM s; DROP TABLE s;
CREATE TEMP TABLE s AS SELECT reason_code, sum(orders) AS orders FROM rejection_reasons GROUP BY 1;
TRUNCATE rejection_reasons;
ALTER TABLE rejection_reasons DROP CONSTRAINT rejection_reasons_pkey, DROP COLUMN slot, ADD PRIMARY KEY (reason_code);
INSERT INTO rejection_reasons SELECT * FROM s; DROP TABLE s;
CREATE TEMP TABLE s AS SELECT name, max(last_event_at) AS last_event_at, max(last_processed_at) AS last_processed_at FROM projection_status GROUP BY 1;
TRUNCATE projection_status;
ALTER TABLE projection_status DROP CONSTRAINT projection_status_pkey, DROP COLUMN slot, ADD PRIMARY KEY (name);
INSERT INTO projection_status SELECT * FROM s; DROP TABLE s;
"#
);
