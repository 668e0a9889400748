"""`make test` says what it does to the machine: installing Debian's chromium is announced before it starts."""

from __future__ import annotations

import subprocess

from devhost.azurite import ROOT


def test_make_test_says_before_it_installs_chromium_through_apt() -> None:
    recipe = subprocess.run(
        ["make", "-n", "browser"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    announced = recipe.find("echo \"Installing Debian's chromium with apt-get")
    assert 0 <= announced < recipe.find("apt-get install")
