-- id: shadow-copy-backup-deletion
-- title: Shadow copies or backups deleted, recovery disabled
-- description: >-
--   Commands that destroy the ways back before encryption: vssadmin delete shadows / resize
--   shadowstorage, wmic shadowcopy delete, Win32_ShadowCopy deletion in PowerShell, diskshadow,
--   bcdedit recoveryenabled no / ignoreallfailures, wbadmin delete catalog|backup|systemstatebackup.
--   Read-only commands such as "vssadmin list shadows" and backup runs do not match.
-- level: critical
-- attack: [T1490]
-- tactics: [impact]
-- sources: Sysmon 1, Security 4688, PowerShell 4104, EDR process events, auditd
-- needs: [ts, host, process_cmdline]
-- fields: [process_cmdline]
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    substr(process_cmdline, 1, 200) AS note
FROM events
WHERE process_cmdline IS NOT NULL
    AND regexp_matches(process_cmdline, '(?i)(vssadmin(\.exe)?"?\s+(delete\s+shadows|resize\s+shadowstorage)|shadowcopy\s+delete|win32_shadowcopy.{0,200}(\.delete\(|remove-(wmi|cim)object)|(get-wmiobject|gwmi|get-ciminstance)\s+win32_shadowcopy.{0,80}(delete|remove)|diskshadow.{0,80}delete\s+shadows|bcdedit(\.exe)?"?.{0,80}(recoveryenabled\s+(no|off|false)|bootstatuspolicy\s+ignoreallfailures)|wbadmin(\.exe)?"?\s+delete\s+(catalog|systemstatebackup|backup))')
