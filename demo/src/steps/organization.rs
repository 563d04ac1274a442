//! The organization: a management account (moto's default), a reporting account for the central
//! stack (in the root, as AWS recommends a dedicated account outside the workloads), and an
//! organizational unit of member accounts, the ones the fleet runs in.

use anyhow::Context as _;
use aws_sdk_organizations::types::{CreateAccountState, OrganizationFeatureSet};

use crate::context::{Demo, MANAGEMENT};

pub async fn run(demo: &mut Demo) -> anyhow::Result<String> {
    let org = aws_sdk_organizations::Client::new(&demo.sdk(MANAGEMENT, &demo.home).await);
    let organization = org
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await?;
    demo.org_id = organization
        .organization()
        .and_then(|o| o.id())
        .context("CreateOrganization returned no id")?
        .to_owned();
    let root = org.list_roots().send().await?;
    let root = root
        .roots()
        .first()
        .and_then(|r| r.id())
        .context("the organization has no root")?
        .to_owned();
    demo.ou = org
        .create_organizational_unit()
        .parent_id(&root)
        .name("workloads")
        .send()
        .await?
        .organizational_unit()
        .and_then(|o| o.id())
        .context("CreateOrganizationalUnit returned no id")?
        .to_owned();
    demo.central = create_account(&org, "reporting").await?;
    // The reporting account subscribes to QuickSight, which creates its service role ("Using the
    // QuickSight service role", QuickSight user guide); quicksight.yaml attaches a policy to it.
    let iam = aws_sdk_iam::Client::new(&demo.sdk(&demo.central, &demo.home).await);
    iam.create_role()
        .role_name("aws-quicksight-service-role-v0")
        .path("/service-role/")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"quicksight.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await?;
    for i in 0..demo.args.fleet.accounts {
        let account = create_account(&org, &format!("workload-{i}")).await?;
        org.move_account()
            .account_id(&account)
            .source_parent_id(&root)
            .destination_parent_id(&demo.ou)
            .send()
            .await?;
        demo.members.push(account);
    }
    Ok(format!(
        "organization {} (management account {MANAGEMENT}); reporting account {} in the root, \
         subscribed to QuickSight; organizational unit {} with member accounts {}",
        demo.org_id,
        demo.central,
        demo.ou,
        demo.members.join(", ")
    ))
}

async fn create_account(org: &aws_sdk_organizations::Client, name: &str) -> anyhow::Result<String> {
    let status = org
        .create_account()
        .account_name(name)
        .email(format!("{name}@example.com"))
        .send()
        .await?;
    let status = status
        .create_account_status()
        .context("CreateAccount returned no status")?;
    // CreateAccount is asynchronous in AWS ("CreateAccount", Organizations API reference): poll
    // DescribeCreateAccountStatus until it succeeds.
    let mut state = status.clone();
    for _ in 0..60 {
        match state.state() {
            Some(CreateAccountState::Succeeded) => {
                return state
                    .account_id()
                    .map(str::to_owned)
                    .context("no account id");
            }
            Some(CreateAccountState::Failed) => {
                anyhow::bail!(
                    "creating account {name} failed: {:?}",
                    state.failure_reason()
                )
            }
            _ => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                state = org
                    .describe_create_account_status()
                    .create_account_request_id(status.id().unwrap_or_default())
                    .send()
                    .await?
                    .create_account_status()
                    .cloned()
                    .context("no status")?;
            }
        }
    }
    anyhow::bail!("account {name} was not created in time")
}
