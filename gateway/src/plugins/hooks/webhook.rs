//! The webhook hook: a webhook plugin shapes the body a receiver gets (Slack,
//! Teams, …). The host still signs it (the key's secret never enters a guest)
//! and refuses headers that would change how it is delivered or verified.

use super::super::bindings::current::webhook::exports::ccgate::plugin::webhook_formatter as wit;
use super::super::{CallError, Hook, OnError, Outcome, Plugins, call_event};
use crate::store::EventRecord;
use crate::text::clip;

/// A body to send in place of the built-in JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct FormattedWebhook {
    pub plugin: String,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    /// UTF-8: it is signed as text.
    pub body: String,
}

/// One delivery to format.
pub struct WebhookEvent<'a> {
    pub key_id: &'a str,
    pub key_name: &'a str,
    pub task_id: &'a str,
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    pub timestamp: &'a str,
    pub payload: &'a str,
    pub url: &'a str,
}

const MAX_HEADERS: usize = 16;

/// Largest body a plugin may return.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Headers the transport, the signature or the host own.
fn reserved(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("webhook-")
        || name.starts_with("proxy-")
        || name.starts_with("x-forwarded-")
        || matches!(
            name.as_str(),
            "host"
                | "content-length"
                | "content-type"
                | "content-encoding"
                | "expect"
                | "date"
                | "forwarded"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "te"
                | "trailer"
                | "upgrade"
                | "user-agent"
                | "authorization"
                | "cookie"
        )
}

impl Plugins {
    /// The body to send: `Ok(None)` for the built-in one (no plugin, or a failure
    /// with `fail_open`), `Err` when a plugin failed closed (the attempt fails and
    /// is retried on the delivery schedule); and the `plugin` events for the task.
    pub async fn format_webhook(
        &self,
        event: &WebhookEvent<'_>,
    ) -> (Result<Option<FormattedWebhook>, String>, Vec<EventRecord>) {
        let mut events = Vec::new();
        // Deliveries are of the gateway's own event names; another has no WIT kind
        // and goes out with the built-in body.
        let Some(kind) = super::super::bindings::event_kind(event.event_type) else {
            return (Ok(None), events);
        };
        for entry in self.chain_for(Hook::Webhook, event.key_id, event.key_name) {
            let given = wit::WebhookEvent {
                kind,
                id: event.delivery_id.to_string(),
                timestamp: event.timestamp.to_string(),
                payload: event.payload.to_string(),
            };
            let url = event.url.to_string();
            let plugin = entry.plugin.spec.name.clone();
            let name = plugin.clone();
            let pre = entry.plugin.webhook.clone();
            let (checked, took) = self
                .invoke(
                    &entry,
                    Hook::Webhook,
                    Some(event.task_id),
                    Vec::new(),
                    move |store| {
                        Box::pin(async move {
                            let pre = pre.ok_or_else(|| wasmtime::format_err!("not a webhook plugin"))?;
                            pre.format(store, &given, &url).await
                        })
                    },
                    move |answer| {
                        let formatted = answer
                            .map_err(|why| CallError::Invalid(format!("the plugin reported: {}", clip(&why, 1000))))?;
                        check(name, formatted)
                    },
                )
                .await;
            let delivery = format!("delivery {}", event.delivery_id);
            match checked {
                Ok(formatted) => {
                    events.push(call_event(&entry, Hook::Webhook, "formatted", took, Some(delivery)));
                    return (Ok(Some(formatted)), events);
                }
                Err(error) => {
                    events.push(call_event(
                        &entry,
                        Hook::Webhook,
                        "failed",
                        took,
                        Some(format!("{delivery}: {error}")),
                    ));
                    if entry.plugin.spec.on_error(Hook::Webhook) == OnError::FailClosed {
                        return (Err(format!("webhook plugin `{plugin}` failed: {error}")), events);
                    }
                }
            }
        }
        (Ok(None), events)
    }
}

impl Outcome for FormattedWebhook {
    fn outcome(&self) -> &'static str {
        "formatted"
    }
}

fn check(plugin: String, formatted: wit::Formatted) -> Result<FormattedWebhook, CallError> {
    if formatted.body.len() > MAX_BODY_BYTES {
        return Err(CallError::Invalid(format!("the body is larger than {MAX_BODY_BYTES} bytes")));
    }
    let body =
        String::from_utf8(formatted.body).map_err(|_| CallError::Invalid("the body is not UTF-8 text".into()))?;
    if formatted.content_type.parse::<reqwest::header::HeaderValue>().is_err() || !formatted.content_type.contains('/')
    {
        return Err(CallError::Invalid(format!("unusable content type {:?}", formatted.content_type)));
    }
    if formatted.headers.len() > MAX_HEADERS {
        return Err(CallError::Invalid(format!("more than {MAX_HEADERS} headers")));
    }
    for (name, value) in &formatted.headers {
        if reserved(name) {
            return Err(CallError::Invalid(format!("the header {name:?} is the gateway's to set")));
        }
        if name.parse::<reqwest::header::HeaderName>().is_err()
            || value.parse::<reqwest::header::HeaderValue>().is_err()
        {
            return Err(CallError::Invalid(format!("the header {name:?} is not a valid HTTP header")));
        }
    }
    Ok(FormattedWebhook { plugin, content_type: formatted.content_type, headers: formatted.headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(headers: &[(&str, &str)]) -> wit::Formatted {
        wit::Formatted {
            content_type: "application/json".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn signature_and_transport_headers_stay_the_gateways() {
        assert!(check("p".into(), formatted(&[("x-team", "core")])).is_ok());
        for name in ["Webhook-Signature", "content-length", "Host", "Transfer-Encoding", "proxy-authorization"] {
            assert!(check("p".into(), formatted(&[(name, "x")])).is_err(), "{name}");
        }
        assert!(check("p".into(), formatted(&[("bad name", "x")])).is_err());
        let mut binary = formatted(&[]);
        binary.body = vec![0xff, 0xfe];
        assert!(check("p".into(), binary).is_err());
    }
}
