//! Relay and broker benchmark: how fast the outbox drains to RabbitMQ, next to what the
//! broker itself allows on this machine, measured in the same run.
//!
//!   relay-bench [EVENTS]      (default 20000)
//!
//! 1. raw publish with confirms: EVENTS messages, 256 in flight, to a bound queue;
//! 2. raw consume: the same messages, prefetch 256, acknowledged one by one;
//! 3. outbox relay: EVENTS rows in a fresh outbox table, drained by the platform's `Relay`
//!    (the same code the order service runs), batch 100.
//!
//! It creates its own database and vhost (from `TEST_DATABASE_URL` / `TEST_AMQP_URL` /
//! `TEST_RABBITMQ_MANAGEMENT_URL`, defaulting to the `./dev` stack) and removes them after.
//! A benchmark prints figures; it asserts nothing about speed.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::{
    BasicProperties, Connection, ConnectionProperties,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
        QueueBindOptions, QueueDeclareOptions,
    },
    types::FieldTable,
};
use platform_broker::Broker;
use platform_contracts::{EXCHANGE, Envelope, Heartbeat};
use platform_messaging::management::Management;
use platform_service::periodic::Pass;
use sea_orm::{ConnectionTrait, Database};
use sea_orm_migration::MigratorTrait;

fn env(name: &str, default: String) -> String {
    platform_config::string(name, &default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let admin_db = env(
        "TEST_DATABASE_URL",
        format!(
            "postgres://platform:platform@127.0.0.1:{}/postgres",
            platform_config::DEV_PG_PORT
        ),
    );
    let amqp_base = env(
        "TEST_AMQP_URL",
        format!(
            "amqp://platform:platform@127.0.0.1:{}",
            platform_config::DEV_AMQP_PORT
        ),
    );
    let management = Management::new(&env(
        "TEST_RABBITMQ_MANAGEMENT_URL",
        format!(
            "http://platform:platform@127.0.0.1:{}",
            platform_config::DEV_RABBITMQ_MGMT_PORT
        ),
    ))?;
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());

    // A fresh database (with the order service's schema) and vhost.
    let admin = Database::connect(&admin_db).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    management
        .call(reqwest::Method::PUT, &format!("api/vhosts/{name}"), None)
        .await?;
    let perms = serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" });
    management
        .call(
            reqwest::Method::PUT,
            &format!("api/permissions/{name}/{}", management.user()),
            Some(perms),
        )
        .await?;
    let db_url = format!(
        "{}/{name}",
        admin_db.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_db)
    );
    let amqp_url = format!("{}/{name}", amqp_base.trim_end_matches('/'));

    let result = run(events, &db_url, &amqp_url).await;

    management
        .call(reqwest::Method::DELETE, &format!("api/vhosts/{name}"), None)
        .await
        .ok();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .ok();
    result
}

async fn run(events: usize, db_url: &str, amqp_url: &str) -> anyhow::Result<()> {
    let conn = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;
    platform_messaging::topology::declare_exchange(&channel).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare("bench".into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            "bench".into(),
            EXCHANGE.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let sample = Envelope::new(
        &Heartbeat {
            producer: "bench".into(),
            sent_at: chrono::Utc::now(),
        },
        "bench",
        "bench",
        None,
    );
    let body = serde_json::to_vec(&sample)?;

    // 1. Raw publish with confirms, a window of 256 in flight.
    let started = Instant::now();
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    for _ in 0..events {
        if in_flight.len() >= 256 {
            in_flight.next().await.transpose()?;
        }
        let confirm = channel
            .basic_publish(
                EXCHANGE.into(),
                "bench.raw".into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        in_flight.push(confirm);
    }
    while let Some(c) = in_flight.next().await {
        c?;
    }
    let publish_rate = events as f64 / started.elapsed().as_secs_f64();

    // 2. Raw consume of the same messages.
    let consumer_channel = conn.create_channel().await?;
    consumer_channel
        .basic_qos(256, BasicQosOptions::default())
        .await?;
    let mut consumer = consumer_channel
        .basic_consume(
            "bench".into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let started = Instant::now();
    for _ in 0..events {
        let delivery = consumer
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("consumer ended"))??;
        delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    let consume_rate = events as f64 / started.elapsed().as_secs_f64();
    consumer_channel.close(200, "done".into()).await.ok();

    // 3. The outbox relay: rows written, then drained by the platform's own Relay.
    let db = platform_db_connect(db_url).await?;
    migrations::order::Migrator::up(&db, None).await?;
    db.execute_unprepared(&format!(
        "INSERT INTO outbox (event_id, event_type, aggregate_id, correlation_id, envelope)
         SELECT gen_random_uuid(), 'order.heartbeat', 'bench', 'bench',
                jsonb_set('{}'::jsonb, '{{event_id}}', to_jsonb(gen_random_uuid()::text))
         FROM generate_series(1, {events})",
        serde_json::to_string(&sample)?.replace('\'', "''")
    ))
    .await?;
    let broker = Broker::start(amqp_url.to_string(), "relay-bench");
    broker.connected(Duration::from_secs(10)).await?;
    let relay = platform_messaging::Relay::new(db.clone(), broker.clone(), 100, Duration::from_secs(3600));
    let started = Instant::now();
    loop {
        let more = relay.run_pass().await?;
        if !more {
            let left = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL".to_string(),
                ))
                .await?
                .map(|r| r.try_get_by_index::<i64>(0))
                .transpose()?
                .unwrap_or(0);
            if left == 0 {
                break;
            }
        }
    }
    let relay_rate = events as f64 / started.elapsed().as_secs_f64();
    broker.close().await;
    db.close().await.ok();
    conn.close(200, "done".into()).await.ok();

    println!("relay-bench: {events} events");
    println!("  broker publish with confirms  {publish_rate:>9.0} msg/s   (256 in flight)");
    println!("  broker consume with acks      {consume_rate:>9.0} msg/s   (prefetch 256)");
    println!("  outbox relay (batch 100)      {relay_rate:>9.0} events/s");
    println!(
        "  relay / raw publish           {:>9.2}",
        relay_rate / publish_rate
    );
    Ok(())
}

async fn platform_db_connect(url: &str) -> anyhow::Result<sea_orm::DatabaseConnection> {
    Ok(Database::connect(url).await?)
}
