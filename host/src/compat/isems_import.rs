//! `datalogger import isems FILE.sqlite`: the ISEMS collector's history
//! (its SQLite `measurement` table) into the store, as the points `isems.node`
//! and `isems.csvlog` make of the same lines — measurement `isems`, tag
//! `nodeId`, the same field names, order and types — so `/measurements` and
//! `/query` show old and new rows alike.
//!
//! The original stored the node's time as naive Europe/Berlin wall time: in
//! the hour that autumn's DST change repeats one text names two instants, so
//! such rows are reported, and skipped unless `--ambiguous` picks one. Rows
//! go in under one item name (`isems-import`), and the store keeps one sample
//! per series and time, so a second run adds nothing.

use crate::sample::{FieldValue, Sample};
use crate::store::Store;
use chrono::{NaiveDateTime, TimeZone};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;

/// Samples handed to the store per commit.
const BATCH: usize = 10_000;

/// What to do with a wall time the DST change repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ambiguous {
    /// Leave the row out and list it (the default: no silent guess).
    Skip,
    /// The first of the two instants (still summer time).
    Earlier,
    /// The second (already winter time).
    Later,
}

pub struct Options {
    pub zone: chrono_tz::Tz,
    pub measurement: String,
    /// The item name the rows are stored under.
    pub item: String,
    pub ambiguous: Ambiguous,
}

/// Why a row was not imported.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// A wall time the autumn DST change repeats.
    Ambiguous,
    /// A wall time the spring DST change skips (no instant has it).
    Nonexistent,
    /// Before 2001: a node's clock not yet set (the decoders drop these too).
    Placeholder,
    /// A value that is not what the column holds.
    BadValue,
}

impl Skip {
    pub fn describe(&self) -> &'static str {
        match self {
            Skip::Ambiguous => "time in the hour the DST change repeats (choose with --ambiguous earlier|later)",
            Skip::Nonexistent => "time in the hour the DST change skips (no such instant)",
            Skip::Placeholder => "time before 2001 (a node's clock not yet set)",
            Skip::BadValue => "value the column cannot hold",
        }
    }
}

/// One row left out: which, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub id: i64,
    pub node: String,
    pub timestamp: String,
    pub why: Skip,
    pub detail: String,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub read: u64,
    pub imported: u64,
    /// The store had them already under this item (an earlier run).
    pub already_stored: u64,
    /// Older than the store's retention.
    pub too_old: u64,
    pub skipped: Vec<Skipped>,
}

impl Report {
    pub fn skipped_by_reason(&self) -> BTreeMap<&Skip, u64> {
        let mut out = BTreeMap::new();
        for s in &self.skipped {
            *out.entry(&s.why).or_insert(0) += 1;
        }
        out
    }
}

/// The original's columns after `nodeId` and `timestamp`, as the field each
/// becomes, in the order `isems.node` gives them (`batteryVoltage`, the
/// primary value, first), with the field's type there.
const COLUMNS: [(&str, Kind); 16] = [
    ("batteryVoltage", Kind::Float),
    ("isemsRevision", Kind::Int),
    ("openMPPTFirmwareVersion", Kind::Text),
    ("timeToShutdown", Kind::Int),
    ("isPowerSaveMode", Kind::Int),
    ("openCircuitVoltage", Kind::Float),
    ("mppVoltage", Kind::Float),
    ("batteryChargeEstimate", Kind::Float),
    ("batteryHealthEstimate", Kind::Float),
    ("batteryTemperature", Kind::Float),
    ("lowVoltageDisconnectVoltage", Kind::Float),
    ("temperatureCorrectedVoltage", Kind::Float),
    ("rateBatteryCapacity", Kind::Float),
    ("ratedSolarModuleCapacity", Kind::Float),
    ("latitude", Kind::Float),
    ("longitude", Kind::Float),
];

/// The status flags `isems.node` adds beside `status`, highest bit first.
const STATUS_FLAGS: [(u16, &str); 11] = [
    (0x800, "charging"),
    (0x400, "discharging"),
    (0x200, "fullyCharged"),
    (0x100, "healthy"),
    (0x080, "batteryLevelLow"),
    (0x040, "energyStorageTooSmall"),
    (0x020, "temperatureSensorNotConnected"),
    (0x010, "noCommunicationWithSolarController"),
    (0x008, "batteryOverheating"),
    (0x004, "lowBatteryTemperature"),
    (0x002, "firmwareUpgradeNotAllowed"),
];

/// 2001-01-01T00:00:00Z, as in the isems plugin.
const MIN_TIMESTAMP_S: i64 = 978_307_200;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Float,
    Int,
    Text,
}

/// The file opened read-only, its table checked; the row count for progress.
pub fn open(file: &Path) -> anyhow::Result<(Connection, u64, bool)> {
    if !file.is_file() {
        anyhow::bail!(
            "{} is not a file; give the ISEMS collector's database (its DATABASE_URL, e.g. /home/pi/isems-data-collector.sqlite)",
            file.display()
        );
    }
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('measurement')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| anyhow::anyhow!("{} is not an SQLite database: {e}", file.display()))?;
    if columns.is_empty() {
        anyhow::bail!(
            "{} has no table `measurement`: it is not the ISEMS collector's database",
            file.display()
        );
    }
    let needed = ["id", "nodeId", "timestamp"]
        .into_iter()
        .chain(COLUMNS.iter().map(|(c, _)| *c));
    let missing: Vec<&str> = needed.filter(|c| !columns.iter().any(|have| have == c)).collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "{}: table `measurement` lacks the column(s) {}: it is not the ISEMS collector's table",
            file.display(),
            missing.join(", ")
        );
    }
    // Databases from before the status field have no such column.
    let has_status = columns.iter().any(|c| c == "status");
    let rows: i64 = conn.query_row("SELECT count(*) FROM measurement", [], |r| r.get(0))?;
    let rows = rows.max(0) as u64;
    Ok((conn, rows, has_status))
}

/// Reads every row (in the original's id order) into the store; `progress`
/// hears the number of rows read so far after each batch.
pub async fn run(
    conn: &Connection,
    has_status: bool,
    store: &Store,
    options: &Options,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Report> {
    let status = if has_status { "status" } else { "NULL" };
    let columns: Vec<String> = COLUMNS.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let sql = format!(
        "SELECT id, \"nodeId\", timestamp, {status}, {} FROM measurement ORDER BY id",
        columns.join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut report = Report::default();
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next()? {
        report.read += 1;
        match sample_of(row, options) {
            Ok(s) => batch.push(s),
            Err(skipped) => report.skipped.push(skipped),
        }
        if batch.len() == BATCH {
            commit(store, options, std::mem::take(&mut batch), &mut report).await?;
            progress(report.read);
        }
    }
    if !batch.is_empty() {
        commit(store, options, batch, &mut report).await?;
    }
    progress(report.read);
    Ok(report)
}

async fn commit(store: &Store, options: &Options, batch: Vec<Sample>, report: &mut Report) -> anyhow::Result<()> {
    let oldest_kept = store.oldest_kept_ns();
    let too_old = batch
        .iter()
        .filter(|s| oldest_kept.is_some_and(|o| s.timestamp_ns < o))
        .count() as u64;
    let appended = store.append(&options.item, batch).await?;
    if appended.held {
        // Held in memory is not committed, and this process is about to exit.
        anyhow::bail!(
            "the store cannot be written now (is its disk full?); {} rows were imported before this; \
             free some space and run the import again (it adds only what is missing)",
            report.imported
        );
    }
    let imported = appended.count() as u64;
    report.imported += imported;
    report.too_old += too_old;
    report.already_stored += (appended.stored.len() as u64).saturating_sub(imported + too_old);
    Ok(())
}

/// One row as the point `isems.node` would have made of its line.
fn sample_of(row: &rusqlite::Row, options: &Options) -> Result<Sample, Skipped> {
    let id: i64 = row.get(0).unwrap_or_default();
    let node = text(row.get_ref(1).ok()).unwrap_or_default();
    let timestamp = text(row.get_ref(2).ok()).unwrap_or_default();
    let skip = |why: Skip, detail: String| Skipped {
        id,
        node: node.clone(),
        timestamp: timestamp.clone(),
        why,
        detail,
    };
    if node.trim().is_empty() {
        return Err(skip(Skip::BadValue, "nodeId is empty".into()));
    }
    let timestamp_ns = instant(&timestamp, options).map_err(|(why, detail)| skip(why, detail))?;
    let mut fields = Vec::with_capacity(COLUMNS.len() + 1 + STATUS_FLAGS.len());
    for (i, (name, kind)) in COLUMNS.iter().enumerate() {
        let value = row.get_ref(4 + i).unwrap_or(ValueRef::Null);
        if matches!(value, ValueRef::Null) {
            // The original's columns are nullable; the row renders it as null.
            continue;
        }
        let field = convert(value, *kind).ok_or_else(|| {
            skip(
                Skip::BadValue,
                format!("{name} is {}, not {}", show(value), kind.expected()),
            )
        })?;
        fields.push((name.to_string(), field));
    }
    match row.get_ref(3).unwrap_or(ValueRef::Null) {
        ValueRef::Null => {}
        value => {
            let status = match convert(value, Kind::Int) {
                Some(FieldValue::Int(s)) if (0..0x1000).contains(&s) => s as u16,
                _ => {
                    return Err(skip(
                        Skip::BadValue,
                        format!("status is {}, not a 12-bit number", show(value)),
                    ))
                }
            };
            fields.push(("status".into(), FieldValue::Int(status.into())));
            fields.extend(
                STATUS_FLAGS
                    .iter()
                    .map(|(bit, name)| (name.to_string(), FieldValue::Boolean(status & bit != 0))),
            );
        }
    }
    Ok(Sample {
        measurement: options.measurement.clone(),
        tags: BTreeMap::from([(super::isems::NODE_TAG.to_string(), node.trim().to_string())]),
        fields,
        timestamp_ns,
    })
}

/// The original's naive wall time (`2018-06-30 15:16:15.000000`) as an instant.
fn instant(text: &str, options: &Options) -> Result<i64, (Skip, String)> {
    let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text.trim(), f).ok())
        .ok_or_else(|| {
            (
                Skip::BadValue,
                format!("timestamp {text:?} is not a date and time like 2018-06-30 15:16:15.000000"),
            )
        })?;
    let zone = options.zone.name();
    let at = match options.zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t,
        chrono::LocalResult::Ambiguous(earlier, later) => match options.ambiguous {
            Ambiguous::Earlier => earlier,
            Ambiguous::Later => later,
            Ambiguous::Skip => {
                return Err((
                    Skip::Ambiguous,
                    format!(
                        "{naive} happened twice in {zone}: at {} and at {}",
                        earlier.to_utc().format("%H:%M:%SZ"),
                        later.to_utc().format("%H:%M:%SZ")
                    ),
                ))
            }
        },
        chrono::LocalResult::None => {
            return Err((Skip::Nonexistent, format!("{naive} never happened in {zone}")));
        }
    };
    if at.timestamp() < MIN_TIMESTAMP_S {
        return Err((Skip::Placeholder, format!("{naive} is before 2001")));
    }
    at.timestamp_nanos_opt()
        .ok_or_else(|| (Skip::BadValue, format!("{naive} is out of range")))
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Float => "a number",
            Kind::Int => "a whole number",
            Kind::Text => "text",
        }
    }
}

/// SQLite keeps what it was given, whatever the column says: take numbers
/// from numbers or numeric text, text from anything.
fn convert(value: ValueRef, kind: Kind) -> Option<FieldValue> {
    let number = || match value {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse::<f64>().ok(),
        _ => None,
    };
    match kind {
        Kind::Float => number().filter(|f| f.is_finite()).map(FieldValue::Float),
        Kind::Int => match value {
            ValueRef::Integer(i) => Some(FieldValue::Int(i)),
            _ => number()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| FieldValue::Int(f as i64)),
        },
        Kind::Text => text(Some(value)).map(|t| FieldValue::Text(t.trim().to_string())),
    }
}

fn text(value: Option<ValueRef>) -> Option<String> {
    match value? {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        _ => None,
    }
}

fn show(value: ValueRef) -> String {
    match value {
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("a {}-byte blob", b.len()),
        other => text(Some(other)).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin(ambiguous: Ambiguous) -> Options {
        Options {
            zone: chrono_tz::Europe::Berlin,
            measurement: "isems".into(),
            item: "isems-import".into(),
            ambiguous,
        }
    }

    #[test]
    fn wall_times_become_instants_and_the_dst_hours_are_named() {
        let o = berlin(Ambiguous::Skip);
        // read-side.md: 1530364575 is 2018-06-30T15:16:15 in Berlin.
        assert_eq!(instant("2018-06-30 15:16:15.000000", &o), Ok(1_530_364_575_000_000_000));
        assert_eq!(instant("2018-06-30T15:16:15", &o), Ok(1_530_364_575_000_000_000));
        // 2018-10-28: 02:00–03:00 twice (CEST, then CET).
        let (why, detail) = instant("2018-10-28 02:30:00.000000", &o).unwrap_err();
        assert_eq!(why, Skip::Ambiguous);
        assert!(detail.contains("00:30:00Z") && detail.contains("01:30:00Z"), "{detail}");
        assert_eq!(
            instant("2018-10-28 02:30:00.000000", &berlin(Ambiguous::Earlier)),
            Ok(1_540_686_600_000_000_000)
        );
        assert_eq!(
            instant("2018-10-28 02:30:00.000000", &berlin(Ambiguous::Later)),
            Ok(1_540_690_200_000_000_000)
        );
        // 2018-03-25: 02:00–03:00 never happened.
        assert_eq!(instant("2018-03-25 02:30:00", &o).unwrap_err().0, Skip::Nonexistent);
        assert_eq!(instant("1970-01-01 01:00:00", &o).unwrap_err().0, Skip::Placeholder);
        assert_eq!(instant("yesterday", &o).unwrap_err().0, Skip::BadValue);
    }

    #[test]
    fn values_are_read_as_the_decoders_type_them() {
        assert_eq!(convert(ValueRef::Real(711.0), Kind::Int), Some(FieldValue::Int(711)));
        assert_eq!(convert(ValueRef::Real(7.5), Kind::Int), None);
        assert_eq!(convert(ValueRef::Text(b"1"), Kind::Int), Some(FieldValue::Int(1)));
        assert_eq!(convert(ValueRef::Integer(7), Kind::Float), Some(FieldValue::Float(7.0)));
        assert_eq!(convert(ValueRef::Text(b"abc"), Kind::Float), None);
        assert_eq!(
            convert(ValueRef::Text(b" ATmega8_A_1 "), Kind::Text),
            Some(FieldValue::Text("ATmega8_A_1".into()))
        );
    }
}
