-- id: event-log-cleared
-- title: Event logs or shell history cleared
-- description: >-
--   Everything the log_tampering fact lists: Security log cleared (1102), a log cleared (System
--   104), wevtutil cl / Clear-EventLog / EventLogSession.ClearLog, and on Linux history -c, HISTFILE
--   to /dev/null, deleting, truncating or shredding /var/log files or .bash_history, journalctl
--   --vacuum, auditctl -D.
-- level: high
-- attack: [T1070.001, T1070.002, T1070.003]
-- tactics: [defense-evasion]
-- sources: Windows Security 1102, System 104, process events; Linux process events and shell history
-- needs: [ts, host]
-- uses: [log_tampering]
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    CASE
        WHEN kind = 'clear' AND event_id = 1102 THEN 'Security log cleared by ' || coalesce(actor, '?')
        WHEN kind = 'clear' THEN 'log cleared (System 104) by ' || coalesce(actor, '?')
        ELSE substr(command, 1, 200)
    END AS note
FROM log_tampering
