"""The record table the stages check their input against is the schemas' own."""

import json
import os

import pytest

from helpers import ROOT
from hokusai_preview.core.records import RECORD_SECTIONS, SECTION_FIELDS, missing_field

SCHEMAS = os.path.join(ROOT, "schemas")


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
            return {}
    return node


@pytest.mark.parametrize("kind", sorted(RECORD_SECTIONS))
def test_every_record_kind_requires_what_its_schema_requires(kind):
    document = schema(kind)
    sections = [s for s in document["required"] if s not in schema("common")["$defs"]["record_header"]["required"]]
    assert list(RECORD_SECTIONS[kind]) == sections
    for section in sections:
        node = resolved(document["properties"][section], document.get("$defs", {}))
        assert list(SECTION_FIELDS[section]) == node.get("required", []), section


def test_missing_field_names_the_first_section_or_field_missing():
    record = {"record": "load", "baseline": {field: 1 for field in SECTION_FIELDS["baseline"]},
              "contribution": {field: 1 for field in SECTION_FIELDS["contribution"]}}
    assert missing_field(record) is None
    del record["contribution"]["table_path"]
    assert missing_field(record) == "contribution.table_path"
    record["baseline"] = "a path"
    assert missing_field(record) == "baseline"
    assert missing_field({"record": "error"}) is None
