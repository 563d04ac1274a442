-- name: Patch compliance per day from AWS Config
-- description: For every day between two dates and every account and Region: how many live EC2
-- instances (running or stopped) and hybrid nodes the patch compliance rule found COMPLIANT or
-- NON_COMPLIANT, and how many it did not evaluate (or whose results the recorder does not record),
-- as that day's newest Config snapshot recorded them. The history CloudTrail Lake's queries give, for organizations without an event data store.
-- parameters: first_day, last_day (yyyy-mm-dd, both included; Athena execution parameters)
-- Each day is read from its own newest snapshot (by the delivery time in the object name), so a
-- day never mixes two snapshots; only the partitions of the range are read.
-- unreadable_items (the last column; 0 when all is well): the AWS::Config::ResourceCompliance
-- items of that day's snapshot that could not be read (a malformed or forged delivery: no rule
-- list, an object or a number instead of it, a rule that is not an object, a number or an object
-- where a string belongs). Such an item never fails the query; its node counts as not evaluated.
-- Counting them reads the range's snapshots once more (Athena inlines each reference to a CTE).
WITH items AS (
    SELECT
        s.accountid, s.region, s.dt, s.configsnapshotid, s."$path" AS object_key,
        ci.resourcetype AS resource_type,
        ci.resourceid AS resource_id,
        ci.configurationitemstatus AS item_status,
        ci.configurationitemcapturetime AS captured,
        ci.configuration AS configuration
    FROM "${ConfigDatabase}"."${ConfigTable}" AS s
    CROSS JOIN UNNEST(s.configurationitems) AS t (ci)
    WHERE s.dt BETWEEN ? AND ?
),
newest AS (
    SELECT
        accountid, region, dt, configsnapshotid,
        row_number() OVER (
            PARTITION BY accountid, region, dt
            ORDER BY max(regexp_extract(object_key, '_ConfigSnapshot_([0-9]{8}T[0-9]{6}Z)_', 1)) DESC,
                max(captured) DESC, configsnapshotid DESC
        ) AS rn
    FROM items
    GROUP BY accountid, region, dt, configsnapshotid
),
day_items AS (
    SELECT i.*
    FROM items AS i
    JOIN newest AS n
        ON n.accountid = i.accountid AND n.region = i.region AND n.dt = i.dt
        AND n.configsnapshotid = i.configsnapshotid AND n.rn = 1
    WHERE i.item_status IN ('OK', 'ResourceDiscovered')
),
instances AS (
    SELECT accountid, region, dt, resource_id AS node_id
    FROM day_items
    WHERE resource_type = 'AWS::EC2::Instance'
        AND COALESCE(json_extract_scalar(configuration, '$.state.name'), '') NOT IN ('terminated', 'shutting-down')
),
-- Each AWS::Config::ResourceCompliance item, read as the snapshot queries read it
-- (parts/newest_config_snapshot.sql): TRY_CAST and TRY, so that a malformed or forged item never
-- fails the query, and readable only when its target and every rule's name and result are JSON
-- strings. An unreadable item loses its own rule results and is counted in unreadable_items.
rule_lists AS (
    SELECT
        accountid, region, dt, target, rules,
        COALESCE(
            json_format(target) LIKE '"%'
            AND cardinality(filter(rules, r ->
                COALESCE(json_format(json_extract(r, '$.configRuleName')), '') NOT LIKE '"%'
                OR COALESCE(json_format(json_extract(r, '$.complianceType')), '') NOT LIKE '"%')) = 0,
            false) AS readable
    FROM (
        SELECT
            accountid, region, dt,
            TRY(json_extract(configuration, '$.targetResourceId')) AS target,
            TRY_CAST(TRY(json_extract(configuration, '$.configRuleList')) AS array(json)) AS rules
        FROM day_items
        WHERE resource_type = 'AWS::Config::ResourceCompliance'
    ) AS c
),
patch_results AS (
    SELECT
        l.accountid, l.region, l.dt,
        regexp_extract(json_extract_scalar(l.target, '$'), '[^/]+$') AS node_id,
        CASE
            WHEN bool_or(json_extract_scalar(r, '$.complianceType') = 'NON_COMPLIANT') THEN 'NON_COMPLIANT'
            WHEN bool_or(json_extract_scalar(r, '$.complianceType') = 'INSUFFICIENT_DATA') THEN 'INSUFFICIENT_DATA'
            WHEN bool_or(json_extract_scalar(r, '$.complianceType') = 'COMPLIANT') THEN 'COMPLIANT'
            ELSE max(json_extract_scalar(r, '$.complianceType'))
        END AS compliance
    FROM rule_lists AS l
    CROSS JOIN UNNEST(l.rules) AS t (r)
    WHERE l.readable
        AND json_extract_scalar(r, '$.configRuleName') LIKE '%ec2-managedinstance-patch-compliance-status-check%'
    GROUP BY 1, 2, 3, 4
),
unreadable AS (
    SELECT accountid, region, dt, count(*) AS items
    FROM rule_lists
    WHERE NOT readable
    GROUP BY accountid, region, dt
),
nodes AS (
    SELECT accountid, region, dt, node_id FROM instances
    UNION
    -- Hybrid nodes from their inventory items, whether or not the rule evaluated them.
    SELECT accountid, region, dt, resource_id AS node_id
    FROM day_items
    WHERE resource_type = 'AWS::SSM::ManagedInstanceInventory' AND resource_id LIKE 'mi-%'
)
SELECT
    n.dt AS day,
    n.accountid AS account_id,
    n.region AS region,
    count(*) AS nodes,
    count_if(p.compliance = 'COMPLIANT') AS compliant_nodes,
    count_if(p.compliance = 'NON_COMPLIANT') AS noncompliant_nodes,
    count_if(p.compliance IS NULL OR p.compliance NOT IN ('COMPLIANT', 'NON_COMPLIANT')) AS not_evaluated_nodes,
    max(COALESCE(u.items, 0)) AS unreadable_items
FROM nodes AS n
LEFT JOIN patch_results AS p
    ON p.accountid = n.accountid AND p.region = n.region AND p.dt = n.dt AND p.node_id = n.node_id
LEFT JOIN unreadable AS u
    ON u.accountid = n.accountid AND u.region = n.region AND u.dt = n.dt
GROUP BY n.dt, n.accountid, n.region
ORDER BY day, account_id, region
