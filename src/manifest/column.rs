//! The manifest's column names (CSV header cells / JSON object keys) and the typo hints given for
//! unknown ones.
//!
//! Invariant: [`Column`] and [`COLUMNS`] list the same names in the same order, so
//! `COLUMNS[col as usize]` is the name of `col` (checked by a unit test).

/// The known column names. Anything else is a problem (typo protection).
pub(crate) const COLUMNS: &[&str] = &[
    "user",
    "method",
    "provider",
    "require_change",
    "old_password",
    "confirmation_token",
    "email_auth_code",
    "password_reset_code",
    "request_code",
    "verification_code",
    "new_password",
];

/// One known column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    User,
    Method,
    Provider,
    RequireChange,
    OldPassword,
    ConfirmationToken,
    EmailAuthCode,
    PasswordResetCode,
    RequestCode,
    VerificationCode,
    NewPassword,
}

/// Every column, in [`COLUMNS`] order.
const ALL: [Column; 11] = [
    Column::User,
    Column::Method,
    Column::Provider,
    Column::RequireChange,
    Column::OldPassword,
    Column::ConfirmationToken,
    Column::EmailAuthCode,
    Column::PasswordResetCode,
    Column::RequestCode,
    Column::VerificationCode,
    Column::NewPassword,
];

impl Column {
    /// The column of an exact (case-sensitive) name, as written in a header or key.
    pub(crate) fn from_name(name: &str) -> Option<Column> {
        ALL.iter().copied().find(|c| c.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        COLUMNS[self as usize]
    }

    /// Secret columns authorise a reset or are the new password: their values go straight into
    /// a `SecretString` and never into a message.
    pub(crate) fn is_secret(self) -> bool {
        !matches!(
            self,
            Column::User | Column::Method | Column::Provider | Column::RequireChange
        )
    }
}

/// The hint for an unknown column `name`: "did you mean `x`?" when a known column is a likely typo
/// of it, else the list of known columns.
pub(crate) fn unknown_column_hint(name: &str) -> String {
    if name.contains('\u{feff}') {
        return "the name holds a byte-order mark (U+FEFF), an invisible character some editors \
                add: save the file as UTF-8 without BOM (or with one BOM at the very start)"
            .into();
    }
    match closest(name, COLUMNS.iter().copied()) {
        Some(known) => format!("did you mean `{known}`?"),
        None => format!("known columns are {}", COLUMNS.join(", ")),
    }
}

/// A column name from the input as a message shows it: invisible and control characters
/// escaped (`\u{feff}`), cut to 40 characters, so that a garbage header cannot flood or garble
/// the terminal.
pub(crate) fn shown(name: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = name
        .chars()
        .take(MAX)
        .flat_map(|c| {
            let plain = !c.is_control() && c != '\u{feff}';
            let escaped = (!plain).then(|| c.escape_unicode().to_string());
            escaped
                .unwrap_or_else(|| c.to_string())
                .chars()
                .collect::<Vec<_>>()
        })
        .collect();
    if name.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// The candidate within a small edit distance of `name` (case-insensitive), if any: at most 2
/// edits, or a third of the name's length for long names.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let len = lower.chars().count();
    let limit = 2.max(len / 3);
    candidates
        // The distance is at least the difference in length: skip hopeless candidates cheaply
        // (a megabyte-long garbage key must not cost a megabyte-squared comparison).
        .filter(|c| len.abs_diff(c.chars().count()) <= limit)
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions, so that
/// `require_chnage` is one edit from `require_change`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rolling rows: two back (for transpositions), previous, current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_order_matches_names() {
        assert_eq!(ALL.len(), COLUMNS.len());
        for (i, c) in ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
            assert_eq!(Column::from_name(COLUMNS[i]), Some(*c));
        }
        assert_eq!(Column::from_name("User"), None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("usr", "user"), 1);
        assert_eq!(edit_distance("require_chnage", "require_change"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn hints() {
        assert_eq!(unknown_column_hint("usr"), "did you mean `user`?");
        assert_eq!(unknown_column_hint("User"), "did you mean `user`?");
        assert_eq!(
            unknown_column_hint("require_chnage"),
            "did you mean `require_change`?"
        );
        assert!(unknown_column_hint("department").starts_with("known columns are user, method"));
        assert!(unknown_column_hint("\u{feff}user").contains("byte-order mark (U+FEFF)"));
    }

    #[test]
    fn shown_names_are_escaped_and_cut() {
        assert_eq!(shown("usr"), "usr");
        assert_eq!(shown("\u{feff}user"), "\\u{feff}user");
        assert_eq!(shown("a\nb\u{0}"), "a\\u{a}b\\u{0}");
        assert_eq!(shown(&"é".repeat(50)), format!("{}…", "é".repeat(40)));
    }
}
