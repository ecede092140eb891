"""The local server's static route: `GET /` answers the playground page (or any
folder given), beside TF Serving's REST routes, which keep their answers."""

import json

import pytest
from werkzeug.test import Client

from seqlib.serving.server import PLAYGROUND_DIR, ModelRepository, RestApp, make_server


@pytest.fixture()
def site(tmp_path):
    """A static folder with an index, a script and a file in a subfolder."""
    folder = tmp_path / "site"
    (folder / "js").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>playground</title>\n")
    (folder / "js" / "main.js").write_text("export const x = 1;\n")
    (tmp_path / "secret.txt").write_text("not served\n")
    return folder


def client(tmp_path, static_dir):
    repository = ModelRepository(tmp_path / "models", log=lambda message: None)
    return Client(RestApp(repository, static_dir=static_dir))


def test_root_is_the_index_and_files_have_their_types(tmp_path, site):
    app = client(tmp_path, site)
    response = app.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b"<title>playground</title>" in response.data
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    script = app.get("/js/main.js")
    # ES modules load only with a JavaScript type.
    assert script.status_code == 200 and "javascript" in script.mimetype
    assert app.head("/").status_code == 200


@pytest.mark.parametrize("path", ["/missing.js", "/../secret.txt", "/js/../../secret.txt"])
def test_missing_files_and_paths_outside_the_folder_are_json_404s(tmp_path, site, path):
    response = client(tmp_path, site).get(path)
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert "error" in json.loads(response.data)


def test_the_rest_routes_are_unchanged(tmp_path, site):
    app = client(tmp_path, site)
    response = app.get("/v1/models/sentiment")
    assert response.status_code == 404
    assert json.loads(response.data)["error"].startswith("Servable not found for request")
    assert app.get("/v1/nothing").status_code == 404  # not a file, even if one had that name
    response = app.post("/")  # as before the page: only GET and HEAD reach the files
    assert response.status_code == 404 and "Malformed request" in json.loads(response.data)["error"]


def test_without_a_static_folder_the_root_says_so(tmp_path):
    for static_dir in (None, tmp_path / "absent"):
        response = client(tmp_path, static_dir).get("/")
        assert response.status_code == 404 and "static folder" in json.loads(response.data)["error"]


def test_make_server_serves_the_playground_of_the_checkout_by_default(tmp_path):
    import threading
    import urllib.request

    assert (PLAYGROUND_DIR / "index.html").is_file()
    (tmp_path / "models").mkdir()
    server = make_server(tmp_path / "models", port=0, quiet=True, poll_seconds=0, log=print)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/") as response:
            page = response.read().decode()
        assert response.status == 200 and 'role="tablist"' in page and 'type="module"' in page
    finally:
        server.shutdown()
        server.server_close()
