//! A short-lived cache of the inventory catalog, to reject unknown products before anything
//! is written. Products change rarely; asking inventory on every checkout would add a
//! network hop to the critical path for no benefit.
//!
//! A SKU the cache does not know makes it refresh (the product may have been added a
//! moment ago), but at most once per `RECHECK_AFTER`: an unknown SKU is also cached, as
//! unknown, for that long. Without it, every request naming a SKU that does not exist (a
//! typo, a stale link, a bot) would cost a call to inventory: a stream of them would turn
//! the catalog into a load amplifier against inventory.

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use platform_contracts::inventory::{PRODUCTS_PATH, Product};
use platform_telemetry::CorrelationId;

use crate::clients::{CallError, Dependency};

/// The SKUs known at a point in time.
type Snapshot = (Instant, Arc<HashSet<String>>);

/// How long a snapshot answers "unknown" without asking inventory again.
const RECHECK_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Catalog {
    inventory: Dependency,
    ttl: Duration,
    cached: Arc<RwLock<Option<Snapshot>>>,
}

impl Catalog {
    pub fn new(inventory: Dependency, ttl: Duration) -> Self {
        Self {
            inventory,
            ttl,
            cached: Arc::default(),
        }
    }

    /// The SKUs among `skus` that the catalog does not know. Refreshes once before calling a
    /// SKU unknown, so a product added a moment ago is not refused.
    pub async fn unknown(
        &self,
        skus: &[&str],
        correlation: &CorrelationId,
    ) -> Result<Vec<String>, CallError> {
        let fresh = self
            .cached
            .read()
            .expect("catalog lock")
            .clone()
            .filter(|(at, _)| at.elapsed() < self.ttl);
        let known = match fresh {
            Some((_, known)) if skus.iter().all(|s| known.contains(*s)) => return Ok(vec![]),
            // Refreshed a moment ago: what it does not know is unknown (the negative cache).
            Some((at, known)) if at.elapsed() < RECHECK_AFTER => known,
            _ => self.refresh(correlation).await?,
        };
        Ok(skus
            .iter()
            .filter(|s| !known.contains(**s))
            .map(|s| s.to_string())
            .collect())
    }

    async fn refresh(&self, correlation: &CorrelationId) -> Result<Arc<HashSet<String>>, CallError> {
        let products: Vec<Product> = self.inventory.get(PRODUCTS_PATH, correlation).await?;
        let known = Arc::new(products.into_iter().map(|p| p.sku).collect::<HashSet<_>>());
        *self.cached.write().expect("catalog lock") = Some((Instant::now(), known.clone()));
        Ok(known)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use actix_web::{App, HttpResponse, HttpServer, web};

    use super::*;

    /// A stand-in for inventory's `GET /products` that counts its calls.
    async fn inventory(calls: Arc<AtomicUsize>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            let calls = calls.clone();
            App::new().route(
                PRODUCTS_PATH,
                web::get().to(move || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async {
                        HttpResponse::Ok().json(serde_json::json!([{
                            "sku": "mug", "name": "Mug", "description": "", "price_minor": 1800,
                            "currency": "EUR", "available": 10, "reserved": 0, "sold": 0,
                            "initial_stock": 10, "hot": false
                        }]))
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        url
    }

    #[actix_web::test]
    async fn unknown_skus_do_not_refresh_the_catalog_on_every_request() {
        let calls = Arc::new(AtomicUsize::new(0));
        let url = inventory(calls.clone()).await;
        let dependency = Dependency::new("inventory", url, Duration::from_secs(2), Duration::from_secs(10));
        let catalog = Catalog::new(dependency, Duration::from_secs(30));
        let correlation = CorrelationId::new();
        assert!(catalog.unknown(&["mug"], &correlation).await.unwrap().is_empty());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        for _ in 0..50 {
            assert_eq!(
                catalog.unknown(&["nope"], &correlation).await.unwrap(),
                vec!["nope"]
            );
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "50 unknown SKUs within a second: no refresh"
        );
        tokio::time::sleep(RECHECK_AFTER).await;
        assert_eq!(
            catalog.unknown(&["nope"], &correlation).await.unwrap(),
            vec!["nope"]
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "then one refresh, in case it was just added"
        );
    }
}
