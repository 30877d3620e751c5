use std::{sync::Arc, time::Duration};

use futures_util::{FutureExt, StreamExt};
use lapin::{Channel, Connection, ConnectionProperties, Event};
use platform_http::Probe;
use platform_runtime::supervisor;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("not connected to the broker")]
    NotConnected,
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
}

/// A cheap, cloneable handle on the (re)connecting broker connection.
#[derive(Clone)]
pub struct Broker {
    current: watch::Receiver<Option<Arc<Connection>>>,
    stop: watch::Sender<bool>,
}

impl Broker {
    /// Starts the keeper task and returns at once: the service does not wait for the
    /// broker to start serving HTTP (its readiness says 503 until connected).
    pub fn start(url: String, name: &str) -> Self {
        let (publish, current) = watch::channel(None);
        let (stop, stopped) = watch::channel(false);
        // Supervised: should the keeper itself panic, it is restarted (and counted), so a
        // service never sits disconnected for good while saying nothing.
        let (publish, name) = (Arc::new(publish), name.to_string());
        supervisor::supervise("broker-keeper", move || {
            keep_connected(url.clone(), name.clone(), publish.clone(), stopped.clone()).map(Ok)
        });
        Self { current, stop }
    }

    pub fn connection(&self) -> Option<Arc<Connection>> {
        self.current.borrow().clone().filter(|c| c.status().connected())
    }

    pub fn is_connected(&self) -> bool {
        self.connection().is_some()
    }

    pub async fn channel(&self) -> Result<Channel, BrokerError> {
        let conn = self.connection().ok_or(BrokerError::NotConnected)?;
        Ok(conn.create_channel().await?)
    }

    /// Waits until a connection is open (used by start-up code that declares topology,
    /// and by tests).
    pub async fn connected(&self, within: Duration) -> Result<Arc<Connection>, BrokerError> {
        let mut rx = self.current.clone();
        let wait = async {
            loop {
                if let Some(c) = rx.borrow_and_update().clone().filter(|c| c.status().connected()) {
                    return Ok(c);
                }
                if rx.changed().await.is_err() {
                    return Err(BrokerError::NotConnected);
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .unwrap_or(Err(BrokerError::NotConnected))
    }

    /// Closes the connection cleanly (channels first, by the broker) and stops reconnecting.
    pub async fn close(&self) {
        let _ = self.stop.send(true);
        if let Some(conn) = self.connection()
            && let Err(e) = conn.close(200, "service shutting down".into()).await
        {
            tracing::warn!(error = %e, "closing the broker connection failed");
        }
    }

    pub fn probe(&self) -> Probe {
        let broker = self.clone();
        Probe::new("broker", move || {
            let ok = broker.is_connected();
            async move {
                if ok {
                    Ok(())
                } else {
                    Err("broker connection is not open".into())
                }
            }
            .boxed()
        })
    }
}

/// Connect, wait for the connection to fail, reconnect: forever, until told to stop.
///
/// The backoff is capped and reset after a successful connection, so a broker restart
/// costs seconds of reconnection, and a long outage costs one attempt every few seconds,
/// not a tight loop hammering the broker as it comes back.
async fn keep_connected(
    url: String,
    name: String,
    publish: Arc<watch::Sender<Option<Arc<Connection>>>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut delay = Duration::from_millis(200);
    while !*stopped.borrow() {
        let props = ConnectionProperties::default().with_connection_name(name.clone().into());
        match Connection::connect(&url, props).await {
            Ok(conn) => {
                delay = Duration::from_millis(200);
                let mut events = conn.events_listener();
                let conn = Arc::new(conn);
                tracing::info!(connection = %name, "connected to the broker");
                publish.send_replace(Some(conn.clone()));
                loop {
                    tokio::select! {
                        event = events.next() => match event {
                            Some(Event::Error(e)) => {
                                tracing::warn!(error = %e, "broker connection lost; reconnecting");
                                break;
                            }
                            Some(_) => continue,
                            None => break,
                        },
                        _ = stopped.changed() => return,
                        // Belt and braces: some failures only show in the status.
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {
                            if !conn.status().connected() { break; }
                        }
                    }
                }
                publish.send_replace(None);
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "cannot reach the broker");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped.changed() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
