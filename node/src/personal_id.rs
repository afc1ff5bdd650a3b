//! The 12-digit personal ID `PPPGYYNNNNNN` (see shared/reference/personal-id.md).

use std::fmt;

use dancu_cluster_config::provinces;

/// Sex encoded in the century digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSex {
    Male,
    Female,
}

/// A syntactically valid personal ID whose province code exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonalId([u8; 12]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalIdError {
    #[error("must be exactly 12 ASCII digits")]
    Format,
    #[error("province code {0} does not exist")]
    UnknownProvince(String),
}

impl PersonalId {
    pub fn parse(text: &str) -> Result<PersonalId, PersonalIdError> {
        let bytes = text.as_bytes();
        if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(PersonalIdError::Format);
        }
        let mut digits = [0u8; 12];
        digits.copy_from_slice(bytes);
        let id = PersonalId(digits);
        if provinces::province(id.province_code()).is_none() {
            return Err(PersonalIdError::UnknownProvince(id.province_code().to_string()));
        }
        Ok(id)
    }

    pub fn as_str(&self) -> &str {
        // The bytes were checked to be ASCII digits on construction.
        std::str::from_utf8(&self.0).expect("personal id is ASCII")
    }

    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }

    pub fn province_code(&self) -> &str {
        &self.as_str()[..3]
    }

    fn century_digit(&self) -> u32 {
        u32::from(self.0[3] - b'0')
    }

    /// Even digits are male, odd female.
    pub fn sex(&self) -> IdSex {
        if self.century_digit().is_multiple_of(2) {
            IdSex::Male
        } else {
            IdSex::Female
        }
    }

    /// The birth year the ID encodes: century from digit 4 (0/1 → 1900s, 2/3 → 2000s, …) plus YY.
    pub fn birth_year(&self) -> u32 {
        let century = 1900 + (self.century_digit() / 2) * 100;
        let yy = u32::from(self.0[4] - b'0') * 10 + u32::from(self.0[5] - b'0');
        century + yy
    }
}

impl fmt::Display for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(IdSex, u32), PersonalIdError>) {
        let got = PersonalId::parse(text).map(|id| (id.sex(), id.birth_year()));
        assert_eq!(got, expected, "{text}");
    }

    #[test]
    fn parses_layout() {
        check("001085012345", Ok((IdSex::Male, 1985)));
        check("079301000001", Ok((IdSex::Female, 2001)));
        check("096499000000", Ok((IdSex::Male, 2199)));
        check("00108501234", Err(PersonalIdError::Format));
        check("0010850123456", Err(PersonalIdError::Format));
        check("00108501234a", Err(PersonalIdError::Format));
        check("٠٠١٠٨٥٠١٢٣٤٥", Err(PersonalIdError::Format));
        check("003085012345", Err(PersonalIdError::UnknownProvince("003".into())));
        check("000085012345", Err(PersonalIdError::UnknownProvince("000".into())));
    }
}
