-- id: lsass-credential-dump
-- title: LSASS memory access or credential dump
-- description: >-
--   Sysmon 10 opening lsass.exe with rights credential dumpers ask for (PROCESS_VM_READ combos,
--   PROCESS_ALL_ACCESS) from a process other than the usual system ones; comsvcs.dll MiniDump,
--   procdump of lsass, Mimikatz sekurlsa/lsadump commands, and lsass*.dmp files being written.
-- level: high
-- attack: [T1003.001]
-- tactics: [credential-access]
-- sources: Sysmon 10, Sysmon 11, process events (Sysmon 1, 4688, 4104, EDR)
-- needs: [ts, host]
-- fields: [event_id, channel, process_cmdline, TargetImage, SourceImage, GrantedAccess, TargetFilename]
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    CASE
        WHEN lower(GrantedAccess) IN ('0x1fffff', '0x1f3fff', '0x1f0fff', '0x1f1fff', '0x1010', '0x1038', '0x1438', '0x143a') THEN 'high'
        ELSE 'medium'
    END AS level,
    coalesce(SourceImage, '?') || ' opened lsass with ' || GrantedAccess AS note
FROM events
WHERE channel = 'Microsoft-Windows-Sysmon/Operational' AND event_id = 10
    AND regexp_matches(TargetImage, '(?i)\\lsass\.exe$')
    AND lower(GrantedAccess) IN ('0x1fffff', '0x1f3fff', '0x1f0fff', '0x1f1fff', '0x1f2fff', '0x1010', '0x1038', '0x1410', '0x1418', '0x1438', '0x143a', '0x147a', '0x40')
    AND NOT regexp_matches(coalesce(SourceImage, ''), '(?i)(^c:\\windows\\system32\\(wininit|csrss|services|lsm|wbem\\wmiprvse|taskmgr|werfault|werfaultsecure|vmtoolsd|lsass|svchost)\.exe$|\\(msmpeng|mssense|sensecncproxy|nissrv)\.exe$)')
UNION ALL
SELECT input_sha256, rec_index, host, ts, host AS group_key, 'critical' AS level,
    substr(coalesce(process_cmdline, TargetFilename), 1, 200) AS note
FROM events
WHERE regexp_matches(process_cmdline, '(?i)(comsvcs(\.dll)?.{0,10}(minidump|#\s*\+?0*24\b)|procdump(64)?(\.exe)?.{0,80}lsass|sekurlsa::|lsadump::|out-minidump.{0,80}lsass)')
    OR (channel = 'Microsoft-Windows-Sysmon/Operational' AND event_id = 11
        AND regexp_matches(TargetFilename, '(?i)\\lsass[^\\]*\.(dmp|zip)$'))
