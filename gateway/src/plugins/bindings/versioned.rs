//! A hook's pre-linked component with the bindings of its version, and its call
//! in the current records: an older component's arguments and answers go
//! through the conversions of its version's module.

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::{Contract, current, v0_1_1};
use crate::plugins::call::CallState;

use current::artifacts::exports::ccgate::plugin::artifact_collector as artifacts;
use current::policy::exports::ccgate::plugin::policy;
use current::tool_approval::exports::ccgate::plugin::tool_approval;
use current::types;
use current::webhook::exports::ccgate::plugin::webhook_formatter as webhook;

type Pre = InstancePre<CallState>;

/// A policy plugin, ready to instantiate.
#[derive(Clone)]
pub enum PolicyPre {
    Current(current::policy::PolicyPluginPre<CallState>),
    V0_1_1(v0_1_1::policy::PolicyPluginPre<CallState>),
}

impl PolicyPre {
    pub fn new(contract: Contract, pre: Pre) -> wasmtime::Result<Self> {
        Ok(match contract {
            Contract::Current => Self::Current(current::policy::PolicyPluginPre::new(pre)?),
            Contract::V0_1_1 => Self::V0_1_1(v0_1_1::policy::PolicyPluginPre::new(pre)?),
        })
    }

    /// `validate` on a fresh instance.
    pub async fn validate(
        &self,
        store: &mut Store<CallState>,
        request: &types::TaskRequest,
    ) -> wasmtime::Result<policy::Decision> {
        match self {
            Self::Current(pre) => {
                pre.instantiate_async(&mut *store).await?.ccgate_plugin_policy().call_validate(store, request).await
            }
            Self::V0_1_1(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                Ok(instance.ccgate_plugin_policy().call_validate(store, &request.into()).await?.into())
            }
        }
    }
}

/// A result plugin, ready to instantiate.
#[derive(Clone)]
pub enum ResultPre {
    Current(current::result::ResultPluginPre<CallState>),
    V0_1_1(v0_1_1::result::ResultPluginPre<CallState>),
}

impl ResultPre {
    pub fn new(contract: Contract, pre: Pre) -> wasmtime::Result<Self> {
        Ok(match contract {
            Contract::Current => Self::Current(current::result::ResultPluginPre::new(pre)?),
            Contract::V0_1_1 => Self::V0_1_1(v0_1_1::result::ResultPluginPre::new(pre)?),
        })
    }

    /// `process` on a fresh instance.
    pub async fn process(
        &self,
        store: &mut Store<CallState>,
        task: &types::TaskInfo,
        result: &types::TaskResult,
    ) -> wasmtime::Result<Result<types::TaskResult, String>> {
        match self {
            Self::Current(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.ccgate_plugin_result_processor().call_process(store, task, result).await
            }
            Self::V0_1_1(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                let processor = instance.ccgate_plugin_result_processor();
                Ok(processor.call_process(store, &task.into(), &result.into()).await?.map(Into::into))
            }
        }
    }
}

/// An artifact plugin, ready to instantiate.
#[derive(Clone)]
pub enum ArtifactsPre {
    Current(current::artifacts::ArtifactPluginPre<CallState>),
    V0_1_1(v0_1_1::artifacts::ArtifactPluginPre<CallState>),
}

impl ArtifactsPre {
    pub fn new(contract: Contract, pre: Pre) -> wasmtime::Result<Self> {
        Ok(match contract {
            Contract::Current => Self::Current(current::artifacts::ArtifactPluginPre::new(pre)?),
            Contract::V0_1_1 => Self::V0_1_1(v0_1_1::artifacts::ArtifactPluginPre::new(pre)?),
        })
    }

    /// `collect` on a fresh instance.
    pub async fn collect(
        &self,
        store: &mut Store<CallState>,
        task: &types::TaskInfo,
        result: &types::TaskResult,
        files: &[artifacts::WorkspaceFile],
    ) -> wasmtime::Result<Result<Vec<artifacts::Artifact>, String>> {
        match self {
            Self::Current(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.ccgate_plugin_artifact_collector().call_collect(store, task, result, files).await
            }
            Self::V0_1_1(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                let files: Vec<_> = files.iter().map(Into::into).collect();
                let collector = instance.ccgate_plugin_artifact_collector();
                let answer = collector.call_collect(store, &task.into(), &result.into(), &files).await?;
                Ok(answer.map(|list| list.into_iter().map(Into::into).collect()))
            }
        }
    }
}

/// A webhook plugin, ready to instantiate.
#[derive(Clone)]
pub enum WebhookPre {
    Current(current::webhook::WebhookPluginPre<CallState>),
    V0_1_1(v0_1_1::webhook::WebhookPluginPre<CallState>),
}

impl WebhookPre {
    pub fn new(contract: Contract, pre: Pre) -> wasmtime::Result<Self> {
        Ok(match contract {
            Contract::Current => Self::Current(current::webhook::WebhookPluginPre::new(pre)?),
            Contract::V0_1_1 => Self::V0_1_1(v0_1_1::webhook::WebhookPluginPre::new(pre)?),
        })
    }

    /// `format` on a fresh instance.
    pub async fn format(
        &self,
        store: &mut Store<CallState>,
        event: &webhook::WebhookEvent,
        url: &str,
    ) -> wasmtime::Result<Result<webhook::Formatted, String>> {
        match self {
            Self::Current(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.ccgate_plugin_webhook_formatter().call_format(store, event, url).await
            }
            Self::V0_1_1(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                let formatter = instance.ccgate_plugin_webhook_formatter();
                Ok(formatter.call_format(store, &event.into(), url).await?.map(Into::into))
            }
        }
    }
}

/// A tool approval plugin, ready to instantiate.
#[derive(Clone)]
pub enum ToolApprovalPre {
    Current(current::tool_approval::ToolApprovalPluginPre<CallState>),
    V0_1_1(v0_1_1::tool_approval::ToolApprovalPluginPre<CallState>),
}

impl ToolApprovalPre {
    pub fn new(contract: Contract, pre: Pre) -> wasmtime::Result<Self> {
        Ok(match contract {
            Contract::Current => Self::Current(current::tool_approval::ToolApprovalPluginPre::new(pre)?),
            Contract::V0_1_1 => Self::V0_1_1(v0_1_1::tool_approval::ToolApprovalPluginPre::new(pre)?),
        })
    }

    /// `decide` on a fresh instance.
    pub async fn decide(
        &self,
        store: &mut Store<CallState>,
        request: &tool_approval::ToolRequest,
    ) -> wasmtime::Result<tool_approval::Approval> {
        match self {
            Self::Current(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                instance.ccgate_plugin_tool_approval().call_decide(store, request).await
            }
            Self::V0_1_1(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                Ok(instance.ccgate_plugin_tool_approval().call_decide(store, &request.into()).await?.into())
            }
        }
    }
}
