//! What model use costs: a price per million tokens for each kind of token, per
//! model. The cost that budgets, spend and metrics count is computed here from the
//! tokens the model proxy metered, never taken from what a run prints.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::task::Usage;

/// US dollars per million tokens of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// US dollars per million input tokens.
    pub input: f64,
    /// US dollars per million output tokens.
    pub output: f64,
    /// US dollars per million tokens written to the prompt cache.
    pub cache_write: f64,
    /// US dollars per million tokens read from the prompt cache.
    pub cache_read: f64,
}

impl Price {
    /// What a test key's run pays.
    pub const FREE: Price = Price { input: 0.0, output: 0.0, cache_write: 0.0, cache_read: 0.0 };

    const fn new(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Self {
        Self { input, output, cache_write, cache_read }
    }

    /// What `usage` costs at this price, in US dollars.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let per_token = |tokens: u64, per_million: f64| tokens as f64 * per_million / 1e6;
        per_token(usage.input_tokens, self.input)
            + per_token(usage.output_tokens, self.output)
            + per_token(usage.cache_creation_input_tokens, self.cache_write)
            + per_token(usage.cache_read_input_tokens, self.cache_read)
    }

    fn problem(&self) -> Option<&'static str> {
        let prices = [self.input, self.output, self.cache_write, self.cache_read];
        (!prices.iter().all(|p| p.is_finite() && *p >= 0.0 && *p <= 1e6))
            .then_some("prices must be numbers from 0 to 1000000 (US dollars per million tokens)")
    }
}

/// The `[pricing]` section: prices by model name, and the price of any other model.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pricing {
    /// Keyed by a model name or its start (`claude-sonnet-4` prices
    /// `claude-sonnet-4-5-20250929`); the longest matching key wins.
    pub models: BTreeMap<String, Price>,
    /// A model the table does not name (never free).
    pub default: Price,
    /// US dollars per 1,000 web searches the model runs (the API's `web_search`
    /// server tool, which Claude Code's WebSearch uses), billed on top of tokens.
    pub web_search_per_1000: f64,
}

impl Default for Pricing {
    fn default() -> Self {
        let opus_4 = Price::new(15.0, 75.0, 18.75, 1.5);
        let sonnet = Price::new(3.0, 15.0, 3.75, 0.3);
        let opus = Price::new(5.0, 25.0, 6.25, 0.5);
        let models = [
            ("claude-opus-4-8", opus),
            ("claude-opus-4-7", opus),
            ("claude-opus-4-6", opus),
            ("claude-opus-4-5", opus),
            ("claude-opus-4-1", opus_4),
            ("claude-opus-4", opus_4),
            ("claude-sonnet-4", sonnet),
            ("claude-3-7-sonnet", sonnet),
            ("claude-haiku-4-5", Price::new(1.0, 5.0, 1.25, 0.1)),
            ("claude-3-5-haiku", Price::new(0.8, 4.0, 1.0, 0.08)),
        ];
        Self {
            models: models.into_iter().map(|(name, price)| (name.to_string(), price)).collect(),
            default: opus_4,
            web_search_per_1000: 10.0,
        }
    }
}

impl Pricing {
    /// The price of `model`: the longest key it starts with, else the default.
    pub fn price(&self, model: &str) -> Price {
        self.models
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map_or(self.default, |(_, price)| *price)
    }

    /// Why this table cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if !(self.web_search_per_1000.is_finite() && (0.0..=1e6).contains(&self.web_search_per_1000)) {
            return Some("web_search_per_1000 must be a number from 0 to 1000000".into());
        }
        if let Some(why) = self.default.problem() {
            return Some(format!("default: {why}"));
        }
        self.models.iter().find_map(|(name, price)| price.problem().map(|why| format!("models.{name:?}: {why}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_matching_name_prices_a_model_and_others_pay_the_default() {
        let pricing = Pricing::default();
        assert_eq!(pricing.price("claude-opus-4-5-20251101").input, 5.0);
        assert_eq!(pricing.price("claude-opus-4-20250514").input, 15.0);
        assert_eq!(pricing.price("claude-sonnet-4-5-20250929").output, 15.0);
        assert_eq!(pricing.price("some-other-model"), pricing.default);
        assert!(pricing.default.input > 0.0, "an unknown model is never free");
    }

    #[test]
    fn cost_counts_every_kind_of_token() {
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_creation_input_tokens: 200_000,
            cache_read_input_tokens: 1_000_000,
        };
        let cost = Price::new(3.0, 15.0, 3.75, 0.3).cost(&usage);
        assert!((cost - (3.0 + 1.5 + 0.75 + 0.3)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn negative_or_unreadable_prices_are_refused() {
        let mut pricing = Pricing::default();
        assert_eq!(pricing.problem(), None);
        pricing.models.insert("cheap".into(), Price::new(-1.0, 0.0, 0.0, 0.0));
        assert!(pricing.problem().unwrap().contains("cheap"));
        pricing.models.clear();
        pricing.default.output = f64::NAN;
        assert!(pricing.problem().unwrap().starts_with("default"));
    }
}
