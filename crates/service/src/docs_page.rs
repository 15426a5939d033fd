//! `/docs`: the API reference as one self-contained HTML page rendered from the OpenAPI
//! document at start-up. No scripts, no fonts, nothing fetched from elsewhere, so it works
//! offline.

use std::fmt::Write;

use serde_json::Value;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The Markdown of a doc comment inside a line: `code`, **strong**, *emphasis*, and
/// [links](https://...), everything else escaped.
fn md_inline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let closing = |marker: &str| {
            rest[marker.len()..]
                .find(marker)
                .filter(|&end| end > 0)
                .map(|end| {
                    (
                        &rest[marker.len()..marker.len() + end],
                        marker.len() * 2 + end,
                    )
                })
        };
        let (html, used) = match c {
            '`' => match closing("`") {
                Some((code, used)) => (format!("<code>{}</code>", esc(code)), used),
                None => (esc("`"), 1),
            },
            '*' if rest.starts_with("**") => match closing("**") {
                Some((strong, used)) => (format!("<strong>{}</strong>", md_inline(strong)), used),
                None => (esc("**"), 2),
            },
            '*' => match closing("*") {
                Some((em, used)) if !em.starts_with(' ') => {
                    (format!("<em>{}</em>", md_inline(em)), used)
                }
                _ => (esc("*"), 1),
            },
            '[' => match rest.find("](").zip(rest.find(')')) {
                Some((mid, end)) if mid < end && rest[mid + 2..end].starts_with("http") => (
                    format!(
                        "<a href=\"{}\">{}</a>",
                        esc(&rest[mid + 2..end]),
                        md_inline(&rest[1..mid])
                    ),
                    end + 1,
                ),
                _ => (esc("["), 1),
            },
            other => (esc(other.encode_utf8(&mut [0; 4])), other.len_utf8()),
        };
        out.push_str(&html);
        rest = &rest[used..];
    }
    out
}

/// The Markdown of a doc comment as HTML blocks: paragraphs split by blank lines, and lists
/// of lines that start with `- `.
fn md_blocks(text: &str) -> String {
    let mut out = String::new();
    for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        let lines: Vec<&str> = block.lines().map(str::trim).collect();
        if lines.iter().all(|l| l.starts_with("- ")) {
            out.push_str("<ul>");
            for line in lines {
                let _ = write!(out, "<li>{}</li>", md_inline(&line[2..]));
            }
            out.push_str("</ul>");
        } else {
            let _ = write!(out, "<p>{}</p>", md_inline(&lines.join(" ")));
        }
    }
    out
}

fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(kind) = schema.get("type") {
        let kind = match kind {
            Value::Array(kinds) => kinds
                .iter()
                .filter_map(Value::as_str)
                .filter(|k| *k != "null")
                .collect::<Vec<_>>()
                .join(" | "),
            other => other.as_str().unwrap_or("").to_string(),
        };
        if kind == "array"
            && let Some(items) = schema.get("items")
        {
            return format!("array of {}", schema_name(items));
        }
        return esc(&kind);
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array) {
            return options
                .iter()
                .map(schema_name)
                .filter(|s| s != "null")
                .collect::<Vec<_>>()
                .join(" | ");
        }
    }
    "object".to_string()
}

pub fn render(openapi: &utoipa::openapi::OpenApi) -> String {
    let doc = serde_json::to_value(openapi).unwrap_or_default();
    let mut html = String::new();
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>\
         body{{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}}\
         code,pre{{font:13px ui-monospace,monospace;background:#f4f4f4;padding:1px 4px}}\
         .op{{border-left:4px solid #888;padding:.3em .8em;margin:1em 0}}\
         .get{{border-color:#2a7}}.post{{border-color:#27c}}.patch{{border-color:#c80}}.delete{{border-color:#c33}}\
         .m{{font-weight:bold;text-transform:uppercase;margin-right:.5em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}}\
         </style></head><body><h1>{t}</h1>{d}<p>The machine-readable description is at \
         <a href=\"/openapi.json\">/openapi.json</a>. The guide to authentication is in \
         <code>docs/api.md</code>.</p>",
        t = esc(title),
        d = md_blocks(doc["info"]["description"].as_str().unwrap_or("")),
    );

    let mut by_tag: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(methods) = item.as_object() else {
                continue;
            };
            for (method, op) in methods {
                let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
                let block = render_operation(method, path, op);
                match by_tag.iter_mut().find(|(t, _)| *t == tag) {
                    Some((_, blocks)) => blocks.push(block),
                    None => by_tag.push((tag, vec![block])),
                }
            }
        }
    }
    for (tag, blocks) in &by_tag {
        let _ = write!(html, "<h2>{}</h2>", esc(tag));
        for block in blocks {
            html.push_str(block);
        }
    }

    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        html.push_str("<h2>Schemas</h2>");
        for (name, schema) in schemas {
            let _ = write!(html, "<h3 id=\"schema-{0}\">{0}</h3>", esc(name));
            if let Some(props) = schema["properties"].as_object() {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                html.push_str("<table><tr><th>field</th><th>type</th><th>about</th></tr>");
                for (field, prop) in props {
                    let _ = write!(
                        html,
                        "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(field),
                        if required.contains(&field.as_str()) {
                            " *"
                        } else {
                            ""
                        },
                        schema_name(prop),
                        md_inline(prop["description"].as_str().unwrap_or("")),
                    );
                }
                html.push_str("</table>");
            } else {
                let _ = write!(html, "<p>{}</p>", schema_name(schema));
            }
        }
    }
    html.push_str("</body></html>");
    html
}

fn render_operation(method: &str, path: &str, op: &Value) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<div class=\"op {m}\"><p><span class=\"m\">{m}</span><code>{p}</code></p>{s}",
        m = esc(method),
        p = esc(path),
        s = md_blocks(
            op["description"]
                .as_str()
                .or(op["summary"].as_str())
                .unwrap_or("")
        ),
    );
    if let Some(params) = op["parameters"].as_array() {
        html.push_str("<p>Parameters: ");
        let list: Vec<String> = params
            .iter()
            .map(|p| {
                format!(
                    "<code>{}</code> ({}{}){}",
                    esc(p["name"].as_str().unwrap_or("")),
                    esc(p["in"].as_str().unwrap_or("")),
                    if p["required"].as_bool() == Some(true) {
                        ", required"
                    } else {
                        ""
                    },
                    p["description"]
                        .as_str()
                        .map(|d| format!(" {}", md_inline(d)))
                        .unwrap_or_default()
                )
            })
            .collect();
        html.push_str(&list.join(", "));
        html.push_str("</p>");
    }
    if let Some(schema) = op["requestBody"]["content"]["application/json"].get("schema") {
        let _ = write!(html, "<p>Body: {}</p>", schema_name(schema));
    }
    if let Some(responses) = op["responses"].as_object() {
        html.push_str("<p>Answers: ");
        let list: Vec<String> = responses
            .iter()
            .map(|(status, response)| {
                let body = response["content"]
                    .as_object()
                    .and_then(|c| c.values().next())
                    .and_then(|c| c.get("schema"))
                    .map(schema_name)
                    .unwrap_or_default();
                let about = response["description"]
                    .as_str()
                    .map(md_inline)
                    .unwrap_or_default();
                format!("<b>{}</b> {} {}", esc(status), body, about)
            })
            .collect();
        html.push_str(&list.join("; "));
        html.push_str("</p>");
    }
    html.push_str("</div>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_comment_markdown_becomes_html() {
        assert_eq!(
            md_inline("`order_not_paid`, **only** *paid* <b> [guide](https://x.example/a)"),
            "<code>order_not_paid</code>, <strong>only</strong> <em>paid</em> &lt;b&gt; \
             <a href=\"https://x.example/a\">guide</a>"
        );
        assert_eq!(md_inline("2 * 3 and `open"), "2 * 3 and `open");
        assert_eq!(
            md_blocks("First line\nsame paragraph.\n\n- one\n- `two`"),
            "<p>First line same paragraph.</p><ul><li>one</li><li><code>two</code></li></ul>"
        );
    }
}
