-- name: Patch summary per managed node
-- description: One row per live managed node with the counts of its latest patch operation (Scan
-- or Install): installed, installed other, pending reboot, rejected, missing, failed, not
-- applicable, and the operation's baseline, patch group and end time.
-- Latest state: instance information and the patch summary are each reduced to the node's newest
-- row before filtering; terminated nodes are left out; nodes never scanned are left out.
WITH info AS (
    SELECT
        accountid, region, resourceid, computername, platformname, platformversion, instancestatus,
        row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rn
    FROM "${Database}".aws_instanceinformation
),
patch AS (
    SELECT
        accountid, region, resourceid, patchgroup, baselineid, operationtype, operationendtime,
        installedcount, installedothercount, installedpendingrebootcount, installedrejectedcount,
        missingcount, failedcount, notapplicablecount,
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
    TRY_CAST(p.notapplicablecount AS integer) AS not_applicable
FROM info AS i
JOIN patch AS p
    ON p.accountid = i.accountid AND p.region = i.region AND p.resourceid = i.resourceid AND p.rn = 1
WHERE i.rn = 1
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
ORDER BY missing DESC, failed DESC, account_id, region, node_id
