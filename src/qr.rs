//! QR codes of short links, as SVG or PNG, exactly `size` pixels square.
//!
//! `qrcode` builds the module matrix (error correction M); the images are
//! drawn here because both are a few lines once the matrix exists: the SVG
//! is one path over a viewBox in modules (crisp at any scale), the PNG a
//! grey-scale bitmap written by `png`. Pure: no I/O, no HTTP.

use std::fmt::Write as _;

use qrcode::{Color, QrCode};

/// Smallest and largest `size` served, in pixels.
pub const MIN_SIZE: u32 = 64;
pub const MAX_SIZE: u32 = 2048;
pub const DEFAULT_SIZE: u32 = 256;

/// Light modules around the symbol, as the standard asks.
const QUIET_ZONE: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrFormat {
    Svg,
    Png,
}

impl QrFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "svg" => Some(Self::Svg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Svg => "image/svg+xml",
            Self::Png => "image/png",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text does not fit in a QR code: {0}")]
    TooLong(qrcode::types::QrError),
    #[error("the PNG could not be written: {0}")]
    Png(#[from] png::EncodingError),
}

/// `text` as a QR code in `format`, `size` pixels wide and high (the
/// caller keeps `size` within `MIN_SIZE..=MAX_SIZE`).
pub fn render(text: &str, format: QrFormat, size: u32) -> Result<Vec<u8>, QrError> {
    let matrix = Matrix::of(text)?;
    match format {
        QrFormat::Svg => Ok(matrix.svg(size).into_bytes()),
        QrFormat::Png => matrix.png(size),
    }
}

/// The symbol with its quiet zone: `side` x `side` modules, true = dark.
struct Matrix {
    side: usize,
    dark: Vec<bool>,
}

impl Matrix {
    fn of(text: &str) -> Result<Self, QrError> {
        let code = QrCode::new(text.as_bytes()).map_err(QrError::TooLong)?;
        let width = code.width();
        let side = width + 2 * QUIET_ZONE;
        let mut dark = vec![false; side * side];
        for (i, color) in code.to_colors().into_iter().enumerate() {
            let (y, x) = (i / width + QUIET_ZONE, i % width + QUIET_ZONE);
            dark[y * side + x] = color == Color::Dark;
        }
        Ok(Self { side, dark })
    }

    fn svg(&self, size: u32) -> String {
        let side = self.side;
        let mut path = String::with_capacity(self.dark.len() * 4);
        for (i, _) in self.dark.iter().enumerate().filter(|(_, dark)| **dark) {
            // Writing to a String cannot fail.
            let _ = write!(path, "M{} {}h1v1h-1z", i % side, i / side);
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" \
             viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
             <path fill=\"#000\" d=\"{path}\"/></svg>"
        )
    }

    /// Whole pixels per module, the symbol centred; the margin left over
    /// is light, like the quiet zone.
    fn png(&self, size: u32) -> Result<Vec<u8>, QrError> {
        let size_px = size as usize;
        let scale = (size_px / self.side).max(1);
        let offset = size_px.saturating_sub(scale * self.side) / 2;
        let mut pixels = vec![255u8; size_px * size_px];
        for y in 0..size_px {
            let Some(my) = (y.checked_sub(offset)).map(|v| v / scale) else {
                continue;
            };
            for x in 0..size_px {
                let Some(mx) = (x.checked_sub(offset)).map(|v| v / scale) else {
                    continue;
                };
                if my < self.side && mx < self.side && self.dark[my * self.side + mx] {
                    pixels[y * size_px + x] = 0;
                }
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_exactly_the_size_asked_for() {
        let svg =
            String::from_utf8(render("http://kz.example/abc123", QrFormat::Svg, 300).unwrap())
                .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("width=\"300\""));
        let png = render("http://kz.example/abc123", QrFormat::Png, 300).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // IHDR width and height, big-endian, right after the signature.
        assert_eq!(&png[16..24], &[0, 0, 1, 44, 0, 0, 1, 44]);
    }

    #[test]
    fn formats_are_named_exactly() {
        assert_eq!(QrFormat::parse("png"), Some(QrFormat::Png));
        assert_eq!(QrFormat::parse("PNG"), None);
        assert_eq!(QrFormat::Svg.content_type(), "image/svg+xml");
    }
}
