//! The `email.after_send` crash point (shared/runtime/src/crash.rs): the email service, as a
//! real process, hands a confirmation to the mailbox and dies before marking it sent. The
//! restarted process sends it again once its lease runs out, with the same Message-ID, and
//! the mailbox keeps one copy: one email row, sent, one message in the mailbox.

use std::time::Duration;

use platform_config::Component;
use platform_testing::{ServiceProcess, TestDatabase, TestVhost, events, free_port, process_env};
use uuid::Uuid;

/// The messages in the mailbox directory (complete ones, not a write in progress).
fn mailbox(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(".eml") && !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn a_crash_between_send_and_mark_leaves_one_email_in_the_mailbox() {
    let (db, vhost) = (
        TestDatabase::create("email").await,
        TestVhost::create("email").await,
    );
    let data_dir = std::env::temp_dir().join(format!("platform-crash-{}", db.name));
    let mut env = process_env(Component::Email, &db, &vhost, free_port());
    env.extend(
        [
            ("CRASH_POINTS", "email.after_send"),
            ("DATA_DIR", data_dir.to_str().unwrap()),
            ("EMAIL_SEND_INTERVAL_MS", "100"),
            ("EMAIL_SEND_LEASE_MS", "1000"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut email = ServiceProcess::start(Component::Email, env!("CARGO_BIN_EXE_email-service"), env);
    email.wait_ready(Duration::from_secs(30)).await;

    let order_id = Uuid::new_v4();
    vhost
        .publish_event(&events::order_confirmed(
            order_id,
            "crash-shopper",
            1,
            "crash-email",
        ))
        .await;
    email.wait_aborted(Duration::from_secs(15)).await;
    let mail_dir = data_dir.join("mail");
    assert_eq!(
        mailbox(&mail_dir).len(),
        1,
        "handed to the mailbox before the crash"
    );
    let queued = format!("SELECT count(*) FROM emails WHERE order_id = '{order_id}' AND status = 'queued'");
    assert_eq!(db.scalar(&queued).await, 1, "not yet marked sent");

    email.restart_without(&["CRASH_POINTS"]);
    email.wait_ready(Duration::from_secs(30)).await;
    let sent = format!("SELECT count(*) FROM emails WHERE order_id = '{order_id}' AND status = 'sent'");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.scalar(&sent).await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never marked sent\n{}",
            email.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let attempts = format!("SELECT attempts::bigint FROM emails WHERE order_id = '{order_id}'");
    assert_eq!(db.scalar(&attempts).await, 1, "one recorded delivery");
    let all = format!("SELECT count(*) FROM emails WHERE order_id = '{order_id}'");
    assert_eq!(db.scalar(&all).await, 1, "one email for the order");
    assert_eq!(
        mailbox(&mail_dir),
        vec![format!("{}.eml", email_id(&email, order_id).await)],
        "one message in the mailbox"
    );
    email.kill();
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// The email's id, as the email service lists it (its mailbox file is named by it).
async fn email_id(email: &ServiceProcess, order_id: Uuid) -> String {
    let emails: serde_json::Value = reqwest::Client::new()
        .get(email.url(&format!("/emails?order_id={order_id}")))
        .header("X-Admin-Token", platform_testing::TEST_ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    emails[0]["id"].as_str().expect("the email's id").to_string()
}
