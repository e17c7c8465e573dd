//! The `Range` request header (RFC 9110 §14.2): players seek and fetch fMP4 byte ranges. Only a single
//! `bytes` range is honoured; anything else is ignored and the whole object served, as RFC 9110 allows.

use crate::types::ByteRange;

/// What a `Range` header asks of an object of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: serve the whole object with 200.
    Whole,
    /// Serve these bytes with 206.
    Partial(ByteRange),
    /// A valid single range no byte of the object satisfies: 416.
    Unsatisfiable,
}

/// What a `Range` header asks of an object whose upload is still arriving (its size is not known yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowingRange {
    /// No usable range: stream the whole object with 200.
    Whole,
    /// A closed range `first-last`: stream it with 206 as its bytes arrive.
    Partial(ByteRange),
    /// `first-` or `-suffix`: the answer needs the final size, so wait for the upload to complete.
    NeedsSize,
}

/// Decides what `header` asks of an object still being uploaded. Closed ranges are kept as written:
/// the host fails the response if the object ends before `last`.
pub fn evaluate_growing(header: &str) -> GrowingRange {
    match parse(header) {
        None => GrowingRange::Whole,
        Some(Spec::From {
            first,
            last: Some(last),
        }) => GrowingRange::Partial(ByteRange { first, last }),
        Some(_) => GrowingRange::NeedsSize,
    }
}

/// A parsed single range spec, before it meets the object's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-length`: the last `length` bytes.
    Suffix(u64),
}

/// Decides what `header` (a `Range` value) asks of an object of `size` bytes.
///
/// Multiple ranges, other units and malformed values yield [`RangeRequest::Whole`]. The last position
/// is clamped to `size - 1`. A range starting at or past the end, a zero-length suffix, or any range of
/// an empty object is [`RangeRequest::Unsatisfiable`].
pub fn evaluate(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = parse(header) else {
        return RangeRequest::Whole;
    };
    let last_byte = match size.checked_sub(1) {
        Some(l) => l,
        None => return RangeRequest::Unsatisfiable,
    };
    match spec {
        Spec::From { first, .. } if first > last_byte => RangeRequest::Unsatisfiable,
        Spec::From { first, last } => RangeRequest::Partial(ByteRange {
            first,
            last: last.map_or(last_byte, |l| l.min(last_byte)),
        }),
        Spec::Suffix(0) => RangeRequest::Unsatisfiable,
        Spec::Suffix(len) => RangeRequest::Partial(ByteRange {
            first: size.saturating_sub(len),
            last: last_byte,
        }),
    }
}

/// Parses `bytes=<one range spec>`; `None` for other units, lists, or bad syntax.
fn parse(header: &str) -> Option<Spec> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let spec = specs.next()?;
    if specs.next().is_some() {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    if first.is_empty() {
        return Some(Spec::Suffix(digits(last)?));
    }
    let first = digits(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(digits(last)?)
    };
    if last.is_some_and(|l| l < first) {
        return None;
    }
    Some(Spec::From { first, last })
}

/// A run of ASCII digits as a number, saturating: a position past `u64::MAX` is past any object's end.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(first: u64, last: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { first, last })
    }

    #[test]
    fn ranges_of_a_growing_object() {
        assert_eq!(
            evaluate_growing("bytes=100-199"),
            GrowingRange::Partial(ByteRange {
                first: 100,
                last: 199
            })
        );
        assert_eq!(evaluate_growing("bytes=100-"), GrowingRange::NeedsSize);
        assert_eq!(evaluate_growing("bytes=-5"), GrowingRange::NeedsSize);
        assert_eq!(evaluate_growing("bytes=0-1,3-4"), GrowingRange::Whole);
    }

    #[test]
    fn closed_ranges() {
        assert_eq!(evaluate("bytes=0-0", 100), partial(0, 0));
        assert_eq!(evaluate("bytes=0-99", 100), partial(0, 99));
        assert_eq!(evaluate("bytes=10-20", 100), partial(10, 20));
        assert_eq!(evaluate("bytes=99-99", 100), partial(99, 99));
    }

    #[test]
    fn last_clamped_to_size() {
        assert_eq!(evaluate("bytes=50-1000", 100), partial(50, 99));
        assert_eq!(
            evaluate("bytes=0-99999999999999999999999", 100),
            partial(0, 99)
        );
    }

    #[test]
    fn open_ranges() {
        assert_eq!(evaluate("bytes=0-", 100), partial(0, 99));
        assert_eq!(evaluate("bytes=99-", 100), partial(99, 99));
    }

    #[test]
    fn suffix_ranges() {
        assert_eq!(evaluate("bytes=-1", 100), partial(99, 99));
        assert_eq!(evaluate("bytes=-10", 100), partial(90, 99));
        assert_eq!(evaluate("bytes=-100", 100), partial(0, 99));
        assert_eq!(evaluate("bytes=-500", 100), partial(0, 99));
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(evaluate("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(evaluate("bytes=100-200", 100), RangeRequest::Unsatisfiable);
        assert_eq!(evaluate("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(evaluate("bytes=0-", 0), RangeRequest::Unsatisfiable);
        assert_eq!(evaluate("bytes=-5", 0), RangeRequest::Unsatisfiable);
        assert_eq!(
            evaluate("bytes=99999999999999999999999-", 100),
            RangeRequest::Unsatisfiable
        );
    }

    #[test]
    fn ignored_means_whole() {
        for h in [
            "bytes=0-1,5-6",
            "bytes=5-1",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-2-3",
            "bytes=+1-2",
            "items=0-1",
            "0-1",
            "",
        ] {
            assert_eq!(evaluate(h, 100), RangeRequest::Whole, "{h}");
        }
    }

    #[test]
    fn lenient_whitespace_and_case() {
        assert_eq!(evaluate(" Bytes=0-1 ", 100), partial(0, 1));
        assert_eq!(evaluate("bytes= 0-1 ,", 100), partial(0, 1));
    }
}
