//! Email templates, English and Indonesian, embedded in the binary. A text template starts
//! with a `Subject:` line; a template may also have an HTML version.
//!
//! Two filters format for people: `{{ total | money(currency, "id") }}` (`Rp 2.568.500`) and
//! `{{ event_starts_at | local_time(event_timezone, "id") }}` (`Jumat, 1 Maret 2030, 19.00
//! WIB`). A ticket's QR code is an image attachment the worker adds: the HTML shows it with
//! `<img src="cid:{{ t.qr_cid }}">`.

use minijinja::Environment;
use serde_json::Value;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "order_confirmation.en.txt",
        include_str!("../../templates/email/order_confirmation.en.txt"),
    ),
    (
        "order_confirmation.id.txt",
        include_str!("../../templates/email/order_confirmation.id.txt"),
    ),
    (
        "order_confirmation.en.html",
        include_str!("../../templates/email/order_confirmation.en.html"),
    ),
    (
        "order_confirmation.id.html",
        include_str!("../../templates/email/order_confirmation.id.html"),
    ),
    (
        "late_payment_refund.en.txt",
        include_str!("../../templates/email/late_payment_refund.en.txt"),
    ),
    (
        "late_payment_refund.id.txt",
        include_str!("../../templates/email/late_payment_refund.id.txt"),
    ),
    (
        "refund.en.txt",
        include_str!("../../templates/email/refund.en.txt"),
    ),
    (
        "refund.id.txt",
        include_str!("../../templates/email/refund.id.txt"),
    ),
    (
        "buyer_password_reset.en.txt",
        include_str!("../../templates/email/buyer_password_reset.en.txt"),
    ),
    (
        "buyer_password_reset.id.txt",
        include_str!("../../templates/email/buyer_password_reset.id.txt"),
    ),
    (
        "buyer_verify_email.en.txt",
        include_str!("../../templates/email/buyer_verify_email.en.txt"),
    ),
    (
        "buyer_verify_email.id.txt",
        include_str!("../../templates/email/buyer_verify_email.id.txt"),
    ),
    (
        "operator_invite.en.txt",
        include_str!("../../templates/email/operator_invite.en.txt"),
    ),
    (
        "operator_invite.id.txt",
        include_str!("../../templates/email/operator_invite.id.txt"),
    ),
    (
        "ticket_transferred.en.txt",
        include_str!("../../templates/email/ticket_transferred.en.txt"),
    ),
    (
        "ticket_transferred.id.txt",
        include_str!("../../templates/email/ticket_transferred.id.txt"),
    ),
    (
        "ticket_transferred.en.html",
        include_str!("../../templates/email/ticket_transferred.en.html"),
    ),
    (
        "ticket_transferred.id.html",
        include_str!("../../templates/email/ticket_transferred.id.html"),
    ),
    (
        "guest_ticket.en.txt",
        include_str!("../../templates/email/guest_ticket.en.txt"),
    ),
    (
        "guest_ticket.id.txt",
        include_str!("../../templates/email/guest_ticket.id.txt"),
    ),
    (
        "guest_ticket.en.html",
        include_str!("../../templates/email/guest_ticket.en.html"),
    ),
    (
        "guest_ticket.id.html",
        include_str!("../../templates/email/guest_ticket.id.html"),
    ),
];

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// `amount` minor units of `currency` for a reader of `locale`; nothing for no amount.
fn money_filter(amount: Option<i64>, currency: Option<String>, locale: Option<String>) -> String {
    match amount {
        Some(amount) => crate::platform::money::format(
            amount,
            currency.as_deref().unwrap_or_default(),
            locale.as_deref().unwrap_or("en"),
        ),
        None => String::new(),
    }
}

/// An RFC 3339 instant in `zone`, for a reader of `locale`; nothing for no instant.
fn local_time_filter(at: Option<String>, zone: Option<String>, locale: Option<String>) -> String {
    match at
        .as_deref()
        .and_then(crate::platform::clock::parse_rfc3339)
    {
        Some(at) => crate::platform::local_time::format(
            at,
            zone.as_deref().unwrap_or("UTC"),
            locale.as_deref().unwrap_or("en"),
        ),
        None => String::new(),
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_filter("money", money_filter);
    env.add_filter("local_time", local_time_filter);
    for (name, source) in TEMPLATES {
        // Embedded templates are checked by the tests; a broken one fails there.
        let _ = env.add_template(name, source);
    }
    env
}

/// Renders `template` in `locale` (English when that language has no version).
pub fn render(template: &str, locale: &str, payload: &Value) -> anyhow::Result<Rendered> {
    let env = environment();
    let locale = if env
        .get_template(&format!("{template}.{locale}.txt"))
        .is_ok()
    {
        locale
    } else {
        "en"
    };
    let text = env
        .get_template(&format!("{template}.{locale}.txt"))
        .map_err(|e| anyhow::anyhow!("no email template {template}: {e}"))?
        .render(minijinja::value::Serde(payload))
        .map_err(|e| anyhow::anyhow!("rendering {template}: {e}"))?;
    let (subject, body) = text
        .split_once('\n')
        .and_then(|(first, rest)| {
            first
                .strip_prefix("Subject: ")
                .map(|s| (s.trim().to_string(), rest.trim_start().to_string()))
        })
        .ok_or_else(|| anyhow::anyhow!("template {template} has no Subject line"))?;
    let html = match env.get_template(&format!("{template}.{locale}.html")) {
        Ok(t) => Some(
            t.render(minijinja::value::Serde(payload))
                .map_err(|e| anyhow::anyhow!("rendering {template} html: {e}"))?,
        ),
        Err(_) => None,
    };
    Ok(Rendered {
        subject,
        text: body,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_template_renders_in_both_languages() {
        let payload = json!({
            "order_id": "o1", "name": "Budi", "total": 1000, "currency": "IDR", "token": "tok",
            "organization_name": "Java Jazz", "amount": 500, "reason": "cancelled show",
            "tickets": [{ "holder": "Budi", "url": "http://x/t/abc", "qr_cid": "qr1.m@nextkt" }],
            "event": "Java Jazz", "event_starts_at": "2030-03-01T12:00:00Z",
            "event_timezone": "Asia/Jakarta", "venue": "JIExpo", "venue_city": "Jakarta",
        });
        for template in [
            "order_confirmation",
            "late_payment_refund",
            "refund",
            "buyer_password_reset",
            "buyer_verify_email",
            "operator_invite",
            "ticket_transferred",
            "guest_ticket",
        ] {
            for locale in ["en", "id"] {
                let r = render(template, locale, &payload).unwrap();
                assert!(
                    !r.subject.is_empty() && !r.text.is_empty(),
                    "{template}.{locale}"
                );
            }
        }
        let id = render("order_confirmation", "id", &payload).unwrap();
        assert_eq!(id.subject, "Tiket Anda untuk Java Jazz");
        assert!(id.text.contains("http://x/t/abc"));
        assert!(
            id.text
                .contains("Java Jazz\nJumat, 1 Maret 2030, 19.00 WIB\nJIExpo, Jakarta\n"),
            "{}",
            id.text
        );
        assert!(id.text.contains("Total dibayar    Rp 1.000"), "{}", id.text);
        let receipt = render(
            "order_confirmation",
            "en",
            &json!({ "order_id": "o", "name": "B", "subtotal": 1000, "discount": 100, "points_value": 0, "tax": 90,
                     "fee": 25, "total": 1015, "currency": "IDR", "tickets": [] }),
        )
        .unwrap();
        assert!(
            receipt.text.contains("Platform fee     Rp 25"),
            "{}",
            receipt.text
        );
        assert!(receipt.text.contains("Discount        -Rp 100"));
        assert!(receipt.text.contains("Total paid       Rp 1,015"));
        assert!(!receipt.text.contains("Points"), "zero lines are left out");
        assert_eq!(
            receipt.subject, "Your tickets for order o",
            "no event named"
        );
        let html = id.html.unwrap();
        assert!(html.contains("src=\"cid:qr1.m@nextkt\""), "{html}");
        assert!(html.contains("Jumat, 1 Maret 2030, 19.00 WIB") && html.contains("Rp 1.000"));
        let refund = render(
            "refund",
            "en",
            &json!({ "order_id": "o", "name": "B", "amount": 1500, "currency": "USD", "tickets": 1 }),
        )
        .unwrap();
        assert!(
            refund.text.contains("refunded $15.00 for"),
            "{}",
            refund.text
        );
        let moved = render(
            "ticket_transferred",
            "en",
            &json!({ "name": "Sari", "from": "Budi", "event": "Java Jazz", "url": "http://x/t/new",
                     "event_starts_at": "2030-03-01T12:00:00Z", "event_timezone": "Asia/Makassar",
                     "venue": "Trans Studio", "venue_city": null, "qr_cid": "qr1.m@nextkt" }),
        )
        .unwrap();
        assert_eq!(moved.subject, "A ticket for you: Java Jazz");
        assert!(moved.text.contains("Budi has passed") && moved.text.contains("http://x/t/new"));
        assert!(
            moved
                .text
                .contains("Fri, 1 Mar 2030, 20:00 WITA\nTrans Studio\n"),
            "{}",
            moved.text
        );
        assert!(moved.html.unwrap().contains("src=\"cid:qr1.m@nextkt\""));
        let guest = render(
            "guest_ticket",
            "id",
            &json!({ "name": "Raisa", "event": "Java Jazz", "tickets": [{ "url": "http://x/t/1" }, { "url": "http://x/t/2" }] }),
        )
        .unwrap();
        assert!(guest.text.contains("http://x/t/1") && guest.text.contains("http://x/t/2"));
        let fallback = render("operator_invite", "fr", &payload).unwrap();
        assert!(fallback.subject.starts_with("You are invited"));
    }
}
