-- id: exfil-sync-tool
-- title: Data copied out with a cloud or file sync tool (rclone, MEGAcmd, WinSCP, pscp)
-- description: >-
--   rclone copy / sync / move to a configured remote (sftp:, mega:, s3: ...), MEGAcmd put,
--   WinSCP or pscp / scp uploads from a Windows server: how ransomware crews steal data before
--   encrypting it. High for rclone and MEGA, and for any of them reading a UNC share or a backup
--   folder; medium for a lone scp upload.
-- level: high
-- attack: [T1048, T1567.002, T1560.001]
-- tactics: [exfiltration, collection]
-- sources: process events (Sysmon 1, 4688, EDR, auditd)
-- needs: [ts, host]
-- fields: [process_cmdline]
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    CASE WHEN regexp_matches(process_cmdline, '(?i)(rclone|mega(cmd|-put|put)|\\\\[^\\]+\\|backup)') THEN 'high'
         ELSE 'medium' END AS level,
    substr(process_cmdline, 1, 200) AS note
FROM events
WHERE regexp_matches(process_cmdline, '(?i)(\brclone(\.exe)?"?\s+(copy|sync|move|copyto)\s.{0,300}\s[a-z0-9_-]+:|\bmega(-put|put|cmd)\b|\bwinscp(\.com|\.exe)?"?\s.{0,200}\bput\b|\bpscp(\.exe)?"?\s.{0,300}\s\S+@\S+:)')
