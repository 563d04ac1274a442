-- The newest AWS Config snapshot of each account and Region, unnested once, as common table
-- expressions for the queries that include this file (cfn/render.py) after their WITH:
--   current_items  every configuration item of that snapshot still recorded (OK, ResourceDiscovered)
--   instances      its EC2 instances: state, type, platform, Name tag, capture time
--   rule_results   each node's Config rule results (AWS::Config::ResourceCompliance items)
--   rule_status    per node, 'managed' (ec2-instance-managed-by-systems-manager) and 'patch'
--                  (ec2-managedinstance-patch-compliance-status-check): the worst result
-- Latest state: a snapshot lists every recorded resource as it is at delivery time, so the newest
-- snapshot is the current state; older ones would resurrect deleted resources. Partitions are
-- (accountid, region, dt): the newest day, then that day's snapshot delivered last (the time in
-- its object name, Athena's "$path"; capture times cannot tell when the newer snapshot differs
-- only by deleted resources).
-- Placeholders: the ConfigDatabase and ConfigTable variables, and ConfigObjectKey, the column that
-- names each row's object: Athena's "$path" over the table itself (the named queries and datasets),
-- or the column a copy of the table keeps it in (compliance-report's Parquet copy, where "$path"
-- would name the copy's own files). No trailing comma: the includer writes it.
latest_day AS (
    SELECT accountid, region, max(dt) AS dt
    FROM "${ConfigDatabase}"."${ConfigTable}"
    GROUP BY accountid, region
),
items AS (
    SELECT
        s.accountid, s.region, s.configsnapshotid, s.${ConfigObjectKey} AS object_key,
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
-- The worst result wins when a rule is deployed twice (an account rule and an organization rule).
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
)
