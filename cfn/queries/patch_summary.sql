-- name: Patch summary per managed node
-- description: One row per live managed node with the counts of its latest patch operation (Scan
-- or Install): installed, installed other, pending reboot, rejected, missing, failed, not
-- applicable, and the operation's baseline, patch group and end time; of its non-compliant patches,
-- how many the vendor classifies as security (SecurityNonCompliantCount) and how many the baseline
-- ranks CRITICAL (CriticalNonCompliantCount, always 0 on AWS's predefined baselines). Only fields
-- every patch summary carries are read: a column the crawler makes only when some node reports it
-- (AvailableSecurityUpdateCount is Windows-only) would fail the query in a fleet without one.
-- Latest state: instance information and the patch summary are each reduced to the node's newest
-- row before filtering; terminated nodes are left out; nodes never scanned are left out.
WITH
-- include: parts/latest_instance_information.sql
, patch AS (
    SELECT
        accountid, region, resourceid, patchgroup, baselineid, operationtype, operationendtime,
        installedcount, installedothercount, installedpendingrebootcount, installedrejectedcount,
        missingcount, failedcount, notapplicablecount, securitynoncompliantcount,
        criticalnoncompliantcount,
        row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rn
    FROM "${Database}".aws_patchsummary
)
SELECT
    i.accountid AS account_id,
    i.region AS region,
    i.resourceid AS node_id,
    i.computername AS computer_name,
    i.platformname AS platform_name,
    i.platformversion AS platform_version,
    i.instancestatus AS instance_status,
    p.patchgroup AS patch_group,
    p.baselineid AS baseline_id,
    p.operationtype AS last_operation,
    p.operationendtime AS last_operation_end,
    TRY_CAST(p.installedcount AS integer) AS installed,
    TRY_CAST(p.installedothercount AS integer) AS installed_other,
    TRY_CAST(p.installedpendingrebootcount AS integer) AS installed_pending_reboot,
    TRY_CAST(p.installedrejectedcount AS integer) AS installed_rejected,
    TRY_CAST(p.missingcount AS integer) AS missing,
    TRY_CAST(p.failedcount AS integer) AS failed,
    TRY_CAST(p.notapplicablecount AS integer) AS not_applicable,
    COALESCE(TRY_CAST(p.securitynoncompliantcount AS integer), 0) AS security_noncompliant,
    COALESCE(TRY_CAST(p.criticalnoncompliantcount AS integer), 0) AS critical_level_noncompliant
FROM info AS i
JOIN patch AS p
    ON p.accountid = i.accountid AND p.region = i.region AND p.resourceid = i.resourceid AND p.rn = 1
WHERE i.rn = 1
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
ORDER BY security_noncompliant DESC, missing DESC, failed DESC, account_id, region, node_id
