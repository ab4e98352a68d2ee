//! `misbehave`: a test fixture that does everything a plugin should not do
//! (trap, spin, hog memory, return huge results, try ambient authority), plus a
//! few well-behaved keys the host tests need. Never shipped.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "collector",
});

use datalogger::plugin::types::{ArgInfo, CapError, Field, FieldValue, KeyInfo, PluginInfo, Point, SampleError, Tag};
use datalogger::plugin::{discovery, host, http, i2c, ping};
use exports::datalogger::plugin::sampling::Guest;

/// (key, description, arg description if the key requires an arg)
const KEYS: &[(&str, &str, Option<&str>)] = &[
    ("misbehave.ok", "Returns value=42.0", None),
    ("misbehave.trap", "Panics (a wasm trap)", None),
    ("misbehave.loop", "Spins forever without calling the host", None),
    ("misbehave.hog", "Allocates memory without bound", None),
    ("misbehave.big", "Returns a result of about 8 MiB", None),
    (
        "misbehave.huge",
        "Returns about 100 MiB of text from 1 MiB of memory (100 fields sharing one buffer)",
        None,
    ),
    (
        "misbehave.many",
        "Returns 100,000 tiny points (about 2.6 MB counted)",
        None,
    ),
    ("misbehave.deep", "Recurses until the stack overflows", None),
    ("misbehave.nan", "Returns NaN and infinite floats", None),
    (
        "misbehave.logflood",
        "Logs 1,000 lines of 64 KiB and prints 1 MiB to stdout",
        None,
    ),
    (
        "misbehave.cacheflood",
        "Fills the host cache with fresh keys until refused, then with one 8 MiB value",
        None,
    ),
    (
        "misbehave.probe",
        "Asks every capability for something not granted, a new 64 KiB target each call",
        None,
    ),
    (
        "misbehave.ambient",
        "Tries std::fs, std::env and std::net; reports fs_ok, env_count, tcp_ok",
        Some("optional: host:port a listener waits on (default 127.0.0.1:22)"),
    ),
    (
        "misbehave.readfile",
        "Reads a file through host.read-file; reports len",
        Some("path of the file to read"),
    ),
    ("misbehave.stamped", "Returns two samples with fixed timestamps", None),
    (
        "misbehave.httpcall",
        "Sends GET through http.send; reports status",
        Some("absolute http:// URL"),
    ),
    (
        "misbehave.pingcall",
        "Sends one echo request through ping.echo; reports received",
        Some("host name or IP address"),
    ),
    (
        "misbehave.i2ccall",
        "Reads one byte (WHO_AM_I, register 0x0F) through i2c.read-registers; reports value",
        Some("<bus>:<address>, e.g. 1:0x5c"),
    ),
    (
        "misbehave.tagged",
        "Returns value=1 with one tag of the arg's name (e.g. a reserved name)",
        Some("the tag key"),
    ),
    (
        "misbehave.named",
        "Returns one field of the arg's name (e.g. a reserved name)",
        Some("the field name"),
    ),
    (
        "misbehave.at",
        "Returns value=1 stamped with the arg's timestamp",
        Some("nanoseconds since the Unix epoch (any i64)"),
    ),
    (
        "misbehave.chatty",
        "Logs 100 error lines (the most one call may), then returns value=1",
        None,
    ),
    (
        "misbehave.ssdpcall",
        "Sends an SSDP search through discovery.ssdp-search (200 ms); reports responses",
        Some("optional: search target (default ssdp:all)"),
    ),
];

struct Misbehave;

impl Guest for Misbehave {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "misbehave".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test fixture for the host's sandboxing and limits".into(),
            keys: KEYS
                .iter()
                .map(|(name, description, arg)| KeyInfo {
                    name: (*name).into(),
                    description: (*description).into(),
                    arg: arg.map(|a| ArgInfo {
                        description: a.into(),
                        required: !a.starts_with("optional"),
                    }),
                    unit: String::new(),
                })
                .collect(),
        }
    }

    fn sample(key: String, arg: Option<String>) -> Result<Vec<Point>, SampleError> {
        match key.as_str() {
            "misbehave.ok" => Ok(vec![point("misbehave", vec![field("value", FieldValue::Float(42.0))])]),
            "misbehave.trap" => panic!("misbehave.trap: deliberate panic"),
            "misbehave.loop" => spin(),
            "misbehave.hog" => hog(),
            "misbehave.big" => {
                let text = "x".repeat(8 << 20);
                Ok(vec![point("misbehave", vec![field("value", FieldValue::Text(text))])])
            }
            "misbehave.huge" => Ok(huge()),
            "misbehave.many" => Ok((0..100_000)
                .map(|i| point("m", vec![field("v", FieldValue::Int(i))]))
                .collect()),
            "misbehave.deep" => Ok(vec![point(
                "misbehave",
                vec![field("depth", FieldValue::Int(deep(0) as i64))],
            )]),
            "misbehave.nan" => Ok(vec![point(
                "misbehave",
                vec![
                    field("nan", FieldValue::Float(f64::NAN)),
                    field("inf", FieldValue::Float(f64::INFINITY)),
                ],
            )]),
            "misbehave.logflood" => {
                let line = "L".repeat(64 << 10);
                for _ in 0..1000 {
                    host::log(host::Level::Error, &line);
                }
                println!("{}", "P".repeat(1 << 20));
                Ok(vec![point("misbehave", vec![field("value", FieldValue::Int(1))])])
            }
            "misbehave.cacheflood" => {
                let stamp = host::now_ns();
                for i in 0.. {
                    if host::cache_set(&format!("k{stamp}-{i}"), Some(&"v".repeat(1024))).is_err() {
                        break;
                    }
                }
                let refused = host::cache_set("big", Some(&"v".repeat(8 << 20))).is_err();
                Ok(vec![point(
                    "misbehave",
                    vec![field("refused", FieldValue::Boolean(refused))],
                )])
            }
            "misbehave.probe" => Ok(vec![point("misbehave", probe())]),
            "misbehave.ambient" => Ok(vec![point("misbehave", ambient(arg.as_deref()))]),
            "misbehave.readfile" => {
                let path = required(arg, "a path to read")?;
                let text = host::read_file(&path).map_err(|e| SampleError::Unavailable(cap_error_text(&e)))?;
                Ok(vec![point(
                    "misbehave",
                    vec![field("len", FieldValue::Int(text.len() as i64))],
                )])
            }
            "misbehave.stamped" => Ok([(1_700_000_000_000_000_000, 1), (1_700_000_001_000_000_000, 2)]
                .into_iter()
                .map(|(ts, value)| Point {
                    measurement: "stamped".into(),
                    tags: vec![Tag {
                        key: "src".into(),
                        value: "fixture".into(),
                    }],
                    fields: vec![field("value", FieldValue::Int(value))],
                    timestamp_ns: Some(ts),
                })
                .collect()),
            "misbehave.httpcall" => {
                let url = required(arg, "an http:// URL")?;
                let resp = http::send(&http::Request {
                    method: "GET".into(),
                    url,
                    headers: Vec::new(),
                    body: None,
                    timeout_ms: None,
                })
                .map_err(|e| SampleError::Unavailable(cap_error_text(&e)))?;
                Ok(vec![point(
                    "misbehave",
                    vec![field("status", FieldValue::Int(resp.status.into()))],
                )])
            }
            "misbehave.pingcall" => {
                let target = required(arg, "a host name or IP address")?;
                let stats = ping::echo(&ping::EchoRequest {
                    target,
                    count: 1,
                    timeout_ms: 200,
                    interval_ms: 0,
                })
                .map_err(|e| SampleError::Unavailable(cap_error_text(&e)))?;
                Ok(vec![point(
                    "misbehave",
                    vec![field("received", FieldValue::Int(stats.received.into()))],
                )])
            }
            "misbehave.i2ccall" => {
                let arg = required(arg, "<bus>:<address>, e.g. 1:0x5c")?;
                let (bus, address) = parse_i2c_target(&arg)
                    .ok_or_else(|| SampleError::BadArgument(format!("arg {arg:?} is not <bus>:<address>")))?;
                let bytes = i2c::read_registers(bus, address, 0x0F, 1)
                    .map_err(|e| SampleError::Unavailable(cap_error_text(&e)))?;
                let value = bytes.first().copied().unwrap_or_default();
                Ok(vec![point(
                    "misbehave",
                    vec![field("value", FieldValue::Int(value.into()))],
                )])
            }
            "misbehave.ssdpcall" => {
                let st = arg.unwrap_or_else(|| "ssdp:all".into());
                let found =
                    discovery::ssdp_search(&st, 200).map_err(|e| SampleError::Unavailable(cap_error_text(&e)))?;
                Ok(vec![point(
                    "misbehave",
                    vec![field("responses", FieldValue::Int(found.len() as i64))],
                )])
            }
            "misbehave.tagged" => {
                let key = required(arg, "a tag key")?;
                let mut p = point("misbehave", vec![field("value", FieldValue::Int(1))]);
                p.tags.push(Tag { key, value: "x".into() });
                Ok(vec![p])
            }
            "misbehave.named" => {
                let name = required(arg, "a field name")?;
                Ok(vec![point("misbehave", vec![field(&name, FieldValue::Int(1))])])
            }
            "misbehave.at" => {
                let ts = required(arg, "a timestamp in ns")?;
                let ts: i64 = ts
                    .parse()
                    .map_err(|_| SampleError::BadArgument(format!("arg {ts:?} is not an i64")))?;
                let mut p = point("misbehave", vec![field("value", FieldValue::Int(1))]);
                p.timestamp_ns = Some(ts);
                Ok(vec![p])
            }
            "misbehave.chatty" => {
                for i in 0..100 {
                    host::log(host::Level::Error, &format!("misbehave.chatty: line {i} of 100"));
                }
                Ok(vec![point("misbehave", vec![field("value", FieldValue::Int(1))])])
            }
            other => Err(SampleError::BadArgument(format!("unknown key {other:?}"))),
        }
    }
}

/// Burns CPU until the host's deadline interrupts it. The volatile accesses
/// keep the optimizer from collapsing the loop.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        // SAFETY: `counter` is a live local; volatile only forbids eliding the access.
        unsafe {
            let c = core::ptr::read_volatile(&counter);
            core::ptr::write_volatile(&mut counter, c.wrapping_add(1));
        }
        core::hint::black_box(());
    }
}

/// Grows memory 1 MiB at a time until the host's memory cap stops it (the
/// failed allocation aborts, i.e. traps). Every page is written so the memory
/// is really committed, and `black_box` keeps the allocations observable.
fn hog() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let chunk = vec![0xA5u8; 1 << 20];
        chunks.push(core::hint::black_box(chunk));
        core::hint::black_box(&chunks);
    }
}

/// 100 points, each with a 1 MiB text field, all sharing one buffer: about
/// 100 MiB for the host to lift out of 1 MiB of linear memory.
fn huge() -> Vec<Point> {
    let text = core::mem::ManuallyDrop::new("h".repeat(1 << 20));
    (0..100)
        .map(|_| {
            // SAFETY: the copies are only read (by the host's lift); `NeverFree`
            // makes the bindings' post-return free of each one a no-op.
            let alias = unsafe { String::from_raw_parts(text.as_ptr() as *mut u8, text.len(), text.capacity()) };
            point("misbehave", vec![field("value", FieldValue::Text(alias))])
        })
        .collect()
}

/// Recurses without bound; the frame's array keeps the stack growing fast.
fn deep(n: u64) -> u64 {
    let frame = core::hint::black_box([n; 32]);
    if frame[0] == u64::MAX {
        return 0;
    }
    deep(n + 1).wrapping_add(frame[n as usize % 32])
}

/// Asks every capability for something not granted, with a fresh 64 KiB
/// target each call, as an attacker probing for a hole would.
fn probe() -> Vec<Field> {
    let fresh = format!("{}-{}", host::now_ns(), "p".repeat(64 << 10));
    let file = host::read_file(&format!("/tmp/{fresh}")).is_ok();
    let http = http::send(&http::Request {
        method: "GET".into(),
        url: format!("http://127.0.0.1:9/{fresh}"),
        headers: Vec::new(),
        body: None,
        timeout_ms: Some(100),
    })
    .is_ok();
    let ping = ping::echo(&ping::EchoRequest {
        target: format!("{fresh}.invalid"),
        count: 1,
        timeout_ms: 100,
        interval_ms: 0,
    })
    .is_ok();
    let i2c = i2c::read_registers(1, 0x5c, 0x0F, 1).is_ok();
    let ssdp = discovery::ssdp_search(&fresh, 100).is_ok();
    vec![
        field("file", FieldValue::Boolean(file)),
        field("http", FieldValue::Boolean(http)),
        field("ping", FieldValue::Boolean(ping)),
        field("i2c", FieldValue::Boolean(i2c)),
        field("ssdp", FieldValue::Boolean(ssdp)),
    ]
}

/// Never frees: `huge` returns strings that share one buffer, which the
/// bindings' post-return would free once each. Every call gets a fresh
/// instance, so nothing accumulates past a call.
struct NeverFree;

// SAFETY: allocation is the system allocator's; not freeing is always sound.
unsafe impl core::alloc::GlobalAlloc for NeverFree {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, _: *mut u8, _: core::alloc::Layout) {}
}

#[global_allocator]
static ALLOCATOR: NeverFree = NeverFree;

/// Probes ambient authority the sandbox must not give. Never panics: every
/// probe reports success or failure as a field.
fn ambient(tcp_target: Option<&str>) -> Vec<Field> {
    let fs_ok = std::fs::read_to_string("/proc/loadavg").is_ok();
    let env_count = std::env::vars_os().count() as i64;
    let tcp_ok = std::net::TcpStream::connect(tcp_target.unwrap_or("127.0.0.1:22")).is_ok();
    vec![
        field("fs_ok", FieldValue::Boolean(fs_ok)),
        field("env_count", FieldValue::Int(env_count)),
        field("tcp_ok", FieldValue::Boolean(tcp_ok)),
    ]
}

fn required(arg: Option<String>, what: &str) -> Result<String, SampleError> {
    arg.filter(|a| !a.is_empty())
        .ok_or_else(|| SampleError::BadArgument(format!("arg must be {what}")))
}

/// `"1:0x5c"` → (1, 0x5c).
fn parse_i2c_target(arg: &str) -> Option<(u8, u8)> {
    let (bus, address) = arg.split_once(':')?;
    let address = address.trim();
    let address = address.strip_prefix("0x").unwrap_or(address);
    Some((bus.trim().parse().ok()?, u8::from_str_radix(address, 16).ok()?))
}

/// `"<case>: <host message>"`, so tests can check both the kind and the text.
fn cap_error_text(e: &CapError) -> String {
    let (kind, msg) = match e {
        CapError::NotGranted(m) => ("not-granted", m),
        CapError::Invalid(m) => ("invalid", m),
        CapError::Unavailable(m) => ("unavailable", m),
        CapError::Timeout(m) => ("timeout", m),
        CapError::Failed(m) => ("failed", m),
    };
    format!("{kind}: {msg}")
}

fn point(measurement: &str, fields: Vec<Field>) -> Point {
    Point {
        measurement: measurement.into(),
        tags: Vec::new(),
        fields,
        timestamp_ns: None,
    }
}

fn field(name: &str, value: FieldValue) -> Field {
    Field {
        name: name.into(),
        value,
    }
}

export!(Misbehave);
