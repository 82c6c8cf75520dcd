//! Lambda entry point: wiring only. See the library crate for the design.

use lambda_runtime::{run, service_fn, LambdaEvent};
use serde_json::Value;
use t1578_aws_lambda::{handler, setup, Config, Deps, DynamoStore, SnsSink};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    setup::init_logging();
    let config = Config::from_lookup(|k| std::env::var(k).ok())?;
    let engine = config.engine()?;
    let sdk = setup::load_sdk_config().await;
    let deps = Deps::new(
        engine,
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.state_table),
        SnsSink::new(aws_sdk_sns::Client::new(&sdk), &config.alert_topic_arn),
        config.shadow(),
    );
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<Value>| {
        handler::handle(event, deps)
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}
