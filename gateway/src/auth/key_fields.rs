//! The checks of a key's settings: one set of rules for `ccgate keys create` and
//! `/v1/keys` alike (each names a bad setting its own way: a flag, a JSON pointer).

use super::{KeySpec, Scope};
use crate::budget::budget_micros;
use crate::webhooks::guard::{Allowlist, check_url};

/// Entries of `scopes` (there are three scopes; repeats are allowed).
const MAX_SCOPES: usize = 8;
/// The largest token budget a key can have.
const MAX_TOKEN_BUDGET: u64 = 1_000_000_000_000;
/// The largest rate limit, concurrency or queue cap a key can have.
const MAX_LIMIT: u64 = 1_000_000;

impl KeySpec {
    /// A new key of `environment` named `name`: scope `tasks`, the server's
    /// default limits, no budget, no default webhook.
    pub fn new(name: String, environment: super::Environment, defaults: &crate::config::KeyDefaults) -> Self {
        Self {
            name,
            scopes: vec![Scope::Tasks],
            rate_limit_per_minute: defaults.rate_limit_per_minute,
            max_concurrent_tasks: defaults.max_concurrent_tasks,
            max_queued_tasks: defaults.max_queued_tasks,
            webhook_url: None,
            webhook_events: None,
            budget_micros_per_day: None,
            budget_micros_per_month: None,
            token_budget_per_day: None,
            token_budget_per_month: None,
            environment,
        }
    }
}

/// A setting of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    Name,
    Scopes,
    BudgetUsdPerDay,
    BudgetUsdPerMonth,
    TokenBudgetPerDay,
    TokenBudgetPerMonth,
    WebhookUrl,
    WebhookEvents,
    RateLimitPerMinute,
    MaxConcurrentTasks,
    MaxQueuedTasks,
}

impl KeyField {
    pub const ALL: [KeyField; 11] = [
        Self::Name,
        Self::Scopes,
        Self::BudgetUsdPerDay,
        Self::BudgetUsdPerMonth,
        Self::TokenBudgetPerDay,
        Self::TokenBudgetPerMonth,
        Self::WebhookUrl,
        Self::WebhookEvents,
        Self::RateLimitPerMinute,
        Self::MaxConcurrentTasks,
        Self::MaxQueuedTasks,
    ];

    /// Its name in the API's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Scopes => "scopes",
            Self::BudgetUsdPerDay => "budget_usd_per_day",
            Self::BudgetUsdPerMonth => "budget_usd_per_month",
            Self::TokenBudgetPerDay => "token_budget_per_day",
            Self::TokenBudgetPerMonth => "token_budget_per_month",
            Self::WebhookUrl => "webhook_url",
            Self::WebhookEvents => "webhook_events",
            Self::RateLimitPerMinute => "rate_limit_per_minute",
            Self::MaxConcurrentTasks => "max_concurrent_tasks",
            Self::MaxQueuedTasks => "max_queued_tasks",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.as_str() == name)
    }

    /// What a value of it must be.
    pub fn rule(self) -> String {
        match self {
            Self::Name => "must be a string of 1-200 bytes".into(),
            Self::Scopes => format!(
                "must be a non-empty array of at most {MAX_SCOPES} of \"tasks\", \"admin\" and \"network:full\""
            ),
            Self::BudgetUsdPerDay | Self::BudgetUsdPerMonth => "must be a positive number of US dollars or null".into(),
            Self::TokenBudgetPerDay | Self::TokenBudgetPerMonth => {
                "must be a whole number of tokens from 1 to 10^12, or null".into()
            }
            Self::WebhookUrl => "must be an http(s) URL or null".into(),
            Self::WebhookEvents => format!("{}, or null", events_rule()),
            Self::RateLimitPerMinute | Self::MaxConcurrentTasks | Self::MaxQueuedTasks => {
                format!("must be a whole number from 1 to {MAX_LIMIT}")
            }
        }
    }
}

/// A value given for a setting, as its type allows; `None` (JSON `null`) clears
/// an optional setting.
#[derive(Debug, Clone, PartialEq)]
pub enum Given {
    Text(Option<String>),
    List(Option<Vec<String>>),
    Number(Option<f64>),
}

/// Sets `field` of `spec` to `given`; else says what is wrong with it (the
/// spec is unchanged then).
pub fn set_key_field(spec: &mut KeySpec, field: KeyField, given: Given, allowlist: &Allowlist) -> Result<(), String> {
    use KeyField as F;
    let invalid = || field.rule();
    match (field, given) {
        (F::Name, Given::Text(Some(name))) if !name.trim().is_empty() && name.len() <= 200 => spec.name = name,
        (F::Scopes, Given::List(Some(names))) if !names.is_empty() && names.len() <= MAX_SCOPES => {
            spec.scopes = names.iter().map(|s| Scope::parse(s)).collect::<Option<Vec<_>>>().ok_or_else(invalid)?;
        }
        (F::BudgetUsdPerDay | F::BudgetUsdPerMonth, Given::Number(usd)) => {
            let micros = usd.map(|usd| budget_micros(usd).ok_or_else(invalid)).transpose()?;
            match field {
                F::BudgetUsdPerDay => spec.budget_micros_per_day = micros,
                _ => spec.budget_micros_per_month = micros,
            }
        }
        (F::TokenBudgetPerDay | F::TokenBudgetPerMonth, Given::Number(tokens)) => {
            let tokens = tokens.map(|n| whole_in(n, MAX_TOKEN_BUDGET).ok_or_else(invalid)).transpose()?;
            let tokens = tokens.map(|n| n as i64);
            match field {
                F::TokenBudgetPerDay => spec.token_budget_per_day = tokens,
                _ => spec.token_budget_per_month = tokens,
            }
        }
        (F::WebhookUrl, Given::Text(url)) => {
            if let Some(url) = &url {
                check_url(url, allowlist)?;
            }
            spec.webhook_url = url;
        }
        (F::WebhookEvents, Given::List(events)) => {
            spec.webhook_events = events
                .map(|names| crate::webhooks::key_events_of(&names).map_err(|why| format!("{why}, or null")))
                .transpose()?;
        }
        (F::RateLimitPerMinute | F::MaxConcurrentTasks | F::MaxQueuedTasks, Given::Number(Some(n))) => {
            let n = whole_in(n, MAX_LIMIT).ok_or_else(invalid)? as u32;
            match field {
                F::RateLimitPerMinute => spec.rate_limit_per_minute = n,
                F::MaxConcurrentTasks => spec.max_concurrent_tasks = n,
                _ => spec.max_queued_tasks = n,
            }
        }
        _ => return Err(invalid()),
    }
    Ok(())
}

/// `n` if it is a whole number from 1 to `max` (`3` and `3.0` alike).
fn whole_in(n: f64, max: u64) -> Option<u64> {
    (n.fract() == 0.0 && n >= 1.0 && n <= max as f64).then_some(n as u64)
}

/// What `webhook_events` must be, as the webhooks module says it.
fn events_rule() -> String {
    crate::webhooks::key_events_of(&[]).err().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{Given, KeyField, set_key_field};
    use crate::auth::{Environment, KeySpec};
    use crate::webhooks::guard::Allowlist;

    fn spec() -> KeySpec {
        KeySpec::new("ci".into(), Environment::Live, &Default::default())
    }

    #[test]
    fn each_setting_takes_what_its_rule_says_and_nothing_else() {
        let allowlist = Allowlist::new(&[]);
        let text = |s: &str| Given::Text(Some(s.into()));
        let list = |items: &[&str]| Given::List(Some(items.iter().map(|s| s.to_string()).collect()));
        let number = |n: f64| Given::Number(Some(n));
        let rows = [
            (KeyField::Name, text("deploy"), true),
            (KeyField::Name, text("  "), false),
            (KeyField::Name, text(&"x".repeat(201)), false),
            (KeyField::Name, Given::Text(None), false),
            (KeyField::Scopes, list(&["tasks", "admin"]), true),
            (KeyField::Scopes, list(&[]), false),
            (KeyField::Scopes, list(&["root"]), false),
            (KeyField::Scopes, list(&["tasks"; 9]), false),
            (KeyField::BudgetUsdPerDay, number(2.5), true),
            (KeyField::BudgetUsdPerDay, Given::Number(None), true),
            (KeyField::BudgetUsdPerDay, number(0.0), false),
            (KeyField::BudgetUsdPerMonth, number(2e9), false),
            (KeyField::TokenBudgetPerDay, number(1000.0), true),
            (KeyField::TokenBudgetPerDay, number(1.5), false),
            (KeyField::TokenBudgetPerMonth, number(1e13), false),
            (KeyField::RateLimitPerMinute, number(1.0), true),
            (KeyField::RateLimitPerMinute, number(0.0), false),
            (KeyField::MaxQueuedTasks, Given::Number(None), false),
            (KeyField::MaxConcurrentTasks, number(1_000_001.0), false),
            (KeyField::WebhookUrl, text("https://hooks.example.com/x"), true),
            (KeyField::WebhookUrl, text("ftp://hooks.example.com/x"), false),
            (KeyField::WebhookUrl, Given::Text(None), true),
            (KeyField::WebhookEvents, list(&["task.failed"]), true),
            (KeyField::WebhookEvents, list(&["task.exploded"]), false),
            (KeyField::WebhookEvents, Given::List(None), true),
            (KeyField::Name, number(3.0), false),
        ];
        for (field, given, accepted) in rows {
            let mut changed = spec();
            let said = set_key_field(&mut changed, field, given.clone(), &allowlist);
            assert_eq!(said.is_ok(), accepted, "{field:?} = {given:?}: {said:?}");
            if !accepted {
                assert_eq!(format!("{changed:?}"), format!("{:?}", spec()), "a refused value changes nothing");
            }
        }
        let mut budgeted = spec();
        set_key_field(&mut budgeted, KeyField::BudgetUsdPerDay, number(2.5), &allowlist).unwrap();
        assert_eq!(budgeted.budget_micros_per_day, Some(2_500_000));
    }
}
