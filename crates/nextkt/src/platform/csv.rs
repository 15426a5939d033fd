//! CSV in (RFC 4180: quoted fields, doubled quotes, CRLF or LF) and out. Small enough that
//! a dependency is not worth it.

/// One record and the line it starts on (1-based).
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Parses CSV text; an unterminated quote is an error naming the line it opened on.
pub fn parse(text: &str) -> Result<Vec<Record>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut quote_line = 0;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                quote_line = line;
                any = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if any || !field.is_empty() {
                    fields.push(std::mem::take(&mut field));
                    records.push(Record {
                        line: record_line,
                        fields: std::mem::take(&mut fields),
                    });
                }
                any = false;
                line += 1;
                record_line = line;
            }
            _ => {
                field.push(c);
                any = true;
            }
        }
    }
    if in_quotes {
        return Err(quote_line);
    }
    if any || !field.is_empty() {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

/// One CSV field, quoted when it must be. A leading `=`, `+`, `-` or `@` is prefixed with
/// `'` so a spreadsheet does not run it as a formula.
pub fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One CSV line (CRLF-terminated).
pub fn row<S: AsRef<str>>(values: &[S]) -> String {
    let mut out = values
        .iter()
        .map(|v| field(v.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_crlf_and_blank_lines() {
        let text = "name,note\r\n\"Doe, Jane\",\"said \"\"hi\"\"\"\r\n\r\nBob,\"two\nlines\"\nEve,";
        let records = parse(text).unwrap();
        let got: Vec<(usize, Vec<String>)> =
            records.into_iter().map(|r| (r.line, r.fields)).collect();
        assert_eq!(
            got,
            vec![
                (1, vec!["name".into(), "note".into()]),
                (2, vec!["Doe, Jane".into(), "said \"hi\"".into()]),
                (4, vec!["Bob".into(), "two\nlines".into()]),
                (6, vec!["Eve".into(), "".into()]),
            ]
        );
        assert_eq!(parse("a\n\"open,b\nc").err(), Some(2));
    }

    #[test]
    fn writes_what_it_reads() {
        let line = row(&["Doe, Jane", "say \"hi\"", "=SUM(A1)", "plain"]);
        assert_eq!(line, "\"Doe, Jane\",\"say \"\"hi\"\"\",'=SUM(A1),plain\r\n");
        let back = parse(&line).unwrap();
        assert_eq!(back[0].fields[0], "Doe, Jane");
        assert_eq!(back[0].fields[1], "say \"hi\"");
    }
}
