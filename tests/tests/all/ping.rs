//! The standard `net` plugin: real ICMP echo through the host's `ping`
//! capability (the tests run as root, or with ping_group_range opened), stored
//! with Telegraf's field names; and the grant limiting which targets it may ping.

use crate::common::*;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn ping_item(name: &str, target: &str, interval: u64) -> Value {
    json!({"name": name, "key": "net.ping", "arg": target, "interval": interval})
}

fn fields(row_or_sample: &Value) -> &Map<String, Value> {
    row_or_sample
        .as_object()
        .unwrap_or_else(|| panic!("fields are not an object: {row_or_sample}"))
}

fn float(fields: &Map<String, Value>, name: &str) -> f64 {
    let value = &fields[name];
    assert!(value.is_f64(), "{name} is not a float: {fields:?}");
    value.as_f64().unwrap()
}

#[test]
fn ping_stores_telegraf_fields_for_answering_and_unknown_hosts() {
    let dir = TestDir::new(&[dist_wasm("net")]);
    dir.write_config(json!({
        "plugins": {"net": {"ping": ["any"]}},
        "items": [
            ping_item("lo", "127.0.0.1", 1),
            ping_item("unknown", "no-such-host.invalid", 2),
        ],
    }));
    let mut logger = dir.start();
    let db = dir.db_path();
    logger.wait_until("a stored sample of lo and unknown", SLOW, |_| {
        ["lo", "unknown"]
            .iter()
            .all(|item| !store_rows(&db, item).is_empty())
            .then_some(())
    });

    // Loopback answers every request.
    let item = logger.item("lo");
    assert_eq!(item["last_error"], json!(null), "{item}");
    for row in store_rows(&db, "lo") {
        assert_eq!(row.measurement, "ping", "{row:?}");
        assert_eq!(row.tags, json!({"url": "127.0.0.1"}), "{row:?}");
        let f = fields(&row.fields);
        assert_eq!(f["packets_transmitted"], json!(3), "{row:?}");
        assert_eq!(f["packets_received"], json!(3), "{row:?}");
        assert_eq!(float(f, "percent_packet_loss"), 0.0, "{row:?}");
        assert_eq!(f["result_code"], json!(0), "{row:?}");
        let (min, avg, max) = (
            float(f, "minimum_response_ms"),
            float(f, "average_response_ms"),
            float(f, "maximum_response_ms"),
        );
        assert!(avg > 0.0, "loopback round trip of {avg} ms: {row:?}");
        assert!(min <= avg && avg <= max, "not min <= avg <= max: {row:?}");
        assert!(float(f, "standard_deviation_ms") >= 0.0, "{row:?}");
        assert_eq!(f.len(), 8, "unexpected fields: {row:?}");
    }
    let last = &item["last_sample"]["fields"];
    assert_eq!(
        item["last_value"], last["average_response_ms"],
        "the primary value is not the average: {item}"
    );

    // A name that cannot resolve: result_code 1 and nothing else, as Telegraf does.
    let item = logger.item("unknown");
    assert_eq!(item["last_error"], json!(null), "{item}");
    for row in store_rows(&db, "unknown") {
        assert_eq!(row.measurement, "ping", "{row:?}");
        assert_eq!(row.tags, json!({"url": "no-such-host.invalid"}), "{row:?}");
        assert_eq!(row.fields, json!({"result_code": 1}), "{row:?}");
    }
    assert_eq!(item["last_value"], json!(1), "{item}");
}

#[test]
fn ping_grant_limits_the_targets() {
    let dir = TestDir::new(&[dist_wasm("net")]);
    dir.write_config(json!({
        "plugins": {"net": {"ping": ["10.0.0.0/8"]}},
        "items": [ping_item("lo", "127.0.0.1", 1)],
    }));
    let mut logger = dir.start();
    let item = logger.wait_item_field("lo", "last_error");
    let error = item["last_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("unavailable:"), "{item}");
    for expected in ["not granted", "plugin net", "127.0.0.1"] {
        assert!(error.contains(expected), "{expected:?} missing from the error: {item}");
    }
    assert_eq!(item["last_value"], json!(null), "{item}");
    assert!(
        store_rows(&dir.db_path(), "lo").is_empty(),
        "a refused ping stored samples"
    );
}

// ------------------------------------------------ in a network namespace
//
// The next tests run the logger inside a network namespace of their own
// (`unshare --net`, as root, like CI), which makes two things deterministic:
// an address that never answers (a veth link whose far end has no address and
// a permanent neighbour entry, so requests leave and vanish), and the ICMP
// permission sysctl (`net.ipv4.ping_group_range` is per namespace), so the
// unprivileged paths are tested without touching the machine's settings. The
// API is inside the namespace too: the tests read the store and the log.

/// The logger running inside its own network namespace; killed on drop.
struct NetnsLogger {
    child: Child,
    stderr: PathBuf,
}

impl NetnsLogger {
    /// Starts `datalogger run` in a new network namespace with loopback up,
    /// the silent link 198.18.0.1/24 (198.18.0.2 never answers), the given
    /// ping_group_range, and as user `nobody` when `unprivileged`.
    fn start(dir: &TestDir, ping_group_range: &str, unprivileged: bool) -> NetnsLogger {
        if unprivileged {
            // nobody must be able to write the store and read the plugins.
            for d in [dir.path().to_path_buf(), dir.plugins_dir()] {
                chmod_777(&d);
            }
        }
        let run_as = if unprivileged {
            "setpriv --reuid 65534 --regid 65534 --clear-groups"
        } else {
            ""
        };
        let script = format!(
            "set -e
             ip link set lo up
             ip link add dl0 type veth peer name dl1
             ip link set dl0 up
             ip link set dl1 up
             ip addr add 198.18.0.1/24 dev dl0
             ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev dl0 nud permanent
             sysctl -qw net.ipv4.ping_group_range='{ping_group_range}'
             exec {run_as} \"$0\" run --config \"$1\""
        );
        let stderr = dir.path().join("netns.stderr");
        let child = Command::new("unshare")
            .args(["--net", "--", "sh", "-c", &script])
            .arg(binary())
            .arg(dir.config_path())
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("run unshare (util-linux)");
        NetnsLogger { child, stderr }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Polls until `check` returns Some, failing early if the logger died.
    fn wait<T>(&mut self, what: &str, mut check: impl FnMut(&str) -> Option<T>) -> T {
        wait_until(what, SLOW, || {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("logger in the namespace exited ({status}):\n{}", self.stderr());
            }
            check(&self.stderr())
        })
    }
}

impl Drop for NetnsLogger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chmod_777(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
}

/// A config whose paths nobody can use: the store and cache inside the dir.
fn netns_config(dir: &TestDir, items: Value) {
    dir.write_config(json!({
        "plugins": {"net": {"ping": ["any"]}},
        "items": items,
    }));
}

#[test]
fn a_host_that_does_not_answer_gives_full_loss_and_no_timing_fields() {
    let dir = TestDir::new(&[dist_wasm("net")]);
    netns_config(
        &dir,
        json!([ping_item("silent", "198.18.0.2", 2), ping_item("lo", "127.0.0.1", 1)]),
    );
    let mut logger = NetnsLogger::start(&dir, "1 0", false);
    let db = dir.db_path();
    logger.wait("two samples of the silent host", |_| {
        (store_rows(&db, "silent").len() >= 2).then_some(())
    });
    for row in store_rows(&db, "silent") {
        assert_eq!(row.tags, json!({"url": "198.18.0.2"}), "{row:?}");
        // 100 % loss and no timing fields at all: never the old logger's 0.0 ms.
        assert_eq!(
            row.fields,
            json!({"percent_packet_loss": 100.0, "packets_transmitted": 3, "packets_received": 0, "result_code": 1}),
            "{row:?}"
        );
    }
    // The same logger still reaches loopback inside the namespace.
    let lo = store_rows(&db, "lo");
    assert!(
        !lo.is_empty() && lo.iter().all(|r| r.fields["packets_received"] == 3),
        "{lo:?}"
    );
}

#[test]
fn without_root_ping_works_where_the_kernel_allows_unprivileged_icmp() {
    let dir = TestDir::new(&[dist_wasm("net")]);
    netns_config(&dir, json!([ping_item("lo", "127.0.0.1", 1)]));
    let mut logger = NetnsLogger::start(&dir, "0 2147483647", true);
    let db = dir.db_path();
    logger.wait("a sample pinged as nobody", |_| {
        (!store_rows(&db, "lo").is_empty()).then_some(())
    });
    let row = &store_rows(&db, "lo")[0];
    assert_eq!(row.fields["packets_received"], 3, "{row:?}");
    assert_eq!(row.fields["result_code"], 0, "{row:?}");
}

#[test]
fn without_root_or_permission_the_error_says_how_to_allow_ping() {
    let dir = TestDir::new(&[dist_wasm("net")]);
    netns_config(&dir, json!([ping_item("lo", "127.0.0.1", 1)]));
    // "1 0" is the kernel's default: no group may open an ICMP socket.
    let mut logger = NetnsLogger::start(&dir, "1 0", true);
    let line = logger.wait("the item's error in the log", |log| {
        log.lines()
            .find(|l| l.contains("ICMP is not permitted"))
            .map(String::from)
    });
    for advice in ["ping_group_range", "\"1 0\"", "sysctl", "setcap cap_net_raw+ep"] {
        assert!(line.contains(advice), "the error does not mention {advice}: {line}");
    }
    assert!(store_rows(&dir.db_path(), "lo").is_empty());
}
