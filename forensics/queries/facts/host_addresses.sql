-- id: host_addresses
-- kind: fact
-- title: Which host an address belongs to, as the logs themselves tell it
-- description: >-
--   Three kinds of evidence, counted per (address, host name): a logon record on any host that
--   names the client's workstation and address together (Security 4624 / 4625 / 4776
--   WorkstationName and IpAddress); a host's own outbound connections (Sysmon 3 with Initiated
--   true: src_ip is that host's address); and sshd's verbose "Connection from A port p on B port q"
--   lines (B is the logging host's address; how Linux hosts get a name). Addresses are normalised
--   like logon_attempts. Readers name each address by the host with most votes.
-- fields: [channel, event_id, category, message, src_ip, IpAddress, WorkstationName, Initiated]
WITH src AS (
    SELECT host,
        CASE
            WHEN channel = 'Security' AND event_id IN (4624, 4625, 4776) THEN 'logon workstation'
            WHEN category = 'network_connection' THEN 'outbound connection'
            ELSE 'sshd connection'
        END AS evidence,
        channel, event_id, message, src_ip, IpAddress, WorkstationName
    FROM events
    WHERE (channel = 'Security' AND event_id IN (4624, 4625, 4776) AND WorkstationName IS NOT NULL
            AND IpAddress IS NOT NULL)
        OR (category = 'network_connection' AND lower(CAST(Initiated AS VARCHAR)) = 'true' AND host IS NOT NULL
            AND src_ip IS NOT NULL)
        OR (host IS NOT NULL AND message LIKE '%Connection from % port % on % port %')
),
pairs AS (
    SELECT evidence,
        lower(trim(CASE
            WHEN evidence = 'logon workstation' THEN IpAddress
            WHEN evidence = 'outbound connection' THEN src_ip
            ELSE regexp_extract(message, 'Connection from \S+ port \d+ on (\S+) port \d+', 1)
        END)) AS ip0,
        trim(CASE WHEN evidence = 'logon workstation' THEN WorkstationName ELSE host END) AS host_name
    FROM src
),
normalised AS (
    SELECT evidence, host_name, CASE WHEN ip0 LIKE '::ffff:%' THEN substr(ip0, 8) ELSE ip0 END AS ip1
    FROM pairs
)
SELECT ip1 AS ip, host_name, evidence, count(*) AS votes
FROM normalised
WHERE host_name IS NOT NULL AND host_name NOT IN ('', '-') AND ip1 IS NOT NULL
    AND ip1 NOT IN ('', '-', '::1', '0.0.0.0', 'localhost') AND NOT ip1 LIKE '127.%'
GROUP BY ip1, host_name, evidence
