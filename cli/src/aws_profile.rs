//! S3 credentials and region from a named profile (`AWS_PROFILE`, `~/.aws/credentials`,
//! `~/.aws/config`): the AWS SDK's profile provider (static keys, `role_arn` with
//! `source_profile`, `credential_process`), which object_store lacks. Used only when a profile is
//! named and no keys are in the environment.

use aws_config::meta::region::ProvideRegion;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_credential_types::provider::ProvideCredentials;
use object_store::aws::AwsCredential;
use object_store::CredentialProvider;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Credentials this close to expiry are fetched again.
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// The profile to read, when one is named and the environment holds no keys.
pub fn named() -> Option<String> {
    let profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty())?;
    std::env::var_os("AWS_ACCESS_KEY_ID").is_none().then_some(profile)
}

/// A profile's credentials, fetched once and again only near their expiry (an assumed role's),
/// not per request.
#[derive(Debug)]
pub struct ProfileCredentials {
    provider: ProfileFileCredentialsProvider,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl ProfileCredentials {
    pub fn new(profile: &str) -> ProfileCredentials {
        ProfileCredentials {
            provider: ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .build(),
            cached: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl CredentialProvider for ProfileCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((c, expiry)) = cached.as_ref() {
            if expiry.is_none_or(|e| e > SystemTime::now() + REFRESH_BEFORE) {
                return Ok(c.clone());
            }
        }
        let c = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: format!("profile credentials: {e}").into(),
            })?;
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        });
        *cached = Some((credential.clone(), c.expiry()));
        Ok(credential)
    }
}

/// The profile's `region`, when the environment names none.
pub async fn region(profile: &str) -> Option<String> {
    if std::env::var_os("AWS_REGION").is_some() || std::env::var_os("AWS_DEFAULT_REGION").is_some() {
        return None;
    }
    let provider = ProfileFileRegionProvider::builder().profile_name(profile).build();
    provider.region().await.map(|r| r.to_string())
}
