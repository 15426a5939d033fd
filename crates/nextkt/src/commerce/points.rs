//! Loyalty points: per organization, buyers earn points on paid orders and spend them at
//! checkout. Earned points come in lots, each with its own expiry; spending takes from the
//! lots that expire first. Every movement is a row of the append-only ledger; the balance
//! is what is left of the lots that have not expired.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::buyers::access::BuyerAccess;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult, Problem};
use crate::platform::ids::new_id;
use crate::platform::json::ApiJson;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::AdminAccess;
use crate::tenancy::audit::{self, Change};
use crate::tenancy::roles::Permission;

/// An organization's program. `earn_per` 0 turns earning off; `point_value` 0 turns
/// spending off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct PointsProgram {
    /// Minor units spent per point earned (1,000: one point per Rp 1,000 paid); 0 = off.
    pub earn_per: i64,
    /// What one point is worth at checkout, in minor units; 0 = points cannot be spent.
    pub point_value: i64,
    /// Days earned points last; 0 = they never expire.
    pub expiry_days: i64,
    /// The currency of `earn_per` and `point_value`.
    pub currency: String,
}

impl PointsProgram {
    /// No program: nothing earned, nothing spent.
    pub fn off(currency: &str) -> PointsProgram {
        PointsProgram {
            earn_per: 0,
            point_value: 0,
            expiry_days: 0,
            currency: currency.to_string(),
        }
    }

    fn validate(&self) -> ApiResult<()> {
        validate::range("earn_per", self.earn_per, 0, 1_000_000_000)?;
        validate::range("point_value", self.point_value, 0, 1_000_000_000)?;
        validate::range("expiry_days", self.expiry_days, 0, 3650)?;
        validate::currency("currency", &self.currency)?;
        Ok(())
    }

    /// Points earned on `amount` paid in `currency` (whole points, rounded down).
    pub fn earned_on(&self, amount: i64, currency: &str) -> i64 {
        if self.earn_per <= 0 || currency != self.currency || amount <= 0 {
            0
        } else {
            amount / self.earn_per
        }
    }
}

pub async fn program(
    db: &Db,
    org_id: &str,
    default_currency: &str,
) -> Result<PointsProgram, sqlx::Error> {
    let found: Option<PointsProgram> = sqlx::query_as(
        "SELECT earn_per, point_value, expiry_days, currency FROM points_programs WHERE organization_id = $1",
    )
    .bind(org_id.to_string())
    .fetch_optional(&db.pool)
    .await?;
    Ok(found.unwrap_or_else(|| PointsProgram::off(default_currency)))
}

/// Points a buyer can spend now.
pub async fn balance(db: &Db, buyer_id: &str, now: Millis) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(remaining), 0) AS BIGINT) FROM points_lots \
         WHERE buyer_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(buyer_id.to_string())
    .bind(now)
    .fetch_one(&db.pool)
    .await
}

pub struct Movement<'a> {
    pub org_id: &'a str,
    pub buyer_id: &'a str,
    pub kind: &'a str,
    pub reference_id: Option<&'a str>,
    pub note: Option<&'a str>,
}

async fn ledger(tx: &mut Tx, m: &Movement<'_>, delta: i64, now: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO points_ledger (id, organization_id, buyer_id, delta, kind, reference_id, note, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(m.org_id.to_string())
    .bind(m.buyer_id.to_string())
    .bind(delta)
    .bind(m.kind.to_string())
    .bind(m.reference_id.map(str::to_string))
    .bind(m.note.map(str::to_string))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds a lot of `points` (expiring after `expiry_days`, 0 = never) and its ledger row.
pub async fn credit(
    tx: &mut Tx,
    m: &Movement<'_>,
    points: i64,
    expiry_days: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    if points <= 0 {
        return Ok(());
    }
    let expires_at = (expiry_days > 0).then(|| now + expiry_days * 86_400_000);
    sqlx::query(
        "INSERT INTO points_lots (id, organization_id, buyer_id, points, remaining, expires_at, source_id, created_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(m.org_id.to_string())
    .bind(m.buyer_id.to_string())
    .bind(points)
    .bind(expires_at)
    .bind(m.reference_id.map(str::to_string))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    ledger(tx, m, points, now).await
}

/// Takes `points` from the buyer's live lots, soonest-expiring first. 422
/// `not_enough_points` (and nothing taken) when the balance is short.
pub async fn debit(
    db: &Db,
    tx: &mut Tx,
    m: &Movement<'_>,
    points: i64,
    now: Millis,
) -> ApiResult<()> {
    if points <= 0 {
        return Ok(());
    }
    let lots: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, remaining FROM points_lots WHERE buyer_id = $1 AND remaining > 0 \
         AND (expires_at IS NULL OR expires_at > $2) \
         ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, id{}",
        db.for_update()
    )))
    .bind(m.buyer_id.to_string())
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    if lots.iter().map(|(_, r)| r).sum::<i64>() < points {
        return Err(ApiError::rule(
            "not_enough_points",
            "the buyer does not have that many points",
        ));
    }
    let mut left = points;
    for (id, remaining) in lots {
        if left == 0 {
            break;
        }
        let take = remaining.min(left);
        sqlx::query("UPDATE points_lots SET remaining = remaining - $1 WHERE id = $2")
            .bind(take)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        left -= take;
    }
    ledger(tx, m, -points, now).await?;
    Ok(())
}

/// Points a buyer can spend now, with their live lots locked for the rest of the
/// transaction (so what is read stays true until it is spent).
pub async fn balance_locked(
    db: &Db,
    tx: &mut Tx,
    buyer_id: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    let lots: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT remaining FROM points_lots WHERE buyer_id = $1 AND remaining > 0 \
         AND (expires_at IS NULL OR expires_at > $2){}",
        db.for_update()
    )))
    .bind(buyer_id.to_string())
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    Ok(lots.iter().sum())
}

/// Takes up to `points` from the buyer's live lots (as many as they still have), under the
/// same locks as `debit`; returns how many were taken.
pub async fn debit_at_most(
    db: &Db,
    tx: &mut Tx,
    m: &Movement<'_>,
    points: i64,
    now: Millis,
) -> ApiResult<i64> {
    if points <= 0 {
        return Ok(0);
    }
    let live = balance_locked(db, tx, m.buyer_id, now).await?;
    let take = points.min(live);
    debit(db, tx, m, take, now).await?;
    Ok(take)
}

/// The organization's points program.
#[utoipa::path(
    get, path = "/admin/points-program", tag = "points",
    responses((status = 200, body = PointsProgram)),
    security(("bearer" = []))
)]
pub async fn get_program(
    State(state): State<AppState>,
    access: AdminAccess,
) -> ApiResult<ApiJson<PointsProgram>> {
    access.require(Permission::ReadOrganization)?;
    let org = crate::tenancy::organizations::find(&state.db, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(ApiJson(program(&state.db, &org.id, &org.currency).await?))
}

/// Set the organization's points program.
#[utoipa::path(
    put, path = "/admin/points-program", tag = "points",
    request_body = PointsProgram,
    responses((status = 200, body = PointsProgram), (status = 400, body = Problem)),
    security(("bearer" = []))
)]
pub async fn set_program(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<PointsProgram>,
) -> ApiResult<ApiJson<PointsProgram>> {
    access.require(Permission::ManageOrganization)?;
    body.validate()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO points_programs (organization_id, earn_per, point_value, expiry_days, currency, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id) DO UPDATE SET \
         earn_per = $2, point_value = $3, expiry_days = $4, currency = $5, updated_at = $6",
    )
    .bind(access.org_id.clone())
    .bind(body.earn_per)
    .bind(body.point_value)
    .bind(body.expiry_days)
    .bind(body.currency.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "points_program.updated",
            target_kind: "organization",
            target_id: &access.org_id,
            before: None,
            after: serde_json::to_value(&body).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub buyer_id: String,
    /// Points to add (positive) or take away (negative).
    pub points: i64,
    /// Why, shown in the buyer's history.
    pub note: String,
}

/// Add or remove points by hand (goodwill, corrections). Recorded in the ledger and the
/// audit log.
#[utoipa::path(
    post, path = "/admin/points/adjustments", tag = "points",
    request_body = Adjustment,
    responses((status = 201, body = Rewards), (status = 404, body = Problem),
        (status = 422, description = "`not_enough_points`", body = Problem)),
    security(("bearer" = []))
)]
pub async fn adjust(
    State(state): State<AppState>,
    access: AdminAccess,
    ApiJson(body): ApiJson<Adjustment>,
) -> ApiResult<(StatusCode, ApiJson<Rewards>)> {
    access.require(Permission::ManageOrganization)?;
    validate::range("points", body.points, -10_000_000, 10_000_000)?;
    if body.points == 0 {
        return Err(ApiError::invalid("points", "must not be 0"));
    }
    let note = validate::text("note", &body.note, 200)?;
    let known: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM buyers WHERE id = $1 AND organization_id = $2")
            .bind(body.buyer_id.clone())
            .bind(access.org_id.clone())
            .fetch_one(&state.db.pool)
            .await?;
    if known == 0 {
        return Err(ApiError::not_found("buyer"));
    }
    let org = crate::tenancy::organizations::find(&state.db, &access.org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let program = program(&state.db, &org.id, &org.currency).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let movement = Movement {
        org_id: &access.org_id,
        buyer_id: &body.buyer_id,
        kind: "adjust",
        reference_id: None,
        note: Some(&note),
    };
    if body.points > 0 {
        credit(&mut tx, &movement, body.points, program.expiry_days, now).await?;
    } else {
        debit(&state.db, &mut tx, &movement, -body.points, now).await?;
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(&access.org_id),
            actor: &access.actor,
            action: "points.adjusted",
            target_kind: "buyer",
            target_id: &body.buyer_id,
            before: None,
            after: Some(serde_json::json!({ "points": body.points, "note": note })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(rewards_of(&state, &org.id, &org.currency, &body.buyer_id).await?),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: String,
    /// Positive: earned or added; negative: spent, reversed or removed.
    pub delta: i64,
    /// `earn`, `spend`, `reversal` or `adjust`.
    pub kind: String,
    pub reference_id: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rewards {
    /// Points that can be spent now.
    pub balance: i64,
    /// What they are worth at checkout (minor units of `currency`).
    pub balance_value: i64,
    pub point_value: i64,
    pub currency: String,
    /// When the soonest of the current points expire.
    pub next_expiry_at: Option<String>,
    /// Newest first (the last 100).
    pub history: Vec<LedgerEntry>,
}

async fn rewards_of(
    state: &AppState,
    org_id: &str,
    currency: &str,
    buyer_id: &str,
) -> ApiResult<Rewards> {
    let now = state.clock.now_ms();
    let program = program(&state.db, org_id, currency).await?;
    let balance = balance(&state.db, buyer_id, now).await?;
    let next: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(expires_at) FROM points_lots WHERE buyer_id = $1 AND remaining > 0 AND expires_at > $2",
    )
    .bind(buyer_id.to_string())
    .bind(now)
    .fetch_one(&state.db.pool)
    .await?;
    #[derive(sqlx::FromRow)]
    struct LedgerRow {
        id: String,
        delta: i64,
        kind: String,
        reference_id: Option<String>,
        note: Option<String>,
        created_at: i64,
    }
    let rows: Vec<LedgerRow> = sqlx::query_as(
        "SELECT id, delta, kind, reference_id, note, created_at FROM points_ledger WHERE buyer_id = $1 \
         ORDER BY id DESC LIMIT 100",
    )
    .bind(buyer_id.to_string())
    .fetch_all(&state.db.pool)
    .await?;
    Ok(Rewards {
        balance,
        balance_value: balance * program.point_value,
        point_value: program.point_value,
        currency: program.currency,
        next_expiry_at: opt_rfc3339(next),
        history: rows
            .into_iter()
            .map(|r| LedgerEntry {
                id: r.id,
                delta: r.delta,
                kind: r.kind,
                reference_id: r.reference_id,
                note: r.note,
                created_at: rfc3339(r.created_at),
            })
            .collect(),
    })
}

/// The logged-in buyer's points: balance, value and history.
#[utoipa::path(
    get, path = "/consumer/rewards", tag = "points",
    responses((status = 200, body = Rewards), (status = 401, body = Problem)),
    security(("internal_key" = [], "tenant" = [], "buyer" = []), ("storefront_key" = [], "buyer" = []))
)]
pub async fn rewards(
    State(state): State<AppState>,
    buyer: BuyerAccess,
) -> ApiResult<ApiJson<Rewards>> {
    Ok(ApiJson(
        rewards_of(&state, &buyer.org.id, &buyer.org.currency, &buyer.buyer_id).await?,
    ))
}
