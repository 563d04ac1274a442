-- name: Installed applications per managed node
-- description: One row per live managed node and application of its latest software inventory
-- (name, version, publisher, architecture). Needs the AWS-GatherSoftwareInventory association.
-- Latest state: a node's applications come from its newest capture (rank() keeps every row of
-- that capture); its status from its newest instance information row, taken before filtering;
-- terminated nodes are left out.
WITH
-- include: parts/latest_instance_information.sql
, apps AS (
    SELECT
        accountid, region, resourceid, name, version, publisher, architecture, installedtime,
        rank() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rk
    FROM "${Database}".aws_application
)
SELECT
    i.accountid AS account_id,
    i.region AS region,
    i.resourceid AS node_id,
    i.computername AS computer_name,
    i.platformname AS platform_name,
    i.platformversion AS platform_version,
    a.name AS application,
    a.version AS version,
    a.publisher AS publisher,
    a.architecture AS architecture,
    a.installedtime AS installed_time
FROM apps AS a
JOIN info AS i
    ON i.accountid = a.accountid AND i.region = a.region AND i.resourceid = a.resourceid AND i.rn = 1
WHERE a.rk = 1
    AND COALESCE(i.instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(i.resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(i.capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
ORDER BY account_id, region, node_id, application
