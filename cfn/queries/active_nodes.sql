-- name: Active managed nodes
-- description: Managed nodes (EC2 and hybrid) whose latest instance information says Active,
-- with their platform, agent and last capture time.
-- Latest state: the newest row per node (row_number over capturetime per accountid, region,
-- resourceid) is taken before filtering on status, so a stale Active row of a node that has since
-- stopped, lost its connection or been terminated never counts. Hybrid nodes silent for 30 days
-- (presumed deregistered) are left out.
WITH
-- include: parts/latest_instance_information.sql
SELECT
    accountid AS account_id,
    region,
    resourceid AS node_id,
    CASE WHEN resourceid LIKE 'mi-%' THEN 'Hybrid' ELSE 'EC2' END AS node_type,
    computername AS computer_name,
    ipaddress AS ip_address,
    platformtype AS platform_type,
    platformname AS platform_name,
    platformversion AS platform_version,
    agenttype AS agent_type,
    agentversion AS agent_version,
    capturetime AS last_seen
FROM info
WHERE rn = 1
    AND instancestatus = 'Active'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
ORDER BY account_id, region, node_id
