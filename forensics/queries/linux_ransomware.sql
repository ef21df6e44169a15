-- id: linux-ransomware
-- title: Linux encryptor run from a temporary or hidden path, or ransom notes created
-- description: >-
--   auditd / EDR process events running a binary from /tmp, /var/tmp, /dev/shm or a hidden file
--   with a data directory as argument (/var/lib, /srv, /home, /data, /mnt, /opt), and files
--   created on a Linux path whose name reads like a ransom note (README_TO_DECRYPT, HOW_TO_DECRYPT,
--   RESTORE_FILES, ...). Critical when both are seen on a host, high otherwise.
-- level: high
-- attack: [T1486]
-- tactics: [impact]
-- sources: auditd (EXECVE, PATH), EDR process and file events
-- needs: [ts, host]
-- fields: [process_image, process_cmdline, file_path]
WITH run AS (
    SELECT input_sha256, rec_index, host, ts, 'encryptor run: ' || substr(process_cmdline, 1, 160) AS note
    FROM events
    WHERE regexp_matches(coalesce(process_image, ''), '^(/tmp/|/var/tmp/|/dev/shm/|.*/\.[^/]+$)')
        AND regexp_matches(process_cmdline, '\s/(var/lib|srv|home|data|mnt|opt)(/|\s|$)')
),
notes AS (
    SELECT input_sha256, rec_index, host, ts, 'ransom note: ' || file_path AS note
    FROM events
    WHERE regexp_matches(file_path, '(?i)^/.*/[^/]*(decrypt|ransom|restore[_-]?(my[_-]?)?files|recover[_-]?files|how[_-]?to[_-]?(back|restore|recover))[^/]*\.(txt|html?|md)$')
        AND NOT regexp_matches(file_path, '^/(usr|proc|sys)/')
),
both_kinds AS (
    SELECT host FROM run INTERSECT SELECT host FROM notes
)
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    CASE WHEN host IN (SELECT host FROM both_kinds) THEN 'critical' ELSE 'high' END AS level, note
FROM (SELECT * FROM run UNION ALL SELECT * FROM notes)
