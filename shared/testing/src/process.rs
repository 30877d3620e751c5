//! A service as a real process, for the tests that must kill one.
//!
//! A crash point aborts its process, and a test that wants to see what survives a crash
//! cannot run the service in its own process. So these tests start the service's binary
//! (`env!("CARGO_BIN_EXE_order-service")`), against the test's own database and vhost, wait
//! for it to die where it was told to, and start it again on the same port, exactly as a
//! supervisor (systemd, Kubernetes, `./dev`) would.

use std::{
    os::unix::process::ExitStatusExt,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use platform_config::Component;

use crate::{TEST_ADMIN_TOKEN, TestDatabase, TestVhost};

/// A running service binary. Killed when dropped.
pub struct ServiceProcess {
    pub address: String,
    pub port: u16,
    binary: String,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

/// The environment a service binary needs to run against the test's database and vhost on
/// `port`; tests add their own knobs (`CRASH_POINTS`, timeouts) to it.
pub fn process_env(
    component: Component,
    db: &TestDatabase,
    vhost: &TestVhost,
    port: u16,
) -> Vec<(String, String)> {
    let callers = crate::test_service_callers()
        .into_iter()
        .map(|(name, digest)| format!("{name}={digest}"))
        .collect::<Vec<_>>()
        .join(",");
    [
        ("HTTP_HOST", "127.0.0.1".to_string()),
        ("HTTP_PORT", port.to_string()),
        ("DATABASE_URL", db.url.clone()),
        ("AMQP_URL", vhost.amqp_url.clone()),
        ("RABBITMQ_MANAGEMENT_URL", crate::vhost::management_url()),
        ("ADMIN_TOKEN", TEST_ADMIN_TOKEN.to_string()),
        ("SERVICE_TOKEN", crate::test_service_secret(component)),
        ("SERVICE_CALLERS", callers),
        (
            "CUSTOMER_TOKEN_SECRET",
            crate::TEST_CUSTOMER_TOKEN_SECRET.to_string(),
        ),
        ("SHUTDOWN_TIMEOUT_SECS", "5".to_string()),
        ("RUST_LOG", "info,sqlx=warn".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl ServiceProcess {
    /// Starts `binary` with `env` (on the port `env` names in `HTTP_PORT`). Its output goes
    /// to a log file, printed when the test fails.
    pub fn start(component: Component, binary: &str, env: Vec<(String, String)>) -> Self {
        let port: u16 = env
            .iter()
            .find(|(k, _)| k == "HTTP_PORT")
            .and_then(|(_, v)| v.parse().ok())
            .expect("the environment names HTTP_PORT");
        let log = std::env::temp_dir().join(format!("platform-test-{}-{port}.log", component.name()));
        let _ = std::fs::remove_file(&log);
        let mut process = Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            binary: binary.to_string(),
            env,
            log,
            child: None,
        };
        process.spawn(&[]);
        process
    }

    fn spawn(&mut self, extra: &[(&str, &str)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("the test's log file opens");
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log);
        self.child = Some(
            command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary)),
        );
    }

    /// Starts the binary again after it died (or was killed), on the same port with the
    /// same environment, minus the variables named in `without` (e.g. `CRASH_POINTS`).
    pub fn restart_without(&mut self, without: &[&str]) {
        self.kill();
        self.env.retain(|(k, _)| !without.contains(&k.as_str()));
        self.spawn(&[]);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Polls `/health/ready` until it answers 200.
    pub async fn wait_ready(&mut self, within: Duration) {
        let address = self.address.clone();
        let ready = crate::service::until_ready(&address, within, || {
            self.exited()
                .map(|status| format!("exited with {status} before it was ready"))
        })
        .await;
        if let Err(why) = ready {
            self.fail(&why);
        }
    }

    /// Waits until the process aborted (SIGABRT: a crash point fired), or fails the test.
    pub async fn wait_aborted(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                if status.signal() != Some(libc_sigabrt()) {
                    self.fail(&format!("ended with {status}, not at a crash point (SIGABRT)"));
                }
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                self.fail(&format!("did not crash within {within:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// The process's log, for a failing test's message.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{} {what}; last lines of its log:\n{}",
            self.binary,
            self.log_tail(40)
        );
    }

    /// `kill -9`, and wait for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// SIGABRT, what `std::process::abort()` ends a process with.
const fn libc_sigabrt() -> i32 {
    6
}
