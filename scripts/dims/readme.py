"""The README of ``sample_data/`` (the record counts and the steps table are filled in)."""

from __future__ import annotations

README = """\
# sample_data/: the DIMS hospital ransomware case (SYNTHETIC)

**Everything in this folder is synthetic.** It was written by `scripts/make_sample_data.py`
(deterministic: the same command gives the same bytes) and describes an invented incident at an
invented hospital, "DIMS" (Demo Institute of Medical Sciences, domain `dims.local`). It is modelled
loosely on what is publicly known of a November 2022 ransomware attack on a large public hospital in
Delhi; the ransomware family, the entry point, every name, host, account, hash and address here are
made up. IP addresses come only from RFC 1918 (internal) and RFC 5737 (external: 203.0.113.0/24,
198.51.100.0/24, 192.0.2.0/24) ranges; hashes are hashes of generated text and match no real file;
domains use the reserved `.example` top-level domain. There is no malware here: `svchosts.exe` is a
plain text file.

Regenerate with `python scripts/make_sample_data.py` (a test checks that the committed files equal
the generator's output). For benchmarks, `--hosts N --days D` adds N benign workstations and D days of
background (about 700 events per host and day, so `--out /tmp/big --hosts 400 --days 7` writes about
2 million events); such a case must be written outside the repository.

## Hosts

| host | IP | role | what its logs show |
|---|---|---|---|
| WIN-TS01 | 10.10.5.20 | RDP jump host, NAT-exposed to the internet | patient zero: spray, RDP, discovery, tools, LSASS dump, rclone exfiltration |
| DC01 | 10.10.1.10 | domain controller (and the WEF collector) | RDP from WIN-TS01, NTDS copy, backdoor admin, PsExec and schtasks to the servers |
| EHOSP-DB01 / EHOSP-DB02 | 10.10.2.11 / .12 | SQL Server, e-Hospital database | AV disabled, SQL stopped, shadows deleted, **encrypted** |
| LIS-APP01 | 10.10.3.21 | lab information system | **encrypted**; its clock runs **3 min 40 s fast** |
| LNX-ES01 | 10.10.7.31 | Ubuntu, Elasticsearch | SSH with a reused password, encryptor download, **encrypted**, auth.log truncated |
| LNX-BKP01 | 10.10.7.40 | backup server | brute force on root fails: **survives**, restores come from here |

External: 203.0.113.45 (spray and RDP source), 198.51.100.23 (tool server), 192.0.2.77 (exfiltration
over SFTP). The firewall's public address is 192.0.2.10.

## What is in the folder

| path | format |
|---|---|
| `collection/WIN-TS01/`, `DC01/`, `EHOSP-DB01/` `Windows/System32/winevt/Logs/*.evtx` | binary EVTX as collected from the hosts (Security, System, Application, Sysmon, PowerShell, TerminalServices, TaskScheduler, Defender) |
| `collection/DC01/Windows/System32/winevt/Logs/ForwardedEvents.evtx` | the Security and System events all five Windows hosts forwarded (WEF) **before the logs were cleared**: original `Computer` and `EventRecordID` kept |
| `collection/EHOSP-DB02/Windows/...` and `collection/EHOSP-DB02/evtx_dump/*.jsonl` | EVTX, except Sysmon as evtx-JSON lines (`evtx_dump -o jsonl`) |
| `collection/LIS-APP01/wevtutil/*.xml` | `wevtutil qe <log> /f:xml` exports (`<Events>` wrapper) |
| `collection/LNX-ES01/var/log/auth.log`, `auth.log.1` | RFC 3164, local time (IST), **no year**; `auth.log` was truncated by the attacker, `auth.log.1` (rotated at 06:25 IST) survived |
| `collection/LNX-BKP01/var/log/auth.log` | as above |
| `collection/LNX-ES01/var/log/audit/audit.log` | auditd, epoch UTC, `node=` prefix; SYSCALL/EXECVE/CWD/PATH/PROCTITLE share a serial |
| `collection/LNX-*/journal/journalctl-o-json.json` | `journalctl -o json` export of the system units (systemd, logrotate, elasticsearch, the backup job; sshd/sudo/cron are in auth.log only, so nothing is counted twice); `__REALTIME_TIMESTAMP` in microseconds, UTC |
| `collection/LNX-*/etc/timezone`, `etc/hostname` | the Linux hosts' zone (Asia/Kolkata) and name |
| `collection/EHOSP-DB01/Windows/Temp/svchosts.exe` | the harmless ransomware stand-in (text) |
| `collection/EHOSP-DB01/{{C,D}}/.../README_TO_DECRYPT.txt`, `*.dims_locked` | ransom notes and two "encrypted" files (random bytes) |
| `collection/manifest.json` | collection time (2022-11-23 09:40 IST), hosts, zones, record counts per file |
| `network/FW-EDGE01/fw-edge01-traffic.log` | perimeter firewall, RFC 5424 with `+05:30` offsets, key=value traffic logs |
| `edr/mde-advanced-hunting-ehosp-db.jsonl` | Defender for Endpoint advanced hunting (streaming API JSON: DeviceProcessEvents, DeviceFileEvents, DeviceNetworkEvents) for EHOSP-DB01/02 |
| `iocs/dims-case.stix2.json`, `dims-case.misp.json`, `certin-advisory-dimslock.txt` | the case's IOCs as a STIX 2.1 bundle, a MISP event and a defanged CERT-In style list (`203.0.113[.]45`, `hxxp://`, a SHA-256 with a stray space) |
| `iocs/dims_standin.yar` | YARA rule that matches `svchosts.exe` |
| `expected_steps.json` | per scenario step: hosts, true UTC window, ATT&CK techniques, how to find its records |

Windows `SystemTime` values are UTC. LIS-APP01's events carry its fast clock (they read 3 min 40 s
late); `expected_steps.json` gives true times. Record counts: {n_records} records in {n_files} log files.

## The attack (IST; UTC = IST - 5:30)

{steps_table}

Step 22 (not in the logs): at 09:15 IST responders isolate the hosts, collect triage images and hash
them; the custody log and the CERT-In 6-hour reporting clock start.

## Benign activity that must not raise high-severity findings

Nightly SQL backups at 01:00 IST on EHOSP-DB01/02 (scheduled task `\\DIMS\\NightlyBackup`, `sqlcmd
BACKUP DATABASE`, a legitimate `vssadmin list shadows`), the nightly backup pull on LNX-BKP01 (cron
01:30), admin RDP from the IT subnet 10.10.9.0/24 (it.rao, adm.sharma), Defender signature updates
(event 2000), normal SSH logins with keys from 10.10.9.15, hourly cron sessions, machine-account
logons and Kerberos tickets, LIS-APP01's time-service warnings, routine outbound HTTPS.

## What the case should reveal

- **Patient zero**: WIN-TS01. **Entry**: RDP from 203.0.113.45 through the NAT rule, after a password
  spray (180 failures, 40 names), as `DIMS\\helpdesk01`.
- **Lateral movement**: WIN-TS01 -> DC01 (RDP as `adm.sharma`, credentials from the LSASS dump) ->
  EHOSP-DB01, EHOSP-DB02, LIS-APP01 (PsExec, C$ copy, scheduled task); WIN-TS01 -> LNX-ES01 (SSH);
  LNX-ES01 -> LNX-BKP01 (failed brute force).
- **Exfiltration**: about 4.1 GB (4402341478 bytes) of the DB backup share to 192.0.2.77:22 with rclone.
- **Encrypted hosts**: EHOSP-DB01, EHOSP-DB02, LIS-APP01, LNX-ES01. **Surviving backup**: LNX-BKP01.
- **Cleared logs**: Security (1102) and System (104) cleared on all five Windows hosts between 06:38
  and 06:41 IST; the forwarded copy on DC01 still holds what was cleared. LNX-ES01's auth.log was
  truncated (and `history -c` run, seen in audit.log); `auth.log.1` (rotated at 06:25 IST, the journal
  shows logrotate running) still holds the SSH logon, and audit.log and the journal's session scope
  corroborate it.
- **Clock skew**: LIS-APP01 +00:03:40, learnable from events that pair with DC01 (LIS-APP01 4648 to
  DC01 vs DC01 4624/4769 from 10.10.3.21; DC01's PsExec 4648 vs LIS-APP01's 4624 type 3) and from its
  time-service warnings.
- **Yearless auth.log**: the year (2022) has to be inferred (collection time in `collection/manifest.json`)
  and recorded as inferred.
"""
