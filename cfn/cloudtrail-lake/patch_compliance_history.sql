-- name: Patch compliance history per managed node
-- description: Every recorded change of each node's patch compliance (AWS::SSM::PatchCompliance
-- configuration items) between ${StartTime} and ${EndTime}: when it changed, how many patches
-- were installed, missing or failed, and which ones were missing.
-- Replace ${EventDataStoreId} with the event data store id (stack output EventDataStoreId) and
-- ${StartTime}/${EndTime} with timestamps such as 2026-01-01 00:00:00.
SELECT
    eventData.accountId AS account_id,
    eventData.awsRegion AS region,
    replace(eventData.resourceId, 'AWS::SSM::ManagedInstanceInventory/', '') AS node_id,
    eventTime AS changed_at,
    eventData.configurationItemStatus AS item_status,
    cardinality(filter(patches, p -> json_extract_scalar(p, '$.PatchState') IN ('Installed', 'InstalledOther'))) AS installed,
    cardinality(filter(patches, p -> json_extract_scalar(p, '$.Status') = 'NON_COMPLIANT')) AS noncompliant,
    cardinality(filter(patches, p -> json_extract_scalar(p, '$.PatchState') = 'Missing')) AS missing,
    cardinality(filter(patches, p -> json_extract_scalar(p, '$.PatchState') = 'Failed')) AS failed,
    array_join(
        array_sort(transform(
            filter(patches, p -> json_extract_scalar(p, '$.Status') = 'NON_COMPLIANT'),
            p -> json_extract_scalar(p, '$.Id')
        )),
        ', '
    ) AS noncompliant_patches
FROM (
    SELECT
        eventData,
        eventTime,
        -- Only entries with a PatchState are patches: the content may also hold a
        -- "ComplianceSummary" entry.
        filter(
            map_values(CAST(
                json_extract(json_parse(eventJson), '$.eventData.configuration.AWS:ComplianceItem.Content.Patch')
                AS map(varchar, json)
            )),
            p -> json_extract_scalar(p, '$.PatchState') IS NOT NULL
        ) AS patches
    FROM ${EventDataStoreId}
    WHERE eventData.resourceType = 'AWS::SSM::PatchCompliance'
        AND eventTime >= '${StartTime}'
        AND eventTime < '${EndTime}'
)
WHERE patches IS NOT NULL
ORDER BY account_id, region, node_id, changed_at
