//! A short-lived cache of the inventory catalog, to reject unknown products before anything
//! is written. Products change rarely; asking inventory on every checkout would add a
//! network hop to the critical path for no benefit.

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
