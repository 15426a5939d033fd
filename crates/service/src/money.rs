//! Money for people to read: an integer amount of minor units and an ISO 4217 code, shown
//! in a language. `id` groups thousands with dots and puts a comma before the decimals
//! (`Rp 2.568.500`, `US$50,00`); English uses commas and a point (`Rp 2,568,500`,
//! `$50.00`). A currency the table below does not name shows its code (`CHF 1,234.56`),
//! with the number of decimals ISO 4217 gives it.

/// A currency with a symbol of its own: code, decimals, symbol in English, in Indonesian.
const SYMBOLS: &[(&str, u32, &str, &str)] = &[
    ("IDR", 0, "Rp", "Rp"),
    ("USD", 2, "$", "US$"),
    ("SGD", 2, "S$", "S$"),
    ("MYR", 2, "RM", "RM"),
    ("EUR", 2, "€", "€"),
    ("JPY", 0, "¥", "JP¥"),
    ("AUD", 2, "A$", "AU$"),
    ("GBP", 2, "£", "£"),
    ("THB", 2, "฿", "฿"),
    ("PHP", 2, "₱", "₱"),
    ("KRW", 0, "₩", "₩"),
];

/// ISO 4217 currencies without the usual two decimals.
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF", "IDR",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// How many decimals the currency's minor unit has (IDR: none, USD: 2, KWD: 3).
pub fn exponent(currency: &str) -> u32 {
    if let Some((_, exponent, _, _)) = SYMBOLS.iter().find(|(code, ..)| *code == currency) {
        *exponent
    } else if ZERO_DECIMALS.contains(&currency) {
        0
    } else if THREE_DECIMALS.contains(&currency) {
        3
    } else {
        2
    }
}

/// `amount` minor units of `currency`, as a person reading `locale` (`id`, else English)
/// writes it.
pub fn format(amount: i64, currency: &str, locale: &str) -> String {
    let indonesian = locale == "id";
    let (group, decimal) = if indonesian { ('.', ',') } else { (',', '.') };
    let exponent = exponent(currency);
    let magnitude = amount.unsigned_abs();
    let scale = 10u64.pow(exponent);
    let whole = (magnitude / scale).to_string();
    let mut number = String::with_capacity(whole.len() + whole.len() / 3 + 4);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            number.push(group);
        }
        number.push(digit);
    }
    if exponent > 0 {
        number.push(decimal);
        number.push_str(&format!(
            "{:0width$}",
            magnitude % scale,
            width = exponent as usize
        ));
    }
    let symbol = SYMBOLS
        .iter()
        .find(|(code, ..)| *code == currency)
        .map(|(_, _, en, id)| if indonesian { *id } else { *en })
        .unwrap_or(currency);
    // A symbol that ends in a letter (Rp, RM, a bare code) is kept apart from the digits.
    let space = if symbol.ends_with(|c: char| c.is_alphabetic()) {
        " "
    } else {
        ""
    };
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{symbol}{space}{number}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_as_people_write_them() {
        let cases = [
            (2_568_500, "IDR", "id", "Rp 2.568.500"),
            (2_568_500, "IDR", "en", "Rp 2,568,500"),
            (0, "IDR", "id", "Rp 0"),
            (999, "IDR", "id", "Rp 999"),
            (1_000, "IDR", "id", "Rp 1.000"),
            (-100_000, "IDR", "en", "-Rp 100,000"),
            (5_000, "USD", "en", "$50.00"),
            (5_000, "USD", "id", "US$50,00"),
            (123_456_789, "USD", "en", "$1,234,567.89"),
            (5, "USD", "en", "$0.05"),
            (1_050, "SGD", "en", "S$10.50"),
            (1_050, "MYR", "id", "RM 10,50"),
            (1_999, "EUR", "id", "€19,99"),
            (5_000, "JPY", "en", "¥5,000"),
            (5_000, "JPY", "id", "JP¥5.000"),
            (123_456, "CHF", "en", "CHF 1,234.56"),
            (123_456, "CHF", "id", "CHF 1.234,56"),
            (1_500_000, "VND", "en", "VND 1,500,000"),
            (1_234_567, "KWD", "en", "KWD 1,234.567"),
            (i64::MIN, "IDR", "en", "-Rp 9,223,372,036,854,775,808"),
        ];
        for (amount, currency, locale, expected) in cases {
            assert_eq!(
                format(amount, currency, locale),
                expected,
                "{amount} {currency} {locale}"
            );
        }
    }

    proptest! {
        /// The digits read back give the amount; groups are of three; the sign is kept.
        #[test]
        fn formatting_keeps_the_amount(amount in any::<i64>(), code in prop::sample::select(vec!["IDR", "USD", "JPY", "KWD", "CHF"]), id in any::<bool>()) {
            let locale = if id { "id" } else { "en" };
            let text = format(amount, code, locale);
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(digits.parse::<u64>().unwrap(), amount.unsigned_abs());
            prop_assert_eq!(text.starts_with('-'), amount < 0);
            let (group, decimal) = if id { ('.', ',') } else { (',', '.') };
            let number = text.trim_start_matches(|c: char| !c.is_ascii_digit());
            let whole = match exponent(code) {
                0 => number,
                n => {
                    let (whole, fraction) = number.rsplit_once(decimal).unwrap();
                    prop_assert_eq!(fraction.len(), n as usize);
                    whole
                }
            };
            let groups: Vec<&str> = whole.split(group).collect();
            prop_assert!(groups[0].len() <= 3 && !groups[0].is_empty());
            prop_assert!(groups[1..].iter().all(|g| g.len() == 3));
        }
    }
}
