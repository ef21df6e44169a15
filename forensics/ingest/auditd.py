"""Linux audit logs (``/var/log/audit/audit.log``): the records of one event joined into one row.

The kernel writes one event as several records (SYSCALL, EXECVE, CWD, PATH..., PROCTITLE,
then EOE) that share ``msg=audit(<time>:<serial>)``, not always next to each other. Records are
gathered by (node, time, serial); an event is complete at its EOE record or once
``WINDOW`` further lines have gone by without another of its records, and events are emitted in
the order their first record appeared. Lines that are not audit records become rejects, so
rows + rejects = distinct events + unreadable lines.

Field names stay those of auditd, as Sigma ``product: linux, service: auditd`` rules use them
(``type``, ``SYSCALL`` (the syscall's name), ``a0``..., ``exe``, ``comm``, ``key``, ``name``,
``cwd``, ``proctitle``...). Column names ignore case, so where auditd has two spellings the
number keeps a new name: ``syscall_nr`` (``syscall=59``) beside ``SYSCALL`` (``execve``), and
ENRICHED-format interpretations go to ``<field>_name`` (``UID="root"`` -> ``uid_name``).
One row has several records, so:

* ``type`` is the event's main record type (EXECVE, else SYSCALL, else the first) and
  ``types`` all of them, space separated, in file order;
* a field keeps its bare name from the first record that has it (EXECVE's ``a0``... win over
  SYSCALL's register arguments, which become ``syscall_a0``...); the same field in a later
  record is prefixed with its record type (``path_mode``), and in the n-th record of one type
  with type and number (``path1_name`` for the second PATH record).

Hex-encoded values (auditd writes untrusted strings as upper-case hex when they hold spaces,
quotes or control characters) are decoded; ``proctitle`` arguments are joined by spaces.
An event with EXECVE is a Sigma ``process_creation``: ``process_image`` (exe),
``process_cmdline`` (the arguments joined by spaces) and the aliases ``Image``,
``CommandLine``, ``CurrentDirectory``, ``User``, ``ProcessId``, ``ParentProcessId``.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.text import Decoded, LineDecoder, raw_b64

WINDOW = 1000  # lines after an event's last record before it is taken as complete
MAX_RAW = 65_536

_LINE = re.compile(
    r"^(?:node=(?P<node>\S+) )?type=(?P<type>\S+) msg=audit\((?P<time>\d+(?:\.\d+)?):(?P<serial>\d+)\):?\s?(?P<body>.*)$"
)
_SNIFF = re.compile(rb"^(?:node=\S+ )?type=[A-Z_0-9\[\]]+ msg=audit\(\d+(?:\.\d+)?:\d+\)")
_KV = re.compile(r"([A-Za-z_][\w-]*(?:\[\d+\])?)=(\"[^\"]*\"?|'[^']*'?|\S*)")
_HEX = re.compile(r"^(?:[0-9A-F]{2})+$")
_EXECVE_ARG = re.compile(r"^a\d+(?:\[\d+\])?$")
_SPLIT_ARG = re.compile(r"^(a\d+)\[(\d+)\]$")

# Fields auditd hex-encodes when their value holds a space, quote or control character.
ENCODED = frozenset(
    {
        "name", "path", "comm", "exe", "cwd", "proctitle", "cmd", "acct", "data", "key", "dir",
        "file", "ocomm", "vm", "root_dir", "sw", "watch", "old", "new", "grp", "new_group",
        "id", "cgroup", "subj", "obj", "unit", "hostname", "terminal", "device",
    }
)  # fmt: skip
ARCHES = {"c000003e": "x86_64", "c00000b7": "aarch64", "40000003": "i386"}


@dataclass
class _Record:
    type: str
    fields: dict[str, str | None]
    raw: str
    data: bytes = b""  # the line's bytes
    undecoded: bool = False  # they are not text in the file's encoding (``raw`` has U+FFFD)


@dataclass
class _Event:
    node: str | None
    time: str
    serial: int
    line: int
    offset: int
    last_line: int
    records: list[_Record] = field(default_factory=list)
    done: bool = False


def _decode_hex(value: str) -> str:
    return bytes.fromhex(value).decode("utf-8", errors="replace")


def _value(name: str, raw: str, record_type: str) -> str | None:
    """One field value: unquoted, hex decoded where auditd encodes it, ``(null)`` as None."""
    if raw.startswith('"'):
        return raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:]
    if raw.startswith("'"):
        return raw[1:-1] if raw.endswith("'") and len(raw) > 1 else raw[1:]
    if raw in ("(null)", "(none)") and name in ("key", "tty"):
        return None
    encoded = name in ENCODED or (record_type == "EXECVE" and _EXECVE_ARG.match(name) is not None)
    if encoded and _HEX.match(raw):
        text = _decode_hex(raw)
        if name == "proctitle":
            return text.replace("\x00", " ").strip()
        if name == "key":
            return ",".join(k for k in text.split("\x01") if k)
        return text
    return raw


def parse_fields(body: str, record_type: str) -> dict[str, str | None]:
    """``key=value`` pairs of one record body, the quoted ``msg='...'`` of user records opened up."""
    out: dict[str, str | None] = {}
    main, _, enriched = body.partition("\x1d")  # ENRICHED format: interpreted names after GS
    for key, raw in _KV.findall(main):
        if key == "msg" and raw.startswith("'"):
            inner = raw.strip("'")
            for k2, r2 in _KV.findall(inner):
                out.setdefault(k2, _value(k2, r2, record_type))
            continue
        out.setdefault(key, _value(key, raw, record_type))
    for key, raw in _KV.findall(enriched):
        # DuckDB column names ignore case, so UID="root" cannot sit beside uid=0: the
        # interpreted value goes to uid_name; SYSCALL keeps its name (Sigma rules use it)
        name = key if key == "SYSCALL" else f"{key.lower()}_name"
        out.setdefault(name, _value("", raw, record_type))
    _join_split_args(out)
    return out


def _join_split_args(fields: dict[str, str | None]) -> None:
    """EXECVE arguments too long for one record come as ``a1[0]``, ``a1[1]``...: join them."""
    parts: dict[str, list[tuple[int, str]]] = {}
    for key in [k for k in fields if "[" in k]:
        m = _SPLIT_ARG.match(key)
        if m:
            parts.setdefault(m.group(1), []).append((int(m.group(2)), fields.pop(key) or ""))
    for arg, pieces in parts.items():
        fields.setdefault(arg, "".join(p for _, p in sorted(pieces)))


class AuditdParser:
    """Linux audit log (``type=... msg=audit(time:serial): ...``), one row per event."""

    name = "auditd"
    description = "Linux audit log (audit.log): records of one event joined into one row"

    def sniff(self, head: bytes, name: str) -> bool:
        """The first line is an audit record."""
        return _SNIFF.match(head.lstrip(b"\xef\xbb\xbf")) is not None

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per event (records joined), one reject per line that is not a record."""
        open_events: OrderedDict[tuple[str | None, str, int], _Event] = OrderedDict()
        line_no = 0
        decoder = LineDecoder(src.encoding)
        with open(src.local, "rb") as fh:
            offset = 0
            for line_no, raw in enumerate(fh, 1):
                data = raw.rstrip(b"\n").rstrip(b"\r")
                line = decoder(data)
                start = offset
                offset += len(raw)
                reject = self._add(line, data, line_no, start, open_events)
                if reject is not None:
                    yield reject
                yield from self._ready(open_events, line_no, src, ctx)
        yield from self._ready(open_events, None, src, ctx)

    def _add(
        self,
        line: Decoded,
        data: bytes,
        line_no: int,
        offset: int,
        events: OrderedDict[tuple[str | None, str, int], _Event],
    ) -> Reject | None:
        """File one line under its event; a reject when it is not an audit record."""
        text = line.text
        if "\x00" in text:
            return Reject(
                "binary data, not an audit record", text[:MAX_RAW].replace("\x00", "\\x00"), offset, line_no,
                raw_b64=raw_b64(data[:MAX_RAW]),
            )  # fmt: skip
        m = _LINE.match(text)
        if m is None:
            reason = (
                "empty line"
                if not text.strip()
                else "not an audit record (no type=... msg=audit(time:serial))"
            )
            return Reject(reason, text[:MAX_RAW], offset, line_no, raw_b64=line.raw_b64)
        key = (m["node"], m["time"], int(m["serial"]))
        event = events.get(key)
        if event is None:
            event = _Event(m["node"], m["time"], int(m["serial"]), line_no, offset, line_no)
            events[key] = event
        event.last_line = line_no
        if m["type"] == "EOE":
            event.done = True
            event.records.append(_Record("EOE", {}, text, data, line.raw_b64 is not None))
            return None
        fields = parse_fields(m["body"], m["type"])
        event.records.append(_Record(m["type"], fields, text, data, line.raw_b64 is not None))
        return None

    def _ready(
        self,
        events: OrderedDict[tuple[str | None, str, int], _Event],
        line_no: int | None,
        src: InputFile,
        ctx: ParseContext,
    ) -> Iterator[Row]:
        """Emit complete events from the front, keeping file order (all of them at the end)."""
        while events:
            event = next(iter(events.values()))
            if line_no is not None and not event.done and line_no - event.last_line < WINDOW:
                return
            events.popitem(last=False)
            row = event_row(event)
            row["source"] = self.name
            if row.get("host") is None:
                row["host"] = ctx.host or src.host_hint
            yield row


def _main_type(records: list[_Record]) -> str:
    types = [r.type for r in records if r.type != "EOE"]
    for wanted in ("EXECVE", "SYSCALL"):
        if wanted in types:
            return wanted
    return types[0] if types else "EOE"


def merge_fields(records: list[_Record]) -> dict[str, str | None]:
    """Fields of all records under one name each (see the module docstring for the rule)."""
    order = sorted(
        (r for r in records if r.type != "EOE"),
        key=lambda r: {"EXECVE": 0, "SYSCALL": 1}.get(r.type, 2),
    )  # stable: file order within each rank
    out: dict[str, str | None] = {}
    seen: dict[str, int] = {}
    for rec in order:
        n = seen.get(rec.type, 0)
        seen[rec.type] = n + 1
        prefix = rec.type.lower() if n == 0 else f"{rec.type.lower()}{n}"
        for key, value in rec.fields.items():
            name = key if n == 0 and key not in out else f"{prefix}_{key}"
            if key in ("type", "node"):
                name = f"{prefix}_{key}"
            out.setdefault(name, value)
    return out


def _timestamp(text: str) -> datetime | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    seconds = int(value)
    micros = int((value - seconds) * 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def event_row(event: _Event) -> Row:
    """One event's records as a row."""
    fields = merge_fields(event.records)
    main = _main_type(event.records)
    types = [r.type for r in event.records if r.type != "EOE"]
    row: Row = {
        "ts": _timestamp(event.time),
        "ts_raw": event.time,
        "ts_zone": "UTC",
        "ts_assumed": False,
        "ts_year_inferred": False,
        "host": event.node,
        "channel": "auditd",
        "provider": main,
        "record_id": event.serial,
        "rec_line": event.line,
        "rec_offset": event.offset,
        "message": "\n".join(r.raw for r in event.records),
        "type": main,
        "types": " ".join(types),
        "record_count": str(len(event.records)),
    }
    if any(r.undecoded for r in event.records):  # the event's lines as they are, joined as in message
        row["raw_b64"] = raw_b64(b"\n".join(r.data for r in event.records))
    if event.node is not None:
        row["node"] = event.node
    _syscall_name(fields)
    _network(fields, row)
    row.update(fields)
    _core(fields, row)
    if "EXECVE" in types:
        _process_creation(fields, row)
    return row


def _syscall_name(fields: dict[str, str | None]) -> None:
    """``SYSCALL``: the syscall's name (as the ENRICHED log format writes it) from arch + number.

    The number moves to ``syscall_nr``: column names ignore case, and Sigma rules match the
    name (``SYSCALL: execve``).
    """
    if "syscall" not in fields:
        return
    number_text = fields.pop("syscall")
    fields["syscall_nr"] = number_text
    if fields.get("SYSCALL"):
        return
    arch = ARCHES.get((fields.get("arch") or "").lower())
    table = _SYSCALLS.get(arch or "")
    number = _int(number_text)
    if table is not None and number is not None and number in table:
        fields["SYSCALL"] = table[number]


def _network(fields: dict[str, str | None], row: Row) -> None:
    """A SOCKADDR record's ``saddr`` decoded (AF_INET / AF_INET6) to address and port."""
    saddr = fields.get("saddr")
    if not saddr or not _HEX.match(saddr):
        return
    raw = bytes.fromhex(saddr)
    family = int.from_bytes(raw[:2], "little") if len(raw) >= 2 else -1
    if family == 2 and len(raw) >= 8:
        ip: str = str(ipaddress.IPv4Address(raw[4:8]))
    elif family == 10 and len(raw) >= 24:
        ip = str(ipaddress.IPv6Address(raw[8:24]))
    else:
        return
    port = int.from_bytes(raw[2:4], "big")
    fields["saddr_ip"] = ip
    fields["saddr_port"] = str(port)
    if fields.get("SYSCALL") in ("connect", "sendto", "sendmsg"):
        row["dst_ip"] = ip
        row["dst_port"] = port


def _core(fields: dict[str, str | None], row: Row) -> None:
    """Core columns every audit event can fill."""
    user = fields.get("acct") or fields.get("uid_name")
    if user and user != "?":
        row["user_name"] = user
    uid = fields.get("uid")
    if uid is not None:
        row["user_sid"] = uid
    row["process_pid"] = _int(fields.get("pid"))
    row["parent_pid"] = _int(fields.get("ppid"))
    if fields.get("exe"):
        row["process_image"] = fields["exe"]
    addr = _ip(fields.get("addr"))
    if addr is not None:
        row["src_ip"] = addr
    name = _file_name(fields)
    if name:
        row["file_path"] = name


def _ip(text: str | None) -> str | None:
    """An address field that is an IP address (``?`` and host names are not)."""
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _file_name(fields: dict[str, str | None]) -> str | None:
    """The first PATH name that is not the parent directory of the object."""
    n = 0
    while True:
        prefix = "" if n == 0 else f"path{n}_"
        name = fields.get(f"{prefix}name")
        if name is None:
            return fields.get("name") if n else None
        if fields.get(f"{prefix}nametype") != "PARENT":
            return name
        n += 1


def _process_creation(fields: dict[str, str | None], row: Row) -> None:
    """EXECVE: a process creation, with the Sigma field names of that category."""
    argc = _int(fields.get("argc"))
    count = argc if argc is not None else sum(1 for k in fields if re.fullmatch(r"a\d+", k))
    args = [fields.get(f"a{i}") or "" for i in range(count)]
    cmdline = " ".join(args)
    row["category"] = "process_creation"
    row["process_cmdline"] = cmdline
    row["CommandLine"] = cmdline
    if fields.get("exe"):
        row["Image"] = fields["exe"]
    if fields.get("cwd") is not None:
        row["CurrentDirectory"] = fields["cwd"]
    user = fields.get("uid_name") or fields.get("uid")
    if user is not None:
        row["User"] = user
    if fields.get("pid") is not None:
        row["ProcessId"] = fields["pid"]
    if fields.get("ppid") is not None:
        row["ParentProcessId"] = fields["ppid"]


_X86_64 = (
    "0:read 1:write 2:open 3:close 4:stat 5:fstat 6:lstat 7:poll 8:lseek 9:mmap 10:mprotect 11:munmap "
    "12:brk 13:rt_sigaction 14:rt_sigprocmask 15:rt_sigreturn 16:ioctl 17:pread64 18:pwrite64 19:readv "
    "20:writev 21:access 22:pipe 23:select 24:sched_yield 25:mremap 26:msync 27:mincore 28:madvise "
    "29:shmget 30:shmat 31:shmctl 32:dup 33:dup2 34:pause 35:nanosleep 36:getitimer 37:alarm 38:setitimer "
    "39:getpid 40:sendfile 41:socket 42:connect 43:accept 44:sendto 45:recvfrom 46:sendmsg 47:recvmsg "
    "48:shutdown 49:bind 50:listen 51:getsockname 52:getpeername 53:socketpair 54:setsockopt "
    "55:getsockopt 56:clone 57:fork 58:vfork 59:execve 60:exit 61:wait4 62:kill 63:uname 64:semget "
    "65:semop 66:semctl 67:shmdt 68:msgget 69:msgsnd 70:msgrcv 71:msgctl 72:fcntl 73:flock 74:fsync "
    "75:fdatasync 76:truncate 77:ftruncate 78:getdents 79:getcwd 80:chdir 81:fchdir 82:rename 83:mkdir "
    "84:rmdir 85:creat 86:link 87:unlink 88:symlink 89:readlink 90:chmod 91:fchmod 92:chown 93:fchown "
    "94:lchown 95:umask 96:gettimeofday 97:getrlimit 98:getrusage 99:sysinfo 100:times 101:ptrace "
    "102:getuid 103:syslog 104:getgid 105:setuid 106:setgid 107:geteuid 108:getegid 109:setpgid "
    "110:getppid 111:getpgrp 112:setsid 113:setreuid 114:setregid 115:getgroups 116:setgroups "
    "117:setresuid 118:getresuid 119:setresgid 120:getresgid 121:getpgid 122:setfsuid 123:setfsgid "
    "124:getsid 125:capget 126:capset 127:rt_sigpending 128:rt_sigtimedwait 129:rt_sigqueueinfo "
    "130:rt_sigsuspend 131:sigaltstack 132:utime 133:mknod 134:uselib 135:personality 136:ustat "
    "137:statfs 138:fstatfs 139:sysfs 140:getpriority 141:setpriority 142:sched_setparam "
    "143:sched_getparam 144:sched_setscheduler 145:sched_getscheduler 146:sched_get_priority_max "
    "147:sched_get_priority_min 148:sched_rr_get_interval 149:mlock 150:munlock 151:mlockall "
    "152:munlockall 153:vhangup 154:modify_ldt 155:pivot_root 156:_sysctl 157:prctl 158:arch_prctl "
    "159:adjtimex 160:setrlimit 161:chroot 162:sync 163:acct 164:settimeofday 165:mount 166:umount2 "
    "167:swapon 168:swapoff 169:reboot 170:sethostname 171:setdomainname 172:iopl 173:ioperm "
    "174:create_module 175:init_module 176:delete_module 177:get_kernel_syms 178:query_module "
    "179:quotactl 180:nfsservctl 181:getpmsg 182:putpmsg 183:afs_syscall 184:tuxcall 185:security "
    "186:gettid 187:readahead 188:setxattr 189:lsetxattr 190:fsetxattr 191:getxattr 192:lgetxattr "
    "193:fgetxattr 194:listxattr 195:llistxattr 196:flistxattr 197:removexattr 198:lremovexattr "
    "199:fremovexattr 200:tkill 201:time 202:futex 203:sched_setaffinity 204:sched_getaffinity "
    "205:set_thread_area 206:io_setup 207:io_destroy 208:io_getevents 209:io_submit 210:io_cancel "
    "211:get_thread_area 212:lookup_dcookie 213:epoll_create 214:epoll_ctl_old 215:epoll_wait_old "
    "216:remap_file_pages 217:getdents64 218:set_tid_address 219:restart_syscall 220:semtimedop "
    "221:fadvise64 222:timer_create 223:timer_settime 224:timer_gettime 225:timer_getoverrun "
    "226:timer_delete 227:clock_settime 228:clock_gettime 229:clock_getres 230:clock_nanosleep "
    "231:exit_group 232:epoll_wait 233:epoll_ctl 234:tgkill 235:utimes 236:vserver 237:mbind "
    "238:set_mempolicy 239:get_mempolicy 240:mq_open 241:mq_unlink 242:mq_timedsend 243:mq_timedreceive "
    "244:mq_notify 245:mq_getsetattr 246:kexec_load 247:waitid 248:add_key 249:request_key 250:keyctl "
    "251:ioprio_set 252:ioprio_get 253:inotify_init 254:inotify_add_watch 255:inotify_rm_watch "
    "256:migrate_pages 257:openat 258:mkdirat 259:mknodat 260:fchownat 261:futimesat 262:newfstatat "
    "263:unlinkat 264:renameat 265:linkat 266:symlinkat 267:readlinkat 268:fchmodat 269:faccessat "
    "270:pselect6 271:ppoll 272:unshare 273:set_robust_list 274:get_robust_list 275:splice 276:tee "
    "277:sync_file_range 278:vmsplice 279:move_pages 280:utimensat 281:epoll_pwait 282:signalfd "
    "283:timerfd_create 284:eventfd 285:fallocate 286:timerfd_settime 287:timerfd_gettime 288:accept4 "
    "289:signalfd4 290:eventfd2 291:epoll_create1 292:dup3 293:pipe2 294:inotify_init1 295:preadv "
    "296:pwritev 297:rt_tgsigqueueinfo 298:perf_event_open 299:recvmmsg 300:fanotify_init "
    "301:fanotify_mark 302:prlimit64 303:name_to_handle_at 304:open_by_handle_at 305:clock_adjtime "
    "306:syncfs 307:sendmmsg 308:setns 309:getcpu 310:process_vm_readv 311:process_vm_writev 312:kcmp "
    "313:finit_module 314:sched_setattr 315:sched_getattr 316:renameat2 317:seccomp 318:getrandom "
    "319:memfd_create 320:kexec_file_load 321:bpf 322:execveat 323:userfaultfd 324:membarrier 325:mlock2 "
    "326:copy_file_range 327:preadv2 328:pwritev2 329:pkey_mprotect 330:pkey_alloc 331:pkey_free "
    "332:statx 333:io_pgetevents 334:rseq 424:pidfd_send_signal 425:io_uring_setup 426:io_uring_enter "
    "427:io_uring_register 428:open_tree 429:move_mount 430:fsopen 431:fsconfig 432:fsmount 433:fspick "
    "434:pidfd_open 435:clone3 436:close_range 437:openat2 438:pidfd_getfd 439:faccessat2 "
    "440:process_madvise 441:epoll_pwait2 442:mount_setattr 443:quotactl_fd 444:landlock_create_ruleset "
    "445:landlock_add_rule 446:landlock_restrict_self 447:memfd_secret 448:process_mrelease "
    "449:futex_waitv 450:set_mempolicy_home_node "
)
_AARCH64 = (
    "0:io_setup 1:io_destroy 2:io_submit 3:io_cancel 4:io_getevents 5:setxattr 6:lsetxattr 7:fsetxattr "
    "8:getxattr 9:lgetxattr 10:fgetxattr 11:listxattr 12:llistxattr 13:flistxattr 14:removexattr "
    "15:lremovexattr 16:fremovexattr 17:getcwd 18:lookup_dcookie 19:eventfd2 20:epoll_create1 "
    "21:epoll_ctl 22:epoll_pwait 23:dup 24:dup3 25:fcntl 26:inotify_init1 27:inotify_add_watch "
    "28:inotify_rm_watch 29:ioctl 30:ioprio_set 31:ioprio_get 32:flock 33:mknodat 34:mkdirat 35:unlinkat "
    "36:symlinkat 37:linkat 38:renameat 39:umount2 40:mount 41:pivot_root 42:nfsservctl 43:statfs "
    "44:fstatfs 45:truncate 46:ftruncate 47:fallocate 48:faccessat 49:chdir 50:fchdir 51:chroot 52:fchmod "
    "53:fchmodat 54:fchownat 55:fchown 56:openat 57:close 58:vhangup 59:pipe2 60:quotactl 61:getdents64 "
    "62:lseek 63:read 64:write 65:readv 66:writev 67:pread64 68:pwrite64 69:preadv 70:pwritev 71:sendfile "
    "72:pselect6 73:ppoll 74:signalfd4 75:vmsplice 76:splice 77:tee 78:readlinkat 79:fstatat 80:fstat "
    "81:sync 82:fsync 83:fdatasync 84:sync_file_range 85:timerfd_create 86:timerfd_settime "
    "87:timerfd_gettime 88:utimensat 89:acct 90:capget 91:capset 92:personality 93:exit 94:exit_group "
    "95:waitid 96:set_tid_address 97:unshare 98:futex 99:set_robust_list 100:get_robust_list "
    "101:nanosleep 102:getitimer 103:setitimer 104:kexec_load 105:init_module 106:delete_module "
    "107:timer_create 108:timer_gettime 109:timer_getoverrun 110:timer_settime 111:timer_delete "
    "112:clock_settime 113:clock_gettime 114:clock_getres 115:clock_nanosleep 116:syslog 117:ptrace "
    "118:sched_setparam 119:sched_setscheduler 120:sched_getscheduler 121:sched_getparam "
    "122:sched_setaffinity 123:sched_getaffinity 124:sched_yield 125:sched_get_priority_max "
    "126:sched_get_priority_min 127:sched_rr_get_interval 128:restart_syscall 129:kill 130:tkill "
    "131:tgkill 132:sigaltstack 133:rt_sigsuspend 134:rt_sigaction 135:rt_sigprocmask 136:rt_sigpending "
    "137:rt_sigtimedwait 138:rt_sigqueueinfo 139:rt_sigreturn 140:setpriority 141:getpriority 142:reboot "
    "143:setregid 144:setgid 145:setreuid 146:setuid 147:setresuid 148:getresuid 149:setresgid "
    "150:getresgid 151:setfsuid 152:setfsgid 153:times 154:setpgid 155:getpgid 156:getsid 157:setsid "
    "158:getgroups 159:setgroups 160:uname 161:sethostname 162:setdomainname 163:getrlimit 164:setrlimit "
    "165:getrusage 166:umask 167:prctl 168:getcpu 169:gettimeofday 170:settimeofday 171:adjtimex "
    "172:getpid 173:getppid 174:getuid 175:geteuid 176:getgid 177:getegid 178:gettid 179:sysinfo "
    "180:mq_open 181:mq_unlink 182:mq_timedsend 183:mq_timedreceive 184:mq_notify 185:mq_getsetattr "
    "186:msgget 187:msgctl 188:msgrcv 189:msgsnd 190:semget 191:semctl 192:semtimedop 193:semop "
    "194:shmget 195:shmctl 196:shmat 197:shmdt 198:socket 199:socketpair 200:bind 201:listen 202:accept "
    "203:connect 204:getsockname 205:getpeername 206:sendto 207:recvfrom 208:setsockopt 209:getsockopt "
    "210:shutdown 211:sendmsg 212:recvmsg 213:readahead 214:brk 215:munmap 216:mremap 217:add_key "
    "218:request_key 219:keyctl 220:clone 221:execve 222:mmap 223:fadvise64 224:swapon 225:swapoff "
    "226:mprotect 227:msync 228:mlock 229:munlock 230:mlockall 231:munlockall 232:mincore 233:madvise "
    "234:remap_file_pages 235:mbind 236:get_mempolicy 237:set_mempolicy 238:migrate_pages 239:move_pages "
    "240:rt_tgsigqueueinfo 241:perf_event_open 242:accept4 243:recvmmsg 244:arch_specific_syscall "
    "260:wait4 261:prlimit64 262:fanotify_init 263:fanotify_mark 266:clock_adjtime 267:syncfs 268:setns "
    "269:sendmmsg 270:process_vm_readv 271:process_vm_writev 272:kcmp 273:finit_module 274:sched_setattr "
    "275:sched_getattr 276:renameat2 277:seccomp 278:getrandom 279:memfd_create 280:bpf 281:execveat "
    "282:userfaultfd 283:membarrier 284:mlock2 285:copy_file_range 286:preadv2 287:pwritev2 "
    "288:pkey_mprotect 289:pkey_alloc 290:pkey_free 291:statx 292:io_pgetevents 293:rseq "
    "294:kexec_file_load 403:clock_gettime64 404:clock_settime64 405:clock_adjtime64 "
    "406:clock_getres_time64 407:clock_nanosleep_time64 408:timer_gettime64 409:timer_settime64 "
    "410:timerfd_gettime64 411:timerfd_settime64 412:utimensat_time64 413:pselect6_time64 "
    "414:ppoll_time64 416:io_pgetevents_time64 417:recvmmsg_time64 418:mq_timedsend_time64 "
    "419:mq_timedreceive_time64 420:semtimedop_time64 421:rt_sigtimedwait_time64 422:futex_time64 "
    "423:sched_rr_get_interval_time64 424:pidfd_send_signal 425:io_uring_setup 426:io_uring_enter "
    "427:io_uring_register 428:open_tree 429:move_mount 430:fsopen 431:fsconfig 432:fsmount 433:fspick "
    "434:pidfd_open 435:clone3 436:close_range 437:openat2 438:pidfd_getfd 439:faccessat2 "
    "440:process_madvise 441:epoll_pwait2 442:mount_setattr 443:quotactl_fd 444:landlock_create_ruleset "
    "445:landlock_add_rule 446:landlock_restrict_self 447:memfd_secret 448:process_mrelease "
    "449:futex_waitv 450:set_mempolicy_home_node 451:syscalls "
)


def _table(text: str) -> dict[int, str]:
    return {int(n): name for n, _, name in (p.partition(":") for p in text.split())}


# syscall numbers -> names, from the kernel's uapi unistd headers (x86_64, asm-generic for aarch64)
_SYSCALLS: dict[str, dict[int, str]] = {"x86_64": _table(_X86_64), "aarch64": _table(_AARCH64)}
