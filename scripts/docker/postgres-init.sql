-- One role and one database per service, as ./dev creates them: no service can read
-- another service's data.
CREATE ROLE "order" LOGIN PASSWORD 'order';         CREATE DATABASE "order" OWNER "order";
CREATE ROLE inventory LOGIN PASSWORD 'inventory';   CREATE DATABASE inventory OWNER inventory;
CREATE ROLE payment LOGIN PASSWORD 'payment';       CREATE DATABASE payment OWNER payment;
CREATE ROLE email LOGIN PASSWORD 'email';           CREATE DATABASE email OWNER email;
CREATE ROLE analytics LOGIN PASSWORD 'analytics';   CREATE DATABASE analytics OWNER analytics;

-- The demo's "replica lags" switch (order service): pause and resume replay on the standby.
-- Granted on the primary, in the order database (each database has its own catalog); the
-- standby gets it by replication.
\c order
GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume() TO "order";
