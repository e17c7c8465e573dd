//! The change feed: Redis (or Valkey) pub/sub, one channel per cluster. Trusted for freshness only: a
//! message that is lost costs a node its freshness for a moment (the catalog checks with the store after a
//! reconnect or while the feed is down), never an object.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::{Mutex, Notify, mpsc};

use crate::catalog::FeedState;
use crate::health::Service;

/// Longest a publish or a health check may take before the feed counts as down.
const REQUEST_DEADLINE: Duration = Duration::from_millis(500);

/// How often the feed is checked while it seems up (a silent Redis is noticed within this and the deadline).
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Longest pause between attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Messages received but not yet applied, before the subscriber stops reading (Redis then buffers them).
const QUEUE: usize = 4096;

/// The connection to the feed, publishing and subscribed.
pub struct Feed {
    client: redis::Client,
    channel: String,
    publisher: Mutex<Option<MultiplexedConnection>>,
    epoch: AtomicU64,
    up: AtomicBool,
    reconnect: Notify,
    /// What the metrics and the health route say of it.
    pub service: Arc<Service>,
}

fn connection_config() -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(REQUEST_DEADLINE))
        .set_response_timeout(Some(REQUEST_DEADLINE))
}

impl Feed {
    /// Connects to `url` and checks it answers, within `deadline`; messages go to `channel`.
    ///
    /// # Errors
    /// A one-line reason when the feed cannot be reached.
    pub async fn connect(
        url: &str,
        channel: String,
        deadline: Duration,
    ) -> Result<Arc<Feed>, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let connect = async {
            let mut connection = client
                .get_multiplexed_async_connection_with_config(&connection_config())
                .await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>(connection)
        };
        let connection = match tokio::time::timeout(deadline, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("no answer within {deadline:?}")),
        };
        Ok(Arc::new(Feed {
            client,
            channel,
            publisher: Mutex::new(Some(connection)),
            epoch: AtomicU64::new(0),
            up: AtomicBool::new(false),
            reconnect: Notify::new(),
            service: Arc::new(Service::new("feed")),
        }))
    }

    /// The connection count and whether the subscription is live now.
    pub fn state(&self) -> FeedState {
        FeedState {
            epoch: self.epoch.load(Ordering::Acquire),
            up: self.up.load(Ordering::Acquire),
        }
    }

    /// Sends `message` to every node; `false` if the feed did not take it (the change is still stored).
    pub async fn publish(&self, message: Vec<u8>) -> bool {
        // While the subscriber finds the feed down, nobody could hear the message and waiting on a hung
        // server would hold the writer's answer; other nodes ask the store meanwhile (bounded staleness).
        if !self.up.load(Ordering::Acquire) {
            return false;
        }
        let started = Instant::now();
        let sent = self
            .command::<i64>(redis::cmd("PUBLISH").arg(&self.channel).arg(message))
            .await
            .map(drop);
        self.service.record(started, sent.is_ok());
        if let Err(why) = &sent {
            self.service.failed(why);
            tracing::warn!(error = %why, "change feed publish failed; other nodes fall back to the store");
        }
        sent.is_ok()
    }

    /// Runs `cmd` on the shared publishing connection (opened when missing, dropped when it fails), within
    /// [`REQUEST_DEADLINE`].
    async fn command<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, String> {
        let answer = tokio::time::timeout(REQUEST_DEADLINE, async {
            let mut publisher = self.publisher.lock().await;
            if publisher.is_none() {
                *publisher = self
                    .client
                    .get_multiplexed_async_connection_with_config(&connection_config())
                    .await
                    .ok();
            }
            let Some(connection) = publisher.as_mut() else {
                return Err("cannot connect".to_owned());
            };
            let result = cmd.query_async::<T>(connection).await;
            if result.is_err() {
                *publisher = None;
            }
            result.map_err(|e| e.to_string())
        })
        .await;
        answer.unwrap_or_else(|_| Err(format!("no answer within {REQUEST_DEADLINE:?}")))
    }

    /// Subscribes in the background, reconnecting for as long as the process runs; received messages go
    /// to the returned queue in the order they were published.
    pub fn subscribe(self: &Arc<Self>) -> mpsc::Receiver<Bytes> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(Arc::clone(self).follow(sender));
        tokio::spawn(Arc::clone(self).check());
        receiver
    }

    async fn follow(self: Arc<Self>, sender: mpsc::Sender<Bytes>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.subscription().await {
                Ok(mut messages) => {
                    backoff = Duration::from_millis(50);
                    self.epoch.fetch_add(1, Ordering::AcqRel);
                    self.up.store(true, Ordering::Release);
                    self.service.set_reachable(true, "");
                    tracing::info!(epoch = self.state().epoch, "change feed connected");
                    loop {
                        tokio::select! {
                            message = messages.next() => match message {
                                Some(message) => {
                                    let payload = Bytes::from(message.get_payload_bytes().to_vec());
                                    if sender.send(payload).await.is_err() {
                                        return;
                                    }
                                }
                                None => break,
                            },
                            () = self.reconnect.notified() => break,
                        }
                    }
                    self.up.store(false, Ordering::Release);
                    self.service.set_reachable(false, "connection lost");
                    tracing::warn!(
                        "change feed lost; serving with bounded staleness until it returns"
                    );
                }
                Err(why) => {
                    self.up.store(false, Ordering::Release);
                    self.service.set_reachable(false, &why);
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn subscription(&self) -> Result<redis::aio::PubSubStream, String> {
        let subscribe = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub.into_on_message())
        };
        match tokio::time::timeout(REQUEST_DEADLINE * 2, subscribe).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("no answer to SUBSCRIBE".into()),
        }
    }

    /// Pings the feed while it seems up; a feed that stops answering is treated as lost (so a Redis that
    /// hangs rather than closes its connections is noticed too).
    async fn check(self: Arc<Self>) {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            if !self.up.load(Ordering::Acquire) {
                continue;
            }
            let answered = self.command::<String>(&redis::cmd("PING")).await.is_ok();
            if !answered {
                self.up.store(false, Ordering::Release);
                self.service.set_reachable(false, "no answer to PING");
                self.reconnect.notify_one();
            }
        }
    }
}
