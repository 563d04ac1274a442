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
WITH latest_day AS (
    SELECT accountid, region, max(dt) AS dt
    FROM "${ConfigDatabase}"."${ConfigTable}"
    GROUP BY accountid, region
),
items AS (
    SELECT
        s.accountid, s.region, s.configsnapshotid, s."$path" AS object_key,
        ci.resourcetype AS resource_type,
        ci.resourceid AS resource_id,
        ci.configurationitemstatus AS item_status,
        ci.configurationitemcapturetime AS captured,
        ci.configuration AS configuration,
        ci.tags AS tags
    FROM "${ConfigDatabase}"."${ConfigTable}" AS s
    JOIN latest_day AS d ON d.accountid = s.accountid AND d.region = s.region AND d.dt = s.dt
    CROSS JOIN UNNEST(s.configurationitems) AS t (ci)
),
newest AS (
    SELECT
        accountid, region, configsnapshotid,
        row_number() OVER (
            PARTITION BY accountid, region
            ORDER BY max(regexp_extract(object_key, '_ConfigSnapshot_([0-9]{8}T[0-9]{6}Z)_', 1)) DESC,
                max(captured) DESC, configsnapshotid DESC
        ) AS rn
    FROM items
    GROUP BY accountid, region, configsnapshotid
),
current_items AS (
    SELECT i.*
    FROM items AS i
    JOIN newest AS n
        ON n.accountid = i.accountid AND n.region = i.region
        AND n.configsnapshotid = i.configsnapshotid AND n.rn = 1
    WHERE i.item_status IN ('OK', 'ResourceDiscovered')
),
instances AS (
    SELECT
        accountid, region, resource_id AS node_id,
        json_extract_scalar(configuration, '$.state.name') AS instance_state,
        json_extract_scalar(configuration, '$.instanceType') AS instance_type,
        json_extract_scalar(configuration, '$.platformDetails') AS platform,
        element_at(tags, 'Name') AS name,
        captured
    FROM current_items
    WHERE resource_type = 'AWS::EC2::Instance'
),
rule_results AS (
    SELECT
        c.accountid, c.region,
        regexp_extract(json_extract_scalar(c.configuration, '$.targetResourceId'), '[^/]+$') AS node_id,
        element_at(r, 'configRuleName') AS rule_name,
        element_at(r, 'complianceType') AS compliance
    FROM current_items AS c
    CROSS JOIN UNNEST(
        CAST(json_extract(c.configuration, '$.configRuleList') AS array(map(varchar, varchar)))
    ) AS t (r)
    WHERE c.resource_type = 'AWS::Config::ResourceCompliance'
),
rule_status AS (
    SELECT
        accountid, region, node_id,
        CASE
            WHEN rule_name LIKE '%ec2-instance-managed-by-systems-manager%' THEN 'managed'
            ELSE 'patch'
        END AS rule,
        CASE
            WHEN bool_or(compliance = 'NON_COMPLIANT') THEN 'NON_COMPLIANT'
            WHEN bool_or(compliance = 'INSUFFICIENT_DATA') THEN 'INSUFFICIENT_DATA'
            WHEN bool_or(compliance = 'COMPLIANT') THEN 'COMPLIANT'
            ELSE max(compliance)
        END AS compliance
    FROM rule_results
    WHERE rule_name LIKE '%ec2-instance-managed-by-systems-manager%'
        OR rule_name LIKE '%ec2-managedinstance-patch-compliance-status-check%'
    GROUP BY 1, 2, 3, 4
),
ssm AS (
    SELECT
        accountid, region, resourceid, instancestatus,
        row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rn
    FROM "${Database}".aws_instanceinformation
)
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
    i.captured AS config_captured
FROM instances AS i
JOIN rule_status AS m
    ON m.accountid = i.accountid AND m.region = i.region AND m.node_id = i.node_id AND m.rule = 'managed'
LEFT JOIN ssm AS x
    ON x.accountid = i.accountid AND x.region = i.region AND x.resourceid = i.node_id AND x.rn = 1
WHERE m.compliance = 'NON_COMPLIANT'
    AND COALESCE(i.instance_state, '') NOT IN ('terminated', 'shutting-down')
ORDER BY reason, account_id, region, instance_id
