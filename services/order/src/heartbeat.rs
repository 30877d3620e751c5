//! The heartbeat: an event published every few seconds through the same outbox, relay and
//! broker as real events. Analytics records when it last saw one; if that is too long ago,
//! its projection is stale, even at 3 a.m. when no orders flow and "no new data" would
//! otherwise look exactly like "nothing is working".

use chrono::Utc;
use platform_contracts::Envelope;
use sea_orm::{DatabaseConnection, DbErr};

#[derive(Clone)]
pub struct Heartbeat {
    pub db: DatabaseConnection,
}

impl platform_service::periodic::Pass for Heartbeat {
    async fn run_pass(&self) -> anyhow::Result<bool> {
        publish(&self.db).await?;
        Ok(false)
    }
}

pub async fn publish(db: &DatabaseConnection) -> Result<(), DbErr> {
    let beat = platform_contracts::Heartbeat {
        producer: crate::saga::PRODUCER.to_string(),
        sent_at: Utc::now(),
    };
    let correlation = format!("heartbeat-{}", beat.sent_at.timestamp());
    platform_messaging::enqueue(
        db,
        &Envelope::new(&beat, crate::saga::PRODUCER, &correlation, None),
    )
    .await
}
