//! `[audit]`: the access audit (every access to citizen data recorded, replicated and verifiable) and how long its
//! records are kept.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[audit]`. WORK IN PROGRESS (issue 20): off by default until its process tests, `dancuctl audit` and the bench rows
/// land; `enabled = true` runs the local chain, the audit group and the `dancu.v1.Audit` service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Whether accesses are recorded (default false while the audit is being finished).
    pub enabled: bool,
    /// How long records are kept: a number and a unit (`s`, `m`, `h`, `d`, `y` = 365 days), e.g. `"10y"`.
    pub retention: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { enabled: false, retention: "10y".to_string() }
    }
}

impl AuditConfig {
    pub(crate) fn is_default(&self) -> bool {
        self == &AuditConfig::default()
    }

    /// The retention as a duration, or why it does not parse.
    pub fn retention(&self) -> Result<Duration, String> {
        parse_duration(&self.retention)
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let number: u64 =
        number.parse().map_err(|_| format!("expected a number and a unit (e.g. \"10y\"), found {text:?}"))?;
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "y" => 365 * 86_400,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}: use s, m, h, d or y")),
    };
    if number == 0 {
        return Err("must be more than zero".to_string());
    }
    number.checked_mul(unit_secs).map(Duration::from_secs).ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions_parse_with_their_units() {
        assert_eq!(parse_duration("10y"), Ok(Duration::from_secs(10 * 365 * 86_400)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("10").unwrap_err().contains("unit"));
        assert!(parse_duration("ten years").is_err());
    }
}
