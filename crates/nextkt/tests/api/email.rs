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
    the_order_email_names_the_event_and_carries_each_qr_as_a_png,
    a_transferred_ticket_arrives_with_its_new_qr_as_a_png,
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
    // The server stores the message before the sender hears its final answer and marks the
    // row, so the row turns `sent` a moment after the file appears.
    let mut status = String::new();
    for _ in 0..50 {
        status =
            sqlx::query_scalar("SELECT status FROM outbox WHERE template = 'buyer_password_reset'")
                .fetch_one(&app.state.db.pool)
                .await
                .unwrap();
        if status != "sending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// A MIME part of a written email: its headers (names lower-cased) and decoded body.
#[derive(Debug)]
struct Part {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// The leaf parts of a MIME message (enough MIME for what lettre writes).
fn mime_parts(raw: &str) -> Vec<Part> {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_lowercase(), value.trim().to_string()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let content_type = get("content-type");
    if content_type.starts_with("multipart/") {
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let delimiter = format!("--{boundary}");
        return body
            .split(delimiter.as_str())
            .skip(1)
            .take_while(|chunk| !chunk.starts_with("--"))
            .flat_map(|chunk| mime_parts(chunk.trim_start_matches("\r\n")))
            .collect();
    }
    let body = match get("content-transfer-encoding").to_lowercase().as_str() {
        "base64" => {
            use base64::Engine;
            let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap()
        }
        "quoted-printable" => {
            let text = body.replace("=\r\n", "");
            let bytes = text.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'=' && i + 2 < bytes.len() {
                    out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            out
        }
        _ => body.as_bytes().to_vec(),
    };
    vec![Part { headers, body }]
}

/// Waits for the .eml file to `to` in `dir`.
async fn email_to(dir: &std::path::Path, to: &str) -> String {
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if text.contains(&format!("To: {to}")) {
                    return text;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no email to {to} arrived in {}", dir.display());
}

/// Checks that a PNG shows exactly the QR code of `payload`: square modules of whole
/// pixels, a quiet zone of four modules, each module's centre dark where the code's is.
fn assert_png_is_qr_of(png_bytes: &[u8], payload: &str) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("a valid PNG");
    assert_eq!(info.width, info.height, "square");
    let code = qrcode::QrCode::new(payload.as_bytes()).unwrap();
    let modules = code.width() as u32;
    let side = modules + 8;
    assert_eq!(info.width % side, 0, "whole pixels per module");
    let scale = info.width / side;
    assert!(scale >= 4, "at least 4 px per module: {scale}");
    // Expand whatever grayscale depth was written to one luma byte per pixel.
    let pixel = |x: u32, y: u32| -> bool {
        let row = &buf[(y as usize) * info.line_size..];
        match (info.color_type, info.bit_depth) {
            (png::ColorType::Grayscale, png::BitDepth::One) => {
                row[(x / 8) as usize] & (0x80 >> (x % 8)) == 0
            }
            (png::ColorType::Grayscale, png::BitDepth::Eight) => row[x as usize] < 128,
            other => panic!("unexpected PNG format {other:?}"),
        }
    };
    let colors = code.to_colors();
    for my in 0..side {
        for mx in 0..side {
            let dark = pixel(mx * scale + scale / 2, my * scale + scale / 2);
            let inside = (4..modules + 4).contains(&mx) && (4..modules + 4).contains(&my);
            let expected =
                inside && colors[((my - 4) * modules + (mx - 4)) as usize] == qrcode::Color::Dark;
            assert_eq!(dark, expected, "module ({mx}, {my})");
        }
    }
}

/// The inline QR images of an email, checked against the HTML that shows them: each
/// `cid:` the HTML names is an image/png part with that Content-ID.
fn inline_pngs(parts: &[Part], html: &str) -> Vec<Vec<u8>> {
    let images: Vec<&Part> = parts
        .iter()
        .filter(|p| p.header("content-type") == Some("image/png"))
        .collect();
    assert!(!images.is_empty(), "a PNG attachment: {parts:?}");
    images
        .iter()
        .map(|image| {
            let id = image.header("content-id").expect("a Content-ID");
            let cid = id.trim_start_matches('<').trim_end_matches('>');
            assert!(
                html.contains(&format!("src=\"cid:{cid}\"")),
                "the HTML shows {cid}: {html}"
            );
            assert!(
                image
                    .header("content-disposition")
                    .is_some_and(|d| d.starts_with("inline")),
                "inline"
            );
            image.body.clone()
        })
        .collect()
}

/// HTML with the entities the templates write turned back into characters.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&amp;", "&")
}

fn part<'a>(parts: &'a [Part], content_type: &str) -> &'a Part {
    parts
        .iter()
        .find(|p| {
            p.header("content-type")
                .is_some_and(|t| t.starts_with(content_type))
        })
        .unwrap_or_else(|| panic!("no {content_type} part: {parts:?}"))
}

async fn the_order_email_names_the_event_and_carries_each_qr_as_a_png(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    // 19:00 in Jakarta, at JIExpo (the helper's defaults); Rp 2,500,000 a ticket plus the
    // platform fee (Rp 2,000 + 2.5 %).
    let ev = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 2_500_000 }))
        .await;
    for (email, locale, quantity) in [("siti@example.com", "id", 2), ("budi@example.com", "en", 1)]
    {
        let added = app
            .add_to_cart(
                &owner.org_id,
                None,
                json!({ "event_id": ev.event_id, "ticket_type_id": ev.ticket_type_id, "quantity": quantity }),
            )
            .await
            .expect(201);
        let cart = TestApp::cart_auth(&owner.org_id, added["cart_token"].as_str().unwrap());
        let order = app
            .post(
                "/consumer/checkout",
                &cart,
                json!({ "email": email, "name": "Siti", "locale": locale }),
            )
            .await
            .expect(201);
        assert_eq!(
            order["order"]["total"].as_i64(),
            Some(2_564_500 * quantity),
            "{order}"
        );
        assert_eq!(
            app.pay_by_webhook(&order["order"]["payments"][0]).await,
            "paid"
        );
    }

    let raw = email_to(app.mail_dir.path(), "siti@example.com").await;
    let parts = mime_parts(&raw);
    let text = part(&parts, "text/plain").text();
    let html = part(&parts, "text/html").text();
    for body in [&text, &html] {
        assert!(body.contains("Java Jazz"), "the event: {body}");
        assert!(
            body.contains("Jumat, 1 Maret 2030, 19.00 WIB"),
            "its local time, in Indonesian: {body}"
        );
        assert!(body.contains("JIExpo, Jakarta"), "its venue: {body}");
        assert!(body.contains("Rp 5.129.000"), "the total as money: {body}");
        assert!(!body.contains("12:00:00Z"), "{body}");
    }
    let queued = app
        .last_email("order_confirmation", "siti@example.com")
        .await;
    let tickets = queued["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    let pngs = inline_pngs(&parts, &html);
    assert_eq!(pngs.len(), 2, "one QR per ticket");
    for (ticket, png) in tickets.iter().zip(&pngs) {
        let url = ticket["url"].as_str().unwrap();
        assert!(
            unescape(&html).contains(&format!("href=\"{url}\"")),
            "links the page: {html}"
        );
        assert_png_is_qr_of(png, ticket["qr_payload"].as_str().unwrap());
    }
    assert!(!html.contains("<svg"), "no inline SVG: {html}");

    let raw = email_to(app.mail_dir.path(), "budi@example.com").await;
    let parts = mime_parts(&raw);
    let text = part(&parts, "text/plain").text();
    assert!(
        text.contains("Fri, 1 Mar 2030, 19:00 WIB"),
        "in English: {text}"
    );
    assert!(text.contains("Rp 2,564,500"), "{text}");
    let html = part(&parts, "text/html").text();
    assert_eq!(inline_pngs(&parts, &html).len(), 1);
}

async fn a_transferred_ticket_arrives_with_its_new_qr_as_a_png(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(&owner, 5, json!({}), json!({ "price": 0 }))
        .await;
    let order = app
        .checkout_anonymously(&owner.org_id, &ev, 1, "budi@example.com", "Budi")
        .await;
    let ticket_id = order["order"]["tickets"][0]["id"].as_str().unwrap();
    app.post(
        &format!("/admin/tickets/{ticket_id}/transfer"),
        &Auth::bearer(&owner.token),
        json!({ "name": "Sari", "email": "sari@example.com" }),
    )
    .await
    .expect(200);
    let queued = app
        .last_email("ticket_transferred", "sari@example.com")
        .await;
    let raw = email_to(app.mail_dir.path(), "sari@example.com").await;
    let parts = mime_parts(&raw);
    let html = part(&parts, "text/html").text();
    let text = part(&parts, "text/plain").text();
    for body in [&text, &html] {
        assert!(
            body.contains("Fri, 1 Mar 2030, 19:00 WIB") && body.contains("JIExpo, Jakarta"),
            "{body}"
        );
    }
    assert!(unescape(&html).contains(&format!("href=\"{}\"", queued["url"].as_str().unwrap())));
    let pngs = inline_pngs(&parts, &html);
    assert_eq!(pngs.len(), 1);
    assert_png_is_qr_of(&pngs[0], queued["qr_payload"].as_str().unwrap());
}
