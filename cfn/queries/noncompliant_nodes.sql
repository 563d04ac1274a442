-- name: Non-compliant managed nodes and their missing patches
-- description: One row per live managed node whose latest scan reports non-compliant patches, or
-- Windows security updates its baseline has not approved (state AvailableSecurityUpdate, counted
-- as compliant unless the baseline says otherwise, but missing from the node all the same), with
-- those patches aggregated into one column (never one row per patch), the vendor's security
-- patches among them first. Two meanings of severity, kept apart: security_patches counts the
-- patches the vendor classifies as security (Security, SecurityUpdates: what SecurityNonCompliantCount
-- counts), vendor_critical_patches those the vendor rates Critical; critical_level_patches and
-- high_level_patches count by the compliance level the patch baseline assigns, which is
-- UNSPECIFIED for every patch on AWS's predefined baselines.
-- Latest state: a node's Patch compliance items come from its newest capture (rank() keeps every
-- item of that capture) and its status from its newest instance information row, both taken
-- before filtering on status; terminated nodes are left out. Association items are not patches.
WITH
-- include: parts/latest_instance_information.sql
, items AS (
    SELECT
        accountid, region, resourceid, id, status, patchstate, severity, classification,
        patchseverity, executiontime,
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
    count_if(c.status = 'NON_COMPLIANT') AS noncompliant_patches,
    count_if(c.classification IN ('Security', 'SecurityUpdates')) AS security_patches,
    count_if(c.patchseverity = 'Critical') AS vendor_critical_patches,
    count_if(c.status = 'NON_COMPLIANT' AND c.severity = 'CRITICAL') AS critical_level_patches,
    count_if(c.status = 'NON_COMPLIANT' AND c.severity = 'HIGH') AS high_level_patches,
    count_if(c.patchstate = 'AvailableSecurityUpdate') AS unapproved_security_updates,
    array_join(array_sort(array_agg(c.id)), ', ') AS patches,
    array_join(array_sort(array_agg(DISTINCT c.patchstate)), ', ') AS patch_states,
    max(c.executiontime) AS last_scan
FROM items AS c
JOIN info AS i
    ON i.accountid = c.accountid AND i.region = c.region AND i.resourceid = c.resourceid AND i.rn = 1
WHERE c.rk = 1
    AND (c.status = 'NON_COMPLIANT' OR c.patchstate = 'AvailableSecurityUpdate')
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
GROUP BY i.accountid, i.region, i.resourceid, i.computername, i.platformname, i.platformversion,
    i.instancestatus
ORDER BY security_patches DESC, critical_level_patches DESC, noncompliant_patches DESC, account_id, region,
    node_id
