-- dataset: node-tags
-- name: Patch compliance by node tag
-- One row per live managed node and tag, with the node's latest patch status and missing-patch
-- counts, for slicing compliance by Owner, Environment or any tag key: filter on one tag_key,
-- then group by tag_value. A node appears once per tag, so never count nodes across several tag
-- keys at once. Untagged nodes have no row here: the "nodes" dataset has every node.
--
-- Latest state: tags, instance information and the Patch compliance summary are each reduced to
-- the node's newest capture before they are joined; terminated nodes are left out, and so are
-- hybrid nodes silent for 30 days (presumed deregistered). security_noncompliant_count is the
-- vendor's meaning (patches classified as security); noncompliant_level and the *_level_* counts
-- are the compliance levels of the node's patch baseline (UNSPECIFIED on predefined baselines).
--
-- ${Database} is replaced by the Glue database of the resource data sync tables.
--
-- column: account_id STRING
-- column: region STRING
-- column: node_id STRING
-- column: node_type STRING
-- column: computer_name STRING
-- column: platform_name STRING
-- column: instance_status STRING
-- column: tag_key STRING
-- column: tag_value STRING
-- column: patch_status STRING
-- column: noncompliant_level STRING
-- column: noncompliant_level_critical INTEGER
-- column: noncompliant_level_high INTEGER
-- column: noncompliant_count INTEGER
-- column: security_noncompliant_count INTEGER
WITH
-- include: ../../../cfn/queries/parts/latest_instance_information.sql
, tags AS (
    SELECT
        accountid, region, resourceid, "key" AS tag_key, "value" AS tag_value,
        rank() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rk
    FROM "${Database}".aws_tag
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
),
patch AS (
    SELECT
        accountid, region, resourceid, securitynoncompliantcount,
        row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rn
    FROM "${Database}".aws_patchsummary
)
SELECT
    i.accountid AS account_id,
    i.region AS region,
    i.resourceid AS node_id,
    CASE WHEN i.resourceid LIKE 'mi-%' THEN 'Hybrid' ELSE 'EC2' END AS node_type,
    i.computername AS computer_name,
    i.platformname AS platform_name,
    i.instancestatus AS instance_status,
    t.tag_key AS tag_key,
    t.tag_value AS tag_value,
    COALESCE(s.status, 'NOT_SCANNED') AS patch_status,
    s.overallseverity AS noncompliant_level,
    TRY_CAST(s.noncompliantcriticalcount AS integer) AS noncompliant_level_critical,
    TRY_CAST(s.noncomplianthighcount AS integer) AS noncompliant_level_high,
    COALESCE(TRY_CAST(s.noncompliantcriticalcount AS integer), 0)
        + COALESCE(TRY_CAST(s.noncomplianthighcount AS integer), 0)
        + COALESCE(TRY_CAST(s.noncompliantmediumcount AS integer), 0)
        + COALESCE(TRY_CAST(s.noncompliantlowcount AS integer), 0)
        + COALESCE(TRY_CAST(s.noncompliantinformationalcount AS integer), 0)
        + COALESCE(TRY_CAST(s.noncompliantunspecifiedcount AS integer), 0) AS noncompliant_count,
    TRY_CAST(p.securitynoncompliantcount AS integer) AS security_noncompliant_count
FROM tags AS t
JOIN info AS i
    ON i.accountid = t.accountid AND i.region = t.region AND i.resourceid = t.resourceid AND i.rn = 1
LEFT JOIN summary AS s
    ON s.accountid = i.accountid AND s.region = i.region AND s.resourceid = i.resourceid AND s.rn = 1
LEFT JOIN patch AS p
    ON p.accountid = i.accountid AND p.region = i.region AND p.resourceid = i.resourceid AND p.rn = 1
WHERE t.rk = 1
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
