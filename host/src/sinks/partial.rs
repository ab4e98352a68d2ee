//! A batch of several points that the server refused. InfluxDB 1.x stores
//! the valid points of a batch and answers 400 "partial write": it names every
//! line it could not parse, but of the points it dropped for another reason
//! (a field type conflict, a point beyond the retention policy) only the
//! first, with their number (`dropped=N`). `sort_out` finds the refused
//! points: it takes what the message says and sends halves of the rest again
//! until each refused point is alone. Sending a stored point again is
//! harmless: the database keeps one point per series and timestamp.

use super::{Sink, WriteResult};
use crate::store::Row;

/// Writes one refused batch may cost before the rest is set aside unsorted
/// (k refused points among n cost about 2·k·log2(n) writes).
const MAX_WRITES: usize = 256;

/// What a refusal says about the points sent together.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// None was stored.
    All,
    /// All were stored but these (indices).
    AllBut(Vec<usize>),
    /// Some were stored; the message does not say which.
    Unknown,
}

/// Reads InfluxDB's 400 message about `count` points sent together;
/// `lines` gives each point's line without its newline (only called when
/// the message quotes lines).
fn read_message(message: &str, count: usize, lines: impl FnOnce() -> Vec<String>) -> Verdict {
    let Some(rest) = message.strip_prefix("partial write: ") else {
        // InfluxDB 2.x words it otherwise and names lines by number: split.
        if message.contains("partial write") {
            return Verdict::Unknown;
        }
        // Not partial: every line failed to parse, or the request was refused.
        return Verdict::All;
    };
    let dropped: Option<usize> = rest.rsplit_once(" dropped=").and_then(|(_, n)| n.trim().parse().ok());
    if rest.starts_with("unable to parse '") && dropped == Some(0) {
        // Only parse errors, each line named; every other point was stored.
        let lines = lines();
        let named: Vec<usize> = (0..lines.len())
            .filter(|i| message.contains(&format!("unable to parse '{}': ", lines[*i])))
            .collect();
        if named.len() == message.matches("unable to parse '").count() {
            return Verdict::AllBut(named);
        }
        return Verdict::Unknown;
    }
    if dropped == Some(count) {
        return Verdict::All;
    }
    Verdict::Unknown
}

/// `read_message` for `rows`.
fn verdict<S: Sink>(sink: &S, rows: &[&Row], message: &str) -> Verdict {
    read_message(message, rows.len(), || {
        rows.iter()
            .map(|r| sink.as_text(&sink.encode(&[r])).trim_end_matches('\n').to_string())
            .collect()
    })
}

/// Refused points that lie next to each other in the batch, with the
/// server's answer: one set-aside each.
pub struct Refused<'r> {
    pub rows: Vec<&'r Row>,
    pub status: u16,
    pub message: String,
}

/// What became of a refused batch.
pub struct Outcome<'r> {
    /// Points the server stored.
    pub written: u64,
    pub refused: Vec<Refused<'r>>,
    /// Writes sent to find them.
    pub writes: usize,
}

/// Finds which of `rows` (sent together and refused with `status` and
/// `message`) the server stored. An answer other than stored or refused
/// (the server went away, ...) ends the search: the caller retries the
/// whole batch later.
pub async fn sort_out<'r, S: Sink>(
    sink: &S,
    rows: &[&'r Row],
    status: u16,
    message: String,
) -> Result<Outcome<'r>, WriteResult> {
    let mut reason: Vec<Option<(u16, String)>> = vec![None; rows.len()];
    let mut written = 0u64;
    let mut writes = 0;
    let mut todo = vec![(0, rows.len(), status, message)];
    while let Some((a, b, status, message)) = todo.pop() {
        let group = &rows[a..b];
        let verdict = if group.len() == 1 {
            Verdict::All
        } else {
            verdict(sink, group, &message)
        };
        match verdict {
            Verdict::All => reason[a..b].fill(Some((status, message))),
            Verdict::AllBut(bad) => {
                written += (group.len() - bad.len()) as u64;
                for i in bad {
                    reason[a + i] = Some((status, message.clone()));
                }
            }
            Verdict::Unknown if writes + 2 > MAX_WRITES => {
                let message = format!("{message} (not sorted out further: {MAX_WRITES} writes spent)");
                reason[a..b].fill(Some((status, message)));
            }
            Verdict::Unknown => {
                let mid = a + group.len() / 2;
                for (x, y) in [(a, mid), (mid, b)] {
                    writes += 1;
                    match sink.write(&sink.encode(&rows[x..y])).await {
                        WriteResult::Written => written += (y - x) as u64,
                        WriteResult::Rejected { status, message } => todo.push((x, y, status, message)),
                        // A half is never too large when the whole was not; sort it out alike.
                        WriteResult::TooLarge => todo.push((x, y, 413, "too large".into())),
                        other => return Err(other),
                    }
                }
            }
        }
    }
    // Runs of neighbours refused for the same reason.
    let mut refused: Vec<Refused> = Vec::new();
    let mut previous: Option<usize> = None;
    for (i, r) in reason.into_iter().enumerate() {
        let Some((status, message)) = r else { continue };
        match refused.last_mut() {
            Some(run) if previous == Some(i - 1) && run.status == status && run.message == message => {
                run.rows.push(rows[i])
            }
            _ => refused.push(Refused {
                rows: vec![rows[i]],
                status,
                message,
            }),
        }
        previous = Some(i);
    }
    Ok(Outcome {
        written,
        refused,
        writes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<String> {
        ["m v=1 1", "m v= 2", "m v=3 3", "m,a= v=1 4"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn messages_of_influxdb_1_6() {
        // As InfluxDB 1.6 answers (see the e2e test partial_writes_set_aside_only_the_bad_points).
        let parse = "partial write: unable to parse 'm v= 2': missing field value\nunable to parse 'm,a= v=1 4': missing tag value dropped=0";
        assert_eq!(read_message(parse, 4, lines), Verdict::AllBut(vec![1, 3]));
        let conflict = "partial write: field type conflict: input field \"v\" on measurement \"m\" is type string, already exists as type float dropped=2";
        assert_eq!(read_message(conflict, 4, lines), Verdict::Unknown);
        assert_eq!(read_message(conflict, 2, lines), Verdict::All);
        assert_eq!(
            read_message("unable to parse 'x': invalid field format", 4, lines),
            Verdict::All
        );
        assert_eq!(
            read_message(
                "partial write has occurred, errors encountered on line(s): ...",
                4,
                lines
            ),
            Verdict::Unknown
        );
    }
}
