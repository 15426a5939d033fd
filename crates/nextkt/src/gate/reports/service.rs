//! The live check-in report of an event, put together from its counts.

use super::{Bucket, CheckinReport, ListCount, store};
use crate::gate::lists;
use crate::platform::clock::rfc3339;
use crate::platform::error::ApiResult;
use crate::state::AppState;

/// The event's check-in figures, arrivals in buckets of `bucket_ms`.
#[tracing::instrument(skip_all, fields(event_id = %event_id))]
pub async fn checkins(
    state: &AppState,
    event_id: &str,
    bucket_ms: i64,
) -> ApiResult<CheckinReport> {
    let db = &state.db;
    let list_rows = lists::of_event(db, event_id).await?;
    let valid_per_type = store::valid_per_type(db, event_id).await?;
    let mut counts = Vec::with_capacity(list_rows.len());
    for list in &list_rows {
        let (arrived, inside) = store::list_counts(db, &list.id).await?;
        counts.push(ListCount {
            list_id: list.id.clone(),
            name: list.name.clone(),
            expected: valid_per_type
                .iter()
                .filter(|(t, _)| list.admits(t))
                .map(|(_, n)| n)
                .sum(),
            arrived,
            inside,
        });
    }
    let gates = store::gate_counts(db, event_id).await?;
    let buckets = store::arrivals(db, event_id, bucket_ms).await?;
    let conflicts = store::conflict_count(db, event_id).await?;
    Ok(CheckinReport {
        lists: counts,
        gates,
        arrivals: buckets
            .into_iter()
            .map(|(from, arrivals)| Bucket {
                from: rfc3339(from),
                arrivals,
            })
            .collect(),
        conflicts,
        generated_at: rfc3339(state.clock.now_ms()),
    })
}
