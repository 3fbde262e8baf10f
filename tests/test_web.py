"""The web form and JSON API against a real `review serve` (uvicorn on 127.0.0.1): every status
code, the upload limit while the body is read (by Content-Length and chunked), the deadline, the
token, the security headers, and that the server keeps serving and keeps nothing."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from reviewer.parse import parse_bytes
from reviewer.report import render
from reviewer.report.html import Link, style_hash
from reviewer.review import review

from .conftest import SAMPLES, assert_json_contract
from .webserver import Server

DOCX = SAMPLES / "ja-poc-plan-strong.docx"
PDF = SAMPLES / "en-poc-plan-mixed.pdf"
CRITERIA = ("PURPOSE", "KPI", "EXIT", "EXPECT", "FIELD", "WORKFLOW", "ALIGN")
CRITERIA += ("ROLES", "DATA", "RISK", "VENDOR", "OPS", "ROLLOUT", "BUDGET")
TOKEN = "s3cret-t0ken"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("web"), REVIEWER_MAX_UPLOAD_MB="1")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("web-token"), REVIEWER_TOKEN=TOKEN, REVIEWER_WORKERS="1")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("web-deadline"), REVIEWER_DEADLINE_S="0.5")
    yield srv
    srv.stop()


def post(srv: Server, path: str, name: str, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(srv.url + path, files={"file": (name, data)}, data=fields, timeout=30)


def assert_alive(srv: Server) -> None:
    r = httpx.get(srv.url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def cli_json(path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "reviewer.cli", str(path), "--format", "json", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def _encrypted_pdf() -> bytes:
    from io import BytesIO

    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt("secret")
    buf = BytesIO()
    w.write(buf)
    return buf.getvalue()


def _multipart(boundary: str, name: str, head_only: bool = False) -> tuple[bytes, bytes]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def read_answer(sock: socket.socket) -> bytes:
    """One HTTP response from a raw socket: the head and its Content-Length of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _body(html: str) -> str:
    return html[html.index("<body>") :]


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


# ---------------------------------------------------------------- 200: the same review as the CLI


def test_api_returns_the_cli_json(server):
    r = post(server, "/api/review", DOCX.name, DOCX.read_bytes())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.text.strip() == cli_json(DOCX).strip()
    assert_json_contract(r.json())


def test_api_options_kind_lang_and_pdf(server):
    r = post(server, "/api/review", PDF.name, PDF.read_bytes(), kind="vendor_sow", lang="ja")
    assert r.status_code == 200
    assert r.text.strip() == cli_json(PDF, "--kind", "vendor_sow", "--lang", "ja").strip()
    data = r.json()
    assert data["document"]["kind"] == "vendor_sow" and data["document"]["kind_detected"] is False
    assert data["document"]["format"] == "pdf" and data["document"]["pages"] == 2
    assert data["lang"] == "ja"


def test_type_comes_from_the_content_not_the_name(server):
    text = "# PoC計画\n\n## 目的\n請求センターの一次回答に平均20分を要している。生成AIを使う。\n"
    r = post(server, "/api/review", "plan.pdf", text.encode())
    assert r.status_code == 200 and r.json()["document"]["format"] == "md"
    r = post(server, "/api/review", "plan.txt", DOCX.read_bytes())
    assert r.status_code == 200 and r.json()["document"]["format"] == "docx"


# ---------------------------------------------------------------- every error, and still serving


@pytest.mark.parametrize(
    ("case", "name", "data", "status", "words"),
    [
        ("png named .pdf", "scan.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, 415, "PNG image"),
        (
            "legacy .doc",
            "plan.docx",
            bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 512,
            415,
            ".doc",
        ),
        ("xlsx", "plan.docx", None, 415, "Excel"),
        ("gzip", "plan.md", b"\x1f\x8b\x08\x00" + b"\x01" * 100, 415, "gzip"),
        ("empty", "plan.pdf", b"", 422, "empty"),
        ("whitespace", "plan.md", b"  \n\n\t \n", 422, "empty"),
        ("truncated pdf", "plan.pdf", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", 422, ""),
        ("corrupt docx", "plan.docx", b"PK\x03\x04" + b"\x00" * 40, 422, "corrupt"),
        ("encrypted pdf", "plan.pdf", None, 422, "password"),
    ],
)
def test_api_errors(server, case, name, data, status, words):
    if case == "xlsx":
        from io import BytesIO
        from zipfile import ZipFile

        buf = BytesIO()
        with ZipFile(buf, "w") as z:
            z.writestr("[Content_Types].xml", "<Types/>")
            z.writestr("xl/workbook.xml", "<workbook/>")
        data = buf.getvalue()
    if case == "encrypted pdf":
        data = _encrypted_pdf()
    r = post(server, "/api/review", name, data)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and body["error"].startswith(name + ": ")
    assert words.lower() in body["error"].lower()
    assert "Traceback" not in r.text
    assert_alive(server)


def test_bad_forms_are_400(server):
    r = httpx.post(server.url + "/api/review", files={"document": ("a.md", b"# x")})
    assert r.status_code == 400 and "'file'" in r.json()["error"]
    r = post(server, "/api/review", "a.md", b"# plan", kind="roadmap")
    assert r.status_code == 400 and "unknown kind" in r.json()["error"]
    r = post(server, "/api/review", "a.md", b"# plan", lang="fr")
    assert r.status_code == 400 and "report language" in r.json()["error"]
    r = post(server, "/api/review", "a.md", b"# plan", engine="magic")
    assert r.status_code == 400 and "unknown engine" in r.json()["error"]
    r = httpx.post(server.url + "/api/review", json={"file": "x"})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]
    r = httpx.post(
        server.url + "/api/review",
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 400
    assert_alive(server)


def test_unknown_paths_answer_json_on_the_api_and_a_page_elsewhere(server):
    r = httpx.get(server.url + "/api/nothing")
    assert r.status_code == 404 and r.json() == {"error": "Not Found"}
    r = httpx.get(server.url + "/nothing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = httpx.get(server.url + "/api/review")
    assert r.status_code == 405 and "error" in r.json()


# ---------------------------------------------------------------- 413 while the body is read


def test_413_by_content_length_before_the_body(server):
    """A declared length over the limit is refused at once: no byte of the body is sent."""
    request = (
        f"POST /api/review HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        started = time.perf_counter()
        s.sendall(request)
        answer = read_answer(s)
        elapsed = time.perf_counter() - started
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'{"error":"the upload is larger than the limit of 1 MB"}' in answer
    assert elapsed < 5
    assert_alive(server)


def test_413_for_a_whole_over_limit_upload(server):
    r = post(server, "/api/review", "big.pdf", b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024))
    assert r.status_code == 413 and "1 MB" in r.json()["error"]
    # just over the file limit, within the room left for the form's own bytes
    r = post(server, "/api/review", "big.md", b"a" * (1024 * 1024 + 10))
    assert r.status_code == 413 and "1 MB" in r.json()["error"]
    r = post(server, "/review?ui=en", "big.md", b"a" * (3 * 1024 * 1024))
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "The file is too large" in r.text and "The limit is 1 MB" in r.text
    assert_alive(server)


def test_413_for_a_chunked_body_while_it_arrives(server):
    """No Content-Length: the 413 is there while the client is still sending (no last chunk)."""
    head, _ = _multipart("b", "big.md")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            (
                f"POST /api/review HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        s.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        chunk = b"x" * 65536
        for _ in range(20):  # 1.25 MB of a body that never ends
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = read_answer(s)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than the limit of 1 MB" in answer
    assert_alive(server)


def test_413_for_a_chunked_upload_from_a_real_client(server):
    head, tail = _multipart("b", "big.md")

    def body():
        yield head
        for _ in range(48):
            yield b"y" * 65536
        yield tail

    r = httpx.post(
        server.url + "/api/review",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=b"},
        timeout=30,
    )
    # The body limit or the file limit inside it, whichever the arriving chunks cross first.
    assert r.status_code == 413
    assert r.json()["error"] in (
        "the upload is larger than the limit of 1 MB",
        "the file is larger than 1 MB",
    )
    assert_alive(server)


# ---------------------------------------------------------------- 504, and the worker is replaced


def test_504_abandons_the_review_and_keeps_serving(slow_server):
    big = "# PoC計画\n" + "".join(
        f"## {i}. 検証\n請求センターでは一次回答に平均{i % 50}分を要し、担当者{i % 9}名が毎週確認する。\n"
        for i in range(8000)
    )
    before = slow_server.worker_pids()
    assert len(before) == 2
    r = post(slow_server, "/api/review", "long.md", big.encode())
    assert r.status_code == 504
    assert r.json() == {"error": "the request took longer than 0.5 seconds and was stopped"}
    assert_alive(slow_server)
    # the worker that held the job was killed, and a fresh one takes its place
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = slow_server.worker_pids()
        if len(now) == 2 and now != before:
            break
        time.sleep(0.1)
    assert len(now) == 2 and len(now - before) == 1
    r = post(slow_server, "/review?ui=ja", "long.md", big.encode())
    assert r.status_code == 504 and "時間内にレビューが終わりませんでした" in r.text
    assert "0.5秒で打ち切りました" in r.text
    assert_alive(slow_server)
    # once the replacements have warmed up, short reviews pass again on both workers
    small = "# PoC計画\n## 目的\n請求センターの一次回答を生成AIで短縮する。\n".encode()
    deadline = time.monotonic() + 30
    while post(slow_server, "/api/review", "small.md", small).status_code != 200:
        assert time.monotonic() < deadline, slow_server.log()
        time.sleep(0.2)
    time.sleep(2)
    codes = [post(slow_server, "/api/review", "small.md", small).status_code for _ in range(4)]
    assert codes == [200] * 4


def test_a_worker_that_dies_is_a_500_and_is_replaced(tmp_path):
    import os
    import signal
    import threading

    srv = Server(tmp_path, REVIEWER_WORKERS="1")
    try:
        (worker,) = srv.worker_pids()
        big = "# PoC計画\n" + "".join(
            f"## {i}. 検証\n請求センターでは一次回答に平均{i % 50}分を要し、担当者{i % 9}名が確認する。\n"
            for i in range(8000)
        )
        answers = []
        thread = threading.Thread(
            target=lambda: answers.append(post(srv, "/api/review", "long.md", big.encode()))
        )
        thread.start()
        time.sleep(0.5)  # the review is under way (it takes seconds)
        os.kill(worker, signal.SIGKILL)  # as the kernel's OOM killer would
        thread.join(30)
        (r,) = answers
        assert r.status_code == 500
        assert r.json() == {
            "error": "the review process stopped unexpectedly; the error has been logged"
        }
        assert_alive(srv)
        deadline = time.monotonic() + 30
        while post(srv, "/api/review", DOCX.name, DOCX.read_bytes()).status_code != 200:
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.2)
        assert srv.worker_pids() and worker not in srv.worker_pids()
        assert "review failed" in srv.log() and "worker died" in srv.log()
    finally:
        srv.stop()


def test_workers_run_under_an_address_space_limit(server):
    """A hostile upload that allocates without end fails in its worker, not on the machine."""
    for pid in server.worker_pids():
        limits = Path(f"/proc/{pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max address space"))
        soft = line.split()[3]
        assert soft != "unlimited"
        # what the worker maps after warming up, plus the budget (REVIEWER_PARSE_MEMORY_MB)
        assert 2048 * 2**20 < int(soft) < 2048 * 2**20 + 4 * 2**30


# ---------------------------------------------------------------- the token


def test_token_on_the_api(token_server):
    url = token_server.url + "/api/review"
    files = {"file": (DOCX.name, DOCX.read_bytes())}
    r = httpx.post(url, files=files)
    assert r.status_code == 401 and r.json() == {"error": "a valid access token is required"}
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.post(url, files=files, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = httpx.post(url, files=files, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json()["document"]["name"] == DOCX.name


def test_token_on_the_pages_is_a_login_prompt(token_server):
    r = httpx.get(token_server.url + "/")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert r.headers["content-type"].startswith("text/html")
    assert httpx.get(token_server.url + "/", auth=("anyone", "nope")).status_code == 401
    r = httpx.get(token_server.url + "/", auth=("anyone", TOKEN))
    assert r.status_code == 200 and 'name="file"' in r.text
    r = httpx.post(
        token_server.url + "/review",
        files={"file": (DOCX.name, DOCX.read_bytes())},
        auth=("me", TOKEN),
    )
    assert r.status_code == 200 and "PURPOSE" in r.text
    assert httpx.get(token_server.url + "/openapi.json").status_code == 401
    # the health check and the form's own CSS and JS stay open
    assert httpx.get(token_server.url + "/healthz").status_code == 200
    assert httpx.get(token_server.url + "/static/app.js").status_code == 200


def test_token_is_checked_before_the_body_is_read(token_server):
    request = (
        f"POST /api/review HTTP/1.1\r\nHost: 127.0.0.1:{token_server.port}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5000000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", token_server.port), timeout=5) as s:
        s.sendall(request)
        assert read_answer(s).startswith(b"HTTP/1.1 401")


# ---------------------------------------------------------------- the pages


def test_form_page_in_both_languages(server):
    ja = httpx.get(server.url + "/?lang=ja")
    en = httpx.get(server.url + "/", headers={"Accept-Language": "fr, en;q=0.8, ja;q=0.5"})
    assert '<html lang="ja">' in ja.text and "レビューする" in ja.text
    assert '<html lang="en">' in en.text and ">Review</button>" in en.text
    auto = httpx.get(server.url + "/", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.8"})
    assert '<html lang="ja">' in auto.text
    for page in (ja, en):
        found = tags(page.text)
        form = next(a for t, a in found if t == "form")
        assert form["method"] == "post" and form["enctype"] == "multipart/form-data"
        assert form["action"].startswith("/review")
        # every control has a label
        ids = {a["id"] for t, a in found if t in ("input", "select")}
        labelled = {a["for"] for t, a in found if t == "label"}
        assert ids == {"file", "kind", "lang"} and ids <= labelled
        kinds = [a["value"] for t, a in found if t == "option"]
        assert kinds[:5] == ["auto", "poc_plan", "proposal", "vendor_sow", "progress_report"]
        assert kinds[5:] == ["auto", "ja", "en"]
        assert "engine" not in ids  # no LLM configured
        # no inline script or style: the CSP forbids them
        assert not any(t == "script" and not a.get("src") for t, a in found)
        assert "style=" not in page.text and "<style" not in page.text
        assert '<meta name="viewport"' in page.text
    assert "1 MB" in en.text


def test_with_an_llm_the_form_offers_the_engine_and_nothing_is_cached(tmp_path):
    from .fake_models import agreeing
    from .fake_openai import FakeOpenAI

    rules = review(parse_bytes(DOCX.read_bytes(), DOCX.name), engine="rules")
    with FakeOpenAI() as fake:
        fake.responder = agreeing(rules)
        srv = Server(
            tmp_path, OPENAI_BASE_URL=fake.base_url, OPENAI_API_KEY="test", REVIEWER_WORKERS="1"
        )
        try:
            page = httpx.get(srv.url + "/?lang=en").text
            r = post(srv, "/api/review", DOCX.name, DOCX.read_bytes())
            ruled = post(srv, "/api/review", DOCX.name, DOCX.read_bytes(), engine="rules")
        finally:
            srv.stop()
    options = [a["value"] for t, a in tags(page) if t == "option"]
    assert 'id="engine"' in page and options[-3:] == ["auto", "rules", "llm"]
    assert r.status_code == 200 and r.json()["engine"] in ("llm", "mixed")
    assert r.json()["usage"]["llm_calls"] > 0 and fake.calls == r.json()["usage"]["llm_calls"]
    assert ruled.status_code == 200 and ruled.json()["engine"] == "rules"
    # the model's answers quote the document: none of them is kept on disk
    quotes = [e.quote for c in rules.criteria for e in c.evidence]
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", "replace")
            assert not any(q in content for q in quotes), path
    assert list(srv.tmpdir.iterdir()) == []


def test_report_page_is_the_html_report_with_downloads(server):
    r = post(server, "/review?ui=ja", DOCX.name, DOCX.read_bytes(), lang="en")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    expected = review(parse_bytes(DOCX.read_bytes(), DOCX.name), lang="en", engine="rules")
    cli_html = render(expected, "html", lang="en")
    # the CLI's page, with a row of links above the report (and the CSS for them)
    nav = re.search(r"<nav class=\"links\".*?</nav>\n", page, re.S)
    assert nav and page.index("<nav") < page.index('<header class="banner')
    assert _body(page.replace(nav.group(0), "")) == _body(cli_html)
    for cid in CRITERIA:
        assert f'id="c-{cid}"' in page
    links = [a for t, a in tags(page) if t == "a" and (a.get("href") or "").startswith("data:")]
    assert [a["download"] for a in links] == [
        f"{DOCX.name}.{ext}" for ext in ("json", "md", "html")
    ]
    bodies = {}
    for a in links:
        head, _, data = a["href"].partition(",")
        assert head.endswith(";base64")
        bodies[a["download"].rsplit(".", 1)[1]] = base64.b64decode(data).decode("utf-8")
    assert bodies["json"] == render(expected, "json")
    assert bodies["md"] == render(expected, "md", lang="en")
    assert bodies["html"] == cli_html
    back = [a["href"] for t, a in tags(page) if t == "a" and a.get("href", "").startswith("/?")]
    assert back == ["/?lang=ja"]


def test_form_errors_are_pages_with_a_way_back(server):
    r = post(server, "/review?ui=ja", "scan.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert r.status_code == 415 and r.headers["content-type"].startswith("text/html")
    assert "この種類のファイルには対応していません" in r.text and "scan.pdf: PNG image" in r.text
    assert 'href="/?lang=ja"' in r.text and "Traceback" not in r.text
    r = post(server, "/review?ui=en", "plan.pdf", _encrypted_pdf())
    assert r.status_code == 422 and "The document could not be read" in r.text
    r = post(server, "/review?ui=en", "<img src=x onerror=alert(1)>.md", b"")
    assert r.status_code == 422 and "<img" not in r.text
    assert "&lt;img src=x onerror=alert(1)&gt;.md: file is empty" in r.text
    r = post(server, "/review?ui=en", "C:\\Users\\me\\plan.md", b"")
    assert '<p class="detail">plan.md: file is empty</p>' in r.text  # no folders
    assert_alive(server)


# ---------------------------------------------------------------- headers and hygiene


def test_security_headers_everywhere(server):
    responses = {
        "form": httpx.get(server.url + "/"),
        "report": post(server, "/review", DOCX.name, DOCX.read_bytes()),
        "api": post(server, "/api/review", DOCX.name, DOCX.read_bytes()),
        "api error": post(server, "/api/review", "x.pdf", b""),
        "page error": post(server, "/review", "x.pdf", b""),
        "too large": post(server, "/api/review", "x.pdf", b"0" * (2 * 1024 * 1024)),
        "script": httpx.get(server.url + "/static/app.js"),
        "health": httpx.get(server.url + "/healthz"),
        "missing": httpx.get(server.url + "/nope"),
        "openapi": httpx.get(server.url + "/openapi.json"),
    }
    for what, r in responses.items():
        h = r.headers
        assert h["x-content-type-options"] == "nosniff", what
        assert h["referrer-policy"] == "no-referrer", what
        csp = h["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp, what
        assert "default-src 'self'" in csp, what
        assert "script-src 'self'" in csp, what
        assert "server" not in h, what
    report = responses["report"]
    assert (
        f"style-src 'self' {style_hash(report.text)}" in report.headers["content-security-policy"]
    )
    assert report.headers["cache-control"] == "no-store"
    assert responses["api"].headers["cache-control"] == "no-store"
    assert "javascript" in responses["script"].headers["content-type"]


def test_docs_and_openapi(server):
    spec = httpx.get(server.url + "/openapi.json").json()
    op = spec["paths"]["/api/review"]["post"]
    schema = op["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"] and schema["properties"]["file"]["format"] == "binary"
    assert {"200", "400", "401", "413", "415", "422", "504"} <= set(op["responses"])
    assert "/healthz" in spec["paths"] and "/" not in spec["paths"]
    docs = httpx.get(server.url + "/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    inline = re.search(r"<script>(.*?)</script>", docs.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in docs.headers["content-security-policy"]


def test_nothing_is_stored_or_logged(server):
    secret = "機密プロジェクト名ZEBRA-4417"
    text = f"# {secret}のPoC計画\n\n## 目的\n{secret}で請求センターの一次回答を短縮する。\n" * 40
    data = text.encode() + b" " * 800_000  # over Starlette's 1 MB spool: still nothing on disk
    r = post(server, "/api/review", "zebra-4417-plan.md", data)
    assert r.status_code == 200
    assert list(server.tmpdir.iterdir()) == []
    log = server.log()
    assert hashlib.sha256(data).hexdigest() in log and f"bytes={len(data)}" in log
    assert "type=md" in log
    assert "ZEBRA" not in log and "zebra" not in log


# ---------------------------------------------------------------- the command and the renderer


def test_serve_usage_errors(tmp_path):
    def run(*args, **env):
        return subprocess.run(
            [sys.executable, "-m", "reviewer.cli", "serve", *args],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", **env},
            timeout=60,
        )

    proc = run("--port", "0")
    assert (
        proc.returncode == 2 and proc.stderr.strip() == "review: --port must be between 1 and 65535"
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run("--port", str(port))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == f"review: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    proc = run("--port", "8123", REVIEWER_MAX_UPLOAD_MB="lots")
    assert proc.returncode == 2 and "REVIEWER_MAX_UPLOAD_MB='lots'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_file_review_does_not_import_the_web_stack():
    probe = (
        "import contextlib, io, sys\n"
        "from reviewer.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main([{str(DOCX)!r}, '--format', 'json', '--engine', 'rules'])\n"
        "print([m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'uvicorn', 'python_multipart', 'reviewer.web')"
        " or m.startswith('reviewer.web')])\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_report_links_are_escaped_and_html_only():
    result = review(parse_bytes(DOCX.read_bytes(), DOCX.name), engine="rules")
    plain = render(result, "html")
    linked = render(result, "html", links=[Link('a "b" <c>', "/?x=1&y=2", 'n"ame.json')])
    assert "<nav" not in plain and "nav.links" not in plain
    assert '<a href="/?x=1&amp;y=2" download="n&#34;ame.json">a &#34;b&#34; &lt;c&gt;</a>' in linked
    meta = next(a for t, a in tags(linked) if a.get("http-equiv") == "Content-Security-Policy")
    assert style_hash(linked) in meta["content"]  # the page's own CSP follows its CSS
    assert style_hash(linked) != style_hash(plain)
    with pytest.raises(ValueError, match="html"):
        render(result, "md", links=[Link("x", "/")])
