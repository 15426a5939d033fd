//! Email leaves through the outbox: to a real SMTP server when one is configured, else as
//! .eml files.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Auth, TestApp, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    emails_reach_a_real_smtp_server,
    without_smtp_emails_are_written_as_files,
    a_down_mail_server_delays_email_and_nothing_else,
);

/// An SMTP server (Python's aiosmtpd) storing what it receives in a Maildir.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn smtp_server() -> SmtpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let maildir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir.path().join("mail"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 must run aiosmtpd (pip install aiosmtpd; scripts/test installs it)");
    let mut server = SmtpServer {
        child,
        port,
        maildir,
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            let _ = server
                .child
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut err));
            panic!("aiosmtpd exited ({status}): {err} — install it with pip install aiosmtpd");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("aiosmtpd did not start on port {port}");
}

async fn wait_for_file(dir: &std::path::Path, extension: Option<&str>) -> String {
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if extension.is_none_or(|e| path.extension().is_some_and(|x| x == e))
                    && path.is_file()
                {
                    return std::fs::read_to_string(path).unwrap();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no email arrived in {}", dir.display());
}

async fn emails_reach_a_real_smtp_server(app: TestApp) {
    let smtp = smtp_server().await;
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = spawn_app_with(app.backend, move |c| c.smtp_url = Some(url)).await;
    let owner = app.signup("owner@example.com").await;
    app.buyer(&owner.org_id, "budi@example.com").await;
    app.post(
        "/consumer/auth/password-reset",
        &Auth::Internal(owner.org_id.clone()),
        json!({ "email": "budi@example.com" }),
    )
    .await
    .expect(202);
    let token = app
        .last_email("buyer_password_reset", "budi@example.com")
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    // The verification email and the reset email both arrive; find the reset one.
    let new_dir = smtp.maildir.path().join("mail").join("new");
    let mut found = None;
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(&new_dir) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if text.contains("Reset your") {
                    found = Some(text);
                }
            }
        }
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let message = found.expect("the reset email reached the SMTP server");
    assert!(message.contains("To: budi@example.com"), "{message}");
    assert!(message.contains(&token), "{message}");
    let status: String =
        sqlx::query_scalar("SELECT status FROM outbox WHERE template = 'buyer_password_reset'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "sent");
    let _ = &app.mail_dir;
}

async fn without_smtp_emails_are_written_as_files(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    app.post(
        "/consumer/auth/register",
        &Auth::Internal(owner.org_id.clone()),
        json!({ "email": "siti@example.com", "password": "buyer password 1", "name": "Siti", "locale": "id" }),
    )
    .await
    .expect(201);
    let eml = wait_for_file(app.mail_dir.path(), Some("eml")).await;
    assert!(eml.contains("To: siti@example.com"), "{eml}");
    assert!(
        eml.contains("Subject: Konfirmasi email"),
        "the buyer's language: {eml}"
    );
}

async fn a_down_mail_server_delays_email_and_nothing_else(app: TestApp) {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(app.backend, move |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    })
    .await;
    let owner = app.signup("owner@example.com").await;
    app.buyer(&owner.org_id, "budi@example.com").await;
    let mut attempts = 0;
    for _ in 0..50 {
        let row: (String, i64, i64) = sqlx::query_as(
            "SELECT status, attempts, next_attempt_at FROM outbox WHERE template = 'buyer_verify_email'",
        )
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
        if row.1 > 0 && row.0 == "pending" {
            attempts = row.1;
            let now = nextkt::platform::clock::Clock::now_ms(app.clock.as_ref());
            assert!(row.2 > now, "retried later, with backoff");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(attempts, 1, "one failed attempt, then a wait");
    // The registration itself stands.
    assert_eq!(app.count("buyers").await, 1);
}
