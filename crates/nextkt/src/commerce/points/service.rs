//! The rules of points: how a movement credits or debits the lots, the program an
//! organization sets, adjustments by hand, and the buyer's rewards as shown.

use super::{LedgerEntry, Movement, PointsProgram, Rewards, store};
use crate::ids::OrgId;
use crate::platform::clock::{Millis, opt_rfc3339, rfc3339};
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

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
    store::insert_lot(tx, m, points, expires_at, now).await?;
    store::insert_ledger(tx, m, points, now).await
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
    let lots = store::live_lots_locked(db, tx, m.buyer_id, now).await?;
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
        store::take_from_lot(tx, &id, take).await?;
        left -= take;
    }
    store::insert_ledger(tx, m, -points, now).await?;
    Ok(())
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
    let live = store::balance_locked(db, tx, m.buyer_id, now).await?;
    let take = points.min(live);
    debit(db, tx, m, take, now).await?;
    Ok(take)
}

/// Sets the organization's program (already validated).
#[tracing::instrument(skip_all, fields(org_id = %org_id))]
pub async fn set_program(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    program: &PointsProgram,
) -> ApiResult<()> {
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    store::upsert_program(&mut tx, org_id, program, now).await?;
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "points_program.updated",
            target_kind: "organization",
            target_id: org_id,
            before: None,
            after: serde_json::to_value(program).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A change of a buyer's points by hand (input already validated).
pub struct Adjusting<'a> {
    pub org_id: &'a OrgId,
    pub actor: &'a Actor,
    pub buyer_id: &'a str,
    /// Positive adds, negative takes away; never 0.
    pub points: i64,
    pub note: &'a str,
}

/// Adds or removes points by hand, recorded in the ledger and the audit log; answers the
/// buyer's rewards after.
#[tracing::instrument(skip_all, fields(org_id = %adjusting.org_id, buyer_id = %adjusting.buyer_id))]
pub async fn adjust(state: &AppState, adjusting: Adjusting<'_>) -> ApiResult<Rewards> {
    let Adjusting {
        org_id,
        actor,
        buyer_id,
        points,
        note,
    } = adjusting;
    if !store::buyer_of_org(&state.db, org_id, buyer_id).await? {
        return Err(ApiError::not_found("buyer"));
    }
    let org = crate::tenancy::organizations::find(&state.db, org_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let program = store::program(&state.db, &org.id, &org.currency).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let movement = Movement {
        org_id,
        buyer_id,
        kind: "adjust",
        reference_id: None,
        note: Some(note),
    };
    if points > 0 {
        credit(&mut tx, &movement, points, program.expiry_days, now).await?;
    } else {
        debit(&state.db, &mut tx, &movement, -points, now).await?;
    }
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "points.adjusted",
            target_kind: "buyer",
            target_id: buyer_id,
            before: None,
            after: Some(serde_json::json!({ "points": points, "note": note })),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    rewards_of(state, &org.id, &org.currency, buyer_id).await
}

/// A buyer's balance, its worth, when it next shrinks, and the recent ledger.
pub async fn rewards_of(
    state: &AppState,
    org_id: &str,
    currency: &str,
    buyer_id: &str,
) -> ApiResult<Rewards> {
    let now = state.clock.now_ms();
    let program = store::program(&state.db, org_id, currency).await?;
    let balance = store::balance(&state.db, buyer_id, now).await?;
    let next = store::next_expiry(&state.db, buyer_id, now).await?;
    let rows = store::ledger_of(&state.db, buyer_id).await?;
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
