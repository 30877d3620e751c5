//! A consuming service's subscription: its consumer and the operator endpoints that come with
//! it, set up the same way by every service that consumes order events.

use actix_web::web;
use platform_broker::Broker;
use platform_http::Application;
use platform_service::Infra;
use platform_service::faults::Faults;
use sea_orm::DatabaseConnection;

use crate::{
    ConsumerHandle, ConsumerSpec, Handler, Tuning, consumer, consumer_admin, dead_letters, effects,
    processed_events,
};

/// A running consumer and the operator endpoints that come with it (dead letters, pause
/// and resume, processed events): what every consuming service sets up, in one call.
pub struct Subscription {
    pub handle: ConsumerHandle,
    /// The operator's switches of the consumer (stored for every instance) and their poll.
    switches: consumer::Switches,
    switch_poll: actix::Addr<platform_service::periodic::Periodic>,
    db: DatabaseConnection,
    broker: Broker,
    effect: effects::ConfirmedEffect,
}

pub fn subscribe<H: Handler>(
    spec: ConsumerSpec,
    db: DatabaseConnection,
    broker: Broker,
    handler: H,
    faults: Faults,
) -> Subscription {
    let effect = H::CONFIRMED_EFFECT;
    let handle = consumer::start(spec, db.clone(), broker.clone(), handler, faults);
    let (switches, switch_poll) = consumer::Switches::start(db.clone(), vec![handle.clone()]);
    Subscription {
        handle,
        switches,
        switch_poll,
        db,
        broker,
        effect,
    }
}

impl Subscription {
    pub fn routes(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + use<> {
        let dead_letters = dead_letters::routes(self.broker.clone(), vec![self.handle.spec.queue.clone()]);
        let consumer_admin = consumer_admin::routes(self.switches.clone());
        let processed_events = processed_events::routes(self.db.clone());
        let effects = effects::routes(self.db.clone(), self.effect);
        move |cfg| {
            dead_letters(cfg);
            consumer_admin(cfg);
            processed_events(cfg);
            effects(cfg);
        }
    }
}

/// A service that consumes the order service's events (inventory, payment, email,
/// analytics): its consumer on its `order-events` queue with the operator endpoints that
/// come with it, and its fault switches, which the consumer and the service's own API obey.
pub struct Subscriber {
    pub subscription: Subscription,
    pub faults: Faults,
    purge: actix::Addr<platform_service::periodic::Periodic>,
}

impl Subscriber {
    /// Starts `handler` on `<service>.order-events`, bound to `bindings`, on the background
    /// pool (consuming never takes the connections a request is waiting for).
    pub fn start(
        infra: &Infra,
        service: &'static str,
        bindings: &[&'static str],
        tuning: &Tuning,
        handler: impl Handler,
    ) -> Self {
        let faults = Faults::new(infra.db.clone());
        let spec = ConsumerSpec::new(service, "order-events", bindings.to_vec(), tuning);
        let subscription = subscribe(
            spec,
            infra.background_db.clone(),
            infra.broker.clone(),
            handler,
            faults.clone(),
        );
        let purge = platform_service::periodic::start(
            "processed-events-purge",
            tuning.purge_interval,
            processed_events::Purge {
                db: infra.background_db.clone(),
                retention: tuning.processed_retention,
            },
        );
        Self {
            subscription,
            faults,
            purge,
        }
    }

    /// Serves the service's own `routes`, the fault switches for `fault_operations` and the
    /// consumer's endpoints; the consumer stops once the server has drained.
    pub fn serve(
        &self,
        infra: &Infra,
        fault_operations: &'static [&'static str],
        routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    ) -> std::io::Result<Application> {
        let fault_routes = self.faults.clone().routes(fault_operations);
        let subscription_routes = self.subscription.routes();
        let app = infra.serve(vec![], move |cfg| {
            routes(cfg);
            fault_routes(cfg);
            subscription_routes(cfg);
        })?;
        Ok(app
            .on_shutdown(platform_service::periodic::stop_hook(
                self.subscription.switch_poll.clone(),
            ))
            .on_shutdown(self.subscription.handle.stop_hook())
            .on_shutdown(platform_service::periodic::stop_hook(self.purge.clone())))
    }
}
