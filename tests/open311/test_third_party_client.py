"""A third-party GeoReport v2 client from PyPI (`georeport`) reads a running server, in JSON and XML."""

import threading

import pytest
from georeport import GeoReport
from sqlalchemy import select
from werkzeug.serving import make_server

from models import Problem
from models.base import db


@pytest.fixture
def server(app, scene):
    """The app served on a free port of 127.0.0.1 in a thread, for the length of the test."""
    db.session.commit()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/open311/v2"
    finally:
        httpd.shutdown()
        thread.join()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_georeport_client_reads_services_definitions_and_requests(server, scene, client, fmt):
    assert client.post("/open311/v2/requests.json", data={
        "api_key": scene.open311_key, "service_code": "hawker", "lat": "35.0621", "long": "118.3561",
        "description": "早市占道", "attribute[when]": "morning", "phone": "13812345678"}).status_code == 201
    code = db.session.scalars(select(Problem.code)).one()
    reader = GeoReport(server, jurisdiction="lanshan", output_format=fmt)

    services = reader.get_service_list()
    assert sorted(s["service_code"] for s in services) == ["graffiti", "hawker"]
    definition = reader.get_service_definition("hawker")
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert [a["code"] for a in attributes] == ["stall_count", "when"]
    requests = reader.get_service_requests(status="open", service_code="hawker")
    requests = [requests] if isinstance(requests, dict) else requests  # xmltodict: one item is no list
    assert [r["service_request_id"] for r in requests] == [code]
    one = reader.get_service_request(code)
    assert one["status"] == "open" and one["detailed_status"] == "reported"
    assert "13812345678" not in str(requests) + str(one)
