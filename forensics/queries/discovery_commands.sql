-- id: discovery-command-burst
-- title: Account, group and domain-controller discovery commands in a burst
-- description: >-
--   Hands-on-keyboard reconnaissance right after a logon: whoami /all or /groups, net user|group
--   ... /domain, net group "Domain Admins", nltest /dclist or /domain_trusts, dsquery, AdFind,
--   Get-ADUser/Get-ADComputer. High when three or more different such commands run on one host
--   within 15 minutes (an admin runs one; an intruder runs the checklist), medium otherwise.
-- level: medium
-- attack: [T1033, T1087.002, T1069.002, T1018, T1482]
-- tactics: [discovery]
-- sources: process events (Sysmon 1, 4688, EDR, auditd)
-- needs: [ts, host]
-- fields: [process_cmdline]
WITH cmds AS (
    SELECT input_sha256, rec_index, host, ts, substr(process_cmdline, 1, 200) AS note,
        CASE
            WHEN regexp_matches(process_cmdline, '(?i)\bwhoami(\.exe)?"?\s+/(all|groups|priv)') THEN 'whoami'
            WHEN regexp_matches(process_cmdline, '(?i)\bnet1?(\.exe)?"?\s+group\b.{0,80}/domain') THEN 'net group'
            WHEN regexp_matches(process_cmdline, '(?i)\bnet1?(\.exe)?"?\s+user\b.{0,80}/domain') THEN 'net user'
            WHEN regexp_matches(process_cmdline, '(?i)\bnet1?(\.exe)?"?\s+localgroup\s+administrators') THEN 'net localgroup'
            WHEN regexp_matches(process_cmdline, '(?i)\bnltest(\.exe)?"?\s+.{0,20}/(dclist|domain_trusts|dsgetdc)') THEN 'nltest'
            WHEN regexp_matches(process_cmdline, '(?i)\b(dsquery(\.exe)?"?\s+(user|group|computer)|adfind(\.exe)?"?\s)') THEN 'ad query'
            WHEN regexp_matches(process_cmdline, '(?i)\bget-ad(user|computer|group|groupmember|domaincontroller)\b') THEN 'ad cmdlet'
        END AS kind
    FROM events
    WHERE regexp_matches(process_cmdline, '(?i)(whoami|\bnet1?(\.exe)?"?\s+(group|user|localgroup)|nltest|dsquery|adfind|get-ad)')
),
-- net user / group with /add or /delete changes accounts (another hunt's business), it does not look
hit AS (SELECT * FROM cmds WHERE kind IS NOT NULL AND NOT regexp_matches(note, '(?i)\s/(add|del|delete)\b')),
spread AS (
    SELECT a.input_sha256, a.rec_index, count(DISTINCT b.kind) AS kinds
    FROM hit a JOIN hit b ON a.host = b.host AND b.ts BETWEEN a.ts - INTERVAL 15 MINUTE AND a.ts + INTERVAL 15 MINUTE
    GROUP BY a.input_sha256, a.rec_index
)
SELECT h.input_sha256, h.rec_index, h.host, h.ts, h.host AS group_key,
    CASE WHEN s.kinds >= 3 THEN 'high' ELSE 'medium' END AS level, h.note
FROM hit h JOIN spread s USING (input_sha256, rec_index)
