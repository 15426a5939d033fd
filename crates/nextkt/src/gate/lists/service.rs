//! Creating a check-in list, with its audit entry, in one transaction.

use super::store;
use super::{CheckinList, ListRow};
use crate::ids::OrgId;
use crate::platform::clock::Millis;
use crate::platform::error::ApiResult;
use crate::platform::ids::new_id;
use crate::state::AppState;
use crate::tenancy::access::Actor;
use crate::tenancy::audit::{self, Change};

/// A list to create (input already validated; the ticket types are the event's).
pub struct NewList<'a> {
    pub event_id: &'a str,
    pub name: String,
    pub ticket_type_ids: &'a [String],
    pub starts_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    pub allow_reentry: bool,
}

#[tracing::instrument(skip_all, fields(org_id = %org_id, event_id = %new.event_id))]
pub async fn create(
    state: &AppState,
    org_id: &OrgId,
    actor: &Actor,
    new: NewList<'_>,
) -> ApiResult<CheckinList> {
    let now = state.clock.now_ms();
    let row = ListRow {
        id: new_id(),
        organization_id: org_id.to_string(),
        event_id: new.event_id.to_string(),
        name: new.name,
        ticket_type_ids_json: serde_json::to_string(new.ticket_type_ids).unwrap_or_default(),
        starts_at: new.starts_at,
        ends_at: new.ends_at,
        allow_reentry: i64::from(new.allow_reentry),
        created_at: now,
    };
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &row).await?;
    let list = CheckinList::from(row);
    audit::record(
        &mut tx,
        Change {
            org_id: Some(org_id),
            actor,
            action: "checkin_list.created",
            target_kind: "checkin_list",
            target_id: &list.id,
            before: None,
            after: serde_json::to_value(&list).ok(),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(list)
}
