-- id: ssh-password-then-root-shell
-- title: SSH logon with a password followed by a root shell through sudo
-- description: >-
--   sshd "Accepted password" for an account that then runs sudo to a shell (bash, sh, su, -i,
--   -s) on the same host within 30 minutes: reused or stolen credentials turned into root. Key
--   logons and sudo of ordinary commands raise nothing. High from a host inside the network
--   (lateral movement), high too from outside.
-- level: high
-- attack: [T1021.004, T1078.003, T1548.003]
-- tactics: [lateral-movement, privilege-escalation]
-- sources: Linux auth (sshd, sudo)
-- needs: [ts, host, message]
-- fields: [provider, src_ip]
WITH logons AS (
    SELECT input_sha256, rec_index, host, ts, src_ip,
        regexp_extract(message, '(?i)accepted password for (\S+) from', 1) AS who
    FROM events
    WHERE provider = 'sshd' AND regexp_matches(message, '(?i)accepted password for \S+ from')
),
root_shells AS (
    SELECT input_sha256, rec_index, host, ts, regexp_extract(message, '^\s*(\S+)\s*:', 1) AS who,
        message
    FROM events
    WHERE provider = 'sudo'
        AND regexp_matches(message, '(?i)USER=root\s*;\s*COMMAND=(/usr)?/bin/(ba|z|da|k)?sh\b|COMMAND=(/usr)?/bin/su\b|COMMAND=\S*sudo\s+-[is]')
),
pairs AS (
    SELECT l.input_sha256 AS l_sha, l.rec_index AS l_idx, r.input_sha256 AS r_sha, r.rec_index AS r_idx,
        l.host, l.ts AS l_ts, r.ts AS r_ts, l.who, l.src_ip
    FROM logons l JOIN root_shells r
        ON l.host = r.host AND lower(l.who) = lower(r.who) AND r.ts BETWEEN l.ts AND l.ts + INTERVAL 30 MINUTE
)
SELECT l_sha AS input_sha256, l_idx AS rec_index, host, l_ts AS ts, host || ' ' || who AS group_key, 'high' AS level,
    'password logon as ' || who || ' from ' || coalesce(src_ip, '?') || ', then sudo to a root shell' AS note
FROM pairs
UNION
SELECT r_sha, r_idx, host, r_ts, host || ' ' || who, 'high',
    'password logon as ' || who || ' from ' || coalesce(src_ip, '?') || ', then sudo to a root shell'
FROM pairs
