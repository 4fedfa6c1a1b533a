//! The figures the benchmark holds to a goal, and its gate: with
//! `BENCH_FAIL_FACTOR=F` (`scripts/test.sh` sets 3), a figure past F times its goal
//! makes the benchmark exit non-zero. Every goal is an upper bound.

use std::fmt::Write as _;

/// One measured figure and its goal.
pub struct Figure {
    pub name: &'static str,
    pub value: f64,
    pub goal: f64,
    pub unit: &'static str,
}

impl Figure {
    pub fn met(&self) -> bool {
        self.value <= self.goal
    }

    /// Past `factor` times its goal (a goal of 0 allows nothing at any factor).
    pub fn failed_at(&self, factor: f64) -> bool {
        self.value.is_nan() || self.value > self.goal * factor
    }
}

/// The factor of `BENCH_FAIL_FACTOR`, when the gate is on.
pub fn fail_factor() -> Option<f64> {
    let text = std::env::var("BENCH_FAIL_FACTOR").ok()?;
    match text.trim().parse::<f64>() {
        Ok(factor) if factor >= 1.0 => Some(factor),
        _ => panic!("BENCH_FAIL_FACTOR must be a number of at least 1, not {text:?}"),
    }
}

/// The goals table, with the gate's limit when it is on.
pub fn to_markdown(figures: &[Figure], factor: Option<f64>) -> String {
    let mut out = String::from("## Goals\n\n| figure | value | goal | |");
    if let Some(factor) = factor {
        let _ = write!(out, " fails past ({factor}× the goal) | |");
    }
    out.push_str("\n| --- | ---: | ---: | --- |");
    if factor.is_some() {
        out.push_str(" ---: | --- |");
    }
    for figure in figures {
        let verdict = if figure.met() { "met" } else { "**missed**" };
        let (value, goal, unit) = (figure.value, figure.goal, with_space(figure.unit));
        let _ = write!(out, "\n| {} | {value:.1}{unit} | ≤ {goal}{unit} | {verdict} |", figure.name);
        if let Some(factor) = factor {
            let gate = if figure.failed_at(factor) { "**FAILED**" } else { "passed" };
            let _ = write!(out, " {:.1}{unit} | {gate} |", goal * factor);
        }
    }
    out.push_str("\n\n");
    out
}

/// A unit after a number: none, or one space and the unit.
fn with_space(unit: &str) -> String {
    if unit.is_empty() { String::new() } else { format!(" {unit}") }
}

/// What fails the gate, one line each.
pub fn regressions(figures: &[Figure], factor: f64) -> Vec<String> {
    figures
        .iter()
        .filter(|figure| figure.failed_at(factor))
        .map(|f| {
            let unit = with_space(f.unit);
            format!("{}: {:.1}{unit} is past {factor}× its goal of {}{unit}", f.name, f.value, f.goal)
        })
        .collect()
}
