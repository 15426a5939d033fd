//! The public ticket page in a real browser: headless Chromium (installed by scripts/test).

use std::process::Command;

use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(the_ticket_page_renders_in_chromium);

fn chromium(args: &[&str], profile: &std::path::Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium must be installed (apt-get install chromium; scripts/test installs it)")
}

async fn the_ticket_page_renders_in_chromium(app: TestApp) {
    let owner = app.signup("owner@example.com").await;
    let ev = app
        .ga_event(
            &owner,
            5,
            json!({ "title": { "en": "Java Jazz" } }),
            json!({ "price": 0 }),
        )
        .await;
    let order = app
        .checkout_anonymously(&owner.org_id, &ev, 1, "siti@example.com", "Siti Nurhaliza")
        .await;
    let url = order["order"]["tickets"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let _ = Auth::None;

    let profile = tempfile::tempdir().unwrap();
    let shots = std::env::temp_dir().join("nextkt-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!(
        "ticket-{:?}-{}.png",
        app.backend,
        std::process::id()
    ));
    let (dom, screenshot) = tokio::task::spawn_blocking({
        let (url, shot, profile) = (url.clone(), shot.clone(), profile.path().to_path_buf());
        move || {
            let dom = chromium(&["--dump-dom", &url], &profile);
            let screenshot = chromium(
                &[
                    "--window-size=412,915",
                    &format!("--screenshot={}", shot.display()),
                    &url,
                ],
                &profile,
            );
            (dom, screenshot)
        }
    })
    .await
    .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("id=\"holder\">Siti Nurhaliza<"),
        "the holder's name renders: {dom}"
    );
    assert!(dom.contains("id=\"event\">Java Jazz<"));
    assert!(
        dom.contains("<svg") && dom.contains("id=\"qr\""),
        "the QR code renders inline"
    );
    assert!(
        screenshot.status.success(),
        "{}",
        String::from_utf8_lossy(&screenshot.stderr)
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 5_000, "a real screenshot ({size} bytes)");
    println!("ticket page screenshot: {}", shot.display());
}
