//! The ISEMS collector's environment variables, honoured when the config has
//! `"compat": {"isems": ...}`, so an existing deployment's settings carry
//! over: `ISEMS_ROUTER_IPS` (comma-separated `host[:port]`) becomes one
//! `isems.node` item per node, polled every 900 s as the original's cron job
//! did; `MQTT_SERVER` (a host name; port 1883, no auth, as the original)
//! becomes a source subscribed to `/isems/+/csvlog`; `HIDE_INACTIVE_AFTER_DAYS`
//! sets the cut-off. What they make is not written to the config file when
//! items change over REST: the variables stay the place to change it.

use crate::compat::isems::IsemsSettings;
use crate::sources::items::{parse_item, ItemSpec};
use crate::sources::push::SourceSpec;
use serde_json::json;

/// The original's poll period (a cron job every 15 minutes).
pub const NODE_INTERVAL_S: u64 = 900;
/// The source `MQTT_SERVER` makes.
pub const MQTT_SOURCE: &str = "isems-mqtt";

/// Applies the variables `env` gives to the settings, items and sources;
/// returns the names of the items it made (kept out of the config file).
pub fn apply(
    env: impl Fn(&str) -> Option<String>,
    settings: &mut IsemsSettings,
    items: &mut Vec<ItemSpec>,
    sources: &mut Vec<SourceSpec>,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Vec<String> {
    if let Some(days) = env("HIDE_INACTIVE_AFTER_DAYS") {
        match days.trim().parse::<u32>() {
            Ok(d) => {
                notes.push(format!("HIDE_INACTIVE_AFTER_DAYS={d}: /measurements/latest hides nodes silent for {d} days"));
                settings.hide_inactive_after_days = d;
            }
            Err(_) => problems.push(format!(
                "the environment variable HIDE_INACTIVE_AFTER_DAYS is {days:?}; set it to a whole number of days, or unset it"
            )),
        }
    }
    let mut made = Vec::new();
    for address in env("ISEMS_ROUTER_IPS").iter().flat_map(|v| v.split(',')) {
        let address = address.trim();
        if address.is_empty() {
            continue;
        }
        if items
            .iter()
            .any(|i| i.key == "isems.node" && i.arg.as_deref() == Some(address))
        {
            notes.push(format!(
                "ISEMS_ROUTER_IPS: {address} is polled by an item of the config already"
            ));
            continue;
        }
        let name = format!("isems-{address}");
        let spec = json!({"name": name, "key": "isems.node", "arg": address, "interval": NODE_INTERVAL_S});
        match parse_item(&spec) {
            Ok(p) if items.iter().all(|i| i.name != name) => {
                made.push(name);
                items.push(p.spec);
            }
            Ok(_) => problems.push(format!(
                "ISEMS_ROUTER_IPS: the item {name:?} it would make is already in the config; remove one"
            )),
            Err(e) => problems.push(format!(
                "the environment variable ISEMS_ROUTER_IPS has {address:?}: {e}; write host[:port] entries separated by commas"
            )),
        }
    }
    if !made.is_empty() {
        notes.push(format!(
            "ISEMS_ROUTER_IPS: polling {} every {NODE_INTERVAL_S} s (items {})",
            made.len(),
            made.join(", ")
        ));
    }
    if let Some(server) = env("MQTT_SERVER")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    {
        if sources.iter().any(|s| s.name == MQTT_SOURCE) {
            notes.push(format!(
                "MQTT_SERVER: the config has a source {MQTT_SOURCE:?} already; it is used as it is"
            ));
        } else {
            let spec = json!({
                "name": MQTT_SOURCE,
                "mqtt": {"url": format!("mqtt://{server}:1883"), "topics": ["/isems/+/csvlog"], "client_id": "datalogger-isems"},
                "decoder": "isems.csvlog",
            });
            let item_names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
            let mut found = Vec::new();
            let mut parsed = crate::sources::push::parse_sources(&json!([spec]), &item_names, &mut found);
            match (parsed.pop(), found.is_empty()) {
                (Some(s), true) => {
                    notes.push(format!("MQTT_SERVER: subscribing to /isems/+/csvlog at {server}:1883"));
                    sources.push(s);
                }
                _ => problems.push(format!(
                    "the environment variable MQTT_SERVER is {server:?}: {}; set it to the broker's host name",
                    found.join("; ")
                )),
            }
        }
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(vars: &[(&str, &str)]) -> (IsemsSettings, Vec<ItemSpec>, Vec<SourceSpec>, Vec<String>, Vec<String>) {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut settings = IsemsSettings::default();
        let (mut items, mut sources, mut problems, mut notes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let made = apply(
            |k| vars.get(k).cloned(),
            &mut settings,
            &mut items,
            &mut sources,
            &mut problems,
            &mut notes,
        );
        assert_eq!(made, items.iter().map(|i| i.name.clone()).collect::<Vec<_>>());
        (settings, items, sources, problems, notes)
    }

    #[test]
    fn the_originals_variables_make_items_a_source_and_the_cut_off() {
        let (settings, items, sources, problems, _) = run(&[
            ("ISEMS_ROUTER_IPS", "10.0.0.11,10.0.0.12:8080,"),
            ("MQTT_SERVER", "broker.lan"),
            ("HIDE_INACTIVE_AFTER_DAYS", "7"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.hide_inactive_after_days, 7);
        let made: Vec<(&str, Option<&str>, u64)> = items
            .iter()
            .map(|i| (i.name.as_str(), i.arg.as_deref(), i.interval))
            .collect();
        assert_eq!(
            made,
            [
                ("isems-10.0.0.11", Some("10.0.0.11"), 900),
                ("isems-10.0.0.12:8080", Some("10.0.0.12:8080"), 900)
            ]
        );
        let mqtt = sources[0].mqtt.as_ref().unwrap();
        assert_eq!(
            (mqtt.url.as_str(), mqtt.topics.as_slice()),
            ("mqtt://broker.lan:1883", &["/isems/+/csvlog".to_string()][..])
        );
        assert_eq!(sources[0].decoder.as_deref(), Some("isems.csvlog"));
    }

    #[test]
    fn unset_variables_change_nothing_and_bad_ones_name_the_fix() {
        let (settings, items, sources, problems, _) = run(&[]);
        assert_eq!(
            (settings, items.len(), sources.len(), problems.len()),
            (IsemsSettings::default(), 0, 0, 0)
        );
        let (_, _, _, problems, _) = run(&[("HIDE_INACTIVE_AFTER_DAYS", "a month")]);
        assert!(problems[0].contains("whole number of days"), "{problems:?}");
        let (_, _, _, problems, _) = run(&[("MQTT_SERVER", "bad host/x")]);
        assert!(problems[0].contains("MQTT_SERVER"), "{problems:?}");
    }
}
