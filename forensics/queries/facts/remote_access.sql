-- id: remote_access
-- kind: fact
-- title: One host reaching another, besides the logon itself
-- description: >-
--   Evidence of access between hosts other than the logon (see logon_attempts): Security 4648,
--   explicit credentials used on the host that logged it towards TargetServerName (direction
--   out; the client program names the method: PsExec, WMI, RDP, WinRM); TerminalServices
--   RemoteConnectionManager 1149, an RDP authentication from the address in Param3; Security 5145
--   for PSEXESVC or on the ADMIN$ / C$ share from a remote address; and System 7045 installing
--   PSEXESVC, tied to the network logon on that host at most two minutes before it, which names
--   where the PsExec client came from (direction in). peer_ip is normalised like logon_attempts.
-- uses: [logon_attempts]
-- fields: [channel, event_id, user_name, process_image, src_ip, TargetUserName, TargetServerName, ProcessName, Param1, Param3, SubjectUserName, IpAddress, ShareName, RelativeTargetName, ServiceName, ImagePath]
WITH src AS (
    SELECT input_sha256, rec_index, host, ts, event_id,
        CASE
            WHEN event_id = 4648 THEN coalesce(TargetUserName, user_name)
            WHEN event_id = 1149 THEN Param1
            WHEN event_id = 5145 THEN coalesce(SubjectUserName, user_name)
        END AS account,
        CASE WHEN event_id = 4648 THEN TargetServerName END AS peer_host,
        lower(trim(CASE WHEN event_id = 1149 THEN Param3 WHEN event_id = 5145 THEN coalesce(IpAddress, src_ip) END))
            AS ip0,
        CASE
            WHEN event_id = 4648 THEN CASE
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%psexec%' THEN 'SMB/PsExec'
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%wmic%' THEN 'WMI'
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%wmiprvse%' THEN 'WMI'
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%mstsc%' THEN 'RDP'
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%winrs%' THEN 'WinRM'
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%wsmprovhost%' THEN 'WinRM'
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%powershell%' THEN 'WinRM'
                WHEN lower(coalesce(process_image, ProcessName, '')) LIKE '%pwsh%' THEN 'WinRM'
                ELSE 'explicit credentials'
            END
            WHEN event_id = 1149 THEN 'RDP'
            WHEN event_id = 5145 AND lower(coalesce(RelativeTargetName, '')) LIKE '%psexesvc%' THEN 'SMB/PsExec'
            WHEN event_id = 5145 AND (lower(coalesce(ShareName, '')) LIKE '%admin$'
                OR lower(coalesce(ShareName, '')) LIKE '%c$') THEN 'SMB admin share'
            WHEN event_id = 7045 AND (lower(coalesce(ServiceName, '')) LIKE '%psexesvc%'
                OR lower(coalesce(ImagePath, '')) LIKE '%psexesvc%') THEN 'SMB/PsExec'
        END AS method
    FROM events
    WHERE (channel = 'Security' AND event_id IN (4648, 5145))
        OR (event_id = 1149 AND channel LIKE '%RemoteConnectionManager%')
        OR (channel = 'System' AND event_id = 7045)
),
addressed AS (
    SELECT *,
        CASE WHEN ip0 LIKE '::ffff:%' THEN substr(ip0, 8) ELSE ip0 END AS ip1
    FROM src
    WHERE method IS NOT NULL
),
edges AS (
    SELECT input_sha256, rec_index, host, ts, event_id, account, peer_host,
        CASE WHEN ip1 IN ('', '-', '::1', '0.0.0.0', 'localhost') OR ip1 LIKE '127.%' THEN NULL ELSE ip1 END AS peer_ip,
        method
    FROM addressed
),
service_source AS (
    SELECT input_sha256, rec_index, src_ip, account FROM (
        SELECT s.input_sha256, s.rec_index, l.src_ip, l.account,
            row_number() OVER (PARTITION BY s.input_sha256, s.rec_index
                               ORDER BY l.ts DESC, l.input_sha256, l.rec_index) AS n
        FROM edges s JOIN logon_attempts l
            ON l.host = s.host AND l.outcome = 'success' AND l.method = 'network' AND l.src_ip IS NOT NULL
            AND l.ts BETWEEN s.ts - INTERVAL 2 MINUTE AND s.ts
        WHERE s.event_id = 7045
    ) WHERE n = 1
)
SELECT e.input_sha256, e.rec_index, e.host, e.ts, e.event_id,
    CASE WHEN e.event_id = 4648 THEN 'out' ELSE 'in' END AS direction,
    e.peer_host,
    CASE WHEN e.event_id = 7045 THEN s.src_ip ELSE e.peer_ip END AS peer_ip,
    CASE WHEN e.event_id = 7045 THEN s.account ELSE e.account END AS account,
    e.method
FROM edges e LEFT JOIN service_source s ON s.input_sha256 = e.input_sha256 AND s.rec_index = e.rec_index
WHERE (e.event_id = 4648 AND e.peer_host IS NOT NULL AND lower(trim(e.peer_host)) NOT IN ('', '-', 'localhost'))
    OR (e.event_id IN (1149, 5145) AND e.peer_ip IS NOT NULL)
    OR e.event_id = 7045
