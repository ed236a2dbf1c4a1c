"""The hunt's HTML report in a real headless browser (Debian's chromium), offline.

The page is loaded from a file with every network request refused; the test reads back the DOM the browser
built (the hostile rule title and record text must be text nodes, not elements) and a screenshot, decoded
here, in which the timeline bars must be painted in their colour.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from sigma_lambda_layer.hunt import hunt
from tests.support.rulekit import rule_yaml

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
BAR = (0x09, 0x69, 0xDA)  # the timeline bar colour of hunt/report.py


def _browser(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",  # nothing may leave the machine: every request would fail
            "--window-size=1000,1400",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG (what chromium writes) into rows of raw pixel bytes."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data, width = 8, b"", 0
    height = channels = 0
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    raw, stride, rows = zlib.decompress(data), width * channels, []
    previous = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def test_hunt_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    title = "Login <img src=x onerror=alert(1)>"
    rule = tmp_path / "rule.yml"
    rule.write_text(rule_yaml("selection:\n    eventName: ConsoleLogin\ncondition: selection", title=title))
    records = [
        {
            "eventTime": f"2024-05-0{day}T10:00:00Z",
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "eventID": f"e{day}",
            "userAgent": "</pre><script>document.title='pwned'</script>",
            "userIdentity": {"arn": "arn:aws:iam::111122223333:user/alice"},
        }
        for day in range(1, 8)
    ]
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = tmp_path / "hunt.html"
    report.write_text(hunt(str(rule), str(tmp_path / "l.jsonl")).html_report(), encoding="utf-8")

    dom = _browser("--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr
    assert "<title>sigma-lambda hunt report</title>" in dom.stdout  # no script ran to change it
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom.stdout and "<img" not in dom.stdout
    assert "<script>" not in dom.stdout
    assert dom.stdout.count("<rect") == 7  # one bar per day of the timeline

    shot = tmp_path / "shot.png"
    done = _browser(f"--screenshot={shot}", report.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr
    width, channels, rows = _pixels(shot.read_bytes())
    painted = sum(
        1
        for row in rows
        for x in range(0, width * channels, channels)
        if tuple(row[x : x + 3]) == BAR
    )
    assert painted > 100, "the timeline bars should be painted"
