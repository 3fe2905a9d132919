# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render mode's files (erp.platform.write_manifests): one file per object, written only when its
content or mode changes, the files of objects no longer rendered removed, a Secret's values never shown
in a diff."""

import os
import subprocess

from ansible_collections.erp.platform.plugins.module_utils.manifests import HIDDEN, redacted, yaml_document, yaml_documents


class ManifestFileError(Exception):
    """The objects cannot be written (a file name clash or an unusable name); the message says which."""


def file_name(obj):
    return f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def manifest_text(obj):
    return "---\n" + yaml_document(obj)


def shown(text):
    """File content as a diff may show it: a Secret's values replaced."""
    if not text:
        return ""
    docs = yaml_documents(text)
    if docs is None:
        return HIDDEN  # not ours to show if it does not even parse
    if not any(isinstance(doc, dict) and doc.get("kind") == "Secret" for doc in docs):
        return text
    return "".join(manifest_text(redacted(doc)) for doc in docs)


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def planned_files(objects):
    """file name -> text for each object; ManifestFileError when two share a name or a name is not plain."""
    wanted = {}
    for obj in objects:
        name = file_name(obj)
        if "/" in name or name.startswith("."):
            raise ManifestFileError(f"objects: {obj['kind']}/{obj['metadata']['name']} gives the file name {name!r}, which is not a plain file name")
        if name in wanted:
            raise ManifestFileError(f"objects: two objects would both be written to {name}")
        wanted[name] = manifest_text(obj)
    return wanted


def write_files(directory, wanted, mode, prune, check_mode, written, removed, diffs):
    """Write the wanted files (and remove others when prune), appending to written, removed and diffs.

    Returns how many files were already right. Raises OSError or ValueError (a *.yaml that is not
    UTF-8 text); what was done before stays in the lists.
    """
    unchanged = 0
    existing = sorted(entry for entry in os.listdir(directory) if entry.endswith(".yaml")) if os.path.isdir(directory) else []
    private = not mode & 0o077
    if not check_mode:
        os.makedirs(directory, mode=0o700 if private else 0o777, exist_ok=True)
    # Private files (a Secret's) live in a directory only its owner can list and enter.
    if private and os.path.isdir(directory) and os.stat(directory).st_mode & 0o077:
        written.append(directory)
        if not check_mode:
            os.chmod(directory, 0o700)
    for name, text in wanted.items():
        path = os.path.join(directory, name)
        old = read_text(path)
        if old == text and (os.stat(path).st_mode & 0o7777) == mode:
            unchanged += 1
            continue
        written.append(path)
        if old == text:  # only the permissions change, for example to 0600 for a Secret
            if not check_mode:
                os.chmod(path, mode)
            continue
        diffs.append({"before": shown(old), "after": shown(text), "before_header": path, "after_header": path})
        if not check_mode:
            temporary = path + ".tmp"
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(temporary, mode)
            os.replace(temporary, path)
    if prune:
        for name in existing:
            if name not in wanted:
                path = os.path.join(directory, name)
                removed.append(path)
                diffs.append({"before": shown(read_text(path)), "after": "", "before_header": path, "after_header": path})
                if not check_mode:
                    os.remove(path)
    return unchanged


def unignored_work_tree(directory):
    """The git work tree that holds directory and does not ignore it, or None (no git, no work tree, ignored)."""
    probe = directory
    while not os.path.isdir(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    try:
        top = subprocess.run(["git", "-C", probe, "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=10, check=False)
        if top.returncode != 0:
            return None
        ignored = subprocess.run(["git", "-C", probe, "check-ignore", "-q", directory], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return None if ignored.returncode == 0 else top.stdout.strip()
