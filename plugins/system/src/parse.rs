//! Pure parsers for the kernel files the plugin reads.
//!
//! Kept free of the WIT bindings so `cargo test --target x86_64-unknown-linux-gnu
//! -p system-plugin --lib` can exercise them natively.

/// The three load averages from `/proc/loadavg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAvg {
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
}

/// Parses `/proc/loadavg`, e.g. `"0.52 0.58 0.59 1/467 12345\n"`.
///
/// Only the first three fields are used; the error quotes the content so the
/// operator can see what the file actually held.
pub fn parse_loadavg(content: &str) -> Result<LoadAvg, String> {
    let bad = || format!("unparsable /proc/loadavg content {}", quote(content));
    let mut fields = content
        .split_ascii_whitespace()
        .map(|f| f.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0));
    let mut next = || fields.next().flatten().ok_or_else(bad);
    Ok(LoadAvg {
        load1: next()?,
        load5: next()?,
        load15: next()?,
    })
}

/// Counts the CPUs in a kernel CPU list such as `/sys/devices/system/cpu/online`:
/// comma-separated single numbers and inclusive ranges, e.g. `"0-1"` → 2,
/// `"0,2-3,5"` → 4.
pub fn count_cpus(content: &str) -> Result<u32, String> {
    let bad = || format!("unparsable CPU list {}", quote(content));
    let list = content.trim();
    if list.is_empty() {
        return Err(bad());
    }
    let mut total: u32 = 0;
    for part in list.split(',') {
        let n = match part.split_once('-') {
            Some((lo, hi)) => {
                let lo: u32 = lo.parse().map_err(|_| bad())?;
                let hi: u32 = hi.parse().map_err(|_| bad())?;
                hi.checked_sub(lo).and_then(|d| d.checked_add(1)).ok_or_else(bad)?
            }
            None => {
                part.parse::<u32>().map_err(|_| bad())?;
                1
            }
        };
        total = total.checked_add(n).ok_or_else(bad)?;
    }
    Ok(total)
}

/// Quotes file content for an error message, cut short so a runaway file
/// cannot flood the log.
fn quote(content: &str) -> String {
    const MAX: usize = 120;
    match content.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &content[..cut]),
        None => format!("{content:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_typical() {
        let l = parse_loadavg("0.52 0.58 0.59 1/467 12345\n").unwrap();
        assert_eq!(
            l,
            LoadAvg {
                load1: 0.52,
                load5: 0.58,
                load15: 0.59
            }
        );
    }

    #[test]
    fn loadavg_only_three_fields() {
        let l = parse_loadavg("1 2.5 10").unwrap();
        assert_eq!((l.load1, l.load5, l.load15), (1.0, 2.5, 10.0));
    }

    #[test]
    fn loadavg_rejects_garbage_and_quotes_it() {
        for bad in [
            "",
            "\n",
            "0.1 0.2",
            "a b c",
            "0.1 x 0.3",
            "NaN 1 1",
            "-1 0 0",
            "inf 0 0",
        ] {
            let err = parse_loadavg(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn quote_truncates_long_content() {
        let err = parse_loadavg(&"x".repeat(10_000)).unwrap_err();
        assert!(err.len() < 200, "{err}");
        assert!(err.ends_with("..."), "{err}");
    }

    #[test]
    fn cpus_lists() {
        assert_eq!(count_cpus("0\n"), Ok(1));
        assert_eq!(count_cpus("0-1\n"), Ok(2));
        assert_eq!(count_cpus("0-3"), Ok(4));
        assert_eq!(count_cpus("0,2-3,5"), Ok(4));
        assert_eq!(count_cpus("0-63,128-191\n"), Ok(128));
    }

    #[test]
    fn cpus_rejects_garbage() {
        for bad in ["", "\n", "x", "0-", "-1", "3-1", "0,,1", "0-1-2", "0 1", "0-4294967295"] {
            assert!(count_cpus(bad).is_err(), "{bad:?} accepted");
        }
    }
}
