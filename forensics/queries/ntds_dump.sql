-- id: ntds-dump
-- title: Active Directory database (NTDS.dit) copied
-- description: >-
--   ntdsutil "activate instance ntds" + ifm "create full" (Install From Media snapshot of the
--   domain database), ntdsutil snapshot, copying ntds.dit out of a volume shadow copy, esentutl
--   on ntds.dit, and reg save of the SYSTEM hive next to it. Domain controllers never do this in
--   routine work: every hit is critical.
-- level: critical
-- attack: [T1003.003]
-- tactics: [credential-access]
-- sources: process events (Sysmon 1, 4688, 4104, EDR)
-- needs: [ts, host]
-- fields: [process_cmdline]
SELECT input_sha256, rec_index, host, ts, host AS group_key, 'critical' AS level,
    substr(process_cmdline, 1, 200) AS note
FROM events
WHERE regexp_matches(process_cmdline, '(?i)(ntdsutil(\.exe)?"?\s.{0,80}\bifm\b|ntdsutil(\.exe)?"?\s.{0,80}(ac(tivate)?\s+i(nstance)?\s+ntds).{0,80}(ifm|snapshot)|\\ntds\.dit\b.{0,200}(copy|\\temp|\\perflogs|\\users)|(copy|xcopy|robocopy|esentutl(\.exe)?)\s.{0,200}\\ntds\.dit|harddiskvolumeshadowcopy\d+\\windows\\ntds\\ntds\.dit)')
