//! Durations on the command line: `10s`, `500ms`, `1m`, `1.5s`.

use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: expected a number followed by ms, s or m (e.g. 500ms, 10s, 1m)")]
pub struct DurationParseError {
    /// The text given.
    pub text: String,
}

/// Parses a non-negative number followed by a unit: `ms`, `s` or `m` (`500ms`, `10s`, `1.5s`, `1m`).
pub fn parse_duration(text: &str) -> Result<Duration, DurationParseError> {
    let error = || DurationParseError { text: text.to_string() };
    let trimmed = text.trim();
    let unit_idx = trimmed.find(|ch: char| ch.is_ascii_alphabetic()).ok_or_else(error)?;
    let (number, unit) = trimmed.split_at(unit_idx);
    let unit_s = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return Err(error()),
    };
    // `f64::from_str` also takes `inf`, `NaN` and exponents; only plain decimals are durations here.
    if number.is_empty() || !number.chars().all(|ch| ch.is_ascii_digit() || ch == '.') {
        return Err(error());
    }
    let value: f64 = number.parse().map_err(|_| error())?;
    Duration::try_from_secs_f64(value * unit_s).map_err(|_| error())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<Duration>) {
        assert_eq!(parse_duration(text).ok(), expected, "{text:?}");
    }

    #[test]
    fn durations_parse() {
        check("10s", Some(Duration::from_secs(10)));
        check("500ms", Some(Duration::from_millis(500)));
        check("1m", Some(Duration::from_secs(60)));
        check("1.5s", Some(Duration::from_millis(1500)));
        check("0s", Some(Duration::ZERO));
        check(" 2s ", Some(Duration::from_secs(2)));
    }

    #[test]
    fn bad_durations_are_refused() {
        for text in ["", "10", "s", "10h", "-1s", "1e3ms", "infs", "1.2.3s", "10 s", "10sec"] {
            check(text, None);
        }
    }
}
