//! SCTE-35 splice info as playlists carry it: base64 (`EXT-OATCLS-SCTE35`, the `SCTE35` attribute of
//! `EXT-X-CUE-OUT-CONT`) or hexadecimal (`0x…`, the form `EXT-X-DATERANGE`'s `SCTE35-OUT` needs).

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// `table_id` of a `splice_info_section` (SCTE 35 §9.6): the first byte of every valid one.
const SPLICE_INFO_TABLE_ID: u8 = 0xFC;

/// Standard base64 whether or not the encoder wrote the `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `splice_info_section` written as `text` (base64, or hexadecimal after `0x`), if it is one: it must
/// decode and start with the section's table id, so a vendor's free text is never taken for splice info.
pub fn section(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let bytes = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex_digits) => hex::decode(hex_digits).ok()?,
        None => BASE64.decode(text).ok()?,
    };
    (bytes.first() == Some(&SPLICE_INFO_TABLE_ID)).then_some(bytes)
}

/// `bytes` as an HLS hexadecimal-sequence: `0x` and upper-case digits.
pub fn hex_sequence(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode_upper(bytes))
}

/// `bytes` in base64, as `EXT-X-CUE-OUT-CONT`'s `SCTE35` attribute carries them.
pub fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_hex_forms_give_the_same_section() {
        let b64 = "/DAlAAAAAAAAAP/wFAUAAAPnf+/+ABH7nv4AKTLgAAEBAQAATRkqWQ==";
        let bytes = section(b64).unwrap();
        assert_eq!(
            hex_sequence(&bytes),
            "0xFC302500000000000000FFF01405000003E77FEFFE0011FB9EFE002932E00001010100004D192A59"
        );
        assert_eq!(section(&hex_sequence(&bytes)), Some(bytes.clone()));
        assert_eq!(section(b64.trim_end_matches('=')), Some(bytes));
    }

    #[test]
    fn text_that_is_not_a_splice_info_section_is_refused() {
        for text in ["", "hello", "0xZZ", "AAAA", "0x00FC", "!!!="] {
            assert_eq!(section(text), None, "{text}");
        }
    }
}
