use super::*;

/// One row of the identity table in ARCHITECTURE.md.
#[derive(Debug)]
struct Row {
    address: String,
    verdict: String,
    key: String,
}

/// The cell's text between backticks, with `\u{…}` escapes read (the table cannot show an invisible
/// character otherwise).
fn code(cell: &str) -> String {
    let inner = cell.trim().strip_prefix('`').and_then(|c| c.strip_suffix('`')).unwrap_or(cell.trim());
    let mut out = String::new();
    let mut rest = inner;
    while let Some(at) = rest.find("\\u{") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').expect("an escape ends with }") + at;
        let hex = &rest[at + 3..end];
        out.push(char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn table() -> Vec<Row> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../ARCHITECTURE.md")).unwrap();
    let section = doc.split("## Who is who").nth(1).expect("ARCHITECTURE.md has a \"Who is who\" section");
    let section = section.split("\n## ").next().unwrap();
    let rows: Vec<Row> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 4, "a row has four cells: {line}");
            Row { address: code(cells[0]), verdict: cells[1].trim().to_owned(), key: code(cells[3]) }
        })
        .collect();
    assert!(rows.len() >= 20, "the table has its rows ({})", rows.len());
    rows
}

fn refusal_named(verdict: &str) -> Option<fn(&Refusal) -> bool> {
    Some(match verdict {
        "refused: control" => |r| matches!(r, Refusal::Control(_)),
        "refused: invisible" => |r| matches!(r, Refusal::Invisible(_)),
        "refused: private use" => |r| matches!(r, Refusal::PrivateUse(_)),
        "refused: space" => |r| matches!(r, Refusal::Space),
        "refused: domain" => |r| matches!(r, Refusal::Domain),
        "refused: shape" => |r| matches!(r, Refusal::Shape),
        "refused: length" => |r| matches!(r, Refusal::Length),
        _ => return None,
    })
}

#[test]
fn every_row_of_the_identity_table_holds() {
    for row in table() {
        let Row { address, verdict, key } = &row;
        if key == "none" {
            assert!(for_login(address).is_err(), "{row:?}: a login looks it up");
            assert!(for_sign_up(address).is_err(), "{row:?}: sign-up accepts it");
            continue;
        }
        let looked_up = for_login(address).unwrap_or_else(|e| panic!("{row:?}: login refuses it: {e}"));
        assert_eq!(&looked_up.key, key, "{row:?}: the key at login");
        if let Some(is_it) = refusal_named(verdict) {
            let refusal = for_sign_up(address).expect_err(&format!("{row:?}: sign-up accepts it"));
            assert!(is_it(&refusal), "{row:?}: refused for another reason: {refusal}");
            continue;
        }
        let identity = for_sign_up(address).unwrap_or_else(|e| panic!("{row:?}: sign-up refuses it: {e}"));
        assert_eq!(&identity.key, key, "{row:?}: the key at sign-up");
        assert_eq!(of_stored(&identity.stored).0, *key, "{row:?}: the stored form keeps its key");
        if let Some(other) = verdict.strip_prefix("refused: looks like ") {
            let other = for_sign_up(&code(other)).unwrap();
            assert_ne!(identity.key, other.key, "{row:?}: a look-alike is another key");
            assert_eq!(identity.skeleton, other.skeleton, "{row:?}: but the same skeleton");
        } else if let Some(other) = verdict.strip_prefix("accepted beside ") {
            let other = for_sign_up(&code(other)).unwrap();
            assert_ne!(identity.skeleton, other.skeleton, "{row:?}: not a look-alike");
        } else {
            assert_eq!(verdict, "accepted", "{row:?}: an unknown verdict");
        }
    }
}

#[test]
fn refusals_name_the_character() {
    let refusal = for_sign_up("ann\u{200B}@example.com").unwrap_err();
    assert_eq!(
        refusal.to_string(),
        "email contains an invisible character (U+200B); retype the address instead of pasting it"
    );
    assert!(for_sign_up("ann\u{1}@example.com").unwrap_err().to_string().contains("U+0001"));
}

#[test]
fn a_key_is_its_own_key() {
    // Keying twice changes nothing, so the migration and a later login agree on every stored row.
    for row in table().into_iter().filter(|row| row.key != "none") {
        let once = for_login(&row.address).unwrap().key;
        assert_eq!(of_stored(&once).0, once, "{row:?}");
    }
}

#[test]
fn login_accepts_any_shape_but_not_any_length() {
    assert!(for_login("no-at-sign").is_ok());
    assert!(matches!(for_login("ann\u{0}@example.com"), Err(Refusal::Control(_))), "NUL reaches no database");
    assert_eq!(for_login("ann@example.com.").unwrap().key, "ann@example.com", "the root's dot");
    assert_eq!(for_login("   "), Err(Refusal::Length));
    assert_eq!(for_login(&"a".repeat(MAX_EMAIL_CHARS + 1)), Err(Refusal::Length));
}

#[test]
fn the_exact_spellings_include_what_the_previous_release_stored() {
    let lookup = for_login(" Jose\u{301}@Example.com ").unwrap();
    assert!(lookup.spellings.contains(&"jose\u{301}@example.com".to_owned()), "{lookup:?}");
    assert!(lookup.spellings.contains(&"josé@example.com".to_owned()), "{lookup:?}");
}
