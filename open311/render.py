"""GeoReport v2 answers in the format the path asks for: `.json` or `.xml` (same content, the spec's shapes)."""

import json
import re
from xml.etree import ElementTree

from flask import Response

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# How a list is spelled in XML: the element of each item under the list's element.
ITEM_TAGS = {"services": "service", "service_requests": "request", "attributes": "attribute",
             "values": "value", "errors": "error", "endpoints": "endpoint", "formats": "format"}


def answer(fmt: str, root: str, data, status: int = 200) -> Response:
    """`data` (a list for list roots, a dict otherwise) as JSON, or as XML under `root`."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False)
    else:
        element = _element(root, data)
        body = ElementTree.tostring(element, encoding="unicode", xml_declaration=False)
        body = '<?xml version="1.0" encoding="utf-8"?>\n' + body
    return Response(body, status=status, content_type=FORMATS[fmt])


# Characters XML 1.0 cannot carry, even escaped: shown as U+FFFD rather than breaking the document.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _element(tag: str, value) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_element(key, item))
    elif isinstance(value, list):
        for item in value:
            element.append(_element(ITEM_TAGS[tag], item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = NOT_XML.sub("\ufffd", str(value))
    return element


def errors(fmt: str, status: int, description: str) -> Response:
    """The spec's error shape: [{code, description}] / <errors><error>...</error></errors>."""
    return answer(fmt, "errors", [{"code": status, "description": description}], status=status)
