-- id: new-admin-account
-- title: Account created and added to an administrators group
-- description: >-
--   A user account created (Security 4720, Linux useradd) that is then added to a privileged
--   group (4728/4732/4756 to Administrators, Domain/Enterprise/Schema Admins, Remote Desktop Users,
--   Backup Operators; usermod/gpasswd to sudo, wheel, admin, root). An existing account added to such
--   a group is reported at medium.
-- level: high
-- attack: [T1136.001, T1136.002, T1098]
-- tactics: [persistence, privilege-escalation]
-- sources: Windows Security 4720/4728/4732/4756; Linux auth (useradd, usermod, gpasswd)
-- needs: [ts, host]
-- fields: [event_id, channel, provider, message, TargetUserName, TargetSid, MemberSid, MemberName]
WITH created AS (
    SELECT input_sha256, rec_index, host, ts, lower(coalesce(TargetSid, TargetUserName)) AS who,
        'created ' || coalesce(TargetUserName, '?') AS what
    FROM events
    WHERE channel = 'Security' AND event_id = 4720
    UNION ALL
    SELECT input_sha256, rec_index, host, ts,
        lower(host || ':' || regexp_extract(message, 'name=([^, ]+)', 1)) AS who,
        'created ' || regexp_extract(message, 'name=([^, ]+)', 1) AS what
    FROM events
    WHERE provider = 'useradd' AND regexp_matches(message, '(?i)new user: name=')
),
added AS (
    SELECT input_sha256, rec_index, host, ts, lower(coalesce(MemberSid, nullif(MemberName, '-'))) AS who,
        'added ' || coalesce(nullif(MemberName, '-'), MemberSid, '?') || ' to ' || coalesce(TargetUserName, '?') AS what
    FROM events
    WHERE channel = 'Security' AND event_id IN (4728, 4732, 4756)
        AND (regexp_matches(TargetUserName, '(?i)^(administrators|domain admins|enterprise admins|schema admins|remote desktop users|backup operators|account operators|server operators|dnsadmins|group policy creator owners)$')
            OR regexp_matches(TargetSid, '(?i)^s-1-5-32-(544|548|549|551|555)$|-(512|518|519)$'))
    UNION ALL
    SELECT input_sha256, rec_index, host, ts,
        lower(host || ':' || regexp_extract(message, 'add ''([^'']+)'' to', 1)) AS who,
        'added ' || regexp_extract(message, 'add ''([^'']+)'' to', 1) || ' to a privileged group' AS what
    FROM events
    WHERE provider IN ('usermod', 'gpasswd', 'useradd')
        AND regexp_matches(message, '(?i)add ''[^'']+'' to (shadow )?group ''(sudo|wheel|admin|root|adm)''')
),
new_admins AS (
    SELECT DISTINCT a.who FROM added a JOIN created c ON a.who = c.who
)
SELECT a.input_sha256, a.rec_index, a.host, a.ts, a.who AS group_key,
    CASE WHEN n.who IS NOT NULL THEN 'high' ELSE 'medium' END AS level, a.what AS note
FROM added a LEFT JOIN new_admins n ON a.who = n.who
UNION ALL
SELECT c.input_sha256, c.rec_index, c.host, c.ts, c.who AS group_key, 'high' AS level, c.what AS note
FROM created c JOIN new_admins n ON c.who = n.who
