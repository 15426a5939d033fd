//! Input rules shared by every context: each returns the cleaned value or a 400 naming the
//! field.

use super::error::ApiError;
use super::secrets::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};

/// A trimmed, lower-cased email address of a plausible shape.
pub fn email(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim().to_lowercase();
    let plausible = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible {
        Ok(value)
    } else {
        Err(ApiError::invalid(field, "must be an email address"))
    }
}

/// A page to send a buyer back to: an absolute `https` URL without credentials (`http`
/// only for localhost, for trying a storefront out), at most 2,000 characters.
pub fn return_url(field: &str, value: &str) -> Result<String, ApiError> {
    let url = reqwest::Url::parse(value.trim())
        .map_err(|_| ApiError::invalid(field, "must be an absolute URL"))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let allowed = match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => local,
        _ => false,
    };
    if !allowed {
        return Err(ApiError::invalid(
            field,
            "must be an https URL (http only for localhost)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::invalid(field, "must not carry credentials"));
    }
    if url.as_str().len() > 2000 {
        return Err(ApiError::invalid(field, "at most 2,000 characters"));
    }
    Ok(url.to_string())
}

/// Whether a text is one line (names, titles) or may run over several (descriptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// A trimmed, non-empty, single-line text of at most `max` characters, without control
/// characters. Every free text a request stores goes through here or `multiline_text`.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    required(field, value, max, Lines::One)
}

/// As `text`, but line breaks and tabs are allowed (CRLF and CR are stored as LF).
pub fn multiline_text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    required(field, value, max, Lines::Many)
}

/// `text` for an optional field: absent or blank is `None`.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

fn required(field: &str, value: &str, max: usize, lines: Lines) -> Result<String, ApiError> {
    let value = cleaned(field, value, max, lines)?;
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    Ok(value)
}

/// The one rule for free text: trimmed, at most `max` characters, no control characters
/// (Unicode category Cc: C0, DEL and C1) except, in multi-line text, line feeds and tabs.
/// May be empty.
fn cleaned(field: &str, value: &str, max: usize, lines: Lines) -> Result<String, ApiError> {
    let value = match lines {
        Lines::One => value.trim().to_string(),
        Lines::Many => value
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .trim()
            .to_string(),
    };
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    let allowed = |c: char| lines == Lines::Many && matches!(c, '\n' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(ApiError::invalid(
            field,
            match lines {
                Lines::One => "must be one line without control characters",
                Lines::Many => {
                    "must not contain control characters other than line breaks and tabs"
                }
            },
        ));
    }
    Ok(value)
}

pub fn password(field: &str, value: &str) -> Result<(), ApiError> {
    let len = value.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        return Err(ApiError::invalid(
            field,
            format!("must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// An active ISO 4217 currency code, such as `IDR`.
pub fn currency(field: &str, value: &str) -> Result<String, ApiError> {
    if CURRENCIES.binary_search(&value).is_ok() {
        Ok(value.to_string())
    } else {
        Err(ApiError::invalid(
            field,
            "must be an active ISO 4217 currency code such as IDR",
        ))
    }
}

/// The active ISO 4217 currencies (list one, 2025), in order; without fund codes, precious
/// metals, testing and "no currency" codes (`XAU`, `XTS`, `XXX`, ...).
pub const CURRENCIES: [&str; 155] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// An IANA time zone name such as `Asia/Jakarta` or `UTC`, known to the time zone database
/// (any letter case; returned as the database spells it).
pub fn timezone(field: &str, value: &str) -> Result<String, ApiError> {
    super::local_time::canonical_name(value.trim())
        .ok_or_else(|| ApiError::invalid(field, "must be an IANA time zone such as Asia/Jakarta"))
}

/// Languages the platform writes in.
pub const LOCALES: [&str; 2] = ["en", "id"];

pub fn locale(field: &str, value: &str) -> Result<String, ApiError> {
    if LOCALES.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(ApiError::invalid(field, "must be `en` or `id`"))
    }
}

pub fn http_url(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() <= 500
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(value.to_string())
    } else {
        Err(ApiError::invalid(field, "must be an http(s) URL"))
    }
}

/// An RFC 3339 instant, as milliseconds.
pub fn instant(field: &str, value: &str) -> Result<i64, ApiError> {
    super::clock::parse_rfc3339(value).ok_or_else(|| {
        ApiError::invalid(
            field,
            "must be an RFC 3339 time such as 2027-01-31T19:00:00+07:00",
        )
    })
}

pub fn opt_instant(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value.map(|v| instant(field, v)).transpose()
}

/// A whole number within bounds.
pub fn range(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be between {min} and {max}"),
        ))
    }
}

/// Text in several languages: keys are platform locales, values checked as `text` (or
/// `multiline_text` with `Lines::Many`); blank ones are left out. At least one language is
/// required when `required`.
pub fn localized(
    field: &str,
    value: &std::collections::BTreeMap<String, String>,
    max: usize,
    lines: Lines,
    required: bool,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let mut out = std::collections::BTreeMap::new();
    for (lang, text) in value {
        if !LOCALES.contains(&lang.as_str()) {
            return Err(ApiError::invalid(
                field,
                format!("language {lang:?} is not one of en, id"),
            ));
        }
        let text = cleaned(field, text, max, lines)?;
        if !text.is_empty() {
            out.insert(lang.clone(), text);
        }
    }
    if required && out.is_empty() {
        return Err(ApiError::invalid(
            field,
            "give the text in at least one of en, id",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(email("e", "  Ana@Example.COM ").unwrap(), "ana@example.com");
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@x",
            "a b@x.com",
            "ana@x.com.",
        ] {
            assert!(email("e", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shapes() {
        assert!(currency("c", "IDR").is_ok());
        assert!(currency("c", "USD").is_ok());
        for bad in ["idr", "ZZZ", "XXX", "XAU", "ID", "IDRR", ""] {
            assert!(currency("c", bad).is_err(), "{bad}");
        }
        assert!(
            CURRENCIES.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
        assert!(
            CURRENCIES
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        assert!(timezone("t", "Asia/Jakarta").is_ok());
        assert!(timezone("t", "UTC").is_ok());
        assert!(timezone("t", "America/Argentina/Buenos_Aires").is_ok());
        assert_eq!(timezone("t", "asia/jakarta").unwrap(), "Asia/Jakarta");
        assert!(timezone("t", "Asia/Atlantis").is_err());
        assert!(timezone("t", "../etc").is_err());
        assert!(locale("l", "id").is_ok());
        assert!(locale("l", "fr").is_err());
        assert!(text("n", "  x ", 5).is_ok());
        assert!(text("n", "   ", 5).is_err());
        assert!(text("n", "abcdef", 5).is_err());
        for bad in [
            "a\nb",
            "a\tb",
            "a\u{0}b",
            "a\u{7f}",
            "a\u{85}b",
            "\u{1b}[0m",
        ] {
            assert!(text("n", bad, 50).is_err(), "{bad:?}");
        }
        assert_eq!(
            multiline_text("d", " one\r\ntwo\rthree\n\tfour ", 50).unwrap(),
            "one\ntwo\nthree\n\tfour"
        );
        assert!(multiline_text("d", "bell\u{7}", 50).is_err());
        assert_eq!(opt_text("a", Some("  "), 5).unwrap(), None);
        assert!(opt_text("a", Some("x\u{8}"), 5).is_err());
        assert!(password("p", "short").is_err());
        assert!(password("p", "long enough!").is_ok());
        assert!(http_url("w", "https://kisum.io").is_ok());
        assert!(http_url("w", "javascript:alert(1)").is_err());
    }
}
