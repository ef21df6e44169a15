-- id: rdp-onward-hop
-- title: RDP onward from a host that was itself reached over RDP
-- description: >-
--   Explicit-credential logon (Security 4648) made by the Remote Desktop client (mstsc.exe) to
--   another server, on a host that received an RDP logon (4624 type 10) in the 24 hours before:
--   a jump host used as a stepping stone. High when the inbound RDP came from a public address,
--   medium for an internal chain (admins do hop through jump hosts, attackers always do).
-- level: medium
-- attack: [T1021.001]
-- tactics: [lateral-movement]
-- sources: Windows Security 4648, 4624
-- needs: [ts, host]
-- fields: [event_id, channel, LogonType, IpAddress, src_ip, ProcessName, process_image, TargetServerName, TargetUserName, user_name]
WITH inbound AS (
    SELECT host, ts, coalesce(IpAddress, src_ip) AS src
    FROM events
    WHERE channel = 'Security' AND event_id = 4624 AND LogonType = '10'
),
onward AS (
    SELECT input_sha256, rec_index, host, ts, TargetServerName AS target,
        coalesce(TargetUserName, user_name) AS who
    FROM events
    WHERE channel = 'Security' AND event_id = 4648
        AND regexp_matches(coalesce(ProcessName, process_image, ''), '(?i)\\mstsc\.exe$')
        AND TargetServerName IS NOT NULL AND lower(TargetServerName) NOT IN ('localhost', '-', '')
),
chained AS (
    SELECT o.*, max(CASE WHEN NOT regexp_matches(i.src, '^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|127\.|::1$|fe80:)')
                         THEN 1 ELSE 0 END) AS from_public,
        string_agg(DISTINCT i.src, ', ' ORDER BY i.src) AS sources
    FROM onward o JOIN inbound i ON i.host = o.host AND i.ts BETWEEN o.ts - INTERVAL 24 HOUR AND o.ts
    WHERE i.src IS NOT NULL
    GROUP BY ALL
)
SELECT input_sha256, rec_index, host, ts, host || ' ' || lower(target) AS group_key,
    CASE WHEN from_public = 1 THEN 'high' ELSE 'medium' END AS level,
    'RDP to ' || target || ' as ' || coalesce(who, '?') || ' after inbound RDP from ' || sources AS note
FROM chained
