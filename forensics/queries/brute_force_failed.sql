-- id: brute-force-no-success
-- title: Brute force or password spray that never succeeded
-- description: >-
--   At least 20 failed logons (logon_attempts: Windows Security 4625, sshd "Failed password" /
--   "Invalid user") from one source address on one host within an hour, with no successful logon
--   from that address afterwards. The attack is real but held; medium, so a responder sees which hosts
--   were tried (and which one the attacker pivoted from) without a high alert.
-- level: medium
-- attack: [T1110.001, T1110.003]
-- tactics: [credential-access]
-- sources: Windows Security 4625/4624; Linux auth (sshd)
-- needs: [ts, host]
-- uses: [logon_attempts]
WITH attempts AS (
    SELECT input_sha256, rec_index, host, ts, src_ip, outcome FROM logon_attempts WHERE src_ip IS NOT NULL
),
fails AS (
    SELECT host, src_ip, count(*) AS n, min(ts) AS first_fail, max(ts) AS last_fail
    FROM attempts WHERE outcome = 'fail' GROUP BY host, src_ip
    HAVING count(*) >= 20 AND max(ts) - min(ts) <= INTERVAL 1 HOUR
),
held AS (
    SELECT f.* FROM fails f
    WHERE NOT EXISTS (
        SELECT 1 FROM attempts a
        WHERE a.outcome = 'success' AND a.host = f.host AND a.src_ip = f.src_ip AND a.ts >= f.first_fail
    )
)
SELECT a.input_sha256, a.rec_index, a.host, a.ts, a.host || ' ' || a.src_ip AS group_key, 'medium' AS level,
    CAST(h.n AS VARCHAR) || ' failed logons from ' || a.src_ip || ', none succeeded' AS note
FROM attempts a JOIN held h ON a.host = h.host AND a.src_ip = h.src_ip
WHERE a.outcome = 'fail'
