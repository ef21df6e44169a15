"""Disk-image ingest against ingesting the same files directly, in one run; peak RSS of a batch.

    python bench/images.py [DATA_DIR] [--images N] [--kind e01|ex01|raw|qcow2|vmdk|vhdx] [--workers W] [--repeat K]

Builds N Windows disk images (NTFS, MBR, SYSTEM hive) whose winevt/Logs hold the EVTX files
of DATA_DIR (default ../shared/data: EVTX-ATTACK-SAMPLES and DeepBlueCLI, split round-robin
over the images), converted to the chosen container, and a folder holding the same files.
Then, alternately ``--repeat`` times (best of each kept; this machine is noisy):

1. ``direct``: ``ingest_paths`` over the folder into a fresh case;
2. ``images``: ``run_batch`` over the N images into a fresh case.

Prints MB/s of image (and of the log files inside), records/s, the image/direct wall-time
ratio, and the peak RSS of the batch (driver plus workers, sampled every 20 ms). Image ingest
does more than the direct one: it hashes every image file (and for EWF, the media against the
acquisition's digest), walks each volume and the NTFS MFT for deleted logs, and copies each
log out of the container before parsing it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import psutil  # noqa: E402
from ingest import RssSampler  # noqa: E402

from forensics.batch.driver import run_batch  # noqa: E402
from forensics.batch.manifest import folder_specs  # noqa: E402
from forensics.ingest.runner import ingest_paths  # noqa: E402
from forensics.store import Case  # noqa: E402
from forensics.testing import disk_images as di  # noqa: E402


def build(data: Path, n: int, kind: str, work: Path) -> tuple[Path, Path, int, int]:
    """(folder of images, folder of the same files, bytes of log files, bytes of the disks inside)."""
    evtx = sorted(
        p
        for sub in ("EVTX-ATTACK-SAMPLES", "DeepBlueCLI")
        for p in (data / sub).rglob("*.evtx")
        if p.is_file()
    )
    images, tree = work / "images", work / "tree"
    images.mkdir()
    logs = media = 0
    for i in range(n):
        mine = evtx[i::n]
        names: dict[str, Path] = {}
        for p in mine:  # unique names inside one Logs folder
            names.setdefault(p.name, p)
        files = sorted(names.values())
        for p in files:
            dest = tree / f"host{i:03d}" / "Windows/System32/winevt/Logs" / p.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
            logs += p.stat().st_size
        vol = di.windows_volume(
            files, computer_name=f"BENCH-{i:03d}", time_zone_key="India Standard Time", bias_minutes=-330,
            work=work,
        )  # fmt: skip
        raw = di.build_disk([vol], work / f"host{i:03d}.raw")
        media += raw.stat().st_size
        if kind == "raw":
            raw.rename(images / raw.name)
        else:
            suffix = {"e01": "E01", "ex01": "Ex01"}.get(kind, kind)
            ewf = {"e01": "encase6", "ex01": "encase7-v2"}
            di.convert(
                raw,
                "ewf" if kind in ewf else kind,
                images / f"host{i:03d}.{suffix}",
                ewf_format=ewf.get(kind, "encase6"),
            )
            raw.unlink()
    return images, tree, logs, media


class CpuSampler:
    """CPU seconds of this process and every descendant (forkserver workers included), sampled every 20 ms.

    Worker processes of a forkserver are not our children, so ``getrusage(RUSAGE_CHILDREN)`` never
    counts them: each pid's last seen user + system time is kept and summed.
    """

    def __init__(self) -> None:
        self.last: dict[int, float] = {}
        self.base: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        for p in [me, *me.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            self.last[p.pid] = t.user + t.system

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample()
        self.base = dict(self.last)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(v - self.base.get(pid, 0.0) for pid, v in self.last.items())


def rows(case: Path) -> int:
    with Case.open(case, read_only=True) as c:
        return int(c.con.execute("SELECT count(*) FROM events").fetchone()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--kind", default="e01", choices=["e01", "ex01", "raw", "qcow2", "vmdk", "vhdx"])
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        images, tree, log_bytes, media = build(Path(args.data), args.images, args.kind, work)
        specs = folder_specs(images)
        image_bytes = sum(p.stat().st_size for p in images.iterdir())
        print(f"built {len(specs)} {args.kind} images ({image_bytes / 1e6:.1f} MB of image files, disks of "
              f"{media / 1e6:.1f} MB; log files inside "
              f"{log_bytes / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        best = {"direct": float("inf"), "images": float("inf")}
        cpu = {"direct": float("inf"), "images": float("inf")}
        peak = 0
        counts = {}
        for k in range(args.repeat):
            for which in ("direct", "images"):
                case = work / f"case-{which}-{k}"
                with RssSampler() as rss, CpuSampler() as cpus:
                    start = time.perf_counter()
                    if which == "direct":
                        ingest_paths(case, [tree], workers=args.workers)
                    else:
                        run_batch(case, specs, workers=args.workers)
                    took = time.perf_counter() - start
                cpu[which] = min(cpu[which], cpus.seconds)
                if which == "images":
                    peak = max(peak, rss.peak)
                best[which] = min(best[which], took)
                counts[which] = rows(case)
                shutil.rmtree(case)
        n = counts["direct"]
        print(f"rows: direct {n:,}, images {counts['images']:,} (equal: {n == counts['images']})")
        d, i = best["direct"], best["images"]
        print(
            f"direct ingest of the files : {d:7.2f} s  {log_bytes / 1e6 / d:7.1f} MB/s of logs   {n / d:10,.0f} records/s"
        )
        print(f"ingest from the images     : {i:7.2f} s  {image_bytes / 1e6 / i:7.1f} MB/s of image files  "
              f"{media / 1e6 / i:7.1f} MB/s of disk  "
              f"{log_bytes / 1e6 / i:7.1f} MB/s of logs   {counts['images'] / i:10,.0f} records/s")  # fmt: skip
        print(f"ratio images / direct (wall): {i / d:.2f}x")
        print(
            f"CPU seconds (this process + all its workers): direct {cpu['direct']:.1f}, "
            f"images {cpu['images']:.1f}, ratio {cpu['images'] / cpu['direct']:.2f}x"
        )
        print(f"peak RSS of the batch over {len(specs)} images (driver + workers): {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
