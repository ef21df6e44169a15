-- id: log_tampering
-- kind: fact
-- title: Logs cleared, and commands that clear or truncate logs or shell history
-- description: >-
--   Security 1102 (the Security log cleared) and System 104 (a log cleared; the channel it names,
--   System when it names none), with who did it; and process command lines (or, for sources
--   without one, the message) that clear Windows event logs (wevtutil cl, Clear-EventLog,
--   Remove-EventLog, EventLogSession ClearLog) or Linux logs and history (history -c, HISTFILE to
--   /dev/null, rm / truncate / shred / redirection onto /var/log or .bash_history, journalctl
--   --vacuum, auditctl -D); clears_event_log marks the commands that clear a Windows event log
--   (the clear event itself follows when the log is collected). The log-clearing hunt, the integrity assessment (clearings and the
--   gaps they leave, tampering commands) and the story's cleared logs read these rows.
-- fields: [source, channel, event_id, record_id, provider, process_cmdline, message, user_name, SubjectUserName, Channel_native]
WITH candidates AS (
    SELECT input_sha256, rec_index, host, ts, source, channel, event_id, record_id, user_name, SubjectUserName,
        Channel_native,
        (channel = 'Security' AND event_id = 1102)
            OR (channel = 'System' AND event_id = 104 AND coalesce(provider, 'Eventlog') LIKE '%Eventlog%') AS cleared,
        coalesce(process_cmdline, message) AS text
    FROM events
    WHERE (channel = 'Security' AND event_id = 1102)
        OR (channel = 'System' AND event_id = 104 AND coalesce(provider, 'Eventlog') LIKE '%Eventlog%')
        OR regexp_matches(coalesce(process_cmdline, message), '(?i)(wevtutil(\.exe)?"?\s+(cl|clear-log)\b|clear-eventlog|remove-eventlog|eventlogsession\]::globalsession\.clearlog|\bhistory\s+-c\b|histfile=/dev/null|unset\s+histfile|\brm\s+(-[a-z]+\s+)*\S*(\.bash_history|/var/log/)|>\s*/var/log/\S+|\b(shred|truncate)\s+.{0,60}(/var/log/|\.bash_history)|journalctl\s+.{0,20}--vacuum|auditctl\s+-D\b)')
)
SELECT input_sha256, rec_index, host, ts, source, channel, event_id, record_id,
    CASE WHEN cleared THEN 'clear' ELSE 'command' END AS kind,
    CASE
        WHEN cleared AND event_id = 1102 THEN 'Security'
        WHEN cleared THEN coalesce(Channel_native, 'System')
    END AS cleared_channel,
    coalesce(SubjectUserName, user_name) AS actor,
    CASE WHEN cleared THEN NULL ELSE text END AS command,
    NOT cleared AND regexp_matches(text, '(?i)(wevtutil(\.exe)?"?\s+(cl|clear-log)\b|clear-eventlog|eventlogsession\]::globalsession\.clearlog)')
        AS clears_event_log
FROM candidates
