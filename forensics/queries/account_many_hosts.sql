-- id: account-logon-many-hosts
-- title: One account logging on to many hosts
-- description: >-
--   A user (not a machine account or a built-in service identity) with network, RDP or SSH logons
--   on at least 5 different hosts within one day: credential reuse and lateral movement. High from
--   10 hosts.
-- level: medium
-- attack: [T1078, T1021]
-- tactics: [lateral-movement, defense-evasion]
-- sources: Windows Security 4624 (LogonType 3 and 10); Linux auth (sshd)
-- needs: [ts, host, user_name]
-- fields: [event_id, channel, provider, message, LogonType]
WITH logons AS (
    SELECT input_sha256, rec_index, host, ts, lower(user_name) AS who, date_trunc('day', ts) AS day
    FROM events
    WHERE user_name IS NOT NULL AND host IS NOT NULL
        AND ((channel = 'Security' AND event_id = 4624 AND LogonType IN ('3', '10'))
            OR (provider = 'sshd' AND regexp_matches(message, '(?i)accepted (password|publickey|keyboard-interactive)')))
        AND NOT regexp_matches(user_name, '\$$')
        AND lower(user_name) NOT IN ('anonymous logon', 'system', 'local service', 'network service', '-', '')
),
spread AS (
    SELECT who, day, count(DISTINCT lower(host)) AS hosts FROM logons GROUP BY who, day HAVING count(DISTINCT lower(host)) >= 5
)
SELECT l.input_sha256, l.rec_index, l.host, l.ts, l.who || ' ' || CAST(CAST(l.day AS DATE) AS VARCHAR) AS group_key,
    CASE WHEN s.hosts >= 10 THEN 'high' ELSE 'medium' END AS level,
    l.who || ' logged on to ' || CAST(s.hosts AS VARCHAR) || ' hosts on ' || CAST(CAST(l.day AS DATE) AS VARCHAR) AS note
FROM logons l JOIN spread s ON l.who = s.who AND l.day = s.day
