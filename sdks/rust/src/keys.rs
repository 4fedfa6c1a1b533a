//! API keys: an admin key's calls (`client.keys()`).

use reqwest::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::types::{KeyCreated, KeyPage, KeyRequest, KeyUpdate, KeyView, WebhookSecret};

#[derive(Clone)]
pub struct Keys {
    client: Client,
}

impl Keys {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Every key, newest first (every page; `next_cursor` is null).
    pub async fn list(&self) -> Result<KeyPage, Error> {
        Ok(KeyPage { data: self.client.every_page(&["v1", "keys"]).await?, next_cursor: None })
    }

    /// A new key; its `secret` and `webhook_secret` are shown only here.
    pub async fn create(&self, request: &KeyRequest) -> Result<KeyCreated, Error> {
        self.client.json(Call::post(&["v1", "keys"]).json(request)?).await
    }

    pub async fn get(&self, id: &str) -> Result<KeyView, Error> {
        self.client.json(Call::get(&["v1", "keys", id])).await
    }

    /// Changes the fields `update` sets.
    pub async fn update(&self, id: &str, update: &KeyUpdate) -> Result<KeyView, Error> {
        self.client.json(Call::new(Method::PATCH, &["v1", "keys", id]).json(update)?).await
    }

    /// Revokes the key: it is refused from now on.
    pub async fn revoke(&self, id: &str) -> Result<(), Error> {
        self.client.send(Call::new(Method::DELETE, &["v1", "keys", id])).await.map(drop)
    }

    /// A new webhook signing secret; the previous one keeps signing for 24 hours.
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<WebhookSecret, Error> {
        self.client.json(Call::post(&["v1", "keys", id, "webhook-secret"])).await
    }
}
