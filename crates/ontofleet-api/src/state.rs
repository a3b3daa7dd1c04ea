//! What every handler reads: the two pools, the settings the operations need, the session
//! policy and the shared event hub.

use std::sync::Arc;

use ontofleet_ops::OpsError;
use ontofleet_ops::access::SessionPolicy;
use ontofleet_ops::types::{Pipeline, TemplateCatalog};
use sqlx::PgPool;

use crate::events::EventHub;

/// Builds the live pipeline (the configured classifier) over loaded templates, for previews.
pub type PipelineFactory = Arc<dyn Fn(TemplateCatalog) -> Result<Pipeline, OpsError> + Send + Sync>;

/// The server's shared state.
#[derive(Clone)]
pub struct ApiState {
    /// Read-only sessions (`default_transaction_read_only`), for GETs and validation.
    pub read: PgPool,
    /// Read-write sessions, for mutations, authentication and the completion listener.
    pub write: PgPool,
    /// The producer's settings (lease, retry policy).
    pub producer: ontofleet_ops::types::ProducerSettings,
    /// The retry policy and lease operator actions use.
    pub policies: ontofleet_core::RetryPolicies,
    /// Builds the preview pipeline.
    pub pipeline: PipelineFactory,
    /// Browser sessions' lifetimes.
    pub sessions: SessionPolicy,
    /// One ticker per watched run, shared by every client.
    pub events: Arc<EventHub>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}

impl ApiState {
    /// Operator settings for an action by `actor`.
    pub fn operator(
        &self,
        actor: &ontofleet_ops::access::Actor,
        force: bool,
    ) -> ontofleet_ops::types::OperatorSettings {
        ontofleet_ops::types::OperatorSettings {
            policies: self.policies,
            lease: self.producer.lease,
            initiated_by: actor.initiated_by(),
            force,
        }
    }
}
