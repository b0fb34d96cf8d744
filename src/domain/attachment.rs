//! What kinds of file may be attached to a PQR, told from their first bytes (a client's
//! `Content-Type` or file name is not trusted): images, PDF, office documents and plain text.

/// The 415 answer to anything else: the accepted kinds, in words.
pub const ACCEPTED: &str = "an attachment must be one of: PNG, JPEG, GIF, WebP, TIFF or HEIC images; PDF; office documents \
    (DOCX/XLSX/PPTX/ODF, legacy DOC/XLS); plain UTF-8 text";

/// The media type of an attachment from its first bytes (at least 64 when the file is that long).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some("image/tiff")
    } else if head.len() >= 12
        && &head[4..8] == b"ftyp"
        && matches!(&head[8..12], b"heic" | b"heix" | b"mif1")
    {
        Some("image/heic")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else if starts(b"PK\x03\x04") {
        // DOCX, XLSX, PPTX and ODF documents are ZIP archives.
        Some("application/zip")
    } else if starts(b"\xD0\xCF\x11\xE0\xA1\xB1\x1a\xE1") {
        Some("application/x-ole-storage")
    } else if is_text(head) {
        Some("text/plain")
    } else {
        None
    }
}

/// UTF-8 without control characters other than tab, CR and LF (a multi-byte character cut at
/// the end of `head` is fine).
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    valid
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some("image/png"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), Some("application/zip"));
        assert_eq!(
            sniff("Factura de noviembre: cobro doble\n".as_bytes()),
            Some("text/plain")
        );
        // "ñ" cut in half at the end of the head is still text.
        assert_eq!(sniff(&"año".as_bytes()[..2]), Some("text/plain"));
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        assert_eq!(sniff(b"MZ\x90\0"), None);
        assert_eq!(sniff(b""), None);
    }
}
