//! A ticket's QR code: an SVG for the ticket page.

use qrcode::render::svg;
use qrcode::QrCode;

/// The QR code of a payload as an SVG element (empty if the payload is too long for one).
pub fn svg(payload: &str) -> String {
    match QrCode::new(payload.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color>()
            .min_dimensions(240, 240)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
        Err(_) => String::new(),
    }
}
