//! Redis-backed store, shared by every instance behind a load balancer.
//!
//! Each call is bounded by a timeout so an outage turns into a fast
//! [`StoreError::Unavailable`] (a 503 page) instead of requests piling up.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::{Store, StoreError, ttl_millis};

/// Prefix of every key, so realmgate can share a Redis database with other software.
pub const DEFAULT_PREFIX: &str = "realmgate:";

/// Longest a single command may take, connection (re)establishment included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// INCR and, on the first increment only, PEXPIRE: in one script so a crash between the
/// two cannot leave a counter that never expires (which would lock a user out for good).
const INCR_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
";

/// LPUSH, LTRIM to the newest `ARGV[2]`, PEXPIRE: one script, so no instance ever reads
/// a list longer than its bound, nor one left without an expiry.
const PUSH_CAPPED_SCRIPT: &str = r"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// A [`Store`] on Redis (≥ 6.2 for `GETDEL`).
#[derive(Clone)]
pub struct RedisStore {
    /// Reconnects by itself after a failure; cheap to clone, multiplexes one connection.
    conn: ConnectionManager,
    prefix: String,
    incr: Script,
    push_capped: Script,
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`, or `rediss://` for TLS),
    /// naming every key `prefix` + key.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = tokio::time::timeout(
            CALL_TIMEOUT * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(timed_out)
        .and_then(|r| r)
        .map_err(|source| StoreError::Unreachable {
            url: redact(url),
            source,
        })?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
            incr: Script::new(INCR_SCRIPT),
            push_capped: Script::new(PUSH_CAPPED_SCRIPT),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs one command with the call timeout, mapping failures to [`StoreError`].
    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        with_timeout(cmd.query_async::<T>(&mut conn)).await
    }
}

/// The configuration's URL may carry a password: log only scheme and host.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?")),
        Err(_) => "redis".into(),
    }
}

/// The connection manager has its own timeouts; this outer one also bounds the time spent
/// waiting for a reconnect, so no call can hang past twice [`CALL_TIMEOUT`].
async fn with_timeout<T>(
    fut: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(CALL_TIMEOUT * 2, fut).await {
        Err(elapsed) => Err(StoreError::Unavailable(timed_out(elapsed))),
        Ok(Err(e)) => Err(map_err(e)),
        Ok(Ok(v)) => Ok(v),
    }
}

/// Our own deadline as a Redis I/O error, so every unavailable store carries a typed cause.
fn timed_out(elapsed: tokio::time::error::Elapsed) -> RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed).into()
}

fn map_err(e: RedisError) -> StoreError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        StoreError::Unavailable(e)
    } else {
        StoreError::Backend(e.to_string())
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_millis(ttl));
        self.run::<()>(&cmd).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(key));
        self.run(&cmd).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(self.key(key));
        self.run(&cmd).await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_millis(ttl))
            .arg("NX");
        // `OK` when set, nil when the key already existed.
        let reply: Option<String> = self.run(&cmd).await?;
        Ok(reply.is_some())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        self.run::<()>(&cmd).await
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let mut invocation = self.incr.key(self.key(key));
        invocation.arg(ttl_millis(ttl));
        with_timeout(invocation.invoke_async::<u64>(&mut conn)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let reply: String = self.run(&redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Backend(format!(
                "unexpected PING reply {reply:?}"
            )))
        }
    }

    async fn push_capped(
        &self,
        key: &str,
        value: Vec<u8>,
        max: usize,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut invocation = self.push_capped.key(self.key(key));
        invocation.arg(value).arg(max.max(1)).arg(ttl_millis(ttl));
        with_timeout(invocation.invoke_async::<()>(&mut conn)).await
    }

    async fn list(&self, key: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(self.key(key)).arg(0).arg(-1);
        self.run(&cmd).await
    }
}
