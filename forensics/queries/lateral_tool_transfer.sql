-- id: lateral-tool-transfer
-- title: Executable written to another host's admin share
-- description: >-
--   Security 5145 (detailed file share) on C$ or ADMIN$ for an executable or script
--   (.exe, .dll, .bat, .cmd, .ps1, .vbs, .scr) from a remote address: tools and payloads pushed
--   to servers before they are run (PsExec's PSEXESVC.exe included). High for a file in a temp,
--   PerfLogs, ProgramData or Users\Public folder or named like a Windows process, medium else.
-- level: medium
-- attack: [T1570, T1021.002, T1036.005]
-- tactics: [lateral-movement, defense-evasion]
-- sources: Windows Security 5145
-- needs: [ts, host]
-- fields: [event_id, channel, ShareName, RelativeTargetName, IpAddress, src_ip, SubjectUserName]
SELECT input_sha256, rec_index, host, ts, host || ' ' || coalesce(IpAddress, src_ip, '?') AS group_key,
    CASE WHEN regexp_matches(RelativeTargetName, '(?i)(^|\\)(windows\\temp|temp|perflogs|programdata|users\\public)\\|(^|\\)(svchosts?|scvhost|svhost|lsas|csrsss?|explorer|winlogon|services)\.exe$')
         THEN 'high' ELSE 'medium' END AS level,
    coalesce(SubjectUserName, '?') || ' from ' || coalesce(IpAddress, src_ip, '?') || ' wrote ' || ShareName || '\' || RelativeTargetName AS note
FROM events
WHERE channel = 'Security' AND event_id = 5145
    AND regexp_matches(ShareName, '(?i)\\(c|admin)\$$')
    AND regexp_matches(RelativeTargetName, '(?i)\.(exe|dll|bat|cmd|ps1|vbs|scr)$')
    AND coalesce(IpAddress, src_ip, '') NOT IN ('', '-', '::1', '127.0.0.1')
