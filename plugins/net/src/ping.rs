//! Pure logic of `net.ping`: checking the argument, turning the host's echo
//! statistics into Telegraf-named fields, and reading the host's errors.
//!
//! Kept free of the WIT bindings so `cargo test --target x86_64-unknown-linux-gnu
//! -p net-plugin --lib` exercises it natively.

use std::net::IpAddr;

/// Echo requests per sample. Three gives a loss figure and a spread while the
/// worst case (nothing answers: 2 × interval + 3 × timeout ≈ 3.4 s if the host
/// waits for each reply in turn) stays inside the host's default 5 s call deadline.
pub const COUNT: u32 = 3;
/// How long to wait for each reply: a LAN or a good WAN answers in well under a second.
pub const TIMEOUT_MS: u32 = 1000;
/// Pause between two requests (Linux `ping` refuses less than 200 ms to non-root users).
pub const INTERVAL_MS: u32 = 200;

/// Longest host name DNS allows (253 characters in text form).
const MAX_NAME_LEN: usize = 253;

/// What the host's `ping.echo` answered, and the field values built from it:
/// the SDK's own types, which are plain Rust natively.
pub use datalogger_sdk::ping::Stats;
pub use datalogger_sdk::Value;

/// `result_code` values, as Telegraf's ping input reports them.
pub const RESULT_OK: i64 = 0;
/// No reply came back, or the host name does not resolve.
pub const RESULT_NO_REPLY: i64 = 1;
/// Nothing could be sent.
pub const RESULT_ERROR: i64 = 2;

/// Checks the item's `arg`: a host name or an IP address (IPv6 with an
/// optional `%zone`), surrounding blanks ignored. Returns the trimmed target.
pub fn target(arg: Option<&str>) -> Result<&str, String> {
    const EXPECTED: &str = "a host name or IP address to ping, e.g. \"192.168.1.1\" or \"router.lan\"";
    let target = arg.map(str::trim).unwrap_or("");
    if target.is_empty() {
        return Err(format!("net.ping needs an arg: {EXPECTED}"));
    }
    if is_ip_literal(target) {
        return Ok(target);
    }
    let name_ok = target.len() <= MAX_NAME_LEN
        && !target.starts_with(['.', '-'])
        && !target.contains("..")
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if name_ok {
        Ok(target)
    } else {
        Err(format!(
            "arg {target:?} is not a host name or IP address; expected {EXPECTED}"
        ))
    }
}

/// `192.168.1.1`, `::1` or `fe80::1%eth0`.
fn is_ip_literal(target: &str) -> bool {
    let addr = match target.split_once('%') {
        Some((addr, zone)) if !zone.is_empty() && addr.contains(':') => addr,
        Some(_) => return false,
        None => target,
    };
    addr.parse::<IpAddr>().is_ok()
}

/// The fields of one ping sample, primary value first:
///
/// * replies came back: `average_response_ms`, `minimum_response_ms`,
///   `maximum_response_ms`, `standard_deviation_ms`, then the counts, loss and
///   `result_code` 0;
/// * nothing answered: `percent_packet_loss` (100.0), the counts and
///   `result_code` 1, and no timing fields at all (a made-up 0 ms would read
///   as a perfect link);
/// * nothing was sent: `result_code` 2 and the counts (loss is undefined).
///
/// Timing values that are not finite or negative are left out rather than stored.
pub fn fields(stats: &Stats) -> Vec<(&'static str, Value)> {
    let counts = [
        ("packets_transmitted", Value::Int(stats.transmitted.into())),
        ("packets_received", Value::Int(stats.received.into())),
    ];
    if stats.transmitted == 0 {
        let mut fields = vec![("result_code", Value::Int(RESULT_ERROR))];
        fields.extend(counts);
        return fields;
    }
    // Duplicated replies can make received exceed transmitted; loss is never negative.
    let lost = stats.transmitted.saturating_sub(stats.received);
    let loss = (
        "percent_packet_loss",
        Value::Float(lost as f64 * 100.0 / stats.transmitted as f64),
    );
    let result_code = if stats.received > 0 { RESULT_OK } else { RESULT_NO_REPLY };

    let timing: Vec<(&'static str, Value)> = if stats.received > 0 {
        [
            ("average_response_ms", stats.avg_ms),
            ("minimum_response_ms", stats.min_ms),
            ("maximum_response_ms", stats.max_ms),
            ("standard_deviation_ms", stats.stddev_ms),
        ]
        .into_iter()
        .filter_map(|(name, v)| {
            v.filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| (name, Value::Float(v)))
        })
        .collect()
    } else {
        Vec::new()
    };

    let mut fields = Vec::with_capacity(8);
    if timing.first().is_some_and(|(name, _)| *name == "average_response_ms") {
        fields.extend(timing);
        fields.extend(counts);
        fields.push(loss);
    } else {
        // No average: the loss is the primary value.
        fields.push(loss);
        fields.extend(timing);
        fields.extend(counts);
    }
    fields.push(("result_code", Value::Int(result_code)));
    fields
}

/// The fields for a host name that does not resolve: only `result_code` 1, as
/// Telegraf reports it. Nothing was sent, so there are no counts and no loss.
pub fn unknown_host_fields() -> Vec<(&'static str, Value)> {
    vec![("result_code", Value::Int(RESULT_NO_REPLY))]
}

/// Whether the host's `unavailable`/`invalid` message for `target` says that
/// the name did not resolve (as opposed to, say, ICMP not being permitted).
/// An IP address never "does not resolve".
pub fn is_unresolved_name(target: &str, message: &str) -> bool {
    if is_ip_literal(target) {
        return false;
    }
    let message = message.to_ascii_lowercase();
    [
        "resolve",
        "resolution",
        "lookup",
        "look up",
        "not known",
        "unknown host",
        "no such host",
        "nodename",
        "no address",
        "name error",
        "nxdomain",
        "dns",
    ]
    .iter()
    .any(|k| message.contains(k))
}

/// A hint appended to the host's message when the logger may not send ICMP,
/// unless the host's message already says how to fix it.
pub fn permission_hint(message: &str) -> Option<&'static str> {
    let lower = message.to_ascii_lowercase();
    let denied = [
        "permission denied",
        "not permitted",
        "os error 1)",
        "os error 13)",
        "eperm",
        "eacces",
    ]
    .iter()
    .any(|k| lower.contains(k));
    (denied && !lower.contains("ping_group_range") && !lower.contains("cap_net_raw")).then_some(
        "the logger may not send ICMP: allow unprivileged ping with \
         `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"` (persist it in /etc/sysctl.d/) \
         or give the binary `setcap cap_net_raw+ep $(which datalogger)`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(fields: &[(&'static str, Value)]) -> Vec<&'static str> {
        fields.iter().map(|(n, _)| *n).collect()
    }

    fn get(fields: &[(&'static str, Value)], name: &str) -> Option<Value> {
        fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn all_replies_average_first() {
        let f = fields(&Stats {
            transmitted: 3,
            received: 3,
            min_ms: Some(0.05),
            avg_ms: Some(0.07),
            max_ms: Some(0.1),
            stddev_ms: Some(0.02),
        });
        assert_eq!(
            names(&f),
            [
                "average_response_ms",
                "minimum_response_ms",
                "maximum_response_ms",
                "standard_deviation_ms",
                "packets_transmitted",
                "packets_received",
                "percent_packet_loss",
                "result_code"
            ]
        );
        assert_eq!(f[0].1, Value::Float(0.07));
        assert_eq!(get(&f, "minimum_response_ms"), Some(Value::Float(0.05)));
        assert_eq!(get(&f, "maximum_response_ms"), Some(Value::Float(0.1)));
        assert_eq!(get(&f, "standard_deviation_ms"), Some(Value::Float(0.02)));
        assert_eq!(get(&f, "packets_transmitted"), Some(Value::Int(3)));
        assert_eq!(get(&f, "packets_received"), Some(Value::Int(3)));
        assert_eq!(get(&f, "percent_packet_loss"), Some(Value::Float(0.0)));
        assert_eq!(get(&f, "result_code"), Some(Value::Int(0)));
    }

    #[test]
    fn partial_loss_is_a_percentage_and_still_ok() {
        let f = fields(&Stats {
            transmitted: 3,
            received: 1,
            min_ms: Some(12.0),
            avg_ms: Some(12.0),
            max_ms: Some(12.0),
            stddev_ms: Some(0.0),
        });
        assert_eq!(f[0], ("average_response_ms", Value::Float(12.0)));
        match get(&f, "percent_packet_loss") {
            Some(Value::Float(v)) => assert!((v - 200.0 / 3.0).abs() < 1e-9, "{v}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(get(&f, "result_code"), Some(Value::Int(RESULT_OK)));
    }

    #[test]
    fn no_reply_has_no_timing_fields_and_loss_first() {
        let f = fields(&Stats {
            transmitted: 3,
            received: 0,
            ..Stats::default()
        });
        assert_eq!(
            f,
            vec![
                ("percent_packet_loss", Value::Float(100.0)),
                ("packets_transmitted", Value::Int(3)),
                ("packets_received", Value::Int(0)),
                ("result_code", Value::Int(RESULT_NO_REPLY)),
            ]
        );
    }

    #[test]
    fn timing_values_are_ignored_when_nothing_came_back() {
        // A host that filled in zeros anyway must not produce "0 ms".
        let f = fields(&Stats {
            transmitted: 3,
            received: 0,
            min_ms: Some(0.0),
            avg_ms: Some(0.0),
            max_ms: Some(0.0),
            stddev_ms: Some(0.0),
        });
        assert!(names(&f).iter().all(|n| !n.ends_with("_ms")), "{f:?}");
        assert_eq!(f[0].0, "percent_packet_loss");
    }

    #[test]
    fn nothing_sent_is_result_code_2() {
        let f = fields(&Stats::default());
        assert_eq!(
            f,
            vec![
                ("result_code", Value::Int(RESULT_ERROR)),
                ("packets_transmitted", Value::Int(0)),
                ("packets_received", Value::Int(0)),
            ]
        );
    }

    #[test]
    fn duplicates_never_give_negative_loss() {
        let f = fields(&Stats {
            transmitted: 3,
            received: 4,
            min_ms: Some(1.0),
            avg_ms: Some(2.0),
            max_ms: Some(3.0),
            stddev_ms: Some(0.5),
        });
        assert_eq!(get(&f, "percent_packet_loss"), Some(Value::Float(0.0)));
        assert_eq!(get(&f, "packets_received"), Some(Value::Int(4)));
    }

    #[test]
    fn bad_timing_values_are_skipped_and_loss_leads_without_an_average() {
        let f = fields(&Stats {
            transmitted: 3,
            received: 2,
            min_ms: Some(-1.0),
            avg_ms: Some(f64::NAN),
            max_ms: Some(4.0),
            stddev_ms: None,
        });
        assert_eq!(
            names(&f),
            [
                "percent_packet_loss",
                "maximum_response_ms",
                "packets_transmitted",
                "packets_received",
                "result_code"
            ]
        );
        assert_eq!(get(&f, "result_code"), Some(Value::Int(RESULT_OK)));
    }

    #[test]
    fn unknown_host_is_result_code_1_only() {
        assert_eq!(unknown_host_fields(), vec![("result_code", Value::Int(1))]);
    }

    #[test]
    fn targets() {
        for ok in [
            "127.0.0.1",
            "192.168.1.1",
            "::1",
            "fe80::1%eth0",
            "router",
            "router.lan",
            "node-1.example.org",
            "my_host.local",
        ] {
            assert_eq!(target(Some(ok)), Ok(ok), "{ok}");
        }
        assert_eq!(target(Some("  10.0.0.1\n")), Ok("10.0.0.1"));
        for bad in [
            None,
            Some(""),
            Some("   "),
            Some("two words"),
            Some("http://router"),
            Some("router:80"),
            Some("-flag"),
            Some(".lan"),
            Some("a..b"),
            Some("1.2.3.4%eth0"),
            Some("fe80::1%"),
        ] {
            let err = target(bad).unwrap_err();
            assert!(err.contains("host name or IP address"), "{bad:?}: {err}");
        }
        let long = "a".repeat(254);
        assert!(target(Some(&long)).is_err());
    }

    #[test]
    fn unresolved_names_are_recognised() {
        let msg =
            "cannot resolve no-such-host.invalid: failed to lookup address information: Name or service not known";
        assert!(is_unresolved_name("no-such-host.invalid", msg));
        assert!(is_unresolved_name("x.invalid", "DNS lookup of x.invalid failed"));
        assert!(is_unresolved_name("x", "no address found for x"));
        // An address cannot fail to resolve, whatever the message says.
        assert!(!is_unresolved_name("10.0.0.1", "cannot resolve 10.0.0.1"));
        // Other trouble is not an unknown host.
        assert!(!is_unresolved_name(
            "router.lan",
            "cannot open an ICMP socket: Permission denied (os error 13)"
        ));
        assert!(!is_unresolved_name(
            "router.lan",
            "Network is unreachable (os error 101)"
        ));
    }

    #[test]
    fn permission_hint_only_when_needed() {
        assert!(
            permission_hint("cannot open an ICMP socket: Permission denied (os error 13)")
                .is_some_and(|h| h.contains("ping_group_range") && h.contains("cap_net_raw"))
        );
        assert!(permission_hint("Operation not permitted (os error 1)").is_some());
        assert_eq!(
            permission_hint("ICMP not permitted; set net.ipv4.ping_group_range or cap_net_raw"),
            None
        );
        assert_eq!(permission_hint("Network is unreachable (os error 101)"), None);
    }
}
