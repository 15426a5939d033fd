//! A ticket's QR code: an SVG for the ticket page, a PNG for email (mail clients strip
//! inline SVG, so email carries the code as an image attachment).

use qrcode::render::svg;
use qrcode::{Color, QrCode};

/// Pixels per module in the PNG.
pub const PNG_MODULE_PX: u32 = 8;
/// Light modules around the code, as the QR standard asks.
pub const QUIET_ZONE: u32 = 4;

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

/// The QR code of a payload as a black-and-white PNG (1 bit a pixel), with its quiet zone;
/// `None` if the payload is too long for a QR code.
pub fn png(payload: &str) -> Option<Vec<u8>> {
    let code = QrCode::new(payload.as_bytes()).ok()?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_MODULE_PX;
    let row_bytes = side.div_ceil(8) as usize;
    // Bit 1 is white: start all white and darken the dark modules.
    let mut pixels = vec![0xFFu8; row_bytes * side as usize];
    for y in 0..side {
        let my = (y / PNG_MODULE_PX).checked_sub(QUIET_ZONE);
        for x in 0..side {
            let mx = (x / PNG_MODULE_PX).checked_sub(QUIET_ZONE);
            let dark = match (mx, my) {
                (Some(mx), Some(my)) if mx < modules && my < modules => {
                    colors[(my * modules + mx) as usize] == Color::Dark
                }
                _ => false,
            };
            if dark {
                pixels[y as usize * row_bytes + (x / 8) as usize] &= !(0x80 >> (x % 8));
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    // A two-colour image compresses well at the fast setting; the default level costs
    // several times the CPU for a few hundred bytes.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_the_qr_code_with_its_quiet_zone() {
        let payload = "v1.kid.payload.signature";
        let bytes = png(payload).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(&bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let code = QrCode::new(payload.as_bytes()).unwrap();
        let modules = code.width() as u32;
        assert_eq!(info.width, (modules + 8) * PNG_MODULE_PX);
        assert_eq!(info.height, info.width);
        let dark = |x: u32, y: u32| {
            buf[y as usize * info.line_size + (x / 8) as usize] & (0x80 >> (x % 8)) == 0
        };
        let colors = code.to_colors();
        for my in 0..modules {
            for mx in 0..modules {
                let (x, y) = ((mx + 4) * PNG_MODULE_PX + 3, (my + 4) * PNG_MODULE_PX + 3);
                assert_eq!(
                    dark(x, y),
                    colors[(my * modules + mx) as usize] == Color::Dark
                );
            }
        }
        assert!(
            !dark(0, 0) && !dark(info.width - 1, info.height - 1),
            "quiet zone"
        );
        assert!(bytes.len() < 8_000, "small: {} bytes", bytes.len());
        assert_eq!(png(&"x".repeat(5000)), None, "too long for a QR code");
    }
}
