//! The `Email` newtype: an address is parsed and normalised once, at the edge, and the rest
//! of the gateway only ever sees the validated form.

use std::fmt;

/// Longest address accepted (RFC 5321 path limit less the angle brackets).
pub const MAX_LEN: usize = 254;

/// Why a string is not an email address. Messages are shown to people as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing typed.
    #[error("Enter your email address.")]
    Empty,
    /// Over 254 characters.
    #[error("That email address is too long.")]
    TooLong,
    /// No `@`, or more than one.
    #[error("An email address has exactly one @, like name@example.com.")]
    At,
    /// Spaces or control characters inside.
    #[error("An email address cannot contain spaces or control characters.")]
    Whitespace,
    /// A Unicode noncharacter (U+FFFE, U+FDD0...): not for interchange, and U+FFFE/U+FFFF
    /// are not XML characters, so the address could not go into a SAML AuthnRequest.
    #[error("That email address contains a character that cannot be used.")]
    Noncharacter,
    /// Nothing before the `@`.
    #[error("Something is missing before the @.")]
    LocalPart,
    /// The part after `@` is not a domain name.
    #[error("The part after the @ is not a valid domain.")]
    Domain,
}

/// A syntactically valid address with its domain lower-cased and in ASCII (punycode).
///
/// The local part keeps its case: only the receiving domain may interpret it, and
/// account matching compares whole addresses case-insensitively anyway.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    full: String,
    at: usize,
}

impl Email {
    /// Trims ASCII whitespace, checks and normalises `input`. Other spaces are refused, not
    /// trimmed: `alice@contoso.com\u{a0}` from an IdP is not Alice.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if s.chars().any(|c| is_space(c) || c.is_control()) {
            return Err(EmailError::Whitespace);
        }
        if s.chars().any(is_noncharacter) {
            return Err(EmailError::Noncharacter);
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::At);
        };
        if local.is_empty() || local.len() > 64 || local.starts_with('.') || local.ends_with('.') {
            return Err(EmailError::LocalPart);
        }
        let domain = normalize_domain(domain).ok_or(EmailError::Domain)?;
        let full = format!("{local}@{domain}");
        if full.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Self {
            at: local.len(),
            full,
        })
    }

    /// The whole normalised address.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The ASCII, lower-case domain: the only input of home-realm discovery.
    pub fn domain(&self) -> &str {
        &self.full[self.at + 1..]
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        &self.full[..self.at]
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.full)
    }
}

/// Any space: Unicode White_Space (NBSP, U+3000, U+2028...) and the zero-width spaces that
/// lack the property but render as nothing (U+180E, U+200B, U+2060, U+FEFF), so an address
/// that looks like another one is refused rather than silently read as it.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{180E}' | '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

/// Unicode noncharacters: U+FDD0..U+FDEF and the last two code points of every plane.
/// Found by the `redirect_query` fuzz target: `a\u{FFFF}@contoso.com` was accepted and made
/// the AuthnRequest of a `login_hint = "subject"` tenant ill-formed XML.
pub fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

/// Lower-cases, converts IDNs to punycode (UTS 46) and checks a domain name; `None` when
/// it is not a usable internet domain (a single label such as `localhost` is refused:
/// no tenant can own it).
pub fn normalize_domain(domain: &str) -> Option<String> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return None;
    }
    // Fast path for the common case, a plain lower-case ASCII name without punycode labels:
    // UTS 46 would return it unchanged, so skip its mapping tables (discovery's hot path and
    // the load of million-domain tenant maps).
    let plain = domain
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !domain.starts_with("xn--")
        && !domain.contains(".xn--");
    let ascii = if plain {
        domain.to_string()
    } else {
        idna::domain_to_ascii(domain).ok()?
    };
    if ascii.len() > 253 || !ascii.contains('.') {
        return None;
    }
    let labels_ok = ascii.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    labels_ok.then_some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        let e = Email::parse("  Alice.Smith@Contoso.COM ").unwrap();
        assert_eq!(e.as_str(), "Alice.Smith@contoso.com");
        assert_eq!(e.domain(), "contoso.com");
        assert_eq!(e.local_part(), "Alice.Smith");
    }

    #[test]
    fn idn_to_punycode() {
        let e = Email::parse("jörg@bücher.example").unwrap();
        assert_eq!(e.domain(), "xn--bcher-kva.example");
        let e = Email::parse("a@BÜCHER.example.").unwrap();
        assert_eq!(e.domain(), "xn--bcher-kva.example");
    }

    #[test]
    fn rejects_non_addresses() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("alice", EmailError::At),
            ("a@b@c.com", EmailError::At),
            ("al ice@contoso.com", EmailError::Whitespace),
            ("alice@contoso.com\u{0}", EmailError::Whitespace),
            ("a\u{7}b@contoso.com", EmailError::Whitespace),
            ("alice@contoso.com\u{a0}", EmailError::Whitespace),
            ("\u{3000}alice@contoso.com", EmailError::Whitespace),
            ("alice\u{200B}@contoso.com", EmailError::Whitespace),
            ("alice@contoso.com\u{2028}", EmailError::Whitespace),
            ("a\u{FFFF}@contoso.com", EmailError::Noncharacter),
            ("a\u{FDD0}@contoso.com", EmailError::Noncharacter),
            ("a@contoso\u{10FFFE}.com", EmailError::Noncharacter),
            ("@contoso.com", EmailError::LocalPart),
            ("alice@", EmailError::Domain),
            ("alice@localhost", EmailError::Domain),
            ("alice@-bad.com", EmailError::Domain),
            ("alice@bad..com", EmailError::Domain),
            ("alice@exa_mple.com", EmailError::Domain),
        ];
        for (input, want) in cases {
            assert_eq!(Email::parse(input), Err(want), "{input:?}");
        }
        let long = format!("{}@contoso.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}
