-- id: network_devices
-- kind: fact
-- title: Hosts that carry traffic or collect logs rather than run users' work
-- description: >-
--   Firewalls, routers, VPN gateways, proxies and log collectors: hosts whose short name says so
--   (fw, firewall, rtr, router, switch, vpn, gw, gateway, proxy, waf, asa, fortigate, pfsense,
--   siem, wec, collector, loghost, syslog, as a word of the name, optionally numbered), or whose
--   records are mostly traffic logs (key=value records naming a source and a destination). Their
--   logs name the attacker first, but they are not the victim: the story never makes one of them
--   patient zero.
-- fields: [message]
WITH per_host AS (
    SELECT host, count(*) AS events,
        sum(CASE WHEN message ILIKE '%src%' AND regexp_matches(message, '(?i)\b(srcip|src)=\S+.*\b(dstip|dst)=\S+')
            THEN 1 ELSE 0 END) AS traffic_events
    FROM events
    WHERE host IS NOT NULL
    GROUP BY host
)
SELECT host, events, traffic_events
FROM per_host
WHERE regexp_matches(split_part(lower(trim(host)), '.', 1),
        '(^|[-_.])(fw|firewall|rtr|router|switch|vpn|gw|gateway|proxy|waf|asa|fortigate|pfsense|siem|wec|collector|loghost|syslog)(\d*)([-_.]|$)')
    OR 2 * traffic_events > events
