-- id: psexec-style-service-install
-- title: PsExec-style remote service installation
-- description: >-
--   A service installed (System 7045, Security 4697) whose name or binary is PsExec or a clone
--   (PSEXESVC, PAExec, RemCom, CSExec), runs a shell or PowerShell, or starts from ADMIN$ or a
--   temporary folder — how ransomware operators push their payload to many hosts.
-- level: high
-- attack: [T1569.002, T1021.002, T1543.003]
-- tactics: [execution, lateral-movement, persistence]
-- sources: Windows System 7045; Windows Security 4697
-- needs: [ts, host, event_id]
-- fields: [channel, ServiceName, ImagePath, ServiceFileName, AccountName, ServiceAccount]
WITH installs AS (
    SELECT input_sha256, rec_index, host, ts, coalesce(ServiceName, '') AS svc,
        coalesce(ImagePath, ServiceFileName, '') AS bin
    FROM events
    WHERE (channel = 'System' AND event_id = 7045) OR (channel = 'Security' AND event_id = 4697)
)
SELECT input_sha256, rec_index, host, ts, host AS group_key,
    CASE
        WHEN regexp_matches(svc || ' ' || bin, '(?i)(psexesvc|paexec|remcom|csexec|\\admin\$\\|%comspec%|cmd(\.exe)?"?\s+/[ck]|powershell|pwsh|\\\\127\.0\.0\.1\\|\\\\localhost\\|%systemroot%\\[a-z]{8}\.exe$)') THEN 'high'
        ELSE 'medium'
    END AS level,
    'service ' || svc || ' -> ' || bin AS note
FROM installs
WHERE regexp_matches(svc || ' ' || bin, '(?i)(psexesvc|paexec|remcom|csexec|\\admin\$\\|%comspec%|cmd(\.exe)?"?\s+/[ck]|powershell|pwsh|\\\\127\.0\.0\.1\\|\\\\localhost\\|\\windows\\temp\\|\\appdata\\local\\temp\\|\\users\\public\\|\\programdata\\[^\\]+\.exe|%systemroot%\\[a-z]{8}\.exe$|^[^\\]+ [a-z0-9_.-]+\.exe$)')
