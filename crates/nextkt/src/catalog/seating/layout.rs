//! Seat layouts: the compact lines (`A-Z:1-40`) a section's seats are created from.

use super::MAX_SEATS_PER_SECTION;

/// Expands one layout line, `ROWS:SEATS`: rows `A-Z`, `1-20` or one label (`AA`); seats
/// `1-40` or one number. Returns (row, seat) pairs in order.
pub fn expand_layout(line: &str) -> Result<Vec<(String, String)>, String> {
    let (rows, seats) = line
        .split_once(':')
        .ok_or_else(|| format!("{line:?}: write ROWS:SEATS, e.g. A-Z:1-40"))?;
    let rows = expand_rows(rows.trim())
        .ok_or_else(|| format!("{line:?}: rows must be like A-Z, 1-20 or AA"))?;
    let seats = expand_numbers(seats.trim())
        .ok_or_else(|| format!("{line:?}: seats must be like 1-40 or 7"))?;
    let total = rows.len() * seats.len();
    if total > MAX_SEATS_PER_SECTION {
        return Err(format!(
            "{line:?}: {total} seats is more than {MAX_SEATS_PER_SECTION}"
        ));
    }
    Ok(rows
        .iter()
        .flat_map(|row| {
            seats
                .iter()
                .map(move |seat| (row.clone(), seat.to_string()))
        })
        .collect())
}

fn expand_numbers(text: &str) -> Option<Vec<u32>> {
    let (from, to) = text.split_once('-').unwrap_or((text, text));
    let (from, to): (u32, u32) = (from.trim().parse().ok()?, to.trim().parse().ok()?);
    (from >= 1 && from <= to && to - from < 1000).then(|| (from..=to).collect())
}

fn expand_rows(text: &str) -> Option<Vec<String>> {
    if let Some(numbers) = expand_numbers(text) {
        return Some(numbers.into_iter().map(|n| n.to_string()).collect());
    }
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim(), b.trim());
            let single = |s: &str| {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_uppercase() => Some(c),
                    _ => None,
                }
            };
            let (a, b) = (single(a)?, single(b)?);
            (a <= b).then(|| (a..=b).map(|c| c.to_string()).collect())
        }
        None => {
            let ok = !text.is_empty()
                && text.len() <= 8
                && text.chars().all(|c| c.is_ascii_alphanumeric());
            ok.then(|| vec![text.to_string()])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_expand() {
        let seats = expand_layout("A-C:1-4").unwrap();
        assert_eq!(seats.len(), 12);
        assert_eq!(seats[0], ("A".to_string(), "1".to_string()));
        assert_eq!(seats[11], ("C".to_string(), "4".to_string()));
        assert_eq!(expand_layout("A-Z:1-40").unwrap().len(), 26 * 40);
        assert_eq!(expand_layout("AA:1-10").unwrap().len(), 10);
        assert_eq!(expand_layout("1-3:5").unwrap().len(), 3);
        for bad in [
            "", "A-Z", "Z-A:1-4", "A-Z:4-1", "A-Z:0-3", "a-z:1-2", "A-Z:x", "A/B:1",
        ] {
            assert!(expand_layout(bad).is_err(), "{bad:?}");
        }
    }
}
