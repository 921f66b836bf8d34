"""Every image the README shows is a file the repository tracks (a ``*.png`` ignore rule once kept the
COMBINE-archive figure out of a commit while the README pointed at it)."""

from __future__ import annotations

import re
import subprocess

from support import ROOT


def test_every_image_in_the_readme_is_tracked():
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", (ROOT / "README.md").read_text())
    assert images, "the README shows no image: this test would check nothing"
    tracked = set(subprocess.run(["git", "ls-files", *images], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split())
    assert [i for i in images if i not in tracked] == []
