//! The ticket page as HTML: works on a phone, the QR code inline, nothing fetched.

use super::PublicTicket;
use crate::tickets::TicketStatus;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn html(ticket: &PublicTicket) -> String {
    let valid = TicketStatus::parse(&ticket.status).is_some_and(TicketStatus::is_valid);
    let seat = match (&ticket.section, &ticket.seat) {
        (Some(section), Some(seat)) => format!(
            "<p class=\"k\">Seat</p><p class=\"v\">{} · {}</p>",
            esc(section),
            esc(seat)
        ),
        _ => String::new(),
    };
    let place = match (&ticket.venue, &ticket.venue_city) {
        (Some(venue), Some(city)) => Some(format!("{venue}, {city}")),
        (Some(venue), None) => Some(venue.clone()),
        (None, city) => city.clone(),
    };
    let venue = place
        .map(|v| {
            format!(
                "<p class=\"k\">Venue</p><p class=\"v\" id=\"venue\">{}</p>",
                esc(&v)
            )
        })
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} — ticket</title><style>\
         body{{font:16px/1.4 system-ui,sans-serif;margin:0;background:#f3f3f3;color:#111}}\
         main{{max-width:420px;margin:0 auto;padding:16px}}\
         .card{{background:#fff;border-radius:12px;padding:20px;box-shadow:0 1px 4px #0002}}\
         h1{{font-size:1.3em;margin:0 0 12px}} .k{{color:#666;font-size:.8em;margin:10px 0 0;text-transform:uppercase}}\
         .v{{margin:2px 0 0;font-weight:600}} .qr svg{{width:100%;height:auto;max-width:320px;display:block;margin:16px auto}}\
         .status{{display:inline-block;padding:4px 10px;border-radius:999px;font-weight:700;font-size:.85em}}\
         .valid{{background:#d9f7e3;color:#0a6b2c}} .void{{background:#fde2e2;color:#9b1c1c}}\
         .void-qr{{opacity:.15}} code{{font-size:.7em;word-break:break-all;color:#888}}\
         .test{{background:#fff3c4;color:#7a5b00;padding:8px 12px;border-radius:8px;font-weight:700;margin-bottom:12px}}\
         </style></head><body><main><div class=\"card\">{test}\
         <h1 id=\"event\">{title}</h1><span class=\"status {status_class}\" id=\"status\">{status}</span>\
         <p class=\"k\">Holder</p><p class=\"v\" id=\"holder\">{holder}</p>\
         <p class=\"k\">When</p><p class=\"v\"><time id=\"when\" datetime=\"{starts_at}\" title=\"{tz}\">{starts}</time></p>{venue}\
         <p class=\"k\">Ticket</p><p class=\"v\" id=\"tier\">{tier}</p>{seat}\
         <div class=\"qr{qr_class}\" id=\"qr\">{qr}</div><code>{code}</code>\
         </div></main></body></html>",
        title = esc(&ticket.event_title),
        status_class = if valid { "valid" } else { "void" },
        status = if valid {
            "Valid"
        } else {
            "Void — not admitted"
        },
        holder = esc(&ticket.holder_name),
        starts_at = esc(&ticket.event_starts_at),
        starts = esc(&ticket.event_starts_local),
        tz = esc(&ticket.event_timezone),
        tier = esc(&ticket.ticket_type),
        qr_class = if valid { "" } else { " void-qr" },
        qr = crate::tickets::qr::svg(&ticket.qr_payload),
        code = esc(&ticket.code),
        test = if ticket.livemode {
            ""
        } else {
            "<p class=\"test\" id=\"test\">Test ticket: no money was paid for it</p>"
        },
    )
}
