//! Time zones and local times: one IANA time zone database, bundled into the binary (jiff's
//! copy of the tz database), so validation and display agree on every host, with or
//! without `/usr/share/zoneinfo`.
//!
//! Instants are stored and exchanged in UTC; a person reads them in the event's zone, in
//! their language: `Fri, 1 Mar 2030, 19:00 WIB` (`en`), `Jumat, 1 Maret 2030, 19.00 WIB`
//! (`id`). The zone is named by the database's abbreviation for that instant (WIB, WITA,
//! EDT...), or by its UTC offset (`UTC+4`) where the database has only a number.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};

use super::clock::Millis;

/// The zone of an IANA name (any letter case); `None` when the database has no such zone.
pub fn zone(name: &str) -> Option<TimeZone> {
    if name.is_empty() || name.len() > 64 {
        return None;
    }
    let zone = TimeZone::get(name).ok()?;
    // `Etc/Unknown` is the database's placeholder for "no zone", not a zone.
    zone.iana_name().is_some().then_some(zone)
}

/// The calendar date (`YYYY-MM-DD`) of an instant in a zone (UTC when the zone is unknown).
pub fn local_date(at: Millis, zone_name: &str) -> String {
    let zone = zone(zone_name).unwrap_or(TimeZone::UTC);
    Timestamp::from_millisecond(at)
        .map(|t| {
            zone.to_offset_info(t)
                .offset()
                .to_datetime(t)
                .date()
                .to_string()
        })
        .unwrap_or_default()
}

/// The database's spelling of a zone's name (`asia/jakarta` → `Asia/Jakarta`).
pub fn canonical_name(name: &str) -> Option<String> {
    zone(name).and_then(|z| z.iana_name().map(str::to_string))
}

const WEEKDAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const WEEKDAYS_ID: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

/// `at` as a person in `zone` reads it, in `locale` (`id`, else English). A zone the
/// database does not know (data older than the check) shows UTC.
pub fn format(at: Millis, zone_name: &str, locale: &str) -> String {
    let Ok(instant) = Timestamp::from_millisecond(at) else {
        return super::clock::rfc3339(at);
    };
    let tz = zone(zone_name).unwrap_or(TimeZone::UTC);
    let info = tz.to_offset_info(instant);
    let local = info.offset().to_datetime(instant);
    let abbreviation = info.abbreviation();
    // Some zones have only numbers in the database (`+04`): say the offset plainly.
    let zone_label = if abbreviation.is_empty()
        || abbreviation.starts_with(['+', '-'])
        || abbreviation.chars().any(|c| c.is_ascii_digit())
    {
        offset_label(info.offset())
    } else {
        abbreviation.to_string()
    };
    let weekday = local.weekday().to_monday_zero_offset() as usize;
    let month = (local.month() - 1) as usize;
    let (day, year, hour, minute) = (local.day(), local.year(), local.hour(), local.minute());
    if locale == "id" {
        format!(
            "{}, {day} {} {year}, {hour:02}.{minute:02} {zone_label}",
            WEEKDAYS_ID[weekday], MONTHS_ID[month]
        )
    } else {
        format!(
            "{}, {day} {} {year}, {hour:02}:{minute:02} {zone_label}",
            WEEKDAYS_EN[weekday], MONTHS_EN[month]
        )
    }
}

/// `UTC`, `UTC+7`, `UTC+5:30`, `UTC-3`.
fn offset_label(offset: Offset) -> String {
    let seconds = offset.seconds();
    if seconds == 0 {
        return "UTC".to_string();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
    if minutes == 0 {
        format!("UTC{sign}{hours}")
    } else {
        format!("UTC{sign}{hours}:{minutes:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_rfc3339;

    fn at(text: &str) -> Millis {
        parse_rfc3339(text).unwrap()
    }

    #[test]
    fn the_database_decides_which_zones_exist() {
        assert_eq!(
            canonical_name("Asia/Jakarta").as_deref(),
            Some("Asia/Jakarta")
        );
        assert_eq!(
            canonical_name("asia/makassar").as_deref(),
            Some("Asia/Makassar")
        );
        assert_eq!(canonical_name("utc").as_deref(), Some("UTC"));
        assert_eq!(
            canonical_name("America/Argentina/Buenos_Aires").as_deref(),
            Some("America/Argentina/Buenos_Aires")
        );
        for bad in [
            "",
            "Asia/Atlantis",
            "Mars/Olympus_Mons",
            "Etc/Unknown",
            "../etc/passwd",
            "/etc/localtime",
            "+07:00",
            "WIB",
        ] {
            assert_eq!(canonical_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn local_times_in_english_and_indonesian() {
        let show = at("2030-03-01T12:00:00Z");
        let cases = [
            ("Asia/Jakarta", "en", "Fri, 1 Mar 2030, 19:00 WIB"),
            ("Asia/Jakarta", "id", "Jumat, 1 Maret 2030, 19.00 WIB"),
            ("Asia/Makassar", "id", "Jumat, 1 Maret 2030, 20.00 WITA"),
            ("Asia/Jayapura", "en", "Fri, 1 Mar 2030, 21:00 WIT"),
            ("UTC", "en", "Fri, 1 Mar 2030, 12:00 UTC"),
            ("Asia/Dubai", "en", "Fri, 1 Mar 2030, 16:00 UTC+4"),
            ("Asia/Kolkata", "en", "Fri, 1 Mar 2030, 17:30 IST"),
            ("America/St_Johns", "en", "Fri, 1 Mar 2030, 08:30 NST"),
            ("Unknown/Zone", "en", "Fri, 1 Mar 2030, 12:00 UTC"),
        ];
        for (zone, locale, expected) in cases {
            assert_eq!(format(show, zone, locale), expected, "{zone} {locale}");
        }
        // Summer time comes from the database too.
        assert_eq!(
            format(at("2030-07-04T23:30:00Z"), "America/New_York", "en"),
            "Thu, 4 Jul 2030, 19:30 EDT"
        );
        assert_eq!(
            format(at("2030-12-24T23:30:00Z"), "America/New_York", "id"),
            "Selasa, 24 Desember 2030, 18.30 EST"
        );
        // A numeric-only zone with a half-hour offset.
        assert_eq!(
            format(at("2030-01-01T00:00:00Z"), "Asia/Kathmandu", "en"),
            "Tue, 1 Jan 2030, 05:45 UTC+5:45"
        );
    }
}
