//! MQTT subscriptions (`"mqtt"` sources): one task per source runs the
//! client's event loop (connection, keep-alive, reconnects) and hands each
//! message through a bounded window to a consumer task, which decodes it,
//! commits its samples and only then acknowledges it.
//!
//! Delivery is at least once: the session is persistent (clean session off,
//! a fixed client id), so the broker keeps QoS 1 messages while the logger is
//! away and sends again whatever was not acknowledged; the store's one sample
//! per series and timestamp drops what a redelivery brings twice.
//!
//! What `rumqttc` does that this module works around:
//! - after an error, `poll()` reconnects at once: the loop waits (capped
//!   exponential backoff) itself;
//! - a packet over the client's size limit is an error that drops the
//!   connection before the packet is read, so the broker sends it again on
//!   the next connection, for ever. The next connection is opened with room
//!   for that one packet; the consumer sets it aside (a payload over
//!   `max_payload_bytes` is never decoded) and acknowledges it;
//! - it does not forget events read before a connection error: they are
//!   dropped here (the broker sends them again), and an acknowledgement is
//!   sent only on the connection its message came on, so a stale one cannot
//!   acknowledge another message that reuses the packet id;
//! - its event loop picks at random between reading the socket (up to ten
//!   packets) and sending one queued request, so acknowledgements queued in
//!   its request channel fall behind a broker that keeps sending: mosquitto
//!   2.0.11 does (see `WINDOW`), and at 100,000 messages the channel overflowed
//!   and acknowledgements were lost. The event loop's task writes them itself
//!   (`ToLoop`, `write_acks`), all that are ready, before it polls again.

use super::decode::{self, Decoded, Decoder, NotReady, Payload};
use super::push::{MqttSettings, PushSource, PushSources};
use crate::plugins::Registry;
use crate::sample::Sample;
use crate::store::Store;
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, Incoming, MqttOptions, Outgoing, Packet, PubAck, PubRec, Publish,
    QoS,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Messages received that the consumer may hold before the event loop waits
/// for it (then TCP holds the broker back). The broker's own in-flight limit
/// (mosquitto's `max_inflight_messages`, 20) does not bound this: mosquitto
/// 2.0.11 sends a resumed session's queue, and a live burst, well past it (on
/// a PUBACK it moves up to 20 more from its queue, counting only the messages
/// before the acknowledged one).
const WINDOW: usize = 64;
/// The client's request channel: SUBSCRIBE and DISCONNECT only (the
/// acknowledgements go through `ToLoop`).
const REQUESTS: usize = 16;
/// The most messages decoded and committed together.
const BATCH: usize = WINDOW;
/// The consumer's channel to the event loop's task (`ToLoop`). The consumer
/// holds at most `WINDOW + BATCH` messages and the task empties the channel
/// before each poll, forwarding at most one message in between, so the
/// consumer never waits on it.
const TO_LOOP: usize = WINDOW + BATCH + 2;
/// Room above `max_payload_bytes` in a PUBLISH packet: topic (up to 64 KiB),
/// its length and the packet id.
const PACKET_HEADROOM: usize = 65_535 + 2 + 2;
/// MQTT 3.1.1's largest packet (remaining length).
const PROTOCOL_MAX_PACKET: usize = 268_435_455;
/// How long shutdown waits for a batch in progress and the DISCONNECT.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The MQTT sources' tasks; `stop` ends them cleanly.
#[derive(Default)]
pub struct MqttSources {
    stop: Option<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<()>>,
}

impl MqttSources {
    /// Starts one task per source that has `"mqtt"` settings.
    pub fn start(sources: &PushSources, store: &Store, registry: &Arc<Registry>) -> MqttSources {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for source in sources.list() {
            if source.spec.mqtt.is_none() {
                continue;
            }
            let ctx = Arc::new(Ctx {
                source: source.clone(),
                store: store.clone(),
                registry: registry.clone(),
            });
            tasks.push(tokio::spawn(run(ctx, stopped.clone())));
        }
        MqttSources {
            stop: Some(stop),
            tasks,
        }
    }

    /// Lets each source finish the batch it is committing (and acknowledge
    /// it), then disconnects; what is not committed stays unacknowledged and
    /// the broker sends it again. Waits at most a few seconds.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(STOP_GRACE + Duration::from_secs(1), task)
                .await
                .is_err()
            {
                tracing::warn!("an MQTT source did not stop in time; stopped without disconnecting");
                abort.abort();
            }
        }
    }
}

impl Drop for MqttSources {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What both tasks of a source share.
struct Ctx {
    source: Arc<PushSource>,
    store: Store,
    registry: Arc<Registry>,
}

impl Ctx {
    fn settings(&self) -> &MqttSettings {
        self.source.spec.mqtt.as_ref().expect("an mqtt source")
    }
    fn name(&self) -> &str {
        &self.source.spec.name
    }
}

/// A message in the window.
struct Message {
    publish: Publish,
    /// The connection it came on: it is acknowledged only on that one. Once
    /// it is gone the broker sends the message again, and the old packet id
    /// may by then name another message.
    connection: u64,
    received_ns: i64,
}

/// What the consumer asks of the event loop's task, in order.
#[derive(Debug)]
enum ToLoop {
    /// Acknowledge a committed message (if its connection is still up).
    Ack { pkid: u16, qos: QoS, connection: u64 },
    /// Send DISCONNECT, after the acknowledgements before it.
    Disconnect,
}

/// The acknowledgement packet of a message, if its QoS has one.
fn ack_packet(pkid: u16, qos: QoS) -> Option<Packet> {
    match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce => Some(Packet::PubAck(PubAck::new(pkid))),
        QoS::ExactlyOnce => Some(Packet::PubRec(PubRec::new(pkid))),
    }
}

/// Writes `first` and whatever else the consumer has queued to the socket,
/// with one flush: acknowledgements of messages that came on `connection`
/// (others are dropped; the broker sends those messages again). A DISCONNECT
/// goes to the client's channel after them. An error is the connection's.
async fn write_acks(
    eventloop: &mut EventLoop,
    client: &AsyncClient,
    connection: u64,
    first: ToLoop,
    queued: &mut mpsc::Receiver<ToLoop>,
) -> Result<(), ConnectionError> {
    let flush_timeout = Duration::from_secs(eventloop.network_options().connection_timeout());
    let mut next = Some(first);
    let mut written = false;
    let mut disconnect = false;
    while let Some(item) = next.take() {
        match item {
            ToLoop::Ack {
                pkid,
                qos,
                connection: c,
            } => {
                if let (true, Some(network), Some(packet)) =
                    (c == connection, eventloop.network.as_mut(), ack_packet(pkid, qos))
                {
                    network.write(packet).await?;
                    written = true;
                }
            }
            ToLoop::Disconnect => {
                disconnect = true;
                break;
            }
        }
        next = queued.try_recv().ok();
    }
    if written {
        if let Some(network) = eventloop.network.as_mut() {
            match tokio::time::timeout(flush_timeout, network.flush()).await {
                Ok(r) => r?,
                Err(_) => return Err(ConnectionError::FlushTimeout),
            }
        }
    }
    if disconnect {
        let _ = client.try_disconnect();
    }
    Ok(())
}

/// Capped exponential backoff.
#[derive(Debug, Clone)]
struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next attempt; doubles up to `max`.
    fn fail(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Adds `<key>=<topic>` to every sample that lacks the key.
fn add_topic_tag(samples: &mut [Sample], key: &str, topic: &str) {
    for s in samples {
        if !s.tags.contains_key(key) {
            s.tags.insert(key.to_string(), topic.to_string());
        }
    }
}

/// The client's packet size limit for a payload limit.
fn packet_limit(max_payload_bytes: usize) -> usize {
    max_payload_bytes
        .saturating_add(PACKET_HEADROOM)
        .min(PROTOCOL_MAX_PACKET)
}

fn options(ctx: &Ctx) -> Result<MqttOptions, String> {
    let m = ctx.settings();
    let (host, port) = m.address()?;
    let mut o = MqttOptions::new(m.client_id_for(ctx.name()), host, port);
    o.set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(m.keep_alive_s))
        // Outgoing: SUBSCRIBE, acknowledgements, PINGREQ only.
        .set_max_packet_size(
            packet_limit(m.max_payload_bytes),
            PACKET_HEADROOM * 2 * m.topics.len().max(1),
        )
        // A persistent session keeps QoS 1 messages only with a fixed id.
        .set_request_channel_capacity(REQUESTS);
    if let Some(user) = &m.username {
        let password = m.password.as_ref().map_or("", |p| p.expose());
        o.set_credentials(user.clone(), password.to_string());
    }
    Ok(o)
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the app is stopping.
    let _ = stop.wait_for(|s| *s).await;
}

/// Sleeps `d` unless the app stops first (`false` then).
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = stopped(stop) => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// One source: the event loop here, the consumer in a task of its own.
async fn run(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let options = match options(&ctx) {
        Ok(o) => o,
        Err(e) => {
            // parse_sources refuses such a config; kept as a guard.
            tracing::error!(source = %ctx.name(), "{e}");
            ctx.source.set_connected(false, Some(e));
            return;
        }
    };
    let m = ctx.settings().clone();
    let qos = if m.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
    let normal_limit = options.max_packet_size();
    let outgoing_limit = options.max_packet_size().max(PACKET_HEADROOM * 2);
    let (client, mut eventloop) = AsyncClient::new(options, REQUESTS);
    // Counts connections (and their ends): what a message is acknowledged on.
    let mut connection: u64 = 0;
    let (tx, rx) = mpsc::channel::<Message>(WINDOW);
    let (to_loop_tx, mut to_loop) = mpsc::channel::<ToLoop>(TO_LOOP);
    let consumer = tokio::spawn(consume(ctx.clone(), rx, stop.clone(), to_loop_tx));

    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    // None before the first attempt; logged once per change.
    let mut up: Option<bool> = None;
    let mut stopping = false;
    let stop_deadline = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(stop_deadline);
    loop {
        let event = tokio::select! {
            biased;
            _ = stopped(&mut stop), if !stopping => {
                // The consumer finishes its batch and sends DISCONNECT; keep
                // polling so its acknowledgements go out first.
                stopping = true;
                stop_deadline.as_mut().reset(tokio::time::Instant::now() + STOP_GRACE);
                if up != Some(true) {
                    break;
                }
                continue;
            }
            _ = &mut stop_deadline, if stopping => break,
            // Before polling again: poll() may read ten packets for each
            // request it sends, so acknowledgements left to it fall behind.
            // (Cancelling a pending poll() is safe: it waits on the socket or
            // the request channel, which keep what they hold.)
            Some(first) = to_loop.recv() => {
                match write_acks(&mut eventloop, &client, connection, first, &mut to_loop).await {
                    Ok(()) => continue,
                    Err(e) => Err(e),
                }
            }
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Incoming::ConnAck(ack))) => {
                connection += 1;
                backoff.reset();
                // A raised limit (see below) served its one connection.
                eventloop.mqtt_options.set_max_packet_size(normal_limit, outgoing_limit);
                ctx.source.set_connected(true, None);
                tracing::info!(
                    source = %ctx.name(),
                    "MQTT: connected to {} as {:?} (session {})",
                    m.url,
                    m.client_id_for(ctx.name()),
                    if ack.session_present { "resumed" } else { "new" }
                );
                up = Some(true);
                let filters = m.topics.iter().map(|t| rumqttc::SubscribeFilter::new(t.clone(), qos));
                if let Err(e) = client.try_subscribe_many(filters) {
                    tracing::error!(source = %ctx.name(), "MQTT: cannot subscribe: {e}");
                }
            }
            Ok(Event::Incoming(Incoming::SubAck(ack))) => {
                let refused: Vec<&str> = ack
                    .return_codes
                    .iter()
                    .zip(&m.topics)
                    .filter(|(code, _)| matches!(code, rumqttc::SubscribeReasonCode::Failure))
                    .map(|(_, t)| t.as_str())
                    .collect();
                if !refused.is_empty() {
                    let e = format!(
                        "the broker refused the subscription to {refused:?} (is the client allowed to read them?)"
                    );
                    tracing::warn!(source = %ctx.name(), "MQTT: {e}");
                }
            }
            Ok(Event::Incoming(Incoming::Publish(publish))) => {
                let message = Message {
                    publish,
                    connection,
                    received_ns: crate::sample::now_ns(),
                };
                // Full while the consumer is behind: waiting here is TCP's
                // backpressure. (No PINGREQ meanwhile: a store held longer
                // than 1.5 keep-alives ends the connection; nothing is
                // acknowledged then, the broker sends it all again.)
                if tx.send(message).await.is_err() && !stopping {
                    tracing::error!(source = %ctx.name(), "MQTT: the consumer ended; stopping the source");
                    break;
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => {
                // Forget what was read before the error (the broker sends it
                // again); acknowledgements of the old connection are dropped.
                connection += 1;
                eventloop.clean();
                eventloop.state.events.clear();
                if stopping {
                    break;
                }
                let text = describe(&e, &m.url);
                let wait = match oversized(&e) {
                    Some(size) => {
                        let room = size.saturating_add(16).min(PROTOCOL_MAX_PACKET);
                        tracing::warn!(
                            source = %ctx.name(),
                            "MQTT: a message of {size} bytes is over \"max_payload_bytes\" ({}); reconnecting with room for it once, to set it aside",
                            m.max_payload_bytes
                        );
                        eventloop.mqtt_options.set_max_packet_size(room, outgoing_limit);
                        Duration::ZERO
                    }
                    None => backoff.fail(),
                };
                if up != Some(false) {
                    match up {
                        Some(true) => {
                            tracing::warn!(source = %ctx.name(), "MQTT: disconnected: {text}; reconnecting (backoff up to 30 s)")
                        }
                        _ => {
                            tracing::warn!(source = %ctx.name(), "MQTT: cannot connect: {text}; retrying (backoff up to 30 s)")
                        }
                    }
                } else {
                    tracing::debug!(source = %ctx.name(), "MQTT: still cannot connect: {text}; next try in {wait:?}");
                }
                up = Some(false);
                ctx.source.set_connected(false, Some(text));
                if !pause(&mut stop, wait).await {
                    break;
                }
            }
        }
    }
    drop(tx);
    drop(to_loop);
    let _ = tokio::time::timeout(STOP_GRACE, consumer).await;
    if up == Some(true) {
        tracing::info!(source = %ctx.name(), "MQTT: disconnected from {} (stopping)", m.url);
    }
    ctx.source.set_connected(false, None);
}

/// The size of a packet the client refused as too large, if that is `e`.
fn oversized(e: &ConnectionError) -> Option<usize> {
    match e {
        ConnectionError::MqttState(rumqttc::StateError::Deserialization(rumqttc::Error::PayloadSizeLimitExceeded(
            n,
        ))) => Some(*n),
        _ => None,
    }
}

fn describe(e: &ConnectionError, url: &str) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker at {url} refused the connection ({code:?}); check \"username\", \"password\" and \"client_id\"")
        }
        ConnectionError::Io(io) => format!("{url}: {io}"),
        ConnectionError::NetworkTimeout => format!("{url}: no answer to CONNECT in time"),
        other => format!("{url}: {other}"),
    }
}

/// Decodes, commits and acknowledges what the event loop hands over.
async fn consume(
    ctx: Arc<Ctx>,
    mut rx: mpsc::Receiver<Message>,
    mut stop: watch::Receiver<bool>,
    to_loop: mpsc::Sender<ToLoop>,
) {
    let mut held: VecDeque<Message> = VecDeque::new();
    let mut not_ready = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let mut waiting_for_decoder = false;
    loop {
        if held.is_empty() {
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => break,
                m = rx.recv() => match m {
                    Some(m) => held.push_back(m),
                    None => break,
                },
            }
        }
        while held.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => held.push_back(m),
                Err(_) => break,
            }
        }
        let mut decoded = decode_all(&ctx, &held).await.into_iter();
        let mut batch = Vec::with_capacity(held.len());
        let mut why_not = None;
        for d in decoded.by_ref() {
            match d {
                Ok(d) => batch.push((held.pop_front().expect("one result per message"), d)),
                Err(NotReady(why)) => {
                    why_not = Some(why);
                    break;
                }
            }
        }
        if !batch.is_empty() {
            not_ready.reset();
            if !deliver(&ctx, &to_loop, batch, &mut stop).await {
                break;
            }
        }
        match why_not {
            None => {
                if waiting_for_decoder {
                    tracing::info!(source = %ctx.name(), "MQTT: the decoder is ready; reading the messages that waited");
                    waiting_for_decoder = false;
                }
            }
            Some(why) => {
                // Keep the message (unacknowledged) and the ones after it; try again.
                if !waiting_for_decoder {
                    tracing::warn!(source = %ctx.name(), "MQTT: messages wait for the decoder: {why}");
                    waiting_for_decoder = true;
                }
                if !pause(&mut stop, not_ready.fail()).await {
                    break;
                }
            }
        }
    }
    // What is held is not acknowledged: the broker sends it again. (An
    // error: the event loop's task has ended.)
    let _ = to_loop.send(ToLoop::Disconnect).await;
}

/// Decodes every held message off the async runtime (a plugin decoder runs
/// in the sandbox); a payload over the limit is not decoded but refused.
async fn decode_all(ctx: &Arc<Ctx>, held: &VecDeque<Message>) -> Vec<Result<Decoded, NotReady>> {
    let max = ctx.settings().max_payload_bytes;
    // Cheap: the payload is reference counted.
    let inputs: Vec<(Publish, i64)> = held.iter().map(|m| (m.publish.clone(), m.received_ns)).collect();
    let ctx = ctx.clone();
    let decoder = Decoder::of(&ctx.source.spec).unwrap_or(Decoder::LineProtocol);
    let work = move || {
        inputs
            .iter()
            .map(|(publish, received_ns)| {
                let bytes = &publish.payload[..];
                if bytes.len() > max {
                    return Ok(Decoded {
                        samples: Vec::new(),
                        problem: Some(format!(
                            "a payload of {} bytes is over \"max_payload_bytes\" ({max}); not read",
                            bytes.len()
                        )),
                        rejected: 1,
                    });
                }
                let payload = Payload {
                    source: &ctx.source.spec.name,
                    transport: "mqtt",
                    topic: &publish.topic,
                    received_ns: *received_ns,
                    bytes,
                };
                decode::decode(&ctx.registry, &decoder, &payload)
            })
            .collect::<Vec<_>>()
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(d) => d,
        Err(e) => {
            // A decoder that panics: treat the batch as not ready, retried later.
            let why = format!("the decoder failed: {e}");
            (0..held.len()).map(|_| Err(NotReady(why.clone()))).collect()
        }
    }
}

/// Commits the samples of `batch` (retrying while the store cannot take
/// them), counts and sets aside what was not read, then acknowledges each
/// message. `false` if the app stopped before the commit.
async fn deliver(
    ctx: &Ctx,
    to_loop: &mpsc::Sender<ToLoop>,
    batch: Vec<(Message, Decoded)>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let topic_tag = ctx.source.spec.topic_tag.as_deref();
    let mut samples = Vec::new();
    let mut done = Vec::with_capacity(batch.len());
    for (message, mut decoded) in batch {
        let mut s = std::mem::take(&mut decoded.samples);
        if let Some(key) = topic_tag {
            add_topic_tag(&mut s, key, &message.publish.topic);
        }
        samples.extend(s);
        done.push((message, decoded));
    }
    let mut retry = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut logged = false;
    loop {
        // The copy is what a retry sends if the store cannot take them now.
        match ctx.source.commit(&ctx.store, samples.clone()).await {
            Ok(_) => break,
            Err(e) => {
                if !logged {
                    tracing::warn!(
                        source = %ctx.name(),
                        "MQTT: {e}; holding {} messages unacknowledged and retrying",
                        done.len()
                    );
                    logged = true;
                }
                if !pause(stop, retry.fail()).await {
                    return false;
                }
            }
        }
    }
    if logged {
        tracing::info!(source = %ctx.name(), "MQTT: the store took the held messages");
    }
    for (message, decoded) in &done {
        ctx.source.note_received(decoded.rejected, decoded.problem.clone());
        if let Some(reason) = &decoded.problem {
            ctx.source
                .set_aside(&ctx.store, &message.publish.topic, reason, &message.publish.payload)
                .await;
        }
    }
    for (message, _) in &done {
        let ack = ToLoop::Ack {
            pkid: message.publish.pkid,
            qos: message.publish.qos,
            connection: message.connection,
        };
        // An error: the event loop's task has ended (stopping); the broker
        // sends the message again.
        if to_loop.send(ack).await.is_err() {
            break;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let waits: Vec<u128> = (0..9).map(|_| b.fail().as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        b.reset();
        assert_eq!(b.fail(), Duration::from_millis(500));
    }

    #[test]
    fn the_topic_tag_is_added_where_it_is_missing() {
        let sample = |tags: &[(&str, &str)]| Sample {
            measurement: "m".into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            fields: vec![("v".into(), crate::sample::FieldValue::Float(1.0))],
            timestamp_ns: 1,
        };
        let mut samples = vec![sample(&[]), sample(&[("topic", "own")]), sample(&[("room", "attic")])];
        add_topic_tag(&mut samples, "topic", "/isems/7/csvlog");
        assert_eq!(samples[0].tags["topic"], "/isems/7/csvlog");
        assert_eq!(samples[1].tags["topic"], "own", "a sample's own tag is kept");
        assert_eq!(samples[2].tags["topic"], "/isems/7/csvlog");
        assert_eq!(samples[2].tags["room"], "attic");
    }

    #[test]
    fn the_packet_limit_leaves_room_for_the_topic_and_stays_in_the_protocol() {
        assert_eq!(packet_limit(1 << 20), (1 << 20) + 65_539);
        assert_eq!(packet_limit(usize::MAX), PROTOCOL_MAX_PACKET);
    }

    #[test]
    fn only_a_too_large_packet_raises_the_limit() {
        let big = ConnectionError::MqttState(rumqttc::StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(5_000_000),
        ));
        assert_eq!(oversized(&big), Some(5_000_000));
        assert_eq!(oversized(&ConnectionError::NetworkTimeout), None);
    }
}
