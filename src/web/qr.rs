//! QR codes for the device flow's `/device` page: the `verification_uri_complete` as an
//! inline SVG `data:` image, so a person who opened the page on a computer can carry on
//! on their phone by scanning it. Rendered by the `qrcode` crate; a `data:` URI keeps the
//! page within its CSP (`img-src 'self' data:`) with no script and no extra request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The QR code of `text` as SVG markup. Medium error correction: a phone camera reads it
/// off a screen, where damage is not the issue but glare can be.
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// The QR code of `text` as a `data:image/svg+xml;base64,...` URI for an `<img src>`.
pub fn data_uri(text: &str) -> Option<String> {
    svg(text).map(|s| format!("data:image/svg+xml;base64,{}", STANDARD.encode(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_image_and_different_text_differs() {
        let a = data_uri("https://login.example/device?user_code=ABCD-EFGH").unwrap();
        assert!(a.starts_with("data:image/svg+xml;base64,"));
        assert_eq!(
            a,
            data_uri("https://login.example/device?user_code=ABCD-EFGH").unwrap()
        );
        assert_ne!(
            a,
            data_uri("https://login.example/device?user_code=ABCD-EFGJ").unwrap()
        );
        assert!(svg("x").unwrap().contains("<svg"));
    }
}
