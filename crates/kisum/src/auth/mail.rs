//! Kisum's emails: the shared outbox and delivery worker, with Kisum's two messages
//! (an invitation into a company, a password reset), plain text.

use lettre::Message;
use lettre::message::Mailbox;
use serde_json::Value;
use service::outbox::{Queued, Transport, Worker};

use crate::state::AppState;

pub const INVITATION: &str = "invitation";
pub const PASSWORD_RESET: &str = "password_reset";

fn text(payload: &Value, key: &str) -> String {
    payload[key].as_str().unwrap_or_default().to_string()
}

/// The subject and body of a queued email.
pub fn render(template: &str, payload: &Value) -> anyhow::Result<(String, String)> {
    Ok(match template {
        INVITATION => (
            format!("You are invited to {} on Kisum", text(payload, "company")),
            format!(
                "{} invited you to join {} on Kisum as {}.\n\n\
                 Accept the invitation: {}\n\n\
                 Or use this code: {}\n\n\
                 The invitation expires on {}.\n",
                text(payload, "inviter"),
                text(payload, "company"),
                text(payload, "role"),
                text(payload, "link"),
                text(payload, "token"),
                text(payload, "expires_at"),
            ),
        ),
        PASSWORD_RESET => (
            "Reset your Kisum password".to_string(),
            format!(
                "Someone asked to reset the password of this Kisum account.\n\n\
                 Choose a new password: {}\n\n\
                 Or use this code: {}\n\n\
                 The link works once, until {}. If it was not you, ignore this email: your \
                 password stays as it is.\n",
                text(payload, "link"),
                text(payload, "token"),
                text(payload, "expires_at"),
            ),
        ),
        other => anyhow::bail!("no email template {other:?}"),
    })
}

fn compose(mail_from: &str, mail: Queued) -> anyhow::Result<Message> {
    let payload: Value = serde_json::from_str(&mail.payload_json)?;
    let (subject, body) = render(&mail.template, &payload)?;
    let from: Mailbox = mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("--mail-from: {e}"))?;
    let to: Mailbox = mail
        .to_address
        .parse()
        .map_err(|e| anyhow::anyhow!("recipient {}: {e}", mail.to_address))?;
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{}@kisum>", mail.id)))
        .body(body)?)
}

fn worker(state: &AppState) -> anyhow::Result<Worker> {
    Ok(Worker {
        db: state.db.clone(),
        clock: state.clock.clone(),
        transport: Transport::from_config(
            state.config.smtp_url.as_deref(),
            &state.config.mail_dir,
        )?,
    })
}

/// Sends what is due once; how many were sent (tests and the CLI use it).
pub async fn deliver_once(state: &AppState) -> anyhow::Result<usize> {
    let from = state.config.mail_from.clone();
    worker(state)?
        .drain_once(&move |mail| {
            let from = from.clone();
            async move { compose(&from, mail) }
        })
        .await
}

/// Runs the delivery worker until the task is dropped.
pub async fn run(state: AppState) -> anyhow::Result<()> {
    let from = state.config.mail_from.clone();
    worker(&state)?
        .run(move |mail| {
            let from = from.clone();
            async move { compose(&from, mail) }
        })
        .await;
    Ok(())
}
