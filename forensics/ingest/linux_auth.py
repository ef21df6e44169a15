"""Field extraction for the auth log (``/var/log/auth.log``, ``/var/log/secure``).

The syslog parser reads the line (time, host, program, pid, message); this module turns the
message of the programs that write the auth log into fields hunts use: who (``user_name``),
from where (``src_ip`` / ``src_port``), how (``method``), what (``command``) and how it ended
(``auth_result``). ``action`` names the kind of message (``accepted``, ``failed``,
``invalid_user``, ``disconnect``, ``session_opened``, ``sudo_command``, ``new_user``, ...).

Patterns follow the messages OpenSSH, sudo, util-linux su, shadow-utils and cron write; a
message of an auth program that matches none still becomes a row (channel ``auth``) with only
its text, so nothing depends on this table being complete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Programs whose messages go to the auth / authpriv facility (auth.log / secure).
AUTH_PROGRAMS: frozenset[str] = frozenset(
    {
        "sshd", "sudo", "su", "login", "passwd", "chpasswd", "chage", "chfn", "chsh",
        "useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "gpasswd",
        "newusers", "systemd-logind", "polkitd", "pkexec", "unix_chkpwd", "sshd-session",
        "doas", "vsftpd", "dovecot", "gdm-password", "lightdm", "sssd", "runuser",
    }
)  # fmt: skip

# Facilities 4 (auth) and 10 (authpriv) are the auth log by definition.
AUTH_FACILITIES: frozenset[int] = frozenset({4, 10})

Fields = dict[str, Any]


def is_auth(program: str | None, message: str) -> bool:
    """True when a record of ``program`` belongs in the auth channel (facility aside)."""
    if program and _base(program) in AUTH_PROGRAMS:
        return True
    # PAM writes to authpriv whatever the program (cron, systemd-user, ...)
    return message.startswith(("pam_", "PAM "))


def _base(program: str) -> str:
    """``/usr/sbin/sshd`` and ``sshd`` name the same program."""
    return program.rsplit("/", 1)[-1].lower()


def _port(text: str | None) -> int | None:
    if text is None or not text.isdigit():
        return None
    value = int(text)
    return value if 0 <= value <= 65535 else None


def _kv(text: str) -> dict[str, str]:
    """``key=value`` pairs separated by spaces (PAM), empty values kept as ''."""
    return {m.group(1): m.group(2) for m in _KV.finditer(text)}


_KV = re.compile(r"(\w+)=(\S*)")
_IP = r"(?P<ip>[0-9A-Fa-f:.]+|\S+?)"

# ---- sshd ------------------------------------------------------------------------------
_SSHD: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "accepted",
        re.compile(
            r"^Accepted (?P<method>\S+) for (?P<user>\S+) from " + _IP + r" port (?P<port>\d+)"
            r"(?: (?P<proto>ssh\d?))?(?::\s*(?P<key>.*))?"
        ),
    ),
    (
        "failed",
        re.compile(
            r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from "
            + _IP
            + r" port (?P<port>\d+)(?:\s+(?P<proto>ssh\d?))?"
        ),
    ),
    (
        "invalid_user",
        re.compile(r"^Invalid user (?P<user>.*?) from " + _IP + r"(?: port (?P<port>\d+))?\s*$"),
    ),
    (
        "invalid_user",
        re.compile(r"^input_userauth_request: invalid user (?P<user>.*?)(?P<preauth> \[preauth\])?$"),
    ),
    (
        "max_attempts",
        re.compile(
            r"^(?:error: )?maximum authentication attempts exceeded for (?P<invalid>invalid user )?"
            r"(?P<user>.*?) from " + _IP + r" port (?P<port>\d+)"
        ),
    ),
    (
        "disconnect",
        re.compile(
            r"^(?:error: )?Received disconnect from " + _IP + r"(?: port (?P<port>\d+))?:\s*(?P<code>\d+):"
            r"\s*(?P<reason>.*?)(?P<preauth> \[preauth\])?$"
        ),
    ),
    (
        "disconnect",
        re.compile(
            r"^Disconnected from (?:(?:invalid|authenticating) user (?P<user>\S+) |user (?P<user2>\S+) )?"
            + _IP
            + r"(?: port (?P<port>\d+))?(?P<preauth> \[preauth\])?$"
        ),
    ),
    (
        "connection_closed",
        re.compile(
            r"^Connection (?:closed|reset) by (?:(?:invalid|authenticating) user (?P<user>\S+) )?"
            + _IP
            + r"(?: port (?P<port>\d+))?(?P<preauth> \[preauth\])?$"
        ),
    ),
    (
        "connection",
        re.compile(
            r"^Connection from " + _IP + r" port (?P<port>\d+)(?: on (?P<dst>\S+) port (?P<dport>\d+))?"
        ),
    ),
    (
        "no_identification",
        re.compile(r"^Did not receive identification string from " + _IP + r"(?: port (?P<port>\d+))?"),
    ),
    (
        "reverse_mapping_failed",
        re.compile(r"^reverse mapping checking getaddrinfo for (?P<rhost>\S+) \[(?P<ip>[^\]]+)\] failed"),
    ),
    ("listening", re.compile(r"^Server listening on (?P<dst>\S+) port (?P<dport>\d+)")),
    ("subsystem", re.compile(r"^subsystem request for (?P<subsystem>\S+) by user (?P<user>\S+)")),
)


def _sshd(message: str) -> Fields:
    """Fields of one sshd message."""
    for action, rx in _SSHD:
        m = rx.match(message)
        if m is None:
            continue
        g = {k: v for k, v in m.groupdict().items() if v is not None}
        out: Fields = {"action": action}
        user = g.get("user") or g.get("user2")
        if user is not None:
            out["user_name"] = user
        if "ip" in g:
            out["src_ip"] = g["ip"]
        if "port" in g:
            out["src_port"] = _port(g["port"])
        if "dst" in g:
            out["dst_ip"] = g["dst"]
        if "dport" in g:
            out["dst_port"] = _port(g["dport"])
        for key in ("method", "proto", "code", "reason", "rhost", "subsystem"):
            if key in g:
                out[key] = g[key]
        if g.get("key"):
            out["key_info"] = g["key"]
        if "invalid" in g or action == "invalid_user":
            out["invalid_user"] = "true"
        if "preauth" in g or message.endswith("[preauth]"):
            out["preauth"] = "true"
        if action == "accepted":
            out["auth_result"] = "success"
        elif action in ("failed", "invalid_user", "max_attempts"):
            out["auth_result"] = "failure"
        return out
    return {}


# ---- PAM -----------------------------------------------------------------------------
_PAM_SESSION = re.compile(
    r"^pam_\w+\((?P<service>[^:)]+):session\): session (?P<what>opened|closed) for user (?P<user>\S+?)"
    r"(?:\(uid=(?P<uid>\d+)\))?(?: by (?P<by>\S*?)\(uid=(?P<byuid>\d+)\))?\s*$"
)
_PAM_AUTHFAIL = re.compile(r"^pam_\w+\((?P<service>[^:)]+):auth\): authentication failure;(?P<rest>.*)$")
_PAM_MORE = re.compile(r"^PAM (?P<n>\d+) more authentication failures?;(?P<rest>.*)$")
_PAM_CHECKPASS = re.compile(r"^pam_\w+\((?P<service>[^:)]+):auth\): check pass; user (?P<user>unknown|\S+)")
_PAM_PASSWD = re.compile(r"^pam_\w+\((?P<service>[^:)]+):chauthtok\): password changed for (?P<user>\S+)")


def _pam(message: str) -> Fields:
    """Fields of a PAM module message (any program)."""
    m = _PAM_SESSION.match(message)
    if m:
        out: Fields = {"action": f"session_{m['what']}", "pam_service": m["service"], "user_name": m["user"]}
        if m["uid"]:
            out["user_sid"] = m["uid"]
        if m["by"] is not None:
            out["by_user"] = m["by"]
        if m["byuid"]:
            out["by_uid"] = m["byuid"]
        return out
    m = _PAM_AUTHFAIL.match(message) or _PAM_MORE.match(message)
    if m:
        kv = _kv(m["rest"])
        out = {"action": "auth_failure", "auth_result": "failure"}
        if "service" in m.groupdict():
            out["pam_service"] = m["service"]
        if "n" in m.groupdict():
            out["failures"] = m["n"]
        for key in ("logname", "uid", "euid", "tty", "ruser", "rhost"):
            if kv.get(key):
                out[key] = kv[key]
        if kv.get("user"):
            out["user_name"] = kv["user"]
        if kv.get("rhost") and _looks_ip(kv["rhost"]):
            out["src_ip"] = kv["rhost"]
        return out
    m = _PAM_CHECKPASS.match(message)
    if m:
        return {"action": "check_pass", "pam_service": m["service"], "user_name": m["user"]}
    m = _PAM_PASSWD.match(message)
    if m:
        return {"action": "password_changed", "pam_service": m["service"], "user_name": m["user"]}
    return {}


def _looks_ip(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9.]+|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*", text))


# ---- sudo / su ---------------------------------------------------------------------------
_SUDO = re.compile(
    r"^\s*(?P<user>\S+) : (?:(?P<error>[^;]*?) ; )?TTY=(?P<tty>\S+) ; PWD=(?P<pwd>.*?) ; USER=(?P<target>\S+) ;"
    r"(?: GROUP=(?P<group>\S+) ;)?(?: ENV=(?P<env>.*?) ;)? COMMAND=(?P<command>.*)$"
)
_SU_OK = re.compile(
    r"^(?:\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)|Successful su for (?P<target2>\S+) by (?P<user2>\S+))$"
)
_SU_FAIL = re.compile(r"^FAILED su for (?P<target>\S+) by (?P<user>\S+)$")
_SU_LINE = re.compile(r"^(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^:\s]+):(?P<target>\S+)$")


def _sudo(message: str) -> Fields:
    """Fields of a sudo command line (``user : TTY=... ; COMMAND=...``)."""
    m = _SUDO.match(message)
    if m is None:
        return {}
    out: Fields = {
        "action": "sudo_command",
        "user_name": m["user"],
        "tty": m["tty"],
        "pwd": m["pwd"],
        "target_user": m["target"],
        "command": m["command"],
        "process_cmdline": m["command"],
    }
    if m["group"]:
        out["target_group"] = m["group"]
    if m["error"]:
        out["sudo_error"] = m["error"].strip()
        out["auth_result"] = "failure"
    else:
        out["auth_result"] = "success"
    return out


def _su(message: str) -> Fields:
    """Fields of util-linux / shadow su messages."""
    m = _SU_OK.match(message)
    if m:
        return {
            "action": "su",
            "auth_result": "success",
            "user_name": m["user"] or m["user2"],
            "target_user": m["target"] or m["target2"],
            **({"tty": m["tty"]} if m["tty"] else {}),
        }
    m = _SU_FAIL.match(message)
    if m:
        return {"action": "su", "auth_result": "failure", "user_name": m["user"], "target_user": m["target"]}
    m = _SU_LINE.match(message)
    if m:
        result = "success" if m["sign"] == "+" else "failure"
        return {
            "action": "su",
            "auth_result": result,
            "tty": m["tty"],
            "user_name": m["user"],
            "target_user": m["target"],
        }
    return {}


# ---- shadow-utils (useradd, usermod, groupadd, userdel, ...) -------------------------------
_SHADOW: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("new_user", re.compile(r"^new user: (?P<kv>.*)$")),
    ("new_group", re.compile(r"^new group: (?P<kv>.*)$")),
    ("group_added", re.compile(r"^group added to (?P<file>\S+): (?P<kv>.*)$")),
    ("add_to_group", re.compile(r"^add '(?P<target>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'$")),
    (
        "remove_from_group",
        re.compile(r"^delete '(?P<target>[^']+)' from (?:shadow )?group '(?P<group>[^']+)'$"),
    ),
    ("delete_user", re.compile(r"^delete user '(?P<target>[^']+)'$")),
    (
        "delete_group",
        re.compile(
            r"^(?:removed group '(?P<group>[^']+)' owned by '(?P<target>[^']+)'|group '(?P<group2>[^']+)' removed.*)$"
        ),
    ),
    ("change_user", re.compile(r"^change user (?:name )?'(?P<target>[^']+)'(?P<change>.*)$")),
    ("lock_user", re.compile(r"^lock user '(?P<target>[^']+)' password$")),
    ("group_changed", re.compile(r"^group changed in (?P<file>\S+) \(group (?P<group>[^/,)]+)")),
    ("user_info_changed", re.compile(r"^changed user '(?P<target>[^']+)' information$")),
    ("password_expiry_changed", re.compile(r"^changed password expiry for (?P<target>\S+)$")),
)


def _shadow(message: str) -> Fields:
    """Fields of shadow-utils account management messages."""
    for action, rx in _SHADOW:
        m = rx.match(message)
        if m is None:
            continue
        g = {k: v for k, v in m.groupdict().items() if v is not None}
        out: Fields = {"action": action}
        if "kv" in g:
            # "name=tsg, UID=1001, GID=1003, home=/home/tsg, shell=/bin/bash, from=/dev/pts/1"
            for part in g["kv"].split(", "):
                key, sep, value = part.partition("=")
                if not sep:
                    continue
                key = key.strip().lower()
                if key == "name":
                    out["group" if action != "new_user" else "target_user"] = value
                elif key in ("uid", "gid", "home", "shell", "from"):
                    out["tty" if key == "from" else key] = value
        if "target" in g:
            out["target_user"] = g["target"]
        group = g.get("group") or g.get("group2")
        if group:
            out["group"] = group
        if "file" in g:
            out["file_path"] = g["file"]
        if g.get("change"):
            out["change"] = g["change"].strip()
        if "target_user" in out:
            out["user_name"] = out["target_user"]
        return out
    return {}


# ---- cron ------------------------------------------------------------------------------
_CRON_CMD = re.compile(r"^\((?P<user>[^)]+)\) CMD \((?P<command>.*)\)\s*$")


def _cron(message: str) -> Fields:
    """``(root) CMD (command)``: who ran what."""
    m = _CRON_CMD.match(message)
    if m is None:
        return {}
    return {
        "action": "cron_command",
        "user_name": m["user"],
        "command": m["command"],
        "process_cmdline": m["command"],
    }


_BY_PROGRAM: dict[str, Callable[[str], Fields]] = {
    "sshd": _sshd,
    "sshd-session": _sshd,
    "sudo": _sudo,
    "su": _su,
    "cron": _cron,
    "crond": _cron,
    **dict.fromkeys(
        (
            "useradd",
            "usermod",
            "userdel",
            "groupadd",
            "groupmod",
            "groupdel",
            "gpasswd",
            "chfn",
            "chage",
            "newusers",
        ),
        _shadow,
    ),
}


def extract(program: str | None, message: str) -> Fields:
    """Core and native fields found in one auth-log message (empty when nothing is known).

    Keys that are core columns (``user_name``, ``user_sid``, ``src_ip``, ``src_port``,
    ``dst_ip``, ``dst_port``, ``process_cmdline``, ``file_path``) carry core types; every other
    key is a native field with a ``str`` value.
    """
    text = message.strip()
    if text.startswith(("pam_", "PAM ")):
        return _pam(text)
    handler = _BY_PROGRAM.get(_base(program)) if program else None
    if handler is None:
        return {}
    return handler(text)
