-- id: logon_attempts
-- kind: fact
-- title: Logon attempts, successful and failed, with account and client address
-- description: >-
--   Every logon attempt the logs record: Windows Security 4624 (success) and 4625 (failure) with
--   the logon type, account, client address and workstation, and sshd lines "Accepted <method>
--   for", "Failed <method> for" and "Invalid user" with the account and address read from the
--   line (or from the parser's columns). An "Invalid user" line and a failed password on the same
--   connection (host, address, port) are one attempt. The address is normalised (IPv4-mapped
--   IPv6 as IPv4) and empty when it names no remote client (loopback, "-", 0.0.0.0). method is
--   RDP (logon type 10), network (type 3), SSH, or other. The brute-force hunts, the story
--   (entry point, logons between hosts, brute force) and the clock-skew estimate read these rows.
-- fields: [channel, event_id, message, user_name, src_ip, TargetUserName, IpAddress, WorkstationName, LogonType]
WITH lines AS (
    SELECT input_sha256, rec_index, host, ts, event_id, message, user_name, src_ip, TargetUserName, IpAddress,
        WorkstationName, CAST(LogonType AS VARCHAR) AS logon_type,
        channel = 'Security' AND event_id IN (4624, 4625) AS windows
    FROM events
    WHERE (channel = 'Security' AND event_id IN (4624, 4625))
        OR message ILIKE '%accepted % for % from %'
        OR message ILIKE '%failed % for % from %'
        OR message ILIKE '%invalid user % from %'
),
typed AS (
    SELECT *,
        CASE
            WHEN windows AND event_id = 4624 THEN 'success'
            WHEN windows THEN 'fail'
            WHEN regexp_matches(message, '(?i)accepted \S+ for \S+ from \S+') THEN 'success'
            WHEN regexp_matches(message, '(?i)failed \S+ for (invalid user )?\S+ from \S+') THEN 'fail'
            WHEN regexp_matches(message, '(?i)invalid user \S* ?from \S+') THEN 'invalid'
        END AS kind,
        regexp_extract(message, '(?i)(accepted \S+ for |failed \S+ for (invalid user )?|invalid user )(\S*) from (\S+)', 3)
            AS line_account,
        regexp_extract(message, '(?i)(accepted \S+ for |failed \S+ for (invalid user )?|invalid user )(\S*) from (\S+)', 4)
            AS line_ip,
        regexp_extract(message, '(?i) from \S+ port (\d+)', 1) AS line_port
    FROM lines
),
addressed AS (
    SELECT *,
        lower(trim(CASE WHEN windows THEN coalesce(IpAddress, src_ip) ELSE coalesce(nullif(line_ip, ''), src_ip) END))
            AS ip0
    FROM typed
    WHERE kind IS NOT NULL
),
normalised AS (
    SELECT *,
        CASE WHEN ip0 LIKE '::ffff:%' THEN substr(ip0, 8) ELSE ip0 END AS ip1
    FROM addressed
),
connections AS (
    SELECT *,
        max(CASE WHEN kind = 'fail' AND NOT windows THEN 1 ELSE 0 END)
            OVER (PARTITION BY host, ip1, line_port) AS connection_failed
    FROM normalised
)
SELECT input_sha256, rec_index, host, ts,
    CASE WHEN kind = 'invalid' THEN 'fail' ELSE kind END AS outcome,
    CASE
        WHEN NOT windows THEN 'SSH'
        WHEN logon_type = '10' THEN 'RDP'
        WHEN logon_type = '3' THEN 'network'
        ELSE 'other'
    END AS method,
    logon_type,
    CASE WHEN windows THEN coalesce(TargetUserName, user_name) ELSE coalesce(nullif(line_account, ''), user_name) END
        AS account,
    CASE WHEN ip1 IN ('', '-', '::1', '0.0.0.0', 'localhost') OR ip1 LIKE '127.%' THEN NULL ELSE ip1 END AS src_ip,
    CASE WHEN windows THEN WorkstationName END AS workstation
FROM connections
WHERE NOT (kind = 'invalid' AND connection_failed = 1)
