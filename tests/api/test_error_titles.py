"""One table of error kinds (workflow/errors.py::ERROR_KINDS): status, slug and titles in Chinese and English."""

import io

import pytest

import api.errors
from tests.api.helpers import assert_problem_json
from workflow.errors import ERROR_KINDS, ERROR_TYPES, KIND_OF_SLUG


def test_each_slug_has_one_kind_and_each_domain_error_names_one():
    assert len({kind.slug for kind in ERROR_KINDS}) == len(ERROR_KINDS)
    assert all(KIND_OF_SLUG[error.slug].status == error.status for error in ERROR_TYPES)


def test_the_renderer_keeps_no_second_table_of_slugs_or_titles():
    assert not {"SLUGS", "TITLES"} & set(vars(api.errors))


@pytest.mark.parametrize("kind", ERROR_KINDS, ids=lambda kind: kind.slug)
def test_every_kind_is_rendered_with_its_titles_in_both_languages(app, kind):
    for language, title in (("zh-CN", kind.zh), ("en", kind.en)):
        with app.test_request_context(headers={"Accept-Language": language}):
            body = api.errors.problem_response(kind.status, slug=kind.slug).get_json()
        assert (body["type"], body["title"], body["status"]) == (f"/errors/{kind.slug}", title, kind.status)


def test_a_non_image_upload_is_not_titled_as_a_json_refusal(client, world):
    rectifying = world.to_state("rectifying")
    for language, title in (("zh-CN", "不支持的内容类型"), ("en", "Unsupported media type")):
        response = client.post(f"/api/v1/problems/{rectifying.id}/attachments",
                               data={"kind": "after", "file": (io.BytesIO(b"#!/bin/sh\n"), "a.jpg")},
                               content_type="multipart/form-data",
                               headers=world.auth("handler", **{"Accept-Language": language}))
        assert_problem_json(response, 415, "unsupported-media-type")
        assert response.json["title"] == title and "JSON" not in response.json["title"]


def test_a_missing_photo_is_titled_for_any_photo_not_only_the_rectification_one():
    assert KIND_OF_SLUG["evidence-required"].zh == "缺少所需照片"
    assert "整改" not in KIND_OF_SLUG["evidence-required"].zh
