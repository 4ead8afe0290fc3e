//! soketi 1.6.1's settings that fanoutd accepts but that have no effect yet, and the warnings
//! that say so at start-up (ISSUE-NOTES: "Every soketi 1.6.1 setting is accepted. One that has
//! no effect in fanoutd is logged as a warning at start-up, never refused.").
//!
//! [`VARIABLES`] lists soketi's environment variables that are not in the settings table
//! (`settings.rs`), each with its config-file key: they are read as `SOKETI_<NAME>` only (as
//! soketi reads them; the bare names, such as `DB_REDIS_HOST`, are too likely to belong to
//! something else) into the same inputs as the file, and whatever is left under one of the
//! namespaces fanoutd does not implement (`queue.*`, `cluster.*`, …) once every known setting
//! was read becomes one warning, with [`reason`]'s words for its namespace. A setting that
//! gains an effect moves from here to the settings table (a test refuses one in both).
//!
//! Kept apart from the table because they share everything but the name and key: one line
//! each instead of an entry per setting, and no README row each (the README lists them in one
//! paragraph, rendered from here).

/// soketi's variables (without `SOKETI_`) that fanoutd accepts without using, with their
/// config-file keys (soketi 1.6.1's settings).
pub(super) static VARIABLES: &[(&str, &str)] = &[
    (
        "ADAPTER_CLUSTER_REQUESTS_TIMEOUT",
        "adapter.cluster.requestsTimeout",
    ),
    ("ADAPTER_REDIS_CLUSTER_MODE", "adapter.redis.clusterMode"),
    (
        "ADAPTER_REDIS_REQUESTS_TIMEOUT",
        "adapter.redis.requestsTimeout",
    ),
    ("ADAPTER_REDIS_SUB_OPTIONS", "adapter.redis.redisSubOptions"),
    ("ADAPTER_REDIS_PUB_OPTIONS", "adapter.redis.redisPubOptions"),
    ("ADAPTER_NATS_PREFIX", "adapter.nats.prefix"),
    ("ADAPTER_NATS_SERVERS", "adapter.nats.servers"),
    ("ADAPTER_NATS_USER", "adapter.nats.user"),
    ("ADAPTER_NATS_PASSWORD", "adapter.nats.pass"),
    ("ADAPTER_NATS_TOKEN", "adapter.nats.token"),
    ("ADAPTER_NATS_TIMEOUT", "adapter.nats.timeout"),
    (
        "ADAPTER_NATS_REQUESTS_TIMEOUT",
        "adapter.nats.requestsTimeout",
    ),
    ("ADAPTER_NATS_NODES_NUMBER", "adapter.nats.nodesNumber"),
    ("APP_MANAGER_CACHE_ENABLED", "appManager.cache.enabled"),
    ("APP_MANAGER_CACHE_TTL", "appManager.cache.ttl"),
    ("APP_MANAGER_DYNAMODB_TABLE", "appManager.dynamodb.table"),
    ("APP_MANAGER_DYNAMODB_REGION", "appManager.dynamodb.region"),
    (
        "APP_MANAGER_DYNAMODB_ENDPOINT",
        "appManager.dynamodb.endpoint",
    ),
    ("APP_MANAGER_MYSQL_TABLE", "appManager.mysql.table"),
    ("APP_MANAGER_MYSQL_VERSION", "appManager.mysql.version"),
    ("APP_MANAGER_MYSQL_USE_V2", "appManager.mysql.useMysql2"),
    ("APP_MANAGER_POSTGRES_TABLE", "appManager.postgres.table"),
    (
        "APP_MANAGER_POSTGRES_VERSION",
        "appManager.postgres.version",
    ),
    ("CACHE_REDIS_CLUSTER_MODE", "cache.redis.clusterMode"),
    ("CACHE_REDIS_OPTIONS", "cache.redis.redisOptions"),
    ("CLUSTER_CHECK_INTERVAL", "cluster.checkInterval"),
    ("CLUSTER_HOST", "cluster.hostname"),
    ("CLUSTER_IGNORE_PROCESS", "cluster.ignoreProcess"),
    ("CLUSTER_BROADCAST_ADDRESS", "cluster.broadcast"),
    ("CLUSTER_KEEPALIVE_INTERVAL", "cluster.helloInterval"),
    ("CLUSTER_MASTER_TIMEOUT", "cluster.masterTimeout"),
    ("CLUSTER_MULTICAST_ADDRESS", "cluster.multicast"),
    ("CLUSTER_NODE_TIMEOUT", "cluster.nodeTimeout"),
    ("CLUSTER_PORT", "cluster.port"),
    ("CLUSTER_PREFIX", "cluster.prefix"),
    ("CLUSTER_UNICAST_ADDRESSES", "cluster.unicast"),
    ("DB_POOLING_ENABLED", "databasePooling.enabled"),
    ("DB_POOLING_MIN", "databasePooling.min"),
    ("DB_POOLING_MAX", "databasePooling.max"),
    ("DB_MYSQL_HOST", "database.mysql.host"),
    ("DB_MYSQL_PORT", "database.mysql.port"),
    ("DB_MYSQL_USERNAME", "database.mysql.user"),
    ("DB_MYSQL_PASSWORD", "database.mysql.password"),
    ("DB_MYSQL_DATABASE", "database.mysql.database"),
    ("DB_POSTGRES_HOST", "database.postgres.host"),
    ("DB_POSTGRES_PORT", "database.postgres.port"),
    ("DB_POSTGRES_USERNAME", "database.postgres.user"),
    ("DB_POSTGRES_PASSWORD", "database.postgres.password"),
    ("DB_POSTGRES_DATABASE", "database.postgres.database"),
    ("DB_REDIS_KEY_PREFIX", "database.redis.keyPrefix"),
    ("DB_REDIS_SENTINELS", "database.redis.sentinels"),
    (
        "DB_REDIS_SENTINEL_PASSWORD",
        "database.redis.sentinelPassword",
    ),
    ("DB_REDIS_CLUSTER_NODES", "database.redis.clusterNodes"),
    ("DB_REDIS_INSTANCE_NAME", "database.redis.name"),
    ("QUEUE_REDIS_CONCURRENCY", "queue.redis.concurrency"),
    ("QUEUE_REDIS_OPTIONS", "queue.redis.redisOptions"),
    ("QUEUE_REDIS_CLUSTER_MODE", "queue.redis.clusterMode"),
    ("QUEUE_SQS_REGION", "queue.sqs.region"),
    ("QUEUE_SQS_CLIENT_OPTIONS", "queue.sqs.clientOptions"),
    ("QUEUE_SQS_URL", "queue.sqs.queueUrl"),
    ("QUEUE_SQS_ENDPOINT", "queue.sqs.endpoint"),
    ("QUEUE_SQS_PROCESS_BATCH", "queue.sqs.processBatch"),
    ("QUEUE_SQS_BATCH_SIZE", "queue.sqs.batchSize"),
    (
        "QUEUE_SQS_POLLING_WAIT_TIME_MS",
        "queue.sqs.pollingWaitTimeMs",
    ),
    (
        "RATE_LIMITER_REDIS_OPTIONS",
        "rateLimiter.redis.redisOptions",
    ),
    (
        "RATE_LIMITER_REDIS_CLUSTER_MODE",
        "rateLimiter.redis.clusterMode",
    ),
    ("SSL_PASS", "ssl.passphrase"),
    ("SSL_CA", "ssl.caPath"),
    ("WEBHOOKS_BATCHING", "webhooks.batching.enabled"),
    ("WEBHOOKS_BATCHING_DURATION", "webhooks.batching.duration"),
];

/// Why the settings under a config-file namespace have no effect (yet).
pub(super) fn reason(namespace: &str) -> &'static str {
    match namespace {
        "adapter" => "the redis adapter uses only ADAPTER_REDIS_PREFIX and DB_REDIS_* so far",
        "appManager" => "only the array app manager (the config's app list) exists",
        "cache" => "only the in-process cache exists",
        "cluster" => "there is no cluster discovery",
        "database" | "databasePooling" => {
            "not implemented yet (the redis adapter uses host, port, db, username and password)"
        }
        "queue" => "webhooks are not sent yet, so nothing is queued",
        "rateLimiter" => "only the local rate limiter exists",
        "ssl" => "TLS is not supported yet",
        "webhooks" => "webhooks are not sent yet",
        "cors" => "the CORS headers are fixed (any origin)",
        "instance" => "fanoutd does not use it",
        _ => "fanoutd does not implement it",
    }
}

/// The warning for one accepted setting without effect, `origin` naming it as given.
pub(super) fn warning(origin: &str, key: &str) -> String {
    let namespace = key.split('.').next().unwrap_or(key);
    format!(
        "{origin} has no effect: {} (accepted for soketi compatibility)",
        reason(namespace)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::settings::SETTINGS;

    #[test]
    fn no_variable_is_both_here_and_in_the_settings_table() {
        for (name, key) in VARIABLES {
            assert!(
                !SETTINGS.iter().any(|s| s.env == *name || s.key == *key),
                "{name} ({key}) is in the settings table: remove it from no_effect.rs"
            );
        }
    }
}
