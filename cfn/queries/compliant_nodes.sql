-- name: Compliant managed nodes
-- description: Live managed nodes (EC2 and hybrid) whose latest Patch compliance summary is COMPLIANT.
-- Latest state: instance information and the Patch compliance summary are each reduced to the
-- node's newest row (row_number over capturetime per accountid, region, resourceid) before any
-- status filter, so a stale COMPLIANT or Active row never counts; terminated nodes are left out.
WITH
-- include: parts/latest_instance_information.sql
, summary AS (
    SELECT
        accountid, region, resourceid, status, patchgroup, patchbaselineid, executiontime,
        row_number() OVER (
            PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC, executiontime DESC
        ) AS rn
    FROM "${Database}".aws_compliancesummary
    WHERE compliancetype = 'Patch'
)
SELECT
    i.accountid AS account_id,
    i.region AS region,
    i.resourceid AS node_id,
    i.computername AS computer_name,
    i.platformtype AS platform_type,
    i.platformname AS platform_name,
    i.platformversion AS platform_version,
    i.instancestatus AS instance_status,
    s.patchgroup AS patch_group,
    s.patchbaselineid AS baseline_id,
    s.executiontime AS last_scan
FROM info AS i
JOIN summary AS s
    ON s.accountid = i.accountid AND s.region = i.region AND s.resourceid = i.resourceid AND s.rn = 1
WHERE i.rn = 1
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
    AND s.status = 'COMPLIANT'
ORDER BY account_id, region, node_id
