-- id: database-backup-service-stop
-- title: Database and backup services stopped
-- description: >-
--   Ransomware stops databases and backup agents so their files can be encrypted: net/sc stop,
--   Stop-Service, taskkill of database processes, systemctl/service stop of database servers, and
--   Service Control Manager 7036 "stopped" for SQL, Oracle, MySQL, Exchange, Veeam or Backup Exec.
--   High when three or more such services stop on one host or one is also disabled; a lone
--   stop (maintenance) stays medium, a lone "stopped" state change low.
-- level: medium
-- attack: [T1489]
-- tactics: [impact]
-- sources: process events (Sysmon 1, 4688, EDR, auditd); Windows System 7036
-- needs: [ts, host]
-- fields: [event_id, channel, provider, process_cmdline, param1, param2]
WITH stops AS (
    SELECT input_sha256, rec_index, host, ts,
        lower(regexp_extract(process_cmdline, '(?i)(mssql\$?[a-z0-9_]*|sqlserveragent|sqlagent\$?[a-z0-9_]*|sqlbrowser|sqlwriter|sqlservr|msexchange[a-z]*|oracle[a-z0-9_]*|mysqld?|mariadb|postgres(ql)?[a-z0-9_.-]*|mongod(b)?|elasticsearch|redis(-server)?|veeam[a-z]*|backupexec[a-z]*|bedbg|acronis[a-z]*)', 1)) AS svc,
        substr(process_cmdline, 1, 200) AS note,
        CASE WHEN regexp_matches(process_cmdline, '(?i)(start=\s*disabled|-startuptype\s+disabled|systemctl\s+(disable|mask)\s)')
            THEN 'high' ELSE 'medium' END AS base
    FROM events
    WHERE regexp_matches(process_cmdline, '(?i)(\b(net1?|sc)(\.exe)?"?\s+(stop|config)\s|stop-service\s|taskkill(\.exe)?"?\s.{0,80}/im\s|\bsystemctl\s+(stop|disable|kill|mask)\s|\bservice\s+\S+\s+stop\b|\bkillall\s|\bpkill\s)')
        AND regexp_matches(process_cmdline, '(?i)(mssql|sqlserveragent|sqlagent|sqlbrowser|sqlwriter|sqlservr|msexchange|oracle|mysql|mariadb|postgres|mongod|elasticsearch|redis|veeam|backupexec|bedbg|acronis)')
    UNION ALL
    SELECT input_sha256, rec_index, host, ts, lower(param1) AS svc,
        'service ' || param1 || ' entered the stopped state' AS note, 'low' AS base
    FROM events
    WHERE channel = 'System' AND event_id = 7036 AND lower(param2) = 'stopped'
        AND regexp_matches(param1, '(?i)(sql server|sqlserver|mssql|sql writer|sql browser|oracle|mysql|mariadb|postgres|mongodb|elasticsearch|exchange|veeam|backup exec|acronis)')
),
per_host AS (
    SELECT host, count(DISTINCT svc) AS services FROM stops GROUP BY host
)
SELECT s.input_sha256, s.rec_index, s.host, s.ts, s.host AS group_key,
    CASE WHEN p.services >= 3 THEN 'high' ELSE s.base END AS level, s.note
FROM stops s JOIN per_host p ON s.host = p.host
