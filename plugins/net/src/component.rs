//! Component glue: the [`Plugin`] on top of the pure logic in `ping`.

use crate::ping;
use datalogger_sdk::{log, CapError, Info, Key, Plugin, Point, SampleError};

const PING: &str = "net.ping";
const MEASUREMENT: &str = "ping";
/// Telegraf's tag for the target, so existing dashboards keep working.
const TARGET_TAG: &str = "url";

struct Net;

impl Plugin for Net {
    fn info() -> Info {
        let description = format!(
            "Sends {} ICMP echo requests ({} ms apart, {} ms timeout each); average round trip in ms, \
             plus minimum_response_ms, maximum_response_ms, standard_deviation_ms, packets_transmitted, \
             packets_received, percent_packet_loss and result_code (0 ok, 1 no reply or unknown host, \
             2 nothing sent). With no reply the primary value is percent_packet_loss (100).",
            ping::COUNT,
            ping::INTERVAL_MS,
            ping::TIMEOUT_MS
        );
        Info::new(
            "net",
            env!("CARGO_PKG_VERSION"),
            "Network reachability: ICMP echo (ping) through the host",
        )
        .key(
            Key::new(PING, description)
                .required_arg("host name or IP address to ping")
                .unit("ms"),
        )
    }

    /// One point per poll, stamped by the host with the tick time.
    fn sample(key: &str, arg: Option<&str>) -> Result<Vec<Point>, SampleError> {
        if key != PING {
            return Err(Self::unknown_key(key));
        }
        let target = ping::target(arg).map_err(SampleError::BadArgument)?;
        let fields = match datalogger_sdk::ping::echo(target, ping::COUNT, ping::TIMEOUT_MS, ping::INTERVAL_MS) {
            Ok(stats) => ping::fields(&stats),
            Err(CapError::Unavailable(m) | CapError::Invalid(m)) if ping::is_unresolved_name(target, &m) => {
                // Telegraf's answer for an unknown host is a sample with
                // result_code 1, not an error: like "no reply" it is a reading,
                // stored every poll, so the reason goes to the debug log only
                // (a warning every poll would flood the log).
                log::debug(format!("ping {target}: {m}"));
                ping::unknown_host_fields()
            }
            Err(e) => return Err(sample_error(target, e)),
        };
        Ok(vec![Point::new(MEASUREMENT).tag(TARGET_TAG, target).fields(fields)])
    }
}

/// Maps a capability error to the item's error, keeping the host's message
/// (which names the plugin and target for a missing grant) verbatim; an
/// `invalid` target is a bad argument here, and a refused ICMP socket gets a hint.
fn sample_error(target: &str, e: CapError) -> SampleError {
    let hint = ping::permission_hint(e.message());
    let e = match e {
        CapError::Invalid(m) => SampleError::BadArgument(m),
        e => e.into(),
    };
    e.map_message(|m| match hint {
        Some(hint) => format!("cannot ping {target}: {m}; {hint}"),
        None => format!("cannot ping {target}: {m}"),
    })
}

datalogger_sdk::plugin!(Net);
