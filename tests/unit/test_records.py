"""The record table the stages check their input against is the schemas' own."""

import glob
import json
import os
import re

import pytest

from helpers import SCHEMAS
from hokusai_preview.core.records import RECORD_SECTIONS, SECTION_FIELDS, missing_field
from hokusai_preview.core.summary import OUTPUT_FIELDS


def schema(name):
    with open(os.path.join(SCHEMAS, name + ".schema.json"), encoding="utf-8") as handle:
        return json.load(handle)


def resolved(node, local):
    """``node`` with its $ref followed, within the file or into common.schema.json."""
    common = schema("common")["$defs"]
    while "$ref" in node:
        ref = node["$ref"]
        if ref.startswith("common.schema.json#/$defs/"):
            node, local = common[ref.rsplit("/", 1)[1]], common
        elif ref.startswith("#/$defs/"):
            node = local[ref.rsplit("/", 1)[1]]
        else:  # another file: a document of its own (the delta record's output)
            document = schema(ref.split(".schema.json")[0])
            node, local = document, document.get("$defs", {})
    return node


# Where JSON Schema (draft 2020-12) keeps subschemas: one, a name -> schema map, or a list.
SUBSCHEMA = ("items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "contains",
             "propertyNames", "not", "if", "then", "else", "contentSchema")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def _subschemas(node, where):
    """(subschema, its JSON pointer) for ``node`` at ``where`` and every schema inside it."""
    if not isinstance(node, dict):  # true/false
        return
    yield node, where
    for keyword in SUBSCHEMA:
        if keyword in node:
            yield from _subschemas(node[keyword], "%s/%s" % (where, keyword))
    for keyword in SUBSCHEMA_MAPS:
        for name, child in node.get(keyword, {}).items():
            yield from _subschemas(child, "%s/%s/%s" % (where, keyword, name))
    for keyword in SUBSCHEMA_LISTS:
        for index, child in enumerate(node.get(keyword, [])):
            yield from _subschemas(child, "%s/%s/%d" % (where, keyword, index))


def undescribed_required():
    """'file#pointer: names' for every schema object whose ``required`` lists a name that neither
    its ``properties``, a ``patternProperties`` pattern nor an ``additionalProperties`` schema
    describes: such a field must be present but may hold any value."""
    found = []
    for path in sorted(glob.glob(os.path.join(SCHEMAS, "*.schema.json"))):
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        for node, where in _subschemas(document, ""):
            others = node.get("additionalProperties")
            if isinstance(others, dict) and others:
                continue
            names = [name for name in node.get("required", []) if name not in node.get("properties", {})
                     and not any(re.search(pattern, name) for pattern in node.get("patternProperties", {}))]
            if names:
                found.append("%s#%s: %s" % (os.path.basename(path), where or "/", ", ".join(names)))
    return found


def test_every_required_field_is_described():
    found = undescribed_required()
    assert not found, "required but not described, so any value passes:\n" + "\n".join(found)


@pytest.mark.parametrize("kind", sorted(RECORD_SECTIONS))
def test_every_record_kind_requires_what_its_schema_requires(kind):
    document = schema(kind)
    sections = [s for s in document["required"] if s not in schema("common")["$defs"]["record_header"]["required"]]
    assert list(RECORD_SECTIONS[kind]) == sections
    for section in sections:
        node = resolved(document["properties"][section], document.get("$defs", {}))
        if section == "output":  # the output document is checked by its renderers' fields, below
            assert SECTION_FIELDS[section] == () and node["title"], node
            continue
        assert list(SECTION_FIELDS[section]) == node.get("required", []), section


def _schema_at(path):
    """The delta-output schema's node at a dotted ``path`` (``*``: any key of a map), and whether
    each step there is required."""
    document = schema("delta-output")
    node, local, required = document, document.get("$defs", {}), True
    for step in path.split("."):
        node = resolved(node, local)
        node = next((option for option in node.get("anyOf", node.get("oneOf", [])) if "properties" in
                     resolved(option, local) or "additionalProperties" in resolved(option, local)), node)
        node = resolved(node, local)
        if step == "*":
            node = node.get("additionalProperties", {})
        else:  # a required field the schema does not describe further is any value
            required = required and step in node.get("required", [])
            node = node.get("properties", {}).get(step, {})
    return node, required


@pytest.mark.parametrize("path, kind, extra", OUTPUT_FIELDS, ids=[field[0] for field in OUTPUT_FIELDS])
def test_every_field_the_renderers_need_is_in_the_output_schema(path, kind, extra):
    """hp-format checks its input against OUTPUT_FIELDS; a field the schema lacks or lets be absent
    would pass the schema and then be refused (or crash a renderer)."""
    node, required = _schema_at(path)
    assert required or "optional" in extra.split(), "%s: the schema does not require it" % path
    assert node, "%s: the schema does not describe it" % path


def test_missing_field_names_the_first_section_or_field_missing():
    record = {"record": "load", "baseline": {field: 1 for field in SECTION_FIELDS["baseline"]},
              "contribution": {field: 1 for field in SECTION_FIELDS["contribution"]}}
    assert missing_field(record) is None
    del record["contribution"]["table_path"]
    assert missing_field(record) == "contribution.table_path"
    record["baseline"] = "a path"
    assert missing_field(record) == "baseline"
    assert missing_field({"record": "error"}) is None
