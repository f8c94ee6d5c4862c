"""The demo as a new user runs it with only the base install: the WSGI example in process,
then the receiver's statistics read with ``pirsch``, which prints plain tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What the base install lacks: the servers, the frameworks, and rich (the cli extra).
EXTRAS = ("gunicorn", "uvicorn", "flask", "django", "fastapi", "starlette", "rich")


def test_the_demo_with_only_the_base_install_ends_with_plain_statistics_tables(
        tmp_path: Path) -> None:
    # Imported by every Python process started with this PYTHONPATH, the demo's children too.
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        f"sys.modules.update(dict.fromkeys({EXTRAS!r}))  # None: 'import x' fails\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIRSCH_")}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(tmp_path), str(REPO), os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "examples/demo.py"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "runs in this process under wsgiref" in out
    assert out.rstrip().endswith("demo OK")
    pages = out[out.index("$ pirsch stats pages"):out.index("$ pirsch stats visitors")]
    header, rule, *rows = [line for line in pages.splitlines()[2:] if line.strip()]
    assert header.split()[:3] == ["hostname", "path", "visitors"]
    assert set(rule.replace(" ", "")) == {"-"}  # plain text, not rich's box drawing
    assert [row.split()[1] for row in rows] == ["/", "/pricing", "/welcome"]
    visitors = out[out.index("$ pirsch stats visitors --scale day"):]
    assert "visitors per day" in visitors
    assert "─" not in out
