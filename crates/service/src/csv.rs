//! CSV in (RFC 4180: quoted fields, doubled quotes, CRLF or LF) and out. Small enough that
//! a dependency is not worth it.

/// One record and the line it starts on (1-based).
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Why a text is not CSV, and the line where it goes wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub detail: &'static str,
}

/// Parses CSV text. Lines end in CRLF, LF or CR; blank lines are skipped; a quoted field
/// may hold commas, line breaks and doubled quotes, and must be followed by a comma or the
/// end of the line.
pub fn parse(text: &str) -> Result<Vec<Record>, Malformed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut quote_line = 0;
    let mut in_quotes = false;
    // Just after a closing quote: only a comma or a line end may follow.
    let mut closed = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    in_quotes = false;
                    closed = true;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\r' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        let ends_line = c == '\n' || c == '\r';
        if closed && c != ',' && !ends_line {
            return Err(Malformed {
                line,
                detail: "text after a closing quote (quote the whole field)",
            });
        }
        closed = false;
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
            '\n' | '\r' => {
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
        return Err(Malformed {
            line: quote_line,
            detail: "a quoted field is never closed",
        });
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

/// One CSV field, quoted when it must be. A leading `=`, `+`, `-`, `@`, tab or carriage
/// return is prefixed with `'` so a spreadsheet does not run it as a formula.
pub fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
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
        assert_eq!(parse("a\n\"open,b\nc").err().map(|e| e.line), Some(2));
        assert_eq!(
            parse("a,b\n\"Doe\" Jane,x\n").err().map(|e| e.line),
            Some(2)
        );
        // Old Mac line ends count as line ends.
        let mac = parse("name\rAda\rBob").unwrap();
        assert_eq!(
            mac.iter()
                .map(|r| (r.line, r.fields[0].as_str()))
                .collect::<Vec<_>>(),
            [(1, "name"), (2, "Ada"), (3, "Bob")]
        );
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
