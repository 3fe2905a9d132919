# Copyright (c) erp.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which services' migration Jobs a run starts: those whose image changes.

A catalog entry with a ``migration`` gets a Job before its Deployment changes, and only when the image the
Deployment would run differs from the one it runs now (or there is no Deployment yet), so an unchanged re-run
starts no Job, nor does a run whose canary release's Deployment already runs the new image. The Job is named
``<job_prefix><time>`` (the run's UTC time, 12 digits): unique per run, so a run after a failed migration starts
a fresh Job and leaves the failed one, and its pod's logs, to its TTL.
"""

from ansible_collections.erp.platform.plugins.module_utils.service_catalog import CANARY_SUFFIX


def running_image(deployment, container):
    """The image of the named container in the Deployment's pod template, or None."""
    containers = (((deployment or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    for item in containers:
        if item.get("name") == container:
            return item.get("image")
    return None


def entries(services):
    """The entries of ``services`` with a migration, in catalog order."""
    return [entry for entry in services or [] if entry.get("migration")]


def due(services, deployments, stamp):
    """The migrations to run: [{name, job_name, from_image, to_image}] in catalog order.

    ``services``: the catalog entries the run deploys; ``deployments``: the Deployments the cluster has (any
    subset of the namespace's, as the API returns them); ``stamp``: the run's time, 12 digits (yymmddHHMMSS).
    """
    if not (isinstance(stamp, str) and len(stamp) == 12 and stamp.isdigit()):
        raise ValueError(f"stamp: got {stamp!r}; allowed: the run's UTC time as 12 digits (yymmddHHMMSS)")
    by_name = {((d or {}).get("metadata") or {}).get("name"): d for d in deployments or []}
    result = []
    for entry in entries(services):
        migration = entry["migration"]
        current = running_image(by_name.get(entry["service_name"]), entry["name"])
        # A canary release's Deployment on the new image means this release already migrated (the run that started
        # the canary did); promoting it, or running its steps again, migrates nothing.
        canary = running_image(by_name.get(entry["service_name"] + CANARY_SUFFIX), entry["name"])
        if entry["image"]["ref"] in (current, canary):
            continue
        result.append({"name": entry["name"], "job_name": migration["job_prefix"] + stamp, "from_image": current, "to_image": entry["image"]["ref"]})
    return result
