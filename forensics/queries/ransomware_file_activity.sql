-- id: ransomware-file-activity
-- title: Mass file creation with one new extension, or ransom notes dropped
-- description: >-
--   Sysmon 11 (file created) bursts: at least 100 files with the same uncommon extension in at
--   least 3 folders on one host within one hour (encrypted copies / renames), and files named like
--   ransom notes (DECRYPT, RECOVER, RESTORE, HOW_TO, YOUR_FILES, README...lock/crypt) — high when
--   notes land in 3 or more folders.
-- level: high
-- attack: [T1486]
-- tactics: [impact]
-- sources: Sysmon 11 (file_event), EDR file events
-- needs: [ts, host]
-- fields: [category, file_path, TargetFilename]
WITH files AS (
    SELECT input_sha256, rec_index, host, ts, coalesce(TargetFilename, file_path) AS path
    FROM events
    WHERE category = 'file_event' AND coalesce(TargetFilename, file_path) IS NOT NULL
),
typed AS (
    SELECT *, lower(regexp_extract(path, '\.([A-Za-z0-9_-]{1,16})$', 1)) AS ext,
        lower(regexp_replace(path, '[\\/][^\\/]*$', '')) AS folder,
        date_trunc('hour', ts) AS hour
    FROM files
),
bursts AS (
    SELECT host, ext, hour, count(*) AS n
    FROM typed
    WHERE ext <> '' AND ext NOT IN ('tmp', 'temp', 'log', 'etl', 'pf', 'dat', 'db', 'dll', 'exe', 'sys', 'cab',
        'mui', 'xml', 'json', 'js', 'png', 'jpg', 'gif', 'ico', 'ini', 'lnk', 'cache', 'manifest', 'cat', 'mum',
        'evtx', 'html', 'htm', 'css', 'ps1', 'psm1', 'psd1', 'jar', 'py', 'pyc', 'ldb', 'sqlite', 'wal', 'shm',
        'idx', 'pack', 'bin', 'nls', 'ttf', 'msi', 'mof', 'inf', 'pnf', 'config', 'part', 'crdownload', 'chk',
        'winmd', 'dmp', 'zip', 'cdf-ms', 'mdmp', 'aux', 'lock', 'ldf', 'mdf', 'edb', 'jrs', 'jfm', 'chm', 'txt')
    GROUP BY host, ext, hour
    HAVING count(*) >= 100 AND count(DISTINCT folder) >= 3
),
note_files AS (
    SELECT *
    FROM typed
    WHERE regexp_matches(path, '(?i)[\\/][^\\/]*(decrypt|recover|restore|ransom|how[_ -]?to[_ -]|your[_ -]?files|unlock|!!!|readme[^\\/]*(lock|crypt|files))[^\\/]*\.(txt|html?|hta|url|rtf)$')
),
note_spread AS (
    -- a grouped count, not count(DISTINCT ...) OVER (...): Spark has no DISTINCT window aggregates
    SELECT host, count(DISTINCT folder) AS note_folders FROM note_files GROUP BY host
),
notes AS (
    SELECT n.*, s.note_folders FROM note_files n JOIN note_spread s ON n.host = s.host
)
SELECT t.input_sha256, t.rec_index, t.host, t.ts, t.host || ' .' || t.ext AS group_key, 'high' AS level,
    CAST(b.n AS VARCHAR) || ' files named *.' || t.ext || ' within an hour' AS note
FROM typed t JOIN bursts b ON t.host = b.host AND t.ext = b.ext AND t.hour = b.hour
UNION ALL
SELECT input_sha256, rec_index, host, ts, host || ' ransom notes' AS group_key,
    CASE WHEN note_folders >= 3 THEN 'high' ELSE 'medium' END AS level,
    'ransom note ' || regexp_extract(path, '([^\\/]+)$', 1) AS note
FROM notes
