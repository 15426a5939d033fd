//! The `nextkt` binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::helpers::{Auth, TestApp};
use crate::on_both_databases;

on_both_databases!(partner_create_prints_the_key_last);

fn nextkt() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nextkt"));
    for (name, _) in std::env::vars() {
        if name.starts_with("NEXTKT_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

async fn partner_create_prints_the_key_last(app: TestApp) {
    let url = app.state.config.database.database_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        nextkt()
            .args(["partner", "create", "Kisum", "--database-url", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.trim_end().lines().last().unwrap();
    assert!(key.starts_with("nkt_partner_"), "{stdout}");
    assert!(!key.contains(' '));
    app.post(
        "/partner/organizations",
        &Auth::bearer(key),
        json!({ "name": "Via CLI", "external_ref": "cli-1" }),
    )
    .await
    .expect(201);
}

/// `nextkt serve` started in `dir` with no settings but a free port; killed when dropped.
struct Served {
    child: std::process::Child,
    address: String,
}

impl Served {
    fn start_in(dir: &std::path::Path) -> Served {
        // The default port may be in use on a developer's machine; everything else is default.
        let mut child = nextkt()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("nextkt listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Served { child, address }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_starts_with_zero_configuration_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start_in(dir.path());
    let health = std::process::Command::new("curl")
        .args(["-sf", &format!("{}/healthz", served.address)])
        .output()
        .unwrap();
    assert!(health.status.success());
    assert!(String::from_utf8_lossy(&health.stdout).contains("ok"));
    assert!(
        dir.path().join("nextkt.db").exists(),
        "the embedded database is created in place"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = served.child.wait().unwrap();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

/// `partner create` and `serve` run in one folder with no settings use the same database, so
/// the key printed by the one is taken by the other.
#[test]
fn partner_create_and_serve_share_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let output = nextkt()
        .args(["partner", "create", "Kisum"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.trim_end().lines().last().unwrap().to_string();
    assert!(key.starts_with("nkt_partner_"), "{stdout}");
    assert!(dir.path().join("nextkt.db").exists());

    let served = Served::start_in(dir.path());
    let status = |key: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
            .args(["-H", &format!("authorization: Bearer {key}")])
            .args(["-H", "content-type: application/json"])
            .args(["-d", r#"{"name": "Via CLI", "external_ref": "cli-1"}"#])
            .arg(format!("{}/partner/organizations", served.address))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(status(&key), "201");
    assert_eq!(status("nkt_partner_not-a-real-key"), "401");
}

#[test]
fn migrate_applies_and_bad_urls_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let out = nextkt()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Twice is fine.
    let out = nextkt()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success());

    let out = nextkt()
        .args(["migrate", "--database-url", "mysql://root@localhost/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
    let out = nextkt()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "nextkt.db",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        !dir.path().join("nextkt.db").exists(),
        "a bad URL creates no file"
    );
}
