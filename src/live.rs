//! The live activity feed: what happens in a tenant (PQRs registered, moved, scored, surveyed;
//! calls started, ended, recorded, transcribed; alerts) as it happens, for dashboards over
//! Server-Sent Events.
//!
//! Each tenant has a broadcast channel and a short history (the last ten minutes, at most
//! [`HISTORY_LIMIT`] events), so a dashboard that reconnects with `Last-Event-ID` gets what it
//! missed. Event ids are `<feed epoch>-<sequence>`: after a restart of the process the epoch
//! changes and a reconnecting client is told to reload (`reset`) instead of silently missing
//! events. The feed lives in the process; with several replicas each serves its own events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokio::sync::broadcast;

/// Most events kept per tenant for replay.
pub const HISTORY_LIMIT: usize = 10_000;
/// How long events are kept for replay.
pub const HISTORY_SPAN: SignedDuration = SignedDuration::from_secs(600);

/// One thing that happened.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiveEvent {
    /// `<epoch>-<sequence>`; send it back as `Last-Event-ID` to resume.
    pub id: String,
    #[serde(skip)]
    pub seq: u64,
    /// e.g. `incident.created`, `incident.changed`, `incident.scored`, `call.started`, `alert`
    pub kind: &'static str,
    pub at: Timestamp,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

struct TenantFeed {
    next_seq: u64,
    history: VecDeque<Arc<LiveEvent>>,
    sender: broadcast::Sender<Arc<LiveEvent>>,
}

impl TenantFeed {
    fn new() -> Self {
        Self {
            next_seq: 1,
            history: VecDeque::new(),
            sender: broadcast::channel(1_024).0,
        }
    }

    fn prune(&mut self, now: Timestamp) {
        let horizon = now.checked_sub(HISTORY_SPAN).unwrap_or(now);
        while self.history.len() > HISTORY_LIMIT
            || self.history.front().is_some_and(|e| e.at < horizon)
        {
            self.history.pop_front();
        }
    }
}

/// Where a reconnecting client picks up.
pub enum Resume {
    /// Events after the client's last one, then the live stream.
    Replay(Vec<Arc<LiveEvent>>),
    /// The client's last event is gone (another epoch, or older than the history): it should
    /// reload its state; the live stream follows.
    Reset,
}

/// All tenants' feeds.
pub struct LiveFeed {
    epoch: String,
    tenants: Mutex<HashMap<String, TenantFeed>>,
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self {
            epoch: Timestamp::now().as_millisecond().to_string(),
            tenants: Mutex::new(HashMap::new()),
        }
    }
}

impl LiveFeed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TenantFeed>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes an event to the tenant's subscribers and history.
    pub fn publish(&self, tenant_id: &str, kind: &'static str, data: serde_json::Value) {
        let now = Timestamp::now();
        let mut tenants = self.lock();
        let feed = tenants
            .entry(tenant_id.to_owned())
            .or_insert_with(TenantFeed::new);
        let seq = feed.next_seq;
        feed.next_seq += 1;
        let event = Arc::new(LiveEvent {
            id: format!("{}-{seq}", self.epoch),
            seq,
            kind,
            at: now,
            data,
        });
        feed.history.push_back(event.clone());
        feed.prune(now);
        // No subscriber is fine: the history keeps it for a while.
        let _ = feed.sender.send(event);
    }

    /// Subscribes to the tenant's events; with `last_event_id`, also what came after it. Taken
    /// under one lock, so nothing falls between the replay and the live stream.
    pub fn subscribe(
        &self,
        tenant_id: &str,
        last_event_id: Option<&str>,
    ) -> (Option<Resume>, broadcast::Receiver<Arc<LiveEvent>>) {
        let mut tenants = self.lock();
        let feed = tenants
            .entry(tenant_id.to_owned())
            .or_insert_with(TenantFeed::new);
        feed.prune(Timestamp::now());
        let receiver = feed.sender.subscribe();
        let resume = last_event_id.map(|id| {
            let seq = id
                .split_once('-')
                .filter(|(epoch, _)| *epoch == self.epoch)
                .and_then(|(_, seq)| seq.parse::<u64>().ok());
            match seq {
                // Known only if the event right after it is still in the history (or none came).
                Some(seq)
                    if seq < feed.next_seq
                        && feed.history.front().is_none_or(|e| e.seq <= seq + 1) =>
                {
                    Resume::Replay(
                        feed.history
                            .iter()
                            .filter(|e| e.seq > seq)
                            .cloned()
                            .collect(),
                    )
                }
                _ => Resume::Reset,
            }
        });
        (resume, receiver)
    }

    /// Ends every open stream (their channels close), so a graceful shutdown is not held up by
    /// dashboards that never disconnect.
    pub fn close(&self) {
        self.lock().clear();
    }

    /// Events of the last minute by kind, from the history.
    pub fn counters(&self, tenant_id: &str) -> HashMap<&'static str, u64> {
        let now = Timestamp::now();
        let horizon = now
            .checked_sub(SignedDuration::from_secs(60))
            .unwrap_or(now);
        let tenants = self.lock();
        let mut counts = HashMap::new();
        if let Some(feed) = tenants.get(tenant_id) {
            for event in feed.history.iter().rev().take_while(|e| e.at >= horizon) {
                *counts.entry(event.kind).or_insert(0) += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(resume: Option<Resume>) -> Vec<u64> {
        match resume {
            Some(Resume::Replay(events)) => events.iter().map(|e| e.seq).collect(),
            Some(Resume::Reset) => vec![u64::MAX],
            None => vec![],
        }
    }

    #[tokio::test]
    async fn subscribers_get_their_tenant_events_only() {
        let feed = LiveFeed::default();
        let (_, mut a) = feed.subscribe("a", None);
        let (_, mut b) = feed.subscribe("b", None);
        feed.publish("a", "incident.created", json!({ "id": 1 }));
        let event = a.recv().await.unwrap();
        assert_eq!(event.kind, "incident.created");
        assert!(event.id.ends_with("-1"));
        assert!(b.try_recv().is_err());
    }

    #[test]
    fn reconnecting_replays_what_was_missed() {
        let feed = LiveFeed::default();
        for i in 0..5 {
            feed.publish("a", "incident.created", json!({ "n": i }));
        }
        let last = format!("{}-2", feed.epoch);
        assert_eq!(ids(feed.subscribe("a", Some(&last)).0), [3, 4, 5]);
        let newest = format!("{}-5", feed.epoch);
        assert_eq!(ids(feed.subscribe("a", Some(&newest)).0), Vec::<u64>::new());
        // Another process's ids, a future id, or garbage: reload.
        for stale in ["123-2", &format!("{}-9", feed.epoch), "x"] {
            assert_eq!(
                ids(feed.subscribe("a", Some(stale)).0),
                [u64::MAX],
                "{stale}"
            );
        }
        assert_eq!(feed.counters("a")["incident.created"], 5);
    }

    #[tokio::test]
    async fn closing_ends_open_streams() {
        let feed = LiveFeed::default();
        let (_, mut receiver) = feed.subscribe("a", None);
        feed.close();
        assert!(matches!(
            receiver.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ));
    }

    #[test]
    fn history_is_bounded() {
        let feed = LiveFeed::default();
        for i in 0..HISTORY_LIMIT + 10 {
            feed.publish("a", "incident.created", json!({ "n": i }));
        }
        // The first events fell out: resuming from them is a reset.
        let first = format!("{}-1", feed.epoch);
        assert_eq!(ids(feed.subscribe("a", Some(&first)).0), [u64::MAX]);
        let recent = format!("{}-{}", feed.epoch, HISTORY_LIMIT);
        assert_eq!(ids(feed.subscribe("a", Some(&recent)).0).len(), 10);
    }
}
