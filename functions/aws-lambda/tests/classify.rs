//! Service error codes the SDK hands back, classified: throttling of any kind is transient
//! whatever its HTTP status (SNS's KMS throttling is a 400 with the code `KMSThrottling`).

use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{ErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use t1578_aws_lambda::aws_error::{classify, Class};

fn publish_error(code: &str) -> SdkError<PublishError, HttpResponse> {
    let err = PublishError::generic(
        ErrorMetadata::builder()
            .code(code)
            .message("Rate exceeded")
            .build(),
    );
    let raw = HttpResponse::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
    SdkError::service_error(err, raw)
}

#[test]
fn sns_kms_throttling_is_transient() {
    // Control: SNS's own throttling code is transient.
    assert_eq!(classify(&publish_error("Throttling")), Class::Transient);
    // The code SNS sends for KMS throttling on an encrypted topic (see the SDK's
    // protocol_serde/shape_publish.rs: "KMSThrottling" => KmsThrottlingException).
    assert_eq!(classify(&publish_error("KMSThrottling")), Class::Transient);
    // A 400 that needs a human stays permanent.
    assert_eq!(classify(&publish_error("AuthorizationError")), Class::Permanent);
    assert_eq!(classify(&publish_error("InvalidParameter")), Class::Permanent);
}
