-- dataset: config-compliance
-- name: Patch compliance from AWS Config
-- One row per live node as AWS Config sees it: every EC2 instance (running or stopped, managed by
-- Systems Manager or not) and every hybrid mi- node AWS Config records, with
-- the results of the two managed rules the reports depend on:
--   ec2-instance-managed-by-systems-manager          -> managed_by_ssm: YES, NO (running and the
--                                                        agent stopped or gone), NOT_APPLICABLE
--                                                        (stopped), UNKNOWN (no result)
--   ec2-managedinstance-patch-compliance-status-check -> patch_compliance (COMPLIANT, NON_COMPLIANT,
--                                                        NOT_EVALUATED when the rule has no result),
--                                                        patch_compliance_reason (NOT_RECORDED: the
--                                                        recorder does not record rule results;
--                                                        NO_RESULT: not evaluated)
-- Hybrid nodes come from their inventory items, evaluated or not.
-- unreadable_items: the AWS::Config::ResourceCompliance items of the newest snapshot of the row's
-- account and Region that could not be read (0 when all is well; the same on every row of the
-- account and Region). A malformed or forged item (no rule list, an object or a number instead of
-- it, a rule that is not an object, a number or an object where a string belongs) never fails the
-- query: it only loses its own node's rule results (UNKNOWN, NOT_EVALUATED / NO_RESULT), and this
-- count says where that happened.
-- Rules are matched by name containing the managed rule's default name, so organization rules
-- (OrgConfigRule-<name>-<suffix>) match too. Terminated and shutting-down instances are left out.
--
-- Latest state: a Config snapshot lists every recorded resource as it is at delivery time, so the
-- newest snapshot of each account and Region is the current state; unnesting older snapshots would
-- resurrect deleted resources. Partitions are (accountid, region, dt): take the newest day, and of
-- that day's snapshots the one delivered last (the time in its object name, Athena's "$path";
-- capture times cannot tell when the newer snapshot differs only by deleted resources). Each snapshot is unnested once.
--
-- ${ConfigDatabase} and ${ConfigTable} are replaced by the Glue database and table of the Config
-- snapshots (columns fileversion, configsnapshotid, configurationitems array<struct<...>> with
-- configuration declared as string).
--
-- column: account_id STRING
-- column: region STRING
-- column: node_id STRING
-- column: node_type STRING
-- column: name STRING
-- column: instance_state STRING
-- column: instance_type STRING
-- column: platform STRING
-- column: managed_by_ssm STRING
-- column: patch_compliance STRING
-- column: patch_compliance_reason STRING
-- column: config_captured DATETIME
-- column: unreadable_items INTEGER
WITH
-- include: ../../../cfn/queries/parts/newest_config_snapshot.sql
, nodes AS (
    SELECT accountid, region, node_id
    FROM instances
    WHERE COALESCE(instance_state, '') NOT IN ('terminated', 'shutting-down')
    UNION
    -- Hybrid nodes from their inventory items, whether or not a rule evaluated them.
    SELECT accountid, region, resource_id AS node_id
    FROM current_items
    WHERE resource_type = 'AWS::SSM::ManagedInstanceInventory' AND resource_id LIKE 'mi-%'
)
SELECT
    n.accountid AS account_id,
    n.region AS region,
    n.node_id AS node_id,
    CASE WHEN n.node_id LIKE 'mi-%' THEN 'Hybrid' ELSE 'EC2' END AS node_type,
    i.name AS name,
    i.instance_state AS instance_state,
    i.instance_type AS instance_type,
    i.platform AS platform,
    CASE
        WHEN n.node_id LIKE 'mi-%' THEN 'YES'
        WHEN m.compliance = 'COMPLIANT' THEN 'YES'
        WHEN m.compliance = 'NON_COMPLIANT' THEN 'NO'
        WHEN m.compliance = 'NOT_APPLICABLE' THEN 'NOT_APPLICABLE'
        ELSE 'UNKNOWN'
    END AS managed_by_ssm,
    COALESCE(p.compliance, 'NOT_EVALUATED') AS patch_compliance,
    CASE
        WHEN p.compliance IS NOT NULL THEN NULL
        WHEN r.accountid IS NULL THEN 'NOT_RECORDED'
        ELSE 'NO_RESULT'
    END AS patch_compliance_reason,
    TRY(CAST(from_iso8601_timestamp(i.captured) AS timestamp)) AS config_captured,
    COALESCE(r.unreadable_items, 0) AS unreadable_items
FROM nodes AS n
LEFT JOIN instances AS i
    ON i.accountid = n.accountid AND i.region = n.region AND i.node_id = n.node_id
LEFT JOIN rule_status AS m
    ON m.accountid = n.accountid AND m.region = n.region AND m.node_id = n.node_id AND m.rule = 'managed'
LEFT JOIN rule_status AS p
    ON p.accountid = n.accountid AND p.region = n.region AND p.node_id = n.node_id AND p.rule = 'patch'
LEFT JOIN recorded AS r
    ON r.accountid = n.accountid AND r.region = n.region
