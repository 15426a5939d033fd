//! The rules of discount codes as operators write them (what a code and its fields may be,
//! which events and ticket types it may name), each write in one transaction with its
//! audit entry; and the counting of uses as orders take and give them back.

use super::{Discount, DiscountInput, DiscountKind, DiscountRow, code_key, store};
use crate::commerce::pricing::BPS;
use crate::ids::OrgId;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{ApiError, ApiResult, is_unique_violation};
use crate::platform::ids::new_id;
use crate::platform::validate;
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

fn opt_time(field: &str, value: &str) -> ApiResult<Option<i64>> {
    if value.is_empty() {
        Ok(None)
    } else {
        validate::instant(field, value).map(Some)
    }
}

fn ids(field: &str, list: &[String]) -> ApiResult<String> {
    if list.len() > 200
        || list
            .iter()
            .any(|i| !crate::platform::ids::is_valid_external_id(i))
    {
        return Err(ApiError::invalid(field, "up to 200 ids"));
    }
    Ok(serde_json::to_string(list).unwrap_or_default())
}

fn apply(row: &mut DiscountRow, input: &DiscountInput, now: Millis) -> ApiResult<()> {
    if let Some(kind) = input.kind {
        row.kind = if kind == DiscountKind::Fixed {
            "fixed"
        } else {
            "percent"
        }
        .into();
    }
    if let Some(value) = input.value {
        row.value = value;
    }
    if let Some(currency) = &input.currency {
        row.currency = Some(validate::currency("currency", currency)?);
    }
    if let Some(list) = &input.event_ids {
        row.event_ids_json = ids("event_ids", list)?;
    }
    if let Some(list) = &input.ticket_type_ids {
        row.ticket_type_ids_json = ids("ticket_type_ids", list)?;
    }
    if let Some(at) = &input.starts_at {
        row.starts_at = opt_time("starts_at", at)?;
    }
    if let Some(at) = &input.ends_at {
        row.ends_at = opt_time("ends_at", at)?;
    }
    if let Some(n) = input.max_uses {
        row.max_uses = n
            .map(|n| validate::range("max_uses", n, 1, 10_000_000))
            .transpose()?;
    }
    if let Some(n) = input.max_uses_per_buyer {
        row.max_uses_per_buyer = n
            .map(|n| validate::range("max_uses_per_buyer", n, 1, 1_000))
            .transpose()?;
    }
    if let Some(n) = input.min_quantity {
        row.min_quantity = validate::range("min_quantity", n, 1, 1_000)?;
    }
    if let Some(active) = input.active {
        row.disabled_at = if active {
            None
        } else {
            row.disabled_at.or(Some(now))
        };
    }
    match row.kind() {
        DiscountKind::Percent => {
            validate::range("value", row.value, 1, BPS)?;
            row.currency = None;
        }
        DiscountKind::Fixed => {
            validate::range("value", row.value, 1, 1_000_000_000_000)?;
            if row.currency.is_none() {
                return Err(ApiError::invalid(
                    "currency",
                    "required for a fixed discount",
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (row.starts_at, row.ends_at)
        && to <= from
    {
        return Err(ApiError::invalid("ends_at", "must be after starts_at"));
    }
    Ok(())
}

fn check_code(code: &str) -> ApiResult<String> {
    let code = code.trim();
    let ok = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(code.to_string())
    } else {
        Err(ApiError::invalid(
            "code",
            "3-32 letters, digits, '-' or '_'",
        ))
    }
}

/// The events and ticket types a code names must be the organization's (404 otherwise, as
/// for any id of another organization), and a ticket type must belong to one of the named
/// events when events are named: a code for a type it can never meet would never apply.
async fn check_targets(db: &Db, org_id: &str, row: &DiscountRow) -> ApiResult<()> {
    let mut events = row.event_ids();
    events.sort_unstable();
    events.dedup();
    if !events.is_empty() {
        let found = store::events_of_org(db, org_id, &events).await?;
        if let Some(missing) = events.iter().find(|id| !found.contains(id)) {
            let mut err = ApiError::not_found(&format!("event {missing}"));
            err.field = Some("event_ids".into());
            return Err(err);
        }
    }
    let mut types = row.ticket_type_ids();
    types.sort_unstable();
    types.dedup();
    if !types.is_empty() {
        let found = store::ticket_types_of_org(db, org_id, &types).await?;
        for id in &types {
            let Some((_, event_id)) = found.iter().find(|(t, _)| t == id) else {
                let mut err = ApiError::not_found(&format!("ticket type {id}"));
                err.field = Some("ticket_type_ids".into());
                return Err(err);
            };
            if !events.is_empty() && !events.contains(event_id) {
                return Err(ApiError::invalid(
                    "ticket_type_ids",
                    format!("{id} is not a ticket type of the code's events"),
                ));
            }
        }
    }
    Ok(())
}

/// Creates a code.
#[tracing::instrument(skip_all, fields(org_id = %org_id))]
pub async fn create(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    input: &DiscountInput,
) -> ApiResult<Discount> {
    let code = check_code(input.code.as_deref().unwrap_or_default())?;
    if input.kind.is_none() || input.value.is_none() {
        return Err(ApiError::invalid(
            if input.kind.is_none() {
                "kind"
            } else {
                "value"
            },
            "required",
        ));
    }
    let now = state.clock.now_ms();
    let mut row = DiscountRow {
        id: new_id(),
        organization_id: org_id.to_string(),
        code,
        kind: String::new(),
        value: 0,
        currency: None,
        event_ids_json: "[]".into(),
        ticket_type_ids_json: "[]".into(),
        starts_at: None,
        ends_at: None,
        max_uses: None,
        max_uses_per_buyer: None,
        min_quantity: 1,
        uses: 0,
        created_at: now,
        disabled_at: None,
    };
    apply(&mut row, input, now)?;
    check_targets(&state.db, org_id, &row).await?;
    let mut tx = state.db.begin().await?;
    match store::insert(&mut tx, &row, now).await {
        Err(err) if is_unique_violation(&err) => {
            return Err(ApiError::conflict(
                "code_taken",
                "a discount with this code exists",
            ));
        }
        other => other?,
    };
    let discount = row.into_api();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "discount.created",
            target_kind: "discount",
            target_id: &discount.id,
            before: None,
            after: serde_json::to_value(&discount).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(discount)
}

/// Changes a code (its code stays).
#[tracing::instrument(skip_all, fields(org_id = %org_id, discount_id = %discount_id))]
pub async fn update(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    discount_id: &str,
    input: &DiscountInput,
) -> ApiResult<Discount> {
    let mut row = store::find(&state.db, org_id, discount_id)
        .await?
        .ok_or_else(|| ApiError::not_found("discount"))?;
    if input
        .code
        .as_deref()
        .is_some_and(|c| code_key(c) != code_key(&row.code))
    {
        return Err(ApiError::invalid(
            "code",
            "a code cannot change; create a new discount",
        ));
    }
    let now = state.clock.now_ms();
    apply(&mut row, input, now)?;
    if input.event_ids.is_some() || input.ticket_type_ids.is_some() {
        check_targets(&state.db, org_id, &row).await?;
    }
    let mut tx = state.db.begin().await?;
    store::update(&mut tx, &row, now).await?;
    let discount = row.into_api();
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "discount.updated",
            target_kind: "discount",
            target_id: &discount.id,
            before: None,
            after: serde_json::to_value(&discount).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(discount)
}

/// Takes one use of a code for an order (422 `discount_not_applicable` when the buyer or
/// the code has none left). The conditional update makes concurrent checkouts of the last
/// use yield exactly one winner.
pub async fn claim_use(
    tx: &mut Tx,
    discount_id: &str,
    buyer_id: Option<&str>,
    order_id: &str,
) -> ApiResult<()> {
    if let Some(buyer) = buyer_id {
        let (per_buyer, used) = store::buyer_uses(tx, discount_id, buyer, order_id).await?;
        if per_buyer.is_some_and(|max| used >= max) {
            return Err(ApiError::rule(
                "discount_not_applicable",
                "you have used this code as often as allowed",
            ));
        }
    }
    if !store::claim_use(tx, discount_id).await? {
        return Err(ApiError::rule(
            "discount_not_applicable",
            "this code has been used up",
        ));
    }
    Ok(())
}

/// Gives back the use an order that closed unpaid took.
pub async fn release_use(tx: &mut Tx, discount_id: &str) -> Result<(), sqlx::Error> {
    store::release_use(tx, discount_id).await
}

/// Whether a use is left, with the code locked until the transaction ends (so it stays
/// true for `retake_use`).
pub async fn use_left_locked(db: &Db, tx: &mut Tx, discount_id: &str) -> Result<bool, sqlx::Error> {
    let (uses, max_uses) = store::uses_locked(db, tx, discount_id).await?;
    Ok(max_uses.is_none_or(|max| uses < max))
}

/// Takes again the use a closed order gave back (checked by `use_left_locked` in the same
/// transaction).
pub async fn retake_use(tx: &mut Tx, discount_id: &str) -> Result<(), sqlx::Error> {
    store::add_use(tx, discount_id).await
}
