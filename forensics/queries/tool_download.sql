-- id: tool-download
-- title: Tool or payload downloaded from the Internet with a shell one-liner
-- description: >-
--   PowerShell Invoke-WebRequest / iwr / wget / curl aliases, Net.WebClient DownloadFile,
--   Start-BitsTransfer, certutil -urlcache, bitsadmin /transfer (Windows), and curl -o / wget -O
--   into /tmp, /var/tmp, /dev/shm or a hidden file (Linux), fetching from a literal IP address or
--   saving into a staging folder (PerfLogs, Temp, ProgramData, Users\Public). High when the
--   source is a bare IP address or the file lands in a staging folder, medium otherwise.
-- level: medium
-- attack: [T1105, T1059.001]
-- tactics: [command-and-control, execution]
-- sources: PowerShell 4104, process events (Sysmon 1, 4688, EDR, auditd)
-- needs: [ts, host]
-- fields: [process_cmdline, ScriptBlockText, channel, event_id]
WITH text AS (
    SELECT input_sha256, rec_index, host, ts,
        coalesce(process_cmdline, CASE WHEN event_id = 4104 THEN ScriptBlockText END) AS cmd
    FROM events
    WHERE process_cmdline IS NOT NULL OR (channel = 'Microsoft-Windows-PowerShell/Operational' AND event_id = 4104)
),
dl AS (
    SELECT * FROM text
    WHERE regexp_matches(cmd, '(?i)(\b(iwr|invoke-webrequest|invoke-restmethod|irm|start-bitstransfer)\b.{0,200}https?://|downloadfile\s*\(|downloadstring\s*\(|certutil(\.exe)?"?\s.{0,40}-urlcache.{0,40}https?://|bitsadmin(\.exe)?"?\s.{0,40}/transfer|\b(curl|wget)\b.{0,60}\s-(o|O|so|sO|qO|output)\s*\S*.{0,200}https?://|\b(curl|wget)\b.{0,200}https?://\S+.{0,40}\s-(o|O|output)\s)')
)
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    CASE WHEN regexp_matches(cmd, '(?i)https?://\d{1,3}(\.\d{1,3}){3}')
           OR regexp_matches(cmd, '(?i)(\\perflogs\\|\\temp\\|\\programdata\\|\\users\\public\\|\s/tmp/|\s/var/tmp/|\s/dev/shm/|/\.[a-z0-9_-]+(\s|$))')
         THEN 'high' ELSE 'medium' END AS level,
    substr(cmd, 1, 200) AS note
FROM dl
