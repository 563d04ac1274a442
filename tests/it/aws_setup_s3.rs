//! `aws-setup`: S3 clients use path-style addressing under an endpoint override, which the emulator
//! (like any local endpoint) needs: virtual-hosted names would resolve `<bucket>.127.0.0.1`.

use integration_tests::isolated;

#[tokio::test]
async fn s3_client_uses_path_style_under_an_endpoint_override() {
    let (emulator, region) = isolated();
    let config = emulator.sdk_config(region, 2).await;
    assert!(aws_setup::has_endpoint_override(&config));
    let s3 = aws_setup::s3_client(&config);
    let bucket = format!("path-style-{region}");
    let mut create = s3.create_bucket().bucket(&bucket);
    // us-east-1 takes no location constraint; every other Region needs one.
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create.send().await.expect("CreateBucket");
    s3.put_object()
        .bucket(&bucket)
        .key("a/b.json")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
        .send()
        .await
        .expect("PutObject");
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("ListObjectsV2");
    assert_eq!(listed.key_count(), Some(1));
    let calls = emulator.calls(region).await.expect("calls");
    assert_eq!(calls.get("s3:PutObject"), Some(&1), "{calls:?}");
}

#[tokio::test]
async fn sdk_errors_render_as_code_and_message() {
    let (emulator, region) = isolated();
    let s3 = aws_setup::s3_client(&emulator.sdk_config(region, 1).await);
    let err = s3
        .get_object()
        .bucket("no-such-bucket-anywhere")
        .key("k")
        .send()
        .await
        .expect_err("missing bucket");
    let rendered = aws_setup::AwsError::from(err).to_string();
    assert!(rendered.starts_with("NoSuchBucket: "), "{rendered}");
}
