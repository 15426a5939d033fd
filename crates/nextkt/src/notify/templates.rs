//! Email templates, English and Indonesian, embedded in the binary. A text template starts
//! with a `Subject:` line; a template may also have an HTML version.

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
        "guest_ticket.en.txt",
        include_str!("../../templates/email/guest_ticket.en.txt"),
    ),
    (
        "guest_ticket.id.txt",
        include_str!("../../templates/email/guest_ticket.id.txt"),
    ),
];

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
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
            "tickets": [{ "holder": "Budi", "url": "http://x/t/abc", "qr_svg": "<svg></svg>" }],
        });
        for template in [
            "order_confirmation",
            "late_payment_refund",
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
        assert!(id.subject.starts_with("Tiket Anda"));
        assert!(id.text.contains("http://x/t/abc"));
        let receipt = render(
            "order_confirmation",
            "en",
            &json!({ "order_id": "o", "name": "B", "subtotal": 1000, "discount": 100, "points_value": 0, "tax": 90,
                     "fee": 25, "total": 1015, "currency": "IDR", "tickets": [] }),
        )
        .unwrap();
        assert!(
            receipt.text.contains("Platform fee     25 IDR"),
            "{}",
            receipt.text
        );
        assert!(receipt.text.contains("Discount        -100 IDR"));
        assert!(!receipt.text.contains("Points"), "zero lines are left out");
        assert!(id.html.unwrap().contains("<svg>"));
        let moved = render(
            "ticket_transferred",
            "en",
            &json!({ "name": "Sari", "from": "Budi", "event": "Java Jazz", "url": "http://x/t/new" }),
        )
        .unwrap();
        assert_eq!(moved.subject, "A ticket for you: Java Jazz");
        assert!(moved.text.contains("Budi has passed") && moved.text.contains("http://x/t/new"));
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
