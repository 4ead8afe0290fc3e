//! TEMPORARY stub.
use crate::config::MetricsConfig;
use crate::metrics::stats::Stats;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
pub struct MetricsState {
    pub stats: Arc<Stats>,
    pub app_ids: Vec<String>,
    pub port: u16,
    pub config: MetricsConfig,
    pub closing: Arc<AtomicBool>,
    pub start_time_seconds: f64,
}
pub struct MetricsServer {
    _l: std::net::TcpListener,
    _s: Arc<MetricsState>,
}
impl MetricsServer {
    pub fn spawn(
        listener: std::net::TcpListener,
        state: Arc<MetricsState>,
    ) -> std::io::Result<MetricsServer> {
        Ok(MetricsServer {
            _l: listener,
            _s: state,
        })
    }
    pub fn stop(self) {}
}
