-- name: Days each managed node spent non-compliant
-- description: Between ${StartTime} and ${EndTime}, for every node that was non-compliant at any
-- moment of the range: how many days its patch compliance was NON_COMPLIANT inside the range, and
-- when the first and the last of those non-compliant periods began (the first may begin before
-- ${StartTime}: a node already non-compliant when the range opens counts from ${StartTime}).
-- Each recorded state lasts until the node's next recorded change, or until ${EndTime}; a deleted
-- compliance record (the node was terminated or deregistered) ends it.
-- Replace ${EventDataStoreId}, ${StartTime} and ${EndTime} (timestamps such as 2026-01-01 00:00:00).
-- Changes before ${StartTime} are read too (they say what state the range opens in), so the
-- query scans the event data store from its first event up to ${EndTime}. A node whose last
-- change predates the event data store has no record at all and is not counted.
WITH states AS (
    SELECT
        eventData.accountId AS account_id,
        eventData.awsRegion AS region,
        replace(eventData.resourceId, 'AWS::SSM::ManagedInstanceInventory/', '') AS node_id,
        eventTime AS changed_at,
        CASE
            WHEN eventData.configurationItemStatus IN ('ResourceDeleted', 'ResourceDeletedNotRecorded')
                THEN 'DELETED'
            -- Only entries with a PatchState are patches: the content may also hold a
            -- "ComplianceSummary" entry, whose Status is the node's.
            WHEN cardinality(filter(
                map_values(CAST(
                    json_extract(json_parse(eventJson), '$.eventData.configuration.AWS:ComplianceItem.Content.Patch')
                    AS map(varchar, json)
                )),
                p -> json_extract_scalar(p, '$.PatchState') IS NOT NULL
                    AND json_extract_scalar(p, '$.Status') = 'NON_COMPLIANT'
            )) > 0 THEN 'NON_COMPLIANT'
            ELSE 'COMPLIANT'
        END AS state
    FROM ${EventDataStoreId}
    WHERE eventData.resourceType = 'AWS::SSM::PatchCompliance'
        AND eventTime < '${EndTime}'
),
spans AS (
    SELECT
        account_id, region, node_id, state,
        CAST(changed_at AS timestamp) AS began,
        COALESCE(
            CAST(lead(changed_at) OVER (PARTITION BY account_id, region, node_id ORDER BY changed_at) AS timestamp),
            CAST('${EndTime}' AS timestamp)
        ) AS ended
    FROM states
),
in_range AS (
    -- Each span clipped to the range; spans that end before the range opens are dropped.
    SELECT
        account_id, region, node_id, began,
        greatest(began, CAST('${StartTime}' AS timestamp)) AS since,
        ended AS until
    FROM spans
    WHERE state = 'NON_COMPLIANT'
        AND ended > CAST('${StartTime}' AS timestamp)
)
SELECT
    account_id,
    region,
    node_id,
    min(began) AS first_noncompliant,
    max(began) AS last_noncompliant,
    round(sum(date_diff('second', since, until)) / 86400.0, 1) AS days_noncompliant
FROM in_range
GROUP BY account_id, region, node_id
ORDER BY days_noncompliant DESC, account_id, region, node_id
