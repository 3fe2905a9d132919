# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Kubernetes manifest must have, how messages name one, how a Secret is shown, how one is written as YAML.

PyYAML is optional here (HAS_YAML): only the YAML helpers need it.
"""

import copy
import traceback

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

HIDDEN = "<hidden>"
# kubectl apply (client-side) keeps the whole object, Secret data included, in this annotation.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def object_key(obj):
    """(apiVersion, kind, namespace, name) of a manifest; namespace may be None."""
    metadata = obj.get("metadata") or {}
    return obj.get("apiVersion"), obj.get("kind"), metadata.get("namespace"), metadata.get("name")


def describe(api_version, kind, namespace, name):
    """Kind/name, with the namespace when there is one: how messages name an object."""
    del api_version  # part of the key, not of the name people read
    return f"{kind}/{name}" + (f" in namespace {namespace}" if namespace else "")


def check_manifests(objects):
    """Error messages for list items that are not usable manifests (empty when all are)."""
    errors = []
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            errors.append(f"objects[{index}]: got {type(obj).__name__}; allowed: a mapping")
            continue
        metadata = obj.get("metadata")
        missing = [field for field in ("apiVersion", "kind") if not isinstance(obj.get(field), str) or not obj.get(field)]
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata.get("name"):
            missing.append("metadata.name")
        if missing:
            errors.append(f"objects[{index}]: missing {', '.join(missing)}")
    return errors


def redacted(obj):
    """A copy of a Secret with its values (and kubectl's copy of them) replaced by HIDDEN; anything else as it is."""
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return obj
    result = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        if isinstance(result.get(field), dict):
            result[field] = dict.fromkeys(result[field], HIDDEN)
    annotations = (result.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        annotations[LAST_APPLIED] = HIDDEN
    return result


def yaml_document(obj):
    """One object as block-style YAML, keys in their given order, long strings on one line."""
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=False, indent=2, width=10**6)


def yaml_documents(text):
    """The non-empty documents of a YAML string, or None when it does not parse."""
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError:
        return None
