//! Who owns each account: its name, its organizational unit path and an owner tag, read from AWS
//! Organizations through a role the function assumes in the management account (or an
//! Organizations delegated administrator: "Delegated administrator for AWS Organizations",
//! Organizations User Guide). Without the role the report shows account ids only and says so.
//!
//! The organization is walked from its roots: per root and organizational unit one
//! `ListOrganizationalUnitsForParent` and one `ListAccountsForParent` (pages of up to 20, the SDK's
//! paginators), then one `ListTagsForResource` per account the report shows, at most
//! [`TAG_READS_IN_FLIGHT`] at a time. Organizations throttles per account ("Quotas for AWS
//! Organizations": requests are throttled per second), and the SDK's standard retry backs off
//! on `TooManyRequestsException`. No other account is read.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use aws_sdk_organizations::Client;
use aws_setup::AwsError;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use crate::summary::{Counts, Summary};

/// Tag reads in flight at once: Organizations' API is throttled per account, and the report
/// must not starve the management account's other callers.
pub const TAG_READS_IN_FLIGHT: usize = 4;

/// What the organization says of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// The account's name (`Account.Name`).
    pub name: Option<String>,
    /// Root and organizational units down to the account, by name: `Root/Workloads/Prod`.
    pub ou_path: String,
    /// The owner tag's value; `None` when the account has no such tag.
    pub owner: Option<String>,
}

/// The accounts the organization knows, by id.
pub type Directory = BTreeMap<String, Account>;

/// The role, and the tag that names an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The role's ARN (`ORGANIZATIONS_ROLE_ARN`).
    pub role_arn: String,
    /// The tag key (`OWNER_TAG_KEY`); tag keys are case-sensitive ("Tagging AWS Organizations
    /// resources").
    pub tag_key: String,
}

/// An Organizations client acting as `role_arn`, on the function's configuration (its Region and
/// endpoint: Organizations resolves to its one global endpoint in us-east-1 from any Region,
/// "AWS Organizations endpoints and quotas"). The credentials are fetched on the first call and
/// refreshed before they expire; a role that cannot be assumed fails that call.
pub async fn client(config: &aws_setup::SdkConfig, role_arn: &str) -> Client {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("compliance-report")
        .configure(config)
        .build()
        .await;
    let conf = aws_sdk_organizations::config::Builder::from(config)
        .credentials_provider(provider)
        .build();
    Client::from_conf(conf)
}

/// Every account of the organization with its name and OU path, and the owner tag of those in
/// `wanted` (the accounts the report shows).
pub async fn read(
    client: &Client,
    tag_key: &str,
    wanted: &BTreeSet<String>,
) -> Result<Directory, AwsError> {
    let pages: Vec<_> = client
        .list_roots()
        .into_paginator()
        .send()
        .try_collect()
        .await?;
    let roots = pages.iter().flat_map(|p| p.roots());
    let mut directory = Directory::new();
    let mut parents: VecDeque<(String, String)> = roots
        .filter_map(|r| Some((r.id()?.to_owned(), r.name().unwrap_or("Root").to_owned())))
        .collect();
    while let Some((parent, path)) = parents.pop_front() {
        let pages: Vec<_> = client
            .list_organizational_units_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .try_collect()
            .await?;
        parents.extend(
            pages
                .iter()
                .flat_map(|p| p.organizational_units())
                .filter_map(|u| {
                    let name = u.name().or(u.id())?;
                    Some((u.id()?.to_owned(), format!("{path}/{name}")))
                }),
        );
        let pages: Vec<_> = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send()
            .try_collect()
            .await?;
        for a in pages.iter().flat_map(|p| p.accounts()) {
            if let Some(id) = a.id() {
                directory.insert(
                    id.to_owned(),
                    Account {
                        name: a.name().map(str::to_owned),
                        ou_path: path.clone(),
                        owner: None,
                    },
                );
            }
        }
    }
    let tagged: Vec<(String, Option<String>)> = futures::stream::iter(
        wanted.iter().filter(|id| directory.contains_key(*id)),
    )
    .map(|id| async move { Ok::<_, AwsError>((id.clone(), owner(client, id, tag_key).await?)) })
    .buffer_unordered(TAG_READS_IN_FLIGHT)
    .try_collect()
    .await?;
    for (id, owner) in tagged {
        if let Some(account) = directory.get_mut(&id) {
            account.owner = owner;
        }
    }
    Ok(directory)
}

/// The value of `tag_key` on account `id`; an empty value counts as no owner.
async fn owner(client: &Client, id: &str, tag_key: &str) -> Result<Option<String>, AwsError> {
    let pages: Vec<_> = client
        .list_tags_for_resource()
        .resource_id(id)
        .into_paginator()
        .send()
        .try_collect()
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.tags())
        .find(|t| t.key() == tag_key)
        .map(|t| t.value().trim().to_owned())
        .filter(|v| !v.is_empty()))
}

/// One account as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub account_id: String,
    /// Its name in the organization.
    pub name: Option<String>,
    /// Its organizational unit path (`Root/Workloads/Prod`).
    pub ou_path: Option<String>,
    /// The owner tag's value.
    pub owner: Option<String>,
}

/// One owner's accounts and their counts; accounts without the tag are grouped with `owner`
/// `None` (shown as "no owner tag"), never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerGroup {
    /// The owner tag's value.
    pub owner: Option<String>,
    /// The owner's account ids in the report.
    pub accounts: Vec<String>,
    /// Their counts, all Regions together.
    #[serde(flatten)]
    pub counts: Counts,
    /// Node and missing patch pairs past the SLA.
    pub past_sla: u64,
    /// Nodes with at least one.
    pub nodes_past_sla: u64,
}

/// Who owns what, as summary.json holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Owners {
    /// The tag naming an owner; `None` when the function has no Organizations role (account
    /// ids only).
    pub tag_key: Option<String>,
    /// Why the organization could not be read, when it could not (the report stands without it).
    pub error: Option<String>,
    /// Every account in the report, in order.
    pub accounts: Vec<AccountView>,
    /// Per owner, those past the SLA first, then by non-compliant nodes.
    pub by_owner: Vec<OwnerGroup>,
}

/// The owners' view of `summary`'s accounts. `read` is `None` without an Organizations role;
/// else the owner tag's key and the organization, or why it could not be read.
pub fn view(summary: &Summary, read: Option<(&str, Result<&Directory, String>)>) -> Owners {
    let (tag_key, known, error) = match read {
        None => (None, None, None),
        Some((key, Ok(d))) => (Some(key.to_owned()), Some(d), None),
        Some((key, Err(e))) => (Some(key.to_owned()), None, Some(e)),
    };
    let accounts: Vec<AccountView> = summary
        .accounts
        .iter()
        .map(|id| {
            let account = known.and_then(|d| d.get(id));
            AccountView {
                account_id: id.clone(),
                name: account.and_then(|a| a.name.clone()),
                ou_path: account.map(|a| a.ou_path.clone()),
                owner: account.and_then(|a| a.owner.clone()),
            }
        })
        .collect();
    let mut by_owner: Vec<OwnerGroup> = Vec::new();
    if known.is_some() {
        let owner_of: BTreeMap<&str, Option<&String>> = accounts
            .iter()
            .map(|a| (a.account_id.as_str(), a.owner.as_ref()))
            .collect();
        let mut groups: BTreeMap<Option<&String>, OwnerGroup> = BTreeMap::new();
        for a in &accounts {
            group(&mut groups, &owner_of, &a.account_id)
                .accounts
                .push(a.account_id.clone());
        }
        for g in &summary.by_account_region {
            group(&mut groups, &owner_of, &g.account_id)
                .counts
                .add(&g.counts);
        }
        for s in &summary.sla.by_account_region {
            let g = group(&mut groups, &owner_of, &s.account_id);
            g.past_sla += s.past_sla;
            g.nodes_past_sla += s.nodes_past_sla;
        }
        by_owner = groups.into_values().collect();
        by_owner.sort_by(|a, b| {
            (b.nodes_past_sla, b.counts.non_compliant, &a.owner).cmp(&(
                a.nodes_past_sla,
                a.counts.non_compliant,
                &b.owner,
            ))
        });
    }
    Owners {
        tag_key,
        error,
        accounts,
        by_owner,
    }
}

/// The group of `account`'s owner.
fn group<'a, 'o>(
    groups: &'a mut BTreeMap<Option<&'o String>, OwnerGroup>,
    owner_of: &BTreeMap<&str, Option<&'o String>>,
    account: &str,
) -> &'a mut OwnerGroup {
    let owner = owner_of.get(account).copied().flatten();
    groups.entry(owner).or_insert_with(|| OwnerGroup {
        owner: owner.cloned(),
        accounts: Vec::new(),
        counts: Counts::default(),
        past_sla: 0,
        nodes_past_sla: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::operation::list_accounts_for_parent::ListAccountsForParentOutput;
    use aws_sdk_organizations::operation::list_organizational_units_for_parent::ListOrganizationalUnitsForParentOutput;
    use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
    use aws_sdk_organizations::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_organizations::types::{Account as OrgAccount, OrganizationalUnit, Root, Tag};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn account(id: &str, name: &str) -> OrgAccount {
        OrgAccount::builder().id(id).name(name).build()
    }

    fn tag(key: &str, value: &str) -> Tag {
        Tag::builder().key(key).value(value).build().expect("tag")
    }

    #[tokio::test]
    async fn accounts_get_their_ou_path_and_the_owner_tag_of_the_wanted_ones() {
        let roots = mock!(Client::list_roots).then_output(|| {
            ListRootsOutput::builder()
                .roots(Root::builder().id("r-ab12").name("Root").build())
                .build()
        });
        let units = mock!(Client::list_organizational_units_for_parent)
            .match_requests(|r| r.parent_id() == Some("r-ab12"))
            .then_output(|| {
                ListOrganizationalUnitsForParentOutput::builder()
                    .organizational_units(
                        OrganizationalUnit::builder()
                            .id("ou-ab12-1")
                            .name("Workloads")
                            .build(),
                    )
                    .build()
            });
        let no_units = mock!(Client::list_organizational_units_for_parent)
            .then_output(|| ListOrganizationalUnitsForParentOutput::builder().build());
        let root_accounts = mock!(Client::list_accounts_for_parent)
            .match_requests(|r| r.parent_id() == Some("r-ab12"))
            .then_output(|| {
                ListAccountsForParentOutput::builder()
                    .accounts(account("111111111111", "management"))
                    .build()
            });
        let ou_accounts = mock!(Client::list_accounts_for_parent)
            .match_requests(|r| r.parent_id() == Some("ou-ab12-1"))
            .then_output(|| {
                ListAccountsForParentOutput::builder()
                    .accounts(account("222222222222", "payments-prod"))
                    .accounts(account("333333333333", "payments-dev"))
                    .build()
            });
        let prod_tags = mock!(Client::list_tags_for_resource)
            .match_requests(|r| r.resource_id() == Some("222222222222"))
            .then_output(|| {
                ListTagsForResourceOutput::builder()
                    .tags(tag("owner", "wrong-case"))
                    .tags(tag("Owner", "payments-team"))
                    .build()
            });
        let dev_tags = mock!(Client::list_tags_for_resource)
            .match_requests(|r| r.resource_id() == Some("333333333333"))
            .then_output(|| {
                ListTagsForResourceOutput::builder()
                    .tags(tag("Owner", " "))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_organizations,
            RuleMode::MatchAny,
            [
                &roots,
                &units,
                &no_units,
                &root_accounts,
                &ou_accounts,
                &prod_tags,
                &dev_tags
            ]
        );
        let wanted: BTreeSet<String> = ["222222222222", "333333333333", "999999999999"]
            .map(String::from)
            .into();
        let directory = read(&client, "Owner", &wanted).await.expect("read");
        assert_eq!(directory["111111111111"].ou_path, "Root");
        let prod = &directory["222222222222"];
        assert_eq!(
            (
                prod.name.as_deref(),
                prod.ou_path.as_str(),
                prod.owner.as_deref()
            ),
            (
                Some("payments-prod"),
                "Root/Workloads",
                Some("payments-team")
            )
        );
        // A blank tag is no owner; an account the report does not show is never asked.
        assert_eq!(directory["333333333333"].owner, None);
        assert_eq!(directory["111111111111"].owner, None);
        assert!(!directory.contains_key("999999999999"));
        assert_eq!(prod_tags.num_calls() + dev_tags.num_calls(), 2);
    }

    fn summary() -> Summary {
        let node = |account: &str, region: &str, id: &str, status: &str| -> crate::rows::Node {
            serde_json::from_value(serde_json::json!({
                "account_id": account, "region": region, "node_id": id, "patch_status": status,
                "last_seen": "2026-11-21 10:00:00.000",
            }))
            .expect("a node row")
        };
        let inputs = crate::summary::Inputs {
            nodes: vec![
                node("111111111111", "us-east-1", "i-1", "COMPLIANT"),
                node("111111111111", "eu-west-1", "i-2", "NON_COMPLIANT"),
                node("222222222222", "us-east-1", "i-3", "NON_COMPLIANT"),
                node("333333333333", "us-east-1", "i-4", "COMPLIANT"),
                node("444444444444", "us-east-1", "i-5", "NON_COMPLIANT"),
            ],
            ..Default::default()
        };
        let options = crate::summary::Options {
            as_of: time::macros::datetime!(2026-11-21 12:00 UTC),
            generated: time::macros::datetime!(2026-11-21 12:05 UTC),
            stale_days: 7.0,
            config_enabled: false,
        };
        let mut s = crate::summary::build(&inputs, options, Vec::new());
        s.sla.by_account_region = vec![crate::summary::SlaGroup {
            account_id: "222222222222".into(),
            region: "us-east-1".into(),
            past_sla: 3,
            nodes_past_sla: 1,
        }];
        s
    }

    fn directory() -> Directory {
        let account = |name: &str, path: &str, owner: Option<&str>| Account {
            name: Some(name.into()),
            ou_path: path.into(),
            owner: owner.map(str::to_owned),
        };
        [
            (
                "111111111111",
                account("shop", "Root/Prod", Some("=team-a")),
            ),
            ("222222222222", account("pay", "Root/Prod", Some("team-b"))),
            ("333333333333", account("lab", "Root/Dev", None)),
        ]
        .into_iter()
        .map(|(id, a)| (id.to_owned(), a))
        .collect()
    }

    #[test]
    fn owners_sum_their_accounts_and_those_past_sla_come_first() {
        let s = summary();
        let d = directory();
        let owners = view(&s, Some(("Owner", Ok(&d))));
        assert_eq!(owners.tag_key.as_deref(), Some("Owner"));
        let order: Vec<_> = owners
            .by_owner
            .iter()
            .map(|o| {
                (
                    o.owner.as_deref(),
                    o.accounts.clone(),
                    o.counts.live_nodes,
                    o.counts.non_compliant,
                    o.nodes_past_sla,
                )
            })
            .collect();
        assert_eq!(
            order,
            vec![
                (Some("team-b"), vec!["222222222222".to_owned()], 1, 1, 1),
                // Accounts the organization does not tag, or does not know, share one group.
                (
                    None,
                    vec!["333333333333".to_owned(), "444444444444".to_owned()],
                    2,
                    1,
                    0
                ),
                (Some("=team-a"), vec!["111111111111".to_owned()], 2, 1, 0),
            ]
        );
        let unknown = owners
            .accounts
            .iter()
            .find(|a| a.account_id == "444444444444");
        assert_eq!(
            unknown.map(|a| (a.name.clone(), a.ou_path.clone())),
            Some((None, None))
        );
        let mut s = s;
        s.owners = owners;
        let csv = String::from_utf8(crate::exports::owners_csv(&s)).expect("utf-8");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 5, "{csv}");
        // Owned accounts first, by owner; a formula-like owner is defused.
        assert!(
            lines[1].starts_with("'=team-a,111111111111,shop,Root/Prod,eu-west-1,1,0,1,"),
            "{csv}"
        );
        assert!(
            lines[3].starts_with("team-b,222222222222,pay,Root/Prod,us-east-1,1,0,1,"),
            "{csv}"
        );
        assert!(lines[3].ends_with(",3,1"), "{csv}");
        assert!(lines[5].starts_with(",444444444444,,,us-east-1,"), "{csv}");
    }

    #[test]
    fn without_a_role_or_when_reading_fails_accounts_stay_ids() {
        let s = summary();
        let none = view(&s, None);
        assert_eq!(
            (none.tag_key, none.error, none.by_owner.len()),
            (None, None, 0)
        );
        assert_eq!(none.accounts.len(), 4);
        let failed = view(&s, Some(("Owner", Err("AccessDenied".into()))));
        assert_eq!(failed.error.as_deref(), Some("AccessDenied"));
        assert!(failed.by_owner.is_empty() && failed.accounts.iter().all(|a| a.name.is_none()));
    }

    #[tokio::test]
    async fn a_refusal_is_an_error_with_the_reason_aws_gave() {
        let denied = mock!(Client::list_roots).then_error(|| {
            aws_sdk_organizations::operation::list_roots::ListRootsError::AccessDeniedException(
                aws_sdk_organizations::types::error::AccessDeniedException::builder()
                    .message("not authorized to perform organizations:ListRoots")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_organizations, [&denied]);
        let err = read(&client, "Owner", &BTreeSet::new())
            .await
            .expect_err("denied");
        assert!(err.to_string().contains("ListRoots"), "{err}");
    }
}
