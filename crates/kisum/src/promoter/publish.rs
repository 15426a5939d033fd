//! Publishing a promoter event into the company's Nextkt organization (Mode A), through
//! Nextkt's `/admin/*` routes with the organization's key.
//!
//! A run claims the event (a lease, so two runs never interleave), then: creates the Nextkt
//! event if it has none (the create body is remembered before it is sent, and repeated under
//! the same `Idempotency-Key` until its answer is seen, so a lost answer never makes a
//! second event); brings the event up to date (PATCH); creates or changes each tier's ticket
//! type the same way; publishes the Nextkt event if it is a draft. Each Nextkt id is written
//! down the moment it is known. The run ends `published` (with the revision Nextkt now
//! shows) or `failed` with the reason; a failure that retrying may cure (Nextkt down) is
//! retried by a job with a growing delay, one that it cannot (Nextkt refused) waits for the
//! promoter. Nothing is half-applied silently: what Nextkt holds is always named by the
//! stored ids, and `ticketing` says whether it is the latest revision.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::events::{self, EventRow, PromoterEvent, TierRow};
use crate::auth::access::Member;
use crate::ids::CompanyId;
use crate::platform::clock::rfc3339;
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::json::ApiJson;
use crate::state::AppState;
use crate::ticketing::link;
use crate::ticketing::nextkt::{As, Nextkt, NextktError};

/// How long a run may hold an event before another may take over (a crashed run).
const LEASE_MS: i64 = 120_000;
/// Retries after Nextkt did not answer: 30 s, 1 min, 2 min, … up to an hour.
const FIRST_RETRY_MS: i64 = 30_000;
const LAST_RETRY_MS: i64 = 3_600_000;

enum Claim {
    /// Nextkt already shows this revision: nothing to do.
    UpToDate,
    Run(Box<EventRow>, Vec<TierRow>),
}

/// Takes the event for one run.
async fn claim(state: &AppState, company: &CompanyId, id: &str) -> ApiResult<Claim> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut row = events::find(&mut tx, id, company, state.db.for_update()).await?;
    if row.publishing(now) {
        return Err(events::publish_in_progress());
    }
    if row.publish_status == "published" && row.published_revision == Some(row.revision) {
        return Ok(Claim::UpToDate);
    }
    let mut tiers = events::tiers_of(&mut tx, id).await?;
    if tiers.is_empty() {
        return Err(ApiError::rule(
            "no_tiers",
            "add at least one tier before publishing",
        ));
    }
    // Remember what a create will send before sending it: a retry repeats it exactly.
    if row.nextkt_event_id.is_none() && row.nextkt_create_request.is_none() {
        let body = event_body(&mut tx, &row, true).await?.to_string();
        row.nextkt_create_request = Some(body);
    }
    for tier in tiers
        .iter_mut()
        .filter(|t| t.nextkt_ticket_type_id.is_none() && t.nextkt_create_request.is_none())
    {
        let body = tier_body(tier, Some(&row.currency)).to_string();
        sqlx::query("UPDATE promoter_event_tiers SET nextkt_create_request = $2 WHERE id = $1")
            .bind(&tier.id)
            .bind(&body)
            .execute(&mut *tx)
            .await?;
        tier.nextkt_create_request = Some(body);
    }
    sqlx::query(
        "UPDATE promoter_events SET publish_status = 'publishing', publish_lease_until = $2, \
         publish_attempts = publish_attempts + 1, nextkt_create_request = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(now + LEASE_MS)
    .bind(&row.nextkt_create_request)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    row.publish_attempts += 1;
    Ok(Claim::Run(Box::new(row), tiers))
}

/// The Nextkt event's fields; `create` adds what only a create sends.
async fn event_body(conn: &mut AnyConnection, row: &EventRow, create: bool) -> ApiResult<Value> {
    // The venue's own fields go along for a Nextkt without Kisum; a Nextkt connected to
    // this Kisum takes them from the directory instead.
    let venue: Option<(String, String, String, i64)> =
        sqlx::query_as("SELECT name, city, address, capacity FROM venues WHERE id = $1")
            .bind(&row.venue_id)
            .fetch_optional(conn)
            .await?;
    let venue = match venue {
        Some((name, city, address, capacity)) => json!({
            "id": row.venue_id, "name": name, "city": city, "address": address, "capacity": capacity,
        }),
        None => json!({ "id": row.venue_id }),
    };
    let mut body = json!({
        "title": { "en": row.title },
        "starts_at": rfc3339(row.starts_at),
        "ends_at": rfc3339(row.ends_at),
        "timezone": row.timezone,
        "venue": venue,
        "artist_ids": row.artist_ids(),
        "currency": row.currency,
    });
    if !row.description.is_empty() {
        body["description"] = json!({ "en": row.description });
    }
    if create {
        body["mode"] = json!("ga");
    }
    Ok(body)
}

/// A tier as a Nextkt ticket type; with the currency on create.
fn tier_body(tier: &TierRow, currency: Option<&str>) -> Value {
    let mut body = json!({
        "name": tier.name,
        "price": tier.price,
        "capacity": tier.capacity,
        "sort_order": tier.sort_order,
    });
    if let Some(currency) = currency {
        body["kind"] = json!("ga");
        body["currency"] = json!(currency);
    }
    body
}

#[derive(Debug)]
enum RunError {
    Nextkt(NextktError),
    /// Nextkt's event is in a state publishing cannot change (ended or cancelled there).
    Stuck(String),
    Local(ApiError),
}

impl From<NextktError> for RunError {
    fn from(err: NextktError) -> Self {
        RunError::Nextkt(err)
    }
}

impl From<ApiError> for RunError {
    fn from(err: ApiError) -> Self {
        RunError::Local(err)
    }
}

impl From<sqlx::Error> for RunError {
    fn from(err: sqlx::Error) -> Self {
        RunError::Local(err.into())
    }
}

fn id_of(answer: &Value) -> Result<String, RunError> {
    answer["id"].as_str().map(str::to_string).ok_or_else(|| {
        RunError::Nextkt(NextktError::Unavailable(format!(
            "Nextkt's answer has no id: {answer}"
        )))
    })
}

/// The run's calls to Nextkt, each id written down as soon as it is known.
async fn apply(
    state: &AppState,
    nextkt: &Nextkt,
    key: &str,
    row: &EventRow,
    tiers: &[TierRow],
) -> Result<(), RunError> {
    let org = As::Organization(key);
    let event_id = match &row.nextkt_event_id {
        Some(id) => id.clone(),
        None => {
            let body: Value = row
                .nextkt_create_request
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            let answer = nextkt
                .send(
                    org,
                    Method::POST,
                    "/admin/events",
                    Some(body),
                    Some(&format!("kisum-event-{}", row.id)),
                )
                .await?;
            let id = id_of(&answer)?;
            sqlx::query(
                "UPDATE promoter_events SET nextkt_event_id = $2, nextkt_create_request = NULL \
                 WHERE id = $1",
            )
            .bind(&row.id)
            .bind(&id)
            .execute(&state.db.pool)
            .await?;
            id
        }
    };
    let body = {
        let mut conn = state.db.pool.acquire().await?;
        event_body(&mut conn, row, false).await?
    };
    let current = nextkt
        .send(
            org,
            Method::PATCH,
            &format!("/admin/events/{event_id}"),
            Some(body),
            None,
        )
        .await?;
    for tier in tiers {
        match &tier.nextkt_ticket_type_id {
            Some(type_id) => {
                nextkt
                    .send(
                        org,
                        Method::PATCH,
                        &format!("/admin/ticket-types/{type_id}"),
                        Some(tier_body(tier, None)),
                        None,
                    )
                    .await?;
            }
            None => {
                let body: Value = tier
                    .nextkt_create_request
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or_else(|| tier_body(tier, Some(&row.currency)));
                let answer = nextkt
                    .send(
                        org,
                        Method::POST,
                        &format!("/admin/events/{event_id}/ticket-types"),
                        Some(body),
                        Some(&format!("kisum-tier-{}", tier.id)),
                    )
                    .await?;
                let id = id_of(&answer)?;
                sqlx::query(
                    "UPDATE promoter_event_tiers SET nextkt_ticket_type_id = $2, \
                     nextkt_create_request = NULL WHERE id = $1",
                )
                .bind(&tier.id)
                .bind(&id)
                .execute(&state.db.pool)
                .await?;
                // A tier created from an older revision's body is brought up to date.
                if tier.nextkt_create_request.as_deref()
                    != Some(tier_body(tier, Some(&row.currency)).to_string().as_str())
                {
                    nextkt
                        .send(
                            org,
                            Method::PATCH,
                            &format!("/admin/ticket-types/{id}"),
                            Some(tier_body(tier, None)),
                            None,
                        )
                        .await?;
                }
            }
        }
    }
    match current["status"].as_str() {
        Some("draft") => {
            nextkt
                .send(
                    org,
                    Method::POST,
                    &format!("/admin/events/{event_id}/publish"),
                    None,
                    Some(&format!("kisum-publish-{}-{}", row.id, row.revision)),
                )
                .await?;
        }
        Some("published") => {}
        other => {
            return Err(RunError::Stuck(format!(
                "the event is {} in Nextkt; publishing cannot change that",
                other.unwrap_or("unknown")
            )));
        }
    }
    Ok(())
}

/// What a failed run leaves for the promoter to read.
fn describe(err: &RunError) -> (String, bool) {
    match err {
        RunError::Nextkt(NextktError::Unavailable(why)) => {
            (format!("Nextkt did not answer ({why})"), true)
        }
        RunError::Nextkt(NextktError::Refused(status, body)) => {
            let problem: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let code = problem["code"].as_str().unwrap_or("refused");
            let detail = problem["detail"].as_str().unwrap_or("");
            (
                format!("Nextkt refused ({status} {code}): {detail}"),
                // Another run holding the same Idempotency-Key, or a rate limit, passes by
                // itself; anything else would be refused again.
                (*status == 409 && code == "idempotency_in_progress") || *status == 429,
            )
        }
        RunError::Stuck(why) => (why.clone(), false),
        RunError::Local(err) => (format!("{err:?}"), true),
    }
}

fn retry_delay(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(10);
    (FIRST_RETRY_MS << doublings).min(LAST_RETRY_MS)
}

/// One publish run of a claimed event, recorded as published or failed.
async fn run(
    state: &AppState,
    nextkt: &Nextkt,
    key: &str,
    row: &EventRow,
    tiers: &[TierRow],
) -> ApiResult<()> {
    let outcome = apply(state, nextkt, key, row, tiers).await;
    let now = state.clock.now_ms();
    match outcome {
        Ok(()) => {
            sqlx::query(
                "UPDATE promoter_events SET publish_status = 'published', published_revision = $2, \
                 publish_error = NULL, publish_retry_at = NULL, publish_lease_until = NULL, \
                 published_at = COALESCE(published_at, $3) WHERE id = $1",
            )
            .bind(&row.id)
            .bind(row.revision)
            .bind(now)
            .execute(&state.db.pool)
            .await?;
            tracing::info!(event = %row.id, revision = row.revision, "event published to Nextkt");
            Ok(())
        }
        Err(err) => {
            let (why, retry) = describe(&err);
            tracing::warn!(event = %row.id, reason = %why, retry, "publishing to Nextkt failed");
            let retry_at = retry.then(|| now + retry_delay(row.publish_attempts));
            sqlx::query(
                "UPDATE promoter_events SET publish_status = 'failed', publish_error = $2, \
                 publish_retry_at = $3, publish_lease_until = NULL WHERE id = $1",
            )
            .bind(&row.id)
            .bind(&why)
            .bind(retry_at)
            .execute(&state.db.pool)
            .await?;
            Err(match err {
                RunError::Nextkt(err) => err.into(),
                RunError::Stuck(why) => ApiError::rule("nextkt_event_closed", why),
                RunError::Local(err) => err,
            })
        }
    }
}

fn not_linked() -> ApiError {
    ApiError::rule(
        "not_linked",
        "link the company's ticketing (POST /ticketing/link) before publishing",
    )
}

/// Claims and publishes one event of `company` (also the retry job's way in).
pub async fn publish_event(state: &AppState, company: &CompanyId, id: &str) -> ApiResult<()> {
    let nextkt = state
        .nextkt
        .clone()
        .ok_or_else(crate::ticketing::link::not_configured)?;
    let Some((_, key)) = link::organization_key(state, company).await? else {
        let mut conn = state.db.pool.acquire().await?;
        events::find(&mut conn, id, company, "").await?;
        // A run waiting for its retry stops waiting: only linking again can help.
        sqlx::query(
            "UPDATE promoter_events SET publish_status = 'failed', publish_error = $2, \
             publish_retry_at = NULL, publish_lease_until = NULL \
             WHERE id = $1 AND publish_status IN ('failed', 'publishing')",
        )
        .bind(id)
        .bind("the company's ticketing is not linked")
        .execute(&mut *conn)
        .await?;
        return Err(not_linked());
    };
    let Claim::Run(row, tiers) = claim(state, company, id).await? else {
        return Ok(());
    };
    run(state, &nextkt, &key, &row, &tiers).await
}

/// Publishes the event into the company's Nextkt organization, or brings it up to date
/// there. Repeating it changes nothing: an event Nextkt already shows at its latest revision
/// is answered at once. A failed run is recorded on the event (`ticketing.lastError`) and,
/// when Nextkt did not answer, retried by itself (`ticketing.retryAt`).
#[utoipa::path(post, path = "/promoter/events/{id}/publish", tag = "promoter",
    params(("id" = String, Path), ("x-org" = String, Header)),
    responses((status = 200, body = PromoterEvent), (status = 404, body = Problem),
        (status = 409, description = "`publish_in_progress`", body = Problem),
        (status = 422, description = "`not_linked`, `no_tiers`, `nextkt_event_closed`", body = Problem),
        (status = 502, description = "`nextkt_refused` (the reason is on the event)", body = Problem),
        (status = 503, description = "`ticketing_not_configured`, `nextkt_unavailable` (retried by itself)", body = Problem)),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, ApiJson<PromoterEvent>)> {
    member.require("promoter.events.manage")?;
    publish_event(&state, &member.company_id, &id).await?;
    let mut conn = state.db.pool.acquire().await?;
    let row = events::find(&mut conn, &id, &member.company_id, "").await?;
    let tiers = events::tiers_of(&mut conn, &id).await?;
    Ok((StatusCode::OK, ApiJson(events::view(row, tiers))))
}

/// Retries the failed runs that are due, and runs a crashed process left half-way.
pub async fn retry_due(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now_ms();
    let due: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, company_id FROM promoter_events \
         WHERE (publish_status = 'failed' AND publish_retry_at <= $1) \
            OR (publish_status = 'publishing' AND publish_lease_until < $1) \
         ORDER BY publish_retry_at LIMIT 20",
    )
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    let mut published = 0;
    for (id, company) in due {
        // A failure is recorded on the event; another process's run is not one.
        if publish_event(state, &CompanyId::from(company.as_str()), &id)
            .await
            .is_ok()
        {
            published += 1;
        }
    }
    Ok(published)
}
