//! Reading a guest list file: every line checked, and either all its guests or every bad
//! line's error.

use std::collections::HashSet;

use serde::Serialize;
use utoipa::ToSchema;

use super::{Entry, MAX_IMPORT_LINES, MAX_PER_GUEST, ga_type};
use crate::catalog::ticket_types::TicketTypeRow;
use crate::platform::csv;
use crate::platform::validate;

#[derive(Debug, Serialize, ToSchema)]
pub struct LineError {
    /// The CSV line (1 is the header).
    pub line: usize,
    pub field: Option<String>,
    pub detail: String,
}

/// Checks every line; the entries, or every line's error.
/// `existing`: (lower-cased email, ticket type id) of the guests already on the list; a
/// line naming one again is refused, so uploading a file twice adds no one twice.
pub fn read_csv(
    text: &str,
    types: &[TicketTypeRow],
    existing: &HashSet<(String, String)>,
) -> Result<Vec<Entry>, Vec<LineError>> {
    let err = |line, field: Option<&str>, detail: String| LineError {
        line,
        field: field.map(str::to_string),
        detail,
    };
    let records =
        csv::parse(text).map_err(|bad| vec![err(bad.line, None, bad.detail.to_string())])?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec![err(1, None, "the file is empty".into())]);
    };
    let columns: Vec<String> = header
        .fields
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| columns.iter().position(|c| c == name);
    let (Some(name_col), Some(email_col), Some(type_col)) =
        (col("name"), col("email"), col("ticket_type"))
    else {
        return Err(vec![err(
            header.line,
            None,
            "the header must name the columns name, email and ticket_type (quantity and note are optional)"
                .into(),
        )]);
    };
    if let Some((_, twice)) = columns
        .iter()
        .enumerate()
        .find(|(i, c)| columns[..*i].contains(c))
    {
        return Err(vec![err(
            header.line,
            Some(twice),
            format!("the column {twice:?} appears twice"),
        )]);
    }
    if let Some(unknown) = columns
        .iter()
        .find(|c| !["name", "email", "ticket_type", "quantity", "note"].contains(&c.as_str()))
    {
        return Err(vec![err(
            header.line,
            Some(unknown),
            format!("unknown column {unknown:?}"),
        )]);
    }
    if rows.len() > MAX_IMPORT_LINES {
        return Err(vec![err(
            rows[MAX_IMPORT_LINES].line,
            None,
            format!("at most {MAX_IMPORT_LINES} guests per import"),
        )]);
    }
    if rows.is_empty() {
        return Err(vec![err(
            header.line,
            None,
            "no guests after the header".into(),
        )]);
    }
    let (qty_col, note_col) = (col("quantity"), col("note"));
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for row in rows {
        if row.fields.len() != columns.len() {
            errors.push(err(
                row.line,
                None,
                format!(
                    "{} fields; the header has {}",
                    row.fields.len(),
                    columns.len()
                ),
            ));
            continue;
        }
        let get = |i: Option<usize>| i.map(|i| row.fields[i].trim()).unwrap_or("");
        let name = validate::text("name", get(Some(name_col)), 200);
        let email = validate::email("email", get(Some(email_col)));
        let ticket_type = ga_type(types, get(Some(type_col))).map(|t| t.id.clone());
        let quantity = match get(qty_col) {
            "" => Ok(1),
            q => q
                .parse::<i64>()
                .ok()
                .filter(|q| (1..=MAX_PER_GUEST).contains(q))
                .ok_or_else(|| {
                    format!("quantity must be a whole number from 1 to {MAX_PER_GUEST}")
                }),
        };
        let note = validate::text("note", get(note_col), 500).or_else(|e| {
            if get(note_col).is_empty() {
                Ok(String::new())
            } else {
                Err(e)
            }
        });
        let mut bad = |field: &str, detail: String| errors.push(err(row.line, Some(field), detail));
        match (name, email, ticket_type, quantity, note) {
            (Ok(name), Ok(email), Ok(ticket_type_id), Ok(quantity), Ok(note)) => {
                if existing.contains(&(email.to_ascii_lowercase(), ticket_type_id.clone())) {
                    bad(
                        "email",
                        format!("{email} is already on the guest list for this ticket type"),
                    );
                    continue;
                }
                if !seen.insert((email.to_ascii_lowercase(), ticket_type_id.clone())) {
                    bad(
                        "email",
                        format!("{email} appears twice for the same ticket type"),
                    );
                    continue;
                }
                entries.push(Entry {
                    name,
                    email,
                    ticket_type_id,
                    quantity,
                    note,
                });
            }
            (name, email, ticket_type, quantity, note) => {
                if let Err(e) = name {
                    bad("name", e.detail);
                }
                if let Err(e) = email {
                    bad("email", e.detail);
                }
                if let Err(e) = ticket_type {
                    bad("ticket_type", e);
                }
                if let Err(e) = quantity {
                    bad("quantity", e);
                }
                if let Err(e) = note {
                    bad("note", e.detail);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}
