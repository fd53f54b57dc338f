//! The picked-versions report: zc.buildout's `[versions]` block listing what recipes installed
//! without a pin (with `# Required by:` lines for dependencies), printed and/or appended to the
//! `update-versions-file`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::abi::wire::Picked;

/// The report's lines: `[versions]`, the picked versions nobody requires by bare name, then a
/// `# Required by:` block for each of the others; names sorted.
pub fn format(reported: &[Picked]) -> Vec<String> {
    let mut versions: BTreeMap<&str, &str> = BTreeMap::new();
    let mut required: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in reported {
        versions.insert(&p.name, &p.version);
        required.entry(&p.name).or_default().extend(p.required_by.iter().map(String::as_str));
    }
    let mut output = vec!["[versions]".to_owned()];
    let mut dependencies = Vec::new();
    for (name, version) in versions {
        match required.get(name).filter(|by| !by.is_empty()) {
            Some(by) => {
                dependencies.push(String::new());
                dependencies.push("# Required by:".to_owned());
                dependencies.extend(by.iter().map(|r| format!("# {r}")));
                dependencies.push(format!("{name} = {version}"));
            }
            None => output.push(format!("{name} = {version}")),
        }
    }
    output.extend(dependencies);
    output
}

/// Appends the report to `file`; to an existing file under a dated comment instead of the
/// `[versions]` header, which it is assumed to hold already.
pub fn append(file: &Path, mut lines: Vec<String>) -> std::io::Result<()> {
    if file.exists() {
        lines.splice(0..1, [String::new(), format!("# Added by buildout at {}", timestamp(SystemTime::now()))]);
    }
    lines.push(String::new());
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(file)?;
    f.write_all(lines.join("\n").as_bytes())
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC (zc.buildout writes local time; this is a comment only).
fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picked(name: &str, version: &str, by: &[&str]) -> Picked {
        Picked { name: name.into(), version: version.into(), required_by: by.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn report_lists_dependencies_last_with_who_requires_them() {
        let cases: &[(Vec<Picked>, &str)] = &[
            (vec![picked("demo", "0.4", &[])], "[versions]\ndemo = 0.4"),
            (
                vec![picked("demoneeded", "1.1", &["demo==0.4"]), picked("demo", "0.4", &[])],
                "[versions]\ndemo = 0.4\n\n# Required by:\n# demo==0.4\ndemoneeded = 1.1",
            ),
            (
                // Two parts reporting the same distribution: one entry, requirers merged.
                vec![
                    picked("zc.lockfile", "4.0", &["ZODB==6.4"]),
                    picked("zc.lockfile", "4.0", &["ZEO==6.2"]),
                    picked("ZEO", "6.2", &[]),
                ],
                "[versions]\nZEO = 6.2\n\n# Required by:\n# ZEO==6.2\n# ZODB==6.4\nzc.lockfile = 4.0",
            ),
        ];
        for (reported, expected) in cases {
            assert_eq!(format(reported).join("\n"), *expected);
        }
    }

    #[test]
    fn appending_to_an_existing_file_dates_the_addition() {
        let dir = tempfile::tempdir().expect("temp");
        let file = dir.path().join("picked.cfg");
        append(&file, format(&[picked("demo", "0.4", &[])])).expect("first");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "[versions]\ndemo = 0.4\n");
        append(&file, format(&[picked("other", "1", &[])])).expect("second");
        let text = std::fs::read_to_string(&file).expect("read");
        let added = text.strip_prefix("[versions]\ndemo = 0.4\n\n# Added by buildout at ").expect("dated");
        assert!(added.ends_with("\nother = 1\n"), "{text:?}");
    }

    #[test]
    fn timestamps_are_civil_dates() {
        let cases = [(0, "1970-01-01 00:00:00.000000"), (951_827_696, "2000-02-29 12:34:56.000000")];
        for (secs, expected) in cases {
            assert_eq!(timestamp(UNIX_EPOCH + std::time::Duration::from_secs(secs)), expected);
        }
    }
}
