//! `ping`: ICMP echo, granted per target (`"ping": ["any"]`, hosts, networks).
//!
//! Uses surge-ping on one shared socket per address family: an unprivileged
//! ICMP socket where the kernel allows it (`net.ipv4.ping_group_range`), else a
//! raw socket (root or CAP_NET_RAW). surge-ping is async; its receive task runs
//! on a small runtime of its own so a ping works from any thread.

use super::net_rule::{any_allows, may_allow, NetRule};
use super::{CallState, Grant};
use crate::wit::datalogger::plugin::ping::{EchoRequest, EchoStats, Host};
use crate::wit::types::CapError;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use surge_ping::{Client, Config, PingIdentifier, PingSequence, ICMP};

const MAX_COUNT: u32 = 100;
const MAX_TIMEOUT_MS: u32 = 30_000;
/// Shortest pause between two echo requests.
const MIN_INTERVAL_MS: u32 = 10;
const PAYLOAD: [u8; 56] = [0; 56];

/// The grant `"ping": ["any"]`: which targets `echo` may ping (the same rules
/// as `http`, ports aside).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct PingGrant(pub Vec<NetRule>);

impl Grant for PingGrant {
    fn summary(&self) -> Vec<String> {
        match self.0.is_empty() {
            true => Vec::new(),
            false => vec![format!("ping to {}", NetRule::list(&self.0))],
        }
    }
}

/// The shared sockets, created on first use; a failed creation is retried on
/// the next ping (the operator may have fixed the permission meanwhile).
/// Shared as `Arc<Client>`, never as `Client` clones: in surge-ping 0.8
/// dropping any clone of a `Client` shuts the shared socket down.
#[derive(Default)]
pub struct Pingers {
    v4: Mutex<Option<Arc<Client>>>,
    v6: Mutex<Option<Arc<Client>>>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ping")
            .enable_all()
            .build()
            .expect("start the ping runtime")
    })
}

impl Pingers {
    fn client(&self, ip: IpAddr) -> Result<Arc<Client>, String> {
        let (slot, kind) = match ip {
            IpAddr::V4(_) => (&self.v4, ICMP::V4),
            IpAddr::V6(_) => (&self.v6, ICMP::V6),
        };
        let mut slot = slot.lock().unwrap();
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let config = Config::builder().kind(kind).build();
        // Client::new spawns its receive task on the current runtime.
        let _guard = runtime().enter();
        let client = Arc::new(Client::new(&config).map_err(|e| not_permitted(&e))?);
        *slot = Some(client.clone());
        Ok(client)
    }
}

/// Neither socket could be opened: say why and how to fix it.
fn not_permitted(e: &std::io::Error) -> String {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "datalogger".into());
    format!(
        "ICMP is not permitted for this process ({e}): an unprivileged ICMP socket needs the process's group \
         inside net.ipv4.ping_group_range (now \"{range}\") and a raw socket needs root or CAP_NET_RAW. \
         Fix one of: sudo sysctl -w net.ipv4.ping_group_range=\"0 2147483647\" (persist it in /etc/sysctl.d/), \
         or sudo setcap cap_net_raw+ep {exe}"
    )
}

impl Host for CallState {
    fn echo(&mut self, req: EchoRequest) -> Result<EchoStats, CapError> {
        if self.grants.ping.0.is_empty() {
            return Err(self.not_granted(format!("ping {}", req.target)));
        }
        if req.count == 0 || req.count > MAX_COUNT || req.timeout_ms == 0 || req.timeout_ms > MAX_TIMEOUT_MS {
            return Err(CapError::Invalid(format!(
                "count must be 1..={MAX_COUNT} and timeout-ms 1..={MAX_TIMEOUT_MS} (got {} and {})",
                req.count, req.timeout_ms
            )));
        }
        let target = req.target.trim().to_string();
        // No name lookup for a target no rule could allow.
        if !may_allow(&self.grants.ping.0, &target, None) {
            return Err(self.not_granted(format!("ping {target}")));
        }
        let ip = self.waiting(|_| resolve(&target))?;
        if !any_allows(&self.grants.ping.0, &target, ip, None) {
            let shown = if ip.to_string() == target {
                target.clone()
            } else {
                format!("{target} ({ip})")
            };
            return Err(self.not_granted(format!("ping {shown}")));
        }
        // The whole series must fit in what is left of the call's budget.
        let interval = Duration::from_millis(req.interval_ms.max(MIN_INTERVAL_MS).into());
        let per_reply = Duration::from_millis(req.timeout_ms.into());
        let needed = interval * (req.count - 1) + per_reply;
        let budget = self.remaining_for(None, needed)?;
        if budget < needed {
            return Err(CapError::Invalid(format!(
                "{} pings {} ms apart with a {} ms timeout need {} ms; the call has {} ms left",
                req.count,
                interval.as_millis(),
                req.timeout_ms,
                needed.as_millis(),
                budget.as_millis()
            )));
        }
        let client = self
            .waiting(|s| s.caps.ping.client(ip))
            .map_err(CapError::Unavailable)?;
        let rtts = self.waiting(|_| series(client, ip, req.count, interval, per_reply))?;
        Ok(stats(req.count, &rtts))
    }
}

fn resolve(target: &str) -> Result<IpAddr, CapError> {
    if let Ok(ip) = target.parse::<IpAddr>() {
        return Ok(ip);
    }
    if target.is_empty() || target.len() > 253 || target.contains(['/', ' ', ':']) {
        return Err(CapError::Invalid(format!(
            "{target:?} is not a host name or IP address"
        )));
    }
    let mut addrs = (target, 0)
        .to_socket_addrs()
        .map_err(|e| CapError::Unavailable(format!("cannot resolve {target}: {e}")))?;
    addrs
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| CapError::Unavailable(format!("cannot resolve {target}: no address")))
}

/// Sends `count` echo requests `interval` apart (not waiting for replies, as
/// ping(8) does) and returns the round-trip times of those answered in time.
fn series(
    client: Arc<Client>,
    ip: IpAddr,
    count: u32,
    interval: Duration,
    per_reply: Duration,
) -> Result<Vec<Duration>, CapError> {
    let ident = PingIdentifier(fastrand::u16(..));
    let task = runtime().spawn(async move {
        let mut replies = Vec::new();
        for seq in 0..count {
            if seq > 0 {
                tokio::time::sleep(interval).await;
            }
            let mut pinger = client.pinger(ip, ident).await;
            pinger.timeout(per_reply);
            replies.push(tokio::spawn(async move {
                pinger.ping(PingSequence(seq as u16), &PAYLOAD).await
            }));
        }
        let mut rtts = Vec::new();
        let mut error = None;
        for r in replies {
            match r.await {
                Ok(Ok((_, rtt))) => rtts.push(rtt),
                Ok(Err(surge_ping::SurgeError::Timeout { .. })) => {}
                Ok(Err(e)) => error = Some(e.to_string()),
                Err(e) => error = Some(e.to_string()),
            }
        }
        match (rtts.is_empty(), error) {
            // Nothing answered because sending failed (e.g. network unreachable).
            (true, Some(e)) => Err(e),
            _ => Ok(rtts),
        }
    });
    match futures::executor::block_on(task) {
        Ok(Ok(rtts)) => Ok(rtts),
        Ok(Err(e)) => Err(CapError::Unavailable(format!("ping {ip}: {e}"))),
        Err(e) => Err(CapError::Failed(format!("ping {ip}: {e}"))),
    }
}

/// ping(8)'s summary: min/avg/max and the population standard deviation.
fn stats(transmitted: u32, rtts: &[Duration]) -> EchoStats {
    let ms: Vec<f64> = rtts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let n = ms.len() as f64;
    let (min, avg, max, stddev) = if ms.is_empty() {
        (None, None, None, None)
    } else {
        let avg = ms.iter().sum::<f64>() / n;
        let var = ms.iter().map(|x| (x - avg).powi(2)).sum::<f64>() / n;
        (
            ms.iter().copied().reduce(f64::min),
            Some(avg),
            ms.iter().copied().reduce(f64::max),
            Some(var.sqrt()),
        )
    };
    EchoStats {
        transmitted,
        received: ms.len() as u32,
        min_ms: min,
        avg_ms: avg,
        max_ms: max,
        stddev_ms: stddev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_ping_summary() {
        let s = stats(4, &[Duration::from_millis(1), Duration::from_millis(3)]);
        assert_eq!((s.transmitted, s.received), (4, 2));
        assert_eq!((s.min_ms, s.avg_ms, s.max_ms), (Some(1.0), Some(2.0), Some(3.0)));
        assert!((s.stddev_ms.unwrap() - 1.0).abs() < 1e-9);
        let none = stats(3, &[]);
        assert_eq!((none.received, none.avg_ms, none.stddev_ms), (0, None, None));
    }

    #[test]
    fn targets_are_checked_before_resolving() {
        assert!(matches!(resolve("a b"), Err(CapError::Invalid(_))));
        assert!(matches!(resolve("no-such-host.invalid"), Err(CapError::Unavailable(_))));
        assert_eq!(resolve("127.0.0.1").unwrap(), "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
