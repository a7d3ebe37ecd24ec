//! `AppState`: what every handler can reach. Data only, no logic; built by
//! `app`, read by `api`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::domain::TargetPolicy;
use crate::service::Service;

/// Cloned per request, so it is one `Arc`: a clone is one atomic
/// increment, whatever the fields.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// Every use case: reads, writes with their events and invalidations,
    /// redirects.
    pub service: Service,
    /// Which targets a short link may point at.
    pub policy: TargetPolicy,
    /// Set when a stop began, so readiness fails before the listener closes.
    pub stopping: Arc<AtomicBool>,
    /// Renders `/metrics`; `None` when metrics are turned off.
    pub metrics: Option<PrometheusHandle>,
    pub json_body_limit: usize,
    pub csv_body_limit: usize,
    /// Where short links are published, without a trailing `/`
    /// (`KURZ_PUBLIC_URL`, else `http://<the bound address>`).
    pub public_url: String,
}
