//! Property 3 of the manifest readers: generated valid manifests (any line ending, an optional
//! BOM, quoted cells with line breaks, blank lines, columns in any order) round-trip.

use super::*;

// ---- Property 3: valid manifests round-trip. ------------------------------------------------

/// One generated row, as written.
#[derive(Debug, Clone)]
pub(super) struct Row {
    user: String,
    method: Option<String>,
    provider: Option<String>,
    require_change: Option<bool>,
    old_password: Option<String>,
    new_password: Option<String>,
}

pub(super) const COLUMNS: [&str; 6] = [
    "user",
    "method",
    "provider",
    "require_change",
    "old_password",
    "new_password",
];

/// Id-like text: what needs quoting or escaping, spaces inside, non-ASCII; never a control
/// character, `#` (the uniqueness suffix's mark) or blank.
pub(super) fn id_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9@._=,;\"' {}\\[\\]\\\\/é中ß-]{0,12}"
}

/// Secret text: anything but control characters, plus line breaks and tabs.
pub(super) fn secret_text() -> impl Strategy<Value = String> {
    "[\\PC\n\t]{0,16}"
}

pub(super) fn row(i: usize) -> impl Strategy<Value = Row> {
    (
        id_text(),
        prop::option::of(id_text()),
        prop::option::of(id_text()),
        prop::option::of(any::<bool>()),
        prop::option::of(secret_text()),
        prop::option::of(secret_text()),
    )
        .prop_map(move |(user, method, provider, rc, old, new)| Row {
            // The suffix keeps users distinct (duplicates are problems) and never `.`/`..`.
            user: format!("{}#{i}", user.trim_start()),
            method: method.map(|m| format!("m-{m}")),
            provider: provider.map(|p| format!("p-{p}")),
            require_change: rc,
            old_password: old,
            new_password: new,
        })
}

pub(super) fn rows() -> impl Strategy<Value = Vec<Row>> {
    (1usize..12).prop_flat_map(|n| (0..n).map(row).collect::<Vec<_>>())
}

/// How a manifest is laid out, beyond its rows.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    eol: &'static str,
    bom: bool,
    order: Vec<usize>,
    /// Per row: blank lines before it, leading blanks (JSON Lines), quote every cell (CSV), write
    /// absent values as null rather than leaving the key out (JSON).
    blank_lines: Vec<usize>,
    indent: Vec<String>,
    quote_all: Vec<bool>,
    nulls: Vec<bool>,
    final_eol: bool,
}

pub(super) fn layout(format: Format, n: usize) -> impl Strategy<Value = Layout> {
    // JSON counts lines by `\n` only (as serde_json and editors' JSON modes do).
    let eols: &'static [&'static str] = match format {
        Format::Csv => &["\n", "\r\n", "\r"],
        _ => &["\n", "\r\n"],
    };
    (
        prop::sample::select(eols),
        any::<bool>(),
        Just((0..COLUMNS.len()).collect::<Vec<_>>()).prop_shuffle(),
        prop::collection::vec(prop_oneof![4 => Just(0usize), 1 => 1usize..3], n),
        prop::collection::vec("[ \t]{0,3}", n),
        prop::collection::vec(any::<bool>(), n),
        prop::collection::vec(any::<bool>(), n),
        any::<bool>(),
    )
        .prop_map(
            |(eol, bom, order, blank_lines, indent, quote_all, nulls, final_eol)| Layout {
                eol,
                bom,
                order,
                blank_lines,
                indent,
                quote_all,
                nulls,
                final_eol,
            },
        )
}

/// A manifest as written: its text, rows, and where each row starts.
#[derive(Debug, Clone)]
pub(super) struct Written {
    pub(super) text: String,
    pub(super) rows: Vec<Row>,
    /// Line and (JSON) column of each row.
    pub(super) at: Vec<(u64, Option<u64>)>,
}

pub(super) fn written(format: Format) -> impl Strategy<Value = Written> {
    rows()
        .prop_flat_map(move |rows| {
            let n = rows.len();
            (Just(rows), layout(format, n))
        })
        .prop_map(move |(rows, layout)| match format {
            Format::Csv => write_csv(rows, &layout),
            Format::Json => write_json(rows, &layout),
            Format::Jsonl => write_jsonl(rows, &layout),
        })
}

/// Line breaks in `text`: `\r\n`, lone `\r`, lone `\n`.
pub(super) fn breaks(text: &str) -> u64 {
    let b = text.as_bytes();
    (0..b.len())
        .filter(|&i| b[i] == b'\n' || (b[i] == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count() as u64
}

/// Line and column (in characters, `\n` ends a line) of the end of `text`, as JSON counts.
pub(super) fn json_position(text: &str) -> (u64, u64) {
    let line = 1 + text.matches('\n').count() as u64;
    let last = text.rsplit('\n').next().unwrap_or_default();
    (line, 1 + last.chars().count() as u64)
}

pub(super) fn cell(row: &Row, column: usize) -> Option<String> {
    match column {
        0 => Some(row.user.clone()),
        1 => row.method.clone(),
        2 => row.provider.clone(),
        3 => row.require_change.map(|b| b.to_string()),
        4 => row.old_password.clone(),
        _ => row.new_password.clone(),
    }
}

pub(super) fn csv_quote(value: &str, always: bool) -> String {
    let needs = value.contains([',', '"', '\r', '\n']) || value != value.trim();
    if always || needs {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

pub(super) fn write_csv(rows: Vec<Row>, l: &Layout) -> Written {
    let mut text = String::from(if l.bom { "\u{feff}" } else { "" });
    let header: Vec<&str> = l.order.iter().map(|&c| COLUMNS[c]).collect();
    text += &header.join(",");
    let mut at = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        text += l.eol;
        text += &l.eol.repeat(l.blank_lines[i]);
        at.push((1 + breaks(&text), None));
        let cells: Vec<String> = l
            .order
            .iter()
            .map(|&c| csv_quote(&cell(row, c).unwrap_or_default(), l.quote_all[i]))
            .collect();
        text += &cells.join(",");
    }
    if l.final_eol {
        text += l.eol;
    }
    Written { text, rows, at }
}

pub(super) fn json_object(row: &Row, l: &Layout, i: usize) -> String {
    let entries: Vec<String> = l
        .order
        .iter()
        .filter_map(|&c| {
            let value = match (c, cell(row, c)) {
                (3, Some(b)) => b,
                (_, Some(s)) => serde_json::to_string(&s).unwrap_or_default(),
                (_, None) if l.nulls[i] => "null".into(),
                (_, None) => return None,
            };
            Some(format!("\"{}\": {value}", COLUMNS[c]))
        })
        .collect();
    format!("{{{}}}", entries.join(", "))
}

pub(super) fn write_json(rows: Vec<Row>, l: &Layout) -> Written {
    let mut text = format!("{}[", if l.bom { "\u{feff}" } else { "" });
    let mut at = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        text += if i == 0 { "" } else { "," };
        text += l.eol;
        text += &l.eol.repeat(l.blank_lines[i]);
        text += &l.indent[i];
        let (line, column) = json_position(text.trim_start_matches('\u{feff}'));
        at.push((line, Some(column)));
        text += &json_object(row, l, i);
    }
    text += l.eol;
    text += "]";
    if l.final_eol {
        text += l.eol;
    }
    Written { text, rows, at }
}

pub(super) fn write_jsonl(rows: Vec<Row>, l: &Layout) -> Written {
    let mut text = String::from(if l.bom { "\u{feff}" } else { "" });
    let mut at = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        text += &l.eol.repeat(l.blank_lines[i]);
        text += &l.indent[i];
        let (line, column) = json_position(text.trim_start_matches('\u{feff}'));
        at.push((line, Some(column)));
        text += &json_object(row, l, i);
        if i + 1 < rows.len() || l.final_eol {
            text += l.eol;
        }
    }
    Written { text, rows, at }
}

/// What a secret cell reads back as: CSV trims ASCII whitespace from every cell, JSON keeps
/// strings verbatim; blank is absent.
pub(super) fn secret_read(value: &Option<String>, format: Format) -> Option<String> {
    let v = value.as_deref()?;
    let v = match format {
        Format::Csv => v.trim_matches(|c: char| c.is_ascii_whitespace()),
        _ => v,
    };
    (!v.trim().is_empty()).then(|| v.to_owned())
}

/// Non-secret text reads back trimmed; blank is absent.
pub(super) fn text_read(value: &Option<String>) -> Option<String> {
    let v = value.as_deref()?.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

pub(super) fn check_roundtrip(format: Format, m: &Written) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join(file_name(format));
    std::fs::write(&path, &m.text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let plan = match validate(&path, Some(format), &rules()) {
        Ok(plan) => plan,
        Err(ManifestError::Invalid(p)) => {
            let shown: Vec<String> = p.iter().map(ToString::to_string).collect();
            return Err(TestCaseError::fail(format!("{shown:#?}")));
        }
        Err(e) => return Err(TestCaseError::fail(e.to_string())),
    };
    prop_assert_eq!(plan.rows, m.rows.len() as u64);
    let targets =
        open(&path, Some(format), &rules()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let targets: Vec<Target> = targets
        .collect::<Result<_, _>>()
        .map_err(|p| TestCaseError::fail(p.to_string()))?;
    prop_assert_eq!(targets.len(), m.rows.len());
    for (i, (t, row)) in targets.iter().zip(&m.rows).enumerate() {
        prop_assert_eq!(t.row, i as u64 + 1);
        prop_assert_eq!(&t.user, row.user.trim());
        prop_assert_eq!(t.method.clone(), text_read(&row.method).unwrap_or_default());
        let provider = text_read(&row.provider).unwrap_or_else(|| "dflt".into());
        prop_assert_eq!(&t.provider, &provider);
        prop_assert_eq!(t.require_change, row.require_change);
        let old = t
            .inputs
            .old_password
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        prop_assert_eq!(old, secret_read(&row.old_password, format));
        let new = t
            .new_password
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        prop_assert_eq!(new, secret_read(&row.new_password, format));
        prop_assert_eq!(
            (t.location.line, t.location.column),
            m.at[i],
            "row {}",
            i + 1
        );
    }
    Ok(())
}
