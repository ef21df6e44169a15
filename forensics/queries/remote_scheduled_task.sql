-- id: remote-scheduled-task
-- title: Scheduled task created on a remote host or over the network
-- description: >-
--   schtasks /create against another host (/s), PowerShell scheduled-task cmdlets over a CIM
--   session, and Security 4698 (task created) by a network logon (joined to 4624 LogonType 3 on
--   the logon id) or whose action runs a shell, script host or a file from a user-writable folder.
-- level: high
-- attack: [T1053.005, T1021]
-- tactics: [execution, persistence, lateral-movement]
-- sources: process events (Sysmon 1, 4688, 4104, EDR); Windows Security 4698, 4624
-- needs: [ts, host]
-- fields: [event_id, channel, process_cmdline, TaskName, TaskContent, SubjectLogonId, TargetLogonId, LogonType, SubjectUserName]
WITH net_logons AS (
    SELECT DISTINCT host, lower(TargetLogonId) AS logon_id
    FROM events
    WHERE channel = 'Security' AND event_id = 4624 AND LogonType = '3'
),
created AS (
    SELECT input_sha256, rec_index, host, ts, TaskName, TaskContent, lower(SubjectLogonId) AS logon_id,
        SubjectUserName
    FROM events
    WHERE channel = 'Security' AND event_id = 4698
)
SELECT input_sha256, rec_index, host, ts, host AS group_key, 'high' AS level,
    substr(process_cmdline, 1, 200) AS note
FROM events
WHERE regexp_matches(process_cmdline, '(?i)(schtasks(\.exe)?"?\s.{0,200}/create\s.{0,300}/s\s+\S|schtasks(\.exe)?"?\s.{0,200}/s\s+\S.{0,300}/create\s|(register|new)-scheduledtask.{0,300}-cimsession)')
UNION ALL
SELECT c.input_sha256, c.rec_index, c.host, c.ts, c.host AS group_key,
    CASE WHEN n.logon_id IS NOT NULL THEN 'high' ELSE 'medium' END AS level,
    'task ' || coalesce(c.TaskName, '?') || ' created by ' || coalesce(c.SubjectUserName, '?')
        || CASE WHEN n.logon_id IS NOT NULL THEN ' over a network logon' ELSE '' END AS note
FROM created c LEFT JOIN net_logons n ON c.host = n.host AND c.logon_id = n.logon_id
WHERE n.logon_id IS NOT NULL
    OR regexp_matches(c.TaskContent, '(?i)(powershell|pwsh|cmd(\.exe)?\s*</?|cmd\.exe|rundll32|regsvr32|mshta|wscript|cscript|\\temp\\|\\appdata\\|\\users\\public\\|\\programdata\\|\s-e(nc|ncodedcommand)?\s|https?://)')
