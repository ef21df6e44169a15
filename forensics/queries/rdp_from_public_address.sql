-- id: remote-logon-from-public-address
-- title: RDP or SSH logon from a public (non-RFC 1918) address
-- description: >-
--   Remote interactive logons whose source is a routable Internet address: Security 4624 with
--   LogonType 10, TerminalServices-RemoteConnectionManager 1149, Sysmon 3 inbound to port 3389,
--   and sshd "Accepted" lines. Private, loopback, link-local and CGNAT sources are ignored, so
--   admins working from the office network raise nothing.
-- level: high
-- attack: [T1133, T1021.001, T1021.004]
-- tactics: [initial-access, lateral-movement]
-- sources: Windows Security 4624; TerminalServices-RemoteConnectionManager 1149; Sysmon 3; Linux auth (sshd)
-- needs: [ts, host]
-- fields: [event_id, channel, provider, message, user_name, src_ip, dst_port, LogonType, IpAddress, Param1, Param3, Initiated]
WITH remote AS (
    SELECT input_sha256, rec_index, host, ts, coalesce(IpAddress, src_ip) AS src,
        'RDP logon (4624 type 10) as ' || coalesce(user_name, '?') AS what, 'high' AS level
    FROM events
    WHERE channel = 'Security' AND event_id = 4624 AND LogonType = '10'
    UNION ALL
    SELECT input_sha256, rec_index, host, ts, coalesce(Param3, src_ip) AS src,
        'RDP authentication (1149) as ' || coalesce(Param1, user_name, '?') AS what, 'high' AS level
    FROM events
    WHERE event_id = 1149 AND channel LIKE '%TerminalServices-RemoteConnectionManager%'
    UNION ALL
    SELECT input_sha256, rec_index, host, ts, src_ip AS src,
        'inbound connection to RDP port 3389' AS what, 'medium' AS level
    FROM events
    WHERE channel = 'Microsoft-Windows-Sysmon/Operational' AND event_id = 3 AND dst_port = 3389
        AND lower(Initiated) = 'false'
    UNION ALL
    SELECT input_sha256, rec_index, host, ts, src_ip AS src,
        'SSH logon as ' || coalesce(user_name, '?') AS what, 'medium' AS level
    FROM events
    WHERE provider = 'sshd' AND regexp_matches(message, '(?i)accepted (password|publickey|keyboard-interactive)')
)
SELECT input_sha256, rec_index, host, ts, host || ' ' || src AS group_key, level,
    what || ' from ' || src AS note
FROM remote
WHERE src IS NOT NULL
    AND regexp_matches(src, '^[0-9A-Fa-f:.]+$')
    AND regexp_matches(src, '[.:]')
    AND NOT regexp_matches(src, '(?i)^(10\.|127\.|0\.|192\.168\.|169\.254\.|172\.(1[6-9]|2[0-9]|3[01])\.|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|::1$|::$|fe[89ab][0-9a-f]:|f[cd][0-9a-f][0-9a-f]:|::ffff:(10\.|127\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.))')
