-- name: Patch compliance from AWS Config, stopped instances included
-- description: Every live EC2 instance (running or stopped, managed or not) and every hybrid mi-
-- node AWS Config records, with the patch compliance rule's result and whether Systems Manager
-- manages the instance. managed_by_ssm is the rule ec2-instance-managed-by-systems-manager: YES,
-- NO (the rule flags it: "running and the SSM Agent is stopped or terminated"), NOT_APPLICABLE
-- (stopped: "The rule will not return NON_COMPLIANT if an EC2 instance is stopped"), UNKNOWN (no
-- result). patch_compliance is NOT_EVALUATED without a result, and patch_compliance_reason says
-- why: NOT_RECORDED when the account's recorder does not record rule results
-- (AWS::Config::ResourceCompliance) in that Region, NO_RESULT otherwise (never scanned, stopped).
-- Config keeps reporting stopped instances, which the resource data sync does not.
-- Latest state: the newest snapshot of each account and Region (newest day, then the snapshot
-- delivered last, by the time in its object name) is the current state; older snapshots would
-- resurrect deleted instances. Each snapshot is unnested once; terminated and shutting-down instances are left out.
-- Rules match by name containing the managed rule's name, so organization rules match too, and
-- when a rule is deployed twice the worst result wins.
-- unreadable_items (the last column; 0 when all is well) is the number of
-- AWS::Config::ResourceCompliance items in the newest snapshot of the row's account and Region that
-- could not be read: a malformed or forged delivery (no rule list, an object or a number instead of
-- it, a rule that is not an object, a number or an object where a string belongs). Such an item
-- never fails the query; it only loses its own node's rule results (that node reads UNKNOWN and
-- NOT_EVALUATED / NO_RESULT), so a non-zero count says which account's and Region's Config results
-- are incomplete. The same count is on every row of that account and Region.
WITH
-- include: parts/newest_config_snapshot.sql
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
    i.captured AS config_captured,
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
ORDER BY patch_compliance DESC, account_id, region, node_id
