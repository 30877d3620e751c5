//! The consumer's life: a supervised actor that runs the delivery loop, and the handle the
//! service keeps. The supervisor is there so that consuming cannot end silently: should the
//! actor fail, it is restarted, and with it the loop. The handle pauses a consumer
//! (analytics' backpressure, the ops page's switch) and stops it on shutdown; what was
//! delivered and not yet acknowledged is then redelivered, not lost.

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
    pub(super) paused: watch::Receiver<bool>,
    pub(super) reader: watch::Receiver<ReaderMode>,
}

/// Pauses and resumes a consumer (backpressure, or the ops page's "pause consumer").
#[derive(Clone)]
pub struct ConsumerHandle {
    pub spec: ConsumerSpec,
    paused: watch::Sender<bool>,
    reader: watch::Sender<ReaderMode>,
    addr: actix::Addr<ConsumerActor>,
}

impl ConsumerHandle {
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }
    /// Switches the reader it reads events with (see `reader.rs`).
    pub fn set_reader(&self, mode: ReaderMode) {
        self.reader.send_replace(mode);
    }
    pub fn reader(&self) -> ReaderMode {
        *self.reader.borrow()
    }
    /// A shutdown hook: stop consuming (in-flight messages finish or are redelivered).
    pub fn stop_hook(&self) -> platform_http::ShutdownHook {
        let (addr, paused) = (self.addr.clone(), self.paused.clone());
        Box::new(move || {
            Box::pin(async move {
                paused.send_replace(true);
                let _ = addr.send(StopConsumer).await;
            })
        })
    }
}

/// Starts a supervised consumer actor. `faults` lets the operation `consume` be failed on
/// purpose (demos and tests).
pub fn start(
    spec: ConsumerSpec,
    db: DatabaseConnection,
    broker: Broker,
    handler: impl Handler,
    faults: Faults,
) -> ConsumerHandle {
    let handler: Arc<dyn DynHandler> = Arc::new(handler);
    let (paused_tx, paused) = watch::channel(false);
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
