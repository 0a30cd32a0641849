//! Break-glass exclusions: users a run must never reset (`--exclude-file`, `exclude = [...]` in
//! the config, globally and per provider).
//!
//! Invariants: an entry matches a manifest user exactly as written, except that an entry or user
//! with an `@` (a UPN or e-mail address) matches case-insensitively, as identity providers treat
//! them; entries are trimmed, blank ones and `#` comments ignored; a file that cannot be read or
//! parsed is an error naming the file and line, never an empty list.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The users a run excludes: everywhere, and per provider.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    everywhere: Entries,
    per_provider: BTreeMap<String, Entries>,
}

#[derive(Debug, Clone, Default)]
struct Entries {
    exact: HashSet<String>,
    /// Lowercased UPNs / e-mail addresses.
    folded: HashSet<String>,
}

impl Entries {
    fn add(&mut self, entry: &str) {
        let entry = entry.trim();
        if entry.is_empty() {
            return;
        }
        if entry.contains('@') {
            self.folded.insert(entry.to_lowercase());
        } else {
            self.exact.insert(entry.to_owned());
        }
    }

    fn matches(&self, user: &str) -> bool {
        self.exact.contains(user)
            || (user.contains('@') && self.folded.contains(&user.to_lowercase()))
    }

    fn len(&self) -> usize {
        self.exact.len() + self.folded.len()
    }
}

impl Exclusions {
    /// `everywhere` applies to every provider; `per_provider` to the named one only.
    pub fn new<'a>(
        everywhere: impl IntoIterator<Item = &'a String>,
        per_provider: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
    ) -> Exclusions {
        let mut all = Entries::default();
        everywhere.into_iter().for_each(|e| all.add(e));
        let mut per = BTreeMap::new();
        for (provider, entries) in per_provider {
            let mut e = Entries::default();
            entries.iter().for_each(|x| e.add(x));
            if e.len() > 0 {
                per.insert(provider.clone(), e);
            }
        }
        Exclusions {
            everywhere: all,
            per_provider: per,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.everywhere.len() == 0 && self.per_provider.is_empty()
    }

    /// Entries in all (for the plan).
    pub fn len(&self) -> usize {
        self.everywhere.len() + self.per_provider.values().map(Entries::len).sum::<usize>()
    }

    /// Whether the row of `user` at `provider` must not be sent.
    pub fn excludes(&self, provider: &str, user: &str) -> bool {
        self.everywhere.matches(user)
            || self
                .per_provider
                .get(provider)
                .is_some_and(|e| e.matches(user))
    }
}

/// Reads an exclude file: one user per line, or a CSV whose header has a `user` column; `#`
/// starts a comment line; blank lines are ignored.
pub fn read_exclude_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--exclude-file {}: cannot read it", path.display()))?;
    let lines = || {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    };
    let Some((_, first)) = lines().next() else {
        return Ok(Vec::new());
    };
    let header: Vec<&str> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let Some(column) = header.iter().position(|c| *c == "user") else {
        return Ok(lines().map(|(_, l)| l.to_owned()).collect());
    };
    let mut users = Vec::new();
    let body = lines()
        .skip(1)
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("--exclude-file {}", path.display()))?;
        match record.get(column).map(str::trim) {
            Some(user) if !user.is_empty() => users.push(user.to_owned()),
            _ => bail!(
                "--exclude-file {}: data row {} has no `user` value (column {})",
                path.display(),
                i + 1,
                column + 1
            ),
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_exactly_and_upns_case_insensitively() {
        let global = vec![
            "Break.Glass@Contoso.com".to_owned(),
            "0a1B-id".to_owned(),
            "  ".to_owned(),
        ];
        let per = BTreeMap::from([("ping".to_owned(), vec!["svc-admin".to_owned()])]);
        let x = Exclusions::new(&global, &per);
        assert_eq!(x.len(), 3);
        assert!(x.excludes("graph", "break.glass@contoso.com"));
        assert!(x.excludes("graph", "BREAK.GLASS@CONTOSO.COM"));
        assert!(x.excludes("graph", "0a1B-id"));
        assert!(!x.excludes("graph", "0a1b-id"), "ids are exact");
        assert!(!x.excludes("graph", "break.glass@contoso.co"));
        assert!(x.excludes("ping", "svc-admin"));
        assert!(!x.excludes("graph", "svc-admin"), "per provider");
        assert!(Exclusions::default().is_empty());
    }

    #[test]
    fn files_are_lines_or_a_csv_with_a_user_column() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("x.txt");
        std::fs::write(
            &plain,
            "# break-glass\nadmin1@x.test\n\n  admin2@x.test  \n",
        )
        .unwrap();
        assert_eq!(
            read_exclude_file(&plain).unwrap(),
            ["admin1@x.test", "admin2@x.test"]
        );
        let csv = dir.path().join("x.csv");
        std::fs::write(
            &csv,
            "# who\nname,user\n\"Admin, One\",a1@x.test\nTwo,a2@x.test\n",
        )
        .unwrap();
        assert_eq!(read_exclude_file(&csv).unwrap(), ["a1@x.test", "a2@x.test"]);
        std::fs::write(&csv, "name,user\nOne\n").unwrap();
        let err = read_exclude_file(&csv).unwrap_err().to_string();
        assert!(err.contains("data row 1 has no `user` value"), "{err}");
        let err = read_exclude_file(&dir.path().join("missing")).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read it"), "{err:#}");
    }
}
