"""The event listing shows each event's place in its hash chain, across pages."""

import io

from PIL import Image

from workflow import audit


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 80, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_event_listing_exposes_a_chain_a_client_can_follow_across_pages(client, world):
    problem = world.to_state("rectifying")
    photo = client.post(f"/api/v1/problems/{problem.id}/attachments", headers=world.auth("handler"),
                        data={"kind": "after", "file": (io.BytesIO(jpeg()), "after.jpg")},
                        content_type="multipart/form-data")
    assert photo.status_code == 201, photo.json
    comment = client.post(f"/api/v1/problems/{problem.id}/actions", headers=world.auth("officer"),
                          json={"action": "comment", "text": "已拍照"})
    assert comment.status_code == 200

    url = f"/api/v1/problems/{problem.id}/events?limit=2"
    events, page = [], client.get(url, headers=world.auth("supervisor")).json
    events += page["items"]
    while page["next_cursor"]:
        page = client.get(f"{url}&cursor={page['next_cursor']}", headers=world.auth("supervisor")).json
        events += page["items"]

    assert [e["action"] for e in events] == ["report", "assign", "accept", "attach", "comment"]
    assert [e["prev_hash"] for e in events] == [audit.GENESIS] + [e["hash"] for e in events[:-1]]
    assert all(len(e["hash"]) == 64 and int(e["hash"], 16) >= 0 for e in events)
    assert audit.verify_chains().intact


def test_the_openapi_document_describes_the_hashes(client):
    event = client.get("/openapi.json").json["components"]["schemas"]["EventOut"]["properties"]
    assert event["hash"]["type"] == event["prev_hash"]["type"] == "string"
    assert "flask audit verify" in event["hash"]["description"]
