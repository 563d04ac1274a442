//! The Athena data source: created, updated, waited for while QuickSight settles it, deleted.

use aws_sdk_quicksight::operation::create_data_source::CreateDataSourceError;
use aws_sdk_quicksight::operation::delete_data_source::DeleteDataSourceError;
use aws_sdk_quicksight::operation::update_data_source::UpdateDataSourceError;
use aws_sdk_quicksight::types::{
    AthenaParameters, DataSource, DataSourceParameters, DataSourceType, ResourceStatus,
};
use tracing::{info, warn};

use crate::{
    BuilderError, BuilderSpec, DATA_SOURCE_ACTIONS, POLL_MAX, POLL_START, QuickSightBuilder, aws,
    permissions, revocations,
};

/// Whether an update or create left the data source settled, in progress, or failed.
fn is_in_progress(status: Option<&ResourceStatus>) -> bool {
    matches!(
        status,
        Some(ResourceStatus::CreationInProgress | ResourceStatus::UpdateInProgress)
    )
}

fn is_failed(status: Option<&ResourceStatus>) -> bool {
    matches!(
        status,
        Some(ResourceStatus::CreationFailed | ResourceStatus::UpdateFailed)
    )
}

impl QuickSightBuilder {
    /// The data source as QuickSight describes it.
    async fn describe(&self, spec: &BuilderSpec) -> Result<Option<DataSource>, BuilderError> {
        let id = &spec.data_source_id;
        Ok(self
            .qs
            .describe_data_source()
            .aws_account_id(&spec.account_id)
            .data_source_id(id)
            .send()
            .await
            .map_err(|e| aws("DescribeDataSource", id, e.into()))?
            .data_source)
    }

    fn athena_parameters(spec: &BuilderSpec) -> DataSourceParameters {
        DataSourceParameters::AthenaParameters(
            AthenaParameters::builder()
                .work_group(&spec.work_group)
                .build(),
        )
    }

    fn data_source_name(spec: &BuilderSpec) -> String {
        format!("Patch compliance (Athena {})", spec.work_group)
    }

    /// Creates the data source, or on a retried Create updates the one found.
    pub(crate) async fn create_data_source(&self, spec: &BuilderSpec) -> Result<(), BuilderError> {
        let id = &spec.data_source_id;
        let result = self
            .qs
            .create_data_source()
            .aws_account_id(&spec.account_id)
            .data_source_id(id)
            .name(Self::data_source_name(spec))
            .r#type(DataSourceType::Athena)
            .data_source_parameters(Self::athena_parameters(spec))
            .set_permissions(Some(permissions(&spec.principals, &DATA_SOURCE_ACTIONS)?))
            .send()
            .await;
        match result {
            Ok(out) => {
                info!(data_source = %id, status = ?out.creation_status(), "created the data source");
                self.settle(spec, out.creation_status()).await
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(CreateDataSourceError::is_resource_exists_exception) =>
            {
                let existing = self.describe(spec).await?;
                let kind = existing.as_ref().and_then(|d| d.r#type());
                if kind != Some(&DataSourceType::Athena) {
                    return Err(BuilderError::NotAthena {
                        id: id.clone(),
                        kind: kind.map_or("unknown", |k| k.as_str()).to_owned(),
                    });
                }
                info!(data_source = %id, "the data source exists (a retried Create): updating it");
                self.update_data_source(spec, &[]).await
            }
            Err(e) => Err(aws("CreateDataSource", id, e.into())),
        }
    }

    /// Updates the data source in place (creating it when missing) and its permissions.
    pub(crate) async fn update_data_source(
        &self,
        spec: &BuilderSpec,
        revoke: &[String],
    ) -> Result<(), BuilderError> {
        let id = &spec.data_source_id;
        let result = self
            .qs
            .update_data_source()
            .aws_account_id(&spec.account_id)
            .data_source_id(id)
            .name(Self::data_source_name(spec))
            .data_source_parameters(Self::athena_parameters(spec))
            .send()
            .await;
        match result {
            Ok(out) => {
                info!(data_source = %id, status = ?out.update_status(), "updated the data source");
                self.settle(spec, out.update_status()).await?;
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateDataSourceError::is_resource_not_found_exception) =>
            {
                warn!(data_source = %id, "the data source is gone: creating it again");
                return Box::pin(self.create_data_source(spec)).await;
            }
            Err(e) => return Err(aws("UpdateDataSource", id, e.into())),
        }
        self.qs
            .update_data_source_permissions()
            .aws_account_id(&spec.account_id)
            .data_source_id(id)
            .set_grant_permissions(Some(permissions(&spec.principals, &DATA_SOURCE_ACTIONS)?))
            .set_revoke_permissions(revocations(revoke, &DATA_SOURCE_ACTIONS)?)
            .send()
            .await
            .map_err(|e| aws("UpdateDataSourcePermissions", id, e.into()))?;
        Ok(())
    }

    /// Waits while QuickSight creates or updates the data source asynchronously; a failure is an
    /// error carrying QuickSight's reason.
    async fn settle(
        &self,
        spec: &BuilderSpec,
        status: Option<&ResourceStatus>,
    ) -> Result<(), BuilderError> {
        if !is_in_progress(status) && !is_failed(status) {
            return Ok(());
        }
        let id = &spec.data_source_id;
        let mut delay = POLL_START;
        loop {
            if is_in_progress(status) {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(POLL_MAX);
            }
            let described = self.describe(spec).await?;
            let source = described.as_ref();
            let now = source.and_then(|d| d.status());
            if is_failed(now) {
                let reason = source
                    .and_then(|d| d.error_info())
                    .map(|e| {
                        format!(
                            "{} {}",
                            e.r#type().map_or("", |t| t.as_str()),
                            e.message().unwrap_or("")
                        )
                        .trim()
                        .to_owned()
                    })
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "QuickSight gave no reason".to_owned());
                return Err(BuilderError::DataSourceFailed {
                    id: id.clone(),
                    status: now.map_or("", |s| s.as_str()).to_owned(),
                    reason,
                });
            }
            if !is_in_progress(now) {
                info!(data_source = %id, status = ?now, "the data source is ready");
                return Ok(());
            }
        }
    }

    /// Deletes the data source; "not found" is success.
    /// Whether a data source of this id exists (`ListDataSources`, read until found).
    pub(crate) async fn data_source_exists(
        &self,
        account: &str,
        data_source_id: &str,
    ) -> Result<bool, BuilderError> {
        let mut pages = self
            .qs
            .list_data_sources()
            .aws_account_id(account)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws("ListDataSources", data_source_id, e.into()))?;
            if page
                .data_sources()
                .iter()
                .any(|d| d.data_source_id() == Some(data_source_id))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(crate) async fn delete_data_source(
        &self,
        account: &str,
        data_source_id: &str,
    ) -> Result<(), BuilderError> {
        match self
            .qs
            .delete_data_source()
            .aws_account_id(account)
            .data_source_id(data_source_id)
            .send()
            .await
        {
            Ok(_) => info!(data_source = %data_source_id, "deleted the data source"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(DeleteDataSourceError::is_resource_not_found_exception) =>
            {
                info!(data_source = %data_source_id, "no such data source: nothing to delete");
            }
            Err(e) => return Err(aws("DeleteDataSource", data_source_id, e.into())),
        }
        Ok(())
    }
}
