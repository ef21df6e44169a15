"""Generate the synthetic DIMS hospital ransomware case in ``sample_data/`` (SYNTHETIC data).

The incident is the one ``docs/scenario.md`` describes: an RDP jump host exposed to the internet
(WIN-TS01) is password-sprayed from 203.0.113.45, the attacker dumps LSASS, moves to the domain
controller, exfiltrates a database backup share, then pushes a ransomware stand-in to the SQL and
lab servers with PsExec, deletes shadow copies, encrypts, and clears the logs. LIS-APP01's clock
runs 3 min 40 s fast; the Linux auth.log has no year; a forwarded copy of the Security and System
logs was taken before they were cleared.

The scenario is data: ``scripts/dims/world.py`` (hosts, accounts, addresses, clocks) and
``scripts/dims/scenario.py`` (the 21 steps: actions, times, evidence); ``scripts/dims/actions.py``
plays it through the recorder (``recorder.py``), after the everyday background (``background.py``);
``writers.py`` writes the files.

Deterministic: the same options give the same bytes (a seeded ``random.Random``, fixed
timestamps, sorted output, no wall-clock time anywhere).

    python scripts/make_sample_data.py                       # writes sample_data/
    python scripts/make_sample_data.py --out /tmp/big --hosts 400 --days 7   # ~2 million events

With ``--hosts``/``--days`` the case grows (more hosts, more days of benign background, more
encrypted files); such a case must be written outside the repository.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "scripts"):  # run as a plain script from a checkout
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from dims.actions import Player  # noqa: E402
from dims.background import benign, firewall_noise  # noqa: E402
from dims.iocs import write_iocs  # noqa: E402
from dims.readme import README  # noqa: E402
from dims.recorder import Options, Recorder  # noqa: E402
from dims.scenario import SCENE  # noqa: E402
from dims.world import SEED  # noqa: E402
from dims.writers import (  # noqa: E402
    steps_table,
    write_extra_hosts,
    write_image_files,
    write_linux,
    write_meta,
    write_network_edr,
    write_windows,
)

__all__ = ["Options", "build", "generate", "main"]


def build(opts: Options) -> Recorder:
    """The background, then the incident scene by scene; everything stays in memory."""
    rec = Recorder(opts)
    benign(rec)
    firewall_noise(rec)
    player = Player(rec)
    for scene in SCENE:
        player.scene(scene)
    rec.step = None
    return rec


def generate(out: Path, opts: Options) -> dict[str, int]:
    """Write the whole case to ``out`` (replacing what the generator owns there)."""
    c = build(opts)
    for sub in ("collection", "network", "edr", "iocs"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    counts = write_windows(c, out)
    counts.update(write_extra_hosts(out, opts))
    counts.update(write_linux(c, out))
    counts.update(write_network_edr(c, out))
    write_image_files(out, c.rng)
    write_iocs(out)
    counts = dict(sorted(counts.items()))
    write_meta(c, out, counts)
    readme = README.format(n_records=sum(counts.values()), n_files=len(counts), steps_table=steps_table(c))
    (out / "README.md").write_text(readme, encoding="utf-8", newline="\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--out", type=Path, default=REPO / "sample_data", help="output folder (default sample_data/)"
    )
    ap.add_argument("--hosts", type=int, default=0, help="extra benign Windows hosts (large case)")
    ap.add_argument("--days", type=int, default=1, help="days of benign background before the attack day")
    ap.add_argument("--seed", type=int, default=SEED, help="random seed (default: the committed case's)")
    args = ap.parse_args(argv)
    opts = Options(seed=args.seed, extra_hosts=args.hosts, days=max(1, args.days))
    if opts.large:
        opts.encrypt_files = 2000
        out = args.out.resolve()
        if out == REPO or REPO in out.parents:
            print(f"error: a large case must be written outside the repository (got {out})", file=sys.stderr)
            return 2
    counts = generate(args.out, opts)
    print(f"wrote {sum(counts.values())} records in {len(counts)} files to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
