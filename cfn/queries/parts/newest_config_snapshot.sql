-- The newest AWS Config snapshot of each account and Region, unnested once, as common table
-- expressions for the queries that include this file (cfn/render.py) after their WITH:
--   current_items  every configuration item of that snapshot still recorded (OK, ResourceDiscovered)
--   instances      its EC2 instances: state, type, platform, Name tag, capture time
--   rule_lists     its AWS::Config::ResourceCompliance items (each one node's results for the
--                  rules that evaluated it): the target, the rule list and whether it is readable
--   rule_results   each node's Config rule results, from the readable items only
--   rule_status    per node, 'managed' (ec2-instance-managed-by-systems-manager) and 'patch'
--                  (ec2-managedinstance-patch-compliance-status-check): the worst result
--   recorded       the accounts and Regions whose snapshot holds ResourceCompliance items at all
-- rule_results, rule_status and recorded carry unreadable_items: how many ResourceCompliance items
-- of the account's and Region's snapshot could not be read. It rides on the CTEs a query already
-- reads because Athena inlines a CTE wherever it is referenced: a CTE of its own would read the
-- snapshots once more.
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
-- A ResourceCompliance item is read so that no item can fail the query: one malformed or forged
-- delivery loses its own rule results, never the organization's answer. Its rule list is cast to
-- array(json) with TRY_CAST ("Like cast(), but returns null if the cast fails"; a strict CAST of
-- an object, a number or a string to an array fails the whole query), and TRY turns configuration
-- text that is not JSON into NULL (Trino's json_extract already does; DuckDB's raises). The item
-- is readable when its targetResourceId and every rule's configRuleName and complianceType are
-- JSON strings (json_format's text starts with a double quote): a number, an object or an array
-- where a string belongs, a rule that is not an object, or a missing list makes it unreadable.
-- Each of these tests gives the same answer in Athena and DuckDB (tests/sql/ATHENA_DUCKDB.md).
rule_lists AS (
    SELECT
        accountid, region, target, rules,
        COALESCE(
            json_format(target) LIKE '"%'
            AND cardinality(filter(rules, r ->
                COALESCE(json_format(json_extract(r, '$.configRuleName')), '') NOT LIKE '"%'
                OR COALESCE(json_format(json_extract(r, '$.complianceType')), '') NOT LIKE '"%')) = 0,
            false) AS readable
    FROM (
        SELECT
            accountid, region,
            TRY(json_extract(configuration, '$.targetResourceId')) AS target,
            TRY_CAST(TRY(json_extract(configuration, '$.configRuleList')) AS array(json)) AS rules
        FROM current_items
        WHERE resource_type = 'AWS::Config::ResourceCompliance'
    ) AS c
),
rule_results AS (
    SELECT
        l.accountid, l.region,
        regexp_extract(json_extract_scalar(l.target, '$'), '[^/]+$') AS node_id,
        json_extract_scalar(r, '$.configRuleName') AS rule_name,
        json_extract_scalar(r, '$.complianceType') AS compliance,
        l.unreadable_items
    FROM (
        SELECT *, count_if(NOT readable) OVER (PARTITION BY accountid, region) AS unreadable_items
        FROM rule_lists
    ) AS l
    CROSS JOIN UNNEST(l.rules) AS t (r)
    WHERE l.readable
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
        END AS compliance,
        max(unreadable_items) AS unreadable_items
    FROM rule_results
    WHERE rule_name LIKE '%ec2-instance-managed-by-systems-manager%'
        OR rule_name LIKE '%ec2-managedinstance-patch-compliance-status-check%'
    GROUP BY 1, 2, 3, 4
),
-- Accounts and Regions whose newest snapshot holds rule results at all: a recorder that does not
-- record AWS::Config::ResourceCompliance leaves every node without one, which is not the same as a
-- node the rule did not evaluate (nor as one whose item could not be read).
recorded AS (
    SELECT accountid, region, count_if(NOT readable) AS unreadable_items
    FROM rule_lists
    GROUP BY accountid, region
)
