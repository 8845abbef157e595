//! Parse and format human sizes, the way container engines print them.
//!
//! Podman and docker print sizes with docker/go-units (`size.go`):
//! `HumanSizeWithPrecision` divides by 1000 until the value is below 1000 and
//! prints `fmt.Sprintf("%.*g%s", precision, size, unit)` with the units
//! `B kB MB GB TB PB EB ZB YB`; `BytesSize` does the same in base 1024 with
//! `B KiB MiB GiB TiB PiB EiB`. So what we read is a `%g` number (which may
//! be an exponent form such as `1e+03`, and may be negative when an engine
//! subtracts wrongly) followed by an optional space and a unit.
//!
//! Which spellings we accept, and why:
//! - Unit letters are case-insensitive (`kB`, `KB`, `kb`, `MB`, `mb`), as in
//!   go-units' own parser (`FromHumanSize`, regex `(?i)...([kmgtp])?i?b?`).
//!   Old docker printed `KB`; go-units prints `kB`; both mean 1000.
//! - An `i` means base 1024 (`KiB`, `Mi`), everything else base 1000. go-units
//!   parses `KiB` as 1000 in `FromHumanSize` and `kB` as 1024 in `RAMInBytes`;
//!   we follow what the *printers* mean instead, since we read their output.
//! - A bare prefix without `B` or `i` (`12K`, `3M`) is rejected: go-units'
//!   `FromHumanSize` reads it as decimal, `RAMInBytes`, `du -h` and `ls -h` as
//!   binary. A typed error beats a guess that is 2.4% to 7% off.
//! - A bare number is bytes (go-units accepts it; every tool agrees).
//! - `N/A` is a reading, not a number; a negative size is kept as its
//!   magnitude so callers can report it without adding it.
//!
//! Arithmetic is exact decimal: the digits are multiplied by the unit as a
//! digit string, so `3.37MB` is exactly 3 370 000 and `1e+03MB` exactly
//! 1 000 000 000; a fractional byte count rounds to the nearest byte (ties up).

use thiserror::Error;

/// A size as an engine printed it: a count of bytes, or a value that is
/// reported but never added (negative sizes from engine bugs, `N/A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Bytes(u64),
    /// A negative size such as `-2768B`; holds the magnitude in bytes.
    Negative(u64),
    NotAvailable,
}

impl Reading {
    /// The byte count, if this reading is one that may be added up.
    pub fn bytes(self) -> Option<u64> {
        match self {
            Reading::Bytes(b) => Some(b),
            Reading::Negative(_) | Reading::NotAvailable => None,
        }
    }
}

/// A size with the annotations engines print after it:
/// `12B (virtual 3.36MB)` or `23.49MB (87%)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Annotated {
    pub size: Reading,
    pub virtual_size: Option<Reading>,
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    #[error("not a size: {0:?}")]
    Invalid(String),
    #[error("size out of range: {0:?}")]
    Overflow(String),
}

/// How tables print sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Units {
    /// SI units with three significant digits, like podman: `3.37 MB`.
    #[default]
    Si,
    /// Integer bytes.
    Bytes,
}

/// Error messages quote the input; a pathological input must not turn one
/// warning line into megabytes.
fn quoted(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
}

/// Parses one size as podman, docker or a binary-unit tool prints it:
/// `0B`, `3.37 MB`, `1e+03kB`, `45KiB`, `-2768B`, `N/A`.
pub fn parse(s: &str) -> Result<Reading, SizeError> {
    let invalid = || SizeError::Invalid(quoted(s));
    let t = s.trim();
    if t.eq_ignore_ascii_case("n/a") {
        return Ok(Reading::NotAvailable);
    }
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (number, rest) = Number::scan(t).ok_or_else(invalid)?;
    let multiplier = unit_multiplier(rest.trim_start()).ok_or_else(invalid)?;
    let magnitude = number
        .times_rounded(multiplier)
        .ok_or_else(|| SizeError::Overflow(quoted(s)))?;
    Ok(match (negative, magnitude) {
        // `-0B` and a negative fraction that rounds to nothing are no bug to report.
        (true, 0) | (false, _) => Reading::Bytes(magnitude),
        (true, m) => Reading::Negative(m),
    })
}

/// Parses a size that must be a plain byte count (not negative, not `N/A`).
pub fn parse_bytes(s: &str) -> Result<u64, SizeError> {
    match parse(s)? {
        Reading::Bytes(b) => Ok(b),
        _ => Err(SizeError::Invalid(quoted(s))),
    }
}

/// Parses a size with an optional parenthesised annotation:
/// `12B (virtual 3.36MB)` (podman/docker `ps --size`), `23.49MB (87%)`
/// (`system df` reclaimable), or a plain size.
pub fn parse_annotated(s: &str) -> Result<Annotated, SizeError> {
    let invalid = || SizeError::Invalid(quoted(s));
    let t = s.trim();
    let Some(open) = t.find('(') else {
        return Ok(Annotated {
            size: parse(t)?,
            virtual_size: None,
            percent: None,
        });
    };
    let size = parse(&t[..open])?;
    let inner = t[open + 1..].strip_suffix(')').ok_or_else(invalid)?.trim();
    if let Some(v) = strip_prefix_ignore_case(inner, "virtual") {
        // Require a separator so `virtual3MB` is not mistaken for a size.
        if !v.starts_with(char::is_whitespace) {
            return Err(invalid());
        }
        return Ok(Annotated {
            size,
            virtual_size: Some(parse(v)?),
            percent: None,
        });
    }
    let pct = inner.strip_suffix('%').ok_or_else(invalid)?.trim_end();
    Ok(Annotated {
        size,
        virtual_size: None,
        percent: Some(parse_percent(pct).ok_or_else(invalid)?),
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Percentages are display-only, so `f64` is fine here; we still insist on
/// the plain `-?digits[.digits]` shape so `inf` or `NaN` never get through.
fn parse_percent(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(int) && all_digits(frac)) {
        return None;
    }
    s.parse().ok()
}

/// The unit after the number; `None` for anything we do not accept (see the
/// module docs for the reasoning).
fn unit_multiplier(unit: &str) -> Option<u128> {
    let lower = unit.to_ascii_lowercase();
    let (prefix, binary) = match lower.as_str() {
        "" | "b" => return Some(1),
        u => match u.strip_suffix('b') {
            Some(p) => match p.strip_suffix('i') {
                Some(p) => (p, true),
                None => (p, false),
            },
            // `Ki`, `Mi` (Kubernetes-style) are unambiguous; bare `K` is not.
            None => (u.strip_suffix('i')?, true),
        },
    };
    let power = match prefix {
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        "e" => 6,
        "z" => 7,
        "y" => 8,
        _ => return None,
    };
    let base: u128 = if binary { 1024 } else { 1000 };
    // 1024^8 = 2^80 and 1000^8 = 10^24 both fit in u128.
    Some(base.pow(power))
}

/// A non-negative decimal number `digits × 10^exponent`, kept exactly.
#[derive(Debug)]
struct Number {
    /// Decimal digits, most significant first, no leading zeros (empty = 0).
    digits: Vec<u8>,
    exponent: i64,
}

impl Number {
    /// Reads `\d+(\.\d+)?([eE][+-]?\d+)?` from the start of `s`; returns the
    /// number and the rest. An `e` not followed by digits is left for the
    /// unit (`1EB` is one exabyte).
    fn scan(s: &str) -> Option<(Number, &str)> {
        let b = s.as_bytes();
        let run = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let int_len = run(0);
        if int_len == 0 {
            return None;
        }
        let mut pos = int_len;
        let mut frac = &s[0..0];
        if b.get(pos) == Some(&b'.') {
            let n = run(pos + 1);
            if n == 0 {
                return None;
            }
            frac = &s[pos + 1..pos + 1 + n];
            pos += 1 + n;
        }
        let mut exponent: i64 = 0;
        if matches!(b.get(pos), Some(b'e' | b'E')) {
            let sign_len = usize::from(matches!(b.get(pos + 1), Some(b'+' | b'-')));
            let n = run(pos + 1 + sign_len);
            if n > 0 {
                let text = &s[pos + 1 + sign_len..pos + 1 + sign_len + n];
                // Beyond ±10^6 every non-zero value over- or underflows
                // anyway; clamping keeps the arithmetic in range.
                let magnitude: i64 = text.parse().unwrap_or(i64::MAX).min(1_000_000);
                exponent = if b[pos + 1] == b'-' {
                    -magnitude
                } else {
                    magnitude
                };
                pos += 1 + sign_len + n;
            }
        }
        let int = &s[..int_len];
        let digits: Vec<u8> = int
            .bytes()
            .chain(frac.bytes())
            .map(|c| c - b'0')
            .skip_while(|&d| d == 0)
            .collect();
        let frac_len = i64::try_from(frac.len()).ok()?;
        Some((
            Number {
                digits,
                exponent: exponent - frac_len,
            },
            &s[pos..],
        ))
    }

    /// `self × multiplier`, rounded to the nearest integer (ties up);
    /// `None` if it does not fit in a `u64`.
    fn times_rounded(&self, multiplier: u128) -> Option<u64> {
        let digits = multiply(&self.digits, multiplier);
        if digits.is_empty() {
            return Some(0);
        }
        let len = i64::try_from(digits.len()).ok()?;
        // Number of digits before the decimal point.
        let int_len = len + self.exponent;
        if int_len > 20 {
            return None; // ≥ 10^20 > u64::MAX
        }
        if int_len < 0 {
            return Some(0); // below 0.1: rounds to 0
        }
        let int_len = int_len as usize; // 0..=20
        let mut value: u128 = 0;
        for i in 0..int_len {
            value = value * 10 + u128::from(*digits.get(i).unwrap_or(&0));
        }
        if digits.get(int_len).is_some_and(|&d| d >= 5) {
            value += 1;
        }
        u64::try_from(value).ok()
    }
}

/// Multiplies a decimal digit string by `m` (≤ 2^80), exactly.
fn multiply(digits: &[u8], m: u128) -> Vec<u8> {
    if digits.is_empty() || m == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(digits.len() + 26);
    // carry < 10·m ≤ 10·2^80, so d·m + carry stays far below u128::MAX.
    let mut carry: u128 = 0;
    for &d in digits.iter().rev() {
        let v = u128::from(d) * m + carry;
        out.push((v % 10) as u8);
        carry = v / 10;
    }
    while carry > 0 {
        out.push((carry % 10) as u8);
        carry /= 10;
    }
    out.reverse();
    out
}

const SI_UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];

/// `3.37 MB`, like `podman images`: three significant digits, base 1000.
///
/// This reproduces go-units' `HumanSizeWithPrecision(size, 3)` (float64
/// division by 1000, then `%.3g`, which rounds half to even on the binary
/// value; Rust's `{:e}` does the same) so our figures read like podman's,
/// with two changes: a space before the unit, and where go-units prints
/// `1e+03 kB` (999 500 ..= 999 999 bytes) we roll over to `1 MB`.
pub fn format(bytes: u64) -> String {
    // Lossy above 2^53, far below the three digits we print.
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < SI_UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    let (mut mantissa, mut exp) = three_digits(size);
    if exp >= 3 && unit < SI_UNITS.len() - 1 {
        // Rounded up to 1000 of this unit: that is 1 of the next one.
        // (u64::MAX is 18.4 EB, so EB itself never rounds up to 1000.)
        unit += 1;
        (mantissa, exp) = (100, 0);
    }
    format!("{} {}", plain_decimal(mantissa, exp), SI_UNITS[unit])
}

/// `x` rounded to three significant digits as `(ddd, exponent)`, meaning
/// `d.dd × 10^exponent`.
fn three_digits(x: f64) -> (u32, i32) {
    if x == 0.0 {
        return (0, 0);
    }
    let sci = format!("{x:.2e}"); // e.g. "3.37e6"
    let (m, e) = sci.split_once('e').expect("{:e} always has an exponent");
    let mantissa = m.replace('.', "").parse().expect("three digits");
    let exp = e.parse().expect("integer exponent");
    (mantissa, exp)
}

/// `%g`-style rendering of `d.dd × 10^exp` for `0 <= exp <= 2`, without
/// trailing zeros: (337, 0) → `3.37`, (123, 1) → `12.3`, (100, 2) → `100`.
fn plain_decimal(mantissa: u32, exp: i32) -> String {
    let digits = format!("{mantissa:03}");
    let point = (exp.clamp(0, 2) + 1) as usize;
    let (int, frac) = digits.split_at(point);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// A size for a table cell, in the user's chosen units.
pub fn display(bytes: u64, units: Units) -> String {
    match units {
        Units::Si => format(bytes),
        Units::Bytes => bytes.to_string(),
    }
}

/// A size inside a sentence (`would free 1.2 MB`): with `--bytes` the
/// unit is kept, since a bare number there reads as a count.
pub fn phrase(bytes: u64, units: Units) -> String {
    match units {
        Units::Si => format(bytes),
        Units::Bytes => format!("{bytes} B"),
    }
}

/// The one way byte figures are added: saturating, since sizes come from
/// engines and sparse files and can pass `u64::MAX`; a wrapped total would
/// look small and true.
pub fn sum(figures: impl IntoIterator<Item = u64>) -> u64 {
    figures.into_iter().fold(0, u64::saturating_add)
}

/// [`sum`] at the end of an iterator chain: `sizes.iter().map(..).sum_bytes()`.
pub trait SumBytes {
    fn sum_bytes(self) -> u64;
}

impl<I: Iterator<Item = u64>> SumBytes for I {
    fn sum_bytes(self) -> u64 {
        sum(self)
    }
}

/// As podman would print it: `5.37 MB`, `-2.77 kB`, `N/A`.
impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reading::Bytes(b) => f.write_str(&format(*b)),
            Reading::Negative(b) => write!(f, "-{}", format(*b)),
            Reading::NotAvailable => f.write_str("N/A"),
        }
    }
}

#[cfg(test)]
mod tests;
