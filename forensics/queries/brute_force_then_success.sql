-- id: brute-force-then-success
-- title: Brute force followed by a successful logon from the same source
-- description: >-
--   At least 10 failed logons (logon_attempts: Windows Security 4625, sshd "Failed password" /
--   "Invalid user") from one source address on one host, then a successful logon (4624, sshd
--   "Accepted") from that address no later than a day after the last failure. Every failure and success of the pair is listed.
-- level: high
-- attack: [T1110, T1110.001, T1110.003]
-- tactics: [credential-access, initial-access]
-- sources: Windows Security 4625/4624; Linux auth (sshd)
-- needs: [ts, host]
-- uses: [logon_attempts]
WITH attempts AS (
    SELECT input_sha256, rec_index, host, ts, src_ip, account, outcome FROM logon_attempts WHERE src_ip IS NOT NULL
),
fails AS (
    SELECT host, src_ip, count(*) AS n, min(ts) AS first_fail, max(ts) AS last_fail
    FROM attempts
    WHERE outcome = 'fail'
    GROUP BY host, src_ip
    HAVING count(*) >= 10
),
pairs AS (
    SELECT DISTINCT f.host, f.src_ip, f.n
    FROM attempts a
    JOIN fails f ON a.host = f.host AND a.src_ip = f.src_ip
    WHERE a.outcome = 'success' AND a.ts >= f.first_fail AND a.ts <= f.last_fail + INTERVAL 1 DAY
)
SELECT a.input_sha256, a.rec_index, a.host, a.ts,
    a.host || ' ' || a.src_ip AS group_key,
    CASE WHEN a.outcome = 'success'
        THEN CAST(p.n AS VARCHAR) || ' failed logons from ' || a.src_ip || ', then success as ' || coalesce(a.account, '?')
    END AS note
FROM attempts a
JOIN pairs p ON a.host = p.host AND a.src_ip = p.src_ip
