"""The GeoReport v2 answers as JSON Schemas, written from the spec (wiki.open311.org/GeoReport_v2), and a check
of an XML answer against the same schema (elements for properties, the item element for arrays, text for
scalars), so the JSON and the XML face are held to one shape."""

from xml.etree import ElementTree

import jsonschema_rs

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
W3_OR_EMPTY = {"type": "string", "pattern": r"^$|^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)$"}


def _object(properties: dict, required=None) -> dict:
    return {"type": "object", "properties": properties, "required": list(required or properties),
            "additionalProperties": False}


SERVICE = _object({
    "service_code": STRING, "service_name": STRING, "description": STRING, "metadata": {"type": "boolean"},
    "type": {"enum": ["realtime", "batch", "blackbox"]}, "keywords": STRING, "group": STRING})
SERVICES = {"type": "array", "items": SERVICE}

VALUE = _object({"key": STRING, "name": STRING})
ATTRIBUTE = _object({
    "variable": {"type": "boolean"}, "code": STRING,
    "datatype": {"enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]},
    "required": {"type": "boolean"}, "datatype_description": STRING, "order": {"type": "integer"},
    "description": STRING, "values": {"type": "array", "items": VALUE}}, required=[
    "variable", "code", "datatype", "required", "order", "description"])
SERVICE_DEFINITION = _object({"service_code": STRING, "attributes": {"type": "array", "items": ATTRIBUTE}})

# The spec's fields, and two extension fields: the detailed state and its label for people.
REQUEST = _object({
    "service_request_id": STRING, "status": {"enum": ["open", "closed"]}, "status_notes": STRING,
    "service_name": STRING, "service_code": STRING, "description": STRING, "agency_responsible": STRING,
    "service_notice": STRING, "requested_datetime": W3_OR_EMPTY, "updated_datetime": W3_OR_EMPTY,
    "expected_datetime": W3_OR_EMPTY, "address": STRING, "address_id": STRING, "zipcode": STRING,
    "lat": {"type": ["number", "null"]}, "long": {"type": ["number", "null"]}, "media_url": STRING,
    "detailed_status": {"enum": ["reported", "assigned", "rectifying", "verifying", "verified", "closed",
                                 "cancelled", "suspended"]},
    "detailed_status_label": STRING}, required=["service_request_id", "status", "service_code",
                                                "requested_datetime", "detailed_status", "detailed_status_label"])
REQUESTS = {"type": "array", "items": REQUEST}
CREATED = {"type": "array", "minItems": 1, "maxItems": 1, "items": _object(
    {"service_request_id": STRING, "service_notice": STRING, "account_id": NULLABLE_STRING},
    required=["service_request_id"])}
ERRORS = {"type": "array", "minItems": 1, "items": _object({"code": {"type": "integer"}, "description": STRING})}
ENDPOINT = _object({"specification": STRING, "url": STRING, "changeset": STRING,
                    "type": {"enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"enum": ["application/json", "text/xml"]}}})
DISCOVERY = _object({"changeset": STRING, "contact": STRING, "key_service": STRING,
                     "endpoints": {"type": "array", "minItems": 1, "items": ENDPOINT}})

# Root element of each answer in XML, and the element of each item of a list.
XML = {"services": (SERVICES, "services"), "service_definition": (SERVICE_DEFINITION, "service_definition"),
       "requests": (REQUESTS, "service_requests"), "created": (CREATED, "service_requests"),
       "errors": (ERRORS, "errors"), "discovery": (DISCOVERY, "discovery")}
ITEM = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
        "errors": "error", "endpoints": "endpoint", "formats": "format"}


def check_json(kind: str, data) -> None:
    """Raise unless `data` has the spec's shape for `kind`."""
    jsonschema_rs.validate(XML[kind][0], data)


def check_xml(kind: str, body: bytes) -> ElementTree.Element:
    """Raise unless the XML document has the spec's shape for `kind`; returns its root."""
    schema, root_tag = XML[kind]
    root = ElementTree.fromstring(body)
    assert root.tag == root_tag, (root.tag, root_tag)
    _check(root, schema)
    return root


def _check(element: ElementTree.Element, schema: dict) -> None:
    kind = schema.get("type")
    if kind == "array":
        items = list(element)
        assert all(child.tag == ITEM[element.tag] for child in items), (element.tag, [c.tag for c in items])
        assert len(items) >= schema.get("minItems", 0)
        for child in items:
            _check(child, schema["items"])
    elif kind == "object":
        tags = [child.tag for child in element]
        assert len(tags) == len(set(tags)), f"repeated elements in {element.tag}"
        assert set(tags) <= set(schema["properties"]), f"{element.tag}: unknown {set(tags) - set(schema['properties'])}"
        assert set(schema["required"]) <= set(tags), f"{element.tag}: missing {set(schema['required']) - set(tags)}"
        for child in element:
            _check(child, schema["properties"][child.tag])
    else:
        _check_text(element, schema)


def _check_text(element: ElementTree.Element, schema: dict) -> None:
    assert len(element) == 0, f"{element.tag} holds elements"
    text = element.text or ""
    kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
    if "enum" in schema:
        assert text in schema["enum"], (element.tag, text)
    elif "boolean" in kinds:
        assert text in ("true", "false"), (element.tag, text)
    elif "integer" in kinds:
        assert text.lstrip("-").isdigit(), (element.tag, text)
    elif "number" in kinds:
        if text or "null" not in kinds:
            float(text)
    elif "pattern" in schema:
        jsonschema_rs.validate(schema, text)
