//! TEMPORARY stub.
pub struct MemoryUsage {
    pub used: u64,
    pub total: u64,
    pub free: u64,
    pub percent: f64,
}
pub fn memory_usage() -> MemoryUsage {
    MemoryUsage {
        used: 0,
        total: 1,
        free: 1,
        percent: 0.0,
    }
}
pub fn start_time_seconds() -> f64 {
    0.0
}
