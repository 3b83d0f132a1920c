//! The identity rule for e-mail addresses: which spellings are one account, and what sign-up refuses.
//! ARCHITECTURE.md ("Who is who") has the table of real addresses; every row of it is a test.
//!
//! Two spellings are one account when their **key** is equal:
//! - the local part loses its default-ignorable characters (a pasted zero-width space, a bidi mark, a
//!   variation selector), then goes through NFKC (full-width forms, composition), Unicode *full* case
//!   folding (`Σ`, `σ` and `ς` are one letter; `ß` is `ss`) and NFKC again; a curly apostrophe (`’`, `‘`,
//!   `ʼ`), which phone keyboards type for `'`, is `'`;
//! - the domain is mapped and checked by UTS #46 (IDNA2008) and kept in its ASCII form (`xn--…`), so a
//!   domain typed in Unicode and in Punycode is one domain.
//!
//! Sign-up refuses what no one can see or tell apart: control, invisible and private-use characters,
//! spaces, a domain IDNA refuses, and an address whose *skeleton* equals an existing account's. The
//! skeleton is UTS #39's, applied to the characters outside ASCII: `pаypal` with a Cyrillic `а` is
//! `paypal`, while ASCII addresses that merely resemble each other (`rn` and `m`) stay distinct, as
//! they always have been everywhere e-mail is used.
//!
//! What is stored beside the key is the address as typed, trimmed, NFC and lower-cased: the previous
//! release stored `trim().to_lowercase()`, so an exact spelling still finds its own account when two
//! earlier accounts share a key.

use caseless::default_case_fold_str;
use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use shared::auth::limits::MAX_EMAIL_CHARS;
use unicode_normalization::UnicodeNormalization;

/// Bumped whenever [`key`] or [`skeleton`] changes, including through the Unicode data of `caseless`,
/// `unicode-normalization`, `idna` or `unicode-security` (Cargo.lock pins them; an upgrade of one is a
/// change of the rule): accounts keyed by an earlier version are keyed again at start (see
/// `store::identity_keys`).
pub(crate) const RULE_VERSION: i64 = 1;

/// An address accepted for a new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// As typed: trimmed, NFC, lower-cased. Shown to the user; never compared except as a tie-break.
    pub(crate) stored: String,
    /// What accounts are compared by.
    pub(crate) key: String,
    /// What look-alike addresses share.
    pub(crate) skeleton: String,
}

/// What a login looks an account up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lookup {
    pub(crate) key: String,
    /// The stored forms this input would have been saved as, by this release and by the previous one: the
    /// account stored exactly so wins when several share the key.
    pub(crate) spellings: [String; 2],
}

/// Why sign-up refuses an address; the message names the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("email must be 1 to {MAX_EMAIL_CHARS} characters")]
    Length,
    #[error("email must be one local part, one @ and a domain with a dot")]
    Shape,
    #[error("email contains a control character ({0})")]
    Control(CodePoint),
    #[error("email contains an invisible character ({0}); retype the address instead of pasting it")]
    Invisible(CodePoint),
    #[error("email contains a private-use character ({0}) that no one else can see as you do")]
    PrivateUse(CodePoint),
    #[error("email contains a space")]
    Space,
    #[error("email domain is not a valid domain name (IDNA)")]
    Domain,
}

/// A character, shown as `U+200B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodePoint(pub(crate) char);

impl std::fmt::Display for CodePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "U+{:04X}", u32::from(self.0))
    }
}

/// The address of a new account, or why it is refused.
pub(crate) fn for_sign_up(raw: &str) -> Result<Identity, Refusal> {
    let trimmed = within_length(raw)?;
    for c in trimmed.chars() {
        if c.is_control() {
            return Err(Refusal::Control(CodePoint(c)));
        }
        if is_default_ignorable(c) && !is_variation_selector(c) {
            return Err(Refusal::Invisible(CodePoint(c)));
        }
        if is_private_use(c) {
            return Err(Refusal::PrivateUse(CodePoint(c)));
        }
        if c.is_whitespace() {
            return Err(Refusal::Space);
        }
    }
    // Split after NFKC, so a full-width `＠` separates like `@`.
    let compatible: String = trimmed.nfkc().collect();
    let (local, domain) = compatible.split_once('@').ok_or(Refusal::Shape)?;
    if local.is_empty() || domain.contains('@') {
        return Err(Refusal::Shape);
    }
    let ascii = Uts46::new()
        .to_ascii(domain.as_bytes(), AsciiDenyList::STD3, Hyphens::Check, DnsLength::Verify)
        .map_err(|_| Refusal::Domain)?;
    if !ascii.contains('.') {
        return Err(Refusal::Shape);
    }
    let key = key(trimmed);
    Ok(Identity { stored: stored_form(trimmed), skeleton: skeleton(&key), key })
}

/// What a login looks up: any input of the right length without control characters (which no address
/// holds, and PostgreSQL cannot even compare), since an address of another shape simply matches no
/// account, and one that carries a stray invisible character still finds its account.
pub(crate) fn for_login(raw: &str) -> Result<Lookup, Refusal> {
    let trimmed = within_length(raw)?;
    if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
        return Err(Refusal::Control(CodePoint(c)));
    }
    Ok(Lookup { key: key(trimmed), spellings: [stored_form(trimmed), trimmed.to_lowercase()] })
}

/// The key and skeleton of an address already stored, whatever rule admitted it: never fails.
pub(crate) fn of_stored(stored: &str) -> (String, String) {
    let key = key(stored.trim());
    let skeleton = skeleton(&key);
    (key, skeleton)
}

fn within_length(raw: &str) -> Result<&str, Refusal> {
    let trimmed = raw.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > MAX_EMAIL_CHARS {
        return Err(Refusal::Length);
    }
    Ok(trimmed)
}

fn stored_form(trimmed: &str) -> String {
    trimmed.nfc().collect::<String>().to_lowercase()
}

/// The comparison key (see the module's documentation). Total: any string has one.
fn key(trimmed: &str) -> String {
    let visible: String = trimmed.chars().filter(|&c| !is_default_ignorable(c)).nfkc().collect();
    match visible.rsplit_once('@') {
        Some((local, domain)) => format!("{}@{}", fold(local), domain_key(domain)),
        None => fold(&visible),
    }
}

/// NFKC, full case folding, NFKC (folding can leave a string unnormalised), and apostrophes as `'`.
fn fold(text: &str) -> String {
    let compatible: String = text.nfkc().collect();
    default_case_fold_str(&compatible)
        .nfkc()
        .map(|c| if matches!(c, '\u{2018}' | '\u{2019}' | '\u{02BC}') { '\'' } else { c })
        .collect()
}

/// The domain's ASCII form by UTS #46, without the root's trailing dot; a domain it refuses (possible
/// only for accounts made before the rule) is folded like a local part, so it still has a key.
fn domain_key(domain: &str) -> String {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    match Uts46::new().to_ascii(domain.as_bytes(), AsciiDenyList::EMPTY, Hyphens::Allow, DnsLength::Ignore) {
        Ok(ascii) => ascii.into_owned(),
        Err(_) => fold(domain),
    }
}

/// UTS #39's skeleton of every character outside ASCII, the domain read in Unicode.
fn skeleton(key: &str) -> String {
    let readable = match key.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", idna::domain_to_unicode(domain).0),
        None => key.to_owned(),
    };
    let mut skeleton = String::with_capacity(readable.len());
    let mut one = [0; 4];
    for c in readable.chars() {
        if c.is_ascii() {
            skeleton.push(c);
        } else {
            skeleton.extend(unicode_security::confusable_detection::skeleton(c.encode_utf8(&mut one)));
        }
    }
    skeleton
}

/// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): characters with no glyph of
/// their own.
fn is_default_ignorable(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Variation selectors choose how the character before them looks (an emoji's colour form, which
/// phones add on their own); the key drops them, so they cannot tell two accounts apart.
fn is_variation_selector(c: char) -> bool {
    matches!(u32::from(c), 0x180B..=0x180D | 0x180F | 0xFE00..=0xFE0F | 0xE0100..=0xE01EF)
}

fn is_private_use(c: char) -> bool {
    matches!(u32::from(c), 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
}

#[cfg(test)]
mod tests;
