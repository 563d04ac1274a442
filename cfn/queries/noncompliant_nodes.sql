-- name: Non-compliant managed nodes and their missing patches
-- description: One row per live managed node whose latest scan reports non-compliant patches, with
-- those patches aggregated into one column (never one row per patch).
-- Latest state: a node's Patch compliance items come from its newest capture (rank() keeps every
-- item of that capture) and its status from its newest instance information row, both taken
-- before filtering on status; terminated nodes are left out. Association items are not patches.
WITH info AS (
    SELECT
        accountid, region, resourceid, computername, platformname, platformversion, instancestatus,
        row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rn
    FROM "${Database}".aws_instanceinformation
),
items AS (
    SELECT
        accountid, region, resourceid, id, status, patchstate, severity, executiontime,
        rank() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rk
    FROM "${Database}".aws_complianceitem
    WHERE compliancetype = 'Patch'
)
SELECT
    i.accountid AS account_id,
    i.region AS region,
    i.resourceid AS node_id,
    i.computername AS computer_name,
    i.platformname AS platform_name,
    i.platformversion AS platform_version,
    i.instancestatus AS instance_status,
    count(*) AS noncompliant_patches,
    count_if(c.severity = 'CRITICAL') AS critical_patches,
    count_if(c.severity = 'HIGH') AS high_patches,
    array_join(array_sort(array_agg(c.id)), ', ') AS patches,
    array_join(array_sort(array_agg(DISTINCT c.patchstate)), ', ') AS patch_states,
    max(c.executiontime) AS last_scan
FROM items AS c
JOIN info AS i
    ON i.accountid = c.accountid AND i.region = c.region AND i.resourceid = c.resourceid AND i.rn = 1
WHERE c.rk = 1
    AND c.status = 'NON_COMPLIANT'
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
GROUP BY i.accountid, i.region, i.resourceid, i.computername, i.platformname, i.platformversion,
    i.instancestatus
ORDER BY critical_patches DESC, noncompliant_patches DESC, account_id, region, node_id
