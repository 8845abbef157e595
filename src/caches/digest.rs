//! Content digests (`sha256:<hex>`), validated before one ever becomes part
//! of a path.
//!
//! A digest names a file (`blobs/<alg>/<hex>` in an OCI layout, `<alg>:<hex>`
//! in a flat cache), so a digest read from `index.json` or a manifest is
//! untrusted input: `sha256:../../etc/passwd` must never reach `unlinkat`.
//! Only the algorithms registered by the OCI image spec (and sha384, which
//! Docker accepts) are supported, each with its exact lowercase hex length.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether `hex` is a valid encoded part for this algorithm.
    pub fn accepts(self, hex: &str) -> bool {
        hex.len() == self.hex_len() && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

/// A validated digest: its hex part is safe to use as a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected <algorithm>:<hex>")]
    Shape(String),
    #[error("invalid digest {0:?}: unsupported algorithm (sha256, sha384 or sha512)")]
    Algorithm(String),
    #[error("invalid digest {digest:?}: {algorithm} needs {len} lowercase hex digits")]
    Encoding {
        digest: String,
        algorithm: &'static str,
        len: usize,
    },
}

impl Digest {
    pub fn new(algorithm: Algorithm, hex: &str) -> Option<Digest> {
        algorithm.accepts(hex).then(|| Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part; only lowercase hex digits, so it is a safe file name.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Shape(s.to_string()))?;
        let algorithm =
            Algorithm::from_name(alg).ok_or_else(|| DigestError::Algorithm(s.to_string()))?;
        Digest::new(algorithm, hex).ok_or_else(|| DigestError::Encoding {
            digest: s.to_string(),
            algorithm: algorithm.name(),
            len: algorithm.hex_len(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0688de4d91f91c369354e14320b9c498ef0bf7cfffcf9a61c7ea7f269545c0f3";

    #[test]
    fn parses_and_displays() {
        let d: Digest = format!("sha256:{HEX}").parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.hex(), HEX);
        assert_eq!(d.to_string(), format!("sha256:{HEX}"));
    }

    #[test]
    fn rejects_path_tricks_and_bad_hex() {
        for bad in [
            "sha256:../../etc/passwd".to_string(),
            format!("sha256:{}/x", &HEX[..62]),
            format!("sha256:{}", HEX.to_uppercase()),
            format!("sha256:{}", &HEX[..63]),
            format!("sha256:{HEX}0"),
            format!("../sha256:{HEX}"),
            format!("md5:{HEX}"),
            HEX.to_string(),
            String::new(),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn error_names_the_digest() {
        let err = "sha256:..".parse::<Digest>().unwrap_err().to_string();
        assert!(err.contains("\"sha256:..\""), "{err}");
    }
}
