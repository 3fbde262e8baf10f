"""The web form in a real browser: Debian's headless Chromium driven by Playwright, against a real
`review serve`. Uploads through the file input (with and without JavaScript), waits for the
report, checks what a reader sees, and saves screenshots under tests/artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewer.parse import parse_bytes
from reviewer.report.labels import strings
from reviewer.review import review

from .conftest import SAMPLES
from .webserver import Server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DOCX = SAMPLES / "ja-poc-plan-strong.docx"
PDF = SAMPLES / "en-poc-plan-mixed.pdf"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium fonts-noto-cjk;"
    " .ci/run installs it)",
)

# Records, across the navigation to the report, that the progress indicator was shown.
WATCH_PROGRESS = """
document.addEventListener("DOMContentLoaded", () => {
  const progress = document.getElementById("progress");
  if (!progress) return;
  new MutationObserver(() => {
    if (!progress.hidden) sessionStorage.setItem("progress", progress.textContent.trim());
  }).observe(progress, {attributes: true, childList: true, subtree: true});
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("browser"), REVIEWER_MAX_UPLOAD_MB="2")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(*, javascript: bool = True, width: int = 1200, height: int = 900):
        ctx = browser.new_context(
            java_script_enabled=javascript,
            viewport={"width": width, "height": height},
            accept_downloads=True,
        )
        contexts.append(ctx)
        page = ctx.new_page()
        page.csp_errors = []  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda msg: (
                page.csp_errors.append(msg.text)  # type: ignore[attr-defined]
                if "Content Security Policy" in msg.text
                else None
            ),
        )
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def expected(path: Path, lang: str | None = None):
    return review(parse_bytes(path.read_bytes(), path.name), lang=lang, engine="rules")


def check_report(page, result) -> None:
    """What a reader must see: the verdict and score, all 14 criteria, a located quote."""
    s = strings(result.lang)
    page.wait_for_selector("header.banner", timeout=30_000)
    verdict = page.locator("header.banner .verdict")
    assert verdict.is_visible() and verdict.inner_text() == s.verdict[result.overall.verdict]
    assert str(result.overall.score) in page.locator("header.banner .score").inner_text()
    for c in result.criteria:
        card = page.locator(f"#c-{c.id}")
        card.scroll_into_view_if_needed()
        assert card.is_visible()
        heading = card.locator("h3").inner_text()
        assert c.id in heading and c.title in heading
    located = next(ev for c in result.criteria for ev in c.evidence)
    cite = page.locator("figcaption cite", has_text=located.location).first
    cite.scroll_into_view_if_needed()
    assert cite.is_visible()
    quote = page.locator("blockquote", has_text=located.quote.splitlines()[0][:30]).first
    assert quote.is_visible()
    assert page.locator("svg rect.bar").count() == 14
    assert not page.csp_errors, page.csp_errors


def test_japanese_docx_without_javascript(server, new_page):
    page = new_page(javascript=False)
    page.goto(server.url + "/?lang=ja")
    assert page.locator("label[for=file]").inner_text() == "文書ファイル"
    page.set_input_files("#file", str(DOCX))
    page.get_by_role("button", name="レビューする").click()
    result = expected(DOCX)
    check_report(page, result)
    assert page.locator("nav.links a", has_text="JSONをダウンロード").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-ja-docx.png"), full_page=True)


def test_english_pdf_with_javascript_progress_and_download(server, new_page):
    page = new_page()
    page.add_init_script(WATCH_PROGRESS)
    page.goto(server.url + "/?lang=en")
    page.set_input_files("#file", str(PDF))
    assert "Selected: en-poc-plan-mixed.pdf" in page.locator("#file-status").inner_text()
    with page.expect_request(lambda r: r.method == "POST" and "/review" in r.url):
        page.get_by_role("button", name="Review").click()
    result = expected(PDF)
    check_report(page, result)
    assert "p. " in page.locator("figcaption cite").first.inner_text()  # a PDF quote's page
    assert page.evaluate("sessionStorage.getItem('progress')").startswith("Reviewing…")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download JSON").click()
    download = info.value
    assert download.suggested_filename == "en-poc-plan-mixed.pdf.json"
    data = json.loads(Path(download.path()).read_text("utf-8"))
    assert data["overall"] == result.model_dump(mode="json")["overall"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-en-pdf.png"), full_page=True)
    page.get_by_role("link", name="← Review another document").click()
    page.wait_for_selector("#review-form")
    assert page.locator("#progress").is_hidden()


def test_drop_a_file_on_the_form(server, new_page):
    page = new_page()
    page.goto(server.url + "/?lang=en")
    text = "# PoC plan\n\n## Purpose\nThe billing centre answers in 20 minutes on average; an AI drafts replies.\n"
    page.evaluate(
        """(text) => {
          const data = new DataTransfer();
          data.items.add(new File([text], "dropped-plan.md", {type: "text/markdown"}));
          const zone = document.getElementById("drop");
          zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true, cancelable: true}));
          zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        text,
    )
    assert page.evaluate("document.getElementById('file').files[0].name") == "dropped-plan.md"
    assert "dropped-plan.md" in page.locator("#file-status").inner_text()
    page.get_by_role("button", name="Review").click()
    page.wait_for_selector("header.banner")
    assert "dropped-plan.md" in page.locator("header.banner h1").inner_text()


def test_too_big_is_refused_before_sending_and_errors_lead_back(server, new_page, tmp_path):
    page = new_page()
    page.goto(server.url + "/?lang=en")
    big = tmp_path / "huge.pdf"
    big.write_bytes(b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024))
    page.set_input_files("#file", str(big))
    status = page.locator("#file-status")
    assert "larger than the limit of 2 MB" in status.inner_text()
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.get_by_role("button", name="Review").click()
    page.wait_for_timeout(300)
    assert posts == [] and page.locator("#review-form").is_visible()
    # a file the server refuses: a page that says why, and the way back
    image = tmp_path / "scan.pdf"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    page.set_input_files("#file", str(image))
    page.get_by_role("button", name="Review").click()
    page.wait_for_selector(".error")
    assert page.locator("h1").inner_text() == "This type of file is not supported"
    assert "scan.pdf: PNG image is not supported" in page.locator(".error").inner_text()
    page.get_by_role("link", name="Back to the form").click()
    page.wait_for_selector("#review-form")
    assert not page.csp_errors, page.csp_errors


def test_too_big_without_javascript_gets_the_413_page(server, new_page, tmp_path):
    page = new_page(javascript=False)
    page.goto(server.url + "/?lang=ja")
    big = tmp_path / "huge.pdf"
    big.write_bytes(b"%PDF-1.7\n" + b"0" * (12 * 1024 * 1024))
    page.set_input_files("#file", str(big))
    page.get_by_role("button", name="レビューする").click()
    page.wait_for_selector(".error")
    assert page.locator("h1").inner_text() == "ファイルが大きすぎます"
    assert "上限は2 MBです" in page.locator(".error").inner_text()


def test_narrow_screen(server, new_page):
    page = new_page(width=375, height=740)
    page.goto(server.url + "/?lang=ja")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_input_files("#file", str(DOCX))
    page.get_by_role("button", name="レビューする").click()
    page.wait_for_selector("header.banner")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("header.banner .verdict").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-ja-narrow.png"))
