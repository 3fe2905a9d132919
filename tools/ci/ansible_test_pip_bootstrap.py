"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

ansible-test creates every sanity test's virtualenv without pip and then runs a bootstrap script
(fetched from ci-files.testing.ansible.com, which this network cannot reach) inside it with pip's
install arguments, for example ``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``.
This script does the same job from what is at hand: the pip bundled with Python (ensurepip) installs
the requested packages from the package index. ``make sanity`` copies it to the path ansible-test
looks in before downloading (``~/.ansible/test/cache/get_pip_<version>.py``).
"""

from __future__ import annotations

import subprocess
import sys

# Options of the real bootstrap script that plain `pip install` does not know.
_BOOTSTRAP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    args = [arg for arg in sys.argv[1:] if arg not in _BOOTSTRAP_ONLY_OPTIONS]
    # In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in its own environment,
    # which would hide the machine's pip configuration (index, CA bundle) from the install below.
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])
    if "--no-setuptools" in sys.argv[1:]:
        # Python 3.11's ensurepip also installs setuptools, which the real script leaves out.
        subprocess.check_call([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
