-- name: Patch compliance of every managed node at a point in time
-- description: For an audit: each node's patch compliance as it stood at ${AsOf}, from the newest
-- AWS::SSM::PatchCompliance configuration item recorded before that moment. The newest item per
-- node is taken before anything is filtered, so a node whose compliance record was deleted by
-- then (ResourceDeleted: the node was terminated or deregistered) is left out instead of showing
-- an older state.
-- Replace ${EventDataStoreId} with the event data store id and ${AsOf} with a timestamp such as
-- 2026-06-30 23:59:59.
WITH items AS (
    SELECT
        eventData.accountId AS account_id,
        eventData.awsRegion AS region,
        replace(eventData.resourceId, 'AWS::SSM::ManagedInstanceInventory/', '') AS node_id,
        eventTime AS recorded_at,
        eventData.configurationItemStatus AS item_status,
        -- Only entries with a PatchState are patches: the content may also hold a
        -- "ComplianceSummary" entry.
        filter(
            map_values(CAST(
                json_extract(json_parse(eventJson), '$.eventData.configuration.AWS:ComplianceItem.Content.Patch')
                AS map(varchar, json)
            )),
            p -> json_extract_scalar(p, '$.PatchState') IS NOT NULL
        ) AS patches,
        row_number() OVER (
            PARTITION BY eventData.accountId, eventData.awsRegion, eventData.resourceId
            ORDER BY eventTime DESC
        ) AS rn
    FROM ${EventDataStoreId}
    WHERE eventData.resourceType = 'AWS::SSM::PatchCompliance'
        AND eventTime <= '${AsOf}'
)
SELECT
    account_id,
    region,
    node_id,
    recorded_at,
    CASE
        WHEN cardinality(filter(patches, p -> json_extract_scalar(p, '$.Status') = 'NON_COMPLIANT')) > 0
            THEN 'NON_COMPLIANT'
        ELSE 'COMPLIANT'
    END AS patch_compliance,
    cardinality(filter(patches, p -> json_extract_scalar(p, '$.Status') = 'NON_COMPLIANT')) AS noncompliant,
    array_join(
        array_sort(transform(
            filter(patches, p -> json_extract_scalar(p, '$.Status') = 'NON_COMPLIANT'),
            p -> json_extract_scalar(p, '$.Id')
        )),
        ', '
    ) AS noncompliant_patches
FROM items
WHERE rn = 1
    AND item_status NOT IN ('ResourceDeleted', 'ResourceDeletedNotRecorded')
    AND patches IS NOT NULL
ORDER BY patch_compliance DESC, account_id, region, node_id
