//! The Landlock ruleset a run confines itself with (inside the sandbox helper):
//! read and execute where programs live, write only to the run's own directories,
//! optionally TCP only to the helper's forwarders, and no signals or abstract
//! sockets beyond the run. Every requested right must be enforced, or the run fails.

use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope, path_beneath_rules,
};

/// What a run may touch.
#[derive(Debug, Default)]
pub struct Rules {
    pub read: Vec<PathBuf>,
    pub write: Vec<PathBuf>,
    /// `Some(ports)`: TCP connections only to these local ports, and no binding.
    pub tcp_connect: Option<Vec<u16>>,
    /// The kernel's ABI (from the probe): scopes need 6.
    pub abi: i32,
}

/// Confines the calling thread (and what it executes) to `rules`.
pub fn restrict(rules: &Rules) -> Result<(), String> {
    let fs = ABI::V5;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(fs))
        .map_err(|e| e.to_string())?;
    if rules.tcp_connect.is_some() {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp).map_err(|e| e.to_string())?;
    }
    if rules.abi >= 6 {
        ruleset = ruleset.scope(Scope::Signal | Scope::AbstractUnixSocket).map_err(|e| e.to_string())?;
    }
    let existing = |paths: &[PathBuf]| paths.iter().filter(|p| p.exists()).cloned().collect::<Vec<_>>();
    let mut created = ruleset
        .create()
        .map_err(|e| e.to_string())?
        .add_rules(path_beneath_rules(existing(&rules.read), AccessFs::from_read(fs)))
        .map_err(|e| e.to_string())?
        .add_rules(path_beneath_rules(existing(&rules.write), AccessFs::from_all(fs)))
        .map_err(|e| e.to_string())?;
    for port in rules.tcp_connect.iter().flatten() {
        created = created.add_rule(NetPort::new(*port, AccessNet::ConnectTcp)).map_err(|e| e.to_string())?;
    }
    let status = created.restrict_self().map_err(|e| e.to_string())?;
    if status.ruleset != RulesetStatus::FullyEnforced || !status.no_new_privs {
        return Err(format!("Landlock was not fully enforced ({:?})", status.ruleset));
    }
    Ok(())
}
