//! Push intake over HTTP (issue 14): `POST /write` and `POST /api/v2/write`
//! against a real InfluxDB 1.6. The same line protocol goes to InfluxDB and to
//! the logger, which forwards it to the same InfluxDB; what InfluxDB stored
//! directly, what the logger forwarded and what the logger's own `/query`
//! answers must agree (the forwarded copy carries the source's `item` tag).
//! Bad lines, sizes, encodings and credentials get InfluxDB's answers; a 204
//! survives `kill -9`; real client libraries (Python `influxdb` 5.3.1 and
//! `influxdb-client`, from `scripts/client-venv`) write and read back.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::servers::{agent, Influx};
use crate::common::*;
use serde_json::{json, Value};

const TOKEN: &str = "write-test-token-0123456789";

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A raw answer with the headers the tests look at.
struct Answer {
    status: u16,
    text: String,
    influx_error: Option<String>,
    version: Option<String>,
}

/// POST `path` with `body` and extra headers; 4xx/5xx come back as answers.
fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut req = agent().post(&format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).unwrap_or_else(|e| panic!("POST {path}: {e}"));
    let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    let (influx_error, version) = (header("x-influxdb-error"), header("x-influxdb-version"));
    Answer {
        status: resp.status().as_u16(),
        text: resp.body_mut().read_to_string().unwrap(),
        influx_error,
        version,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The rows of `SELECT * FROM "m"` (tags and fields as columns), sorted by
/// time then by the whole row, with the columns in `drop` removed.
fn rows_of(answer: &Value, drop: &[&str]) -> Vec<BTreeMap<String, Value>> {
    let result = &answer["results"][0];
    assert!(result["error"].is_null(), "query failed: {answer}");
    let mut rows = Vec::new();
    for series in result["series"].as_array().into_iter().flatten() {
        let columns: Vec<String> = series["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        for values in series["values"].as_array().into_iter().flatten() {
            let row: BTreeMap<String, Value> = columns
                .iter()
                .zip(values.as_array().unwrap())
                .filter(|(c, v)| !drop.contains(&c.as_str()) && !v.is_null())
                .map(|(c, v)| (c.clone(), as_f64(v)))
                .collect();
            rows.push(row);
        }
    }
    rows.sort_by_key(|r| serde_json::to_string(r).unwrap());
    rows
}

/// Numbers compared as f64: InfluxDB writes the float 1 as `1`, the logger
/// may write `1.0` (field types are checked in the store instead).
fn as_f64(v: &Value) -> Value {
    match v.as_f64() {
        Some(f) if v.is_number() => json!(f),
        _ => v.clone(),
    }
}

fn query(url: &str, db: &str, q: &str) -> Value {
    let mut resp = agent()
        .get(&format!("{url}/query"))
        .query("db", db)
        .query("q", q)
        .query("epoch", "ns")
        .call()
        .unwrap();
    serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
}

/// A logger with the write source `lan` forwarding to `influx` (database
/// `dl`, default schema), plus `extra` top-level config.
fn start_logger(dir: &TestDir, influx: Option<&Influx>, extra: Value) -> Logger {
    let token = extra["api"]["token"].as_str().map(String::from);
    let mut config = json!({
        "sources": [{"name": "lan", "write": {}}],
    });
    if let Some(influx) = influx {
        config["outputs"] = json!([{"name": "influx", "type": "influxdb", "url": influx.url(), "database": "dl", "flush_interval_ms": 200}]);
    }
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    let path = dir.write_config(config);
    match token {
        None => dir.start(),
        Some(token) => {
            let args = ["run", "--config", path.to_str().unwrap()];
            Logger::start_with_token(&args, dir.path(), dir.port, &[], "run", &token)
        }
    }
}

/// Points in line protocol's corners: every field type, escapes in every
/// position, quotes and backslashes in strings, non-ASCII text, integer
/// limits, float spellings, all boolean spellings; `t0` in seconds.
fn corpus(t0: i64) -> String {
    let lines = [
        format!(
            "weather,site=roof temperature=21.5,humidity=40i,ok=true,label=\"sunny day\" {}",
            t0
        ),
        format!(
            "weather,site=garden temperature=-3.25e1,humidity=0i,ok=f,label=\"quote \\\" and backslash \\\\\" {}",
            t0 + 1
        ),
        format!(
            "esc\\,aped\\ m,tag\\ key=tag\\,val\\=ue field\\ name=1,f\\=x=2i {}",
            t0 + 2
        ),
        format!(
            "counters,host=a big=9223372036854775807i,neg=-9223372036854775808i {}",
            t0 + 3
        ),
        format!("floats v=1,w=1.,x=.5,y=1e-3,z=-1.5E+2 {}", t0 + 4),
        format!(
            "bools a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE {}",
            t0 + 5
        ),
        format!("unicode,ort=München wert=1.5,text=\"grüße, = \" {}", t0 + 6),
        // The client's own `item` tag is kept as sent (the host's is not added).
        format!("tagged,item=boiler,room=cellar t=55.5 {}", t0 + 7),
        "# a comment line, skipped".to_string(),
        String::new(),
        format!("  weather,site=shed temperature=4 {}", t0 + 8),
    ];
    lines.join("\n") + "\n"
}

const MEASUREMENTS: [&str; 7] = [
    "weather",
    "esc,aped m",
    "counters",
    "floats",
    "bools",
    "unicode",
    "tagged",
];

fn quoted(m: &str) -> String {
    format!("\"{}\"", m.replace('"', "\\\""))
}

#[test]
fn written_points_read_back_as_influxdb_stores_them_directly_and_forwarded() {
    let dir = TestDir::new(&[]);
    let influx = Influx::launch(dir.path());
    influx.admin("CREATE DATABASE direct");
    let mut logger = start_logger(&dir, Some(&influx), json!({}));
    let port = dir.port;
    let t0 = now_s() - 600;
    let body = corpus(t0);

    let direct = agent()
        .post(&format!("{}/write?db=direct&precision=s", influx.url()))
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(direct.status().as_u16(), 204, "InfluxDB refused the corpus");

    let ours = post(port, "/write?db=lan&precision=s", &[], body.as_bytes());
    assert_eq!(ours.status, 204, "POST /write: {}", ours.text);
    assert_eq!(ours.version.as_deref(), Some("1.8.10"), "X-Influxdb-Version");

    // Forwarded: the same rows plus item=lan (but "tagged" keeps its own item).
    let expect_points = 9;
    logger.wait_until("the points forwarded to InfluxDB", Duration::from_secs(30), |_| {
        let n: usize = MEASUREMENTS
            .iter()
            .map(|m| {
                rows_of(
                    &query(&influx.url(), "dl", &format!("SELECT * FROM {}", quoted(m))),
                    &[],
                )
                .len()
            })
            .sum();
        (n == expect_points).then_some(())
    });
    for m in MEASUREMENTS {
        let q = format!("SELECT * FROM {}", quoted(m));
        let direct = rows_of(&query(&influx.url(), "direct", &q), &[]);
        assert!(!direct.is_empty(), "InfluxDB stored nothing for {m}");
        let forwarded_raw = rows_of(&query(&influx.url(), "dl", &q), &[]);
        let expected_item = if m == "tagged" { "boiler" } else { "lan" };
        for row in &forwarded_raw {
            assert_eq!(
                row.get("item"),
                Some(&json!(expected_item)),
                "{m}: the item tag forwarded: {row:?}"
            );
        }
        let strip: &[&str] = if m == "tagged" { &[] } else { &["item"] };
        let forwarded = rows_of(&query(&influx.url(), "dl", &q), strip);
        assert_eq!(
            forwarded, direct,
            "{m}: forwarded by the logger vs written to InfluxDB directly"
        );
        let from_logger = rows_of(&query(&format!("http://127.0.0.1:{port}"), "lan", &q), strip);
        assert_eq!(from_logger, direct, "{m}: the logger's /query vs InfluxDB");
    }

    // The source shows what it received; the store keeps the source as the item.
    let source = logger.api.get("/sources/lan").json();
    assert_eq!(source["stats"]["stored"], 9, "{source}");
    assert_eq!(source["stats"]["rejected"], 0, "{source}");
    assert_eq!(source["stats"]["requests"], 1, "{source}");
    let rows = store_rows(&dir.db_path(), "lan");
    assert_eq!(rows.len(), 9);
    let tagged = rows.iter().find(|r| r.measurement == "tagged").unwrap();
    assert_eq!(tagged.tags, json!({"item": "boiler", "room": "cellar"}));

    // Re-sent points are duplicates: kept once, still 204.
    let again = post(port, "/write?db=lan&precision=s", &[], body.as_bytes());
    assert_eq!(again.status, 204, "{}", again.text);
    let source = logger.api.get("/sources/lan").json();
    assert_eq!(source["stats"]["duplicates"], 9, "{source}");
    assert_eq!(store_rows(&dir.db_path(), "lan").len(), 9);
}

#[test]
fn precisions_scale_timestamps_as_influxdb_does() {
    let dir = TestDir::new(&[]);
    let influx = Influx::launch(dir.path());
    influx.admin("CREATE DATABASE direct");
    let logger = start_logger(&dir, None, json!({}));
    let t = now_s() - 3600;
    let cases: [(&str, i64); 6] = [
        ("ns", t * 1_000_000_000 + 123_456_789),
        ("u", t * 1_000_000 + 123_456),
        ("ms", t * 1_000 + 123),
        ("s", t),
        ("m", t / 60),
        ("h", t / 3600),
    ];
    for (i, (precision, ts)) in cases.iter().enumerate() {
        let line = format!("prec,p={precision} v={i} {ts}\n");
        let path = format!("/write?db=direct&precision={precision}");
        let direct = agent()
            .post(&format!("{}{path}", influx.url()))
            .send(line.as_bytes())
            .unwrap();
        assert_eq!(direct.status().as_u16(), 204);
        let ours = post(
            dir.port,
            &format!("/write?db=lan&precision={precision}"),
            &[],
            line.as_bytes(),
        );
        assert_eq!(ours.status, 204, "precision {precision}: {}", ours.text);
    }
    // No timestamp: now, as the server sees it.
    let before = now_s() * 1_000_000_000;
    assert_eq!(post(dir.port, "/write?db=lan", &[], b"prec,p=none v=9\n").status, 204);
    let after = now_s() * 1_000_000_000 + 1_000_000_000;
    let q = "SELECT * FROM prec WHERE p != 'none'";
    let direct = rows_of(&query(&influx.url(), "direct", q), &[]);
    let ours = rows_of(&query(&format!("http://127.0.0.1:{}", dir.port), "lan", q), &["item"]);
    assert_eq!(direct.len(), 6);
    assert_eq!(ours, direct, "timestamps per precision");
    let none = store_rows(&dir.db_path(), "lan")
        .into_iter()
        .find(|r| r.tags["p"] == "none")
        .unwrap();
    assert!(
        (before..after).contains(&none.ts_ns),
        "a line without timestamp is stamped on arrival"
    );
    // InfluxDB 2 spellings on /api/v2/write.
    let ours = post(
        dir.port,
        "/api/v2/write?bucket=lan&precision=us",
        &[],
        format!("v2,p=us v=1 {}\n", t * 1_000_000).as_bytes(),
    );
    assert_eq!(ours.status, 204, "{}", ours.text);
    let bad = post(dir.port, "/api/v2/write?bucket=lan&precision=u", &[], b"v2 v=1 1\n");
    assert_eq!(bad.status, 400, "InfluxDB 2 has no precision `u`: {}", bad.text);
    let rows = store_rows(&dir.db_path(), "lan");
    assert!(rows
        .iter()
        .any(|r| r.measurement == "v2" && r.ts_ns == t * 1_000_000_000));
    drop(logger);
}

#[test]
fn bad_lines_are_a_partial_write_keeping_the_good_ones_as_influxdb_does() {
    let dir = TestDir::new(&[]);
    let influx = Influx::launch(dir.path());
    influx.admin("CREATE DATABASE direct");
    let logger = start_logger(&dir, None, json!({}));
    let t = now_s() - 60;
    let body = format!(
        "good,n=1 v=1 {t}000000000\nno_fields_here {t}000000000\ngood,n=2 v=2 {t}000000000\nbad v=1i2 {t}000000000\ngood,n=3 v=3 {t}000000000\n"
    );
    let direct = influx.write("direct", &body);
    let direct_text = direct.text.clone();
    let ours = post(dir.port, "/write?db=lan", &[], body.as_bytes());
    assert_eq!(direct.status, 400, "InfluxDB: {}", direct.text);
    assert_eq!(ours.status, 400, "{}", ours.text);
    let error = serde_json::from_str::<Value>(&ours.text).unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with("partial write: unable to parse 'no_fields_here"),
        "{error}"
    );
    assert!(error.contains("dropped=2"), "{error}");
    assert!(
        ours.influx_error
            .as_deref()
            .is_some_and(|e| e.starts_with("partial write")),
        "X-Influxdb-Error: {:?}",
        ours.influx_error
    );
    let q = "SELECT * FROM good";
    let direct = rows_of(&query(&influx.url(), "direct", q), &[]);
    let ours = rows_of(&query(&format!("http://127.0.0.1:{}", dir.port), "lan", q), &["item"]);
    assert_eq!(
        direct.len(),
        3,
        "InfluxDB kept the good lines; it answered {direct_text}"
    );
    assert_eq!(ours, direct, "the good lines of a partial write");
    let source = logger.api.get("/sources/lan").json();
    assert_eq!(source["stats"]["rejected"], 2, "{source}");
    assert!(
        source["stats"]["last_error"]
            .as_str()
            .unwrap()
            .contains("no_fields_here"),
        "{source}"
    );

    // Only bad lines: 400, nothing stored, and InfluxDB agrees.
    let direct = influx.write("direct", "only garbage here\n");
    let ours = post(dir.port, "/write?db=lan", &[], b"only garbage here\n");
    assert!(
        ours.text.contains("unable to parse 'only garbage here'") && !ours.text.contains("partial write"),
        "nothing was written: {}",
        ours.text
    );
    assert_eq!(
        (ours.status, direct.status),
        (400, 400),
        "{} / {}",
        ours.text,
        direct.text
    );
    // Binary garbage is bad lines too, never a 5xx.
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let ours = post(dir.port, "/write?db=lan", &[], &garbage);
    assert_eq!(ours.status, 400, "{}", ours.text);
    assert_eq!(store_rows(&dir.db_path(), "lan").len(), 3);
}

#[test]
fn write_requests_get_clear_errors_for_database_size_encoding_and_precision() {
    let dir = TestDir::new(&[]);
    let logger = start_logger(
        &dir,
        None,
        json!({"sources": [{"name": "lan", "write": {}}, {"name": "small", "write": {"database": "tiny", "max_body_bytes": 1000}, "tags": {"site": "lab"}}]}),
    );
    let port = dir.port;
    let t = now_s();
    let error_of = |a: &Answer| -> String {
        let v: Value = serde_json::from_str(&a.text).unwrap_or_else(|_| panic!("not JSON: {}", a.text));
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error: {v}"))
            .to_string()
    };

    let missing = post(port, "/write", &[], b"m v=1\n");
    assert_eq!(missing.status, 400);
    assert!(error_of(&missing).contains("database is required"), "{}", missing.text);
    let unknown = post(port, "/write?db=nope", &[], b"m v=1\n");
    assert_eq!(unknown.status, 404);
    assert!(
        error_of(&unknown).contains("\"lan\", \"tiny\""),
        "lists the databases: {}",
        unknown.text
    );
    let precision = post(port, "/write?db=lan&precision=seconds", &[], b"m v=1\n");
    assert_eq!(precision.status, 400);
    assert!(
        error_of(&precision).contains("ns, u, ms, s, m, h"),
        "{}",
        precision.text
    );

    // gzip, as InfluxDB clients send it; and a body that is not gzip.
    let body = format!("zipped,n=1 v=1 {t}000000000\nzipped,n=2 v=2 {t}000000000\n");
    let zipped = post(
        port,
        "/write?db=lan",
        &[("content-encoding", "gzip")],
        &gzip(body.as_bytes()),
    );
    assert_eq!(zipped.status, 204, "{}", zipped.text);
    let not_gzip = post(port, "/write?db=lan", &[("content-encoding", "gzip")], body.as_bytes());
    assert_eq!(not_gzip.status, 400, "{}", not_gzip.text);
    assert!(error_of(&not_gzip).contains("not valid gzip"));
    let brotli = post(port, "/write?db=lan", &[("content-encoding", "br")], body.as_bytes());
    assert_eq!(brotli.status, 415, "{}", brotli.text);

    // The source's size limit, before and after gzip; the source's tags are added.
    let fits = format!("small v=1 {t}000000000\n");
    assert_eq!(post(port, "/write?db=tiny", &[], fits.as_bytes()).status, 204);
    let big: String = (0..100).map(|i| format!("small,n={i} v={i} {t}000000000\n")).collect();
    assert!(big.len() > 1000);
    let too_big = post(port, "/write?db=tiny", &[], big.as_bytes());
    assert_eq!(too_big.status, 413, "{}", too_big.text);
    assert!(error_of(&too_big).contains("1000 bytes"), "{}", too_big.text);
    let packed = gzip(big.as_bytes());
    assert!(packed.len() < 1000, "the test needs a small gzip body");
    let bomb = post(port, "/write?db=tiny", &[("content-encoding", "gzip")], &packed);
    assert_eq!(bomb.status, 413, "the limit applies after gzip: {}", bomb.text);
    let small_rows = store_rows(&dir.db_path(), "small");
    assert_eq!(small_rows.len(), 1);
    assert_eq!(small_rows[0].tags, json!({"site": "lab"}));

    // InfluxDB 2's error shape; unsigned integers, which InfluxDB 2 accepts.
    let v2 = post(port, "/api/v2/write?org=x&bucket=nope", &[], b"m v=1\n");
    assert_eq!(v2.status, 404);
    let v2: Value = serde_json::from_str(&v2.text).unwrap();
    assert_eq!(v2["code"], "not found");
    assert_eq!(v2["message"], v2["error"]);
    let twice = post(
        port,
        "/api/v2/write?bucket=lan&precision=s&precision=ms",
        &[],
        b"m v=1\n",
    );
    assert_eq!(twice.status, 400, "{}", twice.text);
    let twice: Value = serde_json::from_str(&twice.text).unwrap();
    assert_eq!(
        twice["code"], "invalid",
        "a bad query string in InfluxDB 2's shape too: {twice}"
    );
    let unsigned = post(
        port,
        "/api/v2/write?bucket=lan/autogen&precision=s",
        &[],
        format!("uns big=18446744073709551615u {t}\n").as_bytes(),
    );
    assert_eq!(unsigned.status, 204, "{}", unsigned.text);
    let uns = store_rows(&dir.db_path(), "lan")
        .into_iter()
        .find(|r| r.measurement == "uns")
        .unwrap();
    assert_eq!(uns.types["big"], 'u');
    assert_eq!(uns.fields["big"], json!(18446744073709551615u64));

    // Other methods: a JSON 405.
    let get = logger.api.get("/write?db=lan");
    assert_eq!(get.status, 405, "{}", get.text);
    // A source name cannot be taken by an item.
    let clash = logger.api.post(
        "/items/",
        &json!({"name": "lan", "key": "system.loadavg1", "interval": 5}),
    );
    assert_eq!(clash.status, 409, "{}", clash.text);
    let listed = logger.api.get("/sources").json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[1]["endpoints"][0], "POST /write?db=tiny");
}

#[test]
fn writes_take_the_token_in_every_influxdb_client_form_unless_write_is_open() {
    let dir = TestDir::new(&[]);
    let _logger = start_logger(
        &dir,
        None,
        json!({"api": {"listen": format!("127.0.0.1:{}", dir.port), "token": TOKEN}}),
    );
    let port = dir.port;
    let line = format!("auth v=1 {}000000000\n", now_s());
    let basic = format!("Basic {}", base64_encode(format!("anyone:{TOKEN}").as_bytes()));
    let refused = post(port, "/write?db=lan", &[], line.as_bytes());
    assert_eq!(refused.status, 401, "{}", refused.text);
    let wrong = post(port, "/write?db=lan&u=x&p=wrong", &[], line.as_bytes());
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(!wrong.text.contains(TOKEN));
    for (path, header) in [
        (format!("/write?db=lan&u=x&p={TOKEN}"), None),
        ("/write?db=lan".to_string(), Some(basic.clone())),
        ("/write?db=lan".to_string(), Some(format!("Bearer {TOKEN}"))),
        ("/api/v2/write?bucket=lan".to_string(), Some(format!("Token {TOKEN}"))),
    ] {
        let headers: Vec<(&str, &str)> = header.iter().map(|h| ("authorization", h.as_str())).collect();
        let a = post(port, &path, &headers, line.as_bytes());
        assert_eq!(a.status, 204, "{path} {header:?}: {}", a.text);
    }
    drop(_logger);

    // Devices on the LAN may push without the token that manages items.
    let dir = TestDir::new(&[]);
    let _logger = start_logger(
        &dir,
        None,
        json!({"api": {"listen": format!("127.0.0.1:{}", dir.port), "token": TOKEN, "without_token": ["write"]}}),
    );
    let open = post(dir.port, "/write?db=lan", &[], line.as_bytes());
    assert_eq!(open.status, 204, "{}", open.text);
    let manage = Api::new(dir.port).post(
        "/items/",
        &json!({"name": "x", "key": "system.loadavg1", "interval": 5}),
    );
    assert_eq!(manage.status, 401, "managing still needs the token: {}", manage.text);
}

fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn every_acknowledged_write_survives_kill_9() {
    let dir = TestDir::new(&[]);
    let logger = start_logger(&dir, None, json!({}));
    let t = now_s() - 3600;
    let mut acknowledged = 0;
    for batch in 0..50 {
        let body: String = (0..200)
            .map(|i| format!("durable,batch={batch} v={i} {}\n", (t + i) * 1_000_000_000))
            .collect();
        let a = post(dir.port, "/write?db=lan", &[], body.as_bytes());
        assert_eq!(a.status, 204, "{}", a.text);
        acknowledged += 200;
    }
    drop(logger); // SIGKILL right after the last 204
    let rows = store_rows(&dir.db_path(), "lan");
    assert_eq!(
        rows.len(),
        acknowledged,
        "every point answered 204 is in the store after kill -9"
    );
}

#[test]
fn influxdb_client_libraries_write_and_read_back() {
    let dir = TestDir::new(&[]);
    let influx = Influx::launch(dir.path());
    let mut logger = start_logger(
        &dir,
        Some(&influx),
        json!({"api": {"listen": format!("127.0.0.1:{}", dir.port), "token": TOKEN}}),
    );
    let t = now_s() - 120;
    // Python `influxdb` 5.3.1 (rpdemo, homeflux): write_points, then query the logger.
    let v1 = format!(
        r#"
import json, sys
from influxdb import InfluxDBClient
c = InfluxDBClient(host="127.0.0.1", port={port}, username="logger", password="{TOKEN}", database="lan")
points = [{{"measurement": "py1", "tags": {{"host": "pi", "room": "a b"}}, "time": {t} + i, "fields": {{"temp": 20.5 + i, "count": i, "on": i % 2 == 0, "note": "n," + str(i)}}}} for i in range(5)]
assert c.write_points(points, time_precision="s", batch_size=2)
rows = list(c.query('SELECT * FROM "py1"', epoch="s").get_points())
print(json.dumps(rows))
"#,
        port = dir.port
    );
    let out = std::process::Command::new(client_python())
        .arg("-c")
        .arg(&v1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "influxdb 5.3.1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(
        rows[2],
        json!({"time": t + 2, "count": 2, "host": "pi", "item": "lan", "note": "n,2", "on": true, "room": "a b", "temp": 22.5})
    );

    // `influxdb-client` (InfluxDB 2 API), gzip on, Token auth.
    let v2 = format!(
        r#"
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
with InfluxDBClient(url="http://127.0.0.1:{port}", token="{TOKEN}", org="home", enable_gzip=True) as c:
    w = c.write_api(write_options=SYNCHRONOUS)
    w.write(bucket="lan", record=[Point("py2").tag("host", "pi").field("v", float(i)).field("n", i).time({t} + i, WritePrecision.S) for i in range(4)], write_precision=WritePrecision.S)
    w.write(bucket="lan", record="py2,host=raw v=9.5 {t}000000000")
print("ok")
"#,
        port = dir.port
    );
    let out = std::process::Command::new(client_python())
        .arg("-c")
        .arg(&v2)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "influxdb-client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = store_rows(&dir.db_path(), "lan");
    let py2: Vec<_> = rows.iter().filter(|r| r.measurement == "py2").collect();
    assert_eq!(py2.len(), 5);
    assert!(py2.iter().any(|r| r.tags["host"] == "raw" && r.fields["v"] == 9.5));
    assert_eq!(
        py2.iter().find(|r| r.ts_ns == (t + 3) * 1_000_000_000).unwrap().fields,
        json!({"n": 3, "v": 3.0})
    );

    // Both forwarded to the real InfluxDB as written.
    logger.wait_until("the clients' points in InfluxDB", Duration::from_secs(30), |_| {
        let n = rows_of(&query(&influx.url(), "dl", "SELECT * FROM py1"), &[]).len()
            + rows_of(&query(&influx.url(), "dl", "SELECT * FROM py2"), &[]).len();
        (n == 10).then_some(())
    });
    let forwarded = rows_of(&query(&influx.url(), "dl", "SELECT * FROM py1 WHERE count = 2"), &[]);
    assert_eq!(forwarded[0]["note"], "n,2");
    assert_eq!(forwarded[0]["room"], "a b");
}
