-- name: Days each managed node spent non-compliant
-- description: Between ${StartTime} and ${EndTime}, for every node: when it first and last became
-- non-compliant and how many days its patch compliance stayed NON_COMPLIANT (each recorded state
-- lasts until the node's next recorded change, or until ${EndTime}).
-- Replace ${EventDataStoreId}, ${StartTime} and ${EndTime} (timestamps such as 2026-01-01 00:00:00).
WITH states AS (
    SELECT
        eventData.accountId AS account_id,
        eventData.awsRegion AS region,
        replace(eventData.resourceId, 'AWS::SSM::ManagedInstanceInventory/') AS node_id,
        eventTime AS changed_at,
        CASE
            WHEN eventData.configurationItemStatus IN ('ResourceDeleted', 'ResourceDeletedNotRecorded')
                THEN 'DELETED'
            WHEN cardinality(filter(
                map_values(CAST(
                    json_extract(json_parse(eventJson), '$.eventData.configuration.AWS:ComplianceItem.Content.Patch')
                    AS map(varchar, json)
                )),
                p -> json_extract_scalar(p, '$.Status') = 'NON_COMPLIANT'
            )) > 0 THEN 'NON_COMPLIANT'
            ELSE 'COMPLIANT'
        END AS state
    FROM ${EventDataStoreId}
    WHERE eventData.resourceType = 'AWS::SSM::PatchCompliance'
        AND eventTime >= '${StartTime}'
        AND eventTime < '${EndTime}'
),
spans AS (
    SELECT
        account_id, region, node_id, state, changed_at,
        CAST(changed_at AS timestamp) AS since,
        COALESCE(
            CAST(lead(changed_at) OVER (PARTITION BY account_id, region, node_id ORDER BY changed_at) AS timestamp),
            CAST('${EndTime}' AS timestamp)
        ) AS until
    FROM states
)
SELECT
    account_id,
    region,
    node_id,
    min(changed_at) AS first_noncompliant,
    max(changed_at) AS last_noncompliant,
    round(sum(date_diff('second', since, until)) / 86400.0, 1) AS days_noncompliant
FROM spans
WHERE state = 'NON_COMPLIANT'
GROUP BY account_id, region, node_id
ORDER BY days_noncompliant DESC, account_id, region, node_id
