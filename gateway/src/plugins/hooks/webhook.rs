//! The webhook hook: a webhook plugin shapes the body a receiver gets (Slack,
//! Teams, …). The host still signs it (the key's secret never enters a guest)
//! and refuses headers that would change how it is delivered or verified.

use super::super::bindings::v0::webhook::exports::ccgate::plugin::webhook_formatter as wit;
use super::super::{CallError, Hook, OnError, Plugins};

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

/// Headers the transport, the signature or the host own.
fn reserved(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("webhook-")
        || name.starts_with("proxy-")
        || matches!(
            name.as_str(),
            "host"
                | "content-length"
                | "content-type"
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
    /// is retried on the delivery schedule).
    pub async fn format_webhook(&self, event: &WebhookEvent<'_>) -> Result<Option<FormattedWebhook>, String> {
        for entry in self.chain_for(Hook::Webhook, event.key_id, event.key_name) {
            let given = wit::WebhookEvent {
                kind: event.event_type.to_string(),
                id: event.delivery_id.to_string(),
                timestamp: event.timestamp.to_string(),
                payload: event.payload.to_string(),
            };
            let url = event.url.to_string();
            let (answer, _took) = self
                .invoke(&entry, Hook::Webhook, Some(event.task_id), Vec::new(), move |plugin, store| {
                    let pre = plugin.webhook.as_ref().ok_or_else(|| wasmtime::format_err!("not a webhook plugin"))?;
                    let instance = pre.instantiate(&mut *store)?;
                    instance.ccgate_plugin_webhook_formatter().call_format(&mut *store, &given, &url)
                })
                .await;
            let plugin = entry.plugin.spec.name.clone();
            let checked = answer.and_then(|answer| {
                check(plugin.clone(), answer.map_err(|why| CallError::Invalid(format!("the plugin reported: {why}")))?)
            });
            match checked {
                Ok(formatted) => return Ok(Some(formatted)),
                Err(error) if entry.plugin.spec.on_error(Hook::Webhook) == OnError::FailClosed => {
                    return Err(format!("webhook plugin `{plugin}` failed: {error}"));
                }
                Err(_) => continue,
            }
        }
        Ok(None)
    }
}

fn check(plugin: String, formatted: wit::Formatted) -> Result<FormattedWebhook, CallError> {
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
