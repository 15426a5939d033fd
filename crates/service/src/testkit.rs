//! What every service's integration tests share: a fresh database on each engine (a new
//! SQLite file, or a new PostgreSQL database under the server named by an environment
//! variable, dropped afterwards), a macro that runs a test on both, and problem+json
//! assertions on answers.

use serde_json::Value;
use sqlx::Connection;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named test body once on SQLite and once on PostgreSQL, as `name::sqlite` and
/// `name::postgres`; `spawn` turns a `Backend` into the test's argument (a running server).
///
/// ```ignore
/// service::on_both_databases_with!(crate::helpers::spawn_app; creates_a_company, ...);
/// ```
#[macro_export]
macro_rules! on_both_databases_with {
    ($spawn:path; $($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test($spawn($crate::testkit::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test($spawn($crate::testkit::Backend::Postgres).await).await
            }
        }
    )*};
}

/// A database that exists for one test.
pub enum TestDatabase {
    // Held so the directory lives as long as the test.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop is synchronous; use a private runtime on a plain thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .ok()
                })
            })
            .join();
        }
    }
}

/// The PostgreSQL server tests use, from `env_var`. Fails loudly (never skips) when it is
/// not configured.
pub fn postgres_admin_url(env_var: &str) -> String {
    std::env::var(env_var).unwrap_or_else(|_| {
        panic!(
            "{env_var} must name a PostgreSQL database the tests can create databases from \
             (scripts/test sets it; see the README)"
        )
    })
}

/// A new, empty database: `(url, guard)`; the database goes when the guard is dropped.
/// `prefix` names the service (`nextkt` → `nextkt.db`, `nextkt_test_<uuid>`); `env_var`
/// names the PostgreSQL server to create it on.
pub async fn fresh_database(
    backend: Backend,
    prefix: &str,
    env_var: &str,
) -> (String, TestDatabase) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("{prefix}.db")).display()
            );
            (url, TestDatabase::Sqlite(dir))
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url(env_var);
            let name = format!("{prefix}_test_{}", uuid::Uuid::now_v7().simple());
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {env_var} is unreachable: {e}"));
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin_url
                .rsplit_once('/')
                .map(|(base, _)| base)
                .unwrap_or(&admin_url);
            let url = format!("{base}/{name}");
            (url, TestDatabase::Postgres { admin_url, name })
        }
    }
}

/// An HTTP answer as tests see it: status, headers, and the body as JSON (or as a JSON
/// string when it is not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub async fn from(response: reqwest::Response) -> Resp {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    /// The problem's `code`, or "" when there is none.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        self.body
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn expect_problem(self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "problems are problem+json"
        );
        assert_eq!(self.code(), code, "unexpected problem: {:#}", self.body);
        self.body
    }
}

/// What a [`Relay`] does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayMode {
    /// Passes everything both ways.
    Up,
    /// Refuses new connections and cuts open ones (the service is down).
    Down,
    /// Passes requests but never an answer: the connection closes once the service has
    /// answered (a lost answer, after the service acted).
    SwallowAnswers,
}

/// A TCP relay in front of a service, to cut it off or lose its answers on demand.
pub struct Relay {
    pub base: String,
    mode: tokio::sync::watch::Sender<RelayMode>,
}

impl Relay {
    pub async fn start(target: &str) -> Relay {
        let target = target.trim_start_matches("http://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("relay binds");
        let base = format!("http://{}", listener.local_addr().expect("relay address"));
        let (mode, watch) = tokio::sync::watch::channel(RelayMode::Up);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let now = *watch.borrow();
                if now == RelayMode::Down {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    // A connection lives in the mode it was opened in; any change cuts it.
                    let cut = watch.wait_for(|m| *m != now);
                    match now {
                        RelayMode::SwallowAnswers => {
                            tokio::select! {
                                _ = swallow(inbound, outbound) => {}
                                _ = cut => {}
                            }
                        }
                        _ => {
                            let (mut inbound, mut outbound) = (inbound, outbound);
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = cut => {}
                            }
                        }
                    }
                });
            }
        });
        Relay { base, mode }
    }

    pub fn set(&self, mode: RelayMode) {
        let _ = self.mode.send(mode);
    }

    pub fn set_up(&self, up: bool) {
        self.set(if up { RelayMode::Up } else { RelayMode::Down });
    }
}

/// Forwards the request and reads the answer into nothing; closes both once the service
/// has answered (and had a moment to finish).
async fn swallow(inbound: tokio::net::TcpStream, outbound: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let (mut in_read, _in_write) = inbound.into_split();
    let (mut out_read, mut out_write) = outbound.into_split();
    let forward = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut in_read, &mut out_write).await;
    });
    let mut buf = [0u8; 4096];
    if matches!(out_read.read(&mut buf).await, Ok(n) if n > 0) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    forward.abort();
}
