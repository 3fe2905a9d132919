# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release records: one ConfigMap per site.yml run that changed something (the release role writes them).

A record is the ConfigMap ``erp-release-<number>`` (also its ``app.kubernetes.io/name``, the label the release
role's prune keeps by) labelled ``erp.platform/release: "<number>"``; its key
``release.json`` holds what was deployed (images with tag and digest, replicas, strategy), checksums of the
configuration and of the secrets (never their values), the data of ConfigMap erp-config, the verification's
result and who ran it. This module reads them back: the numbers in use, the history as records and as a table
for people, and what a rollback to a release re-applies.
"""

import json

RELEASE_LABEL = "erp.platform/release"
NAME_PREFIX = "erp-release-"
DATA_KEY = "release.json"


def _number(config_map):
    """The release number of a ConfigMap, or None when it is not a release record."""
    labels = ((config_map or {}).get("metadata") or {}).get("labels") or {}
    value = str(labels.get(RELEASE_LABEL, ""))
    return int(value) if value.isdigit() else None


def numbers(config_maps):
    """The release numbers of the records among ``config_maps``, ascending."""
    return sorted({n for n in (_number(cm) for cm in config_maps or []) if n is not None})


def name(number):
    """The name of record ``number``: its ConfigMap's name and its app.kubernetes.io/name label."""
    return f"{NAME_PREFIX}{number}"


def kept(existing, new, limit):
    """The names of the records to keep once ``new`` is written (the newest ``limit``), oldest first."""
    return [name(n) for n in sorted(set(existing) | {new})[-limit:]]


def next_release(config_maps, limit):
    """{number, keep}: the number of the record to write (one above the highest), and the names to keep then."""
    existing = numbers(config_maps)
    number = (existing[-1] if existing else 0) + 1
    return {"number": number, "keep": kept(existing, number, limit)}


def verdict(verify_result, apply_failed=False):
    """What the run's verification said: healthy, rolled back, failed, or unverified (it did not run)."""
    if apply_failed:
        return "failed"
    # A skipped task, or none, verified nothing; a failure without an outcome (the API stopped answering) failed.
    if not isinstance(verify_result, dict) or verify_result.get("skipped"):
        return "unverified"
    if verify_result.get("rolled_back"):
        return "rolled back"
    if verify_result.get("failed") or verify_result.get("outcome", "healthy") != "healthy":
        return "failed"
    return "healthy" if "outcome" in verify_result else "unverified"


def history(config_maps):
    """The records among ``config_maps``, oldest first; a record whose data is unreadable keeps its number."""
    records = []
    for config_map in config_maps or []:
        number = _number(config_map)
        if number is None:
            continue
        text = ((config_map.get("data") or {}).get(DATA_KEY)) or ""
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = {"result": f"unreadable {DATA_KEY}"}
        records.append(dict(record, number=number))
    return sorted(records, key=lambda record: record["number"])


def service_entry(entry):
    """What a record keeps of one catalog entry: its image (reference, registry, repository, tag, digest), replicas, strategy."""
    image = entry.get("image") or {}
    return {
        "name": entry.get("name"),
        "image": image.get("ref"),
        "registry": image.get("registry"),
        "repository": image.get("repository"),
        "tag": image.get("tag"),
        "digest": image.get("digest"),
        "replicas": entry.get("replicas"),
        "strategy": entry.get("strategy") or "rolling",
    }


def record_services(catalog, applied, config_maps):
    """The services a new record lists: every enabled service of ``catalog``, as this run applied it.

    A run narrowed to some services (erp_services_only, --tags <service>, --tags dapr) did not apply the others:
    those keep what the newest earlier record says of them, so a rollback to this release restores what ran.
    A service no earlier record names is listed from the catalog.
    """
    applied = set(applied or [])
    earlier = history(config_maps)
    previous = {svc.get("name"): svc for svc in (earlier[-1].get("services") or [])} if earlier else {}
    services = []
    for entry in catalog or []:
        if not entry.get("enabled", True):
            continue
        name = entry.get("name")
        services.append(service_entry(entry) if name in applied or name not in previous else dict(previous[name]))
    return services


class RestoreError(ValueError):
    """A release cannot be restored; the message names erp_release and what is allowed."""


def restore(config_maps, number, catalog):
    """What rolling back to release ``number`` re-applies: {number, services, config, secrets_checksum}.

    ``services`` are erp_services overrides: each recorded service with its recorded image, replicas and enabled,
    and every other enabled service of ``catalog`` disabled (the release did not run it); ``config`` is the
    recorded data of ConfigMap erp-config. Secrets are never recorded: ``secrets_checksum`` lets the caller tell
    whether the inventory's differ from the release's.
    """
    records = {record["number"]: record for record in history(config_maps)}
    recorded = ", ".join(str(n) for n in sorted(records)) or "none"
    if not (isinstance(number, int) and not isinstance(number, bool)) and not (isinstance(number, str) and number.isdigit()):
        raise RestoreError(f"erp_release: got {number!r}; allowed: the number of a recorded release ({recorded})")
    number = int(number)
    record = records.get(number)
    if record is None:
        raise RestoreError(f"erp_release: got {number}; allowed: the number of a recorded release ({recorded}); playbooks/history.yml lists them")
    if not isinstance(record.get("config"), dict) or not isinstance(record.get("services"), list):
        raise RestoreError(
            f"erp_release: got {number}; release {number} holds no configuration or services to restore ({record.get('result')}); allowed: a"
            f" release recorded with its configuration ({recorded})"
        )
    known = {entry["name"]: entry for entry in catalog or []}
    unknown = sorted(svc.get("name") for svc in record["services"] if svc.get("name") not in known)
    if unknown:
        raise RestoreError(
            f"erp_release: got {number}; release {number} ran {', '.join(unknown)}, which the catalog no longer defines; allowed: a release"
            " whose services the catalog (erp_services) still defines, or add them back first"
        )
    services = {}
    for svc in record["services"]:
        image = {"registry": svc.get("registry"), "repository": svc.get("repository"), "tag": svc.get("tag"), "digest": svc.get("digest")}
        if image["repository"] is None:
            raise RestoreError(f"erp_release: got {number}; release {number} does not name the image repository of {svc.get('name')}; allowed: {recorded}")
        services[svc["name"]] = {"enabled": True, "replicas": svc.get("replicas"), "image": image}
    for name, entry in known.items():
        if name not in services and entry.get("enabled"):
            services[name] = {"enabled": False}
    return {"number": number, "services": services, "config": record["config"], "secrets_checksum": (record.get("checksums") or {}).get("secrets")}


def _images(record):
    return ", ".join(f"{svc.get('name')}={svc.get('tag') or svc.get('digest') or '?'}" for svc in record.get("services") or [])


def table(records):
    """The history as a fixed-width table, newest last: number, time, result, environment, who, images."""
    rows = [("RELEASE", "TIME", "RESULT", "ENV", "BY", "VERSION", "RESTORES", "IMAGES")]
    for record in records:
        actor = record.get("actor") or {}
        by = actor.get("user") or "?"
        if actor.get("awx_job_id") is not None:
            by = f"{by} (AWX job {actor['awx_job_id']})"
        rows.append(
            (
                str(record.get("number")),
                str(record.get("time") or "?"),
                str(record.get("result") or "?"),
                str(record.get("environment") or "?"),
                by,
                str(record.get("collection_version") or "?"),
                str(record["rollback_of"]) if record.get("rollback_of") is not None else "-",
                _images(record),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = ["  ".join([*(row[column].ljust(width) for column, width in enumerate(widths)), row[-1]]).rstrip() for row in rows]
    headline = f"{len(records)} release(s) recorded" if records else "no release recorded"
    return "\n".join([headline, *lines])
