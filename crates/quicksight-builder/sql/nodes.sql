-- dataset: nodes
-- name: Patch compliance by node
-- One row per live managed node (EC2 instances and hybrid mi- nodes) with its latest patch state
-- from Systems Manager: instance information joined with the patch summary and the Patch
-- compliance summary. Terminated nodes are left out, and so are hybrid nodes silent for 30 days
-- (presumed deregistered); nodes never scanned have patch_status NOT_SCANNED.
--
-- Two meanings of severity, named apart: security_noncompliant_count is the vendor's (patches
-- classified as security, SecurityNonCompliantCount); the *_level_* columns and
-- noncompliant_level are the compliance levels the node's patch baseline assigns (all UNSPECIFIED
-- on AWS's predefined baselines).
--
-- Latest state: the resource data sync overwrites one object per node and type, but stale objects
-- and re-delivered rows exist, so every table is reduced to the newest row per node (by
-- capturetime) before it is joined or filtered: filtering Terminated first would let an older
-- Active row of a terminated node through. Account and Region come from the partitions.
--
-- ${Database} is replaced by the Glue database of the resource data sync tables.
--
-- column: account_id STRING
-- column: region STRING
-- column: node_id STRING
-- column: node_type STRING
-- column: computer_name STRING
-- column: ip_address STRING
-- column: platform_type STRING
-- column: platform_name STRING
-- column: platform_version STRING
-- column: agent_version STRING
-- column: instance_status STRING
-- column: last_seen DATETIME
-- column: patch_status STRING
-- column: noncompliant_level STRING
-- column: patch_group STRING
-- column: baseline_id STRING
-- column: last_operation STRING
-- column: last_operation_end DATETIME
-- column: installed_count INTEGER
-- column: installed_other_count INTEGER
-- column: installed_pending_reboot_count INTEGER
-- column: installed_rejected_count INTEGER
-- column: missing_count INTEGER
-- column: failed_count INTEGER
-- column: not_applicable_count INTEGER
-- column: critical_level_noncompliant_count INTEGER
-- column: security_noncompliant_count INTEGER
-- column: other_noncompliant_count INTEGER
-- column: noncompliant_level_critical INTEGER
-- column: noncompliant_level_high INTEGER
-- column: noncompliant_level_medium INTEGER
-- column: noncompliant_level_low INTEGER
-- column: noncompliant_level_informational INTEGER
-- column: noncompliant_level_unspecified INTEGER
WITH
-- include: ../../../cfn/queries/parts/latest_instance_information.sql
, patch AS (
    SELECT
        accountid, region, resourceid, patchgroup, baselineid, operationtype, operationendtime,
        installedcount, installedothercount, installedpendingrebootcount, installedrejectedcount,
        missingcount, failedcount, notapplicablecount, criticalnoncompliantcount,
        securitynoncompliantcount, othernoncompliantcount,
        row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rn
    FROM "${Database}".aws_patchsummary
),
summary AS (
    SELECT
        accountid, region, resourceid, status, overallseverity,
        noncompliantcriticalcount, noncomplianthighcount, noncompliantmediumcount,
        noncompliantlowcount, noncompliantinformationalcount, noncompliantunspecifiedcount,
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
    CASE WHEN i.resourceid LIKE 'mi-%' THEN 'Hybrid' ELSE 'EC2' END AS node_type,
    i.computername AS computer_name,
    i.ipaddress AS ip_address,
    i.platformtype AS platform_type,
    i.platformname AS platform_name,
    i.platformversion AS platform_version,
    i.agentversion AS agent_version,
    i.instancestatus AS instance_status,
    TRY(CAST(from_iso8601_timestamp(i.capturetime) AS timestamp)) AS last_seen,
    CASE
        WHEN s.status IS NOT NULL THEN s.status
        WHEN p.resourceid IS NOT NULL THEN 'UNKNOWN'
        ELSE 'NOT_SCANNED'
    END AS patch_status,
    s.overallseverity AS noncompliant_level,
    p.patchgroup AS patch_group,
    p.baselineid AS baseline_id,
    p.operationtype AS last_operation,
    TRY(CAST(from_iso8601_timestamp(p.operationendtime) AS timestamp)) AS last_operation_end,
    TRY_CAST(p.installedcount AS integer) AS installed_count,
    TRY_CAST(p.installedothercount AS integer) AS installed_other_count,
    TRY_CAST(p.installedpendingrebootcount AS integer) AS installed_pending_reboot_count,
    TRY_CAST(p.installedrejectedcount AS integer) AS installed_rejected_count,
    TRY_CAST(p.missingcount AS integer) AS missing_count,
    TRY_CAST(p.failedcount AS integer) AS failed_count,
    TRY_CAST(p.notapplicablecount AS integer) AS not_applicable_count,
    TRY_CAST(p.criticalnoncompliantcount AS integer) AS critical_level_noncompliant_count,
    TRY_CAST(p.securitynoncompliantcount AS integer) AS security_noncompliant_count,
    TRY_CAST(p.othernoncompliantcount AS integer) AS other_noncompliant_count,
    TRY_CAST(s.noncompliantcriticalcount AS integer) AS noncompliant_level_critical,
    TRY_CAST(s.noncomplianthighcount AS integer) AS noncompliant_level_high,
    TRY_CAST(s.noncompliantmediumcount AS integer) AS noncompliant_level_medium,
    TRY_CAST(s.noncompliantlowcount AS integer) AS noncompliant_level_low,
    TRY_CAST(s.noncompliantinformationalcount AS integer) AS noncompliant_level_informational,
    TRY_CAST(s.noncompliantunspecifiedcount AS integer) AS noncompliant_level_unspecified
FROM info AS i
LEFT JOIN patch AS p
    ON p.accountid = i.accountid AND p.region = i.region AND p.resourceid = i.resourceid AND p.rn = 1
LEFT JOIN summary AS s
    ON s.accountid = i.accountid AND s.region = i.region AND s.resourceid = i.resourceid AND s.rn = 1
WHERE i.rn = 1
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
