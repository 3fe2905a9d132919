# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Many Kubernetes objects per module run: discovery, server-side apply, prune, read.

One connection serves a whole list. Each group-version is discovered once (a single
GET of /api/v1 or /apis/<group>/<version>), not the whole API as the dynamic client
does. An object costs one GET (every object is read before the first is applied, to
refuse objects another owner has and to tell created, configured and unchanged apart)
and one server-side apply PATCH. Requests go through the ApiClient of
k8s_client.connect, so kubernetes.core's authentication options apply.
"""

import copy
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.erp.platform.plugins.module_utils.k8s_client import ApiException, api_error_text
from ansible_collections.erp.platform.plugins.module_utils.manifests import describe, object_key, redacted, yaml_document

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
# Server-maintained fields left out when deciding whether an object changed.
VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")


class ObjectError(Exception):
    """A request about one object failed; the message names the object and the API's reason."""


# Cluster.apply's default for before: not read yet.
UNREAD = object()


def comparable(obj):
    """The object without server-maintained fields and status, for change detection."""
    if obj is None:
        return None
    result = copy.deepcopy(obj)
    result.pop("status", None)
    metadata = result.get("metadata") or {}
    for field in VOLATILE_METADATA:
        metadata.pop(field, None)
    return result


def prune_candidates(items, keep, keep_label, protected):
    """Items to delete: those whose keep_label value is not in keep, except protected keys."""
    doomed = []
    for item in items:
        metadata = item.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if labels.get(keep_label) in keep:
            continue
        if (item.get("apiVersion"), item.get("kind"), metadata.get("namespace"), metadata.get("name")) in protected:
            continue
        doomed.append(item)
    return doomed


class Cluster:
    """Raw JSON requests against one API server, with per-group-version discovery."""

    def __init__(self, api_client):
        self.api = api_client
        self._group_versions = {}

    def request(self, method, path, query=None, body=None, content_type=None):
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        response = self.api.call_api(
            path,
            method,
            query_params=query or [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
        )
        data = response.data
        return json.loads(data) if data else None

    def version(self):
        return self.request("GET", "/version")

    def resources(self, api_version):
        """{kind: (plural, namespaced)} of a group-version, or None when the cluster does not serve it."""
        if api_version not in self._group_versions:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                listing = self.request("GET", path)
            except ApiException as exc:
                if exc.status != 404:
                    raise ObjectError(f"cannot discover {api_version}: {api_error_text(exc)}") from exc
                listing = None
            served = None
            if listing is not None:
                served = {
                    item["kind"]: (item["name"], bool(item.get("namespaced"))) for item in listing.get("resources") or [] if "/" not in item.get("name", "")
                }
            self._group_versions[api_version] = served
        return self._group_versions[api_version]

    def resource(self, api_version, kind):
        """(plural, namespaced) of a kind; ObjectError when the cluster does not serve it."""
        served = self.resources(api_version)
        if served is None:
            raise ObjectError(f"the cluster does not serve API version {api_version} (is its CRD or API group installed?)")
        if kind not in served:
            raise ObjectError(f"the cluster serves no kind {kind} in {api_version}; it serves {', '.join(sorted(served)) or 'nothing'}")
        return served[kind]

    def path(self, api_version, kind, namespace=None, name=None):
        plural, namespaced = self.resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced:
            if not namespace:
                raise ObjectError(f"{kind} is namespaced: set metadata.namespace")
            base += f"/namespaces/{namespace}"
        path = f"{base}/{plural}"
        return f"{path}/{name}" if name else path

    def get(self, path):
        """The object at path, or None when it does not exist."""
        try:
            return self.request("GET", path)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_version, kind, namespace=None, label_selector=None):
        """Objects of a kind in a namespace (cluster-scoped kinds: all of them), with apiVersion and kind filled in."""
        query = [("labelSelector", label_selector)] if label_selector else []
        listing = self.request("GET", self.path(api_version, kind, namespace), query=query)
        items = listing.get("items") or []
        for item in items:
            # List items carry neither apiVersion nor kind.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def read(self, obj):
        """The live object of obj's name (None when it does not exist); ObjectError names the object."""
        api_version, kind, namespace, name = object_key(obj)
        try:
            return self.get(self.path(api_version, kind, namespace, name))
        except ApiException as exc:
            raise ObjectError(f"reading {describe(api_version, kind, namespace, name)}: {api_error_text(exc)}") from exc
        except ObjectError as exc:
            raise ObjectError(f"{describe(api_version, kind, namespace, name)}: {exc}") from exc
        except Exception as exc:  # transport errors, named with the object
            raise ObjectError(f"reading {describe(api_version, kind, namespace, name)}: request failed: {type(exc).__name__}: {exc}") from exc

    def apply(self, obj, field_manager, force_conflicts, dry_run=False, before=UNREAD):
        """Server-side apply one object: (action, before, after); action is created, configured or unchanged.

        before: the live object as read just before (None: it does not exist); read here when not given."""
        api_version, kind, namespace, name = object_key(obj)
        try:
            path = self.path(api_version, kind, namespace, name)
            if before is UNREAD:
                before = self.get(path)
            query = [("fieldManager", field_manager), ("force", "true" if force_conflicts else "false")]
            if dry_run:
                query.append(("dryRun", "All"))
            try:
                after = self.request("PATCH", path, query=query, body=obj, content_type=APPLY_CONTENT_TYPE)
            except ApiException as exc:
                # A dry run cannot place an object into a namespace that this check-mode run did not create.
                if dry_run and before is None and exc.status == 404:
                    return "created", None, obj
                raise
        except ApiException as exc:
            raise ObjectError(f"{describe(api_version, kind, namespace, name)}: {api_error_text(exc)}") from exc
        except ObjectError as exc:
            raise ObjectError(f"{describe(api_version, kind, namespace, name)}: {exc}") from exc
        except Exception as exc:  # transport errors (reset, refused, timed out), named with the object
            raise ObjectError(f"{describe(api_version, kind, namespace, name)}: request failed: {type(exc).__name__}: {exc}") from exc
        if before is None:
            return "created", None, after
        return ("unchanged" if comparable(before) == comparable(after) else "configured"), before, after

    def delete(self, obj, dry_run=False):
        """Delete one object in the background; False when it was already gone."""
        api_version, kind, namespace, name = object_key(obj)
        query = [("propagationPolicy", "Background")]
        if dry_run:
            query.append(("dryRun", "All"))
        try:
            self.request("DELETE", self.path(api_version, kind, namespace, name), query=query)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise ObjectError(f"deleting {describe(api_version, kind, namespace, name)}: {api_error_text(exc)}") from exc
        except Exception as exc:  # transport errors, named with the object
            raise ObjectError(f"deleting {describe(api_version, kind, namespace, name)}: request failed: {type(exc).__name__}: {exc}") from exc
        return True


def kind_runs(objects):
    """The objects split into runs of consecutive objects of the same apiVersion and kind, in order."""
    runs = []
    for obj in objects:
        if runs and (runs[-1][0].get("apiVersion"), runs[-1][0].get("kind")) == (obj.get("apiVersion"), obj.get("kind")):
            runs[-1].append(obj)
        else:
            runs.append([obj])
    return runs


def read_all(cluster, objects, parallel=1):
    """{object key: live object or None} for every object, up to parallel reads at a time; raises the first ObjectError."""
    for api_version in dict.fromkeys(obj.get("apiVersion") for obj in objects):
        try:
            cluster.resources(api_version)  # discovered once, before the threads
        except ObjectError as exc:
            first = next(obj for obj in objects if obj.get("apiVersion") == api_version)
            raise ObjectError(f"{describe(*object_key(first))}: {exc}") from exc
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        lives = list(pool.map(cluster.read, objects))
    return {object_key(obj): lives[index] for index, obj in enumerate(objects)}


def adopt_key_matches(entry, key):
    """Whether an adopt entry (Kind/name or Kind/namespace/name) names the object key."""
    _api_version, kind, namespace, name = key
    return entry in (f"{kind}/{name}", f"{kind}/{namespace}/{name}")


def foreign_objects(objects, live, owner_labels, adopt):
    """Messages for the objects that exist without every owner label at its value and that adopt does not name."""
    found = []
    for obj in objects:
        key = object_key(obj)
        current = live.get(key)
        if not current or not owner_labels:
            continue
        metadata = current.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if all(labels.get(label) == value for label, value in owner_labels.items()):
            continue
        if any(adopt_key_matches(entry, key) for entry in adopt):
            continue
        has = ", ".join(f"{label}={labels.get(label, '<none>')}" for label in owner_labels)
        managers = sorted({field.get("manager") for field in metadata.get("managedFields") or [] if field.get("manager")})
        found.append(f"{describe(*key)} (labels {has}; fields managed by {', '.join(managers) or 'nobody recorded'})")
    return found


def apply_in_order(cluster, objects, field_manager, force_conflicts, dry_run=False, parallel=1, done=None, live=None):
    """Apply kind by kind, in the order given; the objects of one run of the same kind go up to parallel at a time.

    A kind starts only when every object of the run before it is applied, so the order of kinds
    (Namespace, ServiceAccounts, then Deployments, ...) holds as with one request at a time.
    Appends (object, action, before, after) to done, in input order. After a failure no further
    object of the run is started (those already in flight, at most parallel - 1, finish and are
    recorded), and the first ObjectError is raised.
    """
    done = [] if done is None else done
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for run in kind_runs(objects):
            try:
                # Discovered here, once, rather than by several threads at the same time.
                cluster.resources(run[0].get("apiVersion"))
            except ObjectError as exc:
                raise ObjectError(f"{describe(*object_key(run[0]))}: {exc}") from exc
            stop = threading.Event()

            def apply_one(obj, stop=stop):
                if stop.is_set():
                    return None  # an object of this run failed: nothing more of this kind is sent
                try:
                    before = live[object_key(obj)] if live is not None else UNREAD
                    return cluster.apply(obj, field_manager, force_conflicts, dry_run, before)
                except Exception:
                    stop.set()
                    raise

            futures = [pool.submit(apply_one, obj) for obj in run]
            failure = None
            for index, future in enumerate(futures):
                try:
                    outcome = future.result()
                except ObjectError as exc:
                    failure = failure or exc
                    continue
                except Exception as exc:  # not expected (apply names its errors), but never lost
                    failure = failure or ObjectError(f"{describe(*object_key(run[index]))}: {type(exc).__name__}: {exc}")
                    continue
                if outcome is not None:
                    done.append((run[index], *outcome))
            if failure:
                raise failure
    return done


# ---------------------------------------------------------------------------
# One module run: apply a list, then prune (erp.platform.apply_objects)


def entry(key, action):
    api_version, kind, namespace, name = key
    return {"api_version": api_version, "kind": kind, "namespace": namespace, "name": name, "action": action}


def yaml_text(obj):
    if obj is None:
        return ""
    return yaml_document(redacted(comparable(obj)))


def diff_entry(key, before, after):
    label = describe(*key)
    return {"before": yaml_text(before), "after": yaml_text(after), "before_header": label, "after_header": label}


def apply_all(cluster, params, check_mode, want_diff, entries, diffs):
    """Apply, then prune, appending to entries and diffs; raises ObjectError on the first failure."""
    scopes = params["prune"] or []
    # The prune request is checked before anything is applied. A kind of a group-version the cluster does
    # not serve (a CRD that is not installed) can have no objects, so there is nothing to prune; a kind
    # missing from a served group-version is a mistake of the request.
    for spec in [spec for scope in scopes for spec in scope["kinds"]]:
        try:
            if cluster.resources(spec["api_version"]) is None:
                continue
            namespaced = cluster.resource(spec["api_version"], spec["kind"])[1]
        except ObjectError as exc:
            raise ObjectError(f"prune.kinds: {spec['kind']}: {exc}") from exc
        if not namespaced:
            raise ObjectError(f"prune.kinds: {spec['kind']} is cluster-scoped; allowed: namespaced kinds (pruning works within prune.namespace)")
    # Every object is read before the first one is applied: an object this instance does not own (it lacks the
    # owner labels) fails the run before anything changed, unless params["adopt"] names it.
    objects = params["objects"]
    live = read_all(cluster, objects, params["parallel"])
    foreign = foreign_objects(objects, live, params.get("owner_labels") or {}, params.get("adopt") or [])
    if foreign:
        wanted = ", ".join(f"{label}={value}" for label, value in params["owner_labels"].items())
        raise ObjectError(
            f"refusing to change {len(foreign)} existing object(s) that this instance does not manage (they lack {wanted}): "
            + "; ".join(foreign)
            + f". Nothing was changed. To take such an object over, name it in {params.get('adopt_var') or 'adopt'}"
            " (Kind/name or Kind/namespace/name); otherwise choose names (or a namespace) that are free"
        )
    done = []
    try:
        apply_in_order(cluster, objects, params["field_manager"], params["force_conflicts"], check_mode, params["parallel"], done, live)
    finally:
        for obj, action, before, after in done:
            entries.append(entry(object_key(obj), action))
            if want_diff and action != "unchanged":
                diffs.append(diff_entry(object_key(obj), before, after))
    applied = {object_key(item[0]) for item in done}

    for prune in scopes:
        for spec in prune["kinds"]:
            if cluster.resources(spec["api_version"]) is None:
                continue
            keep = spec["keep"] if spec["keep"] is not None else prune["keep"]
            try:
                items = cluster.list(spec["api_version"], spec["kind"], prune["namespace"], prune["selector"])
            except ObjectError as exc:
                raise ObjectError(f"prune {spec['kind']}: {exc}") from exc
            except Exception as exc:  # ApiException and transport errors, named for the person reading the log
                raise ObjectError(f"prune {spec['kind']}: cannot list: {exc}") from exc
            for item in prune_candidates(items, set(keep), prune["keep_label"], applied):
                key = object_key(item)
                if cluster.delete(item, dry_run=check_mode):
                    entries.append(entry(key, "deleted"))
                    if want_diff:
                        diffs.append(diff_entry(key, item, None))
