//! Building a device's bundle: its lists, their events' keys, revoked codes, and every
//! valid ticket's attendee data sealed with its code.

use std::collections::{BTreeMap, HashMap};

use super::{Bundle, BundleEvent, BundleKey, FORMAT, SealedAttendee, store};
use crate::gate::devices::GateDevice;
use crate::gate::{lists, sealing};
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiResult;
use crate::state::AppState;

#[tracing::instrument(skip_all, fields(org_id = %device.org_id, device_id = %device.id))]
pub async fn build(state: &AppState, device: &GateDevice) -> ApiResult<Bundle> {
    let now = state.clock.now_ms();
    let db = &state.db;
    let list_rows = lists::by_ids(db, &device.org_id, &device.list_ids).await?;
    let mut event_ids: Vec<String> = list_rows.iter().map(|l| l.event_id.clone()).collect();
    event_ids.sort();
    event_ids.dedup();

    let mut events = Vec::new();
    let mut revoked = Vec::new();
    let mut attendees = BTreeMap::new();
    for event_id in &event_ids {
        let keys = store::event_keys(db, event_id).await?;
        events.push(BundleEvent {
            id: event_id.clone(),
            keys: keys
                .into_iter()
                .map(|(id, public_key)| BundleKey { id, public_key })
                .collect(),
        });
        revoked.extend(store::revoked_codes(db, event_id).await?);
        let checkins = store::checkins(db, event_id).await?;
        let mut entered: HashMap<String, Vec<(String, bool)>> = HashMap::new();
        for (ticket, list, inside) in checkins {
            entered.entry(ticket).or_default().push((list, inside != 0));
        }
        let tickets = store::tickets(db, &device.org_id, event_id).await?;
        for t in tickets {
            let hash = sealing::lookup_hash(&t.code);
            if !t.status.is_valid() {
                revoked.push(hash);
                continue;
            }
            let lists = entered.remove(&t.id).unwrap_or_default();
            let attendee = SealedAttendee {
                ticket_id: t.id,
                event_id: t.event_id,
                ticket_type_id: t.ticket_type_id,
                ticket_type: t.ticket_type,
                holder_name: t.holder_name,
                seat: t
                    .row_label
                    .zip(t.seat_number)
                    .map(|(r, n)| format!("{r}-{n}")),
                entered_list_ids: lists.iter().map(|(l, _)| l.clone()).collect(),
                inside_list_ids: lists
                    .iter()
                    .filter(|(_, inside)| *inside)
                    .map(|(l, _)| l.clone())
                    .collect(),
            };
            let plain = serde_json::to_vec(&attendee).unwrap_or_default();
            attendees.insert(hash, sealing::seal(&t.code, &plain));
        }
    }
    revoked.sort();
    revoked.dedup();
    Ok(Bundle {
        format: FORMAT.into(),
        generated_at: rfc3339(now),
        organization_id: device.org_id.clone(),
        lists: list_rows
            .into_iter()
            .map(lists::CheckinList::from)
            .collect(),
        events,
        revoked,
        attendees,
    })
}
