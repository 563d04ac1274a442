-- name: EC2 instances not managed by Systems Manager (AWS Config)
-- description: Running EC2 instances that the AWS Config rule ec2-instance-managed-by-systems-manager
-- (EC2_INSTANCE_MANAGED_BY_SSM) finds NON_COMPLIANT: "running and the SSM Agent is stopped, or
-- running and the SSM Agent is terminated". Stopped instances are not flagged by the rule ("The rule
-- will not return NON_COMPLIANT if an EC2 instance is stopped") and are not listed. reason tells the
-- two cases apart from what the resource data sync holds: NEVER_REGISTERED (no instance information
-- at all: Systems Manager never saw it, no inventory or patch data exists) or AGENT_NOT_REPORTING
-- (registered, its last instance information is ssm_status; its last inventory and patch data is
-- there but ageing).
-- Latest state: the newest snapshot of each account and Region (newest day, then the snapshot
-- delivered last, by the time in its object name) is the current state; older snapshots would
-- resurrect deleted instances. Each snapshot is unnested once; terminated and shutting-down instances are left out.
-- Rules match by name containing the managed rule's name, so organization rules match too, and
-- when a rule is deployed twice the worst result wins.
-- unreadable_items (the last column; 0 when all is well) is the number of
-- AWS::Config::ResourceCompliance items in the newest snapshot of the row's account and Region that
-- could not be read (a malformed or forged delivery): an instance whose managed rule result was in
-- one of them is missing from this list. config_patch_compliance carries the same count on every
-- node of the account and Region, flagged or not.
WITH
-- include: parts/newest_config_snapshot.sql
,
-- include: parts/latest_instance_information.sql
SELECT
    i.accountid AS account_id,
    i.region AS region,
    i.node_id AS instance_id,
    i.name AS name,
    i.instance_state AS instance_state,
    i.instance_type AS instance_type,
    i.platform AS platform,
    m.compliance AS managed_rule_result,
    CASE WHEN x.resourceid IS NULL THEN 'NEVER_REGISTERED' ELSE 'AGENT_NOT_REPORTING' END AS reason,
    x.instancestatus AS ssm_status,
    i.captured AS config_captured,
    m.unreadable_items AS unreadable_items
FROM instances AS i
JOIN rule_status AS m
    ON m.accountid = i.accountid AND m.region = i.region AND m.node_id = i.node_id AND m.rule = 'managed'
LEFT JOIN info AS x
    ON x.accountid = i.accountid AND x.region = i.region AND x.resourceid = i.node_id AND x.rn = 1
WHERE m.compliance = 'NON_COMPLIANT'
    AND COALESCE(i.instance_state, '') NOT IN ('terminated', 'shutting-down')
ORDER BY reason, account_id, region, instance_id
