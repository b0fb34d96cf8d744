//! HTTP single byte ranges (RFC 9110 §14): `bytes=a-b`, `bytes=a-` and `bytes=-n` against a known
//! size. Several ranges, other units or bad syntax are ignored (the whole file is sent), as the
//! RFC allows; a well-formed range outside the file is unsatisfiable (416).

use std::ops::Range;

/// What to send for a `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 with the whole file.
    Full,
    /// 206 with these bytes (never empty).
    Partial(Range<u64>),
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Resolves a `Range` header value against a file of `size` bytes.
pub fn resolve(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let parse = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), parse(first), parse(last)) {
        // bytes=-n: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial(size.saturating_sub(n)..size)
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if start >= size {
                return RangeAnswer::Unsatisfiable;
            }
            match end {
                Some(end) if end < start => RangeAnswer::Full,
                Some(end) => RangeAnswer::Partial(start..end.min(size - 1) + 1),
                None => RangeAnswer::Partial(start..size),
            }
        }
        _ => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn single_ranges_resolve_against_the_size() {
        assert_eq!(resolve(None, 100), Full);
        assert_eq!(resolve(Some("bytes=0-9"), 100), Partial(0..10));
        assert_eq!(resolve(Some("bytes=90-200"), 100), Partial(90..100));
        assert_eq!(resolve(Some("bytes=95-"), 100), Partial(95..100));
        assert_eq!(resolve(Some("bytes=-10"), 100), Partial(90..100));
        assert_eq!(resolve(Some("bytes=-500"), 100), Partial(0..100));
        assert_eq!(resolve(Some("bytes=99-99"), 100), Partial(99..100));
    }

    #[test]
    fn out_of_range_is_unsatisfiable_and_odd_headers_are_ignored() {
        assert_eq!(resolve(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=5-1"), 100), Full);
        assert_eq!(resolve(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(resolve(Some("items=0-1"), 100), Full);
        assert_eq!(resolve(Some("bytes=a-b"), 100), Full);
        assert_eq!(resolve(Some("bytes=-"), 100), Full);
    }
}
