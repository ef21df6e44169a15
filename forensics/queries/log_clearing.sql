-- id: event-log-cleared
-- title: Event logs or shell history cleared
-- description: >-
--   Security log cleared (1102), a log cleared (System 104), wevtutil cl / Clear-EventLog /
--   EventLogSession.ClearLog, and on Linux history -c, HISTFILE to /dev/null, deleting, truncating
--   or shredding /var/log files or .bash_history.
-- level: high
-- attack: [T1070.001, T1070.002, T1070.003]
-- tactics: [defense-evasion]
-- sources: Windows Security 1102, System 104, process events; Linux process events and shell history
-- needs: [ts, host]
-- fields: [event_id, channel, provider, process_cmdline, user_name]
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    CASE
        WHEN event_id = 1102 AND channel = 'Security' THEN 'Security log cleared by ' || coalesce(user_name, '?')
        WHEN event_id = 104 AND channel = 'System' THEN 'log cleared (System 104) by ' || coalesce(user_name, '?')
        ELSE substr(process_cmdline, 1, 200)
    END AS note
FROM events
WHERE (channel = 'Security' AND event_id = 1102)
    OR (channel = 'System' AND event_id = 104 AND provider LIKE '%Eventlog%')
    OR regexp_matches(process_cmdline, '(?i)(wevtutil(\.exe)?"?\s+(cl|clear-log)\b|clear-eventlog|remove-eventlog|eventlogsession\]::globalsession\.clearlog|\bhistory\s+-c\b|histfile=/dev/null|unset\s+histfile|\brm\s+(-[a-z]+\s+)*\S*(\.bash_history|/var/log/)|>\s*/var/log/\S+|\b(shred|truncate)\s+.{0,60}(/var/log/|\.bash_history)|journalctl\s+.{0,20}--vacuum)')
