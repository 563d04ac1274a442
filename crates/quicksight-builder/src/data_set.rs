//! The datasets: one per SQL file the spec wants, created or updated in place with its custom SQL,
//! columns, import mode and permissions; the ones no longer wanted deleted.

use aws_sdk_quicksight::operation::create_data_set::CreateDataSetError;
use aws_sdk_quicksight::operation::delete_data_set::DeleteDataSetError;
use aws_sdk_quicksight::operation::update_data_set::UpdateDataSetError;
use aws_sdk_quicksight::types::{CustomSql, InputColumn, PhysicalTable};
use cfn_response::Request;
use tracing::{info, warn};

use crate::sql::{self, DatasetSql};
use crate::{
    BuilderError, BuilderSpec, DATA_SET_ACTIONS, DEFAULT_DATA_SOURCE_ID, PHYSICAL_TABLE_ID,
    QuickSightBuilder, aws, build_error, data_set_id, permissions, revocations,
};

/// What CreateDataSet and UpdateDataSet both send for a dataset.
struct Shape {
    id: String,
    name: String,
    table: PhysicalTable,
}

impl QuickSightBuilder {
    /// The dataset's id, name and custom SQL table, as both requests carry them.
    fn shape(&self, spec: &BuilderSpec, dataset: &DatasetSql) -> Result<Shape, BuilderError> {
        Ok(Shape {
            id: data_set_id(&spec.data_source_id, &dataset.key),
            name: Self::data_set_name(spec, dataset),
            table: Self::physical_table(spec, &self.region, dataset)?,
        })
    }

    fn physical_table(
        spec: &BuilderSpec,
        region: &str,
        dataset: &DatasetSql,
    ) -> Result<PhysicalTable, BuilderError> {
        let columns = dataset
            .columns
            .iter()
            .map(|(name, ty)| {
                InputColumn::builder()
                    .name(name)
                    .r#type(ty.clone())
                    .build()
                    .map_err(build_error("column"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PhysicalTable::CustomSql(
            CustomSql::builder()
                .data_source_arn(spec.data_source_arn(region))
                .name(&dataset.name)
                .sql_query(dataset.render(&spec.names()))
                .set_columns(Some(columns))
                .build()
                .map_err(build_error("custom SQL"))?,
        ))
    }

    fn data_set_name(spec: &BuilderSpec, dataset: &DatasetSql) -> String {
        if spec.data_source_id == DEFAULT_DATA_SOURCE_ID {
            dataset.name.clone()
        } else {
            format!("{} ({})", dataset.name, spec.data_source_id)
        }
    }

    /// Creates a dataset; when it exists already, updates it in place. Returns its ARN.
    pub(crate) async fn create_data_set(
        &self,
        spec: &BuilderSpec,
        dataset: &DatasetSql,
    ) -> Result<String, BuilderError> {
        let Shape { id, name, table } = self.shape(spec, dataset)?;
        let result = self
            .qs
            .create_data_set()
            .aws_account_id(&spec.account_id)
            .data_set_id(&id)
            .name(name)
            .physical_table_map(PHYSICAL_TABLE_ID, table)
            .import_mode(spec.import_mode.clone())
            .set_permissions(Some(permissions(&spec.principals, &DATA_SET_ACTIONS)?))
            .send()
            .await;
        match result {
            Ok(out) => {
                info!(data_set = %id, sql = dataset.file, "created the dataset");
                Ok(out.arn().unwrap_or_default().to_owned())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(CreateDataSetError::is_resource_exists_exception) =>
            {
                info!(data_set = %id, "the dataset exists (a retried Create): updating it");
                self.update_data_set(spec, dataset, &[]).await
            }
            Err(e) => Err(aws("CreateDataSet", &id, e.into())),
        }
    }

    /// Updates a dataset in place (creating it when missing) and its permissions. Returns its ARN.
    pub(crate) async fn update_data_set(
        &self,
        spec: &BuilderSpec,
        dataset: &DatasetSql,
        revoke: &[String],
    ) -> Result<String, BuilderError> {
        let Shape { id, name, table } = self.shape(spec, dataset)?;
        let result = self
            .qs
            .update_data_set()
            .aws_account_id(&spec.account_id)
            .data_set_id(&id)
            .name(name)
            .physical_table_map(PHYSICAL_TABLE_ID, table)
            .import_mode(spec.import_mode.clone())
            .send()
            .await;
        let arn = match result {
            Ok(out) => {
                info!(data_set = %id, sql = dataset.file, "updated the dataset");
                out.arn().unwrap_or_default().to_owned()
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateDataSetError::is_resource_not_found_exception) =>
            {
                warn!(data_set = %id, "the dataset is missing: creating it");
                return Box::pin(self.create_data_set(spec, dataset)).await;
            }
            Err(e) => return Err(aws("UpdateDataSet", &id, e.into())),
        };
        self.qs
            .update_data_set_permissions()
            .aws_account_id(&spec.account_id)
            .data_set_id(&id)
            .set_grant_permissions(Some(permissions(&spec.principals, &DATA_SET_ACTIONS)?))
            .set_revoke_permissions(revocations(revoke, &DATA_SET_ACTIONS)?)
            .send()
            .await
            .map_err(|e| aws("UpdateDataSetPermissions", &id, e.into()))?;
        Ok(arn)
    }

    /// Deletes a dataset; "not found" is success.
    pub(crate) async fn delete_data_set(
        &self,
        account: &str,
        id: &str,
    ) -> Result<(), BuilderError> {
        match self
            .qs
            .delete_data_set()
            .aws_account_id(account)
            .data_set_id(id)
            .send()
            .await
        {
            Ok(_) => {
                info!(data_set = %id, "deleted the dataset");
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(DeleteDataSetError::is_resource_not_found_exception) =>
            {
                Ok(())
            }
            Err(e) => Err(aws("DeleteDataSet", id, e.into())),
        }
    }

    /// The datasets of this data source id that exist (`ListDataSets`, read to the end).
    pub(crate) async fn existing_data_sets(
        &self,
        account: &str,
        data_source_id: &str,
    ) -> Result<Vec<String>, BuilderError> {
        let ours: Vec<String> = sql::all_keys()
            .map(|key| data_set_id(data_source_id, key))
            .collect();
        let mut pages = self
            .qs
            .list_data_sets()
            .aws_account_id(account)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws("ListDataSets", data_source_id, e.into()))?;
            for summary in page.data_set_summaries() {
                if let Some(id) = summary.data_set_id()
                    && ours.iter().any(|o| o == id)
                {
                    found.push(id.to_owned());
                }
            }
        }
        Ok(found)
    }

    /// Deletes the datasets these properties do not want (all of them when `spec` wants none).
    pub(crate) async fn delete_unwanted(
        &self,
        request: &Request,
        account: &str,
        data_source_id: &str,
        wanted: &[&str],
    ) -> Result<(), BuilderError> {
        for key in sql::all_keys().filter(|k| !wanted.contains(k)) {
            let id = data_set_id(data_source_id, key);
            request.set_step(format!("deleting dataset {id}"));
            self.delete_data_set(account, &id).await?;
        }
        Ok(())
    }
}
