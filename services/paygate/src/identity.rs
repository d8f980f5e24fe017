//! Checks on the identity and bank account a payer registers: the sandbox refuses what a real
//! payment platform would refuse, so a typo on the phone is caught at registration.

use posfee_schemas::WireError;

/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 64;

pub fn check_name(name: &str) -> Result<(), WireError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(WireError::field(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(())
}

/// A resident identity card number (GB 11643-1999): 17 digits and a check character computed
/// with weights 2^(17-i) mod 11.
pub fn check_national_id(id: &str) -> Result<(), WireError> {
    let bad = |why: &str| WireError::field("national_id", why.to_string());
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return Err(bad("must be 17 digits and a check character"));
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [u8; 11] = *b"10X98765432";
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    if b[17].to_ascii_uppercase() != expected {
        return Err(bad("check character does not match"));
    }
    Ok(())
}

/// A bank card number: 12 to 19 digits passing the Luhn check.
pub fn check_bank_account(acct: &str) -> Result<(), WireError> {
    let bad = |why: &str| WireError::field("bank_account", why.to_string());
    let b = acct.as_bytes();
    if !(12..=19).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
        return Err(bad("must be 12 to 19 digits"));
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    if !sum.is_multiple_of(10) {
        return Err(bad("fails the Luhn check"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids_carry_their_check_character() {
        // 11010519491231002X is the standard's own example.
        assert!(check_national_id("11010519491231002X").is_ok());
        assert!(check_national_id("11010519491231002x").is_ok());
        assert!(check_national_id("110105194912310021").is_err());
        assert!(check_national_id("1101051949123100").is_err());
        assert!(check_national_id("11010519491231002Y").is_err());
    }

    #[test]
    fn bank_accounts_pass_luhn() {
        assert!(check_bank_account("4111111111111111").is_ok());
        assert!(check_bank_account("4111111111111112").is_err());
        assert!(check_bank_account("41111").is_err());
        assert!(check_bank_account("4111-1111-1111-1111").is_err());
    }

    #[test]
    fn names_are_printable_and_bounded() {
        assert!(check_name("张三").is_ok());
        assert!(check_name("  ").is_err());
        assert!(check_name("a\u{0}b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
