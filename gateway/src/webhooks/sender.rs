//! The delivery workers: claim due deliveries from the outbox (any node may),
//! POST each one signed, and record the attempt. Non-2xx answers, timeouts and
//! connection errors are retried on the configured schedule with ±20 % jitter
//! (`Retry-After` on 429/503 is honoured when longer); 410 stops the task's
//! webhook; redirects are not followed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, USER_AGENT};

use super::guard::{Allowlist, GuardedResolver, Lookup, SystemLookup, check_url};
use super::signing::{signature_header, signing_secrets};
use crate::plugins::{Plugins, WebhookEvent};
use crate::store::entities::webhook_delivery;
use crate::store::{AttemptRecord, DeliveryState, Store};

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DelivererConfig {
    pub allowlist: Allowlist,
    /// Wait before each retry; after the last one the delivery gives up.
    pub schedule: Vec<Duration>,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub max_in_flight: usize,
}

pub struct Deliverer {
    store: Store,
    plugins: Arc<Plugins>,
    config: DelivererConfig,
    client: reqwest::Client,
    node: String,
}

impl Deliverer {
    pub fn new(
        store: Store,
        config: DelivererConfig,
        node: String,
        plugins: Arc<Plugins>,
    ) -> Result<Arc<Self>, String> {
        let client = webhook_client(&config, Arc::new(SystemLookup))?;
        Ok(Arc::new(Self { store, plugins, config, client, node }))
    }

    pub async fn run_forever(self: Arc<Self>) {
        let lease = (self.config.timeout + Duration::from_secs(30)).as_millis() as i64;
        loop {
            let until = crate::timestamp::now_ms() + lease;
            let claimed = match self.store.claim_deliveries(&self.node, until, self.config.max_in_flight as u64).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::error!(error = %e, "claiming webhook deliveries failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::time::sleep(self.config.poll_interval).await;
                continue;
            }
            futures_util::future::join_all(claimed.iter().map(|delivery| self.deliver(delivery))).await;
        }
    }

    async fn deliver(&self, delivery: &webhook_delivery::Model) {
        let started = Instant::now();
        let at = crate::timestamp::now_ms();
        let answer = self.send(delivery).await;
        let duration_ms = started.elapsed().as_millis() as i64;
        let attempt_number = delivery.attempts as usize + 1;
        let (status_code, error, retry_after) = match &answer {
            Ok((status, retry_after)) => (Some(*status), None, *retry_after),
            Err(e) => (None, Some(e.clone()), None),
        };
        let state = match status_code {
            Some(code) if (200..300).contains(&code) => DeliveryState::Delivered,
            Some(410) => DeliveryState::Disabled,
            _ => match self.config.schedule.get(attempt_number - 1) {
                None => DeliveryState::GaveUp,
                Some(wait) => {
                    let wait = jittered(*wait).max(retry_after.unwrap_or_default());
                    DeliveryState::RetryAt(crate::timestamp::now_ms() + wait.as_millis() as i64)
                }
            },
        };
        let error = error.or_else(|| match status_code {
            Some(code) if !(200..300).contains(&code) => Some(format!("the receiver answered {code}")),
            _ => None,
        });
        tracing::info!(delivery = %delivery.id, task_id = %delivery.task_id, attempt = attempt_number,
            status = ?status_code, error = ?error, next = ?state, "webhook attempt");
        let outcome = match state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::RetryAt(_) => "retry",
            DeliveryState::GaveUp => "failed",
            DeliveryState::Disabled => "disabled",
        };
        crate::telemetry::metrics::webhook_attempt(outcome, started.elapsed());
        let record = AttemptRecord { at, status_code, error, duration_ms };
        if let Err(e) = self.store.record_attempt(delivery, &self.node, record, state).await {
            tracing::error!(delivery = %delivery.id, error = %e, "could not record a webhook attempt");
        }
    }

    /// POSTs the delivery; the status and any `Retry-After` on 429/503, or why it failed.
    async fn send(&self, delivery: &webhook_delivery::Model) -> Result<(u16, Option<Duration>), String> {
        let url = check_url(&delivery.url, &self.config.allowlist)?;
        let key = self.store.key(&delivery.key_id).await.map_err(|e| e.to_string())?;
        let key = key.ok_or("the task's key no longer exists")?;
        let now = crate::timestamp::now_ms();
        let secrets = signing_secrets(
            key.webhook_secret.as_deref(),
            key.webhook_secret_previous.as_deref(),
            key.webhook_secret_rotated_at,
            now,
        );
        if secrets.is_empty() {
            return Err("the key has no webhook secret".into());
        }
        let timestamp = now / 1000;
        let event = WebhookEvent {
            key_id: &key.id,
            key_name: &key.name,
            task_id: &delivery.task_id,
            delivery_id: &delivery.id,
            event_type: &delivery.event_type,
            timestamp: &crate::timestamp::format_ms(delivery.created_at),
            payload: &delivery.payload,
            url: url.as_str(),
        };
        let (formatted, events) = self.plugins.format_webhook(&event).await;
        if !events.is_empty()
            && let Err(e) = self.store.append_events(&delivery.task_id, None, &events).await
        {
            tracing::warn!(delivery = %delivery.id, error = %e, "could not record the webhook plugin's call");
        }
        let formatted = formatted?;
        let (content_type, body) = match &formatted {
            Some(f) => (HeaderValue::from_str(&f.content_type).map_err(|e| e.to_string())?, f.body.clone()),
            None => (HeaderValue::from_static("application/json"), delivery.payload.clone()),
        };
        let signature = signature_header(&secrets, &delivery.id, timestamp, &body);
        let mut request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, content_type)
            .header(USER_AGENT, concat!("ccgate-webhooks/", env!("CARGO_PKG_VERSION")))
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        for (name, value) in formatted.iter().flat_map(|f| &f.headers) {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.body(body).send().await.map_err(|e| describe(&e, self.config.timeout))?;
        let status = response.status().as_u16();
        let retry_after = matches!(status, 429 | 503)
            .then(|| response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok())
            .flatten()
            .map(|s| Duration::from_secs(s.min(6 * 3600)));
        Ok((status, retry_after))
    }
}

/// The HTTP client deliveries are made with: it connects only to the addresses of
/// a name (looked up by `lookup` at connect time) that a webhook may reach.
fn webhook_client(config: &DelivererConfig, lookup: Arc<dyn Lookup>) -> Result<reqwest::Client, String> {
    // rustls needs its provider before a client is built; installing it again is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(10)))
        .dns_resolver(GuardedResolver::shared(config.allowlist.clone(), lookup))
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))
}

fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f32());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `wait` ±20 %, so retries of many deliveries spread out.
fn jittered(wait: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    wait.mul_f64(0.8 + 0.4 * f64::from(byte[0]) / 255.0)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::webhooks::guard::{LookingUp, check_url_resolving_with};

    /// A name that is public when it is first looked up and loopback after: DNS
    /// rebinding between a webhook's submission and its delivery.
    #[derive(Default)]
    struct Rebinding {
        lookups: AtomicUsize,
    }

    impl Lookup for Rebinding {
        fn lookup(&self, _host: String, port: u16) -> LookingUp {
            let first = self.lookups.fetch_add(1, Ordering::SeqCst) == 0;
            let ip = if first { IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
            Box::pin(async move { Ok(vec![SocketAddr::new(ip, port)]) })
        }
    }

    #[tokio::test]
    async fn a_name_that_rebinds_to_loopback_after_submission_is_not_delivered_there() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        let app = axum::Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "ok" }
        });
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://hooks.rebind.test:{port}/hook");
        let lookup = Arc::new(Rebinding::default());
        let config = |allowed: &[String]| DelivererConfig {
            allowlist: Allowlist::new(allowed),
            schedule: Vec::new(),
            timeout: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            max_in_flight: 1,
        };
        check_url_resolving_with(&url, &config(&[]).allowlist, lookup.as_ref()).await.expect("public when submitted");

        let client = webhook_client(&config(&[]), lookup.clone()).unwrap();
        let error = client.post(&url).body("{}").send().await.expect_err("loopback is not reached");
        let why = describe(&error, Duration::from_secs(5));
        assert!(why.contains("resolves to no address a webhook may reach"), "{why}");
        assert_eq!(received.load(Ordering::SeqCst), 0, "nothing reached the loopback receiver");

        // The same name on the allowlist reaches the receiver: it was there to be reached.
        let client = webhook_client(&config(&["hooks.rebind.test".into()]), lookup).unwrap();
        assert_eq!(client.post(&url).body("{}").send().await.unwrap().status(), 200);
        assert_eq!(received.load(Ordering::SeqCst), 1);
        server.abort();
    }
}
