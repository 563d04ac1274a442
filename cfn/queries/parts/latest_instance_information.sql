-- The newest instance information row of each node (rn = 1), with every column the queries read,
-- as a common table expression named info for the queries that include this file
-- (cfn/render.py). Filter on rn = 1 before any status: a stale Active row of a node that has since
-- stopped or been terminated must never count. Selecting more columns costs nothing: Athena reads
-- a JSON object whole ("Amazon Athena pricing": bytes scanned).
-- Placeholder: the Database variable. No trailing comma: the includer writes it.
info AS (
    SELECT
        accountid, region, resourceid, computername, ipaddress, platformtype, platformname,
        platformversion, agenttype, agentversion, instancestatus, capturetime,
        row_number() OVER (PARTITION BY accountid, region, resourceid ORDER BY capturetime DESC) AS rn
    FROM "${Database}".aws_instanceinformation
)
