//! Captcha challenges: a distorted PNG of six lowercase hex characters,
//! drawn by the `captcha` crate.

use base64::Engine;
use captcha::filters::{Dots, Noise, Wave};
use rand::RngCore;

/// The characters a challenge uses: lowercase hex without `0`, which the
/// crate's font lacks (and which reads like `o` anyway).
const ALPHABET: [char; 15] = [
    '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
];

/// The crate draws on a 400×300 canvas and crops this view around the text.
const WIDTH: u32 = 220;
const HEIGHT: u32 = 120;

pub struct Challenge {
    /// 32 lowercase hex characters.
    pub id: String,
    pub text: String,
    /// `data:image/png;base64,...`
    pub content: String,
}

/// Draws a new challenge (CPU-bound: call from a blocking thread).
pub fn generate() -> Challenge {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let id = bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut image = captcha::Captcha::new();
    image
        .set_chars(&ALPHABET)
        .add_chars(6)
        .apply_filter(Noise::new(0.2))
        .apply_filter(Wave::new(2.0, 12.0).horizontal())
        .apply_filter(Wave::new(2.0, 10.0).vertical())
        .view(WIDTH, HEIGHT)
        .apply_filter(Dots::new(12));
    let text = image.chars_as_string();
    let png = image.as_png().expect("the captcha crate renders a PNG");
    let content = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    Challenge { id, text, content }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_png_data_urls_of_six_hex_characters() {
        let a = generate();
        let b = generate();
        assert_eq!(a.id.len(), 32);
        assert!(a.id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a.id, b.id);
        assert_eq!(a.text.chars().count(), 6);
        assert!(a.text.chars().all(|c| ALPHABET.contains(&c)), "{}", a.text);
        let png = base64::engine::general_purpose::STANDARD
            .decode(a.content.strip_prefix("data:image/png;base64,").unwrap())
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // Width and height from the IHDR chunk.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (WIDTH, HEIGHT));
    }
}
