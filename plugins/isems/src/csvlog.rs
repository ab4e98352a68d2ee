//! The `isems.csvlog` decoder: what ISEMS nodes publish over MQTT on
//! `/isems/<nodeid>/csvlog` — up to five log lines joined by `\n`, the same
//! 18/19-field lines as their HTTP log. Each good line becomes the same point
//! `isems.node` makes of it (measurement `isems`, tag `nodeId` from field 1 —
//! the topic's node level is ignored, as the original collector did — stamped
//! with the node's own time), so a redelivered message stores nothing twice.

use crate::node::{Point, MEASUREMENT};
use crate::parse::{parse_log, quote};

/// The most lines one payload is read for; nodes send at most five.
pub const MAX_LINES: usize = 100;

/// What a payload held: its points, and the lines that were skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub points: Vec<Point>,
    /// A summary of skipped lines (for the host log), if any.
    pub warning: Option<String>,
}

/// Reads one payload; an error when no line of it is an ISEMS log line.
pub fn decode(topic: &str, payload: &[u8]) -> Result<Decoded, String> {
    let text = String::from_utf8_lossy(payload);
    let parsed = parse_log(&text, MAX_LINES);
    if parsed.readings.is_empty() {
        return Err(match parsed.skipped.first() {
            None => format!("the payload on {topic} holds no lines"),
            Some(first) => format!(
                "no line of the payload on {topic} is an ISEMS log line (18 or 19 ';'-separated fields); line {}: {}",
                first.line, first.reason
            ),
        });
    }
    if parsed.truncated > 0 {
        return Err(format!(
            "the payload on {topic} has {} lines; an ISEMS node sends at most five, this decoder reads at most {MAX_LINES}: {}",
            parsed.lines,
            quote(&text)
        ));
    }
    let warning = parsed.skipped.first().map(|first| {
        format!(
            "skipped {} of {} lines of a payload on {topic} (line {}: {})",
            parsed.skipped.len(),
            parsed.lines,
            first.line,
            first.reason
        )
    });
    let points = parsed
        .readings
        .into_iter()
        .map(|r| Point {
            measurement: MEASUREMENT,
            timestamp_ns: Some(r.timestamp_ns()),
            tags: vec![("nodeId", r.node_id)],
            fields: r.fields,
        })
        .collect();
    Ok(Decoded { points, warning })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Value;

    const OLD: &str = "Elektra-Dach;1;1530364575;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635";
    const NEW: &str = "Elektra-Dach-Neu;1;1530364640;ATmega8_A_1;711;0;18.614;18.614;14.073;100;100;28;11.67;14.086;7;20;52.507309;13.458635;300";

    #[test]
    fn every_line_of_a_payload_is_a_point_at_the_nodes_time() {
        let payload = format!("{OLD}\n{NEW}\n");
        let d = decode("/isems/x/csvlog", payload.as_bytes()).unwrap();
        assert_eq!(d.points.len(), 2);
        assert_eq!(d.warning, None);
        assert_eq!(d.points[0].tags, vec![("nodeId", "Elektra-Dach".to_string())]);
        assert_eq!(d.points[1].tags, vec![("nodeId", "Elektra-Dach-Neu".to_string())]);
        assert_eq!(d.points[1].timestamp_ns, Some(1_530_364_640_000_000_000));
        assert_eq!(d.points[0].fields[0], ("batteryVoltage", Value::Float(14.073)));
    }

    #[test]
    fn bad_lines_are_skipped_and_a_payload_without_good_ones_is_refused() {
        let d = decode("/isems/x/csvlog", format!("garbage\r\n{NEW}").as_bytes()).unwrap();
        assert_eq!(d.points.len(), 1);
        assert!(d.warning.unwrap().contains("skipped 1 of 2 lines"));
        let e = decode("/isems/x/csvlog", b"{\"json\": 1}").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert!(decode("/isems/x/csvlog", b"").unwrap_err().contains("no lines"));
        assert!(decode("t", &[0xff, 0xfe, b'\n']).is_err());
        let many = vec![NEW; MAX_LINES + 1].join("\n");
        assert!(decode("t", many.as_bytes()).unwrap_err().contains("at most five"));
    }
}
