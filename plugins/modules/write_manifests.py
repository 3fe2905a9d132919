#!/usr/bin/python
# Copyright: (c) 2026, ERP platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: write_manifests
short_description: Write a list of Kubernetes objects as one YAML file each, in one module run
version_added: 0.1.0
author:
  - ERP platform team (@erp-system)
description:
  - Writes each object of O(objects) to C(<path>/<kind in lower case>-<name>.yaml) as a single YAML document, creating
    O(path) when needed. Contacts no cluster.
  - A file whose content is already right is not rewritten, so a second render changes nothing.
  - With O(prune), removes the other C(*.yaml) files of O(path), for example those of a service that was disabled.
options:
  path:
    description:
      - Directory to write into.
    type: path
    required: true
  objects:
    description:
      - Kubernetes objects (mappings with C(apiVersion), C(kind) and C(metadata.name)).
    type: list
    elements: dict
    required: true
  prune:
    description:
      - Remove C(*.yaml) files of O(path) that no object of O(objects) was written to.
    type: bool
    default: true
  mode:
    description:
      - Permissions of the files written, as an octal string. Use C(0600) for anything holding secrets.
      - With a mode that gives the group and others nothing (C(0600)), O(path) is made C(0700) as well, and a warning
        says so when O(path) lies in a git work tree that does not ignore it.
    type: str
    default: "0644"
attributes:
  check_mode:
    description: Can run in check mode and report which files would change.
    support: full
  diff_mode:
    description: Returns the old and new content of each file that changes.
    support: full
    details: The values of Secrets are replaced by C(<hidden>).
requirements:
  - PyYAML
seealso:
  - module: erp.platform.apply_objects
"""

EXAMPLES = r"""
- name: Render the objects of the services for review or GitOps
  erp.platform.write_manifests:
    path: /tmp/render/service
    objects: "{{ service_objects }}"
  delegate_to: localhost
"""

RETURN = r"""
written:
  description: Files created, rewritten, or whose permissions were set to O(mode); and O(path) itself when it was made C(0700).
  returned: always
  type: list
  elements: str
  sample: [/tmp/render/service/deployment-finance-service.yaml]
removed:
  description: Files removed by O(prune).
  returned: always
  type: list
  elements: str
  sample: [/tmp/render/service/deployment-sales-service.yaml]
unchanged:
  description: How many files already had the right content.
  returned: always
  type: int
  sample: 36
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.erp.platform.plugins.module_utils.manifest_files import ManifestFileError, planned_files, unignored_work_tree, write_files
from ansible_collections.erp.platform.plugins.module_utils.manifests import HAS_YAML, YAML_IMPORT_ERROR, check_manifests


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "objects": {"type": "list", "elements": "dict", "required": True},
            "prune": {"type": "bool", "default": True},
            "mode": {"type": "str", "default": "0644"},
        },
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    params = module.params
    errors = check_manifests(params["objects"])
    if errors:
        module.fail_json(msg="objects: " + "; ".join(errors[:5]))
    try:
        mode = int(params["mode"], 8)
    except ValueError:
        module.fail_json(msg=f"mode: got {params['mode']!r}; allowed: an octal string such as 0644")

    directory = params["path"]
    try:
        wanted = planned_files(params["objects"])
    except ManifestFileError as exc:
        module.fail_json(msg=str(exc))

    written, removed, diffs = [], [], []
    try:
        unchanged = write_files(directory, wanted, mode, params["prune"], module.check_mode, written, removed, diffs)
    except (OSError, ValueError) as exc:  # ValueError: an existing *.yaml that is not UTF-8 text
        module.fail_json(msg=f"cannot write the manifests into {directory}: {exc}", written=written, removed=removed)

    if not mode & 0o077:
        tree = unignored_work_tree(directory)
        if tree:
            module.warn(f"{directory} holds private manifests (Secrets) in the git work tree {tree}, which does not ignore it: keep them out of git")
    result = {"changed": bool(written or removed), "written": written, "removed": removed, "unchanged": unchanged}
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
