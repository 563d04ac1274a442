//! AWS naming rules that several functions check before any call, so that a bad template value
//! gets a Reason that says what is wrong instead of an opaque API error.

/// True for a Region name: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-5`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    parts.len() >= 3
        && parts[0].len() == 2
        && words
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The partition of a Region: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// An ARN taken apart: `arn:<partition>:<service>:<region>:<account>:<resource>`. The resource keeps
/// its own separators (`key/1234`, `user/default/alice`, `function:name:alias`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, ...
    pub partition: &'a str,
    /// `kms`, `quicksight`, ...
    pub service: &'a str,
    /// Empty for global resources.
    pub region: &'a str,
    /// Empty for resources without an account (S3 buckets).
    pub account: &'a str,
    /// Everything after the fifth colon.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses the six fields; `None` when `s` does not start with `arn:aws` or has fewer fields.
    /// Field contents are not checked: callers check what they rely on.
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        partition.starts_with("aws").then_some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// True for a 12-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks S3's general-purpose bucket naming rules; `Err` says which rule `name` breaks.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let quoted = format!("{name:?}");
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "bucket name {quoted} must be 3 to 63 characters long"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(format!(
            "bucket name {quoted} may contain only lowercase letters, digits, dots and hyphens"
        ));
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge_ok(name.bytes().next()) || !edge_ok(name.bytes().last()) {
        return Err(format!(
            "bucket name {quoted} must begin and end with a letter or digit"
        ));
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(format!(
            "bucket name {quoted} must not have adjacent dots, or a dot next to a hyphen"
        ));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(format!(
            "bucket name {quoted} must not be formatted as an IP address"
        ));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!(
                "bucket name {quoted} must not start with {prefix:?}"
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("bucket name {quoted} must not end with {suffix:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-5",
            "il-central-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us--1",
            "us-east-1a",
            "u-east-1",
            "us-east-x",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn arns_and_partitions() {
        let arn = Arn::parse("arn:aws:quicksight:us-east-1:111122223333:user/default/a:b")
            .expect("an ARN");
        assert_eq!(
            (
                arn.partition,
                arn.service,
                arn.region,
                arn.account,
                arn.resource
            ),
            (
                "aws",
                "quicksight",
                "us-east-1",
                "111122223333",
                "user/default/a:b"
            )
        );
        assert_eq!(
            Arn::parse("arn:aws:s3:::bucket").map(|a| a.account),
            Some("")
        );
        for bad in [
            "",
            "alice",
            "arn:aws:kms:us-east-1:1",
            "urn:aws:kms:r:1:key/x",
            "arn:gcp:kms:r:1:key/x",
        ] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
        }
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-iso-east-1"), "aws-iso");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    }

    #[test]
    fn bucket_names() {
        for ok in [
            "abc",
            "patch-compliance-111122223333-us-east-1",
            "my.bucket.1",
            &"a".repeat(63),
        ] {
            assert_eq!(check_bucket_name(ok), Ok(()), "{ok}");
        }
        for (bad, rule) in [
            ("ab", "3 to 63"),
            ("My-Bucket", "only lowercase"),
            ("-bucket", "begin and end"),
            ("bucket.", "begin and end"),
            ("a..b", "adjacent"),
            ("192.168.1.1", "IP address"),
            ("xn--bucket", "start with"),
            ("bucket-s3alias", "end with"),
            ("bucket_name", "only lowercase"),
        ] {
            let err = check_bucket_name(bad).expect_err(bad);
            assert!(err.contains(rule), "{bad}: {err}");
        }
    }
}
