//! The email worker: drains the outbox over SMTP, or, with no SMTP configured, into `.eml`
//! files in a directory. Several processes can run it: each claims a batch by leasing its
//! rows (a crashed sender's lease runs out and another process retries). A failed send is
//! retried with exponential backoff and never touches the change that queued it. The SQL
//! is in `store`; this file renders, sends and decides what happens next.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use super::store::{self, BATCH, Queued};
use super::templates;
use crate::platform::clock::Millis;
use crate::state::AppState;

const LEASE_MS: i64 = 60_000;
const MAX_ATTEMPTS: i64 = 12;

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(PathBuf),
}

impl Transport {
    /// From configuration: an `smtp://` or `smtps://` URL, or else the mail directory.
    pub fn from_config(smtp_url: Option<&str>, mail_dir: &str) -> anyhow::Result<Transport> {
        match smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("--smtp-url: {e}"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            )),
            None => Ok(Transport::Directory(PathBuf::from(mail_dir))),
        }
    }
}

/// Waits before the next try: 30 s, 1 min, 2 min, ... up to an hour.
pub fn backoff_ms(attempts: i64) -> Millis {
    (30_000i64 << attempts.clamp(0, 7)).min(3_600_000)
}

/// Claims and sends one batch. Returns how many were sent.
#[tracing::instrument(skip_all)]
pub async fn drain_once(state: &AppState, transport: &Transport) -> anyhow::Result<usize> {
    let now = state.clock.now_ms();
    let claimed = store::claim_due(&state.db, now + LEASE_MS, now).await?;
    let mut sent = 0;
    for mail in claimed {
        let result = send(state, transport, &mail).await;
        let now = state.clock.now_ms();
        match result {
            Ok(()) => {
                store::mark_sent(&state.db, &mail.id, now).await?;
                metrics::counter!("nextkt_emails_sent_total").increment(1);
                sent += 1;
            }
            Err(err) => {
                let give_up = mail.attempts >= MAX_ATTEMPTS;
                tracing::warn!(email = %mail.id, attempts = mail.attempts, error = %err, give_up, "email not sent");
                store::mark_not_sent(
                    &state.db,
                    &mail.id,
                    give_up,
                    now + backoff_ms(mail.attempts),
                )
                .await?;
                metrics::counter!("nextkt_emails_failed_total").increment(1);
            }
        }
    }
    Ok(sent)
}

/// A ticket's QR code to go with an email: its Content-ID and its PNG.
struct InlineQr {
    content_id: String,
    png: Vec<u8>,
}

/// Gives every ticket in the payload (`tickets[].qr_payload`, or a top-level `qr_payload`)
/// a `qr_cid` for its QR image, and returns the images to attach.
fn qr_images(payload: &mut Value, mail_id: &str) -> Vec<InlineQr> {
    let mut images = Vec::new();
    let mut add = |ticket: &mut Value| {
        let Some(png) = ticket
            .get("qr_payload")
            .and_then(Value::as_str)
            .and_then(crate::tickets::qr::png)
        else {
            return;
        };
        let content_id = format!("qr{}.{mail_id}@nextkt", images.len() + 1);
        ticket["qr_cid"] = Value::String(content_id.clone());
        images.push(InlineQr { content_id, png });
    };
    match payload.get_mut("tickets").and_then(Value::as_array_mut) {
        Some(tickets) => tickets.iter_mut().for_each(&mut add),
        None => add(payload),
    }
    images
}

async fn send(state: &AppState, transport: &Transport, mail: &Queued) -> anyhow::Result<()> {
    // Drawing QR codes and rendering templates is CPU work: done on the blocking pool, so
    // the worker never holds up the threads that answer requests.
    let (payload_json, mail_id) = (mail.payload_json.clone(), mail.id.clone());
    let (template, locale) = (mail.template.clone(), mail.locale.clone());
    let (images, rendered) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut payload: Value = serde_json::from_str(&payload_json)?;
        let images = qr_images(&mut payload, &mail_id);
        let rendered = templates::render(&template, &locale, &payload)?;
        Ok((images, rendered))
    })
    .await??;
    let from: Mailbox = state
        .config
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("--mail-from: {e}"))?;
    let to: Mailbox = mail
        .to_address
        .parse()
        .map_err(|e| anyhow::anyhow!("recipient {}: {e}", mail.to_address))?;
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(rendered.subject)
        .message_id(Some(format!("<{}@nextkt>", mail.id)));
    let png = ContentType::parse("image/png")?;
    let image = |(n, qr): (usize, InlineQr)| {
        Attachment::new_inline_with_name(qr.content_id, format!("ticket-{}.png", n + 1))
            .body(qr.png, png.clone())
    };
    // With images, the HTML and its images go together (multipart/related); a text-only
    // email carries them as plain attachments.
    let message = match (rendered.html, images.is_empty()) {
        (Some(html), true) => {
            builder.multipart(MultiPart::alternative_plain_html(rendered.text, html))?
        }
        (Some(html), false) => builder.multipart(
            images.into_iter().enumerate().map(image).fold(
                MultiPart::related()
                    .multipart(MultiPart::alternative_plain_html(rendered.text, html)),
                MultiPart::singlepart,
            ),
        )?,
        (None, true) => builder.body(rendered.text)?,
        (None, false) => builder.multipart(images.into_iter().enumerate().map(image).fold(
            MultiPart::mixed().singlepart(SinglePart::plain(rendered.text)),
            MultiPart::singlepart,
        ))?,
    };
    match transport {
        Transport::Smtp(smtp) => {
            smtp.send(message).await?;
        }
        Transport::Directory(dir) => {
            tokio::fs::create_dir_all(dir).await?;
            tokio::fs::write(dir.join(format!("{}.eml", mail.id)), message.formatted()).await?;
        }
    }
    Ok(())
}

/// Runs the worker until the task is dropped.
pub async fn run(state: AppState, transport: Transport) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match drain_once(&state, &transport).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "email worker");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(super::backoff_ms(1), 60_000);
        assert_eq!(super::backoff_ms(2), 120_000);
        assert_eq!(super::backoff_ms(12), 3_600_000);
    }
}
