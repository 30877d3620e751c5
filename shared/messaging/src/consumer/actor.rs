//! The consumer's life: a supervised actor that runs the delivery loop, and the handle the
//! service keeps. The supervisor is there so that consuming cannot end silently: should the
//! actor fail, it is restarted, and with it the loop. The handle pauses a consumer (the
//! operator's switch, analytics' backpressure) and stops it on shutdown; what was delivered
//! and not yet acknowledged is then redelivered, not lost.

use std::sync::Arc;

use actix::{Actor, AsyncContext, Context, Handler as ActixHandler, Message, Supervised, WrapFuture};
use platform_broker::Broker;
use platform_contracts::ops::ReaderMode;
use platform_service::faults::Faults;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use super::{ConsumerSpec, DynHandler, Handler};

/// What the delivery loop works with: one per consumer, kept across the actor's restarts.
pub(super) struct Inner {
    pub(super) spec: ConsumerSpec,
    pub(super) db: DatabaseConnection,
    pub(super) broker: Broker,
    pub(super) handler: Arc<dyn DynHandler>,
    pub(super) faults: Faults,
    pub(super) paused: watch::Receiver<Pauses>,
    pub(super) reader: watch::Receiver<ReaderMode>,
}

/// Why a consumer is not consuming, each reason on its own: it consumes when none holds, so
/// lifting one (backpressure released) never lifts another (an operator's pause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pauses {
    /// The operator's switch: stored in `consumer_switches`, obeyed by every instance
    /// (`switches.rs`).
    pub(super) operator: bool,
    /// The operator's switches were not read yet: an instance that starts while its consumer
    /// is paused does not consume until it knows.
    pub(super) unread: bool,
    /// The consumer's own decision (analytics' backpressure), per process.
    pub(super) backpressure: bool,
    /// The service is shutting down.
    pub(super) stopping: bool,
}

impl Pauses {
    pub(super) fn any(&self) -> bool {
        self.operator || self.unread || self.backpressure || self.stopping
    }
}

/// Pauses and resumes a consumer (backpressure, or the ops page's "pause consumer").
#[derive(Clone)]
pub struct ConsumerHandle {
    pub spec: ConsumerSpec,
    paused: watch::Sender<Pauses>,
    reader: watch::Sender<ReaderMode>,
    addr: actix::Addr<ConsumerActor>,
}

impl ConsumerHandle {
    /// Whether it is paused, for any reason.
    pub fn is_paused(&self) -> bool {
        self.paused.borrow().any()
    }
    /// Whether an operator paused it (the switch every instance obeys).
    pub fn paused_by_operator(&self) -> bool {
        self.paused.borrow().operator
    }
    /// A pause the consumer decides itself from what it measures (analytics' backpressure).
    /// Per process, unlike the operator's switch: each instance decides from the same broker
    /// state, so they engage and release alike without sharing anything.
    pub fn set_backpressure(&self, engaged: bool) {
        self.paused.send_if_modified(|p| {
            let changed = p.backpressure != engaged;
            p.backpressure = engaged;
            changed
        });
    }
    /// The reader it reads events with (see `reader.rs`).
    pub fn reader(&self) -> ReaderMode {
        *self.reader.borrow()
    }
    /// Applies the operator's switches as stored (`switches.rs`, the only caller, so that a
    /// switch set through this instance is the one every instance obeys). Wakes the delivery
    /// loop only when something changed.
    pub(super) fn apply_operator(&self, paused: bool, reader: ReaderMode) {
        self.paused.send_if_modified(|p| {
            let changed = p.operator != paused || p.unread;
            (p.operator, p.unread) = (paused, false);
            changed
        });
        self.reader.send_if_modified(|r| {
            let changed = *r != reader;
            *r = reader;
            changed
        });
    }
    /// A shutdown hook: stop consuming (in-flight messages finish or are redelivered).
    pub fn stop_hook(&self) -> platform_http::ShutdownHook {
        let (addr, paused) = (self.addr.clone(), self.paused.clone());
        Box::new(move || {
            Box::pin(async move {
                paused.send_modify(|p| p.stopping = true);
                let _ = addr.send(StopConsumer).await;
            })
        })
    }
}

/// Starts a supervised consumer actor. `faults` lets the operation `consume` be failed on
/// purpose (demos and tests). It consumes once the operator's switches have been read
/// (`switches.rs`).
pub fn start(
    spec: ConsumerSpec,
    db: DatabaseConnection,
    broker: Broker,
    handler: impl Handler,
    faults: Faults,
) -> ConsumerHandle {
    let handler: Arc<dyn DynHandler> = Arc::new(handler);
    let (paused_tx, paused) = watch::channel(Pauses {
        operator: false,
        unread: true,
        backpressure: false,
        stopping: false,
    });
    let (reader_tx, reader) = watch::channel(ReaderMode::Tolerant);
    let inner = Arc::new(Inner {
        spec: spec.clone(),
        db,
        broker,
        handler,
        faults,
        paused,
        reader,
    });
    let addr = actix::Supervisor::start(move |_| ConsumerActor {
        inner,
        running: None,
        stopped: false,
    });
    ConsumerHandle {
        spec,
        paused: paused_tx,
        reader: reader_tx,
        addr,
    }
}

pub struct ConsumerActor {
    inner: Arc<Inner>,
    running: Option<actix::SpawnHandle>,
    stopped: bool,
}

impl Actor for ConsumerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.stopped {
            return;
        }
        let inner = self.inner.clone();
        // The loop never returns: it reconnects by itself. Should the actor fail anyway,
        // its supervisor restarts it, and with it the loop.
        self.running = Some(ctx.spawn(async move { inner.run().await }.into_actor(self)));
    }
}

impl Supervised for ConsumerActor {
    fn restarting(&mut self, _: &mut Self::Context) {
        tracing::warn!(consumer = self.inner.spec.name, "consumer restarting");
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct StopConsumer;

impl ActixHandler<StopConsumer> for ConsumerActor {
    type Result = ();
    fn handle(&mut self, _: StopConsumer, ctx: &mut Self::Context) {
        self.stopped = true;
        if let Some(handle) = self.running.take() {
            ctx.cancel_future(handle);
        }
    }
}
