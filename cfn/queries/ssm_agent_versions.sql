-- name: SSM Agent versions
-- description: How many live managed nodes run each SSM Agent version, per account, Region and
-- platform type, with the newest capture seen for each version.
-- Latest state: the newest instance information row per node is taken before filtering, so a
-- node counts once, with the agent it runs now; terminated nodes are left out.
WITH
-- include: parts/latest_instance_information.sql
SELECT
    accountid AS account_id,
    region,
    platformtype AS platform_type,
    agentversion AS agent_version,
    count(*) AS nodes,
    max(capturetime) AS last_seen
FROM info
WHERE rn = 1
    AND COALESCE(instancestatus, '') <> 'Terminated'
    -- A hybrid node not heard from for 30 days is presumed deregistered: the sync keeps
    -- its files and nothing else says it is gone.
    AND NOT COALESCE(resourceid LIKE 'mi-%'
        AND TRY(from_iso8601_timestamp(capturetime)) < current_timestamp - INTERVAL '30' DAY, false)
GROUP BY accountid, region, platformtype, agentversion
ORDER BY agent_version, account_id, region, platform_type
