//! Points in time as engines record them (creation, last use), to the
//! second: podman's own `Created` is whole Unix seconds, and the store's
//! records carry nanoseconds, so both paths agree only at that precision.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Unix seconds, UTC. Serialized as RFC 3339 (`2026-11-30T00:53:49Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Go's zero `time.Time` (`0001-01-01T00:00:00Z`, Unix -62135596800)
    /// means "never set": no time, not a date in year 1.
    pub fn from_unix(secs: i64) -> Option<Timestamp> {
        (secs > GO_ZERO).then_some(Timestamp(secs))
    }

    /// RFC 3339 as Go marshals `time.Time` (`2026-11-30T00:53:47.634743636Z`,
    /// `...+01:00`), and Go's `String()` form that docker's `--format json`
    /// lines print (`2026-11-24 04:33:05 +0000 UTC`). Fractions are dropped
    /// (rounded down, as Go's `Unix()`).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let s = s.strip_suffix(" UTC").unwrap_or(s);
        let (date, rest) = s.split_at_checked(10)?;
        let sep = rest.chars().next()?;
        if sep != 'T' && sep != ' ' {
            return None;
        }
        let rest = &rest[1..];
        let (clock, rest) = rest.split_at_checked(8)?;
        let rest = match rest.strip_prefix('.') {
            Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
            None => rest,
        };
        let offset = parse_offset(rest.trim_start())?;
        let mut d = date.split('-');
        let mut c = clock.split(':');
        let num = |it: &mut std::str::Split<'_, char>, len: usize| -> Option<i64> {
            let p = it.next()?;
            (p.len() == len && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok())?
        };
        let (y, mo, da) = (num(&mut d, 4)?, num(&mut d, 2)?, num(&mut d, 2)?);
        let (h, mi, se) = (num(&mut c, 2)?, num(&mut c, 2)?, num(&mut c, 2)?);
        let ms =
            crate::history::parse_date(&format!("{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{se:02}Z"))?;
        Timestamp::from_unix(ms / 1000 - offset)
    }

    /// `2026-11-30T00:53:49Z`.
    pub fn rfc3339(self) -> String {
        crate::history::format_utc(self.0.saturating_mul(1000))
    }

    /// How long before `now`, as podman's CREATED column says it (go-units
    /// `HumanDuration` plus " ago"): "3 days ago", "2 weeks ago".
    pub fn ago(self, now: Timestamp) -> String {
        let secs = now.0.saturating_sub(self.0);
        if secs < 0 {
            // A clock set back, or a record from another host's clock.
            return "in the future".to_string();
        }
        format!("{} ago", human_duration(secs))
    }
}

/// Unix seconds of Go's zero `time.Time`.
const GO_ZERO: i64 = -62_135_596_800;

/// `Z`, `+01:00`, `-0500`, `+0000`: seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    if s == "Z" || s.is_empty() {
        return Some(0);
    }
    let sign = match s.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = digits[2..].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

/// go-units `HumanDuration`, which podman and docker print.
fn human_duration(secs: i64) -> String {
    let minutes = secs / 60;
    // go-units rounds hours (math.Round) but truncates the rest.
    let hours = (secs + 1800) / 3600;
    match () {
        _ if secs < 1 => "Less than a second".to_string(),
        _ if secs == 1 => "1 second".to_string(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".to_string(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", secs / 3600 / 24 / 365),
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}")))
    }
}

/// A time field as an engine printed it: anything but a string or an
/// integer (or a malformed one) only costs the CREATED cell, never the
/// list it is in.
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Text(String),
    Secs(i64),
    Other(serde::de::IgnoredAny),
}

impl Loose {
    fn time(self) -> Option<Timestamp> {
        match self {
            Loose::Text(s) => Timestamp::parse(&s),
            Loose::Secs(n) => Timestamp::from_unix(n),
            Loose::Other(_) => None,
        }
    }
}

/// For serde fields holding Go's `time.Time` (RFC 3339): the zero time,
/// null, a missing field or a malformed value are `None`.
pub fn go_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    Ok(Option::<Loose>::deserialize(d)?.and_then(Loose::time))
}

/// For serde fields holding Unix seconds (podman's `Created` in `images`
/// and `ps` JSON); as lenient as [`go_time`].
pub fn unix_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    go_time(d)
}

/// The current time; `PODMAN_STORAGE_NOW` (RFC 3339) pins it, so that
/// relative ages in tests of recorded stores do not change with the day.
pub fn now() -> Timestamp {
    std::env::var("PODMAN_STORAGE_NOW")
        .ok()
        .and_then(|s| Timestamp::parse(&s))
        .unwrap_or_else(|| Timestamp(crate::history::now_ms().div_euclid(1000)))
}

impl From<std::time::SystemTime> for Timestamp {
    fn from(t: std::time::SystemTime) -> Timestamp {
        Timestamp(match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_rfc3339_with_fraction_and_offset() {
        // 2026-11-30T00:53:49Z is 1796000029 (podman's `Created` of the same image).
        let utc = Timestamp::parse("2026-11-30T00:53:49.820230938Z").unwrap();
        assert_eq!(utc, Timestamp(1_796_000_029));
        assert_eq!(
            Timestamp::parse("2026-11-30T01:53:49.9+01:00"),
            Some(utc),
            "an offset east of UTC is subtracted"
        );
        assert_eq!(Timestamp::parse("2026-11-29T19:53:49-05:00"), Some(utc));
        assert_eq!(Timestamp::parse("2026-11-30 00:53:49 +0000 UTC"), Some(utc));
        assert_eq!(utc.rfc3339(), "2026-11-30T00:53:49Z");
    }

    #[test]
    fn go_zero_time_and_garbage_are_none() {
        assert_eq!(Timestamp::parse("0001-01-01T00:00:00Z"), None);
        assert_eq!(Timestamp::from_unix(-62_135_596_800), None);
        assert_eq!(Timestamp::parse("2 minutes ago"), None);
        assert_eq!(Timestamp::parse("2026-13-01T00:00:00Z"), None);
        assert_eq!(Timestamp::parse("2026-11-30T00:53:49Q"), None);
    }

    #[test]
    fn a_time_of_the_wrong_type_is_no_time_not_an_error() {
        #[derive(Deserialize)]
        struct Row {
            #[serde(default, deserialize_with = "go_time")]
            t: Option<Timestamp>,
        }
        let t = |json: &str| serde_json::from_str::<Row>(json).unwrap().t;
        assert_eq!(
            t(r#"{"t": "2026-11-30T00:53:49Z"}"#),
            Some(Timestamp(1_796_000_029))
        );
        assert_eq!(t(r#"{"t": 1796000029}"#), Some(Timestamp(1_796_000_029)));
        assert_eq!(t(r#"{"t": 1.5}"#), None);
        assert_eq!(t(r#"{"t": {"a": [1]}}"#), None);
        assert_eq!(t(r#"{"t": null}"#), None);
        assert_eq!(t(r#"{}"#), None);
    }

    #[test]
    fn ages_read_like_podman() {
        let now = Timestamp(1_000_000_000);
        let ago = |s: i64| Timestamp(now.0 - s).ago(now);
        assert_eq!(ago(0), "Less than a second ago");
        assert_eq!(ago(45), "45 seconds ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(3 * 60), "3 minutes ago");
        assert_eq!(ago(3600 + 1700), "About an hour ago");
        assert_eq!(ago(5 * 3600), "5 hours ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(15 * 86_400), "2 weeks ago");
        assert_eq!(ago(90 * 86_400), "3 months ago");
        assert_eq!(ago(800 * 86_400), "2 years ago");
        assert_eq!(Timestamp(now.0 + 5).ago(now), "in the future");
    }
}
