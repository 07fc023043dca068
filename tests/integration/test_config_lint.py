"""selfhealctl lint: exit codes, JSON, and SARIF 2.1.0 validated against the schema.

No network: the SARIF 2.1.0 schema's definitions for every object lint emits are written
out below (same names, required members, enums and bounds as the OASIS
sarif-schema-2.1.0.json), checked by a small JSON-Schema validator, and by the
jsonschema package as well when it is installed (Debian: python3-jsonschema)."""
import json
import os
import re

import pytest

from config_helpers import MiniRoot, lint

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (run-user checks)")

D = "#/definitions/"
SARIF_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema (subset)",
    "type": "object",
    "required": ["version", "runs"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"enum": ["2.1.0"]},
        "runs": {"type": ["array", "null"], "items": {"$ref": D + "run"}},
        "inlineExternalProperties": {"type": "array"},
        "properties": {"$ref": D + "propertyBag"},
    },
    "definitions": {
        "propertyBag": {"type": "object"},
        "message": {
            "type": "object", "additionalProperties": False,
            "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
            "properties": {"text": {"type": "string"}, "markdown": {"type": "string"},
                           "id": {"type": "string"}, "arguments": {"type": "array"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "multiformatMessageString": {
            "type": "object", "additionalProperties": False, "required": ["text"],
            "properties": {"text": {"type": "string"}, "markdown": {"type": "string"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "reportingConfiguration": {
            "type": "object", "additionalProperties": False,
            "properties": {"enabled": {"type": "boolean"},
                           "level": {"enum": ["none", "note", "warning", "error"]},
                           "rank": {"type": "number", "minimum": -1, "maximum": 100},
                           "parameters": {"$ref": D + "propertyBag"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "reportingDescriptor": {
            "type": "object", "additionalProperties": False, "required": ["id"],
            "properties": {
                "id": {"type": "string"}, "deprecatedIds": {"type": "array"},
                "guid": {"type": "string"}, "name": {"type": "string"},
                "shortDescription": {"$ref": D + "multiformatMessageString"},
                "fullDescription": {"$ref": D + "multiformatMessageString"},
                "messageStrings": {"type": "object"},
                "defaultConfiguration": {"$ref": D + "reportingConfiguration"},
                "helpUri": {"type": "string", "format": "uri"},
                "help": {"$ref": D + "multiformatMessageString"},
                "relationships": {"type": "array"},
                "properties": {"$ref": D + "propertyBag"}},
        },
        "toolComponent": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {
                "guid": {"type": "string"}, "name": {"type": "string"},
                "organization": {"type": "string"}, "product": {"type": "string"},
                "fullName": {"type": "string"}, "version": {"type": "string"},
                "semanticVersion": {"type": "string"},
                "informationUri": {"type": "string", "format": "uri"},
                "rules": {"type": "array", "uniqueItems": True,
                          "items": {"$ref": D + "reportingDescriptor"}},
                "notifications": {"type": "array"}, "taxa": {"type": "array"},
                "properties": {"$ref": D + "propertyBag"}},
        },
        "tool": {
            "type": "object", "additionalProperties": False, "required": ["driver"],
            "properties": {"driver": {"$ref": D + "toolComponent"},
                           "extensions": {"type": "array"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "artifactLocation": {
            "type": "object", "additionalProperties": False,
            "properties": {"uri": {"type": "string", "format": "uri-reference"},
                           "uriBaseId": {"type": "string"},
                           "index": {"type": "integer", "minimum": -1},
                           "description": {"$ref": D + "message"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "region": {
            "type": "object", "additionalProperties": False,
            "properties": {"startLine": {"type": "integer", "minimum": 1},
                           "startColumn": {"type": "integer", "minimum": 1},
                           "endLine": {"type": "integer", "minimum": 1},
                           "endColumn": {"type": "integer", "minimum": 1},
                           "charOffset": {"type": "integer", "minimum": -1},
                           "charLength": {"type": "integer", "minimum": 0},
                           "snippet": {"type": "object"},
                           "message": {"$ref": D + "message"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "physicalLocation": {
            "type": "object", "additionalProperties": False,
            "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}],
            "properties": {"address": {"type": "object"},
                           "artifactLocation": {"$ref": D + "artifactLocation"},
                           "region": {"$ref": D + "region"},
                           "contextRegion": {"$ref": D + "region"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "location": {
            "type": "object", "additionalProperties": False,
            "properties": {"id": {"type": "integer", "minimum": -1},
                           "physicalLocation": {"$ref": D + "physicalLocation"},
                           "logicalLocations": {"type": "array"},
                           "message": {"$ref": D + "message"},
                           "annotations": {"type": "array"},
                           "relationships": {"type": "array"},
                           "properties": {"$ref": D + "propertyBag"}},
        },
        "result": {
            "type": "object", "additionalProperties": False, "required": ["message"],
            "properties": {
                "ruleId": {"type": "string"},
                "ruleIndex": {"type": "integer", "minimum": -1},
                "rule": {"type": "object"},
                "kind": {"enum": ["notApplicable", "pass", "fail", "review", "open",
                                  "informational"]},
                "level": {"enum": ["none", "note", "warning", "error"]},
                "message": {"$ref": D + "message"},
                "analysisTarget": {"$ref": D + "artifactLocation"},
                "locations": {"type": "array", "items": {"$ref": D + "location"}},
                "guid": {"type": "string"}, "correlationGuid": {"type": "string"},
                "occurrenceCount": {"type": "integer", "minimum": 1},
                "partialFingerprints": {"type": "object",
                                        "additionalProperties": {"type": "string"}},
                "fingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
                "stacks": {"type": "array"}, "codeFlows": {"type": "array"},
                "relatedLocations": {"type": "array"}, "suppressions": {"type": "array"},
                "baselineState": {"enum": ["new", "unchanged", "updated", "absent"]},
                "rank": {"type": "number", "minimum": -1, "maximum": 100},
                "fixes": {"type": "array"}, "taxa": {"type": "array"},
                "properties": {"$ref": D + "propertyBag"}},
        },
        "run": {
            "type": "object", "additionalProperties": True, "required": ["tool"],
            "properties": {"tool": {"$ref": D + "tool"},
                           "results": {"type": ["array", "null"],
                                       "items": {"$ref": D + "result"}},
                           "properties": {"$ref": D + "propertyBag"}},
        },
    },
}

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
         "number": (int, float), "integer": int}


def validate(inst, schema, root=SARIF_SCHEMA, path="$"):
    """Draft-07 subset: $ref, type, required, properties, additionalProperties, enum,
    minimum/maximum, items, uniqueItems, anyOf, format uri/uri-reference."""
    errors = []
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return validate(inst, root["definitions"][name], root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(inst, TYPES[t]) and not (t in ("integer", "number") and
                                                      isinstance(inst, bool)) for t in types)
        if not ok:
            return [f"{path}: {inst!r} is not of type {types}"]
    if "enum" in schema and inst not in schema["enum"]:
        errors.append(f"{path}: {inst!r} not in {schema['enum']}")
    if isinstance(inst, (int, float)) and not isinstance(inst, bool):
        if "minimum" in schema and inst < schema["minimum"]:
            errors.append(f"{path}: {inst} < {schema['minimum']}")
        if "maximum" in schema and inst > schema["maximum"]:
            errors.append(f"{path}: {inst} > {schema['maximum']}")
    if isinstance(inst, str) and schema.get("format") == "uri":
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", inst):
            errors.append(f"{path}: {inst!r} is not an absolute URI")
    if isinstance(inst, str) and schema.get("format") in ("uri", "uri-reference"):
        if re.search(r"[\s\"<>\\^`{|}]", inst):
            errors.append(f"{path}: {inst!r} has characters a URI may not contain")
    if isinstance(inst, dict):
        for r in schema.get("required", []):
            if r not in inst:
                errors.append(f"{path}: missing required {r!r}")
        props = schema.get("properties", {})
        for k, v in inst.items():
            if k in props:
                errors += validate(v, props[k], root, f"{path}.{k}")
            else:
                extra = schema.get("additionalProperties", True)
                if extra is False:
                    errors.append(f"{path}: unexpected property {k!r}")
                elif isinstance(extra, dict):
                    errors += validate(v, extra, root, f"{path}.{k}")
    if isinstance(inst, list):
        if schema.get("uniqueItems"):
            dumped = [json.dumps(i, sort_keys=True) for i in inst]
            if len(set(dumped)) != len(dumped):
                errors.append(f"{path}: items are not unique")
        if "items" in schema:
            for i, v in enumerate(inst):
                errors += validate(v, schema["items"], root, f"{path}[{i}]")
    if "anyOf" in schema and not any(not validate(inst, s, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    return errors


def test_validator_rejects_broken_sarif():
    assert validate({"version": "2.1.0", "runs": []}, SARIF_SCHEMA) == []
    bad = {"version": "2.0", "runs": [{"tool": {"driver": {}}, "results": [
        {"message": {}, "level": "fatal",
         "locations": [{"physicalLocation": {"region": {"startLine": 0}}}]}]}], "x": 1}
    errs = validate(bad, SARIF_SCHEMA)
    for needle in ("'2.0' not in", "missing required 'name'", "'fatal' not in",
                   "matches none of anyOf", "0 < 1", "unexpected property 'x'"):
        assert any(needle in e for e in errs), (needle, errs)


@pytest.fixture
def root():
    r = MiniRoot(modules=("alias",))
    yield r
    r.cleanup()


def test_sarif_output_is_valid_and_complete(root):
    body = (f"DirectoryIndex index.html # comment\n<VirtualHost *:{root.port}>\n"
            f"  ServerName a.test\n  DocumentRoot {root.root}/gone\n</VirtualHost>\n")
    root.write(body)
    rc, out, err = lint("-d", str(root.root), "-f", str(root.conf), "--format", "sarif")
    assert rc == 1, out + err
    doc = json.loads(out)
    assert validate(doc, SARIF_SCHEMA) == []
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema:
        jsonschema.Draft7Validator(SARIF_SCHEMA).validate(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"SYN-001", "DOC-001"}
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "file://" + str(root.conf)
        assert len(r["partialFingerprints"]["selfhealFinding/v1"]) == 32
    assert results["DOC-001"]["level"] == "error"
    assert results["SYN-001"]["level"] == "warning"
    assert results["DOC-001"]["locations"][0]["physicalLocation"]["region"]["startLine"] == \
        root.line_of("/gone")
    # The fingerprint survives the finding moving to another line.
    root.write("\n\n" + body)
    rc, out2, _ = lint("-d", str(root.root), "-f", str(root.conf), "--format", "sarif")
    r2 = {r["ruleId"]: r for r in json.loads(out2)["runs"][0]["results"]}
    assert r2["DOC-001"]["partialFingerprints"] == results["DOC-001"]["partialFingerprints"]
    assert r2["DOC-001"]["locations"] != results["DOC-001"]["locations"]


def test_exit_codes(root):
    conf = ["-d", str(root.root), "-f", str(root.conf)]
    rc, out, err = lint(*conf)
    assert rc == 0 and "0 error(s), 0 warning(s), 0 info" in out, out + err

    root.write("DirectoryIndex index.html # comment\n")  # a warning
    assert lint(*conf)[0] == 0
    assert lint(*conf, "--fail-on", "warning")[0] == 1
    assert lint(*conf, "--fail-on", "info")[0] == 1

    root.write("ErrorDocument 404 /missing.html\n")  # info only
    assert lint(*conf, "--fail-on", "warning")[0] == 0
    assert lint(*conf, "--fail-on", "info")[0] == 1

    root.write(f"<VirtualHost *:{root.port}>\n  DocumentRoot {root.root}/gone\n</VirtualHost>\n")
    rc, out, _ = lint(*conf, "--json")
    assert rc == 1
    doc = json.loads(out)
    assert doc["summary"]["error"] == 1
    f = doc["findings"][0]
    assert (f["rule"], f["severity"], f["file"], f["line"]) == \
        ("DOC-001", "error", str(root.conf), root.line_of("/gone"))

    root.write("NoSuchDirective 1\n")  # httpd's own parse error
    rc, out, err = lint(*conf)
    assert rc == 2 and "NoSuchDirective" in err, out + err

    assert lint(*conf, "--format", "xml")[0] == 2
    assert lint(*conf, "--bogus")[0] == 2
    assert lint(*conf, "--fail-on", "fatal")[0] == 2
    assert lint(*conf, "--module", "/nonexistent/mod_selfheal.so")[0] == 2
    assert lint("-f", str(root.root / "nope.conf"))[0] == 2


def test_profile_and_config_without_the_module(root):
    root.selfheal = False  # lint loads the module itself (-C LoadModule ...)
    root.write("TraceEnable on\n")
    conf = ["-d", str(root.root), "-f", str(root.conf)]
    rc, out, _ = lint(*conf, "--json", "--fail-on", "info")
    assert rc == 0 and json.loads(out)["findings"] == []
    rc, out, _ = lint(*conf, "--json", "--profile", "hardening", "--fail-on", "info")
    assert rc == 1
    assert "SEC-006" in {f["rule"] for f in json.loads(out)["findings"]}


def test_list_rules():
    rc, out, _ = lint("--list-rules", "--json")
    assert rc == 0
    rules = json.loads(out)
    ids = {r["id"] for r in rules}
    assert {"TLS-001", "NET-001", "CRASH-001", "HTA-001"} <= ids
    assert all(r["profile"] in ("safety", "hardening") for r in rules)
