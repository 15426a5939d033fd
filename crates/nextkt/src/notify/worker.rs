//! The email worker: the shared outbox's delivery loop (leases, retries with backoff,
//! SMTP or `.eml` files), with Nextkt's part: each queued email rendered from its template
//! in the reader's language, with the tickets' QR codes attached as PNG images.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use serde_json::Value;
use service::outbox::{Queued, Worker};

pub use service::outbox::{Transport, backoff_ms};

use super::templates;
use crate::state::AppState;

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

/// Makes a queued email into the message to send.
async fn compose(mail_from: &str, mail: Queued) -> anyhow::Result<Message> {
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
    let from: Mailbox = mail_from
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
    Ok(message)
}

/// Runs the worker until the task is dropped.
pub async fn run(state: AppState, transport: Transport) {
    let worker = Worker {
        db: state.db.clone(),
        clock: state.clock.clone(),
        transport,
    };
    let mail_from = state.config.mail_from.clone();
    worker
        .run(move |mail| {
            let mail_from = mail_from.clone();
            async move { compose(&mail_from, mail).await }
        })
        .await
}
