-- dataset: patches
-- name: Patch compliance by node and patch
-- One row per live managed node and patch: the Patch compliance items of each node's latest scan
-- (every PatchState, NotApplicable included: filter on patch_state or status), with the node's
-- account, Region, platform and instance status. Terminated nodes are left out, and so are hybrid
-- nodes silent for 30 days (presumed deregistered). compliance_level is the level the node's patch
-- baseline assigns (UNSPECIFIED on AWS's predefined baselines, and for patches it does not
-- approve); classification and vendor_severity are the vendor's (the MSRC severity on Windows,
-- the package priority on Debian and Ubuntu). On Windows, not-applicable patches are items with
-- an empty status, and security updates the baseline does not approve have the state
-- AvailableSecurityUpdate.
--
-- Latest state: a node's items come from the newest capture of its compliance object (rank() keeps
-- every item of that capture); older captures, which stale or re-delivered objects can hold, are
-- dropped. The node's status is its newest instance information row, taken before filtering.
--
-- ${Database} is replaced by the Glue database of the resource data sync tables.
--
-- column: account_id STRING
-- column: region STRING
-- column: node_id STRING
-- column: node_type STRING
-- column: computer_name STRING
-- column: platform_type STRING
-- column: platform_name STRING
-- column: platform_version STRING
-- column: instance_status STRING
-- column: patch_id STRING
-- column: title STRING
-- column: classification STRING
-- column: compliance_level STRING
-- column: vendor_severity STRING
-- column: patch_state STRING
-- column: status STRING
-- column: installed_time DATETIME
-- column: scan_time DATETIME
-- column: baseline_id STRING
-- column: patch_group STRING
WITH
-- include: ../../../cfn/queries/parts/latest_instance_information.sql
, items AS (
    SELECT
        accountid, region, resourceid, id, title, classification, severity, patchseverity,
        patchstate, status, installedtime, executiontime, patchbaselineid, patchgroup,
        rank() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rk
    FROM "${Database}".aws_complianceitem
    WHERE compliancetype = 'Patch'
)
SELECT
    i.accountid AS account_id,
    i.region AS region,
    i.resourceid AS node_id,
    CASE WHEN i.resourceid LIKE 'mi-%' THEN 'Hybrid' ELSE 'EC2' END AS node_type,
    i.computername AS computer_name,
    i.platformtype AS platform_type,
    i.platformname AS platform_name,
    i.platformversion AS platform_version,
    i.instancestatus AS instance_status,
    c.id AS patch_id,
    c.title AS title,
    NULLIF(c.classification, '') AS classification,
    NULLIF(c.severity, '') AS compliance_level,
    NULLIF(c.patchseverity, '') AS vendor_severity,
    c.patchstate AS patch_state,
    c.status AS status,
    TRY(CAST(from_iso8601_timestamp(NULLIF(c.installedtime, '')) AS timestamp)) AS installed_time,
    TRY(CAST(from_iso8601_timestamp(c.executiontime) AS timestamp)) AS scan_time,
    c.patchbaselineid AS baseline_id,
    c.patchgroup AS patch_group
FROM items AS c
JOIN info AS i
    ON i.accountid = c.accountid AND i.region = c.region AND i.resourceid = c.resourceid AND i.rn = 1
WHERE c.rk = 1
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
