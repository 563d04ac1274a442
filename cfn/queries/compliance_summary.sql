-- name: Patch compliance summary by account, Region and compliance level
-- description: For each account, Region and compliance level: how many live managed nodes have
-- compliant and non-compliant patches at that level, and how many such patches there are. The
-- compliance level is the one the node's patch baseline assigns (its approval rules), not the
-- vendor's severity: on AWS's predefined baselines every patch is UNSPECIFIED, so a fleet on
-- default baselines has UNSPECIFIED rows only (the vendor's security patches are counted by the
-- "Non-compliant managed nodes" and "Patch summary" queries). Counts come from each node's latest
-- Patch compliance summary.
-- Latest state: instance information and the summary are reduced to the node's newest row before
-- any filter; terminated nodes are left out; nodes never scanned have no summary and no row here.
WITH
-- include: parts/latest_instance_information.sql
, summary AS (
    SELECT
        accountid, region, resourceid,
        compliantcriticalcount, complianthighcount, compliantmediumcount, compliantlowcount,
        compliantinformationalcount, compliantunspecifiedcount,
        noncompliantcriticalcount, noncomplianthighcount, noncompliantmediumcount,
        noncompliantlowcount, noncompliantinformationalcount, noncompliantunspecifiedcount,
        row_number() OVER (
            PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC, executiontime DESC
        ) AS rn
    FROM "${Database}".aws_compliancesummary
    WHERE compliancetype = 'Patch'
),
levels AS (
    SELECT compliance_level
    FROM (VALUES 'CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNSPECIFIED') AS v (compliance_level)
),
counts AS (
    SELECT
        i.accountid, i.region, i.resourceid, v.compliance_level,
        COALESCE(TRY_CAST(CASE v.compliance_level
            WHEN 'CRITICAL' THEN s.compliantcriticalcount
            WHEN 'HIGH' THEN s.complianthighcount
            WHEN 'MEDIUM' THEN s.compliantmediumcount
            WHEN 'LOW' THEN s.compliantlowcount
            WHEN 'INFORMATIONAL' THEN s.compliantinformationalcount
            ELSE s.compliantunspecifiedcount
        END AS integer), 0) AS compliant,
        COALESCE(TRY_CAST(CASE v.compliance_level
            WHEN 'CRITICAL' THEN s.noncompliantcriticalcount
            WHEN 'HIGH' THEN s.noncomplianthighcount
            WHEN 'MEDIUM' THEN s.noncompliantmediumcount
            WHEN 'LOW' THEN s.noncompliantlowcount
            WHEN 'INFORMATIONAL' THEN s.noncompliantinformationalcount
            ELSE s.noncompliantunspecifiedcount
        END AS integer), 0) AS noncompliant
    FROM info AS i
    JOIN summary AS s
        ON s.accountid = i.accountid AND s.region = i.region AND s.resourceid = i.resourceid AND s.rn = 1
    CROSS JOIN levels AS v
    WHERE i.rn = 1
        AND COALESCE(i.instancestatus, '') <> 'Terminated'
        -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
        -- its files and nothing else says it is gone.
        AND NOT COALESCE(i.resourceid LIKE 'mi-%'
            AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
)
SELECT
    accountid AS account_id,
    region,
    compliance_level,
    count_if(noncompliant > 0) AS noncompliant_nodes,
    count_if(compliant > 0 AND noncompliant = 0) AS compliant_nodes,
    sum(noncompliant) AS noncompliant_patches,
    sum(compliant) AS compliant_patches
FROM counts
GROUP BY accountid, region, compliance_level
HAVING sum(noncompliant) > 0 OR sum(compliant) > 0
-- Levels from the most to the least severe, not alphabetically.
ORDER BY account_id, region, CASE compliance_level
    WHEN 'CRITICAL' THEN 1 WHEN 'HIGH' THEN 2 WHEN 'MEDIUM' THEN 3
    WHEN 'LOW' THEN 4 WHEN 'INFORMATIONAL' THEN 5 ELSE 6
END
