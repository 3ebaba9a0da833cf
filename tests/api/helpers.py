"""Assertions the API tests share."""

PROBLEM_JSON = "application/problem+json"
ERROR_KEYS = {"type", "title", "status", "detail", "errors"}


def assert_problem_json(response, status, slug=None):
    """The response is an error of `status` in the one problem+json shape (and of type /errors/<slug>)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    assert set(response.json) >= ERROR_KEYS
    assert response.json["status"] == status
    if slug is not None:
        assert response.json["type"] == f"/errors/{slug}"
