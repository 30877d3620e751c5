//! A supervised actor that runs one job over and over: the shape shared by every
//! background loop of the platform (reservation sweeper, reconciler, compensation worker).
//!
//! Why an actor and not a bare `loop { sleep }` task: the actor is restarted by its
//! supervisor if it stops, can be woken early by a message (a new compensation was just
//! recorded: run now rather than at the next tick), and never runs two passes at once, so a
//! slow database cannot pile up overlapping passes. The job itself keeps no state that
//! matters: everything it works on lives in PostgreSQL, so a restart loses nothing.
//!
//! A panic in a pass does not stop an actor, it would kill the task the actor runs in (and
//! with it the job, silently). Each pass therefore runs under `supervisor::guard`: a panic
//! is logged and counted (`actor_restarts_total{actor}`), the actor is stopped, and its
//! supervisor starts it again, taking passes only after a backoff that grows while the
//! job keeps panicking.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix::{
    Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, Supervised,
    Supervisor, WrapFuture,
};
use futures_util::future::BoxFuture;
use platform_runtime::supervisor;

/// One pass of the job. `Ok(true)` means "there may be more to do right now" (a full batch
/// was processed), and the next pass starts at once instead of after the interval.
pub type Job = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<bool>> + Send + Sync>;

pub struct Periodic {
    name: &'static str,
    interval: Duration,
    job: Job,
    running: bool,
    rerun: bool,
    stopped: bool,
    /// Panics in a row; passes resume no sooner than `not_before` after a restart.
    panics: u32,
    not_before: Option<Instant>,
}

/// Background work done in passes: the relay, the reconciler, the compensation worker, the
/// monitors. A value cheap to clone (its pools and clients are shared handles); each pass
/// runs on a clone, so a pass owns what it uses and a panic in it loses nothing shared.
pub trait Pass: Clone + Send + Sync + 'static {
    /// One pass. `Ok(true)`: there may be more to do right now (a full batch).
    fn run_pass(&self) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

/// Starts `pass` every `interval` (and at once when a pass says there is more, or on
/// [`Wake`]), under a supervisor.
pub fn start(name: &'static str, interval: Duration, pass: impl Pass) -> Addr<Periodic> {
    let job: Job = Arc::new(move || {
        let pass = pass.clone();
        Box::pin(async move { pass.run_pass().await })
    });
    Supervisor::start(move |_| Periodic {
        name,
        interval,
        job,
        running: false,
        rerun: false,
        stopped: false,
        panics: 0,
        not_before: None,
    })
}

impl Periodic {
    fn pass(&mut self, ctx: &mut Context<Self>) {
        if self.stopped || self.not_before.is_some_and(|t| Instant::now() < t) {
            return;
        }
        if self.running {
            // Asked again while busy: remember it and run once more right after.
            self.rerun = true;
            return;
        }
        self.running = true;
        let (name, job) = (self.name, self.job.clone());
        let pass = supervisor::guard(name, async move { job().await });
        ctx.spawn(pass.into_actor(self).map(move |result, actor, ctx| {
            actor.running = false;
            let Ok(result) = result else {
                // Logged and counted by the guard; the supervisor restarts the actor.
                metrics::counter!("background_passes_total", "job" => name, "outcome" => "panicked").increment(1);
                actor.panics += 1;
                ctx.stop();
                return;
            };
            actor.panics = 0;
            // Passes per job and outcome: a job whose `ok` count stops moving has stopped
            // working, whatever its process's health check says.
            let outcome = if result.is_ok() { "ok" } else { "error" };
            metrics::counter!("background_passes_total", "job" => name, "outcome" => outcome).increment(1);
            let more = match result {
                Ok(more) => more,
                Err(e) => {
                    tracing::warn!(job = name, error = %e, "background pass failed; retrying at the next tick");
                    false
                }
            };
            if more || std::mem::take(&mut actor.rerun) {
                actor.pass(ctx);
            }
        }));
    }
}

impl Actor for Periodic {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::debug!(job = self.name, "background job started");
        ctx.run_interval(self.interval, |actor, ctx| actor.pass(ctx));
    }
}

impl Supervised for Periodic {
    fn restarting(&mut self, _: &mut Self::Context) {
        let delay = supervisor::restart_delay(self.panics.saturating_sub(1));
        tracing::warn!(
            job = self.name,
            delay_ms = delay.as_millis() as u64,
            "background job restarting"
        );
        self.running = false;
        self.rerun = false;
        self.not_before = Some(Instant::now() + delay);
    }
}

/// Run a pass now (e.g. new work was just recorded).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

impl Handler<Wake> for Periodic {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.pass(ctx);
    }
}

/// Stop starting passes (graceful shutdown); a pass already running finishes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Periodic {
    type Result = ();

    fn handle(&mut self, _: Stop, _: &mut Self::Context) {
        self.stopped = true;
    }
}

/// A shutdown hook that stops the job.
pub fn stop_hook(addr: Addr<Periodic>) -> platform_http::ShutdownHook {
    Box::new(move || {
        Box::pin(async move {
            let _ = addr.send(Stop).await;
        })
    })
}
