use std::collections::HashMap;

use super::*;

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

const REQUIRED: [(&str, &str); 4] = [
    ("WORKGROUP", "wg"),
    ("DATABASE", "inv"),
    ("STAGING_DATABASE", "staging"),
    ("REPORTS_BUCKET", "reports"),
];

#[test]
fn settings_have_defaults_and_name_what_is_missing() {
    let s = Settings::from_lookup(lookup(&REQUIRED)).expect("valid");
    assert_eq!(
        (s.prefix.as_str(), s.stale_days, s.config.clone()),
        ("reports", 7.0, None)
    );
    let err = Settings::from_lookup(lookup(&REQUIRED[1..])).expect_err("no workgroup");
    assert!(err.to_string().contains("WORKGROUP"), "{err}");
    let mut half = REQUIRED.to_vec();
    half.push(("CONFIG_TABLE", "t"));
    assert!(matches!(
        Settings::from_lookup(lookup(&half)),
        Err(SettingsError::HalfConfig)
    ));
    let mut bad = REQUIRED.to_vec();
    bad.push(("STALE_AFTER_DAYS", "-1"));
    assert!(matches!(
        Settings::from_lookup(lookup(&bad)),
        Err(SettingsError::StaleDays(_))
    ));
}

#[test]
fn run_ids_are_safe_table_name_parts() {
    assert_eq!(
        run_id("8f5c2a10-1b2c-4d5e-9f00-aa11bb22cc33"),
        "8f5c2a101b2c4d5e"
    );
    assert_eq!(run_id(""), "local");
}

#[test]
fn an_organizations_role_is_an_iam_role_arn_and_the_owner_tag_defaults() {
    let mut with_role = REQUIRED.to_vec();
    with_role.push((
        "ORGANIZATIONS_ROLE_ARN",
        "arn:aws:iam::111122223333:role/org/patch-compliance-organization-reader",
    ));
    let s = Settings::from_lookup(lookup(&with_role)).expect("valid");
    assert_eq!(s.organizations.map(|o| o.tag_key), Some("Owner".to_owned()));
    for wrong in [
        "patch-compliance-organization-reader",
        "arn:aws:iam::1111:role/reader",
        "arn:aws:iam::111122223333:user/reader",
        "arn:aws:iam::111122223333:role/",
    ] {
        let mut bad = REQUIRED.to_vec();
        bad.push(("ORGANIZATIONS_ROLE_ARN", wrong));
        let err = Settings::from_lookup(lookup(&bad)).expect_err(wrong);
        assert!(err.to_string().contains("ORGANIZATIONS_ROLE_ARN"), "{err}");
    }
    assert_eq!(
        Settings::from_lookup(lookup(&REQUIRED))
            .expect("valid")
            .organizations,
        None
    );
}
